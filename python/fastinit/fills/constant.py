"""The constant fills of torch.nn.init (``constant_``, ``ones_``, ``zeros_``), for every
dtype torch fills, on torch tensors and NumPy arrays."""

from __future__ import annotations

import contextlib
import math
import numbers

from ..core.docs import shared_doc
from ..core.kernel import (
    _PLAIN_REALS,
    _bump_version,
    _fast_state,
    _handle_torch_function,
    _own_cpu_memory,
    _plain_offset_seed,
    _wants_torch_function,
    functorch_transform,
    outside_functorch,
)
from ..core.seeds import _ambient, check_u64
from ..core.shards import check_placements, is_dtensor, local_tensor
from ..core.targets import (
    Target,
    _describe_numpy,
    _has_no_memory,
    _torch,
    check_no_overlap,
    check_torch_extent,
    describe,
    is_torch_tensor,
)

__all__ = ["constant_", "ones_", "zeros_"]


def _fast_constant(tensor, val, op, seed, offset):
    """The per-call fast path of the constant fills (issue 20): a plain, contiguous,
    non-empty CPU tensor of memory torch allocated, a float or int value, no torch mode or
    transform active. torch's own ``zero_`` / ``fill_`` with grad mode off, as
    torch.nn.init's, without the general path's descriptions and context managers (about
    4 us a call). Returns None, having done nothing, for anything else."""
    state = _fast_state()
    if state is None or type(tensor) not in state[0] or type(val) not in _PLAIN_REALS:
        return None
    if not _plain_offset_seed(seed, offset) or not _own_cpu_memory(tensor, state[1], tensor.element_size()):
        return None
    torch = _torch()
    if _ambient(torch):  # a torch mode or transform: the general path
        return None
    grad = torch.is_grad_enabled()
    torch._C._set_grad_enabled(False)
    try:
        tensor.zero_() if op == "zeros_" else tensor.fill_(val)
    finally:
        torch._C._set_grad_enabled(grad)
    return tensor


def _constant(tensor, val, op, seed, offset):
    """The constant fills, as torch.nn.init's: torch tensors of any dtype through torch's
    own ``fill_`` / ``zero_`` under ``no_grad`` (its conversions, errors and inference-mode
    check), once the view's bytes are checked against its storage (torch does not check:
    its fill_ on a freed storage crashes) and overlapping views refused; NumPy arrays of
    any numeric or bool dtype with the value torch's fill_ would store (:func:`_np_value`)."""
    done = _fast_constant(tensor, val, op, seed, offset)
    if done is not None:
        return done
    # seed and offset are accepted (and checked) so that every public init takes the same
    # keyword arguments; a constant needs no stream.
    check_u64(offset, "offset")
    if seed is not None:
        check_u64(seed, "seed")
    if not is_torch_tensor(tensor):
        return _np_fill(tensor, val, op)
    torch = _torch()
    # A DTensor (Shard / Replicate): each rank fills its local tensor.
    local = tensor
    if is_dtensor(tensor):
        check_placements(tensor.placements)
        local = local_tensor(tensor)
    # A torch.func wrapper (vmap, grad, jvp) has no memory to check: torch's own fill_ /
    # zero_ below, as torch.nn.init's, the same values (issue 18 finding 9)
    if (local.layout is torch.strided and not local.is_nested and local.device.type != "meta" and local.numel()
            and not local._is_zerotensor()  # torch's fill_ refuses a ZeroTensor itself
            and functorch_transform(local) is None):
        esz = local.element_size()
        target = Target(ptr=local.data_ptr(), dtype=None, sizes=list(local.shape),
                        strides=[st * esz for st in local.stride()], device=local.device.type, elsize=esz)
        if not (target.ptr == 0 and torch._is_functional_tensor(local)):
            if type(local) is not torch.Tensor and _has_no_memory(local):
                describe(local, op=op)  # the no-memory TypeError
            check_torch_extent(local, target)
        if not local.is_contiguous():
            check_no_overlap(target.sizes, target.strides, esz)
    # a tensor no transform wraps, used inside one: filled as outside it
    with torch.no_grad(), (outside_functorch() if functorch_transform(local) is None else contextlib.nullcontext()), \
            _outside_dispatch_modes(local, torch):
        local.zero_() if op == "zeros_" else local.fill_(val)
    if local is not tensor:
        _bump_version(tensor)
    return tensor


