"""The normal and truncated-normal kernels (docs/STREAM.md) through the private _C layer.

- accuracy of the elementary functions in csrc/normal.h (log32, log64, ndtri_lower32,
  ndtri_lower64, ndtr64) against float64 / long double / scipy / mpmath references, and
  the AS 241 coefficients against Wichura's published hash sums;
- bit identity of every available ISA with the scalar path, over thread counts, dtypes,
  sizes, misaligned starts and 64-bit stream offsets;
- an independent NumPy model of the stream mapping (word order, bit layout, sign, u),
  checked against the float64 kernel output element by element through the scalar
  _C.ndtri_lower64 hook;
- basic distribution sanity (moments, support of the truncated normal).
"""
from __future__ import annotations

import math
import os
import re
from fractions import Fraction

import numpy as np
import pytest

import reference
from conftest import assert_bits_equal
from fastinit import _C

import scipy.special as scipy_special  # noqa: E402  test dependency

DTYPES = ["float32", "float64", "float16", "bfloat16"]
CODE = {"float32": 0, "float64": 1, "float16": 2, "bfloat16": 3}
ISAS = [i for i in ("avx2", "avx512") if i in _C.available_isas()]


def np_dtype(name):
    if name == "bfloat16":
        return np.dtype(np.uint16)  # raw storage: bit comparisons only
    return np.dtype(name)


def fill(kind, arr, params, seed, offset=0, isa="", threads=0, code=None):
    """Fill `arr` (a NumPy array, any strides) in place with the normal (`params` =
    (mean, std)) or truncated normal (mean, std, a, b) stream."""
    code = CODE[arr.dtype.name] if code is None else code
    args = (arr.__array_interface__["data"][0], code, list(arr.shape), list(arr.strides))
    if kind == "normal":
        _C.fill_normal(*args, *map(float, params), int(seed), int(offset), isa, int(threads))
    else:
        _C.fill_trunc_normal(*args, *map(float, params), int(seed), int(offset), isa, int(threads))
    return arr


# ---------------------------------------------------------------------------------------
# Elementary functions


def test_as241_coefficients_match_wichuras_hash_sums():
    # AS 241 prints, for each group of coefficients, the sum of their decimal mantissas
    # "for use in checking transcription". Parse csrc/normal.h and recompute them.
    src = open(os.path.join(os.path.dirname(__file__), "..", "csrc", "normal.h")).read()

    def body(name):
        i = src.index(f"FASTINIT_HDI void {name}(")
        return src[i:src.index("\n}\n", i)]

    def mantissa_sum(text, skip=()):
        nums = re.findall(r"(?<![\w.])(\d+\.\d+(?:e[+-]?\d+)?)f?", text)
        total = 0.0
        for s in nums:
            v = float(s)
            if v in skip:
                continue
            total += v / 10.0 ** math.floor(math.log10(v))
        return total

    # Constants that are not approximation coefficients: const1/const2, split2, the 1s.
    skip = (0.180625, 1.6, 5.0, 1.0, 0.5, 0.425)
    c32, t32 = body("ndtri32_central"), body("ndtri32_tail")
    far32 = t32[t32.index("if (any_v(far))"):]
    assert mantissa_sum(c32, skip) == pytest.approx(32.3184577772, abs=1e-9)
    assert mantissa_sum(t32[:t32.index("if (any_v(far))")], skip) == pytest.approx(15.7614929821, abs=1e-9)
    assert mantissa_sum(far32, skip) == pytest.approx(19.4052910204, abs=1e-9)
    c64, t64 = body("ndtri64_central"), body("ndtri64_tail")
    far64 = t64[t64.index("if (any_v(far))"):]
    assert mantissa_sum(c64, skip) == pytest.approx(55.8831928806149014439, abs=1e-12)
    assert mantissa_sum(t64[:t64.index("if (any_v(far))")], skip) == pytest.approx(49.3320650330161028904, abs=1e-12)
    assert mantissa_sum(far64, skip) == pytest.approx(47.5258331754928967163, abs=1e-12)


