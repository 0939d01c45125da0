"""Independent pure-NumPy reference for the fastinit stream (docs/STREAM.md sections 1-3).

Written from the stream contract's text only (not from the C++ sources), so that the tests
compare two independent implementations.

Public API (kept small on purpose; other test files import it):

    M0, M1, W0, W1                       Philox constants
    philox4x32_10(counters, key)         counters: array-like [N, 4] (uint32 values),
                                         key: (k0, k1) -> np.ndarray [N, 4] uint32
    words(seed, start, count)            uint32 array: word(seed, j) for
                                         j = start, start+1, ... (mod 2**64)
    expected(shape, dtype, lo, hi, seed, offset=0, *, apply_upper_rule=True)
                                         the stream's values of a C-order array of that
                                         shape. dtype: np.float32, np.float64,
                                         np.float16, or "bfloat16" (also
                                         ml_dtypes.bfloat16) -> ml_dtypes.bfloat16
                                         array (uint16 bit patterns if ml_dtypes
                                         is missing).
    expected_bits(shape, dtype, lo, hi, seed, offset=0)
                                         same, viewed as unsigned ints of the
                                         same width (for bit-exact comparison)
    round_bound(x, dtype)                x rounded once (RNE) to the storage type
    DTYPE_CODE                           {name: _C dtype code}

Exact emulation of fma
----------------------
float32:  u = m * 2**-24 with m < 2**24, scale = hi32 - lo32 (a float32).
  p = u * scale is a product of two 24-bit significands (<= 48 bits) with an
  exponent in [-173, 128]: exact in float64. s = fl64(p + lo32) and the TwoSum
  error err = (p + lo32) - s are computed exactly in float64 (no overflow for
  finite float32 bounds), so t = s + err is the exact value of u*scale + lo32.
  Correct result: RN32(t). We compute r = RN32(s). Every float32 number and
  every midpoint between two adjacent float32 numbers (subnormals included) is
  a float64 number. The set of reals rounding to a float32 f is an interval
  bounded by such midpoints m1 < m2 (ties decided by even-ness); RN64 is
  monotone, so m1 <= s <= m2. If m1 < s < m2 then RN32(s) = f = RN32(t). If
  err == 0 then s = t. The only remaining case is err != 0 and s exactly on a
  float32 midpoint; then t is strictly on the side of the midpoint given by
  the sign of err, and RN32(t) is the float32 neighbour on that side. We detect
  that case and fix it, so the result equals the single-rounding fma.
float64:  u = m * 2**-53 with m < 2**53; done with exact Python integers:
  t = N * 2**E exactly (N integer); N is cut to 64 bits plus a sticky bit
  (which cannot change a rounding to 53 bits), float() of that is correctly
  rounded (Python int to float is round-half-even) and ldexp is exact while
  the result is a
  normal float64; tiny results (below 2**-1020) go through fractions.Fraction,
  whose float() is correctly rounded.
float16 / bfloat16: v (float32, as above) rounded RNE to the storage type;
  float16 via NumPy's float32 -> float16 cast (RNE), bfloat16 via integer bit
  arithmetic on the float32 pattern (RNE).
Upper-bound rule: where the storage value == RN_storage(hi) (numerically),
  store RN_storage(lo). RN_storage of the bounds is taken directly from the
  given Python float (one rounding from float64), as docs/STREAM.md words it.
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

try:  # pragma: no cover - ml_dtypes is installed in the test environment
    import ml_dtypes

    BF16 = np.dtype(ml_dtypes.bfloat16)
except ImportError:  # pragma: no cover
    ml_dtypes = None
    BF16 = None

M0 = 0xD2511F53
M1 = 0xCD9E8D57
W0 = 0x9E3779B9
W1 = 0xBB67AE85
_MASK32 = np.uint64(0xFFFFFFFF)
_U32 = np.uint64(32)

DTYPE_CODE = {"float32": 0, "float64": 1, "float16": 2, "bfloat16": 3}


# ----------------------------------------------------------------------------
# Philox4x32-10
# ----------------------------------------------------------------------------
def philox4x32_10(counters, key) -> np.ndarray:
    """Philox4x32-10 of each row of `counters` ([N, 4] or [4]) under key (k0, k1)."""
    c = np.asarray(counters, dtype=np.uint64)
    single = c.ndim == 1
    c = c.reshape(-1, 4) & _MASK32
    c0, c1, c2, c3 = (c[:, i].copy() for i in range(4))
    k0 = int(key[0]) & 0xFFFFFFFF
    k1 = int(key[1]) & 0xFFFFFFFF
    m0 = np.uint64(M0)
    m1 = np.uint64(M1)
    for r in range(10):
        if r:
            k0 = (k0 + W0) & 0xFFFFFFFF
            k1 = (k1 + W1) & 0xFFFFFFFF
        p0 = c0 * m0  # < 2**64: exact in uint64
        p1 = c2 * m1
        hi0, lo0 = p0 >> _U32, p0 & _MASK32
        hi1, lo1 = p1 >> _U32, p1 & _MASK32
        c0, c1, c2, c3 = (
            hi1 ^ c1 ^ np.uint64(k0),
            lo1,
            hi0 ^ c3 ^ np.uint64(k1),
            lo0,
        )
    out = np.stack([c0, c1, c2, c3], axis=1).astype(np.uint32)
    return out[0] if single else out


def words(seed: int, start: int, count: int) -> np.ndarray:
    """word(seed, j) for j = start .. start+count-1, word indices taken mod 2**64."""
    seed = int(seed)
    if not 0 <= seed < 2**64:
        raise ValueError("seed must be in [0, 2**64)")
    count = int(count)
    if count == 0:
        return np.zeros(0, dtype=np.uint32)
    start = int(start) % 2**64
    b0 = start >> 2
    first = start & 3
    nb = (first + count + 3) // 4
    # 2**64 is a multiple of 4, so wrapping word indices mod 2**64 wraps the
    # block index b = j >> 2 mod 2**62.
    blocks = (np.uint64(b0) + np.arange(nb, dtype=np.uint64)) & np.uint64(2**62 - 1)
    ctr = np.zeros((nb, 4), dtype=np.uint64)
    ctr[:, 0] = blocks & _MASK32
    ctr[:, 1] = blocks >> _U32
    out = philox4x32_10(ctr, (seed & 0xFFFFFFFF, seed >> 32)).reshape(-1)
    return out[first:first + count]


# ----------------------------------------------------------------------------
# rounding helpers
# ----------------------------------------------------------------------------
def _f32_bits_to_bf16_bits(bits32: np.ndarray) -> np.ndarray:
    """RNE float32 -> bfloat16 on bit patterns (finite inputs)."""
    b = bits32.astype(np.uint64)
    lsb = (b >> np.uint64(16)) & np.uint64(1)
    return ((b + np.uint64(0x7FFF) + lsb) >> np.uint64(16)).astype(np.uint16)


def _round_scalar(x: float, mant: int, emin: int) -> Fraction:
    """Correctly rounded (RNE) value of the float64 `x` in a binary format with
    `mant` significand bits (incl. hidden) and minimum normal exponent `emin`
    (no overflow handling: finite, in-range bounds only)."""
    q = Fraction(x)
    if q == 0:
        return q
    sign = -1 if q < 0 else 1
    a = abs(q)
    e = math.floor(math.log2(a))
    # fix floor(log2) for exact powers / float error
    while Fraction(2) ** e > a:
        e -= 1
    while Fraction(2) ** (e + 1) <= a:
        e += 1
    e = max(e, emin)
    ulp = Fraction(2) ** (e - mant + 1)
    n = a / ulp
    fl = math.floor(n)
    rem = n - fl
    if rem > Fraction(1, 2) or (rem == Fraction(1, 2) and fl % 2 == 1):
        fl += 1
    return sign * fl * ulp


def _bound_in_storage(x: float, name: str) -> float:
    """The bound `x` (a Python float) rounded once to the storage type, as float. A
    result of zero keeps the sign of `x` (RNE of a tiny negative is -0; Fraction has
    no -0, so the sign is put back here)."""
    if name == "float64":
        return float(x)
    fmt = {"float32": (24, -126), "float16": (11, -14), "bfloat16": (8, -126)}
    if name not in fmt:
        raise ValueError(name)
    return math.copysign(float(_round_scalar(x, *fmt[name])), x)


def _dtype_name(dtype) -> str:
    if isinstance(dtype, str):
        if dtype in ("bfloat16", "bf16"):
            return "bfloat16"
        dtype = np.dtype(dtype)
    dt = np.dtype(dtype)
    if BF16 is not None and dt == BF16:
        return "bfloat16"
    if dt == np.float32:
        return "float32"
    if dt == np.float64:
        return "float64"
    if dt == np.float16:
        return "float16"
    raise ValueError(f"unsupported dtype {dtype!r}")


# ----------------------------------------------------------------------------
# value computation
# ----------------------------------------------------------------------------
def _fma32(m: np.ndarray, lo32: np.float32, hi32: np.float32) -> np.ndarray:
    """RN32(m * 2**-24 * (hi32 - lo32) + lo32), single rounding. m: uint32 < 2**24."""
    scale = np.float32(hi32 - lo32)  # float32 subtraction (one rounding)
    u = m.astype(np.float32) * np.float32(2.0**-24)  # exact
    return fma32(u, scale, np.float32(lo32))


def _fma64(m: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """RN64(m * 2**-53 * (hi - lo) + lo), single rounding, exact integer arithmetic."""
    scale = float(hi) - float(lo)  # float64 subtraction (one rounding)
    lo = float(lo)
    sn, sd = scale.as_integer_ratio()  # sd is a power of two
    ln, ld = lo.as_integer_ratio()
    se = -(sd.bit_length() - 1) - 53  # scale*u = m*sn * 2**se
    le = -(ld.bit_length() - 1)  # lo = ln * 2**le
    e = min(se, le)
    a_shift = se - e
    lterm = ln << (le - e)
    out = np.empty(m.shape[0], dtype=np.float64)
    ldexp = math.ldexp
    vals = []
    for mi in m.tolist():
        n = ((mi * sn) << a_shift) + lterm
        a = n if n >= 0 else -n
        k = a.bit_length() - 64
        if k > 0:
            # keep 64 bits plus a sticky bit: rounding to 53 bits is unchanged
            a = (a >> k) | (1 if a & ((1 << k) - 1) else 0)
        else:
            k = 0
        f = float(a if n >= 0 else -a)  # correctly rounded int -> float
        v = ldexp(f, e + k)  # exact unless tiny
        if v != 0 and abs(v) < 2.0**-1020:
            v = float(Fraction(n) * Fraction(2) ** e)
        elif n == 0:
            v = 0.0
        vals.append(v)
    out[:] = vals
    return out


def _flat_values(n: int, name: str, lo: float, hi: float, seed: int, offset: int,
                 rule: bool = True) -> np.ndarray:
    """Flat expected values (storage dtype; bfloat16 as uint16 bits)."""
    offset = int(offset) % 2**64
    lo = float(lo)
    hi = float(hi)
    if name == "float64":
        w = words(seed, (2 * offset) % 2**64, 2 * n).astype(np.uint64)
        x0 = w[0::2]
        x1 = w[1::2]
        m = ((x1 << _U32) | x0) >> np.uint64(11)
        v = _fma64(m, lo, hi)
        hi_s = _bound_in_storage(hi, name)
        lo_s = _bound_in_storage(lo, name)
        if rule:
            v[v == hi_s] = lo_s
        return v
    x = words(seed, offset, n)
    mnt = x >> np.uint32(8)
    lo32 = np.float32(_bound_in_storage(lo, "float32"))
    hi32 = np.float32(_bound_in_storage(hi, "float32"))
    v = _fma32(mnt, lo32, hi32)
    hi_s = _bound_in_storage(hi, name)
    lo_s = _bound_in_storage(lo, name)
    if name == "float32":
        if rule:
            v[v == np.float32(hi_s)] = np.float32(lo_s)
        return v
    if name == "float16":
        h = v.astype(np.float16)  # RNE
        if rule:
            h[h == np.float16(hi_s)] = np.float16(lo_s)
        return h
    if name == "bfloat16":
        bits = _f32_bits_to_bf16_bits(v.view(np.uint32))
        # numeric value of a bf16 pattern = float32 with the pattern in the top half
        val = (bits.astype(np.uint32) << np.uint32(16)).view(np.float32)
        lo_bits = np.uint16(np.array([np.float32(lo_s)]).view(np.uint32)[0] >> 16)
        if rule:
            bits[val == np.float32(hi_s)] = lo_bits
        return bits
    raise ValueError(name)


def expected(shape, dtype, lo, hi, seed, offset=0, *, apply_upper_rule=True) -> np.ndarray:
    """The stream's values for a C-order array of `shape` filled with (lo, hi, seed, offset).

    apply_upper_rule=False skips the "hi is never returned" replacement (only
    useful to show that a test case really triggers the rule)."""
    shape = tuple(int(s) for s in (shape if isinstance(shape, (tuple, list)) else (shape,)))
    name = _dtype_name(dtype)
    n = int(np.prod(shape, dtype=np.int64)) if shape else 1
    flat = _flat_values(n, name, lo, hi, seed, offset, apply_upper_rule)
    if name == "bfloat16" and BF16 is not None:
        flat = flat.view(BF16)
    return flat.reshape(shape)


def round_bound(x: float, dtype) -> float:
    """The bound `x` rounded once (RNE) to the storage dtype, as a Python float."""
    return _bound_in_storage(float(x), _dtype_name(dtype))


def expected_bits(shape, dtype, lo, hi, seed, offset=0, **kw) -> np.ndarray:
    """expected(...) viewed as unsigned integers of the storage width."""
    e = expected(shape, dtype, lo, hi, seed, offset, **kw)
    return e.view({2: np.uint16, 4: np.uint32, 8: np.uint64}[e.dtype.itemsize])


# ============================================================================
# Normal and truncated-normal streams (docs/STREAM.md), pure NumPy
# ============================================================================
#
# Written from docs/STREAM.md (with the precise operation sequences that its section
# "Exact operation sequences" adds), never from csrc/normal.h, and importing nothing from
# fastinit. Every float32 / float64 step is one IEEE 754 operation with round to nearest
# even: NumPy's float32 and float64 + - * / sqrt on arrays are exactly that, and fma is
# emulated exactly:
#
#   fma32(a, b, c): a*b of two float32 is exact in float64 (48-bit product, no under- or
#     overflow for float32 inputs); the float32 rounding of a*b + c is then the
#     midpoint-corrected rounding of the TwoSum (s, err) explained at the top of this file.
#   fma64(a, b, c): Boldo and Melquiond, "Emulation of FMA and correctly rounded sums:
#     proved algorithms using rounding to odd", IEEE Trans. Computers 57 (2008), Alg. 5.4:
#     (uh, ul) = a*b exactly (Dekker/Veltkamp), (th, tl) = c + uh exactly (TwoSum),
#     v = RO(tl + ul) (round to odd, from RN and the TwoSum error), result RN(th + v).
#     Exact for precision >= 5 without under/overflow of the partial products (the
#     arguments here stay far from both); tests/test_normal_reference.py checks both
#     emulations against exact rational arithmetic.
#   Host-side scalars (ndtr64, exp64) use Python floats (IEEE float64) and an fma from
#   fractions.Fraction (float() of a Fraction is correctly rounded).

_F32 = np.float32
_F64 = np.float64


def _dec32(s: str) -> np.float32:
    """The float32 nearest (RNE) to the decimal literal s, rounded once from the exact
    decimal as a C++ `...f` literal is (not via float64)."""
    q = Fraction(s)
    lo = np.float32(float(q))  # within one float32 ulp of the answer
    cands = [np.nextafter(lo, _F32(-np.inf)), lo, np.nextafter(lo, _F32(np.inf))]
    best = min(cands, key=lambda c: (abs(Fraction(float(c)) - q),
                                     int(np.array(c, dtype=_F32).view(np.uint32)) & 1))
    return _F32(best)


def _two_sum(a, b):
    s = a + b
    bb = s - a
    err = (a - (s - bb)) + (b - bb)
    return s, err


def fma32(a, b, c) -> np.ndarray:
    """Single-rounding float32 a*b + c, elementwise (exact emulation, see above)."""
    a, b, c = np.broadcast_arrays(np.asarray(a, _F32), np.asarray(b, _F32), np.asarray(c, _F32))
    p = a.astype(_F64) * b.astype(_F64)  # exact
    s, err = _two_sum(p, c.astype(_F64))  # p + c == s + err exactly
    with np.errstate(over="ignore", invalid="ignore"):
        r = s.astype(_F32)
    bad = (err != 0) & np.isfinite(s)
    if np.any(bad):
        idx = np.nonzero(bad)
        si, ri, ei = s[idx], r[idx], err[idx]
        d = si - ri.astype(_F64)  # exact: ri is within half a float32 ulp of si
        nb = np.nextafter(ri, np.where(d > 0, _F32(np.inf), _F32(-np.inf)))
        mid = (d != 0) & (ri.astype(_F64) + nb.astype(_F64) == 2.0 * si)
        go = mid & (np.sign(ei) == np.sign(d))  # t lies beyond the midpoint, toward nb
        ri = np.where(go, nb, ri)
        r[idx] = ri
    return r


_SPLIT = 134217729.0  # 2^27 + 1: Veltkamp's splitter for float64


def _two_prod(a, b):
    p = a * b
    ca = _SPLIT * a
    ah = ca - (ca - a)
    al = a - ah
    cb = _SPLIT * b
    bh = cb - (cb - b)
    bl = b - bh
    err = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    return p, err


def _round_odd_sum(x, y):
    """RO(x + y): round to odd, from the RN sum and its exact error."""
    s, e = _two_sum(x, y)
    even = (s.view(np.uint64) & np.uint64(1)) == 0
    fix = (e != 0) & even
    if np.any(fix):
        s = s.copy()
        s[fix] = np.nextafter(s[fix], np.where(e[fix] > 0, np.inf, -np.inf))
    return s


def fma64(a, b, c) -> np.ndarray:
    """Single-rounding float64 a*b + c, elementwise (Boldo-Melquiond, see above)."""
    a, b, c = np.broadcast_arrays(np.asarray(a, _F64), np.asarray(b, _F64), np.asarray(c, _F64))
    a = np.ascontiguousarray(a)
    b = np.ascontiguousarray(b)
    c = np.ascontiguousarray(c)
    uh, ul = _two_prod(a, b)
    th, tl = _two_sum(c, uh)
    v = _round_odd_sum(tl, ul)
    out = th + v
    # a zero factor or non-finite values: the product is exact, so plain arithmetic is the
    # single rounding, signed zeros included (fma(-x, 0.0, -0.0) is -0.0)
    plain = ~np.isfinite(uh) | ~np.isfinite(c) | (a == 0) | (b == 0)
    if np.any(plain):
        with np.errstate(invalid="ignore"):
            out[plain] = a[plain] * b[plain] + c[plain]
    # a product near the subnormal range: two_prod's error term underflows, so the
    # round-to-odd sum is not exact there (a negative product that rounds to zero would
    # come out +0.0); the rational scalar fma is
    for i in np.flatnonzero(~plain & (np.abs(uh) < 2.0**-969)):
        out.flat[i] = fma_scalar64(a.flat[i], b.flat[i], c.flat[i])
    return out


def fma_scalar64(a: float, b: float, c: float) -> float:
    """Single-rounding float64 fma of Python floats (host-side scalar steps)."""
    a, b, c = float(a), float(b), float(c)
    if not all(math.isfinite(v) for v in (a, b, c)):
        return a * b + c
    r = Fraction(a) * Fraction(b) + Fraction(c)
    if r == 0:
        return a * b + c  # the sign of an exact zero: IEEE (+0 unless both terms are -0)
    return float(r)


class _Lane:
    """One float width's constants and operations for the shared formulas below."""

    def __init__(self, dt):
        self.dt = np.dtype(dt)
        self.fma = fma32 if self.dt == _F32 else fma64

    def c(self, s):
        """A literal: a decimal string rounded once to this width (C++ `...f` / `...`)."""
        if self.dt == _F32:
            return _dec32(s) if isinstance(s, str) else _F32(s)
        return _F64(float(Fraction(s))) if isinstance(s, str) else _F64(s)

    def arr(self, x):
        return np.asarray(x, dtype=self.dt)


