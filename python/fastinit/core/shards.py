"""DTensor shards as boxes of the global tensor (issue 5).

fastinit's value at an element depends only on (seed, offset + its row-major index in the
*global* shape). A rank of a DTensor holds, along each tensor dim, some global indices in
some order; this module works them out from the mesh coordinate and the placements, as
runs of consecutive global indices ("segments"), so that the local tensor is a union of
boxes of the global tensor. Each box is one kernel call whose stream indices are given by
the global shape's row-major strides (FillTarget.istrides, csrc/fill.h). No communication
is needed: every rank computes its own boxes.

Placement semantics (torch 2.13, torch/distributed/tensor/placement_types.py), applied
mesh dim by mesh dim, left to right, to what the previous mesh dims left on this rank:
* ``Shard(d)``: ``torch.chunk`` along d into n pieces (piece size ceil(L / n); the last
  pieces shorter or empty), coordinate c keeps piece c;
* ``_StridedShard(d, split_factor=f)`` (FSDP2 over tensor parallel): chunk into f pieces,
  each of those into n pieces, and keep the concatenation of piece c of each;
* ``Replicate``: everything; ``Partial``: refused (the local tensor is not a part of the
  value, it is a summand).
"""

from __future__ import annotations

import functools
import sys

_MASK64 = (1 << 64) - 1


def dtensor_type():
    """torch's DTensor class if torch.distributed.tensor has been imported (a DTensor
    cannot exist otherwise), else None."""
    mod = sys.modules.get("torch.distributed.tensor")
    return getattr(mod, "DTensor", None) if mod is not None else None


def is_dtensor(obj) -> bool:
    cls = dtensor_type()
    return cls is not None and isinstance(obj, cls)


def local_tensor(dt):
    """The rank's local tensor (same storage: writes go to the DTensor)."""
    return dt._local_tensor


def _chunk(length: int, n: int, c: int) -> tuple[int, int]:
    """[start, stop) of piece c of torch.chunk(range(length), n), empty pieces included."""
    size = -(-length // n) if n > 0 else 0
    return min(c * size, length), min((c + 1) * size, length)


def _take(segs, start: int, stop: int):
    """The segments covering local positions [start, stop) of ``segs``."""
    out, pos = [], 0
    for g, n in segs:
        lo, hi = max(start, pos), min(stop, pos + n)
        if lo < hi:
            out.append((g + lo - pos, hi - lo))
        pos += n
    return out


def _length(segs) -> int:
    return sum(n for _, n in segs)


def check_placements(placements) -> None:
    """Refuses what has no fill: a Partial placement."""
    for m, p in enumerate(placements):
        if p.is_partial():
            raise ValueError(
                f"fastinit: cannot initialize a DTensor with a Partial placement ({p} on mesh dim {m}): its "
                "local tensors are summands of the value, not parts of it. Redistribute it to Shard or "
                "Replicate first."
            )


def segments(global_shape, placements, mesh_sizes, coordinate):
    """Per tensor dim, the list of (global start, length) runs that this rank holds, in
    local order. ``coordinate`` is the rank's mesh coordinate (None: not in the mesh,
    nothing held)."""
    shape = [int(s) for s in global_shape]
    segs = [[(0, s)] if s > 0 else [] for s in shape]
    if coordinate is None:
        return [[] for _ in shape]
    from torch.distributed.tensor.placement_types import _StridedShard

    for m, p in enumerate(placements):
        n, c = int(mesh_sizes[m]), int(coordinate[m])
        if isinstance(p, _StridedShard):
            d = p.dim % len(shape)
            f = int(p.split_factor)
            cur, length, kept = segs[d], _length(segs[d]), []
            for j in range(f):
                a, b = _chunk(length, f, j)
                lo, hi = _chunk(b - a, n, c)
                kept += _take(cur, a + lo, a + hi)
            segs[d] = kept
        elif p.is_shard():
            d = p.dim % len(shape)
            lo, hi = _chunk(_length(segs[d]), n, c)
            segs[d] = _take(segs[d], lo, hi)
        elif p.is_replicate():
            continue
        else:
            check_placements([p])
            raise ValueError(f"fastinit: unsupported DTensor placement {p!r} on mesh dim {m}")
    return segs


@functools.lru_cache(maxsize=4096)
def _mesh_segments(global_shape, placements, mesh):
    # A model's parameters share a handful of (shape, placements, mesh) triples.
    segs = segments(global_shape, placements, mesh.shape, mesh.get_coordinate())
    return tuple(tuple(s) for s in segs)


def dtensor_segments(dt):
    """segments() for a DTensor, checked against its local tensor's shape."""
    mesh = dt.device_mesh
    segs = _mesh_segments(tuple(dt.shape), tuple(dt.placements), mesh)
    local = local_tensor(dt)
    have = [_length(s) for s in segs]
    if have != list(local.shape) and mesh.get_coordinate() is not None:
        raise RuntimeError(
            f"fastinit: the local tensor of this DTensor has shape {tuple(local.shape)}, but its global shape "
            f"{tuple(dt.shape)} and placements {tuple(dt.placements)} give this rank {tuple(have)}"
        )
    return segs


def boxes(segs, global_shape, mem_strides, offset: int):
    """The kernel calls for a local tensor holding ``segs``: (byte offset from the local
    tensor's first element, box sizes, stream offset). Index strides are the global
    shape's row-major strides (returned first)."""
    gstrides, calls = _boxes(tuple(tuple(s) for s in segs), tuple(global_shape), tuple(mem_strides))
    return gstrides, [(b, sizes, (first + offset) & _MASK64) for b, sizes, first in calls]


@functools.lru_cache(maxsize=4096)
def _boxes(segs, global_shape, mem_strides):
    nd = len(global_shape)
    gstrides, acc = [0] * nd, 1
    for d in range(nd - 1, -1, -1):
        gstrides[d] = acc
        acc *= max(int(global_shape[d]), 1)
    if any(not s for s in segs):
        return gstrides, ()
    out = [(0, [], 0)]
    for d, ss in enumerate(segs):
        runs, pos = [], 0
        for g, n in ss:
            runs.append((pos, g, n))
            pos += n
        out = [(b + p * mem_strides[d], sizes + [n], o + g * gstrides[d]) for b, sizes, o in out for p, g, n in runs]
    return gstrides, tuple(out)


def zero_row(t, row: int) -> None:
    """``t[row] = 0`` along dim 0 (Embedding's padding_idx). For a DTensor, each rank zeroes
    the global row ``row`` in its local tensor if it holds it: torch's own ``t[row].fill_(0)``
    on a DTensor sharded along dim 0 fills a gathered copy and leaves ``t`` unchanged
    (torch 2.13, checked by tests/test_distributed.py)."""
    import torch

    with torch.no_grad():
        if not is_dtensor(t):
            t[row].fill_(0)
            return
        local, pos = local_tensor(t), 0
        for g, n in dtensor_segments(t)[0]:
            if g <= row < g + n:
                local[pos + row - g].fill_(0)
            pos += n
        torch.autograd.graph.increment_version(t)
