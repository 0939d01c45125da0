"""The AVX-512 kernel, bit for bit against the scalar one, on CPUs without AVX-512.

tests/native/build_and_run.sh compiles csrc/fill_avx512.cpp with its AVX-512 intrinsics
emulated by SIMDe (tests/native/immintrin.h) and runs tests/native/avx512_emulated_check.cpp:
every dtype, sizes 0..100003, stream positions near 0, 2^32, 2^62, 2^63 and 2^64,
misaligned destinations, streaming on and off, several seeds and bounds (including ones
where the "never return hi" replacement fires), with guard bytes around the destination.
Skipped (with the reason) only where g++ or SIMDe's headers (Debian: libsimde-dev) are
missing, or on a CPU without AVX2/FMA/F16C.
"""
from __future__ import annotations

import os

import pytest

from helpers import run_native_check

_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "native", "build_and_run.sh")


@pytest.mark.slow
def test_avx512_kernel_matches_scalar_under_simde_emulation():
    run_native_check(_SCRIPT, timeout=300)
