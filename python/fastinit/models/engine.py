"""The one way ``init_module_`` and ``apply_scheme`` run a model's initialization (issue 17).

A *plan* is a list of steps in program order:

* ``("fill", tensor, name, args)``: the registry function ``name`` on ``tensor`` (torch's
  default rules, a scheme's table);
* ``("zero_row", tensor, row)``: ``tensor[row] = 0`` (Embedding's ``padding_idx``);
* ``("code", label, fn)``: the model's own code, run for real (a module's own
  ``reset_parameters``, a library's ``init_weights()``).

Keys: one seed ``s`` for the whole run (``seed``, or one key drawn from ``generator`` /
``torch.default_generator`` when ``seed`` is None). Every random op on a model tensor is
keyed by ``(s, the tensor's name, its ordinal)``, exactly as ``materialize_`` keys its
replay: the j-th random op (j from 0) on the tensor named ``name`` gets
``seed=derive_seed(s, name)`` for j = 0 and ``derive_seed(s, f"{name}#{j}")`` for j >= 1.
A tensor's name is the first name of its storage in ``named_parameters(remove_duplicate=
False)`` then ``named_buffers(remove_duplicate=False)``; any view of that storage
(``.data``, ``w[i]``, ``w.t()``) counts for it. Random ops are the registry's ``"random"``
functions (called by a step, or by the model's code through ``torch.nn.init``, Hugging
Face's ``TORCH_INIT_FUNCTIONS`` or timm's ``trunc_normal_``, all swapped for keyed
versions while code runs) and the in-place RNG tensor methods (``uniform_``/``normal_``
become fastinit fills; ``random_``, ``bernoulli_``, ``exponential_``, ``log_normal_``,
``cauchy_``, ``geometric_`` run torch's op with a CPU generator seeded with the key,
as ``materialize_`` does), and the RNG factories (``torch.randn``, ``randperm``...), made
as ``materialize_``'s replay makes them (models/rng.py). A random op on a tensor that is not
the model's (a temporary: a factory's result, a scratch tensor) gets
``derive_seed(s, ":temporary:" + i)`` for the i-th such op of the run, the rule
``materialize_`` applies over the constructor.

Every step runs for real, in order: an op after an init call sees its result
(``normal_(w); w.mul_(0.01)`` scales the new values).

Atomic: before anything is written, every tensor of the model is checked on the real
tensor (its storage holds every byte its view spans, so a freed storage is refused with a
``RuntimeError`` naming it); the tensors a ``fill`` step writes are checked as the fill
would check them (dtype, layout, overlapping views such as ``expand``, inference tensors).
When the plan has a ``code`` step (arbitrary code), every storage of the model is copied
first and written back if anything raises: that costs one copy of the model's storages for
the duration of the call. A plan of ``fill``/``zero_row`` steps only needs no copy: its
arguments are checked on meta twins after the real-tensor checks.
"""

from __future__ import annotations

import contextlib
import inspect
import threading

from ..core.seeds import derive_seed, torch_seed
from ..core.shards import is_dtensor, local_tensor, zero_row
from .. import fills as _fills
from ..core.targets import check_no_overlap, check_torch_inplace, describe
from ..fills import registry as _registry
from . import patch as _patch
from .rng import (RNG_METHOD_FILL, RNG_METHOD_TORCH, Passes, factory_fill, is_rng_factory, key_name, seeded_torch_op,
                  temporary_name)
from .shapes import _FILL_DTYPES, _any_meta

__all__ = ["run_plan", "run_seed", "first_names", "tensor_names", "untied", "KEYED"]

_active = threading.local()  # .run: the _Run the current thread's code steps are keyed by



def first_names(names, k=8):
    """The first ``k`` names of a refusal message, and "..." when there are more."""
    return ", ".join(names[:k]) + (", ..." if len(names) > k else "")


