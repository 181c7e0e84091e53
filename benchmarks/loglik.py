"""Importance-sampled test log-likelihood of the zoo entries, beside the published numbers.

    python -m benchmarks.loglik            # all test points on tensorflow, 1000 on jax and torch
    python -m benchmarks.loglik --quick    # 100 points at K=500 on one backend: a smoke run

Each (entry, backend) is evaluated in shards of test points, one fresh
process a shard; every finished shard is stored under
benchmarks/results/loglik/ at once, so a run that is stopped and started
again continues where it stopped (`--max-shards` bounds one call).
`--reuse-finish runs/ENTRY/finish_log_p.json` fills the shards an entry's finish
already evaluated (same weights, backend and K) from its per-point values.
`--card-from-record --entries E` gives E's model card the results of its complete
whole-split record (an entry finished on fewer points).
`--entries` and `--backends` choose what to evaluate; the table still holds
every zoo entry's stored rows (`--max-shards 0` rebuilds it without
evaluating anything). The
tables (per entry, and the IWAE paper's Table 1 layout filled with this
project's own entries) are written as JSON and markdown and into the README.
A run over fewer points than the whole test split (the other backends'
1000, AIS, `--quick`) takes them from one fixed random permutation of the
split (seed 0): test splits can be ordered (Larochelle's binarized MNIST
starts with its hardest digits), and every backend then sees the same points.
`--ais-points N` adds annealed importance sampling (HMC) on the first N
points of that permutation on the reference backend, the check of the IS
estimate where its effective sample size is low. Shards keep each point's
log p, so entries of one dataset are compared on the same points with a
paired standard error. `--plots` also draws the bound L_k against k
for `mnist_iwae` and the held-out NLL against training epochs of every entry
(`--epochs-plot`: that plot alone, of every zoo entry).
"""

import argparse
import hashlib
import json
import math
import pathlib
import sys

from benchmarks import budget

SUBSET_SEED = 0
# The MNIST entries compared pair by pair; the other Table 1 cells are compared within it.
FLAGSHIP = ("mnist_vae", "mnist_iwae", "mnist_iwae_2layer")
FASTEST = "tensorflow"  # fastest K=5000 evaluator on CPU (benchmarks.throughput)
BACKENDS = ("tensorflow", "jax", "torch")
# Burda et al. 2015, Table 1 (MNIST, dynamic binarization, test NLL at K=5000).
PAPER_TABLE1 = {
    (1, "VAE", 1): 86.76, (1, "VAE", 5): 86.47, (1, "VAE", 50): 86.35,
    (1, "IWAE", 1): 86.76, (1, "IWAE", 5): 85.54, (1, "IWAE", 50): 84.78,
    (2, "VAE", 1): 85.33, (2, "VAE", 5): 85.01, (2, "VAE", 50): 84.78,
    (2, "IWAE", 1): 85.33, (2, "IWAE", 5): 83.89, (2, "IWAE", 50): 82.90,
}


def worker(args):
    """One shard (`--start`, `--stop`), or with `--reuse-finish` every shard of `--ranges`
    in one process: those only read the kept values, and a process a shard would cost
    more than the reading."""
    from keras_vae import recipes, training, zoo

    model = zoo.load(args.entry)
    model.compile()
    recipe = recipes.Recipe.from_metadata(zoo.read_metadata(args.entry)["recipe"])
    test = training.load_test(recipe)
    kept = finish_values(args.reuse_finish, args.entry) if args.reuse_finish else None
    if args.ranges:
        print(json.dumps([_worker_shard(model, test, *map(int, r.split("-")), args, kept)
                          for r in args.ranges]))
    else:
        print(json.dumps(_worker_shard(model, test, args.start, args.stop, args, kept)))


