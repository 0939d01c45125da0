"""deferred_init / materialize_ (issue 10), in one process.

Every model is compared with its own eager build (torch's constructor run for real), built
twice with different torch seeds: a tensor equal in both eager builds is a constant or a
computed buffer and must be bit-identical after materialize_; elements zero in both (a
padding row) must be zero too; every other tensor is random and, with at least 1000
elements, must pass a two-sample KS test against the eager build (p > 1e-6) for several
materialize_ seeds. Every fresh allocation of materialize_ is poisoned (NaN, ints -1)
before the replay, so an element the replay does not write shows up as NaN. The
expectations come from torch's eager construction, never from fastinit.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

import torch  # noqa: E402  a test dependency: missing is a failure
nn = torch.nn
import scipy.stats as scipy_stats  # noqa: E402

import fastinit  # noqa: E402
import fastinit.models.deferred as deferred_mod  # noqa: E402
from fastinit import deferred_init, materialize_  # noqa: E402
from fastinit.models.deferred import DeferredInitError  # noqa: E402
from helpers import named_tensors  # noqa: E402

P_MIN = 1e-6
KS_MIN_ELEMENTS = 1000
_HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(autouse=True)
def poisoned(monkeypatch):
    """Fresh memory of materialize_ starts as NaN / -1: unwritten elements are visible."""
    monkeypatch.setattr(deferred_mod, "_POISON", True)


# --- the comparison with the eager build --------------------------------------------------


def tied_names(model):
    """Groups of names that are the same tensor object."""
    groups = {}
    for n, t in named_tensors(model).items():
        groups.setdefault(id(t), []).append(n)
    return sorted(sorted(g) for g in groups.values() if len(g) > 1)


def eager_pair(build):
    torch.manual_seed(101)
    a = build()
    torch.manual_seed(202)
    b = build()
    return a, b


def _np(x):
    return x.detach().to("cpu", torch.float64).reshape(-1).numpy()


def check_against_eager(build, seeds=(1, 2), what="", eager=None, make=None):
    """materialize_(deferred_init(build)) against two eager builds. Returns the last
    materialized model. ``make`` builds the deferred one (default deferred_init(build))."""
    e1, e2 = eager if eager is not None else eager_pair(build)
    E1, E2 = named_tensors(e1), named_tensors(e2)
    model = None
    n_random = n_exact = 0
    for s in seeds:
        model = make() if make is not None else deferred_init(build)
        assert all(t.is_meta for t in named_tensors(model).values() if t.numel()), f"{what}: not built on meta"
        materialize_(model, seed=s)
        D = named_tensors(model)
        assert sorted(D) == sorted(E1), f"{what}: names differ: {sorted(set(D) ^ set(E1))}"
        assert tied_names(model) == tied_names(e1), f"{what}: ties differ"
        for n, x in D.items():
            a, b = E1[n], E2[n]
            assert x.shape == a.shape and x.dtype == a.dtype, f"{what}: {n}: {x.shape} {x.dtype} vs {a.shape} {a.dtype}"
            assert x.device.type != "meta", f"{what}: {n} still on meta"
            assert type(x) is type(a), f"{what}: {n}: {type(x).__name__} vs {type(a).__name__}"
            x = x.detach().cpu()
            if x.is_floating_point():
                assert not x.isnan().any(), f"{what}: {n} has NaN (unwritten memory) after materialize_"
            if torch.equal(a, b):
                n_exact += 1
                assert torch.equal(x, a.detach()), f"{what}: {n} is a constant/computed tensor and differs from eager"
                continue
            n_random += 1
            if x.is_floating_point():
                # zeros in both eager builds: padding rows, masked parts (equal nonzero floats
                # do coincide by chance among millions of random values)
                fixed = (a == 0) & (b == 0)
                assert torch.equal(x[fixed], a[fixed]), f"{what}: {n}: elements zero in eager (e.g. padding) differ"
            if x.numel() >= KS_MIN_ELEMENTS:
                p = scipy_stats.ks_2samp(_np(x), _np(a)).pvalue
                assert p > P_MIN, f"{what}: {n}: KS p={p:.3g} against the eager build (seed {s}, n={x.numel()})"
    assert n_exact + n_random == len(E1) * len(seeds)
    return model


def state_equal(m1, m2):
    a, b = named_tensors(m1), named_tensors(m2)
    assert sorted(a) == sorted(b)
    return all(torch.equal(a[n].detach().cpu(), b[n].detach().cpu()) for n in a)


# --- a module that does everything in its constructor ---------------------------------------


class LayerScale(nn.Module):
    def __init__(self, dim, init_values=1e-5):
        super().__init__()
        self.gamma = nn.Parameter(init_values * torch.ones(dim))  # timm's layer scale


class Block(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, 4 * dim)
        self.fc2 = nn.Linear(4 * dim, dim)
        self.ls = LayerScale(dim)


class Everything(nn.Module):
    def __init__(self, vocab=300, dim=64, pad=5, max_pos=128):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim, padding_idx=pad)
        self.blocks = nn.ModuleList([Block(dim) for _ in range(2)])
        self.head = nn.Linear(dim, vocab, bias=False)
        self.head.weight = self.emb.weight  # tied
        self.direct = nn.Parameter(torch.randn(dim, 4 * dim) * 0.02)  # torch.randn parameter, scaled
        self.u = nn.Parameter(torch.rand(dim, dim))
        self.q = nn.Parameter(torch.empty(4 * dim, dim))
        self.q.data.normal_(0.0, 0.5)  # through .data
        self.orth = nn.Parameter(torch.empty(dim, 2 * dim))
        nn.init.orthogonal_(self.orth)  # a whole-tensor init fastinit does not have
        inv_freq = 1.0 / (10000 ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)  # computed, non-persistent
        t = torch.arange(max_pos, dtype=torch.float32)
        self.register_buffer("cos_cached", torch.outer(t, inv_freq).cos(), persistent=False)
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))  # int buffer
        self.register_buffer("position_ids", torch.arange(max_pos).expand((1, -1)), persistent=False)
        self.register_buffer("perm", torch.randperm(dim))  # an int RNG buffer
        self.register_buffer("mask", torch.tril(torch.ones(16, 16, dtype=torch.bool)))
        self.apply(self._init)
        with torch.no_grad():
            self.emb.weight[pad].zero_()  # padding row, after the tied head's init
            self.blocks[0].fc1.weight[:, :4] = 0  # an indexing write
            self.u.mul_(2).sub_(1)  # an in-place chain: U(-1, 1)

    def _init(self, m):
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            m.weight.data.fill_(1.0)
            m.bias.data.zero_()


def test_everything_matches_eager():
    m = check_against_eager(Everything, what="Everything")
    assert m.head.weight is m.emb.weight
    assert torch.equal(m.emb.weight[5], torch.zeros(64))
    assert torch.equal(m.blocks[0].fc1.weight[:, :4], torch.zeros(256, 4))
    assert torch.equal(m.perm.sort().values, torch.arange(64))  # a permutation
    assert m.u.min() >= -1 and m.u.max() < 1 and m.u.min() < -0.9 and m.u.max() > 0.9
    w = m.orth.detach().double()
    assert torch.allclose(w @ w.T, torch.eye(64, dtype=torch.float64), atol=1e-5)  # orthogonal rows
    assert m.blocks[0].ls.gamma.requires_grad and isinstance(m.direct, nn.Parameter)
    # the trunc_normal_ weights are trunc_normal, not the kaiming_uniform_ nn.Linear wrote first
    assert m.blocks[1].fc2.weight.std() < 0.025  # kaiming_uniform_ would give 0.036


def test_torch_transformer_matches_eager():
    def build():
        return nn.Transformer(d_model=64, nhead=4, num_encoder_layers=2, num_decoder_layers=2,
                              dim_feedforward=128, dropout=0.0)

    check_against_eager(build, what="nn.Transformer")


class Zoo(nn.Module):
    """torch's own modules, each with its reset_parameters."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(16, 32, 3)
        self.bn = nn.BatchNorm2d(32)
        self.lstm = nn.LSTM(32, 48, num_layers=2)
        self.gru = nn.GRUCell(16, 40)
        self.mha = nn.MultiheadAttention(64, 4, kdim=32, vdim=32, add_bias_kv=True)
        self.bag = nn.EmbeddingBag(100, 24, padding_idx=0)
        self.prelu = nn.PReLU(8)
        self.bil = nn.Bilinear(20, 30, 40)
        self.gn = nn.GroupNorm(4, 32)


