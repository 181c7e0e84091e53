"""Pretrained entries: `available()`, `load(name_or_dir)`, `save(model, dir, **metadata)`.

An entry is a folder: `config.json` (the serialized model and its input
shape), `model.weights.h5` (backend-neutral weights), `metadata.json`
(versions, recipe, results, weights sha256) and `README.md` (model card).
Entries are searched in `$KERAS_VAE_ZOO_DIR` (default `~/.keras/keras_vae/zoo`)
first, then among the entries shipped with the package. `load` checks the
weights' sha256 and deserializes in Keras's safe mode (no lambdas, nothing
unpickled); it returns a built, uncompiled model.
"""

import datetime
import hashlib
import json
import os
import pathlib
import platform

CONFIG, WEIGHTS, METADATA, CARD = "config.json", "model.weights.h5", "metadata.json", "README.md"


def user_dir():
    default = pathlib.Path(os.environ.get("KERAS_HOME", pathlib.Path.home() / ".keras")) / "keras_vae" / "zoo"
    return pathlib.Path(os.environ.get("KERAS_VAE_ZOO_DIR", default))


def shipped_dirs():
    here = pathlib.Path(__file__).parent
    # In a wheel the top-level zoo/ is installed as keras_vae/zoo_entries;
    # in a source checkout it sits beside the package.
    return [d for d in (here / "zoo_entries", here.parent / "zoo") if d.is_dir()]


def _entry_dirs():
    found = {}
    for root in [user_dir(), *shipped_dirs()]:
        if root.is_dir():
            for d in sorted(root.iterdir()):
                if (d / CONFIG).exists() and d.name not in found:
                    found[d.name] = d
    return found


def available():
    """Names of the entries with weights, user entries first."""
    return sorted(_entry_dirs())


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _resolve(name_or_dir):
    path = pathlib.Path(name_or_dir)
    if path.is_dir():
        return path
    entries = _entry_dirs()
    if name_or_dir in entries:
        return entries[name_or_dir]
    from keras_vae import recipes

    if name_or_dir in recipes.RECIPES:
        raise FileNotFoundError(
            f"Zoo entry {name_or_dir!r} has a recipe but no trained weights here. Train it with "
            f"`keras-vae train {name_or_dir}` (it needs the {recipes.RECIPES[name_or_dir].dataset!r} "
            f"data), or put an entry trained elsewhere in {user_dir() / name_or_dir}."
        )
    raise ValueError(
        f"Unknown zoo entry {name_or_dir!r}. Available entries: {available() or 'none'}; "
        f"recipes: {sorted(recipes.RECIPES)}."
    )


def read_metadata(name_or_dir):
    return json.loads((_resolve(name_or_dir) / METADATA).read_text())


def load(name_or_dir):
    """Loads a zoo entry by name (or from a folder) as a built, uncompiled model."""
    import keras

    entry = _resolve(name_or_dir)
    for filename in (CONFIG, WEIGHTS, METADATA):
        if not (entry / filename).exists():
            raise FileNotFoundError(f"Zoo entry {entry} is incomplete: {filename} is missing.")
    metadata = json.loads((entry / METADATA).read_text())
    actual = sha256(entry / WEIGHTS)
    if actual != metadata.get("weights_sha256"):
        raise ValueError(
            f"{entry / WEIGHTS} is corrupted or truncated: its sha256 is {actual}, the entry's "
            f"metadata says {metadata.get('weights_sha256')}. Download or train it again."
        )
    config = json.loads((entry / CONFIG).read_text())
    config["model"].pop("compile_config", None)
    import keras_vae.models  # noqa: F401  (registers the classes)

    try:
        model = keras.saving.deserialize_keras_object(config["model"], safe_mode=True)
    except Exception as error:
        raise ValueError(f"{entry / CONFIG} could not be deserialized safely: {error}") from error
    model.build(tuple(config["input_shape"]))
    model.load_weights(entry / WEIGHTS)
    recipe = metadata.get("recipe", {})
    # Fine-tuning on grey levels a model trained on binary pixels gets a warning in `fit`.
    model.trained_on_binary_pixels = bool(recipe.get("dynamic_binarization")) or \
        recipe.get("dataset") == "binarized_mnist"
    return model