def test_log32_within_one_ulp():
    rng = np.random.default_rng(1)
    x = np.concatenate([
        np.exp(rng.uniform(-103.0, 88.7, 400_000)).astype(np.float32),
        rng.uniform(0.5, 2.0, 200_000).astype(np.float32),  # around the reduction split
        (np.arange(1, 5000, dtype=np.uint32)).view(np.float32),  # subnormals
        np.array([1.0, 2.0, 0.5, np.sqrt(0.5), np.sqrt(2.0), 3.4e38, 1.1754944e-38, 1e-45], np.float32),
    ])
    x = x[(x > 0) & np.isfinite(x)]
    got = np.asarray(_C.log32(x), dtype=np.float64)
    ref = np.log(x.astype(np.float64))
    assert np.asarray(_C.log32(x)).dtype == np.float32
    ulp = np.spacing(np.abs(ref).astype(np.float32)).astype(np.float64)
    ulp[ref == 0] = np.spacing(np.float32(0))
    err = np.abs(got - ref) / ulp
    assert err.max() <= 1.0, (err.max(), x[np.argmax(err)])
    assert _C.log32(1.0) == 0.0


def test_log64_within_one_ulp():
    rng = np.random.default_rng(2)
    x = np.concatenate([
        np.exp(rng.uniform(-744.0, 709.0, 300_000)),
        rng.uniform(0.5, 2.0, 100_000),
        np.array([5e-324, 1e-310, 2.2250738585072014e-308, 1.0, 2.0, 1.7e308, math.sqrt(0.5), math.sqrt(2.0)]),
    ])
    got = np.asarray(_C.log64(x))
    if np.finfo(np.longdouble).nmant >= 63:
        ref = np.log(x.astype(np.longdouble))
        err = np.abs((got.astype(np.longdouble) - ref) / np.spacing(np.abs(got).astype(np.float64)).astype(np.longdouble))
        err = err.astype(np.float64)
    else:  # no extended precision: mpmath on a sample
        import mpmath
        idx = rng.choice(x.size, 3000, replace=False)
        mpmath.mp.prec = 120
        err = np.array([abs(float((mpmath.mpf(float(got[i])) - mpmath.log(mpmath.mpf(float(x[i])))) /
                                  np.spacing(abs(got[i])))) for i in idx])
    assert err.max() <= 1.0, err.max()
    assert _C.log64(1.0) == 0.0


def test_ndtri_lower32_relative_error():
    # PPND7 in float32 arithmetic: measured max relative error 3.8e-7 (about 3 float32
    # ulps; AS 241 states "about 1 part in 10^7" for the approximation itself).
    rng = np.random.default_rng(3)
    u = np.concatenate([
        rng.uniform(0.0, 0.5, 400_000),
        2.0 ** -rng.uniform(1.0, 149.0, 200_000),
        (2 * np.arange(2**23, dtype=np.float64)[::97] + 1) * 2.0**-25,  # the normal stream's u
    ]).astype(np.float32)
    u = u[(u > 0) & (u <= 0.5)]
    got = np.asarray(_C.ndtri_lower32(u), dtype=np.float64)
    ref = scipy_special.ndtri(u.astype(np.float64))
    rel = np.abs(got - ref) / np.abs(ref)
    assert rel.max() < 5e-7, (rel.max(), u[np.argmax(rel)])
    assert np.all(got <= 0)
    assert _C.ndtri_lower32(0.5) == 0.0
    # monotone on a dense grid (no jumps at the branch splits)
    g = np.sort(u)
    assert np.all(np.diff(np.asarray(_C.ndtri_lower32(g), dtype=np.float64)) >= -1e-6)


def test_ndtri_lower64_relative_error():
    # PPND16 in float64: measured max relative error 1.0e-15 against scipy.special.ndtri.
    rng = np.random.default_rng(4)
    u = np.concatenate([
        rng.uniform(0.0, 0.5, 300_000),
        2.0 ** -rng.uniform(1.0, 1074.0, 100_000),
        np.array([0.075, 0.07500000000000001, np.exp(-25.0), 2.0**-54, 5e-324, 0.5]),
    ])
    u = u[u > 0]
    got = np.asarray(_C.ndtri_lower64(u))
    ref = scipy_special.ndtri(u)
    nz = ref != 0
    rel = np.abs(got[nz] - ref[nz]) / np.abs(ref[nz])
    assert rel.max() < 2e-15, (rel.max(), u[nz][np.argmax(rel)])
    import mpmath
    mpmath.mp.dps = 40
    idx = rng.choice(u.size, 400, replace=False)
    for i in idx:
        # one Newton step from got towards the exact quantile gives its error
        g = mpmath.mpf(float(got[i]))
        if g != 0:
            dz = (mpmath.ncdf(g) - mpmath.mpf(float(u[i]))) / mpmath.npdf(g)
            assert abs(float(dz / g)) < 2e-15, u[i]


