"""Huge-page advice on or off (FASTINIT_HUGEPAGE), for two allocation patterns, each run in
fresh processes, alternating, medians over repeats:

* reuse: one 1e8-float32 buffer allocated, filled and freed 5 times (memory the process
  has touched before comes back);
* build: sixty fresh 5632x2048 float32 weights (2.8 GB) allocated and filled, as a model
  build does;
* fresh: one fresh torch.empty(8192, 8192) + kaiming_uniform_(a=sqrt(5)) on 2 threads, next
  to its floor, a fresh torch.empty(8192, 8192) + fill_(0.5) in the same kind of process
  (issue 13's target: fastinit >= 0.8x of the floor's speed).

Without the advice, fastinit pre-faults fresh targets with MADV_POPULATE_WRITE
(csrc/fill_cpu.cpp); with it, the first touch faults huge pages.

    python benchmarks/bench_hugepage.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

CHILD = r"""
import sys, time, torch, fastinit
pattern = sys.argv[1]
times = []
if pattern == "reuse":
    for i in range(5):
        t0 = time.perf_counter()
        w = torch.empty(10**8)
        fastinit.uniform_(w, -1, 1, seed=i)
        times.append(time.perf_counter() - t0)
        del w
    print(sorted(times)[len(times) // 2])
elif pattern in ("fresh", "floor"):
    torch.set_num_threads(2)
    fastinit.set_num_threads(2)
    x = torch.empty(64, 64)
    fastinit.kaiming_uniform_(x)
    x.fill_(0.5)
    t0 = time.perf_counter()
    w = torch.empty(8192, 8192)
    if pattern == "fresh":
        fastinit.kaiming_uniform_(w, a=5 ** 0.5)
    else:
        w.fill_(0.5)
    print(time.perf_counter() - t0)
else:
    t0 = time.perf_counter()
    ws = [fastinit.uniform_(torch.empty(5632, 2048), -0.01, 0.01, seed=i) for i in range(60)]
    print(time.perf_counter() - t0)
"""


def run(pattern: str, advice: bool) -> float:
    env = dict(os.environ, FASTINIT_HUGEPAGE="1" if advice else "0", OMP_NUM_THREADS="2")
    out = subprocess.run([sys.executable, "-c", CHILD, pattern], env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    results = {}
    for pattern in ("fresh", "reuse", "build"):
        samples = {False: [], True: []}
        floor = []
        for _ in range(args.repeats):
            for advice in (False, True):
                samples[advice].append(run(pattern, advice))
            if pattern == "fresh":
                floor.append(run("floor", False))
        results[pattern] = {("on" if k else "off"): v for k, v in samples.items()}
        off, on = statistics.median(samples[False]), statistics.median(samples[True])
        print(f"{pattern:6s} advice off {off:8.3f} s   on {on:8.3f} s   on/off {on / off:5.2f}   "
              f"(samples off {['%.2f' % x for x in samples[False]]}, on {['%.2f' % x for x in samples[True]]})")
        if floor:
            fl = statistics.median(floor)
            results["floor"] = {"fill_": floor}
            print(f"{'floor':6s} torch.empty + fill_(0.5) {fl:8.3f} s   fastinit's speed relative to it: "
                  f"advice off {fl / off:5.2f}x, on {fl / on:5.2f}x   (samples {['%.2f' % x for x in floor]})")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
