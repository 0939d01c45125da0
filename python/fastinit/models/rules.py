"""torch's default initialization, module by module: the rules ``init_module_`` and
``apply_scheme`` use where a module's class still has torch's own ``reset_parameters``
(torch 2.13's code, call for call and in its order), and the post-order walk."""

from __future__ import annotations

import math
import sys

from ..core.bounds import fans

__all__ = ["rule_for", "post_order", "default_steps"]


# --- the rules: module -> [(tensor, op)] --------------------------------------------------
# op: (registry name, args) | ("zero_row", row), the calls torch's reset_parameters makes,
# in its order (the order matters: a tensor's j-th random op gets the key "name#j").


def _fan_in_bound(weight) -> float:
    # torch's _calculate_fan_in_and_fan_out, from the (global, for a DTensor) shape
    fan_in, _ = fans(weight.shape)
    return 1 / math.sqrt(fan_in) if fan_in > 0 else 0


def _linear_like(m):
    out = [(m.weight, ("kaiming_uniform_", (math.sqrt(5),)))]
    if m.bias is not None:
        b = _fan_in_bound(m.weight)
        out.append((m.bias, ("uniform_", (-b, b))))
    return out


def _bilinear(m):
    if m.in1_features <= 0:
        raise ValueError(f"in1_features must be > 0, but got (in1_features={m.in1_features})")
    b = 1 / math.sqrt(m.weight.size(1))
    out = [(m.weight, ("uniform_", (-b, b)))]
    if m.bias is not None:
        out.append((m.bias, ("uniform_", (-b, b))))
    return out


def _embedding(m):
    out = [(m.weight, ("normal_", (0.0, 1.0)))]
    if m.padding_idx is not None:
        out.append((m.weight, ("zero_row", m.padding_idx)))
    return out


def _affine_norm(flag):
    def rule(m):
        out = []
        if getattr(m, flag):
            if m.weight is not None:
                out.append((m.weight, ("constant_", (1.0,))))
            if getattr(m, "bias", None) is not None:
                out.append((m.bias, ("constant_", (0.0,))))
        return out

    return rule


def _batchnorm(m):
    out = []
    if m.track_running_stats:
        out += [(m.running_mean, ("constant_", (0.0,))), (m.running_var, ("constant_", (1.0,))),
                (m.num_batches_tracked, ("constant_", (0,)))]
    if m.affine:
        out.append((m.weight, ("constant_", (1.0,))))
        if m.bias is not None:
            out.append((m.bias, ("constant_", (0.0,))))
    return out


def _rnn(m):
    stdv = 1.0 / math.sqrt(m.hidden_size) if m.hidden_size > 0 else 0
    return [(p, ("uniform_", (-stdv, stdv))) for p in m.parameters()]


def _prelu(m):
    return [(m.weight, ("constant_", (float(m.init),)))]


def _mha(m):
    out = []
    if m._qkv_same_embed_dim:
        out.append((m.in_proj_weight, ("xavier_uniform_", (1.0,))))
    else:
        out += [(m.q_proj_weight, ("xavier_uniform_", (1.0,))), (m.k_proj_weight, ("xavier_uniform_", (1.0,))),
                (m.v_proj_weight, ("xavier_uniform_", (1.0,)))]
    if m.in_proj_bias is not None:
        out += [(m.in_proj_bias, ("constant_", (0.0,))), (m.out_proj.bias, ("constant_", (0.0,)))]
    if m.bias_k is not None:
        out.append((m.bias_k, ("xavier_normal_", (1.0,))))
    if m.bias_v is not None:
        out.append((m.bias_v, ("xavier_normal_", (1.0,))))
    return out


def _transformer(m):
    return [(p, ("xavier_uniform_", (1.0,))) for p in m.parameters() if p.dim() > 1]


