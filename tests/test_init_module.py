"""init_module_ (issue 4): module by module, every parameter and buffer that torch's
default construction sets is set, with the same distribution.

Each case states the expected distribution of every parameter and buffer by name,
written from torch 2.13's reset_parameters (not from fastinit's rules), and checks it
against both torch's own fresh default module and fastinit's init_module_: exact values for
constants; for uniform U(-b, b): max|x| <= b and > b (1 - 14/n) (P(fail) = e^-14 for the
close-to-bound side), mean and variance within 6 standard errors; for normal: mean and
variance within 6 SE. Plus a two-sample KS test fastinit-vs-torch at p > 1e-6 for every
random parameter with at least 200 elements. Seeds are fixed: failures are reproducible.
"""
from __future__ import annotations

import math
import warnings
from collections import OrderedDict

import numpy as np
import pytest

import torch  # noqa: E402  a test dependency: missing is a failure
nn = torch.nn
import scipy.stats as scipy_stats  # noqa: E402

import fastinit  # noqa: E402
import reference  # noqa: E402  (tests/ is on sys.path, see conftest)
from fastinit import _C  # noqa: E402
from fastinit.core.seeds import derive_seed
from fastinit.models.module import init_module_  # noqa: E402
from fastinit.core.seeds import torch_seed  # noqa: E402

P_MIN = 1e-6
SE = 6.0


def test_normal_family_usable():
    """The normal family is part of fastinit: if it raises, that is a failure (the cases
    below that use it fail too, they are not skipped)."""
    fastinit.normal_(torch.empty(8), seed=1)
    fastinit.xavier_normal_(torch.empty(4, 4), seed=1)


# --- statistics helpers (also used by test_clients.py) ---------------------------------------


def _np(x):
    return x.detach().to("cpu", torch.float64).reshape(-1).numpy()


def check_uniform(x, b, what):
    v = _np(x)
    n = v.size
    assert n > 0, what
    tol = b * 2.0 ** -23  # the bounds are rounded to float32 for the fill
    amax = float(np.abs(v).max())
    assert amax <= b + tol, f"{what}: max|x| = {amax!r} > bound {b!r}"
    assert amax >= b * (1 - 14.0 / n), f"{what}: max|x| = {amax!r} not close to bound {b!r} (n={n})"
    if n >= 100:
        m, var = v.mean(), v.var()
        assert abs(m) <= SE * math.sqrt(b * b / 3 / n), f"{what}: mean {m} for U(+-{b}), n={n}"
        assert abs(var - b * b / 3) <= SE * math.sqrt(4 * b ** 4 / 45 / n), \
            f"{what}: variance {var} vs {b * b / 3} for U(+-{b}), n={n}"


def check_normal(x, mean, std, what):
    v = _np(x)
    n = v.size
    assert np.isfinite(v).all(), what
    if n >= 100:
        m, var = v.mean(), v.var()
        assert abs(m - mean) <= SE * std / math.sqrt(n), f"{what}: mean {m} vs {mean} (std {std}, n={n})"
        assert abs(var - std * std) <= SE * math.sqrt(2.0 / n) * std * std, \
            f"{what}: variance {var} vs {std * std} (n={n})"
        # fourth moment: tells a normal from a uniform or a truncated normal of the same variance
        k = ((v - v.mean()) ** 4).mean() / var ** 2
        assert abs(k - 3.0) <= SE * math.sqrt(96.0 / n), f"{what}: kurtosis {k} vs 3 (n={n})"


def check_trunc_normal(x, mean, std, a, b, what):
    v = _np(x)
    n = v.size
    assert v.min() >= a - abs(a) * 2.0 ** -23 and v.max() <= b + abs(b) * 2.0 ** -23, f"{what}: outside [{a}, {b}]"
    if n >= 100:
        d = scipy_stats.truncnorm((a - mean) / std, (b - mean) / std, loc=mean, scale=std)
        p = scipy_stats.kstest(v[:50000], d.cdf).pvalue  # the first 50k: scipy's truncnorm cdf is slow
        assert p > P_MIN, f"{what}: KS vs truncnorm({mean}, {std}, [{a}, {b}]) p={p:.3g} (n={n})"


def check_const(x, value, what):
    got = x.detach().cpu()
    want = torch.full_like(got, value)
    assert torch.equal(got, want), f"{what}: expected all {value}, got {got.reshape(-1)[:6].tolist()}..."


