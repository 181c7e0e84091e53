"""Resumable training of a zoo recipe, one `model.fit` epoch at a time.

Each epoch gets its own data draw (dynamic binarization is a fresh Bernoulli
sample of the pixel intensities: drawn on the host and seeded by (seed,
epoch), or drawn inside each training step on the device and seeded by
(seed, step), see `default_binarization`) and its own shuffle, so a run stopped at any epoch and started again continues exactly:
the checkpoint holds the weights, the optimizer state and the sampler's seed
state (`model.save_weights`), plus the epoch and the history. Checkpoints are
written to a temporary file and renamed, and the previous one is kept, so a
kill mid-write loses at most the epoch in progress.
"""

import json
import os
import pathlib
import sys
import time

import numpy as np

STATE, CKPT, PREV = "state.json", "checkpoint.weights.h5", "previous.weights.h5"
RECORD = "checkpoint.json"  # written by runs/checkpoints.py store


class RunError(RuntimeError):
    """A run folder that cannot be resumed as it stands."""


def _prepare(recipe, images):
    """uint8 images as the recipe's float32 model input `(n, *recipe.input_shape)`.

    Bernoulli recipes see [0, 1] (intensities, for dynamic binarization);
    8-bit likelihoods see the raw pixel values 0..255.
    """
    from keras_vae import datasets

    images = images.reshape((len(images),) + recipe.input_shape)
    if recipe.likelihood == "bernoulli":
        return datasets.to_unit_interval(images, datasets.max_value(recipe.dataset))
    return images.astype(np.float32)


def load_test(recipe, data_dir=None):
    """The recipe's test set as float32 model input; dynamic MNIST is binarized once, seed 123."""
    from keras_vae import datasets

    test = _prepare(recipe, datasets.load(recipe.dataset, "test", data_dir))
    return datasets.binarize(test, 123) if recipe.dynamic_binarization else test


def load_data(recipe, data_dir=None, train_limit=None, heldout_size=1000):
    """(training source, held-out set, test set) for a recipe, as float32 model input.

    With dynamic binarization the training source holds pixel intensities in
    [0, 1], binarized afresh each epoch by `train`.
    """
    from keras_vae import datasets

    train = datasets.load(recipe.dataset, "train", data_dir)
    if train_limit:
        train = train[:train_limit]
    test = load_test(recipe, data_dir)
    return _prepare(recipe, train), test[:heldout_size], test


def _save_checkpoint(model, run_dir, state):
    from keras_vae.zoo import sha256

    tmp = run_dir / ("tmp." + CKPT)
    model.save_weights(tmp)
    if (run_dir / CKPT).exists():
        os.replace(run_dir / CKPT, run_dir / PREV)
        state["previous_sha256"] = state.get("checkpoint_sha256")
    state["checkpoint_sha256"] = sha256(tmp)
    os.replace(tmp, run_dir / CKPT)
    tmp_state = run_dir / ("tmp." + STATE)
    tmp_state.write_text(_dumps(state))
    os.replace(tmp_state, run_dir / STATE)


def _restore(model, run_dir):
    """Loads the newest checkpoint whose sha256 matches the state; returns the state or None.

    A checkpoint truncated mid-write (or out of step with state.json) fails
    its hash, and the previous checkpoint, one epoch older, is used instead.
    """
    from keras_vae.zoo import sha256

    state = json.loads((run_dir / STATE).read_text()) if (run_dir / STATE).exists() else None
    _check_not_behind_record(run_dir, state["epoch"] if state else 0)
    if state is None:
        return None
    model.optimizer.build(model.trainable_variables)
    if "checkpoint_sha256" not in state and (run_dir / CKPT).exists():
        model.load_weights(run_dir / CKPT)  # a run started before hashes were recorded
        return state
    for name, key in ((CKPT, "checkpoint_sha256"), (PREV, "previous_sha256")):
        path = run_dir / name
        if path.exists() and state.get(key) and sha256(path) == state[key]:
            model.load_weights(path)
            if name == PREV:
                state["history"] = state["history"][:-1]
                state["epoch"] -= 1
                state["checkpoint_sha256"] = state.pop("previous_sha256")
                for record in state.get("commands", []):
                    record["epochs"][1] = min(record["epochs"][1], state["epoch"])
            return state
        print(f"checkpoint {path} is missing or fails its sha256; trying the previous one",
              file=sys.stderr)
    raise RunError(f"No intact checkpoint in {run_dir}; delete the folder to start over.")


