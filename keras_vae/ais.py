"""Annealed importance sampling estimate of log p(x) with HMC transitions.

Anneals from q(z | x) to the posterior through f_t(z) = q(z | x)^(1 - b_t)
p(x, z)^(b_t), with a sigmoidal schedule 0 = b_0 < ... < b_T = 1. Each chain
accumulates log w += (b_t - b_(t-1)) (log p(x, z) - log q(z | x)) and then
takes one HMC transition that leaves f_t invariant. log p(x) is estimated by
log mean_chains exp(log w): a stochastic lower bound that tightens with more
steps (Neal 2001; Wu et al. 2017, arXiv:1611.04273, for decoder-based models).

The gradient of log f_t with respect to z is taken by the backend's trainer
(`value_and_input_gradient`); the rest is `keras.ops`.
"""

import math
import weakref

import keras
import numpy as np
from keras import ops

from keras_vae._checks import check_positive_int

_compiled = weakref.WeakKeyDictionary()


def sigmoid_schedule(num_steps, sharpness=4.0):
    """b_0 = 0 < ... < b_T = 1, denser near both ends (Grosse et al. 2015)."""
    t = np.linspace(-sharpness, sharpness, num_steps + 1)
    s = 1.0 / (1.0 + np.exp(-t))
    return (s - s[0]) / (s[-1] - s[0])


def _log_terms(model, x, z, mean, log_var):
    """log p(x, z) and log q(z | x), each (chains, batch)."""
    return model.log_joint(x, z), model.log_q(z, mean, log_var)


def _transition(model, leapfrog_steps, target_acceptance):
    """Compiled step: weight update at b_prev -> b, then one HMC move targeting f_b.

    The per-example step size is adapted and the acceptance summed inside the
    step, so the annealing loop never waits on a device-to-host copy.
    """
    cache = _compiled.setdefault(model, {})
    key = (leapfrog_steps, float(target_acceptance))
    if key in cache:
        return cache[key]

    def step(x, z, log_w, mean, log_var, beta_prev, beta, step_size, accepted):
        log_joint, log_q = _log_terms(model, x, z, mean, log_var)
        log_w = log_w + (beta - beta_prev) * (log_joint - log_q)

        def log_target(v):
            joint, q = _log_terms(model, x, v, mean, log_var)
            return beta * joint + (1.0 - beta) * q

        seed = model.sampler.seed_generator
        momentum = keras.random.normal(ops.shape(z), seed=seed)
        value, grad = model.value_and_input_gradient(log_target, z)
        eps = step_size[None, :, None]
        p = momentum + 0.5 * eps * grad
        v = z
        for i in range(leapfrog_steps):
            v = v + eps * p
            new_value, grad = model.value_and_input_gradient(log_target, v)
            p = p + (eps if i < leapfrog_steps - 1 else 0.5 * eps) * grad
        log_accept = (new_value - 0.5 * ops.sum(ops.square(p), axis=-1)) - (
            value - 0.5 * ops.sum(ops.square(momentum), axis=-1))
        log_accept = ops.where(ops.isnan(log_accept), -np.inf, log_accept)
        uniform = keras.random.uniform(ops.shape(log_accept), seed=seed)
        accept = ops.log(uniform) < log_accept
        z = ops.where(accept[..., None], v, z)
        rate = ops.mean(ops.cast(accept, "float32"), axis=0)
        step_size = ops.where(rate > target_acceptance, step_size * 1.02, step_size / 1.02)
        return z, log_w, step_size, accepted + rate

    cache[key] = model.make_inference_function(step)
    return cache[key]


def ais_batch(model, x, num_chains, num_steps, leapfrog_steps=5, step_size=0.05,
              target_acceptance=0.65):
    """AIS estimates of log p(x) for one batch, shape (batch,), and the mean acceptance."""
    x = ops.convert_to_tensor(np.asarray(x, np.float32))
    mean, log_var = model.encode(x)
    mean, log_var = ops.cast(mean, "float32"), ops.cast(log_var, "float32")
    z, _ = model._sample_posterior(mean, log_var, num_chains)
    log_w = ops.zeros(ops.shape(z)[:2])
    batch = int(x.shape[0])
    # One step size per example, adapted towards the target acceptance rate.
    eps = ops.convert_to_tensor(np.full((batch,), step_size, np.float32))
    accepted = ops.zeros((batch,))
    betas = sigmoid_schedule(num_steps).astype(np.float32)
    step = _transition(model, leapfrog_steps, target_acceptance)
    for t in range(1, num_steps + 1):
        z, log_w, eps, accepted = step(x, z, log_w, mean, log_var, betas[t - 1], betas[t],
                                       eps, accepted)
    log_w = ops.convert_to_numpy(log_w).astype(np.float64)
    top = log_w.max(axis=0)
    estimate = top + np.log(np.mean(np.exp(log_w - top), axis=0))
    return estimate, float(ops.convert_to_numpy(accepted).mean() / num_steps)


def log_likelihood(model, x, num_chains=16, num_steps=500, leapfrog_steps=5, batch_size=100,
                   verbose="auto"):
    """AIS log p(x) per example (NumPy, nats); see `LatentVariableModel.log_likelihood`."""
    num_chains = check_positive_int(num_chains, "num_chains")
    num_steps = check_positive_int(num_steps, "num_steps")
    leapfrog_steps = check_positive_int(leapfrog_steps, "leapfrog_steps")
    x = np.asarray(ops.convert_to_numpy(x))
    model.check_data(x, "x")
    if not model.built:
        model.build((None,) + x.shape[1:])
    progress = keras.utils.Progbar(math.ceil(len(x) / batch_size), unit_name="batch") if verbose else None
    out = []
    for i, start in enumerate(range(0, len(x), batch_size)):
        estimate, _ = ais_batch(model, x[start:start + batch_size], num_chains, num_steps, leapfrog_steps)
        out.append(estimate)
        if progress is not None:
            progress.update(i + 1)
    return np.concatenate(out)