def check_spec(x, spec, what):
    kind = spec[0]
    if kind == "U":
        check_uniform(x, spec[1], what)
    elif kind == "N":
        check_normal(x, spec[1], spec[2], what)
    elif kind == "C":
        check_const(x, spec[1], what)
    elif kind == "Npad":  # normal rows, row spec[3] zero
        std_rows = torch.ones(x.shape[0], dtype=torch.bool)
        std_rows[spec[3]] = False
        check_normal(x.detach()[std_rows], spec[1], spec[2], what)
        check_const(x.detach()[spec[3]], 0.0, what + f"[padding_idx={spec[3]}]")
    else:  # pragma: no cover
        raise AssertionError(spec)


def ks_same(x, y, what):
    a, b = _np(x), _np(y)
    if min(a.size, b.size) < 200:
        return
    p = scipy_stats.ks_2samp(a, b).pvalue
    assert p > P_MIN, f"{what}: two-sample KS fastinit vs reference p={p:.3g} (n={a.size})"


# --- the cases: constructor and the expected distribution of everything it holds ----------


def U(b):
    return ("U", b)


def fan_in_u(shape_in):
    return U(1 / math.sqrt(shape_in))


def linear_spec(m, prefix=""):
    b = 1 / math.sqrt(m.in_features)
    s = {prefix + "weight": U(b)}
    if m.bias is not None:
        s[prefix + "bias"] = U(b)
    return s


def conv_spec(m, transposed):
    w = m.weight
    k = math.prod(w.shape[2:])
    fan_in = w.shape[1] * k  # in/groups * k for Conv; out/groups * k for ConvTranspose (weight is (in, out/g, k))
    s = {"weight": U(1 / math.sqrt(fan_in))}
    if m.bias is not None:
        s["bias"] = U(1 / math.sqrt(fan_in))
    return s


def rnn_spec(m):
    b = 1 / math.sqrt(m.hidden_size)
    return {n: U(b) for n, _ in m.named_parameters()}


def bn_spec(m):
    s = {}
    if m.affine:
        s.update(weight=("C", 1.0), bias=("C", 0.0))
    if m.track_running_stats:
        s.update(running_mean=("C", 0.0), running_var=("C", 1.0), num_batches_tracked=("C", 0))
    return s


def xavier_u(shape):
    fi = shape[1] * math.prod(shape[2:])
    fo = shape[0] * math.prod(shape[2:])
    return U(math.sqrt(6.0 / (fi + fo)))


def xavier_n(shape):
    fi = shape[1] * math.prod(shape[2:])
    fo = shape[0] * math.prod(shape[2:])
    return ("N", 0.0, math.sqrt(2.0 / (fi + fo)))


def mha_spec(m, prefix=""):
    s = {}
    if m._qkv_same_embed_dim:
        s[prefix + "in_proj_weight"] = xavier_u(m.in_proj_weight.shape)
    else:
        for n in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
            s[prefix + n] = xavier_u(getattr(m, n).shape)
    s[prefix + "out_proj.weight"] = fan_in_u(m.out_proj.in_features)
    if m.in_proj_bias is not None:
        s[prefix + "in_proj_bias"] = ("C", 0.0)
        s[prefix + "out_proj.bias"] = ("C", 0.0)
    if m.bias_k is not None:
        s[prefix + "bias_k"] = xavier_n(m.bias_k.shape)
        s[prefix + "bias_v"] = xavier_n(m.bias_v.shape)
    return s


def transformer_spec(m):
    s = {}
    for n, p in m.named_parameters():
        if p.dim() > 1:
            s[n] = xavier_u(p.shape)
        elif n.endswith("in_proj_bias") or n.endswith("out_proj.bias"):
            s[n] = ("C", 0.0)
        elif "norm" in n:
            s[n] = ("C", 1.0 if n.endswith("weight") else 0.0)
        elif n.endswith(".bias"):  # linear1/linear2
            w = m.get_parameter(n[: -len("bias")] + "weight")
            s[n] = fan_in_u(w.shape[1])
        else:  # pragma: no cover
            raise AssertionError(n)
    return s


