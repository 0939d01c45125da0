"""The public init functions: torch.nn.init's signatures, check order, messages and
return values, then keyword-only ``seed`` and ``offset`` (docs/STREAM.md sections 4 and 9).

Every random fill goes through one path, :func:`_fill`: torch's argument parsing of the
Tensor method that torch.nn.init itself would call (``uniform_`` or ``normal_``), that
method's checks in torch's order, the target's description (dtype, layout, overlap),
the seed, then the kernel of the distribution. The front ends only compute the
parameters, in torch's own Python operations, so that Python-level errors and warnings
come out exactly as torch's.
"""

from __future__ import annotations

import math
import numbers
import warnings

from . import _C
from ._bound import (
    calculate_gain,
    correct_fan,
    fans,
    kaiming_bound_for,
    xavier_bound_for,
)
from ._dtensor import (
    boxes,
    check_placements,
    dtensor_segments,
    is_dtensor,
    local_tensor,
)
from ._seed import check_u64, numpy_seed, torch_seed
from ._target import (
    _BOUND_NAMES,
    _FINFO_MAX,
    _torch,
    _torch_dtype_code,
    _torch_dtype_label,
    check_bounds,
    check_no_overlap,
    describe,
    is_torch_tensor,
)

__all__ = [
    "uniform_",
    "kaiming_uniform_",
    "xavier_uniform_",
    "normal_",
    "kaiming_normal_",
    "xavier_normal_",
    "trunc_normal_",
    "constant_",
    "ones_",
    "zeros_",
]

# The torch Tensor methods whose argument parsing and checks are reproduced, with the
# names torch's argument parser gives their parameters.
_ARG_NAMES = {"uniform_": ("from", "to"), "normal_": ("mean", "std")}
# The kernels of each distribution: (CPU, CUDA) names in fastinit._C.
_KERNELS = {
    "uniform": ("fill", "fill_cuda"),
    "normal": ("fill_normal", "fill_cuda_normal"),
    "trunc_normal": ("fill_trunc_normal", "fill_cuda_trunc_normal"),
}
_METHOD_OF = {"uniform": "uniform_", "normal": "normal_"}


def _torch_function(fn, tensor, **kwargs):
    """torch.nn.init's __torch_function__ hook: (handled, result)."""
    torch = _torch()
    if torch is not None and torch.overrides.has_torch_function_variadic(tensor):
        return True, torch.overrides.handle_torch_function(fn, (tensor,), tensor=tensor, **kwargs)
    return False, None


def _as_float(value, method: str, name: str, position: int) -> float:
    # torch's argument parser: a real number (bool included) or a 0-d tensor, else TypeError.
    if type(value) is float or type(value) is int or isinstance(value, numbers.Real):
        return float(value)
    if is_torch_tensor(value) and value.dim() == 0:
        return float(value)
    raise TypeError(f"{method}(): argument '{name}' (position {position}) must be float, not {_tp_name(value)}")


def _tp_name(obj) -> str:
    """CPython's tp_name, which torch's argument parser prints: the bare name for classes
    defined in Python, the dotted name that C and Cython types carry."""
    t = type(obj)
    if t.__flags__ & (1 << 9) or t.__module__ == "builtins":  # Py_TPFLAGS_HEAPTYPE
        return t.__name__
    return f"{t.__module__}.{t.__qualname__}"


def _check_generator(generator, is_torch: bool, method: str) -> None:
    if generator is None or not is_torch:
        return
    torch = _torch()
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"{method}(): argument 'generator' must be torch.Generator, not {_tp_name(generator)}")


def _shape(tensor):
    shape = getattr(tensor, "shape", None)
    if shape is None:
        describe(tensor)  # raises the not-an-array TypeError
    return tuple(shape)


def _fmt(x: float) -> str:
    # C++ ostream's default formatting of a double (what torch's C++ messages use).
    return "%g" % x


def _check_normal_std(std: float, tensor, is_torch: bool) -> None:
    """normal_'s std check, which torch runs before looking at the dtype (and also for
    empty tensors). The meta implementation is torch's Python reference, which formats
    the number with Python's repr and then checks the dtype."""
    meta = is_torch and tensor.is_meta
    if not std >= 0.0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std if meta else _fmt(std)}")
    if meta and not (tensor.dtype.is_floating_point or tensor.dtype.is_complex):
        raise RuntimeError(f"expected a floating-point or complex dtype, but got dtype={tensor.dtype}")


def _describe(tensor, method: str, is_torch: bool):
    """The target, refusing what torch's method refuses with its own dtype message."""
    if method == "normal_" and is_torch and _torch_dtype_code(tensor) is None and not tensor.dtype.is_complex:
        kernel = "normal_kernel_cuda" if tensor.device.type == "cuda" else "normal_kernel_cpu"
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{_torch_dtype_label(tensor.dtype)}'")
    return describe(tensor, op=method)


