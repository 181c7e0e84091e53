"""Diagnostics of a trained model: active units and gradient signal-to-noise.

Reference:
    Burda et al. 2015 (active units, section 5.2); Rainforth et al. 2018,
    arXiv:1802.04537 (gradient SNR = |E[g]| / std[g] per parameter).
"""

import numpy as np
from keras import ops


def active_units(model, x, threshold=0.01, batch_size=500):
    """Number of latent dimensions with Cov_x(E_q[z | x]) above `threshold`.

    Returns `(count, variances)` with the per-dimension variance of the
    posterior mean across the examples of `x`.
    """
    means = []
    for start in range(0, len(x), batch_size):
        mean, _ = model.encode(np.asarray(x[start:start + batch_size], np.float32))
        means.append(ops.convert_to_numpy(mean).astype(np.float64))
    variances = np.concatenate(means).reshape(len(x), -1).var(axis=0)
    return int(np.sum(variances > threshold)), variances


def _draw(mean, log_var, num_samples, generator):
    import keras

    shape = (num_samples,) + tuple(mean.shape[1:]) if mean.shape[0] == 1 else tuple(mean.shape)
    mean, log_var = ops.cast(mean, "float32"), ops.cast(log_var, "float32")
    return mean + ops.exp(0.5 * log_var) * keras.random.normal(shape, seed=generator)


def active_units_by_layer(model, x, threshold=0.01, num_samples=100, batch_size=500, seed=0):
    """Active units of each stochastic layer, as the IWAE paper reports them (e.g. 20 + 5).

    Layer 1 uses the exact posterior mean E_q[z_1 | x]. A deeper layer's mean
    E_q[z_i | x] = E_q(z_(i-1) | x)[mean of q(z_i | z_(i-1))] is averaged over
    `num_samples` draws of the layer below (Monte Carlo; an inactive unit's
    mean barely moves with them, so the noise stays far below `threshold`).
    Returns a list of counts, one per layer.
    """
    import keras

    counts = [active_units(model, x, threshold, batch_size)[0]]
    if model.num_stochastic_layers == 1:
        return counts
    generator = keras.random.SeedGenerator(seed)
    per_layer = [[] for _ in model.encoders[1:]]
    for start in range(0, len(x), batch_size):
        mean, log_var = model.encode(np.asarray(x[start:start + batch_size], np.float32))
        below = _draw(mean[None], log_var[None], num_samples, generator)
        for i, net in enumerate(model.encoders[1:]):
            m, lv = model._apply(net, below, "encoder")
            per_layer[i].append(ops.convert_to_numpy(ops.mean(m, axis=0)).astype(np.float64))
            below = _draw(m, lv, 1, generator)
    for means in per_layer:
        counts.append(int(np.sum(np.concatenate(means).var(axis=0) > threshold)))
    return counts


def gradient_snr(model, x, num_draws=100):
    """Signal-to-noise ratio of the training-loss gradient over fresh noise draws.

    On a fixed batch `x`, draws the loss gradient `num_draws` times and returns,
    for the encoder and the decoder, the mean over parameters of
    |mean(g)| / std(g) (parameters whose gradient is always zero are left out),
    with the per-parameter values.
    """
    x = ops.convert_to_tensor(np.asarray(x, np.float32))
    groups = {part: [v for net in nets for v in net.trainable_variables]
              for part, nets in (("encoder", model.encoders), ("decoder", model.decoders))}
    variables = groups["encoder"] + groups["decoder"]
    draws = []
    for _ in range(num_draws):
        _, grads = model.gradients(lambda: model.compute_losses(x, training=True)["loss"], variables)
        draws.append(np.concatenate([
            np.zeros(int(np.prod(v.shape))) if g is None
            else ops.convert_to_numpy(g).astype(np.float64).ravel()
            for v, g in zip(variables, grads)]))
    draws = np.array(draws)
    sizes = [int(np.prod(v.shape)) for v in variables]
    split = sum(sizes[: len(groups["encoder"])])
    result = {}
    for name, block in (("encoder", draws[:, :split]), ("decoder", draws[:, split:])):
        std = block.std(axis=0, ddof=1)
        live = std > 0
        snr = np.abs(block.mean(axis=0)[live]) / std[live]
        result[name] = float(snr.mean()) if snr.size else float("nan")
        result[f"{name}_per_parameter"] = snr
    return result
