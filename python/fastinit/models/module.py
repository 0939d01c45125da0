"""``init_module_``: re-initialize a whole model as torch's default construction would,
with fastinit's fills.

What each module gets (torch 2.13's ``reset_parameters``, distribution for distribution):

=================================  ==========================================================
``Linear`` (and subclasses that     weight ``kaiming_uniform_(a=sqrt(5))`` = U(+-1/sqrt(fan_in));
keep its reset), ``Conv1d/2d/3d``,  bias U(+-1/sqrt(fan_in)) (0 if fan_in == 0). Any memory
``ConvTranspose1d/2d/3d``           format (channels_last weights are filled in place).
``Bilinear``                        weight and bias U(+-1/sqrt(weight.size(1)))
``Embedding``, ``EmbeddingBag``     weight N(0, 1), row ``padding_idx`` zeroed
``LayerNorm``, ``GroupNorm``,       weight 1, bias 0 (when affine)
``RMSNorm``
``BatchNorm1d/2d/3d``,              weight 1, bias 0 (when affine); running_mean 0,
``InstanceNorm*``, ``SyncBatchNorm`` running_var 1, num_batches_tracked 0 (when tracked)
``RNN/LSTM/GRU`` and their cells    every parameter U(+-1/sqrt(hidden_size))
``PReLU``                           weight = its ``init`` value (0.25 by default)
``MultiheadAttention``              after its ``out_proj`` (a Linear): ``xavier_uniform_`` on
                                    in_proj_weight (or q/k/v_proj_weight); in_proj_bias and
                                    out_proj.bias 0 (when in_proj_bias exists); bias_k, bias_v
                                    ``xavier_normal_``
``Transformer``                     after its submodules: ``xavier_uniform_`` on every
                                    parameter with dim > 1
=================================  ==========================================================

A known rule is used only where the module's class still has torch's own method
(``type(m).reset_parameters is nn.Linear.reset_parameters``...); a module with any other
``reset_parameters`` (a subclass that overrides it, or a class fastinit does not know) has
it *called*, under :func:`fastinit.patch_torch_init`, so its ``torch.nn.init`` calls are
fastinit's. Parameters reached by neither are left as they are and named in a warning.

Library init: when the root module has an ``init_weights()`` method callable without
arguments (Hugging Face ``PreTrainedModel``, timm models), it is called afterwards under
``patch_torch_init`` (``library_init=False`` turns this off), because that is what those
libraries' constructors do after torch's defaults: Llama's normal(0, initializer_range)
Linear weights, timm ViT's trunc_normal(std=.02)... Hugging Face's
``_is_hf_initialized`` flags are cleared first (this function re-initializes everything).

Order: modules are visited children first (post-order over ``named_modules()``), the order
in which construction initializes them, so a parent's own rule (MultiheadAttention's,
Transformer's) wins over its children's. Each tensor is filled once, with the last rule
that applies to it (an overridden fill is skipped, not done twice).

Seeds
-----
* ``seed=None``: each random fill draws one 64-bit key from ``generator`` (default
  ``torch.default_generator``), exactly as the individual functions do, in the order
  above; constant fills draw nothing. ``torch.manual_seed(s); init_module_(m)`` is
  reproducible. A called ``reset_parameters``/``init_weights`` draws from
  ``torch.default_generator`` (with a ``generator`` given: one key is drawn from it and the
  call runs under ``torch.random.fork_rng`` with ``torch.default_generator`` seeded by it).
* ``seed=s``: the tensor with qualified name ``name`` (its first name in
  ``module.named_parameters()`` / ``named_buffers()``) is filled with ``seed=derive_seed(s,
  name)`` and offset 0, where ``derive_seed(s, name)`` = ``w0 | w1 << 32`` for
  ``(w0, w1, _, _) = Philox4x32-10(counter = the first 16 bytes of SHA-256(name as UTF-8),
  read as 4 little-endian 32-bit words, key = (s & 0xffffffff, s >> 32))``. A tensor's
  values then depend only on ``(s, its name, its shape and rule)``: not on the traversal
  order or on which other modules exist. A called ``reset_parameters`` runs under
  ``fork_rng`` with ``torch.default_generator`` seeded with ``derive_seed(s, qualname +
  ":reset_parameters")`` (library init: ``derive_seed(s, ":init_weights")``), so it is
  deterministic too.

Devices: CPU and CUDA tensors are filled where they are. A model with ``meta`` tensors is
refused (``ValueError`` naming them): they have no memory to fill, and what their
constructor computed (rotary ``inv_freq``, a layer scale ``ls * torch.ones(dim)``, a
``self.apply(init_fn)``) is not known here. Build such a model with
``fastinit.deferred_init`` and allocate it with ``fastinit.materialize_``, which replay the
constructor itself. ``to_empty`` then ``init_module_`` still works for models whose every
tensor is covered by a rule above or by the library init; a parameter that nothing covers
and that holds what uninitialized memory typically holds (a NaN, an infinity, a magnitude
above 1e30) is refused with the same pointer, others are named in a warning and kept
(memory that ``to_empty`` got as zeros cannot be told from a zero-initialized tensor).

Atomic: every fill (torch's defaults and the recorded library calls) is checked against a
meta twin of its target before anything is written, so a refused fill (a bad dtype, a bad
argument) leaves the model untouched. When a module's own ``reset_parameters`` has to be
called (arbitrary code), every tensor is copied first and restored if anything raises:
that costs one copy of the model for the duration of the call.
"""

