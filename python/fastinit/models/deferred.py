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
keyed to its qualified name (tied ones: the first name), and the i-th random op on any other
storage (a temporary) to ``:temporary:i``, in program order: init_module_'s rule
(docs/STREAM.md section 4.1).

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

import weakref

from .records import DeferredInitError
from .recorder import _active, _Recorder, _recording
from .replay import _Replay, _allocate, _get_tensor, _set_tensor
from .shapes import _torch
from ..core.seeds import check_u64, torch_seed

__all__ = ["deferred_init", "materialize_", "DeferredInitError", "is_deferred", "materialize_tensor",
           "materialize_module"]

_ATTR = "_fastinit_deferred"

#: tests set this to fill every fresh allocation with NaN (ints: -1) before the replay, so
#: that an element the replay does not write shows up.
_POISON = False


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
        TypeError: ``module_fn`` is a module instance (pass its class) or not callable, or
            does not return a ``torch.nn.Module``.

    A ``deferred_init`` called inside another one's ``module_fn`` (on the same thread) is
    recorded by the outer one: its module is materialized with the outer model.

    Example:
        >>> model = fastinit.deferred_init(LlamaForCausalLM, config)   # milliseconds
        >>> fastinit.materialize_(model, "cpu", seed=1234)
    """
    torch = _torch()
    from torch.overrides import TorchFunctionMode

    if isinstance(module_fn, torch.nn.Module):
        # issue 19: calling the instance would run its forward()
        raise TypeError(
            f"deferred_init: module_fn must be a callable that builds the module (a class or a factory), not a "
            f"{type(module_fn).__name__} instance: write deferred_init({type(module_fn).__name__}, *args) instead of "
            f"deferred_init({type(module_fn).__name__}(*args))"
        )
    if not callable(module_fn):
        raise TypeError(f"deferred_init: module_fn must be callable, not {type(module_fn).__name__}")
    if _active() is not None:
        # nested in another deferred_init on this thread (issue 17, defect 12): the enclosing
        # recording records this constructor too, and names its tensors when it returns
        module = module_fn(*args, **kwargs)
        if not isinstance(module, torch.nn.Module):
            raise TypeError(
                f"deferred_init: module_fn must return a torch.nn.Module, not {type(module).__name__}")
        return module
    rec = _Recorder()

    class _Mode(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            return rec.handle(func, types, args, kwargs or {})

    with _recording(rec, _Mode()):
        module = module_fn(*args, **kwargs)
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"deferred_init: module_fn must return a torch.nn.Module, not {type(module).__name__}")
    plan = rec.plan(module)
    for qual in plan.entries:
        kind = plan.entries[qual][0]
        _remember(_get_tensor(module, qual, kind), plan, qual)
    for prefix, m in module.named_modules(remove_duplicate=False):
        m.__dict__[_ATTR] = (plan, prefix)
        if _HOOK not in m.__dict__ and _own_deferred(m):
            m.__dict__[_HOOK] = m.register_forward_pre_hook(_ForwardBeforeMaterialize()).id
    return module


_HOOK = "_fastinit_deferred_hook"
#: id(meta tensor) -> (weakref to it, plan, qualified name), for is_deferred /
#: materialize_tensor; an entry goes when its tensor does. Keyed by id: a
#: WeakKeyDictionary compares tensors with ==, which is elementwise.
_DEFERRED_TENSORS = {}


def _remember(t, plan, qual):
    k = id(t)
    if k not in _DEFERRED_TENSORS:
        _DEFERRED_TENSORS[k] = (weakref.ref(t, lambda _r, k=k: _DEFERRED_TENSORS.pop(k, None)), plan, qual)


def _recorded(t):
    found = _DEFERRED_TENSORS.get(id(t))
    return found[1:] if found is not None and found[0]() is t else None


def _own_deferred(m):
    """Names of the module's own parameters, buffers and tensor attributes still on meta."""
    torch = _torch()
    own = list(m._parameters.items()) + list(m._buffers.items()) + [
        (k, v) for k, v in vars(m).items() if isinstance(v, torch.Tensor)]
    return [k for k, v in own if isinstance(v, torch.Tensor) and v.is_meta]


class _ForwardBeforeMaterialize:
    """A forward pre-hook: a module whose own tensors are still deferred raises instead of
    computing with uninitialized memory or meta tensors (issue 17, defect 15). Removed by
    materialize_ once nothing of the module is deferred. A class, so the model pickles."""

    def __call__(self, module, args):
        names = _own_deferred(module)
        if names:
            found = module.__dict__.get(_ATTR)
            where = (found[1] or "the model") if found else "a module"
            raise DeferredInitError(
                f"{where} ({type(module).__name__}).forward() called before materialize_: "
                f"{', '.join(names)} still deferred (on meta); call fastinit.materialize_(model) first"
            )



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
    shard. Only tensors that are still deferred (on meta) are allocated and written: a
    tensor assigned or loaded since ``deferred_init`` (``load_state_dict(ckpt,
    assign=True)``) is left as it is, a tensor tied to one that is real by now becomes that
    tensor again, and on a module with nothing deferred ``materialize_`` is a no-op (no key
    is drawn). Use ``init_module_`` to re-initialize real tensors.

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
    return _materialize(module, device, seed, generator, None)


