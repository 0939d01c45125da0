"""models/engine.py (issue 17): init_module_ and apply_scheme run a model's own init code
for real, in program order, with fastinit fills keyed by (seed, tensor name, ordinal), the
key rule of materialize_. One seed, one model: init_module_(eager, seed=s) and
materialize_(deferred_init(ctor), seed=s) are bit-identical. Atomic: a refusal or an
exception leaves every tensor bit-identical. Each defect test here failed on e093698 /
0b290a4 (the closing note of issue 17 records how)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402  a test dependency
nn = torch.nn

import fastinit  # noqa: E402
from fastinit.core.seeds import derive_seed  # noqa: E402

_HERE = os.path.dirname(os.path.abspath(__file__))


def _state(m):
    return dict(list(m.named_parameters()) + list(m.named_buffers()))


def _one_seed_one_model(ctor, seed=7):
    torch.manual_seed(0)
    eager = ctor()
    fastinit.init_module_(eager, seed=seed)
    deferred = fastinit.materialize_(fastinit.deferred_init(ctor), seed=seed)
    a, b = _state(eager), _state(deferred)
    assert set(a) == set(b)
    differ = [n for n in a if not torch.equal(a[n], b[n])]
    assert not differ, f"{len(differ)} of {len(a)} tensors differ: {differ[:8]}"
    return len(a)


def _mlp():
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.LayerNorm(16), nn.Linear(16, 4), nn.BatchNorm1d(4))


def test_one_seed_one_model_mlp():
    assert _one_seed_one_model(_mlp) == 11  # 4 Linear, 2 LayerNorm, 2 BatchNorm parameters, 3 buffers


def test_one_seed_one_model_multihead_attention():
    """MultiheadAttention's own rule after its out_proj's: the in_proj and out_proj ordinals."""
    _one_seed_one_model(lambda: nn.Sequential(nn.MultiheadAttention(16, 2, bias=True, add_bias_kv=True),
                                              nn.Linear(16, 4)))


def _tf():
    import transformers

    return transformers


def test_one_seed_one_model_llama():
    tf = _tf()
    cfg = tf.LlamaConfig(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2)
    assert _one_seed_one_model(lambda: tf.LlamaForCausalLM(cfg)) == 23


def test_one_seed_one_model_bert():
    tf = _tf()
    cfg = tf.BertConfig(vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=64)
    assert _one_seed_one_model(lambda: tf.BertModel(cfg)) > 30
    # tied decoder / word embeddings: initialized as construction does (init, then tie)
    model_n = _one_seed_one_model(lambda: tf.BertForMaskedLM(cfg))
    assert model_n > 30


def test_one_seed_one_model_timm_vit():
    from test_clients import _TIMM_PRELUDE

    script = _TIMM_PRELUDE + textwrap.dedent(r"""
        import timm, torch, fastinit
        def make():
            return timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=32, patch_size=8,
                                     num_classes=10, depth=2)
        torch.manual_seed(0)
        a = make()
        fastinit.init_module_(a, seed=7)
        b = fastinit.materialize_(fastinit.deferred_init(make), seed=7)
        sa = dict(list(a.named_parameters()) + list(a.named_buffers()))
        sb = dict(list(b.named_parameters()) + list(b.named_buffers()))
        print(json.dumps({"n": len(sa), "differ": [n for n in sa if not torch.equal(sa[n], sb[n])]}))
    """)
    proc = subprocess.run([sys.executable, "-c", f"TESTS_DIR = {_HERE!r}\n" + script], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-6000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["differ"] == [], out
    assert out["n"] > 20


# --- defect 1: program order ----------------------------------------------------------------


class _ScaledAfterInit(nn.Module):
    """An init_weights that scales (directly, through .data) and ties after nn.init calls."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(16, 16)
        self.b = nn.Linear(16, 16)
        self.c = nn.Linear(16, 16)
        self.init_weights()  # as Hugging Face's post_init and timm's __init__ do

    def init_weights(self):
        nn.init.normal_(self.a.weight)
        with torch.no_grad():
            self.a.weight.mul_(0.01)
        nn.init.normal_(self.b.weight)
        self.b.weight.data *= 0.01
        nn.init.normal_(self.c.weight)
        with torch.no_grad():
            self.c.bias.copy_(self.c.weight[0])


