"""fastinit on torch.distributed: the seed check that sharded init relies on.

fastinit's init functions take DTensors directly (FSDP2 ``fully_shard``, tensor parallel,
any mesh of Shard / Replicate / _StridedShard placements): each rank fills its own shard
with the values that a single-process fill of the global tensor holds there. No values
cross the network, but the ranks must agree on the seed. With ``seed=`` given that is the
caller's business; without it every rank draws the key from its own
``torch.default_generator`` (or the ``generator`` passed), so every rank must have called
``torch.manual_seed`` with the same value. :func:`assert_same_seed` checks that with one
all-reduce.
"""

import hashlib as _hashlib

from .core import shards as _shards

__all__ = ["assert_same_seed", "local_segments"]


def _group_of(mesh):
    """The process group spanning ``mesh`` (a DeviceMesh, a ProcessGroup, or None for the
    default group) and the device its collectives run on."""
    import torch
    import torch.distributed as dist

    if mesh is None or isinstance(mesh, dist.ProcessGroup):
        group = mesh
        backend = dist.get_backend(group)
        device_type = "cuda" if backend == "nccl" else "cpu"
    else:  # a DeviceMesh
        device_type = mesh.device_type
        if mesh.ndim == 1:
            group = mesh.get_group()
        elif mesh.size() == dist.get_world_size():
            group = None
        else:
            group = mesh._flatten().get_group()
    if device_type == "cuda":
        device = torch.device("cuda", torch.cuda.current_device())
    else:
        device = torch.device(device_type)
    return group, device


def _state_digest(generator) -> int:
    """63 bits of SHA-256 of the generator's state: equal states, equal digests."""
    state = generator.get_state()
    return int.from_bytes(_hashlib.sha256(bytes(state.tolist())).digest()[:8], "little") >> 1


def assert_same_seed(mesh=None, generator=None) -> None:
    """Raise unless every rank of ``mesh`` has the same state in ``generator``.

    Without ``seed=``, fastinit's init functions draw their key from this generator on
    every rank, so sharded parameters match a single-process init only if the states
    agree. One all-reduce; the generator is only read, not advanced. Every rank of the
    group must call it.

    Args:
        mesh: a ``DeviceMesh`` (all its ranks are checked), a ``ProcessGroup``, or None
            (the default group).
        generator (torch.Generator, optional): default ``torch.default_generator``.

    Raises:
        RuntimeError: the states differ; the message names the disagreeing ranks.
        TypeError: ``generator`` is not a ``torch.Generator``.

    Example:
        >>> torch.manual_seed(0)                       # the same seed on every rank
        >>> fastinit.distributed.assert_same_seed(mesh)
    """
    import torch
    import torch.distributed as dist

    gen = torch.default_generator if generator is None else generator
    if not isinstance(gen, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, not {type(gen).__name__}")
    group, device = _group_of(mesh)
    size, me = dist.get_world_size(group), dist.get_rank(group)
    # Each rank writes its digest in its own slot; the sum is every rank's digest, exactly.
    slots = torch.zeros(size, dtype=torch.int64, device=device)
    slots[me] = _state_digest(gen)
    dist.all_reduce(slots, op=dist.ReduceOp.SUM, group=group)
    digests = slots.tolist()
    if len(set(digests)) == 1:
        return
    ranks = [dist.get_global_rank(group, i) if group is not None else i for i in range(size)]
    by_state = {}
    for r, d in zip(ranks, digests):
        by_state.setdefault(d, []).append(r)
    groups = sorted(by_state.values(), key=lambda rs: (-len(rs), rs))
    others = sorted(r for rs in groups[1:] for r in rs)
    desc = "; ".join("ranks " + ", ".join(map(str, rs)) if len(rs) > 1 else f"rank {rs[0]}" for rs in groups)
    raise RuntimeError(
        f"fastinit: the generator state differs across ranks: rank(s) {', '.join(map(str, others))} "
        f"disagree with rank {groups[0][0]} (groups of equal states: {desc}). Without seed=, every rank "
        "draws the init key from this generator, so sharded parameters would not match a single-process "
        "init: call torch.manual_seed(s) with the same s on every rank (or pass the same seed= everywhere)."
    )


def local_segments(dtensor):
    """What this rank fills of a DTensor: per tensor dim, runs of global indices.

    Args:
        dtensor (DTensor): placements ``Shard``, ``Replicate`` or ``_StridedShard`` on a
            mesh of any dimension (``Partial`` is refused).

    Returns:
        tuple: per dim, a tuple of ``(global_start, length)`` runs in local order; the
        local tensor is the box they span in the global tensor.

    Raises:
        TypeError: not a DTensor. ValueError: a ``Partial`` placement.

    Example:
        >>> fastinit.distributed.local_segments(model.layers[0].attn.q.weight)
        (((1024, 1024),), ((0, 4096),))
    """
    if not _shards.is_dtensor(dtensor):
        raise TypeError(f"local_segments expects a DTensor, not {type(dtensor).__name__}")
    _shards.check_placements(dtensor.placements)
    return _shards.dtensor_segments(dtensor)
