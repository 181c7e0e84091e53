"""Independent NumPy/SciPy references, float64 throughout."""

import numpy as np
from scipy import special, stats


def discretized_logistic_log_prob(x, mean, scale, num_bins=256):
    """Bin masses from SciPy's logistic logcdf / logsf.

    Each bin is taken from the tail it lies in (CDF differences below the
    mean, survival-function differences above), so neither side cancels.
    """
    last = num_bins - 1.0
    c = 2 * x / last - 1
    upper = np.where(x >= last, np.inf, c + 1 / last)
    lower = np.where(x <= 0, -np.inf, c - 1 / last)
    dist = stats.logistic(mean, scale)
    with np.errstate(divide="ignore"):
        below = dist.logcdf(upper) + np.log1p(-np.exp(dist.logcdf(lower) - dist.logcdf(upper)))
        above = dist.logsf(lower) + np.log1p(-np.exp(dist.logsf(upper) - dist.logsf(lower)))
    return np.where(c < mean, below, above)


def soft_bound(raw, min_variance, max_variance=None):
    out = np.logaddexp(raw, np.log(min_variance))
    if max_variance is not None:
        out = -np.logaddexp(-out, -np.log(max_variance))
    return out


def mlp(h, layers, activation=np.tanh):
    for kernel, bias in layers:
        h = activation(h @ kernel + bias)
    return h


def log_weights(x, noise, enc, dec, likelihood):
    """log_w and its terms for the reference MLP model; see networks.mlp_*."""
    h = mlp(x, enc["hidden"])
    mean = h @ enc["mean"][0] + enc["mean"][1]
    log_var = soft_bound(h @ enc["log_var"][0] + enc["log_var"][1], 1e-6, 1e4)
    z = mean + np.exp(0.5 * log_var) * noise
    g = mlp(z, dec["hidden"])
    loc = g @ dec["loc"][0] + dec["loc"][1]
    if likelihood == "bernoulli":
        log_px_z = stats.bernoulli.logpmf(x, special.expit(loc)).sum(-1)
    elif likelihood == "gaussian":
        raw = g @ dec["raw_log_scale"][0] + dec["raw_log_scale"][1]
        log_px_z = stats.norm.logpdf(x, loc, np.exp(0.5 * soft_bound(raw, 1e-3))).sum(-1)
    else:
        raw = g @ dec["raw_log_scale"][0] + dec["raw_log_scale"][1]
        scale = np.exp(0.5 * soft_bound(2 * raw, 1e-3**2))
        log_px_z = discretized_logistic_log_prob(np.broadcast_to(x, loc.shape), loc, scale).sum(-1)
    log_pz = stats.norm.logpdf(z).sum(-1)
    log_qz = stats.norm.logpdf(z, mean, np.exp(0.5 * log_var)).sum(-1)
    kl = 0.5 * np.sum(np.exp(log_var) + mean**2 - 1 - log_var, axis=-1)
    return dict(log_w=log_px_z + log_pz - log_qz, log_px_z=log_px_z, kl=kl)
