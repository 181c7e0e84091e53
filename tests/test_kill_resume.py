"""A training process killed with SIGKILL at a random point resumes and loses nothing."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from checkpoint_arrays import checkpoint_arrays
from keras_vae import training

pytestmark = pytest.mark.skipif(not os.environ.get("KERAS_VAE_DATA_DIR"),
                                reason="needs KERAS_VAE_DATA_DIR with MNIST")
EPOCHS = 6
WORKER = """
import dataclasses, sys
from keras_vae import recipes, training
recipe = dataclasses.replace(recipes.RECIPES["mnist_iwae"], num_samples=2)
training.train(recipe, sys.argv[1], epochs=int(sys.argv[2]), train_limit=400, heldout_size=20,
               nll_points=0, verbose=0)
"""


def _run(run_dir, epochs):
    return subprocess.Popen([sys.executable, "-c", WORKER, str(run_dir), str(epochs)],
                            env=dict(os.environ), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def _epoch(run_dir):
    try:
        return json.loads((run_dir / training.STATE).read_text())["epoch"]
    except (OSError, ValueError):
        return 0  # not written yet, or being replaced


def test_sigkill_then_restart_matches_an_uninterrupted_run(tmp_path):
    straight = _run(tmp_path / "straight", EPOCHS)
    killed_dir = tmp_path / "killed"
    victim = _run(killed_dir, EPOCHS)
    deadline = time.monotonic() + 240
    while _epoch(killed_dir) < 1 and victim.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(random.uniform(0.0, 0.5))
    assert victim.poll() is None, "the run ended before it could be killed"
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    stopped_at = _epoch(killed_dir)
    assert victim.returncode == -signal.SIGKILL and 1 <= stopped_at < EPOCHS
    assert _run(killed_dir, EPOCHS).wait(timeout=300) == 0
    assert straight.wait(timeout=300) == 0
    a = json.loads((tmp_path / "straight" / training.STATE).read_text())
    b = json.loads((killed_dir / training.STATE).read_text())
    assert b["epoch"] == a["epoch"] == EPOCHS
    for key in ("iwae_bound", "heldout_bound"):
        assert [h[key] for h in b["history"]] == [h[key] for h in a["history"]]
    # Weights, optimizer moments and the sampler's seed state, bit for bit.
    ref = checkpoint_arrays(tmp_path / "straight" / training.CKPT)
    got = checkpoint_arrays(killed_dir / training.CKPT)
    assert ref.keys() == got.keys() and len(ref) > 10
    for name in ref:
        np.testing.assert_array_equal(got[name], ref[name], err_msg=name)
