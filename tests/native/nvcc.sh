# Sourced by the nvcc-based native checks (cuda_host_check.sh, cvt_check.sh, fmad_check.sh):
# sets NVCC to the CUDA toolkit's compiler, or exits 77 (skip) where there is none (they
# compile host code or PTX only, so no GPU is needed), and defines header_override.
NVCC="${NVCC:-nvcc}"
if ! command -v "$NVCC" >/dev/null 2>&1 && [ "$NVCC" = nvcc ] && [ -x /usr/local/cuda/bin/nvcc ]; then
  NVCC=/usr/local/cuda/bin/nvcc
fi
if ! command -v "$NVCC" >/dev/null 2>&1; then
  echo "SKIP: $NVCC not found (the CUDA toolkit's compiler; no GPU is needed)" >&2
  exit 77
fi

# header_override TMPDIR NAME FILE: the include flags (in the array inc) that compile against
# csrc/, with FILE standing in for csrc/NAME when FILE is set (to prove a check catches a
# broken copy).
header_override() {
  inc=(-I csrc)
  if [ -n "$3" ]; then
    mkdir -p "$1/src"
    cp "$3" "$1/src/$2"
    inc=(-I "$1/src" -I csrc)
  fi
}
