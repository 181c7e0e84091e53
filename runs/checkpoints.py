"""Training checkpoints kept in the git history instead of the tracked tree.

A run folder (`runs/ENTRY`, `benchmarks/runs/...`) tracks only its
`checkpoint.json`; its `checkpoint.weights.h5` (weights, optimizer state and
sampler seeds: 5-12 MB) and `state.json` (epoch and the whole history, up to
half a megabyte at 3280 epochs) are ignored. `store` commits the checkpoint and
the state it belongs to, records both blobs in the folder's `checkpoint.json`,
and removes both from the tip in a second commit, so the tree stays small while
every stored checkpoint stays reachable from the branch (the finished history
ships in the zoo entry).
`restore` writes the recorded checkpoint and state back into the folder
(checked against their sha256) unless the folder already holds a newer intact
run, after which `keras-vae train` resumes exactly where the stored run stopped.

    python runs/checkpoints.py store runs/mnist_vae [more run folders]
    python runs/checkpoints.py restore runs/mnist_vae [...]
    python runs/checkpoints.py restore --all        # every folder with a record

Standard library only, so it runs before the package is installed.
"""

import argparse
import hashlib
import json
import os
import pathlib
import subprocess
import sys

CKPT, STATE, RECORD = "checkpoint.weights.h5", "state.json", "checkpoint.json"


class CheckpointError(RuntimeError):
    pass


def _git(repo, *args, data=False):
    result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True)
    if result.returncode:
        raise CheckpointError(f"`git {' '.join(args)}` failed in {repo}: "
                              f"{result.stderr.decode(errors='replace').strip()}")
    return result.stdout if data else result.stdout.decode().strip()


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def _repo(path):
    return pathlib.Path(_git(path, "rev-parse", "--show-toplevel"))


def _intact_local(run_dir):
    """The local run's epoch when its checkpoint matches its state's sha256, else None."""
    try:
        state = json.loads((run_dir / STATE).read_text())
        data = (run_dir / CKPT).read_bytes()
    except (OSError, ValueError):
        return None
    if state.get("checkpoint_sha256") != _sha256(data):
        return None
    return state.get("epoch")


def store(run_dirs, message=None):
    """Commits each run's checkpoint and state, records their blobs, untracks both."""
    run_dirs = [pathlib.Path(d).resolve() for d in run_dirs]
    if not run_dirs:
        raise CheckpointError("store needs at least one run folder.")
    repo = _repo(run_dirs[0])
    if _git(repo, "diff", "--cached", "--name-only"):
        raise CheckpointError("the index holds staged changes; commit or unstage them first, so "
                              "that the checkpoint commits hold only the runs.")
    for run_dir in run_dirs:
        if _intact_local(run_dir) is None:
            raise CheckpointError(f"{run_dir}: {CKPT} is missing or does not match the sha256 in "
                                  f"{STATE}; nothing was committed.")
    paths = [str(d / name) for d in run_dirs for name in (CKPT, STATE)]
    _git(repo, "add", "-f", "--", *paths)
    if _git(repo, "diff", "--cached", "--name-only", "--", *paths):
        epochs = ", ".join(f"{d.name} at epoch {_intact_local(d)}" for d in run_dirs)
        _git(repo, "commit", "-q", "-m", message or f"runs: checkpoints of {epochs}")
    commit = _git(repo, "rev-parse", "HEAD")
    records = []
    for run_dir in run_dirs:
        rel = run_dir.relative_to(repo).as_posix()
        blob, state_blob = (_git(repo, "rev-parse", f"{commit}:{rel}/{name}")
                            for name in (CKPT, STATE))
        # Read back what was committed: a run still training could have moved on meanwhile.
        state = json.loads(_git(repo, "cat-file", "blob", state_blob, data=True))
        digest = _sha256(_git(repo, "cat-file", "blob", blob, data=True))
        if state.get("checkpoint_sha256") != digest:
            raise CheckpointError(f"{run_dir}: the committed {CKPT} and {STATE} ({commit[:10]}) do "
                                  "not belong together; stop the run and store again.")
        record = {"epoch": state["epoch"], "checkpoint_blob": blob, "checkpoint_sha256": digest,
                  "state_blob": state_blob, "commit": commit}
        (run_dir / RECORD).write_text(json.dumps(record, indent=1) + "\n")
        records.append(str(run_dir / RECORD))
    _git(repo, "rm", "-q", "--cached", "--", *paths)
    _git(repo, "add", "--", *records)
    _git(repo, "commit", "-q", "-m",
         f"runs: checkpoints recorded in {RECORD} and kept in the history only ({commit[:10]})")
    return records


def restore(run_dir):
    """Writes the recorded checkpoint and state into `run_dir`; returns what it did."""
    run_dir = pathlib.Path(run_dir).resolve()
    try:
        record = json.loads((run_dir / RECORD).read_text())
    except FileNotFoundError:
        return "no record: nothing to restore"
    except ValueError as e:
        raise CheckpointError(f"{run_dir / RECORD} is not valid JSON: {e}") from None
    local = _intact_local(run_dir)
    if local is not None and local >= record["epoch"]:
        return f"kept the local run at epoch {local} (record: epoch {record['epoch']})"
    repo = _repo(run_dir)
    checkpoint = _git(repo, "cat-file", "blob", record["checkpoint_blob"], data=True)
    state = _git(repo, "cat-file", "blob", record["state_blob"], data=True)
    if _sha256(checkpoint) != record["checkpoint_sha256"]:
        raise CheckpointError(f"{run_dir / RECORD}: blob {record['checkpoint_blob']} does not have "
                              f"the recorded sha256 {record['checkpoint_sha256']}.")
    if json.loads(state).get("checkpoint_sha256") != record["checkpoint_sha256"]:
        raise CheckpointError(f"{run_dir / RECORD}: the recorded state (blob {record['state_blob']}) "
                              "belongs to another checkpoint.")
    for name, data in ((CKPT, checkpoint), (STATE, state)):
        tmp = run_dir / f"tmp.{name}"
        tmp.write_bytes(data)
        os.replace(tmp, run_dir / name)
    return f"restored epoch {record['epoch']} from blob {record['checkpoint_blob'][:10]}"


def _all_records(repo):
    return sorted({p.parent for p in repo.glob("**/" + RECORD) if ".venv" not in p.parts})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["store", "restore"])
    parser.add_argument("run_dirs", nargs="*", help="run folders (each with state.json)")
    parser.add_argument("--all", action="store_true",
                        help="restore: every run folder of the repository with a checkpoint.json")
    parser.add_argument("--message", help="store: the first commit's message")
    args = parser.parse_args(argv)
    try:
        if args.action == "store":
            for record in store(args.run_dirs, args.message):
                print(f"recorded {record}")
            return 0
        dirs = args.run_dirs or []
        if args.all:
            dirs += _all_records(_repo(pathlib.Path.cwd()))
        if not dirs:
            parser.error("restore needs run folders or --all")
        for d in dirs:
            print(f"{d}: {restore(d)}")
    except CheckpointError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