L32 = _Lane(_F32)
L64 = _Lane(_F64)


def _sel(m, a, b):
    return np.where(m, a, b)


def _max_v(a, b):  # a > b ? a : b (x86 maxps)
    return np.where(a > b, a, b)


def _min_v(a, b):  # a < b ? a : b
    return np.where(a < b, a, b)


# ---- logarithms (docs/STREAM.md: log32, log64) -----------------------------------------

_LOG32_P = ("7.0376836292e-2", "-1.1514610310e-1", "1.1676998740e-1", "-1.2420140846e-1",
            "1.4249322787e-1", "-1.6668057665e-1", "2.0000714765e-1", "-2.4999993993e-1",
            "3.3333331174e-1")


def _split_exp32(x):
    ix = x.view(np.uint32) + np.uint32(0x3F800000 - 0x3F3504F3)
    k = ((ix >> np.uint32(23)).astype(np.int64) - 0x7F).astype(_F32)
    m = ((ix & np.uint32(0x007FFFFF)) + np.uint32(0x3F3504F3)).view(_F32)
    return k, m


def _split_exp64(x):
    ix = x.view(np.uint64) + np.uint64(0x3FF0000000000000 - 0x3FE6A09E667F3BCD)
    k = ((ix >> np.uint64(52)).astype(np.int64) - 0x3FF).astype(_F64)
    m = ((ix & np.uint64(0x000FFFFFFFFFFFFF)) + np.uint64(0x3FE6A09E667F3BCD)).view(_F64)
    return k, m