def _materialize(module, device, seed, generator, select):
    """materialize_; ``select(qualname, kind)``, when given, limits it to those tensors."""
    torch = _torch()
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
    if seed is not None:
        seed = check_u64(seed, "seed")
    cut = len(prefix) + 1 if prefix else 0
    entries = [(q[cut:], kind, ref) for q, (kind, ref) in plan.entries.items()
               if not prefix or q.startswith(prefix + ".")]
    known = {q for q, _, _ in entries}
    if select is not None:
        entries = [(q, kind, ref) for q, kind, ref in entries if select(q, kind)]
    if device is None:
        wanted = {str(torch.device(r.st.device)) for _, _, r in entries if r.st.device is not None}
        wanted.discard("meta")  # a constructor's own meta tensors say nothing about where to allocate
        device = torch.device(wanted.pop()) if len(wanted) == 1 else torch.device("cpu")
    device = torch.device(device)

    stray = [n for n, t in list(module.named_parameters(remove_duplicate=False))
             + list(module.named_buffers(remove_duplicate=False)) if t.is_meta and n not in known]
    if stray:
        raise DeferredInitError(
            f"materialize_: {len(stray)} meta tensor(s) were added after deferred_init and have no record: "
            f"{', '.join(stray[:8])}"
        )

    # 0. a tensor tied (at deferred_init) to one that is real by now, because a submodule
    #    was materialized first or the user assigned it (load_state_dict(assign=True)),
    #    becomes that tensor again: no allocation, no replay (issue 17, defect 13)
    _retie(module, plan, prefix, entries)

    # only what is still deferred is allocated and written; a tensor the user assigned or
    # loaded is never touched, and with nothing deferred this is a no-op (torchdistx's rule;
    # re-initializing real tensors is init_module_'s job). Issue 17, defect 14.
    current = [(q, kind, _get_tensor(module, q, kind)) for q, kind, _ in entries]
    pending = {id(t) for _, _, t in current if t.is_meta}
    if not pending:
        _drop_hooks(module)
        return module
    seed = torch_seed(generator) if seed is None else seed

    # 1. allocate (as to_empty), then put tied tensors back together
    first = {}
    ties = []
    for q, kind, t in current:
        if id(t) in first:
            ties.append((q, kind, first[id(t)]))
        else:
            first[id(t)] = (q, kind)
    if select is None:
        module._apply(lambda t: _allocate(t, device) if t.is_meta else t)
    else:  # only the selected tensors (materialize_module)
        for q, kind, t in current:
            if (q, kind) == first[id(t)] and t.is_meta and kind != "attr":
                new = _allocate(t, device)
                if isinstance(t, torch.nn.Parameter):
                    new = torch.nn.Parameter(new, requires_grad=t.requires_grad)
                _set_tensor(module, q, kind, new)
    for q, kind, t in current:
        if kind == "attr" and (q, kind) == first[id(t)] and t.is_meta:
            _set_tensor(module, q, kind, _allocate(t, device))
    for q, kind, (q0, k0) in ties:
        _set_tensor(module, q, kind, _get_tensor(module, q0, k0))

    # 2. replay, each fresh tensor once
    rp = _Replay(seed, device, poison=_POISON)
    done = set()
    for (q, kind, ref), (_, _, before) in zip(entries, current):
        if id(before) not in pending:
            continue
        dest = _get_tensor(module, q, kind)
        if id(dest) in done:
            continue
        done.add(id(dest))
        rp.final(dest, ref, (prefix + "." + q) if prefix else q)
    _drop_hooks(module)
    return module


def _drop_hooks(module):
    for m in module.modules():
        hid = m.__dict__.get(_HOOK)
        if hid is not None and not _own_deferred(m):
            m._forward_pre_hooks.pop(hid, None)
            del m.__dict__[_HOOK]


def _retie(module, plan, prefix, entries):
    """Sets each deferred tensor of a tie group to a member of its group that is real
    (same shape, dtype and kind of tensor), looked up from the deferred_init root."""
    torch = _torch()
    root = plan.root
    if root is None or not plan.groups:
        return
    for q, kind, _ in entries:
        full = (prefix + "." + q) if prefix else q
        names = plan.groups.get(full)
        if names is None:
            continue
        t = _get_tensor(module, q, kind)
        if not t.is_meta:
            continue
        for other in names:
            okind = plan.entries[other][0]
            try:
                o = _get_tensor(root, other, okind)
            except (AttributeError, KeyError):  # the user restructured the model
                continue
            if (isinstance(o, torch.Tensor) and not o.is_meta and o.shape == t.shape and o.dtype == t.dtype
                    and isinstance(o, torch.nn.Parameter) == isinstance(t, torch.nn.Parameter)):
                _set_tensor(module, q, kind, o)
                break


