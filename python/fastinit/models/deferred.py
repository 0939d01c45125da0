"""``deferred_init`` and ``materialize_`` (issue 10): build any model on the meta device
in milliseconds, recording what its constructor does to every tensor, then allocate it
anywhere (one device, or only each rank's shards) and replay that record, with every random
op turned into a fastinit counter-based fill.

How it records
--------------
``deferred_init(fn, *args, **kwargs)`` runs ``fn`` under a ``TorchFunctionMode`` (no
dispatch mode: entering a ``TorchDispatchMode`` imports ``torch._dynamo``, about a second)
with ``torch.nn.init``'s functions swapped for recorders (the same swap that
``patch_torch_init`` does, by-value imports, Hugging Face's ``TORCH_INIT_FUNCTIONS`` and
timm's ``trunc_normal_`` included; torch's ``trunc_normal_``, ``orthogonal_``, ``sparse_``
and ``dirac_`` return early on meta tensors without any torch op, so only the swap can see
them). Every tensor the constructor creates is a meta tensor, and every *storage* gets a
record:

* its creation: an allocation (``empty``...), a constant factory (``zeros``, ``ones``,
  ``full``...), an RNG factory (``rand``, ``randn``, ``normal``, ``randint``, ``randperm``,
  ``bernoulli``...), or any other torch call (``arange``, ``tensor([...])``, ``eye``,
  arithmetic such as rotary ``inv_freq``) with its inputs as references;
* the ordered list of in-place writes to it through any view (``.data``, indexing,
  ``__setitem__``, ``out=``): RNG methods (``uniform_``, ``normal_``, ``random_``,
  ``bernoulli_``, ``exponential_``...), ``torch.nn.init`` calls, and every other in-place
  method (``fill_``, ``zero_``, ``copy_``, ``mul_``, ``clamp_``, ``erfinv_``...).

A reference to a tensor is (storage, sizes, strides, storage offset, version): the value it
had when it was read, so later writes to the source do not change what a computed tensor
saw. In-place ops are not run on meta (torch's meta ``erfinv_`` and ``normal_`` run Python
references that import ``torch._dynamo``: seconds); only ops whose output shape is needed
run on meta. When ``fn`` returns, every parameter, buffer and plain tensor attribute is
keyed to its qualified name (tied ones: the first name) and temporaries to the first named
tensor that reads them (``name<i>``).

Values while recording: ``item()``, ``tolist()``, ``bool(t)`` and ops whose output shape
depends on values (``nonzero``, mask indexing, ``unique``...) are computed for real, on CPU,
from the record, when it has no random op (timm derives drop-path rates with
``torch.linspace(...).tolist()``). Factories whose result has no elements are made for real
(Hugging Face probes the construction device with ``torch.tensor([])``).

What raises (``DeferredInitError``): a value of a random tensor while recording, with the
op named; ``resize_`` / ``set_`` on a recorded tensor; a meta tensor that was not created under ``deferred_init`` and whose values are
needed; an ``empty`` tensor some of whose elements nothing writes (eager construction would
leave them uninitialized): named at ``materialize_``. A torch op that fails when replayed
is re-raised naming the op and the tensor.

How it replays
--------------
``materialize_(module, device=None, *, seed=None, generator=None)`` allocates every meta
tensor on ``device`` (``module._apply``, as ``to_empty``; tied parameters once, and they
stay tied), then replays each tensor's record in place. Only the record from the last op
that overwrites the whole tensor without reading it (an RNG fill, a constant, ``copy_``, an
init function) is replayed: ``nn.Linear``'s ``kaiming_uniform_`` followed by a library's
``normal_`` costs one fill.

* RNG ops: ``uniform_``/``rand`` and ``normal_``/``randn``/``normal`` and the
  ``torch.nn.init`` functions fastinit has become fastinit fills with
  ``seed = derive_seed(s, name)`` for the tensor's first RNG op and
  ``derive_seed(s, name + "#j")`` for its j-th (j >= 1), ``s`` being ``seed`` or one key
  drawn from ``generator`` / ``torch.default_generator``. Values then depend only on
  (s, name, j): not on module order, threads, device or sharding. Other RNG ops
  (``randint``, ``randperm``, ``bernoulli_``, ``exponential_``, ``orthogonal_``,
  ``sparse_``...) run torch's own op with a CPU ``torch.Generator`` seeded with the same
  key (then copied to the device): reproducible, the same on every device, computed on
  the whole tensor.
* Everything else is torch's own op on the real inputs: constants and computed buffers are
  bit-identical to an eager build on the same device.
* A DTensor (``fully_shard``, ``distribute_tensor``, ``parallelize_module`` applied on meta
  after ``deferred_init``): when the tensor's record is a chain of fills and elementwise
  scalar ops on the whole tensor (the common case: init fills, ``mul_(scale)``,
  ``clamp_``...), each rank writes only its local shard (fastinit's box fills; the
  elementwise ops on the local tensor). Otherwise (row writes such as a padding row,
  ``copy_`` from another tensor, ``orthogonal_``, computed tensors) the whole tensor is
  built as a temporary on ``device``, one tensor at a time, and the rank keeps its shard:
  peak memory is then the shards plus the largest such tensor.
"""

from __future__ import annotations


from .. import fills as _fills
from ..core.seeds import derive_seed

__all__ = ["deferred_init", "materialize_", "DeferredInitError"]

_ATTR = "_fastinit_deferred"

