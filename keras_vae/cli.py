"""The `keras-vae` command.

`keras-vae quickstart` trains the IWAE paper's MLP as a VAE (k=1) and an IWAE
(k=5) on statically binarized MNIST for a few epochs and prints their
K=5000 test log-likelihoods. `--backend` picks the Keras backend, so keras
is imported only after the arguments are read.
"""

import argparse
import json
import os
import sys
import time


def _set_backend(backend):
    if backend:
        if "keras" in sys.modules and os.environ.get("KERAS_BACKEND") != backend:
            raise RuntimeError("--backend must be chosen before keras is imported.")
        os.environ["KERAS_BACKEND"] = backend


def _table(rows, columns):
    widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in columns]
    lines = [" | ".join(c.ljust(w) for c, w in zip(columns, widths)),
             "-|-".join("-" * w for w in widths)]
    lines += [" | ".join(str(r[c]).ljust(w) for c, w in zip(columns, widths)) for r in rows]
    return "\n".join(lines)


def quickstart(args):
    import keras

    from keras_vae import IWAE, VAE, datasets, evaluation, networks

    keras.utils.set_random_seed(args.seed)
    x_train = datasets.to_unit_interval(datasets.load("binarized_mnist", "train")).reshape(-1, 784)
    x_test = datasets.to_unit_interval(datasets.load("binarized_mnist", "test")).reshape(-1, 784)
    x_test = x_test[: args.num_test]
    bias = networks.output_bias_from_data(x_train)
    rows = []
    for cls, k in ((VAE, 1), (IWAE, 5)):
        model = cls(networks.mlp_encoder((784,), 50),
                    networks.mlp_decoder(50, (784,), output_bias=bias),
                    num_samples=k, seed=args.seed)
        model.compile(optimizer=keras.optimizers.Adam(1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-4))
        start = time.perf_counter()
        history = model.fit(x_train, batch_size=args.batch_size, epochs=args.epochs,
                            verbose=args.verbose)
        train_time = time.perf_counter() - start
        start = time.perf_counter()
        s = evaluation.summarize(model, x_test, num_samples=args.num_samples,
                                 verbose=args.verbose)
        eval_time = time.perf_counter() - start
        rows.append({
            "model": f"{cls.__name__} k={k}",
            "epochs": args.epochs,
            "train bound": f"{history.history[cls.bound_name][-1]:.2f}",
            f"test NLL (K={args.num_samples})": f"{s['nll']:.2f} ± {s['nll_se']:.2f}",
            "bits/dim": f"{s['bits_per_dim']:.4f}",
            "mean ESS": f"{s['ess']:.1f}",
            "train s": f"{train_time:.0f}",
            "eval points/s": f"{s['points'] / eval_time:.1f}",
        })
    print(f"\nbinarized MNIST, {len(x_test)} test points, backend {keras.backend.backend()}")
    print(_table(rows, list(rows[0])))
    if args.output:
        with open(args.output, "w") as f:
            json.dump({"backend": keras.backend.backend(), "rows": rows}, f, indent=1)


def train(args):
    from keras_vae import recipes, training, zoo

    if args.entry not in recipes.RECIPES:
        raise SystemExit(f"Unknown recipe {args.entry!r}. Recipes: {sorted(recipes.RECIPES)}")
    recipe = recipes.RECIPES[args.entry]
    run_dir = args.run_dir or f"runs/{args.entry}"
    command = "keras-vae " + " ".join(args.argv)
    model, state = training.train(recipe, run_dir, epochs=args.epochs, data_dir=args.data_dir,
                                  seed=args.seed, train_limit=args.train_limit,
                                  nll_points=args.nll_points, verbose=args.verbose,
                                  command=command, steps_per_execution=args.steps_per_execution)
    if args.skip_finish:
        print(f"stopped after {state['epoch']} epochs; run again without --skip-finish to "
              "evaluate and write the zoo entry")
        return
    out = args.out or str(zoo.user_dir() / args.entry)
    results = training.finish(recipe, model, state, out, run_dir=run_dir, data_dir=args.data_dir,
                              test_points=args.test_points, device=args.device,
                              verbose=min(args.verbose, 1))
    print(f"wrote zoo entry {out} after {state['epoch']} epochs")
    print(_table([results], list(results)))


def _entry_recipe(entry):
    from keras_vae import recipes, zoo

    return recipes.Recipe.from_metadata(zoo.read_metadata(entry)["recipe"])


