"""Fills of fresh memory (issue 20): eighty fresh torch.empty(4096, 2048) float32 tensors
(2.7 GB; --rows for another size), each filled as it is made, against the floor (torch.empty + fill_(0.5)), on 2
threads, in fresh processes, alternating, medians and paired ratios.

--sites compares builds: each entry is a folder put first on PYTHONPATH (a wheel installed
with ``pip install --target``), or ``installed`` for the fastinit this Python imports. Run
it with a Python whose fastinit is not an editable install when comparing (an editable
install's import hook wins over PYTHONPATH).

    python benchmarks/bench_fresh.py [--rounds 15] [--tensors 80] [--rows 4096] [--sites installed,/tmp/site_base]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys

CHILD = r"""
import sys, time, torch, fastinit
torch.set_num_threads(2); fastinit.set_num_threads(2)
mode, count, rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
keep = []
t0 = time.perf_counter()
for i in range(count):
    t = torch.empty(rows, 2048)
    if mode == "floor": t.fill_(0.5)
    elif mode == "normal": fastinit.normal_(t, 0, 0.02, seed=i)
    else: fastinit.uniform_(t, -0.02, 0.02, seed=i)
    keep.append(t)
print(time.perf_counter() - t0)
"""


def run(site, mode, count, rows):
    env = dict(os.environ)
    if site != "installed":
        env["PYTHONPATH"] = site + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", CHILD, mode, str(count), str(rows)], env=env, check=True,
                         capture_output=True, text=True)
    return float(out.stdout.split()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--tensors", type=int, default=80)
    ap.add_argument("--sites", default="installed")
    ap.add_argument("--modes", default="normal,uniform")
    ap.add_argument("--rows", type=int, default=4096, help="rows of each (rows, 2048) tensor")
    args = ap.parse_args()
    sites, modes = args.sites.split(","), args.modes.split(",")
    times = {}
    for _ in range(args.rounds):
        times.setdefault(("floor", "torch"), []).append(run(sites[0], "floor", args.tensors, args.rows))
        for site in sites:
            for mode in modes:
                times.setdefault((mode, site), []).append(run(site, mode, args.tensors, args.rows))
    print(f"# {platform.machine()}, {os.cpu_count()} CPUs, {args.tensors} fresh {args.rows}x2048 float32 tensors, "
          f"2 threads, {args.rounds} rounds alternating, seconds")
    floor = statistics.median(times[("floor", "torch")])
    for (mode, site), v in times.items():
        s = sorted(v)
        print(f"{mode:8s} {site:30s} median {statistics.median(v):.3f}  q1 {s[len(s) // 4]:.3f}  "
              f"q3 {s[3 * len(s) // 4]:.3f}  x floor {floor / statistics.median(v):.2f}")
    for mode in modes:
        for site in sites[1:]:
            r = [a / b for a, b in zip(times[(mode, sites[0])], times[(mode, site)])]
            print(f"paired {mode} {sites[0]} / {site}: median {statistics.median(r):.3f}")


if __name__ == "__main__":
    main()
