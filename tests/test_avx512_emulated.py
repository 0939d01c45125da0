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
import re
import subprocess

import pytest

_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "native", "build_and_run.sh")


@pytest.mark.slow
def test_avx512_kernel_matches_scalar_under_simde_emulation():
    try:
        proc = subprocess.run(
            ["bash", _SCRIPT], capture_output=True, text=True, timeout=300, check=False
        )
    except FileNotFoundError as e:  # no bash at all
        pytest.skip(f"cannot run {_SCRIPT}: {e}")
    out = proc.stdout + proc.stderr
    if proc.returncode == 77:
        reason = [ln for ln in out.splitlines() if ln.startswith("SKIP")]
        pytest.skip(reason[0] if reason else out.strip())
    summary = re.findall(r"^(\d+) passed, (\d+) failed$", proc.stdout, re.MULTILINE)
    assert proc.returncode == 0 and summary, (
        f"{_SCRIPT} exited {proc.returncode}:\n{out[-8000:]}"
    )
    passed, failed = map(int, summary[-1])
    assert failed == 0 and passed > 0, out[-8000:]
