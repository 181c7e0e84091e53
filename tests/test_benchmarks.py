"""The benchmark scripts run end to end on tiny inputs, and the README shows their JSON."""

import hashlib
import importlib
import json
import math
import pathlib
import re
import subprocess

import numpy as np
import pytest

from conftest import backend, needs_training_data

ROOT = pathlib.Path(__file__).parents[1]


@pytest.fixture
def results(tmp_path, monkeypatch):
    from benchmarks import common

    monkeypatch.setattr(common, "RESULTS", tmp_path)
    return tmp_path


def test_loglik_runs_in_shards_and_resumes(results):
    from benchmarks import loglik

    args = ["--quick", "--entries", "mnist_iwae", "--backends", backend(), "--points", "6",
            "--num-samples", "20", "--shard", "3", "--no-readme", "--ais-points", "2",
            "--ais-chains", "2", "--ais-steps", "5"]
    rows = loglik.main(args + ["--max-shards", "1"])
    assert rows[0]["points"] == "3 (partial)"
    stored = results / "loglik_quick" / f"mnist_iwae.{backend()}.json"
    first = json.loads(stored.read_text())["shards"]
    rows = loglik.main(args)
    assert rows[0]["points"] == "6"
    shards = json.loads(stored.read_text())["shards"]
    assert shards[0] == first[0] and [s["start"] for s in shards] == [0, 3]
    # One line per shard, whatever its number of points.
    lines = [line.strip().rstrip(",") for line in stored.read_text().splitlines()]
    assert [json.loads(line) for line in lines if '"log_p"' in line] == shards
    # Fewer points than the split: the fixed random subset, not the split's first points.
    from keras_vae import recipes, training, zoo

    recipe = recipes.Recipe.from_metadata(zoo.read_metadata("mnist_iwae")["recipe"])
    test = training.load_test(recipe)
    order = loglik.subset(len(test))
    assert list(order[:6]) != list(range(6)) and sorted(order) == list(range(len(test)))
    for s in shards:
        x = np.ascontiguousarray(test[order[s["start"]:s["stop"]]])
        assert s["points_sha256"] == hashlib.sha256(x.tobytes()).hexdigest()
    nll, se = (float(v) for v in re.findall(r"[\d.]+", rows[0]["NLL K=20"]))
    assert 60 < nll < 200 and se > 0  # an MNIST NLL in nats, with a spread over points
    assert "(2 points)" in rows[0]["NLL AIS"]
    payload = json.loads((results / "loglik_quick.json").read_text())
    assert loglik.render(payload) == (results / "loglik_quick.md").read_text().rstrip("\n")
    # Shards of other weights (the entry was retrained) are not reused.
    stale = json.loads(stored.read_text())
    stale["weights_sha256"] = "0" * 64
    stored.write_text(json.dumps(stale))
    assert loglik.main(args + ["--max-shards", "0", "--ais-points", "0"]) == []


def test_loglik_takes_the_values_a_finish_kept_for_the_same_weights(results, tmp_path, capsys):
    from benchmarks import loglik
    from keras_vae import recipes, training, zoo

    meta = zoo.read_metadata("mnist_iwae")
    log_p = [-90.0 - i for i in range(6)]
    kept = {"entry": "mnist_iwae", "weights_sha256": meta["weights_sha256"], "num_samples": 20,
            "backend": backend(), "first_points": 6, "log_p": log_p, "ess": [3.0] * 6}
    path = tmp_path / "finish_log_p.json"
    path.write_text(json.dumps(kept))
    args = ["--entries", "mnist_iwae", "--backends", backend(), "--points", "10000",
            "--other-points", "10000", "--shard", "3", "--num-samples", "20",
            "--ais-points", "0", "--no-readme", "--reuse-finish", str(path)]
    loglik.main(args + ["--max-shards", "3"])
    shards = json.loads((results / "loglik" / f"mnist_iwae.{backend()}.json").read_text())["shards"]
    # The first six points come from the file; the third shard is evaluated.
    assert [s["log_p"] for s in shards[:2]] == [log_p[:3], log_p[3:]]
    assert [s.get("from") for s in shards] == ["training finish"] * 2 + [None]
    assert shards[0]["ess_sum"] == 9.0 and math.isfinite(shards[0]["bound_sum"])
    test = training.load_test(recipes.Recipe.from_metadata(meta["recipe"]))
    assert shards[1]["points_sha256"] == hashlib.sha256(
        np.ascontiguousarray(test[3:6]).tobytes()).hexdigest()
    # Refused before anything is evaluated, with what is wrong: values of other weights,
    # of another K, a missing file, a call without its one entry.
    for stored, call, said in (
            ({**kept, "weights_sha256": "0" * 64}, args, "finish the entry again"),
            ({**kept, "num_samples": 5000}, args, "nothing would take it"),
            (None, args, "no such file"),
            (kept, args[2:], "needs --entries")):
        path.unlink(missing_ok=True)
        if stored:
            path.write_text(json.dumps(stored))
        with pytest.raises(SystemExit):
            loglik.main(call + ["--max-shards", "1"])
        assert said in capsys.readouterr().err
    assert len(json.loads((results / "loglik" / f"mnist_iwae.{backend()}.json").read_text())[
        "shards"]) == 3


