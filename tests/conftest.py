"""Shared fixtures for the fastinit tests.

- `import reference` works from every test file (this directory is put on sys.path).
- Any test with an argument named `isa` is parametrized over scalar, avx2 and
  avx512. An ISA that `_C.available_isas()` does not list is SKIPPED with the
  reason (never counted as passing); a listed ISA always runs, so a listed but
  broken kernel fails.
- fixtures: `cfill` (fill a NumPy array through `fastinit._C.fill` with byte
  strides), `guarded` (make a view inside a sentinel-filled buffer and check
  that nothing outside the view changed), `cpu_flags`.
"""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import reference  # noqa: E402

from fastinit import _C  # noqa: E402

ALL_ISAS = ("scalar", "avx2", "avx512")


def read_cpu_flags() -> set:
    flags = set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags.update(line.split(":", 1)[1].split())
                    break
    except OSError:
        pass
    return flags


def isa_params():
    avail = set(_C.available_isas())
    out = []
    for isa in ALL_ISAS:
        if isa in avail:
            out.append(pytest.param(isa, id=isa))
        else:
            out.append(
                pytest.param(
                    isa,
                    id=isa,
                    marks=pytest.mark.skip(
                        reason=f"ISA {isa!r} not available on this CPU/build "
                        f"(_C.available_isas() = {sorted(avail)})"
                    ),
                )
            )
    return out


def _explicitly_parametrized(metafunc, name):
    for m in metafunc.definition.iter_markers("parametrize"):
        names = m.args[0] if m.args else m.kwargs.get("argnames", "")
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",")]
        if name in names:
            return True
    return False


def pytest_generate_tests(metafunc):
    # only where the test does not parametrize `isa` itself
    if "isa" in metafunc.fixturenames and not _explicitly_parametrized(metafunc, "isa"):
        metafunc.parametrize("isa", isa_params())


def dtype_code(arr: np.ndarray) -> int:
    return reference.DTYPE_CODE[reference._dtype_name(arr.dtype)]


def c_fill(arr: np.ndarray, lo, hi, seed, offset=0, isa="", threads=0):
    """Fill `arr` in place through the private _C.fill (byte strides)."""
    _C.fill(
        arr.__array_interface__["data"][0],
        dtype_code(arr),
        list(arr.shape),
        list(arr.strides),
        float(lo),
        float(hi),
        int(seed),
        int(offset),
        isa,
        int(threads),
    )
    return arr


def bits(a: np.ndarray) -> np.ndarray:
    """Bit patterns of `a` (same shape) as unsigned ints."""
    a = np.ascontiguousarray(a)
    return a.view({2: np.uint16, 4: np.uint32, 8: np.uint64}[a.dtype.itemsize])


def assert_bits_equal(got: np.ndarray, want: np.ndarray, what: str = ""):
    """Bit-exact comparison with a precise message on the first mismatch."""
    g = bits(got).reshape(-1)
    w = bits(want).reshape(-1)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    bad = np.nonzero(g != w)[0]
    if bad.size:
        i = int(bad[0])
        width = got.dtype.itemsize * 2
        raise AssertionError(
            f"{what}: {bad.size} of {g.size} elements differ; first at flat index {i}: "
            f"expected 0x{int(w[i]):0{width}x} ({want.reshape(-1)[i]!r}), "
            f"got 0x{int(g[i]):0{width}x} ({np.ascontiguousarray(got).reshape(-1)[i]!r})"
        )


class Guarded:
    """A byte buffer filled with a sentinel pattern; views into it can be
    filled and `check_outside(view)` verifies no byte outside the view moved."""

    def __init__(self, nbytes: int, seed: int = 1234):
        rng = np.random.default_rng(seed)
        self.sentinel = rng.integers(0, 256, nbytes, dtype=np.uint8)
        self.buf = self.sentinel.copy()

    def array(self, dtype, count, byte_offset=0):
        return np.frombuffer(self.buf, dtype=dtype, count=count, offset=byte_offset)

    def view_mask(self, view: np.ndarray) -> np.ndarray:
        """Boolean mask over the buffer bytes covered by `view`."""
        base = self.buf.__array_interface__["data"][0]
        mask = np.zeros(self.buf.size, dtype=bool)
        if view.size == 0:
            return mask
        start = view.__array_interface__["data"][0] - base
        idx = np.zeros(view.shape, dtype=np.int64) + start
        for d, (n, s) in enumerate(zip(view.shape, view.strides)):
            shp = [1] * view.ndim
            shp[d] = n
            idx = idx + (np.arange(n, dtype=np.int64) * s).reshape(shp)
        idx = idx.reshape(-1)
        for b in range(view.dtype.itemsize):
            mask[idx + b] = True
        return mask

    def check_outside(self, view: np.ndarray):
        mask = self.view_mask(view)
        changed = np.nonzero((self.buf != self.sentinel) & ~mask)[0]
        assert changed.size == 0, (
            f"{changed.size} bytes outside the view were modified; first at byte "
            f"{int(changed[0])}: sentinel 0x{int(self.sentinel[changed[0]]):02x} -> "
            f"0x{int(self.buf[changed[0]]):02x}"
        )


@pytest.fixture
def cfill():
    return c_fill


@pytest.fixture
def guarded():
    return Guarded


@pytest.fixture(scope="session")
def cpu_flags():
    return read_cpu_flags()
