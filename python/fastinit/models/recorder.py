"""deferred_init's recorder: the TorchFunctionMode handler that keeps every meta tensor's
record, and the swap of torch.nn.init's functions for recorders."""

from __future__ import annotations

import contextlib
import threading

from .. import fills as _fills
from . import patch as _patch
from . import rng as _rng
from .patch import _originals_of_torch
from ..fills import registry as _registry
from .records import (
    _ALLOC, _CONST, _DEVICE, _FACTORY_NAMES, _FULL, _INPLACE_DUNDERS, _META_ONLY, _REFUSED,
    _RNG_FACTORY_FILL, _RNG_FACTORY_TORCH, _RNG_METHOD_FILL, _RNG_METHOD_TORCH, _VALUE_OPS,
    DeferredInitError, _Const, _Op, _Plan, _Ref, _Storage, _first_error, _is_random, _name_sources, _refs_in,
)
from .replay import _Replay
from .shapes import (
    _DATA_DEPENDENT, _FILL_DTYPES, _any_meta, _as_meta, _is_device_str, _key, _mask_index, _meta_device,
    _meta_tensors, _shape_run, _torch,
)


class _Recorder:
    def __init__(self):
        torch = _torch()
        from torch.utils._device import _device_constructors

        self.torch = torch
        self.factories = _device_constructors()
        self.storages = {}  # storage address -> _Storage
        # fastinit function object -> name: every entry of the registry (the public functions
        # a constructor may call directly)
        self.fastinit_fns = {e.fn: e.name for e in _registry.ENTRIES}
        self.torch_init_fns = {}  # torch.nn.init function object -> name
        self.originals = {}  # name -> torch.nn.init's own function (while the swap is in place)
        self.rng_ops = []  # (op, storage) of every random op, in program order (temporaries' keys)
        self.passes = _rng.Passes()  # init_weights() passes (keys)

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
        if root.kind in ("fill", "trng"):
            self.count_rng(root, st)
        return st

    def count_rng(self, op, st):
        """A random op: its pass and its ordinal in that pass on ``st``."""
        op.init_pass = p = self.passes.current()
        op.ordinal = st.nrng.get(p, 0)
        st.nrng[p] = op.ordinal + 1
        self.rng_ops.append((op, st))

    def write(self, target, op):
        """Record an in-place write of ``op`` to ``target`` (a meta tensor)."""
        st = self.storages.get(_key(target))
        if st is None:
            st = self.new_storage(target, _Op("unknown"))
            st.error = "a meta tensor that was not created under deferred_init"
        op.ref = _Ref(st, target)
        if op.kind in ("fill", "trng"):
            self.count_rng(op, st)
        if op.kills():
            st.kills.append(len(st.ops))
        st.ops.append(op)

    # -- the function mode ---------------------------------------------------------------
    def handle(self, func, types, args, kwargs):
        torch = self.torch
        name = getattr(func, "__name__", "")
        if name == "__get__" or name == "__set__":  # attribute access (.data, .shape, ...)
            if name == "__get__" and args and isinstance(args[0], torch.Tensor) and args[0].is_meta:
                prop = getattr(getattr(func, "__self__", None), "__name__", None)
                if prop in _DEVICE_PROPS:
                    return self.eager_device(args[0], prop, func)
            if (name == "__set__" and len(args) >= 2 and isinstance(args[0], torch.Tensor) and not args[0].is_meta
                    and isinstance(args[1], torch.Tensor) and args[1].is_meta):
                # a zero-element tensor is made for real (Hugging Face's device probe), and a
                # lazy module's UninitializedParameter is one: its dry run then sets a real
                # tensor's .data to a recorded one, which torch refuses (issue 17, defect 10)
                raise DeferredInitError(
                    f"deferred_init: Tensor.data = a recorded tensor {tuple(args[1].shape)} on a real "
                    f"{type(args[0]).__name__}: a lazy module's dry run "
                    "(nn.LazyLinear...) cannot run inside deferred_init; build it, materialize_, then run the dry run"
                )
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
        if (inplace and args and isinstance(args[0], torch.Tensor) and args[0].numel() == 0
                and (_any_meta(args[1:]) or _any_meta(kwargs))):
            # a zero-element factory result is made for real (device probes); an in-place
            # op into it from a recorded tensor writes nothing (lw_detr's copy_ into a
            # layer with no outputs), as in eager
            return args[0]
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
            try:
                result = _shape_run(func, name, args, kwargs)
            except DeferredInitError:
                raise
            except (RuntimeError, NotImplementedError) as e:
                # an op with no meta kernel, or one that needs values (nn.utils.parametrizations
                # .orthogonal's .item()): named, with the tensor (issue 17, defect 9)
                t = next(_meta_tensors((args, kwargs)), None)
                what = f"a recorded tensor ({tuple(t.shape)}, {t.dtype})" if t is not None else "recorded tensors"
                raise DeferredInitError(
                    f"deferred_init: torch.{name} on {what} cannot run while recording ({type(e).__name__}: {e}); "
                    "build this part after materialize_"
                ) from e
        self.outputs(result, _Op("call", name, func, refs[0], refs[1]), ())
        return result

    def eager_device(self, t, prop, func):
        """``t.device``, ``t.is_meta``, ``t.is_cpu``, ``t.is_cuda`` of a recorded tensor as an
        eager build would see them (as torchdistx's fake tensors report them): the device its
        factory asked for, else the device of what it was computed from, else CPU. A
        constructor that branches on them takes the eager branch (issue 17, defect 16)."""
        torch = self.torch
        st = self.storages.get(_key(t))
        if st is None:  # a meta tensor from outside deferred_init: meta, as it is
            return func(t)
        dev = torch.device(st.device) if st.device is not None else torch.device("cpu")
        if prop == "device":
            return dev
        return {"is_meta": dev.type == "meta", "is_cpu": dev.type == "cpu", "is_cuda": dev.type == "cuda"}[prop]

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
                # a computed tensor is on the device of its inputs (for eager_device)
                device = next((r.st.device for r in _refs_in((op.args, op.kwargs)) if r.st.device is not None),
                              None)
                self.new_storage(result, root, device)
        elif isinstance(result, (list, tuple)):
            for i, r in enumerate(result):
                self.outputs(r, op, path + (i,))

    def known(self, x):
        """A recorded 0-d tensor as its Python value (computed from the record); sequences
        (sizes) item by item; anything else as it is."""
        torch = self.torch
        if isinstance(x, torch.Tensor) and x.is_meta and x.dim() == 0:
            return self.value(torch.Tensor.item, "item", (x,), {})
        if type(x) in (list, tuple):
            return type(x)(self.known(y) for y in x)
        return x

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
        as_fill = _rng.factory_fill(name, args, kwargs)
        if as_fill is not None:
            make, fname, params = as_fill
            t = make(device="meta")
            if t.dtype in _FILL_DTYPES():
                self.new_storage(t, _Op("fill", fname, args=params), requested)
                return t
        # sizes and fill values that are recorded 0-d tensors (Hugging Face's inkling:
        # full_like(t, h[-1]), nn.Linear(scale[3], ...)): torch's meta kernels call .item()
        # on them; their values are known when their record has no random op (else
        # value() raises, naming it), and eager uses only those values
        head = 1 if like is not None and (name.endswith("_like") or name.startswith("new_")) else 0
        args = tuple(args[:head]) + tuple(self.known(a) for a in args[head:])
        for k in ("fill_value", "size"):
            if k in kwargs:
                kwargs[k] = self.known(kwargs[k])
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

    def legacy(self, orig, dtype, args, kwargs):
        """A legacy constructor (``torch.Tensor(n, m)``, ``torch.FloatTensor(n, m)``,
        ``torch.LongTensor([1, 2])``, ``torch.Tensor([True])``) on this thread while it
        records: torch's function mode does not see them, so they would allocate (and,
        with ``.uniform_()``, draw from the global RNG) at deferred_init. They become the
        factories they stand for, recorded as those are: sizes -> ``torch.empty``, data ->
        ``torch.tensor`` (issue 17, defect 6). Anything else (a tensor, a storage, a device
        other than CPU) runs the legacy constructor itself."""
        torch = self.torch
        device = kwargs.get("device")
        if set(kwargs) - {"device"} or (device is not None and torch.device(device).type != "cpu"):
            return orig(*args, **kwargs)
        if len(args) == 1 and isinstance(args[0], torch.Size):
            args = tuple(args[0])
        if args and all(isinstance(a, int) and not isinstance(a, bool) for a in args):
            return torch.empty(args, dtype=dtype)
        if len(args) == 1 and not isinstance(args[0], (torch.Tensor, int, float, bool)) and \
                hasattr(args[0], "__len__"):
            return torch.tensor(args[0], dtype=dtype)
        return orig(*args, **kwargs)

    def init_call(self, name, args, kwargs, real_fn=None):
        """A torch.nn.init (or fastinit: ``real_fn``) function called on a tensor."""
        with self.torch._C.DisableTorchFunction():  # called from the constructor: the mode is on
            return self._init_call(name, args, kwargs, real_fn)

    def _init_call(self, name, args, kwargs, real_fn):
        torch = self.torch
        import inspect

        # The registry says how each call replays: "keyed" fills (orthogonal_ and sparse_
        # included: torch's sparse_ draws its zero positions from the global RNG, issue 17
        # defect 8) as fastinit fills keyed by (seed, name, ordinal), the same keys
        # init_module_ uses; "constant" as a constant; "as_is" (eye_, dirac_) as they were
        # called, not a random op. torch.nn.init functions fastinit lacks (none on torch
        # 2.13) run torch's own with a seeded generator.
        entry = _registry.get(name) if name in _registry.names() else None
        orig = self.originals.get(name) if entry is None else None
        tensor = args[0] if args else kwargs.get("tensor")
        if not isinstance(tensor, torch.Tensor) or not tensor.is_meta:
            fn = real_fn or orig or _torch_init_original(name)
            return fn(*args, **kwargs)
        if entry is not None and entry.replay == "constant":
            bound = inspect.signature(_torch_init_original(name)).bind(*args, **kwargs)
            rest = dict(bound.arguments)
            rest.pop(next(iter(rest)))
            self.write(tensor, _Op("const", name, value=_registry.constant_value(name, (), rest)))
            return tensor
        if entry is not None and entry.replay == "as_is":
            bound = inspect.signature(entry.fn).bind(*args, **kwargs)
            rest = dict(bound.arguments)
            rest.pop(next(iter(rest)))
            self.write(tensor, _Op("call", name, entry.fn, (), self.to_refs(rest)))
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
        tied = {}  # id(tensor) -> its names
        for qual, kind, t in entries:
            if not t.is_meta:
                continue
            tied.setdefault(id(t), []).append(qual)
            st = self.st_of(t)
            ref = self.ref(t)
            if st is not None and st.name is None:
                st.name = qual
            out[qual] = (kind, ref)
        # the random ops on storages that are not the model's (temporaries), in program
        # order: the i-th of a pass is keyed by ":temporary:i", as init_module_ keys them
        # (models/rng.py)
        self.passes.close()
        temporaries = {}
        for op, st in self.rng_ops:
            if st.name is None:
                i = temporaries.get(op.init_pass, 0)
                temporaries[op.init_pass] = i + 1
                op.key_name = _rng.key_name(_rng.temporary_name(i), 0, op.init_pass > 0)
        for qual, (kind, ref) in out.items():
            _name_sources(ref.st, qual)  # names for messages
        for qual, (kind, ref) in out.items():
            bad = _first_error(ref.st, ref.version)
            if bad is not None:
                raise DeferredInitError(f"deferred_init: {qual}: {bad}")
        groups = {q: names for names in tied.values() if len(names) > 1 for q in names}
        return _Plan(out, groups, module)



