"""Boxes of a larger tensor (issue 5), without processes.

1. The kernel layer: a fill given index strides (the global shape's row-major strides)
   and offset = the box corner's global index writes exactly the values that the whole
   tensor holds in that box: against the independent NumPy reference (uniform) and
   against a whole-tensor fill by the scalar path (normal, truncated normal), for every
   ISA, dtype and thread count, with local buffers in any memory layout, boxes one
   element wide (inner index stride != 1), stream positions that wrap 2^64, and guard
   bytes around the box.
2. The placement arithmetic: fastinit.core.shards.segments() against torch's own local
   split code (Shard._split_tensor / _StridedShard._split_tensor applied mesh dim by
   mesh dim to a tensor of global indices), for 1-D and 2-D meshes, even and uneven.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import reference as R
from conftest import Guarded, assert_bits_equal
from fastinit import _C

import ml_dtypes
DTYPES = {"float32": np.dtype(np.float32), "float64": np.dtype(np.float64), "float16": np.dtype(np.float16),
          "bfloat16": np.dtype(ml_dtypes.bfloat16)}
CODE = {"float32": 0, "float64": 1, "float16": 2, "bfloat16": 3}
SEED = 0x5EED_0F_B0C5

KINDS = {
    "uniform": ("fill", (-0.75, 0.5)),
    "normal": ("fill_normal", (0.25, 2.0)),
    "trunc_normal": ("fill_trunc_normal", (0.0, 1.0, -1.5, 0.5)),
}


def _row_major(shape):
    out, acc = [], 1
    for s in reversed(shape):
        out.insert(0, acc)
        acc *= max(s, 1)
    return out


def _fill(kind, arr, seed, offset, isa="", threads=0, istrides=()):
    name, params = KINDS[kind]
    getattr(_C, name)(arr.__array_interface__["data"][0], CODE[arr.dtype.name], list(arr.shape),
                      list(arr.strides), *params, seed, offset % 2**64, isa, threads, list(istrides))
    return arr


def _whole(kind, dtname, shape, offset):
    """The whole global tensor's values: the NumPy reference for uniform, the scalar
    path's whole-tensor fill (no index strides involved) for the normal family."""
    if kind == "uniform":
        return R.expected(shape, DTYPES[dtname], *KINDS["uniform"][1], SEED, offset)
    return _fill(kind, np.zeros(shape, DTYPES[dtname]), SEED, offset, "scalar", 1)


def _random_boxes(rng, count):
    out = []
    for _ in range(count):
        nd = int(rng.integers(1, 5))
        gshape = [int(x) for x in rng.integers(1, 24 if nd > 2 else 70, nd)]
        start = [int(rng.integers(0, s)) for s in gshape]
        size = [int(rng.integers(1, s - a + 1)) for s, a in zip(gshape, start)]
        out.append((gshape, start, size))
    # edge cases: one-element-wide innermost box (index stride != 1), a single element,
    # a full-width box (rows merge into one run), size-1 global dims
    out += [([9, 7], [0, 3], [9, 1]), ([5, 1, 6], [1, 0, 5], [3, 1, 1]), ([4, 33], [1, 0], [3, 33]),
            ([1, 1, 40], [0, 0, 7], [1, 1, 30]), ([300, 257], [7, 100], [250, 150])]
    return out


BOXES = _random_boxes(np.random.default_rng(5), 24)
LAYOUTS = ["c", "transposed", "reversed", "misaligned"]


def _local(g: Guarded, dt, size, layout):
    n = int(np.prod(size))
    if layout == "misaligned":
        return np.ndarray(size, dtype=dt, buffer=g.buf, offset=1 + 64)
    a = np.ndarray(size if layout != "transposed" else size[::-1], dtype=dt, buffer=g.buf, offset=64)
    if layout == "transposed":
        return a.T
    if layout == "reversed":
        return a[(slice(None, None, -1),) * len(size)]
    assert a.size == n
    return a


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("dtname", list(DTYPES))
def test_box_equals_slice_of_whole(isa, kind, dtname):
    dt = DTYPES[dtname]
    for k, (gshape, start, size) in enumerate(BOXES):
        base = [0, 2**32 - 5, 2**64 - 3][k % 3]
        whole = _whole(kind, dtname, gshape, base)
        istr = _row_major(gshape)
        layout = LAYOUTS[k % len(LAYOUTS)]
        g = Guarded(int(np.prod(size)) * dt.itemsize + 256, seed=k)
        box = _local(g, dt, size, layout)
        corner = sum(a * s for a, s in zip(start, istr))
        _fill(kind, box, SEED, base + corner, isa, 1 + k % 2, istr)
        want = whole[tuple(slice(a, a + n) for a, n in zip(start, size))]
        assert_bits_equal(box, np.ascontiguousarray(want), f"{kind} {dtname} {gshape} box {start}+{size} {layout}")
        g.check_outside(box)


def test_large_box_threads(isa):
    """A box bigger than the parallel threshold, several threads, rows of a wide matrix."""
    gshape, start, size = [700, 1500], [0, 333], [700, 901]
    whole = _whole("uniform", "float32", gshape, 11)
    for threads in (1, 2, 3):
        box = np.zeros(size, np.float32)
        _fill("uniform", box, SEED, 11 + start[1], isa, threads, _row_major(gshape))
        assert_bits_equal(box, whole[:, 333:1234], f"threads={threads}")


