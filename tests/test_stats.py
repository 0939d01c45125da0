"""Statistical tests of fastinit's uniform fills.

Everything here is deterministic: every fill uses a FIXED seed, and every
statistical threshold sits at about p = 1e-6 (|z| < 6 for the normal
approximations, p > 1e-6 for KS and chi-square).  A correct implementation
fails one of these tests with probability ~1e-6 per fixed seed, i.e. never in
practice; an incorrect one (wrong scaling, biased rounding, hi returned,
correlated words, ...) fails deterministically.

Standard errors of the sample moments (delta method / influence functions).
With d = x - mu and central moments mu_k = E[d^k] of the distribution that the
fill should follow, the influence functions of the sample statistics are

    mean:       IF = d
    m2:         IF = d^2 - mu2
    m3:         IF = d^3 - mu3 - 3 mu2 d
    m4:         IF = d^4 - mu4 - 4 mu3 d
    skewness    g1 = m3 / m2^1.5:    IF = IF_m3 / mu2^1.5 - 1.5 mu3 IF_m2 / mu2^2.5
    ex.kurtosis g2 = m4 / m2^2 - 3:  IF = IF_m4 / mu2^2   - 2 mu4 IF_m2 / mu2^3

and Var(statistic) ~ E[IF^2] / n.  E[IF^2] is a polynomial in d, so it is a
combination of mu_0 .. mu_8; we evaluate it exactly from the mu_k.

For the continuous U(lo, hi) with half-width h: mu_k = h^k / (k + 1) for even
k and 0 for odd k (so, standardised: Var(mean) = mu2/n, Var(m2) = (4/45) h^4/n,
Var(g1) = (216/105)/n, Var(g2) ~ 1.317/n).  float32/float64 fills are U(lo, hi)
up to a 2^-24 relative discretisation, far below these standard errors.

float16/bfloat16 fills are discrete: each representable value r gets the
probability of the interval of reals that round to r (intersected with
[lo, hi)), and the mass that rounds to hi is moved to lo (docs/STREAM.md section 3).
For these dtypes we compute that exact pmf (from every bit pattern of the
type), test the observed frequencies with a chi-square, and test the moments
against the pmf's own moments (the hi -> lo move shifts the mean by ~1e-3 of
the range for bfloat16, far more than 6 SE at 1e7 samples, so the continuous
moments would be the wrong target).
"""

import math

import numpy as np
import pytest
import scipy.stats
import torch

import fastinit
from helpers import NP_DTYPES, TORCH_DTYPES, all_finite_values, storage_round

ALL = list(TORCH_DTYPES)
Z = 6.0  # |z| threshold, two-sided p ~ 2e-9 .. 1e-6 over the tests below
P_MIN = 1e-6


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def fill(kind, dt, n, lo, hi, seed, offset=0):
    """Fill a fresh 1-D container of n elements; return it as float64 numpy."""
    if kind == "torch":
        t = torch.empty(n, dtype=TORCH_DTYPES[dt])
        r = fastinit.uniform_(t, lo, hi, seed=seed, offset=offset)
        assert r is t
        return t.to(torch.float64).numpy()
    a = np.empty(n, dtype=NP_DTYPES[dt])
    r = fastinit.uniform_(a, lo, hi, seed=seed, offset=offset)
    assert r is a
    return a.astype(np.float64)


def storage_pmf(dt, lo, hi):
    """Exact pmf of fill values for a 16-bit type, range [lo, hi).

    The real value v is uniform on [lo32, lo32 + (hi32 - lo32)); it is rounded
    to nearest (ties have measure zero); the value equal to hi (rounded) is
    replaced by lo (rounded)."""
    lo32 = float(np.float32(lo))
    w32 = float(np.float32(np.float32(hi) - np.float32(lo)))
    hi_real = lo32 + w32
    vals = all_finite_values(dt)
    mids = (vals[:-1] + vals[1:]) / 2
    left = np.concatenate([[-np.inf], mids])
    right = np.concatenate([mids, [np.inf]])
    mass = np.clip(np.minimum(right, hi_real) - np.maximum(left, lo32), 0, None) / w32
    lo_s, hi_s = storage_round(lo, dt), storage_round(hi, dt)
    i_hi = np.searchsorted(vals, hi_s)
    i_lo = np.searchsorted(vals, lo_s)
    assert vals[i_lo] == lo_s
    if i_hi < len(vals) and vals[i_hi] == hi_s:
        mass[i_lo] += mass[i_hi]
        mass[i_hi] = 0.0
    keep = mass > 0
    return vals[keep], mass[keep] / mass[keep].sum()


