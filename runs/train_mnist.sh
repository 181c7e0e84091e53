#!/usr/bin/env bash
# The MNIST zoo runs of this project: the paper's first five stages (121 epochs)
# for each entry; run again with a larger EPOCHS to extend (it resumes).
# Training runs on JAX (the fastest trainer here), the final K=5000 test
# evaluation on TensorFlow (the fastest evaluator here); both read the same
# backend-neutral checkpoint.
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCHS=${EPOCHS:-121}
for entry in ${ENTRIES:-mnist_iwae mnist_vae binarized_mnist_iwae}; do
  python runs/checkpoints.py restore "runs/$entry"  # checkpoints live in the git history
  keras-vae --backend "${TRAIN_BACKEND:-jax}" train "$entry" --epochs "$EPOCHS" \
    --run-dir "runs/$entry" --skip-finish --verbose 2 2>&1 | tee -a "runs/$entry.train.log"
  keras-vae --backend "${EVAL_BACKEND:-tensorflow}" train "$entry" --epochs "$EPOCHS" \
    --run-dir "runs/$entry" --out "zoo/$entry" --verbose 1 2>&1 | tee -a "runs/$entry.train.log"
done
