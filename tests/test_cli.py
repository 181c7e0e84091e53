"""The `keras-vae` command: argument handling, errors and clean output."""

import os
import subprocess
import sys

import pytest

from conftest import backend
from keras_vae import cli

PROBE = """
import sys
from keras_vae import cli
try:
    cli.main({argv!r})
except SystemExit as e:
    print("exit", e.code, sorted(m for m in ("keras", "tensorflow", "jax", "torch")
                                 if m in sys.modules))
"""


@pytest.mark.parametrize("argv, match", [
    (["evaluate", "mnist_iwea"], "unknown zoo entry 'mnist_iwea'; did you mean mnist_iwae"),
    (["train", "mnist_vea"], "unknown recipe 'mnist_vea'; did you mean mnist_vae"),
    (["compress", "binarized_mnist_iwea", "x.npy", "x.kvae"], "did you mean binarized_mnist_iwae"),
    (["samples", "svhn_iwae"], "recipe with no trained weights here"),
])
def test_unknown_entry_is_one_line_and_exit_2_before_any_backend(argv, match):
    done = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True,
                          text=True, timeout=120)
    assert done.stdout.strip() == "exit 2 []", done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and match in lines[0] and "Traceback" not in done.stderr


def test_missing_data_is_one_line_and_exit_2(tmp_path):
    env = dict(os.environ, KERAS_VAE_DATA_DIR=str(tmp_path / "nowhere"))
    done = subprocess.run([sys.executable, "-m", "keras_vae", "evaluate", "mnist_iwae",
                           "--num-points", "2", "--backend", backend()],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 2, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("keras-vae: error: KERAS_VAE_DATA_DIR=") and "nowhere" in last


def test_backend_is_accepted_before_and_after_the_command():
    parser = cli._parser()
    assert parser.parse_args(["--backend", "jax", "zoo"]).backend == "jax"
    assert parser.parse_args(["zoo", "--backend", "torch"]).backend == "torch"
    assert parser.parse_args(["evaluate", "mnist_iwae", "--backend", "tensorflow"]).backend \
        == "tensorflow"
    assert parser.parse_args(["zoo"]).backend is None


def test_every_option_has_help_with_its_default():
    parser = cli._parser()
    subparsers = next(a for a in parser._actions if a.dest == "command").choices
    for name, sub in subparsers.items():
        for action in sub._actions:
            assert action.help, f"{name} {action.option_strings or action.dest} has no help"
        text = sub.format_help()
        for action in sub._actions:
            if action.default not in (None, False) and action.default is not argparse_suppress():
                assert f"default: {action.default}" in " ".join(text.split()), (name, action.dest)


def argparse_suppress():
    import argparse

    return argparse.SUPPRESS


def test_results_on_stdout_progress_on_stderr_without_tensorflow_notices():
    done = subprocess.run([sys.executable, "-m", "keras_vae", "evaluate", "mnist_iwae",
                           "--num-points", "10", "--num-samples", "20", "--backend", backend()],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout.strip().splitlines()
    assert out[0].startswith("entry ") and "mnist_iwae" in out[2] and len(out) == 3
    for notice in ("oneDNN", "cuInit", "cudart_stub", "absl::InitializeLog", "\x1b["):
        assert notice not in done.stderr + done.stdout, notice