def test_ndtri_lower_total_on_bad_input():
    # u = 0, negative, NaN: a finite deterministic value (clamped to the least subnormal).
    for u in (0.0, -1.0, float("nan")):
        assert math.isfinite(_C.ndtri_lower32(u)) and math.isfinite(_C.ndtri_lower64(u))
    assert _C.ndtri_lower64(0.0) == _C.ndtri_lower64(5e-324)


def test_ndtr64_lower_tail_relative_error():
    # Cody's algorithm with fastinit's own exp: measured max relative error 6e-16 on
    # [-37, 8] against mpmath (the strict check below), and checked against scipy's
    # log_ndtr / ndtr.
    rng = np.random.default_rng(5)
    # scipy's ndtr loses relative precision in the far tail (1e-13 near -37: its
    # exp(-x^2/2) carries the rounding of x^2); log_ndtr is good there, so the value's
    # relative error is compared as an absolute error of the logarithm.
    x = np.concatenate([rng.uniform(-37.0, 0.0, 200_000), np.array([-37.0, -5.656854249492380, -0.66291, 0.0])])
    got = np.asarray(_C.ndtr64(x))
    L = scipy_special.log_ndtr(x)
    err = np.abs(np.log(got) - L) - 4 * np.spacing(np.abs(L))  # minus the logs' own rounding
    assert err.max() < 3e-15, (err.max(), x[np.argmax(err)])
    near = x > -5
    assert np.max(np.abs(got[near] - scipy_special.ndtr(x[near])) / got[near]) < 1e-14
    import mpmath
    mpmath.mp.dps = 40
    for v in np.concatenate([rng.uniform(-37.0, 8.0, 300), [-37.0, -20.0, -5.7, -5.6, -0.67, -0.66]]):
        want = mpmath.ncdf(mpmath.mpf(float(v)))
        assert abs(float((mpmath.mpf(_C.ndtr64(float(v))) - want) / want)) < 2e-15, v
    # upper half, limits, monotonicity
    assert _C.ndtr64(0.0) == 0.5
    assert _C.ndtr64(float("inf")) == 1.0 and _C.ndtr64(float("-inf")) == 0.0
    assert math.isnan(_C.ndtr64(float("nan")))
    assert _C.ndtr64(40.0) == 1.0 and _C.ndtr64(-40.0) == 0.0
    g = np.asarray(_C.ndtr64(np.linspace(-38, 9, 200_001)))
    assert np.all(np.diff(g) >= 0)


# ---------------------------------------------------------------------------------------
# Bit identity across ISAs and threads

CASES = [
    ("normal", (0.0, 1.0)),
    ("normal", (0.5, 2.0)),
    ("trunc", (0.0, 1.0, 2.0, 3.0)),
    ("trunc", (0.0, 0.1, -2.0, 2.0)),
    ("trunc", (0.0, 1.0, 5.0, 6.0)),
    ("trunc", (1.0, 2.0, -3.0, 0.5)),
    ("trunc", (0.0, 1.0, -2.0, 2.0)),
]
OFFSETS = [0, 1, 3, 2**32 - 5, 2**62 - 3, 2**63 - 7, 2**64 - 9]


@pytest.mark.parametrize("isa", ISAS or [pytest.param("avx2", marks=pytest.mark.skip(reason="this CPU has neither AVX2 (with FMA, F16C) nor AVX-512: no SIMD path to compare"))])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind,params", CASES, ids=[f"{k}{p}" for k, p in CASES])
def test_simd_matches_scalar(isa, dtype, kind, params):
    dt = np_dtype(dtype)
    code = CODE[dtype]
    rng = np.random.default_rng(hash((isa, dtype, kind, params)) & 0xFFFF)
    sizes = [0, 1, 2, 3, 5, 7, 31, 33, 127, 129, 1000, 4099]
    for n in sizes:
        for off in OFFSETS:
            w = np.zeros(n, dt)
            fill(kind, w, params, 7, off, "scalar", 1, code)
            for threads in (1, 3):
                g = np.empty(n, dt)
                fill(kind, g, params, 7, off, isa, threads, code)
                assert_bits_equal(g, w, f"{isa} {dtype} {kind}{params} n={n} off={off} threads={threads}")
            # misaligned start inside a byte buffer
            raw = np.zeros(n * dt.itemsize + 64, np.uint8)
            start = 1 + int(rng.integers(0, 31))
            view = np.ndarray((n,), dt, raw.data, start)
            fill(kind, view, params, 7, off, isa, 2, code)
            assert_bits_equal(view.copy(), w, f"{isa} {dtype} misaligned by {start}")
            assert not raw[:start].any() and not raw[start + n * dt.itemsize:].any()


