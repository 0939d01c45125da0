"""The record deferred_init keeps per storage (creation, in-place writes, references to
other storages' values at a version), the op tables that classify torch calls, and the walks
over the record (naming, errors, randomness)."""

from __future__ import annotations

from ..fills import registry as _registry
from . import rng as _rng
from .shapes import _dense, _leaves


class DeferredInitError(RuntimeError):
    """An op that deferred_init cannot record or materialize_ cannot replay."""


# --- op tables ---------------------------------------------------------------------------

# factories whose storage needs no values
_ALLOC = {"empty", "empty_like", "new_empty", "empty_strided", "new_empty_strided"}
# constant factories: name -> how to get the value from (args, kwargs)
_CONST = {"zeros": 0, "zeros_like": 0, "new_zeros": 0, "ones": 1, "ones_like": 1, "new_ones": 1}
_FULL = {"full", "full_like", "new_full"}
# RNG factories and methods: the tables of models/rng.py (one for recorder, replay and engine)
_RNG_FACTORY_FILL, _RNG_FACTORY_TORCH = _rng.RNG_FACTORY_FILL, _rng.RNG_FACTORY_TORCH
_RNG_METHOD_FILL, _RNG_METHOD_TORCH = _rng.RNG_METHOD_FILL, _rng.RNG_METHOD_TORCH
# in-place methods that only change the Python tensor's metadata (sizes, strides, flags)
_META_ONLY = {"t_", "transpose_", "squeeze_", "unsqueeze_", "as_strided_", "swapdims_", "swapaxes_",
              "requires_grad_", "retain_grad", "share_memory_", "detach_", "rename_", "refine_names"}
_REFUSED = {"resize_", "resize_as_", "set_"}
# in-place methods that write every element of their target without reading it
_PURE_WRITES = {"fill_", "zero_", "copy_"}
# elementwise in-place methods that a shard can run on its own (with scalar arguments)
_ELEMENTWISE = {"mul_", "add_", "sub_", "div_", "clamp_", "clamp_min_", "clamp_max_", "erfinv_", "exp_", "log_",
                "neg_", "abs_", "sqrt_", "tanh_", "sigmoid_", "pow_", "reciprocal_", "fill_", "zero_", "erf_",
                "sign_", "floor_", "ceil_", "round_", "trunc_", "frac_", "relu_", "log1p_", "expm1_", "square_"}
_INPLACE_DUNDERS = {"__setitem__", "__iadd__", "__isub__", "__imul__", "__itruediv__", "__ifloordiv__", "__imod__",
                    "__ipow__", "__iand__", "__ior__", "__ixor__", "__ilshift__", "__irshift__"}
# values-needed ops: their result is a Python value computed from the data
_VALUE_OPS = {"item", "tolist", "__bool__", "__float__", "__int__", "__index__", "__complex__", "numpy",
              "__array__", "__format__"}
#: The init functions that write a fixed pattern over the whole tensor (eye_, dirac_): no
#: random op (no ordinal), replayed as they were called; from the registry.
_DETERMINISTIC_INIT = frozenset(_registry.deterministic_names())
_FACTORY_NAMES = (_ALLOC | set(_CONST) | _FULL | set(_RNG_FACTORY_FILL) | _RNG_FACTORY_TORCH)


# --- the record --------------------------------------------------------------------------


class _Storage:
    """One storage's record: the meta tensor that created it, how it was created, and
    the in-place writes to it in order."""

    __slots__ = ("meta", "nelem", "root", "ops", "name", "device", "nrng", "kills", "error")

    def __init__(self, meta, root, device=None):
        self.meta = meta
        self.nelem = meta.untyped_storage().nbytes() // max(meta.element_size(), 1)
        self.root = root
        self.ops = []
        self.name = None
        self.device = device
        self.nrng = {}  # init pass -> random ops counted on this storage in it (models/rng.py)
        self.kills = []  # indices of ops that overwrite the whole storage without reading it
        self.error = None