def _hf_conv1d(m):
    # transformers 5.24 pytorch_utils.Conv1D (GPT-2, ImageGPT...) has no reset_parameters:
    # its constructor makes the bias with torch.zeros and calls normal_(weight, std=0.02)
    return [(m.bias, ("constant_", (0.0,))), (m.weight, ("normal_", (0.0, 0.02)))]


def _library_rules() -> dict:
    """Modules of other libraries that initialize themselves in their constructor, without a
    ``reset_parameters``: exact class -> rule (the constructor's calls, in order). Only
    classes of libraries already imported (none is imported here)."""
    out = {}
    hf = sys.modules.get("transformers.pytorch_utils")
    if hf is not None and isinstance(getattr(hf, "Conv1D", None), type):
        out[hf.Conv1D] = _hf_conv1d
    return out


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


def rule_for(m):
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
    lib = _library_rules().get(t)
    if lib is not None:
        return "rule", lib
    return None, None



class _WithWeight:
    """A module's weight and bias for a rule, the weight given (weight_norm's direction)."""

    def __init__(self, weight, bias):
        self.weight, self.bias = weight, bias


def _weight_norm(m):
    """(g, v, dim) where ``m.weight`` is torch's weight_norm parametrization
    (``torch.nn.utils.parametrizations.weight_norm``) and nothing else, else None."""
    plists = getattr(m, "parametrizations", None)
    plist = plists["weight"] if plists is not None and "weight" in plists else None
    if plist is None or len(plist) != 1 or type(plist[0]).__name__ != "_WeightNorm":
        return None
    if not (hasattr(plist, "original0") and hasattr(plist, "original1")):
        return None
    return plist.original0, plist.original1, plist[0].dim


def _recompute_magnitude(g, v, dim):
    def run():
        import torch

        with torch.no_grad():
            g.copy_(torch.norm_except_dim(v, 2, dim))

    return run


def post_order(module):
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


def default_steps(module, skip=frozenset()):
    """torch's default construction of ``module`` as engine steps, children first:
    ``("fill", tensor, name, args)`` / ``("zero_row", tensor, row)`` for the modules a rule
    covers, ``("code", qualname + ":reset_parameters", method)`` for a module with its own
    ``reset_parameters``. Tensors in ``skip`` (ids) get no step, nor does a module's own
    ``reset_parameters`` when ``skip`` holds all its parameters. Returns (steps, ids of the
    tensors that a rule or a called ``reset_parameters`` covers)."""
    import torch

    steps, covered = [], set()
    for qual, m in post_order(module):
        kind, what = rule_for(m)
        wn = _weight_norm(m) if kind == "rule" and what is _linear_like else None
        if wn is not None:
            # weight_norm registered after construction (Hugging Face's wav2vec2 family,
            # EnCodec, VITS): the rule writes the direction v (original1, the weight tensor
            # itself at registration) and the magnitude g (original0) is recomputed from it,
            # as the registration computed it (torch's _WeightNorm.right_inverse)
            g, v, dim = wn
            for t, (fname, arg) in _linear_like(_WithWeight(v, m.bias)):
                if t is not None:
                    covered.add(id(t))
                    if id(t) not in skip:
                        steps.append(("fill", t, fname, arg))
            covered.add(id(g))
            if id(v) not in skip:
                steps.append(("code", qual + ":weight_norm", _recompute_magnitude(g, v, dim)))
            continue
        if kind == "rule":
            for t, (fname, arg) in what(m):
                if t is None:
                    continue
                if isinstance(t, torch.nn.parameter.UninitializedParameter):
                    raise ValueError(f"{qual or type(m).__name__}: lazy module not materialized yet")
                covered.add(id(t))
                if id(t) in skip:
                    continue
                steps.append(("zero_row", t, arg) if fname == "zero_row" else ("fill", t, fname, arg))
        elif kind == "call":
            own = list(m.parameters(recurse=False))
            covered.update(id(p) for p in own)
            if not (own and all(id(p) in skip for p in own)):
                steps.append(("code", qual + ":reset_parameters", what))
    return steps, covered
