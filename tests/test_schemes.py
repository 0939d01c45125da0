"""apply_scheme: named init schemes for whole models (issue 12)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn

import fastinit
from fastinit.core.seeds import derive_seed
from fastinit.models.schemes import apply_scheme


def _std(t):
    return float(t.detach().double().std())


def _model():
    return nn.Sequential(nn.Linear(2048, 1024), nn.ReLU(), nn.Conv2d(64, 128, 5), nn.LayerNorm(1024),
                         nn.Embedding(3000, 64), nn.ConvTranspose1d(256, 96, 3))


def _fan_in(w):
    return w.shape[1] * math.prod(w.shape[2:])


def _fans(w):
    rf = math.prod(w.shape[2:])
    return w.shape[1] * rf, w.shape[0] * rf


LINEARS = ("0", "2", "5")


@pytest.mark.parametrize("scheme,nl", [("kaiming", "relu"), ("kaiming", "tanh"), ("xavier", "relu"),
                                       ("xavier", "linear"), ("lecun", "relu")])
def test_named_scheme_stds_and_zero_biases(scheme, nl):
    m = _model()
    apply_scheme(m, scheme, nonlinearity=nl, seed=3)
    gain = fastinit.calculate_gain(nl)
    for i in LINEARS:
        w, b = m.get_submodule(i).weight, m.get_submodule(i).bias
        fi, fo = _fans(w)
        want = {"kaiming": gain / math.sqrt(fi), "xavier": gain * math.sqrt(2 / (fi + fo)),
                "lecun": 1 / math.sqrt(fi)}[scheme]
        assert abs(_std(w) / want - 1) < 0.03, (i, _std(w), want)
        assert torch.count_nonzero(b) == 0
    # tensors the scheme does not name keep torch's defaults
    assert torch.equal(m[3].weight.detach(), torch.ones(1024)) and torch.count_nonzero(m[3].bias) == 0
    assert abs(_std(m[4].weight) - 1) < 0.03


def test_scheme_values_depend_on_seed_and_name_only():
    m = _model()
    apply_scheme(m, "kaiming", seed=77)
    ref = fastinit.kaiming_normal_(torch.empty(1024, 2048), 0, "fan_in", "relu", seed=derive_seed(77, "0.weight"))
    assert torch.equal(m[0].weight.detach(), ref)
    # the tensors left to torch's defaults equal init_module_'s with the same seed
    d = _model()
    fastinit.init_module_(d, seed=77)
    assert torch.equal(m[4].weight, d[4].weight)
    # the same seed and names give the same bits
    m2 = _model()
    apply_scheme(m2, "kaiming", seed=77)
    assert all(torch.equal(a, b) for a, b in zip(m.parameters(), m2.parameters()))


def test_scheme_generator_reproducible():
    a, b = _model(), _model()
    apply_scheme(a, "lecun", generator=torch.Generator().manual_seed(5))
    apply_scheme(b, "lecun", generator=torch.Generator().manual_seed(5))
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))
    torch.manual_seed(9)
    apply_scheme(a, "xavier")
    torch.manual_seed(9)
    apply_scheme(b, "xavier")
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))


def test_meta_built_model_fully_initialized():
    with torch.device("meta"):
        m = _model()
    m.to_empty(device="cpu")
    for p in m.parameters():
        with torch.no_grad():
            p.fill_(float("nan"))
    apply_scheme(m, "kaiming", seed=1)
    assert all(torch.isfinite(p).all() for p in m.parameters())


class Block(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.ln = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.out_proj = nn.Linear(d, d)
        self.fc1 = nn.Linear(d, 4 * d)
        self.fc2 = nn.Linear(4 * d, d)


class TinyGPT(nn.Module):
    def __init__(self, d=512, n=6, vocab=4000):
        super().__init__()
        self.emb = nn.Embedding(vocab, d, padding_idx=0)
        self.blocks = nn.ModuleList([Block(d) for _ in range(n)])
        self.head = nn.Linear(d, vocab, bias=False)
        self.out_proj = nn.Linear(d, d)  # named like a residual projection, but outside the blocks


def test_gpt2_scheme_default_residual_names():
    m = TinyGPT()
    apply_scheme(m, "gpt2", seed=4)
    res_std = 0.02 / math.sqrt(2 * 6)
    for i in range(6):
        b = m.blocks[i]
        assert abs(_std(b.out_proj.weight) / res_std - 1) < 0.03
        for lin in (b.qkv, b.fc1, b.fc2):  # fc2 is not a default residual name
            assert abs(_std(lin.weight) / 0.02 - 1) < 0.03
        for lin in (b.qkv, b.out_proj, b.fc1, b.fc2):
            assert torch.count_nonzero(lin.bias) == 0
        assert torch.equal(b.ln.weight.detach(), torch.ones(512)) and torch.count_nonzero(b.ln.bias) == 0
    assert abs(_std(m.out_proj.weight) / 0.02 - 1) < 0.03  # outside the blocks: not scaled
    assert abs(_std(m.emb.weight[1:]) / 0.02 - 1) < 0.03 and torch.count_nonzero(m.emb.weight[0]) == 0
    assert abs(_std(m.head.weight) / 0.02 - 1) < 0.03


def test_gpt2_scheme_user_named_residuals():
    m = TinyGPT(n=8)
    apply_scheme(m, "gpt2", seed=4, residual_names=("out_proj", "fc2"))
    res_std = 0.02 / math.sqrt(2 * 8)
    for b in m.blocks:
        assert abs(_std(b.out_proj.weight) / res_std - 1) < 0.03
        assert abs(_std(b.fc2.weight) / res_std - 1) < 0.03
        assert abs(_std(b.fc1.weight) / 0.02 - 1) < 0.03
    m = TinyGPT(n=4)
    apply_scheme(m, "gpt2", seed=4, residual_names=["blocks.1.fc1"])  # one qualified name
    assert abs(_std(m.blocks[1].fc1.weight) / (0.02 / math.sqrt(8)) - 1) < 0.03
    assert abs(_std(m.blocks[0].fc1.weight) / 0.02 - 1) < 0.03


def test_gpt2_scheme_on_hf_gpt2():
    transformers = pytest.importorskip("transformers", reason="needs Hugging Face transformers")
    cfg = transformers.GPT2Config(n_layer=3, n_embd=512, n_head=8, vocab_size=2000, bos_token_id=0, eos_token_id=0)
    m = transformers.GPT2LMHeadModel(cfg)
    apply_scheme(m, "gpt2", seed=1)
    res_std = 0.02 / math.sqrt(2 * 3)
    for blk in m.transformer.h:
        assert abs(_std(blk.attn.c_proj.weight) / res_std - 1) < 0.03
        assert abs(_std(blk.mlp.c_proj.weight) / res_std - 1) < 0.03
        assert abs(_std(blk.attn.c_attn.weight) / 0.02 - 1) < 0.03
        assert torch.count_nonzero(blk.attn.c_attn.bias) == 0 and torch.count_nonzero(blk.mlp.c_proj.bias) == 0
    assert abs(_std(m.transformer.wte.weight) / 0.02 - 1) < 0.03
    # kaiming on HF's transposed Conv1D: fan_in is its first dim (in features)
    apply_scheme(m, "kaiming", seed=1)
    w = m.transformer.h[0].mlp.c_proj.weight  # (2048 in, 512 out)
    assert abs(_std(w) * math.sqrt(w.shape[0]) / math.sqrt(2) - 1) < 0.03


def test_gpt2_scheme_warns_without_block_list():
    m = nn.Sequential(nn.Linear(64, 64), nn.ReLU())
    with pytest.warns(UserWarning, match="no repeated block list"):
        apply_scheme(m, "gpt2", seed=0)


def test_user_rule_function():
    seen = []

    def rule(name, tensor, module, *, seed, generator):
        seen.append(name)
        if name.endswith("weight") and isinstance(module, nn.Linear):
            fastinit.orthogonal_(tensor, seed=seed, generator=generator)
            return True
        return False

    m = _model()
    apply_scheme(m, rule, seed=12)
    assert sorted(seen) == sorted(n for n, _ in m.named_parameters())
    assert torch.equal(m[0].weight.detach(),
                       fastinit.orthogonal_(torch.empty(1024, 2048), seed=derive_seed(12, "0.weight")))
    d = _model()
    fastinit.init_module_(d, seed=12)
    assert torch.equal(m[0].bias, d[0].bias)  # rule returned False: torch's default


@pytest.mark.parametrize("args,kwargs,exc", [
    (("nope",), {}, ValueError), (("kaiming",), {"nonlinearity": "swish"}, ValueError),
    (("kaiming",), {"seed": -1}, ValueError), (("kaiming",), {"generator": 3}, TypeError),
])
def test_scheme_errors_write_nothing(args, kwargs, exc):
    m = _model()
    before = [p.detach().clone() for p in m.parameters()]
    with pytest.raises(exc):
        apply_scheme(m, *args, **kwargs)
    assert all(torch.equal(a, b) for a, b in zip(before, m.parameters()))
    with pytest.raises(TypeError, match="torch.nn.Module"):
        apply_scheme(torch.empty(3), "kaiming")


def test_gpt2_scheme_on_hf_llama_meta_built():
    transformers = pytest.importorskip("transformers", reason="needs Hugging Face transformers")
    cfg = transformers.LlamaConfig(hidden_size=512, intermediate_size=1024, num_hidden_layers=4,
                                   num_attention_heads=8, num_key_value_heads=8, vocab_size=1000)
    with torch.device("meta"):
        m = transformers.LlamaForCausalLM(cfg)
    m.to_empty(device="cpu")
    apply_scheme(m, "gpt2", seed=2)
    res_std = 0.02 / math.sqrt(2 * 4)
    for layer in m.model.layers:
        assert abs(_std(layer.self_attn.o_proj.weight) / res_std - 1) < 0.03
        assert abs(_std(layer.mlp.down_proj.weight) / res_std - 1) < 0.03
        assert abs(_std(layer.mlp.up_proj.weight) / 0.02 - 1) < 0.03
        assert torch.equal(layer.input_layernorm.weight.detach(), torch.ones(512))  # LlamaRMSNorm: a norm
    assert abs(_std(m.model.embed_tokens.weight) / 0.02 - 1) < 0.03
    assert all(torch.isfinite(p).all() for p in m.parameters())


@pytest.mark.parametrize("scheme", ["kaiming", "xavier", "lecun", "gpt2"])
def test_init_module_scheme_is_apply_scheme(scheme):
    """init_module_(model, scheme=...) gives bit for bit what apply_scheme gives, and a
    different result from torch's defaults (scheme="torch")."""
    a, b, c = _model(), _model(), _model()
    fastinit.init_module_(a, seed=11, scheme=scheme, nonlinearity="tanh")
    apply_scheme(b, scheme, nonlinearity="tanh", seed=11)
    fastinit.init_module_(c, seed=11)
    for (name, x), y, z in zip(a.state_dict().items(), b.state_dict().values(), c.state_dict().values()):
        assert torch.equal(x, y), name
    assert not torch.equal(a.state_dict()["0.weight"], c.state_dict()["0.weight"])


def test_init_module_scheme_refuses_meta_tensors_first():
    with torch.device("meta"):
        m = nn.Linear(8, 4)
    with pytest.raises(ValueError, match="deferred_init"):
        fastinit.init_module_(m, seed=1, scheme="kaiming")
