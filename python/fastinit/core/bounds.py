"""Gains, fans and bounds, computed as torch.nn.init computes them (same operations in
the same order, in float64), for torch tensors, NumPy arrays and bare shapes."""

from __future__ import annotations

import math

_LINEAR_FNS = (
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
)


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for a nonlinearity, as ``torch.nn.init.calculate_gain``.

    ==================  ====================================
    nonlinearity        gain
    ==================  ====================================
    linear, conv*d,     1
    sigmoid
    tanh                5/3
    relu                sqrt(2)
    leaky_relu          sqrt(2 / (1 + negative_slope**2))
    selu                3/4
    ==================  ====================================

    ``nn.Linear`` and the conv layers call ``kaiming_uniform_(w, a=math.sqrt(5))``: the gain
    is then ``sqrt(2 / 6) = 1/sqrt(3)`` and the bound ``sqrt(3) * gain / sqrt(fan_in)`` is
    exactly the documented ``1/sqrt(fan_in)``.

    Args:
        nonlinearity (str): the name of the non-linear function, as in torch.
        param (float, optional): the negative slope for ``'leaky_relu'`` (default 0.01).

    Returns:
        The gain, the same number (and type) torch returns.

    Raises:
        ValueError: with torch's message, for an unknown nonlinearity or a bad ``param``.

    Example:
        >>> fastinit.calculate_gain("leaky_relu", 0.2)
        1.3867504905630728
    """
    if nonlinearity in _LINEAR_FNS or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, int) or isinstance(param, float):
            negative_slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def fans(shape) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of this shape: torch's ``_calculate_fan_in_and_fan_out``."""
    shape = tuple(shape)
    if len(shape) < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions")
    receptive_field_size = 1
    for s in shape[2:]:
        receptive_field_size *= s
    return shape[1] * receptive_field_size, shape[0] * receptive_field_size


def correct_fan(shape, mode) -> int:
    mode = mode.lower()
    valid_modes = ["fan_in", "fan_out"]
    if mode not in valid_modes:
        raise ValueError(f"Mode {mode} not supported, please use one of {valid_modes}")
    fan_in, fan_out = fans(shape)
    return fan_in if mode == "fan_in" else fan_out


def kaiming_bound_for(shape, a, mode, nonlinearity) -> float:
    fan = correct_fan(shape, mode)
    gain = calculate_gain(nonlinearity, a)
    std = gain / math.sqrt(fan)
    return math.sqrt(3.0) * std


def xavier_bound_for(shape, gain) -> float:
    fan_in, fan_out = fans(shape)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return math.sqrt(3.0) * std


def kaiming_bound(shape_or_tensor, a=0, mode="fan_in", nonlinearity="leaky_relu") -> float:
    """The bound that ``kaiming_uniform_`` uses, as a float: the number torch computes.

    ``bound = sqrt(3) * (gain / sqrt(fan))`` in torch's own operation order, so it is equal
    (``==``) to the bound ``torch.nn.init.kaiming_uniform_`` passes to ``uniform_``.

    Args:
        shape_or_tensor: a shape (a tuple of ints, at least 2 of them) or anything with a
            ``.shape`` (a tensor or array).
        a (float): the negative slope, as for ``kaiming_uniform_``. Default 0.
        mode (str): ``'fan_in'`` (default) or ``'fan_out'``.
        nonlinearity (str): as for :func:`calculate_gain`. Default ``'leaky_relu'``.

    Returns:
        float: the bound; values are drawn from U(-bound, bound).

    Example:
        >>> fastinit.kaiming_bound((3072, 768), a=math.sqrt(5))   # 1/sqrt(768)
        0.03608439182435161
    """
    shape = getattr(shape_or_tensor, "shape", shape_or_tensor)
    return kaiming_bound_for(shape, a, mode, nonlinearity)


_PLAIN_SLOPES = (int, float)  # exact types: hashing and comparing them runs no user code
_BOUNDS = {}  # (shape, type(a), a, mode, nonlinearity) -> kaiming bound, for the per-call fast path
_BOUNDS_MAX = 4096


def kaiming_bound_cached(shape, a, mode, nonlinearity):
    """:func:`kaiming_bound_for`, remembered for plain arguments (a tuple of ints, an int or
    float ``a``, str ``mode`` and ``nonlinearity``): the same float, without the four
    Python calls (issue 20 item 4). Anything else, and any argument that raises, computes
    it each time, so errors and warnings are as before."""
    if type(a) not in _PLAIN_SLOPES or type(mode) is not str or type(nonlinearity) is not str:
        return kaiming_bound_for(shape, a, mode, nonlinearity)
    key = (shape, type(a), a, mode, nonlinearity)  # 3 and 3.0: equal keys, maybe not equal bounds
    bound = _BOUNDS.get(key)
    if bound is None:
        bound = kaiming_bound_for(shape, a, mode, nonlinearity)
        if type(bound) is float and bound == bound:  # no NaN key (it would never match)
            if len(_BOUNDS) >= _BOUNDS_MAX:
                _BOUNDS.clear()
            _BOUNDS[key] = bound
    return bound
