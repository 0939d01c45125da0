"""Real clients (issue 4): Hugging Face transformers (tiny Llama and GPT-2 from configs, no
downloads) and timm (a small ViT, pretrained=False), built (a) under patch_torch_init and
(b) on the meta device, then to_empty + init_module_. Every parameter must follow the
library's own init (family and parameters, written here from the libraries' _init_weights),
and match the library's own torch-built model in a two-sample KS test (p > 1e-6).

Versions used when this was written: transformers 5.24.0, timm 1.0.31 (torch 2.13.0 CPU).
Skips, with the reason, when a library is not importable. timm imports torchvision at
import time (data transforms, FrozenBatchNorm2d), and torchvision's PyPI wheel is a CUDA
build that does not load against torch's CPU wheel; where torchvision cannot be imported,
the timm checks run in a subprocess with a stand-in torchvision package (nothing of it is
used to build or initialize a ViT), so the stand-in never leaks into this process.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
import warnings

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402  a test dependency: missing is a failure
nn = torch.nn

import fastinit  # noqa: E402
from fastinit.models.module import init_module_  # noqa: E402
from fastinit.models.patch import patch_torch_init  # noqa: E402
from test_init_module import check_const, check_spec, ks_same
_HERE = os.path.dirname(os.path.abspath(__file__))


def _transformers():
    # a test dependency (the test extra installs it): missing or broken is a failure
    import transformers

    return transformers


class Spy:
    """Counts calls to fastinit's functions while patch_torch_init installs them (it takes
    them from fastinit.fills, so that is where the spy goes)."""

    def __init__(self, monkeypatch):
        self.calls = {}
        for name in fastinit.fills.registry.torch_names():
            fn = getattr(fastinit.fills, name)

            def wrapped(*a, _fn=fn, _name=name, **k):
                self.calls[_name] = self.calls.get(_name, 0) + 1
                return _fn(*a, **k)

            monkeypatch.setattr(fastinit.fills, name, wrapped)


def _check_model(model, spec_of, ref, what):
    params = dict(model.named_parameters())
    ref_params = dict(ref.named_parameters())
    assert set(params) == set(ref_params)
    for n, p in params.items():
        spec = spec_of(n, p)
        assert spec is not None, f"{what}: no expected init for {n}"
        check_spec(p, spec, f"{what}: {n}")
        check_spec(ref_params[n], spec, f"{what}: the library's own {n}")  # the spec is the library's
        if spec[0] in ("U", "N"):
            ks_same(p, ref_params[n], f"{what}: {n} vs the library's own init")
    for n, b in ref.named_buffers():
        assert torch.equal(dict(model.named_buffers())[n], b), f"{what}: buffer {n}"


# --- Llama ------------------------------------------------------------------------------------


def _llama_cfg(tf):
    return tf.LlamaConfig(vocab_size=2000, hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                          num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                          initializer_range=0.02, tie_word_embeddings=False)


def _llama_spec(std):
    def spec(n, p):
        if n.endswith("norm.weight") or n.endswith("layernorm.weight"):
            return ("C", 1.0)
        if n.endswith(".weight") and p.dim() == 2:  # every Linear, the embedding, lm_head
            return ("N", 0.0, std)
        return None

    return spec


def test_llama_under_patch_torch_init(monkeypatch):
    tf = _transformers()
    cfg = _llama_cfg(tf)
    torch.manual_seed(0)
    ref = tf.LlamaForCausalLM(cfg)
    spy = Spy(monkeypatch)
    torch.manual_seed(1)
    with patch_torch_init():
        model = tf.LlamaForCausalLM(cfg)
    n_linear = sum(isinstance(m, nn.Linear) for m in model.modules())
    assert spy.calls.get("normal_", 0) >= n_linear + 1, spy.calls  # Llama's _init_weights went through fastinit
    assert spy.calls.get("kaiming_uniform_", 0) >= n_linear, spy.calls  # nn.Linear's own construction too
    _check_model(model, _llama_spec(cfg.initializer_range), ref, "Llama (patch)")
    from transformers import initialization as hf_init

    assert hf_init.TORCH_INIT_FUNCTIONS["normal_"] is torch.nn.init.normal_  # restored


def test_llama_meta_to_empty_init_module():
    tf = _transformers()
    cfg = _llama_cfg(tf)
    torch.manual_seed(0)
    ref = tf.LlamaForCausalLM(cfg)
    with torch.device("meta"):
        model = tf.LlamaForCausalLM(cfg)
    model.to_empty(device="cpu")
    with torch.no_grad():
        for t in model.parameters():
            t.fill_(float("nan"))
    init_module_(model, seed=123)
    _check_model(model, _llama_spec(cfg.initializer_range), ref, "Llama (meta + init_module_)")
    # deterministic: the same seed, the same weights
    with torch.device("meta"):
        again = tf.LlamaForCausalLM(cfg)
    again.to_empty(device="cpu")
    init_module_(again, seed=123)
    for (n, a), (_, b) in zip(model.named_parameters(), again.named_parameters()):
        assert torch.equal(a, b), n
    # and it computes something sensible
    out = model(torch.tensor([[1, 2, 3, 4]])).logits
    assert torch.isfinite(out).all()


# --- GPT-2 ------------------------------------------------------------------------------------


def _gpt2_cfg(tf):
    return tf.GPT2Config(vocab_size=2000, n_positions=128, n_embd=128, n_layer=3, n_head=4,
                         bos_token_id=0, eos_token_id=0)


def _gpt2_spec(cfg):
    std = cfg.initializer_range
    proj_std = std / math.sqrt(2 * cfg.n_layer)  # GPT-2's scaled residual projections

    def spec(n, p):
        if ".ln_" in n or n.startswith("transformer.ln_f"):
            return ("C", 1.0 if n.endswith("weight") else 0.0)
        if n.endswith(".bias"):
            return ("C", 0.0)
        if n.endswith("c_proj.weight"):
            return ("N", 0.0, proj_std)
        if n.endswith(".weight"):  # wte, wpe, c_attn, c_fc (Conv1D)
            return ("N", 0.0, std)
        return None

    return spec


@pytest.mark.parametrize("how", ["patch", "meta"])
def test_gpt2(how, monkeypatch):
    tf = _transformers()
    cfg = _gpt2_cfg(tf)
    torch.manual_seed(0)
    ref = tf.GPT2LMHeadModel(cfg)
    if how == "patch":
        spy = Spy(monkeypatch)
        with patch_torch_init():
            model = tf.GPT2LMHeadModel(cfg)
        assert spy.calls.get("normal_", 0) >= 4 * cfg.n_layer + 2, spy.calls
    else:
        with torch.device("meta"):
            model = tf.GPT2LMHeadModel(cfg)
        model.to_empty(device="cpu")
        init_module_(model, seed=5)
    assert model.lm_head.weight is model.transformer.wte.weight  # tied (GPT-2's default)
    _check_model(model, _gpt2_spec(cfg), ref, f"GPT-2 ({how})")


def test_hf_no_init_weights_still_skips_under_patch():
    """from_pretrained's no_init_weights() nests inside patch_torch_init: nothing is filled."""
    tf = _transformers()
    from transformers import initialization as hf_init

    with patch_torch_init():
        with hf_init.no_init_weights():
            lin = nn.Linear(64, 64)
            with torch.no_grad():
                lin.weight.fill_(3.0)
            torch.nn.init.normal_(lin.weight)
        assert torch.nn.init.normal_ is getattr(fastinit, "normal_", torch.nn.init.normal_)
    check_const(lin.weight, 3.0, "weight under no_init_weights")
    del tf