def _worker_shard(model, test, start, stop, args, kept):
    import numpy as np

    index = subset(len(test))[start:stop] if args.subset else slice(start, stop)
    x = test[index]
    # Names the points evaluated, so shards of different backends can be checked to match.
    points_sha256 = hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()
    if kept:
        ll, ess = (np.asarray(kept[key][start:stop], dtype=np.float64) for key in ("log_p", "ess"))
    else:
        ll, ess = model.log_likelihood(x, num_samples=args.num_samples, return_ess=True,
                                       verbose=0)
    paired = {}
    if args.ais:
        # AIS replaces the estimate; IS on the same points gives the paired difference.
        is_ll, ll = ll, model.log_likelihood(x, method="ais", num_chains=args.ais_chains,
                                             num_steps=args.ais_steps, verbose=0)
        diff = ll - is_ll
        paired = {"is_sum": float(is_ll.sum()), "diff_sum": float(diff.sum()),
                  "diff_sumsq": float(np.square(diff).sum())}
    bound = model.evaluate(x, batch_size=100, verbose=0, return_dict=True)[model.bound_name]
    source = {"from": "training finish"} if kept else {}
    return {**paired, **source, "start": start, "stop": stop, "n": int(len(ll)),
            "sum": float(ll.sum()), "sumsq": float(np.square(ll).sum()),
            # Per point, so two entries on the same points get a paired difference.
            "log_p": [round(float(v), 4) for v in ll],
            "ess_sum": float(ess.sum()), "bound_sum": float(bound * len(ll)),
            "dims": int(math.prod(model.input_event_shape)),
            "points_sha256": points_sha256}


def finish_values(path, entry):
    """The per-point K=5000 values an entry's finish kept (`training.finish(log_p_path=...)`),
    checked to belong to the entry's shipped weights."""
    from keras_vae import zoo

    path = pathlib.Path(path)
    if not path.is_file():
        raise ValueError(f"--reuse-finish {path}: no such file (`keras-vae train` writes it "
                         "in the run folder when it finishes an entry).")
    kept = json.loads(path.read_text())
    weights = zoo.read_metadata(entry)["weights_sha256"]
    if kept.get("weights_sha256") != weights or kept.get("entry") != entry:
        raise ValueError(f"--reuse-finish {path}: its values belong to {kept.get('entry')!r} "
                         f"with weights {str(kept.get('weights_sha256'))[:12]}, not {entry!r} "
                         f"with weights {weights[:12]}; finish the entry again.")
    return kept


def subset(test_size):
    """The fixed order in which a partial evaluation takes test points."""
    import numpy as np

    return np.random.default_rng(SUBSET_SEED).permutation(test_size)


def _shards(total, size):
    return [(s, min(s + size, total)) for s in range(0, total, size)]