# The SIMD paths evaluate ndtri's tail branch on packed lanes (csrc/ndtri_packed.h): the
# tail lanes of a whole group are compressed together, run through the tail and its
# division, and the quotients expanded back. These cases put every kind of vector through
# it: groups without a tail lane (the early return), vectors with one or a few tail lanes
# (packed vectors mostly empty), mixed vectors (normal), vectors whose every lane takes the
# tail (packed vectors full), and tails mixing the near (t <= 5) and far (t > 5) rational
# functions inside one packed vector.
TAIL_MIX_CASES = [
    ("normal", (0.0, 1.0)),               # mixed: 15% of lanes take the tail
    ("trunc", (0.0, 1.0, -1.0, 1.0)),     # |z| <= 1 < 1.44: no tail lane anywhere
    ("trunc", (0.0, 1.0, -1.5, 1.5)),     # about 2% of lanes: one or two tail lanes per vector
    ("trunc", (0.0, 1.0, -1.6, -1.3)),    # straddles the central/tail split at z = -1.44
    ("trunc", (0.0, 1.0, -40.0, -30.0)),  # every lane in the far tail (t > 5)
    ("trunc", (0.0, 1.0, -7.5, -6.5)),    # every lane in the tail, near and far mixed (z = -6.7)
    ("trunc", (0.0, 1.0, 5.0, 6.0)),      # every lane in the (mirrored) tail
]


@pytest.mark.parametrize("isa", ISAS or [pytest.param("avx2", marks=pytest.mark.skip(reason="this CPU has neither AVX2 (with FMA, F16C) nor AVX-512: no SIMD path to compare"))])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind,params", TAIL_MIX_CASES, ids=[f"{k}{p}" for k, p in TAIL_MIX_CASES])
def test_packed_tail_every_lane_mix_matches_scalar(isa, dtype, kind, params):
    n = 3 * 4096 + 17
    dt = np.dtype(dtype)
    for off in (0, 5, 2**64 - 1000):
        want = fill(kind, np.empty(n, dt), params, 11, off, "scalar", 1)
        for threads in (1, 2):
            got = fill(kind, np.empty(n, dt), params, 11, off, isa, threads)
            assert_bits_equal(got, want, f"{isa} {dtype} {kind}{params} off={off} threads={threads}")
        if kind == "trunc":
            # the cases are what they claim to be: |z| against the split at 1.4395
            # (u = 0.075) and the far tail beyond 6.7 (t = sqrt(-log u) = 5)
            v = want.astype(np.float64)  # mean 0, std 1: v is z
            assert v.min() >= params[2] - 1e-6 and v.max() <= params[3] + 1e-6
            z = np.abs(v)
            if params[2:] == (-1.0, 1.0):
                assert z.max() < 1.4395
            if params[2:] == (-1.5, 1.5):
                assert 0.005 < np.mean(z > 1.4395) < 0.05
            if params[2:] == (-1.6, -1.3):
                assert 0.2 < np.mean(z > 1.4395) < 0.8
            if params[2:] == (-7.5, -6.5):
                assert 0.05 < np.mean(z > 6.7) < 0.95


