"""Meta-tensor and shape bookkeeping for deferred_init: output shapes of ops on meta tensors
without torch's Python meta kernels (which import torch._dynamo: seconds), layouts, device strings."""

from __future__ import annotations

def _torch():
    import torch

    return torch


def _dense(size, stride, nelem) -> bool:
    n = 1
    for s in size:
        n *= s
    if n != nelem:
        return False
    if n == 0:
        return True
    acc = 1
    for st, sz in sorted((st, sz) for st, sz in zip(stride, size) if sz > 1):
        if st != acc:
            return False
        acc *= sz
    return True


def _key(t):
    return t.untyped_storage()._cdata


_FILL_DTYPES_CACHE = None


def _FILL_DTYPES():
    global _FILL_DTYPES_CACHE
    if _FILL_DTYPES_CACHE is None:
        torch = _torch()
        _FILL_DTYPES_CACHE = frozenset((torch.float32, torch.float64, torch.float16, torch.bfloat16))
    return _FILL_DTYPES_CACHE


# ops whose output shape depends on the input values
_DATA_DEPENDENT = {"nonzero", "argwhere", "masked_select", "unique", "unique_consecutive", "bincount", "histc",
                   "repeat_interleave", "nonzero_static"}


def _mask_index(idx) -> bool:
    """An index with a bool/uint8 tensor (a mask: the result's shape depends on values)."""
    torch = _torch()
    if isinstance(idx, torch.Tensor):
        return idx.dtype in (torch.bool, torch.uint8)
    if isinstance(idx, (list, tuple)):
        return any(_mask_index(i) for i in idx)
    return False


# out-of-place elementwise ops: the output's shape is the inputs' broadcast shape
_POINTWISE = {
    "mul", "add", "sub", "div", "true_divide", "pow", "neg", "exp", "exp2", "log", "log2", "log10", "sqrt", "rsqrt",
    "sin", "cos", "tan", "tanh", "sigmoid", "abs", "clamp", "clip", "clamp_min", "clamp_max", "erf", "erfinv",
    "reciprocal", "where", "maximum", "minimum", "floor", "ceil", "round", "trunc", "frac", "remainder", "fmod",
    "log1p", "expm1", "square", "sign", "lt", "le", "gt", "ge", "eq", "ne", "logical_not", "logical_and",
    "logical_or", "bitwise_and", "bitwise_or", "floor_divide", "atan", "asin", "acos", "sinh", "cosh", "relu",
    "__mul__", "__rmul__", "__add__", "__radd__", "__sub__", "__rsub__", "__truediv__", "__rtruediv__",
    "__pow__", "__rpow__", "__neg__", "__floordiv__", "__rfloordiv__", "__mod__", "__rmod__", "__lt__", "__le__",
    "__gt__", "__ge__", "__eq__", "__ne__", "__and__", "__or__", "__xor__", "__invert__", "__abs__", "rsub",
    "float_power", "hypot", "atan2", "lerp", "addcmul", "addcdiv", "nan_to_num", "sgn", "heaviside",
}


def _proxy(obj, tiny):
    """Real CPU stand-ins for meta tensors: ones of the same dtype, one element
    broadcast to the full shape (no memory), or of shape (1,)*ndim when ``tiny``."""
    torch = _torch()
    if isinstance(obj, torch.Tensor) and obj.is_meta:
        one = torch.ones((), dtype=obj.dtype)
        return one.expand((1,) * obj.dim() if tiny else obj.shape)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_proxy(x, tiny) for x in obj) if type(obj) in (list, tuple) else obj
    if isinstance(obj, dict):
        return {k: _proxy(v, tiny) for k, v in obj.items()}
    return obj


def _as_meta(obj):
    torch = _torch()
    if isinstance(obj, torch.Tensor):
        return torch.empty_strided(obj.size(), obj.stride(), dtype=obj.dtype, device="meta")
    if isinstance(obj, (list, tuple)):
        items = [_as_meta(x) for x in obj]
        if type(obj) in (list, tuple) or hasattr(type(obj), "n_fields"):
            # a structseq (torch.return_types.max, .sort, .topk...) is built from a sequence;
            # returned as it came, it handed the CPU stand-ins' outputs to the record
            return type(obj)(items)
        return type(obj)(*items) if hasattr(obj, "_fields") else tuple(items)
    return obj


def _leaves(obj, cls):
    """The instances of ``cls`` in ``obj`` and its nested lists, tuples and dicts, in order
    (the one walk over call arguments: tensors, meta tensors, records' references)."""
    if isinstance(obj, cls):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for x in obj:
            yield from _leaves(x, cls)
    elif isinstance(obj, dict):
        for x in obj.values():
            yield from _leaves(x, cls)


def _meta_tensors(obj):
    return (t for t in _leaves(obj, _torch().Tensor) if t.is_meta)


def _shares(out, proxies) -> bool:
    torch = _torch()
    keys = {p.untyped_storage()._cdata for p in _all_tensors(proxies)}
    return any(t.untyped_storage()._cdata in keys for t in _all_tensors(out) if isinstance(t, torch.Tensor))


def _tensors_only(obj) -> bool:
    torch = _torch()
    if isinstance(obj, torch.Tensor):
        return True
    if isinstance(obj, (list, tuple)):
        return all(_tensors_only(x) for x in obj)
    return False


def _all_tensors(obj):
    return _leaves(obj, _torch().Tensor)


def _broadcast(shapes):
    """torch's broadcasting rule (torch.broadcast_shapes imports sympy: a second)."""
    nd = max((len(s) for s in shapes), default=0)
    out = [1] * nd
    for s in shapes:
        for i, n in enumerate(s, nd - len(s)):
            if n != 1:
                if out[i] not in (1, n):
                    raise RuntimeError(f"shapes {shapes} cannot be broadcast together")
                out[i] = n
    return tuple(out)


def _shape_run(func, name, args, kwargs):
    """The op's output as meta tensors, without torch's meta kernels where those are
    Python references (elementwise ops, cat, tril...: the first one imports
    torch._dynamo, about a second): the op runs on real CPU stand-ins (no memory for
    the inputs), the shape of a pointwise op is the broadcast shape. Views of inputs
    and ops the stand-ins do not suit run on meta."""
    torch = _torch()
    metas = list(_meta_tensors((args, kwargs)))
    try:
        if name in _POINTWISE:
            pa, pk = _proxy(args, True), _proxy(kwargs, True)
            out = func(*pa, **pk)
            if isinstance(out, torch.Tensor) and not _shares(out, (pa, pk)):
                shape = _broadcast([tuple(t.shape) for t in metas])
                return torch.empty(shape, dtype=out.dtype, device="meta")
        elif sum(t.numel() for t in metas) <= (1 << 20):
            pa, pk = _proxy(args, False), _proxy(kwargs, False)
            out = func(*pa, **pk)
            if _tensors_only(out) and not _shares(out, (pa, pk)):
                return _as_meta(out)
    except Exception:
        pass
    return func(*args, **kwargs)


def _is_device_str(s: str) -> bool:
    return s.split(":")[0] in ("cpu", "cuda", "meta", "xpu", "mps", "hpu", "npu", "privateuseone")


def _any_meta(obj) -> bool:
    return next(_meta_tensors(obj), None) is not None


def _meta_device(kwargs):
    if "device" in kwargs and kwargs["device"] is not None:
        kwargs = dict(kwargs)
        kwargs["device"] = "meta"
    return kwargs

