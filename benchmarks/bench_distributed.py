#!/usr/bin/env python
"""Sharded (FSDP2 / DTensor) model init: per-rank time against world size, on one machine.

    python benchmarks/bench_distributed.py            # worlds 1, 2, 4; ~283M float32 params; ~3-5 min
    python benchmarks/bench_distributed.py --quick    # a ~4M-param model, < 1 minute (smoke check)
    python benchmarks/bench_distributed.py --threads 2 --repeats 5 --worlds 1,2

Each world size is one group of processes (multiprocessing spawn, gloo, 127.0.0.1, a free
port). Every rank builds the same Llama-like model (nn.Embedding, nn.LayerNorm, nn.Linear
without bias; the vocabulary of 50257 rows does not divide by 2 or 4, so shards are uneven)
on ``meta``, calls ``fully_shard`` on each block and on the root over a 1-D CPU mesh, then
``to_empty(device="cpu")``: every parameter is a DTensor, Shard(0), and each rank holds only
its own rows. Then it times re-initializing the model in three modes:

  fastinit            ``fastinit.init_module_(model, seed=S)``: each rank writes its shard
                      only (fastinit's DTensor support).
  slice_fastinit      the full-then-slice workaround (OLMo-core style), fills by fastinit:
                      for each parameter, ``torch.empty`` of the full global shape, the
                      fastinit fill that init_module_ would use (same rule, same per-name
                      seed), then this rank's slice copied into the local shard.
  slice_torch         the same workaround with torch's own init: each module's
                      ``reset_parameters()`` runs on an unsharded copy of its parameters
                      (full tensors swapped in, then swapped back), then the slice is copied.

Two timings per mode, each repeated on the same model after one untimed warm-up run
(``--fastinit-repeats``, default 7, for the cheap fastinit mode; ``--repeats``, default 3,
for the full-then-slice modes), medians reported (minima too, in the JSON):

  in turn     ranks run one at a time (rank r at turn r, the others waiting at a barrier),
              with ``torch.set_num_threads(T)`` and ``fastinit.set_num_threads(T)`` (T=1 by
              default) and, unless ``--no-pin``, the running rank pinned to the first T CPUs
              (the same for every rank: the two vCPUs here differ in speed from moment to
              moment) and the waiting ranks to the other CPUs:
              the time a rank takes with its own cores, as on a cluster where each rank has
              its own CPU/GPU. The figure is the max over ranks of each rank's
              median. This is the figure the issue's target is judged on: per-rank time falls
              with world size in proportion to the largest shard, within 25%; full-then-slice
              stays flat.
  concurrent  all ranks at once (barrier, then init): wall time from the first start to the
              last end. World 4 with T=1 runs 4 threads on this machine's 2 cores.

Correctness guard (not a test): after each fastinit-filled mode, a few parameters' local
shards are compared bit for bit with the matching slice of a single-process
``init_module_(seed=S)`` of the unsharded model (built on meta, only those parameters
materialized), and one small parameter's ``full_tensor()`` with the whole reference.

Writes benchmarks/results/bench_distributed.json (every run, per rank) and
bench_distributed.txt (the markdown table printed at the end). ``--quick`` writes
bench_distributed_quick.{json,txt}.
"""
from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import math
import os
import platform
import queue
import resource
import socket
import statistics
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 1234
TOLERANCE = 0.25  # the "within 25%"
SETTLE_S = 0.05  # in turn: pause between the barrier and the timed run
PROBE_NUMEL = 1 << 25  # speed probe: one fastinit uniform_ fill of a pre-touched 32M-float tensor

CONFIGS = {
    # hidden, MLP width, vocabulary, blocks. default: 14 * 12.85M + 2 * 51.5M = 283M params (1.13 GB)
    "default": dict(hidden=1024, inter=2816, vocab=50257, layers=14),
    "quick": dict(hidden=256, inter=704, vocab=5003, layers=2),
}
MODES = ["fastinit", "slice_fastinit", "slice_torch"]


# ---------------------------------------------------------------------------------------
# the model


