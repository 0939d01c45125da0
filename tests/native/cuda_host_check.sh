#!/usr/bin/env bash
# Builds tests/native/cuda_host_check.cu with nvcc as a host program and runs it: the CUDA
# kernels' per-thread code (csrc/fill_cuda.cu: plan_contig / contig_work, plan_strided /
# strided_work) run serially on the host must match the CPU fill (scalar kernel) and a
# whole-tensor reference bit for bit. Needs nvcc, not a GPU or a CUDA driver: the program
# never calls the CUDA runtime (cudart is linked statically, as the extension links it).
# Usage (any directory):
#   tests/native/cuda_host_check.sh [random-case count, default 1500]
# FASTINIT_CUDA_SRC=<file> checks another copy of fill_cuda.cu instead (to prove the
# check catches a deliberately broken one); NVCC=<path> picks the compiler;
# FASTINIT_CUDA_ARCH (default sm_80) is the one architecture the kernels' device code is
# compiled for (it is not run; one architecture keeps the build short).
# Exit status: the check's (0 all passed, 1 some failed); 77 (skip) if nvcc is missing;
# 2 if the build fails.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

. tests/native/nvcc.sh

src="${FASTINIT_CUDA_SRC:-csrc/fill_cuda.cu}"
arch="${FASTINIT_CUDA_ARCH:-sm_80}"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/fastinit_cuda_host.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

# The check #includes "fill_cuda.cu": the copy under test goes first on the include path
# (csrc/ still supplies the headers).
mkdir "$tmp/src"
cp "$src" "$tmp/src/fill_cuda.cu"

# CMakeLists.txt's flags: C++17; CXX sources -O3 -ffp-contract=off -fno-math-errno; CUDA
# sources -O3 --fmad=false, cudart static. The host half of a .cu file goes to the same
# host compiler, so it gets the CXX flags too (-ffp-contract=off: docs/STREAM.md section 3, fma only
# where written). No FASTINIT_HAVE_AVX2/AVX512: dispatch.cpp then links only the scalar
# kernel, which is the one the check compares against.
hostflags="-ffp-contract=off,-fno-math-errno"
common=(-std=c++17 -I "$tmp/src" -I csrc -Xcompiler "$hostflags")
build() {  # build <object> <flags/sources...>
  local obj="$1"
  shift
  "$NVCC" "${common[@]}" "$@" -c -o "$tmp/$obj" || exit 2
}

build scalar.o -O3 -x c++ csrc/fill_scalar.cpp &
build dispatch.o -O3 -x c++ csrc/dispatch.cpp &
build fill_cpu.o -O3 -x c++ csrc/fill_cpu.cpp &
build threadpool.o -O3 -x c++ csrc/threadpool.cpp &
# The check's host code at -O1 (nvcc's -O is the host compiler's level; device code keeps
# ptxas's default -O3): the level does not change a bit of the results (no -ffast-math,
# contraction off), and -O3 on this file's host instantiations of every kernel body costs
# the build about 20 s more.
build check.o -O1 -Xcompiler -Wall,-Wextra --fmad=false -arch="$arch" -DFASTINIT_WITH_CUDA tests/native/cuda_host_check.cu &
for job in $(jobs -p); do wait "$job" || exit 2; done

"$NVCC" -cudart static -o "$tmp/cuda_host_check" "$tmp"/*.o -Xcompiler -pthread || exit 2
time "$tmp/cuda_host_check" "$@"