def uniform_central_moment(k, lo, hi):
    h = (hi - lo) / 2
    return 0.0 if k % 2 else h**k / (k + 1)


def _poly_mul(p, q):
    r = {}
    for i, a in p.items():
        for j, b in q.items():
            r[i + j] = r.get(i + j, 0.0) + a * b
    return r


def _poly_expect(p, mu):
    return sum(c * mu(k) for k, c in p.items())


def moment_z_scores(x, mean, mu):
    """z-scores of the sample mean, variance, skewness and excess kurtosis of
    x against a distribution with the given mean and central moments mu(k)
    (mu(0) = 1, mu(1) = 0).  See the module docstring."""
    n = x.size
    m = x.mean()
    d = x - m
    d2 = d * d
    m2 = d2.mean()
    m3 = (d2 * d).mean()
    m4 = (d2 * d2).mean()
    g1 = m3 / m2**1.5
    g2 = m4 / m2**2 - 3.0
    mu2, mu3, mu4 = mu(2), mu(3), mu(4)
    if_m2 = {2: 1.0, 0: -mu2}
    if_m3 = {3: 1.0, 0: -mu3, 1: -3 * mu2}
    if_m4 = {4: 1.0, 0: -mu4, 1: -4 * mu3}

    def lin(*terms):
        r = {}
        for coef, p in terms:
            for k, c in p.items():
                r[k] = r.get(k, 0.0) + coef * c
        return r

    if_g1 = lin((mu2**-1.5, if_m3), (-1.5 * mu3 * mu2**-2.5, if_m2))
    if_g2 = lin((mu2**-2, if_m4), (-2 * mu4 * mu2**-3, if_m2))

    def se(p):
        return math.sqrt(_poly_expect(_poly_mul(p, p), mu) / n)

    return {
        "mean": (m - mean) / math.sqrt(mu2 / n),
        "var": (m2 - mu2) / se(if_m2),
        "skew": (g1 - mu3 / mu2**1.5) / se(if_g1),
        "kurt": (g2 - (mu4 / mu2**2 - 3.0)) / se(if_g2),
    }


def pmf_moments(vals, p):
    mean = float(np.dot(vals, p))
    d = vals - mean
    cache = {k: float(np.dot(d**k, p)) for k in range(9)}
    cache[1] = 0.0
    return mean, cache.__getitem__


def check_bounds(x, dt, lo, hi, what=""):
    lo_s, hi_s = storage_round(lo, dt), storage_round(hi, dt)
    assert np.all(np.isfinite(x)), what
    assert x.min() >= lo_s, (what, x.min(), lo_s)
    assert x.max() < hi_s, (what, x.max(), hi_s)
    assert not np.any(x == hi_s), what


def tight_range(dt):
    """[1, 1 + 4 ulp) of the dtype: with u close to 1 the computed value
    rounds to hi itself, so the hi -> lo replacement is exercised often."""
    if dt == "float64":
        return 1.0, 1.0 + 4 * 2.0**-52
    # for the 16-bit types the float32 4-ulp range collapses to [1, 1) after
    # rounding; use 4 ulps of the storage type instead
    ulp = {"float32": 2.0**-23, "float16": 2.0**-10, "bfloat16": 2.0**-7}[dt]
    return 1.0, 1.0 + 4 * ulp


# --------------------------------------------------------------------------
# bounds
# --------------------------------------------------------------------------

RANGES = [(0.0, 1.0), (-1.0, 1.0), (-3.0, 5.0), (-0.036084391824351615, 0.036084391824351615)]