CASES = {
    "Linear": (lambda: nn.Linear(300, 200), linear_spec),
    "Linear-nobias": (lambda: nn.Linear(300, 200, bias=False), linear_spec),
    "Linear-big-fan": (lambda: nn.Linear(4096, 64), linear_spec),
    "Bilinear": (lambda: nn.Bilinear(20, 30, 40),
                 lambda m: {"weight": U(1 / math.sqrt(20)), "bias": U(1 / math.sqrt(20))}),
    "Conv1d": (lambda: nn.Conv1d(16, 32, 5), lambda m: conv_spec(m, False)),
    "Conv2d-groups": (lambda: nn.Conv2d(8, 16, 3, groups=2), lambda m: conv_spec(m, False)),
    "Conv3d": (lambda: nn.Conv3d(4, 8, 3), lambda m: conv_spec(m, False)),
    "ConvTranspose1d": (lambda: nn.ConvTranspose1d(16, 32, 5), lambda m: conv_spec(m, True)),
    "ConvTranspose2d-groups": (lambda: nn.ConvTranspose2d(8, 16, 3, groups=2), lambda m: conv_spec(m, True)),
    "ConvTranspose3d": (lambda: nn.ConvTranspose3d(4, 6, 3, bias=False), lambda m: conv_spec(m, True)),
    "Conv2d-channels_last": (lambda: nn.Conv2d(16, 32, 3).to(memory_format=torch.channels_last),
                             lambda m: conv_spec(m, False)),
    "Conv3d-channels_last_3d": (lambda: nn.Conv3d(8, 8, 3).to(memory_format=torch.channels_last_3d),
                                lambda m: conv_spec(m, False)),
    "ConvTranspose2d-channels_last": (lambda: nn.ConvTranspose2d(16, 8, 3).to(memory_format=torch.channels_last),
                                      lambda m: conv_spec(m, True)),
    "Embedding-padding": (lambda: nn.Embedding(1000, 64, padding_idx=3),
                          lambda m: {"weight": ("Npad", 0.0, 1.0, 3)}),
    "Embedding-negative-padding": (lambda: nn.Embedding(300, 16, padding_idx=-1),
                                   lambda m: {"weight": ("Npad", 0.0, 1.0, 299)}),
    "Embedding": (lambda: nn.Embedding(500, 32), lambda m: {"weight": ("N", 0.0, 1.0)}),
    "EmbeddingBag-padding": (lambda: nn.EmbeddingBag(500, 32, padding_idx=0),
                             lambda m: {"weight": ("Npad", 0.0, 1.0, 0)}),
    "LayerNorm": (lambda: nn.LayerNorm(64), lambda m: {"weight": ("C", 1.0), "bias": ("C", 0.0)}),
    "LayerNorm-nobias": (lambda: nn.LayerNorm(64, bias=False), lambda m: {"weight": ("C", 1.0)}),
    "GroupNorm": (lambda: nn.GroupNorm(4, 32), lambda m: {"weight": ("C", 1.0), "bias": ("C", 0.0)}),
    "RMSNorm": (lambda: nn.RMSNorm(32), lambda m: {"weight": ("C", 1.0)}),
    "BatchNorm1d": (lambda: nn.BatchNorm1d(16), bn_spec),
    "BatchNorm2d": (lambda: nn.BatchNorm2d(16), bn_spec),
    "BatchNorm3d": (lambda: nn.BatchNorm3d(16), bn_spec),
    "BatchNorm2d-noaffine": (lambda: nn.BatchNorm2d(16, affine=False), bn_spec),
    "InstanceNorm2d-tracked": (lambda: nn.InstanceNorm2d(8, affine=True, track_running_stats=True), bn_spec),
    "RNN": (lambda: nn.RNN(32, 64, 2), rnn_spec),
    "LSTM-proj": (lambda: nn.LSTM(32, 48, proj_size=16), rnn_spec),
    "GRU-bidirectional": (lambda: nn.GRU(32, 64, bidirectional=True), rnn_spec),
    "RNNCell": (lambda: nn.RNNCell(32, 64), rnn_spec),
    "LSTMCell": (lambda: nn.LSTMCell(32, 64), rnn_spec),
    "GRUCell": (lambda: nn.GRUCell(32, 64), rnn_spec),
    "PReLU": (lambda: nn.PReLU(), lambda m: {"weight": ("C", 0.25)}),
    "PReLU-init": (lambda: nn.PReLU(8, init=0.1), lambda m: {"weight": ("C", 0.1)}),
    "MultiheadAttention": (lambda: nn.MultiheadAttention(64, 4), mha_spec),
    "MultiheadAttention-kv-bias_kv": (lambda: nn.MultiheadAttention(64, 4, kdim=32, vdim=48, add_bias_kv=True),
                                      mha_spec),
    "MultiheadAttention-nobias": (lambda: nn.MultiheadAttention(64, 4, bias=False), mha_spec),
    "Transformer": (lambda: nn.Transformer(32, 2, 1, 1, 64), transformer_spec),
    "TransformerEncoderLayer": (
        lambda: nn.TransformerEncoderLayer(64, 4, 128),
        lambda m: {**mha_spec(m.self_attn, "self_attn."), **linear_spec(m.linear1, "linear1."),
                   **linear_spec(m.linear2, "linear2."),
                   "norm1.weight": ("C", 1.0), "norm1.bias": ("C", 0.0),
                   "norm2.weight": ("C", 1.0), "norm2.bias": ("C", 0.0)}),
}