def evaluate(args):
    from keras_vae import evaluation, training, zoo

    model = zoo.load(args.entry)
    model.compile()  # evaluate() needs a compiled model; no optimizer is used
    test = training.load_test(_entry_recipe(args.entry), args.data_dir)
    test = test[: args.num_points] if args.num_points else test
    s = evaluation.summarize(model, test, num_samples=args.num_samples, verbose=args.verbose)
    row = {"entry": args.entry, "points": s["points"],
           f"NLL K={args.num_samples}": f"{s['nll']:.2f} ± {s['nll_se']:.2f}",
           "bits/dim": f"{s['bits_per_dim']:.4f}",
           f"-L_{model.num_samples}": f"{s['bound']:.2f}",
           "-ELBO": f"{s['elbo']:.2f} (analytic KL)",
           "mean ESS": f"{s['ess']:.1f}"}
    print(_table([row], list(row)))
    if args.output:
        with open(args.output, "w") as f:
            json.dump({**row, **s}, f, indent=1)


def samples(args):
    import keras
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np
    from matplotlib import pyplot as plt

    from keras_vae import training, zoo

    model = zoo.load(args.entry)
    recipe = _entry_recipe(args.entry)
    test = training.load_test(recipe, args.data_dir)
    n = args.num
    drawn = keras.ops.convert_to_numpy(model.sample(n * n, seed=args.seed))
    originals = test[:n]
    recon = keras.ops.convert_to_numpy(model.reconstruct(originals))
    # Means of p(x | z) are probabilities for Bernoulli, pixel values for 8-bit likelihoods.
    top = 1.0 if recipe.likelihood == "bernoulli" else 255.0
    height, width, channels = recipe.image_shape
    fig, axes = plt.subplots(n + 2, n, figsize=(n, n + 2))
    rows = [drawn[i * n:(i + 1) * n] for i in range(n)] + [originals, recon]
    for r, row in enumerate(rows):
        for c in range(n):
            image = np.clip(np.reshape(row[c], (height, width, channels)) / top, 0, 1)
            axes[r, c].imshow(image[..., 0] if channels == 1 else image, cmap="gray",
                              vmin=0, vmax=1)
            axes[r, c].axis("off")
    fig.suptitle(f"{args.entry}: {n}x{n} samples (mean of p(x|z)); test images and reconstructions")
    out = args.out or f"{args.entry}_samples.png"
    fig.savefig(out, dpi=80)
    plt.close(fig)
    print(f"wrote {out}")