#: tests set this to fill every fresh allocation with NaN (ints: -1) before the replay, so
#: that an element the replay does not write shows up.
_POISON = False


class DeferredInitError(RuntimeError):
    """An op that deferred_init cannot record or materialize_ cannot replay."""


# --- op tables ---------------------------------------------------------------------------

# factories whose storage needs no values
_ALLOC = {"empty", "empty_like", "new_empty", "empty_strided", "new_empty_strided"}
# constant factories: name -> how to get the value from (args, kwargs)
_CONST = {"zeros": 0, "zeros_like": 0, "new_zeros": 0, "ones": 1, "ones_like": 1, "new_ones": 1}
_FULL = {"full", "full_like", "new_full"}
# RNG factories that are fastinit fills: name -> (fastinit function, default params)
_RNG_FACTORY_FILL = {"rand": ("uniform_", (0.0, 1.0)), "rand_like": ("uniform_", (0.0, 1.0)),
                     "randn": ("normal_", (0.0, 1.0)), "randn_like": ("normal_", (0.0, 1.0))}
# RNG factories replayed as torch's own op with a seeded generator
_RNG_FACTORY_TORCH = {"randint", "randint_like", "randperm", "bernoulli", "normal", "poisson", "multinomial",
                      "rand_like", "randn_like"}
# in-place RNG tensor methods: fastinit fill where one exists, else torch with a generator
_RNG_METHOD_FILL = {"uniform_": ("from", "to"), "normal_": ("mean", "std")}
_RNG_METHOD_TORCH = {"random_", "bernoulli_", "exponential_", "log_normal_", "cauchy_", "geometric_"}
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
#: torch.nn.init functions that return early on meta tensors without a torch op, or that
#: fastinit does not provide: recorded through the swap, replayed with torch's function.
_TORCH_ONLY_INIT = ("orthogonal_", "sparse_", "dirac_", "eye_")
_CONST_INIT = {"constant_": None, "ones_": 1, "zeros_": 0}
_FACTORY_NAMES = (_ALLOC | set(_CONST) | _FULL | set(_RNG_FACTORY_FILL) | _RNG_FACTORY_TORCH)


def _torch():
    import torch

    return torch


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
        self.nrng = 1 if root.kind in ("fill", "trng") else 0
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
    op's index among the storage's RNG ops. ``out``: index path into a call's result."""

    __slots__ = ("kind", "name", "func", "args", "kwargs", "ref", "ordinal", "out", "value", "explicit_seed")

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

    def kills(self) -> bool:
        if self.ref is None or not self.ref.whole():
            return False
        if self.kind in ("fill", "trng", "const"):
            return True
        if self.kind == "call" and self.name in _PURE_WRITES:
            src = self.args[0] if self.name == "copy_" and self.args else None
            return not (isinstance(src, _Ref) and src.st is self.ref.st)
        return False


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