def test_card_takes_its_results_from_a_complete_whole_split_record(results, tmp_path,
                                                                    monkeypatch):
    import shutil

    from benchmarks import loglik
    from keras_vae import zoo

    monkeypatch.setenv("KERAS_VAE_ZOO_DIR", str(tmp_path / "zoo"))
    shutil.copytree(ROOT / "zoo" / "mnist_vae", tmp_path / "zoo" / "mnist_vae")
    weights = zoo.read_metadata("mnist_vae")["weights_sha256"]
    rng = np.random.default_rng(0)
    log_p, ess = rng.normal(-90.0, 20.0, 10000), rng.uniform(1.0, 40.0, 10000)
    shards = [{"start": a, "stop": a + 500, "n": 500, "sum": log_p[a:a + 500].sum(),
               "sumsq": np.square(log_p[a:a + 500]).sum(), "ess_sum": ess[a:a + 500].sum(),
               "bound_sum": 92.5 * -500, "dims": 784} for a in range(0, 10000, 500)]
    record = {"entry": "mnist_vae", "backend": loglik.FASTEST, "method": {"num_samples": 5000},
              "shard": 500, "weights_sha256": weights, "shards": shards, "points": 10000}
    path = results / "loglik" / f"mnist_vae.{loglik.FASTEST}.json"
    path.parent.mkdir()

    def card_from(stored):
        path.write_text(loglik.dump_record(stored))
        return loglik.main(["--entries", "mnist_vae", "--card-from-record"])["mnist_vae"]

    with pytest.raises(SystemExit, match="covers 9500 of the 10000 test points"):
        card_from({**record, "shards": shards[:-1]})
    with pytest.raises(SystemExit, match="its weights are not the entry's"):
        card_from({**record, "weights_sha256": "0" * 64})
    results_rows = card_from(record)
    nll, se = -log_p.mean(), log_p.std(ddof=1) / 100
    assert results_rows["test NLL, K=5000 (nats)"] == f"{nll:.2f} ± {se:.2f}"
    assert results_rows["test bits/dim"] == f"{nll / (784 * math.log(2)):.4f}"
    assert results_rows["test points"] == 10000 and results_rows["test -L_1 (training bound)"] == "92.50"
    assert results_rows["mean ESS (K=5000)"] == f"{ess.mean():.1f}"
    meta = zoo.read_metadata("mnist_vae")
    assert meta["weights_sha256"] == weights and meta["results"] == results_rows
    card = (tmp_path / "zoo" / "mnist_vae" / "README.md").read_text()
    assert "- Test results from: `python -m benchmarks.loglik --entries mnist_vae" in card
    assert f"| test NLL, K=5000 (nats) | {nll:.2f} ± {se:.2f} |" in card
    zoo.load("mnist_vae")  # the weights still load against the rewritten metadata


