"""A run whose checkpoint is kept only in the git history resumes exactly (runs/checkpoints.py)."""

import dataclasses
import importlib.util
import json
import os
import pathlib
import subprocess

import numpy as np
import pytest

from checkpoint_arrays import checkpoint_arrays
from keras_vae import recipes, training

pytestmark = pytest.mark.skipif(not os.environ.get("KERAS_VAE_DATA_DIR"),
                                reason="needs KERAS_VAE_DATA_DIR with MNIST")
ROOT = pathlib.Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("checkpoints", ROOT / "runs" / "checkpoints.py")
checkpoints = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(checkpoints)
RECIPE = dataclasses.replace(recipes.RECIPES["mnist_iwae"], num_samples=2)


def _train(run_dir, epochs):
    training.train(RECIPE, run_dir, epochs=epochs, train_limit=200, heldout_size=20,
                   nll_points=0, verbose=0)


def _git(repo, *args):
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "test@example.org")
    _git(repo, "config", "user.name", "test")
    (repo / ".gitignore").write_text("runs/*/checkpoint.weights.h5\nruns/*/previous.weights.h5\n")
    _git(repo, "add", ".gitignore")
    _git(repo, "commit", "-q", "-m", "init")
    return repo


def test_a_run_restored_from_the_history_of_a_fresh_clone_resumes_exactly(tmp_path, repo):
    _train(tmp_path / "straight", 2)
    run = repo / "runs" / "tiny"
    _train(run, 1)
    checkpoints.store([run])
    tracked = subprocess.run(["git", "-C", str(repo), "ls-files"], capture_output=True,
                             text=True, check=True).stdout.split()
    assert "runs/tiny/checkpoint.json" in tracked and "runs/tiny/state.json" not in tracked
    assert not any(p.endswith(".weights.h5") for p in tracked)

    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True)
    resumed = clone / "runs" / "tiny"
    assert not (resumed / training.CKPT).exists() and not (resumed / training.STATE).exists()
    # Training the clone before restoring would start again from epoch 0.
    with pytest.raises(training.RunError, match="checkpoints.py restore"):
        _train(resumed, 2)
    assert not (resumed / training.STATE).exists()
    assert checkpoints.restore(resumed).startswith("restored epoch 1")
    _train(resumed, 2)

    a = json.loads((tmp_path / "straight" / training.STATE).read_text())
    b = json.loads((resumed / training.STATE).read_text())
    assert [h["iwae_bound"] for h in b["history"]] == [h["iwae_bound"] for h in a["history"]]
    ref = checkpoint_arrays(tmp_path / "straight" / training.CKPT)
    got = checkpoint_arrays(resumed / training.CKPT)
    assert ref.keys() == got.keys() and len(ref) > 10
    for name in ref:
        np.testing.assert_array_equal(got[name], ref[name], err_msg=name)
    # A newer intact local run is kept, not overwritten by the older record.
    assert checkpoints.restore(resumed).startswith("kept the local run at epoch 2")


def test_a_record_that_names_a_wrong_blob_is_refused(tmp_path, repo):
    run = repo / "runs" / "tiny"
    _train(run, 1)
    checkpoints.store([run])
    record = json.loads((run / "checkpoint.json").read_text())
    record["checkpoint_blob"] = record["state_blob"]  # a real blob, but not the checkpoint
    (run / "checkpoint.json").write_text(json.dumps(record))
    (run / training.CKPT).unlink()
    with pytest.raises(checkpoints.CheckpointError, match="does not have the recorded sha256"):
        checkpoints.restore(run)
    record["checkpoint_blob"] = "0" * 40
    (run / "checkpoint.json").write_text(json.dumps(record))
    with pytest.raises(checkpoints.CheckpointError, match="cat-file"):
        checkpoints.restore(run)
    assert not (run / training.CKPT).exists()