@pytest.mark.parametrize("kind", ["torch", "numpy"])
@pytest.mark.parametrize("dt", ALL)
def test_bounds_every_dtype(kind, dt):
    n = 400_000
    for i, (lo, hi) in enumerate(RANGES + [tight_range(dt)]):
        x = fill(kind, dt, n, lo, hi, seed=1000 + i)
        check_bounds(x, dt, lo, hi, what=(kind, dt, lo, hi))
        lo_s = storage_round(lo, dt)
        # lo is reachable (it is the smallest value, and it also receives the
        # hi -> lo mass); it must show up in the tight range at least
        if (lo, hi) == tight_range(dt):
            assert np.any(x == lo_s)
            # every representable value of the tight range occurs
            assert len(np.unique(x)) == 4, np.unique(x)


@pytest.mark.parametrize("dt", ["float16", "bfloat16"])
def test_hi_rounding_mass_moves_to_lo(dt):
    """[0, 1): reals in [1 - ulp/2, 1) round to 1.0 == hi in float16/bfloat16
    (probability 2^-12 resp. 2^-9); they must come back as lo = 0, never as 1."""
    n = 1_000_000
    x = fill("torch", dt, n, 0.0, 1.0, seed=77)
    assert not np.any(x == 1.0)
    vals, p = storage_pmf(dt, 0.0, 1.0)
    p0 = p[vals == 0.0][0]
    # without the replacement value 0 would get only its own tiny rounding
    # interval; with it, it gets ~2^-12 (f16) / 2^-9 (bf16)
    expected = n * p0
    got = np.count_nonzero(x == 0.0)
    assert abs(got - expected) < Z * math.sqrt(expected), (got, expected)


# --------------------------------------------------------------------------
# moments at 1e7 samples
# --------------------------------------------------------------------------

N_BIG = 10_000_000


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_moments_continuous(dt):
    lo, hi = -0.75, 1.25
    x = fill("torch", dt, N_BIG, lo, hi, seed=20240601)
    check_bounds(x, dt, lo, hi)
    z = moment_z_scores(x, (lo + hi) / 2, lambda k: uniform_central_moment(k, lo, hi))
    for name, v in z.items():
        assert abs(v) < Z, (dt, name, v, z)


@pytest.mark.parametrize("dt", ["float16", "bfloat16"])
def test_moments_discrete(dt):
    lo, hi = -1.0, 1.0
    x = fill("numpy" if dt == "bfloat16" else "torch", dt, N_BIG, lo, hi, seed=31337)
    check_bounds(x, dt, lo, hi)
    vals, p = storage_pmf(dt, lo, hi)
    mean, mu = pmf_moments(vals, p)
    z = moment_z_scores(x, mean, mu)
    for name, v in z.items():
        assert abs(v) < Z, (dt, name, v, z)


# --------------------------------------------------------------------------
# distribution tests
# --------------------------------------------------------------------------


@pytest.mark.parametrize("dt", ["float32", "float64"])
@pytest.mark.parametrize("lo,hi,seed", [(0.0, 1.0, 5), (-0.036084391824351615, 0.036084391824351615, 6), (-3.0, 5.0, 7)])
def test_ks(dt, lo, hi, seed):
    x = fill("torch", dt, 1_000_000, lo, hi, seed=seed)
    res = scipy.stats.kstest(x, "uniform", args=(lo, hi - lo))
    assert res.pvalue > P_MIN, (dt, lo, hi, res)


def _chisquare_against_pmf(x, dt, lo, hi, min_expected=50.0):
    vals, p = storage_pmf(dt, lo, hi)
    n = x.size
    uv, counts = np.unique(x, return_counts=True)  # -0.0 and 0.0 merged
    idx = np.searchsorted(vals, uv)
    ok = (idx < len(vals)) & (vals[np.minimum(idx, len(vals) - 1)] == uv)
    assert ok.all(), f"values outside the support of the {dt} pmf: {uv[~ok][:10]}"
    obs = np.zeros(len(vals))
    obs[idx] = counts
    exp = n * p
    # group consecutive support values into bins with expected >= min_expected
    bins_o, bins_e = [], []
    acc_o = acc_e = 0.0
    for o, e in zip(obs, exp):
        acc_o += o
        acc_e += e
        if acc_e >= min_expected:
            bins_o.append(acc_o)
            bins_e.append(acc_e)
            acc_o = acc_e = 0.0
    if acc_e > 0:
        bins_o[-1] += acc_o
        bins_e[-1] += acc_e
    bins_o, bins_e = np.array(bins_o), np.array(bins_e)
    bins_e *= bins_o.sum() / bins_e.sum()
    assert len(bins_o) > 3
    return scipy.stats.chisquare(bins_o, bins_e)


