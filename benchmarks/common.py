"""Shared by the benchmark scripts: timing, environment record, tables, files."""

import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import time
from importlib import metadata

RESULTS = pathlib.Path(__file__).parent / "results"
README = pathlib.Path(__file__).parents[1] / "README.md"


def median_rate(run, amount, repeats, warmup=1):
    """Median of `amount / seconds` over `repeats` calls of `run`, after warm-up calls."""
    for _ in range(warmup):
        run()
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        rates.append(amount / (time.perf_counter() - start))
    return statistics.median(rates)


def environment(argv):
    versions = {}
    for name in ("keras", "tensorflow", "jax", "jaxlib", "torch", "pythae", "numpy"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, cwd=pathlib.Path(__file__).parent).stdout.strip()
    except OSError:
        commit = ""
    # A device machine gets the working tree without its .git: the caller names the commit.
    commit = commit or os.environ.get("KERAS_VAE_COMMIT", "")
    from keras_vae._device import device_name

    return {"device": device_name(), "python": platform.python_version(), "versions": versions,
            "commit": commit, "argv": list(argv), "date": time.strftime("%Y-%m-%d")}


def run_worker(module, args, env_extra=None, timeout=3600):
    """Runs `python -m module args` in a fresh process; returns its JSON on the last line."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", **(env_extra or {}))
    done = subprocess.run([sys.executable, "-m", module, *args], env=env, capture_output=True,
                          text=True, timeout=timeout, cwd=pathlib.Path(__file__).parents[1])
    if done.returncode != 0:
        raise RuntimeError(f"{module} {' '.join(args)} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def paired_difference(log_p_a, log_p_b):
    """Mean over the same points of log p_a - log p_b, with its paired standard error.

    The unpaired error (the two spreads combined, as if each model had its own
    draw of points) is returned for scale.
    """
    import math

    import numpy as np

    a, b = np.asarray(log_p_a, dtype=float), np.asarray(log_p_b, dtype=float)
    n, d = len(a), a - b
    return {"points": n, "difference": float(d.mean()),
            "paired_se": float(d.std(ddof=1) / math.sqrt(n)),
            "unpaired_se": float(math.sqrt((a.var(ddof=1) + b.var(ddof=1)) / n))}


def markdown_table(rows, columns):
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def write_results(name, payload, markdown):
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=1) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown + "\n")


def update_readme(name, markdown, readme=README):
    """Replaces the README block between `<!-- name:start -->` and `<!-- name:end -->`."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = readme.read_text()
    if start not in text or end not in text:
        return False
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{start}\n{markdown}\n{end}{tail}")
    return True
