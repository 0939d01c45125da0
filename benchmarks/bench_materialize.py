"""deferred_init + materialize_ against torch's eager construction and against the floor
(issue 10), for a ~1B-parameter Llama (float32, CPU), each measurement in a fresh process.

Modes, each from nothing (imports done, not counted) to a usable model:
  eager     torch's own construction (Hugging Face: nn.Linear's kaiming_uniform_ then the
            model's _init_weights, normal(0, 0.02); hand-written: its constructor's own init)
  deferred  fastinit.deferred_init(...) then fastinit.materialize_(model, seed=0); the
            deferred_init time alone is reported too (the first in a fresh process)
  floor     the same tensors allocated (torch.empty) and fill_(0.5)ed: the memory-write limit
  sharded   deferred_init, fully_shard on every layer and the root (gloo, CPU, one thread per
            rank), materialize_: per-rank time and peak RSS, worlds 2 and 4

Impls: "hf" (transformers LlamaForCausalLM from a config) and "hand" (a Llama written here
whose constructor initializes itself as torchtitan's does: normal(0, 0.02) through
self.apply, RMSNorm ones, a rotary inv_freq buffer).

    python benchmarks/bench_materialize.py            # 20 layers (1.03B params), 2 threads
    python benchmarks/bench_materialize.py --quick    # 2 layers: a smoke run
Results: <out>.txt and <out>.json, <out> from --out (default: bench_materialize{,_quick} in the
current directory). The tracked files under benchmarks/results/ change only when --out names them
(issue 19).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CFG = dict(vocab_size=32000, hidden_size=2048, intermediate_size=5632, num_attention_heads=32,
           num_key_value_heads=8, max_position_embeddings=2048)


def hand_written_cls():
    import torch
    import torch.nn as nn

    class Attention(nn.Module):
        def __init__(self, h, kv):
            super().__init__()
            self.wq, self.wk = nn.Linear(h, h, bias=False), nn.Linear(h, kv, bias=False)
            self.wv, self.wo = nn.Linear(h, kv, bias=False), nn.Linear(h, h, bias=False)

    class MLP(nn.Module):
        def __init__(self, h, i):
            super().__init__()
            self.w1, self.w2, self.w3 = nn.Linear(h, i, bias=False), nn.Linear(i, h, bias=False), nn.Linear(h, i, bias=False)

    class Layer(nn.Module):
        def __init__(self, h, i, kv):
            super().__init__()
            self.attention, self.feed_forward = Attention(h, kv), MLP(h, i)
            self.attention_norm, self.ffn_norm = nn.RMSNorm(h), nn.RMSNorm(h)

    class Llama(nn.Module):
        def __init__(self, layers, vocab_size, hidden_size, intermediate_size, num_attention_heads,
                     num_key_value_heads, max_position_embeddings):
            super().__init__()
            h, hd = hidden_size, hidden_size // num_attention_heads
            kv = hd * num_key_value_heads
            self.tok_embeddings = nn.Embedding(vocab_size, h)
            self.layers = nn.ModuleList(Layer(h, intermediate_size, kv) for _ in range(layers))
            self.norm = nn.RMSNorm(h)
            self.output = nn.Linear(h, vocab_size, bias=False)
            inv_freq = 1.0 / (500000.0 ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
            self.register_buffer("inv_freq", inv_freq, persistent=False)
            self.apply(self._init)

        @staticmethod
        def _init(m):
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, mean=0.0, std=0.02)

    return Llama


def builder(impl, layers):
    """(callable, args): the model's constructor and its arguments."""
    if impl == "hf":
        from transformers import LlamaConfig, LlamaForCausalLM

        return LlamaForCausalLM, (LlamaConfig(num_hidden_layers=layers, tie_word_embeddings=False, **CFG),)
    return hand_written_cls(), (layers,) + tuple(CFG.values())


