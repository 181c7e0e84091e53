"""Runs packed on a device machine come back intact or not at all (runs/device.py)."""

import dataclasses
import importlib.util
import json
import os
import pathlib
import tarfile

import numpy as np
import pytest

from checkpoint_arrays import checkpoint_arrays
from keras_vae import recipes, training

ROOT = pathlib.Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("device_runs", ROOT / "runs" / "device.py")
device = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(device)
RECIPE = dataclasses.replace(recipes.RECIPES["mnist_iwae"], num_samples=2)
needs_data = pytest.mark.skipif(not os.environ.get("KERAS_VAE_DATA_DIR"),
                                reason="needs KERAS_VAE_DATA_DIR with MNIST")


def _train(run_dir, epochs):
    training.train(RECIPE, run_dir, epochs=epochs, train_limit=200, heldout_size=20,
                   nll_points=0, verbose=0)


@needs_data
def test_a_run_packed_there_and_unpacked_here_resumes_exactly(tmp_path, capsys):
    _train(tmp_path / "straight" / "tiny", 3)
    there = tmp_path / "there"
    _train(there / "tiny", 1)  # the local run the device started from
    here = tmp_path / "here"
    _train(here / "tiny", 1)
    _train(there / "tiny", 2)  # what the device window added

    out = tmp_path / "out"
    out.mkdir()
    (packed,) = device.pack(out, ["tiny", "never_trained"], run_root=there)
    assert packed.name == "run-tiny.tar"
    assert device.unpack(out, runs_dir=here) == {"tiny": (1, 2)}
    assert "1 epochs in" in capsys.readouterr().out  # the device's pace, from the wall times

    _train(here / "tiny", 3)
    resumed = checkpoint_arrays(here / "tiny" / training.CKPT)
    straight = checkpoint_arrays(tmp_path / "straight" / "tiny" / training.CKPT)
    assert resumed.keys() == straight.keys()
    for key in straight:
        np.testing.assert_allclose(resumed[key], straight[key], rtol=1e-5, atol=1e-6, err_msg=key)


def _fake_run(folder, epoch, payload=b"weights"):
    folder.mkdir(parents=True)
    (folder / "checkpoint.weights.h5").write_bytes(payload)
    state = {"epoch": epoch, "wall_time_s": 60.0 * epoch,
             "checkpoint_sha256": device._sha256(folder / "checkpoint.weights.h5")}
    (folder / "state.json").write_text(json.dumps(state))


def _tar(out, entry, files):
    out.mkdir(exist_ok=True)
    with tarfile.open(out / f"run-{entry}.tar", "w") as tar:
        for name, path in files.items():
            tar.add(path, arcname=name)


def test_a_tampered_checkpoint_is_refused_and_nothing_installed(tmp_path):
    _fake_run(tmp_path / "there" / "tiny", 5)
    (tmp_path / "there" / "tiny" / "checkpoint.weights.h5").write_bytes(b"flipped")
    (tmp_path / "out").mkdir()
    device.pack(tmp_path / "out", ["tiny"], run_root=tmp_path / "there")
    with pytest.raises(device.DeviceError, match="does not match the sha256"):
        device.unpack(tmp_path / "out", runs_dir=tmp_path / "here")
    assert not (tmp_path / "here" / "tiny").exists()


def test_an_older_run_does_not_replace_a_newer_local_one(tmp_path):
    _fake_run(tmp_path / "there" / "tiny", 3)
    _fake_run(tmp_path / "here" / "tiny", 7, payload=b"newer")
    (tmp_path / "out").mkdir()
    device.pack(tmp_path / "out", ["tiny"], run_root=tmp_path / "there")
    with pytest.raises(device.DeviceError, match="older than the local run's 7"):
        device.unpack(tmp_path / "out", runs_dir=tmp_path / "here")
    assert (tmp_path / "here" / "tiny" / "checkpoint.weights.h5").read_bytes() == b"newer"


def test_archives_that_are_not_one_run_are_refused(tmp_path):
    _fake_run(tmp_path / "src" / "tiny", 1)
    _tar(tmp_path / "escape", "tiny", {"../tiny/state.json": tmp_path / "src/tiny/state.json"})
    with pytest.raises(device.DeviceError, match="paths outside tiny/"):
        device.unpack(tmp_path / "escape", runs_dir=tmp_path / "here")
    (tmp_path / "cut").mkdir()
    (tmp_path / "cut" / "run-tiny.tar").write_bytes(b"\0" * 100)
    with pytest.raises(device.DeviceError, match="not a tar archive"):
        device.unpack(tmp_path / "cut", runs_dir=tmp_path / "here")
    (tmp_path / "none").mkdir()
    with pytest.raises(device.DeviceError, match="No run-ENTRY.tar"):
        device.unpack(tmp_path / "none", runs_dir=tmp_path / "here")
    assert not (tmp_path / "here").exists()


def test_queue_items_need_an_entry_and_a_positive_epoch_count():
    assert device._parse_queue(["mnist_vae:3280", "mnist_iwae:364"]) == [
        ("mnist_vae", 3280), ("mnist_iwae", 364)]
    for bad in ("mnist_vae", "mnist_vae:0", ":40", "mnist_vae:forty"):
        with pytest.raises(device.DeviceError, match="ENTRY:EPOCHS"):
            device._parse_queue([bad])


def test_the_suite_summary_counts_junit_outcomes(tmp_path):
    (tmp_path / "suite-jax.xml").write_text(
        '<testsuites><testsuite time="12.5">'
        '<testcase classname="tests.test_a" name="test_ok"/>'
        '<testcase classname="tests.test_a" name="test_bad"><failure message="x"/></testcase>'
        '<testcase classname="tests.test_b" name="test_err"><error message="y"/></testcase>'
        '<testcase classname="tests.test_b" name="test_skip"><skipped/></testcase>'
        '<testcase time="0.0"/>'  # how pytest records the test a SIGINT stopped
        "</testsuite></testsuites>")
    summary = device.suite(tmp_path / "suite.json", [tmp_path / "suite-jax.xml",
                                                     tmp_path / "suite-torch.xml"])
    assert summary["jax"] == {"passed": 1, "failed": 2, "skipped": 1, "interrupted": 1, "seconds": 12.5,
                              "failed_tests": ["tests.test_a::test_bad", "tests.test_b::test_err"]}
    assert "no results" in summary["torch"]["error"]
    assert json.loads((tmp_path / "suite.json").read_text()) == summary
