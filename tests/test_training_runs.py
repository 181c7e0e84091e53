"""Resumable training of a recipe, and the CLI, on a few MNIST examples."""

import dataclasses
import json
import os

import keras
import numpy as np
import pytest

from keras_vae import cli, recipes, training, zoo

pytestmark = pytest.mark.skipif(not os.environ.get("KERAS_VAE_DATA_DIR"),
                                reason="needs KERAS_VAE_DATA_DIR with MNIST")
RECIPE = dataclasses.replace(recipes.RECIPES["mnist_iwae"], num_samples=2)
SMALL = dict(train_limit=60, heldout_size=20, nll_points=0, verbose=0)


def weights(model):
    return [np.array(w) for w in model.get_weights()]


def test_schedule_follows_the_paper():
    r = recipes.RECIPES["mnist_iwae"]
    assert r.total_epochs == 3280
    assert [r.stage(e) for e in (0, 1, 3, 4, 12, 13, 120, 121, 3279)] == [0, 1, 1, 2, 2, 3, 4, 5, 7]
    assert r.learning_rate(0) == pytest.approx(1e-3)
    assert r.learning_rate(3279) == pytest.approx(1e-3 * 10 ** (-1))


def test_resume_gives_the_same_weights_as_an_uninterrupted_run(tmp_path):
    straight, state = training.train(RECIPE, tmp_path / "a", epochs=2, **SMALL)
    keras.backend.clear_session()
    training.train(RECIPE, tmp_path / "b", epochs=1, **SMALL)
    keras.backend.clear_session()
    resumed, resumed_state = training.train(RECIPE, tmp_path / "b", epochs=2, **SMALL)
    assert resumed_state["epoch"] == 2 and len(resumed_state["history"]) == 2
    for a, b in zip(weights(straight), weights(resumed)):
        np.testing.assert_array_equal(a, b)
    assert resumed_state["history"] == state["history"]


def test_truncated_checkpoint_falls_back_to_the_previous_one(tmp_path):
    straight, _ = training.train(RECIPE, tmp_path / "a", epochs=2, **SMALL)
    keras.backend.clear_session()
    training.train(RECIPE, tmp_path / "b", epochs=2, **SMALL)
    checkpoint = tmp_path / "b" / training.CKPT
    checkpoint.write_bytes(checkpoint.read_bytes()[:1000])
    keras.backend.clear_session()
    resumed, state = training.train(RECIPE, tmp_path / "b", epochs=2, **SMALL)
    assert state["epoch"] == 2
    for a, b in zip(weights(straight), weights(resumed)):
        np.testing.assert_array_equal(a, b)


