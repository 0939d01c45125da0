"""The rest of torch.nn.init: ``orthogonal_``, ``sparse_``, ``eye_``, ``dirac_``.

``orthogonal_`` and ``sparse_`` follow torch 2.13's algorithms step for step, with every
random number taken from fastinit's counter streams, so that a seed gives the same values
on any thread count, SIMD path, device and sharding. ``eye_`` and ``dirac_`` are
deterministic: the same values as torch, the same checks, exception types and messages.
``orthogonal_``, ``sparse_``, ``eye_`` and ``dirac_`` take torch tensors (and DTensors).
"""

from __future__ import annotations

import contextlib
import math

from .standard import normal_, uniform_
from ..core.kernel import (
    _as_float,
    _check_generator,
    _check_normal_std,
    _describe,
    _handle_torch_function,
    _wants_torch_function,
    functorch_transform,
    outside_functorch,
    refuse_functorch,
)
from ..core.shards import check_placements, dtensor_segments, is_dtensor, local_tensor
from ..core.seeds import check_cpu_isa, check_u64, derive_seed, torch_seed
from ..core.targets import check_no_overlap, check_torch_inplace, check_torch_memory, is_torch_tensor

__all__ = [
    "orthogonal_",
    "sparse_",
    "eye_",
    "dirac_",
]


def _torch_only(tensor, op: str):
    if not is_torch_tensor(tensor):
        raise TypeError(f"fastinit.{op}: expects a torch.Tensor, not {type(tensor).__name__} "
                        "(NumPy arrays: use torch.from_numpy)")


def _as_outside(tensor):
    """eye_'s and dirac_'s writes: torch's own ops on a torch.func wrapper (as torch.nn.init's
    eye_ and dirac_ run them, in the transform); on a tensor no transform wraps, as outside
    any transform (grad refuses to mutate a tensor captured from outside)."""
    return outside_functorch() if functorch_transform(tensor) is None else contextlib.nullcontext()


def _global_indices(tensor):
    """Per dim, a CPU int64 tensor of the global indices that ``tensor`` holds locally
    (arange for a plain tensor; the rank's runs for a DTensor), and the local tensor."""
    import torch

    if not is_dtensor(tensor):
        return [torch.arange(s) for s in tensor.shape], tensor
    check_placements(tensor.placements)
    segs = dtensor_segments(tensor)
    idx = [torch.cat([torch.arange(g, g + n) for g, n in ss]) if ss else torch.zeros(0, dtype=torch.int64)
           for ss in segs]
    return idx, local_tensor(tensor)


def _write_whole(tensor, whole) -> None:
    """Copy ``whole`` (a CPU tensor of the global shape) into ``tensor``: all of it for a
    plain tensor; for a DTensor, the rank's part of it (so every rank must compute the
    same ``whole``: same seed, same deterministic computation)."""
    import torch

    idx, local = _global_indices(tensor)
    part = whole
    if local is not tensor:
        for d, ix in enumerate(idx):
            part = part.index_select(d, ix)
    with torch.no_grad():
        local.copy_(part.to(device=local.device, dtype=local.dtype))
    if local is not tensor:
        torch.autograd.graph.increment_version(tensor)


# --------------------------------------------------------------------------
# eye_, dirac_ (deterministic)
# --------------------------------------------------------------------------


