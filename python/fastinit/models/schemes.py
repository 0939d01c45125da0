"""Named initialization schemes for whole models: ``apply_scheme(module, scheme)``.

A scheme is a table from (kind of module, parameter) to a fill. The kinds:

* ``linear``: ``nn.Linear``, ``nn.Conv1d/2d/3d``, ``nn.ConvTranspose1d/2d/3d`` (and their
  subclasses), and Hugging Face's ``Conv1D`` (GPT-2's Linear with a transposed ``(in, out)``
  weight, filled through its transpose so that fans are right). Fans as torch computes them
  for ``(out, in, *kernel)``.
* ``residual``: a ``linear`` whose output is added to the residual stream (gpt2 only; see
  below).
* ``embedding``: ``nn.Embedding``, ``nn.EmbeddingBag`` (``padding_idx`` row zeroed after).
* ``norm``: ``nn.LayerNorm``, ``GroupNorm``, ``RMSNorm``, the batch/instance norms, and any
  module whose class name ends in ``Norm`` (Hugging Face's ``LlamaRMSNorm``...).

A tensor that its scheme's table does not name gets torch's default rule, exactly as
:func:`fastinit.init_module_` would give it (same rules, same per-tensor seeds), so a model
built on ``meta`` is completely initialized; a module torch has no rule for keeps what its
own ``reset_parameters`` gives (called under ``patch_torch_init``). A library's own
``init_weights()`` (Hugging Face, timm) is *not* run: the scheme replaces it.

The schemes (nl = the ``nonlinearity`` argument, default ``"relu"``):

========= ============================================ ========= ================== ===========
scheme    linear weight                                 bias      embedding          norm
========= ============================================ ========= ================== ===========
kaiming   ``kaiming_normal_(fan_in, nl)``: N(0, gain^2     0         torch default      torch default
          / fan_in), He et al. 2015, "Delving Deep into               (N(0, 1))          (1, 0)
          Rectifiers", arXiv:1502.01852
xavier    ``xavier_uniform_(gain=calculate_gain(nl))``:     0         torch default      torch default
          Glorot & Bengio 2010 (AISTATS), gain as torch's
          docs recommend
lecun     ``lecun_normal_``: truncated normal, std            0         torch default      torch default
          1/sqrt(fan_in) (LeCun et al. 1998, "Efficient
          BackProp"; JAX's ``lecun_normal``)
gpt2      N(0, 0.02); residual projections                0         N(0, 0.02)         1, 0
          N(0, 0.02 / sqrt(2 n_layers)) (Radford et al.
          2019; reference: nanoGPT ``model.py``, Hugging
          Face ``GPT2PreTrainedModel._init_weights``)
========= ============================================ ========= ================== ===========

gpt2's residual projections: the ``linear`` modules inside the repeated blocks whose last
name component is in ``residual_names`` (default ``("c_proj", "o_proj", "down_proj",
"out_proj")``: GPT-2's attention and MLP ``c_proj``, Llama's ``o_proj``/``down_proj``,
``nn.MultiheadAttention``'s ``out_proj``). ``residual_names`` may also hold qualified names
(``"h.0.mlp.c_proj"``) or name suffixes (``"mlp.fc2"``); a module matches when its qualified
name equals an entry or ends with ``"." + entry``. The repeated blocks are the children of
the longest ``nn.ModuleList``/``nn.Sequential`` whose children (at least 2) all have the same
class; ``n_layers`` is its length (GPT-2's ``h``, Llama's ``layers``). With no such list,
residual projections are not scaled and a warning says so. The 2 in ``2 n_layers``: each
block adds to the residual stream twice (attention and MLP).

A user scheme: a function ``rule(name, tensor, module, *, seed, generator) -> bool``. Every
tensor first gets torch's default rule; then ``rule`` is called for every parameter
(``name`` qualified, ``module`` its owner, ``seed`` the tensor's derived seed or None); it
fills ``tensor`` (with fastinit's functions and ``seed=seed, generator=generator`` to keep
the seed guarantee) and returns True, or returns False to keep the default.

Seeds: exactly as ``init_module_``: with ``seed=s`` the tensor named ``name`` is filled with
``seed=derive_seed(s, name)``, offset 0, so its values depend only on (s, name, shape, rule);
with ``seed=None`` each fill draws one key from ``generator`` (default
``torch.default_generator``), in the order: torch default rules (post-order), then the
scheme's fills (parameter order).
"""