def test_ops_after_an_init_call_see_its_result():
    m = _ScaledAfterInit()
    with torch.no_grad():
        for p in m.parameters():
            p.fill_(float("nan"))  # what to_empty may leave
    fastinit.init_module_(m, seed=3)
    for name in ("a.weight", "b.weight"):
        w = dict(m.named_parameters())[name]
        # the normal_ (op 0 of the init_weights() pass, after the default rules' kaiming),
        # then the scale
        want = fastinit.normal_(torch.empty(16, 16), seed=derive_seed(3, "init_weights/" + name)) * 0.01
        assert torch.equal(w, want), name
    assert torch.isfinite(m.c.bias).all() and torch.equal(m.c.bias, m.c.weight[0])


def test_same_model_as_deferred_for_scaled_init():
    _one_seed_one_model(_ScaledAfterInit)


# --- defect 2: Hugging Face RWKV in bfloat16 ------------------------------------------------


def test_rwkv_bfloat16_no_garbage():
    tf = _tf()
    cfg = tf.RwkvConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2, attention_hidden_size=32,
                        intermediate_size=64, context_length=16)
    torch.manual_seed(0)
    m = tf.RwkvForCausalLM(cfg).to(torch.bfloat16)
    with torch.no_grad():
        for p in m.parameters():
            p.fill_(float("nan"))
    fastinit.init_module_(m, seed=1)
    bad = [n for n, p in m.named_parameters() if not (torch.isfinite(p.float()).all() and p.float().abs().max() < 1e4)]
    assert not bad, bad


# --- defect 3: atomic -----------------------------------------------------------------------


def _snapshot(m):
    return {n: t.detach().clone() for n, t in _state(m).items()}


def _assert_unchanged(m, snap):
    for n, t in _state(m).items():
        assert torch.equal(t, snap[n]), n


def test_inference_tensor_in_a_later_layer_refused_before_any_write():
    m = nn.Sequential(nn.Linear(8, 8), nn.Linear(8, 8))
    with torch.inference_mode():
        w = torch.randn(8, 8)
    m[1].weight = nn.Parameter(w, requires_grad=False)
    snap = _snapshot(m)
    with pytest.raises(RuntimeError, match="Inplace update to inference tensor"):
        fastinit.init_module_(m, seed=1)
    _assert_unchanged(m, snap)


def test_expanded_parameter_in_a_later_layer_refused_before_any_write():
    m = nn.Sequential(nn.Linear(8, 8), nn.Linear(8, 8))
    m[1].weight = nn.Parameter(torch.randn(1, 8).expand(8, 8), requires_grad=False)
    snap = _snapshot(m)
    with pytest.raises(RuntimeError):
        fastinit.init_module_(m, seed=1)
    _assert_unchanged(m, snap)


def test_short_storage_in_a_later_layer_refused_before_any_write():
    m = nn.Sequential(nn.Linear(8, 8), nn.Linear(8, 8))
    base = torch.randn(64)
    m[1].weight = nn.Parameter(torch.as_strided(base, (8, 8), (8, 1), 0), requires_grad=False)
    base.untyped_storage().resize_(40 * 4)  # the view now spans past its storage
    snap0 = m[0].weight.detach().clone(), m[0].bias.detach().clone()
    with pytest.raises(RuntimeError, match="storage"):
        fastinit.init_module_(m, seed=1)
    assert torch.equal(m[0].weight, snap0[0]) and torch.equal(m[0].bias, snap0[1])


class _Raises(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(4))

    def reset_parameters(self):
        raise RuntimeError("boom")