def eye_(tensor):
    """Fill the 2-D ``tensor`` with the identity matrix.

    Drop-in for ``torch.nn.init.eye_``: ones at ``[i, i]`` for ``i < min(rows, cols)``,
    zeros elsewhere, in any dtype that ``torch.eye`` takes. Deterministic: no random
    numbers, so there is no ``seed``, ``offset`` or ``generator``; the same values as
    torch, the same checks, exception types and messages. A DTensor gets, on each rank,
    its part of the global identity.

    Args:
        tensor: the 2-D torch tensor to fill in place (CPU or CUDA; an ``nn.Parameter``; a
            DTensor). NumPy arrays are refused (use ``torch.from_numpy``).

    Returns:
        ``tensor`` itself, filled.

    Raises:
        TypeError: ``tensor`` is not a ``torch.Tensor``.
        ValueError: ``tensor`` is not 2-D ("Only tensors with 2 dimensions are
            supported", torch's message). A dtype that ``torch.eye`` refuses raises
            torch's own error.

    Example:
        >>> w = torch.empty(3, 5)
        >>> fastinit.eye_(w)          # w[i, i] = 1 for i < 3, 0 elsewhere
    """
    if _wants_torch_function(tensor):
        return _handle_torch_function(eye_, tensor)
    import torch

    _torch_only(tensor, "eye_")
    if tensor.ndimension() != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    # torch's eye(out=) writes a freed or read-only storage (a crash): checked first. A
    # torch.func wrapper has no memory to check: torch's own op, as torch.nn.init.eye_
    if functorch_transform(tensor) is None:
        check_torch_memory(local_tensor(tensor) if is_dtensor(tensor) else tensor)
    if not is_dtensor(tensor):
        with torch.no_grad(), _as_outside(tensor):
            torch.eye(*tensor.shape, out=tensor, requires_grad=tensor.requires_grad)
        return tensor
    (ri, ci), local = _global_indices(tensor)
    if local.device.type != "meta":
        with torch.no_grad():
            local.copy_(ri[:, None] == ci[None, :])
        torch.autograd.graph.increment_version(tensor)
    return tensor