def log32(x) -> np.ndarray:
    """docs/STREAM.md log32: natural log for finite float32 x > 0."""
    L = L32
    x = np.array(x, dtype=_F32, copy=True).reshape(-1)
    sub = x < _F32(2.0**-126)
    with np.errstate(over="ignore", invalid="ignore"):
        x = _sel(sub, x * _F32(2.0**25), x).astype(_F32)
    k, m = _split_exp32(x)
    k = _sel(sub, k - _F32(25.0), k).astype(_F32)
    f = m - _F32(1.0)
    z = f * f
    y = np.full_like(f, L.c(_LOG32_P[0]))
    for cf in _LOG32_P[1:]:
        y = fma32(y, f, L.c(cf))
    y = f * (z * y)
    y = fma32(k, L.c("-2.12194440e-4"), y)
    y = fma32(_F32(-0.5), z, y)
    r = f + y
    return fma32(k, L.c("0.693359375"), r)


_LG = ("6.666666666666735130e-01", "3.999999999940941908e-01", "2.857142874366239149e-01",
       "2.222219843214978396e-01", "1.818357216161805012e-01", "1.531383769920937332e-01",
       "1.479819860511658591e-01")  # Lg1 .. Lg7 (fdlibm e_log.c)


def log64(x) -> np.ndarray:
    """docs/STREAM.md log64: natural log for finite float64 x > 0."""
    L = L64
    x = np.array(x, dtype=_F64, copy=True).reshape(-1)
    sub = x < 2.0**-1022
    with np.errstate(over="ignore", invalid="ignore"):
        x = _sel(sub, x * 2.0**54, x)
    k, m = _split_exp64(x)
    k = _sel(sub, k - 54.0, k)
    f = m - 1.0
    hfsq = (0.5 * f) * f
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    lg = [L.c(c) for c in _LG]
    t1 = w * fma64(w, fma64(w, lg[5], lg[3]), lg[1])
    t2 = z * fma64(w, fma64(w, fma64(w, lg[6], lg[4]), lg[2]), lg[0])
    R = t2 + t1
    lo = fma64(s, hfsq + R, k * L.c("1.90821492927058770002e-10"))
    return k * L.c("6.93147180369123816490e-01") - ((hfsq - lo) - f)


