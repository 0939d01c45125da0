"""Worker side of tests/test_distributed.py: the named cases every rank of a process
group runs, and the process entry point `main`.

The parent (a module-scoped fixture in test_distributed.py) starts one process group per
world size with the multiprocessing "spawn" context; every rank runs `cases(world, device)`
in the same order, one case after another, and appends one JSON line per case to
`<outdir>/rank<r>.jsonl`: {"id", "status": "pass" | "fail", "msg"}. stdout and stderr go to
`<outdir>/rank<r>.log`. The parent's tests assert on those lines, one test per case id.

Rules every case follows, so that a failure on one rank cannot desynchronize the group:
* every rank runs the same collectives in the same order whatever happens locally: a call
  under test is wrapped (`attempt`), its exception kept, the gathers done anyway, and the
  exception reported afterwards;
* after each case the ranks all-reduce the case index and stop (reporting the remaining
  cases as not run) if the group disagrees or a collective failed;
* a case passes only if it made at least one comparison of real data (`Ctx.checks`).

Expected values are never hard-coded: a DTensor fill is compared, bit for bit, with the
same fastinit call on a plain tensor of the global shape in the same process (docs/STREAM.md section
2: an element's value depends only on (seed, offset + row-major index)); torch's own
behaviour is compared with torch's single-process output.
"""
from __future__ import annotations

import faulthandler
import json
import math
import os
import signal
import sys
import time
import traceback
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Callable

import fastinit
import torch
import torch.nn as nn

SQRT5 = math.sqrt(5.0)
NAN = float("nan")
DTYPES = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16,
          "bfloat16": torch.bfloat16}
DTYPE_NAMES = list(DTYPES)
INT_OF_SIZE = {2: torch.int16, 4: torch.int32, 8: torch.int64}
PG_TIMEOUT_S = 30  # a desynchronized collective fails after this instead of hanging


# --- the fills under test -------------------------------------------------------------------


@dataclass(frozen=True)
class Fill:
    label: str  # used in case ids
    name: str  # the fastinit function
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    min_ndim: int = 0  # fan-based functions need 2 dims
    random: bool = True  # takes seed=/offset= and draws a key without one

    def __call__(self, t, *, seed=None, offset=0, generator=None, mod=fastinit):
        kw = dict(self.kwargs)
        if self.random:
            kw["seed"] = seed
            kw["offset"] = offset
            if generator is not None:
                kw["generator"] = generator
        return getattr(mod, self.name)(t, *self.args, **kw)


FILLS = {f.label: f for f in [
    Fill("uniform", "uniform_", (-0.5, 2.0)),
    Fill("kaiming_uniform", "kaiming_uniform_", (), {"a": SQRT5}, 2),
    Fill("kaiming_uniform_fanout_relu", "kaiming_uniform_", (), {"mode": "fan_out", "nonlinearity": "relu"}, 2),
    Fill("xavier_uniform", "xavier_uniform_", (), {"gain": 1.5}, 2),
    Fill("normal", "normal_", (), {"mean": 0.5, "std": 2.0}),
    Fill("kaiming_normal", "kaiming_normal_", (), {"a": 0.1}, 2),
    Fill("kaiming_normal_fanout_relu", "kaiming_normal_", (), {"mode": "fan_out", "nonlinearity": "relu"}, 2),
    Fill("xavier_normal", "xavier_normal_", (), {"gain": 2.0}, 2),
    Fill("trunc_normal", "trunc_normal_", (), {"std": 0.02, "a": -0.04, "b": 0.04}),
    Fill("constant", "constant_", (0.25,), random=False),
    Fill("ones", "ones_", random=False),
    Fill("zeros", "zeros_", random=False),
]}
RANDOM_FILLS = [f for f in FILLS.values() if f.random]


# --- placements, written as short specs so that ids read well ------------------------------
# "S0", "S1", "S-1": Shard(d); "R": Replicate(); "P": Partial(); "SS0/2": _StridedShard(0, 2).
# A placement tuple has one spec per mesh dim; the mesh is "1d" (world,) or "2x2".


def placement(spec):
    from torch.distributed.tensor import Partial, Replicate, Shard
    from torch.distributed.tensor.placement_types import _StridedShard

    if spec == "R":
        return Replicate()
    if spec == "P":
        return Partial()
    if spec.startswith("SS"):
        d, sf = spec[2:].split("/")
        return _StridedShard(int(d), split_factor=int(sf))
    if spec.startswith("S"):
        return Shard(int(spec[1:]))
    raise ValueError(spec)


def pl_id(mesh, pls):
    return f"{mesh}-{'+'.join(pls)}"


def shape_id(shape):
    return "x".join(map(str, shape))


# --- per-rank context ----------------------------------------------------------------------


