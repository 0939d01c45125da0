"""Non-contiguous views get the values a contiguous array of the same shape
would get (logical row-major index, not memory order), nothing outside the view
is written, and shards filled with offset = first global index reproduce the
whole tensor's values."""
from __future__ import annotations

import numpy as np
import pytest
from numpy.lib.stride_tricks import as_strided

import reference as R
from conftest import Guarded, assert_bits_equal, c_fill

import ml_dtypes
BF16 = np.dtype(ml_dtypes.bfloat16)
DTYPES = [np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.float16), BF16]
DT_IDS = ["f32", "f64", "f16", "bf16"]

LO, HI, SEED = -0.75, 0.5, 0xDEADBEEF


def _in_buffer(g: Guarded, dtype, shape, order="C", byte_offset=0):
    return np.ndarray(shape, dtype=dtype, buffer=g.buf, offset=byte_offset, order=order)


# Each case: (name, function(guarded, dtype) -> view). The buffer is 64 KiB.
def _cases():
    c = []
    c.append(("transpose2d", lambda g, dt: _in_buffer(g, dt, (13, 29), byte_offset=16).T))
    c.append(("forder", lambda g, dt: _in_buffer(g, dt, (17, 9, 5), order="F", byte_offset=8)))
    c.append(("step", lambda g, dt: _in_buffer(g, dt, (301,), byte_offset=4)[1::3]))
    c.append(("step2d", lambda g, dt: _in_buffer(g, dt, (20, 31), byte_offset=0)[1::3, ::2]))
    c.append(("neg1d", lambda g, dt: _in_buffer(g, dt, (257,), byte_offset=8)[::-1]))
    c.append(("neg2d", lambda g, dt: _in_buffer(g, dt, (11, 40), byte_offset=8)[:, ::-2]))
    c.append(("negboth", lambda g, dt: _in_buffer(g, dt, (11, 40), byte_offset=8)[::-1, 3::-1]))
    c.append(("perm3d", lambda g, dt: _in_buffer(g, dt, (6, 7, 8), byte_offset=24).transpose(2, 0, 1)))
    c.append(("perm4d", lambda g, dt: _in_buffer(g, dt, (3, 4, 5, 6), byte_offset=8).transpose(3, 1, 0, 2)))
    c.append(("perm4d_sliced",
              lambda g, dt: _in_buffer(g, dt, (4, 5, 6, 7), byte_offset=8).transpose(1, 3, 0, 2)[:, ::-2, 1:, ::3]))
    c.append(("padded_rows", lambda g, dt: _in_buffer(g, dt, (23, 37), byte_offset=8)[:, :33]))
    c.append(("padded_rows_big", lambda g, dt: _in_buffer(g, dt, (61, 129), byte_offset=0)[2:, 5:120]))
    c.append(("as_strided", lambda g, dt: as_strided(_in_buffer(g, dt, (1000,), byte_offset=8),
                                                     shape=(9, 7), strides=(dt.itemsize * 41, dt.itemsize * 3))))
    c.append(("as_strided_unaligned",
              lambda g, dt: as_strided(_in_buffer(g, dt, (1000,), byte_offset=1),
                                       shape=(6, 5), strides=(dt.itemsize * 23 + 3, dt.itemsize + 1))))
    c.append(("zero_d", lambda g, dt: _in_buffer(g, dt, (), byte_offset=10)))
    c.append(("zero_d_from_index", lambda g, dt: _in_buffer(g, dt, (5, 5), byte_offset=0)[2, 3, ...]))
    c.append(("size0_dim", lambda g, dt: _in_buffer(g, dt, (3, 0, 4), byte_offset=0)))
    c.append(("size0_slice", lambda g, dt: _in_buffer(g, dt, (10, 10), byte_offset=0)[:, 5:5]))
    c.append(("stride0_len1", lambda g, dt: as_strided(_in_buffer(g, dt, (100,), byte_offset=8),
                                                       shape=(1, 9, 1), strides=(0, dt.itemsize * 2, 0))))
    return c


CASES = _cases()


def _fill_and_check(view, g, fill, offset, what):
    view_before_shape = view.shape
    fill(view, offset)
    assert view.shape == view_before_shape
    want = R.expected(view.shape, view.dtype, LO, HI, SEED, offset)
    assert_bits_equal(np.array(view), want, what)
    g.check_outside(view)