def _metric(value):
    """A float32 metric as the shortest decimal that reads back to the same float32.

    Keras reports float32 means; their float64 repr spends 17 digits on noise,
    and the history is stored twice for every epoch of a 3280-epoch run.
    """
    return float(str(np.float32(value)))


def _dumps(value):
    """JSON with one line per history record: readable, and a third smaller than indent=1."""
    if isinstance(value, list):
        return "[\n" + ",\n".join(json.dumps(r) for r in value) + "\n]" if value else "[]"
    return "{\n" + ",\n".join(f"{json.dumps(k)}: {_dumps(v) if k == 'history' else json.dumps(v)}"
                              for k, v in value.items()) + "\n}\n"


def _check_not_behind_record(run_dir, epoch):
    """Refuses to train a folder whose stored checkpoint (runs/checkpoints.py) is further along.

    A fresh clone has the record but not the checkpoint and state (they live
    in the git history); training there would silently start again from epoch 0.
    """
    try:
        stored = json.loads((run_dir / RECORD).read_text())["epoch"]
    except FileNotFoundError:
        return
    except (ValueError, KeyError, TypeError) as e:
        raise RunError(f"{run_dir / RECORD} is damaged ({e!r}); repair it from git, or "
                           "delete it to train this folder from scratch.") from None
    if epoch < stored:
        raise RunError(
            f"{run_dir} holds epoch {epoch}, but its {RECORD} records a checkpoint at epoch "
            f"{stored}, kept in the git history: run `python runs/checkpoints.py restore "
            f"{run_dir}` first (or delete {RECORD} to start from scratch).")


def _write_history(history, folder, bound_name):
    (folder / "history.json").write_text(_dumps(history) + "\n")
    _plot(history, folder / "curves.png", bound_name)


def _plot(history, path, bound_name):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(epochs, [-h[bound_name] for h in history], label=f"train -{bound_name}")
    ax.plot(epochs, [-h["heldout_bound"] for h in history], label="held-out -L_k")
    nll = [(h["epoch"], h["nll_5000"]) for h in history if "nll_5000" in h]
    if nll:
        ax.plot(*zip(*nll), "o", label="held-out NLL (K=5000)")
    ax.set_xscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("nats")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def default_steps_per_execution():
    """Training steps per compiled call: many on a GPU, where a step of the paper's
    MLP is microseconds and Python's per-step overhead dominates; 1 on torch,
    where Keras refuses more."""
    import keras

    from keras_vae._device import device_name

    if keras.backend.backend() == "torch":
        return 1
    return 1 if device_name().endswith("(CPU)") else 100


def check_steps_per_execution(value):
    import keras

    from keras_vae._checks import check_positive_int

    value = check_positive_int(value, "steps_per_execution")
    if value > 1 and keras.backend.backend() == "torch":
        raise ValueError("Keras runs one training step per call on the torch backend: "
                         f"`steps_per_execution` must be 1 there. Received: {value}; use the jax "
                         "or tensorflow backend for multi-step execution.")
    return value


BINARIZATIONS = ("host", "device")


def default_binarization():
    """Where a new run draws its dynamic binarization: `"device"` on a GPU, `"host"` on a CPU.

    On a GPU a step is microseconds and a fresh host copy of the training set
    each epoch (47 M pixels for MNIST) is worth avoiding; `"device"` draws
    each batch inside the compiled step instead (`binarize_in_step`). On a
    CPU both cost the same, and `"host"` keeps the data draws of the runs
    trained before in-step binarization existed. A run keeps the choice it
    started with, as its state records.
    """
    from keras_vae._device import device_name

    return "host" if device_name().endswith("(CPU)") else "device"