class Ctx:
    def __init__(self, rank, world, device):
        self.rank, self.world, self.device = rank, world, device
        self.meshes = {}
        self.checks = 0

    # meshes are all made up front in main(), in the same order on every rank
    def make_meshes(self):
        from torch.distributed.device_mesh import init_device_mesh

        dev = "cuda" if self.device.startswith("cuda") else "cpu"
        self.meshes["1d"] = init_device_mesh(dev, (self.world,))
        if self.world == 4:
            m = init_device_mesh(dev, (2, 2), mesh_dim_names=("dp", "tp"))
            self.meshes["2x2"] = m
            self.meshes["dp"] = m["dp"]
            self.meshes["tp"] = m["tp"]

    def mesh(self, name):
        return self.meshes[name]

    # checks ---------------------------------------------------------------------------

    def check(self, cond, msg):
        self.checks += 1
        if not cond:
            raise AssertionError(msg)

    def same_bits(self, got, want, what):
        """got and want hold the same bits (want is a single-process reference)."""
        self.checks += 1
        if got.dtype != want.dtype or tuple(got.shape) != tuple(want.shape):
            raise AssertionError(f"{what}: got {got.dtype} {tuple(got.shape)}, want {want.dtype} {tuple(want.shape)}")
        g, w = bits(got).reshape(-1), bits(want).reshape(-1)
        bad = torch.nonzero(g != w).reshape(-1)
        if bad.numel():
            i = int(bad[0])
            idx = tuple(int(x) for x in torch.unravel_index(torch.tensor(i), tuple(want.shape)))
            gv = got.detach().reshape(-1)[i].item()
            wv = want.detach().reshape(-1)[i].item()
            raise AssertionError(
                f"{what}: {bad.numel()} of {w.numel()} elements differ; first at index {idx}: "
                f"want {wv!r} (bits {int(w[i]):#x}), got {gv!r} (bits {int(g[i]):#x})")

    def real(self, t, what):
        """A reference really was written: no sentinel NaN left, not empty."""
        self.check(t.numel() > 0 and not bool(torch.isnan(t.float()).any()),
                   f"{what}: the single-process reference is empty or still holds the NaN sentinel")

    def same_rng(self, got_state, want_state, what):
        self.check(torch.equal(got_state, want_state),
                   f"{what}: torch.default_generator's state differs from the single-process run's "
                   f"(a different number of draws)")


def bits(t):
    t = t.detach().contiguous().cpu()
    return t.view(INT_OF_SIZE[t.element_size()])


def attempt(fn, *args, **kwargs):
    """(result, None) or (None, formatted exception): the caller keeps its collectives."""
    try:
        return fn(*args, **kwargs), None
    except Exception as e:  # noqa: BLE001
        return None, f"{type(e).__name__}: {e}\n{traceback.format_exc()}"


def raise_if(err, what):
    if err is not None:
        raise AssertionError(f"{what} raised on rank: {err}")


# --- DTensor construction (no values scattered) ---------------------------------------------


def make_dtensor(ctx, shape, dtype, mesh, pls, fill=NAN):
    """A DTensor of global `shape` whose local shard holds `fill`. Shard/Replicate layouts
    are split locally by torch's distribute_tensor(src_data_rank=None); _StridedShard and
    Partial (which distribute_tensor cannot make) come from from_local with the local shape
    torch computes."""
    from torch.distributed.tensor import DTensor, distribute_tensor
    from torch.distributed.tensor._utils import compute_local_shape_and_global_offset

    m = ctx.mesh(mesh)
    placements = [placement(p) for p in pls]
    dt_ = DTYPES[dtype] if isinstance(dtype, str) else dtype
    if any(p.startswith("SS") or p == "P" for p in pls):
        if any(p.startswith("S") for p in pls):
            local_shape, _ = compute_local_shape_and_global_offset(shape, m, placements)
        else:
            local_shape = tuple(shape)
        stride = torch.empty(shape, device="meta").stride()
        local = torch.full(local_shape, fill, dtype=dt_, device=ctx.device)
        return DTensor.from_local(local, m, placements, run_check=False, shape=torch.Size(shape), stride=stride)
    d = distribute_tensor(torch.empty(shape, dtype=dt_, device=ctx.device), m, placements, src_data_rank=None)
    with torch.no_grad():
        d.to_local().fill_(fill)
    return d


def plain(ctx, shape, dtype, fill=NAN):
    return torch.full(shape, fill, dtype=DTYPES[dtype] if isinstance(dtype, str) else dtype, device=ctx.device)


# --- case kinds ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    run: Callable
    cuda: bool = False  # also in the small CUDA (nccl) selection


def fill_case(fill, shape, dtype, mesh, pls, seed, offset=0, rng_seed=None):
    """One fill on a DTensor, compared with the same call on a plain tensor of the global
    shape. seed=None: both run after torch.manual_seed(rng_seed) and must leave
    torch.default_generator in the same state."""

    def run(ctx):
        dt = make_dtensor(ctx, shape, dtype, mesh, pls)
        if seed is None:
            torch.manual_seed(rng_seed)
        r, err = attempt(fill, dt, seed=seed, offset=offset)
        state = torch.get_rng_state()
        full = dt.full_tensor()  # always: keeps the ranks' collectives aligned
        raise_if(err, f"fastinit.{fill.name} on the DTensor")
        ref = plain(ctx, shape, dtype)
        if seed is None:
            torch.manual_seed(rng_seed)
        fill(ref, seed=seed, offset=offset)
        ctx.real(ref, "reference")
        ctx.same_bits(full, ref, f"{fill.name}{fill.args}{fill.kwargs}: full_tensor()")
        ctx.check(r is dt, f"fastinit.{fill.name} returned {type(r).__name__}, not the DTensor it was given")
        if seed is None:
            ctx.same_rng(state, torch.get_rng_state(), "after the fill")
    return run


