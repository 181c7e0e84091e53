"""Large-K importance-sampled evaluation: log-likelihood, bits/dim, ESS.

The estimator draws samples in chunks and keeps, per example, a running
logsumexp of log_w (and of 2 log_w for the effective sample size) on the
device, so memory is flat in K and only the final (batch,) vectors come back
to the host.
"""

import math
import weakref

import keras
import numpy as np
from keras import ops

from keras_vae._checks import check_num_samples, check_positive_int
from keras_vae.models.input_checks import batch_inputs

DEFAULT_BATCH_SIZE = 100
# (sample, example) pairs per chunk for the paper's MLP decoders (about 2,000
# activation values per pair): large enough to keep the matmuls efficient, small
# enough that the decoder output stays ~150 MB. Decoders with more activation
# values per pair get proportionally fewer pairs (the Fashion-MNIST conv decoder,
# 14k values: about a sixth), so peak memory stays about the same.
DEFAULT_PAIRS_PER_CHUNK = 50_000
_REFERENCE_VALUES_PER_PAIR = 2_500


def _values_per_pair(model, x):
    """Activation values the first decoder produces per (sample, example) pair."""
    total = 0
    for layer in getattr(model.decoders[0], "layers", ()):
        outputs = getattr(layer, "output", None)
        for out in outputs if isinstance(outputs, (list, tuple)) else [outputs]:
            if out is not None:
                total += math.prod(d or 1 for d in out.shape[1:])
    return max(total, math.prod(x.shape[1:]))

_compiled = weakref.WeakKeyDictionary()


def bits_per_dim(log_likelihood, num_dims):
    """Converts log p(x) in nats to bits per dimension: -L / (D ln 2)."""
    return -np.asarray(log_likelihood) / (num_dims * math.log(2.0))


def effective_sample_size(log_w):
    """Kish effective sample size (sum w)^2 / sum w^2 of log-weights `(K, batch)`."""
    from keras_vae.objectives import log_effective_sample_size

    return ops.exp(log_effective_sample_size(log_w))


def _chunk_function(model, num_samples):
    """A compiled step: running logsumexps (lse, lse2) updated by one chunk."""
    cache = _compiled.setdefault(model, {})
    if num_samples not in cache:

        def step(x, lse, lse2, noise):
            log_w = model.log_importance_weights(x, num_samples, noise=noise)["log_w"]
            lse = ops.logaddexp(lse, ops.logsumexp(log_w, axis=0))
            lse2 = ops.logaddexp(lse2, ops.logsumexp(2.0 * log_w, axis=0))
            return lse, lse2

        cache[num_samples] = model.make_inference_function(step)
    return cache[num_samples]