def test_torch_modules_match_eager_and_work():
    m = check_against_eager(Zoo, what="Zoo")
    out, _ = m.lstm(torch.zeros(3, 2, 32))  # the LSTM's flat weights point at the real parameters
    assert torch.isfinite(out).all()
    assert all(not w.is_meta for w in m.lstm._flat_weights)


def test_same_seed_same_model_and_seed_none_follows_manual_seed():
    a = materialize_(deferred_init(Everything), seed=7)
    b = materialize_(deferred_init(Everything), seed=7)
    assert state_equal(a, b)
    c = materialize_(deferred_init(Everything), seed=8)
    assert not torch.equal(a.q, c.q) and torch.equal(a.inv_freq, c.inv_freq)
    torch.manual_seed(3)
    d = materialize_(deferred_init(Everything))
    torch.manual_seed(3)
    e = materialize_(deferred_init(Everything))
    assert state_equal(d, e)
    g = torch.Generator().manual_seed(5)
    f = materialize_(deferred_init(Everything), generator=g)
    g.manual_seed(5)
    h = materialize_(deferred_init(Everything), generator=g)
    assert state_equal(f, h) and not torch.equal(f.q, d.q)
    # materialize_ again on the real model is a no-op (torchdistx's rule): nothing is
    # written, no key is drawn from the default generator
    ptr = a.q.data_ptr()
    before = {n: t.clone() for n, t in named_tensors(a).items()}
    state = torch.get_rng_state()
    materialize_(a, seed=8)
    materialize_(a)
    assert torch.equal(torch.get_rng_state(), state)
    assert a.q.data_ptr() == ptr and all(torch.equal(t, before[n]) for n, t in named_tensors(a).items())