class _Recorder:
    def __init__(self):
        torch = _torch()
        from torch.utils._device import _device_constructors

        self.torch = torch
        self.factories = _device_constructors()
        self.storages = {}  # storage address -> _Storage
        self.fastinit_fns = {}  # fastinit function object -> name
        from .patch import PATCHED_NAMES

        for n in PATCHED_NAMES:
            fn = getattr(_fills, n, None)
            if fn is not None:
                self.fastinit_fns[fn] = n
        self.torch_init_fns = {}  # torch.nn.init function object -> name
        self.originals = {}  # name -> torch.nn.init's own function (while the swap is in place)

    # -- references ----------------------------------------------------------------------
    def st_of(self, t):
        return self.storages.get(_key(t)) if t.is_meta else None

    def ref(self, t):
        if not t.is_meta:
            return _Const(t.detach().clone())
        st = self.storages.get(_key(t))
        if st is None:  # a meta tensor from outside: an error only if its values are needed
            st = self.new_storage(t, _Op("unknown"))
            st.error = "a meta tensor that was not created under deferred_init"
        return _Ref(st, t)

    def to_refs(self, obj):
        torch = self.torch
        if isinstance(obj, torch.Tensor):
            return self.ref(obj)
        if isinstance(obj, (list, tuple)):
            out = [self.to_refs(x) for x in obj]
            return out if isinstance(obj, list) else type(obj)(out) if type(obj) is tuple else tuple(out)
        if isinstance(obj, dict):
            return {k: self.to_refs(v) for k, v in obj.items()}
        if isinstance(obj, torch.device) or (isinstance(obj, str) and _is_device_str(obj)):
            return _DEVICE
        return obj

    def new_storage(self, t, root, device=None):
        st = _Storage(t, root, device)
        self.storages[_key(t)] = st
        return st

    def write(self, target, op):
        """Record an in-place write of ``op`` to ``target`` (a meta tensor)."""
        st = self.storages.get(_key(target))
        if st is None:
            st = self.new_storage(target, _Op("unknown"))
            st.error = "a meta tensor that was not created under deferred_init"
        op.ref = _Ref(st, target)
        if op.kind in ("fill", "trng"):
            op.ordinal = st.nrng
            st.nrng += 1
        if op.kills():
            st.kills.append(len(st.ops))
        st.ops.append(op)

    # -- the function mode ---------------------------------------------------------------
    def handle(self, func, types, args, kwargs):
        torch = self.torch
        name = getattr(func, "__name__", "")
        if name == "__get__" or name == "__set__":  # attribute access (.data, .shape, ...)
            return func(*args, **kwargs)
        if func in self.fastinit_fns:
            return self.init_call(self.fastinit_fns[func], args, kwargs, real_fn=func)
        if func in self.torch_init_fns:
            return self.init_call(self.torch_init_fns[func], args, kwargs, real_fn=func)
        if name in _VALUE_OPS and _any_meta(args):
            return self.value(func, name, args, kwargs)
        out = kwargs.get("out")
        inplace = (name.endswith("_") and not name.startswith("_")) or name in _INPLACE_DUNDERS
        if inplace and args and isinstance(args[0], torch.Tensor) and args[0].is_meta:
            return self.inplace(func, name, args, kwargs)
        if isinstance(out, torch.Tensor) and out.is_meta:
            kw = {k: v for k, v in kwargs.items() if k != "out"}
            self.write(out, _Op("call", name, func, self.to_refs(args), self.to_refs(kw), out=()))
            return out
        if func in self.factories or name in _FACTORY_NAMES:
            return self.factory(func, name, args, kwargs)
        if name in ("cpu", "cuda") and args and isinstance(args[0], torch.Tensor) and args[0].is_meta:
            return args[0]  # the replay's device is materialize_'s
        if not (_any_meta(args) or _any_meta(kwargs)):
            return func(*args, **kwargs)
        refs = (self.to_refs(args), self.to_refs(kwargs))
        kwargs = _meta_device(kwargs)
        if name == "to":
            args = tuple("meta" if (isinstance(a, torch.device) or (isinstance(a, str) and _is_device_str(a)))
                         else a for a in args)
        if name in _DATA_DEPENDENT or (name == "__getitem__" and _mask_index(args[1:])):
            result = _as_meta(self.value(func, name, args, kwargs))
        else:
            result = _shape_run(func, name, args, kwargs)
        self.outputs(result, _Op("call", name, func, refs[0], refs[1]), ())
        return result

    def value(self, func, name, args, kwargs):
        """``item()``, ``tolist()``, ``bool(t)``, and ops whose output shape depends on
        values (``nonzero``, a boolean mask index...) on recorded tensors: computed for real,
        on CPU, when their record has no random op (timm derives its drop-path rates with
        ``torch.linspace(...).tolist()``); on a random tensor they raise."""
        refs = self.to_refs(args)
        kw = self.to_refs(kwargs)
        random = [r for r in _refs_in((refs, kw)) if _is_random(r.st, r.version)]
        if random:
            raise DeferredInitError(
                f"deferred_init: Tensor.{name}() needs the values of a random tensor "
                f"({tuple(random[0].size)}, {random[0].dtype}), which do not exist until materialize_ "
                "(and depend on its seed). Compute it from Python numbers, or build this part after "
                "materialize_."
            )
        rp = _Replay(0, self.torch.device("cpu"))
        return func(*rp.resolve(refs), **rp.resolve(kw))

    def outputs(self, result, op, path):
        torch = self.torch
        if isinstance(result, torch.Tensor):
            if result.is_meta and _key(result) not in self.storages:
                root = op if not path else _Op(op.kind, op.name, op.func, op.args, op.kwargs, out=path)
                self.new_storage(result, root)
        elif isinstance(result, (list, tuple)):
            for i, r in enumerate(result):
                self.outputs(r, op, path + (i,))

    def factory(self, func, name, args, kwargs):
        torch = self.torch
        kwargs = dict(kwargs)
        requested = kwargs.get("device")
        has_device = func in self.factories or "device" in kwargs
        if has_device:
            kwargs["device"] = "meta"
        kwargs.pop("generator", None)
        like = args[0] if args and isinstance(args[0], torch.Tensor) else None
        if like is not None and name.endswith("_like") and requested is None:
            requested = None if like.is_meta else like.device
        if name in _RNG_FACTORY_FILL and (like is None) != name.endswith("_like"):
            if name.endswith("_like"):
                t = torch.empty_like(*args, **kwargs)
            else:
                t = torch.empty(*args, **kwargs)
            if t.dtype in _FILL_DTYPES():
                fname, params = _RNG_FACTORY_FILL[name]
                self.new_storage(t, _Op("fill", fname, args=params), requested)
                return t
        if name == "normal" and len(args) >= 3 and not any(isinstance(a, torch.Tensor) for a in args[:2]):
            t = torch.empty(args[2], **{k: v for k, v in kwargs.items() if k not in ("out", "device")}, device="meta")
            if t.dtype in _FILL_DTYPES():
                self.new_storage(t, _Op("fill", "normal_", args=(float(args[0]), float(args[1]))), requested)
                return t
        refs = self.to_refs(args)
        rkw = dict(self.to_refs({k: v for k, v in kwargs.items() if k != "device"}))
        if has_device:
            rkw["device"] = _DEVICE
        if name in _ALLOC or name in _CONST or name in _FULL or _any_meta(args) or _any_meta(kwargs):
            result = func(*args, **kwargs)
        else:
            # torch's meta kernels for arange, eye... are Python references that import
            # torch._dynamo (seconds): compute the (small) value on CPU for its layout
            result = _as_meta(func(*args, **{**kwargs, "device": "cpu"} if has_device else kwargs))
        if has_device and isinstance(result, torch.Tensor) and result.numel() == 0:
            # nothing to record: made for real, where it was asked for. Libraries probe the
            # device of construction with torch.tensor([]) (Hugging Face skips its init
            # when that says meta).
            return func(*args, **{**kwargs, "device": requested if requested is not None else "cpu"})
        if name in _ALLOC:
            op = _Op("alloc", name)
        elif name in _CONST:
            op = _Op("const", name, value=_CONST[name])
        elif name in _FULL:
            fill = kwargs.get("fill_value", args[-1] if args else None)
            op = _Op("const", name, value=fill) if not isinstance(fill, torch.Tensor) else \
                _Op("call", name, func, refs, rkw)
        elif name in _RNG_FACTORY_TORCH or name in _RNG_FACTORY_FILL:
            op = _Op("trng", name, func, refs, rkw)
        else:
            op = _Op("call", name, func, refs, rkw)
        if isinstance(result, torch.Tensor) and result.is_meta:
            self.new_storage(result, op, requested)
        else:
            self.outputs(result, op, ())
        return result

    def inplace(self, func, name, args, kwargs):
        torch = self.torch
        target = args[0]
        if name in _META_ONLY:
            return func(*args, **kwargs)
        if name in _REFUSED:
            raise DeferredInitError(
                f"deferred_init: Tensor.{name}() changes a recorded tensor's storage; it cannot be replayed. "
                "Create the tensor with its final shape instead."
            )
        kwargs = dict(kwargs)
        if name in _RNG_METHOD_FILL and target.dtype in _FILL_DTYPES():
            kwargs.pop("generator", None)
            names = _RNG_METHOD_FILL[name]
            params = [kwargs.pop(names[0], 0.0), kwargs.pop(names[1], 1.0)]
            for i, a in enumerate(args[1:3]):
                params[i] = a
            if not any(isinstance(p, torch.Tensor) for p in params):
                self.write(target, _Op("fill", name, args=tuple(float(p) for p in params)))
                return target
        if name in _RNG_METHOD_FILL or name in _RNG_METHOD_TORCH:
            kwargs.pop("generator", None)
            self.write(target, _Op("trng", name, func, self.to_refs(args[1:]), self.to_refs(kwargs)))
            return target
        self.write(target, _Op("call", name, func, self.to_refs(args[1:]), self.to_refs(kwargs)))
        return None if name == "__setitem__" else target

    def init_call(self, name, args, kwargs, real_fn=None):
        """A torch.nn.init (or fastinit: ``real_fn``) function called on a tensor."""
        with self.torch._C.DisableTorchFunction():  # called from the constructor: the mode is on
            return self._init_call(name, args, kwargs, real_fn)

    def _init_call(self, name, args, kwargs, real_fn):
        torch = self.torch
        import inspect

        orig = self.originals.get(name) if name in _TORCH_ONLY_INIT else None
        tensor = args[0] if args else kwargs.get("tensor")
        if not isinstance(tensor, torch.Tensor) or not tensor.is_meta:
            fn = real_fn or orig or _torch_init_original(name)
            return fn(*args, **kwargs)
        if name in _CONST_INIT:
            bound = inspect.signature(_torch_init_original(name)).bind(*args, **kwargs)
            val = bound.arguments.get("val", _CONST_INIT[name])
            self.write(tensor, _Op("const", name, value=val))
            return tensor
        if orig is not None or tensor.dtype not in _FILL_DTYPES():
            fn = orig if orig is not None else _torch_init_original(name)
            bound = inspect.signature(fn).bind(*args, **kwargs)
            bound.arguments.pop("generator", None)
            rest = dict(bound.arguments)
            rest.pop(next(iter(rest)))
            self.write(tensor, _Op("trng", name, fn, (), self.to_refs(rest)))
            return tensor
        fn = getattr(_fills, name)
        bound = inspect.signature(fn).bind(*args, **kwargs)
        bound.arguments.pop("generator", None)
        rest = dict(bound.arguments)
        rest.pop(next(iter(rest)))
        op = _Op("fill", name, args=(), kwargs=rest)
        op.explicit_seed = rest.get("seed") is not None
        self.write(tensor, op)
        return tensor

    # -- naming ---------------------------------------------------------------------------
    def plan(self, module):
        torch = self.torch
        entries = []  # (qualname, kind, ref)
        for n, p in module.named_parameters(remove_duplicate=False):
            entries.append((n, "param", p))
        for n, b in module.named_buffers(remove_duplicate=False):
            entries.append((n, "buffer", b))
        for prefix, m in module.named_modules(remove_duplicate=False):
            for k, v in vars(m).items():
                if isinstance(v, torch.Tensor) and k not in ("_parameters", "_buffers"):
                    entries.append((f"{prefix}.{k}" if prefix else k, "attr", v))
        out = {}
        for qual, kind, t in entries:
            if not t.is_meta:
                continue
            st = self.st_of(t)
            ref = self.ref(t)
            if st is not None and st.name is None:
                st.name = qual
            out[qual] = (kind, ref)
        for qual, (kind, ref) in out.items():
            _name_sources(ref.st, qual)
        for qual, (kind, ref) in out.items():
            bad = _first_error(ref.st, ref.version)
            if bad is not None:
                raise DeferredInitError(f"deferred_init: {qual}: {bad}")
        return _Plan(out)


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
    if isinstance(obj, _Ref):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for x in obj:
            yield from _refs_in(x)
    elif isinstance(obj, dict):
        for x in obj.values():
            yield from _refs_in(x)


