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

from .. import fills as _fills
from ..core.bounds import calculate_gain
from ..core.seeds import derive_seed

__all__ = ["apply_scheme", "SCHEMES", "DEFAULT_RESIDUAL_NAMES"]

DEFAULT_RESIDUAL_NAMES = ("c_proj", "o_proj", "down_proj", "out_proj")
GPT2_STD = 0.02


class _Ctx:
    """What a fill needs besides its tensor."""

    __slots__ = ("nonlinearity", "seed", "generator", "n_layers")

    def __init__(self, nonlinearity, seed, generator, n_layers):
        self.nonlinearity, self.seed, self.generator, self.n_layers = nonlinearity, seed, generator, n_layers


def _fi():
    return _fills


def _zeros(t, c):
    _fi().zeros_(t)


def _ones(t, c):
    _fi().ones_(t)


def _normal(std):
    def fill(t, c):
        _fi().normal_(t, 0.0, std, c.generator, seed=c.seed)

    return fill


def _kaiming(t, c):
    _fi().kaiming_normal_(t, 0, "fan_in", c.nonlinearity, c.generator, seed=c.seed)


def _xavier(t, c):
    _fills.xavier_uniform_(t, calculate_gain(c.nonlinearity), c.generator, seed=c.seed)


def _lecun(t, c):
    _fi().lecun_normal_(t, c.generator, seed=c.seed)


def _gpt2_residual(t, c):
    _fi().normal_(t, 0.0, GPT2_STD / math.sqrt(2 * c.n_layers), c.generator, seed=c.seed)


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

    from .module import _fill, _first_names, _post_order, _reset_key, _rule_for, _run_seeded
    from ..core.seeds import check_u64

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

    # 1. what the scheme fills: (qualified name, tensor, owner, kind, fill)
    mods = list(_post_order(module))
    blocks, n_layers = _block_list(module) if scheme == "gpt2" else (None, 0)
    table = SCHEMES.get(scheme, {}) if user_rule is None else {}
    planned, mine = [], set()
    residual_found = False
    for qual, m in mods:
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

    def key_for(name):
        return None if seed is None else derive_seed(seed, name)

    tnames = {}
    for n, t in list(module.named_parameters()) + list(module.named_buffers()):
        tnames.setdefault(id(t), n)

    # 2. torch's defaults (init_module_'s rules and seeds) for every tensor not in ``skip``,
    # each once; a module with its own reset_parameters has it called unless the scheme
    # fills all its parameters. Returns the ids of the tensors that have a default.
    def run_defaults(skip):
        last, steps, covered = {}, [], set()
        for qual, m in mods:
            kind, what = _rule_for(m)
            if kind == "rule":
                for t, op in what(m):
                    if t is None:
                        continue
                    covered.add(id(t))
                    if id(t) not in skip:
                        last[id(t)] = len(steps)
                        steps.append(("fill", t, op))
            elif kind == "call":
                own = list(m.parameters(recurse=False))
                covered.update(id(p) for p in own)
                if not (own and all(id(p) in skip for p in own)):
                    steps.append(("call", qual, what))
        for i, step in enumerate(steps):
            if step[0] == "fill":
                _, t, op = step
                if last[id(t)] == i:
                    _fill(t, op, generator, key_for(tnames.get(id(t), "")))
            else:
                _, qual, fn = step
                _run_seeded(fn, _reset_key(seed, generator, qual))
        return covered

    # 3. the scheme's fills, after the defaults (so a called reset_parameters never
    # overwrites them)
    if user_rule is not None:
        # torch's defaults first for every tensor, then the rule (True: it filled the tensor)
        covered = run_defaults(set())
        for qname, p, m, _, _ in planned:
            if user_rule(qname, p, m, seed=key_for(qname), generator=generator):
                covered.add(id(p))
    else:
        covered = run_defaults(mine) | mine
        for qname, p, m, k, fill in planned:
            # HF Conv1D stores (in, out): its transpose has torch's (out, in) layout
            target = p.t() if _is_hf_conv1d(m) and p.dim() == 2 else p
            fill(target, _Ctx(nonlinearity, key_for(qname), generator, n_layers))
            if k == "embedding" and getattr(m, "padding_idx", None) is not None:
                from ..core.shards import zero_row

                zero_row(p, m.padding_idx)
    if scheme == "gpt2" and blocks is not None and not residual_found:
        warnings.warn(f"apply_scheme('gpt2'): no residual projection named {tuple(names)} inside {blocks!r}",
                      stacklevel=2)
    missed = [n for n, p in module.named_parameters() if id(p) not in covered]
    if missed:
        shown = _first_names(missed)
        warnings.warn(f"apply_scheme: {len(missed)} parameter(s) have no rule and were left unchanged: {shown}",
                      stacklevel=2)
    return module
