"""The AVX-512 kernel, bit for bit against the scalar one, on CPUs without AVX-512.

tests/native/build_and_run.sh compiles csrc/fill_avx512.cpp with its AVX-512 intrinsics
emulated by SIMDe (tests/native/immintrin.h) and runs tests/native/avx512_emulated_check.cpp:
every dtype, sizes 0..100003, stream positions near 0, 2^32, 2^62, 2^63 and 2^64,
misaligned destinations, streaming on and off, several seeds and bounds (including ones
where the "never return hi" replacement fires), with guard bytes around the destination.
Skipped (with the reason) only where g++ or SIMDe's headers (Debian: libsimde-dev) are
missing, or on a CPU without AVX2/FMA/F16C -- and never in CI: with the environment
variable CI set (as .ci/run and every CI service set it), a missing resource is a failure,
so a CI image that lost SIMDe cannot turn this check into a silent skip.
"""
from __future__ import annotations

import os
import sys

import pytest

from helpers import run_native_check

_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "native", "build_and_run.sh")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.mark.slow
def test_avx512_kernel_matches_scalar_under_simde_emulation():
    try:
        run_native_check(_SCRIPT, timeout=300)
    except pytest.skip.Exception as e:
        if in_ci():
            pytest.fail(f"CI is set, so the emulated AVX-512 check must run, but it would skip: {e}", pytrace=False)
        raise


def test_ci_never_skips_the_emulated_check(monkeypatch, tmp_path):
    """The CI rule itself: a skip from the script (exit 77, as with SIMDe missing) fails
    the check when CI is set, and stays a named skip otherwise."""
    fake = tmp_path / "fake.sh"
    fake.write_text("echo 'SKIP: SIMDe headers not found at /usr/include/simde' >&2\nexit 77\n")
    monkeypatch.setattr(sys.modules[__name__], "_SCRIPT", str(fake))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="SIMDe headers not found"):
        test_avx512_kernel_matches_scalar_under_simde_emulation()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="SIMDe headers not found"):
        test_avx512_kernel_matches_scalar_under_simde_emulation()