def rss_now():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss():
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def child(mode, impl, layers, threads):
    t_imp = time.perf_counter()
    import torch

    import fastinit

    fn, args = builder(impl, layers)
    import_s = time.perf_counter() - t_imp
    torch.set_num_threads(threads)
    fastinit.set_num_threads(threads)
    shapes = None
    if mode == "floor":  # the tensors of the model, found untimed
        m = fastinit.deferred_init(fn, *args)
        shapes = [(tuple(t.shape), t.dtype) for t in list(m.parameters()) + list(m.buffers())]
        del m
    rss0 = rss_now()
    out = {}
    t0 = time.perf_counter()
    if mode == "eager":
        torch.manual_seed(0)
        model = fn(*args)
    elif mode == "deferred":
        model = fastinit.deferred_init(fn, *args)
        out["deferred_init_s"] = time.perf_counter() - t0
        fastinit.materialize_(model, seed=0)
        out["materialize_s"] = time.perf_counter() - t0 - out["deferred_init_s"]
    else:
        model = []
        for shape, dtype in shapes:
            t = torch.empty(shape, dtype=dtype)
            t.fill_(0.5)
            model.append(t)
    build_s = time.perf_counter() - t0
    tensors = model if isinstance(model, list) else list(model.parameters()) + list(model.buffers())
    nbytes = sum(t.numel() * t.element_size() for t in tensors)
    out.update(mode=mode, impl=impl, layers=layers, threads=threads, build_s=build_s, import_s=import_s,
               params=sum(t.numel() for t in tensors), model_bytes=nbytes, rss_before=rss0, peak_rss=peak_rss())
    print(json.dumps(out))


def rank_main(rank, world, port, impl, layers, q):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), GLOO_SOCKET_IFNAME="lo")
    import torch
    import torch.distributed as dist

    import fastinit

    fn, args = builder(impl, layers)
    torch.set_num_threads(1)
    fastinit.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    mesh = init_device_mesh("cpu", (world,))
    dist.barrier()
    rss0 = rss_now()
    t0 = time.perf_counter()
    model = fastinit.deferred_init(fn, *args)
    t_def = time.perf_counter() - t0
    blocks = model.model.layers if impl == "hf" else model.layers
    for b in blocks:
        fully_shard(b, mesh=mesh)
    fully_shard(model, mesh=mesh)
    t_shard = time.perf_counter() - t0 - t_def
    t1 = time.perf_counter()
    fastinit.materialize_(model, seed=0)
    t_mat = time.perf_counter() - t1
    local = sum(p.to_local().numel() * p.element_size() for p in model.parameters())
    q.put(dict(rank=rank, deferred_init_s=t_def, shard_s=t_shard, materialize_s=t_mat, total_s=time.perf_counter() - t0,
               local_bytes=local, rss_before=rss0, peak_rss=peak_rss()))
    dist.barrier()
    dist.destroy_process_group()


def sharded(impl, layers, world):
    import multiprocessing as mp
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=rank_main, args=(r, world, port, impl, layers, q)) for r in range(world)]
    for p in procs:
        p.start()
    res = [q.get(timeout=1800) for _ in procs]
    for p in procs:
        p.join()
    return sorted(res, key=lambda r: r["rank"])


