#!/usr/bin/env bash
# Runs the test suite once per Keras backend, each in its own process
# (KERAS_BACKEND is read once, at `import keras`). The backends' runs share a
# folder of saved losses; the last run must find the others' and agree.
# Usage: tests/run_backends.sh [pytest args...]; BACKENDS="jax torch" to choose.
set -uo pipefail
cd "$(dirname "$0")/.."
backends=(${BACKENDS:-jax tensorflow torch})
PYTHON=${PYTHON:-python}
export KERAS_VAE_CROSS_BACKEND_DIR=$(mktemp -d)
export TF_CPP_MIN_LOG_LEVEL=2
status=0
for i in "${!backends[@]}"; do
  b=${backends[$i]}
  require=""
  [ "$i" -eq $((${#backends[@]} - 1)) ] && require=$(IFS=,; echo "${backends[*]}")
  echo "=== KERAS_BACKEND=$b ==="
  start=$(date +%s)
  KERAS_BACKEND=$b KERAS_VAE_REQUIRE_BACKENDS=$require "$PYTHON" -m pytest -q "$@" || status=1
  echo "=== $b took $(( $(date +%s) - start )) s ==="
done
rm -rf "$KERAS_VAE_CROSS_BACKEND_DIR"
exit $status