def sequence_case(steps, rng_seed, generator=False):
    """Several fills with seed=None after one torch.manual_seed(rng_seed) (or one seeded
    torch.Generator passed as generator=), against the same sequence on plain tensors:
    every rank must draw the same keys, also a rank whose shard is empty.
    steps: [(fill, shape, dtype, mesh, placements)]."""

    def run(ctx):
        dts = [make_dtensor(ctx, shape, dtype, mesh, pls) for _, shape, dtype, mesh, pls in steps]
        g = torch.Generator().manual_seed(rng_seed) if generator else None
        torch.manual_seed(rng_seed)
        errs = [attempt(step[0], dt, generator=g)[1] for step, dt in zip(steps, dts)]
        state = (g or torch.default_generator).get_state()
        fulls = [dt.full_tensor() for dt in dts]
        for i, err in enumerate(errs):
            raise_if(err, f"step {i}: fastinit.{steps[i][0].name} on the DTensor")
        g = torch.Generator().manual_seed(rng_seed) if generator else None
        torch.manual_seed(rng_seed)
        refs = []
        for fill, shape, dtype, _, _ in steps:
            refs.append(fill(plain(ctx, shape, dtype), generator=g))
        for i, (full, ref) in enumerate(zip(fulls, refs)):
            ctx.real(ref, f"step {i} reference")
            ctx.same_bits(full, ref, f"step {i} ({steps[i][0].label} {steps[i][1]} {steps[i][3]}{list(steps[i][4])})")
        ctx.same_rng(state, (g or torch.default_generator).get_state(), "after the sequence")
    return run


def raised(fn):
    """The exception fn() raises, or None."""
    try:
        fn()
    except Exception as e:  # noqa: BLE001
        return e
    return None


def _type_and_message(e):
    return None if e is None else (type(e), str(e))


def error_parity_case(fill, shape, dtype, mesh, pls):
    """A call that raises on a plain tensor of the global shape raises the same exception
    (type and message) on the DTensor, and writes nothing."""

    def run(ctx):
        dt = make_dtensor(ctx, shape, dtype, mesh, pls, fill=7.0)
        before = dt.to_local().clone()
        torch.manual_seed(5)
        state = torch.get_rng_state()
        got = _type_and_message(raised(lambda: fill(dt)))
        torch.manual_seed(5)
        want = _type_and_message(raised(lambda: fill(plain(ctx, shape, dtype))))
        ctx.check(want is not None, "the plain-tensor call did not raise: the case is wrong")
        ctx.check(got == want, f"DTensor call gave {got!r}, the plain tensor {want!r}")
        ctx.same_bits(dt.to_local(), before, "local shard after a refused call")
        ctx.same_rng(torch.get_rng_state(), state, "a refused call drew")
    return run


def partial_case(fill, shape, dtype, mesh, pls, seed):
    """A DTensor with a Partial placement is refused: ValueError naming Partial, the local
    tensor unchanged, no key drawn."""

    def run(ctx):
        dt = make_dtensor(ctx, shape, dtype, mesh, pls, fill=7.0)
        before = dt.to_local().clone()
        torch.manual_seed(11)
        state = torch.get_rng_state()
        got = raised(lambda: fill(dt, seed=seed))
        ctx.check(isinstance(got, ValueError) and "Partial" in str(got),
                  f"expected ValueError mentioning 'Partial', got {type(got).__name__}: {got}")
        ctx.same_bits(dt.to_local(), before, "local shard after the refused call")
        ctx.same_rng(torch.get_rng_state(), state, "the refused call drew")
    return run


# --- fastinit.distributed.assert_same_seed ----------------------------------------------------


def _assert_same_seed(**kw):
    import fastinit.distributed as fd

    return fd.assert_same_seed(**kw)


def seed_agree_case(use_mesh=None, use_generator=False):
    def run(ctx):
        kw = {}
        if use_mesh:
            kw["mesh"] = ctx.mesh(use_mesh)
        g = None
        if use_generator:
            # the default generators disagree; the given one agrees
            torch.manual_seed(100 + ctx.rank)
            g = torch.Generator().manual_seed(21)
            kw["generator"] = g
        else:
            torch.manual_seed(21)
        state = (g or torch.default_generator).get_state()
        r, err = attempt(_assert_same_seed, **kw)
        raise_if(err, "assert_same_seed")
        ctx.check(r is None, f"assert_same_seed returned {r!r}, not None")
        ctx.same_rng((g or torch.default_generator).get_state(), state, "assert_same_seed consumed randomness")
    return run


def seed_disagree_case(bad_rank, use_mesh=None, use_generator=False):
    def run(ctx):
        kw = {}
        if use_mesh:
            kw["mesh"] = ctx.mesh(use_mesh)
        k = 22 + (ctx.rank == bad_rank)
        if use_generator:
            torch.manual_seed(21)  # the default generators agree; the given ones do not
            g = torch.Generator().manual_seed(k)
            kw["generator"] = g
        else:
            g = None
            torch.manual_seed(k)
        state = (g or torch.default_generator).get_state()
        r, err = attempt(_assert_same_seed, **kw)
        ctx.check(err is not None and err.startswith("RuntimeError: "),
                  f"rank {bad_rank} seeded differently: expected RuntimeError, got {err or repr(r)}")
        msg = err.split("\nTraceback", 1)[0]
        ctx.check(f"rank {bad_rank}" in msg, f"the message does not name 'rank {bad_rank}': {msg}")
        ctx.same_rng((g or torch.default_generator).get_state(), state, "assert_same_seed consumed randomness")
    return run


