"""Bad inputs are refused with a clear exception, and the buffer is left
byte-for-byte untouched.

For torch tensors the exception type and message must be torch's own (computed
by calling torch.nn.init at test time).  For NumPy arrays, which torch does not
accept, the exception must be of a sensible type and its message must name the
problem.
"""

import math

import ml_dtypes
import numpy as np
import pytest
import torch

import fastinit

FUNCS = ["uniform_", "kaiming_uniform_", "xavier_uniform_"]
FLOAT_NP = [np.float32, np.float64, np.float16, ml_dtypes.bfloat16]


def _bytes_of(base):
    return np.ascontiguousarray(base).view(np.uint8).tobytes() if base.size else b""


def refused(call, base, types, words, obj=None):
    """Run call(); it must raise one of `types`, with a non-empty message that
    contains one of `words` (case-insensitive); base's bytes must not change."""
    before = _bytes_of(base) if isinstance(base, np.ndarray) else base.clone()
    with pytest.raises(Exception) as ei:
        call()
    e = ei.value
    assert isinstance(e, types), f"{type(e).__name__}: {e}"
    msg = str(e)
    assert msg.strip(), f"empty message for {type(e).__name__}"
    low = msg.lower()
    assert any(w.lower() in low for w in words), f"message does not name the problem ({words}): {msg!r}"
    if isinstance(base, np.ndarray):
        assert _bytes_of(base) == before, "buffer modified by a refused call"
    else:
        assert torch.equal(base, before), "tensor modified by a refused call"
    return e


def _call(name, x, **kw):
    """Call fastinit.<name> on x with valid remaining arguments."""
    return getattr(fastinit, name)(x, **kw)


# --------------------------------------------------------------------------
# NumPy dtypes
# --------------------------------------------------------------------------

BAD_NP_DTYPES = [
    np.int8,
    np.int16,
    np.int32,
    np.int64,
    np.uint8,
    np.uint16,
    np.uint32,
    np.uint64,
    np.bool_,
    np.complex64,
    np.complex128,
    np.longdouble,
    np.dtype("M8[s]"),
    np.dtype("U3"),
    np.dtype(object),
]


@pytest.mark.parametrize("name", FUNCS)
@pytest.mark.parametrize("dt", BAD_NP_DTYPES, ids=lambda d: np.dtype(d).name)
def test_numpy_bad_dtype(name, dt):
    dt = np.dtype(dt)
    if dt == np.dtype(np.longdouble) and np.dtype(np.longdouble).itemsize == 8:
        pytest.skip("longdouble is float64 on this platform")
    if dt.kind == "M":
        a = np.full((4, 3), np.datetime64(7, "s"), dtype=dt)
    elif dt.kind == "U":
        a = np.full((4, 3), "abc", dtype=dt)
    elif dt.kind == "O":
        a = np.full((4, 3), 7.0, dtype=dt)
    elif dt.kind == "b":
        a = np.full((4, 3), True)
    else:
        a = np.full((4, 3), 7, dtype=dt)
    snapshot = a.copy()
    words = [dt.name, str(dt), "dtype", "type", "not implemented", "unsupported"]
    # object arrays cannot be compared byte-wise; compare their elements instead
    base = a if dt.kind != "O" else np.zeros(1)
    refused(lambda: _call(name, a, seed=1), base, (TypeError, ValueError, NotImplementedError), words)
    assert np.array_equal(a, snapshot)


@pytest.mark.parametrize("name", FUNCS)
@pytest.mark.parametrize("dt", [torch.complex64, torch.complex128])
def test_torch_complex(name, dt):
    """torch itself fills complex tensors; fastinit either does the same (as a
    float pair, like torch) or refuses cleanly without writing."""
    t = torch.full((4, 3), 7 + 7j, dtype=dt)
    before = t.clone()
    try:
        r = _call(name, t, seed=1)
    except (TypeError, ValueError, NotImplementedError, RuntimeError) as e:
        assert str(e).strip()
        assert any(w in str(e).lower() for w in ("complex", "dtype", "type", "not implemented"))
        assert torch.equal(t, before)
    else:
        assert r is t
        assert not torch.equal(t, before)


# --------------------------------------------------------------------------
# torch dtypes, compared with torch
# --------------------------------------------------------------------------

BAD_TORCH_DTYPES = [torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8, torch.bool]