# ---- ndtri_lower (Wichura AS 241: PPND7 float32, PPND16 float64) -------------------------

# Coefficients as printed in AS 241, highest degree first.
PPND7 = {
    "a": ("59.109374720", "159.29113202", "50.434271938", "3.3871327179"),
    "b": ("67.187563600", "78.757757664", "17.895169469", "1.0"),
    "c": ("0.17023821103", "1.3067284816", "2.7568153900", "1.4234372777"),
    "d": ("0.12021132975", "0.73700164250", "1.0"),
    "e": ("0.017337203997", "0.42868294337", "3.0812263860", "6.6579051150"),
    "f": ("0.012258202635", "0.24197894225", "1.0"),
}
PPND16 = {
    "a": ("2.5090809287301226727e+03", "3.3430575583588128105e+04", "6.7265770927008700853e+04",
          "4.5921953931549871457e+04", "1.3731693765509461125e+04", "1.9715909503065514427e+03",
          "1.3314166789178437745e+02", "3.3871328727963666080e+00"),
    "b": ("5.2264952788528545610e+03", "2.8729085735721942674e+04", "3.9307895800092710610e+04",
          "2.1213794301586595867e+04", "5.3941960214247511077e+03", "6.8718700749205790830e+02",
          "4.2313330701600911252e+01", "1.0"),
    "c": ("7.74545014278341407640e-04", "2.27238449892691845833e-02", "2.41780725177450611770e-01",
          "1.27045825245236838258e+00", "3.64784832476320460504e+00", "5.76949722146069140550e+00",
          "4.63033784615654529590e+00", "1.42343711074968357734e+00"),
    "d": ("1.05075007164441684324e-09", "5.47593808499534494600e-04", "1.51986665636164571966e-02",
          "1.48103976427480074590e-01", "6.89767334985100004550e-01", "1.67638483018380384940e+00",
          "2.05319162663775882187e+00", "1.0"),
    "e": ("2.01033439929228813265e-07", "2.71155556874348757815e-05", "1.24266094738807843860e-03",
          "2.65321895265761230930e-02", "2.96560571828504891230e-01", "1.78482653991729133580e+00",
          "5.46378491116411436990e+00", "6.65790464350110377720e+00"),
    "f": ("2.04426310338993978564e-15", "1.42151175831644588870e-07", "1.84631831751005468180e-05",
          "7.86869131145613259100e-04", "1.48753612908506148525e-02", "1.36929880922735805310e-01",
          "5.99832206555887937690e-01", "1.0"),
}