def test_named_scheme_with_raising_reset_parameters_restores_everything():
    m = nn.Sequential(nn.Linear(8, 8), nn.LayerNorm(8), _Raises())
    with torch.no_grad():
        m[1].weight.fill_(5.0)  # not the default: a default fill before the raise would show
        m[1].bias.fill_(-5.0)
    snap = _snapshot(m)
    with pytest.raises(RuntimeError, match="boom"):
        fastinit.init_module_(m, seed=1, scheme="kaiming")
    _assert_unchanged(m, snap)
    with pytest.raises(RuntimeError, match="boom"):
        fastinit.apply_scheme(m, "gpt2", seed=1)
    _assert_unchanged(m, snap)


# --- defect 4: a freed storage ----------------------------------------------------------------


def test_freed_storage_raises_not_segfaults():
    code = textwrap.dedent("""
        import torch, fastinit
        class Own(torch.nn.Linear):  # its own reset_parameters: init_module_ backs the model up
            def reset_parameters(self):
                torch.nn.init.normal_(self.weight)
        m = torch.nn.Sequential(torch.nn.Linear(8, 8), Own(8, 8), torch.nn.Linear(8, 8))
        m[2].weight.untyped_storage().resize_(0)   # freed, as FSDP frees a parameter's storage
        try:
            fastinit.init_module_(m, seed=1)
        except RuntimeError as e:
            print("RuntimeError", e)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"crashed (rc {proc.returncode}): {proc.stderr[-2000:]}"
    assert proc.stdout.startswith("RuntimeError") and "2.weight" in proc.stdout, proc.stdout


# --- defect 5: eye_ / dirac_ in a root init_weights ---------------------------------------------


def test_init_weights_calling_eye_and_dirac():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(6, 6)
            self.conv = nn.Conv2d(4, 4, 3)

        def init_weights(self):
            nn.init.eye_(self.lin.weight)
            nn.init.dirac_(self.conv.weight)

    m = M()
    fastinit.init_module_(m, seed=2)
    assert torch.equal(m.lin.weight, torch.eye(6))
    assert torch.equal(m.conv.weight, torch.nn.init.dirac_(torch.empty(4, 4, 3, 3)))


# --- the key rule ------------------------------------------------------------------------------


def test_rng_tensor_methods_are_keyed():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.empty(5, 7))
            self.reset_parameters()

        def reset_parameters(self):
            with torch.no_grad():
                self.w.uniform_(-1, 1)
                self.w.data.normal_(0, 2)

    m = M()
    fastinit.init_module_(m, seed=9)
    assert torch.equal(m.w, fastinit.normal_(torch.empty(5, 7), 0, 2, seed=derive_seed(9, "w#1")))
    _one_seed_one_model(M, seed=9)


def test_seed_none_is_one_drawn_seed():
    g = torch.Generator().manual_seed(3)
    key = torch.Generator().manual_seed(3)
    from fastinit.core.seeds import torch_seed

    s = torch_seed(key)
    torch.manual_seed(0)
    a = _mlp()
    torch.manual_seed(0)
    b = _mlp()
    fastinit.init_module_(a, generator=g)
    fastinit.init_module_(b, seed=s)
    for n, t in _state(a).items():
        assert torch.equal(t, _state(b)[n]), n


class _StructuredInit(nn.Module):
    """A model whose own init code uses the structured fills: orthogonal_ (keyed, whole
    matrix), eye_ and dirac_ (deterministic, no random op) before a keyed normal_, and
    sparse_ (keyed)."""

    def __init__(self):
        super().__init__()
        self.rec = nn.Linear(12, 12)
        self.skip = nn.Linear(8, 8, bias=False)
        self.conv = nn.Conv1d(4, 4, 3, bias=False)
        self.sparse = nn.Linear(10, 6, bias=False)
        self.init_weights()

    def init_weights(self):
        nn.init.orthogonal_(self.rec.weight, gain=0.5)
        nn.init.eye_(self.skip.weight)
        self.skip.weight.data.mul_(0.5)
        nn.init.dirac_(self.conv.weight)
        nn.init.normal_(self.conv.weight, std=0.02)
        nn.init.sparse_(self.sparse.weight, 0.5)


def test_one_seed_one_model_structured_inits():
    """The deferred replay takes its rule for each init function from the registry, as the
    engine does: orthogonal_ and sparse_ keyed fastinit fills, eye_ and dirac_ no random op.
    Before the deferred recorder used the registry, orthogonal_ replayed torch's own with a
    seeded generator and eye_/dirac_ counted as random ops, so these models differed."""
    _one_seed_one_model(_StructuredInit)


# --- random temporaries: one rule for both paths ----------------------------------------------


class _Temporaries(nn.Module):
    """Init code that draws random temporaries and writes the model's tensors from them:
    an RNG factory (``torch.randn``, ``torch.rand``, ``torch.randint``, ``torch.randperm``,
    ``torch.normal``, ``randn_like``), an init function on a scratch tensor (Hugging Face's
    RWKV and others run ``orthogonal_`` on a float32 temporary) and an RNG method on one.
    A temporary drawn and dropped still counts."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(16, 16)
        self.b = nn.Linear(16, 8)
        self.register_buffer("perm", torch.zeros(16, dtype=torch.long))
        self.init_weights()

    def init_weights(self):
        with torch.no_grad():
            self.a.weight.copy_(torch.randn(16, 16) * 0.02)
            torch.rand(3)  # drawn and dropped
            scratch = torch.empty(8, 16)
            nn.init.orthogonal_(scratch, gain=0.5)
            self.b.weight.copy_(scratch + torch.rand(8, 16).mul_(1e-3))
            self.a.bias.copy_(torch.normal(0.0, 0.1, (16,)))
            self.b.bias.copy_(torch.randn_like(self.b.bias))
            self.perm.copy_(torch.randperm(16))
            noise = torch.empty(16).uniform_(-1, 1)
            self.a.bias.add_(noise * torch.randint(0, 2, (16,)))


def test_one_seed_one_model_random_temporaries():
    """Before: init_module_ drew the factories from torch's global RNG (not keyed: two runs
    with one seed differed) and materialize_ keyed temporaries by the name of the tensor
    reading them (``a.weight<0>``), so the two paths gave different models."""
    _one_seed_one_model(_Temporaries)
    torch.manual_seed(1)
    m1 = _Temporaries()
    torch.manual_seed(2)
    m2 = _Temporaries()
    fastinit.init_module_(m1, seed=3)
    fastinit.init_module_(m2, seed=3)
    for n, t in _state(m1).items():
        assert torch.equal(t, _state(m2)[n]), n


def test_random_temporaries_keyed_by_program_order():
    """The i-th random op of a pass on a tensor that is not the model's is keyed by
    ``derive_seed(s, ":temporary:" + i)``, in an init_weights() pass with the prefix
    ``init_weights/`` (docs/STREAM.md section 4.1), on both paths."""
    want = fastinit.normal_(torch.empty(16, 16), seed=derive_seed(5, "init_weights/:temporary:0")) * 0.02
    torch.manual_seed(0)
    eager = _Temporaries()
    fastinit.init_module_(eager, seed=5)
    deferred = fastinit.materialize_(fastinit.deferred_init(_Temporaries), seed=5)
    assert torch.equal(eager.a.weight, want)
    assert torch.equal(deferred.a.weight, want)
    g = torch.Generator().manual_seed(derive_seed(5, "init_weights/:temporary:6") & ((1 << 63) - 1))
    assert torch.equal(eager.perm, torch.randperm(16, generator=g))
    assert torch.equal(deferred.perm, eager.perm)


# --- init passes: a library's init_weights() keyed on its own ---------------------------------

#: Hugging Face model types whose constructor draws before its init_weights() re-initializes:
#: Conv1D's normal_ (gpt2, imagegpt), SeparableConv1D's .data.normal_ (convbert), CLIP's
#: class_embedding = Parameter(torch.randn(d)) (clip_vision_model, llava), SAM's
#: position_embeddings (sam3_tracker), a uniform_ temporary behind A_log (qwen3_5_moe_text)
_DRAW_THEN_INIT = ["gpt2", "imagegpt", "convbert", "clip_vision_model", "llava", "sam3_tracker",
                   "qwen3_5_moe_text"]


@pytest.mark.parametrize("model_type", _DRAW_THEN_INIT)
def test_one_seed_one_model_draw_in_constructor_then_init_weights(model_type):
    """init_module_ cannot re-run a draw the constructor made outside init code, so before
    the ops of init_weights() were counted apart (stream version 3), their ordinals were
    one higher under materialize_ than under init_module_: 1 to 8 tensors differed."""
    sys.path.insert(0, _HERE)
    import sweep_models

    build, make, _inputs, _level, _params = sweep_models.hf_case(model_type)
    _one_seed_one_model(build)


class _ApplyInitWeights(nn.Module):
    """nanoGPT's and most timm models' pattern: ``self.apply(self._init_weights)`` at the
    end of the constructor, no ``init_weights()``."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(32, 16)
        self.blocks = nn.Sequential(nn.Linear(16, 64), nn.GELU(), nn.Linear(64, 16))
        self.norm = nn.LayerNorm(16)
        self.apply(self._init_weights)

    def _init_weights(self, m):
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)


def test_apply_init_weights_is_the_library_init():
    """Before, init_module_ ran torch's defaults only (kaiming-uniform Linear weights, N(0, 1)
    embeddings) on such a model: not its constructor's init."""
    m = _ApplyInitWeights()
    fastinit.init_module_(m, seed=4)
    # trunc_normal(std=0.02): std about 0.02; torch's kaiming-uniform default: about 0.14
    assert float(m.blocks[0].weight.std()) < 0.03 and float(m.blocks[0].bias.abs().max()) == 0.0
    assert float(m.emb.weight.std()) < 0.05
    _one_seed_one_model(_ApplyInitWeights)


