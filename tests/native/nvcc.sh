# Sourced by the nvcc-based native checks (cuda_host_check.sh, cvt_check.sh, fmad_check.sh):
# sets NVCC to the CUDA toolkit's compiler, or exits 77 (skip) where there is none. They
# compile host code or PTX only, so no GPU is needed.
NVCC="${NVCC:-nvcc}"
if ! command -v "$NVCC" >/dev/null 2>&1 && [ "$NVCC" = nvcc ] && [ -x /usr/local/cuda/bin/nvcc ]; then
  NVCC=/usr/local/cuda/bin/nvcc
fi
if ! command -v "$NVCC" >/dev/null 2>&1; then
  echo "SKIP: $NVCC not found (the CUDA toolkit's compiler; no GPU is needed)" >&2
  exit 77
fi
