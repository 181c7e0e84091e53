"""Training and evaluation speed: keras_vae per backend vs plain PyTorch and pythae.

    python -m benchmarks.throughput            # full run, about 15 minutes on 2 cores
    python -m benchmarks.throughput --quick    # a smoke run, under 2 minutes

Trains the IWAE paper's MLP (784-200-200-50, tanh) on binarized MNIST
(training split from $KERAS_VAE_DATA_DIR, else the bundled test split:
speed does not depend on which) and reports examples/s for VAE k=1, IWAE k=5
and k=50 at batch 20 and 128, with and without compilation, and points/s
for the K=5000 log-likelihood. Each backend runs in its own process; numbers
are medians of repeats after a warm-up. Writes benchmarks/results/throughput.{json,md}
and refreshes the README's table.
"""

import argparse
import itertools
import json
import os
import sys

CONFIGS = [("VAE", 1), ("IWAE", 5), ("IWAE", 50)]
BATCHES = [20, 128]
MODES = {"jax": ["jit", "no jit"], "tensorflow": ["graph", "XLA"], "torch": ["eager", "torch.compile"]}


def _data(n):
    import numpy as np

    from keras_vae import datasets

    try:
        x, source = datasets.load("binarized_mnist", "train"), "train"
    except (FileNotFoundError, ValueError):
        x, source = datasets.load("binarized_mnist", "test"), "test (bundled)"
    x = datasets.to_unit_interval(x, 1).reshape(-1, 784)
    reps = -(-n // len(x))
    return np.concatenate([x] * reps)[:n], source


def keras_worker(args):
    import keras

    from benchmarks.common import median_rate
    from keras_vae import IWAE, VAE, networks

    backend = keras.backend.backend()
    x, source = _data(max(args.train_examples, args.eval_points))
    rows = []
    for mode in MODES[backend][:1] if args.quick or args.default_modes else MODES[backend]:
        compiled = mode in ("jit", "XLA", "torch.compile")
        scale = 0.2 if mode == "no jit" else 1.0
        for spe, (name, k), batch in itertools.product(
                [1] if backend == "torch" else args.steps_per_execution, CONFIGS, BATCHES):
            n = max(batch, int(args.train_examples * scale) // batch * batch)
            keras.utils.set_random_seed(0)
            cls = VAE if name == "VAE" else IWAE
            model = cls(networks.mlp_encoder((784,), 50), networks.mlp_decoder(50, (784,)),
                        num_samples=k, seed=0)
            model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=compiled,
                          steps_per_execution=spe)
            rate = median_rate(lambda: model.fit(x[:n], batch_size=batch, epochs=1, verbose=0,
                                                 shuffle=False), n, args.repeats)
            rows.append({"impl": "keras_vae", "backend": backend,
                         "mode": mode if spe == 1 else f"{mode}, {spe} steps/call",
                         "model": name, "k": k, "batch": batch, "examples_per_s": rate,
                         "steps_per_execution": spe})
            keras.backend.clear_session()
    model = IWAE(networks.mlp_encoder((784,), 50), networks.mlp_decoder(50, (784,)), seed=0)
    model.build((None, 784))
    points = x[: args.eval_points]
    rate = median_rate(lambda: model.log_likelihood(points, num_samples=args.num_samples, verbose=0),
                       len(points), args.repeats)
    rows.append({"impl": "keras_vae", "backend": backend, "mode": MODES[backend][0],
                 "eval_points_per_s": rate, "num_samples": args.num_samples})
    return {"rows": rows, "data": source}


def torch_worker(args):
    import torch

    from benchmarks.common import median_rate
    from benchmarks.torch_reference import PlainIWAE, plain_train_step, pythae_model

    x, source = _data(max(args.train_examples, args.eval_points))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.set_default_device(device)  # the models' parameters and noise live there too
    x = torch.from_numpy(x).to(device)
    rows = []

    def synchronized(run):
        def timed():
            result = run()
            if device == "cuda":
                torch.cuda.synchronize()  # time the work, not its queueing
            return result
        return timed

    def loop(step, batch, n):
        @synchronized
        def run():
            for start in range(0, n, batch):
                step(x[start:start + batch])
        return run

    for mode in ("eager",) if args.quick or args.default_modes else ("eager", "torch.compile"):
        for name, k in CONFIGS:
            for batch in BATCHES:
                n = max(batch, args.train_examples // batch * batch)
                torch.manual_seed(0)
                model = PlainIWAE(num_samples=k)
                step = plain_train_step(model, torch.optim.Adam(model.parameters(), 1e-3))
                if mode == "torch.compile":
                    step = torch.compile(step)
                rows.append({"impl": "plain torch", "backend": "torch", "mode": mode, "model": name,
                             "k": k, "batch": batch,
                             "examples_per_s": median_rate(loop(step, batch, n), n, args.repeats)})
    model = PlainIWAE()
    points = x[: args.eval_points]
    rows.append({"impl": "plain torch", "backend": "torch", "mode": "eager",
                 "eval_points_per_s": median_rate(
                     synchronized(lambda: model.log_likelihood(points, args.num_samples)),
                     len(points), args.repeats),
                 "num_samples": args.num_samples})
    try:
        import pythae  # noqa: F401
    except ImportError:  # the table then says it was not measured, rather than dropping it
        return {"rows": rows, "data": source, "not_measured": ["pythae (not installed)"]}
    for name, k in CONFIGS:
        for batch in BATCHES:
            n = max(batch, args.train_examples // batch * batch)
            model = pythae_model(k)
            optimizer = torch.optim.Adam(model.parameters(), 1e-3)

            def step(xb, model=model, optimizer=optimizer):
                optimizer.zero_grad(set_to_none=True)
                model({"data": xb}).loss.backward()
                optimizer.step()

            rows.append({"impl": "pythae", "backend": "torch", "mode": "eager", "model": name,
                         "k": k, "batch": batch,
                         "examples_per_s": median_rate(loop(step, batch, n), n, args.repeats)})
    model = pythae_model(50).eval()
    few = x[: max(2, args.eval_points // 10)]
    with torch.no_grad():
        rate = median_rate(lambda: model.get_nll(few, n_samples=args.num_samples, batch_size=500),
                           len(few), args.repeats)
    rows.append({"impl": "pythae", "backend": "torch", "mode": "eager", "eval_points_per_s": rate,
                 "num_samples": args.num_samples})
    return {"rows": rows, "data": source}


def _fmt(value):
    return "" if value is None else (f"{value / 1000:.2f}k" if value >= 1000 else f"{value:.1f}")


def markdown(payload):
    rows = payload["rows"]
    train_cols = [f"{m} k={k} b={b}" for m, k in CONFIGS for b in BATCHES]
    table = {}
    for r in rows:
        key = (r["impl"], r["backend"], r["mode"])
        entry = table.setdefault(key, {"implementation": r["impl"], "backend": r["backend"],
                                       "mode": r["mode"]})
        if "examples_per_s" in r:
            entry[f"{r['model']} k={r['k']} b={r['batch']}"] = _fmt(r["examples_per_s"])
        else:
            entry[f"K={r['num_samples']} eval points/s"] = _fmt(r["eval_points_per_s"])
    from benchmarks.common import markdown_table

    eval_col = [c for c in {k for e in table.values() for k in e} if c.endswith("eval points/s")]
    env = payload["environment"]
    lines = [
        f"Training examples/s (median of {payload['args']['repeats']} runs after warm-up) and K-sample "
        f"log-likelihood points/s. Device: {env['device']}. Commit {env['commit']}, {env['date']}. "
        f"Data: binarized MNIST {payload['data']}."
        + "".join(f" Not measured: {what}." for what in payload.get("not_measured", []))
        + (" **Quick run: few examples, not for comparison.**" if payload["args"]["quick"] else ""),
        "",
        markdown_table(list(table.values()), ["implementation", "backend", "mode"] + train_cols + eval_col),
    ]
    summary = payload.get("summary")
    if summary:
        lines += ["", "Targets: " + "; ".join(f"{k}: {v}" for k, v in summary.items())]
    lines += ["", "Command: `python -m " + " ".join(env["argv"]) + "`"]
    return "\n".join(lines)


def summarize(rows):
    def rate(impl, mode, model="IWAE", k=50, batch=20, backend=None):
        for r in rows:
            if (r["impl"], r["mode"], r.get("model"), r.get("k"), r.get("batch")) == (impl, mode, model, k, batch) \
                    and (backend is None or r["backend"] == backend):
                return r["examples_per_s"]
        return None

    out = {}
    best = max((r for r in rows if r["impl"] == "keras_vae" and r.get("model") == "IWAE"
                and r.get("k") == 50 and r.get("batch") == 20), key=lambda r: r["examples_per_s"], default=None)
    compiled = rate("plain torch", "torch.compile")
    plain = rate("plain torch", "eager")
    if best and compiled:
        out["fastest backend / torch.compile loop, IWAE k=50 b=20"] = (
            f"{best['examples_per_s'] / compiled:.2f}x ({best['backend']} {best['mode']})")
    if plain:
        for backend in MODES:
            mine = [r["examples_per_s"] for r in rows if r["impl"] == "keras_vae" and r["backend"] == backend
                    and r.get("model") == "IWAE" and r.get("k") == 50 and r.get("batch") == 20]
            if mine:
                out[f"{backend} best / plain torch loop"] = f"{max(mine) / plain:.2f}x"
    evals = [r for r in rows if "eval_points_per_s" in r and r["impl"] == "keras_vae"]
    if evals:
        top = max(evals, key=lambda r: r["eval_points_per_s"])
        out[f"K={top['num_samples']} evaluation, fastest backend"] = (
            f"{top['eval_points_per_s']:.1f} points/s ({top['backend']})")
    return out


def _positive_ints(text):
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(
            f"expected positive integers separated by commas, e.g. 1,10. Received: {text!r}")
    return values


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="few examples, one repeat, default modes only (a smoke run)")
    parser.add_argument("--backends", default="jax,tensorflow,torch")
    parser.add_argument("--no-peers", action="store_true", help="skip plain torch and pythae")
    parser.add_argument("--default-modes", action="store_true",
                        help="only each backend's default mode (jit, graph, eager): no XLA, "
                             "no eager jax, no torch.compile")
    parser.add_argument("--output", default="throughput", help="results file stem")
    parser.add_argument("--worker", choices=["keras", "torch"], help=argparse.SUPPRESS)
    parser.add_argument("--train-examples", type=int)
    parser.add_argument("--eval-points", type=int)
    parser.add_argument("--num-samples", type=int)
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--steps-per-execution", type=_positive_ints, default=[1],
                        help="training steps per compiled call on jax and tensorflow, one or "
                             "more comma-separated (a row each; default: 1; a GPU wants about "
                             "100)")
    parser.add_argument("--quick-worker", dest="quick", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    defaults = (200, 4, 200, 1) if args.quick else (5000, 100, 5000, 3)
    for name, value in zip(("train_examples", "eval_points", "num_samples", "repeats"), defaults):
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.worker:
        result = keras_worker(args) if args.worker == "keras" else torch_worker(args)
        print(json.dumps(result))
        return result

    from benchmarks.common import environment, run_worker, update_readme, write_results

    passthrough = [f"--train-examples={args.train_examples}", f"--eval-points={args.eval_points}",
                   f"--num-samples={args.num_samples}", f"--repeats={args.repeats}",
                   f"--steps-per-execution={','.join(map(str, args.steps_per_execution))}"]
    if args.quick:
        passthrough.append("--quick-worker")
    if args.default_modes:
        passthrough.append("--default-modes")
    rows, data = [], None
    for backend in [b for b in args.backends.split(",") if b]:
        print(f"measuring keras_vae on {backend} ...", flush=True)
        result = run_worker("benchmarks.throughput", ["--worker=keras", *passthrough],
                            {"KERAS_BACKEND": backend})
        rows += result["rows"]
        data = result["data"]
    if not args.no_peers:
        print("measuring plain torch and pythae ...", flush=True)
        result = run_worker("benchmarks.throughput", ["--worker=torch", *passthrough])
        rows += result["rows"]
        data = result["data"]
        not_measured = result.get("not_measured", [])
    else:
        not_measured = ["plain torch and pythae (--no-peers)"]
    payload = {"environment": environment(["benchmarks.throughput", *argv]), "args": vars(args),
               "data": data, "rows": rows, "not_measured": not_measured}
    payload["summary"] = summarize(rows)
    text = markdown(payload)
    print(text)
    write_results(args.output, payload, text)
    if not args.quick and args.output == "throughput":
        update_readme("throughput", text)
    return payload


if __name__ == "__main__":
    main()