class _BodyDraw(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)
        self.cls_token = nn.Parameter(torch.zeros(1, 4))
        nn.init.trunc_normal_(self.cls_token, std=0.02)  # in the constructor's body
        self.init_weights()

    def init_weights(self):
        nn.init.trunc_normal_(self.lin.weight, std=0.02)


def test_constructor_body_draw_is_named_in_a_warning():
    """A parameter that only the constructor's body draws is not re-initialized: named in a
    warning (before, when the model had a library init, nothing was said)."""
    m = _BodyDraw()
    before = m.cls_token.detach().clone()
    with pytest.warns(UserWarning, match="cls_token"):
        fastinit.init_module_(m, seed=1)
    assert torch.equal(m.cls_token.detach(), before)


class _WeightNormConv(nn.Module):
    """Hugging Face's wav2vec2 positional conv: a Conv1d whose weight torch's weight_norm
    parametrizes after its reset_parameters ran (original1 is that weight, original0 its
    norm), then an init_weights() that writes the bias (and the computed weight, which
    changes nothing)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.utils.parametrizations.weight_norm(nn.Conv1d(8, 8, 5, padding=2), name="weight", dim=2)
        self.out = nn.Linear(8, 4)
        self.init_weights()

    def init_weights(self):
        nn.init.normal_(self.conv.weight, std=0.1)  # a computed tensor: no effect, as in eager torch
        nn.init.constant_(self.conv.bias, 0.0)


def test_one_seed_one_model_weight_norm():
    """Before, init_module_ applied Conv's rule to the computed weight (a temporary), so
    original0/original1 kept the eager build's values: 2 tensors differed."""
    _one_seed_one_model(_WeightNormConv)
    m = _WeightNormConv()
    fastinit.init_module_(m, seed=2)
    g = m.conv.parametrizations.weight.original0
    v = m.conv.parametrizations.weight.original1
    assert torch.equal(g, torch.norm_except_dim(v, 2, 2))
