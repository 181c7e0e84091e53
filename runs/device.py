"""Getting zoo runs to a lent GPU machine and back (see runs/README.md, "A device window").

    python runs/device.py prepare mnist_vae_k50:121 mnist_vae:3280   # here, before the call
    python runs/device.py pack "$OUT" mnist_vae_k50 mnist_vae         # there, by runs/device.sh
    python runs/device.py suite "$OUT/suite.json" /tmp/suite-*.xml   # there: test results
    python runs/device.py unpack /work/.device/files/...             # here, after the call

`prepare` fills the ignored folder `.device/` (the device tool's `carry`):
each queued run's checkpoint and state (restored from the git history
first), the dataset files the runs read, the queue and the commit; and
`.whl/` with the wheels the device lacks (keras, namex, optree). It prints
what the call will send against the tool's 64 MiB. `pack` writes one tar per
run (state, checkpoint, history, curves) into the device's output folder;
`unpack` checks each checkpoint against the sha256 its state records and
that it is not older than the local run, then puts it in `runs/ENTRY`,
where `keras-vae train` resumes it. Standard library only.
"""

import argparse
import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET

ROOT = pathlib.Path(__file__).resolve().parents[1]
CARRY = ROOT / ".device"
WHEELS = ROOT / ".whl"
RUN_FILES = ("state.json", "checkpoint.weights.h5", "history.json", "curves.png")
# The device's Python and the packages it lacks (jax, torch, numpy, h5py... are there).
DEVICE_PYTHON = "3.12"
MISSING = ("keras", "namex", "optree")
DATASET_FILES = {
    "mnist": ["mnist/train-images-idx3-ubyte.gz", "mnist/train-labels-idx1-ubyte.gz",
              "mnist/t10k-images-idx3-ubyte.gz", "mnist/t10k-labels-idx1-ubyte.gz"],
    "fashion_mnist": ["fashion_mnist/train-images-idx3-ubyte.gz",
                      "fashion_mnist/train-labels-idx1-ubyte.gz",
                      "fashion_mnist/t10k-images-idx3-ubyte.gz",
                      "fashion_mnist/t10k-labels-idx1-ubyte.gz"],
    "binarized_mnist": ["binarized_mnist/binarized_mnist.npz"],
}
LIMIT_MIB, FILE_LIMIT_MIB = 64, 16


class DeviceError(RuntimeError):
    pass


def _sha256(path):
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def _parse_queue(items):
    queue = []
    for item in items:
        entry, _, epochs = item.partition(":")
        if not entry or not epochs.isdigit() or int(epochs) < 1:
            raise DeviceError(f"Expected queue items as ENTRY:EPOCHS (e.g. mnist_vae:3280). "
                              f"Received: {item!r}")
        queue.append((entry, int(epochs)))
    return queue


def _recipe_dataset(entry):
    sys.path.insert(0, str(ROOT))
    import keras_vae.recipes as recipes  # imports no backend

    if entry not in recipes.RECIPES:
        raise DeviceError(f"Unknown recipe {entry!r}. Recipes: {sorted(recipes.RECIPES)}")
    return recipes.RECIPES[entry].dataset


def _tree_bytes():
    names = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others",
                            "--exclude-standard"], capture_output=True, check=True).stdout
    return sum((ROOT / n).stat().st_size for n in names.decode().split("\0")
               if n and (ROOT / n).is_file())


def _folder_bytes(folder):
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _download_wheels():
    import importlib.metadata as metadata

    WHEELS.mkdir(exist_ok=True)
    for name in MISSING:
        version = metadata.version(name)
        if list(WHEELS.glob(f"{name}-{version}-*.whl")):
            continue
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                        "--only-binary=:all:", "--python-version", DEVICE_PYTHON,
                        "--implementation", "cp", "--platform", "manylinux_2_28_x86_64",
                        "--platform", "manylinux_2_17_x86_64", "--platform",
                        "manylinux2014_x86_64", "-d", str(WHEELS), f"{name}=={version}"],
                       check=True)


