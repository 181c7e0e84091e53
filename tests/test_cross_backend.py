"""Same weights and noise give the same losses on every backend.

Each backend's run compares against the NumPy oracle and writes its values to
`$KERAS_VAE_CROSS_BACKEND_DIR/<backend>.json`; it then compares against the
files the other backends' runs wrote (`tests/run_backends.sh` runs them in
sequence and requires all three in the last run).
"""

import json
import os
import pathlib

import keras
import numpy as np
import pytest
from scipy import special

import oracles
from conftest import backend
from keras_vae import IWAE, VAE, likelihoods, networks

CASES = {
    "bernoulli": likelihoods.Bernoulli(),
    "gaussian": likelihoods.Gaussian(learned=True),
    "discretized_logistic": likelihoods.DiscretizedLogistic(),
}
K, BATCH, DIM, LATENT = 4, 6, 12, 3


def fixed_inputs(name):
    rng = np.random.default_rng(2024)
    if name == "bernoulli":
        x = (rng.random((BATCH, DIM)) < 0.4).astype("float32")
    elif name == "gaussian":
        x = rng.normal(size=(BATCH, DIM)).astype("float32")
    else:
        x = rng.integers(0, 256, (BATCH, DIM)).astype("float32")
    noise = rng.normal(size=(K, BATCH, LATENT)).astype("float32")
    return x, noise


def fixed_model(cls, likelihood):
    encoder = networks.mlp_encoder((DIM,), LATENT, (8,))
    decoder = networks.mlp_decoder(LATENT, (DIM,), (8,), likelihood=likelihood)
    model = cls(encoder, decoder, likelihood=likelihood, num_samples=K, seed=0)
    model.build((None, DIM))
    rng = np.random.default_rng(7)
    for v in sorted(model.trainable_variables, key=lambda v: v.path):
        v.assign((0.5 * rng.normal(size=v.shape)).astype("float32"))
    return model


def numpy_params(model):
    def pair(layer):
        return [np.asarray(keras.ops.convert_to_numpy(w), np.float64) for w in layer.weights]

    enc, dec = model.encoder, model.decoder
    head = enc.get_layer("posterior")
    params_enc = {"hidden": [pair(enc.get_layer("dense_0"))],
                  "mean": pair(head.mean_projection), "log_var": pair(head.log_var_projection)}
    params_dec = {"hidden": [pair(dec.get_layer("dense_0"))], "loc": pair(dec.get_layer("loc"))}
    if len(dec.outputs) == 2:
        params_dec["raw_log_scale"] = pair(dec.get_layer("raw_log_scale"))
    return params_enc, params_dec


def current_values():
    values = {}
    for name, likelihood in CASES.items():
        x, noise = fixed_inputs(name)
        for cls in (VAE, IWAE):
            model = fixed_model(cls, likelihood)
            losses = model.compute_losses(x, noise=noise)
            values[f"{cls.__name__}/{name}"] = {
                k: float(keras.ops.convert_to_numpy(v)) for k, v in losses.items()}
            keras.backend.clear_session()
    return values


@pytest.fixture(scope="module")
def values():
    return current_values()


@pytest.mark.parametrize("name", list(CASES))
def test_losses_match_numpy_oracle(values, name):
    x, noise = fixed_inputs(name)
    model = fixed_model(IWAE, CASES[name])
    ref = oracles.log_weights(x.astype(np.float64), noise.astype(np.float64),
                              *numpy_params(model), likelihood=name)
    expected = {
        "VAE": {"elbo": ref["log_w"].mean(0).mean()},
        "IWAE": {"iwae_bound": (special.logsumexp(ref["log_w"], 0) - np.log(K)).mean()},
    }
    for cls_name, bounds in expected.items():
        got = values[f"{cls_name}/{name}"]
        for key, value in bounds.items():
            assert got[key] == pytest.approx(value, rel=1e-4, abs=1e-3)
        assert got["log_px_z"] == pytest.approx(ref["log_px_z"].mean(), rel=1e-4, abs=1e-3)
        assert got["kl"] == pytest.approx(ref["kl"].mean(), rel=1e-4, abs=1e-4)


def test_same_values_across_backends(values):
    directory = pathlib.Path(os.environ.get(
        "KERAS_VAE_CROSS_BACKEND_DIR", pathlib.Path(__file__).parents[1] / ".cross_backend"))
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{backend()}.json").write_text(json.dumps(values, indent=1, sort_keys=True))
    required = [b for b in os.environ.get("KERAS_VAE_REQUIRE_BACKENDS", "").split(",") if b]
    for other in required:
        assert (directory / f"{other}.json").exists(), f"no saved values from the {other} run"
    compared = 0
    for path in directory.glob("*.json"):
        if path.stem == backend():
            continue
        theirs = json.loads(path.read_text())
        for case, losses in values.items():
            for key, value in losses.items():
                assert theirs[case][key] == pytest.approx(value, rel=2e-5, abs=2e-4), (
                    f"{case} {key}: {backend()}={value} vs {path.stem}={theirs[case][key]}")
        compared += 1
    assert compared >= len([b for b in required if b != backend()])