def test_loglik_call_for_some_entries_keeps_the_stored_rows_of_the_others(results):
    from benchmarks import loglik

    args = ["--backends", backend(), "--points", "4", "--other-points", "4", "--shard", "4",
            "--num-samples", "10", "--ais-points", "0", "--no-readme"]
    first = loglik.main(args + ["--entries", "mnist_iwae"])
    assert [r["entry"] for r in first] == ["mnist_iwae"]
    both = loglik.main(args + ["--entries", "mnist_vae"])
    assert [r["entry"] for r in both] == ["mnist_iwae", "mnist_vae"]
    assert both[0] == first[0]
    stored = json.loads((results / "loglik.json").read_text())
    assert stored["rows"] == both and stored["reference_backend"] == loglik.FASTEST
    # `--max-shards 0` evaluates nothing and rebuilds the same table from the stored shards.
    assert loglik.main(["--max-shards", "0", "--num-samples", "10", "--no-readme"]) == both


def test_loglik_compares_entries_of_one_dataset_on_the_same_points(results):
    from benchmarks import loglik

    args = ["--quick", "--entries", "mnist_iwae", "mnist_vae", "--backends", backend(),
            "--points", "5", "--shard", "5", "--num-samples", "20", "--ais-points", "3",
            "--ais-chains", "2", "--ais-steps", "5", "--no-readme"]
    rows = loglik.main(args)
    payload = json.loads((results / "loglik_quick.json").read_text())
    by_method = {c["estimate"]: c for c in payload["comparisons"]}
    assert set(by_method) == {"IS", "AIS"}
    assert {by_method["IS"]["entry"], by_method["IS"]["against"]} == {"mnist_iwae", "mnist_vae"}
    from keras_vae import zoo

    row = by_method["IS"]
    assert row["epochs (entry / against)"] == "{} / {}".format(
        *(zoo.read_metadata(row[k])["epochs"] for k in ("entry", "against")))
    store = results / "loglik_quick"
    for method, suffix, points in (("IS", "", 5), ("AIS", ".ais", 3)):
        log_p = {}
        for entry in ("mnist_iwae", "mnist_vae"):
            (shard,) = json.loads((store / f"{entry}.{backend()}{suffix}.json").read_text())[
                "shards"]
            assert len(shard["log_p"]) == shard["n"] == points
            assert sum(shard["log_p"]) == pytest.approx(shard["sum"], abs=1e-3)
            log_p[entry] = np.array(shard["log_p"])
        row = by_method[method]
        d = log_p[row["entry"]] - log_p[row["against"]]
        assert row["points"] == points and float(row["NLL(against) - NLL(entry)"]) >= 0
        assert float(row["NLL(against) - NLL(entry)"]) == pytest.approx(d.mean(), abs=0.006)
        assert float(row["paired SE"]) == pytest.approx(d.std(ddof=1) / np.sqrt(points),
                                                         abs=0.006)
    # On the same points the IS difference is the difference of the two rows' NLLs.
    nll = {r["entry"]: float(r["NLL K=20"].split(" ± ")[0]) for r in rows}
    row = by_method["IS"]
    assert nll[row["against"]] - nll[row["entry"]] == pytest.approx(
        float(row["NLL(against) - NLL(entry)"]), abs=0.011)
    assert "NLL(against) - NLL(entry)" in loglik.render(payload)


def test_loglik_plots_draw_every_entry_and_the_bound_tightens_with_k(tmp_path):
    pytest.importorskip("matplotlib")
    from benchmarks import loglik_plots

    bounds = loglik_plots.bound_against_k("mnist_iwae", tmp_path / "k.png", points=20, max_k=50)
    assert list(bounds) == [1, 2, 5, 10, 50] and (tmp_path / "k.png").stat().st_size > 0
    # L_50 is at least the ELBO by several nats for this model; the draws are seeded.
    assert bounds[50] > bounds[1] + 1.0
    drawn = loglik_plots.nll_against_epochs(["mnist_iwae", "fashion_mnist_vae"],
                                            tmp_path / "epochs.png")
    assert drawn == 2 and (tmp_path / "epochs.png").stat().st_size > 0


