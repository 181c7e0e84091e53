"""Reference encoders and decoders.

`mlp_encoder` / `mlp_decoder` are the IWAE paper's one-stochastic-layer
architecture: two deterministic tanh layers of 200 units around a
50-dimensional latent (Burda et al. 2015, section 5).
"""

import math

import keras
import numpy as np

from keras_vae import likelihoods
from keras_vae.layers.gaussian_head import GaussianHead


def mlp_encoder(input_shape, latent_dim, hidden_units=(200, 200), activation="tanh",
                min_variance=1e-6, name="encoder"):
    """MLP from x to `(mean, log_var)` of q(z | x)."""
    inputs = keras.Input(shape=tuple(input_shape), name="x")
    h = keras.layers.Flatten()(inputs) if len(input_shape) > 1 else inputs
    for i, units in enumerate(hidden_units):
        h = keras.layers.Dense(units, activation=activation, name=f"dense_{i}")(h)
    mean, log_var = GaussianHead(latent_dim, min_variance=min_variance, name="posterior")(h)
    return keras.Model(inputs, [mean, log_var], name=name)


def output_bias_from_data(x, likelihood="bernoulli"):
    """Initial output bias: the logit of the mean training pixel (Bernoulli).

    Starting the decoder at the data's marginal saves the first epochs from
    learning the average image (the IWAE paper's initialisation).
    """
    mean = np.clip(np.mean(np.asarray(x, np.float64), axis=0), 1e-3, 1 - 1e-3)
    if likelihoods.get(likelihood).name != "bernoulli":
        raise ValueError("`output_bias_from_data` supports likelihood='bernoulli' only.")
    return np.log(mean / (1.0 - mean)).astype("float32").reshape(-1)


def mlp_decoder(latent_dim, output_shape, hidden_units=(200, 200), activation="tanh",
                likelihood="bernoulli", output_bias=None, name="decoder"):
    """MLP from z to the likelihood's parameters.

    Args:
        latent_dim: Size of z.
        output_shape: Event shape of x, e.g. `(784,)` or `(28, 28)`.
        likelihood: Decides the outputs: one tensor (Bernoulli logits, Gaussian
            mean) or two (Gaussian with learned variance, discretized logistic).
        output_bias: Optional initial bias of the (first) output, flattened.
    """
    likelihood = likelihoods.get(likelihood)
    output_shape = tuple(output_shape)
    size = math.prod(output_shape)
    inputs = keras.Input(shape=(latent_dim,), name="z")
    h = inputs
    for i, units in enumerate(hidden_units):
        h = keras.layers.Dense(units, activation=activation, name=f"dense_{i}")(h)
    bias = "zeros" if output_bias is None else keras.initializers.Constant(
        np.asarray(output_bias, "float32").reshape(-1))
    outputs = [keras.layers.Dense(size, bias_initializer=bias, name="loc")(h)]
    if likelihood.num_params() == 2:
        outputs.append(keras.layers.Dense(size, name="raw_log_scale")(h))
    outputs = [keras.layers.Reshape(output_shape)(o) for o in outputs]
    return keras.Model(inputs, outputs[0] if len(outputs) == 1 else outputs, name=name)
