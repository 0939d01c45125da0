"""The normal and truncated-normal streams against the independent NumPy oracle.

tests/reference.py computes both streams from docs/STREAM.md alone (NumPy, exact fma
emulation, nothing imported from fastinit). Here every ISA the CPU has (scalar, AVX2,
AVX-512 through `_C.fill_*`'s `isa` argument) and the public functions are compared with
it bit for bit:

- the scalar elementary-function hooks (log32, log64, ndtri_lower32/64, ndtr64) on bit
  patterns spread over their whole domains (both AS 241 tail branches, subnormals);
- the trunc_normal host parameters (p_lo, span, flip) for mirrored, one-sided, far-tail
  and collapsing intervals;
- millions of stream elements per dtype (float32, float16, bfloat16, float64), plus the
  stream positions whose words give the extreme u (u = 2^-25, u just below 1/2, U at both
  ends of (0, 1)), inside SIMD blocks at every lane position;
- normal_, kaiming_normal_, xavier_normal_ and trunc_normal_ through the public API, with
  the parameters torch.nn.init's formulas give (computed here from those formulas).

The oracle itself is checked first: its fma emulations against exact rational
arithmetic, its functions against scipy within their documented accuracy.
"""
from __future__ import annotations

import math
import warnings
from fractions import Fraction

import numpy as np
import pytest
import torch

import fastinit
import reference as R
from conftest import assert_bits_equal
from fastinit import _C

DTYPES = ["float32", "float16", "bfloat16", "float64"]
CODE = {"float32": 0, "float64": 1, "float16": 2, "bfloat16": 3}
NP_STORAGE = {"float32": np.float32, "float64": np.float64, "float16": np.float16, "bfloat16": np.uint16}
TORCH = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16, "bfloat16": torch.bfloat16}

