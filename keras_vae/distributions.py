"""Log-densities and divergences written in `keras.ops`.

All functions return element-wise values in nats (normalising constants
included); callers reduce over event axes. Every function is backend-free and
differentiable on TensorFlow, JAX and PyTorch.
"""

import math

from keras import ops

LOG_2PI = math.log(2.0 * math.pi)


def _tensors(*values):
    return tuple(ops.convert_to_tensor(v) for v in values)


def gaussian_log_prob(x, mean, log_var):
    """Element-wise log N(x; mean, exp(log_var))."""
    x, mean, log_var = _tensors(x, mean, log_var)
    return -0.5 * (LOG_2PI + log_var + ops.square(x - mean) * ops.exp(-log_var))


def standard_normal_log_prob(x):
    """Element-wise log N(x; 0, 1)."""
    x = ops.convert_to_tensor(x)
    return -0.5 * (LOG_2PI + ops.square(x))


def bernoulli_log_prob(x, logits):
    """Element-wise log Bernoulli(x; sigmoid(logits)) for x in [0, 1].

    Written as x * logits - softplus(logits), which is exact for binary x,
    stable for any finite logit, and the usual relaxation for x in (0, 1).
    """
    x, logits = _tensors(x, logits)
    return x * logits - ops.softplus(logits)


def _log_sigmoid(x):
    return -ops.softplus(-x)


def discretized_logistic_log_prob(x, mean, log_scale, num_bins=256):
    """Element-wise log-probability of integer pixels under a discretized logistic.

    The pixel value `x` in {0, ..., num_bins - 1} is mapped to
    c = 2 x / (num_bins - 1) - 1 in [-1, 1]; its probability is the logistic
    mass on [c - h, c + h] with h = 1 / (num_bins - 1), and the two edge bins
    take the tails (-inf, c + h] and [c - h, inf), so the probabilities over
    all `num_bins` values sum to one and the result is a true discrete
    log-probability (bits/dim need no Jacobian).

    `mean` and `log_scale` live on the [-1, 1] scale. The interior bins use
    log(sigmoid(a) - sigmoid(b)) = a + log(-expm1(b - a)) - softplus(a) -
    softplus(b), which is stable for any a > b (no cancellation in the tails).
    """
    x, mean, log_scale = _tensors(x, mean, log_scale)
    last = float(num_bins - 1)
    centered = 2.0 * x / last - 1.0 - mean
    inv_scale = ops.exp(-log_scale)
    upper = inv_scale * (centered + 1.0 / last)
    lower = inv_scale * (centered - 1.0 / last)
    interior = (
        upper
        + ops.log(-ops.expm1(lower - upper))
        - ops.softplus(upper)
        - ops.softplus(lower)
    )
    first_bin = _log_sigmoid(upper)
    last_bin = -ops.softplus(lower)
    return ops.where(
        x <= 0.0, first_bin, ops.where(x >= last, last_bin, interior)
    )


def discretized_logistic_mean(mean, num_bins=256):
    """Maps a location on the [-1, 1] scale back to pixel units, clipped."""
    last = float(num_bins - 1)
    return ops.clip((mean + 1.0) * (last / 2.0), 0.0, last)


def kl_standard_normal(mean, log_var):
    """Element-wise KL(N(mean, exp(log_var)) || N(0, 1))."""
    mean, log_var = _tensors(mean, log_var)
    return 0.5 * (ops.exp(log_var) + ops.square(mean) - 1.0 - log_var)


def log_mean_exp(x, axis=0):
    """log(mean(exp(x), axis)), computed stably with logsumexp."""
    x = ops.convert_to_tensor(x)
    count = ops.shape(x)[axis]
    return ops.logsumexp(x, axis=axis) - ops.log(ops.cast(count, x.dtype))