# --- torchdistx's names ----------------------------------------------------------------------
# torchdistx.deferred_init documents deferred_init(module_fn, *args, **kwargs),
# is_deferred(obj), materialize_tensor(tensor) and materialize_module(module,
# buffers_only=False, check_fn=None): the same calls work here (import them from fastinit),
# plus fastinit's device / seed / generator keywords.


def is_deferred(obj):
    """Whether ``obj`` (a ``torch.nn.Module`` or a tensor) is deferred: a tensor recorded by
    :func:`deferred_init` and not materialized yet, or a module with such a parameter or
    buffer (torchdistx's ``is_deferred``).

    Args:
        obj (torch.nn.Module or torch.Tensor): what to ask about.

    Returns:
        bool: True while anything in ``obj`` still waits for :func:`materialize_`.

    Raises:
        TypeError: ``obj`` is neither a module nor a tensor.

    Example:
        >>> m = fastinit.deferred_init(torch.nn.Linear, 4, 4)
        >>> fastinit.is_deferred(m), fastinit.is_deferred(fastinit.materialize_(m, seed=0))
        (True, False)
    """
    torch = _torch()
    if isinstance(obj, torch.nn.Module):
        return any(is_deferred(t) for t in list(obj.parameters()) + list(obj.buffers()))
    if isinstance(obj, torch.Tensor):
        return obj.is_meta and _recorded(obj) is not None
    raise TypeError(f"is_deferred expects a torch.nn.Module or a torch.Tensor, not {type(obj).__name__}")


def materialize_tensor(tensor, device=None, *, seed=None, generator=None):
    """A real copy of one deferred tensor: its record replayed, with the tensors it was
    computed from (torchdistx's ``materialize_tensor``). Values are those the tensor gets
    from :func:`materialize_` of its model with the same ``seed``. A tensor that is not
    deferred is returned as it is. The module still holds the deferred tensor.

    Args:
        tensor (torch.Tensor): a parameter or buffer of a :func:`deferred_init` model.
        device (torch.device or str, optional): where to allocate it (default: the device
            its constructor asked for, else CPU).
        seed (int, optional): the model seed, as for :func:`materialize_`.
        generator (torch.Generator, optional): where the model seed is drawn from when
            ``seed`` is None (default ``torch.default_generator``).

    Returns:
        torch.Tensor: the real tensor.

    Raises:
        DeferredInitError: a meta tensor that ``deferred_init`` did not record, or a
            replayed op that fails.
        TypeError: ``tensor`` is not a tensor, or ``generator`` not a ``torch.Generator``.

    Example:
        >>> m = fastinit.deferred_init(torch.nn.Linear, 4, 4)
        >>> w = fastinit.materialize_tensor(m.weight, seed=0)   # m.weight stays deferred
    """
    torch = _torch()
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"materialize_tensor expects a torch.Tensor, not {type(tensor).__name__}")
    found = _recorded(tensor) if tensor.is_meta else None
    if found is None:
        if tensor.is_meta:
            raise DeferredInitError("materialize_tensor: this meta tensor was not recorded by fastinit.deferred_init")
        return tensor
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, not {type(generator).__name__}")
    plan, qual = found
    _, ref = plan.entries[qual]
    if device is None:
        device = ref.st.device if ref.st.device is not None and str(ref.st.device) != "meta" else "cpu"
    device = torch.device(device)
    seed = torch_seed(generator) if seed is None else check_u64(seed, "seed")
    out = _allocate(tensor, device)
    _Replay(seed, device, poison=_POISON).final(out, ref, qual)
    if isinstance(tensor, torch.nn.Parameter):
        out = torch.nn.Parameter(out, requires_grad=tensor.requires_grad)
    return out


def materialize_module(module, buffers_only=False, check_fn=None, *, device=None, seed=None, generator=None):
    """torchdistx's ``materialize_module``: materializes ``module``'s deferred parameters
    and buffers in place, as :func:`materialize_` does (the same values for the same
    ``seed``).

    Args:
        module (torch.nn.Module): a :func:`deferred_init` model or one of its submodules.
        buffers_only (bool): only buffers (default False: parameters and buffers).
        check_fn (callable, optional): only the tensors of the submodules for which
            ``check_fn(submodule)`` is true.
        device, seed, generator: as for :func:`materialize_`.

    Returns:
        torch.nn.Module: ``module``.

    Example:
        >>> m = fastinit.deferred_init(torch.nn.BatchNorm1d, 8)
        >>> fastinit.materialize_module(m, buffers_only=True, seed=0)   # running stats only
    """
    if check_fn is None and not buffers_only:
        return materialize_(module, device, seed=seed, generator=generator)
    chosen = set()

    def walk(m, prefix):
        if check_fn is None or check_fn(m):
            names = list(m._buffers) if buffers_only else list(m._parameters) + list(m._buffers)
            chosen.update(prefix + n for n in names)
        for cn, c in m.named_children():
            walk(c, prefix + cn + ".")

    walk(module, "")
    return _materialize(module, device, seed, generator, lambda q, kind: kind != "attr" and q in chosen)
