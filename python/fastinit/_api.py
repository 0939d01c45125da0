"""The public init functions: torch.nn.init's signatures, check order, messages and
return values, then keyword-only ``seed`` and ``offset`` (SPEC sections 3 and 4)."""

from __future__ import annotations

import numbers
import warnings

from . import _C
from ._bound import kaiming_bound_for, xavier_bound_for
from ._seed import check_u64, numpy_seed, torch_seed
from ._target import _torch, check_bounds, check_no_overlap, describe, is_torch_tensor

__all__ = ["uniform_", "kaiming_uniform_", "xavier_uniform_"]


def _torch_function(fn, tensor, **kwargs):
    """torch.nn.init's __torch_function__ hook: (handled, result)."""
    torch = _torch()
    if torch is not None and torch.overrides.has_torch_function_variadic(tensor):
        return True, torch.overrides.handle_torch_function(fn, (tensor,), tensor=tensor, **kwargs)
    return False, None


def _as_bound(value, name: str, position: int) -> float:
    # torch's argument parser: a real number (bool included) or a 0-d tensor, else TypeError.
    if type(value) is float or type(value) is int or isinstance(value, numbers.Real):
        return float(value)
    if is_torch_tensor(value) and value.dim() == 0:
        return float(value)
    raise TypeError(f"uniform_(): argument '{name}' (position {position}) must be float, not {_tp_name(value)}")


def _tp_name(obj) -> str:
    """CPython's tp_name, which torch's argument parser prints: the bare name for classes
    defined in Python, the dotted name that C and Cython types carry."""
    t = type(obj)
    if t.__flags__ & (1 << 9) or t.__module__ == "builtins":  # Py_TPFLAGS_HEAPTYPE
        return t.__name__
    return f"{t.__module__}.{t.__qualname__}"


def _check_generator(generator, is_torch: bool) -> None:
    if generator is None or not is_torch:
        return
    torch = _torch()
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"uniform_(): argument 'generator' must be torch.Generator, not {_tp_name(generator)}")


def _shape(tensor):
    shape = getattr(tensor, "shape", None)
    if shape is None:
        describe(tensor)  # raises the not-an-array TypeError
    return tuple(shape)


def _fill(tensor, lo, hi, generator, seed, offset):
    """torch's uniform_ after argument parsing: dtype, bounds, overlap, then the fill."""
    lo = _as_bound(lo, "from", 1)
    hi = _as_bound(hi, "to", 2)
    if generator is not None:
        _check_generator(generator, is_torch_tensor(tensor))
    target = describe(tensor)
    offset = check_u64(offset, "offset")
    seed = None if seed is None else check_u64(seed, "seed")
    check_bounds(lo, hi, target.dtype)
    if not target.contiguous:
        check_no_overlap(target.sizes, target.strides, target.itemsize)
    if target.numel == 0:  # torch draws nothing from the generator here either
        return tensor
    if seed is None:
        seed = torch_seed(generator) if target.is_torch else numpy_seed(generator)
    if target.device == "meta":
        return tensor
    if target.device == "cuda":
        _C.fill_cuda(target.ptr, target.device_index, target.stream, target.dtype, target.sizes,
                     target.strides, lo, hi, seed, offset)
    else:
        _C.fill(target.ptr, target.dtype, target.sizes, target.strides, lo, hi, seed, offset)
    if target.is_torch:
        _bump_version(tensor)
    return tensor


def _bump_version(tensor) -> None:
    # The write bypasses autograd; bumping the version counter keeps autograd's
    # saved-tensor checks honest, as torch's own in-place uniform_ does.
    # torch.autograd.graph.increment_version is this call behind an isinstance check.
    inc = getattr(_torch()._C, "_increment_version", None)
    if inc is not None:
        inc((tensor,))


def uniform_(tensor, a=0.0, b=1.0, generator=None, *, seed=None, offset=0):
    """Fill ``tensor`` in place with U(a, b), as ``torch.nn.init.uniform_``.

    Each element's value depends only on ``(seed, offset + i)`` where ``i`` is its
    row-major index in ``tensor``'s shape: the same bits on any thread count, SIMD path,
    device, memory layout or sharding. Without ``seed`` one 64-bit key is drawn from
    ``generator`` (torch: default ``torch.default_generator``; NumPy: a
    ``numpy.random.Generator``, an int, or the global state). Returns ``tensor``.
    """
    handled, result = _torch_function(uniform_, tensor, a=a, b=b, generator=generator, seed=seed, offset=offset)
    if handled:
        return result
    return _fill(tensor, a, b, generator, seed, offset)


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None, *, seed=None, offset=0):
    """Kaiming (He) uniform init, as ``torch.nn.init.kaiming_uniform_``: U(-bound, bound)
    with ``bound = sqrt(3) * gain / sqrt(fan)``, computed in torch's own operation order.

    ``nn.Linear`` and the conv layers use ``a=math.sqrt(5)``, which makes the gain
    ``1/sqrt(3)`` and the bound exactly ``1/sqrt(fan_in)``. Zero-element tensors warn and
    are returned untouched. See :func:`uniform_` for ``seed`` and ``offset``.
    """
    handled, result = _torch_function(kaiming_uniform_, tensor, a=a, mode=mode, nonlinearity=nonlinearity,
                                      generator=generator, seed=seed, offset=offset)
    if handled:
        return result
    shape = _shape(tensor)
    if 0 in shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    bound = kaiming_bound_for(shape, a, mode, nonlinearity)
    return _fill(tensor, -bound, bound, generator, seed, offset)


def xavier_uniform_(tensor, gain=1.0, generator=None, *, seed=None, offset=0):
    """Xavier (Glorot) uniform init, as ``torch.nn.init.xavier_uniform_``:
    U(-a, a) with ``a = gain * sqrt(6 / (fan_in + fan_out))``. See :func:`uniform_` for
    ``seed`` and ``offset``."""
    bound = xavier_bound_for(_shape(tensor), gain)
    return _fill(tensor, -bound, bound, generator, seed, offset)