def _binarization(requested, state):
    if requested is not None and requested not in BINARIZATIONS:
        raise ValueError(f"Expected `binarization` in {BINARIZATIONS}. "
                         f"Received: binarization={requested!r}")
    # Runs started before the choice was recorded drew on the host.
    recorded = state.get("binarization", "host" if state["epoch"] else None)
    if recorded and requested and requested != recorded:
        raise ValueError(f"This run drew its binarization on the {recorded} since epoch 1; "
                         f"resuming it with binarization={requested!r} would change the data "
                         "it sees. Leave `binarization` unset to continue it.")
    return recorded or requested or default_binarization()


class _EpochClock:
    """How long the next epoch will take, for `train(stop_at=...)`.

    A stage's last epoch adds a K=5000 evaluation that can cost more than the
    epoch itself (for k=1, 500 points x 5000 samples is about 14 epochs' worth
    of forward passes), so it is estimated apart: from its own measurement once
    one was made, before that from the training pace scaled by the work.
    """

    def __init__(self, num_samples, train_size, nll_points):
        self.train_s = self.eval_s = None
        # Forward-pass equivalents: a training step is about 3 (forward and backward).
        self.eval_ratio = nll_points * 5000 / max(1, 3 * num_samples * train_size)

    def trained(self, seconds):
        self.train_s = seconds

    def evaluated(self, seconds_since_epoch_start):
        self.eval_s = max(0.0, seconds_since_epoch_start - (self.train_s or 0.0))

    def estimate(self, ends_stage):
        if self.train_s is None:
            return 0.0  # nothing measured yet: the caller's outer timeout is the guard
        extra = 0.0
        if ends_stage:
            extra = self.eval_s if self.eval_s is not None else self.eval_ratio * self.train_s
        return 1.1 * (self.train_s + extra)


def train(recipe, run_dir, epochs=None, data_dir=None, seed=0, train_limit=None,
          heldout_size=1000, nll_points=500, verbose=2, command="", steps_per_execution=None,
          binarization=None, stop_at=None, jit_compile="auto"):
    """Trains `recipe` in `run_dir` up to `epochs` (default: the full schedule), resuming.

    `steps_per_execution` (default: `default_steps_per_execution()`) runs that
    many training steps per compiled call; the weights agree with one step per
    call within float rounding, so a run may change it when it resumes.
    `binarization` (`"host"` or `"device"`, for recipes with dynamic
    binarization; default: what the run recorded, else `default_binarization()`)
    says where each epoch's binary pixels are drawn; a run cannot change it.
    `jit_compile` goes to `model.compile` (XLA on tensorflow, `torch.compile`
    on torch; jax always compiles). `stop_at` (a `time.time()` value) stops the run cleanly, checkpointed,
    before an epoch that would end after it, judged by the last epoch's time
    (a device window ends at a fixed time). Returns the run's state dict
    (epoch, history, wall time).
    """
    import keras

    from keras_vae import datasets

    steps_per_execution = check_steps_per_execution(
        steps_per_execution or default_steps_per_execution())
    run_dir = pathlib.Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    target = epochs or recipe.total_epochs
    keras.utils.set_random_seed(seed)
    train_x, heldout, _ = load_data(recipe, data_dir, train_limit, heldout_size)
    model = recipe.build(train_x, seed=seed)
    model.compile(optimizer=keras.optimizers.Adam(recipe.learning_rate(0), beta_1=0.9,
                                                  beta_2=0.999, epsilon=1e-4),
                  steps_per_execution=steps_per_execution, jit_compile=jit_compile)
    model.build((None,) + recipe.input_shape)
    state = _restore(model, run_dir) or {
        "epoch": 0, "history": [], "wall_time_s": 0.0, "seed": seed,
        "recipe": recipe.describe(), "backend": keras.backend.backend(), "command": command}
    state["steps_per_execution"] = steps_per_execution
    if state["epoch"] < target:
        # Every command that trains is recorded with its epochs, for the model card.
        state.setdefault("commands", []).append(
            {"command": command, "epochs": [state["epoch"], state["epoch"]]})
    if recipe.dynamic_binarization:
        state["binarization"] = _binarization(binarization, state)
        if state["binarization"] == "device":
            model.binarize_in_step(seed)
    # K=5000 checkpoints at the end of each stage (1, 4, 13, 40, 121, ... epochs).
    stage_ends = {sum(3**j for j in range(i + 1)) for i in range(recipe.stages)}
    clock = _EpochClock(recipe.num_samples, len(train_x), nll_points)
    while state["epoch"] < target:
        next_epoch = state["epoch"] + 1
        ends_stage = bool(nll_points) and (next_epoch in stage_ends or next_epoch == target)
        if stop_at is not None and time.time() + clock.estimate(ends_stage) > stop_at:
            if verbose:
                print(f"stopping at epoch {state['epoch']}: the next one would end after the "
                      "deadline", flush=True)
            break
        epoch = state["epoch"]
        start = time.perf_counter()
        model.optimizer.learning_rate.assign(recipe.learning_rate(epoch))
        x = train_x
        if recipe.dynamic_binarization and state["binarization"] == "host":
            x = datasets.binarize(train_x, seed, epoch)
        x = x[np.random.default_rng([seed, epoch, 1]).permutation(len(x))]
        if verbose:
            print(f"epoch {epoch + 1}/{target} (stage {recipe.stage(epoch)}, "
                  f"lr {recipe.learning_rate(epoch):.2e})", flush=True)
        logs = model.fit(x, batch_size=recipe.batch_size, epochs=1, shuffle=False,
                         verbose=verbose).history
        record = {"epoch": epoch + 1, **{k: _metric(v[-1]) for k, v in logs.items()}}
        record["heldout_bound"] = _metric(model.evaluate(
            heldout, batch_size=100, verbose=0, return_dict=True)[model.bound_name])
        clock.trained(time.perf_counter() - start)
        if ends_stage:
            points = heldout[:nll_points]
            record["nll_5000"] = float(-np.mean(model.log_likelihood(points, 5000, verbose=0)))
            clock.evaluated(time.perf_counter() - start)
        state["epoch"] = epoch + 1
        state["commands"][-1]["epochs"][1] = state["epoch"]
        state["wall_time_s"] += time.perf_counter() - start
        state["history"].append(record)
        _save_checkpoint(model, run_dir, state)
        _write_history(state["history"], run_dir, model.bound_name)
        if verbose:
            print(json.dumps(record), flush=True)
    return model, state