def test_memory_benchmark_runs(results):
    from benchmarks import memory

    rows = memory.main(["--quick", "--backends", backend(), "--no-readme"])
    assert len(rows) == 4 and all(float(r["extra peak RSS (MiB)"]) >= 0 for r in rows)


def _readme_block(name):
    text = (ROOT / "README.md").read_text()
    match = re.search(rf"<!-- {name}:start -->\n(.*?)\n?<!-- {name}:end -->", text, re.S)
    return match.group(1) if match else None


@pytest.mark.parametrize("name,render", [("throughput", "markdown"), ("memory", "render"),
                                         ("loglik", "render"), ("estimators", "render"),
                                         ("compression", "render")])
def test_result_tables_are_generated_from_their_json(name, render):
    """The tables the docs include (benchmarks/results/NAME.md) are the JSON's rendering."""
    path = ROOT / "benchmarks" / "results" / f"{name}.json"
    if not path.exists():
        pytest.skip(f"{path.name} not measured yet")
    module = importlib.import_module(f"benchmarks.{name}")
    table = (ROOT / "benchmarks" / "results" / f"{name}.md").read_text().rstrip("\n")
    assert table == getattr(module, render)(json.loads(path.read_text()))


@pytest.mark.parametrize("block,name,render", [("table1", "loglik", "render_table1"),
                                               ("compression", "compression", "render")])
def test_readme_blocks_are_generated_from_their_json(block, name, render):
    path = ROOT / "benchmarks" / "results" / f"{name}.json"
    text = _readme_block(block)
    assert text is not None, f"README has no {block} block"
    if not path.exists():
        assert not text, f"README has a {block} table but there is no {path.name} behind it"
        pytest.skip(f"{path.name} not measured yet")
    module = importlib.import_module(f"benchmarks.{name}")
    assert text == getattr(module, render)(json.loads(path.read_text()))


def test_readme_zoo_block_is_the_listing_of_the_shipped_entries():
    from benchmarks import zoo_listing

    assert _readme_block("zoo") == zoo_listing.render(), (
        "README's zoo table differs from `keras-vae zoo`: run python -m benchmarks.zoo_listing")


def test_throughput_runs_on_tiny_inputs(results):
    from benchmarks import throughput

    payload = throughput.main(["--quick", "--backends", backend(), "--no-peers", "--output", "tiny",
                               "--train-examples", "40", "--eval-points", "2",
                               "--num-samples", "10", "--repeats", "1"])
    trained = [r for r in payload["rows"] if "examples_per_s" in r]
    assert len(trained) == len(throughput.CONFIGS) * len(throughput.BATCHES)
    assert all(r["examples_per_s"] > 0 and r["backend"] == backend() for r in trained)
    assert (results / "tiny.json").exists()
    assert throughput.markdown(payload) == (results / "tiny.md").read_text().rstrip("\n")
    assert "Not measured: plain torch and pythae (--no-peers)." in throughput.markdown(payload)


def test_throughput_gives_a_row_per_steps_per_call(results):
    from benchmarks import throughput

    payload = throughput.main(["--quick", "--backends", backend(), "--no-peers", "--output", "tiny",
                               "--train-examples", "40", "--eval-points", "2", "--num-samples",
                               "10", "--repeats", "1", "--steps-per-execution", "1,2"])
    trained = [r for r in payload["rows"] if "examples_per_s" in r]
    cells = len(throughput.CONFIGS) * len(throughput.BATCHES)
    if backend() == "torch":  # Keras runs one step per call there
        assert [r["steps_per_execution"] for r in trained] == [1] * cells
    else:
        assert [r["steps_per_execution"] for r in trained] == [1] * cells + [2] * cells
        assert trained[-1]["mode"].endswith(", 2 steps/call")
    with pytest.raises(SystemExit):
        throughput.main(["--steps-per-execution", "1,0"])


