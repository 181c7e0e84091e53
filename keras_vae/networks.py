"""Reference encoders and decoders.

`mlp_encoder` / `mlp_decoder` are the IWAE paper's one-stochastic-layer
architecture: two deterministic tanh layers of 200 units around a
50-dimensional latent (Burda et al. 2015, section 5). `conv_encoder` /
`conv_decoder` are the small convolutional pair of the 8-bit image entries
(Fashion-MNIST, SVHN): stride-2 convolutions down, transposed ones up.
`mlp_hierarchy` is the paper's model with two (or more) stochastic layers.
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


def paper_hidden_units(latent_dims):
    """The IWAE paper's deterministic layers: two of 200 above x, two as wide as z_i above z_i."""
    return [(200, 200)] + [(d, d) for d in latent_dims[:-1]]


def mlp_hierarchy(input_shape, latent_dims=(100, 50), hidden_units=None, activation="tanh",
                  likelihood="bernoulli", output_bias=None, min_variance=1e-6):
    """Encoder and decoder lists of the IWAE paper's model with stochastic layers.

    The paper's two-layer MNIST model (Burda et al. 2015, section 5) is the
    default: x -> 200 -> 200 -> z_1 (100) -> 100 -> 100 -> z_2 (50), and the
    mirror image for p(z_1 | z_2) and p(x | z_1). Layer i's deterministic
    units `hidden_units[i]` sit between z_i (x for i = 0) and z_(i+1), in both
    directions; by default `paper_hidden_units(latent_dims)`.

    Returns:
        `(encoders, decoders)`: lists for `VAE`/`IWAE`/... `encoder` and
        `decoder` (see `keras_vae.models.hierarchy`).
    """
    if not latent_dims:
        raise ValueError("Expected at least one stochastic layer in `latent_dims`. Received: "
                         f"latent_dims={latent_dims}")
    if hidden_units is None:
        hidden_units = paper_hidden_units(latent_dims)
    if len(latent_dims) != len(hidden_units):
        raise ValueError("Expected one entry of `hidden_units` per stochastic layer. Received: "
                         f"latent_dims={latent_dims}, hidden_units={hidden_units}")
    below = [tuple(input_shape)] + [(d,) for d in latent_dims[:-1]]
    encoders = [mlp_encoder(shape, d, hidden, activation, min_variance, name=f"encoder_{i + 1}")
                for i, (shape, d, hidden) in enumerate(zip(below, latent_dims, hidden_units))]
    decoders = [mlp_decoder(latent_dims[0], input_shape, tuple(reversed(hidden_units[0])),
                            activation, likelihood, output_bias, name="decoder_1")]
    decoders += [mlp_encoder((latent_dims[i + 1],), latent_dims[i],
                             tuple(reversed(hidden_units[i + 1])), activation, min_variance,
                             name=f"prior_{i + 1}")
                 for i in range(len(latent_dims) - 1)]
    return encoders, decoders


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


def _check_image_shape(shape, num_layers, argument):
    shape = tuple(shape)
    if len(shape) != 3:
        raise ValueError(f"Expected `{argument}` to be (height, width, channels). "
                         f"Received: {argument}={shape}")
    factor = 2**num_layers
    if shape[0] % factor or shape[1] % factor:
        raise ValueError(
            f"Expected `{argument}` height and width divisible by {factor} (one halving per "
            f"entry of `filters`). Received: {argument}={shape}")
    return shape


def conv_encoder(input_shape, latent_dim, filters=(32, 64), hidden_units=256,
                 activation="relu", input_scale=None, min_variance=1e-6, name="encoder"):
    """Convolutional encoder from images to `(mean, log_var)` of q(z | x).

    Each entry of `filters` is a stride-2 3x3 convolution (halving height and
    width), followed by a dense layer and the Gaussian head.

    Args:
        input_shape: `(height, width, channels)`, e.g. `(28, 28, 1)` or `(32, 32, 3)`.
        latent_dim: Size of z.
        input_scale: Optional `(scale, offset)` applied to x first; `(1/127.5, -1)`
            maps 8-bit pixels to [-1, 1] so the network sees the raw data the
            discretized logistic scores.
    """
    input_shape = _check_image_shape(input_shape, len(filters), "input_shape")
    inputs = keras.Input(shape=input_shape, name="x")
    h = inputs
    if input_scale is not None:
        h = keras.layers.Rescaling(input_scale[0], input_scale[1], name="rescale")(h)
    for i, f in enumerate(filters):
        h = keras.layers.Conv2D(f, 3, strides=2, padding="same", activation=activation,
                                name=f"conv_{i}")(h)
    h = keras.layers.Flatten()(h)
    if hidden_units:
        h = keras.layers.Dense(hidden_units, activation=activation, name="dense")(h)
    mean, log_var = GaussianHead(latent_dim, min_variance=min_variance, name="posterior")(h)
    return keras.Model(inputs, [mean, log_var], name=name)


def conv_decoder(latent_dim, output_shape, filters=(64, 32), activation="relu",
                 likelihood="discretized_logistic", name="decoder"):
    """Convolutional decoder from z to the likelihood's parameters on images.

    z is projected to a `(height / 2^n, width / 2^n, filters[0])` map; each
    later entry of `filters` is a stride-2 transposed convolution, and the
    output heads (one per likelihood parameter, `channels` each) are the last
    stride-2 transposed convolution, so the n halvings of the encoder are
    undone.
    """
    likelihood = likelihoods.get(likelihood)
    output_shape = _check_image_shape(output_shape, len(filters), "output_shape")
    n = len(filters)
    height, width, channels = output_shape
    inputs = keras.Input(shape=(latent_dim,), name="z")
    h = keras.layers.Dense((height >> n) * (width >> n) * filters[0], activation=activation,
                           name="project")(inputs)
    h = keras.layers.Reshape((height >> n, width >> n, filters[0]))(h)
    for i, f in enumerate(filters[1:]):
        h = keras.layers.Conv2DTranspose(f, 3, strides=2, padding="same", activation=activation,
                                         name=f"deconv_{i}")(h)
    heads = ["loc", "raw_log_scale"][: likelihood.num_params()]
    outputs = [keras.layers.Conv2DTranspose(channels, 3, strides=2, padding="same", name=head)(h)
               for head in heads]
    return keras.Model(inputs, outputs[0] if len(outputs) == 1 else outputs, name=name)
