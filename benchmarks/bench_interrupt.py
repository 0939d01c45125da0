"""Ctrl-C latency of a long CPU fill (issue 19 item 3): the time from SIGINT to the
KeyboardInterrupt, measured from outside, in a fresh child per run; prints the median of
several runs and the machine.

A CPU fill runs in slices of 64 MiB with the GIL released and checks for signals between
slices (csrc/bindings.cpp, cpu_fill), so the latency is about the time of one slice on the
chosen path and thread count. tests/test_concurrency.py checks the slice rule without a
clock; this is the number.

    python benchmarks/bench_interrupt.py [--runs 7] [--isa scalar] [--threads 0] [--gib 3.0]
"""
from __future__ import annotations

import argparse
import os
import platform
import queue
import signal
import statistics
import subprocess
import sys
import textwrap
import threading
import time

_CHILD = textwrap.dedent(r"""
    import sys, time
    import numpy as np
    import fastinit
    if {threads}:
        fastinit.set_num_threads({threads})
    a = np.empty({n}, np.float16)
    a[:] = 0  # pages touched before the fill: the fill's own speed is measured
    print("START", fastinit.info()["isa"], fastinit.get_num_threads(), flush=True)
    try:
        fastinit.uniform_(a, -1.0, 1.0, seed=2)
        print("FINISHED", flush=True)
    except KeyboardInterrupt:
        print("INTERRUPTED", flush=True)
""")


def _reader(stream, q):
    for line in iter(stream.readline, ""):
        q.put((time.monotonic(), line.strip()))
    q.put((time.monotonic(), None))


def one_run(n, isa, threads, delay):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if isa:
        env["FASTINIT_CPU_ISA"] = isa
    proc = subprocess.Popen([sys.executable, "-c", _CHILD.format(n=n, threads=threads)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    q: queue.Queue = queue.Queue()
    threading.Thread(target=_reader, args=(proc.stdout, q), daemon=True).start()
    try:
        _, line = q.get(timeout=300)
        if not line or not line.startswith("START"):
            raise RuntimeError(f"child failed: {line}")
        _, used_isa, used_threads = line.split()
        time.sleep(delay)  # the fill is running
        t_sig = time.monotonic()
        proc.send_signal(signal.SIGINT)
        t_line, line = q.get(timeout=300)
        if line != "INTERRUPTED":
            raise RuntimeError(f"the fill was not interrupted (child said {line!r}); use a larger --gib")
        return t_line - t_sig, used_isa, int(used_threads)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def machine():
    model = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.startswith("model name"):
                    model = ln.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--isa", default="", help="FASTINIT_CPU_ISA for the child (default: the best available)")
    ap.add_argument("--threads", type=int, default=0, help="fastinit.set_num_threads in the child (0: default)")
    ap.add_argument("--gib", type=float, default=3.0, help="size of the float16 target")
    ap.add_argument("--delay", type=float, default=0.05, help="seconds between START and SIGINT")
    args = ap.parse_args()
    n = int(args.gib * (1 << 30)) // 2
    slice_elems = (64 << 20) // 2
    lat, info = [], None
    for _ in range(args.runs):
        dt, isa, threads = one_run(n, args.isa, args.threads, args.delay)
        lat.append(dt)
        info = (isa, threads)
    print(f"machine: {machine()}")
    print(f"fill: {n} float16 ({args.gib} GiB), slices of {slice_elems} elements, isa {info[0]}, {info[1]} threads")
    print(f"SIGINT -> KeyboardInterrupt over {args.runs} runs: median {statistics.median(lat) * 1e3:.1f} ms, "
          f"min {min(lat) * 1e3:.1f} ms, max {max(lat) * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
