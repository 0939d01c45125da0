"""The random init functions of torch.nn.init (uniform, normal, Kaiming, Xavier,
truncated normal): torch.nn.init's signatures, check order, messages and return values,
then keyword-only ``seed`` and ``offset`` (docs/STREAM.md sections 4 and 9).

The front ends only compute the parameters, in torch's own Python operations, so that
Python-level errors and warnings come out exactly as torch's; the validation and the
kernel calls are :mod:`fastinit.core.kernel`'s.
"""

from __future__ import annotations

import math
import warnings

from ..core.docs import shared_doc
from ..core.bounds import (
    calculate_gain,
    correct_fan,
    kaiming_bound_cached,
    fans,
    xavier_bound_for,
)
from ..core.kernel import (
    _ARG_NAMES,
    _PLAIN_REALS,
    _as_float,
    _check_generator,
    _check_normal_std,
    _fast_fill,
    _fill,
    _shape,
    _handle_torch_function,
    _wants_torch_function,
)
from ..core.targets import F16, F32, F64, _torch_dtype_label, check_bounds, check_no_overlap, is_torch_tensor

__all__ = [
    "uniform_",
    "kaiming_uniform_",
    "xavier_uniform_",
    "normal_",
    "kaiming_normal_",
    "xavier_normal_",
    "trunc_normal_",
]

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
    if _wants_torch_function(tensor):
        return _handle_torch_function(uniform_, tensor, a=a, b=b, generator=generator, seed=seed, offset=offset)
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
    if _wants_torch_function(tensor):
        return _handle_torch_function(kaiming_uniform_, tensor, a=a, mode=mode, nonlinearity=nonlinearity,
                                      generator=generator, seed=seed, offset=offset)
    shape = _shape(tensor)
    if 0 in shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    bound = kaiming_bound_cached(shape, a, mode, nonlinearity)
    if type(bound) is float:
        done = _fast_fill(tensor, 0, -bound, bound, generator, seed, offset)
        if done is not None:
            return done
    return _fill(tensor, "uniform", (-bound, bound), generator, seed, offset, name="kaiming_uniform_")


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
    if _wants_torch_function(tensor):
        return _handle_torch_function(xavier_uniform_, tensor, gain=gain, generator=generator, seed=seed, offset=offset)
    bound = xavier_bound_for(_shape(tensor), gain)
    if type(bound) is float:
        done = _fast_fill(tensor, 0, -bound, bound, generator, seed, offset)
        if done is not None:
            return done
    return _fill(tensor, "uniform", (-bound, bound), generator, seed, offset, name="xavier_uniform_")


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
    if _wants_torch_function(tensor):
        return _handle_torch_function(normal_, tensor, mean=mean, std=std, generator=generator,
                                      seed=seed, offset=offset)
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
    if _wants_torch_function(tensor):
        return _handle_torch_function(kaiming_normal_, tensor, a=a, mode=mode, nonlinearity=nonlinearity,
                                      generator=generator, seed=seed, offset=offset)
    shape = _shape(tensor)
    if 0 in shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    fan = correct_fan(shape, mode)
    gain = calculate_gain(nonlinearity, a)
    std = gain / math.sqrt(fan)
    if type(std) is float:
        done = _fast_fill(tensor, 1, 0.0, std, generator, seed, offset)
        if done is not None:
            return done
    return _fill(tensor, "normal", (0, std), generator, seed, offset, name="kaiming_normal_")


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
    if _wants_torch_function(tensor):
        return _handle_torch_function(xavier_normal_, tensor, gain=gain, generator=generator, seed=seed, offset=offset)
    fan_in, fan_out = fans(_shape(tensor))
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    if type(std) is float:
        done = _fast_fill(tensor, 1, 0.0, std, generator, seed, offset)
        if done is not None:
            return done
    return _fill(tensor, "normal", (0.0, std), generator, seed, offset, name="xavier_normal_")


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
    if _wants_torch_function(tensor):
        return _handle_torch_function(trunc_normal_, tensor, mean=mean, std=std, a=a, b=b, generator=generator,
                                      seed=seed, offset=offset)
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
    return _fill(tensor, "trunc_normal", (mean, std, a, b), generator, seed, offset, checks, name="trunc_normal_")


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
