#!/usr/bin/env bash
# Builds tests/native/avx512_emulated_check.cpp against csrc/fill_avx512.cpp emulated with
# SIMDe (see tests/native/immintrin.h) and runs it: the AVX-512 path must match the scalar
# path bit for bit on CPUs that cannot run it. Usage (any directory):
#   tests/native/build_and_run.sh
# FASTINIT_AVX512_SRC=<file> checks another copy of the kernel instead (to prove the check
# catches a deliberately broken one).
# Exit status: the check's (0 all passed, 1 some failed); 77 (skip) if g++ or SIMDe's
# headers are missing (apt-get install -y g++ libsimde-dev) or the CPU is not an x86-64
# with AVX2, FMA and F16C (the emulation runs the 256-bit halves natively); 2 if the
# build fails.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

CXX="${CXX:-g++}"
if ! command -v "$CXX" >/dev/null 2>&1; then
  echo "SKIP: $CXX not found" >&2
  exit 77
fi
if [ ! -f /usr/include/simde/x86/avx512.h ]; then
  echo "SKIP: SIMDe headers not found at /usr/include/simde (apt-get install -y libsimde-dev)" >&2
  exit 77
fi

case "$(uname -m)" in
  x86_64 | amd64) ;;
  *)
    echo "SKIP: not an x86-64 machine ($(uname -m))" >&2
    exit 77
    ;;
esac
for flag in avx2 fma f16c; do
  if ! grep -qw "$flag" /proc/cpuinfo 2>/dev/null; then
    echo "SKIP: this CPU lacks $flag, which the emulated build executes natively" >&2
    exit 77
  fi
done

src="${FASTINIT_AVX512_SRC:-csrc/fill_avx512.cpp}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

common=(-O2 -std=c++17 -ffp-contract=off -DFASTINIT_HAVE_AVX2 -DFASTINIT_HAVE_AVX512 -I csrc)
isa=(-mavx2 -mfma -mf16c)
build() {  # build <object> <flags...> <source>
  local obj="$1"
  shift
  "$CXX" "${common[@]}" "$@" -c -o "$tmp/$obj" || exit 2
}

# Baseline TUs as the extension builds them; fill_avx2.cpp only because dispatch.cpp
# links against avx2::fill_run when FASTINIT_HAVE_AVX2 is defined.
build scalar.o csrc/fill_scalar.cpp &
build dispatch.o csrc/dispatch.cpp &
build fill_cpu.o csrc/fill_cpu.cpp &
build threadpool.o csrc/threadpool.cpp &
build avx2.o "${isa[@]}" csrc/fill_avx2.cpp &
# The AVX-512 TU: tests/native first on the include path, no -mavx512* flag.
build avx512_emulated.o -I tests/native "${isa[@]}" -Wno-psabi "$src" &
build check.o tests/native/avx512_emulated_check.cpp &
for job in $(jobs -p); do wait "$job" || exit 2; done

"$CXX" -o "$tmp/avx512_emulated_check" "$tmp"/*.o -pthread || exit 2
time "$tmp/avx512_emulated_check"
