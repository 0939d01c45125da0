#!/usr/bin/env python
"""CPU throughput benchmark: fastinit vs torch.nn.init vs NumPy Philox vs the memory-write limit.

    python benchmarks/bench_cpu.py            # default: 1e3..1e8, ~5 minutes on 2 cores
    python benchmarks/bench_cpu.py --quick    # a few sizes, few repeats, about a minute: a smoke test
    python benchmarks/bench_cpu.py --full     # 1e3..5e8, more repeats
    python benchmarks/bench_cpu.py --out benchmarks/results   # replace the committed results

Results go to benchmarks/out/ (not tracked by git) unless --out names another folder.
Plots need matplotlib (`pip install ".[bench]"`); without it the table and JSON are
still written and a note says why there is no plot.

Every case fills a pre-touched buffer (allocated once, written once, then filled
repeatedly) and reports the median time of one call. Small sizes loop many calls
per sample. The "write limit" of a (dtype, size, threads) case is the fastest of
`torch.Tensor.fill_(0.5)` and `numpy.ndarray.fill` on the same buffer in the
same run. Extra cases:

* per call: kaiming_uniform_ on a (1, 1000) and a (16, 16) weight, fastinit and torch
  alternating, at the default thread count (what a model's many small tensors cost);
* fresh (in process): `torch.empty` + init per call at 1e8 float32, page faults included;
* fresh process: one new process per sample allocates `torch.empty(8192, 8192)` and
  fills it once (fastinit kaiming_uniform_, torch's, or `fill_(0.5)`, the floor), in turn;
* a subprocess checks that a fastinit fill does not grow peak RSS.

Every row is also given as a multiple of `torch.Tensor.fill_(0.5)` on the same buffer
("x fill_") and of the Philox floor ("x floor"): the rate at which the active ISA's own
Philox code alone writes its words into L1, per thread, times the row's threads (one word
per value; two for float64). The floor is measured by building benchmarks/bench_philox.cpp
against this checkout's csrc/ (needs g++; --no-floor skips it).

Writes bench_cpu.json (all rows plus the machine: CPU model, ISA in use, threads,
transparent-huge-page settings), bench_cpu.txt (the printed table and targets) and
bench_cpu.png (throughput vs size, per dtype), and prints PASS/MISS lines for the
performance targets. Works without torch (then compares against NumPy only).
"""

import argparse
import datetime
import gc
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

try:
    import torch
except ImportError:  # NumPy-only mode
    torch = None

try:
    import ml_dtypes
except ImportError:
    ml_dtypes = None

import fastinit

DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "out")
KAIMING_A = math.sqrt(5)
SEED = 1234
COLS = 1000  # tensors are (n // COLS, COLS): fan_in = 1000 for every size
FRESH_SIZE = 10**8
FRESH_PROCESS_SHAPE = (8192, 8192)
PER_CALL_SHAPES = [(1, 1000), (16, 16)]
RSS_SIZE = 10**8

ITEMSIZE = {"float32": 4, "float64": 8, "float16": 2, "bfloat16": 2}
BITS_OF_HALF = {"float32": (np.uint32, 0x3F000000), "float64": (np.uint64, 0x3FE0000000000000),
                "float16": (np.uint16, 0x3800), "bfloat16": (np.uint16, 0x3F00)}

MODES = {
    # sizes; timing: seconds per sample (at least), samples (min, max), seconds per case;
    # thread counts of the fresh-allocation case
    "quick": dict(sizes=[10**3, 10**5, 10**7], min_sample_s=0.002, reps=(3, 7), budget_s=0.15,
                  fresh_threads=[2], per_call_samples=15, fresh_process_runs=1),
    "default": dict(sizes=[10**3, 10**4, 10**5, 10**6, 10**7, 10**8],
                    min_sample_s=0.01, reps=(3, 21), budget_s=0.6, fresh_threads=[1, 2],
                    per_call_samples=41, fresh_process_runs=5),
    "full": dict(sizes=[10**3, 10**4, 10**5, 10**6, 10**7, 10**8, 5 * 10**8],
                 min_sample_s=0.02, reps=(5, 31), budget_s=1.5, fresh_threads=[1, 2],
                 per_call_samples=81, fresh_process_runs=7),
}
DTYPES = ["float32", "bfloat16", "float16", "float64"]
THREADS = [1, 2]
# The normal family (issue 4): float32, pre-touched, fastinit against torch.nn.init's own.
NORMAL_SIZES = {"quick": [10**6], "default": [10**5, 10**6, 10**7, 10**8],
                "full": [10**5, 10**6, 10**7, 10**8]}
