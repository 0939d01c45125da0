"""JAX's variance-scaling initializers in torch's weight layout: ``variance_scaling_`` and
the ``lecun_uniform_`` / ``lecun_normal_`` it defines. Built on ``normal_``, ``uniform_``
and ``trunc_normal_``, so they take whatever those take (NumPy arrays included)."""

from __future__ import annotations

import math
import warnings

from .standard import normal_, trunc_normal_, uniform_
from ..core.bounds import fans
from ..core.docs import shared_doc
from ..core.kernel import _handle_torch_function, _shape, _wants_torch_function

__all__ = ["variance_scaling_", "lecun_uniform_", "lecun_normal_"]

# std of the standard normal truncated to (-2, 2): JAX's variance_scaling divides by it so
# that the truncated samples have std sqrt(scale / n) (jax.nn.initializers.variance_scaling,
# https://docs.jax.dev/en/latest/_autosummary/jax.nn.initializers.variance_scaling.html:
# "a standard deviation (after truncation, if applicable) of sqrt(scale/n)";
# "truncated at 2 standard deviations"). Equals sqrt(1 - 4 phi(2) / (2 Phi(2) - 1)).
TRUNC_2SIGMA_STD = 0.87962566103423978

_VS_MODES = ("fan_in", "fan_out", "fan_avg")
_VS_DISTRIBUTIONS = ("truncated_normal", "normal", "uniform")


def variance_scaling_std(shape, scale=1.0, mode="fan_in"):
    """``sqrt(scale / n)``: the standard deviation ``variance_scaling_`` gives a weight of
    this shape (n: fan_in, fan_out or their mean, in torch's (out, in, *kernel) layout)."""
    if not scale >= 0.0:
        raise ValueError(f"`scale` must be a positive float. Got: {scale}")
    if mode not in _VS_MODES:
        raise ValueError(f"invalid mode for variance scaling initializer: {mode}")
    fan_in, fan_out = fans(shape)
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    return math.sqrt(scale / n)


@shared_doc
def variance_scaling_(tensor, scale=1.0, mode="fan_in", distribution="truncated_normal", generator=None, *,
                      seed=None, offset=0):
    """Fill ``tensor`` with JAX's variance-scaling initializer, in torch's weight layout.

    ``jax.nn.initializers.variance_scaling(scale, mode, distribution)`` for torch's
    weight layout: zero mean and standard deviation ``sqrt(scale / n)``, plus the
    ``generator``, ``seed`` and ``offset`` of every fastinit fill.

    ``n`` (JAX's docs): ``fan_in``, ``fan_out`` or ``(fan_in + fan_out) / 2``, computed as
    torch computes fans for its ``(out, in, *kernel)`` layout: ``fan_in = size(1) x
    receptive field``, ``fan_out = size(0) x receptive field`` (JAX's own default layout is
    ``(..., in, out)``; a torch Linear weight is ``(out, in)``).

    * ``"truncated_normal"``: N(0, s^2) truncated to ``[-2 s, 2 s]`` with
      ``s = sqrt(scale / n) / 0.87962566103423978`` (JAX's correction: the std of the
      standard normal truncated at +-2), so the samples' std is ``sqrt(scale / n)``; drawn
      by ``fastinit.trunc_normal_`` (exact inversion).
    * ``"normal"``: N(0, scale / n) by ``fastinit.normal_``.
    * ``"uniform"``: U(-sqrt(3 scale / n), sqrt(3 scale / n)) by ``fastinit.uniform_``.

    ``scale == 0`` fills zeros, as JAX's product does. Zero-element tensors warn and are
    returned untouched (torch's kaiming convention).

    {guarantee}

    Args:
        tensor: the tensor or array to fill in place, at least 2 dimensions (torch's
            ``(out, in, *kernel)`` layout): a torch tensor on CPU or CUDA (float32,
            float64, float16, bfloat16; any strided view; an ``nn.Parameter``; a DTensor,
            each rank filling its shard), a NumPy array (the same dtypes, bfloat16 as
            ``ml_dtypes.bfloat16``) or an object with ``__cuda_array_interface__``.
        scale (float): the variance scale, >= 0. Default 1.0.
        mode (str): which ``n``: ``"fan_in"`` (default), ``"fan_out"`` or ``"fan_avg"``.
        distribution (str): ``"truncated_normal"`` (default), ``"normal"`` or
            ``"uniform"``, as above.
        {generator_seed_offset}

    Returns:
        ``tensor`` itself, filled.

    Raises:
        ValueError: in JAX's order: ``scale`` not >= 0 ("`scale` must be a positive float.
            Got: ..."), fewer than 2 dimensions (torch's fan message), an unknown ``mode``
            or ``distribution`` (JAX's wording).
        The exception type and message that the underlying fill (``fastinit.normal_``,
        ``fastinit.uniform_`` or ``fastinit.trunc_normal_``) raises for what it refuses
        (integer, bool or complex dtypes, read-only or overlapping views, non-arrays, a bad
        generator, a seed or offset outside [0, 2**64)). Nothing is written and no
        generator advances when a call raises.

    Example:
        >>> w = torch.empty(512, 256)
        >>> fastinit.variance_scaling_(w, 2.0, "fan_in", "truncated_normal", seed=0)  # He, truncated
        >>> fastinit.variance_scaling_(w, 1.0, "fan_avg", "uniform")                 # Glorot uniform
    """
    if _wants_torch_function(tensor):
        return _handle_torch_function(variance_scaling_, tensor, scale=scale, mode=mode, distribution=distribution,
                                      generator=generator, seed=seed, offset=offset)
    shape = _shape(tensor)
    # JAX's order: scale (checked when the initializer is built), fans, mode, distribution
    if not scale >= 0.0:
        raise ValueError(f"`scale` must be a positive float. Got: {scale}")
    fans(shape)
    if mode not in _VS_MODES:
        raise ValueError(f"invalid mode for variance scaling initializer: {mode}")
    if distribution not in _VS_DISTRIBUTIONS:
        raise ValueError(f"invalid distribution for variance scaling initializer: {distribution}")
    if 0 in shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    std = variance_scaling_std(shape, scale, mode)
    if distribution == "normal" or std == 0.0:
        return normal_(tensor, 0.0, std, generator, seed=seed, offset=offset)
    if distribution == "uniform":
        bound = math.sqrt(3.0) * std
        return uniform_(tensor, -bound, bound, generator, seed=seed, offset=offset)
    s = std / TRUNC_2SIGMA_STD
    return trunc_normal_(tensor, 0.0, s, -2.0 * s, 2.0 * s, generator, seed=seed, offset=offset)