def test_cli_train_zoo_evaluate(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KERAS_VAE_ZOO_DIR", str(tmp_path / "zoo"))
    common = ["--train-limit", "40", "--test-points", "20", "--run-dir", str(tmp_path / "run"),
              "--verbose", "0"]
    cli.main(["train", "mnist_vae", "--epochs", "1", "--skip-finish", *common])
    assert not (tmp_path / "zoo" / "mnist_vae").exists()
    cli.main(["train", "mnist_vae", "--epochs", "2", *common])
    assert (tmp_path / "zoo" / "mnist_vae" / "curves.png").exists()
    meta = zoo.read_metadata("mnist_vae")
    assert meta["epochs"] == 2 and meta["recipe"]["dataset"] == "mnist"
    first, second = (f"keras-vae train mnist_vae --epochs {n}" for n in (1, 2))
    assert meta["command"].startswith(first)
    assert [(c["command"].split(" --train")[0], c["epochs"]) for c in meta["commands"]] == [
        (first + " --skip-finish", [0, 1]), (second, [1, 2])]
    card = (tmp_path / "zoo" / "mnist_vae" / "README.md").read_text()
    assert f"- Epochs 1-2: `{second}" in card and f"- Evaluated and written by: `{second}" in card
    # The finish keeps its per-point K=5000 values for the loglik benchmark, tied to the weights.
    kept = json.loads((tmp_path / "run" / "finish_log_p.json").read_text())
    assert kept["weights_sha256"] == meta["weights_sha256"] and kept["num_samples"] == 5000
    assert kept["first_points"] == len(kept["log_p"]) == len(kept["ess"]) == 20
    assert -np.mean(kept["log_p"]) == pytest.approx(meta["results_raw"]["nll"], abs=1e-3)
    assert np.mean(kept["ess"]) == pytest.approx(meta["results_raw"]["ess"], rel=1e-3)
    # A run restored from the git history has its state but not the derived files:
    # the finish writes the entry's history and curves from the state.
    for name in ("history.json", "curves.png"):
        (tmp_path / "run" / name).unlink()
        (tmp_path / "zoo" / "mnist_vae" / name).unlink()
    cli.main(["train", "mnist_vae", "--epochs", "2", *common])
    text = (tmp_path / "zoo" / "mnist_vae" / "history.json").read_text()
    history = json.loads(text)
    assert [h["epoch"] for h in history] == [1, 2]
    # One line per epoch, each float32 metric at the shortest decimal that reads back to it.
    assert len(text.splitlines()) == len(history) + 2
    metrics = [v for h in history for k, v in h.items() if k not in ("epoch", "nll_5000")]
    assert len(metrics) >= 10 and all(repr(v) == str(np.float32(v)) for v in metrics)
    assert (tmp_path / "zoo" / "mnist_vae" / "curves.png").exists()
    (tmp_path / "runs" / "svhn_vae").mkdir(parents=True)
    (tmp_path / "runs" / "svhn_vae" / "state.json").write_text('{"epoch": 3}')
    (tmp_path / "runs" / "svhn_iwae").mkdir(parents=True)
    (tmp_path / "runs" / "svhn_iwae" / "state.json").write_text('{"epo')
    cli.main(["zoo", "--runs-dir", str(tmp_path / "runs")])
    listing = {line.split("|")[0].strip(): line for line in capsys.readouterr().out.splitlines()}
    assert "recipe only" in listing["svhn_iwae"] and "unreadable" in listing["svhn_iwae"]
    assert "recipe only" in listing["svhn_vae"] and "3 (in training)" in listing["svhn_vae"]
    assert "recipe only" not in listing["mnist_vae"]
    cli.main(["evaluate", "mnist_vae", "--num-points", "10", "--num-samples", "50", "--verbose", "0",
              "--output", str(tmp_path / "ev.json")])
    assert "NLL K=50" in capsys.readouterr().out and (tmp_path / "ev.json").exists()
    cli.main(["samples", "mnist_vae", "--num", "3", "--out", str(tmp_path / "s.png")])
    assert (tmp_path / "s.png").stat().st_size > 1000


def test_a_folder_behind_its_stored_checkpoint_is_not_trained(tmp_path, capsys):
    run = tmp_path / "runs" / "svhn_vae"
    run.mkdir(parents=True)
    (run / training.RECORD).write_text('{"epoch": 3, "checkpoint_blob": "0"}')
    with pytest.raises(SystemExit, match=r"epoch 0, but .*epoch 3.*checkpoints.py restore"):
        cli.main(["train", "mnist_vae", "--epochs", "1", "--train-limit", "40",
                  "--run-dir", str(run), "--verbose", "0"])
    assert not (run / training.STATE).exists()
    cli.main(["zoo", "--runs-dir", str(tmp_path / "runs")])
    listing = {line.split("|")[0].strip(): line for line in capsys.readouterr().out.splitlines()}
    assert "3 (in training)" in listing["svhn_vae"]
    (run / training.RECORD).write_text('{"epo')
    with pytest.raises(SystemExit, match="checkpoint.json is damaged"):
        cli.main(["train", "mnist_vae", "--epochs", "1", "--train-limit", "40",
                  "--run-dir", str(run), "--verbose", "0"])


def test_cli_quickstart_prints_a_table_from_summarize(tmp_path, monkeypatch, capsys):
    from keras_vae import datasets

    load = datasets.load
    monkeypatch.setattr(datasets, "load", lambda *a, **k: load(*a, **k)[:40])
    cli.main(["quickstart", "--epochs", "1", "--batch-size", "20", "--num-test", "8",
              "--num-samples", "20", "--verbose", "0", "--output", str(tmp_path / "q.json")])
    assert "binarized MNIST, 8 test points" in capsys.readouterr().out
    import json

    rows = json.loads((tmp_path / "q.json").read_text())["rows"]
    assert [r["model"] for r in rows] == ["VAE k=1", "IWAE k=5"]
    for r in rows:
        nll, se = (float(v) for v in r["test NLL (K=20)"].split(" ± "))
        assert 100 < nll < 800 and se > 0 and 0 < float(r["mean ESS"]) <= 20


def test_summarize_needs_a_compiled_model():
    from keras_vae import evaluation

    model = RECIPE.build(seed=0)
    with pytest.raises(ValueError, match=r"`summarize` needs a compiled model"):
        evaluation.summarize(model, np.zeros((2, 784), "float32"))


def _seed_state(model):
    return keras.ops.convert_to_numpy(model.sampler.seed_generator.state).copy()


def test_steps_per_execution_gives_the_weights_of_one_step_per_call(tmp_path):
    args = dict(SMALL, train_limit=500)  # 25 steps of batch 20 per epoch
    if keras.backend.backend() == "torch":
        with pytest.raises(ValueError, match="steps_per_execution"):
            training.train(RECIPE, tmp_path / "t", epochs=1, steps_per_execution=25, **args)
        assert not (tmp_path / "t" / training.STATE).exists()
        return
    one, _ = training.train(RECIPE, tmp_path / "one", epochs=1, steps_per_execution=1, **args)
    seeds_one = _seed_state(one)
    keras.backend.clear_session()
    many, state = training.train(RECIPE, tmp_path / "many", epochs=1, steps_per_execution=25,
                                 **args)
    assert state["steps_per_execution"] == many.steps_per_execution == 25
    # The sampler's seed state advanced through the multi-step calls as through single steps.
    np.testing.assert_array_equal(_seed_state(many), seeds_one)
    for a, b in zip(weights(one), weights(many)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    keras.backend.clear_session()
    # Stopped and resumed with several steps per call: the same as uninterrupted.
    straight, _ = training.train(RECIPE, tmp_path / "straight", epochs=2, steps_per_execution=5,
                                 **args)
    keras.backend.clear_session()
    training.train(RECIPE, tmp_path / "resumed", epochs=1, steps_per_execution=5, **args)
    keras.backend.clear_session()
    resumed, _ = training.train(RECIPE, tmp_path / "resumed", epochs=2, steps_per_execution=5,
                                **args)
    for a, b in zip(weights(straight), weights(resumed)):
        np.testing.assert_array_equal(a, b)


def test_in_step_binarization_is_the_same_whatever_the_steps_per_call(tmp_path):
    args = dict(SMALL, train_limit=500, binarization="device")
    if keras.backend.backend() == "torch":
        model, state = training.train(RECIPE, tmp_path / "t", epochs=1, **args)
        assert state["binarization"] == "device" and model.step_binarization_seed == 0
        return
    one, state = training.train(RECIPE, tmp_path / "one", epochs=1, steps_per_execution=1,
                                **args)
    assert state["binarization"] == "device"
    seeds_one = _seed_state(one)
    keras.backend.clear_session()
    many, _ = training.train(RECIPE, tmp_path / "many", epochs=1, steps_per_execution=25, **args)
    np.testing.assert_array_equal(_seed_state(many), seeds_one)
    assert not np.array_equal(seeds_one, np.zeros_like(seeds_one))
    for a, b in zip(weights(one), weights(many)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    keras.backend.clear_session()
    # Host draws are other pixels: the in-step draw really replaced them.
    host, _ = training.train(RECIPE, tmp_path / "host", epochs=1, steps_per_execution=25,
                             **dict(args, binarization="host"))
    assert max(np.abs(a - b).max() for a, b in zip(weights(one), weights(host))) > 1e-3
    keras.backend.clear_session()
    straight, _ = training.train(RECIPE, tmp_path / "straight", epochs=2, steps_per_execution=5,
                                 **args)
    keras.backend.clear_session()
    training.train(RECIPE, tmp_path / "resumed", epochs=1, steps_per_execution=5, **args)
    keras.backend.clear_session()
    resumed, _ = training.train(RECIPE, tmp_path / "resumed", epochs=2, steps_per_execution=25,
                                **dict(args, binarization=None))
    for a, b in zip(weights(straight), weights(resumed)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_a_run_keeps_where_it_binarizes(tmp_path):
    training.train(RECIPE, tmp_path / "run", epochs=1, **SMALL)  # CPU default: host
    with pytest.raises(ValueError, match="binarization='device' would change the data"):
        training.train(RECIPE, tmp_path / "run", epochs=2, binarization="device", **SMALL)
    with pytest.raises(ValueError, match="Expected `binarization` in"):
        training.train(RECIPE, tmp_path / "other", epochs=1, binarization="gpu", **SMALL)


def test_in_step_draws_are_bernoulli_of_the_intensities():
    model = RECIPE.build(np.full((4, 784), 0.5, "float32"), seed=0)
    model.compile(optimizer="adam")
    model.build((None, 784))
    model.binarize_in_step(7)
    p = np.linspace(0.0, 1.0, 784, dtype="float32")
    x = keras.ops.convert_to_tensor(np.tile(p, (2000, 1)))
    draws = [keras.ops.convert_to_numpy(model._binarize(x, step)) for step in (0, 1)]
    assert set(np.unique(draws[0])) <= {0.0, 1.0}
    assert not np.array_equal(draws[0], draws[1])  # a fresh draw each step
    np.testing.assert_array_equal(draws[0], keras.ops.convert_to_numpy(model._binarize(x, 0)))
    # Each pixel's frequency over 2000 rows against its intensity: 4.5 standard errors.
    se = np.sqrt(p * (1 - p) / 2000) + 1e-6
    assert np.all(np.abs(draws[0].mean(0) - p) < 4.5 * se + 1e-3)
    with pytest.raises(ValueError, match="Expected `seed` to be an integer"):
        model.binarize_in_step(-1)


def test_stop_at_ends_the_run_cleanly_between_epochs(tmp_path, monkeypatch):
    import time
    import types

    clock = iter([0.0, 1000.0, 1000.0])  # what training's deadline checks read, in turn
    monkeypatch.setattr(training, "time", types.SimpleNamespace(
        time=lambda: next(clock), perf_counter=time.perf_counter))
    _, state = training.train(RECIPE, tmp_path / "run", epochs=3, stop_at=500.0, **SMALL)
    assert state["epoch"] == 1  # the second epoch would have ended after the deadline
    assert training._restore(_compiled(), tmp_path / "run")["epoch"] == 1
    keras.backend.clear_session()
    _, state = training.train(RECIPE, tmp_path / "run", epochs=3, stop_at=500.0, **SMALL)
    assert state["epoch"] == 1  # already past it: no epoch started


def test_the_deadline_estimate_counts_a_stage_end_evaluation():
    # k=1 on 60,000 points against 500 points x K=5000: the evaluation is 2.5e6 / 1.8e5
    # forward-pass equivalents of a training epoch before it has been timed.
    clock = training._EpochClock(num_samples=1, train_size=60000, nll_points=500)
    assert clock.estimate(ends_stage=True) == 0.0  # nothing timed: the outer timeout guards
    clock.trained(10.0)
    assert clock.estimate(ends_stage=False) == pytest.approx(11.0)
    assert clock.estimate(ends_stage=True) == pytest.approx(1.1 * (10 + 10 * 2.5e6 / 1.8e5))
    clock.evaluated(10.0 + 4.0)  # then its own measurement wins
    assert clock.estimate(ends_stage=True) == pytest.approx(1.1 * 14.0)
    assert training._EpochClock(50, 60000, 0).estimate(ends_stage=False) == 0.0


def _compiled():
    model = RECIPE.build(np.zeros((2, 784), "float32"), seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.build((None, 784))
    return model