from __future__ import annotations

import inspect
import math
import sys
import warnings

from .. import fills as _fills
from ..core.seeds import derive_seed

__all__ = ["init_module_", "derive_seed"]


# --- the rules: module -> [(tensor, op)] --------------------------------------------------
# op: ("kaiming_uniform", a) | ("uniform", lo, hi) | ("normal", mean, std, padding_idx)
#     | ("xavier_uniform", gain) | ("xavier_normal", gain) | ("const", value)


def _fan_in_bound(weight) -> float:
    from ..core.bounds import fans

    # torch's _calculate_fan_in_and_fan_out, from the (global, for a DTensor) shape
    fan_in, _ = fans(weight.shape)
    return 1 / math.sqrt(fan_in) if fan_in > 0 else 0


def _linear_like(m):
    out = [(m.weight, ("kaiming_uniform", math.sqrt(5)))]
    if m.bias is not None:
        b = _fan_in_bound(m.weight)
        out.append((m.bias, ("uniform", -b, b)))
    return out


def _bilinear(m):
    if m.in1_features <= 0:
        raise ValueError(f"in1_features must be > 0, but got (in1_features={m.in1_features})")
    b = 1 / math.sqrt(m.weight.size(1))
    out = [(m.weight, ("uniform", -b, b))]
    if m.bias is not None:
        out.append((m.bias, ("uniform", -b, b)))
    return out


def _embedding(m):
    return [(m.weight, ("normal", 0.0, 1.0, m.padding_idx))]


def _affine_norm(flag):
    def rule(m):
        out = []
        if getattr(m, flag):
            if m.weight is not None:
                out.append((m.weight, ("const", 1.0)))
            if getattr(m, "bias", None) is not None:
                out.append((m.bias, ("const", 0.0)))
        return out

    return rule


def _batchnorm(m):
    out = []
    if m.track_running_stats:
        out += [(m.running_mean, ("const", 0.0)), (m.running_var, ("const", 1.0)),
                (m.num_batches_tracked, ("const", 0))]
    if m.affine:
        out.append((m.weight, ("const", 1.0)))
        if m.bias is not None:
            out.append((m.bias, ("const", 0.0)))
    return out


def _rnn(m):
    stdv = 1.0 / math.sqrt(m.hidden_size) if m.hidden_size > 0 else 0
    return [(p, ("uniform", -stdv, stdv)) for p in m.parameters()]