def evaluate_entry(entry, backend, points, num_samples, shard, store, max_shards, ais=None,
                   test_size=None, reuse_finish=None):
    """Runs the missing shards of one (entry, backend); returns the stored record.

    `ais=(chains, steps)` runs annealed importance sampling instead of IS.
    Fewer `points` than `test_size` come from the random permutation `subset`.
    `reuse_finish` (`(path, kept)`, the values `training.finish` kept) gives the shards
    of the split's first points it covers, on its backend and K, their log p and ESS
    instead of evaluating them again.
    """
    from benchmarks.common import run_worker

    path = store / (f"{entry}.{backend}.ais.json" if ais else f"{entry}.{backend}.json")
    record = json.loads(path.read_text()) if path.exists() else {}
    if max_shards == 0 and record:  # only reading: the stored run as far as it was meant to go
        points, shard = record.get("points", points), record["shard"]
    method = {"num_samples": num_samples} if ais is None else {"ais_chains": ais[0],
                                                              "ais_steps": ais[1]}
    random_subset = test_size is not None and points < test_size
    if random_subset:
        method["subset"] = f"random permutation, seed {SUBSET_SEED}"
    from keras_vae import zoo

    meta = zoo.read_metadata(entry)
    weights = meta.get("weights_sha256")
    if record and record.setdefault("weights_sha256", weights) != weights:
        # Shards of other weights (a retrained or extended entry) are stale; Table 1
        # keeps its budget's reference record.
        if not ais and backend == FASTEST and _is_cell(entry, meta):
            budget.keep(store, path.name, record, entry)
    elif record:
        record.setdefault("epochs", meta.get("epochs"))
    if (record.get("method") != method or record.get("shard") != shard
            or record["weights_sha256"] != weights):
        record = {"entry": entry, "backend": backend, "method": method, "shard": shard,
                  "weights_sha256": weights, "epochs": meta.get("epochs"), "shards": []}
    record["points"] = points
    extra = ([] if ais is None else ["--ais", "--ais-chains", str(ais[0]),
                                     "--ais-steps", str(ais[1])]) + ["--subset"] * random_subset
    done = {(s["start"], s["stop"]) for s in record["shards"]}
    covered = 0
    if reuse_finish and ais is None and not random_subset:
        kept = reuse_finish[1]
        same = kept["backend"] == backend and kept["num_samples"] == num_samples
        covered = kept["first_points"] if same else 0
    missing = [r for r in _shards(points, shard) if r not in done][:max_shards]
    reused = [r for r in missing if r[1] <= covered]
    base = ["--worker", "--entry", entry, "--num-samples", str(num_samples), *extra]
    if reused:
        print(f"{entry} on {backend}: test points {reused[0][0]}-{reused[-1][1]}, {method}, "
              f"from {reuse_finish[0]}", flush=True)
        record["shards"] += run_worker("benchmarks.loglik", [
            *base, "--reuse-finish", str(reuse_finish[0]),
            "--ranges", *(f"{a}-{b}" for a, b in reused)], {"KERAS_BACKEND": backend})
        store.mkdir(parents=True, exist_ok=True)
        path.write_text(dump_record(record))
    for start, stop in missing[len(reused):]:  # the kept values cover a prefix of the split
        print(f"{entry} on {backend}: test points {start}-{stop}, {method}", flush=True)
        record["shards"].append(run_worker("benchmarks.loglik", [
            *base, "--start", str(start), "--stop", str(stop)], {"KERAS_BACKEND": backend}))
        store.mkdir(parents=True, exist_ok=True)
        path.write_text(dump_record(record))
    return record


def dump_record(record):
    """The record as JSON with one line per shard: indenting its 10,000 per-point
    values one per line makes the file half as large again."""
    shards = record.get("shards", [])
    text = json.dumps({**record, "shards": "@shards@"}, indent=1)
    lines = ",\n  ".join(json.dumps(s) for s in shards)
    return text.replace('"@shards@"', f"[\n  {lines}\n ]" if shards else "[]") + "\n"


def combine_shards(record, wanted):
    """Mean, standard error and bounds of the first `wanted` points from stored shard sums."""
    from keras_vae.evaluation import bits_per_dim

    shards = [s for s in record["shards"] if s["stop"] <= wanted]
    n = sum(s["n"] for s in shards)
    if n == 0:
        return None
    mean = sum(s["sum"] for s in shards) / n
    var = (sum(s["sumsq"] for s in shards) - n * mean**2) / max(n - 1, 1)
    paired = {}
    if "diff_sum" in shards[0]:
        d = sum(s["diff_sum"] for s in shards) / n
        d_var = (sum(s["diff_sumsq"] for s in shards) - n * d**2) / max(n - 1, 1)
        paired = {"is_nll": -sum(s["is_sum"] for s in shards) / n, "gain": d,
                  "gain_se": math.sqrt(max(d_var, 0.0) / n)}
    return {**paired, "points": n, "complete": n >= wanted, "nll": -mean,
            "nll_se": math.sqrt(max(var, 0.0) / n),
            "bits_per_dim": float(bits_per_dim(mean, shards[0]["dims"])),
            "bound": -sum(s["bound_sum"] for s in shards) / n,
            "ess": sum(s["ess_sum"] for s in shards) / n}


def shared_points_difference(first, second):
    """NLL of `second` minus NLL of `first` over the stored points both records share.

    Shards match when they cover the same test points (same sha256); only shards
    that keep per-point values count. The paired standard error is what a
    difference between two entries on the same points carries; the unpaired one
    (the two rows' errors combined) is given for scale.
    """
    from benchmarks import common

    def by_points(record):
        return {s["points_sha256"]: s["log_p"] for s in record.get("shards", ()) if "log_p" in s}

    a, b = by_points(first), by_points(second)
    shared = [key for key in a if key in b]
    la = [v for key in shared for v in a[key]]
    lb = [v for key in shared for v in b[key]]
    return common.paired_difference(la, lb) if len(la) >= 2 else None


