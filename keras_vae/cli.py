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
    import numpy as np

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
        ll, ess = model.log_likelihood(x_test, num_samples=args.num_samples, return_ess=True,
                                       verbose=args.verbose)
        eval_time = time.perf_counter() - start
        nll = -ll.mean()
        rows.append({
            "model": f"{cls.__name__} k={k}",
            "epochs": args.epochs,
            "train bound": f"{history.history[cls.bound_name][-1]:.2f}",
            f"test NLL (K={args.num_samples})": f"{nll:.2f} ± {ll.std(ddof=1) / np.sqrt(len(ll)):.2f}",
            "bits/dim": f"{evaluation.bits_per_dim(ll.mean(), 784):.4f}",
            "mean ESS": f"{ess.mean():.1f}",
            "train s": f"{train_time:.0f}",
            "eval points/s": f"{len(ll) / eval_time:.1f}",
        })
    print(f"\nbinarized MNIST, {len(x_test)} test points, backend {keras.backend.backend()}")
    print(_table(rows, list(rows[0])))
    if args.output:
        with open(args.output, "w") as f:
            json.dump({"backend": keras.backend.backend(), "rows": rows}, f, indent=1)


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
    args = parser.parse_args(argv)
    _set_backend(args.backend)
    if args.command == "quickstart":
        quickstart(args)


if __name__ == "__main__":
    main()
