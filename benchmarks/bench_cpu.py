#!/usr/bin/env python
"""CPU throughput benchmark: fastinit vs torch.nn.init vs NumPy Philox vs the memory-write limit.

    python benchmarks/bench_cpu.py            # default: 1e3..1e8, ~5 minutes on 2 cores
    python benchmarks/bench_cpu.py --quick    # a few sizes, few repeats, < 1 minute
    python benchmarks/bench_cpu.py --full     # 1e3..5e8, more repeats
    python benchmarks/bench_cpu.py --out DIR  # results dir (default benchmarks/results)

Every case fills a pre-touched buffer (allocated once, written once, then filled
repeatedly) and reports the median time of one call. Small sizes loop many calls
per sample. The "write limit" of a (dtype, size, threads) case is the fastest of
`torch.Tensor.fill_(0.5)` and `numpy.ndarray.fill` on the same buffer in the
same run. One extra case times a fresh allocation (`torch.empty` + init, page
faults included) at 1e8 float32, and a subprocess checks that a fastinit fill
does not grow peak RSS.

Writes bench_cpu.json (all rows plus machine info) and bench_cpu.png
(throughput vs size, per dtype) and prints PASS/MISS lines for the targets of
the benchmark issue. Works without torch (then compares against NumPy only).
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

KAIMING_A = math.sqrt(5)
SEED = 1234
COLS = 1000  # tensors are (n // COLS, COLS): fan_in = 1000 for every size
FRESH_SIZE = 10**8
RSS_SIZE = 10**8

ITEMSIZE = {"float32": 4, "float64": 8, "float16": 2, "bfloat16": 2}
BITS_OF_HALF = {"float32": (np.uint32, 0x3F000000), "float64": (np.uint64, 0x3FE0000000000000),
                "float16": (np.uint16, 0x3800), "bfloat16": (np.uint16, 0x3F00)}

MODES = {
    # sizes; timing: seconds per sample (at least), samples (min, max), seconds per case;
    # thread counts of the fresh-allocation case
    "quick": dict(sizes=[10**3, 10**5, 10**7], min_sample_s=0.002, reps=(3, 7), budget_s=0.15,
                  fresh_threads=[2]),
    "default": dict(sizes=[10**3, 10**4, 10**5, 10**6, 10**7, 10**8],
                    min_sample_s=0.01, reps=(3, 21), budget_s=0.6, fresh_threads=[1, 2]),
    "full": dict(sizes=[10**3, 10**4, 10**5, 10**6, 10**7, 10**8, 5 * 10**8],
                 min_sample_s=0.02, reps=(5, 31), budget_s=1.5, fresh_threads=[1, 2]),
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

def add_derived(rows):
    """ratio_to_torch, ratio_to_numpy (their time / op time) and frac_write_limit, per
    (case, dtype, size, threads).

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


HEADER = (f"{'op':<11} {'case':<10} {'dtype':<9} {'size':>9} {'thr':>3} {'median':>10} "
          f"{'Gval/s':>8} {'GB/s':>7} {'x torch':>8} {'x numpy':>8} {'x limit':>7}")


def format_row(r):
    return (f"{r['op']:<11} {r['case']:<10} {r['dtype']:<9} {r['size']:>9.0e} {r['threads']:>3} "
            f"{fmt_time(r['median_s']):>10} {r['gvals_per_s']:>8.3f} {r['gb_per_s']:>7.2f} "
            f"{fmt(r.get('ratio_to_torch'), '8.2f'):>8} {fmt(r.get('ratio_to_numpy'), '8.2f'):>8} "
            f"{fmt(r.get('frac_write_limit'), '7.2f'):>7}")


def print_table(rows):
    print()
    print(HEADER)
    print("-" * len(HEADER))
    for r in sorted(rows, key=lambda r: (r["case"] != "pretouched", DTYPES.index(r["dtype"]),
                                         r["size"], r["threads"], r["op"])):
        print(format_row(r))


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


def machine_info():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    return dict(date=datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
                cpu_model=cpu, cpu_count=os.cpu_count(), platform=platform.platform(),
                python=platform.python_version(), numpy=np.__version__,
                torch=torch.__version__ if torch is not None else None,
                fastinit=fastinit.info(),
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
    g.add_argument("--quick", action="store_const", dest="mode", const="quick", help="few sizes and repeats (<1 min)")
    g.add_argument("--full", action="store_const", dest="mode", const="full", help="1e3..5e8, more repeats")
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"),
                   help="results directory (default: benchmarks/results)")
    p.add_argument("--no-torch", action="store_true", help="compare against NumPy only")
    p.add_argument("--no-plot", action="store_true")
    args = p.parse_args(argv)
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
    log(HEADER)
    t_start = time.perf_counter()
    rows = bench_pretouched(cfg, DTYPES, THREADS, use_torch, log)
    rows += bench_normal_family(cfg, mode, THREADS, use_torch, log)
    rows += bench_fresh(cfg, use_torch, log)
    add_derived(rows)
    print_table(rows)

    results = targets(rows, max_threads) + [peak_rss_check(use_torch)]
    print()
    for t in results:
        value = fmt(t.get("value"), ".3f")
        print(f"{t['status']:<20} {t['target']}  (measured {value})" + (f"\n{t['error']}" if "error" in t else ""))
    elapsed = time.perf_counter() - t_start
    info["load_average_end"] = os.getloadavg()
    print(f"\nelapsed {elapsed:.0f} s")

    os.makedirs(args.out, exist_ok=True)
    json_path = os.path.join(args.out, "bench_cpu.json")
    with open(json_path, "w") as f:
        json.dump(dict(machine=info, mode=mode, config=cfg, elapsed_s=elapsed, rows=rows, targets=results),
                  f, indent=1)
    print(f"wrote {json_path}")
    if not args.no_plot:
        png_path = os.path.join(args.out, "bench_cpu.png")
        plot(rows, DTYPES, max_threads, png_path)
        print(f"wrote {png_path}")


if __name__ == "__main__":
    main()
