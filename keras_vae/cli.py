"""The `keras-vae` command.

`keras-vae quickstart` trains the IWAE paper's MLP as a VAE (k=1) and an IWAE
(k=5) on statically binarized MNIST for a few epochs and prints their
K=5000 test log-likelihoods. `--backend` picks the Keras backend, so keras
is imported only after the arguments are read.
"""

import argparse
import json
import os
import pathlib
import re
import sys
import time

# `train --time-limit` counts from the command's start, imports included.
_STARTED = time.time()

_STDOUT = [sys.stdout]


def _out(*values, **kwargs):
    """Results: to standard output. Progress bars and logs go to standard error."""
    print(*values, file=_STDOUT[0], **kwargs)


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
    x_train = datasets.to_unit_interval(datasets.load("binarized_mnist", "train"), 1).reshape(-1, 784)
    x_test = datasets.to_unit_interval(datasets.load("binarized_mnist", "test"), 1).reshape(-1, 784)
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
    _out(f"\nbinarized MNIST, {len(x_test)} test points, backend {keras.backend.backend()}")
    _out(_table(rows, list(rows[0])))
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
    try:
        model, state = training.train(
            recipe, run_dir, epochs=args.epochs, data_dir=args.data_dir, seed=args.seed,
            train_limit=args.train_limit, nll_points=args.nll_points, verbose=args.verbose,
            command=command, steps_per_execution=args.steps_per_execution,
            binarization=args.binarization,
            stop_at=args.time_limit and _STARTED + args.time_limit)
    except training.RunError as e:
        raise SystemExit(f"Cannot train {args.entry!r}: {e}") from None
    if state["epoch"] < (args.epochs or recipe.total_epochs):
        _out(f"stopped after {state['epoch']} epochs at the time limit; the same command "
             "resumes the run")
        return
    if args.skip_finish:
        _out(f"stopped after {state['epoch']} epochs; run again without --skip-finish to "
              "evaluate and write the zoo entry")
        return
    out = args.out or str(zoo.user_dir() / args.entry)
    results = training.finish(recipe, model, state, out, data_dir=args.data_dir,
                              test_points=args.test_points, device=args.device,
                              verbose=min(args.verbose, 1), command=command,
                              log_p_path=pathlib.Path(run_dir) / "finish_log_p.json")
    _out(f"wrote zoo entry {out} after {state['epoch']} epochs")
    _out(_table([results], list(results)))


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
    _out(_table([row], list(row)))
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
    fig, axes = plt.subplots(n + 2, n, figsize=(n + 2, n + 2))
    rows = [drawn[i * n:(i + 1) * n] for i in range(n)] + [originals, recon]
    for r, row in enumerate(rows):
        for c in range(n):
            image = np.clip(np.reshape(row[c], (height, width, channels)) / top, 0, 1)
            axes[r, c].imshow(image[..., 0] if channels == 1 else image, cmap="gray",
                              vmin=0, vmax=1)
            axes[r, c].axis("off")
    # Label each block at the left of its first row: samples, then one row each.
    for row, label in ((0, f"samples from p(z)\n(mean of p(x | z), {n}x{n})"),
                       (n, "test images"), (n + 1, "reconstructions")):
        axes[row, 0].text(-0.15, 0.5, label, transform=axes[row, 0].transAxes, ha="right",
                          va="center", fontsize=8)
    fig.subplots_adjust(left=0.22)
    fig.suptitle(f"{args.entry}")
    out = args.out or f"{args.entry}_samples.png"
    fig.savefig(out, dpi=80)
    plt.close(fig)
    _out(f"wrote {out}")


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
    _out(f"wrote {args.output}: {len(x)} images, {len(data)} bytes, "
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
    _out(f"wrote {args.output}: {len(x)} images of shape {x.shape[1:]} ({x.dtype}), "
          f"{compression.rate(data, x):.4f} bits/dim, {len(x) / seconds:.1f} images/s")


def _run_epoch(runs_dir, name):
    """"N (in training)" for a recipe whose run in `runs_dir` has reached epoch N, else ""."""
    from keras_vae import training

    state = os.path.join(runs_dir, name, training.STATE)
    if not os.path.exists(state):
        # A fresh clone tracks only the record; the state is in the git history.
        state = os.path.join(runs_dir, name, training.RECORD)
        if not os.path.exists(state):
            return ""
    try:
        with open(state) as f:
            return f"{int(json.load(f)['epoch'])} (in training)"
    except (OSError, ValueError, KeyError, TypeError):
        # A listing must not fail on one damaged run; `keras-vae train` reports it in full.
        return f"unreadable {state}"


def list_zoo(args):
    _out(zoo_table(args.runs_dir))


def zoo_table(runs_dir="runs"):
    """The `keras-vae zoo` listing: every shipped entry's card results, and the recipes."""
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
                         "epochs": _run_epoch(runs_dir, name), "parameters": ""})
    return _table(rows, list(rows[0]))