class _Plan:
    __slots__ = ("entries",)

    def __init__(self, entries):
        self.entries = entries  # qualname -> (kind, _Ref)


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
        return type(obj)(_as_meta(x) for x in obj) if type(obj) in (list, tuple) else obj
    return obj


def _meta_tensors(obj):
    torch = _torch()
    if isinstance(obj, torch.Tensor):
        if obj.is_meta:
            yield obj
    elif isinstance(obj, (list, tuple)):
        for x in obj:
            yield from _meta_tensors(x)
    elif isinstance(obj, dict):
        for x in obj.values():
            yield from _meta_tensors(x)


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
    torch = _torch()
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for x in obj:
            yield from _all_tensors(x)
    elif isinstance(obj, dict):
        for x in obj.values():
            yield from _all_tensors(x)


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
    torch = _torch()
    if isinstance(obj, torch.Tensor):
        return obj.is_meta
    if isinstance(obj, (list, tuple)):
        return any(_any_meta(x) for x in obj)
    if isinstance(obj, dict):
        return any(_any_meta(x) for x in obj.values())
    return False


def _meta_device(kwargs):
    if "device" in kwargs and kwargs["device"] is not None:
        kwargs = dict(kwargs)
        kwargs["device"] = "meta"
    return kwargs


def _torch_init_original(name):
    from .patch import _originals_of_torch

    fn = _originals_of_torch().get(name)
    if fn is None:
        import torch.nn.init as tinit

        fn = getattr(tinit, name)
    return fn