# --- timm -------------------------------------------------------------------------------------

# Imports timm in a subprocess. torchvision, when it cannot load (PyPI's wheel is a CUDA build
# that does not load beside torch's CPU wheel: "operator torchvision::nms does not exist"),
# is replaced by a stand-in package whose every attribute is a placeholder class: timm imports
# torchvision at import time (transforms, FrozenBatchNorm2d) but builds and initializes its
# models without it. The scripts report "torchvision_stub", and every test that ran on the
# stand-in says so in its id and in a warning.
_TIMM_PRELUDE = textwrap.dedent(r"""
    import json, math, sys, warnings
    sys.path.insert(0, TESTS_DIR)
    import torchvision_standin  # the real torchvision if it loads, else tests/torchvision_standin.py
    stub = torchvision_standin.install()
""")

_TIMM_SCRIPT = _TIMM_PRELUDE + textwrap.dedent(r"""
    try:
        import timm
    except Exception as e:
        print(json.dumps({"skip": f"timm not importable: {type(e).__name__}: {e}"}))
        sys.exit(0)
    import torch, torch.nn as nn, fastinit
    from fastinit.models.module import init_module_
    from fastinit.models.patch import patch_torch_init
    from test_init_module import check_spec, ks_same

    def make():
        return timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=64, patch_size=8,
                                 num_classes=100, depth=4)

    def spec(n, p, m):
        if n == "cls_token":
            return ("N", 0.0, 1e-6)
        if n == "pos_embed":
            return ("T", 0.0, 0.02, -2.0, 2.0)
        if n.startswith("patch_embed.proj."):  # a Conv2d: torch's default (reset_parameters)
            fan_in = m.patch_embed.proj.weight[0].numel()
            return ("U", 1 / math.sqrt(fan_in))
        if "norm" in n:
            return ("C", 1.0 if n.endswith("weight") else 0.0)
        if n.endswith(".bias"):
            return ("C", 0.0)
        if n.endswith(".weight") and p.dim() == 2:  # every Linear: timm's trunc_normal_(std=.02)
            return ("T", 0.0, 0.02, -2.0, 2.0)
        return None

    def check(model, ref, what):
        from test_init_module import check_trunc_normal
        rp = dict(ref.named_parameters())
        for n, p in model.named_parameters():
            s = spec(n, p, model)
            assert s is not None, f"{what}: no expected init for {n}"
            for t, who in ((p, "fastinit"), (rp[n], "timm's own")):
                if s[0] == "T":
                    check_trunc_normal(t, *s[1:], f"{what}: {who} {n}")
                else:
                    check_spec(t, s, f"{what}: {who} {n}")
            if s[0] in ("U", "N", "T"):
                ks_same(p, rp[n], f"{what}: {n} vs timm's own init")

    torch.manual_seed(0)
    ref = make()
    calls = {}
    # patch_torch_init takes its replacements from fastinit.fills: the spy goes there
    orig = fastinit.fills.trunc_normal_
    def spy(*a, **k):
        calls["trunc_normal_"] = calls.get("trunc_normal_", 0) + 1
        return orig(*a, **k)
    fastinit.fills.trunc_normal_ = spy
    with patch_torch_init():
        a = make()
    fastinit.fills.trunc_normal_ = orig
    n_linear = sum(isinstance(m, nn.Linear) for m in a.modules())
    assert calls.get("trunc_normal_", 0) >= n_linear + 1, calls
    import timm.layers.weight_init as wi
    assert wi.trunc_normal_.__module__ == "timm.layers.weight_init"  # restored
    check(a, ref, "ViT (patch)")
    with torch.device("meta"):
        b = make()
    b.to_empty(device="cpu")
    init_module_(b, seed=7)
    check(b, ref, "ViT (meta + init_module_)")
    print(json.dumps({"ok": True, "torchvision_stub": stub, "timm": timm.__version__, "params": sum(p.numel() for p in b.parameters())}))
""")