def _torch_init_original(name):
    fn = _originals_of_torch().get(name)
    if fn is None:
        import torch.nn.init as tinit

        fn = getattr(tinit, name)
    return fn


# --- the swap of torch.nn.init --------------------------------------------------------------
#
# The swap is process-wide (it rebinds module attributes), but recording is per thread: the
# swapped-in functions are dispatchers, created once, that hand each call to the innermost
# recorder of the calling thread, or, on a thread that is not recording, to the function
# they replaced (fastinit's while a patch_torch_init block is open). The swap is
# reference-counted under patch's lock: in place while any deferred_init runs, on any
# thread (issue 17, defect 11: two threads used to share one recorder).

_DEVICE_PROPS = ("device", "is_meta", "is_cpu", "is_cuda")
_tls = threading.local()  # .stack: the recorders active on this thread, innermost last
_swap = {"depth": 0, "undo": None, "repl": None}
_dispatchers = {}  # id(original) -> dispatcher


def _active():
    stack = getattr(_tls, "stack", None)
    return stack[-1] if stack else None


def _dispatcher(name, orig):
    d = _dispatchers.get(id(orig))
    if d is not None and d._fastinit_original is orig:
        return d

    def dispatcher(*args, **kwargs):
        rec = _active()
        if rec is not None:
            return rec.init_call(name, args, kwargs)
        fn = getattr(_fills, name, None) if _patch._depth > 0 else None
        return (fn or orig)(*args, **kwargs)

    dispatcher.__name__ = name
    dispatcher.__doc__ = getattr(orig, "__doc__", None)
    dispatcher._fastinit_recorder = True
    dispatcher._fastinit_original = orig
    _dispatchers[id(orig)] = dispatcher
    return dispatcher