@pytest.mark.parametrize("kind", ["torch", "numpy"])
@pytest.mark.parametrize("dt", ["float16", "bfloat16"])
def test_chisquare_16bit(kind, dt):
    """KS does not apply to float16/bfloat16 (discrete, many ties); instead the
    frequency of every representable value must match the probability of its
    rounding interval (exact pmf, see storage_pmf)."""
    n = 2_000_000
    for i, (lo, hi) in enumerate([(0.0, 1.0), (-1.0, 1.0), (-3.0, 5.0), (-0.036084391824351615, 0.036084391824351615)]):
        x = fill(kind, dt, n, lo, hi, seed=4242 + i)
        res = _chisquare_against_pmf(x, dt, lo, hi)
        assert res.pvalue > P_MIN, (kind, dt, lo, hi, res)


@pytest.mark.parametrize("dt", ALL)
def test_tight_range_frequencies(dt):
    """In [1, 1 + 4 ulp) each of the 4 representable values has probability
    1/4 (value 1 gets its half interval plus the half interval of hi)."""
    lo, hi = tight_range(dt)
    n = 400_000
    x = fill("torch", dt, n, lo, hi, seed=99)
    uv, counts = np.unique(x, return_counts=True)
    assert len(uv) == 4 and uv[0] == lo, uv
    res = scipy.stats.chisquare(counts, np.full(4, n / 4))
    assert res.pvalue > P_MIN, (dt, counts)


# --------------------------------------------------------------------------
# independence
# --------------------------------------------------------------------------


def _corr(a, b):
    a = a - a.mean()
    b = b - b.mean()
    return float(np.dot(a, b) / math.sqrt(np.dot(a, a) * np.dot(b, b)))


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_serial_correlation(dt):
    n = 2_000_000
    x = fill("torch", dt, n + 8, -1.0, 1.0, seed=2718)
    for lag in (1, 2, 3, 4, 5):
        r = _corr(x[:-lag], x[lag:])
        assert abs(r) < Z / math.sqrt(n), (dt, lag, r)


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_different_seeds_uncorrelated(dt):
    n = 1_000_000
    pairs = [(1, 2), (0, 1 << 32), (5, 5 ^ (1 << 63)), (123456789, 123456790), (2**64 - 1, 2**32 - 1)]
    for s1, s2 in pairs:
        a = fill("torch", dt, n, -1.0, 1.0, seed=s1)
        b = fill("torch", dt, n, -1.0, 1.0, seed=s2)
        assert not np.array_equal(a, b), (s1, s2)
        r = _corr(a, b)
        assert abs(r) < Z / math.sqrt(n), (dt, s1, s2, r)
    # disjoint offsets of one seed are uncorrelated too
    a = fill("torch", dt, n, -1.0, 1.0, seed=9, offset=0)
    b = fill("torch", dt, n, -1.0, 1.0, seed=9, offset=n)
    assert abs(_corr(a, b)) < Z / math.sqrt(n)


@pytest.mark.parametrize("kind", ["torch", "numpy"])
@pytest.mark.parametrize("dt", ALL)
def test_offset_shifts_stream_exactly(kind, dt):
    n = 1000
    lo, hi = -0.5, 2.0
    for base in (0, 2**33 - 7, 2**34 - 7):
        big = fill(kind, dt, n + 1100, lo, hi, seed=17, offset=base)
        for k in (1, 2, 3, 4, 5, 7, 8, 1023, 1024, 1099):
            part = fill(kind, dt, n, lo, hi, seed=17, offset=base + k)
            np.testing.assert_array_equal(part, big[k : k + n], err_msg=f"{kind} {dt} base={base} k={k}")