def _fill(tensor, kind, params, generator, seed, offset, checks=None):
    """One validation and dispatch path for every random fill.

    ``kind`` picks the kernel ("uniform": lo, hi; "normal": mean, std; "trunc_normal":
    mean, std, a, b) and ``params`` are its arguments. ``checks`` is ``(method, args)``:
    the torch Tensor method whose parsing and checks apply, and the arguments torch.nn.init
    would give it; by default the kind's own method with ``params`` (trunc_normal_ passes
    the method that torch's trunc_normal_ calls: ``normal_`` or ``uniform_``)."""
    method, args = checks if checks is not None else (_METHOD_OF[kind], params)
    n1, n2 = _ARG_NAMES[method]
    x1 = _as_float(args[0], method, n1, 1)
    x2 = _as_float(args[1], method, n2, 2)
    is_torch = is_torch_tensor(tensor)
    # A DTensor: fans and bounds came from its global shape; its local tensor is written,
    # box by box of the global tensor (_dtensor.py).
    dt = tensor if is_torch and is_dtensor(tensor) else None
    local = local_tensor(dt) if dt is not None else tensor
    if generator is not None:
        _check_generator(generator, is_torch, method)
    if method == "normal_":
        _check_normal_std(x2, local, is_torch)
        # torch returns before its dtype dispatch for empty tensors
        target = None if is_torch and tensor.numel() == 0 else _describe(local, method, is_torch)
    else:
        target = _describe(local, method, is_torch)
    offset = check_u64(offset, "offset")
    seed = None if seed is None else check_u64(seed, "seed")
    if target is None:
        return tensor
    if method == "uniform_":
        check_bounds(x1, x2, target.dtype)
    if not target.contiguous:
        check_no_overlap(target.sizes, target.strides, target.itemsize)
    segs = None
    if dt is not None:
        check_placements(dt.placements)
        segs = dtensor_segments(dt)
    # every check of torch's has passed: the kernel's own parameters
    params = (x1, x2) if checks is None else _trunc_normal_params(*params)
    # torch draws nothing from the generator for an empty tensor; a DTensor draws on every
    # rank when the global tensor has elements, so that the ranks' generators stay in step
    if (tensor.numel() if dt is not None else target.numel) == 0:
        return tensor
    if seed is None:
        seed = torch_seed(generator) if target.is_torch else numpy_seed(generator)
    if target.device == "meta":
        return tensor
    if dt is None:
        istrides, calls = [], [(0, target.sizes, offset)]
    else:
        istrides, calls = boxes(segs, dt.shape, target.strides, offset)
    cpu, cuda = _KERNELS[kind]
    for byte_offset, sizes, first in calls:
        ptr = target.ptr + byte_offset
        if target.device == "cuda":
            getattr(_C, cuda)(ptr, target.device_index, target.stream, target.dtype, sizes, target.strides,
                              *params, seed, first, istrides)
        else:
            getattr(_C, cpu)(ptr, target.dtype, sizes, target.strides, *params, seed, first, "", 0, istrides)
    if target.is_torch:
        _bump_version(tensor)
        if local is not tensor:
            _bump_version(local)
    return tensor


def _bump_version(tensor) -> None:
    # The write bypasses autograd; bumping the version counter keeps autograd's
    # saved-tensor checks honest, as torch's own in-place ops do.
    # torch.autograd.graph.increment_version is this call behind an isinstance check.
    inc = getattr(_torch()._C, "_increment_version", None)
    if inc is not None:
        inc((tensor,))


# --------------------------------------------------------------------------
# uniform family
# --------------------------------------------------------------------------


