"""The stream (docs/STREAM.md sections 2-5), bit for bit against the independent NumPy
reference, for every ISA kernel, thread count, size, alignment, offset, dtype
and bound pair."""
from __future__ import annotations

import numpy as np
import pytest

import reference as R
from conftest import assert_bits_equal, c_fill
from fastinit import _C

import ml_dtypes  # a test dependency (pyproject [test]): missing is a failure, not a skip
BF16 = np.dtype(ml_dtypes.bfloat16)

DTYPES = [np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.float16), BF16]
DT_IDS = ["f32", "f64", "f16", "bf16"]
THREADS = [1, 2, 3, 7]
SMALL_SIZES = [0, 1, 3, 4, 5, 15, 16, 17, 63, 64, 65, 1000]
OFFSETS = [0, 1, 2**32 - 5, 2**62 - 3, 2**63 - 5, 2**64 - 7]
BOUNDS = [(-0.5, 0.5), (-0.0, 1.0), (-2.5e-2, 2.5e-2), (0.25, 3.0), (-1e-3, 7.5), (1e-30, 7.5), (-7.0, -2.0)]


def check(arr, lo, hi, seed, offset, isa, threads, what=""):
    arr[...] = 0
    c_fill(arr, lo, hi, seed, offset, isa, threads)
    want = R.expected(arr.shape, arr.dtype, lo, hi, seed, offset)
    assert_bits_equal(arr, want, f"{what} dtype={arr.dtype} n={arr.size} lo={lo} hi={hi} "
                                 f"seed={seed} offset={offset} isa={isa} threads={threads}")


@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_small_sizes_and_offsets(isa, threads, dtype):
    for n in SMALL_SIZES:
        for off in (0, 1, 2**64 - 7):
            check(np.empty(n, dtype), -0.5, 0.5, 42, off, isa, threads)


@pytest.mark.parametrize("offset", OFFSETS)
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_offsets(isa, dtype, offset):
    for n, threads in [(1, 1), (7, 2), (37, 3), (1029, 7)]:
        check(np.empty(n, dtype), -1.0, 1.0, 0x0123456789ABCDEF, offset, isa, threads)


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_offset_wraps_mod_2_64(isa, dtype):
    """A fill that crosses 2**64 continues at element 0 (word indices mod 2**64)."""
    a = np.empty(20, dtype)
    c_fill(a, -1.0, 1.0, 9, 2**64 - 7, isa, 2)
    head = np.empty(13, dtype)
    c_fill(head, -1.0, 1.0, 9, 0, isa, 1)
    assert_bits_equal(a[7:], head, "after wrap")
    check(a, -1.0, 1.0, 9, 2**64 - 7, isa, 2)