@shared_doc
def lecun_uniform_(tensor, generator=None, *, seed=None, offset=0):
    """Fill ``tensor`` with LeCun uniform values: U(-sqrt(3 / fan_in), sqrt(3 / fan_in)).

    ``jax.nn.initializers.lecun_uniform`` for torch's ``(out, in, *kernel)`` layout:
    exactly ``variance_scaling_(tensor, 1.0, "fan_in", "uniform")``, so the values have
    std ``1 / sqrt(fan_in)`` (LeCun et al., Efficient BackProp, 1998). Drawn by
    ``fastinit.uniform_``; a zero-element tensor warns and is returned untouched.

    {guarantee}

    Args:
        tensor: the tensor or array to fill in place, at least 2 dimensions (torch's
            ``(out, in, *kernel)`` layout): a torch tensor on CPU or CUDA (float32,
            float64, float16, bfloat16; any strided view; an ``nn.Parameter``; a DTensor,
            each rank filling its shard), a NumPy array (the same dtypes, bfloat16 as
            ``ml_dtypes.bfloat16``) or an object with ``__cuda_array_interface__``.
        {generator_seed_offset}

    Returns:
        ``tensor`` itself, filled.

    Raises:
        ValueError: fewer than 2 dimensions (torch's fan message).
        The exception type and message that the underlying fill (``fastinit.normal_``,
        ``fastinit.uniform_`` or ``fastinit.trunc_normal_``) raises for what it refuses
        (integer, bool or complex dtypes, read-only or overlapping views, non-arrays, a bad
        generator, a seed or offset outside [0, 2**64)). Nothing is written and no
        generator advances when a call raises.

    Example:
        >>> w = torch.empty(256, 128)
        >>> fastinit.lecun_uniform_(w, seed=0)       # bound sqrt(3 / 128)
    """
    if _wants_torch_function(tensor):
        return _handle_torch_function(lecun_uniform_, tensor, generator=generator, seed=seed, offset=offset)
    return variance_scaling_(tensor, 1.0, "fan_in", "uniform", generator, seed=seed, offset=offset)


@shared_doc
def lecun_normal_(tensor, generator=None, *, seed=None, offset=0):
    """Fill ``tensor`` with LeCun normal values: std 1 / sqrt(fan_in) after truncation at 2 sigma.

    ``jax.nn.initializers.lecun_normal`` for torch's ``(out, in, *kernel)`` layout:
    exactly ``variance_scaling_(tensor, 1.0, "fan_in", "truncated_normal")``: N(0, s^2)
    truncated to ``[-2 s, 2 s]`` with ``s = (1 / sqrt(fan_in)) / 0.87962566103423978``, so
    the samples' std is ``1 / sqrt(fan_in)`` (LeCun et al., Efficient BackProp, 1998).
    Drawn by ``fastinit.trunc_normal_`` (exact inversion); a zero-element tensor warns and
    is returned untouched.

    {guarantee}

    Args:
        tensor: the tensor or array to fill in place, at least 2 dimensions (torch's
            ``(out, in, *kernel)`` layout): a torch tensor on CPU or CUDA (float32,
            float64, float16, bfloat16; any strided view; an ``nn.Parameter``; a DTensor,
            each rank filling its shard), a NumPy array (the same dtypes, bfloat16 as
            ``ml_dtypes.bfloat16``) or an object with ``__cuda_array_interface__``.
        {generator_seed_offset}

    Returns:
        ``tensor`` itself, filled.

    Raises:
        ValueError: fewer than 2 dimensions (torch's fan message).
        The exception type and message that the underlying fill (``fastinit.normal_``,
        ``fastinit.uniform_`` or ``fastinit.trunc_normal_``) raises for what it refuses
        (integer, bool or complex dtypes, read-only or overlapping views, non-arrays, a bad
        generator, a seed or offset outside [0, 2**64)). Nothing is written and no
        generator advances when a call raises.

    Example:
        >>> w = torch.empty(256, 128)
        >>> fastinit.lecun_normal_(w, seed=0)        # std 1 / sqrt(128)
    """
    if _wants_torch_function(tensor):
        return _handle_torch_function(lecun_normal_, tensor, generator=generator, seed=seed, offset=offset)
    return variance_scaling_(tensor, 1.0, "fan_in", "truncated_normal", generator, seed=seed, offset=offset)
