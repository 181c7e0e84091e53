"""Loaders on the shared data directory and on tiny files; never the network."""

import gzip
import hashlib
import os
import pathlib

import numpy as np
import pytest

from keras_vae import datasets

from svhn_files import write_svhn

SHARED = os.environ.get("KERAS_VAE_DATA_DIR")
needs_data = pytest.mark.skipif(
    not SHARED or not pathlib.Path(SHARED, "mnist").exists(),
    reason="KERAS_VAE_DATA_DIR with the MNIST files is not set",
)


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No data dir, an empty Keras cache, and a download that always fails."""
    import keras

    monkeypatch.delenv("KERAS_VAE_DATA_DIR", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))

    def refuse(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(keras.utils, "get_file", refuse)
    return tmp_path


def test_bundled_binarized_test_split_needs_no_data_dir(offline):
    x = datasets.load("binarized_mnist", "test")
    assert x.shape == (10000, 28, 28) and x.dtype == np.uint8
    assert set(np.unique(x)) == {0, 1}
    assert hashlib.sha256(x.reshape(10000, 784).tobytes()).hexdigest().startswith("ca0294c3")


def test_bundled_mnist_test_images_need_no_data_dir(offline):
    x = datasets.load("mnist", "test")
    assert x.shape == (10000, 28, 28) and x.mean() / 255 == pytest.approx(0.1325, abs=1e-4)


def test_bundled_fashion_mnist_test_images_need_no_data_dir(offline):
    x = datasets.load("fashion_mnist", "test")
    # Mean grey level of the Fashion-MNIST test images, from the shared data's own files.
    assert x.shape == (10000, 28, 28) and x.mean() / 255 == pytest.approx(0.2868, abs=1e-3)


def test_missing_dataset_says_which_file_and_where(offline):
    with pytest.raises(FileNotFoundError, match=r"mnist/train-images-idx3-ubyte.gz \(checksum 440fcabf"):
        datasets.load("mnist", "train")
    # The file the loader reads, not the .amat it could be built from.
    with pytest.raises(FileNotFoundError, match=r"binarized_mnist/binarized_mnist.npz \(the three"):
        datasets.load("binarized_mnist", "train")


def test_an_explicit_data_dir_is_used_or_fails(offline, monkeypatch):
    empty = offline / "empty"
    empty.mkdir()
    # The bundled test split, the cache and the variable are not fallbacks for an explicit path.
    monkeypatch.setenv("KERAS_VAE_DATA_DIR", SHARED or str(offline))
    with pytest.raises(FileNotFoundError, match=r"empty/mnist/t10k-images-idx3-ubyte.gz does not"):
        datasets.load("mnist", "test", data_dir=empty)
    with pytest.raises(FileNotFoundError, match=r"empty/binarized_mnist/binarized_mnist.npz"):
        datasets.load("binarized_mnist", "test", data_dir=empty)
    with pytest.raises(FileNotFoundError, match="`data_dir` .* is not a folder"):
        datasets.load("mnist", "test", data_dir=offline / "nowhere")


def test_a_data_dir_variable_that_is_not_a_folder_is_an_error(offline, monkeypatch):
    monkeypatch.setenv("KERAS_VAE_DATA_DIR", str(offline / "nowhere"))
    with pytest.raises(FileNotFoundError, match="KERAS_VAE_DATA_DIR=.*nowhere.* is not a folder"):
        datasets.load("mnist", "test")


def _write_idx(path, images):
    header = (2051).to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in images.shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as f:
        f.write(header + images.tobytes())


def test_corrupted_file_fails_its_checksum(offline):
    _write_idx(offline / "data" / "mnist" / "t10k-images-idx3-ubyte.gz",
               np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(ValueError, match="corrupted: its sha256"):
        datasets.load("mnist", "test", data_dir=offline / "data")


def test_bad_names():
    with pytest.raises(ValueError, match="Unknown dataset 'cifar'"):
        datasets.load("cifar")
    with pytest.raises(ValueError, match="split"):
        datasets.load("mnist", "valid")


@needs_data
@pytest.mark.parametrize("name,split,n", [("mnist", "test", 10000), ("fashion_mnist", "test", 10000),
                                          ("binarized_mnist", "valid", 10000)])
def test_shared_data(name, split, n):
    x = datasets.load(name, split)
    assert x.shape == (n, 28, 28) and x.dtype == np.uint8


@needs_data
def test_mnist_statistics_match_the_data_readme():
    x = datasets.load("mnist", "test")
    assert x.mean() / 255 == pytest.approx(0.1325, abs=1e-4)


def test_binarize_is_a_seeded_bernoulli_draw():
    p = np.linspace(0, 1, 50_000, dtype=np.float32).reshape(100, 500)
    a, b = datasets.binarize(p, 0, 1), datasets.binarize(p, 0, 1)
    np.testing.assert_array_equal(a, b)
    assert set(np.unique(a)) <= {0.0, 1.0}
    assert not np.array_equal(a, datasets.binarize(p, 0, 2))  # a fresh draw each epoch
    # Mean of the draw against the intensities: 50k Bernoulli draws, SE ~0.002.
    assert abs(a.mean() - p.mean()) < 0.01
    with pytest.raises(ValueError, match=r"`intensities` in \[0, 1\]"):
        datasets.binarize(np.array([2.0]), 0)


def test_to_unit_interval_takes_the_scale_explicitly():
    assert datasets.to_unit_interval(np.array([0, 255], np.uint8), 255).tolist() == [0.0, 1.0]
    assert datasets.to_unit_interval(np.array([0, 1], np.uint8), 1).tolist() == [0.0, 1.0]
    # Dark 8-bit pixels are not taken for binary ones.
    np.testing.assert_allclose(datasets.to_unit_interval(np.array([0, 1], np.uint8), 255), [0, 1 / 255])
    with pytest.raises(ValueError, match=r"`images` in \[0, 1\]"):
        datasets.to_unit_interval(np.array([0, 255], np.uint8), 1)
    with pytest.raises(ValueError, match="max_value"):
        datasets.to_unit_interval(np.array([0, 1], np.uint8), 0)
    assert [datasets.max_value(n) for n in ("mnist", "binarized_mnist")] == [255, 1]


def test_svhn_reader_on_a_tiny_official_format_file(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    write_svhn(tmp_path / "svhn" / "test_32x32.mat", images)
    np.testing.assert_array_equal(datasets.read_svhn_mat(tmp_path / "svhn" / "test_32x32.mat"), images)


def test_svhn_file_that_is_not_the_official_one_fails_its_md5(offline):
    write_svhn(offline / "d" / "svhn" / "train_32x32.mat", np.zeros((2, 32, 32, 3), np.uint8))
    with pytest.raises(ValueError, match="corrupted: its md5"):
        datasets.load("svhn", "train", data_dir=offline / "d")


def test_missing_svhn_names_the_official_file(offline):
    with pytest.raises(FileNotFoundError, match=r"svhn/test_32x32.mat \(checksum eb5a983b"):
        datasets.load("svhn", "test")


def test_bundled_test_images_are_the_original_files(offline):
    """The packaged xz holds the original IDX bytes: equal to the shared data's .gz."""
    for name in ("mnist", "fashion_mnist"):
        original = pathlib.Path(SHARED or "", name, "t10k-images-idx3-ubyte.gz")
        if not SHARED or not original.exists():
            pytest.skip("KERAS_VAE_DATA_DIR with the original test files is not set")
        np.testing.assert_array_equal(datasets.load(name, "test"),
                                      datasets._read_idx_images(original))


def test_a_damaged_bundled_split_is_an_error_not_a_download(offline, monkeypatch):
    import lzma

    path = offline / "damaged.xz"
    path.write_bytes(lzma.compress(b"\\x00\\x00\\x08\\x03 not the images"))
    monkeypatch.setitem(datasets._BUNDLED_IDX, ("mnist", "test"),
                        (path, datasets._BUNDLED_IDX["mnist", "test"][1]))
    with pytest.raises(ValueError, match="packaged test split.*is corrupted"):
        datasets.load("mnist", "test")
