#!/usr/bin/env bash
# The GPU session's one script: build with CUDA, run the CUDA tests, the CUDA benchmark,
# then the CPU core tests on this host's CPU.
# Run from the repo root on a machine without network whose image has python3 with torch,
# pybind11, scikit-build-core, cmake, ninja and nvcc:
#     benchmarks/gpu_check.sh
# Logs go to ${OUT:-benchmarks/results}/gpu_check/: one combined log, two JUnit files and
# the benchmark JSON beside it (the device tool returns at most 8 files). Every step has a timeout, and all of
# them share one overall budget (GPU_CHECK_BUDGET_S, default 350 s) so the whole run stays
# under 6 minutes. A failed build stops the run; a failed test step is reported and the
# remaining steps still run; the exit status is non-zero if any step failed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
OUT_DIR=${OUT:-benchmarks/results}
LOG_DIR="$OUT_DIR/gpu_check"
mkdir -p "$LOG_DIR"
BUDGET=${GPU_CHECK_BUDGET_S:-350}
START=$(date +%s)
PY=${PYTHON:-python3}
FAILED=()

# nvcc is often installed outside PATH in CUDA images.
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH="/usr/local/cuda/bin:$PATH"
fi
export CUDACXX=${CUDACXX:-$(command -v nvcc || true)}
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}

# Seconds a step may take: its own cap, or what is left of the budget if less.
limit() {
  local cap=$1 left
  left=$((BUDGET - ($(date +%s) - START)))
  if [ "$left" -lt 10 ]; then left=10; fi
  if [ "$cap" -lt "$left" ]; then echo "$cap"; else echo "$left"; fi
}

# step NAME CAP_S CMD...: runs CMD under timeout, appending to $LOG_DIR/gpu_check.log.
step() {
  local name=$1 cap=$2 t rc=0
  shift 2
  t=$(limit "$cap")
  echo "=== $name (timeout ${t}s, $(($(date +%s) - START))s elapsed) ==="
  echo "=== $name ===" >> "$LOG_DIR/gpu_check.log"
  timeout --kill-after=10 "$t" "$@" 2>&1 | tee -a "$LOG_DIR/gpu_check.log" || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "=== $name FAILED (rc=$rc$([ "$rc" -eq 124 ] && echo ', timed out')) ==="
    FAILED+=("$name")
  fi
  return "$rc"
}

step nvidia-smi 30 nvidia-smi || true
step versions 60 bash -c "nvcc --version; cmake --version | head -1; $PY -c 'import torch, pybind11; print(\"torch\", torch.__version__, \"cuda\", torch.version.cuda, \"gpu\", torch.cuda.is_available()); print(\"pybind11\", pybind11.__version__)'; lscpu | grep -iE 'model name|flags' | cut -c1-400" || true

if ! step build 240 env FASTINIT_CUDA=ON "$PY" -m pip install --no-build-isolation --no-deps --no-index -v -e .; then
  echo "build failed; see $LOG_DIR/gpu_check.log"
  exit 1
fi

# A GPU that torch sees but fastinit cannot use would make every CUDA test skip: fail here.
step cuda-info 60 "$PY" -c '
import sys, torch, fastinit
info = fastinit.info()
print(info)
if not info["cuda_compiled"]:
    sys.exit("fastinit was built without CUDA")
if torch.cuda.is_available() and not info["cuda_available"]:
    sys.exit("torch sees a GPU but fastinit does not: " + info["cuda_unavailable_reason"])
' || true

step test-cuda 150 "$PY" -m pytest -m cuda -q -rs tests/test_cuda.py --junitxml="$LOG_DIR/test_cuda.xml" || true
# The bench before the CPU tests: their run time varies with the host CPU, and the bench
# must not be squeezed to the budget's floor behind them.
step bench-cuda 120 env OUT="$OUT_DIR" "$PY" benchmarks/bench_cuda.py || true
step test-cpu 120 "$PY" -m pytest -q tests -m "not slow and not cuda" -x -rs --junitxml="$LOG_DIR/test_cpu.xml" || true

echo "=== done in $(($(date +%s) - START))s; logs in $LOG_DIR ==="
if [ "${#FAILED[@]}" -ne 0 ]; then
  echo "FAILED steps: ${FAILED[*]}"
  exit 1
fi
echo "all steps passed"
