import gc
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from keras_vae import networks  # noqa: E402


@pytest.fixture(autouse=True)
def _clear_session():
    keras.utils.set_random_seed(1234)
    yield
    keras.backend.clear_session()
    # JAX keeps every compiled executable for the life of the process; without this the
    # suite's resident memory only grows, test after test (past 5 GB on the jax run).
    if keras.backend.backend() == "jax":
        import jax

        jax.clear_caches()
    gc.collect()


@pytest.fixture
def binary_data():
    rng = np.random.default_rng(0)
    probs = rng.random((1, 12)) * 0.8 + 0.1
    return (rng.random((64, 12)) < probs).astype("float32")


def tiny_networks(input_dim=12, latent_dim=3, hidden=(8,), likelihood="bernoulli"):
    encoder = networks.mlp_encoder((input_dim,), latent_dim, hidden)
    decoder = networks.mlp_decoder(latent_dim, (input_dim,), hidden, likelihood=likelihood)
    return encoder, decoder


# Tests that read a training split (never the network: CI and ../shared provide the files).
needs_training_data = pytest.mark.skipif(
    not os.environ.get("KERAS_VAE_DATA_DIR"),
    reason="needs the training splits: set KERAS_VAE_DATA_DIR to a data folder (see the README)")


def backend():
    return keras.backend.backend()