def test_packed_tail_cases_cover_every_vector_kind():
    # For the normal stream the tail predicate of each element is known exactly from the
    # words (tests/reference.py): float32(u - 0.5) < -0.425. Over the test's fill, 8- and
    # 16-lane vectors with no, one, and several tail lanes all occur.
    x = _words(11, 0, 3 * 4096)
    m = (x >> np.uint32(8)) & np.uint32(0x7FFFFF)
    u = ((2 * m.astype(np.uint64) + 1).astype(np.float64) * 2.0**-25).astype(np.float32)
    tail = ~((u - np.float32(0.5)) >= np.float32(-0.425))
    for lanes in (8, 16):
        per_vec = tail.reshape(-1, lanes).sum(axis=1)
        assert (per_vec == 0).any() and (per_vec == 1).any() and (per_vec >= 4).any(), lanes


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind,params", CASES[:1] + CASES[2:4], ids=["normal", "trunc23", "trunc_narrow"])
def test_large_fill_same_bits_for_every_isa_and_thread_count(dtype, kind, params):
    n = 1_000_003
    dt = np_dtype(dtype)
    code = CODE[dtype]
    want = fill(kind, np.empty(n, dt), params, 0x0123456789ABCDEF, 2**64 - 500_000, "scalar", 1, code)
    for isa in ISAS:
        for threads in (1, 2, 3, 7):
            got = fill(kind, np.empty(n, dt), params, 0x0123456789ABCDEF, 2**64 - 500_000, isa, threads, code)
            assert_bits_equal(got, want, f"{isa} threads={threads}")
    # sharding: the second half filled alone equals the whole fill there
    half = fill(kind, np.empty(n - 400_001, dt), params, 0x0123456789ABCDEF, (2**64 - 500_000 + 400_001) % 2**64,
                "", 2, code)
    assert_bits_equal(half, want[400_001:], "shard")


def test_strided_view_matches_contiguous():
    base = np.zeros((64, 100), np.float32)
    view = base[3:50:2, 5:]
    fill("trunc", view, (0.0, 1.0, -1.0, 2.0), 99, 11)
    want = fill("trunc", np.empty(view.shape, np.float32), (0.0, 1.0, -1.0, 2.0), 99, 11)
    assert_bits_equal(np.ascontiguousarray(view), want, "strided")
    mask = np.zeros(base.shape, bool)
    mask[3:50:2, 5:] = True
    assert not base[~mask].any()


# ---------------------------------------------------------------------------------------
# Independent model of the stream mapping


def _words(seed, first_word, count):
    """Stream words [first_word, first_word + count) from the test suite's own NumPy
    Philox (tests/reference.py), independent of the kernels."""
    return reference.words(seed, first_word, count)


def test_float64_normal_mapping_is_the_documented_one():
    # STREAM.md: x0 = word(2e), x1 = word(2e + 1); sign = x1 >> 31;
    # m = ((x1 & 0x7fffffff) << 21) | (x0 >> 11); u = (2m + 1) 2^-54;
    # v = fma(+-ndtri_lower64(u), std, mean). With std = 1, mean = 0 the fma is exact, so
    # v must equal +-_C.ndtri_lower64(u) exactly, element by element.
    seed = 42
    for off in (0, 5, 2**62 - 3, 2**64 - 3):
        n = 40
        got = fill("normal", np.empty(n, np.float64), (0.0, 1.0), seed, off)
        w = _words(seed, (2 * off) % 2**64, 2 * n).astype(np.uint64)
        x0, x1 = w[0::2], w[1::2]
        m = ((x1 & np.uint64(0x7FFFFFFF)) << np.uint64(21)) | (x0 >> np.uint64(11))
        u = (2 * m + 1).astype(np.float64) * 2.0**-54
        z = np.asarray(_C.ndtri_lower64(u))
        want = np.where((x1 >> np.uint64(31)) != 0, -z, z)
        assert_bits_equal(got, want, f"offset {off}")
    # mean/std enter through one fma: check with exact float arithmetic on a few
    got = fill("normal", np.empty(8, np.float64), (0.25, 3.0), seed, 0)
    w = _words(seed, 0, 16).astype(np.uint64)
    x0, x1 = w[0::2], w[1::2]
    m = ((x1 & np.uint64(0x7FFFFFFF)) << np.uint64(21)) | (x0 >> np.uint64(11))
    z = np.asarray(_C.ndtri_lower64((2 * m + 1).astype(np.float64) * 2.0**-54))
    z = np.where((x1 >> np.uint64(31)) != 0, -z, z)
    for i in range(8):
        exact = Fraction(float(z[i])) * 3 + Fraction(0.25)
        assert got[i] == float(exact)  # one rounding of the exact product-sum