def _horner(L, coeffs, r):
    """fma Horner from the highest coefficient: s = fma(c_n, r, c_{n-1}); s = fma(s, r, c_k)."""
    cs = [L.c(c) for c in coeffs]
    s = L.fma(cs[0], r, cs[1])
    for cf in cs[2:]:
        s = L.fma(s, r, cf)
    return s


def _ndtri_lower(u, L, coef, log_fn, tiny):
    u = np.array(u, dtype=L.dt, copy=True).reshape(-1)
    u = _max_v(u, L.dt.type(tiny))
    half = L.c("0.5")
    central = (u - half) >= L.c("-0.425")
    num = np.empty_like(u)
    den = np.empty_like(u)
    ci = np.nonzero(central)[0]
    if ci.size:
        q = u[ci] - half
        r = L.fma(-q, q, L.c("0.180625"))
        num[ci] = q * _horner(L, coef["a"], r)
        den[ci] = _horner(L, coef["b"], r)
    ti = np.nonzero(~central)[0]
    if ti.size:
        t = np.sqrt(-log_fn(u[ti])).astype(L.dt)
        far = t > L.c("5.0")
        tc = t - L.c("1.6")
        nt = -_horner(L, coef["c"], tc)
        dt = _horner(L, coef["d"], tc)
        fi = np.nonzero(far)[0]
        if fi.size:
            te = t[fi] - L.c("5.0")
            nt[fi] = -_horner(L, coef["e"], te)
            dt[fi] = _horner(L, coef["f"], te)
        num[ti] = nt
        den[ti] = dt
    return num / den