def _fail(message):
    """One line on stderr and exit status 2, as argparse does for a bad argument."""
    print(f"keras-vae: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _check_entry(args):
    """Refuses an unknown entry name before any backend is imported."""
    import difflib

    from keras_vae import recipes, zoo

    name = getattr(args, "entry", None)
    if name is None:
        return
    if args.command == "train":
        known, kind = sorted(recipes.RECIPES), "recipe"
    else:
        if os.path.isdir(name):
            return
        known, kind = zoo.available(), "zoo entry"
        if name not in known and name in recipes.RECIPES:
            _fail(f"zoo entry {name!r} is a recipe with no trained weights here; train it with "
                  f"`keras-vae train {name}` or put an entry in {zoo.user_dir() / name}")
    if name not in known:
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
        hint = (f"did you mean {', '.join(close)}?" if close
                else f"known: {', '.join(known) or 'none'}")
        _fail(f"unknown {kind} {name!r}; {hint}")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Adds "(default: X)" where the help text does not already say the default."""

    def _get_help_string(self, action):
        if "default" in (action.help or "") or action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


def _parser():
    backend = argparse.ArgumentParser(add_help=False)
    # Accepted before or after the command; SUPPRESS keeps the top-level value otherwise.
    backend.add_argument("--backend", choices=["jax", "tensorflow", "torch"],
                         default=argparse.SUPPRESS,
                         help="Keras backend (default: $KERAS_BACKEND, else Keras's default)")
    parser = argparse.ArgumentParser(prog="keras-vae", description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["jax", "tensorflow", "torch"], default=None,
                        help="Keras backend (default: $KERAS_BACKEND, else Keras's default)")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name, text):
        return sub.add_parser(name, help=text, description=text, parents=[backend],
                              formatter_class=_HelpFormatter)

    quick = command("quickstart", "train VAE and IWAE briefly and print test NLL")
    quick.add_argument("--epochs", type=int, default=2, help="training epochs of each model")
    quick.add_argument("--batch-size", type=int, default=100, help="training batch size")
    quick.add_argument("--num-test", type=int, default=1000, help="test points evaluated")
    quick.add_argument("--num-samples", type=int, default=5000, help="K of the test NLL")
    quick.add_argument("--seed", type=int, default=0, help="random seed")
    quick.add_argument("--verbose", type=int, default=2, help="Keras verbosity (0, 1, 2)")
    quick.add_argument("--output", help="write the table as JSON here")
    tr = command("train", "train a zoo recipe (resumes where it stopped)")
    tr.add_argument("entry", help="recipe name (see `keras-vae zoo`)")
    tr.add_argument("--epochs", type=int,
                    help="stop after this many epochs in all (default: the recipe's schedule)")
    tr.add_argument("--run-dir", help="checkpoints and history (default: runs/ENTRY)")
    tr.add_argument("--out", help="zoo entry folder to write (default: $KERAS_VAE_ZOO_DIR/ENTRY)")
    tr.add_argument("--data-dir", help="dataset folder (default: $KERAS_VAE_DATA_DIR, else the "
                                       "Keras cache with a checksummed download)")
    tr.add_argument("--seed", type=int, default=0, help="random seed of the run")
    tr.add_argument("--train-limit", type=int, help="use only the first N training examples")
    tr.add_argument("--test-points", type=int,
                    help="evaluate the entry on the first N test points (default: all)")
    tr.add_argument("--nll-points", type=int, default=500,
                    help="held-out points of the K=5000 NLL recorded at each stage's end (0: none)")
    tr.add_argument("--steps-per-execution", type=int,
                    help="training steps per compiled call (default: 100 on a GPU with jax or "
                         "tensorflow, else 1; torch takes only 1)")
    tr.add_argument("--binarization", choices=("host", "device"),
                    help="where dynamic binarization draws each epoch's pixels: on the host "
                         "(NumPy, seeded by epoch) or inside each training step (seeded by step); "
                         "fixed for a run at its start (default: device on a GPU, host on a CPU)")
    tr.add_argument("--time-limit", type=float,
                    help="seconds from the command's start: stop, checkpointed, before an epoch that "
                         "would end later (judged by the last epoch's time and, at a stage's "
                         "end, the K=5000 evaluation's; default: no limit)")
    tr.add_argument("--device", help="device to record in the metadata (default: detected)")
    tr.add_argument("--skip-finish", action="store_true",
                    help="train only; do not evaluate or write the zoo entry")
    tr.add_argument("--verbose", type=int, default=2, help="Keras verbosity (0, 1, 2)")
    ev = command("evaluate", "K-sample test log-likelihood of a zoo entry")
    ev.add_argument("entry", help="zoo entry name or folder")
    ev.add_argument("--num-samples", type=int, default=5000, help="K importance samples")
    ev.add_argument("--num-points", type=int, help="first N test points (default: all)")
    ev.add_argument("--data-dir", help="dataset folder (default: the bundled test split)")
    ev.add_argument("--verbose", type=int, default=1, help="1: progress bar")
    ev.add_argument("--output", help="write the result as JSON here")
    zo = command("zoo", "list zoo entries and recipes")
    zo.add_argument("--runs-dir", default="runs",
                    help="where `keras-vae train` keeps runs; recipes with a run there show its epoch")
    sa = command("samples", "PNG grid of samples, test images and reconstructions")
    sa.add_argument("entry", help="zoo entry name or folder")
    sa.add_argument("--num", type=int, default=8, help="grid side")
    sa.add_argument("--seed", type=int, default=0, help="seed of the prior samples")
    sa.add_argument("--out", help="PNG path (default: ENTRY_samples.png)")
    sa.add_argument("--data-dir", help="dataset folder (default: the bundled test split)")
    co = command("compress", "code images losslessly with a zoo entry (bits-back ANS)")
    co.add_argument("entry", help="zoo entry name or folder")
    co.add_argument("input", help=".npy array (n, *event) in the entry's likelihood's support")
    co.add_argument("output", help="compressed stream to write")
    co.add_argument("--seed", type=int, default=0, help="seed of the clean bits")
    co.add_argument("--precision", type=int, default=12,
                    help="latent buckets per dimension, as a power of 2")
    co.add_argument("--batch-size", type=int, default=32, help="images per network call")
    co.add_argument("--verbose", type=int, default=1, help="1: progress bar")
    de = command("decompress", "decode a stream written by `keras-vae compress`")
    de.add_argument("entry", help="zoo entry name or folder (the one that compressed)")
    de.add_argument("input", help="compressed stream")
    de.add_argument("output", help=".npy file to write")
    de.add_argument("--allow-other-backend", action="store_true",
                    help="try a stream written on another backend (the data's sha256 decides)")
    de.add_argument("--verbose", type=int, default=1, help="1: progress bar")
    return parser


def main(argv=None):
    import contextlib

    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    args.argv = argv
    _check_entry(args)
    _set_backend(args.backend)
    from keras_vae._quiet import start_tensorflow_quietly

    start_tensorflow_quietly()
    commands = {"quickstart": quickstart, "train": train, "evaluate": evaluate, "zoo": list_zoo,
                "samples": samples, "compress": compress, "decompress": decompress}
    # Progress bars and logs (Keras prints them to stdout) go to stderr, so that
    # `keras-vae ... > file` captures only the results.
    _STDOUT[0] = sys.stdout
    progress = sys.stderr if sys.stderr.isatty() else _Plain(sys.stderr)
    try:
        with contextlib.redirect_stdout(progress):
            commands[args.command](args)
    except FileNotFoundError as e:
        # Missing data or a wrong KERAS_VAE_DATA_DIR: the message says what to do; a
        # traceback would only bury it.
        print(f"keras-vae: error: {e.args[-1] if e.filename is None else e}", file=sys.stderr)
        raise SystemExit(2) from None


class _Plain:
    """A text stream with Keras's ANSI styling removed (progress written to a file)."""

    _STYLE = re.compile(r"\x1b\[[0-9;]*m")

    def __init__(self, stream):
        self.stream = stream

    def write(self, text):
        return self.stream.write(self._STYLE.sub("", text))

    def isatty(self):
        return False

    def __getattr__(self, name):
        return getattr(self.stream, name)


if __name__ == "__main__":
    main()