def seed_after_empty_shards_case(rng_seed):
    """After seed=None fills where some ranks' shards are empty, the generators still agree."""

    def run(ctx):
        torch.manual_seed(rng_seed)
        for fill, shape, pls in [(FILLS["kaiming_uniform"], (1, 7), ("S0",)),
                                 (FILLS["normal"], (3, 5), ("S0",)),
                                 (FILLS["trunc_normal"], (1, 7), ("S0",))]:
            dt = make_dtensor(ctx, shape, "float32", "1d", pls)
            raise_if(attempt(fill, dt)[1], f"fastinit.{fill.name}")
        r, err = attempt(_assert_same_seed)
        raise_if(err, "assert_same_seed after the fills")
        ctx.check(r is None, f"assert_same_seed returned {r!r}")
    return run


# --- torch's own behaviour (for the README's claim) ----------------------------------------


def torch_duplicates_case(shape=(8, 6)):
    """torch.manual_seed(0); torch.nn.init.kaiming_uniform_ on a Shard(0) DTensor on a CPU
    mesh: every rank draws the same numbers from its own default generator, so the shards
    are copies of each other, and the gathered tensor is not torch's single-process init."""

    def run(ctx):
        dt = make_dtensor(ctx, shape, "float32", "1d", ("S0",))
        torch.manual_seed(0)
        torch.nn.init.kaiming_uniform_(dt, a=SQRT5)
        full = dt.full_tensor()
        torch.manual_seed(0)
        ref = torch.nn.init.kaiming_uniform_(torch.empty(shape, device=ctx.device), a=SQRT5)
        rows = shape[0] // ctx.world
        for r in range(1, ctx.world):
            ctx.same_bits(full[r * rows:(r + 1) * rows], full[:rows], f"torch: rank {r}'s shard vs rank 0's")
        ctx.check(not torch.equal(bits(full), bits(ref)),
                  "torch's DTensor init equals its single-process init: the README's claim is wrong")
        # what each rank holds: the first rows of the single-process init (the same draws)
        ctx.same_bits(full[:rows], ref[:rows], "torch: rank 0's shard vs the single-process init's first rows")
    return run


def torch_ignores_generator_case(shape=(8, 6)):
    """torch.nn.init.uniform_(dtensor, generator=g) on a CPU mesh: g is not used (its state
    does not move) and each rank's shard is the default generator's draw instead."""

    def run(ctx):
        dt = make_dtensor(ctx, shape, "float32", "1d", ("S0",))
        torch.manual_seed(0)
        g = torch.Generator().manual_seed(123)
        g_state = g.get_state()
        torch.nn.init.uniform_(dt, generator=g)
        ctx.same_rng(g.get_state(), g_state, "torch: the generator passed to uniform_")
        torch.manual_seed(0)
        default_draw = torch.empty(dt.to_local().shape).uniform_()
        ctx.same_bits(dt.to_local(), default_draw, "torch: the shard vs the default generator's draw")
    return run


def torch_padding_row_case(shape=(11, 4), row=3):
    """nn.Embedding's padding zeroing, weight[row].fill_(0), on a Shard(0) DTensor fills a
    gathered copy: the weight keeps its values (why patch_torch_init and init_module_
    zero the row on the owning rank themselves)."""

    def run(ctx):
        dt = make_dtensor(ctx, shape, "float32", "1d", ("S0",), fill=1.0)
        with torch.no_grad():
            dt[row].fill_(0)
        full = dt.full_tensor()
        ctx.check(bool((full == 1.0).all()), "torch's weight[row].fill_(0) changed a Shard(0) DTensor: the "
                  "README's claim and fastinit's padding-row workaround need a second look")
    return run


# --- models: FSDP2, tensor parallel, both ---------------------------------------------------


class Block(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.norm = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, h)
        self.fc2 = nn.Linear(h, d)

    def forward(self, x):
        return x + self.fc2(torch.relu(self.fc1(self.norm(x))))


class Net(nn.Module):
    """Sizes chosen for uneven shards: 11, 10 and 6 rows over 2 or 4 ranks (6 over 4 gives
    an empty last shard)."""

    def __init__(self, vocab=11, d=6, h=10, n=2):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.blocks = nn.ModuleList(Block(d, h) for _ in range(n))
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)


class OwnInitNet(Net):
    """A model with its own init_weights, written with torch.nn.init."""

    def init_weights(self):
        nn.init.normal_(self.emb.weight, std=0.02)
        for b in self.blocks:
            nn.init.trunc_normal_(b.fc1.weight, std=0.02, a=-0.04, b=0.04)
            nn.init.zeros_(b.fc1.bias)
            nn.init.xavier_uniform_(b.fc2.weight, gain=0.5)
            nn.init.constant_(b.fc2.bias, 0.01)
            nn.init.ones_(b.norm.weight)
            nn.init.uniform_(b.norm.bias, -0.1, 0.1)
        nn.init.ones_(self.norm.weight)
        nn.init.zeros_(self.norm.bias)
        nn.init.kaiming_normal_(self.head.weight, mode="fan_out", nonlinearity="relu")


MODEL_CLASSES = {"Net": Net, "OwnInitNet": OwnInitNet}