from __future__ import annotations

import math
import warnings

from ..core.bounds import calculate_gain
from ..core.seeds import check_u64, derive_seed
from ..fills import registry as _registry
from .engine import first_names, run_plan, run_seed, untied
from .rules import default_steps, post_order

__all__ = ["apply_scheme", "SCHEMES", "DEFAULT_RESIDUAL_NAMES"]

DEFAULT_RESIDUAL_NAMES = ("c_proj", "o_proj", "down_proj", "out_proj")
GPT2_STD = 0.02


class _Ctx:
    """What a fill needs besides its tensor."""

    __slots__ = ("nonlinearity", "n_layers")

    def __init__(self, nonlinearity, n_layers):
        self.nonlinearity, self.n_layers = nonlinearity, n_layers


def _fill(name, params):
    """A scheme fill: the registry function ``name`` (its vocabulary: a name it does not
    have fails here, at import) with the arguments ``params(ctx)``."""
    _registry.get(name)

    def fill(c):
        return name, params(c)

    return fill


_zeros = _fill("zeros_", lambda c: ())
_ones = _fill("ones_", lambda c: ())


def _normal(std):
    return _fill("normal_", lambda c: (0.0, std))


_kaiming = _fill("kaiming_normal_", lambda c: (0, "fan_in", c.nonlinearity))
_xavier = _fill("xavier_uniform_", lambda c: (calculate_gain(c.nonlinearity),))
_lecun = _fill("lecun_normal_", lambda c: ())
_gpt2_residual = _fill("normal_", lambda c: (0.0, GPT2_STD / math.sqrt(2 * c.n_layers)))

# (kind, parameter) -> fill. A missing entry: torch's default rule (a "residual" entry
# missing: the "linear" one). Only gpt2 marks residual projections.
SCHEMES = {
    "kaiming": {("linear", "weight"): _kaiming, ("linear", "bias"): _zeros},
    "xavier": {("linear", "weight"): _xavier, ("linear", "bias"): _zeros},
    "lecun": {("linear", "weight"): _lecun, ("linear", "bias"): _zeros},
    "gpt2": {
        ("linear", "weight"): _normal(GPT2_STD),
        ("linear", "bias"): _zeros,
        ("residual", "weight"): _gpt2_residual,
        ("embedding", "weight"): _normal(GPT2_STD),
        ("norm", "weight"): _ones,
        ("norm", "bias"): _zeros,
    },
}


def _kind(m) -> str | None:
    import torch.nn as nn
    from torch.nn.modules.batchnorm import _NormBase
    from torch.nn.modules.conv import _ConvNd

    if isinstance(m, (nn.Linear, _ConvNd)) or _is_hf_conv1d(m):
        return "linear"
    if isinstance(m, (nn.Embedding, nn.EmbeddingBag)):
        return "embedding"
    norms = (nn.LayerNorm, nn.GroupNorm, _NormBase) + ((nn.RMSNorm,) if hasattr(nn, "RMSNorm") else ())
    if isinstance(m, norms) or type(m).__name__.endswith("Norm"):
        return "norm"
    return None


def _is_hf_conv1d(m) -> bool:
    t = type(m)
    return t.__name__ == "Conv1D" and t.__module__.startswith("transformers.")


def _block_list(module):
    """(qualified name, length) of the longest ModuleList/Sequential of >= 2 same-class
    children, or (None, 0)."""
    import torch.nn as nn

    best, n = None, 0
    for qual, m in module.named_modules():
        if isinstance(m, (nn.ModuleList, nn.Sequential)):
            kids = list(m.children())
            if len(kids) >= 2 and len({type(k) for k in kids}) == 1 and len(kids) > n:
                best, n = qual, len(kids)
    return best, n


def _is_residual(qual: str, names) -> bool:
    last = qual.rsplit(".", 1)[-1]
    return any(qual == e or qual.endswith("." + e) or last == e for e in names)


