#!/usr/bin/env bash
# Compiles tests/native/fmad_check.cu for one GPU architecture with --fmad=false and with
# --fmad=true and compares the PTX: equal means the value
# functions' bits do not rest on --fmad=false. Needs nvcc, no GPU.
# Usage: tests/native/fmad_check.sh. FASTINIT_NORMAL_H=<file> checks another copy of
# normal.h. FASTINIT_CUDA_ARCH (default sm_90) picks the architecture.
# Exit status: 0 equal, 1 different, 77 (skip) if nvcc is missing, 2 if the
# build fails.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
. tests/native/nvcc.sh
arch="${FASTINIT_CUDA_ARCH:-sm_90}"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/fastinit_fmad.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
header_override "$tmp" normal.h "${FASTINIT_NORMAL_H:-}"
for fmad in false true; do
  "$NVCC" -std=c++17 -O3 "${inc[@]}" -arch="$arch" --fmad=$fmad -ptx -o "$tmp/$fmad.ptx" tests/native/fmad_check.cu || exit 2 &
done
wait
# PTX: the front end contracts into fma.rn there, and a mul / add without a rounding
# modifier would leave ptxas free to contract it; --fmad=false writes .rn on each.
for fmad in false true; do grep -vE '^\s*(//|\.version|\.target|\.address_size)' "$tmp/$fmad.ptx" | grep -vE '^\s*$' > "$tmp/$fmad.txt"; done
n=$(wc -l < "$tmp/false.txt")
echo "$arch: $n lines with --fmad=false, $(wc -l < "$tmp/true.txt") with --fmad=true; fma: $(grep -c "fma\." "$tmp/false.txt") / $(grep -c "fma\." "$tmp/true.txt")"
if [ "$n" -lt 100 ]; then
  echo "FAIL: suspiciously little code ($n lines)"
  echo "0 passed, 1 failed"
  exit 1
fi
if ! diff -q "$tmp/false.txt" "$tmp/true.txt" >/dev/null; then
  echo "FAIL: --fmad=true changes the PTX:"
  diff "$tmp/false.txt" "$tmp/true.txt" | head -20
  echo "0 passed, 1 failed"
  exit 1
fi
echo "same PTX: no contraction left to --fmad"
echo "1 passed, 0 failed"
