"""Which training setting reaches the same held-out bound soonest: a short run per setting.

    python -m benchmarks.efficiency                          # mnist_iwae, 5 epochs, 7 settings
    python -m benchmarks.efficiency --epochs 1 --train-limit 2000 --settings jax tensorflow

Each setting trains the recipe from the same seed and data order with
`keras_vae.training.train` in a fresh process (backend, `jit_compile`,
`steps_per_execution`, Keras dtype policy), and the table gives its seconds
per epoch (the run's wall time over its epochs, compilation included), the
held-out bound `L_k` after the last epoch, and both against the first row,
the current setting. A setting qualifies when its bound stays within 0.1 nats
of the first row's. Writes benchmarks/results/efficiency.{json,md}.
"""

import argparse
import json
import sys
import tempfile

# name: (backend, steps_per_execution, jit_compile, dtype policy)
SETTINGS = {
    "jax": ("jax", 1, "auto", "float32"),
    "jax-spe10": ("jax", 10, "auto", "float32"),
    "jax-spe100": ("jax", 100, "auto", "float32"),
    "jax-bf16": ("jax", 1, "auto", "mixed_bfloat16"),
    "tensorflow": ("tensorflow", 1, "auto", "float32"),
    "tensorflow-spe10": ("tensorflow", 10, "auto", "float32"),
    "tensorflow-xla": ("tensorflow", 1, True, "float32"),
    "torch": ("torch", 1, "auto", "float32"),
}
TOLERANCE_NATS = 0.1


def worker(args):
    import keras

    from keras_vae import recipes, training

    _, spe, jit, policy = SETTINGS[args.setting]
    keras.mixed_precision.set_global_policy(policy)
    with tempfile.TemporaryDirectory() as run_dir:
        _, state = training.train(recipes.RECIPES[args.entry], run_dir, epochs=args.epochs,
                                  train_limit=args.train_limit, nll_points=0, verbose=0,
                                  steps_per_execution=spe, jit_compile=jit)
    print(json.dumps({"seconds": state["wall_time_s"],
                      "heldout_bound": state["history"][-1]["heldout_bound"]}))


COLUMNS = ["setting", "backend", "steps/call", "jit_compile", "policy", "s/epoch", "speed-up",
           "held-out L_k", "vs first row (nats)", "within 0.1 nats"]


def render(payload):
    from benchmarks.common import markdown_table

    env, rows = payload["environment"], payload["rows"]
    limit = f" --train-limit {payload['train_limit']}" if payload["train_limit"] else ""
    return (f"`{payload['entry']}`, {payload['epochs']} epochs from the same seed and data order "
            f"per setting, one process each; s/epoch includes compilation. Device: "
            f"{env['device']}. Commit {env['commit']}, {env['date']}.\n\n"
            + markdown_table(rows, COLUMNS)
            + f"\n\nCommand: `python -m benchmarks.efficiency --entry {payload['entry']} "
              f"--epochs {payload['epochs']}{limit} --settings {' '.join(payload['settings'])}`")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entry", default="mnist_iwae", help="recipe (default: mnist_iwae)")
    parser.add_argument("--epochs", type=int, default=5, help="epochs per setting (default: 5)")
    parser.add_argument("--train-limit", type=int,
                        help="first N training images only (default: all)")
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS),
                        help="the first is the reference (default: all, jax first)")
    parser.add_argument("--output", default="efficiency",
                        help="results name under benchmarks/results (default: efficiency)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--setting", help=argparse.SUPPRESS)
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)
    from benchmarks.common import environment, run_worker, write_results

    rows = []
    for name in args.settings:
        backend, spe, jit, policy = SETTINGS[name]
        extra = ["--train-limit", str(args.train_limit)] if args.train_limit else []
        result = run_worker("benchmarks.efficiency",
                            ["--worker", "--setting", name, "--entry", args.entry,
                             "--epochs", str(args.epochs), *extra],
                            {"KERAS_BACKEND": backend}, timeout=4 * 3600)
        per_epoch = result["seconds"] / args.epochs
        first = rows[0] if rows else None
        gap = result["heldout_bound"] - (first["_bound"] if first else result["heldout_bound"])
        rows.append({"setting": name, "backend": backend, "steps/call": spe,
                     "jit_compile": jit, "policy": policy, "s/epoch": f"{per_epoch:.1f}",
                     "speed-up": f"{(first['_s'] if first else per_epoch) / per_epoch:.2f}x",
                     "held-out L_k": f"{result['heldout_bound']:.2f}",
                     "vs first row (nats)": f"{gap:+.2f}",
                     "within 0.1 nats": "yes" if abs(gap) <= TOLERANCE_NATS else "no",
                     "_s": per_epoch, "_bound": result["heldout_bound"]})
        print(json.dumps({k: v for k, v in rows[-1].items() if not k.startswith("_")}),
              flush=True)
    payload = {"environment": environment(argv), "entry": args.entry, "epochs": args.epochs,
               "train_limit": args.train_limit, "settings": args.settings,
               "rows": [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows],
               "raw": [{"setting": r["setting"], "seconds_per_epoch": r["_s"],
                        "heldout_bound": r["_bound"]} for r in rows]}
    markdown = render(payload)
    print(markdown)
    write_results(args.output, payload, markdown)
    return payload


if __name__ == "__main__":
    main()
