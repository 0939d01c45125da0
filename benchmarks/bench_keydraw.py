"""Per-call cost of an unseeded fill and of its key draw (issue 20 item 4), and of a constant fill.

Median of many calls, the candidates alternating in rounds so that a busy machine
slows all of them alike. Prints ratios to torch.nn.init's own function.

    python benchmarks/bench_keydraw.py [--rounds 41] [--calls 2000]
"""
from __future__ import annotations

import argparse
import math
import platform
import statistics
import time

import torch

import fastinit
from fastinit.core import seeds


def per_call(fn, calls):
    t0 = time.perf_counter_ns()
    for _ in range(calls):
        fn()
    return (time.perf_counter_ns() - t0) / calls


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=41)
    ap.add_argument("--calls", type=int, default=2000)
    args = ap.parse_args()
    torch.set_num_threads(1)
    buf = torch.empty(2, dtype=torch.int64)
    cases = {}
    for shape in ((16, 16), (10, 100)):
        w = torch.empty(shape)
        cases[f"torch kaiming_uniform_ {shape}"] = (lambda w=w: torch.nn.init.kaiming_uniform_(w, a=math.sqrt(5)))
        cases[f"fastinit kaiming_uniform_ {shape}"] = (lambda w=w: fastinit.kaiming_uniform_(w, a=math.sqrt(5)))
        cases[f"fastinit kaiming_uniform_ {shape} seed=1"] = (
            lambda w=w: fastinit.kaiming_uniform_(w, a=math.sqrt(5), seed=1))
    b = torch.empty(768)
    cases["torch ones_ (768,)"] = lambda: torch.nn.init.ones_(b)
    cases["fastinit ones_ (768,)"] = lambda: fastinit.ones_(b)
    cases["draw: torch.randint(0, 2**32, (2,))"] = lambda: torch.randint(0, 1 << 32, (2,), dtype=torch.int64)
    cases["draw: buf.random_(0, 2**32)"] = lambda: buf.random_(0, 1 << 32)
    cases["draw: seeds.torch_seed_words(None)"] = lambda: seeds.torch_seed_words(None)
    times = {k: [] for k in cases}
    for fn in cases.values():
        per_call(fn, args.calls // 4)  # warm up
    for _ in range(args.rounds):
        for k, fn in cases.items():
            times[k].append(per_call(fn, args.calls))
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, 1 torch thread, "
          f"median of {args.rounds} rounds x {args.calls} calls")
    for k, v in med.items():
        line = f"{k:45s} {v / 1000:7.2f} us"
        for shape, ref_key in (("(16, 16)", "torch kaiming_uniform_ (16, 16)"),
                               ("(10, 100)", "torch kaiming_uniform_ (10, 100)"), ("(768,)", "torch ones_ (768,)")):
            if k.startswith("fastinit") and shape in k:
                line += f"   {v / med[ref_key]:.2f}x torch"
        print(line)


if __name__ == "__main__":
    main()