def finish(recipe, model, state, out_dir, data_dir=None, test_points=None,
           device=None, verbose=1, command="", log_p_path=None):
    """Evaluates K=5000 on the test set and writes the zoo entry through `zoo.save`.

    `log_p_path` also keeps the per-point estimates, with the weights they belong
    to, as JSON: `python -m benchmarks.loglik --reuse-finish` takes them instead of
    evaluating the same K=5000 on the same points a second time.
    """
    from keras_vae import evaluation, recipes, zoo

    test = load_test(recipe, data_dir)
    if test_points:
        test = test[:test_points]
    s = evaluation.summarize(model, test, num_samples=5000, verbose=verbose, return_log_p=True)
    log_p, point_ess = s.pop("log_p"), s.pop("point_ess")
    results = recipes.card_results(s, recipe.num_samples)
    out_dir = pathlib.Path(out_dir)
    zoo.save(model, out_dir, recipe=recipe.describe(), epochs=state["epoch"],
             wall_time_hours=round(state["wall_time_s"] / 3600, 2), seed=state["seed"],
             command=state.get("command", ""), commands=state.get("commands", []),
             finish_command=command, results=results, backend=state.get("backend"),
             results_raw=s,
             **({"device": device} if device else {}))
    # K=5000 through a conv decoder costs ~1 s a point on a CPU (more on torch):
    # the golden NLL of the conv entries uses fewer points.
    zoo.record_golden(out_dir, test, nll_points=100 if recipe.architecture == "mlp" else 10)
    if log_p_path:
        import keras

        pathlib.Path(log_p_path).write_text(json.dumps({
            "entry": out_dir.name, "weights_sha256": zoo.read_metadata(out_dir)["weights_sha256"],
            "num_samples": 5000, "backend": keras.backend.backend(), "first_points": len(log_p),
            "log_p": [round(float(v), 4) for v in log_p],
            "ess": [round(float(v), 4) for v in point_ess]}) + "\n")
    if state.get("history"):
        # From the state, not the run folder: a run restored from the git history
        # has its state but not these derived files.
        _write_history(state["history"], out_dir, model.bound_name)
    return results