NORMAL_CASES = {
    "normal": (lambda t: fastinit.normal_(t, 0.0, 0.02, seed=SEED),
               lambda t: torch.nn.init.normal_(t, 0.0, 0.02)),
    "trunc_normal": (lambda t: fastinit.trunc_normal_(t, 0.0, 1.0, -2.0, 2.0, seed=SEED),
                     lambda t: torch.nn.init.trunc_normal_(t, 0.0, 1.0, -2.0, 2.0)),
}


# ---------------------------------------------------------------------------
# fastinit


def fastinit_init(obj):
    """One fastinit Kaiming-uniform fill, as the benchmark times it."""
    fastinit.kaiming_uniform_(obj, a=KAIMING_A, seed=SEED)


def kaiming_bound(fan_in, a=KAIMING_A):
    """torch.nn.init's bound, computed here independently of fastinit (for the sanity check)."""
    gain = math.sqrt(2.0 / (1 + a * a))
    return math.sqrt(3.0) * (gain / math.sqrt(fan_in))


# ---------------------------------------------------------------------------
# buffers

class Buffer:
    """One pre-touched buffer of n elements, seen as a torch tensor and/or a NumPy array."""

    def __init__(self, dtype, n, use_torch):
        self.dtype, self.n, self.itemsize = dtype, n, ITEMSIZE[dtype]
        self.shape = (n // COLS, COLS)
        if use_torch:
            self.tensor = torch.empty(self.shape, dtype=getattr(torch, dtype))
            raw = self.tensor.view(torch.uint8).numpy()
            self.array = self.tensor.numpy() if dtype != "bfloat16" else None
        else:
            self.tensor = None
            raw = np.empty(n * self.itemsize, dtype=np.uint8)
            self.array = raw.view(numpy_dtype(dtype)).reshape(self.shape) if numpy_dtype(dtype) else None
        int_type, self.half_bits = BITS_OF_HALF[dtype]
        self.bits = raw.reshape(-1).view(int_type)  # same memory, as integers (every dtype)
        self.bits.fill(0)  # touch every page
        self.target = self.tensor if self.tensor is not None else self.array  # what fastinit fills

    @property
    def nbytes(self):
        return self.n * self.itemsize


def numpy_dtype(dtype):
    if dtype == "bfloat16":
        return ml_dtypes.bfloat16 if ml_dtypes is not None else None
    return np.dtype(dtype)


def ops_for(buf):
    """{op name: callable} for every op that applies to this buffer. fill ops give the write limit."""
    ops = {"fastinit": lambda: fastinit_init(buf.target)}
    if buf.tensor is not None:
        t = buf.tensor
        ops["torch"] = lambda: torch.nn.init.kaiming_uniform_(t, a=KAIMING_A)
        ops["torch_fill"] = lambda: t.fill_(0.5)
    if buf.dtype in ("float32", "float64") and buf.array is not None:
        gen = np.random.Generator(np.random.Philox(SEED))
        a = buf.array
        ops["numpy"] = lambda: gen.random(out=a, dtype=a.dtype)
    bits, half = buf.bits, buf.half_bits
    ops["numpy_fill"] = lambda: bits.fill(half)
    return ops


SINGLE_THREADED = {"numpy", "numpy_fill"}  # run once, at threads=1
FILL_OPS = {"torch_fill", "numpy_fill"}


# ---------------------------------------------------------------------------
# timing

def set_threads(n):
    fastinit.set_num_threads(n)
    if torch is not None:
        torch.set_num_threads(n)


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def time_call(fn, cfg):
    """Time fn: returns (median s/call, min s/call, samples, calls per sample).

    A warm-up call estimates one call; small calls are looped to at least min_sample_s per
    sample, and the sample count fits budget_s within the mode's (min, max).
    """
    once = timed(fn)  # warm-up, and a first estimate of one call
    if once < 0.01:
        once = timed(fn)  # cheap: estimate again, warm
    once = max(once, 1e-7)
    inner = max(1, math.ceil(cfg["min_sample_s"] / once))
    lo, hi = cfg["reps"]
    reps = min(hi, max(lo, int(cfg["budget_s"] / (once * inner))))
    samples = []
    gc.disable()
    try:
        for _ in range(reps):
            t0 = time.perf_counter()
            for _ in range(inner):
                fn()
            samples.append((time.perf_counter() - t0) / inner)
    finally:
        gc.enable()
    return statistics.median(samples), min(samples), reps, inner


def make_row(op, dtype, n, threads, seconds, min_s, reps, inner, case="pretouched"):
    return dict(op=op, dtype=dtype, size=n, threads=threads, case=case, median_s=seconds, min_s=min_s,
                gvals_per_s=n / seconds / 1e9, gb_per_s=n * ITEMSIZE[dtype] / seconds / 1e9,
                repeats=reps, calls_per_sample=inner)


def bench_pretouched(cfg, dtypes, threads_list, use_torch, log):
    rows = []
    for n in cfg["sizes"]:
        for dtype in dtypes:
            if not use_torch and numpy_dtype(dtype) is None:
                log(f"skip {dtype}: needs torch or ml_dtypes")
                continue
            buf = Buffer(dtype, n, use_torch)
            ops = ops_for(buf)
            for threads in threads_list:
                set_threads(threads)
                for op, fn in ops.items():
                    if op in SINGLE_THREADED and threads != threads_list[0]:
                        continue
                    rows.append(make_row(op, dtype, n, threads, *time_call(fn, cfg)))
                    log(format_row(rows[-1]))
            sanity_check(buf)
            del buf, ops
            gc.collect()
    return rows


def bench_normal_family(cfg, mode, threads_list, use_torch, log):
    """normal_ and trunc_normal_ on float32, fastinit and torch, with the write limit of the
    same buffer; rows carry case "normal" / "trunc_normal"."""
    if not use_torch:
        return []
    rows = []
    for n in NORMAL_SIZES[mode]:
        t = torch.empty(n // COLS, COLS)
        t.fill_(0.0)
        for case, (fast, ref) in NORMAL_CASES.items():
            for threads in threads_list:
                set_threads(threads)
                for op, fn in (("fastinit", lambda t=t: fast(t)), ("torch", lambda t=t: ref(t)),
                               ("torch_fill", lambda t=t: t.fill_(0.5))):
                    rows.append(make_row(op, "float32", n, threads, *time_call(fn, cfg), case=case))
                    log(format_row(rows[-1]))
        del t
        gc.collect()
    return rows


def bench_fresh(cfg, use_torch, log):
    """torch.empty + init per call (page faults included), float32 at FRESH_SIZE."""
    if not use_torch:
        return []
    shape = (FRESH_SIZE // COLS, COLS)
    inits = {"fastinit": fastinit_init,
             "torch": lambda t: torch.nn.init.kaiming_uniform_(t, a=KAIMING_A),
             "torch_fill": lambda t: t.fill_(0.5)}
    fresh_cfg = dict(cfg, reps=(3, 3), budget_s=0)
    rows = []
    for threads in cfg["fresh_threads"]:
        set_threads(threads)
        for op, init in inits.items():
            fn = lambda: init(torch.empty(shape, dtype=torch.float32))
            rows.append(make_row(op, "float32", FRESH_SIZE, threads, *time_call(fn, fresh_cfg), case="fresh"))
            log(format_row(rows[-1]))
    return rows


def bench_per_call(cfg, use_torch, log):
    """kaiming_uniform_ per call on small weights, fastinit and torch alternating sample by
    sample (so that drifts of the machine's speed hit both alike), at the default thread
    count. Rows carry case "per_call" and the shape."""
    if not use_torch:
        return []
    set_threads(os.cpu_count() or 1)
    rows = []
    for shape in PER_CALL_SHAPES:
        t = torch.empty(shape)
        t.fill_(0.0)
        n = t.numel()
        ops = {"fastinit": lambda t=t: fastinit.kaiming_uniform_(t, a=KAIMING_A),
               "torch": lambda t=t: torch.nn.init.kaiming_uniform_(t, a=KAIMING_A)}
        inner = {op: max(1, math.ceil(cfg["min_sample_s"] / max(timed(fn), timed(fn), 1e-7)))
                 for op, fn in ops.items()}
        samples = {op: [] for op in ops}
        gc.disable()
        try:
            for _ in range(cfg["per_call_samples"]):
                for op, fn in ops.items():
                    k = inner[op]
                    t0 = time.perf_counter()
                    for _ in range(k):
                        fn()
                    samples[op].append((time.perf_counter() - t0) / k)
        finally:
            gc.enable()
        for op in ops:
            row = make_row(op, "float32", n, fastinit.get_num_threads(), statistics.median(samples[op]),
                           min(samples[op]), len(samples[op]), inner[op], case="per_call")
            row["shape"] = list(shape)
            rows.append(row)
            log(format_row(row))
    return rows


FRESH_PROCESS_SCRIPT = r"""
import json, sys, time
op, rows, cols, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
import math, torch, fastinit
torch.set_num_threads(threads)
fastinit.set_num_threads(threads)
warm = torch.empty(16, 16)  # load the kernels and start the pool before the clock
fastinit.kaiming_uniform_(warm, a=math.sqrt(5)); torch.nn.init.kaiming_uniform_(warm, a=math.sqrt(5))
init = {"fastinit": lambda t: fastinit.kaiming_uniform_(t, a=math.sqrt(5)),
        "torch": lambda t: torch.nn.init.kaiming_uniform_(t, a=math.sqrt(5)),
        "torch_fill": lambda t: t.fill_(0.5)}[op]
t0 = time.perf_counter()
init(torch.empty(rows, cols))
print(json.dumps({"seconds": time.perf_counter() - t0}))
"""


def bench_fresh_process(cfg, use_torch, log):
    """torch.empty(8192, 8192) + one fill, each sample in a new process (fresh pages, as a
    model build sees them), the ops in turn; rows carry case "fresh_process"."""
    if not use_torch:
        return []
    rows_, cols = FRESH_PROCESS_SHAPE
    n = rows_ * cols
    threads = max(THREADS)
    ops = ["fastinit", "torch", "torch_fill"]
    samples = {op: [] for op in ops}
    for _ in range(cfg["fresh_process_runs"]):
        for op in ops:
            proc = subprocess.run([sys.executable, "-c", FRESH_PROCESS_SCRIPT, op, str(rows_), str(cols), str(threads)],
                                  capture_output=True, text=True, timeout=600)
            if proc.returncode != 0:
                raise RuntimeError(f"fresh-process {op} failed:\n{proc.stderr[-2000:]}")
            samples[op].append(json.loads(proc.stdout.strip().splitlines()[-1])["seconds"])
    rows = []
    for op in ops:
        row = make_row(op, "float32", n, threads, statistics.median(samples[op]), min(samples[op]),
                       len(samples[op]), 1, case="fresh_process")
        row["shape"] = list(FRESH_PROCESS_SHAPE)
        rows.append(row)
        log(format_row(row))
    return rows


def sanity_check(buf):
    """Cheap checks of fastinit on this buffer: 1 and 2 threads agree, values in range, mean near 0."""
    step = max(1, buf.n // 10**6)
    fills = []
    for threads in THREADS:
        fastinit.set_num_threads(threads)
        buf.bits.fill(0)
        fastinit_init(buf.target)
        fills.append(buf.bits[::step].copy())
    problems = []
    if not np.array_equal(fills[0], fills[1]):
        problems.append("1-thread and 2-thread fills differ")
    flat = buf.target.reshape(-1)[::step]
    x = flat.double().numpy() if buf.tensor is not None else flat.astype(np.float64)
    bound = kaiming_bound(COLS)
    slack = bound * 2**-7  # storage rounding of the bounds (bfloat16 has 8 significant bits)
    if not (-bound - slack <= x.min() < x.max() <= bound + slack):
        problems.append(f"values outside [-{bound:.6g}, {bound:.6g}]: min {x.min():.6g} max {x.max():.6g}")
    if abs(x.mean()) > 5 * bound / math.sqrt(3 * x.size):
        problems.append(f"mean {x.mean():.3g} too far from 0 (bound {bound:.3g}, {x.size} values)")
    if problems:
        raise AssertionError(f"fastinit {buf.dtype} n={buf.n:.0e}: " + "; ".join(problems))


# ---------------------------------------------------------------------------
# derived columns: ratio to torch, fraction of write limit

def philox_floor(isa, log):
    """The Philox floor of `isa` on this machine: G words/s per thread, from
    bench_philox.cpp's "floor" (Philox words alone into L1, TSC ticks per word) and the TSC
    rate; None (with a note) where it cannot be built or run."""
    import shutil
    import tempfile
    here = os.path.dirname(os.path.abspath(__file__))
    csrc = os.path.join(os.path.dirname(here), "csrc")
    if isa not in ("avx2", "avx512") or not os.path.isdir(csrc):
        log(f"no Philox floor: ISA {isa} or no csrc/ next to benchmarks/")
        return None
    sys.path.insert(0, here)
    try:
        import bench_philox
        tmp = tempfile.mkdtemp()
        try:
            exe = bench_philox.build(csrc, tmp, os.environ.get("CXX", "g++"))
            ticks = statistics.median(bench_philox.run(exe, isa, 61, "float32", "floor")[0] for _ in range(5))
            per_ns = bench_philox.run(exe, isa, 1, "float32", "tsc")[0]
        finally:
            shutil.rmtree(tmp)
    except (Exception, SystemExit) as e:  # no compiler, build error: the rest still runs
        log(f"no Philox floor: {e}")
        return None
    finally:
        sys.path.remove(here)
    return dict(isa=isa, ticks_per_word=ticks, tsc_ghz=per_ns, gwords_per_s_per_thread=per_ns / ticks)


def add_derived(rows, floor=None):
    """ratio_to_torch, ratio_to_numpy, ratio_to_fill (their time / op time; fill = torch's
    fill_), ratio_to_floor (op rate / the Philox floor's rate at the same thread count) and
    frac_write_limit, per (case, dtype, size, threads).

    The write limit is the fastest fill op of the same case; single-threaded ops (NumPy),
    measured once, count for every thread count.
    """
    def same(r, x, any_threads=False):
        return ((r["case"], r["dtype"], r["size"]) == (x["case"], x["dtype"], x["size"])
                and (any_threads or r["threads"] == x["threads"]))

    for r in rows:
        limit = max((x["gb_per_s"] for x in rows if x["op"] in FILL_OPS
                     and same(r, x, any_threads=x["op"] in SINGLE_THREADED)), default=None)
        torch_s = [x["median_s"] for x in rows if x["op"] == "torch" and same(r, x)]
        numpy_s = [x["median_s"] for x in rows if x["op"] == "numpy" and same(r, x, any_threads=True)]
        r["write_limit_gb_per_s"] = limit
        r["frac_write_limit"] = r["gb_per_s"] / limit if limit else None
        r["ratio_to_torch"] = torch_s[0] / r["median_s"] if torch_s else None
        r["ratio_to_numpy"] = numpy_s[0] / r["median_s"] if numpy_s else None
        fill_s = [x["median_s"] for x in rows if x["op"] == "torch_fill" and same(r, x)]
        r["ratio_to_fill"] = fill_s[0] / r["median_s"] if fill_s else None
        if floor is not None:
            words = 2 if r["dtype"] == "float64" else 1
            r["ratio_to_floor"] = r["gvals_per_s"] * words / (floor["gwords_per_s_per_thread"] * r["threads"])
        else:
            r["ratio_to_floor"] = None


def lookup(rows, op, dtype, size, threads, case="pretouched"):
    for r in rows:
        if (r["op"], r["dtype"], r["size"], r["threads"], r["case"]) == (op, dtype, size, threads, case):
            return r
    return None


# ---------------------------------------------------------------------------
# output

def fmt(x, spec):
    return "-" if x is None else format(x, spec)


def fmt_time(s):
    for unit, scale in (("s", 1), ("ms", 1e-3), ("us", 1e-6)):
        if s >= scale:
            return f"{s / scale:7.2f} {unit:2}"
    return f"{s / 1e-9:7.1f} ns"


HEADER = (f"{'op':<11} {'case':<13} {'dtype':<9} {'size':>9} {'thr':>3} {'median':>10} "
          f"{'Gval/s':>8} {'GB/s':>7} {'x torch':>8} {'x numpy':>8} {'x limit':>7} {'x fill_':>7} {'x floor':>7}")


def format_row(r):
    size = "x".join(map(str, r["shape"])) if "shape" in r else format(r["size"], ".0e")
    return (f"{r['op']:<11} {r['case']:<13} {r['dtype']:<9} {size:>9} {r['threads']:>3} "
            f"{fmt_time(r['median_s']):>10} {r['gvals_per_s']:>8.3f} {r['gb_per_s']:>7.2f} "
            f"{fmt(r.get('ratio_to_torch'), '8.2f'):>8} {fmt(r.get('ratio_to_numpy'), '8.2f'):>8} "
            f"{fmt(r.get('frac_write_limit'), '7.2f'):>7} {fmt(r.get('ratio_to_fill'), '7.2f'):>7} "
            f"{fmt(r.get('ratio_to_floor'), '7.2f'):>7}")


CASE_ORDER = ["pretouched", "normal", "trunc_normal", "fresh", "per_call", "fresh_process"]


def report_lines(info, mode, rows, results, elapsed):
    """The text report: machine, table, targets (stdout and bench_cpu.txt)."""
    yield (f"# bench_cpu ({mode}) {info['date']}: {info['cpu_model']}, {info['cpu_count']} CPUs, "
           f"ISA {info['isa']} (available: {', '.join(info['isas_available'])}), threads 1 and {info['threads_max']}, "
           f"THP enabled: {info['thp_enabled']}, defrag: {info['thp_defrag']}; torch {info['torch']}, "
           f"numpy {info['numpy']}, fastinit {info['fastinit']['version']}")
    fl = info.get("philox_floor")
    if fl:
        yield (f"Philox floor ({fl['isa']}, words alone into L1, benchmarks/bench_philox.cpp): "
               f"{fl['gwords_per_s_per_thread']:.2f} G words/s per thread ({fl['ticks_per_word']:.3f} TSC ticks "
               f"per word at {fl['tsc_ghz']:.2f} GHz) on {info['cpu_model']}")
    else:
        yield "Philox floor: not measured (x floor left out)"
    yield ""
    yield HEADER
    yield "-" * len(HEADER)
    for r in sorted(rows, key=lambda r: (CASE_ORDER.index(r["case"]), DTYPES.index(r["dtype"]),
                                         r["size"], r["threads"], r["op"])):
        yield format_row(r)
    yield ""
    for t in results:
        value = fmt(t.get("value"), ".3f")
        yield f"{t['status']:<20} {t['target']}  (measured {value})" + (f"\n{t['error']}" if "error" in t else "")
    yield f"\nelapsed {elapsed:.0f} s"


README_ROWS = [  # (label, dtype, size, threads, case)
    ("kaiming_uniform_", "float32", 10**3, 1, "pretouched"),
    ("kaiming_uniform_", "float32", 10**5, 2, "pretouched"),
    ("kaiming_uniform_", "float32", 10**8, 1, "pretouched"),
    ("kaiming_uniform_", "float32", 10**8, 2, "pretouched"),
    ("kaiming_uniform_", "bfloat16", 10**8, 2, "pretouched"),
    ("kaiming_uniform_", "float16", 10**8, 2, "pretouched"),
    ("kaiming_uniform_", "float64", 10**8, 2, "pretouched"),
    ("kaiming_uniform_, fresh `torch.empty`", "float32", 10**8, 2, "fresh"),
    ("normal_", "float32", 10**8, 2, "normal"),
    ("trunc_normal_", "float32", 10**8, 2, "trunc_normal"),
]


def readme_table(data):
    """The README's performance table (markdown lines) from one run's JSON; rows the run
    did not measure are left out. tests/test_docs.py checks the README against the JSON."""
    def speed(r):
        if r["case"] == "fresh":
            return f"{r['median_s'] * 1e3:.1f} ms"
        if r["size"] <= 10**3:
            return f"{r['median_s'] * 1e6:.1f} us"
        g = r["gvals_per_s"]
        return f"{g:.2f} G/s" if g >= 0.1 else f"{g:.3f} G/s"

    rows = data["rows"]
    yield "| op | dtype | elements | threads | fastinit | torch | x torch | x limit |"
    yield "|---|---|---:|---:|---:|---:|---:|---:|"
    for label, dtype, size, threads, case in README_ROWS:
        f, t = lookup(rows, "fastinit", dtype, size, threads, case), lookup(rows, "torch", dtype, size, threads, case)
        if f is None or t is None:
            continue
        x = f["ratio_to_torch"]
        yield (f"| {label} | {dtype} | {size:.0e}".replace("e+0", "e") + f" | {threads} | {speed(f)} | {speed(t)} | "
               f"{x:.2f} | {f['frac_write_limit']:.2f} |" if x < 1 else
               f"| {label} | {dtype} | {size:.0e}".replace("e+0", "e") + f" | {threads} | {speed(f)} | {speed(t)} | "
               f"{x:.1f} | {f['frac_write_limit']:.2f} |")


def check(name, row, field, minimum, stretch=None):
    """One target line: PASS/MISS, or SKIP when the case was not measured."""
    if row is None or row.get(field) is None:
        return dict(target=name, status="SKIP", value=None, minimum=minimum)
    value = row[field]
    status = "PASS" if value >= minimum else "MISS"
    if stretch is not None and value >= stretch:
        status += " (stretch met)"
    return dict(target=name, status=status, value=value, minimum=minimum)


def targets(rows, max_threads):
    fi = lambda dtype, size, threads=max_threads: lookup(rows, "fastinit", dtype, size, threads)
    big = 10**8
    out = [
        check(f"float32 1e8 {max_threads} thr >= 12x torch", fi("float32", big), "ratio_to_torch", 12),
        check(f"float32 1e8 {max_threads} thr >= 0.7x write limit (stretch 0.85)", fi("float32", big),
              "frac_write_limit", 0.7, stretch=0.85),
        check(f"bfloat16 1e8 {max_threads} thr >= 15x torch", fi("bfloat16", big), "ratio_to_torch", 15),
        check(f"float16 1e8 {max_threads} thr >= 15x torch", fi("float16", big), "ratio_to_torch", 15),
        check(f"float64 1e8 {max_threads} thr >= 8x torch", fi("float64", big), "ratio_to_torch", 8),
        check("float32 1e8 1 thr >= 6x torch", fi("float32", big, 1), "ratio_to_torch", 6),
        check(f"float32 1e5 {max_threads} thr >= 5x torch", fi("float32", 10**5), "ratio_to_torch", 5),
    ]
    for threads in sorted({1, max_threads}):
        out.append(check(f"float32 1e3 {threads} thr no slower per call than torch", fi("float32", 10**3, threads),
                         "ratio_to_torch", 1.0))
    per_call = lambda shape: next((r for r in rows if r["op"] == "fastinit" and r["case"] == "per_call"
                                   and r.get("shape") == list(shape)), None)
    out.append(check("kaiming_uniform_ (1, 1000) per call <= 1.0x torch's time", per_call((1, 1000)),
                     "ratio_to_torch", 1.0, stretch=1 / 0.6))
    out.append(check("kaiming_uniform_ (16, 16) per call <= 0.7x torch's time", per_call((16, 16)),
                     "ratio_to_torch", 1 / 0.7))
    out.append(check("fresh process: torch.empty(8192, 8192) + kaiming_uniform_ >= 0.8x of torch.empty + fill_",
                     lookup(rows, "fastinit", "float32", FRESH_PROCESS_SHAPE[0] * FRESH_PROCESS_SHAPE[1],
                            max_threads, "fresh_process"), "frac_write_limit", 0.8))
    for case in NORMAL_CASES:
        out.append(check(f"{case}_ float32 1e8 {max_threads} thr >= 6x torch's {case}_",
                         lookup(rows, "fastinit", "float32", big, max_threads, case), "ratio_to_torch", 6))
    return out


RSS_SCRIPT = r"""
import json, resource, sys
n, use_torch = int(sys.argv[1]), sys.argv[2] == "1"
sys.path.insert(0, sys.argv[3])
import bench_cpu as b
buf = b.Buffer("float32", n, use_torch)  # allocated and touched
b.fastinit_init(b.Buffer("float32", 10**6, use_torch).target)  # load the kernels, start the pool
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
b.fastinit_init(buf.target)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"before_kb": before, "after_kb": after, "tensor_bytes": buf.nbytes}))
"""


def peak_rss_check(use_torch):
    """Peak-RSS growth (ru_maxrss, kB on Linux) of one contiguous fastinit fill, in a fresh subprocess."""
    proc = subprocess.run([sys.executable, "-c", RSS_SCRIPT, str(RSS_SIZE), "1" if use_torch else "0",
                           os.path.dirname(os.path.abspath(__file__))],
                          capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        return dict(target="peak RSS growth < 1% of tensor", status="ERROR", error=proc.stderr[-2000:])
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    growth = (res["after_kb"] - res["before_kb"]) * 1024
    frac = growth / res["tensor_bytes"]
    return dict(target="float32 1e8 fill: peak RSS growth < 1% of tensor", value=frac, minimum=None,
                status="PASS" if frac < 0.01 else "MISS", growth_bytes=growth, **res)


def read_sys(path):
    """A /sys setting such as "always [madvise] never", or None where it cannot be read."""
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def machine_info():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    fi = fastinit.info()
    return dict(date=datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
                cpu_model=cpu, cpu_count=os.cpu_count(), isa=fi["isa"], isas_available=fi["isas_available"],
                threads_max=max(THREADS), thp_enabled=read_sys("/sys/kernel/mm/transparent_hugepage/enabled"),
                thp_defrag=read_sys("/sys/kernel/mm/transparent_hugepage/defrag"),
                env={k: os.environ.get(k) for k in ("FASTINIT_CPU_ISA", "FASTINIT_HUGEPAGE")},
                platform=platform.platform(),
                python=platform.python_version(), numpy=np.__version__,
                torch=torch.__version__ if torch is not None else None,
                fastinit=fi,
                load_average=os.getloadavg())


def plot(rows, dtypes, max_threads, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(dtype, "pretouched", f"kaiming_uniform_ {dtype}") for dtype in dtypes]
    panels += [("float32", case, f"{case}_ float32") for case in NORMAL_CASES
               if any(r["case"] == case for r in rows)]
    ncols = 2
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.5 * ncols, 4.2 * nrows), squeeze=False)
    styles = [("fastinit", max_threads, "C0", "-"), ("fastinit", 1, "C0", ":"),
              ("torch", max_threads, "C1", "-"), ("torch", 1, "C1", ":"), ("numpy", 1, "C2", "-")]
    for ax, (dtype, case, title) in zip(axes.flat, panels):
        pre = [r for r in rows if r["dtype"] == dtype and r["case"] == case]
        for op, threads, color, ls in styles:
            pts = sorted((r["size"], r["gvals_per_s"]) for r in pre if r["op"] == op and r["threads"] == threads)
            if pts:
                ax.plot(*zip(*pts), color=color, ls=ls, marker="o", ms=3, label=f"{op} {threads} thr")
        limit = sorted({(r["size"], r["write_limit_gb_per_s"] / ITEMSIZE[dtype]) for r in pre
                        if r["threads"] == max_threads and r["write_limit_gb_per_s"]})
        if limit:
            ax.plot(*zip(*limit), color="k", ls="--", label=f"write limit {max_threads} thr")
        ax.set(xscale="log", yscale="log", title=title, xlabel="elements", ylabel="G values / s")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    fig.suptitle("fastinit on CPU against torch.nn.init (pre-touched buffers)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------------------

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_const", dest="mode", const="quick", help="few sizes and repeats, about a minute: a smoke test")
    g.add_argument("--full", action="store_const", dest="mode", const="full", help="1e3..5e8, more repeats")
    p.add_argument("--out", default=DEFAULT_OUT,
                   help="results folder (default: benchmarks/out, not tracked by git; "
                        "pass benchmarks/results to replace the committed results)")
    p.add_argument("--no-torch", action="store_true", help="compare against NumPy only")
    p.add_argument("--no-plot", action="store_true", help="write no plot (plots need matplotlib)")
    p.add_argument("--readme-table", metavar="JSON",
                   help="print the README's performance table from a bench_cpu.json and exit")
    p.add_argument("--no-floor", action="store_true",
                   help="do not build benchmarks/bench_philox.cpp for the Philox floor (x floor left out)")
    p.add_argument("--no-fresh-process", action="store_true",
                   help="skip the fresh-process case (a few new processes of 256 MiB each)")
    args = p.parse_args(argv)
    if args.readme_table:
        with open(args.readme_table) as f:
            print("\n".join(readme_table(json.load(f))))
        return
    mode = args.mode or "default"
    cfg = MODES[mode]
    use_torch = torch is not None and not args.no_torch
    max_threads = max(THREADS)
    log = lambda s: print(s, file=sys.stderr, flush=True)  # progress; the final table goes to stdout

    info = machine_info()
    log(f"fastinit bench ({mode}): {info['cpu_model']}, {info['cpu_count']} cpus, torch {info['torch']}, "
        f"numpy {info['numpy']}, fastinit {info['fastinit']}")
    if info["load_average"][0] > 0.5:
        log(f"WARNING: load average {info['load_average'][0]:.2f} before the run: other work on this "
            f"machine will distort the timings (2-thread cases most)")
    info["philox_floor"] = None if args.no_floor else philox_floor(info["isa"], log)
    log(HEADER)
    t_start = time.perf_counter()
    rows = bench_pretouched(cfg, DTYPES, THREADS, use_torch, log)
    rows += bench_normal_family(cfg, mode, THREADS, use_torch, log)
    rows += bench_fresh(cfg, use_torch, log)
    rows += bench_per_call(cfg, use_torch, log)
    if not args.no_fresh_process:
        rows += bench_fresh_process(cfg, use_torch, log)
    add_derived(rows, info["philox_floor"])
    results = targets(rows, max_threads) + [peak_rss_check(use_torch)]
    elapsed = time.perf_counter() - t_start
    info["load_average_end"] = os.getloadavg()

    report = "\n".join(report_lines(info, mode, rows, results, elapsed))
    print(report)
    os.makedirs(args.out, exist_ok=True)
    if os.path.abspath(args.out) == os.path.abspath(DEFAULT_OUT):
        with open(os.path.join(args.out, ".gitignore"), "w") as f:
            f.write("# bench_cpu.py's default output: local runs, not committed\n*\n")
    txt_path = os.path.join(args.out, "bench_cpu.txt")
    with open(txt_path, "w") as f:
        f.write(report + "\n")
    json_path = os.path.join(args.out, "bench_cpu.json")
    with open(json_path, "w") as f:
        json.dump(dict(machine=info, mode=mode, config=cfg, elapsed_s=elapsed, rows=rows, targets=results),
                  f, indent=1)
    print(f"wrote {txt_path}\nwrote {json_path}")
    if args.no_plot:
        return
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("no plot: matplotlib is not installed (pip install matplotlib, or the bench extra: "
              "pip install \".[bench]\")")
        return
    png_path = os.path.join(args.out, "bench_cpu.png")
    plot(rows, DTYPES, max_threads, png_path)
    print(f"wrote {png_path}")


if __name__ == "__main__":
    main()
