"""Float32 under stress: wide log-weights, extreme raw variances and logits."""

import keras
import numpy as np
import pytest
from keras import ops
from scipy import special

from conftest import tiny_networks
from keras_vae import IWAE, VAE


def _set_posterior_bias(model, log_var_bias, mean_bias=0.0):
    """Makes q(z | x) independent of x: posterior kernels zero, biases fixed."""
    head = model.encoder.get_layer("posterior")
    for layer, bias in ((head.mean_projection, mean_bias), (head.log_var_projection, log_var_bias)):
        kernel, b = layer.get_weights()
        layer.set_weights([np.zeros_like(kernel), np.full_like(b, bias)])


def _wide_model(binary_data, log_var_bias):
    encoder, decoder = tiny_networks()
    model = IWAE(encoder, decoder, num_samples=5, seed=0)
    model.build((None,) + binary_data.shape[1:])
    _set_posterior_bias(model, log_var_bias)
    # Large decoder weights: log p(x | z) swings by hundreds of nats across z.
    dense = model.decoder.get_layer("loc")
    kernel, bias = dense.get_weights()
    dense.set_weights([kernel * 40.0, bias])
    return model


def test_k5000_estimate_matches_float64_over_hundreds_of_nats(binary_data):
    model = _wide_model(binary_data, log_var_bias=3.0)
    x = binary_data[:8]
    k = 5000
    noise = np.random.default_rng(0).standard_normal((k, len(x), 3)).astype(np.float32)
    log_w = np.float64(ops.convert_to_numpy(
        model.log_importance_weights(x, k, noise=noise)["log_w"]))
    spread = log_w.max(axis=0) - log_w.min(axis=0)
    assert spread.min() > 200, f"the test needs log-weights spread over hundreds of nats: {spread}"
    exact = special.logsumexp(log_w, axis=0) - np.log(k)  # float64 oracle on the same weights
    for chunk_size in (None, 7, 1000):
        ll = model.log_likelihood(x, num_samples=k, noise=noise, chunk_size=chunk_size, verbose=0)
        assert np.all(np.isfinite(ll))
        np.testing.assert_allclose(ll, exact, rtol=1e-3)


@pytest.mark.parametrize("raw", [1e4, -1e4])
@pytest.mark.parametrize("cls", [VAE, IWAE])
def test_extreme_raw_log_variances_give_finite_losses_and_gradients(binary_data, raw, cls):
    encoder, decoder = tiny_networks()
    model = cls(encoder, decoder, num_samples=4, seed=0)
    model.build((None,) + binary_data.shape[1:])
    _set_posterior_bias(model, raw, mean_bias=raw)
    dense = model.decoder.get_layer("loc")
    kernel, bias = dense.get_weights()
    dense.set_weights([kernel, np.full_like(bias, raw)])  # extreme logits too
    x = ops.convert_to_tensor(binary_data[:16])
    loss, grads = model.gradients(lambda: model.compute_losses(x, training=True)["loss"],
                                  model.trainable_variables)
    assert np.isfinite(float(ops.convert_to_numpy(loss)))
    for variable, grad in zip(model.trainable_variables, grads):
        if grad is not None:
            assert np.all(np.isfinite(ops.convert_to_numpy(grad))), variable.path
    # The default head floors the variance at 1e-6 and caps it at 1e4, softly.
    _, log_var = model.encode(binary_data[:2])
    log_var = ops.convert_to_numpy(log_var)
    assert np.all(log_var >= np.log(1e-6) - 1e-3) and np.all(log_var <= np.log(1e4) + 1e-3)


def test_extreme_logits_keep_bernoulli_log_prob_exact(binary_data):
    encoder, decoder = tiny_networks()
    model = VAE(encoder, decoder, seed=0)
    model.build((None,) + binary_data.shape[1:])
    dense = model.decoder.get_layer("loc")
    kernel, bias = dense.get_weights()
    logits = np.where(np.arange(bias.size) % 2, 1e4, -1e4).astype(np.float32)
    dense.set_weights([np.zeros_like(kernel), logits])
    x = binary_data[:16]
    terms = model.log_importance_weights(x, 3)
    got = ops.convert_to_numpy(terms["log_px_z"]).astype(np.float64)
    # log sigmoid(+-l) in float64: 0 when the pixel agrees with the logit, -1e4 when not.
    expected = -(np.logaddexp(0, -np.where(x > 0.5, 1, -1) * logits.astype(np.float64))).sum(-1)
    np.testing.assert_allclose(got, np.broadcast_to(expected, got.shape), rtol=1e-6)
