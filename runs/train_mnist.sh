#!/usr/bin/env bash
# The MNIST zoo runs of this project: the paper's first five stages (121 epochs)
# for each entry; run again with a larger --epochs to extend (it resumes).
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCHS=${EPOCHS:-121}
for entry in ${ENTRIES:-mnist_iwae mnist_vae binarized_mnist_iwae}; do
  keras-vae --backend ${BACKEND:-jax} train "$entry" --epochs "$EPOCHS" \
    --run-dir "runs/$entry" --out "zoo/$entry" --verbose 2 2>&1 | tee -a "runs/$entry.train.log"
done