def _keyed_function(entry):
    def keyed(*args, **kwargs):
        run = getattr(_active, "run", None)
        if run is None or run.inside:  # no run on this thread: plain fastinit
            return getattr(_fills, entry.name)(*args, **kwargs)
        return run.call(entry, args, kwargs)

    keyed.__name__ = entry.name
    keyed.__qualname__ = entry.name
    keyed.__doc__ = f"fastinit.{entry.name}, keyed by (seed, tensor name, ordinal) inside init_module_."
    keyed.__wrapped__ = entry.fn
    return keyed


class _Keyed:
    """The namespace of keyed replacements: patch_torch_init's ``source`` for a code step."""


KEYED = _Keyed()
for _e in _registry.ENTRIES:
    if _e.torch_name is not None:
        setattr(KEYED, _e.torch_name, _keyed_function(_e))


def run_seed(seed, generator):
    """The run's seed: ``seed``, or one key drawn from ``generator`` (default
    ``torch.default_generator``), as ``materialize_`` draws it."""

    return seed if seed is not None else torch_seed(generator)


def _storage_key(t):

    if is_dtensor(t):
        t = local_tensor(t)
    return t.untyped_storage()._cdata


def tensor_names(module) -> dict:
    """storage key -> the tensor's name (the first, parameters before buffers)."""
    out = {}
    for n, t in list(module.named_parameters(remove_duplicate=False)) + list(
            module.named_buffers(remove_duplicate=False)):
        if t is not None:
            out.setdefault(_storage_key(t), n)
    return out


def _device_constructors():
    from torch.utils._device import _device_constructors as constructors

    return constructors()


class _Run:
    def __init__(self, module, seed):
        self.seed = seed
        self.names = tensor_names(module)
        self.ordinals = {}  # (init pass, name) -> random ops counted
        self.temporaries = {}  # init pass -> random ops on temporaries counted
        self.passes = Passes()
        self.inside = False

    def key(self, tensor):
        """The key of ``tensor``'s next random op (counts it in its init pass)."""
        import torch

        p = self.passes.current()
        name = self.names.get(_storage_key(tensor)) if isinstance(tensor, torch.Tensor) else None
        if name is None:
            i = self.temporaries.get(p, 0)
            self.temporaries[p] = i + 1
            return derive_seed(self.seed, key_name(temporary_name(i), 0, p > 0))
        j = self.ordinals.get((p, name), 0)
        self.ordinals[(p, name)] = j + 1
        return derive_seed(self.seed, key_name(name, j, p > 0))

    @contextlib.contextmanager
    def _fastinit(self):
        saved, self.inside = self.inside, True
        try:
            yield
        finally:
            self.inside = saved

    def call(self, entry, args, kwargs):
        """``entry``'s function called by a step or by the model's code."""
        fn = getattr(_fills, entry.name)
        if entry.replay != "keyed":
            with self._fastinit():
                return fn(*args, **kwargs)
        bound = inspect.signature(entry.fn).bind(*args, **kwargs)  # torch's TypeError for bad arguments
        bound.arguments.pop("generator", None)
        tensor = next(iter(bound.arguments.values()))
        key = self.key(tensor)
        if bound.arguments.get("seed") is None:  # a call with its own seed keeps it (and still counts)
            bound.arguments["seed"] = key
        with self._fastinit():
            return fn(*bound.args, **bound.kwargs)

    def rng_method(self, func, name, args, kwargs):
        """An in-place RNG tensor method called by the model's code."""
        import torch

        target = args[0]
        if torch.is_grad_enabled() and target.requires_grad and target.is_leaf:
            return func(*args, **kwargs)  # torch's own error for a leaf that requires grad
        kwargs = dict(kwargs)
        kwargs.pop("generator", None)
        if name in RNG_METHOD_FILL:
            pnames = RNG_METHOD_FILL[name]
            params = [kwargs.pop(pnames[0], 0.0), kwargs.pop(pnames[1], 1.0)]
            for i, a in enumerate(args[1:3]):
                params[i] = a
            if not kwargs and target.dtype in _FILL_DTYPES() and \
                    not any(isinstance(p, torch.Tensor) for p in params):
                with self._fastinit():
                    getattr(_fills, name)(target, float(params[0]), float(params[1]), seed=self.key(target))
                return target
        # torch's op with a CPU generator seeded by the key (materialize_'s replay runs the same)
        return seeded_torch_op(func, (target,), args[1:], kwargs, self.key(target))

    def rng_factory(self, func, name, args, kwargs):
        """An RNG factory (``torch.randn``, ``randperm``...) called by the model's code: a
        temporary, keyed as the next one, made as materialize_'s replay makes it."""
        import torch

        kwargs = {k: v for k, v in kwargs.items() if k != "generator"}
        key = self.key(None)
        as_fill = factory_fill(name, args, kwargs)
        if as_fill is not None:
            make, fill, params = as_fill
            t = make(requires_grad=False)
            if t.dtype in _FILL_DTYPES():
                with self._fastinit():
                    getattr(_fills, fill)(t, *params, seed=key)
                return t.requires_grad_(bool(kwargs.get("requires_grad", False)))
        device = kwargs.get("device")
        if device is None:
            src = next((a for a in args if isinstance(a, torch.Tensor)), None)
            device = src.device if src is not None else torch.get_default_device()
        if func in _device_constructors():
            kwargs["device"] = "cpu"  # computed on the CPU, then moved (the replay's rule)
        with self._fastinit():
            return seeded_torch_op(func, (), args, kwargs, key, device)