def _torch_outcome(fn):
    try:
        fn()
        return None
    except Exception as e:  # noqa: BLE001
        return e


@pytest.mark.parametrize("name", FUNCS)
@pytest.mark.parametrize("dt", BAD_TORCH_DTYPES, ids=str)
def test_torch_bad_dtype_like_torch(name, dt):
    te = _torch_outcome(lambda: getattr(torch.nn.init, name)(torch.ones(4, 3, dtype=dt)))
    assert te is not None
    t = torch.ones(4, 3, dtype=dt)
    e = refused(lambda: _call(name, t), t, (type(te),), [str(te)])
    assert type(e) is type(te) and str(e) == str(te)
    # with an explicit seed too
    e = refused(lambda: _call(name, t, seed=3), t, (type(te),), [str(te)])
    assert type(e) is type(te) and str(e) == str(te)


# --------------------------------------------------------------------------
# read-only, byte order, overlapping memory
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", FUNCS)
@pytest.mark.parametrize("dt", FLOAT_NP, ids=lambda d: np.dtype(d).name)
def test_numpy_read_only(name, dt):
    a = np.full((5, 4), 7.0, dtype=dt)
    a.flags.writeable = False
    refused(lambda: _call(name, a, seed=1), a, (ValueError, TypeError, RuntimeError), ["read-only", "readonly", "read only", "writeable", "writable"])
    # a read-only view of a writeable base
    b = np.full((5, 4), 7.0, dtype=dt)
    v = b[1:]
    v.flags.writeable = False
    refused(lambda: _call(name, v, seed=1), b, (ValueError, TypeError, RuntimeError), ["read-only", "readonly", "read only", "writeable", "writable"])


@pytest.mark.parametrize("name", FUNCS)
@pytest.mark.parametrize("code", [">f4", ">f8", ">f2"])
def test_numpy_non_native_byte_order(name, code):
    a = np.full((5, 4), 7.0, dtype=code)
    refused(
        lambda: _call(name, a, seed=1),
        a,
        (ValueError, TypeError),
        ["byte order", "byteorder", "byte-order", "endian", "native", "byteswap"],
    )


OVERLAP_WORDS = ["overlap", "memory location", "alias", "more than one element", "internal overlap", "stride"]


def _as_strided_cases():
    for dt in FLOAT_NP:
        it = np.dtype(dt).itemsize
        yield dt, (5,), (0,)  # every element the same (1-D: uniform_ only)
        yield dt, (5, 2), (0, it)  # every row the same
        yield dt, (4, 3), (it, it)  # rows overlap (stride too small)
        yield dt, (3, 4), (2 * it, it)  # rows overlap by 2 elements
        yield dt, (4, 3), (it * 3, 0)  # a zero stride in the inner dim
        yield dt, (2, 3, 2), (it * 2, it * 2, it)  # middle dim overlaps outer


# 1-D views go to uniform_ only: kaiming/xavier refuse the dimension count first (tested
# elsewhere), so they could not show the overlap refusal
@pytest.mark.parametrize("name,dt,shape,strides",
                         [(name, *c) for name in FUNCS for c in _as_strided_cases()
                          if len(c[1]) >= 2 or name == "uniform_"], ids=lambda x: str(x))
def test_numpy_overlapping(name, dt, shape, strides):
    base = np.full(64, 7.0, dtype=dt)
    v = np.lib.stride_tricks.as_strided(base, shape=shape, strides=strides)
    assert v.flags.writeable
    refused(lambda: _call(name, v, seed=1), base, (ValueError, RuntimeError), OVERLAP_WORDS)


@pytest.mark.parametrize("name", FUNCS)
def test_numpy_broadcast_to(name):
    base = np.full(3, 7.0, dtype=np.float32)
    v = np.broadcast_to(base, (4, 3))
    refused(lambda: _call(name, v, seed=1), base, (ValueError, RuntimeError, TypeError), OVERLAP_WORDS + ["read-only", "readonly", "writeable", "writable"])