# --- the swap of torch.nn.init --------------------------------------------------------------


def _recorder_functions(rec):
    """id(original) -> (original, recorder) for torch.nn.init's functions (fastinit's
    set, plus the ones only torch has), timm's trunc_normal_."""
    import sys

    import torch.nn.init as tinit

    from .patch import _originals_of_torch

    def make(name):
        def recorder(*args, **kwargs):
            return rec.init_call(name, args, kwargs)

        recorder.__name__ = name
        recorder._fastinit_recorder = True
        return recorder

    out = {}
    for name, orig in _originals_of_torch().items():
        out[id(orig)] = (orig, make(name))
        rec.torch_init_fns[orig] = name
    for name in _TORCH_ONLY_INIT:
        orig = getattr(tinit, name, None)
        if orig is not None and getattr(orig, "__module__", None) == "torch.nn.init":
            out[id(orig)] = (orig, make(name))
            rec.torch_init_fns[orig] = name
            rec.originals[name] = orig
    timm_wi = sys.modules.get("timm.layers.weight_init")
    orig = getattr(timm_wi, "trunc_normal_", None) if timm_wi is not None else None
    if callable(orig) and getattr(orig, "__module__", None) == "timm.layers.weight_init":
        out[id(orig)] = (orig, make("trunc_normal_"))
    return out


def _unbind_recorders(repl):
    """Library modules first imported inside deferred_init captured recorders by value
    (Hugging Face builds TORCH_INIT_FUNCTIONS at import): give them the originals back."""
    import sys

    back = {id(new): orig for orig, new in repl.values()}
    for mname, mod in list(sys.modules.items()):
        d = getattr(mod, "__dict__", None)
        if not isinstance(d, dict):
            continue
        for k, v in list(d.items()):
            if id(v) in back and back.get(id(v)) is not v:
                setattr(mod, k, back[id(v)])
    hf = sys.modules.get("transformers.initialization")
    table = getattr(hf, "TORCH_INIT_FUNCTIONS", None)
    if isinstance(table, dict):
        for k, v in list(table.items()):
            if id(v) in back:
                table[k] = back[id(v)]


# --- deferred_init -------------------------------------------------------------------------


def deferred_init(module_fn, *args, **kwargs):
    """Build a model on the meta device in milliseconds, recording what its constructor
    does to every parameter and buffer.

    Runs ``module_fn(*args, **kwargs)`` under a ``TorchFunctionMode`` with every tensor it
    creates on the meta device (no memory, no fill), and records per storage how it was
    created (allocation, constant, RNG factory, computed from other tensors) and every
    in-place write to it through any view (RNG methods, ``torch.nn.init`` functions,
    ``fill_``, ``copy_``, ``mul_``, indexing writes, ``.data``). :func:`materialize_`
    allocates the model and replays the record. Values needed while recording
    (``item()``, ``tolist()``, data-dependent shapes) are computed for real when no random
    op is involved.

    Args:
        module_fn (callable): builds and returns a ``torch.nn.Module`` (a class, a factory
            such as ``timm.create_model`` or ``AutoModel.from_config``, a lambda).
        args: positional arguments passed to ``module_fn``.
        kwargs: keyword arguments passed to ``module_fn``.

    Returns:
        The module, every parameter and buffer on ``meta``, carrying its record.

    Raises:
        DeferredInitError (a RuntimeError): the value of a random tensor is needed while
            recording (the op is named), or ``resize_`` / ``set_`` on a recorded tensor.
        TypeError: ``module_fn`` does not return a ``torch.nn.Module``.

    Example:
        >>> model = fastinit.deferred_init(LlamaForCausalLM, config)   # milliseconds
        >>> fastinit.materialize_(model, "cpu", seed=1234)
    """
    torch = _torch()
    from torch.overrides import TorchFunctionMode

    from . import patch as _patch

    rec = _Recorder()

    class _Mode(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            return rec.handle(func, types, args, kwargs or {})

    with _patch._lock:
        repl = _recorder_functions(rec)
        undo = _patch._apply(repl)
    try:
        with _Mode():
            module = module_fn(*args, **kwargs)
    finally:
        with _patch._lock:
            _patch._undo(undo)
            _unbind_recorders(repl)
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"deferred_init: module_fn must return a torch.nn.Module, not {type(module).__name__}")
    plan = rec.plan(module)
    for prefix, m in module.named_modules(remove_duplicate=False):
        m.__dict__[_ATTR] = (plan, prefix)
    return module


