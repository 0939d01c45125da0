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
    u = m.astype(np.float64) * 2.0**-24
    p = u * np.float64(scale)  # exact (see module docstring)
    lo = np.float64(lo32)
    s = p + lo
    bb = s - p
    err = (p - (s - bb)) + (lo - bb)  # TwoSum: p + lo == s + err exactly
    r = s.astype(np.float32)
    bad = err != 0
    if np.any(bad):
        idx = np.nonzero(bad)[0]
        si = s[idx]
        ri = r[idx]
        d = si - ri.astype(np.float64)  # exact (both near, see docstring)
        toward = np.where(d > 0, np.float32(np.inf), np.float32(-np.inf))
        nb = np.nextafter(ri, toward)
        mid = (d != 0) & (ri.astype(np.float64) + nb.astype(np.float64) == 2.0 * si)
        if np.any(mid):
            # t = s + err lies beyond the midpoint in the direction of sign(err)
            go = mid & (np.sign(err[idx]) == np.sign(d))
            stay_or_back = mid & ~go
            fixed = ri.copy()
            fixed[go] = nb[go]
            # err points back toward ri: ri is correct (it already is r)
            fixed[stay_or_back] = ri[stay_or_back]
            r[idx] = fixed
    return r


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
