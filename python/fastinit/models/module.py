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
arguments (Hugging Face ``PreTrainedModel``, timm's ViTs), it is called afterwards with
keyed fills (``library_init=False`` turns this off), because that is what those
libraries' constructors do after torch's defaults: Llama's normal(0, initializer_range)
Linear weights, timm ViT's trunc_normal(std=.02)... Without one, a method
``_init_weights(module)`` is applied as ``self.apply(self._init_weights)`` (what most
other timm models, nanoGPT and many hand-written models call in their constructor).
Hugging Face's ``_is_hf_initialized`` flags are cleared first (this function
re-initializes everything). Draws that a constructor makes in its own body (timm's
``trunc_normal_(self.pos_embed, std=.02)``) are not init code that can run again: such a
parameter, if no rule covers it, is left as it is and named in a warning.

Order: modules are visited children first (post-order over ``named_modules()``), the order
in which construction initializes them, so a parent's own rule (MultiheadAttention's,
Transformer's) runs after its children's; then the library init. Every step runs for
real, in that order (models/engine.py): an op in the library's code after an init call
sees that call's result, as in an eager build.

Seeds
-----
One seed ``s`` for the model: ``seed``, or (``seed=None``) one 64-bit key drawn from
``generator`` (default ``torch.default_generator``), as ``materialize_`` draws it. The
j-th random op (j from 0) on the tensor named ``name`` (its first name in
``named_parameters()`` / ``named_buffers()``; views and ``.data`` count for it) is
filled with ``seed=derive_seed(s, name)`` for j = 0 and ``derive_seed(s, f"{name}#{j}")``
for j >= 1, offset 0; inside the library's ``init_weights()`` (an init pass) the ops are
counted apart and their names carry the prefix ``init_weights/``; the i-th random op of
a pass on a tensor that is not the model's (``torch.randn(...)``, a scratch tensor) is
named ``:temporary:i``. That is the key rule of ``materialize_`` (docs/STREAM.md section
4.1). So ``init_module_(model, seed=s)`` and ``materialize_(deferred_init(ctor), seed=s)``
give the same bits whenever the constructor's init is the model's own init code (the
rules above, ``reset_parameters``, the library's ``init_weights``). ``derive_seed(s,
name)`` = ``w0 | w1 << 32`` for ``(w0, w1, _, _) = Philox4x32-10(counter = the first 16
bytes of SHA-256(name as UTF-8), read as 4 little-endian 32-bit words, key = (s &
0xffffffff, s >> 32))``. A tensor's values depend only on ``(s, its name, the ops on
it)``, not on the traversal order or on which other modules exist. Called code runs with
``torch.default_generator`` seeded with ``derive_seed(s, qualname + ":reset_parameters")``
(library init: ``derive_seed(s, ":init_weights")``) and restored afterwards, for the random
ops that are not keyed (torch's RNG factories, methods and init functions all are; a
dropout, say, is not).

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