@needs_training_data
def test_estimators_benchmark_trains_evaluates_and_resumes(results, monkeypatch):
    from benchmarks import estimators

    args = ["--quick", "--models", "IWAE", "PIWAE(8,8)", "--snr-draws", "3", "--no-readme"]
    payload = estimators.main(args + ["--max-models", "1"])
    assert [r["model"] for r in payload["rows"]] == ["IWAE"]
    first = (results / "estimators_quick" / "iwae.json").read_text()
    payload = estimators.main(args)
    assert [r["model"] for r in payload["rows"]] == ["IWAE", "PIWAE(8,8)"]
    assert (results / "estimators_quick" / "iwae.json").read_text() == first  # not retrained
    for row in payload["rows"]:
        assert 60 < row["nll"] < 600 and row["l64"] >= row["nll"] - 1.0
        assert 0 <= row["active_units"] <= 50 and row["snr_encoder"] > 0
    curves = payload["snr_against_k"]
    assert set(curves) == {"iwae", "stl", "dreg"}
    assert [p["k"] for p in curves["iwae"]] == [1, 8]
    assert (results / "estimators_quick_snr.png").stat().st_size > 1000
    assert estimators.render(payload) == (results / "estimators_quick.md").read_text().rstrip("\n")
    # Rows keep each test point's log p: models are compared with IWAE on the same points.
    iwae, piwae = payload["rows"]
    for row in payload["rows"]:
        assert len(row["log_p"]) == row["points"] == 20
        assert -np.mean(row["log_p"]) == pytest.approx(row["nll"], abs=1e-3)
    d = np.array(iwae["log_p"]) - np.array(piwae["log_p"])
    cell = re.search(r"\| PIWAE\(8,8\) \| 1 \| [^|]+\| ([+-][\d.]+) ± ([\d.]+) \|",
                     estimators.render(payload))
    assert float(cell.group(1)) == pytest.approx(d.mean(), abs=0.006)
    assert float(cell.group(2)) == pytest.approx(d.std(ddof=1) / np.sqrt(20), abs=0.006)
    without = {**payload, "rows": [{k: v for k, v in iwae.items() if k != "log_p"}, piwae]}
    assert "NLL - IWAE" not in estimators.render(without)  # no reference: no empty column
    # A row stored before per-point values were kept gets them from its run's checkpoint.
    path = results / "estimators_quick" / "piwae_8_8.json"
    old = {k: v for k, v in piwae.items() if k != "log_p"}
    path.write_text(json.dumps(old))
    again = estimators.main(args)["rows"][1]
    assert len(again["log_p"]) == 20 and again["nll_backend"] == backend()
    assert again["nll"] == pytest.approx(piwae["nll"], abs=1.0)  # same model, new draws
    assert {k: again[k] for k in ("l64", "snr_encoder", "train_minutes")} == {
        k: piwae[k] for k in ("l64", "snr_encoder", "train_minutes")}


