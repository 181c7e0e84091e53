"""Peak memory of the K-sample log-likelihood: flat in K (chunking), linear in the chunk.

    python -m benchmarks.memory                 # all backends, about 3 minutes on 2 cores
    python -m benchmarks.memory --quick         # one backend, tiny K: a smoke run

Evaluates the shipped `mnist_iwae` entry on the bundled MNIST test images.
Each configuration runs in a fresh process, since peak RSS only grows: the
table gives the peak RSS of the evaluation minus the RSS just before it.
Sweep 1 raises K at the default chunking (about 50k sample-example pairs per
chunk): memory should stay flat. Sweep 2 fixes the chunk at 100 samples and
raises the batch: memory should grow linearly with batch x chunk. Writes
benchmarks/results/memory.{json,md} and refreshes the README's table.
"""

import argparse
import json
import sys

BACKENDS = ("jax", "tensorflow", "torch")


def _rss_mib():
    """Current resident set size of this process, in MiB (Linux)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("VmRSS not found in /proc/self/status")


def _peak_mib():
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def worker(args):
    import numpy as np

    from keras_vae import recipes, training, zoo

    model = zoo.load("mnist_iwae")
    x = training.load_test(recipes.RECIPES["mnist_iwae"])[: args.batch]
    model.log_likelihood(x[:2], num_samples=4, batch_size=2, verbose=0)  # builds the functions
    before = _rss_mib()
    ll = model.log_likelihood(x, num_samples=args.k, batch_size=args.batch,
                              chunk_size=args.chunk, verbose=0)
    print(json.dumps({"k": args.k, "batch": args.batch, "chunk": args.chunk,
                      "rss_before_mib": before, "peak_mib": _peak_mib(),
                      "extra_mib": _peak_mib() - before, "nll": float(-np.mean(ll))}))


def _configs(quick):
    ks = (20, 200) if quick else (50, 500, 5000, 20000)
    batches = (10, 40) if quick else (25, 100, 400)
    sweep_k = [{"sweep": "K", "k": k, "batch": 100, "chunk": None} for k in ks]
    sweep_b = [{"sweep": "batch", "k": 200 if quick else 5000, "batch": b, "chunk": 100}
               for b in batches]
    return sweep_k + sweep_b


COLUMNS = ["backend", "sweep", "K", "batch", "chunk", "pairs per chunk", "extra peak RSS (MiB)",
           "RSS before (MiB)"]


def render(payload):
    """The markdown of a results payload (the README block is exactly this)."""
    from benchmarks.common import markdown_table

    env = payload["environment"]
    return (f"Peak RSS of `log_likelihood` above the RSS before it, one process per row "
            f"(`mnist_iwae`, 784-pixel Bernoulli decoder). Device: {env['device']}. "
            f"Commit {env['commit']}, {env['date']}.\n\n" + markdown_table(payload["rows"], COLUMNS)
            + f"\n\nCommand: `python -m benchmarks.memory{' --quick' if payload['quick'] else ''}`")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    parser.add_argument("--quick", action="store_true", help="small K, one backend unless given")
    parser.add_argument("--no-readme", action="store_true", help="do not touch README.md")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--k", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--chunk", type=int, help=argparse.SUPPRESS)
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)
    from benchmarks.common import environment, run_worker, update_readme, write_results

    backends = args.backends[:1] if args.quick and "--backends" not in argv else args.backends
    rows = []
    for backend in backends:
        for config in _configs(args.quick):
            extra = ["--chunk", str(config["chunk"])] if config["chunk"] else []
            result = run_worker("benchmarks.memory", ["--worker", "--k", str(config["k"]),
                                                      "--batch", str(config["batch"]), *extra],
                                {"KERAS_BACKEND": backend})
            rows.append({"backend": backend, "sweep": config["sweep"], "K": config["k"],
                         "batch": config["batch"], "chunk": config["chunk"] or "default",
                         "pairs per chunk": config["batch"] * (config["chunk"] or min(
                             config["k"], 50_000 // config["batch"])),
                         "extra peak RSS (MiB)": f"{result['extra_mib']:.0f}",
                         "RSS before (MiB)": f"{result['rss_before_mib']:.0f}"})
            print(json.dumps(rows[-1]), flush=True)
    payload = {"environment": environment(argv), "quick": args.quick, "rows": rows}
    markdown = render(payload)
    print(markdown)
    name = "memory_quick" if args.quick else "memory"
    write_results(name, payload, markdown)
    if not args.quick and not args.no_readme:
        update_readme("memory", markdown)
    return rows


if __name__ == "__main__":
    main()
