"""A two-stochastic-layer linear-Gaussian model with known log p(x) and posterior.

p(z_2) = N(0, I), p(z_1 | z_2) = N(diag(alpha) z_2 + a, diag(s)),
p(x | z_1) = N(W z_1 + b, sigma^2 I), with orthogonal columns in W. Then
z_1 ~ N(a, C), C = diag(alpha^2 + s), and p(x) = N(W a + b, W C W^T + sigma^2 I).
The exact posterior factorizes as p(z_1 | x) p(z_2 | z_1), both diagonal and
linear, so linear encoders represent it exactly.
"""

import keras
import numpy as np
from scipy import stats

from keras_vae import IWAE, likelihoods

D, D1, D2 = 5, 2, 2


def make_problem(sigma=0.5, num_points=20, seed=0):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(D, D1)))
    w = q * np.array([1.5, 0.8])
    b, a = rng.normal(size=D), rng.normal(size=D1)
    alpha, s = np.array([1.2, 0.7]), np.array([0.3, 0.5])
    c = alpha**2 + s
    mean_x, cov_x = w @ a + b, w @ np.diag(c) @ w.T + sigma**2 * np.eye(D)
    x = rng.multivariate_normal(mean_x, cov_x, size=num_points)
    # p(z_1 | x): precision 1/c + |w_i|^2 / sigma^2.
    v1 = 1.0 / (1.0 / c + np.sum(w**2, axis=0) / sigma**2)
    k1 = (v1[:, None] * w.T) / sigma**2            # (D1, D)
    bias1 = v1 * a / c - k1 @ b
    # p(z_2 | z_1): precision 1 + alpha^2 / s.
    v2 = 1.0 / (1.0 + alpha**2 / s)
    k2 = np.diag(v2 * alpha / s)
    bias2 = -k2 @ a
    return dict(w=w, b=b, a=a, alpha=alpha, s=s, sigma=sigma, x=x.astype("float32"),
                exact=stats.multivariate_normal(mean_x, cov_x).logpdf(x),
                q1=(k1.T, bias1, np.log(v1)), q2=(k2.T, bias2, np.log(v2)),
                prior=(np.diag(alpha), a, np.log(s)))


def _gaussian_net(input_dim, kernel, bias, log_var, name):
    """Trainable linear (mean, log_var) network, set to the given values."""
    inputs = keras.Input((input_dim,))
    mean = keras.layers.Dense(len(bias), name="mean")(inputs)
    log_var_out = keras.layers.Dense(len(bias), kernel_initializer="zeros", name="log_var")(inputs)
    net = keras.Model(inputs, [mean, log_var_out], name=name)
    net.get_layer("mean").set_weights([np.asarray(kernel, "float32"), np.asarray(bias, "float32")])
    net.get_layer("log_var").set_weights([np.zeros((input_dim, len(bias)), "float32"),
                                          np.asarray(log_var, "float32")])
    return net


def make_model(problem, cls=IWAE, mean_shift=0.0, log_var_shift=0.0, **kwargs):
    """The exact generative model; the encoders are the exact posterior moved by the shifts."""
    (k1, b1, lv1), (k2, b2, lv2) = problem["q1"], problem["q2"]
    encoders = [_gaussian_net(D, k1, b1 + mean_shift, lv1 + log_var_shift, "q1"),
                _gaussian_net(D1, k2, b2 + mean_shift, lv2 + log_var_shift, "q2")]
    decoder = keras.Sequential([keras.Input((D1,)), keras.layers.Dense(D)], name="p_x")
    decoder.layers[-1].set_weights([problem["w"].T.astype("float32"), problem["b"].astype("float32")])
    prior = _gaussian_net(D2, *problem["prior"], "p_z1")
    model = cls(encoders, [decoder, prior],
                likelihood=likelihoods.Gaussian(variance=problem["sigma"] ** 2), **kwargs)
    model.build((None, D))
    return model


def encoder_variables(model):
    return [v for net in model.encoders for v in net.trainable_variables]


def decoder_variables(model):
    return [v for net in model.decoders for v in net.trainable_variables]