def ndtri_lower32(u) -> np.ndarray:
    """docs/STREAM.md ndtri_lower32 (PPND7 in float32) for float32 u (clamped to >= 2^-149)."""
    return _ndtri_lower(u, L32, PPND7, log32, 2.0**-149)


def ndtri_lower64(u) -> np.ndarray:
    """docs/STREAM.md ndtri_lower64 (PPND16 in float64) for float64 u (clamped to >= 2^-1074)."""
    return _ndtri_lower(u, L64, PPND16, log64, 2.0**-1074)


# ---- ndtr64 and its exp64 (host side, scalar Python floats) -----------------------------

_EXP_P = (4.13813679705723846039e-08, -1.65339022054652515390e-06, 6.61375632143793436117e-05,
          -2.77777777770155933842e-03, 1.66666666666666019037e-01)  # P5 .. P1 (fdlibm e_exp.c)


def exp64(x: float) -> float:
    """docs/STREAM.md exp64 (fdlibm e_exp.c with fma Horner), Python float in and out."""
    x = float(x)
    if x != x:
        return x
    if x > 709.782712893383973096:
        return math.inf
    if x < -745.13321910194110842:
        return 0.0
    kd = (x * 1.44269504088896338700e+00 + 6755399441055744.0) - 6755399441055744.0  # 1.5 * 2^52
    k = int(kd)
    hi = x - kd * 6.93147180369123816490e-01
    lo = kd * 1.90821492927058770002e-10
    r = hi - lo
    t = r * r
    poly = _EXP_P[0]
    for cf in _EXP_P[1:]:
        poly = fma_scalar64(poly, t, cf)
    c = r - t * poly
    y = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi)
    if k >= -1021:
        if k > 1023:
            return y * 2.0 * math.ldexp(1.0, k - 1)
        return y * math.ldexp(1.0, k)
    return (y * math.ldexp(1.0, k + 1000)) * 2.0**-1000


