"""Estimators side by side on dynamic MNIST: VAE, IWAE, MIWAE, CIWAE, PIWAE, IWAE-DReG, IWAE-STL.

    python -m benchmarks.estimators            # 20 epochs each, K=5000 on 1000 test points
    python -m benchmarks.estimators --quick    # a smoke run on a few hundred examples

Every model is the IWAE paper's one-layer MLP trained by `keras_vae.training.train`
with the same recipe (Adam, batch 20, the paper's learning-rate stages), seed
and data order for the same number of epochs, with 64 samples per example
(MIWAE and PIWAE as 8 groups of 8; the VAE averages the ELBO over 64).
Each run lives in benchmarks/runs/estimators/<model>/ and resumes after an
interruption; its checkpoint and state are kept in the git history by
runs/checkpoints.py, so a run stopped by the end of a session continues from
a fresh clone after `restore`. A finished model is evaluated at
once and its row written to
benchmarks/results/estimators/<model>.json, so the benchmark continues from
the first unfinished model when run again (`--max-models` bounds one call).
Columns: test NLL (IS, K=5000), the bound L_64 on the same points, active
units (Burda et al. 2015) and the gradient signal-to-noise ratio of encoder
and decoder on a fixed batch (Rainforth et al. 2018). The plot shows the SNR
against k for the plain, STL and DReG encoder gradients of the trained IWAE.
"""

import argparse
import json
import pathlib
import sys

RUNS = pathlib.Path(__file__).parent / "runs" / "estimators"
# label: (model class, samples per group K, model options).
MODELS = {
    "VAE": ("VAE", 64, {}),
    "IWAE": ("IWAE", 64, {}),
    "MIWAE(8,8)": ("MIWAE", 8, {"num_groups": 8}),
    "CIWAE(0.05)": ("CIWAE", 64, {"beta": 0.05}),
    "PIWAE(8,8)": ("PIWAE", 8, {"num_groups": 8}),
    "IWAE-DReG": ("IWAE", 64, {"gradient_estimator": "dreg"}),
    "IWAE-STL": ("IWAE", 64, {"gradient_estimator": "stl"}),
}
# Rainforth et al. 2018 (arXiv:1802.04537), MNIST test NLL after full training.
PUBLISHED = {"MIWAE(8,8)": 84.97, "PIWAE(8,8)": 84.46, "CIWAE(0.05)": 84.57}
SNR_KS = (1, 4, 16, 64, 256)


def slug(label):
    return label.lower().replace("(", "_").replace(")", "").replace(",", "_").replace(".", "")


def recipe_for(label):
    from keras_vae.recipes import Recipe

    cls, k, options = MODELS[label]
    return Recipe(f"estimators_{slug(label)}", "mnist", cls, k, dynamic_binarization=True,
                  options=options)


def _snr_batch(recipe, data_dir, size):
    from keras_vae import datasets, training

    train_x, _, _ = training.load_data(recipe, data_dir, train_limit=size)
    return datasets.binarize(train_x, 7)


def test_nll(model, test, num_samples):
    """K-sample NLL on the test points with its standard error, and each point's log p.

    The per-point values let two models be compared on the same points with a
    paired standard error.
    """
    from keras_vae import evaluation

    model.compile()
    s = evaluation.summarize(model, test, num_samples=num_samples, return_log_p=True)
    return {"nll": s["nll"], "nll_se": s["nll_se"], "points": s["points"],
            "log_p": [round(float(v), 4) for v in s["log_p"]]}


def evaluate(model, recipe, test, snr_x, args):
    import numpy as np

    from keras_vae import diagnostics

    nll = test_nll(model, test, args.num_samples)
    l64 = model.log_likelihood(test, num_samples=64, verbose=0)
    active, _ = diagnostics.active_units(model, test)
    snr = diagnostics.gradient_snr(model, snr_x, num_draws=args.snr_draws)
    return {**nll, "l64": float(-np.mean(l64)), "active_units": active,
            "snr_encoder": snr["encoder"], "snr_decoder": snr["decoder"]}