def test_float32_normal_mapping_is_the_documented_one():
    seed = 0x0123456789ABCDEF
    for off in (0, 3, 2**64 - 2):
        n = 64
        got = fill("normal", np.empty(n, np.float32), (0.0, 1.0), seed, off)
        x = _words(seed, off, n)
        m = (x >> np.uint32(8)) & np.uint32(0x7FFFFF)
        u = ((2 * m.astype(np.uint64) + 1).astype(np.float64) * 2.0**-25).astype(np.float32)
        z = np.asarray(_C.ndtri_lower32(u), dtype=np.float32)
        want = np.where((x >> np.uint32(31)) != 0, -z, z).astype(np.float32)
        assert_bits_equal(got, want, f"offset {off}")


def test_float64_trunc_mapping_is_the_documented_one():
    seed, mean, std, a, b = 5, 0.0, 1.0, 2.0, 3.0  # mirrored: sampled on [-3, -2]
    prm = _C.trunc_normal_params(1, mean, std, a, b)
    assert prm["flip"] == -1.0
    assert prm["plo"] == _C.ndtr64(-3.0) and prm["span"] == _C.ndtr64(-2.0) - _C.ndtr64(-3.0)
    n = 50
    got = fill("trunc", np.empty(n, np.float64), (mean, std, a, b), seed, 7)
    w = _words(seed, 14, 2 * n).astype(np.uint64)
    full = (w[1::2] << np.uint64(32)) | w[0::2]
    U = (2 * (full >> np.uint64(12)) + 1).astype(np.float64) * 2.0**-53
    for i in range(n):
        u = float(Fraction(float(U[i])) * Fraction(prm["span"]) + Fraction(prm["plo"]))
        z = _C.ndtri_lower64(u) if u <= 0.5 else -_C.ndtri_lower64(1.0 - u)
        v = min(max(-z, a), b)  # flip = -1, std = 1, mean = 0: the fma is exact
        assert got[i] == v, (i, got[i], v)
    assert got.min() >= 2.0 and got.max() <= 3.0


# ---------------------------------------------------------------------------------------
# Distribution sanity (fixed seeds)


def test_normal_moments_and_ks():
    import scipy.stats as stats
    n = 2_000_000
    for dtype in ("float32", "float64"):
        v = fill("normal", np.empty(n, dtype), (1.5, 2.0), 2024, 0).astype(np.float64)
        z = (v - 1.5) / 2.0
        assert abs(z.mean()) < 5.5 / math.sqrt(n)
        assert abs(z.var() - 1) < 5.5 * math.sqrt(2 / n)
        assert stats.kstest(z[:200_000], "norm").pvalue > 1e-6
        # the far tails are populated as a normal's are
        assert abs((np.abs(z) > 4).sum() - n * 2 * scipy_special.ndtr(-4)) < 6 * math.sqrt(n * 2 * scipy_special.ndtr(-4))


@pytest.mark.parametrize("params", [(0.0, 1.0, 2.0, 3.0), (0.0, 0.1, -2.0, 2.0), (0.0, 1.0, 5.0, 6.0),
                                    (1.0, 2.0, -3.0, 0.5), (0.0, 1.0, -2.0, 2.0)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_trunc_normal_support_and_ks(dtype, params):
    import scipy.stats as stats
    mean, std, a, b = params
    n = 300_000
    v = fill("trunc", np.empty(n, dtype), params, 77, 0).astype(np.float64)
    lo, hi = np.asarray(a, dtype).item(), np.asarray(b, dtype).item()
    assert v.min() >= lo and v.max() <= hi
    dist = stats.truncnorm((a - mean) / std, (b - mean) / std, loc=mean, scale=std)
    assert stats.kstest(v, dist.cdf).pvalue > 1e-6
    # the endpoints collect no mass beyond their probability (they are hit only by
    # rounding at the ends of the interval)
    assert (v == lo).sum() + (v == hi).sum() <= 5


def test_degenerate_parameters_do_not_crash():
    for params in [(0.0, 0.0, -1.0, 1.0), (0.0, float("nan"), -1.0, 1.0), (1e308, 1e308, -1e308, 1e308),
                   (0.0, 1.0, 30.0, 40.0), (0.0, 1.0, -40.0, -30.0), (0.0, 1.0, 1.0, 1.0)]:
        for dtype in DTYPES:
            a = np.empty(1000, np_dtype(dtype))
            fill("trunc", a, params, 1, 0, code=CODE[dtype])
            fill("normal", a, params[:2], 1, 0, code=CODE[dtype])
    z = fill("normal", np.empty(100, np.float32), (3.0, 0.0), 1, 0)
    assert np.all(z == 3.0)
