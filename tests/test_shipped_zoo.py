"""Every shipped zoo entry loads on this backend and reproduces its stored outputs."""

import json

import keras
import numpy as np
import pytest

from keras_vae import recipes, training, zoo

SHIPPED = sorted(d for root in zoo.shipped_dirs() for d in root.iterdir()
                 if (d / zoo.CONFIG).exists())


def test_shipped_entries_are_listed():
    # The README's main job evaluates mnist_iwae: it must be among the shipped entries.
    assert "mnist_iwae" in [d.name for d in SHIPPED]
    for entry in SHIPPED:
        assert entry.name in zoo.available()


@pytest.mark.parametrize("entry", SHIPPED, ids=[d.name for d in SHIPPED])
def test_model_card_is_the_card_of_its_metadata(entry):
    # a card edited by hand, or written by an older renderer, would say what metadata.json does not
    card = recipes.model_card(entry.name, json.loads((entry / zoo.METADATA).read_text()))
    assert (entry / zoo.CARD).read_text() == card


@pytest.mark.parametrize("entry", SHIPPED, ids=[d.name for d in SHIPPED])
def test_entry_matches_its_golden_outputs(entry):
    golden_path = entry / zoo.GOLDEN
    assert golden_path.exists(), f"{entry.name} has no {zoo.GOLDEN}: run zoo.record_golden"
    golden = json.loads(golden_path.read_text())
    model = zoo.load(entry.name)  # checks the sha256
    meta = zoo.read_metadata(entry.name)
    recipe = recipes.Recipe.from_metadata(meta["recipe"])
    x = training.load_test(recipe)  # the bundled test split: no data directory needed
    few = x[: golden["rows"]]
    mean, log_var = model.encode(few)
    for got, key in ((mean, "encoder_mean"), (log_var, "encoder_log_var"),
                     (model.reconstruct(few), "reconstruction")):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(got), np.array(golden[key]),
                                   rtol=1e-4, atol=1e-4)
    n, k = golden["nll_points"], golden["num_samples"]
    ll = model.log_likelihood(x[:n], num_samples=k, noise=zoo.golden_noise(model, n, k), verbose=0)
    assert -ll.mean() == pytest.approx(golden["nll"], abs=0.05)