@pytest.mark.parametrize("dt", FLOAT_NP, ids=lambda d: np.dtype(d).name)
def test_numpy_non_overlapping_strides_are_accepted(dt):
    """Not over-eager: unusual but non-overlapping layouts are filled exactly as
    a contiguous array of the same shape would be, and nothing else is written."""
    it = np.dtype(dt).itemsize
    cases = [
        ((3, 2), (it, 3 * it)),  # column-major
        ((2, 3), (it * 3, it)),
        ((3, 1), (it, 0)),  # zero stride on a size-1 dim is not an overlap
        ((1, 4), (0, it)),
        ((2, 2, 2), (it, 2 * it, 4 * it)),
        ((2, 3), (it * 7, it * 2)),  # gaps between elements
    ]
    for shape, strides in cases:
        base = np.full(64, 7.0, dtype=dt)
        v = np.lib.stride_tricks.as_strided(base[8:], shape=shape, strides=strides)
        sentinel = base.copy()
        mask = np.zeros(64, bool)
        mask_view = np.lib.stride_tricks.as_strided(mask[8:], shape=shape, strides=[s // it for s in strides])
        mask_view[...] = True
        r = fastinit.uniform_(v, -1.0, 1.0, seed=5)
        assert r is v
        ref = fastinit.uniform_(np.empty(shape, dtype=dt), -1.0, 1.0, seed=5)
        np.testing.assert_array_equal(v.astype(np.float64), ref.astype(np.float64))
        assert _bytes_of(base[~mask]) == _bytes_of(sentinel[~mask]), (shape, strides)


@pytest.mark.parametrize("name", FUNCS)
def test_torch_expanded_like_torch(name):
    te = _torch_outcome(lambda: getattr(torch.nn.init, name)(torch.full((1, 4), 7.0).expand(3, 4)))
    assert te is not None
    base = torch.full((1, 4), 7.0)
    t = base.expand(3, 4)
    e = refused(lambda: _call(name, t, seed=1), base, (type(te),), [str(te)])
    assert str(e) == str(te)


# --------------------------------------------------------------------------
# not an array
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", FUNCS)
@pytest.mark.parametrize(
    "obj",
    [[0.0, 0.0, 0.0], [[0.0, 1.0], [2.0, 3.0]], None, 3.0, 7, "abc", (1.0, 2.0), np.float32(1.0)],
    ids=lambda o: type(o).__name__,
)
def test_not_an_array(name, obj):
    snapshot = repr(obj)
    if isinstance(obj, np.generic) and name != "uniform_":
        # a NumPy scalar has shape (), like a 0-d array: refusing it for its
        # dimension count (torch's 0-d message) is also clear
        with pytest.raises((TypeError, AttributeError, ValueError)) as ei:
            _call(name, obj, seed=1)
        assert "dimension" in str(ei.value) or type(obj).__name__ in str(ei.value)
        return
    with pytest.raises((TypeError, AttributeError)) as ei:
        _call(name, obj, seed=1)
    msg = str(ei.value)
    assert msg.strip()
    assert type(obj).__name__ in msg or "array" in msg.lower() or "tensor" in msg.lower(), msg
    assert repr(obj) == snapshot


# --------------------------------------------------------------------------
# bounds
# --------------------------------------------------------------------------

BAD_BOUNDS = [
    (math.nan, 1.0),
    (0.0, math.nan),
    (math.nan, math.nan),
    (-math.inf, 1.0),
    (0.0, math.inf),
    (-math.inf, math.inf),
    (2.0, 1.0),
    (1.0, -1.0),
    (1e-30, 0.0),
]


@pytest.mark.parametrize("dt", FLOAT_NP, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("lo,hi", BAD_BOUNDS)
def test_numpy_bad_bounds(dt, lo, hi):
    a = np.full((6, 5), 7.0, dtype=dt)
    words = ["from", "to", "bound", "range", "finite", "nan", "inf", ">"]
    refused(lambda: fastinit.uniform_(a, lo, hi, seed=1), a, (ValueError, RuntimeError), words)


@pytest.mark.parametrize(
    "dt,lo,hi",
    [
        (np.float32, 0.0, 1e39),
        (np.float32, -3e38, 3e38),
        (np.float64, -1e308, 1e308),
        (np.float16, 0.0, 1e5),
        (np.float16, -6e4, 6e4),
        (ml_dtypes.bfloat16, 0.0, 1e39),
        (ml_dtypes.bfloat16, -3e38, 3e38),
    ],
)
def test_numpy_out_of_range_bounds(dt, lo, hi):
    a = np.full((6, 5), 7.0, dtype=dt)
    words = ["out of bounds", "exceed", "range", "overflow", "max", "limit"]
    refused(lambda: fastinit.uniform_(a, lo, hi, seed=1), a, (ValueError, RuntimeError, OverflowError), words)


@pytest.mark.parametrize("dt", [torch.float32, torch.float64, torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("lo,hi", BAD_BOUNDS + [(0.0, 1e39), (-3e38, 3e38), (-1e308, 1e308), (0.0, 1e5), (-6e4, 6e4)])
def test_torch_bad_bounds_like_torch(dt, lo, hi):
    te = _torch_outcome(lambda: torch.nn.init.uniform_(torch.full((6, 5), 7.0, dtype=dt), lo, hi))
    t = torch.full((6, 5), 7.0, dtype=dt)
    if te is None:  # e.g. 1e39 is fine for float64
        assert fastinit.uniform_(t, lo, hi, seed=1) is t
        return
    e = refused(lambda: fastinit.uniform_(t, lo, hi, seed=1), t, (type(te),), [str(te)])
    assert type(e) is type(te) and str(e) == str(te)
    # same refusal when the seed is drawn from a generator
    e = refused(lambda: fastinit.uniform_(t, lo, hi, generator=torch.Generator()), t, (type(te),), [str(te)])
    assert type(e) is type(te) and str(e) == str(te)


# --------------------------------------------------------------------------
# seed and offset
# --------------------------------------------------------------------------

BAD_INTS = [
    (-1, (ValueError, OverflowError)),
    (-(2**63), (ValueError, OverflowError)),
    (2**64, (ValueError, OverflowError)),
    (2**100, (ValueError, OverflowError)),
    (1.5, (TypeError,)),
    (1.0, (TypeError,)),
    ("1", (TypeError,)),
    (b"1", (TypeError,)),
    ([1], (TypeError,)),
    (np.float64(2.0), (TypeError,)),
    (torch.tensor(1.5), (TypeError,)),
]


def _containers():
    yield "numpy", lambda: np.full((6, 5), 7.0, dtype=np.float32)
    yield "torch", lambda: torch.full((6, 5), 7.0)


@pytest.mark.parametrize("which", ["seed", "offset"])
@pytest.mark.parametrize("value,types", BAD_INTS, ids=lambda v: repr(v)[:20])
@pytest.mark.parametrize("name", FUNCS)
def test_bad_seed_offset(which, value, types, name):
    for kind, make in _containers():
        x = make()
        kw = {which: value}
        if which == "offset":
            kw["seed"] = 1
        refused(lambda: _call(name, x, **kw), x, types, [which])


@pytest.mark.parametrize("which", ["seed", "offset"])
def test_valid_seed_offset_extremes_accepted(which):
    for value in (0, 1, 2**32, 2**63, 2**64 - 1, np.uint64(2**64 - 1), np.int64(5), torch.tensor(5).item()):
        for kind, make in _containers():
            x = make()
            kw = {which: value}
            if which == "offset":
                kw["seed"] = 1
                if int(value) > 2**60:
                    continue  # offset + index near 2**64: not specified here
            r = fastinit.uniform_(x, **kw)
            assert r is x


def test_bad_generator_numpy():
    a = np.full(5, 7.0, dtype=np.float32)
    for g in ("g", 1.5, [1], object()):
        refused(lambda: fastinit.uniform_(a, generator=g), a, (TypeError, ValueError), ["generator", "seed", "rng", type(g).__name__])


@pytest.mark.parametrize("g", [3, "g", 1.5, np.random.default_rng(0), object()], ids=lambda g: type(g).__name__)
def test_bad_generator_torch_like_torch(g):
    te = _torch_outcome(lambda: torch.nn.init.uniform_(torch.full((5,), 7.0), generator=g))
    assert te is not None
    t = torch.full((5,), 7.0)
    e = refused(lambda: fastinit.uniform_(t, generator=g), t, (type(te),), [str(te)])
    assert str(e) == str(te)


@pytest.mark.parametrize("name", ["uniform_", "normal_", "trunc_normal_", "kaiming_uniform_"])
def test_tensor_without_memory_is_refused_not_written(name):
    """A FakeTensor (like a wrapper subclass other than DTensor) reports data_ptr() 0:
    fastinit refuses it instead of writing through a null pointer (a DTensor passed before
    fastinit supported them crashed the process this way)."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode():
        fake = torch.empty(4, 4)
    with pytest.raises(TypeError, match="no memory of its own"):
        getattr(fastinit, name)(fake, seed=1)
