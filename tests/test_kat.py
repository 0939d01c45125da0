"""Known-answer tests: Philox4x32-10 (Random123 KATs) and docs/STREAM.md's word tables,
checked against fastinit._C and against the independent NumPy reference.
Also self-checks of the reference's exact-fma emulation against Fraction arithmetic."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import reference as R
from conftest import c_fill
from fastinit import _C

# (counter c0..c3, key k0 k1, output) from docs/STREAM.md section 1 (Random123 kat_vectors)
KATS = [
    ((0x00000000, 0x00000000, 0x00000000, 0x00000000), (0x00000000, 0x00000000),
     (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF),
     (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]

# word(seed, 0..7) from docs/STREAM.md section 2
WORD_TABLE = {
    0: "6627e8d5 e169c58d bc57ac4c 9b00dbd8 f8e4cca4 5cb200db b1a574eb 097eff67",
    42: "9ceaf053 77f5493b 12bf50ad 5742b3d7 fcdb2127 53ba6cfd 838f5a6e 744e06fb",
    0x0123456789ABCDEF: "b850222e c58cb04b 14a7a020 7a84fff9 adca1466 523e0d85 65401425 b299da3f",
}


def table_words(seed):
    return np.array([int(w, 16) for w in WORD_TABLE[seed].split()], dtype=np.uint64)


@pytest.mark.parametrize("ctr,key,out", KATS, ids=["zeros", "ones", "pi"])
def test_kat_C(ctr, key, out):
    got = _C.philox4x32_10(list(ctr), list(key))
    assert [int(x) for x in got] == list(out), [hex(x) for x in got]


@pytest.mark.parametrize("ctr,key,out", KATS, ids=["zeros", "ones", "pi"])
def test_kat_reference(ctr, key, out):
    got = R.philox4x32_10(np.array(ctr, dtype=np.uint32), key)
    assert [int(x) for x in got] == list(out)


def test_kat_reference_vectorised_rows():
    ctrs = np.array([k[0] for k in KATS], dtype=np.uint32)
    # one row per KAT but all under the same key: compare against _C row by row
    rng = np.random.default_rng(5)
    more = rng.integers(0, 2**32, (64, 4), dtype=np.uint64).astype(np.uint32)
    allc = np.concatenate([ctrs, more])
    for key in [(0, 0), (0xFFFFFFFF, 0xFFFFFFFF), (0xA4093822, 0x299F31D0), (123, 4567)]:
        ref = R.philox4x32_10(allc, key)
        for row, want in zip(allc, ref):
            assert list(_C.philox4x32_10([int(x) for x in row], list(key))) == [int(x) for x in want]


@pytest.mark.parametrize("seed", list(WORD_TABLE), ids=lambda s: hex(s))
def test_word_table_reference(seed):
    assert R.words(seed, 0, 8).astype(np.uint64).tolist() == table_words(seed).tolist()
    # any start inside the table gives the same words
    for start in range(8):
        assert R.words(seed, start, 8 - start).astype(np.uint64).tolist() == table_words(seed)[start:].tolist()


@pytest.mark.parametrize("seed", list(WORD_TABLE), ids=lambda s: hex(s))
def test_word_table_C_philox(seed):
    """word(seed, j) = philox((j>>2 lo, j>>2 hi, 0, 0), (seed lo, seed hi))[j & 3]."""
    key = [seed & 0xFFFFFFFF, seed >> 32]
    got = list(_C.philox4x32_10([0, 0, 0, 0], key)) + list(_C.philox4x32_10([1, 0, 0, 0], key))
    assert got == table_words(seed).tolist()


@pytest.mark.parametrize("seed", list(WORD_TABLE), ids=lambda s: hex(s))
def test_word_table_fill_float32(seed, isa):
    """float32 fill with [0, 1): v = (x >> 8) * 2**-24 exactly, so x >> 8 is recoverable."""
    want = table_words(seed) >> np.uint64(8)
    a = np.full(8, np.nan, dtype=np.float32)
    c_fill(a, 0.0, 1.0, seed, 0, isa, 1)
    m = a.astype(np.float64) * 2.0**24
    assert np.all(m == np.floor(m))
    assert m.astype(np.uint64).tolist() == want.tolist()
    # every offset inside the table, several lengths
    for off in range(8):
        b = np.full(8 - off, np.nan, dtype=np.float32)
        c_fill(b, 0.0, 1.0, seed, off, isa, 1)
        assert (b.astype(np.float64) * 2.0**24).astype(np.uint64).tolist() == want[off:].tolist()


@pytest.mark.parametrize("seed", list(WORD_TABLE), ids=lambda s: hex(s))
def test_word_table_fill_float64(seed, isa):
    """float64 fill with [0, 1): v = ((x1 << 32 | x0) >> 11) * 2**-53 exactly."""
    w = table_words(seed)
    want = [int(((w[2 * e + 1] << np.uint64(32)) | w[2 * e]) >> np.uint64(11)) for e in range(4)]
    a = np.full(4, np.nan, dtype=np.float64)
    c_fill(a, 0.0, 1.0, seed, 0, isa, 1)
    got = [int(Fraction(float(v)) * 2**53) for v in a]
    assert all(Fraction(float(v)) * 2**53 == int(Fraction(float(v)) * 2**53) for v in a)
    assert got == want
    b = np.full(2, np.nan, dtype=np.float64)
    c_fill(b, 0.0, 1.0, seed, 2, isa, 1)
    assert [int(Fraction(float(v)) * 2**53) for v in b] == want[2:]


@pytest.mark.parametrize("seed", [0, 42, 0x0123456789ABCDEF, 2**64 - 1])
def test_high_block_counter_words(seed, isa):
    """Block index above 2**32 goes into counter word c1 (b >> 32); checked for the
    reference against _C.philox4x32_10 and for the fill against the reference."""
    b = (0x00000003 << 32) | 0x89ABCDEF
    key = [seed & 0xFFFFFFFF, seed >> 32]
    blk = list(_C.philox4x32_10([b & 0xFFFFFFFF, b >> 32, 0, 0], key))
    assert R.words(seed, 4 * b, 4).tolist() == blk
    a = np.zeros(4, dtype=np.float32)
    c_fill(a, 0.0, 1.0, seed, 4 * b, isa, 1)
    assert (a.astype(np.float64) * 2.0**24).astype(np.uint64).tolist() == [x >> 8 for x in blk]


def test_words_wrap_mod_2_64():
    w = R.words(7, 2**64 - 3, 6)
    assert w[:3].tolist() == R.words(7, 2**64 - 3, 3).tolist()
    assert w[3:].tolist() == R.words(7, 0, 3).tolist()
    assert R.words(7, 2**64 + 5, 2).tolist() == R.words(7, 5, 2).tolist()


# ----------------------------------------------------------------------------
# self-checks of the reference's exact fma emulation (independent oracle:
# exact rational arithmetic, one rounding)
# ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "lo,hi",
    [(-0.5, 0.5), (1e-30, 7.5), (-(2.0**-100), 1.2345), (0.25, 3.0), (-1e-3, 7.5),
     (1.0, 1.0 + 2.0**-22), (-1.0e38, 1.5e38), (1e-38, 1e-30)],
)
def test_reference_fma32_exact(lo, hi):
    lo32 = np.float32(lo)
    hi32 = np.float32(hi)
    scale = Fraction(float(np.float32(hi32 - lo32)))
    rng = np.random.default_rng(3)
    m = np.concatenate([rng.integers(0, 2**24, 2**18, dtype=np.uint32),
                        np.array([0, 1, 2**23, 2**24 - 1], dtype=np.uint32)])
    r = R._fma32(m, lo32, hi32)
    # the cases where plain double rounding would be wrong (must include some
    # for (1e-30, 7.5), which forces the midpoint fix-up branch)
    naive = (m.astype(np.float64) * 2.0**-24 * np.float64(np.float32(hi32 - lo32)) + np.float64(lo32)).astype(np.float32)
    fixed = np.nonzero(naive.view(np.uint32) != r.view(np.uint32))[0]
    if (lo, hi) == (1e-30, 7.5):
        assert fixed.size > 1000
    sample = np.unique(np.concatenate([fixed[:300], rng.integers(0, m.size, 400), np.arange(m.size - 4, m.size)]))
    for i in sample.tolist():
        t = Fraction(int(m[i]), 2**24) * scale + Fraction(float(lo32))
        want = np.float32(float(R._round_scalar(t, 24, -149 + 23)))
        assert r[i].view(np.uint32) == want.view(np.uint32), (i, r[i], want)


@pytest.mark.parametrize("lo,hi", [(-0.5, 0.5), (1e-300, 7.5), (0.1, 0.3), (-1e-3, 7.5), (1.0, 1.0 + 2.0**-51),
                                   (-1e300, 1e300), (2.0**-1070, 2.0**-1040)])
def test_reference_fma64_exact(lo, hi):
    rng = np.random.default_rng(4)
    m = np.concatenate([rng.integers(0, 2**53, 2000, dtype=np.uint64),
                        np.array([0, 1, 2**52, 2**53 - 1], dtype=np.uint64)])
    r = R._fma64(m, lo, hi)
    scale = Fraction(float(hi) - float(lo))
    for mi, ri in zip(m.tolist(), r.tolist()):
        t = Fraction(mi, 2**53) * scale + Fraction(lo)
        assert ri == float(t), (mi, ri, float(t))  # float(Fraction) is correctly rounded


def test_reference_bf16_rounding_matches_ml_dtypes():
    import ml_dtypes
    rng = np.random.default_rng(6)
    x = rng.integers(0, 2**32, 200000, dtype=np.uint64).astype(np.uint32)
    x = x[np.isfinite(x.view(np.float32))]
    x = x[np.abs(x.view(np.float32)) < 3e38]
    ours = R._f32_bits_to_bf16_bits(x)
    theirs = x.view(np.float32).astype(ml_dtypes.bfloat16).view(np.uint16)
    assert np.array_equal(ours, theirs)


def test_reference_round_bound():
    assert R.round_bound(1 + 2**-11 + 2**-40, np.float16) == 1 + 2**-10  # one rounding, not via float32
    assert R.round_bound(1 + 2**-11, np.float16) == 1.0  # tie to even
    assert R.round_bound(0.1, np.float32) == float(np.float32(0.1))
    assert R.round_bound(0.1, "bfloat16") == 0.10009765625
    assert R.round_bound(0.1, np.float64) == 0.1