SEED = 0x5EED
# Stream positions (word indices under SEED) whose words are extreme, found by scanning
# reference.words; test_targets_are_extreme re-derives every property from the oracle.
#   float32 normal, m = (x >> 8) & 0x7fffff: 0 gives u = 2^-25 (|z| largest), 2^23 - 1
#   gives u = 1/2 - 2^-25 (z nearest 0); the sign bit both ways.
#   float32 trunc, U = (2 (x >> 9) + 1) 2^-24: x < 512 gives the smallest U, x >= 2^32 - 512
#   the largest.
W_M0_POS = 3942175  # m = 0, sign +, x < 512
W_M0_NEG = 55802623  # m = 0, sign -
W_MMAX_NEG = 1958940  # m = 2^23 - 1, sign -, x >= 2^32 - 512
W_MMAX_POS = 3978765  # m = 2^23 - 1, sign +
W_M1 = 12372404  # m = 1
# float64 uses words 2e and 2e + 1; these odd word indices make x1 (the high word) extreme.
W64_SMALL_HI = 3942175  # x1 = 169: tiny U for trunc; u ~ 2^-24 for the normal stream
W64_SMALL_HI_NEG = 55802623  # x1 = 0x8000004f: sign -, 52-bit m ~ 2^-24 of its range
W64_LARGE_HI = 16525959  # x1 >= 2^32 - 512: U nearest 1
TARGETS32 = [W_M0_POS, W_M0_NEG, W_MMAX_NEG, W_MMAX_POS, W_M1]
TARGETS64 = [(W64_SMALL_HI - 1) // 2, (W64_SMALL_HI_NEG - 1) // 2, (W64_LARGE_HI - 1) // 2]

# (mean, std, a, b): torch's default, narrow one-sided on both sides, mirrored and not,
# far tails (AS 241's r > 5 branch), float32-subnormal and float64-subnormal p_lo, an
# interval whose float32 probability underflows (collapses to its endpoint), timm's
# std=.02 with absolute bounds, and a wide interval crossing u = 1/2 off-centre.
TRUNC_CASES = [
    (0.0, 1.0, -2.0, 2.0),
    (0.0, 1.0, 2.0, 3.0),
    (0.0, 1.0, -3.0, -2.0),
    (0.0, 1.0, -1.0, 3.0),
    (0.0, 1.0, -3.0, 1.0),
    (0.25, 0.5, 0.0, 4.0),
    (0.0, 1.0, 8.0, 9.0),
    (0.0, 1.0, -9.0, -8.0),
    (0.0, 1.0, 12.5, 14.0),
    (0.0, 1.0, -38.0, -37.0),
    (0.0, 1.0, 37.0, 38.0),
    (0.0, 1.0, 20.0, 21.0),
    (0.0, 0.02, -2.0, 2.0),
    (1.0, 3.0, -0.5, 30.0),
]
NORMAL_CASES = [(0.0, 1.0), (0.3, 0.02), (-2.5, 7.0), (1.0, 0.0)]

ISAS = [i for i in ("scalar", "avx2", "avx512") if i in _C.available_isas()]


def c_fill(kind, arr, params, seed, offset=0, isa="", threads=0, code=None):
    args = (arr.__array_interface__["data"][0], CODE[code], list(arr.shape), list(arr.strides))
    fn = _C.fill_normal if kind == "normal" else _C.fill_trunc_normal
    fn(*args, *map(float, params), int(seed), int(offset), isa, int(threads))
    return arr


def oracle(kind, n, dtype, params, seed, offset=0):
    if kind == "normal":
        return R.normal_expected((n,), dtype, *params, seed, offset)
    return R.trunc_normal_expected((n,), dtype, *params, seed, offset)


def raw_bits(a):
    a = np.ascontiguousarray(a)
    return a.view({2: np.uint16, 4: np.uint32, 8: np.uint64}[a.dtype.itemsize])


def assert_same(got, want, what):
    g, w = raw_bits(got).reshape(-1), raw_bits(want).reshape(-1)
    bad = np.nonzero(g != w)[0]
    assert bad.size == 0, (f"{what}: {bad.size} of {g.size} differ, first at {bad[0]}: "
                           f"oracle 0x{int(w[bad[0]]):x}, fastinit 0x{int(g[bad[0]]):x}")


# ---------------------------------------------------------------------------------------
# The oracle's own building blocks


def _rn(q: Fraction, mant: int, emin: int) -> float:
    return float(R._round_scalar(q, mant, emin)) if q != 0 else 0.0


def test_oracle_fma32_is_single_rounding():
    rng = np.random.default_rng(11)
    n = 20000
    a = rng.standard_normal(n).astype(np.float32) * np.float32(3.0)
    b = (rng.standard_normal(n) * 2.0 ** rng.integers(-60, 20, n)).astype(np.float32)
    c = rng.standard_normal(n).astype(np.float32)
    # cancellations: c = -(a*b) rounded, plus/minus a few ulps; and ties built on purpose
    k = n // 2
    c[:k] = (-(a[:k].astype(np.float64) * b[:k])).astype(np.float32)
    c[:k // 2] = np.nextafter(c[:k // 2], np.float32(np.inf))
    got = R.fma32(a, b, c)
    for i in range(n):
        q = Fraction(float(a[i])) * Fraction(float(b[i])) + Fraction(float(c[i]))
        want = np.float32(_rn(q, 24, -126))
        assert got[i] == want or (got[i] == 0 and want == 0), (i, a[i], b[i], c[i], got[i], want)


def test_oracle_fma64_is_single_rounding():
    rng = np.random.default_rng(12)
    n = 20000
    a = rng.standard_normal(n) * 2.0 ** rng.integers(-40, 40, n)
    b = rng.standard_normal(n) * 2.0 ** rng.integers(-40, 40, n)
    c = rng.standard_normal(n) * 2.0 ** rng.integers(-80, 80, n)
    k = n // 2
    c[:k] = -(a[:k] * b[:k])  # the product's rounding error decides the result
    c[:k // 2] = np.nextafter(c[:k // 2], np.inf)
    got = R.fma64(a, b, c)
    want = np.array([float(Fraction(float(a[i])) * Fraction(float(b[i])) + Fraction(float(c[i])))
                     for i in range(n)])
    assert np.array_equal(got, want)
    # the scalar host version agrees with the vector one
    for i in range(0, n, 97):
        assert R.fma_scalar64(a[i], b[i], c[i]) == got[i]


def test_oracle_fma64_near_underflow_and_signed_zeros():
    """Products in and near the subnormal range (where TwoProd's error term underflows)
    and exact zeros: the bits, signed zeros included, are those of one rounding."""
    rng = np.random.default_rng(14)
    n = 4000
    a = rng.standard_normal(n) * 2.0 ** rng.integers(-600, -400, n)
    b = rng.standard_normal(n) * 2.0 ** rng.integers(-620, -500, n)
    c = np.where(rng.random(n) < 0.5, 0.0, rng.standard_normal(n) * 2.0 ** rng.integers(-1074, -1000, n))
    a = np.concatenate([a, [-0.3, 0.3, -1.0, 2.0, -0.0, 5e-324]])
    b = np.concatenate([b, [5e-324, -5e-324, 0.0, 0.0, 3.0, -0.5]])
    c = np.concatenate([c, [0.0, 0.0, -0.0, -0.0, -0.0, 0.0]])

    def one_rounding(x, y, z):
        r = Fraction(float(x)) * Fraction(float(y)) + Fraction(float(z))
        if r == 0:  # an exact zero: IEEE's sign rule for x*y + z with an exact product
            return float(x) * float(y) + float(z)
        return float(r)

    want = np.array([one_rounding(x, y, z) for x, y, z in zip(a, b, c)])
    assert np.array_equal(R.fma64(a, b, c).view(np.uint64), want.view(np.uint64))


def test_oracle_functions_are_the_documented_approximations():
    import scipy.special as sp
    rng = np.random.default_rng(13)
    u = np.concatenate([rng.uniform(1e-6, 0.5, 20000), 2.0 ** -rng.uniform(1, 140, 20000)])
    z32 = R.ndtri_lower32(u.astype(np.float32)).astype(np.float64)
    ref = sp.ndtri(u.astype(np.float32).astype(np.float64))
    assert np.max(np.abs(z32 - ref) / np.abs(ref)) < 5e-7  # PPND7, float32 arithmetic
    u64 = np.concatenate([u, 2.0 ** -rng.uniform(140, 1070, 5000)])
    z64 = R.ndtri_lower64(u64)
    ref64 = sp.ndtri(u64)
    assert np.max(np.abs(z64 - ref64) / np.abs(ref64)) < 3e-15  # PPND16
    x = rng.uniform(1e-30, 1e30, 5000)
    assert np.max(np.abs(R.log64(x) - np.log(x)) / np.abs(np.log(x))) < 3e-16
    xs = np.concatenate([rng.uniform(-37.0, 8.0, 2000), [0.0, -0.66291, 0.66291, -5.6568542494923806]])
    got = np.array([R.ndtr64(v) for v in xs])
    # scipy.special.ndtr itself is only ~1e-13 relative deep in the lower tail
    assert np.max(np.abs(got - sp.ndtr(xs)) / sp.ndtr(xs)) < 1e-12


# ---------------------------------------------------------------------------------------
# Elementary functions: fastinit's scalar hooks against the oracle


def _pattern_grid(lo_bits, hi_bits, n, dtype, seed):
    rng = np.random.default_rng(seed)
    b = rng.integers(lo_bits, hi_bits, n, dtype=np.uint64 if dtype == np.float64 else np.uint32)
    return b.view(dtype)


def test_log_and_ndtri_hooks_match_oracle():
    x32 = np.concatenate([_pattern_grid(1, 0x7F800000, 300_000, np.float32, 1),
                          np.arange(1, 4096, dtype=np.uint32).view(np.float32)])
    assert_same(_C.log32(x32), R.log32(x32), "log32")
    u32 = np.concatenate([_pattern_grid(1, 0x3F000001, 300_000, np.float32, 2),  # (0, 0.5]
                          (2 * np.arange(0, 2**23, 61, dtype=np.int64) + 1).astype(np.float32) * np.float32(2**-25),
                          np.array([2**-149, 0.075, 0.07499999, 0.0750001, 0.5, 1.4e-11, 1.3e-11], np.float32)])
    assert_same(_C.ndtri_lower32(u32), R.ndtri_lower32(u32), "ndtri_lower32")
    x64 = _pattern_grid(1, 0x7FF0000000000000, 150_000, np.float64, 3)
    assert_same(_C.log64(x64), R.log64(x64), "log64")
    u64 = np.concatenate([_pattern_grid(1, 0x3FE0000000000001, 150_000, np.float64, 4),
                          np.array([5e-324, 1e-310, 0.075, 0.5, 1.3e-11, 1.4e-11])])
    assert_same(_C.ndtri_lower64(u64), R.ndtri_lower64(u64), "ndtri_lower64")


def test_ndtr64_hook_matches_oracle():
    rng = np.random.default_rng(5)
    xs = np.concatenate([rng.uniform(-41.0, 9.0, 4000), rng.uniform(-0.7, 0.7, 1000),
                         [0.0, -0.0, 1e-17, -0.66291, 0.66291, -5.656854249492380195, 5.656854249492380195,
                          -38.5, -39.99, -40.0, 40.0, -1e300, np.inf, -np.inf]])
    want = np.array([R.ndtr64(v) for v in xs])
    assert_same(_C.ndtr64(xs), want, "ndtr64")


@pytest.mark.parametrize("case", TRUNC_CASES, ids=str)
def test_trunc_normal_host_parameters_match_oracle(case):
    got = _C.trunc_normal_params(0, *case)
    p = R.trunc_normal_params(*case)
    for k in ("plo", "span", "flip"):
        assert got[k] == p[k] or (math.isnan(got[k]) and math.isnan(p[k])), (k, got[k], p[k])
    for k in ("plo32", "span32"):
        assert np.float32(got[k]).view(np.uint32) == p[k].view(np.uint32), (k, got[k], p[k])


# ---------------------------------------------------------------------------------------
# Streams: every ISA against the oracle


def test_targets_are_extreme():
    def w(j):
        return int(R.words(SEED, j, 1)[0])

    m = lambda x: (x >> 8) & 0x7FFFFF  # noqa: E731
    assert m(w(W_M0_POS)) == 0 and w(W_M0_POS) < 512
    assert m(w(W_M0_NEG)) == 0 and w(W_M0_NEG) >> 31 == 1
    assert m(w(W_MMAX_NEG)) == 2**23 - 1 and w(W_MMAX_NEG) >= 2**32 - 512
    assert m(w(W_MMAX_POS)) == 2**23 - 1 and w(W_MMAX_POS) >> 31 == 0
    assert m(w(W_M1)) == 1
    assert W64_SMALL_HI % 2 == 1 and w(W64_SMALL_HI) < 512
    assert W64_SMALL_HI_NEG % 2 == 1 and (w(W64_SMALL_HI_NEG) & 0x7FFFFFFF) < 512
    assert W64_LARGE_HI % 2 == 1 and w(W64_LARGE_HI) >= 2**32 - 512
    # the oracle really reaches the extremes there
    z = R.normal_expected((1,), "float32", 0.0, 1.0, SEED, W_M0_POS)[0]
    assert z == R.ndtri_lower32(np.float32(2**-25))[0] and z < -5.4


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["normal", "trunc"])
def test_extreme_positions_every_lane(isa, dtype, kind):
    """Each extreme word at every lane position of a 16-wide block, in short and
    misaligned runs (the vector paths' tail and head handling)."""
    targets = TARGETS64 if dtype == "float64" else TARGETS32
    cases = NORMAL_CASES if kind == "normal" else [TRUNC_CASES[i] for i in (0, 1, 6, 8, 9, 11)]
    for params in cases:
        for t in targets:
            window = oracle(kind, 64, dtype, params, SEED, t - 16)  # positions t-16 .. t+47
            for lead, n in ((0, 1), (0, 17), (1, 17), (5, 40), (15, 40), (16, 33)):
                start = t - lead
                arr = np.empty(n, NP_STORAGE[dtype])
                c_fill(kind, arr, params, SEED, start, isa, code=dtype)
                assert_same(arr, window[16 - lead:16 - lead + n],
                            f"{isa} {dtype} {kind} {params} start={start} n={n}")


_BULK = {}


def _bulk_oracle(kind, dtype, params, n, offset):
    key = (kind, dtype, params, n, offset)
    if key not in _BULK:
        _BULK.clear()  # one at a time: the tests below run per (kind, dtype, params)
        _BULK[key] = oracle(kind, n, dtype, params, SEED, offset)
    return _BULK[key]


N32 = 1 << 20
N64 = 1 << 17


@pytest.mark.parametrize("params", NORMAL_CASES[:3], ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
def test_normal_stream_bulk(dtype, params):
    n = N64 if dtype == "float64" else N32
    offset = 2**64 - 1000 if dtype != "float64" else 2**63 - 100  # wraps / crosses 2^63
    want = _bulk_oracle("normal", dtype, params, n, offset)
    for isa in ISAS:
        for threads in (1, 0):
            arr = np.empty(n, NP_STORAGE[dtype])
            c_fill("normal", arr, params, SEED, offset, isa, threads, code=dtype)
            assert_same(arr, want, f"{isa} threads={threads} normal {dtype} {params}")


@pytest.mark.parametrize("params", TRUNC_CASES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
def test_trunc_normal_stream_bulk(dtype, params):
    n = (N64 if dtype == "float64" else N32) // 4
    want = _bulk_oracle("trunc", dtype, params, n, 12345)
    for isa in ISAS:
        arr = np.empty(n, NP_STORAGE[dtype])
        c_fill("trunc", arr, params, SEED, 12345, isa, code=dtype)
        assert_same(arr, want, f"{isa} trunc {dtype} {params}")


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_normal_stream_tails_many_millions(dtype):
    """16 M float32 elements (u down to ~2^-25 several times) / 2 M float64 elements,
    every ISA."""
    n = (1 << 24) if dtype == "float32" else (1 << 21)
    want = oracle("normal", n, dtype, (0.0, 1.0), 7, 0)
    assert np.max(np.abs(want.astype(np.float64))) > (5.0 if dtype == "float32" else 4.5)
    for isa in ISAS:
        arr = np.empty(n, NP_STORAGE[dtype])
        c_fill("normal", arr, (0.0, 1.0), 7, 0, isa, code=dtype)
        assert_same(arr, want, f"{isa} normal {dtype}")


# ---------------------------------------------------------------------------------------
# Public API: torch.nn.init's parameter formulas, then the oracle's stream


def _kaiming_std(shape, a, mode, nonlinearity):
    # torch.nn.init: fan_in = size(1) * receptive field, fan_out = size(0) * receptive
    rf = math.prod(shape[2:]) if len(shape) > 2 else 1
    fan = shape[1] * rf if mode == "fan_in" else shape[0] * rf
    if nonlinearity == "leaky_relu":
        gain = math.sqrt(2.0 / (1 + a**2))
    elif nonlinearity == "relu":
        gain = math.sqrt(2.0)
    elif nonlinearity == "tanh":
        gain = 5.0 / 3
    else:
        gain = 1.0
    return gain / math.sqrt(fan)


def _xavier_std(shape, gain):
    rf = math.prod(shape[2:]) if len(shape) > 2 else 1
    return gain * math.sqrt(2.0 / float(shape[1] * rf + shape[0] * rf))


def _np_of(t):
    return t.view(torch.int16).numpy().view(np.uint16) if t.dtype == torch.bfloat16 else t.numpy()


@pytest.mark.parametrize("dtype", DTYPES)
def test_public_normal_family_matches_oracle(dtype):
    tdt = TORCH[dtype]
    cases = [
        ("normal_", (64, 48), (0.5, 2.0), {}, (0.5, 2.0)),
        ("normal_", (3, 5, 7), (), {}, (0.0, 1.0)),
        ("kaiming_normal_", (96, 40), (), {}, None),
        ("kaiming_normal_", (32, 16, 3, 3), (), dict(a=0.1, mode="fan_out"), None),
        ("kaiming_normal_", (20, 30), (), dict(nonlinearity="relu"), None),
        ("kaiming_normal_", (20, 30), (), dict(nonlinearity="tanh", mode="fan_in"), None),
        ("xavier_normal_", (50, 70), (), {}, None),
        ("xavier_normal_", (8, 4, 5), (1.7,), {}, None),
    ]
    for name, shape, args, kw, mp in cases:
        if name == "kaiming_normal_":
            mp = (0.0, _kaiming_std(shape, kw.get("a", 0), kw.get("mode", "fan_in"),
                                    kw.get("nonlinearity", "leaky_relu")))
        elif name == "xavier_normal_":
            mp = (0.0, _xavier_std(shape, args[0] if args else 1.0))
        for offset in (0, 999, 2**64 - 7):
            t = torch.empty(shape, dtype=tdt)
            r = getattr(fastinit, name)(t, *args, **kw, seed=SEED, offset=offset)
            assert r is t
            want = R.normal_expected(shape, dtype, *mp, SEED, offset)
            assert_same(_np_of(t), want, f"{name}{args}{kw} {dtype} offset={offset}")
        # a strided (transposed) view gets the values of its own row-major order
        base = torch.empty(shape[::-1], dtype=tdt)
        v = base.transpose(0, -1) if len(shape) == 2 else base.permute(*reversed(range(len(shape))))
        getattr(fastinit, name)(v, *args, **kw, seed=SEED, offset=5)
        assert_same(_np_of(v.contiguous()), R.normal_expected(shape, dtype, *mp, SEED, 5), f"{name} strided")


@pytest.mark.parametrize("dtype", DTYPES)
def test_public_trunc_normal_matches_oracle(dtype):
    tdt = TORCH[dtype]
    for mean, std, a, b in TRUNC_CASES + [(0.0, -1.0, 2.0, 3.0)]:  # negative std means |std|
        t = torch.empty(300, dtype=tdt)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # far intervals: torch's "more than 2 std" warning
            fastinit.trunc_normal_(t, mean, std, a, b, seed=SEED, offset=W_M0_POS - 150)
        want = R.trunc_normal_expected((300,), dtype, mean, abs(std), a, b, SEED, W_M0_POS - 150)
        assert_same(_np_of(t), want, f"trunc_normal_({mean}, {std}, {a}, {b}) {dtype}")


def test_trunc_normal_mirror_is_exact_reflection():
    """Mirrored intervals: the oracle's values for [2, 3] are the negatives of a fill on
    [-3, -2] with the same word transform (flip only); fastinit agrees on both."""
    n = 4096
    up = R.trunc_normal_expected((n,), "float64", 0.0, 1.0, 2.0, 3.0, SEED, 0)
    down = R.trunc_normal_expected((n,), "float64", 0.0, 1.0, -3.0, -2.0, SEED, 0)
    assert np.array_equal(up, -down)
    for isa in ISAS:
        for case, want in (((0.0, 1.0, 2.0, 3.0), up), ((0.0, 1.0, -3.0, -2.0), down)):
            arr = np.empty(n, np.float64)
            c_fill("trunc", arr, case, SEED, 0, isa, code="float64")
            assert_same(arr, want, f"{isa} {case}")