Atomic: before anything is written, every tensor is checked on the real tensor (a freed
storage is refused with ``RuntimeError``), and every rule's fill as the fill checks it
(dtype, layout, overlapping views, inference tensors); a refused one leaves the model
untouched. When code has to run (a module's own ``reset_parameters``, the library init),
every storage of the model is copied first and written back if anything raises: that
costs one copy of the model's storages for the duration of the call.
"""

from __future__ import annotations

import inspect
import sys
import warnings

from ..core.shards import is_dtensor, local_tensor
from ..core.seeds import check_u64, derive_seed
from .engine import first_names, run_plan, run_seed, untied
from .rules import default_steps
from .schemes import apply_scheme

__all__ = ["init_module_", "derive_seed"]


def _required(fn):
    """The parameters ``fn`` must be given (no default, not ``*args``/``**kwargs``), or
    None where its signature cannot be read."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    P = inspect.Parameter
    return [q for q in sig.parameters.values()
            if q.default is P.empty and q.kind in (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD, P.KEYWORD_ONLY)]


def _library_init(module):
    """The root's own init code, as its constructor runs it: ``init_weights()`` (Hugging
    Face's post_init, timm), else ``self.apply(self._init_weights)`` (the other timm
    models, nanoGPT and many hand-written models: a method of one argument, the module)."""
    fn = getattr(module, "init_weights", None)
    if callable(fn):
        if _required(fn) != []:
            return None
        if "needs_reset" in inspect.signature(fn).parameters:
            # timm (1.0.31 vision_transformer.py): its constructor calls
            # init_weights(needs_reset=False) because every module has just run its
            # reset_parameters; so have they here
            return lambda: fn(needs_reset=False)
        return fn
    per_module = getattr(module, "_init_weights", None)
    needs = _required(per_module) if callable(per_module) else None
    if needs is not None and len(needs) == 1 and needs[0].kind != inspect.Parameter.KEYWORD_ONLY:
        return lambda: module.apply(per_module)
    return None


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
        generator (torch.Generator, optional): where the model seed comes from when
            ``seed`` is None (default ``torch.default_generator``; one key is drawn).
        seed (int, keyword-only, optional): in [0, 2**64). The j-th random op on each
            tensor then gets its own key, derived from ``seed``, the tensor's qualified name
            (``"layers.0.weight"``) and j, as ``materialize_`` keys it: the values depend on
            the seed, the names and the init code only, not on the traversal order.
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
        ValueError: ``seed`` outside [0, 2**64); a tensor on ``meta``.
        RuntimeError: a tensor whose storage is smaller than its view (a freed storage).
        Any exception of the model's own code, after every tensor is restored.

    Example:
        >>> with torch.device("meta"):
        ...     model = MyModel()
        >>> model.to_empty(device="cpu")
        >>> fastinit.init_module_(model, seed=1234)
    """
    import torch

    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"init_module_ expects a torch.nn.Module, not {type(module).__name__}")
    if seed is not None:
        seed = check_u64(seed, "seed")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, not {type(generator).__name__}")
    _refuse_meta(module)
    if not (isinstance(scheme, str) and scheme == "torch"):
        return apply_scheme(module, scheme, nonlinearity=nonlinearity, seed=seed, generator=generator,
                            residual_names=residual_names)

    # torch's defaults, children first; then the library's own init, as their constructors
    # run them (Hugging Face's post_init, timm's init_weights in __init__). Tied
    # parameters are untied meanwhile, as construction initializes them before tying.
    lib = _library_init(module) if library_init else None
    with untied(module):
        steps, covered = default_steps(module)
        if lib is not None:
            steps.append(("code", ":init_weights", lib))
        missed = [(n, p) for n, p in module.named_parameters() if id(p) not in covered]
        if lib is None:
            _refuse_uninitialized(missed)
        versions = {id(p): p._version for _, p in missed}
        s = run_seed(seed, generator)
        if lib is not None:
            _clear_hf_flags(module)
        run_plan(module, steps, s)
    # what neither a rule nor the library's code wrote (an in-place write bumps _version)
    missed = [(n, p) for n, p in missed if p._version == versions[id(p)]]
    if missed:
        shown = first_names([n for n, _ in missed])
        warnings.warn(
            f"init_module_: {len(missed)} parameter(s) have no known init and no "
            f"reset_parameters and were left unchanged: {shown}. If the model was built on meta, build it with "
            "fastinit.deferred_init and materialize_ instead: they replay its constructor",
            stacklevel=2,
        )
    return module


_POINTER = ("build the model with fastinit.deferred_init(module_fn, ...) and allocate it with "
            "fastinit.materialize_(model): they record and replay what its constructor does")


def _refuse_meta(module):

    def on_meta(t):
        return (local_tensor(t) if is_dtensor(t) else t).is_meta

    meta = [n for n, t in list(module.named_parameters()) + list(module.named_buffers()) if on_meta(t)]
    if meta:
        shown = first_names(meta)
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
        shown = first_names(bad)
        raise ValueError(
            f"init_module_: {len(bad)} parameter(s) have no known init and hold uninitialized memory (NaN, "
            f"infinite or above 1e30), as after to_empty(): {shown}. init_module_ cannot re-create them; {_POINTER}"
        )