USES_NORMAL = {"Embedding-padding", "Embedding-negative-padding", "Embedding", "EmbeddingBag-padding",
               "MultiheadAttention-kv-bias_kv"}


def _build(make, torch_seed_value):
    torch.manual_seed(torch_seed_value)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Transformer's nested-tensor notice
        return make()


def _poison(m):
    with torch.no_grad():
        for t in list(m.parameters()) + list(m.buffers()):
            t.fill_(float("nan") if t.dtype.is_floating_point else 12345)


def _state(m):
    return {n: t for n, t in list(m.named_parameters()) + list(m.named_buffers())}


def _case_params():
    out = []
    for name in CASES:
        out.append(pytest.param(name, id=name))
    return out


@pytest.mark.parametrize("case", _case_params())
def test_module_matches_torch_default(case):
    make, spec_of = CASES[case]
    ref = _build(make, 1234)  # torch's own default init
    mine = _build(make, 99)
    spec = spec_of(mine)
    names = set(_state(mine))
    assert names == set(spec), f"{case}: spec {sorted(spec)} vs module {sorted(names)}"
    # the spec is right for torch itself
    for n, t in _state(ref).items():
        check_spec(t, spec[n], f"{case}: torch's {n}")
    fmt = {n: t.stride() for n, t in _state(mine).items()}
    _poison(mine)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every parameter is known: no "left unchanged" warning
        assert init_module_(mine, seed=20240601 + len(case)) is mine
    for n, t in _state(mine).items():
        assert t.stride() == fmt[n], f"{case}: {n} memory format changed"
        check_spec(t, spec[n], f"{case}: fastinit's {n}")
        if spec[n][0] in ("U", "N"):
            ks_same(t, _state(ref)[n], f"{case}: {n}")
        elif spec[n][0] == "Npad":
            keep = torch.ones(t.shape[0], dtype=torch.bool)
            keep[spec[n][3]] = False
            ks_same(t.detach()[keep], _state(ref)[n].detach()[keep], f"{case}: {n}")


def test_channels_last_values_equal_contiguous():
    """A channels_last weight gets, element for element, the values a contiguous one gets
    (the stream is indexed by logical position), and stays channels_last."""
    a = nn.Conv2d(16, 32, 3)
    b = nn.Conv2d(16, 32, 3).to(memory_format=torch.channels_last)
    init_module_(a, seed=5)
    init_module_(b, seed=5)
    assert b.weight.is_contiguous(memory_format=torch.channels_last) and not b.weight.is_contiguous()
    assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)


# --- seeds -----------------------------------------------------------------------------------


def test_derive_seed_documented_formula():
    import hashlib

    for s, name in [(0, "weight"), (42, "layers.0.linear1.weight"), (2 ** 64 - 1, "ünï.cödé"), (7, "")]:
        h = hashlib.sha256(name.encode("utf-8")).digest()
        ctr = [int.from_bytes(h[4 * i: 4 * i + 4], "little") for i in range(4)]
        w = reference.philox4x32_10(np.array(ctr, dtype=np.uint64), (s & 0xFFFFFFFF, s >> 32))
        assert derive_seed(s, name) == int(w[0]) | (int(w[1]) << 32)
    assert derive_seed(1, "a") != derive_seed(2, "a") != derive_seed(1, "b")
    with pytest.raises(ValueError):
        derive_seed(-1, "a")