def test_table1_cells_paired_differences_and_active_units_from_records():
    from benchmarks import loglik

    rng = np.random.default_rng(0)
    base = -rng.normal(90.0, 6.0, 40)
    gains = {("VAE", 1, 1): 0.0, ("VAE", 5, 1): 0.3, ("IWAE", 5, 1): 1.2, ("IWAE", 50, 1): 2.0,
             ("IWAE", 50, 2): 3.5}
    metas, records, rows, units = {}, {}, {}, {}
    for (model, k, layers), gain in gains.items():
        entry = f"{model}_{k}_{layers}"
        metas[entry] = {"epochs": 121, "recipe": {"dataset": "mnist", "model": model,
                                                  "num_samples": k, "stochastic_layers": layers}}
        log_p = base + gain + rng.normal(0, 0.1, 40)
        records[entry] = {"shards": [{"points_sha256": "same", "log_p": list(log_p)}]}
        rows[entry] = {"nll": float(-log_p.mean())}
        units[entry] = [20 + k // 5] + ([4] if layers == 2 else [])
    # A cell with a zoo card but no loglik record yet shows the card's whole-split NLL.
    metas["VAE_50_1"] = {"epochs": 121, "recipe": {"dataset": "mnist", "model": "VAE",
                                                   "num_samples": 50, "stochastic_layers": 1},
                         "results_raw": {"nll": 88.5, "points": 10000, "num_samples": 5000}}
    t1 = {(r["stochastic layers"], r["k"]): r for r in loglik.table1(rows, metas, units, records)}
    assert t1[1, 50]["VAE (ours)"] == "88.50 (VAE_50_1, 121 ep., ? active, zoo card)"
    del metas["VAE_50_1"]
    t1 = {(r["stochastic layers"], r["k"]): r for r in loglik.table1(rows, metas, units, records)}
    # k=1 IWAE is the k=1 VAE.
    assert t1[1, 1]["IWAE (ours)"].startswith(t1[1, 1]["VAE (ours)"].split(" (")[0])
    assert "= VAE k=1" in t1[1, 1]["IWAE (ours)"] and "20 active" in t1[1, 1]["VAE (ours)"]
    assert "30+4 active" in t1[2, 50]["IWAE (ours)"] and t1[1, 50]["VAE (ours)"] == "not trained"
    d = (records["VAE_5_1"]["shards"][0]["log_p"] - np.array(
        records["IWAE_5_1"]["shards"][0]["log_p"]))
    want = f"{d.mean():+.2f} ± {d.std(ddof=1) / np.sqrt(40):.2f}; paper -0.93"
    assert t1[1, 5]["IWAE - VAE (ours, paired; paper)"] == want
    assert t1[1, 50]["IWAE - VAE (ours, paired; paper)"].startswith("not yet")
    layers = {r["model"]: r["2 layers - 1 layer (NLL, ours, paired)"]
              for r in loglik.layers_table(metas, records)}
    d = (np.array(records["IWAE_50_1"]["shards"][0]["log_p"])
         - records["IWAE_50_2"]["shards"][0]["log_p"])
    assert layers["IWAE k=50"] == f"{d.mean():+.2f} ± {d.std(ddof=1) / np.sqrt(40):.2f}; paper -1.88"
    assert d.mean() < 0 and layers["VAE k=5"].startswith("not yet")


def test_compression_benchmark_on_a_few_images(results):
    import gzip

    from benchmarks import compression

    compression.main(["--entries", "binarized_mnist_iwae", "--points", "20", "--num-samples",
                      "10", "--no-readme", "--backend", backend()])
    payload = json.loads((results / "compression.json").read_text())
    (row,) = payload["rows"]
    assert row["points"] == 20 and row["backend"] == backend()
    assert row["bits_per_dim"] == pytest.approx(row["bytes"] * 8 / (20 * 784))
    # The payload alone is a one-sample estimate of -ELBO: near it, header and clean bits aside.
    assert 0.5 < row["payload_bits_per_dim"] / row["elbo_bits_per_dim"] < 1.5
    assert row["nll_bits_per_dim"] < row["elbo_bits_per_dim"]
    x = compression.test_images("binarized_mnist", 20)
    codecs = payload["classical"]["binarized_mnist"]
    assert codecs["gzip -9 (bytes)"]["bytes"] == len(gzip.compress(x.tobytes(), 9))
    assert "PNG, one file per image" in codecs and "lzma -9e (packed bits)" in codecs
    text = compression.render(payload)
    assert "bits-back ANS, `binarized_mnist_iwae`" in text and "BB-ANS" in text
    assert text == (results / "compression.md").read_text().rstrip("\n")
    # A row coded without its NLL (--num-samples 0) says so under the others' K.
    unmeasured = {**row, "entry": "other", "nll_num_samples": 0, "nll_bits_per_dim": math.nan}
    text = compression.render({**payload, "rows": [row, unmeasured]})
    line = next(t for t in text.splitlines() if "`other`" in t)
    assert "not measured" in line and "NLL (K=10)" in text and "K=0" not in text


def test_table1_keeps_a_cell_at_its_budget_when_the_entry_trains_on(tmp_path):
    """A cell whose zoo entry moved past 121 epochs is read from its kept 121-epoch record."""
    from benchmarks import budget, loglik

    rng = np.random.default_rng(1)
    log_p = {e: list(-rng.normal(90.0 - g, 5.0, 30)) for e, g in (("v", 0.0), ("i", 1.0))}

    def record(entry, epochs, weights, values):
        return {"entry": entry, "weights_sha256": weights, "epochs": epochs, "points": 30,
                "shards": [{"start": 0, "stop": 30, "n": 30, "sum": float(np.sum(values)),
                            "sumsq": float(np.sum(np.square(values))), "log_p": values,
                            "ess_sum": 30.0, "bound_sum": 30 * 95.0, "dims": 784,
                            "points_sha256": "same"}]}

    # The commit that shipped the 121-epoch weights, whose model card gives the hours.
    (tmp_path / "zoo" / "v").mkdir(parents=True)
    (tmp_path / "zoo" / "v" / "model.weights.h5").write_bytes(b"w121")
    (tmp_path / "zoo" / "v" / "metadata.json").write_text('{"wall_time_hours": 1.91}')
    for args in (["init", "-q"], ["add", "zoo"],
                 ["-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-q", "-m", "v"]):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)
    (tmp_path / "zoo" / "v" / "metadata.json").write_text('{"wall_time_hours": 9.0}')
    old = record("v", 121, "w121", log_p["v"])
    assert budget.keep(tmp_path, "v.tensorflow.json", {**old, "epochs": 40}, "v") is None
    assert budget.keep(tmp_path, "v.tensorflow.json", old, "v") is not None
    assert budget.keep(tmp_path, "v.tensorflow.json", old, "v") is None  # kept once
    budget.keep(tmp_path, "v.active_units.json",
                {"weights_sha256": "w121", "epochs": 121, "active_units": [19]}, "v")
    metas = {"v": {"epochs": 1093, "wall_time_hours": 9.0,
                   "recipe": {"dataset": "mnist", "model": "VAE", "num_samples": 50,
                              "stochastic_layers": 1}},
             "i": {"epochs": 121, "wall_time_hours": 2.04,
                   "recipe": {"dataset": "mnist", "model": "IWAE", "num_samples": 50,
                              "stochastic_layers": 1}}}
    new_values = list(np.array(log_p["v"]) + 3.0)  # the entry after more training
    records = {"v": record("v", 1093, "w1093", new_values), "i": record("i", 121, "wi", log_p["i"])}
    rows = {e: loglik.combine_shards(r, 30) for e, r in records.items()}
    out = loglik.table1_at_budget(tmp_path, "tensorflow", metas, rows, {"v": [25], "i": [21]},
                                  records)
    row = {(r["stochastic layers"], r["k"]): r for r in out["table1"]}[1, 50]
    want = -np.mean(log_p["v"])
    assert row["VAE (ours)"] == f"{want:.2f} (v, 121 ep., 1.9 h, 19 active)"
    assert row["IWAE (ours)"].endswith("(i, 121 ep., 2.0 h, 21 active)")
    d = np.array(log_p["v"]) - np.array(log_p["i"])
    assert row["IWAE - VAE (ours, paired; paper)"].startswith(f"{d.mean():+.2f} ±")
    # At the budget (or with nothing kept) a cell is the entry as it is.
    metas["v"]["epochs"] = 121
    out = loglik.table1_at_budget(tmp_path, "tensorflow", metas, rows, {"v": [25]}, records)
    row = {(r["stochastic layers"], r["k"]): r for r in out["table1"]}[1, 50]
    assert row["VAE (ours)"].startswith(f"{-np.mean(new_values):.2f} (v, 121 ep., 9.0 h, 25 active")


@needs_training_data
def test_efficiency_more_steps_per_call_reach_the_same_bound(results):
    from benchmarks import efficiency

    if backend() == "torch":
        pytest.skip("Keras runs one training step per call on torch")
    settings = [backend(), f"{backend()}-spe10"]
    payload = efficiency.main(["--entry", "mnist_vae", "--epochs", "1", "--train-limit", "200",
                               "--settings", *settings, "--output", "efficiency_test"])
    first, more = payload["raw"]
    assert [first["setting"], more["setting"]] == settings
    # the same steps and random draws, only dispatched ten at a time
    assert more["heldout_bound"] == pytest.approx(first["heldout_bound"], abs=1e-3)
    assert math.isfinite(first["heldout_bound"]) and first["seconds_per_epoch"] > 0
    table = (results / "efficiency_test.md").read_text()
    assert f"| {settings[1]} | {backend()} | 10 |" in table and "| yes |" in table
