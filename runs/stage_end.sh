#!/usr/bin/env bash
# Everything a zoo entry ships after its run reaches a stage's end, in order:
# the finish (K=5000 on the whole test split, model card), its loglik rows,
# its compression row (if it has one), then the README tables, the NLL-against-epochs plot
# and the zoo listing regenerated from their JSON. Run it with the training
# stopped, then commit and `python runs/checkpoints.py store runs/ENTRY`.
#
#     runs/stage_end.sh mnist_iwae 364
#
# Expects the package installed with the benchmark extras and
# KERAS_VAE_DATA_DIR set; TEST_POINTS=N finishes on the first N test points
# only (the Fashion-MNIST entries on a CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
entry=${1:?usage: runs/stage_end.sh ENTRY EPOCHS}
epochs=${2:?usage: runs/stage_end.sh ENTRY EPOCHS}
points=()
[ "${TEST_POINTS:-0}" -gt 0 ] && points=(--test-points "$TEST_POINTS")
keras-vae --backend "${EVAL_BACKEND:-tensorflow}" train "$entry" --epochs "$epochs" \
  --run-dir "runs/$entry" --out "zoo/$entry" "${points[@]}" --verbose 2 \
  2>&1 | tee -a "runs/$entry.train.log"
# The finish kept its per-point K=5000 values: the reference backend's shards of those
# points take them instead of evaluating them a second time.
python -m benchmarks.loglik --no-readme --entries "$entry" \
  --reuse-finish "runs/$entry/finish_log_p.json"
if [ -f "benchmarks/results/compression/$entry.json" ]; then  # entries with a compression row
  python -m benchmarks.compression --no-readme --reuse-nll --entries "$entry"
fi
python -m benchmarks.compression --rebuild
python -m benchmarks.loglik --max-shards 0 --epochs-plot
python -m benchmarks.zoo_listing