def comparisons(records, metas):
    """Paired NLL differences between the entries of each dataset, by IS and by AIS.

    `records` maps (entry, method) to the reference backend's stored record.
    """
    rows = []
    # Table 1's own cells are compared in its paired columns, not pair by pair here.
    cells_only = set(table1_entries(metas).values()) - set(FLAGSHIP)
    entries = [e for e in metas if e not in cells_only]
    for i, first in enumerate(entries):
        for second in entries[i + 1:]:
            if metas[first]["recipe"]["dataset"] != metas[second]["recipe"]["dataset"]:
                continue
            for method in ("IS", "AIS"):
                if (first, method) not in records or (second, method) not in records:
                    continue
                p = shared_points_difference(records[first, method], records[second, method])
                if p is None:
                    continue
                # Lower NLL first, so every difference reads as a gain.
                lower, higher = (first, second) if p["difference"] >= 0 else (second, first)
                rows.append({"entry": lower, "against": higher,
                             # Entries along the schedule differ in training as well.
                             "epochs (entry / against)":
                                 f"{metas[lower].get('epochs')} / {metas[higher].get('epochs')}",
                             "estimate": method,
                             "points": p["points"],
                             "NLL(against) - NLL(entry)": f"{abs(p['difference']):.2f}",
                             "paired SE": f"{p['paired_se']:.2f}",
                             "SE if unpaired": f"{p['unpaired_se']:.2f}"})
    return rows


def _row(entry, meta, backend, s, num_samples, ais=None):
    recipe = meta["recipe"]
    anchor = recipe.get("anchor_nll")
    ais_text = (f"{ais['nll']:.2f} vs IS {ais['is_nll']:.2f}, gain {ais['gain']:+.2f} ± "
                f"{ais['gain_se']:.2f} ({ais['points']} points)") if ais else ""
    return {"entry": entry, "backend": backend,
            "points": f"{s['points']}" + ("" if s["complete"] else " (partial)"),
            f"NLL K={num_samples}": f"{s['nll']:.2f} ± {s['nll_se']:.2f}",
            "bits/dim": f"{s['bits_per_dim']:.4f}",
            "-L_k (training k)": f"{s['bound']:.2f} (k={recipe['num_samples']})",
            "mean ESS": f"{s['ess']:.1f}", "NLL AIS": ais_text, "epochs": meta.get("epochs", "?"),
            "published": f"{anchor:.2f}" if anchor else "",
            "gap": f"{s['nll'] - anchor:+.2f}" if anchor else ""}


def active_units_worker(args):
    from keras_vae import diagnostics, recipes, training, zoo

    model = zoo.load(args.entry)
    recipe = recipes.Recipe.from_metadata(zoo.read_metadata(args.entry)["recipe"])
    print(json.dumps({"active_units": diagnostics.active_units_by_layer(
        model, training.load_test(recipe))}))


def active_units(entry, store):
    """Active units per stochastic layer on the whole test split, stored by weights."""
    from benchmarks.common import run_worker
    from keras_vae import zoo

    path = store / f"{entry}.active_units.json"
    meta = zoo.read_metadata(entry)
    weights = meta.get("weights_sha256")
    record = json.loads(path.read_text()) if path.exists() else {}
    if record.get("weights_sha256") != weights:
        if record:
            budget.keep(store, path.name, record, entry)
        record = {"entry": entry, "weights_sha256": weights, "epochs": meta.get("epochs"),
                  "threshold": 0.01,
                  **run_worker("benchmarks.loglik", ["--worker-active-units", "--entry", entry],
                               {"KERAS_BACKEND": FASTEST})}
        store.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record, indent=1) + "\n")
    return record["active_units"]


def _is_cell(entry, meta):
    return entry in table1_entries({entry: meta}).values()