def apply_scheme(module, scheme, *, nonlinearity="relu", seed=None, generator=None, residual_names=None):
    """Re-initialize every parameter of ``module`` with a named scheme or a user rule.

    A named scheme (``"kaiming"``, ``"xavier"``, ``"lecun"``, ``"gpt2"``) is a table from
    (kind of module, parameter) to a fill (the module docstring has the tables: kinds
    ``linear``, ``residual``, ``embedding``, ``norm``); every tensor the scheme does not
    name gets torch's default rule, exactly as ``fastinit.init_module_`` would give it, so
    a model built on ``meta`` is completely initialized (``torch.nn.init`` fills one tensor
    at a time; this fills a whole model). A library's own ``init_weights()``
    (Hugging Face, timm) is *not* run here: the scheme replaces it. The order: torch's
    default rules (post-order, each tensor once; a module with its own
    ``reset_parameters`` has it called, under ``patch_torch_init``, unless the scheme
    fills all its parameters), then the scheme's fills (parameter order), so a called
    ``reset_parameters`` never overwrites them. Hugging Face's ``Conv1D`` weight
    (``(in, out)``) is filled through its transpose so that fans are right; an
    embedding's ``padding_idx`` row is zeroed after its scheme fill.

    gpt2's residual projections (N(0, 0.02 / sqrt(2 n_layers))): the ``linear`` modules
    inside the repeated blocks (the children of the longest ``nn.ModuleList`` /
    ``nn.Sequential`` of at least 2 children of one class; ``n_layers`` its length) whose
    qualified name equals an entry of ``residual_names``, ends with ``"." + entry``, or
    whose last name component is an entry.

    Seeds, exactly as ``init_module_``: with ``seed=s`` the tensor named ``name`` is filled
    with ``seed=derive_seed(s, name)``, offset 0, so its values depend only on (s, name,
    shape, rule), on any thread count, SIMD path, device and sharding (a called
    ``reset_parameters`` runs with ``torch.default_generator`` seeded by
    ``derive_seed(s, qualified_name + ":reset_parameters")`` and restored afterwards).
    With ``seed=None`` each fill draws one key from ``generator`` (default
    ``torch.default_generator``), in the order above.

    Args:
        module (torch.nn.Module): the model, re-initialized in place.
        scheme: ``"kaiming"`` (``kaiming_normal_(fan_in, nonlinearity)`` weights, zero
            biases), ``"xavier"`` (``xavier_uniform_(gain=calculate_gain(nonlinearity))``,
            zero biases), ``"lecun"`` (``lecun_normal_``, zero biases), ``"gpt2"``
            (N(0, 0.02) linear and embedding weights, residual projections scaled, zero
            biases, norms 1 and 0), or a function
            ``rule(name, tensor, module, *, seed, generator) -> bool``: every tensor first
            gets torch's default rule, then ``rule`` is called for every parameter
            (``name`` qualified, ``module`` its owner, ``seed`` the tensor's derived seed or
            None); it fills ``tensor`` (with fastinit's functions and
            ``seed=seed, generator=generator`` to keep the seed guarantee) and returns
            True, or returns False to keep the default.
        nonlinearity (str, keyword-only): the nonlinearity for ``"kaiming"`` and
            ``"xavier"``'s gain, as for ``fastinit.calculate_gain``. Default ``"relu"``;
            ignored by the other schemes.
        seed (int, keyword-only): the model seed ``s`` above, in [0, 2**64); default None.
        generator (torch.Generator, keyword-only): where each fill's key comes from when
            ``seed`` is None; default ``torch.default_generator``.
        residual_names (keyword-only): gpt2's residual projection names: a tuple of last
            name components, qualified names (``"h.0.mlp.c_proj"``) or name suffixes
            (``"mlp.fc2"``), or one such str. Default ``DEFAULT_RESIDUAL_NAMES``,
            ``("c_proj", "o_proj", "down_proj", "out_proj")``. Only gpt2 uses it.

    Returns:
        ``module`` itself.

    Raises:
        TypeError: ``module`` is not a ``torch.nn.Module``; ``generator`` is not a
            ``torch.Generator``; ``seed`` is not an int.
        ValueError: an unknown scheme name; ``seed`` outside [0, 2**64); an unknown
            ``nonlinearity`` for ``"kaiming"`` or ``"xavier"`` (``calculate_gain``'s
            message). All raised before anything is written.
        Warnings (UserWarning): gpt2 found no repeated block list (no residual projection
        is scaled), or no residual projection named by ``residual_names`` inside it; some
        parameters have no rule and were left unchanged (the first 8 names listed).

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
        >>> fastinit.apply_scheme(model, "kaiming", seed=0)   # the same model on any machine
        >>> fastinit.apply_scheme(gpt2, "gpt2", seed=0)       # c_proj: N(0, 0.02 / sqrt(2 n_layers))
        >>> def zero_biases(name, tensor, module, *, seed, generator):
        ...     if name.endswith(".bias"):
        ...         fastinit.zeros_(tensor)
        ...         return True
        ...     return False
        >>> fastinit.apply_scheme(model, zero_biases, seed=0)
    """
    import torch

    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"apply_scheme expects a torch.nn.Module, not {type(module).__name__}")
    user_rule = scheme if callable(scheme) else None
    if user_rule is None and scheme not in SCHEMES:
        raise ValueError(f"unknown init scheme {scheme!r}; expected one of {sorted(SCHEMES)} or a function")
    if seed is not None:
        seed = check_u64(seed, "seed")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, not {type(generator).__name__}")
    if scheme in ("kaiming", "xavier"):
        calculate_gain(nonlinearity)  # refuse an unknown nonlinearity before writing anything
    names = residual_names if residual_names is not None else DEFAULT_RESIDUAL_NAMES
    if isinstance(names, str):
        names = (names,)

    with untied(module):
        # 1. what the scheme fills: (qualified name, tensor, owner, kind, fill)
        blocks, n_layers = _block_list(module) if scheme == "gpt2" else (None, 0)
        table = SCHEMES.get(scheme, {}) if user_rule is None else {}
        planned, mine = [], set()
        residual_found = False
        for qual, m in post_order(module):
            kind = _kind(m)
            for pname, p in m.named_parameters(recurse=False):
                qname = f"{qual}.{pname}" if qual else pname
                if user_rule is not None:
                    planned.append((qname, p, m, kind, None))
                    continue
                k = kind
                if k == "linear" and scheme == "gpt2" and _is_residual(qual, names):
                    if blocks is not None and (blocks == "" or qual.startswith(blocks + ".")):
                        k, residual_found = "residual", True
                fill = table.get((k, pname)) or (table.get(("linear", pname)) if k == "residual" else None)
                if fill is not None:
                    planned.append((qname, p, m, k, fill))
                    mine.add(id(p))
        if scheme == "gpt2" and blocks is None:
            warnings.warn("apply_scheme('gpt2'): found no repeated block list (an nn.ModuleList or nn.Sequential of "
                          ">= 2 modules of one class), so no residual projection was scaled", stacklevel=2)

        # 2. torch's defaults for every tensor the scheme does not fill (a module's own
        # reset_parameters is called unless the scheme fills all its parameters), then the
        # scheme's fills, so a called reset_parameters never overwrites them. One engine run
        # (models/engine.py): the same keys as init_module_, atomic.
        s = run_seed(seed, generator)
        steps, covered = default_steps(module, mine)
        if user_rule is not None:
            def run_rule():
                for qname, p, m, _, _ in planned:
                    if user_rule(qname, p, m, seed=derive_seed(s, qname), generator=generator):
                        covered.add(id(p))

            steps.append(("code", ":scheme", run_rule))
        else:
            covered |= mine
            ctx = _Ctx(nonlinearity, n_layers)
            for qname, p, m, k, fill in planned:
                # HF Conv1D stores (in, out): its transpose has torch's (out, in) layout
                target = p.t() if _is_hf_conv1d(m) and p.dim() == 2 else p
                fname, args = fill(ctx)
                steps.append(("fill", target, fname, args))
                if k == "embedding" and getattr(m, "padding_idx", None) is not None:
                    steps.append(("zero_row", p, m.padding_idx))
        run_plan(module, steps, s)
    if scheme == "gpt2" and blocks is not None and not residual_found:
        warnings.warn(f"apply_scheme('gpt2'): no residual projection named {tuple(names)} inside {blocks!r}",
                      stacklevel=2)
    missed = [n for n, p in module.named_parameters() if id(p) not in covered]
    if missed:
        shown = first_names(missed)
        warnings.warn(f"apply_scheme: {len(missed)} parameter(s) have no rule and were left unchanged: {shown}",
                      stacklevel=2)
    return module