def dirac_(tensor, groups=1):
    """Fill the {3, 4, 5}-D ``tensor`` with the Dirac delta.

    Drop-in for ``torch.nn.init.dirac_``: zeros, and for each group ``g`` and
    ``d < min(out_channels // groups, in_channels)`` a one at
    ``[g * (out_channels // groups) + d, d, k // 2, ...]`` (the kernel's centre), so that a
    convolution with this weight passes its input channels through (as many as it has
    output channels per group). Deterministic: no random numbers, so there is no
    ``seed``, ``offset`` or ``generator``.

    torch's checks, exception types and messages, in its order. Where torch raises only
    after zeroing the tensor (``groups`` not an int, a zero-size kernel dim), fastinit raises
    the same exception before writing anything. A meta tensor is returned after the
    checks, untouched. A DTensor: each rank writes its part.

    Args:
        tensor: the torch tensor to fill in place, 3, 4 or 5 dimensions in the layout
            ``(out_channels, in_channels, *kernel)`` (CPU or CUDA; an ``nn.Parameter``; a
            DTensor). NumPy arrays are refused (use ``torch.from_numpy``).
        groups (int): the number of groups of the convolution; ``out_channels`` must be
            divisible by it. Default 1.

    Returns:
        ``tensor`` itself, filled.

    Raises:
        TypeError: ``tensor`` is not a ``torch.Tensor``; ``groups`` is not an int (from
            ``range``, as in torch).
        ValueError: not 3, 4 or 5 dimensions ("Only tensors with 3, 4, or 5 dimensions are
            supported"); ``out_channels`` not divisible by ``groups`` ("dim 0 must be
            divisible by groups").
        IndexError: a zero-size kernel dim while there are ones to place (torch's
            indexing error).
        Nothing is written when a call raises. A tensor that a torch.func transform
        wraps gets torch's own ops, so torch's outcome there.

    Example:
        >>> w = torch.empty(16, 16, 3, 3)
        >>> fastinit.dirac_(w)                            # a 3x3 conv that is the identity
        >>> fastinit.dirac_(torch.empty(24, 8, 3), groups=3)
    """
    if _wants_torch_function(tensor):
        return _handle_torch_function(dirac_, tensor, groups=groups)
    import torch

    _torch_only(tensor, "dirac_")
    dimensions = tensor.ndimension()
    if dimensions not in [3, 4, 5]:
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    sizes = tensor.size()
    if sizes[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    if tensor.is_meta:
        return tensor
    out_chans_per_grp = sizes[0] // groups
    min_dim = min(out_chans_per_grp, sizes[1])
    # torch's loops, built before anything is written: range() raises torch's TypeError
    ones = [(g * out_chans_per_grp + d, d) for g in range(groups) for d in range(min_dim)]
    centre = tuple(s // 2 for s in sizes[2:])
    if ones:
        for k, (c, s) in enumerate(zip(centre, sizes[2:])):
            if c >= s:  # torch's indexing error for a zero-size kernel dim
                raise IndexError(f"index {c} is out of bounds for dimension {k + 2} with size {s}")
    idx, local = _global_indices(tensor)
    if functorch_transform(local) is None:  # a torch.func wrapper: torch's own ops, as torch's dirac_
        check_torch_memory(local)  # zero_() and the ones are written through torch ops
    # global -> local position along each dim (-1: not held here)
    pos = []
    with outside_functorch():  # fastinit's own temporaries
        for d, ix in enumerate(idx):
            p = torch.full((sizes[d],), -1, dtype=torch.int64)
            p[ix] = torch.arange(ix.numel())
            pos.append(p)
    with torch.no_grad(), _as_outside(local):
        local.zero_()
        for o, i in ones:
            at = (o, i) + centre
            loc = tuple(int(pos[d][a]) for d, a in enumerate(at))
            if min(loc) >= 0:
                local[loc] = 1
    if local is not tensor:
        torch.autograd.graph.increment_version(tensor)
    return tensor


# --------------------------------------------------------------------------
# orthogonal_
# --------------------------------------------------------------------------


def orthogonal_(tensor, gain=1, generator=None, *, seed=None, offset=0):
    """Fill ``tensor`` with a (semi-)orthogonal matrix.

    Drop-in for ``torch.nn.init.orthogonal_`` (Saxe et al. 2013), plus the keyword-only
    ``seed`` and ``offset``; trailing dims flattened: ``rows = size(0)``,
    ``cols = numel / rows``. A tensor with no elements, or on ``meta``, is returned
    untouched.

    torch's algorithm step for step: a ``(rows, cols)`` temporary of the tensor's dtype
    filled by ``fastinit.normal_`` (N(0, 1), stream ``(seed, offset + i)`` over the
    temporary's row-major index ``i``; one key drawn from ``generator`` when ``seed`` is
    None), transposed when ``rows < cols``, QR-factorized, ``Q`` multiplied column-wise by
    ``sign(diag(R))`` (Mezzadri, arXiv:math-ph/0609050, so ``Q`` is Haar-distributed),
    transposed back, copied in and multiplied by ``gain`` in the tensor's dtype.

    Difference from torch, for reproducibility: the draw and the QR always run on the
    host, the QR in float64 with torch's LAPACK on one thread (``torch.set_num_threads(1)``
    for the duration of the call: process-wide, so other threads' torch CPU ops run on one
    thread meanwhile), so a seed gives the same bits on CPU and CUDA and on any thread
    count, and 16-bit dtypes (which torch's CPU QR refuses) work too. The values depend
    only on (seed, offset, shape, dtype, gain), with one caveat: the QR is LAPACK's
    (torch's build), so across CPU types or torch builds its float64 result may differ in
    the last bits; rounded to float32 or narrower that almost never shows, in float64 it
    can. Cost: a ``rows x cols`` temporary and its float64 copy on the host, a host QR of
    O(rows * cols * min(rows, cols)) flops, and for CUDA tensors one host-to-device copy.

    DTensor: every rank computes the whole matrix (same seed rule as every fastinit fill:
    the same ``seed``, or the same generator state on every rank) and keeps its part.
    Cost per rank: the full QR and a full-size host temporary, not a shard's worth;
    no communication.

    Args:
        tensor: the torch tensor to fill in place, at least 2 dimensions: CPU or CUDA,
            float32, float64, float16 or bfloat16 (the dtypes ``fastinit.normal_``
            takes), any strided view, an ``nn.Parameter``, a DTensor. NumPy arrays are
            refused (use ``torch.from_numpy``).
        gain (float): the factor the orthogonal matrix is multiplied by. Default 1.
        generator: where the key comes from when ``seed`` is None: a ``torch.Generator``
            (default: ``torch.default_generator``, the CPU generator, also for CUDA
            tensors). One 64-bit key is drawn per call (docs/STREAM.md section 4).
        seed (int, keyword-only): the Philox key, in [0, 2**64). When given, no generator
            is read or advanced.
        offset (int, keyword-only): the stream index of element 0 of the ``(rows, cols)``
            temporary, in [0, 2**64); default 0. Every output value depends on the whole
            temporary (the QR), so filling a part of a tensor with an offset does not give
            that part of the whole tensor's values.

    Returns:
        ``tensor`` itself, filled.

    Raises:
        TypeError: ``tensor`` is not a ``torch.Tensor``.
        ValueError: fewer than 2 dimensions ("Only tensors with 2 or more dimensions are
            supported", torch's message).
        RuntimeError: an overlapping view (torch's message).
        The exception type and message of ``fastinit.normal_`` for a dtype it refuses, a
        bad generator, or a seed or offset outside [0, 2**64). RuntimeError for a tensor
        that a torch.func transform (vmap, grad, jvp) wraps, naming the transform. All of
        these are raised before anything is written or drawn.

    Example:
        >>> w = torch.empty(256, 512)
        >>> fastinit.orthogonal_(w, seed=0)     # the same bits on CPU, CUDA, any thread count
        >>> fastinit.orthogonal_(w, gain=fastinit.calculate_gain("relu"))
    """
    if _wants_torch_function(tensor):
        return _handle_torch_function(orthogonal_, tensor, gain=gain, generator=generator, seed=seed, offset=offset)
    import torch

    _torch_only(tensor, "orthogonal_")
    if tensor.ndimension() < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0 or tensor.is_meta:
        return tensor
    rows = tensor.size(0)
    cols = tensor.numel() // rows
    local = local_tensor(tensor) if is_dtensor(tensor) else tensor
    if is_dtensor(tensor):
        check_placements(tensor.placements)
    refuse_functorch(local, "orthogonal_")
    check_torch_memory(local)  # written by copy_ and mul_: checked before the draw
    if not local.is_contiguous() and local.numel() > 0:
        d = _describe(local, "normal_", True)
        check_no_overlap(d.sizes, d.strides, d.itemsize)
    # torch: tensor.new_empty((rows, cols)).normal_(0, 1, generator=generator); the
    # temporary lives on the host (the QR does), with the tensor's dtype, so the values
    # are fastinit's normal stream for that dtype and a dtype torch refuses is refused
    # with normal_'s message.
    # (a plain tensor used inside a torch.func transform: all of it as outside the transform)
    with outside_functorch():
        flattened = torch.empty((rows, cols), dtype=local.dtype)
        normal_(flattened, 0, 1, generator, seed=seed, offset=offset)
        q = _sign_corrected_q(flattened.double(), rows < cols)
    with torch.no_grad(), outside_functorch():
        _write_whole(tensor, q.reshape(tensor.shape))
        tensor.mul_(gain) if not is_dtensor(tensor) else local.mul_(gain)
    return tensor


def _sign_corrected_q(flattened, wide: bool):
    """torch's orthogonal_ after the draw: QR of the tall orientation, columns of Q
    multiplied by sign(diag(R)). Runs torch's LAPACK QR (geqrf + orgqr) on one thread so
    that the result does not depend on torch's thread count."""
    import torch

    if wide:
        flattened = flattened.t()
    prev = torch.get_num_threads()
    # LAPACK's blocked Householder QR may split work by thread; one thread makes its
    # rounding independent of torch.set_num_threads.
    torch.set_num_threads(1)
    try:
        q, r = torch.linalg.qr(flattened)
    finally:
        torch.set_num_threads(prev)
    q *= torch.diag(r, 0).sign()
    return q.t() if wide else q


# --------------------------------------------------------------------------
# sparse_
# --------------------------------------------------------------------------

_SPARSE_RANK_NAME = "fastinit.sparse_:zeros"


def sparse_(tensor, sparsity, std=0.01, generator=None, *, seed=None, offset=0):
    """Fill the 2-D ``tensor`` as a sparse matrix: normal values, some of each column zeroed.

    Drop-in for ``torch.nn.init.sparse_`` (Martens 2010), plus the keyword-only ``seed``
    and ``offset``: N(0, std^2) values, then in every column
    ``num_zeros = ceil(sparsity * rows)`` entries set to 0 (torch's count, including its
    slicing of a negative or too large count: ``len(range(rows)[:num_zeros])`` zeros per
    column).

    Both from fastinit's counter streams, under one 64-bit key ``k`` (``seed``, or one draw
    from ``generator`` / ``torch.default_generator``):

    * values: exactly ``normal_(tensor, 0, std, seed=k, offset=offset)``;
    * zeros: each element ``(r, c)`` gets a ranking key ``u[r, c]``, the float64 U(0, 1)
      uniform stream of key ``derive_seed(k, "fastinit.sparse_:zeros")`` (the per-name key
      of ``init_module_``) at index ``offset + r * cols + c``; in column ``c`` the
      ``num_zeros`` rows with the smallest keys (ties: lower row first) are zeroed. This is
      a uniformly random subset per column, as torch's ``randperm(rows)[:num_zeros]``,
      and depends only on ``(k, offset, shape)``.

    So the values depend only on (k, offset, shape, dtype, std, sparsity): the same bits on
    any thread count, SIMD path, device and sharding. Unlike torch (whose ``randperm``
    ignores ``generator``), ``generator`` controls both. A DTensor: values filled shard by
    shard; every rank computes the whole ranking (``rows x cols`` float64 on the host) and
    zeroes its part. A tensor with no elements is checked and returned untouched (no key
    drawn); a ``meta`` tensor is returned untouched.

    Args:
        tensor: the 2-D torch tensor to fill in place: CPU or CUDA, float32, float64,
            float16 or bfloat16 (the dtypes ``fastinit.normal_`` takes), any strided view,
            an ``nn.Parameter``, a DTensor. NumPy arrays are refused (use
            ``torch.from_numpy``).
        sparsity (float): the fraction of each column set to zero (count as above).
        std (float): the standard deviation of the normal values. Default 0.01.
        generator: where the key comes from when ``seed`` is None: a ``torch.Generator``
            (default: ``torch.default_generator``, the CPU generator, also for CUDA
            tensors). One 64-bit key is drawn per call (docs/STREAM.md section 4).
        seed (int, keyword-only): the key ``k``, in [0, 2**64). When given, no generator is
            read or advanced.
        offset (int, keyword-only): the stream index of element ``(0, 0)``, for both the
            values and the ranking keys, in [0, 2**64); default 0.

    Returns:
        ``tensor`` itself, filled.

    Raises:
        TypeError: ``tensor`` is not a ``torch.Tensor``.
        ValueError: ``tensor`` is not 2-D ("Only tensors with 2 dimensions are supported",
            torch's message).
        The exception types and messages of torch's ``tensor.normal_(0, std,
        generator=generator)`` for a bad ``std`` or ``generator`` and of
        ``fastinit.normal_`` for a dtype or view it refuses, checked before any draw;
        TypeError or ValueError for a seed or offset outside [0, 2**64). RuntimeError for
        a tensor that a torch.func transform (vmap, grad, jvp) wraps, naming the
        transform. Nothing is written and no generator advances when a call raises.

    Example:
        >>> w = torch.empty(100, 50)
        >>> fastinit.sparse_(w, sparsity=0.1, seed=0)     # 10 zeros in every column
        >>> fastinit.sparse_(w, 0.9, std=0.02, generator=torch.Generator().manual_seed(1))
    """
    if _wants_torch_function(tensor):
        return _handle_torch_function(sparse_, tensor, sparsity=sparsity, std=std, generator=generator, seed=seed,
                                      offset=offset)
    import torch

    _torch_only(tensor, "sparse_")
    if tensor.ndimension() != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    if tensor.is_meta:
        return tensor
    rows, cols = tensor.shape
    num_zeros = math.ceil(sparsity * rows)
    # torch's checks of tensor.normal_(0, std, generator=generator), before any draw
    std_f = _as_float(std, "normal_", "std", 2)
    if generator is not None:
        _check_generator(generator, True, "normal_")
    local = local_tensor(tensor) if is_dtensor(tensor) else tensor
    _check_normal_std(std_f, local, True)
    refuse_functorch(local, "sparse_")
    if tensor.numel() > 0:
        # every refusal of the normal_ and masked_fill_ below, before the key is drawn
        # (issue 18 finding 10: an expanded or overlapping view advanced the generator)
        target = _describe(local, "normal_", True)
        if not target.contiguous:
            check_no_overlap(target.sizes, target.strides, target.itemsize)
        if local is not tensor:
            check_placements(tensor.placements)
    offset = check_u64(offset, "offset")
    key = None if seed is None else check_u64(seed, "seed")
    if local.device.type != "meta":
        check_torch_inplace(local)
    if tensor.numel() == 0:
        return tensor
    if local.device.type == "cpu":
        check_cpu_isa()
    if key is None:
        key = torch_seed(generator)
    normal_(tensor, 0, std, seed=key, offset=offset)
    n_zero = len(range(rows)[:num_zeros])
    if n_zero == 0:
        return tensor
    # (a plain tensor used inside a torch.func transform: all of it as outside the transform)
    with outside_functorch():
        ranks = torch.empty((rows, cols), dtype=torch.float64)
        uniform_(ranks, 0.0, 1.0, seed=derive_seed(key, _SPARSE_RANK_NAME), offset=offset)
        zero = _smallest_per_column(ranks, n_zero)
        idx, loc = _global_indices(tensor)
        zl = zero if loc is tensor else zero.index_select(0, idx[0]).index_select(1, idx[1])
        zl = zl.to(loc.device)
    with torch.no_grad(), outside_functorch():
        loc.masked_fill_(zl, 0)
    if loc is not tensor:
        torch.autograd.graph.increment_version(tensor)
    return tensor


def _smallest_per_column(keys, k: int):
    """Boolean mask of the ``k`` smallest keys in each column (ties: lower row first).
    A threshold from ``topk`` of the smaller side (keys are 53-bit, so a tie at the
    threshold is rare; a column that has one is ranked again by a stable sort)."""
    import torch

    rows = keys.shape[0]
    if k <= 0 or k >= rows:
        return torch.full(keys.shape, k > 0, dtype=torch.bool)
    if k <= rows - k:
        thr = torch.topk(keys, k, dim=0, largest=False, sorted=False).values.amax(0)
        mask = keys <= thr
    else:
        thr = torch.topk(keys, rows - k, dim=0, largest=True, sorted=False).values.amin(0)
        mask = keys < thr
    bad = (mask.sum(0) != k).nonzero().flatten()
    if bad.numel():
        order = torch.sort(keys[:, bad], dim=0, stable=True).indices[:k]
        fix = torch.zeros((rows, bad.numel()), dtype=torch.bool)
        fix.scatter_(0, order, True)
        mask[:, bad] = fix
    return mask