def uniform_(tensor, a=0.0, b=1.0, generator=None, *, seed=None, offset=0):
    """Fill ``tensor`` in place with values from the uniform distribution U(a, b).

    Drop-in for ``torch.nn.init.uniform_``: same signature, checks, errors and return
    value, plus the keyword-only ``seed`` and ``offset``.

    The element at row-major position ``i`` of the shape (not its memory address) gets a
    value that depends only on ``(seed, offset + i)`` and the parameters: the same bits on
    any thread count, SIMD path (scalar, AVX2, AVX-512), device, memory layout and
    sharding. docs/STREAM.md defines the bits. ``b`` itself is never stored (a value that rounds to it becomes ``a``).

    Args:
        tensor: the tensor or array to fill in place, any shape (0-d included): a torch
            tensor on CPU or CUDA (float32, float64, float16, bfloat16; any strided view; an
            ``nn.Parameter``; a DTensor, each rank filling its shard), a NumPy array (the
            same dtypes, bfloat16 as ``ml_dtypes.bfloat16``) or an object with
            ``__cuda_array_interface__``.
        a (float): the lower bound. Default 0.
        b (float): the upper bound, excluded. Default 1.
        generator: where the key comes from when ``seed`` is None. For a torch tensor a
            ``torch.Generator`` (default: ``torch.default_generator``, the CPU generator,
            also for CUDA tensors); for a NumPy array a ``numpy.random.Generator`` or an
            int (meaning ``numpy.random.default_rng(int)``), default NumPy's global
            state. One 64-bit key is drawn per call (docs/STREAM.md section 4).
        seed (int, keyword-only): the Philox key, in [0, 2**64). When given, no generator
            is read or advanced, and the values depend only on (seed, offset, shape,
            dtype, parameters).
        offset (int, keyword-only): the stream index of element 0, in [0, 2**64); default
            0. A part of a tensor filled with offset = the global index of its first
            element gets exactly the values the whole tensor holds there.

    Returns:
        ``tensor`` itself, filled.

    Raises:
        The exception type and message that ``torch.nn.init.uniform_`` raises for the same
        input, in torch's order; TypeError or ValueError for what fastinit refuses
        (integer, bool or complex dtypes, read-only or overlapping views, non-arrays, a
        seed or offset outside [0, 2**64)). Nothing is written and no generator advances
        when a call raises.

    Example:
        >>> w = torch.empty(3, 5)
        >>> fastinit.uniform_(w, -0.1, 0.1, seed=0)       # the same bits on any machine
        >>> fastinit.uniform_(w)                          # key from torch.default_generator
        >>> a = numpy.empty((3, 5), numpy.float32)
        >>> fastinit.uniform_(a, generator=numpy.random.default_rng(0))
    """
    handled, result = _torch_function(uniform_, tensor, a=a, b=b, generator=generator, seed=seed, offset=offset)
    if handled:
        return result
    return _fill(tensor, "uniform", (a, b), generator, seed, offset)


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None, *, seed=None, offset=0):
    """Fill ``tensor`` with Kaiming (He) uniform values: U(-bound, bound).

    Drop-in for ``torch.nn.init.kaiming_uniform_``. ``bound = sqrt(3) * gain / sqrt(fan)``,
    computed in torch's own float64 operation order, where ``fan`` is ``fan_in`` or
    ``fan_out`` of the shape (``shape[1]`` or ``shape[0]`` times the product of
    ``shape[2:]``) and ``gain = calculate_gain(nonlinearity, a)``. ``nn.Linear`` and the
    conv layers use ``a=math.sqrt(5)``, which makes the gain ``1/sqrt(3)`` and the bound
    exactly ``1/sqrt(fan_in)``. A tensor with no elements warns, as torch's does, and is
    returned untouched.

    The element at row-major position ``i`` of the shape (not its memory address) gets a
    value that depends only on ``(seed, offset + i)`` and the parameters: the same bits on
    any thread count, SIMD path (scalar, AVX2, AVX-512), device, memory layout and
    sharding. docs/STREAM.md defines the bits.

    Args:
        tensor: the tensor or array to fill in place, any shape (0-d included): a torch
            tensor on CPU or CUDA (float32, float64, float16, bfloat16; any strided view; an
            ``nn.Parameter``; a DTensor, each rank filling its shard), a NumPy array (the
            same dtypes, bfloat16 as ``ml_dtypes.bfloat16``) or an object with
            ``__cuda_array_interface__``. At least 2 dimensions.
        a (float): the negative slope of the rectifier after this layer (used with
            ``'leaky_relu'``). Default 0.
        mode (str): ``'fan_in'`` (default) keeps the variance of the forward pass,
            ``'fan_out'`` that of the backward pass.
        nonlinearity (str): the non-linear function, as for :func:`calculate_gain`;
            ``'relu'`` or ``'leaky_relu'`` (default) are the usual choices.
        generator: where the key comes from when ``seed`` is None. For a torch tensor a
            ``torch.Generator`` (default: ``torch.default_generator``, the CPU generator,
            also for CUDA tensors); for a NumPy array a ``numpy.random.Generator`` or an
            int (meaning ``numpy.random.default_rng(int)``), default NumPy's global
            state. One 64-bit key is drawn per call (docs/STREAM.md section 4).
        seed (int, keyword-only): the Philox key, in [0, 2**64). When given, no generator
            is read or advanced, and the values depend only on (seed, offset, shape,
            dtype, parameters).
        offset (int, keyword-only): the stream index of element 0, in [0, 2**64); default
            0. A part of a tensor filled with offset = the global index of its first
            element gets exactly the values the whole tensor holds there.

    Returns:
        ``tensor`` itself, filled.

    Raises:
        The exception type and message that ``torch.nn.init.kaiming_uniform_`` raises for the same
        input, in torch's order; TypeError or ValueError for what fastinit refuses
        (integer, bool or complex dtypes, read-only or overlapping views, non-arrays, a
        seed or offset outside [0, 2**64)). Nothing is written and no generator advances
        when a call raises.

    Example:
        >>> w = torch.empty(3072, 768)
        >>> fastinit.kaiming_uniform_(w, a=math.sqrt(5))              # as nn.Linear does
        >>> fastinit.kaiming_uniform_(w, mode="fan_out", nonlinearity="relu", seed=1234)
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
    return _fill(tensor, "uniform", (-bound, bound), generator, seed, offset)


def xavier_uniform_(tensor, gain=1.0, generator=None, *, seed=None, offset=0):
    """Fill ``tensor`` with Xavier (Glorot) uniform values: U(-bound, bound).

    Drop-in for ``torch.nn.init.xavier_uniform_``, with
    ``bound = gain * sqrt(6 / (fan_in + fan_out))`` in torch's operation order.

    The element at row-major position ``i`` of the shape (not its memory address) gets a
    value that depends only on ``(seed, offset + i)`` and the parameters: the same bits on
    any thread count, SIMD path (scalar, AVX2, AVX-512), device, memory layout and
    sharding. docs/STREAM.md defines the bits.

    Args:
        tensor: the tensor or array to fill in place, any shape (0-d included): a torch
            tensor on CPU or CUDA (float32, float64, float16, bfloat16; any strided view; an
            ``nn.Parameter``; a DTensor, each rank filling its shard), a NumPy array (the
            same dtypes, bfloat16 as ``ml_dtypes.bfloat16``) or an object with
            ``__cuda_array_interface__``. At least 2 dimensions.
        gain (float): the scaling factor. Default 1.
        generator: where the key comes from when ``seed`` is None. For a torch tensor a
            ``torch.Generator`` (default: ``torch.default_generator``, the CPU generator,
            also for CUDA tensors); for a NumPy array a ``numpy.random.Generator`` or an
            int (meaning ``numpy.random.default_rng(int)``), default NumPy's global
            state. One 64-bit key is drawn per call (docs/STREAM.md section 4).
        seed (int, keyword-only): the Philox key, in [0, 2**64). When given, no generator
            is read or advanced, and the values depend only on (seed, offset, shape,
            dtype, parameters).
        offset (int, keyword-only): the stream index of element 0, in [0, 2**64); default
            0. A part of a tensor filled with offset = the global index of its first
            element gets exactly the values the whole tensor holds there.

    Returns:
        ``tensor`` itself, filled.

    Raises:
        The exception type and message that ``torch.nn.init.xavier_uniform_`` raises for the same
        input, in torch's order; TypeError or ValueError for what fastinit refuses
        (integer, bool or complex dtypes, read-only or overlapping views, non-arrays, a
        seed or offset outside [0, 2**64)). Nothing is written and no generator advances
        when a call raises.

    Example:
        >>> w = torch.empty(3, 5)
        >>> fastinit.xavier_uniform_(w, gain=fastinit.calculate_gain("relu"), seed=0)
    """
    bound = xavier_bound_for(_shape(tensor), gain)
    return _fill(tensor, "uniform", (-bound, bound), generator, seed, offset)


# --------------------------------------------------------------------------
# normal family (stream: docs/STREAM.md)
# --------------------------------------------------------------------------


def normal_(tensor, mean=0.0, std=1.0, generator=None, *, seed=None, offset=0):
    """Fill ``tensor`` with values from the normal distribution N(mean, std^2).

    Drop-in for ``torch.nn.init.normal_``. One Philox word per element for float32,
    float16 and bfloat16, two for float64, turned into a normal value by fastinit's own
    quantile function (the same operations on every path; docs/STREAM.md section 7).
    ``std`` must be >= 0 (torch's check and message); ``std == 0`` fills ``mean``;
    non-finite ``mean`` or ``std`` give what torch gives (inf and nan values).

    The element at row-major position ``i`` of the shape (not its memory address) gets a
    value that depends only on ``(seed, offset + i)`` and the parameters: the same bits on
    any thread count, SIMD path (scalar, AVX2, AVX-512), device, memory layout and
    sharding. docs/STREAM.md defines the bits.

    Args:
        tensor: the tensor or array to fill in place, any shape (0-d included): a torch
            tensor on CPU or CUDA (float32, float64, float16, bfloat16; any strided view; an
            ``nn.Parameter``; a DTensor, each rank filling its shard), a NumPy array (the
            same dtypes, bfloat16 as ``ml_dtypes.bfloat16``) or an object with
            ``__cuda_array_interface__``.
        mean (float): the mean. Default 0.
        std (float): the standard deviation. Default 1.
        generator: where the key comes from when ``seed`` is None. For a torch tensor a
            ``torch.Generator`` (default: ``torch.default_generator``, the CPU generator,
            also for CUDA tensors); for a NumPy array a ``numpy.random.Generator`` or an
            int (meaning ``numpy.random.default_rng(int)``), default NumPy's global
            state. One 64-bit key is drawn per call (docs/STREAM.md section 4).
        seed (int, keyword-only): the Philox key, in [0, 2**64). When given, no generator
            is read or advanced, and the values depend only on (seed, offset, shape,
            dtype, parameters).
        offset (int, keyword-only): the stream index of element 0, in [0, 2**64); default
            0. A part of a tensor filled with offset = the global index of its first
            element gets exactly the values the whole tensor holds there.

    Returns:
        ``tensor`` itself, filled.

    Raises:
        The exception type and message that ``torch.nn.init.normal_`` raises for the same
        input, in torch's order; TypeError or ValueError for what fastinit refuses
        (integer, bool or complex dtypes, read-only or overlapping views, non-arrays, a
        seed or offset outside [0, 2**64)). Nothing is written and no generator advances
        when a call raises.

    Example:
        >>> w = torch.empty(50257, 768)
        >>> fastinit.normal_(w, std=0.02, seed=0)
    """
    handled, result = _torch_function(normal_, tensor, mean=mean, std=std, generator=generator,
                                      seed=seed, offset=offset)
    if handled:
        return result
    return _fill(tensor, "normal", (mean, std), generator, seed, offset)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None, *, seed=None, offset=0):
    """Fill ``tensor`` with Kaiming (He) normal values: N(0, std^2).

    Drop-in for ``torch.nn.init.kaiming_normal_``, with ``std = gain / sqrt(fan)``
    computed in torch's operation order (``fan`` and ``gain`` as for
    :func:`kaiming_uniform_`). Bit for bit ``normal_(tensor, 0, std)`` with the same seed
    and offset. A tensor with no elements warns, as torch's does, and is returned
    untouched.

    The element at row-major position ``i`` of the shape (not its memory address) gets a
    value that depends only on ``(seed, offset + i)`` and the parameters: the same bits on
    any thread count, SIMD path (scalar, AVX2, AVX-512), device, memory layout and
    sharding. docs/STREAM.md defines the bits.

    Args:
        tensor: the tensor or array to fill in place, any shape (0-d included): a torch
            tensor on CPU or CUDA (float32, float64, float16, bfloat16; any strided view; an
            ``nn.Parameter``; a DTensor, each rank filling its shard), a NumPy array (the
            same dtypes, bfloat16 as ``ml_dtypes.bfloat16``) or an object with
            ``__cuda_array_interface__``. At least 2 dimensions.
        a (float): the negative slope of the rectifier after this layer (used with
            ``'leaky_relu'``). Default 0.
        mode (str): ``'fan_in'`` (default) or ``'fan_out'``.
        nonlinearity (str): the non-linear function, as for :func:`calculate_gain`;
            default ``'leaky_relu'``.
        generator: where the key comes from when ``seed`` is None. For a torch tensor a
            ``torch.Generator`` (default: ``torch.default_generator``, the CPU generator,
            also for CUDA tensors); for a NumPy array a ``numpy.random.Generator`` or an
            int (meaning ``numpy.random.default_rng(int)``), default NumPy's global
            state. One 64-bit key is drawn per call (docs/STREAM.md section 4).
        seed (int, keyword-only): the Philox key, in [0, 2**64). When given, no generator
            is read or advanced, and the values depend only on (seed, offset, shape,
            dtype, parameters).
        offset (int, keyword-only): the stream index of element 0, in [0, 2**64); default
            0. A part of a tensor filled with offset = the global index of its first
            element gets exactly the values the whole tensor holds there.

    Returns:
        ``tensor`` itself, filled.

    Raises:
        The exception type and message that ``torch.nn.init.kaiming_normal_`` raises for the same
        input, in torch's order; TypeError or ValueError for what fastinit refuses
        (integer, bool or complex dtypes, read-only or overlapping views, non-arrays, a
        seed or offset outside [0, 2**64)). Nothing is written and no generator advances
        when a call raises.

    Example:
        >>> w = torch.empty(64, 3, 7, 7)
        >>> fastinit.kaiming_normal_(w, mode="fan_out", nonlinearity="relu", seed=0)
    """
    # torch's kaiming_normal_ has no __torch_function__ hook of its own
    shape = _shape(tensor)
    if 0 in shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    fan = correct_fan(shape, mode)
    gain = calculate_gain(nonlinearity, a)
    std = gain / math.sqrt(fan)
    return _fill(tensor, "normal", (0, std), generator, seed, offset)


def xavier_normal_(tensor, gain=1.0, generator=None, *, seed=None, offset=0):
    """Fill ``tensor`` with Xavier (Glorot) normal values: N(0, std^2).

    Drop-in for ``torch.nn.init.xavier_normal_``, with
    ``std = gain * sqrt(2 / (fan_in + fan_out))``. Bit for bit
    ``normal_(tensor, 0, std)`` with the same seed and offset.

    The element at row-major position ``i`` of the shape (not its memory address) gets a
    value that depends only on ``(seed, offset + i)`` and the parameters: the same bits on
    any thread count, SIMD path (scalar, AVX2, AVX-512), device, memory layout and
    sharding. docs/STREAM.md defines the bits.

    Args:
        tensor: the tensor or array to fill in place, any shape (0-d included): a torch
            tensor on CPU or CUDA (float32, float64, float16, bfloat16; any strided view; an
            ``nn.Parameter``; a DTensor, each rank filling its shard), a NumPy array (the
            same dtypes, bfloat16 as ``ml_dtypes.bfloat16``) or an object with
            ``__cuda_array_interface__``. At least 2 dimensions.
        gain (float): the scaling factor. Default 1.
        generator: where the key comes from when ``seed`` is None. For a torch tensor a
            ``torch.Generator`` (default: ``torch.default_generator``, the CPU generator,
            also for CUDA tensors); for a NumPy array a ``numpy.random.Generator`` or an
            int (meaning ``numpy.random.default_rng(int)``), default NumPy's global
            state. One 64-bit key is drawn per call (docs/STREAM.md section 4).
        seed (int, keyword-only): the Philox key, in [0, 2**64). When given, no generator
            is read or advanced, and the values depend only on (seed, offset, shape,
            dtype, parameters).
        offset (int, keyword-only): the stream index of element 0, in [0, 2**64); default
            0. A part of a tensor filled with offset = the global index of its first
            element gets exactly the values the whole tensor holds there.

    Returns:
        ``tensor`` itself, filled.

    Raises:
        The exception type and message that ``torch.nn.init.xavier_normal_`` raises for the same
        input, in torch's order; TypeError or ValueError for what fastinit refuses
        (integer, bool or complex dtypes, read-only or overlapping views, non-arrays, a
        seed or offset outside [0, 2**64)). Nothing is written and no generator advances
        when a call raises.

    Example:
        >>> w = torch.empty(3, 5)
        >>> fastinit.xavier_normal_(w, seed=0)
    """
    fan_in, fan_out = fans(_shape(tensor))
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return _fill(tensor, "normal", (0.0, std), generator, seed, offset)


def _norm_cdf(x: float) -> float:
    return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None, *, seed=None, offset=0):
    """Fill ``tensor`` with N(mean, std^2) truncated to [a, b].

    Drop-in for ``torch.nn.init.trunc_normal_``, but exact: each value is the normal
    quantile of a uniform number inside the interval's probability range (inversion, no
    rejection loop and no clamping of mass onto ``a`` or ``b``), so each element depends
    only on its own Philox word(s) (docs/STREAM.md section 8).

    Parity with torch: meta tensors are a no-op; the "mean is more than 2 std from
    [a, b]" warning; torch's Python arithmetic (``std == 0`` raises ZeroDivisionError);
    then the checks of the method torch's trunc_normal_ itself calls: ``normal_`` when the
    interval holds more than 30% of the mass (infinite ``a``/``b`` allowed there),
    ``uniform_(a, b)`` otherwise (so ``a > b``, or infinite bounds for a narrow interval,
    raise torch's uniform_ error). A negative ``std`` that torch accepts gives the
    distribution torch gives: that of ``|std|``. Where torch would return U(a, b) for a
    non-finite ``mean`` or ``std``, fastinit raises ValueError instead.

    The element at row-major position ``i`` of the shape (not its memory address) gets a
    value that depends only on ``(seed, offset + i)`` and the parameters: the same bits on
    any thread count, SIMD path (scalar, AVX2, AVX-512), device, memory layout and
    sharding. docs/STREAM.md defines the bits.

    Args:
        tensor: the tensor or array to fill in place, any shape (0-d included): a torch
            tensor on CPU or CUDA (float32, float64, float16, bfloat16; any strided view; an
            ``nn.Parameter``; a DTensor, each rank filling its shard), a NumPy array (the
            same dtypes, bfloat16 as ``ml_dtypes.bfloat16``) or an object with
            ``__cuda_array_interface__``.
        mean (float): the mean of the normal distribution. Default 0.
        std (float): its standard deviation. Default 1.
        a (float): the lower cutoff. Default -2.
        b (float): the upper cutoff. Default 2.
        generator: where the key comes from when ``seed`` is None. For a torch tensor a
            ``torch.Generator`` (default: ``torch.default_generator``, the CPU generator,
            also for CUDA tensors); for a NumPy array a ``numpy.random.Generator`` or an
            int (meaning ``numpy.random.default_rng(int)``), default NumPy's global
            state. One 64-bit key is drawn per call (docs/STREAM.md section 4).
        seed (int, keyword-only): the Philox key, in [0, 2**64). When given, no generator
            is read or advanced, and the values depend only on (seed, offset, shape,
            dtype, parameters).
        offset (int, keyword-only): the stream index of element 0, in [0, 2**64); default
            0. A part of a tensor filled with offset = the global index of its first
            element gets exactly the values the whole tensor holds there.

    Returns:
        ``tensor`` itself, filled.

    Raises:
        The exception type and message that ``torch.nn.init.trunc_normal_`` raises for the same
        input, in torch's order; TypeError or ValueError for what fastinit refuses
        (integer, bool or complex dtypes, read-only or overlapping views, non-arrays, a
        seed or offset outside [0, 2**64)). Nothing is written and no generator advances
        when a call raises.

    Example:
        >>> w = torch.empty(768, 768)
        >>> fastinit.trunc_normal_(w, std=0.02, a=-0.04, b=0.04, seed=0)   # as timm's ViT
    """
    if is_torch_tensor(tensor) and tensor.is_meta:
        return tensor
    if (mean < a - 2 * std) or (mean > b + 2 * std):
        warnings.warn(
            "mean is more than 2 std from [a, b] in nn.init.trunc_normal_. "
            "The distribution of values may be incorrect.",
            stacklevel=1,  # torch's stacklevel=2 from its helper: attributed to trunc_normal_ itself
        )
    p = _norm_cdf((b - mean) / std) - _norm_cdf((a - mean) / std)
    if p > 0.3:
        if is_torch_tensor(tensor):
            # torch rounds the bounds to the tensor's dtype (and so refuses what that refuses)
            tensor.new_tensor(a, device="cpu")
            tensor.new_tensor(b, device="cpu")
        checks = ("normal_", (mean, std))
    else:
        mode = max(a, min(mean, b))
        -0.5 * ((mode - mean) / std) ** 2  # torch's log_peak: its OverflowError, if any
        checks = ("uniform_", (a, b))
    return _fill(tensor, "trunc_normal", (mean, std, a, b), generator, seed, offset, checks)


def _trunc_normal_params(mean, std, a, b):
    """The kernel's (mean, std, a, b) once torch's checks have passed. torch's rejection
    sampler only uses std**2, so a negative std that gets this far means |std|."""
    m, s, lo, hi = float(mean), abs(float(std)), float(a), float(b)
    if not (math.isfinite(m) and math.isfinite(s)):
        # torch would fill U(a, b) here (its acceptance test compares with nan)
        raise ValueError(f"trunc_normal_: mean and std must be finite, got mean={m!r}, std={float(std)!r}")
    return m, s, lo, hi


# --------------------------------------------------------------------------
# constants
# --------------------------------------------------------------------------


def _constant(tensor, val, op, seed, offset):
    """The constant fills: the target checked as for the random fills (float dtypes,
    writable, native byte order, no overlapping elements), then torch's own ``fill_`` /
    ``zero_`` under ``no_grad`` for torch tensors (its conversions and errors), or the
    value torch would store for NumPy arrays."""
    # seed and offset are accepted (and checked) so that every public init takes the same
    # keyword arguments; a constant needs no stream.
    check_u64(offset, "offset")
    if seed is not None:
        check_u64(seed, "seed")
    is_torch = is_torch_tensor(tensor)
    if is_torch and _torch_dtype_code(tensor) is None and not tensor.dtype.is_complex:
        raise TypeError(f"fastinit.{op}: unsupported dtype {tensor.dtype}; expected float32, float64, float16 "
                        "or bfloat16")
    # A DTensor (Shard / Replicate): each rank fills its local tensor.
    local = tensor
    if is_torch and is_dtensor(tensor):
        check_placements(tensor.placements)
        local = local_tensor(tensor)
    target = describe(local, op=op)
    if not target.contiguous:
        check_no_overlap(target.sizes, target.strides, target.itemsize)
    if is_torch:
        with _torch().no_grad():
            local.zero_() if op == "zeros_" else local.fill_(val)
        if local is not tensor:
            _bump_version(tensor)
        return tensor
    return _np_fill(tensor, target, val, op)


def _np_fill(array, target, val, op: str):
    """ndarray fill with torch's fill_ conversion: a real number, refused if finite and
    beyond the dtype's range (torch's message), rounded through float32 for the 16-bit
    types as c10 does."""
    import numpy as np

    if type(val) is float or type(val) is int or isinstance(val, numbers.Real):
        v = float(val)
    elif is_torch_tensor(val) and val.dim() == 0 and not val.dtype.is_complex:
        v = float(val)
    else:
        raise TypeError(f"fastinit.{op}: val must be a real number, not {type(val).__name__}")
    big = _FINFO_MAX[target.dtype]
    if math.isfinite(v) and abs(v) > big:
        raise RuntimeError(f"value cannot be converted to type {_BOUND_NAMES[target.dtype][0]} without overflow")
    if target.itemsize == 2:
        v = float(np.asarray(np.float32(v)).astype(array.dtype))  # exact in the 16-bit type
    if not hasattr(array, "fill"):
        raise TypeError(f"fastinit.{op}: {type(array).__name__} has no fill method")
    array.fill(v)
    return array


def constant_(tensor, val, *, seed=None, offset=0):
    """Fill ``tensor`` with the value ``val``.

    Drop-in for ``torch.nn.init.constant_``: torch tensors through torch's own ``fill_``
    under ``no_grad`` (its conversions and errors); NumPy arrays with the value torch
    would store (rounded through float32 for the 16-bit types; finite values beyond the
    dtype's range refused with torch's message). The target is checked as for the random
    fills (the README's API section lists what is refused).

    Args:
        tensor: the tensor or array to fill in place, any shape (0-d included): a torch
            tensor on CPU or CUDA (float32, float64, float16, bfloat16; any strided view; an
            ``nn.Parameter``; a DTensor, each rank filling its shard), a NumPy array (the
            same dtypes, bfloat16 as ``ml_dtypes.bfloat16``) or an object with
            ``__cuda_array_interface__``.
        val (float): the value.
        seed, offset (keyword-only): accepted and checked as for the random fills (an int
            in [0, 2**64)), and otherwise ignored, so that code passing them to every
            init function works.

    Returns:
        ``tensor`` itself, filled.

    Example:
        >>> b = torch.empty(768)
        >>> fastinit.constant_(b, 0.1)
    """
    handled, result = _torch_function(constant_, tensor, val=val, seed=seed, offset=offset)
    if handled:
        return result
    return _constant(tensor, val, "constant_", seed, offset)


def ones_(tensor, *, seed=None, offset=0):
    """Fill ``tensor`` with 1, as ``torch.nn.init.ones_``; see :func:`constant_`.

    Args:
        tensor: the tensor or array to fill in place, any shape (0-d included): a torch
            tensor on CPU or CUDA (float32, float64, float16, bfloat16; any strided view; an
            ``nn.Parameter``; a DTensor, each rank filling its shard), a NumPy array (the
            same dtypes, bfloat16 as ``ml_dtypes.bfloat16``) or an object with
            ``__cuda_array_interface__``.
        seed, offset (keyword-only): accepted and checked as for the random fills (an int
            in [0, 2**64)), and otherwise ignored, so that code passing them to every
            init function works.

    Returns:
        ``tensor`` itself, filled.

    Example:
        >>> fastinit.ones_(torch.empty(768))
    """
    return _constant(tensor, 1.0, "ones_", seed, offset)


def zeros_(tensor, *, seed=None, offset=0):
    """Fill ``tensor`` with 0, as ``torch.nn.init.zeros_``; see :func:`constant_`.

    Args:
        tensor: the tensor or array to fill in place, any shape (0-d included): a torch
            tensor on CPU or CUDA (float32, float64, float16, bfloat16; any strided view; an
            ``nn.Parameter``; a DTensor, each rank filling its shard), a NumPy array (the
            same dtypes, bfloat16 as ``ml_dtypes.bfloat16``) or an object with
            ``__cuda_array_interface__``.
        seed, offset (keyword-only): accepted and checked as for the random fills (an int
            in [0, 2**64)), and otherwise ignored, so that code passing them to every
            init function works.

    Returns:
        ``tensor`` itself, filled.

    Example:
        >>> fastinit.zeros_(torch.empty(768))
    """
    return _constant(tensor, 0.0, "zeros_", seed, offset)
