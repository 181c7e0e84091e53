"""`.keras` saving and configs round-trip and reproduce outputs."""

import json

import keras
import numpy as np
import pytest

from conftest import tiny_networks
from keras_vae import IWAE, VAE, likelihoods


@pytest.mark.parametrize("cls,likelihood,extra", [
    (VAE, "bernoulli", {"analytic_kl": True}),
    (IWAE, "discretized_logistic", {"num_samples": 7}),
    (IWAE, likelihoods.Gaussian(variance=0.3), {}),
])
def test_keras_file_roundtrip_reproduces_outputs(tmp_path, cls, likelihood, extra):
    rng = np.random.default_rng(0)
    if likelihood == "discretized_logistic":
        x = rng.integers(0, 256, (10, 12)).astype("float32")
    else:
        x = (rng.random((10, 12)) < 0.5).astype("float32")
    encoder, decoder = tiny_networks(likelihood=likelihood)
    model = cls(encoder, decoder, likelihood=likelihood, seed=3, **extra)
    model.compile(optimizer="adam")
    model.fit(x, epochs=1, batch_size=5, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    assert type(restored) is cls
    assert json.loads(json.dumps(restored.get_config())) == json.loads(json.dumps(model.get_config()))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(restored.predict(x, verbose=0)),
                               keras.ops.convert_to_numpy(model.predict(x, verbose=0)), rtol=1e-6)
    noise = rng.normal(size=(model.num_samples, 10, 3)).astype("float32")
    a, b = model.compute_losses(x, noise=noise), restored.compute_losses(x, noise=noise)
    for key in a:
        assert float(a[key]) == pytest.approx(float(b[key]), rel=1e-6)
    # The restored model keeps training.
    restored.fit(x, epochs=1, batch_size=5, verbose=0)


def test_get_config_holds_every_argument():
    encoder, decoder = tiny_networks()
    config = IWAE(encoder, decoder, num_samples=9, seed=4, name="m").get_config()
    assert config["num_samples"] == 9 and config["seed"] == 4 and config["name"] == "m"
    clone = IWAE.from_config(config)
    assert clone.num_samples == 9 and clone.seed == 4
    assert VAE.from_config(VAE(*tiny_networks(), analytic_kl=True).get_config()).analytic_kl_term


def test_weights_roundtrip(tmp_path):
    model = IWAE(*tiny_networks(), seed=1)
    model.build((None, 12))
    model.save_weights(tmp_path / "m.weights.h5")
    other = IWAE(*tiny_networks(), seed=1)
    other.build((None, 12))
    other.load_weights(tmp_path / "m.weights.h5")
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_weights_carry_the_seed_state(tmp_path):
    """A restored model continues the noise stream instead of replaying it."""
    model = IWAE(*tiny_networks(), seed=1)
    model.build((None, 12))
    zeros = np.zeros((2, 3), "float32")
    model.sampler(zeros, zeros)  # advance the stream once
    model.save_weights(tmp_path / "m.weights.h5")
    expected = keras.ops.convert_to_numpy(model.sampler(zeros, zeros))
    other = IWAE(*tiny_networks(), seed=1)
    other.build((None, 12))
    other.load_weights(tmp_path / "m.weights.h5")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(other.sampler(zeros, zeros)), expected)
