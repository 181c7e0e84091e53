#!/usr/bin/env bash
# The Fashion-MNIST zoo runs: convolutional VAE (k=1) and IWAE (k=50) with a
# discretized logistic likelihood, the same epochs for both (resumable; run
# again with a larger EPOCHS to extend). TensorFlow is the fastest backend for
# these convolutions on CPU. K=5000 costs ~0.6 s per test point on 2 CPU
# cores (100 min for the whole split), so the CPU runs evaluate TEST_POINTS test
# points (0: all 10,000).
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCHS=${EPOCHS:-40}  # stages 0-3 of the paper's schedule
BACKEND=${BACKEND:-tensorflow}
TEST_POINTS=${TEST_POINTS:-1000}
points=()
[ "$TEST_POINTS" -gt 0 ] && points=(--test-points "$TEST_POINTS")
for entry in ${ENTRIES:-fashion_mnist_vae fashion_mnist_iwae}; do
  python runs/checkpoints.py restore "runs/$entry"  # checkpoints live in the git history
  keras-vae --backend "$BACKEND" train "$entry" --epochs "$EPOCHS" --run-dir "runs/$entry" \
    --nll-points "${NLL_POINTS:-100}" --out "zoo/$entry" "${points[@]}" --verbose 2 \
    2>&1 | tee -a "runs/$entry.train.log"
done