def prepare(queue, data_dir):
    queue = _parse_queue(queue)
    data_dir = pathlib.Path(data_dir)
    if CARRY.exists():
        shutil.rmtree(CARRY)
    (CARRY / "runs").mkdir(parents=True)
    datasets = set()
    for entry, _ in queue:
        datasets.add(_recipe_dataset(entry))
        run = ROOT / "runs" / entry
        if (run / "checkpoint.json").exists():
            subprocess.run([sys.executable, str(ROOT / "runs" / "checkpoints.py"), "restore",
                            str(run)], check=True)
        target = CARRY / "runs" / entry
        target.mkdir()
        for name in RUN_FILES:
            if (run / name).exists():
                shutil.copy2(run / name, target / name)
    for dataset in sorted(datasets):
        for relative in DATASET_FILES[dataset]:
            source = data_dir / relative
            if not source.exists():
                raise DeviceError(f"{source} is missing: the runs on {dataset!r} need it "
                                  "(set --data-dir or KERAS_VAE_DATA_DIR to the data folder)")
            (CARRY / "data" / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, CARRY / "data" / relative)
    (CARRY / "queue.txt").write_text("".join(f"{e} {n}\n" for e, n in queue))
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    (CARRY / "COMMIT").write_text(commit + "\n")
    _download_wheels()
    sizes = {"tracked and untracked tree": _tree_bytes(), ".device": _folder_bytes(CARRY),
             ".whl": _folder_bytes(WHEELS)}
    total = sum(sizes.values())
    for name, size in sizes.items():
        print(f"{name:28s} {size / 2**20:6.1f} MiB")
    print(f"{'sent by the call':28s} {total / 2**20:6.1f} MiB of {LIMIT_MIB}")
    if total > LIMIT_MIB * 2**20:
        raise DeviceError("The call would send more than the device tool takes: queue fewer "
                          "runs or runs on one dataset.")
    return total


def pack(out_dir, entries, run_root=None):
    """One tar per run into `out_dir`; a run over the tool's per-file limit is an error."""
    out_dir = pathlib.Path(out_dir)
    run_root = pathlib.Path(run_root) if run_root else CARRY / "runs"
    written = []
    for entry in entries:
        run = run_root / entry
        if not (run / "state.json").exists():
            print(f"{entry}: no state (never trained here), not packed", file=sys.stderr)
            continue
        path = out_dir / f"run-{entry}.tar"
        with tarfile.open(path, "w") as tar:
            for name in RUN_FILES:
                if (run / name).exists():
                    tar.add(run / name, arcname=f"{entry}/{name}")
        if path.stat().st_size > FILE_LIMIT_MIB * 2**20:
            raise DeviceError(f"{path.name} is {path.stat().st_size / 2**20:.1f} MiB, over the "
                              f"tool's {FILE_LIMIT_MIB} MiB a file")
        written.append(path)
    return written


def _state(state_path):
    try:
        return json.loads(pathlib.Path(state_path).read_text())
    except FileNotFoundError:
        return {}
    except ValueError as error:
        raise DeviceError(f"{state_path} is not valid JSON ({error}): fix or remove the local "
                          "run before unpacking over it") from None


def unpack(folder, runs_dir=None):
    """Checks and installs each `run-ENTRY.tar` of `folder`; returns {entry: (before, after)}."""
    runs_dir = pathlib.Path(runs_dir) if runs_dir else ROOT / "runs"
    done = {}
    tars = sorted(pathlib.Path(folder).glob("run-*.tar"))
    if not tars:
        raise DeviceError(f"No run-ENTRY.tar in {folder}")
    for path in tars:
        entry = path.name[len("run-"):-len(".tar")]
        if not tarfile.is_tarfile(path):
            raise DeviceError(f"{path.name} is not a tar archive (truncated or corrupted); "
                              "nothing of it was installed")
        with tempfile.TemporaryDirectory() as tmp, tarfile.open(path) as tar:
            names = tar.getnames()
            if any(n.split("/")[0] != entry or ".." in n or n.startswith("/") for n in names):
                raise DeviceError(f"{path.name} holds paths outside {entry}/: {names}")
            tar.extractall(tmp, filter="data")
            run = pathlib.Path(tmp) / entry
            state = _state(run / "state.json")
            if not state:
                raise DeviceError(f"{path.name} holds no {entry}/state.json; nothing of it was "
                                  "installed")
            ckpt = run / "checkpoint.weights.h5"
            if not ckpt.exists() or state.get("checkpoint_sha256") != _sha256(ckpt):
                raise DeviceError(f"{path.name}: the checkpoint is missing or does not match "
                                  "the sha256 in its state.json; nothing of it was installed")
            target = runs_dir / entry
            before_state = _state(target / "state.json")
            before = before_state.get("epoch", 0)
            if state["epoch"] < before:
                raise DeviceError(f"{path.name} holds epoch {state['epoch']}, older than the "
                                  f"local run's {before}; nothing of it was installed")
            target.mkdir(parents=True, exist_ok=True)
            for name in RUN_FILES:
                if (run / name).exists():
                    shutil.copy2(run / name, target / name)
            (target / "previous.weights.h5").unlink(missing_ok=True)
            done[entry] = (before, state["epoch"])
            print(f"{entry}: epoch {before} -> {state['epoch']} (checkpoint sha256 ok)"
                  f"{_pace(before_state, state)}")
    return done