def build_model(cfg):
    import torch.nn as nn

    h, i, v = cfg["hidden"], cfg["inter"], cfg["vocab"]

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.q, self.k, self.v, self.o = (nn.Linear(h, h, bias=False) for _ in range(4))

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.gate, self.up = nn.Linear(h, i, bias=False), nn.Linear(h, i, bias=False)
            self.down = nn.Linear(i, h, bias=False)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn_norm, self.attn = nn.LayerNorm(h), Attention()
            self.mlp_norm, self.mlp = nn.LayerNorm(h), MLP()

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(v, h)
            self.layers = nn.ModuleList(Block() for _ in range(cfg["layers"]))
            self.norm = nn.LayerNorm(h)
            self.lm_head = nn.Linear(h, v, bias=False)

    return Model()


# Parameters the correctness guard compares (the embedding: normal fill, uneven shards;
# a square and a wide Linear weight: kaiming uniform; a LayerNorm weight: constant).
GUARD_PARAMS = ["embed.weight", "layers.0.attn.q.weight", "layers.0.mlp.down.weight", "norm.weight"]
GUARD_FULL = "layers.0.attn.q.weight"  # also compared through full_tensor() (an all-gather)


# ---------------------------------------------------------------------------------------
# the init modes (run on every rank)


def local_slice(full, p):
    """This rank's part of ``full`` for the DTensor ``p`` (a view, no copy)."""
    from torch.distributed.tensor._utils import compute_local_shape_and_global_offset

    shape, off = compute_local_shape_and_global_offset(p.shape, p.device_mesh, p.placements)
    return full[tuple(slice(o, o + s) for o, s in zip(off, shape))]


def mode_fastinit(model):
    import fastinit

    fastinit.init_module_(model, seed=SEED)


def mode_slice_fastinit(model):
    """Full-then-slice with fastinit on the full tensor, the fill init_module_(seed=SEED)
    would give each parameter (same rule, seed derived from the qualified name)."""
    import fastinit
    import torch
    import torch.nn as nn
    from fastinit.core.seeds import derive_seed

    for qual, m in model.named_modules():
        for n, p in m.named_parameters(recurse=False):
            name = f"{qual}.{n}" if qual else n
            full = torch.empty(p.shape, dtype=p.dtype)
            s = derive_seed(SEED, name)
            if isinstance(m, nn.Linear) and n == "weight":
                fastinit.kaiming_uniform_(full, a=math.sqrt(5), seed=s)
            elif isinstance(m, nn.Embedding) and n == "weight":
                fastinit.normal_(full, 0.0, 1.0, seed=s)
                if m.padding_idx is not None:
                    full[m.padding_idx].fill_(0)
            elif isinstance(m, nn.LayerNorm):
                fastinit.constant_(full, 1.0 if n == "weight" else 0.0)
            else:
                raise NotImplementedError(f"no rule for {name} ({type(m).__name__})")
            with torch.no_grad():
                p.to_local().copy_(local_slice(full, p))
            del full


def mode_slice_torch(model):
    """Full-then-slice with torch's own init: each module's reset_parameters() on full
    tensors swapped in for its DTensor parameters, then the slices copied back. Same
    torch.manual_seed on every rank, so every rank computes the same full tensors."""
    import torch
    import torch.nn as nn

    torch.manual_seed(SEED)
    for qual, m in model.named_modules():
        own = [(n, p) for n, p in m._parameters.items() if p is not None]
        if not own:
            continue
        if not callable(getattr(m, "reset_parameters", None)):
            raise NotImplementedError(f"{qual}: no reset_parameters")
        fulls = {n: nn.Parameter(torch.empty(p.shape, dtype=p.dtype)) for n, p in own}
        try:
            for n, f in fulls.items():
                m._parameters[n] = f
            m.reset_parameters()
        finally:
            for n, p in own:
                m._parameters[n] = p
        with torch.no_grad():
            for n, p in own:
                p.to_local().copy_(local_slice(fulls[n], p))
        del fulls


MODE_FNS = {"fastinit": mode_fastinit, "slice_fastinit": mode_slice_fastinit, "slice_torch": mode_slice_torch}