def compress(args):
    import numpy as np

    from keras_vae import compression, zoo

    try:
        x = np.load(args.input, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise SystemExit(f"Cannot read INPUT {args.input!r} as a .npy array: {e}") from None
    model = zoo.load(args.entry)
    start = time.perf_counter()
    data = compression.compress(model, x, seed=args.seed, precision=args.precision,
                                batch_size=args.batch_size, verbose=args.verbose)
    seconds = time.perf_counter() - start
    with open(args.output, "wb") as f:
        f.write(data)
    n = max(len(x), 1)
    print(f"wrote {args.output}: {len(x)} images, {len(data)} bytes, "
          f"{compression.rate(data, x):.4f} bits/dim, {len(data) / n:.1f} bytes per image "
          f"(clean bits {compression.clean_bits(data)}), {len(x) / seconds:.1f} images/s")


def decompress(args):
    import numpy as np

    from keras_vae import compression, zoo

    try:
        with open(args.input, "rb") as f:
            data = f.read()
    except OSError as e:
        raise SystemExit(f"Cannot read INPUT {args.input!r}: {e}") from None
    model = zoo.load(args.entry)
    start = time.perf_counter()
    try:
        x = compression.decompress(model, data, allow_other_backend=args.allow_other_backend,
                                   verbose=args.verbose)
    except compression.StreamError as e:
        raise SystemExit(f"Cannot decompress {args.input!r}: {e}") from None
    seconds = time.perf_counter() - start
    np.save(args.output, x, allow_pickle=False)
    print(f"wrote {args.output}: {len(x)} images of shape {x.shape[1:]} ({x.dtype}), "
          f"{compression.rate(data, x):.4f} bits/dim, {len(x) / seconds:.1f} images/s")


def _run_epoch(runs_dir, name):
    """"N (in training)" for a recipe whose run in `runs_dir` has reached epoch N, else ""."""
    from keras_vae import training

    state = os.path.join(runs_dir, name, training.STATE)
    if not os.path.exists(state):
        return ""
    try:
        with open(state) as f:
            return f"{int(json.load(f)['epoch'])} (in training)"
    except (OSError, ValueError, KeyError, TypeError):
        # A listing must not fail on one damaged run; `keras-vae train` reports it in full.
        return f"unreadable {state}"


def list_zoo(args):
    from keras_vae import recipes, zoo

    rows = []
    for name in sorted(set(zoo.available()) | set(recipes.RECIPES)):
        if name in zoo.available():
            meta = zoo.read_metadata(name)
            recipe = meta.get("recipe", {})
            rows.append({"entry": name, "dataset": recipe.get("dataset", "?"),
                         "model": f"{recipe.get('model', '?')} k={recipe.get('num_samples', '?')}",
                         "test NLL (K=5000)": meta.get("results", {}).get("test NLL, K=5000 (nats)", "?"),
                         "bits/dim": meta.get("results", {}).get("test bits/dim", "?"),
                         "test points": meta.get("results", {}).get("test points", "?"),
                         "epochs": meta.get("epochs", "?"), "parameters": meta.get("parameters", "?")})
        else:
            r = recipes.RECIPES[name]
            rows.append({"entry": name, "dataset": r.dataset, "model": f"{r.model} k={r.num_samples}",
                         "test NLL (K=5000)": "recipe only", "bits/dim": "", "test points": "",
                         "epochs": _run_epoch(args.runs_dir, name), "parameters": ""})
    print(_table(rows, list(rows[0])))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="keras-vae", description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["jax", "tensorflow", "torch"],
                        help="Keras backend (default: $KERAS_BACKEND or Keras's default)")
    sub = parser.add_subparsers(dest="command", required=True)
    quick = sub.add_parser("quickstart", help="train VAE and IWAE briefly and print test NLL")
    quick.add_argument("--epochs", type=int, default=2)
    quick.add_argument("--batch-size", type=int, default=100)
    quick.add_argument("--num-test", type=int, default=1000)
    quick.add_argument("--num-samples", type=int, default=5000)
    quick.add_argument("--seed", type=int, default=0)
    quick.add_argument("--verbose", type=int, default=2)
    quick.add_argument("--output", help="write the table as JSON here")
    tr = sub.add_parser("train", help="train a zoo recipe (resumes where it stopped)")
    tr.add_argument("entry")
    tr.add_argument("--epochs", type=int, help="stop after this many epochs in all (default: the recipe's)")
    tr.add_argument("--run-dir", help="checkpoints and history (default: runs/ENTRY)")
    tr.add_argument("--out", help="zoo entry folder to write (default: $KERAS_VAE_ZOO_DIR/ENTRY)")
    tr.add_argument("--data-dir")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--train-limit", type=int, help="use only the first N training examples")
    tr.add_argument("--test-points", type=int, help="evaluate the entry on the first N test points")
    tr.add_argument("--nll-points", type=int, default=500,
                    help="held-out points of the K=5000 NLL recorded at each stage's end (0: none)")
    tr.add_argument("--steps-per-execution", type=int,
                    help="training steps per compiled call (default: 100 on a GPU with jax or "
                         "tensorflow, else 1; torch takes only 1)")
    tr.add_argument("--device", help="device to record in the metadata")
    tr.add_argument("--skip-finish", action="store_true",
                    help="train only; do not evaluate or write the zoo entry")
    tr.add_argument("--verbose", type=int, default=2)
    ev = sub.add_parser("evaluate", help="K-sample test log-likelihood of a zoo entry")
    ev.add_argument("entry")
    ev.add_argument("--num-samples", type=int, default=5000)
    ev.add_argument("--num-points", type=int, help="first N test points (default: all)")
    ev.add_argument("--data-dir")
    ev.add_argument("--verbose", type=int, default=1)
    ev.add_argument("--output", help="write the result as JSON here")
    zo = sub.add_parser("zoo", help="list zoo entries and recipes")
    zo.add_argument("--runs-dir", default="runs",
                    help="where `keras-vae train` keeps runs; recipes with a run there show its epoch")
    sa = sub.add_parser("samples", help="PNG grid of samples and reconstructions")
    sa.add_argument("entry")
    sa.add_argument("--num", type=int, default=8, help="grid side")
    sa.add_argument("--seed", type=int, default=0)
    sa.add_argument("--out", help="PNG path (default: ENTRY_samples.png)")
    sa.add_argument("--data-dir")
    co = sub.add_parser("compress", help="code images losslessly with a zoo entry (bits-back ANS)")
    co.add_argument("entry")
    co.add_argument("input", help=".npy array (n, *event) in the entry's likelihood's support")
    co.add_argument("output", help="compressed stream to write")
    co.add_argument("--seed", type=int, default=0, help="seed of the clean bits (default: 0)")
    co.add_argument("--precision", type=int, default=12,
                    help="latent buckets per dimension, as a power of 2 (default: 12)")
    co.add_argument("--batch-size", type=int, default=32,
                    help="images per network call (default: 32)")
    co.add_argument("--verbose", type=int, default=1, help="1: progress bar (default: 1)")
    de = sub.add_parser("decompress", help="decode a stream written by `keras-vae compress`")
    de.add_argument("entry")
    de.add_argument("input", help="compressed stream")
    de.add_argument("output", help=".npy file to write")
    de.add_argument("--allow-other-backend", action="store_true",
                    help="try a stream written on another backend (the data's sha256 decides)")
    de.add_argument("--verbose", type=int, default=1, help="1: progress bar (default: 1)")
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.argv = argv
    _set_backend(args.backend)
    commands = {"quickstart": quickstart, "train": train, "evaluate": evaluate, "zoo": list_zoo,
                "samples": samples, "compress": compress, "decompress": decompress}
    commands[args.command](args)


if __name__ == "__main__":
    main()