def tp_plan(n_blocks=2):
    from torch.distributed.tensor import Replicate
    from torch.distributed.tensor.parallel import ColwiseParallel, RowwiseParallel

    plan = {"emb": RowwiseParallel(input_layouts=Replicate()), "head": ColwiseParallel()}
    for i in range(n_blocks):
        plan[f"blocks.{i}.fc1"] = ColwiseParallel()
        plan[f"blocks.{i}.fc2"] = RowwiseParallel()
    return plan


class DeferredNet(Net):
    """A constructor that does its own init (issue 10): an embedding with a padding row,
    self.apply(init_fn) with trunc_normal_ over nn.Linear's kaiming_uniform_, a layer scale
    computed as ``1e-4 * torch.ones(d)``, an orthogonal_ head (a whole-tensor op on a TP
    sharded weight), a computed non-persistent buffer."""

    def __init__(self, vocab=11, d=6, h=10, n=2):
        super().__init__(vocab, d, h, n)
        self.emb = nn.Embedding(vocab, d, padding_idx=3)
        self.gamma = nn.Parameter(1e-4 * torch.ones(d))
        self.register_buffer("inv_freq", 1.0 / (10000 ** (torch.arange(0, d, 2, dtype=torch.float32) / d)),
                             persistent=False)
        self.apply(self._init)
        nn.init.orthogonal_(self.head.weight)

    def _init(self, m):
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
                m.bias.data.add_(0.5).mul_(2.0)  # an elementwise chain on a (sharded) bias


def parallelize(ctx, m, parallel):
    from torch.distributed.fsdp import fully_shard
    from torch.distributed.tensor.parallel import parallelize_module

    if parallel == "fsdp":
        for b in m.blocks:
            fully_shard(b, mesh=ctx.mesh("1d"))
        fully_shard(m, mesh=ctx.mesh("1d"))
    elif parallel == "tp":
        parallelize_module(m, ctx.mesh("1d"), tp_plan())
    elif parallel == "tp+fsdp":
        parallelize_module(m, ctx.mesh("tp"), tp_plan())
        for b in m.blocks:
            fully_shard(b, mesh=ctx.mesh("dp"))
        fully_shard(m, mesh=ctx.mesh("dp"))
    else:
        assert parallel == "plain", parallel
    return m


def build_model(ctx, cls_name, parallel):
    """Built on meta, parallelized, allocated with to_empty, every (local) parameter set to
    NaN so that a parameter the init misses cannot match."""
    with torch.device("meta"):
        m = MODEL_CLASSES[cls_name]()
    parallelize(ctx, m, parallel)
    m.to_empty(device=ctx.device)
    with torch.no_grad():
        for p in m.parameters():
            local_of(p).fill_(NAN)
    return m


def local_of(t):
    from torch.distributed.tensor import DTensor

    return t.to_local() if isinstance(t, DTensor) else t


def run_flow(model, flow, rng_seed):
    if flow == "init_module":  # seed=None, after torch.manual_seed
        torch.manual_seed(rng_seed)
        fastinit.init_module_(model)
    elif flow == "init_module_seed":
        torch.manual_seed(rng_seed + 1)  # must not matter
        fastinit.init_module_(model, seed=rng_seed)
    elif flow == "patch_init_weights":
        torch.manual_seed(rng_seed)
        with fastinit.patch_torch_init():
            model.init_weights()
    elif flow == "patch_reset_parameters":
        torch.manual_seed(rng_seed)
        with fastinit.patch_torch_init():
            for mod in model.modules():
                if callable(getattr(mod, "reset_parameters", None)):
                    mod.reset_parameters()
    else:
        raise ValueError(flow)


def model_layout(model):
    """{name: placements} of the DTensor parameters."""
    from torch.distributed.tensor import DTensor

    return {n: tuple(p.placements) for n, p in model.named_parameters() if isinstance(p, DTensor)}


def model_case(parallel, cls_name, flow, rng_seed):
    """Every parameter of the parallelized model, gathered, equals the same flow on the same
    model in one process."""

    def run(ctx):
        from torch.distributed.tensor import DTensor
        from torch.distributed.tensor.placement_types import _StridedShard

        model = build_model(ctx, cls_name, parallel)
        _, err = attempt(run_flow, model, flow, rng_seed)
        state = torch.get_rng_state()
        fulls = {n: (p.full_tensor() if isinstance(p, DTensor) else p.detach().clone())
                 for n, p in model.named_parameters()}
        raise_if(err, f"{flow} on the {parallel} model")
        layout = model_layout(model)
        ctx.check(len(layout) > 0, f"no DTensor parameter in the {parallel} model")
        if parallel == "tp+fsdp":
            ctx.check(any(isinstance(p, _StridedShard) for pls in layout.values() for p in pls),
                      f"no _StridedShard placement in the TP + FSDP2 model: {layout}")
        ref = build_model(ctx, cls_name, "plain")
        run_flow(ref, flow, rng_seed)
        ref_state = torch.get_rng_state()
        names = [n for n, _ in ref.named_parameters()]
        ctx.check(list(fulls) == names, f"parameter names differ: {list(fulls)} vs {names}")
        for n, q in ref.named_parameters():
            ctx.real(q.detach(), f"reference {n}")
            ctx.same_bits(fulls[n], q.detach(), f"{n} {layout.get(n, 'plain')}")
        if flow != "init_module_seed":
            ctx.same_rng(state, ref_state, f"after {flow}")
    return run