_ANORM_A = (0.065682337918207449113, 2.2352520354606839287, 161.02823106855587881,
            1067.6894854603709582, 18154.981253343561249)
_ANORM_B = (47.20258190468824187, 976.09855173777669322, 10260.932208618978205, 45507.789335026729956)
_ANORM_C = (0.39894151208813466764, 8.8831497943883759412, 93.506656132177855979, 597.27027639480026226,
            2494.5375852903726711, 6848.1904505362823326, 11602.651437647350124, 9842.7148383839780218,
            1.0765576773720192317e-8)
_ANORM_D = (22.266688044328115691, 235.38790178262499861, 1519.377599407554805, 6485.558298266760755,
            18615.571640885098091, 34900.952721145977266, 38912.003286093271411, 19685.429676859990727)
_ANORM_P = (0.21589853405795699, 0.1274011611602473639, 0.022235277870649807, 0.001421619193227893466,
            2.9112874951168792e-5, 0.02307344176494017303)
_ANORM_Q = (1.28426009614491121, 0.468238212480865118, 0.0659881378689285515, 0.00378239633202758244,
            7.29751555083966205e-5)


def ndtr64(x: float) -> float:
    """docs/STREAM.md ndtr64: Phi(x) in float64 (Cody's ANORM), Python float in and out."""
    f = fma_scalar64
    x = float(x)
    if x != x:
        return x
    y = abs(x)
    if y <= 0.66291:
        xsq = x * x if y > 1.11e-16 else 0.0
        a = _ANORM_A
        num = f(f(f(f(a[0], xsq, a[1]), xsq, a[2]), xsq, a[3]), xsq, a[4])
        b = _ANORM_B
        den = f(f(f(xsq + b[0], xsq, b[1]), xsq, b[2]), xsq, b[3])
        return 0.5 + (x * num) / den
    if y >= 40.0:
        tail = 0.0
    else:
        if y <= 5.656854249492380195206754896838:
            c, d = _ANORM_C, _ANORM_D
            num, den = c[8], y + d[0]
            for i in range(7):
                num = f(num, y, c[i])
            for i in range(1, 7):
                den = f(den, y, d[i])
            num = f(num, y, c[7])
            den = f(den, y, d[7])
            temp = num / den
        else:
            p, q = _ANORM_P, _ANORM_Q
            xsq = 1.0 / (x * x)
            num, den = p[5], xsq + q[0]
            for i in range(4):
                num = f(num, xsq, p[i])
            for i in range(1, 4):
                den = f(den, xsq, q[i])
            num = f(num, xsq, p[4])
            den = f(den, xsq, q[4])
            temp = (xsq * num) / den
            temp = (0.398942280401432677939946059934 - temp) / y
        xs = float(int(y * 16.0)) / 16.0
        dl = (y - xs) * (y + xs)
        tail = exp64(-xs * xs * 0.5) * exp64(-dl * 0.5) * temp
    return tail if x < 0 else 1.0 - tail


# ---- the streams --------------------------------------------------------------------------

def _storage_from_f32(v: np.ndarray, name: str) -> np.ndarray:
    """float32 values rounded RNE to the storage type (bfloat16 as uint16 bits)."""
    if name == "float32":
        return v
    if name == "float16":
        with np.errstate(over="ignore"):
            return v.astype(np.float16)
    if name == "bfloat16":
        return _f32_bits_to_bf16_bits(v.view(np.uint32))
    raise ValueError(name)


def _finish(flat: np.ndarray, name: str, shape):
    if name == "bfloat16" and BF16 is not None:
        flat = flat.view(BF16)
    return flat.reshape(shape)


def _shape_n(shape):
    shape = tuple(int(s) for s in (shape if isinstance(shape, (tuple, list)) else (shape,)))
    return shape, (int(np.prod(shape, dtype=np.int64)) if shape else 1)