def _init_originals():
    """name -> torch.nn.init's own function, for fastinit's set and the ones only torch
    has; and timm's trunc_normal_ (or None)."""
    import sys

    import torch.nn.init as tinit

    out = dict(_originals_of_torch())
    for name in _registry.torch_only_names():
        orig = getattr(tinit, name, None)
        if orig is not None and getattr(orig, "__module__", None) == "torch.nn.init":
            out[name] = orig
    timm_wi = sys.modules.get("timm.layers.weight_init")
    orig = getattr(timm_wi, "trunc_normal_", None) if timm_wi is not None else None
    timm_tn = orig if callable(orig) and getattr(orig, "__module__", None) == "timm.layers.weight_init" else None
    return out, timm_tn


def _bind_recorder(rec):
    """The recorder's tables of torch's init functions (called through their
    __torch_function__ hooks or the dispatchers)."""
    originals, _ = _init_originals()
    for name, orig in originals.items():
        rec.torch_init_fns[orig] = name
        if name in _registry.torch_only_names():
            rec.originals[name] = orig


_LEGACY_TYPES = ("FloatTensor", "DoubleTensor", "HalfTensor", "BFloat16Tensor", "ByteTensor", "CharTensor",
                 "ShortTensor", "IntTensor", "LongTensor", "BoolTensor")