def deferred_case(parallel, rng_seed, explicit_seed):
    """deferred_init, sharded on meta, materialize_ writing each rank's shards: every
    parameter and buffer gathered equals materialize_ of the unsharded model in one
    process. Fresh memory is poisoned (NaN), so a shard element left unwritten shows."""

    def run(ctx):
        import fastinit.models.deferred as D
        from torch.distributed.tensor import DTensor

        D._POISON = True
        m = fastinit.deferred_init(DeferredNet)
        parallelize(ctx, m, parallel)
        layout = model_layout(m)
        ctx.check(len(layout) > 0, f"no DTensor parameter in the {parallel} model")
        torch.manual_seed(rng_seed)
        fastinit.materialize_(m, ctx.device, seed=rng_seed if explicit_seed else None)
        fulls = {n: (p.full_tensor() if isinstance(p, DTensor) else p.detach().clone())
                 for n, p in list(m.named_parameters()) + list(m.named_buffers())}
        ref = fastinit.deferred_init(DeferredNet)
        torch.manual_seed(rng_seed)
        fastinit.materialize_(ref, ctx.device, seed=rng_seed if explicit_seed else None)
        want = dict(list(ref.named_parameters()) + list(ref.named_buffers()))
        ctx.check(sorted(fulls) == sorted(want), f"names differ: {sorted(fulls)} vs {sorted(want)}")
        for n, q in want.items():
            ctx.real(q.detach(), f"reference {n}")
            ctx.same_bits(fulls[n], q.detach(), f"{n} {layout.get(n, 'plain')}")
        ctx.check(bool((want["emb.weight"][3] == 0).all()), "padding row")
    return run


# --- harness self-checks (pass without fastinit's DTensor support) --------------------------


def strided_layout_case(shape):
    """Our reading of (_StridedShard(0, 2), Shard(0)) on the 2x2 (dp, tp) mesh, the layout
    of TP followed by FSDP2: rank (i, j) holds chunk i (over dp) of chunk j (over tp) of the
    rows. Checked with torch's full_tensor on an arange, so that the fills' comparison on
    this layout means what it should."""

    def run(ctx):
        g = torch.arange(math.prod(shape), dtype=torch.float32, device=ctx.device).reshape(shape)
        i, j = divmod(ctx.rank, 2)
        tp_chunks = torch.chunk(g, 2, dim=0)
        dp_chunks = torch.chunk(tp_chunks[j], 2, dim=0) if j < len(tp_chunks) else ()
        local = dp_chunks[i] if i < len(dp_chunks) else g[:0]
        d = make_dtensor(ctx, shape, "float32", "2x2", ("SS0/2", "S0"))
        ctx.check(tuple(d.to_local().shape) == tuple(local.shape),
                  f"local shape {tuple(d.to_local().shape)} vs {tuple(local.shape)}")
        with torch.no_grad():
            d.to_local().copy_(local)
        ctx.same_bits(d.full_tensor(), g, "full_tensor() of the arange")
    return run


def model_layout_case(parallel):
    """The parallelized models are really sharded as the model cases assume."""

    def run(ctx):
        from torch.distributed.tensor.placement_types import _StridedShard

        model = build_model(ctx, "Net", parallel)
        layout = model_layout(model)
        ctx.check(len(layout) > 0, "no DTensor parameter")
        sizes = [local_of(p).numel() for _, p in model.named_parameters()]
        total = [p.numel() for _, p in model.named_parameters()]
        ctx.check(sizes != total, f"rank {ctx.rank}: every parameter is whole: {layout}")
        if parallel == "tp+fsdp":
            ctx.check(any(isinstance(p, _StridedShard) for pls in layout.values() for p in pls),
                      f"no _StridedShard: {layout}")
        if parallel == "fsdp" and ctx.world == 4:
            ctx.check(model.blocks[0].fc2.weight.to_local().numel() == (0 if ctx.rank == 3 else 20),
                      "fc2.weight (6, 10) over 4 ranks: rank 3's shard should be empty")
    return run


# --- the case lists -------------------------------------------------------------------------

SHAPE_PLACEMENTS_1D = [
    ((8,), ["S0", "R"]),
    ((3, 5), ["S0", "S1", "R"]),  # dim 0 smaller than 4 ranks: an empty shard
    ((1, 7), ["S0", "S1", "R"]),  # one row: every rank but 0 empty under S0
    ((5, 6, 7), ["S0", "S1", "S-1", "R"]),
    ((16, 12), ["S0", "S1"]),  # even
]
MESH_2X2 = [("S0", "S1"), ("S1", "S0"), ("S0", "S0"), ("R", "S0"), ("SS0/2", "S0")]
SHAPES_2X2 = [(6, 10), (5, 7), (3, 3)]