def test_timm_vit():
    proc = subprocess.run([sys.executable, "-c", f"TESTS_DIR = {_HERE!r}\n" + _TIMM_SCRIPT],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"timm check failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}"
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "skip" not in result, result["skip"]  # timm is a test dependency: missing is a failure
    assert result["ok"]
    if result["torchvision_stub"]:
        warnings.warn(_STANDIN_WARNING)


# --- deferred_init + materialize_ (issue 10) ------------------------------------------------
# Each client built from its config, no downloads, against its own eager build with
# tests/test_deferred.py's comparison: constants and computed buffers bit-identical, random
# tensors of >= 1000 elements KS (p > 1e-6) for two seeds, poisoned fresh memory, ties kept.

_STANDIN_WARNING = ("torchvision stand-in: timm's model code only. The real torchvision 0.28 wheel does not load "
                    "beside torch's CPU wheel here (operator torchvision::nms does not exist)")


def _hf_cases():
    return {
        "BertModel": ("BertModel", "BertConfig", dict(vocab_size=1000, hidden_size=64, num_hidden_layers=2,
                                                      num_attention_heads=4, intermediate_size=128,
                                                      max_position_embeddings=128)),
        "LlamaForCausalLM": ("LlamaForCausalLM", "LlamaConfig", dict(
            vocab_size=1000, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, max_position_embeddings=128, tie_word_embeddings=False)),
        "GPT2LMHeadModel": ("GPT2LMHeadModel", "GPT2Config", dict(vocab_size=1000, n_embd=64, n_layer=2, n_head=4,
                                                                  n_positions=128, bos_token_id=0,
                                                                  eos_token_id=0)),
        "T5ForConditionalGeneration": ("T5ForConditionalGeneration", "T5Config", dict(
            vocab_size=1000, d_model=64, d_kv=16, d_ff=128, num_layers=2, num_heads=4)),
    }


@pytest.mark.parametrize("name", list(_hf_cases()))
def test_hf_deferred_init_matches_eager(name):
    tf = _transformers()
    from test_deferred import check_against_eager

    cls_name, cfg_name, kw = _hf_cases()[name]
    cls, cfg = getattr(tf, cls_name), getattr(tf, cfg_name)(**kw)
    model = check_against_eager(lambda: cls(cfg), what=name, make=lambda: fastinit.deferred_init(cls, cfg))
    out = model(input_ids=torch.tensor([[1, 2, 3]]), **({"decoder_input_ids": torch.tensor([[1, 2]])}
                                                       if "T5" in name else {}))
    first = out[0] if isinstance(out, tuple) else next(iter(out.values()))
    assert torch.isfinite(first).all()


def test_hf_from_config_deferred():
    tf = _transformers()
    from test_deferred import check_against_eager

    cfg = tf.LlamaConfig(**_hf_cases()["LlamaForCausalLM"][2])
    check_against_eager(lambda: tf.AutoModelForCausalLM.from_config(cfg), what="AutoModelForCausalLM.from_config",
                        make=lambda: fastinit.deferred_init(tf.AutoModelForCausalLM.from_config, cfg))


_TIMM_DEFERRED_SCRIPT = _TIMM_PRELUDE + textwrap.dedent(r"""
    import timm, torch, fastinit
    import fastinit.models.deferred as D
    D._POISON = True
    from test_deferred import check_against_eager
    name = MODEL
    model = check_against_eager(lambda: timm.create_model(name, pretrained=False), what=name,
                                make=lambda: fastinit.deferred_init(timm.create_model, name, pretrained=False))
    y = model.eval()(torch.zeros(1, 3, 64, 64) if "vit" not in name else torch.zeros(1, 3, 224, 224))
    assert torch.isfinite(y).all()
    print(json.dumps({"ok": True, "torchvision_stub": stub, "timm": timm.__version__,
                      "params": sum(p.numel() for p in model.parameters())}))
""")


def _torchvision_loads():
    proc = subprocess.run([sys.executable, "-c", "import torchvision, torchvision.ops"], capture_output=True,
                          timeout=300)
    return proc.returncode == 0


_TV_OK = None


def _timm_params():
    global _TV_OK
    if _TV_OK is None:
        _TV_OK = _torchvision_loads()
    tag = "" if _TV_OK else "-torchvision_standin_timm_model_code_only"
    return [pytest.param(m, id=m + tag) for m in ("convnext_tiny", "vit_base_patch16_224", "resnet50")]


@pytest.mark.parametrize("model_name", _timm_params())
def test_timm_deferred_init_matches_eager(model_name):
    script = f"TESTS_DIR = {_HERE!r}\nMODEL = {model_name!r}\n" + _TIMM_DEFERRED_SCRIPT
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"{model_name}:\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}"
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["ok"]
    if result["torchvision_stub"]:
        warnings.warn(_STANDIN_WARNING)