_legacy_wrappers = {}  # name -> the stand-in class, created once


class _LegacyType(type):
    """A stand-in for ``torch.FloatTensor`` & co while any deferred_init runs: a call on
    a recording thread is recorded, elsewhere it is the original's; isinstance and
    issubclass answer as the original's (annotations that captured it keep working)."""

    def __call__(cls, *args, **kwargs):
        rec = _active()
        if rec is None:
            return cls._fastinit_original(*args, **kwargs)
        return rec.legacy(cls._fastinit_original, cls._fastinit_original.dtype, args, kwargs)

    def __instancecheck__(cls, obj):
        return isinstance(obj, cls._fastinit_original)

    def __subclasscheck__(cls, sub):
        return issubclass(sub, cls._fastinit_original)


def _legacy_wrapper(name, orig):
    w = _legacy_wrappers.get(name)
    if w is None or w._fastinit_original is not orig:
        w = _legacy_wrappers[name] = _LegacyType(name, (), {"_fastinit_original": orig, "__module__": "torch"})
    return w


def _tensor_new(*args, **kwargs):
    """``torch.Tensor.__new__`` while any deferred_init runs: ``torch.Tensor(...)`` on a
    recording thread is recorded (see _Recorder.legacy); subclasses and other threads get
    torch's own. The signature is a wildcard: torch._dynamo, when first imported while this
    is in place, checks its polyfill for torch.Tensor.__new__ against it."""
    import torch

    cls, args = args[0], args[1:]

    rec = _active()
    if rec is not None and cls is torch.Tensor:
        return rec.legacy(lambda *a, **k: torch._C.TensorBase.__new__(cls, *a, **k), torch.get_default_dtype(),
                          args, kwargs)
    return torch._C.TensorBase.__new__(cls, *args, **kwargs)


def _swap_legacy():
    """Swaps the legacy constructors; returns the undo log (patch's format)."""
    import torch

    undo = []
    for name in _LEGACY_TYPES:
        orig = getattr(torch, name, None)
        if isinstance(orig, type) and not isinstance(orig, _LegacyType):
            setattr(torch, name, _legacy_wrapper(name, orig))
            undo.append((setattr, torch, name, orig))
    if "__new__" not in torch.Tensor.__dict__:
        torch.Tensor.__new__ = _tensor_new
        undo.append((lambda c, k, _old: delattr(c, k), torch.Tensor, "__new__", None))
    return undo


@contextlib.contextmanager
def _recording(rec, mode):
    """Records on this thread into ``rec`` under ``mode``, the swap in place meanwhile."""
    _bind_recorder(rec)
    with _patch._lock:
        if _swap["depth"] == 0:
            originals, timm_tn = _init_originals()
            repl = {id(o): (o, _dispatcher(n, o)) for n, o in originals.items()}
            if timm_tn is not None:
                repl[id(timm_tn)] = (timm_tn, _dispatcher("trunc_normal_", timm_tn))
            _swap["undo"] = _patch._apply(repl)
            try:
                _swap["undo"] += _swap_legacy()
            except BaseException:
                _patch._undo(_swap["undo"])
                raise
            _swap["repl"] = repl
        _swap["depth"] += 1
    stack = _tls.__dict__.setdefault("stack", [])
    stack.append(rec)
    try:
        with mode:
            yield
    finally:
        stack.pop()
        with _patch._lock:
            _swap["depth"] -= 1
            if _swap["depth"] == 0:
                _patch._undo(_swap["undo"])
                _unbind_recorders(_swap["repl"])
                _swap["undo"] = _swap["repl"] = None


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