def cases(world, device="cpu"):
    out = []
    add = out.append

    # harness self-checks
    if world == 4:
        for shape in [(6, 10), (5, 7), (3, 4)]:
            add(Case(f"harness-strided-layout-{shape_id(shape)}", strided_layout_case(shape)))
    for par in ["fsdp", "tp"] + (["tp+fsdp"] if world == 4 else []):
        add(Case(f"harness-model-layout-{par}", model_layout_case(par)))

    # torch's own behaviour
    if world == 2:
        add(Case("torch-init-duplicates-shards", torch_duplicates_case()))
        add(Case("torch-init-ignores-generator", torch_ignores_generator_case()))
        add(Case("torch-padding-row-fill-is-a-no-op", torch_padding_row_case()))

    # every fill x every dtype, Shard(0) and Shard(1), explicit seed and offset
    k = 0
    for fill in FILLS.values():
        for dtype in DTYPE_NAMES:
            for pl in ["S0", "S1"]:
                k += 1
                seed, offset = 1000 + k, (0, 12345, 2 ** 40 + 3)[k % 3]
                add(Case(f"fill-{fill.label}-{dtype}-7x10-{pl_id('1d', [pl])}-seed{seed}-off{offset}",
                         fill_case(fill, (7, 10), dtype, "1d", (pl,), seed, offset),
                         cuda=fill.label in ("kaiming_uniform", "trunc_normal") and pl == "S0"))

    # every shape x placement x (applicable) random fill, dtypes in turn
    k = 0
    for shape, pls in SHAPE_PLACEMENTS_1D:
        for pl in pls:
            for fill in RANDOM_FILLS:
                if len(shape) < fill.min_ndim:
                    continue
                dtype = DTYPE_NAMES[k % 4]
                k += 1
                seed, offset = 2000 + k, (0, 7, 2 ** 33)[k % 3]
                add(Case(f"shape-{fill.label}-{dtype}-{shape_id(shape)}-{pl_id('1d', [pl])}-seed{seed}-off{offset}",
                         fill_case(fill, shape, dtype, "1d", (pl,), seed, offset)))

    # seed=None after torch.manual_seed: one fill each
    for i, fill in enumerate(FILLS.values()):
        dtype = DTYPE_NAMES[i % 4]
        for shape, pl in [((3, 5), "S0"), ((1, 7), "S1")]:
            add(Case(f"noseed-{fill.label}-{dtype}-{shape_id(shape)}-{pl_id('1d', [pl])}",
                     fill_case(fill, shape, dtype, "1d", (pl,), None, 0, rng_seed=300 + i),
                     cuda=fill.label == "kaiming_uniform"))

    # seed=None sequences: the ranks must keep drawing the same keys
    F = FILLS
    seq_empty = [(F["kaiming_uniform"], (3, 5), "float32", "1d", ("S0",)),
                 (F["normal"], (1, 7), "bfloat16", "1d", ("S0",)),
                 (F["zeros"], (1, 7), "float32", "1d", ("S0",)),
                 (F["trunc_normal"], (1, 7), "float16", "1d", ("S1",)),
                 (F["uniform"], (8,), "float64", "1d", ("S0",)),
                 (F["xavier_normal"], (5, 6, 7), "float32", "1d", ("S1",))]
    seq_mixed = [(F["kaiming_uniform"], (16, 12), "float32", "1d", ("R",)),
                 (F["kaiming_normal_fanout_relu"], (16, 12), "float32", "1d", ("S1",)),
                 (F["xavier_uniform"], (5, 6, 7), "bfloat16", "1d", ("S-1",)),
                 (F["normal"], (3, 5), "float64", "1d", ("R",))]
    add(Case("seq-noseed-empty-shards", sequence_case(seq_empty, 41), cuda=True))
    add(Case("seq-noseed-mixed-placements", sequence_case(seq_mixed, 42)))
    add(Case("seq-generator-empty-shards", sequence_case(seq_empty, 43, generator=True)))
    if world == 4:
        seq_2d = [(F["kaiming_uniform"], (5, 7), "float32", "2x2", ("S0", "S1")),
                  (F["trunc_normal"], (3, 3), "bfloat16", "2x2", ("S0", "S0")),
                  (F["normal"], (6, 10), "float32", "2x2", ("SS0/2", "S0")),
                  (F["xavier_uniform"], (5, 7), "float64", "2x2", ("R", "S0"))]
        add(Case("seq-noseed-2x2", sequence_case(seq_2d, 44)))

    # 2-D mesh: every layout x shape x a few fills
    if world == 4:
        k = 0
        for pls in MESH_2X2:
            for shape in SHAPES_2X2:
                for label in ["kaiming_uniform", "xavier_normal", "trunc_normal", "uniform"]:
                    dtype = DTYPE_NAMES[k % 4]
                    k += 1
                    seed, offset = 3000 + k, (0, 99)[k % 2]
                    add(Case(f"mesh2x2-{label}-{dtype}-{shape_id(shape)}-{pl_id('2x2', pls)}-seed{seed}-off{offset}",
                             fill_case(FILLS[label], shape, dtype, "2x2", pls, seed, offset)))

    # refused: Partial; the same error as a plain tensor
    for label in ["kaiming_uniform", "normal", "zeros", "constant"]:
        for seed in [None, 77]:
            if seed is not None and not FILLS[label].random:
                continue
            add(Case(f"partial-refused-{label}-{pl_id('1d', ['P'])}-seed{seed}",
                     partial_case(FILLS[label], (6, 4), "float32", "1d", ("P",), seed),
                     cuda=label == "kaiming_uniform" and seed is None))
            if world == 4:
                add(Case(f"partial-refused-{label}-{pl_id('2x2', ['R', 'P'])}-seed{seed}",
                         partial_case(FILLS[label], (6, 4), "float32", "2x2", ("R", "P"), seed)))
    add(Case("error-parity-kaiming_uniform-1d-tensor", error_parity_case(FILLS["kaiming_uniform"], (8,), "float32", "1d", ("S0",))))
    add(Case("error-parity-xavier_normal-1d-tensor", error_parity_case(FILLS["xavier_normal"], (8,), "float32", "1d", ("R",))))

    # assert_same_seed
    bad = 1 if world == 2 else 2
    add(Case("same-seed-agree", seed_agree_case(), cuda=True))
    add(Case("same-seed-agree-mesh", seed_agree_case(use_mesh="1d")))
    add(Case("same-seed-agree-generator", seed_agree_case(use_generator=True)))
    add(Case(f"same-seed-rank{bad}-differs", seed_disagree_case(bad), cuda=True))
    add(Case(f"same-seed-rank{bad}-differs-mesh", seed_disagree_case(bad, use_mesh="1d")))
    add(Case(f"same-seed-rank{bad}-differs-generator", seed_disagree_case(bad, use_generator=True)))
    if world == 4:  # a 2-D mesh: every rank of both mesh dims is checked at once
        add(Case("same-seed-agree-2x2-mesh", seed_agree_case(use_mesh="2x2")))
        add(Case(f"same-seed-rank{bad}-differs-2x2-mesh", seed_disagree_case(bad, use_mesh="2x2")))
    add(Case("same-seed-after-empty-shard-fills", seed_after_empty_shards_case(45)))

    # models
    flows = [("Net", "init_module"), ("Net", "init_module_seed"), ("OwnInitNet", "init_module"),
             ("OwnInitNet", "patch_init_weights"), ("Net", "patch_reset_parameters")]
    for par in ["fsdp", "tp"] + (["tp+fsdp"] if world == 4 else []):
        for i, (cls_name, flow) in enumerate(flows):
            add(Case(f"model-{par}-{cls_name}-{flow}", model_case(par, cls_name, flow, 500 + i),
                     cuda=par == "fsdp" and flow in ("init_module", "patch_init_weights")))

    for par in ["fsdp", "tp"] + (["tp+fsdp"] if world == 4 else []):
        add(Case(f"deferred-{par}-seed", deferred_case(par, 700, True), cuda=par == "fsdp"))
        add(Case(f"deferred-{par}-manual_seed", deferred_case(par, 701, False)))

    if device != "cpu":
        out = [c for c in out if c.cuda]
    ids = [c.id for c in out]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    return out


