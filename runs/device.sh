#!/usr/bin/env bash
# One device window: facts, a GPU subset of the suite on jax and torch, throughput rows,
# then the zoo queue of .device/queue.txt until the deadline; everything lands in $OUT.
#
#   here:   python runs/device.py prepare mnist_vae_k50:121 mnist_vae:3280
#   device: run(command="bash runs/device.sh", carry=[".device", ".whl"], timeout_s=600)
#   here:   python runs/device.py unpack <files_at>
#
# DEADLINE (seconds, default 540) bounds the whole script and each step gets its share of it;
# PYTHON picks the interpreter; TP_ARGS the throughput sizes, SUITE_K the tests' -k selection
# and TRAIN_ARGS extra `keras-vae train` options, for a CPU dry run of the same code path:
#   python runs/device.py prepare mnist_vae_k50:121    # a run with no local epochs yet
#   DEADLINE=180 PYTHON=.venv/bin/python OUT=/tmp/out SUITE_K="fit or save" \
#   TP_ARGS="--train-examples 200 --eval-points 4 --num-samples 200 --repeats 1" \
#   TRAIN_ARGS="--train-limit 2000" bash runs/device.sh
#   python runs/device.py unpack /tmp/out --runs-dir /tmp/dry-runs
set -uo pipefail
cd "$(dirname "$0")/.."
START=$(date +%s)
DEADLINE=${DEADLINE:-540}
PY=${PYTHON:-python3}
OUT=${OUT:?set OUT to the folder whose files come back}
mkdir -p "$OUT"
LOG="$OUT/device.log"
SUITE_S=$((DEADLINE * 75 / 540)); TP_S=$((DEADLINE * 150 / 540)); RESERVE_S=$((DEADLINE / 18))
TP_ARGS=${TP_ARGS:---train-examples 6000 --eval-points 1000 --num-samples 5000 --repeats 3}
left() { echo $((START + DEADLINE - $(date +%s))); }
say() { echo "== $* ($(( $(date +%s) - START )) s)" | tee -a "$LOG"; }

export PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=2 XLA_PYTHON_CLIENT_PREALLOCATE=false
export KERAS_VAE_DATA_DIR="$PWD/.device/data" KERAS_VAE_COMMIT="$(cat .device/COMMIT 2>/dev/null)"
if ! "$PY" -c "import keras" 2>/dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl >>"$LOG" 2>&1 || { say "wheel install failed"; exit 1; }
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

say "1. facts"
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 || echo "no nvidia-smi"
  "$PY" - <<'EOF'
import importlib.metadata as m, platform
print("python", platform.python_version())
for name in ("keras", "jax", "jaxlib", "torch", "numpy", "scipy", "h5py"):
    try:
        print(name, m.version(name))
    except m.PackageNotFoundError:
        print(name, "absent")
EOF
  echo "SVHN files on this machine:"
  timeout 20 find / -xdev -iname '*svhn*' -not -path "$PWD/*" -not -path '/proc/*' 2>/dev/null \
    | head -20 || true
} >>"$LOG" 2>&1

say "2. suite subset"
TESTS=(tests/test_training.py tests/test_model_api.py tests/test_ais.py tests/test_mixed_precision.py
       tests/test_saving.py tests/test_shipped_zoo.py tests/test_training_runs.py)
SELECT=${SUITE_K:-not cli and not quickstart and not truncated and not schedule}
for backend in jax torch; do
  # SIGINT, not SIGTERM: pytest then ends the session and still writes its JUnit file.
  KERAS_BACKEND=$backend timeout -s INT -k 15 "$SUITE_S" "$PY" -m pytest -q -p no:cacheprovider \
    -k "$SELECT" --junitxml="/tmp/suite-$backend.xml" "${TESTS[@]}" >>"$LOG" 2>&1
  say "suite on $backend: exit $?"
done
"$PY" runs/device.py suite "$OUT/suite.json" /tmp/suite-jax.xml /tmp/suite-torch.xml >>"$LOG" 2>&1

say "3. throughput"
if [ "$(left)" -gt $((TP_S + 2 * RESERVE_S)) ]; then
  # shellcheck disable=SC2086
  timeout "$TP_S" "$PY" -m benchmarks.throughput --backends jax,torch --default-modes $TP_ARGS \
    --steps-per-execution 1,100 --output device_throughput >>"$LOG" 2>&1
  say "throughput: exit $?"
  cp benchmarks/results/device_throughput.json "$OUT/" 2>/dev/null
fi

say "4. zoo queue"
ENTRIES=()
while read -r entry epochs; do
  [ -n "$entry" ] || continue
  ENTRIES+=("$entry")
  budget=$(( $(left) - RESERVE_S ))
  if [ "$budget" -lt 10 ]; then say "no time left for $entry"; continue; fi
  timeout $((budget + RESERVE_S / 2)) "$PY" -m keras_vae --backend jax train "$entry" --epochs "$epochs" \
    --run-dir ".device/runs/$entry" --skip-finish --verbose 2 --time-limit "$budget" ${TRAIN_ARGS:-} \
    >>"$LOG" 2>&1
  say "$entry: exit $?, epoch $("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['epoch'])" ".device/runs/$entry/state.json" 2>/dev/null)"
done < .device/queue.txt

say "5. pack"
[ ${#ENTRIES[@]} -gt 0 ] && "$PY" runs/device.py pack "$OUT" "${ENTRIES[@]}" >>"$LOG" 2>&1
say "done"