def table1_entries(metas):
    """{(layers, model, k): entry} of the MNIST entries in Table 1's cells."""
    cells = {}
    for entry, meta in metas.items():
        r = meta["recipe"]
        key = (r.get("stochastic_layers", 1), r["model"], r["num_samples"])
        if r["dataset"] == "mnist" and key in PAPER_TABLE1 and not r.get("options"):
            cells[key] = entry
    return cells


def table1(rows_by_entry, metas, units=None, records=None, epochs=None, hours=None):
    """The IWAE paper's Table 1 (MNIST) with this project's entries where they exist.

    A cell shows our test NLL, the entry, its epochs, its training hours and
    its active units (per stochastic layer); k=1 IWAE is the k=1 VAE (the same
    objective), so that column repeats the VAE. `records` (entry -> reference
    IS record) adds the paired IWAE - VAE difference at each k; `epochs` and
    `hours` (entry -> value) give the budget of a cell read from a kept record
    (`benchmarks.budget`) in place of the zoo card's.
    """
    units, records, epochs, hours = units or {}, records or {}, epochs or {}, hours or {}
    cells = table1_entries(metas)
    out = []
    for layers in (1, 2):
        for k in (1, 5, 50):
            row = {"stochastic layers": layers, "k": k}
            for model in ("VAE", "IWAE"):
                entry = cells.get((layers, "VAE" if k == 1 else model, k))
                mine = "not trained"
                s, source = rows_by_entry.get(entry), ""
                if s is None and entry is not None:
                    # Not evaluated here yet: the zoo card's K=5000 NLL on the whole split.
                    s, source = _card_row(metas[entry]), ", zoo card"
                if s is not None:
                    au = "+".join(map(str, units[entry])) if entry in units else "?"
                    h = hours.get(entry, metas[entry].get("wall_time_hours"))
                    mine = (f"{s['nll']:.2f} ({entry}, {epochs.get(entry, metas[entry].get('epochs'))} ep., "
                            + (f"{h:.1f} h, " if h is not None else "") + f"{au} active{source})"
                            + (" = VAE k=1" if model == "IWAE" and k == 1 else ""))
                row[f"{model} (ours)"] = mine
                row[f"{model} (paper)"] = f"{PAPER_TABLE1[(layers, model, k)]:.2f}"
            vae, iwae = cells.get((layers, "VAE", k)), cells.get((layers, "IWAE", k))
            row["IWAE - VAE (ours, paired; paper)"] = _paired_cell(
                records, iwae, vae, PAPER_TABLE1[(layers, "IWAE", k)]
                - PAPER_TABLE1[(layers, "VAE", k)]) if k > 1 else ""
            out.append(row)
    return out


def table1_at_budget(store, reference, metas, rows_by_entry, units, records):
    """The payload's `table1` and `layers` tables, each cell at Table 1's budget."""
    rows_by_entry, units, records = dict(rows_by_entry), dict(units), dict(records)
    epochs, hours = {}, {}
    for entry in table1_entries(metas).values():
        epochs[entry], record, au, hours[entry] = budget.at_budget(
            store, entry, metas[entry], reference, records.get(entry), units.get(entry))
        if record is not records.get(entry):
            records[entry] = record
            rows_by_entry[entry] = combine_shards(record, record["points"])
            if au is None:
                units.pop(entry, None)
            else:
                units[entry] = au
    return {"table1": table1(rows_by_entry, metas, units, records, epochs, hours),
            "layers": layers_table(metas, records)}


def card_from_record(entry, store, command):
    """Rewrites the entry's card results from the reference backend's record over the whole
    test split (same weights, K=5000): a card finished on part of the split gets the whole
    of it without a third K=5000 pass. Returns the new results."""
    from keras_vae import recipes, zoo

    meta = zoo.read_metadata(entry)
    path = store / f"{entry}.{FASTEST}.json"
    record = json.loads(path.read_text()) if path.exists() else {}
    test_size = _test_size(meta)
    s = combine_shards(record, test_size) if record else None
    if not record:
        problem = "there is no record"
    elif record.get("weights_sha256") != meta["weights_sha256"]:
        problem = "its weights are not the entry's"
    elif record["method"] != {"num_samples": 5000}:
        problem = f"it is not K=5000 over the split in order ({record['method']})"
    elif not (s and s["complete"]):
        problem = f"it covers {s['points'] if s else 0} of the {test_size} test points"
    else:
        problem = None
    if problem:
        raise SystemExit(f"--card-from-record {entry}: {path} cannot give the card: {problem}. "
                         f"Run `python -m benchmarks.loglik --entries {entry} --backends "
                         f"{FASTEST}` first.")
    raw = {key: s[key] for key in ("nll", "nll_se", "bits_per_dim", "bound", "ess", "points")}
    results = recipes.card_results(raw, meta["recipe"]["num_samples"])
    zoo.update_metadata(entry, results=results, results_raw={**raw, "num_samples": 5000},
                        results_command=command)
    return results