def run_child(mode, impl, layers, threads):
    cmd = [sys.executable, os.path.abspath(__file__), "--child", mode, "--impl", impl, "--layers", str(layers),
           "--threads", str(threads)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{mode} {impl} failed:\n{p.stderr[-4000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def gib(x):
    return x / 2 ** 30


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="2 layers, one repeat, world 2 only")
    ap.add_argument("--layers", type=int, default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--impl", default="hf,hand")
    ap.add_argument("--no-sharded", action="store_true")
    ap.add_argument("--child")
    ap.add_argument("--out", default=None,
                    help="path prefix of the .txt/.json results (default ./bench_materialize[_quick]); "
                         "pass benchmarks/results/bench_materialize to update the tracked results")
    a = ap.parse_args()
    layers = a.layers or (2 if a.quick else 20)
    if a.child:
        child(a.child, a.impl, layers, a.threads)
        return
    repeats = a.repeats or (1 if a.quick else 3)
    results = {"runs": [], "sharded": {}}
    lines = [f"# bench_materialize: {layers} layers, float32, CPU, {a.threads} threads, fresh process per "
             f"measurement, {repeats} repeat(s) alternating; {platform.processor() or platform.machine()}, "
             f"{os.cpu_count()} CPUs; machine shared with other jobs: noisy", ""]
    for impl in a.impl.split(","):
        for _ in range(repeats):
            for mode in ("deferred", "eager", "floor"):
                r = run_child(mode, impl, layers, a.threads)
                results["runs"].append(r)
                print(json.dumps(r), flush=True)
    import statistics

    lines.append("| impl | params | eager | floor | deferred_init | materialize_ | deferred total | x eager | x floor "
                 "| peak RSS / model bytes | (peak - RSS before) / model bytes |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    summary = {}
    for impl in a.impl.split(","):
        rs = [r for r in results["runs"] if r["impl"] == impl]

        def med(mode, key="build_s", rs=rs):
            return statistics.median(r[key] for r in rs if r["mode"] == mode)

        d = [r for r in rs if r["mode"] == "deferred"]
        s = dict(params=d[0]["params"], eager_s=med("eager"), floor_s=med("floor"), deferred_s=med("deferred"),
                 deferred_init_s=med("deferred", "deferred_init_s"), materialize_s=med("deferred", "materialize_s"),
                 peak_over_model=statistics.median(r["peak_rss"] / r["model_bytes"] for r in d),
                 growth_over_model=statistics.median((r["peak_rss"] - r["rss_before"]) / r["model_bytes"] for r in d))
        s["x_eager"] = s["eager_s"] / s["deferred_s"]
        s["x_floor"] = s["floor_s"] / s["deferred_s"]
        summary[impl] = s
        lines.append(f"| {impl} | {s['params'] / 1e9:.3f} B | {s['eager_s']:.2f} s | {s['floor_s']:.2f} s | "
                     f"{s['deferred_init_s']:.3f} s | {s['materialize_s']:.2f} s | {s['deferred_s']:.2f} s | "
                     f"{s['x_eager']:.2f} | {s['x_floor']:.2f} | {s['peak_over_model']:.3f} | "
                     f"{s['growth_over_model']:.3f} |")
        print(f"{impl}: deferred_init + materialize_ = {s['x_eager']:.2f}x torch eager (target >= 4), "
              f"{s['x_floor']:.2f}x the floor (target >= 0.8); deferred_init alone {s['deferred_init_s']:.3f} s "
              f"(target < 2 s); peak RSS {s['peak_over_model']:.3f}x the model's bytes (target <= 1.1)", flush=True)
    results["summary"] = summary
    if not a.no_sharded:
        lines += ["", "Sharded (FSDP2 fully_shard per layer and root, gloo, 1 thread per rank, ranks run at "
                  "once on the shared cores): per rank", "",
                  "| impl | world | rank | deferred_init | materialize_ | total | local bytes | peak RSS | "
                  "peak - RSS before |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for impl in a.impl.split(","):
            for world in ((2,) if a.quick else (2, 4)):
                res = sharded(impl, layers, world)
                results["sharded"][f"{impl}-{world}"] = res
                for r in res:
                    print(json.dumps(dict(impl=impl, world=world, **r)), flush=True)
                    lines.append(f"| {impl} | {world} | {r['rank']} | {r['deferred_init_s']:.3f} s | "
                                 f"{r['materialize_s']:.2f} s | {r['total_s']:.2f} s | {gib(r['local_bytes']):.2f} GiB | "
                                 f"{gib(r['peak_rss']):.2f} GiB | {gib(r['peak_rss'] - r['rss_before']):.2f} GiB |")
    out = a.out or os.path.abspath("bench_materialize" + ("_quick" if a.quick else ""))
    with open(out + ".json", "w") as f:
        json.dump(results, f, indent=1)
    with open(out + ".txt", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