def test_values_keyed_by_seed_and_name():
    """The first RNG op of a tensor is fastinit's fill with seed derive_seed(s, name)."""
    from fastinit.core.seeds import derive_seed

    m = materialize_(deferred_init(Everything), seed=11)
    want = torch.empty(256, 64)
    fastinit.normal_(want, 0.0, 0.5, seed=derive_seed(11, "q"))
    assert torch.equal(m.q.detach(), want)
    # its 2nd RNG op (the trunc_normal_ after nn.Linear's kaiming_uniform_) is keyed "name#1"
    w = torch.empty(64, 256)
    fastinit.trunc_normal_(w, std=0.02, seed=derive_seed(11, "blocks.1.fc2.weight#1"))
    assert torch.equal(m.blocks[1].fc2.weight.detach(), w)


def test_threads_do_not_change_values():
    old_t, old_f = torch.get_num_threads(), fastinit.get_num_threads()
    try:
        torch.set_num_threads(1)
        fastinit.set_num_threads(1)
        a = materialize_(deferred_init(Everything, dim=128), seed=5)
        torch.set_num_threads(3)
        fastinit.set_num_threads(3)
        b = materialize_(deferred_init(Everything, dim=128), seed=5)
    finally:
        torch.set_num_threads(old_t)
        fastinit.set_num_threads(old_f)
    assert state_equal(a, b)