def _estimate_batch(model, x, num_samples, chunk_size, noise):
    batch = x.shape[0]
    if chunk_size is None:
        values = max(_REFERENCE_VALUES_PER_PAIR, _values_per_pair(model, x))
        pairs = DEFAULT_PAIRS_PER_CHUNK * _REFERENCE_VALUES_PER_PAIR // values
        chunk_size = max(1, min(num_samples, pairs // batch))
    x = ops.convert_to_tensor(x, dtype="float32")
    lse = ops.convert_to_tensor(np.full((batch,), -np.inf, np.float32))
    lse2 = lse
    for start in range(0, num_samples, chunk_size):
        size = min(chunk_size, num_samples - start)
        chunk_noise = None
        if noise is not None:
            chunk_noise = ops.convert_to_tensor(noise[start:start + size], dtype="float32")
        lse, lse2 = _chunk_function(model, size)(x, lse, lse2, chunk_noise)
    lse = ops.convert_to_numpy(lse).astype(np.float64)
    lse2 = ops.convert_to_numpy(lse2).astype(np.float64)
    return lse - math.log(num_samples), np.exp(2.0 * lse - lse2)


def _array_batches(model, x, batch_size, noise):
    model.check_data(x, "x")
    x = np.asarray(ops.convert_to_numpy(x))
    if noise is not None:
        noise = np.asarray(noise, dtype=np.float32)
        if noise.ndim < 3 or noise.shape[1] != x.shape[0]:
            raise ValueError(
                "Expected `noise` of shape (num_samples, n, latent_dim) with "
                f"n={x.shape[0]}. Received: noise.shape={noise.shape}"
            )
    for start in range(0, x.shape[0], batch_size):
        stop = start + batch_size
        yield (x[start:stop].astype(np.float32),
               None if noise is None else noise[:, start:stop])


def _dataset_batches(model, data):
    for index, batch in enumerate(data):
        x = np.asarray(ops.convert_to_numpy(batch_inputs(batch)))
        model.check_data(x, f"x (batch {index})")
        yield x.astype(np.float32), None


def log_likelihood(model, x, num_samples=5000, batch_size=None, chunk_size=None,
                   noise=None, return_ess=False, verbose="auto"):
    """Importance-sampled log p(x) per example; see `LatentVariableModel.log_likelihood`."""
    num_samples = check_num_samples(num_samples)
    batch_size = check_positive_int(batch_size or DEFAULT_BATCH_SIZE, "batch_size")
    if chunk_size is not None:
        chunk_size = check_positive_int(chunk_size, "chunk_size")
    if noise is not None and noise.shape[0] != num_samples:
        raise ValueError(
            f"Expected `noise` with a leading axis of num_samples={num_samples}. "
            f"Received: noise.shape={tuple(noise.shape)}"
        )
    is_array = isinstance(x, np.ndarray) or ops.is_tensor(x)
    if is_array:
        x_shape = tuple(x.shape)
        model.check_data(x, "x")
        if not model.built:
            model.build((None,) + x_shape[1:])
        total = math.ceil(x_shape[0] / batch_size)
        batches = _array_batches(model, x, batch_size, noise)
    else:
        if noise is not None:
            raise ValueError("`noise` is only supported when `x` is an array.")
        total = len(x) if hasattr(x, "__len__") else None
        batches = _dataset_batches(model, x)
    progress = keras.utils.Progbar(total, unit_name="batch") if verbose else None
    estimates, sizes = [], []
    for index, (xb, nb) in enumerate(batches):
        if not model.built:
            model.build((None,) + xb.shape[1:])
        estimates.append(_estimate_batch(model, xb, num_samples, chunk_size, nb))
        if progress is not None:
            progress.update(index + 1)
    if not estimates:
        raise ValueError("`x` is empty: no examples to evaluate.")
    ll = np.concatenate([e[0] for e in estimates])
    if return_ess:
        return ll, np.concatenate([e[1] for e in estimates])
    return ll


def summarize(model, x, num_samples=5000, verbose=0, batch_size=None, return_log_p=False):
    """Test-set summary of a model: K-sample NLL with its standard error, bits/dim, bounds, ESS.

    Returns a dict of floats: `nll` (nats, mean over examples) and `nll_se`
    (standard error over examples), `bits_per_dim` (D = the model's event
    size), `bound` (minus the model's training bound, L_k for its own k),
    `elbo` (minus the ELBO; analytic KL with one stochastic layer), `ess` (mean effective sample
    size of the K weights) and `points`. `return_log_p` adds `log_p` and
    `point_ess`, the per-example estimates and effective sample sizes (NumPy),
    for comparing models on the same points.
    """
    if not model.compiled:
        raise ValueError("`summarize` needs a compiled model: call `model.compile()` first "
                         "(no optimizer is used).")
    ll, ess = log_likelihood(model, x, num_samples=num_samples, batch_size=batch_size,
                             return_ess=True, verbose=verbose)
    bounds = model.evaluate(x, batch_size=batch_size or DEFAULT_BATCH_SIZE, verbose=0,
                            return_dict=True)
    num_dims = math.prod(model.input_event_shape)
    per_example = {"log_p": ll, "point_ess": ess} if return_log_p else {}
    return {
        **per_example,
        "nll": float(-ll.mean()),
        "nll_se": float(ll.std(ddof=1) / math.sqrt(len(ll))) if len(ll) > 1 else float("nan"),
        "bits_per_dim": float(bits_per_dim(ll.mean(), num_dims)),
        "bound": float(-bounds[model.bound_name]),
        "elbo": float(-(bounds["log_px_z"] - bounds["kl"])),
        "ess": float(ess.mean()),
        "points": int(len(ll)),
        "num_samples": int(num_samples),
    }