def _outside_dispatch_modes(local, torch):
    """A plain tensor with memory of its own is written under a dispatch mode (e.g.
    FakeTensorMode(allow_non_fake_inputs=True), which would turn the fill_ into a fake op
    and leave the memory as it was) as outside it, as the random fills write it: the same
    bits under any mode. Tensors of the mode's own (FakeTensor) keep the mode."""
    if (torch._C._len_torch_dispatch_stack() > 0 and type(local) in (torch.Tensor, torch.nn.Parameter)
            and local.device.type != "meta" and not torch._is_functional_tensor(local)):
        return torch._C._DisableTorchDispatch()
    return contextlib.nullcontext()


# c10's names of the C++ types in "value cannot be converted to type ... without overflow"
_C_TYPE_NAMES = {"int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t", "uint16": "uint16_t", "int32": "int",
                 "uint32": "uint32_t", "int64": "int64_t", "uint64": "uint64_t", "float32": "float",
                 "float64": "double", "float16": "c10::Half", "bfloat16": "c10::BFloat16",
                 "complex64": "c10::complex<float>", "complex128": "c10::complex<double>"}


def _scalar(val, op):
    """torch's Scalar from a Python argument: bool, int (in [-2**63, 2**64)), float,
    complex, or the item of a 0-d tensor / NumPy scalar."""
    if is_torch_tensor(val):
        if val.dim() != 0:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with {val.dim()} "
                               "dimensions.")
        val = val.item()
    if isinstance(val, bool):
        return val
    if isinstance(val, numbers.Integral):
        v = int(val)
        if not -(1 << 63) <= v < (1 << 64):
            raise OverflowError("int too big to convert")
        return v
    if isinstance(val, numbers.Real):
        return float(val)
    if isinstance(val, numbers.Complex):
        return complex(val)
    raise TypeError(f"fastinit.{op}: val must be a number, not {type(val).__name__}")


def _np_value(v, dtype, one_element=False):
    """The value torch's fill_ stores for Scalar ``v`` in ``dtype`` (c10::checked_convert):
    integers wrap into unsigned types from at most one turn below zero, floats truncate
    toward zero and must lie within the type's range, complex values need a zero
    imaginary part outside complex types; bool is ``v != 0``; finite values beyond a float
    type's range overflow; the 16-bit floats round through float32. A one-element float16
    or bfloat16 target takes torch's scalar fill, which converts through float32 with no
    range check (65520.0 -> inf), as torch 2.13 does for one-element tensors."""
    import numpy as np

    kind = dtype.kind
    name = "bfloat16" if dtype.name == "bfloat16" else dtype.name
    overflow = RuntimeError(f"value cannot be converted to type {_C_TYPE_NAMES.get(name, name)} without overflow")
    if kind == "b":
        return bool(v)
    if kind in "iu":
        info = np.iinfo(dtype)
        if isinstance(v, complex):
            if v.imag != 0:
                raise overflow
            v = v.real
        if isinstance(v, float):
            if math.isnan(v) or not info.min <= v <= info.max:
                raise overflow
            return int(v)
        v = int(v)
        if kind == "u" and v < 0:
            if v < -(1 << 63) or -v > info.max:
                raise overflow
            return v % (info.max + 1)
        if not info.min <= v <= info.max:
            raise overflow
        return v
    if kind == "c":
        c = complex(v)
        big = float(np.finfo(dtype).max)
        if any(math.isfinite(x) and abs(x) > big for x in (c.real, c.imag)):
            raise overflow
        return c
    # a float type
    if isinstance(v, complex):
        if v.imag != 0:
            raise overflow
        v = v.real
    f = float(v)
    big = float.fromhex("0x1.fe00000000000p+127") if name == "bfloat16" else float(np.finfo(dtype).max)
    if math.isfinite(f) and abs(f) > big and not (one_element and dtype.itemsize == 2):
        raise overflow
    if dtype.itemsize == 2:
        with np.errstate(over="ignore"):
            f = float(np.asarray(np.float32(f)).astype(dtype))  # exact in the 16-bit type
    return f