def _pace(before, after):
    """Epochs per minute of what the device added, from the states' wall time."""
    epochs = after.get("epoch", 0) - before.get("epoch", 0)
    seconds = after.get("wall_time_s", 0.0) - before.get("wall_time_s", 0.0)
    if epochs <= 0 or seconds <= 0:
        return ""
    return f", {epochs} epochs in {seconds:.0f} s: {60 * epochs / seconds:.2f} epochs/minute"


def suite(out_path, xml_paths):
    """Pass/fail/skip counts and the failing tests of pytest's JUnit files, as one JSON."""
    summary = {}
    for xml_path in xml_paths:
        backend = pathlib.Path(xml_path).stem.split("-", 1)[-1]
        try:
            root = ET.parse(xml_path).getroot()
        except (OSError, ET.ParseError) as error:
            summary[backend] = {"error": f"no results ({error})"}
            continue
        cases = root.iter("testcase")
        counts = {"passed": 0, "failed": 0, "skipped": 0, "interrupted": 0}
        failed = []
        for case in cases:
            if case.get("name") is None:  # the test a timeout's SIGINT stopped
                counts["interrupted"] += 1
                continue
            name = f"{case.get('classname')}::{case.get('name')}"
            if case.find("failure") is not None or case.find("error") is not None:
                counts["failed"] += 1
                failed.append(name)
            elif case.find("skipped") is not None:
                counts["skipped"] += 1
            else:
                counts["passed"] += 1
        summary[backend] = {**counts, "failed_tests": failed,
                            "seconds": float(next(root.iter("testsuite")).get("time", 0))}
    pathlib.Path(out_path).write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare", help="fill .device/ and .whl/ for a device call")
    p.add_argument("queue", nargs="+", help="ENTRY:EPOCHS, in the order to train")
    p.add_argument("--data-dir", default=os.environ.get("KERAS_VAE_DATA_DIR"),
                   help="dataset folder (default: $KERAS_VAE_DATA_DIR)")
    k = sub.add_parser("pack", help="tar each run into the output folder (on the device)")
    k.add_argument("out_dir")
    k.add_argument("entries", nargs="+")
    u = sub.add_parser("unpack", help="check and install the runs that came back")
    u.add_argument("folder")
    u.add_argument("--runs-dir", help="where the runs go (default: runs/ of this checkout)")
    s = sub.add_parser("suite", help="summarize pytest JUnit files as JSON")
    s.add_argument("out_path")
    s.add_argument("xml_paths", nargs="+")
    args = parser.parse_args(argv)
    try:
        if args.command == "prepare":
            if not args.data_dir:
                raise DeviceError("Expected --data-dir or KERAS_VAE_DATA_DIR: the runs' data "
                                  "travel with the call")
            prepare(args.queue, args.data_dir)
        elif args.command == "pack":
            for path in pack(args.out_dir, args.entries):
                print(f"packed {path.name} ({path.stat().st_size / 2**20:.1f} MiB)")
        elif args.command == "unpack":
            unpack(args.folder, args.runs_dir)
        else:
            print(json.dumps(suite(args.out_path, args.xml_paths)))
    except DeviceError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