def _mode_class():
    from torch.overrides import TorchFunctionMode

    class _RngMethods(TorchFunctionMode):
        """Keys the in-place RNG tensor methods and the RNG factories the model's code calls."""

        def __init__(self, run):
            super().__init__()
            self.run = run

        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            name = getattr(func, "__name__", "")
            if self.run.inside:
                return func(*args, **kwargs)
            if (name in RNG_METHOD_FILL or name in RNG_METHOD_TORCH) and args:
                import torch

                if isinstance(args[0], torch.Tensor) and args[0].device.type != "meta":
                    return self.run.rng_method(func, name, args, kwargs)
            elif is_rng_factory(name) and kwargs.get("device") != "meta" and not _any_meta(args):
                return self.run.rng_factory(func, name, args, kwargs)
            return func(*args, **kwargs)

    return _RngMethods


# --- checks and backup ----------------------------------------------------------------------


def _unique_tensors(module):
    seen, out = set(), []
    for n, t in list(module.named_parameters(remove_duplicate=False)) + list(
            module.named_buffers(remove_duplicate=False)):
        if t is not None and id(t) not in seen:
            seen.add(id(t))
            out.append((n, t))
    return out


def _check_memory(name, t):
    """The storage holds every byte the view spans (a freed storage does not)."""

    x = local_tensor(t) if is_dtensor(t) else t
    if x.numel() == 0:
        return
    span = x.storage_offset() + sum((s - 1) * st for s, st in zip(x.shape, x.stride())) + 1
    have = x.untyped_storage().nbytes()
    if span * x.element_size() > have:
        raise RuntimeError(
            f"fastinit: {name}: its storage holds {have} bytes but the tensor spans {span * x.element_size()} "
            "(a freed or resized storage); nothing was written"
        )


def _check_fill_target(name, t, entry):
    """What the fill would refuse, on the real tensor (not a meta twin): the dtype and
    layout, overlapping elements (an expanded view), an inference tensor."""

    x = local_tensor(t) if is_dtensor(t) else t
    if entry.kind == "random":
        describe(x, op=entry.name)  # dtype, layout
    if x.numel() > 1:
        check_no_overlap(list(x.shape), [s * x.element_size() for s in x.stride()], x.element_size())
    check_torch_inplace(t)


def _meta_twin(t):
    import torch

    return torch.empty(tuple(t.shape), dtype=t.dtype, device="meta")