def test_seed_values_are_the_named_fills():
    """With seed=s, 'x.weight' holds exactly fastinit.kaiming_uniform_(seed=derive_seed(s, 'x.weight'))."""
    m = nn.Sequential(OrderedDict(x=nn.Linear(64, 32), y=nn.LayerNorm(32)))
    init_module_(m, seed=77)
    w = fastinit.kaiming_uniform_(torch.empty(32, 64), a=math.sqrt(5), seed=derive_seed(77, "x.weight"))
    b = fastinit.uniform_(torch.empty(32), -1 / 8, 1 / 8, seed=derive_seed(77, "x.bias"))
    assert torch.equal(m.x.weight, w) and torch.equal(m.x.bias, b)


def test_same_seed_same_values_and_order_independence():
    def build(order, tseed):
        torch.manual_seed(tseed)
        parts = {"enc": nn.Linear(40, 30), "rnn": nn.GRU(8, 16), "attn": nn.MultiheadAttention(32, 4),
                 "conv": nn.Conv2d(3, 6, 3)}
        return nn.Sequential(OrderedDict((k, parts[k]) for k in order))

    a = init_module_(build(["enc", "rnn", "attn", "conv"], 1), seed=2024)
    b = init_module_(build(["enc", "rnn", "attn", "conv"], 2), seed=2024)
    c = init_module_(build(["conv", "attn", "enc", "rnn"], 3), seed=2024)
    d = init_module_(build(["enc", "rnn", "attn", "conv"], 1), seed=2025)
    sa, sb, sc, sd = (dict(x.named_parameters()) for x in (a, b, c, d))
    for n in sa:
        assert torch.equal(sa[n], sb[n]), n
        assert torch.equal(sa[n], sc[n]), f"{n}: depends on traversal order"
        if sa[n].numel() > 1 and not (sa[n] == 0).all():
            assert not torch.equal(sa[n], sd[n]), f"{n}: same values for another seed"
    # a submodule initialized on its own with the same names: the same values
    enc = nn.Sequential(OrderedDict(enc=nn.Linear(40, 30)))
    init_module_(enc, seed=2024)
    assert torch.equal(enc.enc.weight, a.enc.weight)


def test_seed_none_draws_one_model_key():
    """seed=None: one key is drawn from the generator (as materialize_ draws it), then the
    model is exactly init_module_(m, seed=that key)."""
    def build():
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(8, 4), nn.LayerNorm(4), nn.Linear(4, 2, bias=False), nn.BatchNorm1d(2))

    m, ref = build(), build()
    g = torch.Generator().manual_seed(11)
    g2 = torch.Generator().manual_seed(11)
    init_module_(m, generator=g)
    key = torch_seed(g2)
    assert torch.equal(g.get_state(), g2.get_state())  # one draw, whatever the model
    init_module_(ref, seed=key)
    for (n, x), y in zip(m.state_dict().items(), ref.state_dict().values()):
        assert torch.equal(x, y), n
    w = fastinit.kaiming_uniform_(torch.empty(4, 8), a=math.sqrt(5), seed=derive_seed(key, "0.weight"))
    assert torch.equal(m[0].weight, w)
    # default generator: torch.manual_seed makes it reproducible
    torch.manual_seed(3)
    x = init_module_(nn.Linear(16, 16)).weight.clone()
    torch.manual_seed(3)
    y = init_module_(nn.Linear(16, 16)).weight.clone()
    assert torch.equal(x, y)


def test_parent_rule_is_the_tensors_second_random_op():
    """Transformer's xavier rule runs after its Linear children's kaiming fill, as in
    construction: for a Linear weight it is the tensor's random op 1, keyed "name#1"."""
    m = _build(lambda: nn.Transformer(16, 2, 1, 1, 32), 0)
    init_module_(m, seed=4)
    name = "encoder.layers.0.linear1.weight"
    w = dict(m.named_parameters())[name]
    want = fastinit.xavier_uniform_(torch.empty(w.shape), seed=derive_seed(4, name + "#1"))
    assert torch.equal(w, want)
    # in_proj_weight: MultiheadAttention's xavier (op 0), then Transformer's (op 1)
    name = "encoder.layers.0.self_attn.in_proj_weight"
    w = dict(m.named_parameters())[name]
    assert torch.equal(w, fastinit.xavier_uniform_(torch.empty(w.shape), seed=derive_seed(4, name + "#1")))