def _test_size(meta):
    return 26032 if meta["recipe"]["dataset"] == "svhn" else 10000


def _card_row(meta):
    """The NLL `keras-vae train` wrote into an entry's card, if it covers the test split."""
    raw = meta.get("results_raw", {})
    # `keras-vae train` evaluates with K=5000 (older cards do not record K).
    if raw.get("num_samples", 5000) == 5000 and raw.get("points") == 10000 and "nll" in raw:
        return {"nll": raw["nll"]}
    return None


def _paired_cell(records, entry, against, paper):
    """NLL(entry) - NLL(against) on their shared points, as a table cell."""
    if entry not in records or against not in records:
        return f"not yet; paper {paper:+.2f}"
    p = shared_points_difference(records[against], records[entry])
    if p is None:
        return f"no shared points; paper {paper:+.2f}"
    return f"{p['difference']:+.2f} ± {p['paired_se']:.2f}; paper {paper:+.2f}"


def layers_table(metas, records):
    """Two stochastic layers minus one, for each objective and k (paired, as in Table 1)."""
    cells = table1_entries(metas)
    rows = []
    for k in (1, 5, 50):
        for model in (("VAE",) if k == 1 else ("VAE", "IWAE")):
            one, two = cells.get((1, model, k)), cells.get((2, model, k))
            paper = PAPER_TABLE1[(2, model, k)] - PAPER_TABLE1[(1, model, k)]
            rows.append({"model": f"{model} k={k}", "2 layers - 1 layer (NLL, ours, paired)":
                         _paired_cell(records, two, one, paper)})
    return rows


def render(payload):
    """The markdown of a results payload (the README block is exactly this)."""
    from benchmarks.common import markdown_table

    env, k, rows, t1 = (payload["environment"], payload["num_samples"], payload["rows"],
                        payload["table1"])
    return "\n".join([
        (f"**Quick run ({k} samples, few points): a smoke test, not a result.** "
         if payload["quick"] else "") +
        f"Test NLL in nats (mean ± standard error over test points) with K={k} importance "
        f"samples; bits/dim = NLL / (D ln 2); `-L_k` is the entry's training bound on the same "
        f"points; NLL AIS = annealed importance sampling (HMC, {payload.get('ais', '')}) on "
        f"test points, beside IS on the same points (gain = the paired mean of "
        f"log p_AIS - log p_IS; positive: the IS estimate was loose); published = the anchor "
        f"of the entry's recipe. A row over fewer points than the test split, and AIS, use "
        f"the same fixed random subset of it (seed {SUBSET_SEED}) on every backend; a "
        f"\"(partial)\" row of a whole-split run holds the split's first points so far. Rows "
        f"are combined from the shards stored under benchmarks/results/loglik/ by the calls of "
        f"this script; a call naming some entries or backends evaluates only those and keeps "
        f"the stored rows of the others. "
        f"Device: {env['device']}. "
        f"Commit {env['commit']}, {env['date']}.", "",
        markdown_table(rows, list(rows[0]) if rows else []), "",
        "IWAE paper Table 1 layout (MNIST, dynamic binarization; paper values from Burda et al. "
        f"2015 after 3280 epochs; ours on {payload['reference_backend']}):", "",
        markdown_table(t1, list(t1[0])), "",
        *(["Two stochastic layers against one (paired NLL difference on the same test points; "
           "negative: two layers better):", "",
           markdown_table(payload["layers"], list(payload["layers"][0])), ""]
          if payload.get("layers") else []),
        *_comparison_block(payload),
        f"Command: `python -m {' '.join(env['argv'])}`"])