def test_submodule_order_does_not_change_values():
    class AB(nn.Module):
        def __init__(self, swap):
            super().__init__()
            if swap:
                self.b = nn.Linear(8, 8)
                self.a = nn.Linear(8, 8)
            else:
                self.a = nn.Linear(8, 8)
                self.b = nn.Linear(8, 8)

    x = materialize_(deferred_init(AB, False), seed=2)
    y = materialize_(deferred_init(AB, True), seed=2)
    assert torch.equal(x.a.weight, y.a.weight) and torch.equal(x.b.bias, y.b.bias)


def test_record_does_not_run_meta_kernels_fresh_process():
    """No dispatch mode and no meta kernel that imports torch._dynamo while recording."""
    script = textwrap.dedent(f"""
        import sys, json
        sys.path.insert(0, {_HERE!r})
        import torch, fastinit
        from test_deferred import Everything
        m = fastinit.deferred_init(Everything)
        print(json.dumps({{"dynamo": "torch._dynamo" in sys.modules,
                          "meta": all(p.is_meta for p in m.parameters())}}))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert res == {"dynamo": False, "meta": True}


# --- what raises ---------------------------------------------------------------------------


def test_values_of_deterministic_tensors_are_computed():
    class Rates(nn.Module):  # timm: drop-path rates from torch.linspace(...).tolist()
        def __init__(self):
            super().__init__()
            rates = [x.tolist() for x in torch.linspace(0, 0.5, 6).split([2, 4])]
            self.n = int(torch.arange(5).sum())
            self.w = nn.Parameter(torch.full((2,), rates[1][-1]))

    m = materialize_(deferred_init(Rates), seed=0)
    assert m.n == 10 and torch.equal(m.w, torch.full((2,), 0.5))


def test_value_dependent_shapes():
    class Picks(nn.Module):
        def __init__(self):
            super().__init__()
            r = torch.arange(10)
            self.register_buffer("even", torch.nonzero(r % 2 == 0).flatten())
            self.register_buffer("big", r[r > 6] * 2)
            self.w = nn.Parameter(torch.randn(4))

    m = check_against_eager(Picks, what="Picks")
    assert m.even.tolist() == [0, 2, 4, 6, 8] and m.big.tolist() == [14, 16, 18]

    class RandomPick(nn.Module):
        def __init__(self):
            super().__init__()
            w = torch.randn(8)
            self.register_buffer("pos", w[w > 0])

    with pytest.raises(DeferredInitError, match=r"values of a random tensor"):
        deferred_init(RandomPick)


def test_value_dependent_op_raises_naming_it():
    class Bad(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.randn(4))
            if self.w.sum().item() > 0:
                pass

    with pytest.raises(DeferredInitError, match=r"item\(\)"):
        deferred_init(Bad)


def test_unwritten_empty_raises_naming_the_tensor():
    class Half(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.empty(4, 4))
            with torch.no_grad():
                self.w[:2].fill_(1.0)

    m = deferred_init(Half)
    with pytest.raises(DeferredInitError, match=r"w: 8 of 16 elements .* never written"):
        materialize_(m, seed=0)


def test_meta_tensor_from_outside_raises_naming_the_parameter():
    outside = torch.empty(3, device="meta")

    class Uses(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(outside * 2)

    with pytest.raises(DeferredInitError, match=r"w: a meta tensor that was not created under deferred_init"):
        deferred_init(Uses)


def test_meta_tensor_added_after_deferred_init_raises():
    m = deferred_init(nn.Linear, 4, 4)
    m.extra = nn.Parameter(torch.empty(3, device="meta"))
    with pytest.raises(DeferredInitError, match=r"added after deferred_init .*: extra"):
        materialize_(m, seed=0)


def test_resize_raises():
    class R(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.empty(2))
            self.w.data.resize_(4)

    with pytest.raises(DeferredInitError, match="resize_"):
        deferred_init(R)


def test_materialize_needs_a_record():
    with pytest.raises(DeferredInitError, match="not built by fastinit.deferred_init"):
        materialize_(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="seed must be in"):
        materialize_(deferred_init(nn.Linear, 2, 2), seed=-1)


def test_torch_nn_init_restored_and_real_tensors_untouched():
    before = {n: getattr(torch.nn.init, n) for n in ("normal_", "trunc_normal_", "orthogonal_", "zeros_")}
    real = torch.ones(3)

    class K(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 3)
            torch.nn.init.zeros_(real)  # a real tensor: torch's function runs for real

    deferred_init(K)
    assert {n: getattr(torch.nn.init, n) for n in before} == before
    assert torch.equal(real, torch.zeros(3))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_equals_cpu():
    a = materialize_(deferred_init(Everything), "cpu", seed=9)
    b = materialize_(deferred_init(Everything), "cuda", seed=9)
    assert b.q.device.type == "cuda"
    for n, t in named_tensors(a).items():
        u = named_tensors(b)[n].cpu()
        if n == "orth":  # torch's QR on the seeded CPU generator's values, then copied: same
            assert torch.equal(t, u), n
        elif n == "cos_cached":  # torch's own cos on each device
            assert torch.allclose(t, u, atol=1e-6), n
        else:
            assert torch.equal(t, u), n


# --- issue 17: what materialize_ may write ---------------------------------------------------


class TiedLM(nn.Module):
    def __init__(self, vocab=50, dim=16):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim)
        self.body = nn.Linear(dim, dim)
        self.head = nn.Linear(dim, vocab, bias=False)
        self.head.weight = self.emb.weight


def test_partial_checkpoint_assign_then_materialize_keeps_loaded_tensors():
    """Issue 17, defect 14: load_state_dict(ckpt, assign=True) on a deferred model, then
    materialize_ for the tensors the checkpoint lacks. The loaded tensors are the
    checkpoint's own (not re-randomized) and the checkpoint dict is not written."""
    m = deferred_init(TiedLM)
    g = torch.Generator().manual_seed(0)
    ckpt = {"body.weight": torch.randn(16, 16, generator=g), "body.bias": torch.randn(16, generator=g)}
    saved = {k: v.clone() for k, v in ckpt.items()}
    m.load_state_dict(ckpt, strict=False, assign=True)
    materialize_(m, seed=3)
    for k in ckpt:
        assert torch.equal(ckpt[k], saved[k]), f"the checkpoint's {k} was overwritten"
    assert torch.equal(m.body.weight.detach(), saved["body.weight"]), "a loaded weight was re-initialized"
    assert torch.equal(m.body.bias.detach(), saved["body.bias"])
    # what the checkpoint lacks is materialized as without it, and ties kept
    ref = materialize_(deferred_init(TiedLM), seed=3)
    assert torch.equal(m.emb.weight, ref.emb.weight) and m.head.weight is m.emb.weight
    assert not m.emb.weight.isnan().any()


def test_tied_parameter_restored_after_partial_materialize():
    """Issue 17, defect 13: materialize_(m.head) with head.weight tied to emb.weight, then
    materialize_(m): one tensor, with the values of a whole-model materialize_ (either order)."""
    ref = materialize_(deferred_init(TiedLM), seed=4)
    for first in ("head", "emb"):
        m = deferred_init(TiedLM)
        materialize_(getattr(m, first), seed=4)
        materialize_(m, seed=4)
        assert m.head.weight is m.emb.weight, f"{first} first: the tie is broken"
        assert state_equal(m, ref), f"{first} first: values differ from a whole-model materialize_"


# --- issue 17: recording is per thread, and nests ---------------------------------------------


class TruncInit(nn.Module):
    """A constructor that calls torch.nn.init.trunc_normal_ (swapped for a recorder: torch's
    returns early on meta) while another thread's deferred_init is open (``barrier``)."""

    def __init__(self, barrier=None, dim=64):
        super().__init__()
        if barrier is not None:
            barrier.wait(timeout=60)
        self.w = nn.Parameter(torch.empty(dim, dim))
        nn.init.trunc_normal_(self.w, std=0.02)
        if barrier is not None:
            barrier.wait(timeout=60)
        self.fc = nn.Linear(dim, dim)
        nn.init.trunc_normal_(self.fc.weight, std=0.02)


def test_two_threads_record_at_once():
    """Issue 17, defect 11: two deferred_init calls at the same time in two threads give two
    correct models (the nn.init swap used to route both threads to one recorder)."""
    import threading

    barrier = threading.Barrier(2)
    built, errors = [None, None], []

    def work(i):
        try:
            built[i] = materialize_(deferred_init(TruncInit, barrier), seed=9)
        except BaseException as e:  # noqa: BLE001  reported below
            errors.append(e)
            barrier.abort()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    ref = materialize_(deferred_init(TruncInit), seed=9)
    for m in built:
        assert state_equal(m, ref)
        assert float(m.w.detach().std()) < 0.03 and float(m.fc.weight.detach().std()) < 0.03
    # and an eager build in a third thread while one records: torch's own functions
    assert nn.init.trunc_normal_.__module__ == "torch.nn.init"


class InnerEager(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = nn.Linear(40, 40)
        self.fc = nn.Linear(40, 40)


class InnerNested(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = deferred_init(nn.Linear, 40, 40)
        self.fc = nn.Linear(40, 40)


def test_nested_deferred_init_default_device():
    """Issue 17, defect 12: a deferred_init inside another one's constructor, materialize_
    with the default device: every tensor real (it used to stay on meta), as eager builds."""
    check_against_eager(InnerEager, what="nested", make=lambda: deferred_init(InnerNested))
    m = materialize_(deferred_init(InnerNested), seed=1)
    assert all(t.device.type == "cpu" for t in named_tensors(m).values())
    assert state_equal(m, materialize_(deferred_init(InnerEager), seed=1))


def test_module_instance_is_a_type_error():
    """Issue 19: deferred_init(nn.Linear(4, 4)) (an instance) raises a TypeError that says
    to pass the class (it used to call forward())."""
    with pytest.raises(TypeError, match=r"not a Linear instance.*deferred_init\(Linear, \*args\)"):
        deferred_init(nn.Linear(4, 4))


# --- issue 17: legacy constructors ----------------------------------------------------------


class Legacy(nn.Module):
    """XLNet's nn.Parameter(torch.FloatTensor(n, m)), Wav2Vec2's torch.Tensor(n).uniform_(),
    LeViT's torch.LongTensor(list), EnCodec's torch.Tensor([True])."""

    def __init__(self):
        super().__init__()
        self.q = nn.Parameter(torch.FloatTensor(40, 50))
        nn.init.normal_(self.q, std=0.02)
        self.masked_spec_embed = nn.Parameter(torch.Tensor(2000).uniform_())
        self.register_buffer("idx", torch.LongTensor([3, 1, 2]))
        self.register_buffer("flag", torch.Tensor([True]))
        self.register_buffer("sizes", torch.Tensor(torch.Size([2, 3])).fill_(0.5))


def test_legacy_constructors_are_recorded_and_seeded_by_name():
    """Issue 17, defect 6: legacy constructors are deferred (meta, no global RNG draw at
    deferred_init) and seeded by name at materialize_ (the same seed twice: the same values)."""
    from fastinit.core.seeds import derive_seed

    torch.manual_seed(0)
    state = torch.get_rng_state()
    m = deferred_init(Legacy)
    assert torch.equal(torch.get_rng_state(), state), "deferred_init drew from torch's global RNG"
    assert all(t.is_meta for t in named_tensors(m).values())
    a = materialize_(m, seed=3)
    b = materialize_(deferred_init(Legacy), seed=3)
    assert state_equal(a, b)
    want = torch.empty(2000)
    fastinit.uniform_(want, 0.0, 1.0, seed=derive_seed(3, "masked_spec_embed"))
    assert torch.equal(a.masked_spec_embed.detach(), want)
    check_against_eager(Legacy, what="Legacy")
    assert isinstance(torch.zeros(1), torch.FloatTensor) and torch.FloatTensor.__module__ == "torch"


class ForwardNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 8)
        self.proj = nn.Linear(8, 8, bias=False)
        self.conv = nn.Conv1d(8, 8, 3)


def test_forward_before_materialize_raises_naming_the_module():
    """Issue 17, defect 15: forward() before materialize_ used to return uninitialized memory
    (Linear(bias=False), Conv1d) or a meta tensor (Embedding). It raises, naming the module;
    after materialize_ it runs (and the model pickles)."""
    import io

    m = deferred_init(ForwardNet)
    with pytest.raises(DeferredInitError, match=r"proj \(Linear\)\.forward\(\) called before materialize_: weight"):
        m.proj(torch.ones(2, 8))
    with pytest.raises(DeferredInitError, match=r"conv \(Conv1d\)\.forward\(\).*weight, bias"):
        m.conv(torch.ones(1, 8, 5))
    with pytest.raises(DeferredInitError, match=r"emb \(Embedding\)\.forward\(\)"):
        m.emb(torch.tensor([1, 2]))
    materialize_(m.proj, seed=1)
    assert torch.isfinite(m.proj(torch.ones(2, 8))).all()
    with pytest.raises(DeferredInitError, match=r"emb \(Embedding\)"):
        m.emb(torch.tensor([1, 2]))
    materialize_(m, seed=1)
    assert torch.isfinite(m.conv(m.proj(m.emb(torch.tensor([[1, 2, 3]]))).transpose(1, 2))).all()
    assert not any(len(x._forward_pre_hooks) for x in m.modules())
    torch.save(m, io.BytesIO())  # the hook check is picklable (module level); the model too


class DeviceBranch(nn.Module):
    """Takes a branch on a tensor's device, as some constructors do."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.empty(40, 40))
        nn.init.normal_(self.w)
        on_cpu = self.w.device.type == "cpu" and self.w.is_cpu and not self.w.is_meta and not self.w.is_cuda
        self.register_buffer("path", torch.ones(3) if on_cpu else torch.zeros(3))
        derived = self.w * 2
        self.register_buffer("derived_on_w_device", torch.full((2,), float(derived.device == self.w.device)))


def test_constructor_sees_the_eager_device():
    """Issue 17, defect 16: a constructor branching on t.device / t.is_meta saw meta under
    deferred_init and silently took the other branch; it sees the eager device (CPU here)."""
    m = check_against_eager(DeviceBranch, what="DeviceBranch")
    assert torch.equal(m.path, torch.ones(3)) and torch.equal(m.derived_on_w_device, torch.ones(2))


class OutCalls(nn.Module):
    """out= calls on recorded tensors, and spectral_norm (which normalizes with out=)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("ar", torch.empty(6))
        torch.arange(6, out=self.ar)
        self.register_buffer("plus", torch.empty(6))
        torch.add(self.ar, 1, out=self.plus)
        self.register_buffer("unit", torch.empty(2, 3))
        nn.functional.normalize(self.ar.view(2, 3), dim=0, out=self.unit)
        self.sn = nn.utils.parametrizations.spectral_norm(nn.Linear(40, 40))


def test_out_calls_replay_as_out():
    """Issue 17, defect 7: every out= call on a recorded tensor failed at replay (the
    destination was passed positionally); spectral_norm could not be materialized."""
    m = check_against_eager(OutCalls, what="OutCalls")
    assert torch.equal(m.ar, torch.arange(6.0)) and torch.equal(m.plus, torch.arange(1.0, 7.0))
    assert torch.isfinite(m.sn(torch.ones(2, 40))).all()


class SparseInit(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.empty(60, 50))
        nn.init.sparse_(self.w, sparsity=0.3)


def test_sparse_positions_follow_the_seed():
    """Issue 17, defect 8: nn.init.sparse_ under deferred_init took its zero positions from
    torch's global RNG; they come from fastinit's key (derive_seed(seed, name))."""
    from fastinit.core.seeds import derive_seed

    torch.manual_seed(1)
    a = materialize_(deferred_init(SparseInit), seed=5)
    torch.manual_seed(2)
    b = materialize_(deferred_init(SparseInit), seed=5)
    assert torch.equal(a.w, b.w), "the same seed gave different sparse_ values"
    want = torch.empty(60, 50)
    fastinit.sparse_(want, 0.3, seed=derive_seed(5, "w"))
    assert torch.equal(a.w.detach(), want)
    assert int((a.w == 0).sum(0).min()) == 18  # ceil(0.3 * 60) zeros per column, as torch


class LazyDryRun(nn.Module):
    def __init__(self):
        super().__init__()
        self.l = nn.LazyLinear(4)
        self.l(torch.ones(2, 3))


def test_orthogonal_parametrization_and_lazy_dry_run_raise_naming_op_and_tensor():
    """Issue 17, defects 9 and 10: nn.utils.parametrizations.orthogonal inside deferred_init
    raised torch's raw 'Tensor.item() cannot be called on meta tensors'; a lazy module's dry
    run failed in set_data. Both are DeferredInitErrors naming the op and the tensor."""
    with pytest.raises(DeferredInitError, match=r"torch\.allclose on a recorded tensor \(\(6, 6\), torch.float32\)"):
        deferred_init(lambda: nn.utils.parametrizations.orthogonal(nn.Linear(6, 6)))
    with pytest.raises(DeferredInitError, match=r"Tensor\.data = a recorded tensor \(4, 3\) on a real "
                                                r"UninitializedParameter: a lazy module's dry run"):
        deferred_init(LazyDryRun)


# --- torchdistx's names ------------------------------------------------------------------------


def test_torchdistx_names():
    """torchdistx.deferred_init's is_deferred, materialize_tensor, materialize_module work
    as torchdistx documents them, with materialize_'s values for the same seed."""
    from fastinit.models.deferred import is_deferred, materialize_module, materialize_tensor

    ref = materialize_(deferred_init(Everything), seed=6)
    m = deferred_init(Everything)
    assert is_deferred(m) and is_deferred(m.q) and not is_deferred(torch.zeros(2))
    q = materialize_tensor(m.q, seed=6)
    assert isinstance(q, nn.Parameter) and torch.equal(q, ref.q) and m.q.is_meta
    inv = materialize_tensor(m.inv_freq, seed=6)  # a computed buffer, with its dependencies
    assert torch.equal(inv, ref.inv_freq)
    materialize_module(m, buffers_only=True, seed=6)
    assert all(not b.is_meta for b in m.buffers()) and any(p.is_meta for p in m.parameters())
    materialize_module(m, check_fn=lambda sub: isinstance(sub, nn.Linear), seed=6)
    assert all(not p.is_meta for sub in m.modules() if isinstance(sub, nn.Linear) for p in sub.parameters())
    assert is_deferred(m)
    materialize_module(m, seed=6)
    assert not is_deferred(m) and state_equal(m, ref)
    with pytest.raises(TypeError, match="is_deferred expects"):
        is_deferred(3)


def test_reinterpreting_view_of_a_complex_tensor():
    """timm's csatv2 builds its DCT matrix from ``.real`` of a complex tensor and writes
    through that view. Before, materialize_ raised DeferredInitError (``replaying
    torch.contiguous failed: setStorage ... out of bounds``): it laid the float64 view's
    strides over the complex storage."""

    class Dct(nn.Module):
        def __init__(self):
            super().__init__()
            v = torch.fft.fft(torch.eye(8, dtype=torch.float64), dim=-1)
            k = torch.exp(torch.tensor(-1j, dtype=torch.complex128) * torch.arange(8)[None, :] / 16)
            r = (v * k).real
            r[:, 0] = r[:, 0] * 0.5
            r[:, 1:] = r[:, 1:] * 2.0
            self.register_buffer("w", r.contiguous())
            self.register_buffer("as_ints", torch.ones(4).view(torch.int32).clone())
            self.lin = nn.Linear(8, 8)

    check_against_eager(Dct, what="Dct")
