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

from ..core import _C
from ..core.docs import shared_doc
from ..core.bounds import (
    calculate_gain,
    correct_fan,
    fans,
    kaiming_bound_for,
    xavier_bound_for,
)
from ..core.shards import (
    boxes,
    check_placements,
    dtensor_segments,
    is_dtensor,
    local_tensor,
)
from ..core.seeds import _isa_error, check_cpu_isa, check_u64, numpy_generator, numpy_seed, torch_seed, torch_seed_words
from ..core.targets import (
    F16,
    F32,
    F64,
    _torch,
    _torch_dtype_code,
    _torch_dtype_label,
    check_bounds,
    check_no_overlap,
    Target,
    _describe_numpy,
    _has_no_memory,
    check_torch_extent,
    check_torch_inplace,
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


_PLAIN_REALS = (float, int)  # exact types whose float() runs no user code


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


_FAST = []  # on first use: (exact tensor types, torch.strided, torch.Generator, dtype codes, limits, sizes, bump)


def _fast_setup():
    torch = _torch()
    from ..core.targets import _FINFO_MAX, _STORAGE_SIZE

    _FAST[:] = [(torch.Tensor, torch.nn.Parameter), torch.strided, torch.Generator,
                {torch.float32: 0, torch.float64: 1, torch.float16: 2, torch.bfloat16: 3}, _FINFO_MAX,
                _STORAGE_SIZE, getattr(torch._C, "_increment_version", None)]


def _fast_fill(tensor, dist, x1, x2, generator, seed, offset):
    """The per-call fast path (issue 13): a plain, contiguous, non-empty CPU float tensor
    with plain arguments, whose checks all pass. Returns None, having done nothing, for
    anything else (a failing check included), which then takes the general path of
    :func:`_fill` and gets torch's exact errors in torch's order. ``dist``: 0 uniform
    (x1, x2 = from, to), 1 normal (mean, std)."""
    if not _FAST:
        if _torch() is None:
            return None
        _fast_setup()
    types, strided, gen_type, codes, limits, sizes, bump = _FAST
    if type(tensor) not in types or (generator is not None and type(generator) is not gen_type):
        return None
    if (type(offset) is not int or not 0 <= offset < _U64 or
            (seed is not None and (type(seed) is not int or not 0 <= seed < _U64))):
        return None
    code = codes.get(tensor.dtype)
    # (a ZeroTensor has data_ptr 0: refused below with the memoryless tensors)
    if (code is None or not tensor.is_cpu or tensor.layout is not strided or tensor.is_nested
            or not tensor.is_contiguous() or tensor.is_neg() or tensor.is_inference()):
        return None
    if dist == 0:
        big = limits[code]
        if not (-big <= x1 <= x2 <= big and x2 - x1 <= big):
            return None
    elif not x2 >= 0.0:
        return None
    n, ptr = tensor.numel(), tensor.data_ptr()
    if n == 0 or ptr == 0:  # empty, or no memory (functionalization, ZeroTensor)
        return None
    st = tensor.untyped_storage()
    base = st.data_ptr()
    if ptr < base or ptr + n * sizes[code] > base + st.nbytes():
        return None
    if generator is not None and generator.device.type != "cpu":
        return None
    if _isa_error != _ISA_OK and check_cpu_isa(quiet=True) is not None:
        return None
    words = 0 if seed is not None else torch_seed_words(generator)
    try:
        _C.fill_contiguous(dist, ptr, code, n, x1, x2, seed or 0, offset, words)
    finally:
        bump((tensor,))
    return tensor


_U64 = 1 << 64
_ISA_OK = [None]  # _seed._isa_error once the ISA has been checked and is usable


def _fill(tensor, kind, params, generator, seed, offset, checks=None):
    """One validation and dispatch path for every random fill.

    ``kind`` picks the kernel ("uniform": lo, hi; "normal": mean, std; "trunc_normal":
    mean, std, a, b) and ``params`` are its arguments. ``checks`` is ``(method, args)``:
    the torch Tensor method whose parsing and checks apply, and the arguments torch.nn.init
    would give it; by default the kind's own method with ``params`` (trunc_normal_ passes
    the method that torch's trunc_normal_ calls: ``normal_`` or ``uniform_``).

    Order: every argument is parsed and converted first (``__float__``/``__index__`` of
    user objects run here, and may change the target), then the target is described and
    checked, then the key is drawn (only once nothing can refuse the call), then the
    pointer is used, with no user code in between."""
    method, args = checks if checks is not None else (_METHOD_OF[kind], params)
    n1, n2 = _ARG_NAMES[method]
    x1 = _as_float(args[0], method, n1, 1)
    x2 = _as_float(args[1], method, n2, 2)
    is_torch = is_torch_tensor(tensor)
    if generator is not None:
        _check_generator(generator, is_torch, method)
    offset = check_u64(offset, "offset")
    seed = None if seed is None else check_u64(seed, "seed")
    if not is_torch and seed is None:
        generator = numpy_generator(generator)
    # every argument is converted: from here on no user code runs until the kernel returns
    # (a subclassed generator excepted: the target is described again after its draw)
    params = params if checks is not None else (x1, x2)
    # A DTensor: fans and bounds came from its global shape; its local tensor is written,
    # box by box of the global tensor (_dtensor.py).
    dt = tensor if is_torch and is_dtensor(tensor) else None
    local = local_tensor(dt) if dt is not None else tensor
    if method == "normal_":
        _check_normal_std(x2, local, is_torch)
        # torch returns before its dtype dispatch for empty tensors
        target = None if is_torch and tensor.numel() == 0 else _describe(local, method, is_torch)
    else:
        target = _describe(local, method, is_torch)
    if target is not None:
        if method == "uniform_":
            check_bounds(x1, x2, target.dtype)
        if not target.contiguous:
            check_no_overlap(target.sizes, target.strides, target.itemsize)
    segs = None
    if dt is not None:
        check_placements(dt.placements)
        segs = dtensor_segments(dt)
    # every check of torch's has passed: the kernel's own parameters
    if checks is not None:
        params = _trunc_normal_params(*params)
    if is_torch and local.device.type != "meta":
        check_torch_inplace(local)  # torch's last check (its version bump), empty tensors too
    # torch draws nothing for an empty or meta tensor; a DTensor draws on every rank when
    # the global tensor has elements, so that the ranks' generators stay in step
    if target is None or target.device == "meta" or (tensor.numel() if dt is not None else target.numel) == 0:
        return tensor
    if target.device == "cpu":
        check_cpu_isa()
    if seed is None:
        seed = torch_seed(generator) if target.is_torch else numpy_seed(generator)
        if generator is not None and type(generator) not in _plain_generators():
            target = _describe(local, method, is_torch)  # its draw ran user code
    _run(tensor, local, dt, segs, target, kind, params, seed, offset)
    return tensor


def _plain_generators():
    """The exact generator types whose draw runs no user code."""
    import numpy as np

    torch = _torch()
    return (np.random.Generator,) + ((torch.Generator,) if torch is not None else ())


def _run(tensor, local, dt, segs, target, kind, params, seed, offset):
    """The kernel calls (boxes of a DTensor's global tensor, or the whole target), then the
    neg-bit correction; the version counters are bumped whatever happens (a Ctrl-C between
    slices leaves the target partly written)."""
    if dt is None:
        istrides, calls = [], [(0, target.sizes, offset)]
    else:
        istrides, calls = boxes(segs, dt.shape, _scratch_strides(target) if target.functional else target.strides,
                                offset)
    scratch = None
    if target.functional:
        # functionalization: fill a real buffer, then copy_ it in, which torch records
        import numpy as np

        scratch = np.empty(target.numel * target.itemsize, dtype=np.uint8)
        ptr, strides = scratch.ctypes.data, _scratch_strides(target)
    else:
        ptr, strides = target.ptr, target.strides
    cpu, cuda = _KERNELS[kind]
    written = False
    try:
        for byte_offset, sizes, first in calls:
            for b, sz, st, ist, f in kernel_calls(sizes, strides, istrides, first):
                written = True
                if target.device == "cuda" and scratch is None:
                    getattr(_C, cuda)(ptr + byte_offset + b, target.device_index, target.stream, target.dtype, sz,
                                      st, *params, seed, f, ist)
                else:
                    getattr(_C, cpu)(ptr + byte_offset + b, target.dtype, sz, st, *params, seed, f, "", 0, ist)
        torch = _torch()
        if scratch is not None:
            src = torch.from_numpy(scratch).view(local.dtype).view(local.shape)
            with torch.no_grad():
                local.copy_(src)
        elif target.neg:
            with torch.no_grad():
                torch._neg_view(local).neg_()  # the stored bits are read negated through the view
    finally:
        if written and target.is_torch and scratch is None:
            _bump_version(tensor)
            if local is not tensor:
                _bump_version(local)


def _scratch_strides(target):
    """Row-major byte strides of the target's shape (the functionalization buffer)."""
    out, acc = [0] * len(target.sizes), target.itemsize
    for d in range(len(target.sizes) - 1, -1, -1):
        out[d] = acc
        acc *= max(target.sizes[d], 1)
    return out


_MAX_DIMS = _C.kMaxDims
_MASK64 = (1 << 64) - 1


def kernel_calls(sizes, strides, istrides, first):
    """The kernel calls for one box: [(byte offset, sizes, byte strides, index strides,
    stream offset)]. Size-1 dims are dropped (their stride may be anything torch allows,
    beyond int64 once in bytes); more dims than the kernel takes (kMaxDims) are merged where
    contiguous in memory and index, and any still left over are looped over here."""
    if 1 not in sizes and len(sizes) <= _MAX_DIMS:
        return ((0, sizes, strides, istrides, first),)
    if not istrides:
        istrides, acc = [0] * len(sizes), 1
        for d in range(len(sizes) - 1, -1, -1):
            istrides[d] = acc
            acc *= max(sizes[d], 1)
    dims = [(n, st, ist) for n, st, ist in zip(sizes, strides, istrides) if n != 1]
    if len(dims) > _MAX_DIMS:
        merged = []
        for n, st, ist in dims:
            if merged and merged[-1][1] == st * n and merged[-1][2] == ist * n:
                merged[-1] = (merged[-1][0] * n, st, ist)
            else:
                merged.append((n, st, ist))
        dims = merged
    outer, inner = dims[:-_MAX_DIMS] if len(dims) > _MAX_DIMS else [], dims[-_MAX_DIMS:]
    sz, st, ist = [d[0] for d in inner], [d[1] for d in inner], [d[2] for d in inner]
    calls = [(0, first)]
    for n, s, i in outer:
        calls = [(b + k * s, (f + k * i) & _MASK64) for b, f in calls for k in range(n)]
    return [(b, sz, st, ist, f) for b, f in calls]


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


@shared_doc
def uniform_(tensor, a=0.0, b=1.0, generator=None, *, seed=None, offset=0):
    """Fill ``tensor`` in place with values from the uniform distribution U(a, b).

    Drop-in for ``torch.nn.init.uniform_``: same signature, checks, errors and return
    value, plus the keyword-only ``seed`` and ``offset``.

    The element at row-major position ``i`` of the shape (not its memory address) gets a
    value that depends only on ``(seed, offset + i)`` and the parameters: the same bits on
    any thread count, SIMD path (scalar, AVX2, AVX-512), device, memory layout and
    sharding. docs/STREAM.md defines the bits. ``b`` itself is never stored (a value that rounds to it becomes ``a``).

    Args:
        {tensor_arg}
        a (float): the lower bound. Default 0.
        b (float): the upper bound, excluded. Default 1.
        {generator_seed_offset}

    Returns:
        ``tensor`` itself, filled.

    Raises:
        The exception type and message that ``torch.nn.init.uniform_`` raises for the same
        {refusals}

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
    if type(a) in _PLAIN_REALS and type(b) in _PLAIN_REALS:
        done = _fast_fill(tensor, 0, float(a), float(b), generator, seed, offset)
        if done is not None:
            return done
    return _fill(tensor, "uniform", (a, b), generator, seed, offset)


@shared_doc
def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None, *, seed=None, offset=0):
    """Fill ``tensor`` with Kaiming (He) uniform values: U(-bound, bound).

    Drop-in for ``torch.nn.init.kaiming_uniform_``. ``bound = sqrt(3) * gain / sqrt(fan)``,
    computed in torch's own float64 operation order, where ``fan`` is ``fan_in`` or
    ``fan_out`` of the shape (``shape[1]`` or ``shape[0]`` times the product of
    ``shape[2:]``) and ``gain = calculate_gain(nonlinearity, a)``. ``nn.Linear`` and the
    conv layers use ``a=math.sqrt(5)``, which makes the gain ``1/sqrt(3)`` and the bound
    exactly ``1/sqrt(fan_in)``. A tensor with no elements warns, as torch's does, and is
    returned untouched.

    {guarantee}

    Args:
        {tensor_arg} At least 2 dimensions.
        a (float): the negative slope of the rectifier after this layer (used with
            ``'leaky_relu'``). Default 0.
        mode (str): ``'fan_in'`` (default) keeps the variance of the forward pass,
            ``'fan_out'`` that of the backward pass.
        nonlinearity (str): the non-linear function, as for :func:`calculate_gain`;
            ``'relu'`` or ``'leaky_relu'`` (default) are the usual choices.
        {generator_seed_offset}

    Returns:
        ``tensor`` itself, filled.

    Raises:
        The exception type and message that ``torch.nn.init.kaiming_uniform_`` raises for the same
        {refusals}

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
    if type(bound) is float:
        done = _fast_fill(tensor, 0, -bound, bound, generator, seed, offset)
        if done is not None:
            return done
    return _fill(tensor, "uniform", (-bound, bound), generator, seed, offset)


@shared_doc
def xavier_uniform_(tensor, gain=1.0, generator=None, *, seed=None, offset=0):
    """Fill ``tensor`` with Xavier (Glorot) uniform values: U(-bound, bound).

    Drop-in for ``torch.nn.init.xavier_uniform_``, with
    ``bound = gain * sqrt(6 / (fan_in + fan_out))`` in torch's operation order.

    {guarantee}

    Args:
        {tensor_arg} At least 2 dimensions.
        gain (float): the scaling factor. Default 1.
        {generator_seed_offset}

    Returns:
        ``tensor`` itself, filled.

    Raises:
        The exception type and message that ``torch.nn.init.xavier_uniform_`` raises for the same
        {refusals}

    Example:
        >>> w = torch.empty(3, 5)
        >>> fastinit.xavier_uniform_(w, gain=fastinit.calculate_gain("relu"), seed=0)
    """
    bound = xavier_bound_for(_shape(tensor), gain)
    if type(bound) is float:
        done = _fast_fill(tensor, 0, -bound, bound, generator, seed, offset)
        if done is not None:
            return done
    return _fill(tensor, "uniform", (-bound, bound), generator, seed, offset)


# --------------------------------------------------------------------------
# normal family (stream: docs/STREAM.md)
# --------------------------------------------------------------------------


@shared_doc
def normal_(tensor, mean=0.0, std=1.0, generator=None, *, seed=None, offset=0):
    """Fill ``tensor`` with values from the normal distribution N(mean, std^2).

    Drop-in for ``torch.nn.init.normal_``. One Philox word per element for float32,
    float16 and bfloat16, two for float64, turned into a normal value by fastinit's own
    quantile function (the same operations on every path; docs/STREAM.md section 7).
    ``std`` must be >= 0 (torch's check and message); ``std == 0`` fills ``mean``;
    non-finite ``mean`` or ``std`` give what torch gives (inf and nan values).

    {guarantee}

    Args:
        {tensor_arg}
        mean (float): the mean. Default 0.
        std (float): the standard deviation. Default 1.
        {generator_seed_offset}

    Returns:
        ``tensor`` itself, filled.

    Raises:
        The exception type and message that ``torch.nn.init.normal_`` raises for the same
        {refusals}

    Example:
        >>> w = torch.empty(50257, 768)
        >>> fastinit.normal_(w, std=0.02, seed=0)
    """
    handled, result = _torch_function(normal_, tensor, mean=mean, std=std, generator=generator,
                                      seed=seed, offset=offset)
    if handled:
        return result
    if type(mean) in _PLAIN_REALS and type(std) in _PLAIN_REALS:
        done = _fast_fill(tensor, 1, float(mean), float(std), generator, seed, offset)
        if done is not None:
            return done
    return _fill(tensor, "normal", (mean, std), generator, seed, offset)


@shared_doc
def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None, *, seed=None, offset=0):
    """Fill ``tensor`` with Kaiming (He) normal values: N(0, std^2).

    Drop-in for ``torch.nn.init.kaiming_normal_``, with ``std = gain / sqrt(fan)``
    computed in torch's operation order (``fan`` and ``gain`` as for
    :func:`kaiming_uniform_`). Bit for bit ``normal_(tensor, 0, std)`` with the same seed
    and offset. A tensor with no elements warns, as torch's does, and is returned
    untouched.

    {guarantee}

    Args:
        {tensor_arg} At least 2 dimensions.
        a (float): the negative slope of the rectifier after this layer (used with
            ``'leaky_relu'``). Default 0.
        mode (str): ``'fan_in'`` (default) or ``'fan_out'``.
        nonlinearity (str): the non-linear function, as for :func:`calculate_gain`;
            default ``'leaky_relu'``.
        {generator_seed_offset}

    Returns:
        ``tensor`` itself, filled.

    Raises:
        The exception type and message that ``torch.nn.init.kaiming_normal_`` raises for the same
        {refusals}

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


@shared_doc
def xavier_normal_(tensor, gain=1.0, generator=None, *, seed=None, offset=0):
    """Fill ``tensor`` with Xavier (Glorot) normal values: N(0, std^2).

    Drop-in for ``torch.nn.init.xavier_normal_``, with
    ``std = gain * sqrt(2 / (fan_in + fan_out))``. Bit for bit
    ``normal_(tensor, 0, std)`` with the same seed and offset.

    {guarantee}

    Args:
        {tensor_arg} At least 2 dimensions.
        gain (float): the scaling factor. Default 1.
        {generator_seed_offset}

    Returns:
        ``tensor`` itself, filled.

    Raises:
        The exception type and message that ``torch.nn.init.xavier_normal_`` raises for the same
        {refusals}

    Example:
        >>> w = torch.empty(3, 5)
        >>> fastinit.xavier_normal_(w, seed=0)
    """
    fan_in, fan_out = fans(_shape(tensor))
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return _fill(tensor, "normal", (0.0, std), generator, seed, offset)


def _norm_cdf(x: float) -> float:
    return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0


@shared_doc
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

    {guarantee}

    Args:
        {tensor_arg}
        mean (float): the mean of the normal distribution. Default 0.
        std (float): its standard deviation. Default 1.
        a (float): the lower cutoff. Default -2.
        b (float): the upper cutoff. Default 2.
        {generator_seed_offset}

    Returns:
        ``tensor`` itself, filled.

    Raises:
        The exception type and message that ``torch.nn.init.trunc_normal_`` raises for the same
        {refusals}

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
    if is_torch_tensor(tensor) and tensor.dtype.is_complex:
        _refuse_complex_trunc_normal(tensor, p, checks, generator)
    return _fill(tensor, "trunc_normal", (mean, std, a, b), generator, seed, offset, checks)


# torch's uniform_ checks a complex tensor's bounds against its real type
_COMPLEX_REAL_CODE = {"complex32": F16, "complex64": F32, "complex128": F64}


def _refuse_complex_trunc_normal(tensor, p, checks, generator):
    """torch's trunc_normal_ on a complex tensor: its normal_ / uniform_ step runs (with
    that method's argument, bound and overlap checks), then the rejection test compares the
    sample with the bounds (lt when p > 0.3, else gt), which has no complex kernel. The
    same errors in the same order, before anything is written or drawn."""
    method, args = checks
    n1, n2 = _ARG_NAMES[method]
    x1 = _as_float(args[0], method, n1, 1)
    x2 = _as_float(args[1], method, n2, 2)
    if generator is not None:
        _check_generator(generator, True, method)
    if method == "normal_":
        _check_normal_std(x2, tensor, True)
    else:
        check_bounds(x1, x2, _COMPLEX_REAL_CODE[str(tensor.dtype).replace("torch.", "")])
    if not tensor.is_contiguous():
        esz = tensor.element_size()
        check_no_overlap(list(tensor.shape), [st * esz for st in tensor.stride()], esz)
    raise NotImplementedError(f"\"{'lt' if p > 0.3 else 'gt'}_{tensor.device.type}\" not implemented for "
                              f"'{_torch_dtype_label(tensor.dtype)}'")


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
    """The constant fills, as torch.nn.init's: torch tensors of any dtype through torch's
    own ``fill_`` / ``zero_`` under ``no_grad`` (its conversions, errors and inference-mode
    check), once the view's bytes are checked against its storage (torch does not check:
    its fill_ on a freed storage crashes) and overlapping views refused; NumPy arrays of
    any numeric or bool dtype with the value torch's fill_ would store (:func:`_np_value`)."""
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
    if (local.layout is torch.strided and not local.is_nested and local.device.type != "meta" and local.numel()
            and not local._is_zerotensor()):  # torch's fill_ refuses a ZeroTensor itself
        esz = local.element_size()
        target = Target(ptr=local.data_ptr(), dtype=None, sizes=list(local.shape),
                        strides=[st * esz for st in local.stride()], device=local.device.type, elsize=esz)
        if not (target.ptr == 0 and torch._is_functional_tensor(local)):
            if type(local) is not torch.Tensor and _has_no_memory(local):
                describe(local, op=op)  # the no-memory TypeError
            check_torch_extent(local, target)
        if not local.is_contiguous():
            check_no_overlap(target.sizes, target.strides, esz)
    with torch.no_grad():
        local.zero_() if op == "zeros_" else local.fill_(val)
    if local is not tensor:
        _bump_version(tensor)
    return tensor


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
    handled, result = _torch_function(constant_, tensor, val=val, seed=seed, offset=offset)
    if handled:
        return result
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
    return _constant(tensor, 0.0, "zeros_", seed, offset)