# --- materialize_ ------------------------------------------------------------------------


class _Replay:
    def __init__(self, seed, device):
        self.seed = seed
        self.device = device
        self.memo = {}  # (id(storage), version) -> real root tensor
        self.keys = {}
        self.live = None  # (storage, base) being replayed

    def key(self, st, ordinal):
        k = (st.name, ordinal)
        v = self.keys.get(k)
        if v is None:

            v = self.keys[k] = derive_seed(self.seed, st.name if ordinal == 0 else f"{st.name}#{ordinal}")
        return v

    # values of references
    def resolve(self, obj):
        torch = _torch()
        if isinstance(obj, _Ref):
            if self.live is not None and self.live[0] is obj.st and obj.version == self.live[2]:
                base = self.live[1]
            else:
                base = self.state(obj.st, obj.version)
            return torch.as_strided(base, obj.size, obj.stride, obj.offset)
        if isinstance(obj, _Const):
            v = obj.value
            return v.to(self.device) if v.dim() > 0 else v
        if obj is _DEVICE:
            return self.device
        if isinstance(obj, list):
            return [self.resolve(x) for x in obj]
        if isinstance(obj, tuple):
            return tuple(self.resolve(x) for x in obj)
        if isinstance(obj, dict):
            return {k: self.resolve(v) for k, v in obj.items()}
        return obj

    def empty_root(self, st):
        torch = _torch()
        m = st.meta
        store = torch.empty(st.nelem, dtype=m.dtype, device=self.device)
        if _POISON:
            _poison(store)
        return torch.as_strided(store, m.size(), m.stride(), m.storage_offset())

    def state(self, st, version):
        k = (id(st), version)
        base = self.memo.get(k)
        if base is None:
            base = self.empty_root(st)
            self.run(st, base, version)
            if st.nelem <= (1 << 20):
                self.memo[k] = base
        return base

    def run(self, st, base, upto, name=None):
        """Replay ``st``'s creation and writes [0, upto) into ``base`` (its root layout)."""
        torch = _torch()
        if st.error is not None and not any(i < upto for i in st.kills):
            raise DeferredInitError(f"materialize_: {name or st.name}: {st.error}")
        start = -1
        for i in st.kills:
            if i < upto:
                start = i
        mask = None
        saved = self.live
        try:
            with torch.no_grad():
                if start < 0:
                    self.apply_root(st, base, name)
                    start = 0
                    if st.root.kind == "alloc" and st.nelem:
                        mask = torch.zeros(st.nelem, dtype=torch.bool)
                for i in range(start, upto):
                    op = st.ops[i]
                    self.live = (st, base, i)
                    view = torch.as_strided(base, op.ref.size, op.ref.stride, op.ref.offset)
                    self.apply(st, op, view, name)
                    if mask is not None and (op.kind in ("fill", "trng", "const") or op.name in _PURE_WRITES
                                             or op.name == "__setitem__"):
                        mview = torch.as_strided(mask, op.ref.size, op.ref.stride, op.ref.offset)
                        if op.name == "__setitem__":
                            idx = self.resolve(op.args[0])
                            idx = idx.cpu() if isinstance(idx, torch.Tensor) else _cpu_index(idx)
                            mview[idx] = True
                        else:
                            mview.fill_(True)
        finally:
            self.live = saved
        if mask is not None and not bool(mask.all()):
            missing = int((~mask).sum())
            raise DeferredInitError(
                f"materialize_: {name or st.name}: {missing} of {st.nelem} elements of a tensor created by "
                f"torch.{st.root.name} are never written by its constructor (an eager build leaves them "
                "uninitialized); initialize them in the constructor"
            )

    def apply_root(self, st, base, name):
        torch = _torch()
        r = st.root
        if r.kind == "alloc":
            return
        if r.kind == "const":
            base.fill_(r.value)
            return
        if r.kind == "fill":
            getattr(_fills, r.name)(base, *r.args, seed=self.key(st, 0))
            return
        try:
            if r.kind == "trng":
                res = self.torch_rng(r.func, (), self.resolve(r.args), self.resolve(r.kwargs), self.key(st, 0),
                                     factory=True)
            else:
                res = r.func(*self.resolve(r.args), **self.resolve(r.kwargs))
        except DeferredInitError:
            raise
        except Exception as e:
            raise DeferredInitError(f"materialize_: {name or st.name}: replaying torch.{r.name} failed: "
                                    f"{type(e).__name__}: {e}") from e
        for i in r.out or ():
            res = res[i]
        base.copy_(res)

    def apply(self, st, op, view, name):
        if op.kind == "const":
            view.fill_(op.value)
        elif op.kind == "fill":
            kw = dict(op.kwargs)
            if not op.explicit_seed:
                kw["seed"] = self.key(st, op.ordinal)
            getattr(_fills, op.name)(view, *op.args, **self.resolve(kw))
        elif op.kind == "trng":
            self.torch_rng(op.func, (view,), self.resolve(op.args), self.resolve(op.kwargs),
                           self.key(st, op.ordinal))
        else:
            try:
                op.func(view, *self.resolve(op.args), **self.resolve(op.kwargs))
            except Exception as e:
                raise DeferredInitError(f"materialize_: {name or st.name}: replaying Tensor.{op.name} failed: "
                                        f"{type(e).__name__}: {e}") from e

    def torch_rng(self, func, head, args, kwargs, key, factory=False):
        """torch's own RNG op with a CPU generator seeded by ``key``, computed on CPU."""
        torch = _torch()
        g = torch.Generator(device="cpu")
        g.manual_seed(key & ((1 << 63) - 1))
        cpu = lambda x: x.cpu() if isinstance(x, torch.Tensor) else x  # noqa: E731
        args = tuple(cpu(a) for a in args)
        kwargs = {k: ("cpu" if v is self.device and k == "device" else cpu(v)) for k, v in kwargs.items()}
        gkw = {"generator": g} if _takes_generator(func) else {}
        # one torch thread: LAPACK's QR (orthogonal_) rounds differently with more
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            if factory:
                return func(*args, **gkw, **kwargs).to(self.device)
            target = head[0]
            tmp = target if target.device.type == "cpu" else torch.empty(target.shape, dtype=target.dtype)
            func(tmp, *args, **gkw, **kwargs)
            if tmp is not target:
                target.copy_(tmp)
        finally:
            torch.set_num_threads(threads)

    # one module tensor
    def final(self, dest, ref, name):
        torch = _torch()
        from ..core.shards import is_dtensor

        st = ref.st
        upto = ref.version
        if is_dtensor(dest):
            return self.final_dtensor(dest, ref, name)
        same = (ref.whole() and dest.dtype == st.meta.dtype and tuple(dest.stride()) == ref.stride
                and dest.storage_offset() == 0 and dest.untyped_storage().nbytes() // dest.element_size() == st.nelem)
        if same:
            if _POISON:
                _poison(dest)
            base = torch.as_strided(dest.detach(), st.meta.size(), st.meta.stride(), st.meta.storage_offset())
            self.run(st, base, upto, name)
            self.memo[(id(st), upto)] = base
        else:
            full = self.state(st, upto)
            with torch.no_grad():
                dest.copy_(torch.as_strided(full, ref.size, ref.stride, ref.offset))
        _bump(dest)

    def final_dtensor(self, dt, ref, name):
        torch = _torch()
        from ..core.shards import dtensor_segments, local_tensor

        st = ref.st
        upto = ref.version
        local = local_tensor(dt)
        start = max([i for i in st.kills if i < upto], default=-1)
        ops = st.ops[max(start, 0):upto]
        eligible = ref.same_layout(st.meta) and (start >= 0 or st.root.kind in ("const", "fill")) and all(
            o.ref.same_layout(st.meta) and (o.kind in ("const", "fill") or (
                o.kind == "call" and o.name in _ELEMENTWISE and not list(_refs_in((o.args, o.kwargs)))
                and not any(isinstance(a, (_Const, torch.Tensor)) for a in o.args))) for o in ops)
        if _POISON:
            _poison(local)
        with torch.no_grad():
            if eligible:
                steps = ops if start >= 0 else [st.root] + ops
                for o in steps:
                    if o.kind == "const":
                        local.fill_(o.value)
                    elif o.kind == "fill":
                        kw = dict(o.kwargs)
                        if not o.explicit_seed:
                            kw["seed"] = self.key(st, o.ordinal)
                        getattr(_fills, o.name)(dt, *o.args, **kw)
                    else:
                        o.func(local, *o.args, **o.kwargs)
            else:
                # the whole tensor as a temporary, then this rank's part of it
                full = self.empty_root(st)
                self.run(st, full, upto, name)
                sub = torch.as_strided(full, ref.size, ref.stride, ref.offset)
                segs = dtensor_segments(dt)
                if local.numel():
                    for d, ss in enumerate(segs):
                        idx = torch.cat([torch.arange(g, g + n, device=sub.device) for g, n in ss])
                        sub = sub.index_select(d, idx)
                    local.copy_(sub)
                del full
        _bump(dt)
        if local is not dt:
            _bump(local)


def _takes_generator(func) -> bool:
    import inspect

    try:
        return "generator" in inspect.signature(func).parameters
    except (TypeError, ValueError):  # a builtin: torch's RNG ops all take generator=
        return True


def _cpu_index(idx):
    torch = _torch()
    if isinstance(idx, tuple):
        return tuple(i.cpu() if isinstance(i, torch.Tensor) else i for i in idx)
    return idx


def _poison(t):
    torch = _torch()
    with torch.no_grad():
        if t.dtype.is_floating_point or t.dtype.is_complex:
            t.fill_(float("nan"))
        elif t.dtype == torch.bool:
            t.fill_(True)
        else:
            t.fill_(-1)


def _bump(t):
    torch = _torch()
    inc = getattr(torch._C, "_increment_version", None)
    if inc is not None:
        inc((t,))


def _allocate(t, device):
    """``torch.empty_like(t, device=device)`` without its Python reference for meta inputs
    (which imports sympy: half a second)."""
    torch = _torch()
    from ..core.shards import is_dtensor

    if is_dtensor(t):
        return torch.empty_like(t, device=device)
    if _dense(tuple(t.size()), tuple(t.stride()), t.numel()):
        return torch.empty_strided(t.size(), t.stride(), dtype=t.dtype, device=device)
    return torch.empty(t.size(), dtype=t.dtype, device=device)


def _set_tensor(module, qual, kind, value):
    mod, _, leaf = qual.rpartition(".")
    m = module.get_submodule(mod) if mod else module
    if kind == "param":
        m._parameters[leaf] = value
    elif kind == "buffer":
        m._buffers[leaf] = value
    else:
        m.__dict__[leaf] = value


def _get_tensor(module, qual, kind):
    mod, _, leaf = qual.rpartition(".")
    m = module.get_submodule(mod) if mod else module
    if kind == "param":
        return m._parameters[leaf]
    if kind == "buffer":
        return m._buffers[leaf]
    return m.__dict__[leaf]


def materialize_(module, device=None, *, seed=None, generator=None):
    """Allocate a model built by :func:`deferred_init` and initialize it as its
    constructor did.

    Every meta tensor is allocated on ``device`` (tied parameters once, and they stay
    tied) and its record is replayed from the last op that overwrote it whole. Random ops
    become fastinit counter-based fills keyed by ``(seed, qualified name, op ordinal)``
    (``derive_seed(seed, name)`` for a tensor's first random op, ``name + "#j"`` for its
    j-th), so values depend on neither module order, thread count, device nor sharding;
    random ops fastinit has no fill for (``randint``, ``randperm``, ``bernoulli_``...) run
    torch's own op with a CPU generator seeded the same way. Everything else is torch's
    own op: constants and computed buffers are bit-identical to an eager build. A model
    sharded on meta (``fully_shard``, ``distribute_tensor``, ``parallelize_module``) gets
    each rank's shards only: elementwise chains are replayed on the local shard; other
    records build the whole tensor as a temporary, one tensor at a time, and keep the
    shard. Tensors that are already real are re-initialized in place.

    Args:
        module (torch.nn.Module): the model :func:`deferred_init` returned (also after
            sharding it on meta).
        device (str or torch.device, optional): where to allocate. Default: the device
            the constructor asked for, else CPU.
        seed (int, keyword-only, optional): in [0, 2**64); the model's values then depend
            only on it and the tensors' names.
        generator (torch.Generator, keyword-only, optional): where one key is drawn from
            when ``seed`` is None (default ``torch.default_generator``).

    Returns:
        ``module`` itself, allocated and initialized.

    Raises:
        DeferredInitError (a RuntimeError): ``module`` was not built by
            :func:`deferred_init`; an ``empty`` tensor of which nothing writes every
            element (eager construction would leave garbage there); a recorded op that
            fails on replay (named with its tensor).
        TypeError: ``module`` is not a ``torch.nn.Module`` or ``generator`` is not a
            ``torch.Generator``.
        ValueError: ``seed`` outside [0, 2**64).

    Example:
        >>> model = fastinit.deferred_init(MyModel, width=4096)
        >>> fastinit.materialize_(model, "cpu", seed=1234)
        >>> model2 = fastinit.materialize_(fastinit.deferred_init(MyModel, width=4096), seed=1234)
        >>> all(torch.equal(a, b) for a, b in zip(model.parameters(), model2.parameters()))
        True
    """
    torch = _torch()
    from ..core.seeds import check_u64, torch_seed

    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"materialize_ expects a torch.nn.Module, not {type(module).__name__}")
    found = module.__dict__.get(_ATTR)
    if found is None:
        raise DeferredInitError(
            "materialize_: this module was not built by fastinit.deferred_init(module_fn, ...), so there is no "
            "record to replay"
        )
    plan, prefix = found
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, not {type(generator).__name__}")
    seed = torch_seed(generator) if seed is None else check_u64(seed, "seed")
    cut = len(prefix) + 1 if prefix else 0
    entries = [(q[cut:], kind, ref) for q, (kind, ref) in plan.entries.items()
               if not prefix or q.startswith(prefix + ".")]
    if device is None:
        wanted = {str(torch.device(r.st.device)) for _, _, r in entries if r.st.device is not None}
        device = torch.device(wanted.pop()) if len(wanted) == 1 else torch.device("cpu")
    device = torch.device(device)

    known = {q for q, _, _ in entries}
    stray = [n for n, t in list(module.named_parameters(remove_duplicate=False))
             + list(module.named_buffers(remove_duplicate=False)) if t.is_meta and n not in known]
    if stray:
        raise DeferredInitError(
            f"materialize_: {len(stray)} meta tensor(s) were added after deferred_init and have no record: "
            f"{', '.join(stray[:8])}"
        )

    # 1. allocate (as to_empty), then put tied tensors back together
    current = [(q, kind, _get_tensor(module, q, kind)) for q, kind, _ in entries]
    first = {}
    ties = []
    for q, kind, t in current:
        if id(t) in first:
            ties.append((q, kind, first[id(t)]))
        else:
            first[id(t)] = (q, kind)
    module._apply(lambda t: _allocate(t, device) if t.is_meta else t)
    for q, kind, t in current:
        if kind == "attr" and (q, kind) == first[id(t)] and t.is_meta:
            _set_tensor(module, q, kind, _allocate(t, device))
    for q, kind, (q0, k0) in ties:
        _set_tensor(module, q, kind, _get_tensor(module, q0, k0))

    # 2. replay, each tensor once
    rp = _Replay(seed, device)
    done = set()
    for q, kind, ref in entries:
        dest = _get_tensor(module, q, kind)
        if id(dest) in done:
            continue
        done.add(id(dest))
        rp.final(dest, ref, (prefix + "." + q) if prefix else q)
    return module
