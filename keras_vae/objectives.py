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
