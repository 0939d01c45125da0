"""Whole-model start-up: a Llama-style model of about 1B parameters (float32, ~4 GB), built
three ways, each in a fresh subprocess (clean RSS, cold allocator, page faults included):

  torch    torch's default construction (Hugging Face: nn.Linear's kaiming_uniform_ in the
           constructors, then the model's own _init_weights: normal(0, 0.02) everywhere)
  patch    the same constructor under fastinit.patch_torch_init()
  meta     built on the meta device, to_empty(device="cpu"), fastinit init_module_()
  floor    the memory-write floor: built on the meta device, to_empty(device="cpu"), then
           fill_(0.5) on every parameter and buffer (allocate + fill_, no random numbers)

Reported per mode: the build time (constructor + init, i.e. from nothing to a usable model
on the CPU, page faults included), the whole process's wall time (interpreter start and
imports included), peak RSS and minor page faults. JSON to benchmarks/results/bench_model.json.

    python benchmarks/bench_model.py                  # HF LlamaForCausalLM, ~1.0B params
    python benchmarks/bench_model.py --impl torch     # a hand-written Llama-style nn.Module
    python benchmarks/bench_model.py --layers 4       # smaller, for a quick look
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


def _hand_written(cfg, layers):
    import torch.nn as nn

    h, i, v = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    kv = h // cfg["num_attention_heads"] * cfg["num_key_value_heads"]

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.q, self.k, self.v, self.o = (nn.Linear(h, h, bias=False), nn.Linear(h, kv, bias=False),
                                              nn.Linear(h, kv, bias=False), nn.Linear(h, h, bias=False))
            self.gate, self.up, self.down = (nn.Linear(h, i, bias=False), nn.Linear(h, i, bias=False),
                                             nn.Linear(i, h, bias=False))
            self.n1, self.n2 = nn.RMSNorm(h), nn.RMSNorm(h)

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(v, h)
            self.layers = nn.ModuleList(Layer() for _ in range(layers))
            self.norm = nn.RMSNorm(h)
            self.lm_head = nn.Linear(h, v, bias=False)

    return Model()


def child(mode: str, impl: str, layers: int) -> None:
    import resource

    t_proc = time.perf_counter()
    import torch

    import fastinit
    from fastinit.models.module import init_module_
    from fastinit.models.patch import patch_torch_init

    if impl == "hf":
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import LlamaConfig, LlamaForCausalLM

        cfg = LlamaConfig(num_hidden_layers=layers, tie_word_embeddings=False, **CFG)

        def build():
            return LlamaForCausalLM(cfg)
    else:
        def build():
            return _hand_written(CFG, layers)

    torch.manual_seed(0)
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    if mode == "torch":
        model = build()
    elif mode == "patch":
        with patch_torch_init():
            model = build()
    elif mode == "meta":
        with torch.device("meta"):
            model = build()
        t_meta = time.perf_counter()
        model.to_empty(device="cpu")
        init_module_(model)
    elif mode == "floor":
        with torch.device("meta"):
            model = build()
        t_meta = time.perf_counter()
        model.to_empty(device="cpu")
        with torch.no_grad():
            for t in list(model.parameters()) + list(model.buffers()):
                if t.is_floating_point():
                    t.fill_(0.5)
    else:
        raise SystemExit(f"unknown mode {mode}")
    t1 = time.perf_counter()
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    n = sum(p.numel() for p in model.parameters())
    w = next(iter(model.parameters()))
    out = {
        "mode": mode, "impl": impl, "layers": layers, "params": n,
        "build_s": t1 - t0,
        "meta_build_s": (t_meta - t0) if mode in ("meta", "floor") else None,
        "process_wall_s": None,  # filled by the parent
        "in_process_s": time.perf_counter() - t_proc,
        "peak_rss_gib": ru1.ru_maxrss / 2 ** 20,
        "minor_faults": ru1.ru_minflt - ru0.ru_minflt,
        "finite": bool(torch.isfinite(w).all()),
        "threads": fastinit.get_num_threads(),
    }
    print("RESULT " + json.dumps(out), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--impl", choices=["hf", "torch"], default="hf")
    ap.add_argument("--layers", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=1, help="runs per mode (the median is reported)")
    ap.add_argument("--modes", default="torch,patch,meta,floor")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "bench_model.json"))
    a = ap.parse_args()
    if a.child:
        child(a.child, a.impl, a.layers)
        return
    if a.impl == "hf":
        try:
            import transformers  # noqa: F401
        except Exception as e:
            print(f"transformers not importable ({e}); using --impl torch", file=sys.stderr)
            a.impl = "torch"
    runs = {}
    # Modes alternate within each repeat, so a slow spell of the shared machine hits all.
    for r in range(a.repeat):
        for mode in a.modes.split(","):
            t = time.perf_counter()
            p = subprocess.run([sys.executable, __file__, "--child", mode, "--impl", a.impl,
                                "--layers", str(a.layers)], capture_output=True, text=True)
            wall = time.perf_counter() - t
            line = [s for s in p.stdout.splitlines() if s.startswith("RESULT ")]
            if p.returncode or not line:
                raise SystemExit(f"{mode} failed:\n{p.stdout}\n{p.stderr[-4000:]}")
            res = json.loads(line[-1][7:])
            res["process_wall_s"] = wall
            runs.setdefault(mode, []).append(res)
            print(f"{mode:6s} build {res['build_s']:7.2f} s  process {wall:7.2f} s  "
                  f"peak RSS {res['peak_rss_gib']:5.2f} GiB  faults {res['minor_faults']:>9d}  "
                  f"params {res['params'] / 1e9:.3f} B", flush=True)

    def med(mode, key):
        v = sorted(r[key] for r in runs[mode])
        return v[len(v) // 2]

    summary = {m: {k: med(m, k) for k in ("build_s", "process_wall_s", "peak_rss_gib", "minor_faults")}
               for m in runs}
    if "floor" in summary:
        for m in summary:
            summary[m]["build_vs_floor"] = summary["floor"]["build_s"] / summary[m]["build_s"]
    if "torch" in summary:
        for m in summary:
            summary[m]["build_speedup_vs_torch"] = summary["torch"]["build_s"] / summary[m]["build_s"]
            summary[m]["process_speedup_vs_torch"] = summary["torch"]["process_wall_s"] / summary[m]["process_wall_s"]
    import torch

    import fastinit

    doc = {
        "what": "Llama-style model, float32, built from nothing to a usable CPU model; each run a fresh process",
        "impl": a.impl, "layers": a.layers, "config": CFG,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version(),
                    "torch": torch.__version__, "fastinit": fastinit.info(),
                    "note": "shared machine: timings are noisy"},
        "env": {k: os.environ.get(k) for k in ("FASTINIT_HUGEPAGE", "FASTINIT_CPU_ISA")},
        "summary": summary, "runs": runs,
    }
    try:
        import transformers

        doc["transformers"] = transformers.__version__
    except Exception:
        pass
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(doc, f, indent=1)
    for m, s in summary.items():
        extra = f"  x{s['build_speedup_vs_torch']:.1f} build, x{s['process_speedup_vs_torch']:.1f} process" \
            if "build_speedup_vs_torch" in s else ""
        if "build_vs_floor" in s:
            extra += f", {s['build_vs_floor']:.2f}x of the floor's speed"
        print(f"{m:6s} build {s['build_s']:.2f} s  process {s['process_wall_s']:.2f} s  "
              f"peak {s['peak_rss_gib']:.2f} GiB{extra}")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