def test_bad_arguments():
    with pytest.raises(TypeError):
        init_module_(torch.empty(3))
    with pytest.raises(ValueError):
        init_module_(nn.Linear(2, 2), seed=-1)
    with pytest.raises(TypeError):
        init_module_(nn.Linear(2, 2), generator=5)


# --- meta, devices ---------------------------------------------------------------------------


def _meta_model():
    return nn.Sequential(OrderedDict(
        tr=nn.TransformerEncoderLayer(32, 4, 64), bn=nn.BatchNorm1d(32), conv=nn.Conv1d(32, 16, 3),
        rnn=nn.LSTM(16, 16)))


def test_meta_to_empty_then_init():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.device("meta"):
            m = _meta_model()
    assert all(p.is_meta for p in m.parameters())
    with pytest.raises(ValueError, match=r"on the meta device.*tr.self_attn.in_proj_weight.*deferred_init"):
        init_module_(m, seed=9)
    m.to_empty(device="cpu")
    _poison(m)
    init_module_(m, seed=9)
    ref = init_module_(_meta_model(), seed=9)
    for (n, t), (n2, t2) in zip(_state(m).items(), _state(ref).items()):
        assert n == n2 and torch.equal(t, t2), n
    check_const(m.bn.running_var, 1.0, "bn.running_var")
    check_const(m.bn.num_batches_tracked, 0, "bn.num_batches_tracked")
    check_uniform(m.tr.linear1.weight, 1 / math.sqrt(32), "tr.linear1.weight")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_same_values_as_cpu():
    a = init_module_(_meta_model(), seed=4)
    b = init_module_(_meta_model().cuda(), seed=4)
    for (n, t), (_, t2) in zip(_state(a).items(), _state(b).items()):
        assert t2.is_cuda and torch.equal(t, t2.cpu()), n


# --- modules fastinit does not know ----------------------------------------------------------


class Custom(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.empty(64, 64))
        self.b = nn.Parameter(torch.empty(64))
        self.reset_parameters()

    def reset_parameters(self):
        nn.init.uniform_(self.w, -0.5, 0.5)
        nn.init.constant_(self.b, 0.0)


class MyLinear(nn.Linear):
    def reset_parameters(self):  # an override is honoured, not replaced by Linear's rule
        nn.init.uniform_(self.weight, 2.0, 3.0)
        if self.bias is not None:
            nn.init.constant_(self.bias, -1.0)


class Bare(nn.Module):
    def __init__(self):
        super().__init__()
        self.p = nn.Parameter(torch.full((3,), 7.0))
        self.lin = nn.Linear(3, 3)


def test_unknown_module_reset_parameters_called_with_fastinit():
    m = nn.Sequential(OrderedDict(c=Custom(), l=MyLinear(10, 10)))
    _poison(m)
    before = sum(_C.kernel_calls().values())
    init_module_(m, seed=3)
    assert sum(_C.kernel_calls().values()) >= before + 2, "reset_parameters did not go through fastinit"
    check_uniform(m.c.w, 0.5, "c.w")  # U(-0.5, 0.5): bound check, moments
    assert m.c.w.min() < 0 and m.c.w.max() > 0
    check_const(m.c.b, 0.0, "c.b")
    assert (m.l.weight >= 2.0).all() and (m.l.weight < 3.0).all()
    check_const(m.l.bias, -1.0, "l.bias")
    w = m.c.w.detach().clone()
    state = torch.default_generator.get_state()
    init_module_(m, seed=3)  # seeded: reproducible, and torch's generator is left as it was
    assert torch.equal(m.c.w, w)
    assert torch.equal(torch.default_generator.get_state(), state)
    init_module_(m, seed=4)
    assert not torch.equal(m.c.w, w)


def test_unknown_parameters_warned_and_left():
    m = Bare()
    with pytest.warns(UserWarning, match=r"1 parameter\(s\) .*left unchanged: p\. .*deferred_init"):
        init_module_(m, seed=1)
    check_const(m.p, 7.0, "p")


@pytest.mark.parametrize("garbage", [float("nan"), float("inf"), 3e31])
def test_uninitialized_unknown_parameter_raises_and_nothing_written(garbage):
    m = Bare()
    with torch.no_grad():
        m.p[1] = garbage
    before = {n: t.detach().clone() for n, t in _state(m).items()}
    with pytest.raises(ValueError, match=r"uninitialized memory .*: p\. .*deferred_init"):
        init_module_(m, seed=1)
    for n, t in _state(m).items():
        assert torch.equal(t, before[n]) or (t.isnan() == before[n].isnan()).all(), n