def _prelu(m):
    return [(m.weight, ("const", float(m.init)))]


def _mha(m):
    out = []
    if m._qkv_same_embed_dim:
        out.append((m.in_proj_weight, ("xavier_uniform", 1.0)))
    else:
        out += [(m.q_proj_weight, ("xavier_uniform", 1.0)), (m.k_proj_weight, ("xavier_uniform", 1.0)),
                (m.v_proj_weight, ("xavier_uniform", 1.0))]
    if m.in_proj_bias is not None:
        out += [(m.in_proj_bias, ("const", 0.0)), (m.out_proj.bias, ("const", 0.0))]
    if m.bias_k is not None:
        out.append((m.bias_k, ("xavier_normal", 1.0)))
    if m.bias_v is not None:
        out.append((m.bias_v, ("xavier_normal", 1.0)))
    return out


def _transformer(m):
    return [(p, ("xavier_uniform", 1.0)) for p in m.parameters() if p.dim() > 1]


_RULES = None


def _rules() -> dict:
    """(method function object) -> rule. A module uses a rule only when its class still
    has torch's method, so overrides are honoured (they are called instead)."""
    global _RULES
    if _RULES is None:
        import torch.nn as nn
        from torch.nn.modules.batchnorm import _NormBase
        from torch.nn.modules.conv import _ConvNd
        from torch.nn.modules.rnn import RNNBase, RNNCellBase

        r = {
            nn.Linear.reset_parameters: _linear_like,
            _ConvNd.reset_parameters: _linear_like,
            nn.Bilinear.reset_parameters: _bilinear,
            nn.Embedding.reset_parameters: _embedding,
            nn.EmbeddingBag.reset_parameters: _embedding,
            nn.LayerNorm.reset_parameters: _affine_norm("elementwise_affine"),
            nn.GroupNorm.reset_parameters: _affine_norm("affine"),
            _NormBase.reset_parameters: _batchnorm,
            RNNBase.reset_parameters: _rnn,
            RNNCellBase.reset_parameters: _rnn,
            nn.PReLU.reset_parameters: _prelu,
            nn.MultiheadAttention._reset_parameters: _mha,
            nn.Transformer._reset_parameters: _transformer,
        }
        if hasattr(nn, "RMSNorm"):
            r[nn.RMSNorm.reset_parameters] = _affine_norm("elementwise_affine")
        _RULES = r
    return _RULES


def _rule_for(m):
    """("rule", fn) | ("call", bound method) | (None, None)."""
    rules = _rules()
    t = type(m)
    for meth in ("_reset_parameters", "reset_parameters"):
        fn = getattr(t, meth, None)
        if fn is not None and fn in rules:
            return "rule", rules[fn]
    rp = getattr(m, "reset_parameters", None)
    if callable(rp):
        return "call", rp
    return None, None


# --- execution ----------------------------------------------------------------------------


def _fi():
    return _fills


def _fill(t, op, generator, seed):
    import torch

    from ..core.shards import zero_row

    fi = _fi()
    kind = op[0]
    if kind == "const":
        if t.dtype.is_floating_point and hasattr(fi, "constant_"):
            fi.constant_(t, op[1])
        else:
            with torch.no_grad():
                t.fill_(op[1])
        return
    if kind == "kaiming_uniform":
        fi.kaiming_uniform_(t, a=op[1], generator=generator, seed=seed)
    elif kind == "uniform":
        fi.uniform_(t, op[1], op[2], generator=generator, seed=seed)
    elif kind == "xavier_uniform":
        fi.xavier_uniform_(t, op[1], generator=generator, seed=seed)
    elif kind == "xavier_normal":
        fi.xavier_normal_(t, op[1], generator=generator, seed=seed)
    elif kind == "normal":
        fi.normal_(t, op[1], op[2], generator=generator, seed=seed)
        if op[3] is not None and t.device.type != "meta":
            zero_row(t, op[3])
    else:  # pragma: no cover
        raise AssertionError(kind)