def render_table1(payload):
    """Table 1 and the two-layer comparison: the README's block."""
    from benchmarks.common import markdown_table

    t1, layers = payload["table1"], payload.get("layers")
    env = payload["environment"]
    return "\n".join([
        markdown_table(t1, list(t1[0])), "",
        *(["Two stochastic layers minus one (paired NLL difference on the same test points; "
           "negative: two layers better):", "", markdown_table(layers, list(layers[0])), ""]
          if layers else []),
        f"Ours on {payload['reference_backend']}, all test points, K={payload['num_samples']}, "
        f"each cell after {budget.TABLE1_EPOCHS} epochs (stages 0-4 of the paper's schedule; "
        "a flagship entry trained further is read from the record kept of its "
        f"{budget.TABLE1_EPOCHS}-epoch weights, benchmarks/results/loglik/table1/); "
        "h: wall-clock hours of training on the 2-core CPU, from the model card of those "
        "weights (some runs shared the CPU with another); "
        "active units: Cov_x(E_q[z_u]) > 1e-2 per stochastic layer; k=1 IWAE is the k=1 VAE. "
        f"Commit {env['commit']}, {env['date']}. Command: `python -m {' '.join(env['argv'])}`"])


def _comparison_block(payload):
    from benchmarks.common import markdown_table

    rows = payload.get("comparisons")
    if not rows:
        return []
    return [f"Entries of one dataset compared on the same test points ({payload['reference_backend']}"
            "; IS rows: the points whose shards keep per-point values; AIS rows: the AIS "
            "points), lower NLL first: the difference is the mean over points of log p(entry) - "
            "log p(against), with its paired standard error; the unpaired one combines the two "
            "rows' spreads, as if each entry had been evaluated on its own draw of points:", "",
            markdown_table(rows, list(rows[0])), ""]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 points, K=500, one backend")
    parser.add_argument("--entries", nargs="+", help="default: every zoo entry")
    parser.add_argument("--backends", nargs="+", choices=BACKENDS)
    parser.add_argument("--points", type=int, help="test points on the fastest backend")
    parser.add_argument("--other-points", type=int, help="test points on the other backends")
    parser.add_argument("--num-samples", type=int)
    parser.add_argument("--shard", type=int, default=500)
    parser.add_argument("--max-shards", type=int, default=10**9, help="shards to run in this call")
    parser.add_argument("--ais-points", type=int, help="AIS on N random test points "
                        "(reference backend; default 100, 0 in --quick)")
    parser.add_argument("--ais-chains", type=int, default=16)
    parser.add_argument("--ais-steps", type=int, default=500)
    parser.add_argument("--plots", action="store_true")
    parser.add_argument("--epochs-plot", action="store_true",
                        help="only the NLL-against-epochs plot, of every zoo entry")
    parser.add_argument("--no-readme", action="store_true")
    parser.add_argument("--reuse-finish", type=pathlib.Path, metavar="FILE",
                        help="with one entry: the per-point K=5000 values its finish kept "
                             "(runs/ENTRY/finish_log_p.json) fill the shards of the split's "
                             "first points on the finish's backend instead of a second "
                             "evaluation")
    parser.add_argument("--card-from-record", action="store_true",
                        help="no evaluation: the --entries' model cards take their results from "
                             "the reference backend's complete whole-split record")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--ais", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--subset", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--worker-active-units", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--entry", help=argparse.SUPPRESS)
    parser.add_argument("--start", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--stop", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--ranges", nargs="+", help=argparse.SUPPRESS)
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)
    if args.worker_active_units:
        return active_units_worker(args)
    from benchmarks.common import RESULTS, environment, update_readme, write_results
    from keras_vae import zoo

    if args.card_from_record:
        if not args.entries:
            parser.error("--card-from-record needs --entries")
        command = "python -m benchmarks.loglik " + " ".join(argv)
        return {e: card_from_record(e, RESULTS / "loglik", command) for e in args.entries}

    quick = args.quick
    num_samples = args.num_samples or (500 if quick else 5000)
    backends = args.backends or ([FASTEST] if quick else list(BACKENDS))
    reuse = None
    if args.reuse_finish:
        if not args.entries or len(args.entries) != 1:
            parser.error("--reuse-finish needs --entries with the one entry the file belongs to")
        try:
            kept = finish_values(args.reuse_finish, args.entries[0])
        except ValueError as e:
            parser.error(str(e))
        if kept["backend"] not in backends or kept["num_samples"] != num_samples:
            parser.error(f"--reuse-finish {args.reuse_finish}: it holds K={kept['num_samples']} "
                         f"on {kept['backend']}, and this call evaluates K={num_samples} on "
                         f"{', '.join(backends)}: nothing would take it.")
        reuse = (args.reuse_finish, kept)
    store = RESULTS / ("loglik_quick" if quick else "loglik")
    if quick:
        print("QUICK RUN: 100 test points at K=500, not comparable to published numbers.")
    entries = args.entries or zoo.available()
    if quick:
        table_entries, table_backends = entries, backends
    else:
        # A call naming some entries or backends evaluates only those; the table keeps the
        # stored rows of the others, so a partial call never drops them.
        table_entries = zoo.available() + [e for e in entries if e not in zoo.available()]
        table_backends = list(BACKENDS)
    reference = table_backends[0] if quick else FASTEST
    metas = {e: zoo.read_metadata(e) for e in table_entries}
    rows, fastest, records = [], {}, {}
    for entry in table_entries:
        for backend in table_backends:
            run = entry in entries and backend in backends
            max_shards = args.max_shards if run else 0
            total = (args.points if backend == reference else args.other_points) if run else None
            test_size = _test_size(metas[entry])
            total = min(total or (100 if quick else (test_size if backend == FASTEST else 1000)),
                        test_size)
            record = evaluate_entry(entry, backend, total, num_samples, min(args.shard, total),
                                    store, max_shards, test_size=test_size,
                                    reuse_finish=reuse if run else None)
            s = combine_shards(record, record["points"])
            if s is None:
                continue
            if backend == reference:
                records[entry, "IS"] = record
            ais = None
            ais_points = min(args.ais_points if run and args.ais_points is not None else
                             (0 if quick else 100), total)
            if backend == reference and ais_points:
                record = evaluate_entry(entry, backend, ais_points, num_samples, ais_points, store,
                                        max_shards, ais=(args.ais_chains, args.ais_steps),
                                        test_size=test_size)
                ais = combine_shards(record, record["points"])
                records[entry, "AIS"] = record
            rows.append(_row(entry, metas[entry], backend, s, num_samples, ais))
            if backend == reference:
                fastest[entry] = s
    is_records = {entry: r for (entry, method), r in records.items() if method == "IS"}
    # Active units of the Table 1 cells (the reference backend; seconds per entry).
    units = {} if quick else {e: active_units(e, store) for e in table1_entries(metas).values()
                              if e in fastest or _card_row(metas[e])}
    payload = {"environment": environment(["benchmarks.loglik", *argv]), "quick": quick,
               "ais": f"{args.ais_chains} chains x {args.ais_steps} steps",
               "num_samples": num_samples, "reference_backend": reference, "rows": rows,
               **table1_at_budget(store, reference, metas, fastest, units, is_records),
               "comparisons": comparisons(records, metas)}
    markdown = render(payload)
    print(markdown)
    name = "loglik_quick" if quick else "loglik"
    write_results(name, payload, markdown)
    if not quick and not args.no_readme:
        update_readme("table1", render_table1(payload))
    if args.plots or args.epochs_plot:
        from benchmarks.loglik_plots import bound_against_k, nll_against_epochs

        suffix = "_quick" if quick else ""
        if args.plots:
            bound_against_k("mnist_iwae", RESULTS / f"bound_vs_k{suffix}.png",
                            points=20 if quick else 200, max_k=num_samples)
        nll_against_epochs(zoo.available() if args.epochs_plot else entries,
                           RESULTS / f"nll_vs_epochs{suffix}.png")
    return rows


if __name__ == "__main__":
    main()