def add_per_point_values(path, runs, test, num_samples):
    """A row stored before rows kept per-point values: its NLL again, from the run's checkpoint.

    Same points and K; new draws, so the NLL moves by Monte Carlo noise only.
    The other columns (bound, active units, SNR) are kept.
    """
    import keras

    from keras_vae import training

    row = json.loads(path.read_text())
    run_dir = runs / slug(row["model"])
    if ("log_p" in row or row["points"] != len(test)
            or not (run_dir / training.CKPT).exists()):
        return row
    print(f"{row['model']}: per-point test log p from {run_dir / training.CKPT}", flush=True)
    row.update(test_nll(_load_run(row["model"], run_dir), test, num_samples),
               nll_backend=keras.backend.backend())
    path.write_text(json.dumps(row, indent=1) + "\n")
    keras.backend.clear_session()
    return row


def paired_against(rows, reference="IWAE"):
    """Each row's NLL minus the reference model's on the same points, with the paired SE."""
    from benchmarks.common import paired_difference

    ref = next((r for r in rows if r["model"] == reference and "log_p" in r), None)
    out = {}
    for r in rows:
        if ref is None or r is ref or "log_p" not in r or len(r["log_p"]) != len(ref["log_p"]):
            continue
        p = paired_difference(ref["log_p"], r["log_p"])
        out[r["model"]] = (p["difference"], p["paired_se"])
    return out


def _load_run(label, run_dir):
    import keras

    from keras_vae import training

    recipe = recipe_for(label)
    model = recipe.build(seed=0)
    model.compile(optimizer=keras.optimizers.Adam())
    model.build((None,) + recipe.input_shape)
    # The checkpoint holds the optimizer's state too.
    model.optimizer.build(model.trainable_variables)
    model.load_weights(run_dir / training.CKPT)
    return model


def snr_against_k(model, snr_x, draws, ks=SNR_KS):
    """SNR of the IWAE objective's gradients for each k and encoder estimator, same networks."""
    from keras_vae import diagnostics, models

    curves = {}
    for estimator in ("iwae", "stl", "dreg"):
        for k in ks:
            probe = models.IWAE(model.encoder, model.decoder, num_samples=k,
                                gradient_estimator=estimator, seed=0)
            snr = diagnostics.gradient_snr(probe, snr_x, num_draws=draws)
            curves.setdefault(estimator, []).append(
                {"k": k, "encoder": snr["encoder"], "decoder": snr["decoder"]})
    return curves