def _post_order(module):
    """(qualname, module) children first, each module once."""
    seen = set()
    out = []

    def visit(prefix, m):
        if id(m) in seen:
            return
        seen.add(id(m))
        for name, child in m.named_children():
            if child is not None:
                visit(f"{prefix}.{name}" if prefix else name, child)
        out.append((prefix, m))

    visit("", module)
    return out


class _Recorder:
    """Stands in for fastinit while a library init runs: records each call (function name,
    args, and the target's version counter at that moment) instead of filling."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        from .patch import PATCHED_NAMES

        if name not in PATCHED_NAMES:
            raise AttributeError(name)

        def record(tensor, *args, **kwargs):
            self.calls.append((name, tensor, args, kwargs, tensor._version))
            return tensor

        record.__name__ = name
        return record

    def finish(self):
        """Call once the library init has returned. A call whose target was written
        directly afterwards (its version counter moved) is dropped: that write wins."""
        self.calls = [c for c in self.calls if c[1]._version == c[4]]

    def whole_targets(self):
        """ids of tensors that a recorded call fills whole (not a view of a part)."""
        return {id(c[1]) for c in self.calls if c[1]._base is None}

    def replay(self):
        fi = _fi()
        for name, t, args, kwargs, _ in self.calls:
            getattr(fi, name)(t, *args, **kwargs)

    def check(self):
        """Every recorded call on a meta twin of its target: its checks, no write, no draw."""
        fi = _fi()
        for name, t, args, kwargs, _ in self.calls:
            getattr(fi, name)(_meta_twin(t), *args, **{**kwargs, "seed": kwargs.get("seed") or 0})


def _run_seeded(fn, key, source=None):
    """Run fn() under patch_torch_init (replacements from ``source``, default fastinit),
    with torch.default_generator seeded by key (and restored afterwards) when key is not
    None."""
    import torch

    from .patch import _swap

    with _swap(source):
        if key is None:
            return fn()
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(key)
            return fn()


def _draw_key(generator):
    from ..core.seeds import torch_seed

    return torch_seed(generator)


def _reset_key(seed, generator, qual):
    """The key a module's own ``reset_parameters`` runs under: derived from ``seed`` and the
    module's qualified name, else drawn from ``generator``, else None (the default
    generator as it stands)."""
    if seed is not None:
        return derive_seed(seed, qual + ":reset_parameters")
    if generator is not None:
        return _draw_key(generator)
    return None


def _library_init(module):
    fn = getattr(module, "init_weights", None)
    if not callable(fn):
        return None
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    for p in sig.parameters.values():
        if p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD,
                                                               p.KEYWORD_ONLY):
            return None
    return fn


def _clear_hf_flags(module):
    mu = sys.modules.get("transformers.modeling_utils")
    if mu is None or not isinstance(module, getattr(mu, "PreTrainedModel", ())):
        return
    for obj in list(module.modules()) + list(module.parameters()) + list(module.buffers()):
        if "_is_hf_initialized" in getattr(obj, "__dict__", {}):
            try:
                delattr(obj, "_is_hf_initialized")
            except AttributeError:
                pass


def init_module_(module, generator=None, *, seed=None, library_init=True, scheme="torch", nonlinearity="relu",
                 residual_names=None):
    """Re-initialize ``module`` in place, as torch's default construction would.

    Every parameter (and the buffers torch's defaults set, such as BatchNorm's running
    statistics) is filled once with fastinit's fills under torch's default rule for its
    module (Linear, Conv*, Embedding with ``padding_idx``, norms, RNNs, attention, ...);
    other modules with ``reset_parameters`` run it under :func:`patch_torch_init`; then a
    library's own ``init_weights()`` (Hugging Face, timm). Meant for models built on the
    ``meta`` device and materialized with ``to_empty``. Works on FSDP2 / tensor-parallel
    models (DTensor parameters: each rank fills its shard).

    Args:
        module (torch.nn.Module): the model.
        generator (torch.Generator, optional): where the keys come from when ``seed`` is
            None (default ``torch.default_generator``; one key per tensor, in order).
        seed (int, keyword-only, optional): in [0, 2**64). Each tensor then gets its own
            key, derived from ``seed`` and the tensor's qualified name (``"layers.0.weight"``):
            the values depend on the seed and the names only, not on the traversal order.
        library_init (bool, keyword-only): also call the root's ``init_weights()`` after
            torch's defaults. Default True. Only for ``scheme="torch"``: a named scheme
            replaces a library's own init.
        scheme (str or callable, keyword-only): ``"torch"`` (default: torch's module
            defaults, as above), ``"kaiming"``, ``"xavier"``, ``"lecun"``, ``"gpt2"`` or a
            rule function; see :func:`fastinit.apply_scheme`, which this calls for any
            scheme but ``"torch"``.
        nonlinearity (str, keyword-only): the activation the ``"kaiming"`` scheme's gain is
            computed for. Default ``"relu"``.
        residual_names (iterable of str, keyword-only, optional): for ``"gpt2"``, the
            names of the residual output projections (default: found as
            :func:`fastinit.apply_scheme` describes).

    Returns:
        ``module`` itself.

    Raises:
        TypeError: ``module`` is not a ``torch.nn.Module``, or ``generator`` is not a
            ``torch.Generator``.
        ValueError: ``seed`` outside [0, 2**64).

    Example:
        >>> with torch.device("meta"):
        ...     model = MyModel()
        >>> model.to_empty(device="cpu")
        >>> fastinit.init_module_(model, seed=1234)
    """
    import torch

    from ..core.seeds import check_u64

    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"init_module_ expects a torch.nn.Module, not {type(module).__name__}")
    if seed is not None:
        seed = check_u64(seed, "seed")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, not {type(generator).__name__}")

    names = {}
    for n, p in module.named_parameters():
        names.setdefault(id(p), n)
    for n, b in module.named_buffers():
        names.setdefault(id(b), n)
    _refuse_meta(module)
    if not (isinstance(scheme, str) and scheme == "torch"):
        from .schemes import apply_scheme

        return apply_scheme(module, scheme, nonlinearity=nonlinearity, seed=seed, generator=generator,
                            residual_names=residual_names)

    # 1. plan: children first; a later rule for the same tensor replaces the earlier one.
    steps = []  # ("fill", tensor, op) | ("call", qualname, fn)
    last = {}  # id(tensor) -> index of its last fill step
    covered = set()
    for qual, m in _post_order(module):
        kind, what = _rule_for(m)
        if kind == "rule":
            for t, op in what(m):
                if t is None:
                    continue
                if isinstance(t, torch.nn.parameter.UninitializedParameter):
                    raise ValueError(f"{qual or type(m).__name__}: lazy module not materialized yet")
                last[id(t)] = len(steps)
                covered.add(id(t))
                steps.append(("fill", t, op))
        elif kind == "call":
            steps.append(("call", qual, what))
            covered.update(id(p) for p in m.parameters(recurse=False))

    # 1b. the library init, recorded: its torch.nn.init calls are noted, not run, so that a
    # tensor it fills is not first filled with torch's default (one fill per tensor).
    # Tensors it writes directly (tensor methods, copy_) show up in their version counter.
    lib = _library_init(module) if library_init else None
    skip = set()
    if lib is not None:
        _clear_hf_flags(module)
        if seed is not None:
            lib_key = derive_seed(seed, ":init_weights")
        elif generator is not None:
            lib_key = _draw_key(generator)
        else:
            lib_key = None
        rec = _Recorder()
        tensors = {id(p): p for p in list(module.parameters()) + list(module.buffers())}
        before = {k: t._version for k, t in tensors.items()}
        _run_seeded(lib, lib_key, source=rec)
        rec.finish()
        skip = {k for k, t in tensors.items() if t._version != before[k]} | rec.whole_targets()

    fills = [(i, step) for i, step in enumerate(steps)
             if step[0] == "fill" and last[id(step[1])] == i and id(step[1]) not in skip]
    missed = [] if lib is not None else [(n, p) for n, p in module.named_parameters() if id(p) not in covered]
    _refuse_uninitialized(missed)

    # 1c. check every fill on a meta twin first: a refused one leaves the model untouched
    for _, (_, t, op) in fills:
        _fill(_meta_twin(t), op, generator, 0)
    if lib is not None:
        rec.check()

    # 2. run: each tensor once (its last rule), in plan order. Arbitrary code (a module's own
    # reset_parameters) may still raise: then every tensor gets its old values back.
    backup = _backup(module) if any(step[0] == "call" for step in steps) else None
    try:
        run = {i for i, _ in fills}
        for i, step in enumerate(steps):
            if step[0] == "fill":
                if i not in run:
                    continue
                _, t, op = step
                s = None if seed is None else derive_seed(seed, names.get(id(t), ""))
                _fill(t, op, generator, s)
            else:
                _, qual, fn = step
                _run_seeded(fn, _reset_key(seed, generator, qual))

        # 3. the library's own init (Hugging Face / timm), as their constructors run it.
        if lib is not None:
            _run_seeded(lambda: rec.replay(), lib_key)
    except BaseException:
        if backup is not None:
            _restore(backup)
        raise
    if missed:
        shown = _first_names([n for n, _ in missed])
        warnings.warn(
            f"init_module_: {len(missed)} parameter(s) have no known init and no "
            f"reset_parameters and were left unchanged: {shown}. If the model was built on meta, build it with "
            "fastinit.deferred_init and materialize_ instead: they replay its constructor",
            stacklevel=2,
        )
    return module


_POINTER = ("build the model with fastinit.deferred_init(module_fn, ...) and allocate it with "
            "fastinit.materialize_(model): they record and replay what its constructor does")


def _first_names(names, k=8):
    """The first ``k`` names of a refusal message, and "..." when there are more."""
    return ", ".join(names[:k]) + (", ..." if len(names) > k else "")


def _refuse_meta(module):
    from ..core.shards import is_dtensor, local_tensor

    def on_meta(t):
        return (local_tensor(t) if is_dtensor(t) else t).is_meta

    meta = [n for n, t in list(module.named_parameters()) + list(module.named_buffers()) if on_meta(t)]
    if meta:
        shown = _first_names(meta)
        raise ValueError(
            f"init_module_: {len(meta)} tensor(s) are on the meta device, with no memory to initialize and "
            f"nothing known of what their constructor computed: {shown}. To build a model on meta, {_POINTER}"
        )


def _refuse_uninitialized(missed):
    """Parameters no rule covers that hold what uninitialized memory typically holds."""
    import torch

    bad = []
    for n, p in missed:
        if p.dtype.is_floating_point and p.numel():
            with torch.no_grad():
                x = p.detach()
                x = x.to_local() if hasattr(x, "to_local") else x
                if x.numel() and not bool((x.abs() <= 1e30).all()):
                    bad.append(n)
    if bad:
        shown = _first_names(bad)
        raise ValueError(
            f"init_module_: {len(bad)} parameter(s) have no known init and hold uninitialized memory (NaN, "
            f"infinite or above 1e30), as after to_empty(): {shown}. init_module_ cannot re-create them; {_POINTER}"
        )


def _meta_twin(t):
    import torch

    return torch.empty(tuple(t.shape), dtype=t.dtype, device="meta")


def _backup(module):
    seen, out = set(), []
    for t in list(module.parameters()) + list(module.buffers()):
        if id(t) not in seen:
            seen.add(id(t))
            out.append((t, t.detach().clone()))
    return out


def _restore(backup):
    import torch

    with torch.no_grad():
        for t, old in backup:
            t.detach().copy_(old)