def guard(model, cfg):
    """Local shards of GUARD_PARAMS (and one full_tensor()) against a single-process
    init_module_(seed=SEED) of the unsharded model. Returns {name: bool}; same on every rank."""
    import fastinit
    import torch
    import torch.distributed as dist

    with torch.device("meta"):
        ref = build_model(cfg)
    params = dict(model.named_parameters())
    # init_module_ refuses meta tensors: the whole reference is allocated (one unsharded
    # copy per rank, after the timed and measured part)
    ref.to_empty(device="cpu")
    fastinit.init_module_(ref, seed=SEED)
    ref_params = dict(ref.named_parameters())
    out = {}
    for name in GUARD_PARAMS:
        ok = torch.equal(params[name].to_local(), local_slice(ref_params[name].detach(), params[name]))
        out[f"{name} (local shard)"] = ok
    out[f"{GUARD_FULL} (full_tensor)"] = torch.equal(params[GUARD_FULL].full_tensor(),
                                                     ref_params[GUARD_FULL].detach())
    flags = torch.tensor([int(v) for v in out.values()], dtype=torch.int32)
    dist.all_reduce(flags, op=dist.ReduceOp.MIN)  # a mismatch on any rank counts
    return {k: bool(v) for k, v in zip(out, flags.tolist())}


# ---------------------------------------------------------------------------------------
# one rank


def peak_rss_gib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20


def now():
    return time.clock_gettime(time.CLOCK_MONOTONIC)  # system-wide: comparable across ranks


def cpu_and_faults():
    r = resource.getrusage(resource.RUSAGE_SELF)  # all threads of this process
    return r.ru_utime + r.ru_stime, r.ru_minflt