def _snapshot(m):
    return {n: t.detach().clone() for n, t in _state(m).items()}


def _unchanged(m, snap):
    for n, t in _state(m).items():
        assert torch.equal(t.detach(), snap[n]), f"{n} was written"


def test_refused_library_fill_leaves_model_untouched():
    class BadLib(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(8, 8)
            self.norm = nn.LayerNorm(8)
            self.b = nn.Linear(8, 8)

        def init_weights(self):
            torch.nn.init.normal_(self.a.weight, std=0.02)
            torch.nn.init.normal_(self.b.weight, std=-1.0)  # refused by torch's check

    m = BadLib()
    with torch.no_grad():
        m.norm.weight.fill_(3.0)
    snap = _snapshot(m)
    with pytest.raises(RuntimeError, match="normal expects std >= 0.0"):
        init_module_(m, seed=1)
    _unchanged(m, snap)


def test_raising_reset_parameters_restores_every_tensor():
    class Boom(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.full((4,), 2.0))

        def reset_parameters(self):
            with torch.no_grad():
                self.w.fill_(9.0)  # written, then the call fails
            raise RuntimeError("boom")

    m = nn.Sequential(OrderedDict(first=nn.Linear(4, 4), boom=Boom(), bn=nn.BatchNorm1d(4)))
    with torch.no_grad():
        m.bn.running_mean.fill_(5.0)
    snap = _snapshot(m)
    with pytest.raises(RuntimeError, match="boom"):
        init_module_(m, seed=1)
    _unchanged(m, snap)


def test_library_init_weights_called_after_defaults():
    class Lib(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(32, 32)
            self.extra = nn.Parameter(torch.empty(5))

        def init_weights(self):
            nn.init.constant_(self.lin.bias, 0.5)
            nn.init.uniform_(self.extra, 10.0, 11.0)

    m = Lib()
    init_module_(m, seed=2)
    check_const(m.lin.bias, 0.5, "lin.bias")
    assert ((m.extra >= 10) & (m.extra < 11)).all()
    check_uniform(m.lin.weight, 1 / math.sqrt(32), "lin.weight")
    m2 = Lib()
    with torch.no_grad():
        m2.extra.fill_(3.0)
    with pytest.warns(UserWarning, match="extra"):
        init_module_(m2, seed=2, library_init=False)
    check_const(m2.extra, 3.0, "extra")


def test_library_init_runs_in_program_order():
    """The library init runs for real after torch's defaults: its writes see the values of
    the calls before them, and each of its random ops is its tensor's next key."""
    class Lib(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(16, 16)
            self.b = nn.Linear(16, 16)

        def init_weights(self):
            nn.init.normal_(self.a.weight, std=0.5)
            with torch.no_grad():
                self.a.weight.fill_(2.0)  # after the nn.init call: this write wins
                self.b.weight.mul_(0).add_(3.0)  # the default's values times 0, plus 3
            nn.init.zeros_(self.a.bias[:4])  # a view: the default's values stay in the rest

    m = Lib()
    init_module_(m, seed=5)
    check_const(m.a.weight, 2.0, "a.weight")
    check_const(m.b.weight, 3.0, "b.weight")
    check_const(m.a.bias[:4], 0.0, "a.bias[:4]")
    bias = fastinit.uniform_(torch.empty(16), -0.25, 0.25, seed=derive_seed(5, "a.bias"))
    assert torch.equal(m.a.bias[4:], bias[4:])


def test_init_module_inside_patch_torch_init_gives_the_same_model():
    """init_module_ runs reset_parameters under its own patch; inside a user's open
    patch_torch_init block (already patched, reference-counted) the values are the same."""
    nn = torch.nn

    class Custom(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.empty(64, 32))
            self.reset_parameters()

        def reset_parameters(self):
            nn.init.xavier_normal_(self.w)

    def build():
        return nn.Sequential(nn.Linear(32, 16), Custom(), nn.LayerNorm(8))

    a, b = build(), build()
    fastinit.init_module_(a, seed=5)
    with fastinit.patch_torch_init():
        fastinit.init_module_(b, seed=5)
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(x, y), name
