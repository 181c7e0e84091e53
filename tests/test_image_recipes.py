"""The convolutional networks and the 8-bit recipes (Fashion-MNIST, SVHN), end to end."""

import dataclasses
import json

import keras
import numpy as np
import pytest

from keras_vae import cli, datasets, networks, recipes, training, zoo

from svhn_files import write_svhn


@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3)])
@pytest.mark.parametrize("likelihood", ["bernoulli", "discretized_logistic"])
def test_conv_pair_shapes(shape, likelihood):
    encoder = networks.conv_encoder(shape, 7, input_scale=(1 / 127.5, -1.0))
    decoder = networks.conv_decoder(7, shape, likelihood=likelihood)
    mean, log_var = encoder(np.zeros((3,) + shape, "float32"))
    assert tuple(mean.shape) == (3, 7) and tuple(log_var.shape) == (3, 7)
    params = decoder(np.zeros((3, 7), "float32"))
    params = params if isinstance(params, (list, tuple)) else [params]
    assert len(params) == (2 if likelihood == "discretized_logistic" else 1)
    assert all(tuple(p.shape) == (3,) + shape for p in params)


def test_conv_shapes_are_checked():
    with pytest.raises(ValueError, match=r"`input_shape` height and width divisible by 4"):
        networks.conv_encoder((30, 30, 1), 5)
    with pytest.raises(ValueError, match=r"Expected `output_shape` to be \(height, width, channels\)"):
        networks.conv_decoder(5, (784,))


def test_input_scale_maps_pixels_to_the_unit_ball():
    encoder = networks.conv_encoder((28, 28, 1), 3, input_scale=(1 / 127.5, -1.0))
    rescale = encoder.get_layer("rescale")
    out = keras.ops.convert_to_numpy(rescale(np.array([[0.0, 127.5, 255.0]], "float32")))
    np.testing.assert_allclose(out, [[-1.0, 0.0, 1.0]], atol=1e-6)


@pytest.mark.parametrize("name", sorted(recipes.RECIPES))
def test_every_recipe_builds_and_gives_a_finite_bound(name):
    recipe = dataclasses.replace(recipes.RECIPES[name], num_samples=2)
    rng = np.random.default_rng(0)
    if recipe.likelihood == "bernoulli":
        x = (rng.random((4,) + recipe.input_shape) < 0.3).astype("float32")
    else:
        x = rng.integers(0, 256, (4,) + recipe.input_shape).astype("float32")
    model = recipe.build(x, seed=0)
    model.build((None,) + recipe.input_shape)
    losses = model.compute_losses(keras.ops.convert_to_tensor(x))
    bound = float(keras.ops.convert_to_numpy(losses[model.bound_name]))
    # A bound is a log-probability of discrete data: finite and below zero.
    assert np.isfinite(bound) and bound < 0


def test_recipe_metadata_roundtrip():
    for recipe in recipes.RECIPES.values():
        assert recipes.Recipe.from_metadata(json.loads(json.dumps(recipe.describe()))) == recipe
    assert recipes.RECIPES["svhn_iwae"].input_shape == (32, 32, 3)
    assert recipes.RECIPES["fashion_mnist_vae"].input_shape == (28, 28, 1)
    assert recipes.RECIPES["mnist_iwae"].input_shape == (784,)


def test_fashion_test_split_keeps_raw_pixels():
    x = training.load_test(recipes.RECIPES["fashion_mnist_iwae"])
    assert x.shape == (10000, 28, 28, 1) and x.dtype == np.float32
    np.testing.assert_array_equal(x[..., 0], datasets.load("fashion_mnist", "test"))


@pytest.fixture
def tiny_svhn(tmp_path, monkeypatch):
    """Official-layout SVHN files with a few images; the md5 table points at them."""
    rng = np.random.default_rng(0)
    files = {}
    for split, n in (("train", 12), ("test", 6)):
        filename = datasets._SVHN["files"][split][0]
        images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
        files[split] = (filename, write_svhn(tmp_path / "data" / "svhn" / filename, images))
    monkeypatch.setitem(datasets._SVHN, "files", files)
    monkeypatch.setenv("KERAS_VAE_ZOO_DIR", str(tmp_path / "zoo"))
    return tmp_path


def test_cli_trains_svhn_iwae_on_a_tiny_official_file(tiny_svhn, capsys):
    """The svhn_iwae recipe runs end to end where the data exists, and `load` finds the result."""
    with pytest.raises(FileNotFoundError, match="keras-vae train svhn_iwae"):
        zoo.load("svhn_iwae")
    cli.main(["train", "svhn_iwae", "--epochs", "1", "--data-dir", str(tiny_svhn / "data"),
              "--run-dir", str(tiny_svhn / "run"), "--nll-points", "0", "--verbose", "0"])
    assert "wrote zoo entry" in capsys.readouterr().out
    meta = zoo.read_metadata("svhn_iwae")
    assert meta["epochs"] == 1 and meta["results_raw"]["points"] == 6
    # 32x32x3 pixels: bits/dim uses D = 3072.
    assert meta["results_raw"]["bits_per_dim"] == pytest.approx(
        meta["results_raw"]["nll"] / (3072 * np.log(2)), rel=1e-6)
    model = zoo.load("svhn_iwae")
    assert model.input_event_shape == (32, 32, 3)
    cli.main(["samples", "svhn_iwae", "--num", "2", "--data-dir", str(tiny_svhn / "data"),
              "--out", str(tiny_svhn / "s.png")])
    assert (tiny_svhn / "s.png").stat().st_size > 1000


def test_table1_has_one_recipe_per_cell_with_the_papers_anchor():
    from benchmarks.loglik import PAPER_TABLE1

    mnist = [r for r in recipes.RECIPES.values() if r.dataset == "mnist"]
    for (layers, model, k), paper in PAPER_TABLE1.items():
        # k=1 IWAE is the k=1 VAE: the table shows that model in both columns.
        cell_model = "VAE" if k == 1 else model
        found = [r for r in mnist if (r.stochastic_layers, r.model, r.num_samples)
                 == (layers, cell_model, k)]
        assert len(found) == 1, (layers, model, k, [r.name for r in found])
        assert found[0].anchor_nll == paper and found[0].dynamic_binarization
        assert found[0].latent_dim == ((100, 50) if layers == 2 else 50)