def plot_snr(curves, path):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), sharex=True)
    for ax, part in zip(axes, ("encoder", "decoder")):
        for estimator, points in curves.items():
            ax.plot([p["k"] for p in points], [p[part] for p in points], "o-", label=estimator)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("k (samples per example)")
        ax.set_title(f"{part} gradient SNR")
    axes[0].legend(title="encoder gradient")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def render(payload):
    from benchmarks.common import markdown_table

    env = payload["environment"]
    paired = paired_against(payload["rows"])
    rows = [{"model": r["model"], "epochs": r["epochs"],
             f"test NLL (K={payload['num_samples']})": f"{r['nll']:.2f} ± {r['nll_se']:.2f}",
             # Only once IWAE's row keeps per-point values (rows from before had none).
             **({"NLL - IWAE (paired)": (f"{paired[r['model']][0]:+.2f} ± "
                                         f"{paired[r['model']][1]:.2f}"
                                         if r["model"] in paired else "")} if paired else {}),
             "test -L_64": f"{r['l64']:.2f}", "active units": r["active_units"],
             "SNR encoder": f"{r['snr_encoder']:.3f}", "SNR decoder": f"{r['snr_decoder']:.3f}",
             "published NLL": PUBLISHED.get(r["model"], ""),
             "train time (min)": f"{r['train_minutes']:.0f}"} for r in payload["rows"]]
    missing = [m for m in MODELS if m not in {r["model"] for r in payload["rows"]}]
    return "\n".join([
        (f"**Quick run: a smoke test, not a result.** " if payload["quick"] else "") +
        f"Dynamic MNIST, IWAE-paper MLP, {payload['epochs']} epochs each (same recipe, seed and "
        f"data order; the paper trains 3280), 64 samples per example; NLL on the first "
        f"{payload['test_points']} test points, mean ± standard error; " +
        ("NLL - IWAE = the mean over the same points of log p_IWAE - log p_model, ± its "
         "paired standard error (negative: the model is better than IWAE); " if paired else "") +
        f"SNR = mean over "
        f"parameters of |E g| / std g over {payload['snr_draws']} draws on a fixed batch of "
        f"{payload['snr_batch']}; published = Rainforth et al. 2018 after full training. "
        f"Backend {payload['backend']} on {env['device']}, commit {env['commit']}, {env['date']}.",
        "", markdown_table(rows, list(rows[0])) if rows else "(no model finished yet)", "",
        *([f"Not trained yet: {', '.join(missing)}.", ""] if missing else []),
        f"Command: `python -m {' '.join(env['argv'])}`"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--test-points", type=int)
    parser.add_argument("--num-samples", type=int)
    parser.add_argument("--snr-draws", type=int)
    parser.add_argument("--snr-batch", type=int, default=20)
    parser.add_argument("--snr-ks", type=int, nargs="+", help=f"default {SNR_KS}")
    parser.add_argument("--max-models", type=int, default=len(MODELS),
                        help="models to train in this call")
    parser.add_argument("--data-dir")
    parser.add_argument("--no-readme", action="store_true")
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    import keras

    from benchmarks import common
    from keras_vae import training

    quick = args.quick
    epochs = args.epochs or (1 if quick else 20)
    args.test_points = args.test_points or (20 if quick else 1000)
    args.num_samples = args.num_samples or (100 if quick else 5000)
    args.snr_draws = args.snr_draws or (4 if quick else 100)
    args.snr_ks = tuple(args.snr_ks or ((1, 8) if quick else SNR_KS))
    name = "estimators_quick" if quick else "estimators"
    store = common.RESULTS / name
    runs = (store / "runs") if quick else RUNS
    store.mkdir(parents=True, exist_ok=True)
    backend = keras.backend.backend()
    trained = 0
    for label in args.models:
        path = store / f"{slug(label)}.json"
        if path.exists() and json.loads(path.read_text()).get("epochs") == epochs:
            continue
        if trained >= args.max_models:
            break
        recipe = recipe_for(label)
        print(f"{label}: training {epochs} epochs", flush=True)
        model, state = training.train(recipe, runs / slug(label), epochs=epochs,
                                      data_dir=args.data_dir, train_limit=200 if quick else None,
                                      nll_points=0, verbose=0 if quick else 2,
                                      command="python -m benchmarks.estimators")
        test = training.load_test(recipe, args.data_dir)[:args.test_points]
        snr_x = _snr_batch(recipe, args.data_dir, args.snr_batch)
        row = {"model": label, "epochs": state["epoch"], "backend": backend,
               "train_minutes": state["wall_time_s"] / 60,
               **evaluate(model, recipe, test, snr_x, args)}
        path.write_text(json.dumps(row, indent=1) + "\n")
        print(json.dumps(row), flush=True)
        trained += 1
        keras.backend.clear_session()
    rows = [json.loads((store / f"{slug(m)}.json").read_text()) for m in MODELS
            if (store / f"{slug(m)}.json").exists()]
    rows = [r for r in rows if r["epochs"] == epochs]
    if any("log_p" not in r for r in rows):
        test = training.load_test(recipe_for("IWAE"), args.data_dir)[:args.test_points]
        rows = [add_per_point_values(store / f"{slug(r['model'])}.json", runs, test,
                                     args.num_samples) for r in rows]
    payload = {"environment": common.environment(["benchmarks.estimators", *argv]),
               "quick": quick, "epochs": epochs, "test_points": args.test_points,
               "num_samples": args.num_samples, "snr_draws": args.snr_draws,
               "snr_batch": args.snr_batch, "backend": backend, "rows": rows}
    previous = common.RESULTS / f"{name}.json"
    previous = json.loads(previous.read_text()) if previous.exists() else {}
    iwae_run = runs / slug("IWAE")
    if previous.get("snr_against_k") and previous.get("epochs") == epochs:
        payload["snr_against_k"] = previous["snr_against_k"]
    elif any(r["model"] == "IWAE" for r in rows) and (iwae_run / training.CKPT).exists():
        payload["snr_against_k"] = snr_against_k(_load_run("IWAE", iwae_run), _snr_batch(
            recipe_for("IWAE"), args.data_dir, args.snr_batch), args.snr_draws, args.snr_ks)
    if payload.get("snr_against_k"):
        plot_snr(payload["snr_against_k"], common.RESULTS / f"{name}_snr.png")
    markdown = render(payload)
    print(markdown)
    common.write_results(name, payload, markdown)
    if not quick and not args.no_readme:
        common.update_readme("estimators", markdown)
    return payload


if __name__ == "__main__":
    main()
