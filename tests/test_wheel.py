"""The built wheel carries the zoo entries and bundled test splits, and loads an entry."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir",
                    str(tmp / "dist"), str(ROOT)], check=True, capture_output=True)
    wheel = next((tmp / "dist").glob("keras_vae-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                    str(tmp / "site"), str(wheel)], check=True, capture_output=True)
    return tmp


@pytest.mark.timeout(600)
def test_installed_wheel_loads_a_shipped_entry(installed):
    script = """
import json, pathlib, keras_vae
from keras_vae import datasets, zoo
print(json.dumps({
    "file": keras_vae.__file__,
    "shipped": [str(d) for d in zoo.shipped_dirs()],
    "entries": zoo.available(),
    "test_rows": int(datasets.load("binarized_mnist", "test").shape[0]),
    "mnist_test_rows": int(datasets.load("mnist", "test").shape[0]),
    "loaded": [type(zoo.load(name)).__name__ for name in zoo.available()],
}))
"""
    env = {k: v for k, v in os.environ.items() if k not in ("KERAS_VAE_DATA_DIR", "KERAS_VAE_ZOO_DIR")}
    env.update(PYTHONPATH=str(installed / "site"), KERAS_VAE_ZOO_DIR=str(installed / "empty"),
               KERAS_HOME=str(installed / "keras_home"))
    done = subprocess.run([sys.executable, "-c", script], cwd=installed, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    info = json.loads(done.stdout.strip().splitlines()[-1])
    assert info["file"].startswith(str(installed / "site"))
    assert info["shipped"] == [str(installed / "site" / "keras_vae" / "zoo_entries")]
    assert info["test_rows"] == info["mnist_test_rows"] == 10000
    shipped = sorted(d.name for d in (ROOT / "zoo").iterdir() if (d / "config.json").exists())
    assert info["entries"] == shipped
    assert len(info["loaded"]) == len(shipped)


def test_only_the_standard_wheel_carries_the_zoo(tmp_path):
    import zipfile

    from hatchling.builders.wheel import WheelBuilder

    builder = WheelBuilder(str(ROOT))
    built = {v: next(builder.build(directory=str(tmp_path / v), versions=[v]))
             for v in ("standard", "editable")}
    names = {v: zipfile.ZipFile(path).namelist() for v, path in built.items()}
    assert any(n.startswith("keras_vae/zoo_entries/mnist_iwae/") for n in names["standard"])
    assert not any("zoo_entries" in n for n in names["editable"])
    assert any(n.endswith("licenses/LICENSE") for n in names["standard"])
    sizes = {v: os.path.getsize(p) for v, p in built.items()}
    print(f"wheel sizes: {sizes}")
    assert sizes["editable"] < 1_000_000 < sizes["standard"]


def test_index_description_has_nothing_that_only_works_in_a_clone(installed):
    """The package index renders README.md's marked parts: no clone commands or local links."""
    import re
    import zipfile
    from email import message_from_string

    wheel = next((installed / "dist").glob("keras_vae-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        meta = message_from_string(z.read(next(
            n for n in z.namelist() if n.endswith(".dist-info/METADATA"))).decode())
    assert meta["Description-Content-Type"] == "text/markdown"
    text = meta.get_payload()
    readme = (ROOT / "README.md").read_text()
    assert "-e ." in readme and "tests/run_backends.sh" in readme  # what must be taken out
    links = re.findall(r"\]\(([^)]*)\)", text)
    assert all(link.startswith(("https://", "http://")) for link in links), links
    for clone_only in ("-e .", "-e \"", "run_backends", "../shared", "index:start", "index:end",
                       "## Development"):
        assert clone_only not in text, clone_only
    assert 'pip install "keras-vae[jax]"' in text
    for part in ("## Install", "## Quick start", "<!-- zoo:start -->", "## Citing", "## Licence"):
        assert part in text, part
