"""Indices and extents past 32 bits.

* A real float16 tensor with more than 2**31 elements (slow, needs about 10 GB free):
  sampled windows (start, around 2**31, end) exactly equal reference.expected at the
  window's offset; then its transposed view (a stride of more than 2**31 bytes, logical
  indices past 2**31 on the strided path) in place.
* A column of a wide float16 matrix: a strided view whose byte extent is past 2**31
  (cheap: only the column's pages are touched).
* Element indices past 2**32, 2**33 (float64 word index past 2**34), 2**34 (the Philox
  block counter's high word), 2**63, and wrapping past 2**64, through ``offset``, for
  every dtype, every CPU path and one or several threads.
"""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import fastinit
import reference as R
from conftest import assert_bits_equal, c_fill

import ml_dtypes
BF16 = np.dtype(ml_dtypes.bfloat16)
DTYPES = [np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.float16), BF16]
DT_IDS = ["f32", "f64", "f16", "bf16"]
_U16 = np.uint16


def _available_bytes() -> int:
    import psutil
    return psutil.virtual_memory().available


def _bits(a):
    a = np.ascontiguousarray(a)
    return a.view({2: np.uint16, 4: np.uint32, 8: np.uint64}[a.dtype.itemsize])


# ----------------------------------------------------------------------------------
# a real tensor with more than 2**31 elements
# ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_float16_tensor_past_2_31_elements():
    import torch
    n = 2**31 + 2**20
    need = 10 << 30
    if _available_bytes() < need:
        pytest.skip(f"needs >= 10 GiB available memory (a {n * 2 / 2**30:.1f} GiB tensor plus headroom), "
                    f"have {_available_bytes() / 2**30:.1f} GiB")
    seed, seed2 = 0x5EED_0001, 0x5EED_0002
    t = torch.empty(n, dtype=torch.float16)
    try:
        assert fastinit.uniform_(t, -1.0, 1.0, seed=seed) is t
        a = t.view(torch.int16).numpy().view(_U16)
        L = 4096
        starts = [0, 2**31 - L // 2, 2**31 - 1, 2**31, 2**31 + 123_457, 2**30 + 17, n - L]
        for s in starts:
            want = R.expected_bits((L,), np.float16, -1.0, 1.0, seed, s)
            got = a[s:s + L]
            bad = np.nonzero(got != want[:got.size])[0]
            assert bad.size == 0, f"window at {s}: {bad.size} differ, first at element {s + int(bad[0])}"
        # 256 short windows spread over the whole tensor
        rng = np.random.default_rng(2024)
        for s in rng.integers(0, n - 16, 256).tolist():
            want = R.expected_bits((16,), np.float16, -1.0, 1.0, seed, s)
            assert np.array_equal(a[s:s + 16], want), f"window at {s}"

        # the transposed view: element (i, j) lives at i + j * H (a stride of H * 2 bytes,
        # past 2**31) and has the logical index 2 * i + j, up to n - 1 > 2**31
        H = n // 2
        v = t.view(2, H).t()
        assert v.stride() == (1, H) and H * 2 > 2**31
        assert fastinit.uniform_(v, -2.0, 2.0, seed=seed2) is v
        L = 2048
        for j in (0, 1):
            for p0 in (0, 2**30 - L // 2, H - L):
                logical0 = 2 * p0 + j
                flat = R.expected_bits((2 * L,), np.float16, -2.0, 2.0, seed2, logical0)
                want = flat[0::2]
                got = a[j * H + p0:j * H + p0 + L]
                bad = np.nonzero(got != want)[0]
                assert bad.size == 0, (f"transposed view, column {j}, rows from {p0}: {bad.size} differ, first "
                                       f"at logical index {logical0 + 2 * int(bad[0])}")
    finally:
        del t


# ----------------------------------------------------------------------------------
# a strided view whose byte extent passes 2**31
# ----------------------------------------------------------------------------------
@pytest.mark.parametrize("which", ["column", "column_reversed", "three_columns", "torch_column"])
def test_column_of_wide_matrix(which):
    rows, cols = 1100, 2**20  # 2.2 GB of virtual memory; only the column's pages are touched
    if _available_bytes() < (2 << 30):
        pytest.skip("needs 2 GiB of available memory for the (lazily zeroed) matrix")
    m = np.zeros((rows, cols), dtype=np.float16)
    col = 777_777
    if which == "column":
        v = m[:, col]
    elif which == "column_reversed":
        v = m[::-1, col]
    elif which == "three_columns":
        v = m[:, col:col + 3]
    else:
        import torch
        v = torch.from_numpy(m)[:, col]
    strides = v.stride() if which == "torch_column" else tuple(s // 2 for s in v.strides)
    extent = (v.shape[0] - 1) * abs(strides[0]) * 2
    assert extent > 2**31
    out = fastinit.uniform_(v, -1.0, 1.0, seed=31, offset=2**40)
    assert out is v
    got = v.numpy() if which == "torch_column" else v
    want = R.expected(tuple(v.shape), np.float16, -1.0, 1.0, 31, 2**40)
    assert_bits_equal(np.ascontiguousarray(got), want, which)
    width = 3 if which == "three_columns" else 1
    # nothing else in the matrix changed: the neighbours of the column in every row, and
    # whole rows at a few places
    assert not m[:, col - 1].any() and not m[:, col + width].any()
    for r in (0, 1, rows // 2, rows - 1):
        nz = np.nonzero(m[r].view(_U16))[0]
        assert set(nz.tolist()) <= set(range(col, col + width)), f"row {r}: written at {nz[:10]}"


# ----------------------------------------------------------------------------------
# indices past 2**32 .. 2**64 through offset
# ----------------------------------------------------------------------------------
BOUNDARIES = [2**31, 2**32, 2**33, 2**34, 2**35, 2**62, 2**63, 2**64]


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("boundary", BOUNDARIES, ids=lambda b: f"2^{b.bit_length() - 1}")
def test_offsets_across_boundaries(isa, dtype, boundary):
    """A small array whose indices straddle the boundary (mod 2**64), at several phases
    relative to the Philox block, on one and three threads."""
    n = 5003
    for back in (0, 1, 2, 3, 1000, n - 1):
        off = (boundary - back) % 2**64
        want = R.expected((n,), dtype, -1.5, 2.5, 0xC0FFEE, off)
        for threads in (1, 3):
            a = np.empty(n, dtype=dtype)
            c_fill(a, -1.5, 2.5, 0xC0FFEE, off, isa, threads)
            assert_bits_equal(a, want, f"offset=boundary-{back} threads={threads}")


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("boundary", [2**32, 2**34, 2**64], ids=["2^32", "2^34", "2^64"])
def test_offsets_across_boundaries_multithreaded_public(dtype, boundary):
    """Large enough to be split across threads, through the public function."""
    n = 300_007
    off = (boundary - 150_001) % 2**64
    a = fastinit.uniform_(np.empty(n, dtype=dtype), -1.0, 1.0, seed=9, offset=off)
    for s in (0, 150_001 - 64, 150_001 - 1, 150_001, n - 500):
        want = R.expected((500,), dtype, -1.0, 1.0, 9, (off + s) % 2**64)
        assert_bits_equal(a[s:s + 500], want[:a[s:s + 500].size], f"window at {s}")


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_offset_plus_numel_wraps_past_2_64(dtype):
    """docs/STREAM.md section 2: element i gets index (offset + i) mod 2**64, so the elements past the wrap
    equal those of a fill at offset 0, for any split."""
    n, k = 4099, 37
    off = 2**64 - k
    a = fastinit.uniform_(np.empty(n, dtype=dtype), -1.0, 1.0, seed=123, offset=off)
    z = fastinit.uniform_(np.empty(n - k, dtype=dtype), -1.0, 1.0, seed=123, offset=0)
    assert_bits_equal(a[k:], z, "after the wrap")
    top = fastinit.uniform_(np.empty(k, dtype=dtype), -1.0, 1.0, seed=123, offset=off)
    assert_bits_equal(a[:k], top, "before the wrap")
    assert_bits_equal(a, R.expected((n,), dtype, -1.0, 1.0, 123, off), "reference")
    # the last representable offset is accepted; one more is refused, buffer untouched
    b = np.zeros(3, dtype=dtype)
    fastinit.uniform_(b, seed=1, offset=2**64 - 1)
    assert_bits_equal(b, R.expected((3,), dtype, 0.0, 1.0, 1, 2**64 - 1), "offset 2**64-1")
    c = np.zeros(3, dtype=dtype)
    with pytest.raises((ValueError, OverflowError)):
        fastinit.uniform_(c, seed=1, offset=2**64)
    assert not c.view(np.uint8).any()


def test_torch_offset_wrap_and_big_offsets():
    import torch
    for tdt, dt in [(torch.float32, np.float32), (torch.float64, np.float64), (torch.float16, np.float16),
                    (torch.bfloat16, BF16)]:
        for off in (2**32 - 5, 2**63 + 1, 2**64 - 3):
            t = torch.empty(64, 33, dtype=tdt)
            fastinit.uniform_(t.t(), -1.0, 1.0, seed=2**64 - 1, offset=off)  # transposed view too
            got = t.t().contiguous().view({2: torch.int16, 4: torch.int32, 8: torch.int64}[t.element_size()])
            want = R.expected_bits((33, 64), dt, -1.0, 1.0, 2**64 - 1, off)
            assert np.array_equal(got.numpy().view(want.dtype), want), (tdt, off)


# ----------------------------------------------------------------------------------
# fresh memory: the pre-fault (MADV_POPULATE_WRITE) in front of a fill of fresh pages
# ----------------------------------------------------------------------------------
_FRESH_N = (3 << 20) // 4 + 37  # 3 MiB of float32 and a bit: above the 1 MiB populate threshold


def _check_fresh(a, seed):
    assert fastinit.uniform_(a, -1.0, 1.0, seed=seed) is a
    assert_bits_equal(_bits(a), R.expected_bits(a.shape, np.float32, -1.0, 1.0, seed))


@pytest.mark.parametrize("threads", [1, 2])
def test_fresh_anonymous_mapping(threads):
    """Freshly mapped pages (never touched), filled from a misaligned start."""
    import mmap
    m = mmap.mmap(-1, _FRESH_N * 4 + 4096)
    try:
        a = np.frombuffer(m, dtype=np.float32, count=_FRESH_N, offset=12)
        old = fastinit.get_num_threads()
        fastinit.set_num_threads(threads)
        try:
            _check_fresh(a, 0xF2E5)
        finally:
            fastinit.set_num_threads(old)
        assert np.frombuffer(m, dtype=np.uint8, count=12).tobytes() == b"\0" * 12  # bytes before the target
        assert not np.frombuffer(m, dtype=np.uint8, offset=12 + _FRESH_N * 4).any()  # and after it
        del a
    finally:
        m.close()


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_fresh_chunks_every_dtype(dtype, threads):
    """A fresh target is populated chunk by chunk, in 2 MiB chunks or one share per thread
    (csrc/fill_cpu.cpp): chunk sizes in elements differ per dtype, and a 5 MiB target from
    a misaligned start has a remainder chunk and chunk edges inside pages. Uniform and
    normal values against the reference, and nothing written outside the target."""
    import mmap
    itemsize = np.dtype(dtype).itemsize
    n = (5 << 20) // itemsize + 101
    m = mmap.mmap(-1, n * itemsize + 8192)
    old = fastinit.get_num_threads()
    fastinit.set_num_threads(threads)
    try:
        a = np.frombuffer(m, dtype=dtype, count=n, offset=2 * itemsize)
        assert fastinit.uniform_(a, -1.0, 1.0, seed=0xF2E8) is a
        assert_bits_equal(_bits(a), R.expected_bits((n,), dtype, -1.0, 1.0, 0xF2E8))
        del a
        m2 = mmap.mmap(-1, n * itemsize + 8192)
        b = np.frombuffer(m2, dtype=dtype, count=n, offset=itemsize)
        assert fastinit.normal_(b, 0.5, 2.0, seed=0xF2E9) is b
        want = R.normal_expected((n,), dtype, 0.5, 2.0, 0xF2E9)
        assert_bits_equal(_bits(b), _bits(want))
        del b
        assert not np.frombuffer(m2, dtype=np.uint8, count=itemsize).any()
        assert not np.frombuffer(m2, dtype=np.uint8, offset=itemsize + n * itemsize).any()
        m2.close()
        assert not np.frombuffer(m, dtype=np.uint8, count=2 * itemsize).any()  # bytes before the target
        assert not np.frombuffer(m, dtype=np.uint8, offset=2 * itemsize + n * itemsize).any()  # and after it
    finally:
        fastinit.set_num_threads(old)
        m.close()


_HUGEPAGE_CHILD = r"""
import mmap, sys, numpy as np
sys.path.insert(0, sys.argv[1])
import fastinit, reference as R
from fastinit.core.kernel import _C
assert _C.get_hugepage_advice()
n = (9 << 20) // 4 + 5
m = mmap.mmap(-1, n * 4 + 4096)
a = np.frombuffer(m, dtype=np.float32, count=n, offset=8)
fastinit.uniform_(a, -1.0, 1.0, seed=0x4E6)
assert np.array_equal(a.view(np.uint32), R.expected_bits((n,), np.float32, -1.0, 1.0, 0x4E6))
start = np.frombuffer(m, dtype=np.uint8).ctypes.data
flags = None
with open("/proc/self/smaps") as f:
    for line in f:
        head = line.split()[0]
        if "-" in head and not head.endswith(":"):
            lo, hi = (int(x, 16) for x in head.split("-"))
            inside = lo <= start + (4 << 20) < hi  # a 2 MiB-aligned page well inside the target
        elif head == "VmFlags:" and inside:
            flags = line.split()[1:]
print("hg" in flags)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux (/proc/self/smaps, MADV_HUGEPAGE)")
def test_hugepage_advice_reaches_the_target_interior():
    """FASTINIT_HUGEPAGE=1: the fill advises MADV_HUGEPAGE on the 2 MiB-aligned interior of a
    large contiguous target (the kernel marks the mapping 'hg' in its VmFlags, which a missed
    or misplaced madvise would not), and the values are the stream's."""
    env = dict(os.environ, FASTINIT_HUGEPAGE="1")
    out = subprocess.run([sys.executable, "-c", _HUGEPAGE_CHILD, os.path.dirname(os.path.abspath(__file__))],
                         env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-1] == "True", out.stdout


def test_fresh_partly_resident():
    """Only the first page touched: the sampled pages say fresh; the touched page keeps nothing stale."""
    a = np.empty(_FRESH_N, dtype=np.float32)
    a[:1024] = 7.0
    _check_fresh(a, 0xF2E6)


@pytest.mark.parametrize("mode", ["r+", "c"])
def test_fresh_file_mapping(tmp_path, mode):
    """A file-backed mapping, shared (r+: the file gets the values) and private (c: copy on write)."""
    f = tmp_path / "w.bin"
    f.write_bytes(b"\0" * (_FRESH_N * 4))
    a = np.memmap(f, dtype=np.float32, mode=mode, shape=(_FRESH_N,))
    _check_fresh(a, 0xF2E7)
    a.flush()
    on_disk = np.fromfile(f, dtype=np.float32)
    want = R.expected_bits((_FRESH_N,), np.float32, -1.0, 1.0, 0xF2E7)
    if mode == "r+":
        assert_bits_equal(_bits(on_disk), want)
    else:
        assert not on_disk.any()
    del a
