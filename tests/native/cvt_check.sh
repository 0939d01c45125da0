#!/usr/bin/env bash
# Builds tests/native/cvt_check.cu with nvcc as a host program and runs it: csrc/value.h's
# CUDA float16 / bfloat16 conversions (cuda_fp16.h / cuda_bf16.h, host implementations)
# must equal fastinit's integer roundings on all 2^32 float inputs. Needs nvcc, no GPU.
# Usage: tests/native/cvt_check.sh [threads]. FASTINIT_VALUE_H=<file> checks another copy
# of value.h (to prove the check catches a broken one).
# Exit status: the check's (0 equal, 1 mismatches); 77 (skip) if nvcc is missing; 2 if the
# build fails.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
. tests/native/nvcc.sh
tmp="$(mktemp -d "${TMPDIR:-/tmp}/fastinit_cvt.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
header_override "$tmp" value.h "${FASTINIT_VALUE_H:-}"
"$NVCC" -std=c++17 -O2 "${inc[@]}" -Xcompiler -ffp-contract=off,-pthread -o "$tmp/cvt_check" tests/native/cvt_check.cu || exit 2
time "$tmp/cvt_check" "$@"
