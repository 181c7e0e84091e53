"""Pictures for the log-likelihood results: L_k against k, held-out NLL against epochs."""

import json

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    return plt


def bound_against_k(entry, path, points=200, max_k=5000, seed=0):
    """L_k for k = 1 .. max_k on the first `points` test points, from nested draws.

    Every k uses the first k of the same max_k noise draws (common random
    numbers), so the curve shows the bound itself tightening, not noise.
    """
    from keras_vae import recipes, training, zoo

    model = zoo.load(entry)
    recipe = recipes.Recipe.from_metadata(zoo.read_metadata(entry)["recipe"])
    x = training.load_test(recipe)[:points]
    noise = zoo.golden_noise(model, len(x), max_k, seed=seed)
    ks = [k for k in (1, 2, 5, 10, 50, 100, 500, 1000, 5000, 20000) if k <= max_k]
    bounds = [float(np.mean(model.log_likelihood(x, num_samples=k, noise=noise[:k], verbose=0)))
              for k in ks]
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(ks, bounds, "o-", label=f"L_k, {entry}, {len(x)} test points")
    ax.axhline(bounds[-1], color="grey", ls=":", label=f"L_{ks[-1]} (the reported log-likelihood)")
    ax.set_xscale("log")
    ax.set_xlabel("k (importance samples)")
    ax.set_ylabel("mean bound (nats)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return dict(zip(ks, bounds))


def nll_against_epochs(entries, path):
    """Held-out -L_k per epoch and the K=5000 NLL checkpoints from each entry's history.

    Binary-data entries are drawn in nats; 8-bit entries (thousands of nats)
    in bits/dim on a panel of their own. Returns the number of entries drawn.
    """
    from keras_vae import evaluation, recipes, zoo

    curves = {}
    for entry in entries:
        history_path = zoo._resolve(entry) / "history.json"
        if not history_path.exists():
            continue
        history = json.loads(history_path.read_text())
        if not history:
            continue
        recipe = recipes.Recipe.from_metadata(zoo.read_metadata(entry)["recipe"])
        eight_bit = recipe.likelihood != "bernoulli"
        dims = int(np.prod(recipe.input_shape))
        scale = float(evaluation.bits_per_dim(-1.0, dims)) if eight_bit else 1.0
        curves.setdefault(eight_bit, []).append((entry, history, scale))
    plt = _pyplot()
    panels = sorted(curves)
    fig, axes = plt.subplots(1, max(len(panels), 1), figsize=(10 * max(len(panels), 1), 4.5),
                             squeeze=False)
    for ax, eight_bit in zip(axes[0], panels):
        for entry, history, scale in curves[eight_bit]:
            epochs = [h["epoch"] for h in history]
            line, = ax.plot(epochs, [-h["heldout_bound"] * scale for h in history],
                            label=f"{entry} held-out -L_k")
            nll = [(h["epoch"], h["nll_5000"] * scale) for h in history if "nll_5000" in h]
            if nll:
                ax.plot(*zip(*nll), "o", color=line.get_color(), label=f"{entry} NLL K=5000")
        ax.set_xscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel("bits/dim (held-out test points)" if eight_bit
                      else "nats (held-out test points)")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))  # beside: 13+ entries
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return sum(len(c) for c in curves.values())