def normal_u32(x: np.ndarray):
    """STREAM.md normal, float32 family: (u, sign) of each word."""
    m = (x >> np.uint32(8)) & np.uint32(0x7FFFFF)
    u = (2 * m.astype(np.int64) + 1).astype(_F32) * _F32(2.0**-25)  # exact
    return u, (x >> np.uint32(31)) != 0


def normal_u64(x0: np.ndarray, x1: np.ndarray):
    """STREAM.md normal, float64: (u, sign) of each word pair."""
    x0 = x0.astype(np.uint64)
    x1 = x1.astype(np.uint64)
    m = ((x1 & np.uint64(0x7FFFFFFF)) << np.uint64(21)) | (x0 >> np.uint64(11))
    u = (np.uint64(2) * m + np.uint64(1)).astype(_F64) * 2.0**-54  # exact: < 2^53
    return u, (x1 >> np.uint64(31)) != 0


def normal_values32(x: np.ndarray, mean: float, std: float) -> np.ndarray:
    """float32 values v of the normal stream for words x (before the storage rounding)."""
    u, neg = normal_u32(x)
    z = ndtri_lower32(u)
    z = _sel(neg, -z, z)
    return fma32(z, _F32(std), _F32(mean))


def normal_values64(x0, x1, mean: float, std: float) -> np.ndarray:
    u, neg = normal_u64(x0, x1)
    z = ndtri_lower64(u)
    z = _sel(neg, -z, z)
    return fma64(z, float(std), float(mean))


def normal_expected(shape, dtype, mean, std, seed, offset=0) -> np.ndarray:
    """docs/STREAM.md normal stream for a C-order array of `shape` (storage dtype;
    bfloat16 as ml_dtypes.bfloat16). mean, std: the float64 parameters."""
    shape, n = _shape_n(shape)
    name = _dtype_name(dtype)
    offset = int(offset) % 2**64
    if name == "float64":
        w = words(seed, (2 * offset) % 2**64, 2 * n)
        return normal_values64(w[0::2], w[1::2], mean, std).reshape(shape)
    v = normal_values32(words(seed, offset, n), mean, std)
    return _finish(_storage_from_f32(v, name), name, shape)


def trunc_normal_params(mean: float, std: float, a: float, b: float) -> dict:
    """docs/STREAM.md truncated normal, host side in float64 (std as given: >= 0)."""
    mean, std, a, b = float(mean), float(std), float(a), float(b)
    alpha = (a - mean) / std
    beta = (b - mean) / std
    mirror = alpha + beta > 0
    lo, hi = (-beta, -alpha) if mirror else (alpha, beta)
    plo, phi = ndtr64(lo), ndtr64(hi)
    span = phi - plo
    flip = -1.0 if mirror else 1.0
    with np.errstate(over="ignore"):
        f32 = {k: _F32(v) for k, v in (("plo32", plo), ("span32", span), ("flip32", flip), ("mean32", mean),
                                       ("std32", std), ("a32", a), ("b32", b))}
    return dict(plo=plo, span=span, flip=flip, mean=mean, std=std, a=a, b=b, mirror=mirror, **f32)


def trunc_u32(x: np.ndarray) -> np.ndarray:
    return (2 * (x >> np.uint32(9)).astype(np.int64) + 1).astype(_F32) * _F32(2.0**-24)


def trunc_u64(x0, x1) -> np.ndarray:
    w = (x1.astype(np.uint64) << np.uint64(32)) | x0.astype(np.uint64)
    return (np.uint64(2) * (w >> np.uint64(12)) + np.uint64(1)).astype(_F64) * 2.0**-53


def _trunc_values(U, p, L, ndtri, suffix):
    g = (lambda k: p[k + "32"]) if suffix == "32" else (lambda k: _F64(p[k]))
    u = L.fma(U, g("span"), g("plo"))
    lower = u <= L.c("0.5")
    w = _sel(lower, u, L.c("1.0") - u)
    z = ndtri(w)
    z = _sel(lower, z, -z)
    v = L.fma(g("flip") * z, g("std"), g("mean"))
    return _min_v(_max_v(v, g("a")), g("b"))


def trunc_values32(x: np.ndarray, p: dict) -> np.ndarray:
    return _trunc_values(trunc_u32(x), p, L32, ndtri_lower32, "32")


def trunc_values64(x0, x1, p: dict) -> np.ndarray:
    return _trunc_values(trunc_u64(x0, x1), p, L64, ndtri_lower64, "64")


def trunc_normal_expected(shape, dtype, mean, std, a, b, seed, offset=0) -> np.ndarray:
    """docs/STREAM.md truncated-normal stream for a C-order array of `shape`."""
    shape, n = _shape_n(shape)
    name = _dtype_name(dtype)
    offset = int(offset) % 2**64
    p = trunc_normal_params(mean, std, a, b)
    if name == "float64":
        w = words(seed, (2 * offset) % 2**64, 2 * n)
        return trunc_values64(w[0::2], w[1::2], p).reshape(shape)
    v = trunc_values32(words(seed, offset, n), p)
    return _finish(_storage_from_f32(v, name), name, shape)
