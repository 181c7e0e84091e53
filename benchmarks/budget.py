"""Table 1 at one training budget while its entries train on.

Table 1 compares VAE and IWAE after the same number of epochs (stages 0-4 of
the paper's schedule). Some of its cells are flagship zoo entries that later
sessions carry further along the schedule (`mnist_vae`, `mnist_iwae`), so
the zoo entry itself no longer holds the budget's weights. When a cell's
reference record (the K=5000 importance-sampled record on the whole test
split, and its active units) is about to be replaced because the entry's
weights changed, the record of the budget's weights is kept under
`benchmarks/results/loglik/table1/` with the commit that shipped those
weights, and Table 1 reads it from there. The weights themselves stay in the
git history: `git show COMMIT:zoo/ENTRY/model.weights.h5`.
"""

import json
import subprocess

TABLE1_EPOCHS = 121  # stages 0-4: 1 + 3 + 9 + 27 + 81 epochs


def folder(store):
    return store / "table1"


def keep(store, name, record, entry):
    """Keeps `record` (file `name` of the store) if it describes the budget's weights.

    Returns the kept path, or None when the record is of another budget or one
    of these weights is kept already (the first kept stays: it is what the
    table was built from).
    """
    if record.get("epochs") != TABLE1_EPOCHS or not record.get("weights_sha256"):
        return None
    path = folder(store) / name
    if path.exists() and json.loads(path.read_text()).get("weights_sha256") == record[
            "weights_sha256"]:
        return None
    record = {**record, "weights_commit": _weights_commit(store, entry)}
    path.parent.mkdir(parents=True, exist_ok=True)
    from benchmarks.loglik import dump_record

    path.write_text(dump_record(record) if "shards" in record else
                    json.dumps(record, indent=1) + "\n")
    return path


def _weights_commit(store, entry):
    """The last commit that changed the entry's shipped weights (those of the record)."""
    out = subprocess.run(["git", "log", "-1", "--format=%H", "--",
                          f":(top)zoo/{entry}/model.weights.h5"],
                         capture_output=True, text=True, cwd=store)
    return out.stdout.strip() or None


def _shipped_hours(store, commit, entry):
    """Training hours on the model card shipped with the kept weights (None if unknown)."""
    if not commit:
        return None
    out = subprocess.run(["git", "show", f"{commit}:zoo/{entry}/metadata.json"],
                         capture_output=True, text=True, cwd=store)
    try:
        return json.loads(out.stdout).get("wall_time_hours") if not out.returncode else None
    except ValueError:
        return None


def at_budget(store, entry, meta, reference, current_record, current_units):
    """(epochs, IS record, active units, training hours) of the entry for Table 1.

    The entry's own ones while it is at the budget (or has no kept record);
    otherwise the kept ones of its budget weights, with the hours from the
    model card of the commit that shipped them.
    """
    epochs = meta.get("epochs")
    kept = folder(store) / f"{entry}.{reference}.json"
    if epochs == TABLE1_EPOCHS or not kept.exists():
        return epochs, current_record, current_units, meta.get("wall_time_hours")
    record = json.loads(kept.read_text())
    units_path = folder(store) / f"{entry}.active_units.json"
    units = None
    if units_path.exists():
        kept_units = json.loads(units_path.read_text())
        if kept_units.get("weights_sha256") == record["weights_sha256"]:
            units = kept_units["active_units"]
    return (record["epochs"], record, units,
            _shipped_hours(store, record.get("weights_commit"), entry))
