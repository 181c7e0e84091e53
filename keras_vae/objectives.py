"""Bounds on log p(x) built from log importance weights.

`log_w` has shape `(num_samples, batch)`, with
log_w[k, b] = log p(x_b | z_kb) + log p(z_kb) - log q(z_kb | x_b).
Each function returns one value per example, shape `(batch,)`.
"""

from keras import ops

from keras_vae.distributions import log_mean_exp


def elbo(log_w):
    """Monte Carlo ELBO: mean over samples of log_w."""
    return ops.mean(log_w, axis=0)


def iwae_bound(log_w):
    """Importance-weighted bound L_K = log (1/K) sum_k exp(log_w[k]).

    Reference:
        Burda, Grosse and Salakhutdinov, Importance Weighted Autoencoders,
        arXiv:1509.00519.
    """
    return log_mean_exp(log_w, axis=0)


def log_effective_sample_size(log_w):
    """log ESS = 2 logsumexp(log_w) - logsumexp(2 log_w), per example."""
    return 2.0 * ops.logsumexp(log_w, axis=0) - ops.logsumexp(2.0 * log_w, axis=0)


def _groups(log_w, num_groups):
    """(M * K, batch) -> (M, K, batch); the sample axis is static, the batch may not be."""
    return ops.reshape(log_w, (num_groups, log_w.shape[0] // num_groups, -1))


def miwae_bound(log_w, num_groups):
    """Mean of M independent L_K bounds from `M * K` log-weights (Rainforth et al. 2018)."""
    return ops.mean(log_mean_exp(_groups(log_w, num_groups), axis=1), axis=0)


def ciwae_bound(log_w, beta):
    """beta * ELBO + (1 - beta) * L_K (Rainforth et al. 2018)."""
    return beta * elbo(log_w) + (1.0 - beta) * iwae_bound(log_w)


def dreg_surrogate(log_w, stl_log_w, decoder_log_w, num_groups=1):
    """Per-example surrogate with the IWAE-DReG gradients (Tucker et al. 2019).

    Decoder: sum_k w_k d log w_k; encoder: sum_k w_k^2 (d log w_k / d z_k) dz_k,
    with w the self-normalized weights of each group. The three terms are
    sum w * log_w(decoder only) + sum w^2 * log_w(STL) - sum w^2 * log_w(decoder only):
    the last two cancel for the decoder and leave the encoder only the w^2 path term.
    """
    groups = _groups(log_w, num_groups)
    w = ops.stop_gradient(ops.exp(groups - ops.logsumexp(groups, axis=1, keepdims=True)))
    stl = _groups(stl_log_w, num_groups)
    dec = _groups(decoder_log_w, num_groups)
    per_group = ops.sum(w * dec + ops.square(w) * (stl - dec), axis=1)
    return ops.mean(per_group, axis=0)


def piwae_surrogate(log_w, decoder_log_w, num_groups):
    """Decoder gradient of L_{MK}, encoder gradient of MIWAE(M, K) (Rainforth et al. 2018)."""
    return (iwae_bound(decoder_log_w) + miwae_bound(log_w, num_groups)
            - miwae_bound(decoder_log_w, num_groups))