def _np_fill(array, val, op: str):
    """ndarray fill with torch's fill_ semantics (:func:`_np_value`), for every numeric and
    bool dtype NumPy and ml_dtypes have; the target checked as for the random fills."""
    import numpy as np

    if not isinstance(array, np.ndarray):
        describe(array, op=op)  # the not-an-array TypeError, or the CUDA array's checks
        raise TypeError(f"fastinit.{op}: {type(array).__name__} has no fill method; fill it with its own library")
    dt = array.dtype
    native = dt.newbyteorder("=")
    if not (dt.kind in "biu" or (dt.kind == "f" and dt.itemsize <= 8) or (dt.kind == "c" and dt.itemsize <= 16)
            or (native.name == "bfloat16" and dt.itemsize == 2)):
        raise TypeError(f"fastinit.{op}: unsupported dtype {dt}; expected a bool, integer, float (float16 to "
                        "float64, bfloat16) or complex dtype")
    target = _describe_numpy(array, any_dtype=True)
    if not target.contiguous:
        check_no_overlap(target.sizes, target.strides, target.itemsize)
    v = _np_value(_scalar(val, op), dt, one_element=array.size == 1)
    array.fill(v)
    return array


@shared_doc
def constant_(tensor, val, *, seed=None, offset=0):
    """Fill ``tensor`` with the value ``val``.

    Drop-in for ``torch.nn.init.constant_``, for every dtype torch fills (float, integer,
    bool, complex): torch tensors through torch's own ``fill_`` under ``no_grad`` (its
    conversions and errors); NumPy arrays with the value torch's ``fill_`` would store in
    the same dtype, or torch's error (e.g. "value cannot be converted to type int8_t
    without overflow"). Unlike torch, a view whose bytes lie outside its storage (torch's
    own ``fill_`` crashes there) and views with overlapping elements are refused.

    Args:
        {constant_tensor_arg}
        val (float): the value.
        {constant_seed_offset}

    Returns:
        ``tensor`` itself, filled.

    Example:
        >>> b = torch.empty(768)
        >>> fastinit.constant_(b, 0.1)
    """
    if _wants_torch_function(tensor):
        return _handle_torch_function(constant_, tensor, val=val, seed=seed, offset=offset)
    return _constant(tensor, val, "constant_", seed, offset)


@shared_doc
def ones_(tensor, *, seed=None, offset=0):
    """Fill ``tensor`` with 1, as ``torch.nn.init.ones_``; see :func:`constant_`.

    Args:
        {constant_tensor_arg}
        {constant_seed_offset}

    Returns:
        ``tensor`` itself, filled.

    Example:
        >>> fastinit.ones_(torch.empty(768))
    """
    if _wants_torch_function(tensor):
        return _handle_torch_function(ones_, tensor, seed=seed, offset=offset)
    return _constant(tensor, 1.0, "ones_", seed, offset)


@shared_doc
def zeros_(tensor, *, seed=None, offset=0):
    """Fill ``tensor`` with 0, as ``torch.nn.init.zeros_``; see :func:`constant_`.

    Args:
        {constant_tensor_arg}
        {constant_seed_offset}

    Returns:
        ``tensor`` itself, filled.

    Example:
        >>> fastinit.zeros_(torch.empty(768))
    """
    if _wants_torch_function(tensor):
        return _handle_torch_function(zeros_, tensor, seed=seed, offset=offset)
    return _constant(tensor, 0.0, "zeros_", seed, offset)