GOLDEN = "golden.json"


def golden_noise(model, nll_points, num_samples, seed=0):
    """The fixed standard-normal noise of an entry's golden NLL (common random numbers)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    return rng.standard_normal((num_samples, nll_points) + tuple(model.latent_shape), np.float32)


def record_golden(name_or_dir, x, nll_points=100, num_samples=5000):
    """Stores reference outputs of an entry on fixed inputs, for regression tests.

    Deterministic outputs (posterior mean and log-variance, reconstruction)
    on the first 4 rows of `x`, and the K-sample NLL on the first
    `nll_points` rows with the fixed noise of `golden_noise`, so every
    backend can reproduce it up to float error.
    """
    import keras
    import numpy as np

    entry = _resolve(name_or_dir)
    model = load(entry)
    nll_points = min(nll_points, len(x))
    few = np.asarray(x[:4], np.float32)
    mean, log_var = model.encode(few)
    ll = model.log_likelihood(np.asarray(x[:nll_points], np.float32), num_samples=num_samples,
                              noise=golden_noise(model, nll_points, num_samples), verbose=0)

    def listed(t):
        return np.round(keras.ops.convert_to_numpy(t).astype(np.float64), 7).tolist()

    golden = {"rows": 4, "encoder_mean": listed(mean), "encoder_log_var": listed(log_var),
              "reconstruction": listed(model.reconstruct(few)), "nll_points": int(len(ll)),
              "num_samples": num_samples, "noise_seed": 0, "nll": float(-ll.mean()),
              "backend": keras.backend.backend()}
    (entry / GOLDEN).write_text(json.dumps(golden))
    return golden


def write_card(directory):
    """(Re)writes an entry's model card from its metadata.json, the card's only source."""
    from keras_vae import recipes

    directory = pathlib.Path(directory)
    metadata = json.loads((directory / METADATA).read_text())
    (directory / CARD).write_text(recipes.model_card(directory.name, metadata))


def update_metadata(name_or_dir, **fields):
    """Sets `fields` in an entry's metadata.json (the weights untouched) and rewrites its card."""
    directory = _resolve(name_or_dir)
    metadata = {**json.loads((directory / METADATA).read_text()), **fields}
    (directory / METADATA).write_text(json.dumps(metadata, indent=1, sort_keys=True))
    write_card(directory)
    return directory


def save(model, directory, **metadata):
    """Writes `model` as a zoo entry in `directory` (the only writer of entries).

    `metadata` is stored as given (recipe, dataset, results, training
    command...) next to what is measured here: versions, backend, device,
    parameter count, weights sha256 and date.
    """
    import keras

    from keras_vae._device import device_name

    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if not model.built or model.input_event_shape is None:
        raise ValueError("Build the model (fit it or call `model.build(input_shape)`) before saving.")
    serialized = keras.saving.serialize_keras_object(model)
    serialized.pop("compile_config", None)  # entries load uncompiled
    config = {"model": serialized, "input_shape": [None, *model.input_event_shape]}
    # Unindented: Keras reads it, and indenting it makes it 70% larger in every clone and wheel.
    (directory / CONFIG).write_text(json.dumps(config) + "\n")
    # Weights from an uncompiled copy: an entry holds the model, not the
    # optimizer state of the run that trained it.
    bare = keras.saving.deserialize_keras_object(serialized, safe_mode=True)
    bare.build((None, *model.input_event_shape))
    bare.set_weights(model.get_weights())
    tmp = directory / ("tmp." + WEIGHTS)
    bare.save_weights(tmp)
    os.replace(tmp, directory / WEIGHTS)
    recorded = {
        "name": directory.name,
        "keras_version": keras.__version__,
        "backend": metadata.pop("backend", None) or keras.backend.backend(),
        "saved_with_backend": keras.backend.backend(),
        "device": metadata.pop("device", None) or device_name(),
        "python": platform.python_version(),
        "parameters": int(sum(int(keras.ops.size(v)) for v in model.trainable_variables)),
        "date": datetime.date.today().isoformat(),
        **metadata,
        "weights_sha256": sha256(directory / WEIGHTS),
    }
    (directory / METADATA).write_text(json.dumps(recorded, indent=1, sort_keys=True))
    write_card(directory)
    return directory
