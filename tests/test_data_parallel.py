"""Data-parallel training on 2 CPU devices equals single-device training (subprocess per run)."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

from conftest import backend

WORKER = pathlib.Path(__file__).with_name("data_parallel_worker.py")


@pytest.mark.skipif(backend() == "torch",
                    reason="Keras's distribution API has no data-parallel path for torch")
def test_two_replicas_take_the_same_steps_as_one_device():
    env = dict(os.environ, KERAS_BACKEND=backend(), TF_CPP_MIN_LOG_LEVEL="2")
    out = subprocess.run([sys.executable, str(WORKER)], env=env, capture_output=True, text=True,
                         timeout=240)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2 and result["same_start"] == 0.0
    assert result["moved"] > 1e-2  # six SGD steps moved the weights...
    assert result["max_weight_gap"] < 1e-5  # ...identically on one device and on two
    assert result["loss_parallel"] == pytest.approx(result["loss_single"], rel=1e-5)