def case_ids(world, device="cpu"):
    return [c.id for c in cases(world, device)]


# --- process entry point --------------------------------------------------------------------


def main(rank, world, port, outdir, device="cpu", only=None):
    """One rank: run cases(world) (those whose id is in `only`, if given) in order."""
    log = open(os.path.join(outdir, f"rank{rank}.log"), "w", buffering=1)
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    sys.stdout = sys.stderr = log
    faulthandler.register(signal.SIGUSR1, file=log, all_threads=True)  # the parent asks before a kill
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank), GLOO_SOCKET_IFNAME="lo")
    import warnings

    import torch.distributed as dist

    warnings.filterwarnings("ignore", message=".*DTensor random operators.*")
    torch.set_num_threads(1)
    fastinit.set_num_threads(1)
    backend = "gloo"
    if device == "cuda":
        torch.cuda.set_device(rank)
        device = f"cuda:{rank}"
        backend = "nccl"
    t0 = time.monotonic()
    dist.init_process_group(backend, rank=rank, world_size=world, timeout=timedelta(seconds=PG_TIMEOUT_S))
    ctx = Ctx(rank, world, device)
    ctx.make_meshes()
    print(f"rank {rank}: group of {world} up in {time.monotonic() - t0:.1f} s", flush=True)
    todo = [c for c in cases(world, "cpu" if device == "cpu" else "cuda") if only is None or c.id in only]
    broken = None
    with open(os.path.join(outdir, f"rank{rank}.jsonl"), "w", buffering=1) as res:
        for idx, case in enumerate(todo):
            if broken:
                res.write(json.dumps({"id": case.id, "status": "fail", "msg": f"not run: {broken}"}) + "\n")
                continue
            ctx.checks = 0
            t = time.monotonic()
            try:
                case.run(ctx)
                status, msg = ("pass", "") if ctx.checks else ("fail", "the case compared nothing")
            except AssertionError as e:
                status, msg = "fail", str(e) or traceback.format_exc()
            except Exception as e:  # noqa: BLE001
                status, msg = "fail", f"{type(e).__name__}: {e}\n{traceback.format_exc()}"
            res.write(json.dumps({"id": case.id, "status": status, "msg": msg,
                                  "s": round(time.monotonic() - t, 4)}) + "\n")
            try:  # the ranks must still be on the same case
                chk = torch.tensor([idx, -idx], dtype=torch.int64, device=device)
                dist.all_reduce(chk, op=dist.ReduceOp.MAX)
                if chk.tolist() != [idx, -idx]:
                    broken = f"ranks out of step after case {case.id!r} ({chk.tolist()})"
            except Exception as e:  # noqa: BLE001
                broken = f"process group failed after case {case.id!r}: {type(e).__name__}: {e}"
        res.write(json.dumps({"done": True, "s": round(time.monotonic() - t0, 2)}) + "\n")
    try:
        dist.barrier()
        dist.destroy_process_group()
    except Exception:  # noqa: BLE001
        traceback.print_exc()
    log.flush()
