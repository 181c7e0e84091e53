"""A linear-Gaussian latent-variable model with known log p(x).

p(z) = N(0, I), p(x | z) = N(W z + b, sigma^2 I)  =>  p(x) = N(b, W W^T + sigma^2 I).
With orthogonal columns in W the exact posterior is diagonal:
q*(z | x) = N(A (x - b), diag(v)), v = 1 / (1 + |w_i|^2 / sigma^2), A = diag(v) W^T / sigma^2,
so a linear encoder can represent it exactly.
"""

import keras
import numpy as np
from keras import ops
from scipy import stats

from keras_vae import VAE, IWAE, likelihoods


class LinearEncoder(keras.layers.Layer):
    def __init__(self, kernel, bias, log_var, **kwargs):
        super().__init__(**kwargs)
        self.kernel = np.asarray(kernel, "float32")
        self.bias_value = np.asarray(bias, "float32")
        self.log_var_value = np.asarray(log_var, "float32")

    def call(self, x):
        # Constants as backend tensors: NumPy operands make torch call NumPy's __array_wrap__.
        mean = ops.matmul(x, ops.convert_to_tensor(self.kernel)) + ops.convert_to_tensor(
            self.bias_value)
        return mean, ops.zeros_like(mean) + ops.convert_to_tensor(self.log_var_value)


def make_problem(data_dim=5, latent_dim=2, sigma=0.5, num_points=20, seed=0):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(data_dim, latent_dim)))
    w = q * np.array([1.5, 0.8][:latent_dim] + [1.0] * max(0, latent_dim - 2))
    b = rng.normal(size=data_dim)
    cov = w @ w.T + sigma**2 * np.eye(data_dim)
    x = rng.multivariate_normal(b, cov, size=num_points)
    exact = stats.multivariate_normal(b, cov).logpdf(x)
    v = 1.0 / (1.0 + np.sum(w**2, axis=0) / sigma**2)
    a = (v[:, None] * w.T) / sigma**2  # (latent, data)
    return dict(w=w, b=b, sigma=sigma, x=x.astype("float32"), exact=exact,
                enc_kernel=a.T, enc_bias=-(a @ b), enc_log_var=np.log(v))


def make_model(problem, cls=IWAE, mean_shift=0.0, log_var_shift=0.0, **kwargs):
    latent_dim = problem["w"].shape[1]
    encoder = LinearEncoder(problem["enc_kernel"], problem["enc_bias"] + mean_shift,
                            problem["enc_log_var"] + log_var_shift)
    decoder = keras.Sequential([keras.Input((latent_dim,)), keras.layers.Dense(problem["w"].shape[0])])
    decoder.layers[-1].set_weights([problem["w"].T.astype("float32"), problem["b"].astype("float32")])
    model = cls(encoder, decoder, likelihood=likelihoods.Gaussian(variance=problem["sigma"] ** 2),
                **kwargs)
    model.build((None, problem["w"].shape[0]))
    return model


def make_trainable_model(estimator, num_samples, mean_shift=0.0, problem=None):
    """IWAE whose encoder is a trainable linear map set to the exact posterior (plus a shift)."""
    problem = problem or make_problem()
    d, D = problem["w"].shape[1], problem["w"].shape[0]
    inputs = keras.Input((D,))
    mean = keras.layers.Dense(d, name="mean")(inputs)
    log_var = keras.layers.Dense(d, kernel_initializer="zeros", name="log_var")(inputs)
    encoder = keras.Model(inputs, [mean, log_var])
    encoder.get_layer("mean").set_weights([problem["enc_kernel"].astype("float32"),
                                           (problem["enc_bias"] + mean_shift).astype("float32")])
    encoder.get_layer("log_var").set_weights([np.zeros((D, d), "float32"),
                                              problem["enc_log_var"].astype("float32")])
    decoder = keras.Sequential([keras.Input((d,)), keras.layers.Dense(D)])
    decoder.layers[-1].set_weights([problem["w"].T.astype("float32"), problem["b"].astype("float32")])
    model = IWAE(encoder, decoder, likelihood=likelihoods.Gaussian(variance=problem["sigma"] ** 2),
                 num_samples=num_samples, gradient_estimator=estimator, seed=0)
    model.build((None, D))
    return model, encoder, problem


__all__ = ["make_problem", "make_model", "make_trainable_model", "VAE", "IWAE"]
