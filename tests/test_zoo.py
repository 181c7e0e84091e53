"""Zoo entries: save/load round trip on every backend, and every way loading must fail."""

import json

import keras
import numpy as np
import pytest

from conftest import tiny_networks
from keras_vae import IWAE, zoo


@pytest.fixture
def user_zoo(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_VAE_ZOO_DIR", str(tmp_path / "zoo"))
    return tmp_path / "zoo"


@pytest.fixture
def entry(user_zoo, binary_data):
    model = IWAE(*tiny_networks(), num_samples=3, seed=0)
    model.compile(optimizer="adam")
    model.fit(binary_data, epochs=1, batch_size=16, verbose=0)
    zoo.save(model, user_zoo / "tiny_iwae", recipe={"dataset": "toy", "model": "IWAE", "num_samples": 3},
             results={"test NLL, K=5000 (nats)": "1.00 ± 0.10"})
    return model, user_zoo / "tiny_iwae"


def test_roundtrip_by_name_and_by_folder(entry, binary_data):
    model, folder = entry
    assert "tiny_iwae" in zoo.available()
    for ref in ("tiny_iwae", folder):
        loaded = zoo.load(ref)
        assert isinstance(loaded, IWAE) and not loaded.compiled
        np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded.reconstruct(binary_data)),
                                   keras.ops.convert_to_numpy(model.reconstruct(binary_data)),
                                   rtol=1e-6)
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["weights_sha256"] == zoo.sha256(folder / "model.weights.h5")
    assert meta["parameters"] == sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert "1.00 ± 0.10" in (folder / "README.md").read_text()
    import h5py

    with h5py.File(folder / "model.weights.h5") as f:
        assert "optimizer" not in f  # an entry stores the model, not the training state
    # A loaded entry can be compiled and fine-tuned.
    loaded = zoo.load("tiny_iwae")
    loaded.compile(optimizer="adam")
    loaded.fit(binary_data, epochs=1, batch_size=16, verbose=0)


def test_flipped_byte_is_detected(entry):
    _, folder = entry
    data = bytearray((folder / "model.weights.h5").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / "model.weights.h5").write_bytes(bytes(data))
    with pytest.raises(ValueError, match="corrupted or truncated"):
        zoo.load("tiny_iwae")


def test_missing_file(entry):
    _, folder = entry
    (folder / "metadata.json").unlink()
    with pytest.raises(FileNotFoundError, match="metadata.json is missing"):
        zoo.load(folder)


def test_unsafe_config_is_rejected(entry):
    _, folder = entry
    config = json.loads((folder / "config.json").read_text())
    config["model"]["config"]["encoder"] = {
        "module": "keras.layers", "class_name": "Lambda",
        "config": {"function": {"class_name": "__lambda__", "config": {"code": "x"}}}}
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="could not be deserialized safely"):
        zoo.load(folder)
    config["model"]["class_name"] = "NotRegistered"
    config["model"]["registered_name"] = "nowhere>NotRegistered"
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="could not be deserialized safely"):
        zoo.load(folder)


def test_unknown_name_lists_entries(entry):
    with pytest.raises(ValueError, match=r"Unknown zoo entry 'nope'.*tiny_iwae.*mnist_iwae"):
        zoo.load("nope")


def test_recipe_without_weights_explains_how_to_train(user_zoo, monkeypatch):
    monkeypatch.setattr(zoo, "shipped_dirs", lambda: [])
    with pytest.raises(FileNotFoundError, match="keras-vae train binarized_mnist_iwae"):
        zoo.load("binarized_mnist_iwae")


@pytest.mark.parametrize("ess, warned", [(2.2, True), (36.3, False)])
def test_card_warns_when_few_importance_weights_carry_the_estimate(ess, warned):
    from keras_vae import recipes

    # as metadata.json holds them: keys sorted, so the card must restore its own order
    results = {"mean ESS (K=5000)": f"{ess:.1f}", "test -L_1 (training bound)": "91.57",
               "test NLL, K=5000 (nats)": "87.00 ± 0.23", "test bits/dim": "0.1601",
               "test points": 10000}
    card = recipes.model_card("entry", {"results": results, "results_raw": {
        "ess": ess, "num_samples": 5000}, "recipe": {"model": "VAE", "num_samples": 1}})
    rows = [line.split(" | ")[0][2:] for line in card.splitlines() if line.startswith("| ")]
    assert rows[1:] == ["test NLL, K=5000 (nats)", "test bits/dim", "test -L_1 (training bound)",
                        "test points", "mean ESS (K=5000)"]
    assert (f"effective sample size of the K=5000 importance weights is {ess:.1f}" in card) is warned
