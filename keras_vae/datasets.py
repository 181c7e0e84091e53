"""Datasets in their original formats, found locally or downloaded once.

Resolution order for every file: an explicit `data_dir` alone (the file is
used from there or the call fails), else `$KERAS_VAE_DATA_DIR` (which must
be a folder), the packaged test split, the Keras cache (`~/.keras/datasets`),
and only then a download from the official source, verified by its published
checksum. Offline, a missing file raises `FileNotFoundError` naming the file,
its checksum and where to put it. Nothing here unpickles.

Images come back as `uint8` arrays `(n, 28, 28)`; binarized MNIST holds
{0, 1}. Scale with `to_unit_interval(x, max_value(name))` for Bernoulli models.
"""

import gzip
import hashlib
import lzma
import os
import pathlib

import numpy as np

_IDX = {
    "mnist": {
        "origin": "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "files": {
            "train": ("train-images-idx3-ubyte.gz",
                      "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
            "test": ("t10k-images-idx3-ubyte.gz",
                     "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
        },
    },
    "fashion_mnist": {
        "origin": "https://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "files": {
            "train": ("train-images-idx3-ubyte.gz",
                      "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
            "test": ("t10k-images-idx3-ubyte.gz",
                     "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
        },
    },
}

# SVHN publishes MD5s only; `keras.utils.get_file` and `_digest` accept either.
_SVHN = {
    "origin": "http://ufldl.stanford.edu/housenumbers/",
    "files": {"train": ("train_32x32.mat", "e26dedcc434d2e4c54c9b2d4a06d8373"),
              "test": ("test_32x32.mat", "eb5a983be6a315427106f1b164d9cef3")},
}

# Larochelle & Murray's static binarization: sha256 of each split's
# C-ordered uint8 array (the .amat text files have no published hash).
_BINARIZED = {
    "file": "binarized_mnist.npz",
    "origin": "http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/",
    "arrays": {
        "train": "43490d4d6ac9002727af4426d8748609fdb7e4094fa65ad8d681ea60082a7a5a",
        "valid": "069b4f0beb389b776478c3e872b4df71c95ac4be64d7cbe6d32e24ebac8e6d5e",
        "test": "ca0294c3b8d984c7a1dc891015a8eea6f37bae59a34e35ea0fc8c47110a8dd86",
    },
}
_BUNDLED_TEST = pathlib.Path(__file__).parent / "data" / "binarized_mnist_test.npz"
# The original MNIST and Fashion-MNIST test images, so that zoo entries can be
# evaluated on a machine without a data directory: the IDX file of the
# original .gz, byte for byte, compressed with xz (a fifth smaller than gzip,
# which counts in a wheel that also carries the zoo); sha256 of the IDX bytes.
_BUNDLED_IDX = {
    (name, "test"): (pathlib.Path(__file__).parent / "data" / f"{name}-t10k-images-idx3-ubyte.xz",
                     digest)
    for name, digest in (
        ("mnist", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
        ("fashion_mnist", "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"))}

NAMES = ("mnist", "binarized_mnist", "fashion_mnist", "svhn")


def _digest(path, algorithm):
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _cache_dir():
    return pathlib.Path(os.environ.get("KERAS_HOME", pathlib.Path.home() / ".keras")) / "datasets"


def _search_dirs(data_dir):
    """Where files are looked for: an explicit `data_dir` alone, else the variable, then the cache."""
    if data_dir is not None:
        if not pathlib.Path(data_dir).is_dir():
            raise FileNotFoundError(f"`data_dir` {str(data_dir)!r} is not a folder. Expected a "
                                    "folder holding <dataset>/<original file>.")
        return [pathlib.Path(data_dir)]
    dirs = []
    if os.environ.get("KERAS_VAE_DATA_DIR"):
        env = pathlib.Path(os.environ["KERAS_VAE_DATA_DIR"])
        if not env.is_dir():
            raise FileNotFoundError(f"KERAS_VAE_DATA_DIR={str(env)!r} is not a folder. Point it at "
                                    "a folder holding <dataset>/<original file>, or unset it.")
        dirs.append(env)
    return dirs + [_cache_dir()]


def _explicit_missing(name, filename, data_dir):
    return FileNotFoundError(
        f"Dataset file {pathlib.Path(data_dir) / name / filename} does not exist. `data_dir` was "
        "given, so nothing else is searched or downloaded; put the file there or leave "
        "`data_dir` unset.")


def _missing(name, filename, checksum, dirs, origin, error):
    places = "\n".join(f"  {d / name / filename}" for d in dirs)
    return FileNotFoundError(
        f"Dataset file {name}/{filename} (checksum {checksum}) was not found in:\n{places}\n"
        f"and downloading it from {origin} failed ({error}). Put the file in "
        f"<dir>/{name}/ and set KERAS_VAE_DATA_DIR=<dir> or pass data_dir=<dir>."
    )


def _find_or_download(name, filename, checksum, origin, data_dir, bundled=None):
    """The path of a checked file; with `bundled=(path, digest)`, the packaged IDX bytes
    when no data folder holds the file (they come before the Keras cache and the network)."""
    dirs = _search_dirs(data_dir)
    if bundled is not None and data_dir is None:
        dirs = dirs[:-1]  # prefer the packaged copy to the Keras cache and the network
    for directory in dirs:
        path = directory / name / filename
        if path.exists():
            algorithm = "md5" if checksum is not None and len(checksum) == 32 else "sha256"
            if checksum is not None and _digest(path, algorithm) != checksum:
                raise ValueError(
                    f"{path} is corrupted: its {algorithm} is {_digest(path, algorithm)}, "
                    f"expected {checksum}. Delete it and download it again."
                )
            return path
    if data_dir is not None:
        raise _explicit_missing(name, filename, data_dir)
    if bundled is not None:
        return _bundled_idx(*bundled)
    import keras

    try:
        return pathlib.Path(keras.utils.get_file(
            filename, origin + filename, file_hash=checksum, cache_subdir=f"datasets/{name}"))
    except Exception as error:  # offline, refused, or a bad checksum
        raise _missing(name, filename, checksum, dirs, origin, error) from error


def _bundled_idx(path, digest):
    """The packaged IDX bytes, checked: a damaged install says so instead of downloading."""
    raw = lzma.decompress(path.read_bytes())
    if hashlib.sha256(raw).hexdigest() != digest:
        raise ValueError(f"{path} (the packaged test split) is corrupted: its IDX bytes do not "
                         f"have sha256 {digest}. Reinstall keras-vae.")
    return raw


def _read_idx_images(source):
    """Images of an IDX file: a path to the original .gz, or its bytes."""
    if isinstance(source, bytes):
        raw, path = source, "the packaged test split"
    else:
        with gzip.open(source, "rb") as f:
            raw, path = f.read(), source
    if int.from_bytes(raw[:4], "big") != 2051:
        raise ValueError(f"{path} is not an IDX image file (bad magic number).")
    n, rows, cols = (int.from_bytes(raw[i:i + 4], "big") for i in (4, 8, 12))
    return np.frombuffer(raw, np.uint8, offset=16).reshape(n, rows, cols)


def read_svhn_mat(path):
    """Images of an official SVHN `.mat` file as uint8 `(n, 32, 32, 3)`.

    The file stores `X` as (32, 32, 3, n) in MATLAB v5 format.
    """
    from scipy import io

    x = io.loadmat(path, variable_names=["X"])["X"]
    if x.ndim != 4 or x.shape[:3] != (32, 32, 3):
        raise ValueError(f"{path} is not an SVHN 32x32 file: X has shape {x.shape}.")
    return np.ascontiguousarray(np.transpose(x, (3, 0, 1, 2))).astype(np.uint8)


def _check_array(array, split):
    expected = _BINARIZED["arrays"][split]
    actual = hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()
    if actual != expected:
        raise ValueError(
            f"binarized_mnist split {split!r} fails its checksum (sha256 {actual}, "
            f"expected {expected}); the file is corrupted or not Larochelle's split."
        )
    return array


def _load_binarized(split, data_dir):
    for directory in _search_dirs(data_dir):
        path = directory / "binarized_mnist" / _BINARIZED["file"]
        if path.exists():
            with np.load(path, allow_pickle=False) as z:
                return _check_array(z[split], split)
    if data_dir is not None:
        raise _explicit_missing("binarized_mnist", _BINARIZED["file"], data_dir)
    if split == "test":
        with np.load(_BUNDLED_TEST, allow_pickle=False) as z:
            return _check_array(np.unpackbits(z["packed"], axis=1)[:, :784], split)
    arrays = {}
    for part in ("train", "valid", "test"):
        try:
            amat = _find_or_download("binarized_mnist", f"binarized_mnist_{part}.amat", None,
                                     _BINARIZED["origin"], data_dir)
        except FileNotFoundError as error:
            places = "\n".join(f"  {d / 'binarized_mnist' / _BINARIZED['file']}"
                                for d in _search_dirs(data_dir))
            raise FileNotFoundError(
                f"Dataset file binarized_mnist/{_BINARIZED['file']} (the three splits as uint8 "
                f"arrays; each split's sha256 is checked) was not found in:\n{places}\nand "
                f"building it from Larochelle's binarized_mnist_{{train,valid,test}}.amat at "
                f"{_BINARIZED['origin']} failed. Put the file in <dir>/binarized_mnist/ and set "
                "KERAS_VAE_DATA_DIR=<dir> or pass data_dir=<dir>.") from error
        arrays[part] = _check_array(np.loadtxt(amat, dtype=np.uint8), part)
    cache = _cache_dir() / "binarized_mnist"
    cache.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(cache / _BINARIZED["file"], **arrays)
    return arrays[split]


def load(name, split="train", data_dir=None):
    """Loads a split as a `uint8` array of shape `(n, 28, 28)` (SVHN: `(n, 32, 32, 3)`).

    Args:
        name: `"mnist"`, `"binarized_mnist"`, `"fashion_mnist"` or `"svhn"`.
        split: `"train"` or `"test"` (binarized MNIST also has `"valid"`).
        data_dir: Optional folder holding `<name>/<original file>`.

    The MNIST, binarized MNIST and Fashion-MNIST test splits ship inside the
    package, so evaluation on them needs no data directory.
    """
    if name not in NAMES:
        raise ValueError(f"Unknown dataset {name!r}. Expected one of {list(NAMES)}.")
    if name == "svhn":
        if split not in _SVHN["files"]:
            raise ValueError(f"Expected `split` in {list(_SVHN['files'])}. Received: split={split!r}")
        filename, checksum = _SVHN["files"][split]
        return read_svhn_mat(_find_or_download(name, filename, checksum, _SVHN["origin"], data_dir))
    if name == "binarized_mnist":
        if split not in _BINARIZED["arrays"]:
            raise ValueError(f"Expected `split` in {list(_BINARIZED['arrays'])}. Received: split={split!r}")
        return _load_binarized(split, data_dir).reshape(-1, 28, 28)
    files = _IDX[name]["files"]
    if split not in files:
        raise ValueError(f"Expected `split` in {list(files)}. Received: split={split!r}")
    filename, checksum = files[split]
    return _read_idx_images(_find_or_download(name, filename, checksum, _IDX[name]["origin"],
                                              data_dir, _BUNDLED_IDX.get((name, split))))


def binarize(intensities, seed, epoch=0):
    """A Bernoulli draw of each pixel from intensities in [0, 1] (dynamic binarization).

    The IWAE paper draws a fresh binarization of MNIST every epoch; seeding
    the draw by `(seed, epoch)` makes each epoch's data reproducible, so a
    resumed run sees exactly the data an uninterrupted one would. Evaluation
    uses one fixed draw.
    """
    intensities = np.asarray(intensities, np.float32)
    if intensities.size and (intensities.min() < 0 or intensities.max() > 1):
        raise ValueError("Expected `intensities` in [0, 1]; scale 8-bit images by 1/255 first.")
    rng = np.random.default_rng([seed, epoch])
    return (rng.random(intensities.shape, dtype=np.float32) < intensities).astype(np.float32)


def to_unit_interval(images, max_value):
    """Images to float32 in [0, 1], divided by `max_value` (255 for 8-bit, 1 for binary).

    The scale is the caller's to say: binarized MNIST and MNIST are both uint8,
    and a batch of dark 8-bit images can hold no value above 1.
    """
    import numbers

    if isinstance(max_value, bool) or not isinstance(max_value, numbers.Real) or max_value <= 0:
        raise ValueError(f"Expected `max_value` > 0 (255 for 8-bit pixels, 1 for binary ones). "
                         f"Received: max_value={max_value!r}")
    images = np.asarray(images)
    top = images.max(initial=0)
    if top > max_value or images.min(initial=0) < 0:
        raise ValueError(f"Expected `images` in [0, {max_value}]. Received values in "
                         f"[{images.min()}, {top}]; pass the right `max_value`.")
    return images.astype(np.float32) / np.float32(max_value)


def max_value(name):
    """The largest pixel value of a dataset as `load` returns it (1 for binarized MNIST)."""
    if name not in NAMES:
        raise ValueError(f"Unknown dataset {name!r}. Expected one of {list(NAMES)}.")
    return 1 if name == "binarized_mnist" else 255
