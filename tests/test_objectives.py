import keras
import numpy as np
import pytest
from keras import ops
from scipy import special

from conftest import tiny_networks
from keras_vae import IWAE, VAE, objectives


def np_(t):
    return ops.convert_to_numpy(t).astype(np.float64)


def shared_models(**kwargs):
    encoder, decoder = tiny_networks()
    vae = VAE(encoder, decoder, num_samples=1, **kwargs)
    iwae = IWAE(encoder, decoder, num_samples=1, **kwargs)
    for m in (vae, iwae):
        m.build((None, 12))
    return vae, iwae


def test_iwae_with_one_sample_equals_elbo(binary_data):
    vae, iwae = shared_models()
    noise = np.random.default_rng(1).normal(size=(1, 64, 3)).astype("float32")
    v = vae.compute_losses(binary_data, noise=noise)
    i = iwae.compute_losses(binary_data, noise=noise)
    assert float(v["elbo"]) == pytest.approx(float(i["iwae_bound"]), rel=1e-6)
    assert float(v["loss"]) == pytest.approx(float(i["loss"]), rel=1e-6)


def test_bounds_match_numpy_from_log_weights(binary_data):
    _, iwae = shared_models()
    noise = np.random.default_rng(2).normal(size=(9, 64, 3)).astype("float32")
    log_w = np_(iwae.log_importance_weights(binary_data, 9, noise=noise)["log_w"])
    np.testing.assert_allclose(np_(objectives.iwae_bound(log_w.astype("float32"))),
                               special.logsumexp(log_w, 0) - np.log(9), rtol=1e-5)
    np.testing.assert_allclose(np_(objectives.elbo(log_w.astype("float32"))), log_w.mean(0),
                               rtol=1e-5)
    ess = np_(objectives.log_effective_sample_size(log_w.astype("float32")))
    w = np.exp(log_w - log_w.max(0))
    np.testing.assert_allclose(np.exp(ess), w.sum(0) ** 2 / (w**2).sum(0), rtol=1e-4)


def test_log_weights_decompose(binary_data):
    _, iwae = shared_models()
    t = iwae.log_importance_weights(binary_data, 4)
    np.testing.assert_allclose(np_(t["log_w"]), np_(t["log_px_z"]) + np_(t["log_pz"]) - np_(t["log_qz"]),
                               rtol=1e-5, atol=1e-4)
    assert tuple(t["log_w"].shape) == (4, 64)


def test_iwae_bound_is_invariant_to_sample_order(binary_data):
    _, iwae = shared_models()
    iwae.num_samples = 6
    noise = np.random.default_rng(3).normal(size=(6, 64, 3)).astype("float32")
    a = float(iwae.compute_losses(binary_data, noise=noise)["iwae_bound"])
    b = float(iwae.compute_losses(binary_data, noise=noise[::-1].copy())["iwae_bound"])
    c = float(iwae.compute_losses(binary_data, noise=noise[[2, 0, 5, 1, 4, 3]])["iwae_bound"])
    assert a == pytest.approx(b, abs=1e-4) and a == pytest.approx(c, abs=1e-4)


def test_iwae_bound_exceeds_elbo_on_average(binary_data):
    vae, iwae = shared_models()
    iwae.num_samples = 20
    noise = np.random.default_rng(4).normal(size=(20, 64, 3)).astype("float32")
    log_w = iwae.log_importance_weights(binary_data, 20, noise=noise)["log_w"]
    assert float(ops.mean(objectives.iwae_bound(log_w))) > float(ops.mean(objectives.elbo(log_w)))


def test_analytic_kl_elbo(binary_data):
    encoder, decoder = tiny_networks()
    vae = VAE(encoder, decoder, analytic_kl=True)
    vae.build((None, 12))
    noise = np.random.default_rng(5).normal(size=(1, 64, 3)).astype("float32")
    t = vae.log_importance_weights(binary_data, 1, noise=noise)
    mean, log_var = np_(t["mean"]), np_(t["log_var"])
    kl = 0.5 * np.sum(np.exp(log_var) + mean**2 - 1 - log_var, axis=1)
    expected = np.mean(np_(t["log_px_z"])[0] - kl)
    losses = vae.compute_losses(binary_data, noise=noise)
    assert float(losses["elbo"]) == pytest.approx(expected, rel=1e-5)
    assert float(losses["kl"]) == pytest.approx(kl.mean(), rel=1e-5)


@pytest.mark.parametrize("chunk_size", [1, 5, 7, 64])
def test_chunked_log_likelihood_equals_unchunked(binary_data, chunk_size):
    _, iwae = shared_models()
    noise = np.random.default_rng(6).normal(size=(64, 64, 3)).astype("float32")
    full = np_(iwae.log_importance_weights(binary_data, 64, noise=noise)["log_w"])
    expected = special.logsumexp(full, 0) - np.log(64)
    ll = iwae.log_likelihood(binary_data, num_samples=64, chunk_size=chunk_size, batch_size=24,
                             noise=noise, verbose=0)
    np.testing.assert_allclose(ll, expected, rtol=1e-5, atol=1e-4)


def test_log_likelihood_accepts_a_dataset_of_batches(binary_data):
    _, iwae = shared_models()
    ll = iwae.log_likelihood([binary_data[:30], binary_data[30:]], num_samples=10, verbose=0)
    assert ll.shape == (64,) and np.all(np.isfinite(ll))
    ll2, ess = iwae.log_likelihood(binary_data, num_samples=10, return_ess=True, verbose=0)
    assert np.all((ess >= 1 - 1e-4) & (ess <= 10 + 1e-4))
