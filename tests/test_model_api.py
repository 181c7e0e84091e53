import keras
import numpy as np
import pytest
from keras import ops

from conftest import tiny_networks
from keras_vae import IWAE, VAE, likelihoods, networks


def np_(t):
    return ops.convert_to_numpy(t)


@pytest.fixture
def model(binary_data):
    m = IWAE(*tiny_networks(), num_samples=3, seed=0)
    m.compile(optimizer="adam")
    m.fit(binary_data, epochs=1, batch_size=16, verbose=0)
    return m


def test_encode_decode_reconstruct_sample(model, binary_data):
    mean, log_var = model.encode(binary_data)
    assert tuple(mean.shape) == tuple(log_var.shape) == (64, 3)
    decoded = np_(model.decode(np_(mean)))
    assert decoded.shape == (64, 12) and decoded.min() >= 0 and decoded.max() <= 1
    np.testing.assert_allclose(np_(model.reconstruct(binary_data)), decoded, rtol=1e-5)
    samples = np_(model.sample(5))
    assert samples.shape == (5, 12) and np.all((samples >= 0) & (samples <= 1))
    assert not np.allclose(samples, np_(model.sample(5)))
    np.testing.assert_allclose(np_(model.sample(4, seed=3)), np_(model.sample(4, seed=3)))
    assert np_(model.reconstruct(binary_data, sample=True)).shape == (64, 12)


def test_decoded_mean_matches_likelihood():
    enc, dec = tiny_networks(likelihood="discretized_logistic")
    model = VAE(enc, dec, likelihood="discretized_logistic", seed=0)
    model.build((None, 12))
    decoded = np_(model.decode(np.zeros((2, 3), "float32")))
    loc = np_(dec(np.zeros((2, 3), "float32"))[0])
    np.testing.assert_allclose(decoded, np.clip((loc + 1) * 127.5, 0, 255), rtol=1e-5, atol=1e-4)


class Laplace:
    """A user-defined likelihood: any object with log_prob and mean."""

    def log_prob(self, x, params):
        return ops.sum(-ops.abs(x - params) - np.log(2.0), axis=-1)

    def mean(self, params):
        return params


def test_custom_likelihood_object_trains_and_evaluates():
    rng = np.random.default_rng(0)
    x = rng.laplace(size=(64, 12)).astype("float32")
    enc, dec = tiny_networks(likelihood="gaussian")
    model = IWAE(enc, dec, likelihood=Laplace(), num_samples=3, seed=0)
    model.compile(optimizer="adam")
    model.fit(x, epochs=1, batch_size=16, verbose=0)
    ll = model.log_likelihood(x, num_samples=20, verbose=0)
    assert ll.shape == (64,) and np.all(np.isfinite(ll))


def test_output_bias_is_logit_of_mean_pixel(binary_data):
    bias = networks.output_bias_from_data(binary_data)
    decoder = networks.mlp_decoder(3, (12,), (8,), output_bias=bias)
    mean = binary_data.mean(0).clip(1e-3, 1 - 1e-3)
    np.testing.assert_allclose(np_(decoder.get_layer("loc").bias), np.log(mean / (1 - mean)),
                               rtol=1e-5)


def test_gaussian_fixed_and_learned_variance():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(32, 12)).astype("float32")
    for likelihood in (likelihoods.Gaussian(variance=0.5), likelihoods.Gaussian(learned=True)):
        model = VAE(*tiny_networks(likelihood=likelihood), likelihood=likelihood, seed=0)
        model.compile(optimizer="adam")
        logs = model.fit(x, epochs=2, batch_size=16, verbose=0).history
        assert np.all(np.isfinite(logs["elbo"]))
    with pytest.raises(ValueError, match="raw_log_var"):
        learned = likelihoods.Gaussian(learned=True)
        VAE(*tiny_networks(likelihood="gaussian"), likelihood=learned).compute_losses(x)