@pytest.mark.parametrize("lo,hi", BOUNDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_bounds(isa, dtype, lo, hi):
    for n, threads, off in [(517, 3, 5), (64, 1, 2**63 - 5)]:
        check(np.empty(n, dtype), lo, hi, 1234567, off, isa, threads)


@pytest.mark.parametrize("seed", [0, 1, 42, 2**32, 2**63, 2**64 - 1])
def test_seeds(isa, seed):
    for dtype in DTYPES:
        check(np.empty(131, dtype), -0.25, 0.75, seed, 11, isa, 2)


@pytest.mark.parametrize("k", range(1, 8))
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_misaligned_start(isa, dtype, k):
    for n, threads in [(67, 1), (1000, 3)]:
        buf = bytearray(n * dtype.itemsize + 16)
        a = np.frombuffer(buf, dtype=dtype, count=n, offset=k)
        check(a, -0.5, 0.5, 77, 3, isa, threads, f"byte offset {k}")
        # nothing outside the array was written
        raw = np.frombuffer(buf, np.uint8)
        assert not raw[:k].any() and not raw[k + n * dtype.itemsize:].any()


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_slices_misaligned(isa, dtype):
    base = np.zeros(1003, dtype)
    for s in (1, 3):
        a = base[s:]
        check(a, -0.5, 0.5, 5, 1, isa, 2, f"a[{s}:]")


def test_bfloat16_as_uint16_buffer(isa):
    """dtype code 3 on a plain uint16 buffer writes the bfloat16 bit patterns."""
    n = 1037
    u = np.zeros(n, np.uint16)
    _C.fill(u.__array_interface__["data"][0], 3, [n], [2], -0.5, 0.5, 6, 2**64 - 3, isa, 2)
    want = R.expected((n,), "bfloat16", -0.5, 0.5, 6, 2**64 - 3)
    assert_bits_equal(u, want.view(np.uint16), "bf16 via uint16")
    # and it is the float32 fill rounded to bfloat16 (docs/STREAM.md section 3), where the rule does not apply
    f = np.empty(n, np.float32)
    c_fill(f, -0.5, 0.5, 6, 2**64 - 3, isa, 1)
    r = f.astype(BF16)
    hit = r.astype(np.float64) == 0.5
    assert hit.any()  # seed chosen so that the rule shows up
    assert_bits_equal(u[~hit], r[~hit].view(np.uint16), "bf16 == RNE(f32 fill)")
    assert np.all(u[hit].view(BF16).astype(np.float64) == -0.5)


# -- size 1_000_003: only a few combos (they dominate the runtime) ------------
@pytest.mark.parametrize(
    "dtype,threads,offset,lo,hi",
    [
        (np.float32, 1, 0, -0.5, 0.5),
        (np.float32, 7, 2**64 - 7, 0.25, 3.0),
        (np.float32, 2, 2**62 - 3, 1e-30, 7.5),
        (np.float16, 3, 1, -1e-3, 7.5),
        ("bfloat16", 2, 2**32 - 5, -0.5, 0.5),
    ],
    ids=["f32-t1", "f32-t7-wrap", "f32-t2-fmahard", "f16-t3", "bf16-t2"],
)
def test_large(isa, dtype, threads, offset, lo, hi):
    dt = BF16 if dtype == "bfloat16" else np.dtype(dtype)
    check(np.empty(1_000_003, dt), lo, hi, 2024, offset, isa, threads)


@pytest.mark.slow
def test_large_float64(isa):
    check(np.empty(1_000_003, np.float64), -0.125, 0.375, 99, 2**63 - 5, isa, 3)


def test_medium_float64(isa):
    check(np.empty(100_003, np.float64), -0.125, 0.375, 99, 2**63 - 5, isa, 3)


# -- the upper-bound rule ------------------------------------------------------
RULE_CASES = [
    # dtype, lo, hi: cases where RN_storage(v) == RN_storage(hi) happens
    (np.float32, 1.0, 1.0 + 2.0**-22),
    (np.float32, 2.0, 2.0 + 2.0**-21),
    (np.float16, 1.0, 1.0009765625),
    (np.float16, -1.0, 2.0),
    ("bfloat16", 0.25, 3.0),
    ("bfloat16", 1.0, 1.0078125),
    (np.float64, 1.0, 1.0 + 2.0**-51),
]


@pytest.mark.parametrize("dtype,lo,hi", RULE_CASES)
def test_upper_bound_rule(isa, dtype, lo, hi):
    dt = BF16 if dtype == "bfloat16" else np.dtype(dtype)
    n = 100_000 if dt != np.float64 else 20_000
    norule = R.expected((n,), dt, lo, hi, 31, 0, apply_upper_rule=False)
    hi_s = R.round_bound(hi, dt)
    lo_s = R.round_bound(lo, dt)
    # the case really triggers the rule
    assert np.count_nonzero(norule.astype(np.float64) == hi_s) > 0
    a = np.empty(n, dt)
    check(a, lo, hi, 31, 0, isa, 3, "upper-bound rule")
    got = a.astype(np.float64)
    assert not np.any(got == hi_s)
    assert np.all((got >= lo_s) & (got < hi_s))


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_hi_rounded_once_to_storage(isa, dtype):
    """hi whose float32 rounding is a storage-type midpoint: RN_storage(hi) taken
    from the given bound, per docs/STREAM.md section 3 ('hi rounded to the storage type')."""
    mant = {2: 11 if dtype == np.float16 else 8, 4: 24, 8: 53}[dtype.itemsize]
    lo = 1.0 - 2.0**-mant
    hi = 1.0 + 2.0**-mant + 2.0**-40
    check(np.empty(4099, dtype), lo, hi, 8, 0, isa, 2)


# -- ISA against ISA, byte for byte --------------------------------------------
def test_isa_vs_isa_bytes():
    isas = _C.available_isas()
    assert "scalar" in isas
    if len(isas) < 2:
        pytest.skip(f"only one ISA available: {isas}")
    rng = np.random.default_rng(2718)
    for trial in range(12):
        n = int(rng.integers(100_000, 400_000))
        dt = DTYPES[trial % 4]
        off = int(rng.integers(0, 2**64, dtype=np.uint64))
        seed = int(rng.integers(0, 2**64, dtype=np.uint64))
        lo = float(rng.uniform(-10, 1))
        hi = lo + float(rng.uniform(1e-3, 10))
        outs = []
        for isa in isas:
            a = np.empty(n, dt)
            c_fill(a, lo, hi, seed, off, isa, int(rng.integers(1, 8)))
            outs.append(a.view(np.uint8).copy())
        for isa, o in zip(isas[1:], outs[1:]):
            if not np.array_equal(o, outs[0]):
                i = int(np.nonzero(o != outs[0])[0][0]) // dt.itemsize
                raise AssertionError(f"{isa} differs from {isas[0]}: dtype={dt} n={n} off={off} "
                                     f"seed={seed} lo={lo} hi={hi} first element {i}")


def test_threads_default_and_configured(isa):
    """threads=0 (configured count) gives the same bits as explicit counts."""
    a = np.empty(50_001, np.float32)
    check(a, -0.5, 0.5, 3, 17, isa, 0)
    old = _C.get_num_threads()
    try:
        _C.set_num_threads(5)
        check(a, -0.5, 0.5, 3, 17, isa, 0)
    finally:
        _C.set_num_threads(old)


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_public_uniform_contiguous(dtype):
    import fastinit

    a = np.zeros(1234, dtype)
    r = fastinit.uniform_(a, -0.5, 0.5, seed=11, offset=2**64 - 3)
    assert r is a
    assert_bits_equal(a, R.expected(a.shape, dtype, -0.5, 0.5, 11, 2**64 - 3), "public uniform_")


# Bounds where the SIMD uniform's folded scale (2^-24 or 2^-53 times (hi - lo), one multiply
# less per vector; issue 20) is inexact and the kernel must fall back to the unfolded form,
# one where the fold is exact (a subnormal but power-of-two product), and NaN / infinite
# bounds, which never fold. Forcing the fold on for every call made these differ.
_FOLD_BOUNDS = [(0.0, 1e-35), (1e-40, 3e-40), (0.0, 2.0**-110), (0.0, 1e-300), (float("nan"), 1.0),
                (0.0, float("inf"))]


@pytest.mark.parametrize("lo,hi", _FOLD_BOUNDS, ids=["1e-35", "subnormal-range", "2^-110", "1e-300", "nan-lo",
                                                     "inf-hi"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
def test_uniform_scale_fold_fallback_matches_scalar(isa, dtype, lo, hi):
    dt = BF16 if dtype == "bfloat16" else np.dtype(dtype)
    n, offset, seed = 4099, 7, 0x5EED
    got = c_fill(np.empty(n, dt), lo, hi, seed, offset, isa=isa)
    want = c_fill(np.empty(n, dt), lo, hi, seed, offset, isa="scalar")
    assert_bits_equal(got, want, f"{isa} {dtype} U({lo}, {hi})")
    if np.isfinite(lo) and np.isfinite(hi):
        # and the independent NumPy oracle, where it defines the bits (finite bounds)
        assert_bits_equal(got, R.expected((n,), dtype, lo, hi, seed, offset), f"{isa} {dtype} oracle")