def machine_busy():
    """(busy, steal) seconds of the whole machine so far, from /proc/stat (None if absent)."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
    except OSError:
        return None
    hz = os.sysconf("SC_CLK_TCK")
    user, nice, system, _idle, _iowait, irq, softirq, steal = (v + [0] * 8)[:8]
    return (user + nice + system + irq + softirq) / hz, steal / hz


def worker(rank, world, port, a, results):
    try:
        results.put(("ok", rank, run_rank(rank, world, port, a)))
    except BaseException:
        results.put(("err", rank, traceback.format_exc()))


def run_rank(rank, world, port, a):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    import fastinit
    import torch
    import torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    torch.set_num_threads(a.threads)
    fastinit.set_num_threads(a.threads)
    dist.init_process_group("gloo", rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=a.timeout))
    try:
        cfg = CONFIGS["quick" if a.quick else "default"]
        mesh = init_device_mesh("cpu", (world,))
        t0 = now()
        with torch.device("meta"):
            model = build_model(cfg)
        for block in model.layers:
            fully_shard(block, mesh=mesh)
        fully_shard(model, mesh=mesh)
        model.to_empty(device="cpu")
        setup_s = now() - t0
        total = sum(p.numel() for p in model.parameters())
        local = sum(p.to_local().numel() for p in model.parameters())
        for p in model.parameters():  # our slice arithmetic agrees with FSDP2's shards
            assert local_slice(torch.empty(p.shape, device="meta"), p).shape == p.to_local().shape
        allowed = sorted(os.sched_getaffinity(0))
        # in turn: the running rank on the first T CPUs (the same for every rank, one rank runs
        # at a time), the waiting ones on the other CPUs; concurrent runs use every allowed CPU
        pin_to = set(allowed[:a.threads]) if a.pin and len(allowed) > a.threads else None
        rest = set(allowed) - (pin_to or set())
        probe = torch.zeros(PROBE_NUMEL)  # pre-touched
        out = {"rank": rank, "params": total, "local_numel": local, "in_turn_cpus": sorted(pin_to or allowed),
               "setup_s": setup_s, "rss_after_setup_gib": peak_rss_gib(), "torch_threads": torch.get_num_threads(),
               "fastinit_threads": fastinit.get_num_threads(), "modes": {}}
        for mode in a.modes:
            fn = MODE_FNS[mode]

            def timed(fn=fn):
                c0, f0 = cpu_and_faults()
                s = now()
                fn(model)
                e = now()
                c1, f1 = cpu_and_faults()
                return s, e, c1 - c0, f1 - f0

            rec = {}
            # warm-up (untimed in the summary): the first fastinit run also faults in the shard
            for turn in range(world):
                dist.barrier()
                if turn == rank:
                    s, e, c, f = timed()
                    rec["first_s"], rec["first_cpu_s"], rec["first_minflt"] = e - s, c, f
            dist.barrier()
            repeats = a.fastinit_repeats if mode == "fastinit" else a.repeats
            rec["in_turn_s"], rec["in_turn_cpu_s"], rec["in_turn_minflt"], rec["probe_s"] = [], [], [], []
            if pin_to:
                os.sched_setaffinity(0, rest)
            for _ in range(repeats):
                for turn in range(world):
                    dist.barrier()
                    if turn == rank:
                        if pin_to:
                            os.sched_setaffinity(0, pin_to)
                        time.sleep(SETTLE_S)  # the others are back in the next barrier, asleep
                        p0 = now()
                        fastinit.uniform_(probe, seed=SEED)
                        rec["probe_s"].append(now() - p0)
                        s, e, c, f = timed()
                        if pin_to:
                            os.sched_setaffinity(0, rest)
                        rec["in_turn_s"].append(e - s)
                        rec["in_turn_cpu_s"].append(c)
                        rec["in_turn_minflt"].append(f)
                dist.barrier()
            if pin_to:
                os.sched_setaffinity(0, allowed)
            rec["concurrent_s"], rec["concurrent_span"] = [], []
            if not a.no_concurrent:
                for _ in range(repeats):
                    dist.barrier()
                    s, e, c, f = timed()
                    rec["concurrent_s"].append(e - s)
                    rec["concurrent_span"].append((s, e))
                dist.barrier()
            # before the guard, which holds an unsharded reference model
            rec["peak_rss_after_gib"] = peak_rss_gib()
            if mode in ("fastinit", "slice_fastinit"):
                rec["guard"] = guard(model, cfg)
            out["modes"][mode] = rec
        out["process_cpu_s"] = cpu_and_faults()[0]
        return out
    finally:
        dist.destroy_process_group()


# ---------------------------------------------------------------------------------------
# the parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_world(world, a):
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    port = free_port()
    procs = [ctx.Process(target=worker, args=(r, world, port, a, results), daemon=True) for r in range(world)]
    busy0, t0 = machine_busy(), time.monotonic()
    for p in procs:
        p.start()
    deadline = time.monotonic() + a.timeout
    got, errors = {}, []
    try:
        while len(got) + len(errors) < world:
            left = deadline - time.monotonic()
            if left <= 0:
                raise SystemExit(f"world {world}: timed out after {a.timeout} s")
            try:
                kind, rank, payload = results.get(timeout=min(left, 2.0))
            except queue.Empty:
                dead = [p for p in procs if p.exitcode not in (None, 0)]
                if dead and results.empty():
                    time.sleep(1.0)  # let a last message arrive
                    if results.empty():
                        raise SystemExit(f"world {world}: rank process(es) died: "
                                         + ", ".join(f"pid {p.pid} exit code {p.exitcode}" for p in dead))
                continue
            (got.__setitem__(rank, payload) if kind == "ok" else errors.append((rank, payload)))
        if errors:
            raise SystemExit(f"world {world}: " + "\n".join(f"rank {r}:\n{tb}" for r, tb in errors))
        for p in procs:
            p.join(timeout=30)
        busy1, wall = machine_busy(), time.monotonic() - t0
        if busy0 and busy1:
            ours = sum(got[r]["process_cpu_s"] for r in range(world))
            load = {"group_wall_s": wall, "machine_busy_s": busy1[0] - busy0[0], "ranks_cpu_s": ours,
                    "other_cpus_busy": max(0.0, busy1[0] - busy0[0] - ours) / wall,
                    "steal_cpus": (busy1[1] - busy0[1]) / wall}
            for r in range(world):
                got[r]["machine_load"] = load
    finally:
        for p in procs:  # only our own children, by handle
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)
    return [got[r] for r in range(world)]


def med(v):
    return statistics.median(v) if v else None


def summarize(per_world, modes):
    """One row per (world, mode). Ratios are to the smallest world run (world 1 by default)."""
    rows = []
    base = {}
    for world, ranks in per_world.items():
        total = ranks[0]["params"]
        shard = max(r["local_numel"] for r in ranks) / total
        for mode in modes:
            recs = [r["modes"][mode] for r in ranks]
            spans = [rec["concurrent_span"] for rec in recs]
            walls = [max(s[i][1] for s in spans) - min(s[i][0] for s in spans)
                     for i in range(len(spans[0]))] if spans[0] else []
            row = {"mode": mode, "world": world, "params": total,
                   "local_numel": [r["local_numel"] for r in ranks], "largest_shard": shard,
                   "in_turn_s": max(med(rec["in_turn_s"]) for rec in recs),
                   "in_turn_cpu_s": max(med(rec["in_turn_cpu_s"]) for rec in recs),
                   "in_turn_min_s": max(min(rec["in_turn_s"]) for rec in recs),
                   # each run over the speed probe run just before it, same rank and CPU
                   "in_turn_per_probe": max(med([t / q for t, q in zip(rec["in_turn_s"], rec["probe_s"])])
                                            for rec in recs),
                   "probe_s": med([q for rec in recs for q in rec["probe_s"]]),
                   "in_turn_min_cpu_s": max(min(rec["in_turn_cpu_s"]) for rec in recs),
                   "in_turn_s_per_rank": [med(rec["in_turn_s"]) for rec in recs],
                   "in_turn_cpu_s_per_rank": [med(rec["in_turn_cpu_s"]) for rec in recs],
                   "minflt_per_init": max(med(rec["in_turn_minflt"]) for rec in recs),
                   "first_s_max": max(rec["first_s"] for rec in recs),
                   "concurrent_wall_s": med(walls),
                   "concurrent_s_per_rank": [med(rec["concurrent_s"]) for rec in recs],
                   "peak_rss_gib_per_rank": [rec["peak_rss_after_gib"] for rec in recs],
                   "other_cpus_busy": (ranks[0].get("machine_load") or {}).get("other_cpus_busy"),
                   "guard": recs[0].get("guard")}
            if mode not in base:
                base[mode] = row
            b = base[mode]
            row["ideal"] = shard / b["largest_shard"]
            for key, tag in (("in_turn_s", ""), ("in_turn_cpu_s", "_cpu"), ("in_turn_min_s", "_min"),
                             ("in_turn_per_probe", "_norm")):
                ratio = row[key] / b[key]
                row["ratio" + tag] = ratio
                if mode == "fastinit":  # falls in proportion to the largest shard, within 25%
                    row["ratio_over_ideal" + tag] = ratio / row["ideal"]
                    row["target" + tag] = abs(ratio / row["ideal"] - 1) <= TOLERANCE
                else:  # expected flat: the ratio itself within 25% of 1
                    row["ratio_over_ideal" + tag] = None
                    row["target" + tag] = abs(ratio - 1) <= TOLERANCE
            cw, bw = row["concurrent_wall_s"], b["concurrent_wall_s"]
            row["concurrent_ratio"] = cw / bw if cw and bw else None
            rows.append(row)
    return rows


def fmt_s(x):
    return "-" if x is None else (f"{x:.3f}" if x < 10 else f"{x:.2f}")


def fmt_r(x):
    return "-" if x is None else f"{x:.3f}"


def verdict(r, tag):
    if r["mode"] == "fastinit":
        return "PASS" if r["target" + tag] else "MISS"
    return "flat" if r["target" + tag] else "not flat"


def ratio_cell(r, tag):
    """'ratio (ratio / ideal)' for fastinit, the ratio alone for the full-then-slice modes."""
    q = r["ratio_over_ideal" + tag]
    return fmt_r(r["ratio" + tag]) + ("" if q is None else f" ({q:.3f})")


def table(rows):
    t1 = ["| mode | world | largest shard = ideal ratio | per-rank s, in turn | ratio to world 1 "
          "| ratio / ideal | target | per-rank CPU s | CPU ratio | per-rank min s | ratio of minima (/ ideal) "
          "| probe-normalized ratio (/ ideal) | guard |",
          "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---|"]
    t2 = ["| mode | world | first run s (warm-up) | concurrent wall s | concurrent ratio "
          "| minor faults per init | probe s (median) | peak RSS GiB per rank | other load (busy CPUs) |",
          "|---|---:|---:|---:|---:|---:|---:|---|---:|"]
    for r in rows:
        g = r["guard"]
        gs = "-" if g is None else ("equal" if all(g.values()) else "MISMATCH")
        t1.append(f"| {r['mode']} | {r['world']} | {r['largest_shard']:.4f} | {fmt_s(r['in_turn_s'])} | "
                  f"{fmt_r(r['ratio'])} | {fmt_r(r['ratio_over_ideal'])} | {verdict(r, '')} | "
                  f"{fmt_s(r['in_turn_cpu_s'])} | {fmt_r(r['ratio_cpu'])} | {fmt_s(r['in_turn_min_s'])} | "
                  f"{ratio_cell(r, '_min')} | {ratio_cell(r, '_norm')} | {gs} |")
        t2.append(f"| {r['mode']} | {r['world']} | {fmt_s(r['first_s_max'])} | {fmt_s(r['concurrent_wall_s'])} | "
                  f"{fmt_r(r['concurrent_ratio'])} | {r['minflt_per_init']:.0f} | {r['probe_s'] * 1e3:.1f} ms | "
                  f"{', '.join(f'{x:.2f}' for x in r['peak_rss_gib_per_rank'])} | "
                  f"{'-' if r['other_cpus_busy'] is None else format(r['other_cpus_busy'], '.2f')} |")
    return "\n".join(t1) + "\n\n" + "\n".join(t2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small model (~4M params), < 1 minute")
    ap.add_argument("--worlds", default="1,2,4")
    ap.add_argument("--threads", type=int, default=1, help="torch and fastinit threads per rank (T)")
    ap.add_argument("--repeats", type=int, default=None,
                    help="timed runs per timing for the full-then-slice modes (default 3; quick 2)")
    ap.add_argument("--fastinit-repeats", type=int, default=None,
                    help="timed runs per timing for mode fastinit, which is cheap (default 7; quick 3)")
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--no-concurrent", action="store_true", help="skip the all-ranks-at-once timing")
    ap.add_argument("--no-pin", dest="pin", action="store_false",
                    help="do not pin in-turn runs to the first T CPUs (default: pinned, same cores for every rank)")
    ap.add_argument("--force-fastinit", action="store_true",
                    help="run mode fastinit even when fastinit.distributed is missing")
    ap.add_argument("--timeout", type=float, default=None, help="seconds per world size (default 600; quick 120)")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    a = ap.parse_args()
    a.repeats = a.repeats or (2 if a.quick else 3)
    a.fastinit_repeats = a.fastinit_repeats or (3 if a.quick else 7)
    a.timeout = a.timeout or (120.0 if a.quick else 600.0)
    a.modes = [m for m in a.modes.split(",") if m]
    for m in a.modes:
        if m not in MODE_FNS:
            ap.error(f"unknown mode {m}")
    worlds = [int(w) for w in a.worlds.split(",")]
    notes = []
    has_dtensor = importlib.util.find_spec("fastinit.distributed") is not None
    if "fastinit" in a.modes and not has_dtensor and not a.force_fastinit:
        a.modes.remove("fastinit")
        notes.append("mode fastinit skipped: fastinit.distributed not importable (no DTensor support yet; "
                     "--force-fastinit runs it anyway)")
        print(notes[-1], file=sys.stderr)

    import fastinit
    import torch

    cfg = CONFIGS["quick" if a.quick else "default"]
    t_all = time.perf_counter()
    per_world = {}
    for w in worlds:
        t = time.perf_counter()
        per_world[w] = run_world(w, a)
        r0 = per_world[w][0]
        print(f"world {w}: {time.perf_counter() - t:.1f} s; params {r0['params'] / 1e6:.1f} M; "
              + "; ".join(f"{m} in turn " + ", ".join(f"{med(r['modes'][m]['in_turn_s']):.3f}" for r in per_world[w])
                          for m in a.modes), flush=True)
    rows = summarize(per_world, a.modes)
    tab = table(rows)
    guards_ok = all(all(r["guard"].values()) for r in rows if r["guard"] is not None)

    n = per_world[worlds[0]][0]["params"]
    cmd = "python benchmarks/bench_distributed.py " + " ".join(sys.argv[1:])
    pinning = ("pinned to the first T allowed CPUs, the same for every rank (waiting ranks on the others), "
               f"{SETTLE_S * 1e3:.0f} ms after the barrier" if a.pin and len(os.sched_getaffinity(0)) > a.threads
               else "not pinned")
    header = [
        "# bench_distributed: sharded init per rank (FSDP2 fully_shard, gloo, CPU)",
        "",
        f"`{cmd.strip()}` on {platform.node() or 'this machine'}, "
        f"{datetime.datetime.now().isoformat(timespec='seconds')}; "
        f"{os.cpu_count()} CPUs; torch {torch.__version__}; fastinit {fastinit.info()['version']} "
        f"({fastinit.info()['isa']}).",
        "",
        f"Model: Llama-like, {n / 1e6:.1f} M float32 parameters ({n * 4 / 2 ** 30:.2f} GiB), {cfg}; "
        f"fully_shard on each block and the root, 1-D CPU mesh; Shard(0), uneven where rows do not divide.",
        f"Threads per rank T = {a.threads} (torch and fastinit); in-turn runs {pinning}. "
        f"Medians of {a.fastinit_repeats} runs (mode fastinit) or {a.repeats} runs (full-then-slice modes) "
        "after one warm-up run; minima in the JSON.",
        "",
        "* per-rank s, in turn: each rank's init while the others wait at a barrier (its own cores); the max "
        "over ranks of each rank's median. Ratio to world 1 against the ideal = largest shard fraction "
        "(actual local numels). Target (issue): fastinit within 25% of ideal; full-then-slice flat.",
        f"* probe-normalized ratio: each in-turn run divided by a speed probe run just before it on the same "
        f"rank and CPU (fastinit.uniform_ of a pre-touched {PROBE_NUMEL / 2 ** 20:.0f}M-float tensor), median, max "
        "over ranks, then over world 1's: cancels drifts of this shared machine's speed between the world "
        "sizes' process groups (a ratio measured in the same run), but only partly: this VM's core speed "
        "switches between states within a second, so a probe and the run after it can differ. Per-rank min s: "
        "the fastest run (max over ranks of each rank's minimum), the least disturbed figure. The issue's "
        "target is judged on the median in-turn ratio; the other two are shown beside it.",
        "* per-rank CPU s, in turn: the same runs' process CPU time (user + system, all threads; "
        "getrusage). Less sensitive than wall time to other work on this shared machine, which the "
        "'other load' column estimates (machine busy CPU-seconds from /proc/stat minus the ranks' own, "
        "per second of the group's wall time).",
        "* first run s: the untimed warm-up (max over ranks); for fastinit it includes faulting in the shard "
        "that to_empty allocated. Minor faults per init: median per timed in-turn run, max over ranks.",
        "* concurrent wall s: all ranks at once, first start to last end (median). World 4 runs "
        f"{4 * a.threads} threads on {os.cpu_count()} CPUs: oversubscribed, not a per-rank figure.",
        f"* peak RSS: ru_maxrss per rank after that mode (it includes the probe's {PROBE_NUMEL * 4 / 2 ** 20:.0f} MiB; "
        "cumulative over the modes run before it, in order "
        + ", ".join(a.modes) + ").",
        "* guard: local shards of " + ", ".join(GUARD_PARAMS) + f" and full_tensor() of {GUARD_FULL}, bit for bit "
        "against single-process init_module_(seed) of the unsharded model.",
    ] + [f"* NOTE: {x}" for x in notes] + [""]
    if a.quick:
        header.insert(-1, "* QUICK: a smoke check. At this size init_module_'s fixed Python cost per call dominates "
                      "fastinit's per-rank time, so these ratios say nothing about the target.")
    text = "\n".join(header) + "\n" + tab + "\n"
    print()
    print(text)
    print(f"total {time.perf_counter() - t_all:.1f} s")

    doc = {
        "what": "per-rank init time of an FSDP2-sharded model against world size (gloo, CPU, one machine)",
        "command": cmd.strip(), "config": cfg, "threads": a.threads, "repeats": a.repeats,
        "fastinit_repeats": a.fastinit_repeats, "seed": SEED,
        "modes": a.modes, "notes": notes, "guards_ok": guards_ok,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version(),
                    "torch": torch.__version__, "fastinit": fastinit.info(),
                    "note": "shared 2-vCPU machine: timings are noisy"},
        "summary": rows, "runs": {str(w): v for w, v in per_world.items()},
    }
    os.makedirs(a.out, exist_ok=True)
    stem = "bench_distributed_quick" if a.quick else "bench_distributed"
    with open(os.path.join(a.out, stem + ".json"), "w") as f:
        json.dump(doc, f, indent=1)
    with open(os.path.join(a.out, stem + ".txt"), "w") as f:
        f.write(text)
    print(f"wrote {os.path.join(a.out, stem)}.json and .txt")
    if not guards_ok:
        print("GUARD MISMATCH: sharded fastinit values differ from single-process init", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