def _check_plan(module, steps):
    names = {id(t): n for n, t in _unique_tensors(module)}
    for n, t in _unique_tensors(module):
        _check_memory(n, t)
    for step in steps:
        if step[0] == "fill":
            _, t, fname, args = step
            entry = _registry.get(fname)
            _check_fill_target(names.get(id(t), "a tensor"), t, entry)
            kw = {"seed": 0} if entry.takes_seed else {}
            with contextlib.suppress(NotImplementedError) if entry.kind == "constant" else contextlib.nullcontext():
                entry.fn(_meta_twin(t), *args, **kw)  # the arguments' checks: no write, no draw
        elif step[0] == "zero_row":
            _, t, row = step
            if not -t.shape[0] <= row < t.shape[0]:
                raise IndexError(f"index {row} is out of bounds for dimension 0 with size {t.shape[0]}")
            check_torch_inplace(t)


def _backup(module):
    """(storage, copy) for every storage of the model's tensors, each once."""

    seen, out = set(), []
    for _, t in _unique_tensors(module):
        x = local_tensor(t) if is_dtensor(t) else t
        st = x.untyped_storage()
        if st._cdata not in seen and st.nbytes():
            seen.add(st._cdata)
            out.append((st, st.clone()))
    return out


def _restore(backup):
    import torch

    with torch.no_grad():
        for st, old in backup:
            st.copy_(old)


@contextlib.contextmanager
def untied(module):
    """Inside: every parameter reached under a second (module, name) (a tied weight: HF's
    ``lm_head.weight`` is ``embed_tokens.weight``) is a scratch copy of its own, so torch's
    default rule and the library init fill it as construction did, before the model tied
    it (Hugging Face's post_init: init, then tie). On exit, even through an exception,
    every such attribute is the original parameter object again, so the first name's
    tensor holds the result, as in ``materialize_`` (where a storage's name is its first)."""
    import torch

    seen, swapped = {}, []
    for _, m in module.named_modules(remove_duplicate=False):
        for leaf, p in list(m._parameters.items()):
            if p is None:
                continue
            owner = seen.setdefault(id(p), (id(m), leaf))
            if owner != (id(m), leaf) and not any(m is mm and leaf == ll for mm, ll, _ in swapped):
                scratch = torch.nn.Parameter(p.detach().clone(), requires_grad=p.requires_grad)
                swapped.append((m, leaf, p))
                m._parameters[leaf] = scratch
    try:
        yield
    finally:
        for m, leaf, p in reversed(swapped):
            m._parameters[leaf] = p


# --- running --------------------------------------------------------------------------------


@contextlib.contextmanager
def _code_context(run, label):
    """A code step's context: the keyed swap, the RNG-method mode, and
    torch.default_generator seeded with ``derive_seed(s, label)`` (restored afterwards) for
    the random ops that are not keyed."""
    import torch

    saved = getattr(_active, "run", None)
    _active.run = run
    try:
        with _patch._swap(KEYED, over_fastinit=True), _mode_class()(run), torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(derive_seed(run.seed, label))
            yield
    finally:
        _active.run = saved


def run_plan(module, steps, seed):
    """Run ``steps`` on ``module`` with the model seed ``seed``; atomic (see the module
    docstring). Returns the run (its ``ordinals``: (init pass, name) -> random ops counted)."""

    _check_plan(module, steps)
    backup = _backup(module) if any(s[0] == "code" for s in steps) else None
    run = _Run(module, seed)
    try:
        for step in steps:
            if step[0] == "fill":
                _, t, fname, args = step
                run.call(_registry.get(fname), (t, *args), {})
            elif step[0] == "zero_row":
                zero_row(step[1], step[2])
            else:
                _, label, fn = step
                with _code_context(run, label):
                    fn()
    except BaseException:
        if backup is not None:
            _restore(backup)
        raise
    finally:
        run.passes.close()
    return run