class _Ref:
    """A view of a storage as it was after ``version`` of its writes."""

    __slots__ = ("st", "size", "stride", "offset", "version", "dtype")

    def __init__(self, st, t):
        self.st = st
        self.size = tuple(t.size())
        self.stride = tuple(t.stride())
        self.offset = t.storage_offset()
        self.version = len(st.ops)
        self.dtype = t.dtype

    def whole(self) -> bool:
        """Every element of the storage exactly once."""
        return self.offset == 0 and self.dtype == self.st.meta.dtype and _dense(self.size, self.stride, self.st.nelem)

    def same_layout(self, t) -> bool:
        return self.size == tuple(t.size()) and self.stride == tuple(t.stride()) and self.offset == t.storage_offset()


class _Const:
    """A real tensor that the constructor read (created outside the recording, or by a
    path torch's function mode does not see): a snapshot taken when it was read."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


class _Device:
    """Stands for the device of the replay in recorded arguments."""

    __slots__ = ()


_DEVICE = _Device()


class _Op:
    """kind: "alloc" | "const" (value) | "fill" (fastinit function ``name``, args, kwargs)
    | "trng" (torch function, args, kwargs, run with a seeded generator) | "call" (torch
    function, args, kwargs). ``ref``: the written view (writes only). ``ordinal``: the RNG
    op's index among the storage's RNG ops of its pass ``init_pass``; ``key_name``: a random op on a storage that is not
    the model's, its key's name (``:temporary:i``, set when deferred_init names the model).
    ``out``: index path into a call's result."""

    __slots__ = ("kind", "name", "func", "args", "kwargs", "ref", "ordinal", "out", "value", "explicit_seed",
                 "key_name", "init_pass")

    def __init__(self, kind, name="", func=None, args=(), kwargs=None, ref=None, out=None, value=None):
        self.kind = kind
        self.name = name
        self.func = func
        self.args = args
        self.kwargs = kwargs or {}
        self.ref = ref
        self.ordinal = 0
        self.out = out
        self.value = value
        self.explicit_seed = False
        self.key_name = None  # a random op on a temporary: its own key name (rng.temporary_name)
        self.init_pass = 0  # a random op: its pass (0: outside init_weights(); models/rng.py)

    def kills(self) -> bool:
        if self.ref is None or not self.ref.whole():
            return False
        if self.kind in ("fill", "trng", "const"):
            return True
        if self.kind == "call" and self.name in _DETERMINISTIC_INIT:
            return True
        if self.kind == "call" and self.name in _PURE_WRITES:
            src = self.args[0] if self.name == "copy_" and self.args else None
            return not (isinstance(src, _Ref) and src.st is self.ref.st)
        return False



def _name_sources(st, qual):
    """Names the unnamed storages that ``st``'s record reads, depth first."""
    count = [0]
    seen = set()

    def visit(s):
        if id(s) in seen:
            return
        seen.add(id(s))
        if s.name is None:
            s.name = f"{qual}<{count[0]}>"
            count[0] += 1
        for op in [s.root] + s.ops:
            for r in _refs_in((op.args, op.kwargs)):
                visit(r.st)

    visit(st)


def _first_error(st, version, seen=None):
    seen = set() if seen is None else seen
    if id(st) in seen:
        return None
    seen.add(id(st))
    if st.error is not None and not st.kills:
        return f"{st.error} ({tuple(st.meta.shape)}, {st.meta.dtype})"
    for op in [st.root] + st.ops[:version]:
        for r in _refs_in((op.args, op.kwargs)):
            e = _first_error(r.st, r.version, seen)
            if e is not None:
                return e
    return None


def _is_random(st, version, seen=None):
    """Whether the storage's value at ``version`` depends on an RNG op."""
    seen = set() if seen is None else seen
    if id(st) in seen:
        return False
    seen.add(id(st))
    for op in [st.root] + st.ops[:version]:
        if op.kind in ("fill", "trng"):
            return True
        if any(_is_random(r.st, r.version, seen) for r in _refs_in((op.args, op.kwargs))):
            return True
    return False


def _refs_in(obj):
    return _leaves(obj, _Ref)


class _Plan:
    """What materialize_ needs of a deferred_init: each tensor's reference into the record,
    and the tie groups (names that were one tensor object when ``module_fn`` returned)."""

    __slots__ = ("entries", "groups", "root")

    def __init__(self, entries, groups=None, root=None):
        self.entries = entries  # qualname -> (kind, _Ref)
        self.groups = groups or {}  # qualname -> the tie group's names, in order (only tied names)
        self.root = root  # the module deferred_init returned (a cycle, as a module's own hooks make)