def test_default_index_strides_are_row_major():
    """No istrides = the row-major strides of the target's own shape (a whole tensor)."""
    a = _fill("uniform", np.zeros((5, 6, 7), np.float32), SEED, 3)
    b = _fill("uniform", np.zeros((5, 6, 7), np.float32), SEED, 3, istrides=_row_major([5, 6, 7]))
    assert_bits_equal(a, b)
    assert_bits_equal(a, R.expected((5, 6, 7), np.float32, *KINDS["uniform"][1], SEED, 3))


@pytest.mark.parametrize("istrides, msg", [([1], "differ in length"), ([7, -1], "negative index stride")])
def test_bad_index_strides_refused(istrides, msg):
    a = np.full((3, 7), 9.0, np.float32)
    with pytest.raises(ValueError, match=msg):
        _fill("uniform", a, SEED, 0, istrides=istrides)
    assert (a == 9.0).all()


# --- placements -------------------------------------------------------------------------

import torch  # noqa: E402
from torch.distributed.tensor import Replicate, Shard  # noqa: E402
from torch.distributed.tensor.placement_types import _StridedShard  # noqa: E402

from fastinit.core.shards import boxes, segments  # noqa: E402


def _torch_local_indices(gshape, placements, mesh_shape, coord):
    """Global flat indices held by mesh coordinate ``coord``: torch's own split code,
    mesh dim by mesh dim (left to right), on a tensor of global indices."""
    t = torch.arange(int(np.prod(gshape)), dtype=torch.int64).reshape(gshape)
    for m, p in enumerate(placements):
        if isinstance(p, Replicate):
            continue
        shards, _ = p._split_tensor(t, mesh_shape[m], with_padding=False, contiguous=True)
        t = shards[coord[m]]
    return t


def _fastinit_local_indices(gshape, placements, mesh_shape, coord):
    segs = segments(gshape, placements, mesh_shape, coord)
    per_dim = [np.concatenate([np.arange(g, g + n) for g, n in s]) if s else np.zeros(0, np.int64) for s in segs]
    flat = np.zeros([len(x) for x in per_dim], np.int64)
    for d, (x, st) in enumerate(zip(per_dim, _row_major(gshape))):
        shp = [1] * len(gshape)
        shp[d] = len(x)
        flat = flat + x.reshape(shp) * st
    return flat


def _placement_cases():
    cases = []
    shapes = [(8, 6), (3, 5), (1, 7), (9,), (5, 6, 7), (0, 4), (12, 2), (2, 13)]
    for shape in shapes:
        nd = len(shape)
        for n in (1, 2, 3, 4, 5):
            for p in [Shard(0), Shard(nd - 1), Replicate()]:
                cases.append((shape, [p], (n,)))
        for mesh in [(2, 2), (2, 3), (3, 2)]:
            for pl in [(Shard(0), Shard(nd - 1)), (Shard(nd - 1), Shard(0)), (Shard(0), Shard(0)),
                       (Replicate(), Shard(0)), (Shard(nd - 1), Replicate())]:
                cases.append((shape, list(pl), mesh))
            # FSDP2 over TP: TP's Shard(0) on mesh dim 1, then FSDP's chunks of it (uneven too)
            cases.append((shape, [_StridedShard(0, split_factor=mesh[1]), Shard(0)], mesh))
    return cases


@pytest.mark.parametrize("shape, placements, mesh", _placement_cases(),
                         ids=lambda v: str(v).replace(" ", ""))
def test_segments_match_torch_split(shape, placements, mesh):
    for coord in itertools.product(*[range(n) for n in mesh]):
        want = _torch_local_indices(shape, placements, mesh, coord).numpy()
        got = _fastinit_local_indices(shape, placements, mesh, coord)
        assert got.shape == want.shape, f"coord {coord}: local shape {got.shape} != torch's {want.shape}"
        assert (got == want).all(), f"coord {coord}: global indices differ"


def test_segments_outside_mesh_hold_nothing():
    assert segments((4, 4), [Shard(0)], (2,), None) == [[], []]


def test_boxes_cover_each_held_element_once():
    """boxes() turns segments into kernel calls: byte offsets in the local tensor, box
    sizes and stream offsets that address every local element exactly once, at its
    global index."""
    gshape, mesh = (12, 10), (2, 3)
    pl = [_StridedShard(0, split_factor=3), Shard(1)]
    for coord in itertools.product(range(2), range(3)):
        segs = segments(gshape, pl, mesh, coord)
        local_shape = [sum(n for _, n in s) for s in segs]
        mem = [e * 4 for e in _row_major(local_shape)]  # float32, C order
        istr, calls = boxes(segs, gshape, mem, 100)
        assert istr == _row_major(gshape)
        seen = {}
        for byte_off, sizes, first in calls:
            for idx in itertools.product(*[range(n) for n in sizes]):
                pos = (byte_off + sum(i * s for i, s in zip(idx, mem))) // 4
                assert pos not in seen
                seen[pos] = first + sum(i * s for i, s in zip(idx, istr))
        want = _fastinit_local_indices(gshape, pl, mesh, coord).reshape(-1) + 100
        assert [seen[p] for p in range(len(want))] == want.tolist()
