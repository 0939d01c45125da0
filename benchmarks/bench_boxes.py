#!/usr/bin/env python
"""Shard fills against whole-tensor fills, on this machine (issue 5).

    python benchmarks/bench_boxes.py

A rank of a sharded float32 (8192, 8192) weight holds a box of it: Shard(0) gives whole
rows (its stream indices are one run), Shard(1) gives rows of 8192/world elements (one run
per row, one kernel call each). Each is timed against a whole-tensor fill of the same
number of elements in the same buffer, the two alternating; medians of 15, 1 and 2 threads.
Writes benchmarks/results/bench_boxes.txt.
"""
from __future__ import annotations

import os
import time

import numpy as np

import fastinit
from fastinit import _C

HERE = os.path.dirname(os.path.abspath(__file__))
G = 8192


def paired_medians(f, g, n=15):
    """Medians of f's and g's times, alternating f and g so that drifts of this shared
    machine's speed hit both alike."""
    tf, tg = [], []
    for _ in range(n):
        for fn, ts in ((f, tf), (g, tg)):
            t = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t)
    return sorted(tf)[n // 2], sorted(tg)[n // 2]


def main():
    lines = [f"# bench_boxes: shard boxes of a float32 ({G}, {G}) tensor, fastinit {fastinit.__version__} "
             f"({fastinit.info()['isa']})", "",
             "| layout | local shape | threads | whole-tensor fill G/s | box fill G/s | box / whole |",
             "|---|---|---:|---:|---:|---:|"]
    for world in (2, 4):
        for dim in (0, 1):
            shape = (G // world, G) if dim == 0 else (G, G // world)
            a = np.zeros(shape, np.float32)
            strides = [shape[1] * 4, 4]
            corner = (G // world) * (G if dim == 0 else 1)  # rank 1's box
            for threads in (1, 2):
                whole, box = paired_medians(
                    lambda: _C.fill(a.ctypes.data, 0, list(shape), strides, -1.0, 1.0, 1, 0, "", threads),
                    lambda: _C.fill(a.ctypes.data, 0, list(shape), strides, -1.0, 1.0, 1, corner, "", threads, [G, 1]))
                lines.append(f"| Shard({dim}), world {world} | {shape} | {threads} | {a.size / whole / 1e9:.2f} | "
                             f"{a.size / box / 1e9:.2f} | {whole / box:.2f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    with open(os.path.join(HERE, "results", "bench_boxes.txt"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