@pytest.mark.parametrize("name,make", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_views_C(isa, dtype, name, make):
    for threads, offset in [(1, 0), (3, 2**64 - 5)]:
        g = Guarded(1 << 16)
        view = make(g, dtype)
        _fill_and_check(view, g, lambda v, o: c_fill(v, LO, HI, SEED, o, isa, threads), offset,
                        f"{name} dtype={dtype} isa={isa} threads={threads} offset={offset}")


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_large_transpose_threads(isa, dtype):
    """Big enough to be split across threads: a transposed and a padded view."""
    g = Guarded((700 * 650 + 64) * dtype.itemsize)
    v = _in_buffer(g, dtype, (650, 700), byte_offset=0)[:, 3:697].T
    _fill_and_check(v, g, lambda v, o: c_fill(v, LO, HI, SEED, o, isa, 3), 12345, "large transpose")


# -- public API ----------------------------------------------------------------
def _public():
    import fastinit

    return fastinit


@pytest.mark.parametrize("name,make", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_views_public_numpy(dtype, name, make):
    fi = _public()
    g = Guarded(1 << 16)
    view = make(g, dtype)
    out = {}

    def fill(v, o):
        out["r"] = fi.uniform_(v, LO, HI, seed=SEED, offset=o)

    _fill_and_check(view, g, fill, 2**63 - 5, f"public numpy {name} dtype={dtype}")
    assert out["r"] is view


TORCH_DTYPES = ["float32", "float64", "float16", "bfloat16"]


def _torch_views(torch, dt):
    base = lambda *s: torch.zeros(*s, dtype=dt)  # noqa: E731
    return [
        ("transpose", base(13, 29), lambda t: t.t()),
        ("permute4d", base(3, 4, 5, 6), lambda t: t.permute(3, 1, 0, 2)),
        ("step", base(20, 31), lambda t: t[1::3, ::2]),
        ("padded", base(23, 37), lambda t: t[:, 2:35]),
        ("as_strided", base(1000), lambda t: t.as_strided((9, 7), (41, 3), 5)),
        ("zero_d", base(5, 5), lambda t: t[2, 3]),
        ("size0", base(3, 4), lambda t: t[:, 2:2]),
        ("perm_step", base(4, 5, 6), lambda t: t.permute(2, 0, 1)[::2, :, 1::2]),
    ]


@pytest.mark.parametrize("tdtype", TORCH_DTYPES)
def test_views_public_torch(tdtype):
    # torch is a test dependency; only the NumPy-only wheel check (.ci/run) runs without it
    torch = pytest.importorskip("torch", reason="torch views need torch (the NumPy-only wheel check has none)")
    fi = _public()
    dt = getattr(torch, tdtype)
    np_dt = BF16 if tdtype == "bfloat16" else np.dtype(tdtype)
    for name, base, mk in _torch_views(torch, dt):
        sentinel = torch.arange(base.numel(), dtype=torch.float64).reshape(base.shape).to(dt)
        base.copy_(sentinel)
        view = mk(base)
        r = fi.uniform_(view, LO, HI, seed=SEED, offset=77)
        assert r is view
        want = R.expected(tuple(view.shape), np_dt, LO, HI, SEED, 77)
        got = view.contiguous().view(torch.int16 if view.element_size() == 2 else
                                     (torch.int32 if view.element_size() == 4 else torch.int64)).numpy()
        assert_bits_equal(got.view(want.dtype), want, f"torch {name} {tdtype}")
        # nothing outside the view changed: mark the view's elements in an index tensor
        idx = torch.arange(base.numel()).reshape(base.shape)
        inside = torch.zeros(base.numel(), dtype=torch.bool)
        inside[mk(idx).reshape(-1)] = True
        outside = ~inside.reshape(base.shape)
        assert torch.equal(base[outside], sentinel[outside]), f"torch {name}: wrote outside the view"


# -- sharding --------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_row_shards(isa, dtype):
    R_, C_ = 97, 53
    base_off = 2**64 - 1000  # wraps inside the matrix
    full = np.empty((R_, C_), dtype)
    c_fill(full, LO, HI, SEED, base_off, isa, 2)
    assert_bits_equal(full, R.expected(full.shape, dtype, LO, HI, SEED, base_off), "full")
    bounds = [0, 1, 17, 18, 50, 96, 97]
    for r0, r1 in zip(bounds[:-1], bounds[1:]):
        shard = np.empty((r1 - r0, C_), dtype)
        c_fill(shard, LO, HI, SEED, (base_off + r0 * C_) % 2**64, isa, 3)
        assert_bits_equal(shard, full[r0:r1], f"rows [{r0}, {r1})")


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_flat_range_shards(isa, dtype):
    n = 10_007
    full = np.empty(n, dtype)
    c_fill(full, LO, HI, SEED, 5, isa, 1)
    cuts = [0, 1, 2, 3, 7, 64, 65, 1000, 4093, 9999, n]
    for a, b in zip(cuts[:-1], cuts[1:]):
        s = np.empty(b - a, dtype)
        c_fill(s, LO, HI, SEED, 5 + a, isa, 2)
        assert_bits_equal(s, full[a:b], f"range [{a}, {b})")


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_row_shard_as_strided_view(isa, dtype):
    """A logical (R, C) matrix stored column-major: its rows [r0, r1) are a strided
    view whose global row-major indices are r0*C .. r1*C-1; filling that view
    with offset r0*C gives the full tensor's values there."""
    R_, C_ = 40, 33
    ref = np.empty((R_, C_), dtype)
    c_fill(ref, LO, HI, SEED, 0, isa, 1)
    g = Guarded(R_ * C_ * dtype.itemsize + 64)
    mat = _in_buffer(g, dtype, (R_, C_), order="F", byte_offset=32)
    for r0, r1 in [(0, 5), (5, 6), (6, 39), (39, 40)]:
        c_fill(mat[r0:r1], LO, HI, SEED, r0 * C_, isa, 2)
    assert_bits_equal(np.array(mat), ref, "F-order row shards")
    g.check_outside(mat)


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_column_shards(isa, dtype):
    """Column shards [:, c0:c1]: each row of the shard is a contiguous global range
    starting at r*C + c0. Filled row by row (as a separate array and as a strided
    view of a matrix), they reproduce the full tensor's columns."""
    R_, C_ = 31, 45
    full = np.empty((R_, C_), dtype)
    c_fill(full, LO, HI, SEED, 3, isa, 2)
    assembled = np.zeros((R_, C_), dtype)
    for c0, c1 in [(0, 16), (16, 17), (17, 45)]:
        local = np.empty((R_, c1 - c0), dtype)
        for r in range(R_):
            c_fill(local[r], LO, HI, SEED, 3 + r * C_ + c0, isa, 1)
            c_fill(assembled[r, c0:c1], LO, HI, SEED, 3 + r * C_ + c0, isa, 1)
        assert_bits_equal(local, full[:, c0:c1], f"column shard [{c0}, {c1})")
    assert_bits_equal(assembled, full, "assembled column shards")


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_shards_public(dtype):
    fi = _public()
    R_, C_ = 64, 48
    full = np.empty((R_, C_), dtype)
    fi.uniform_(full, LO, HI, seed=SEED, offset=2**64 - 100)
    assert_bits_equal(full, R.expected(full.shape, dtype, LO, HI, SEED, 2**64 - 100), "public full")
    # row shards as own arrays
    for r0, r1 in [(0, 10), (10, 11), (11, 64)]:
        s = np.empty((r1 - r0, C_), dtype)
        fi.uniform_(s, LO, HI, seed=SEED, offset=(2**64 - 100 + r0 * C_) % 2**64)
        assert_bits_equal(s, full[r0:r1], f"public rows [{r0},{r1})")
    # row shards of a transposed-storage matrix (strided views)
    t = np.zeros((C_, R_), dtype).T
    for r0, r1 in [(0, 33), (33, 64)]:
        fi.uniform_(t[r0:r1], LO, HI, seed=SEED, offset=(2**64 - 100 + r0 * C_) % 2**64)
    assert_bits_equal(np.array(t), full, "public strided row shards")
    # column shards row by row through strided views
    col = np.zeros((R_, C_), dtype)
    for c0, c1 in [(0, 20), (20, 48)]:
        for r in range(R_):
            fi.uniform_(col[r, c0:c1], LO, HI, seed=SEED, offset=(2**64 - 100 + r * C_ + c0) % 2**64)
    assert_bits_equal(col, full, "public column shards")
