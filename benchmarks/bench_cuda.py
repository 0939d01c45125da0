"""CUDA fill throughput: fastinit vs torch.nn.init vs the write limit.

For each dtype (float32, bfloat16, float16, float64) and size (1e6 .. 2e9 elements, capped by free
GPU memory) it times, on one 2-D buffer of shape (n / 1000, 1000):
  fastinit.uniform_(t, -1, 1, seed=1)
  fastinit.kaiming_uniform_(t)              (seed drawn from the CPU generator, as users call it)
  torch.nn.init.kaiming_uniform_(t)
  t.zero_()                                 (the write limit: same bytes, no compute)
with CUDA events after a warm-up; each figure is the median of >= 5 repeats. Small sizes
run the op several times between two events so that launch gaps and the event resolution
do not dominate.

Prints a table (G values/s, GB/s, ratio to torch, fraction of the write limit) and two
ceilings: the measured write limit, and a Philox compute ceiling (see philox_ceiling).
Writes JSON to $OUT/bench_cuda.json when OUT is set, else benchmarks/results/bench_cuda.json.

Run: python benchmarks/bench_cuda.py [--quick]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

try:
    import torch
except ImportError:
    sys.exit("bench_cuda.py needs torch")

import fastinit

HERE = os.path.dirname(os.path.abspath(__file__))
SIZES = [10**6, 10**7, 10**8, 10**9, 2 * 10**9]
DTYPES = ["float32", "bfloat16", "float16", "float64"]
REPEATS = 7
COLS = 1000

# Nominal HBM bandwidth (vendor datasheets), for the printout only; the fraction column
# uses the measured zero_() figure.
NOMINAL_GBPS = {"H200": 4800.0, "H100 80GB HBM3": 3350.0, "H100 PCIe": 2000.0, "H100 NVL": 3900.0,
                "A100-SXM4-80GB": 2039.0, "A100-SXM4-40GB": 1555.0, "A100-PCIE-40GB": 1555.0}


def sm_clock_mhz(dev: int) -> tuple[float, str]:
    props = torch.cuda.get_device_properties(dev)
    for attr in ("clock_rate",):  # kHz, where this torch exposes it
        v = getattr(props, attr, None)
        if v:
            return float(v) / 1000.0, f"torch device properties ({attr})"
    try:
        out = subprocess.run(["nvidia-smi", "-i", str(dev), "--query-gpu=clocks.max.sm", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=20).stdout.strip()
        return float(out.splitlines()[0]), "nvidia-smi clocks.max.sm"
    except Exception:  # noqa: BLE001 - any failure means "unknown", handled below
        return 1980.0, "assumed (H100/H200 SXM boost clock)"


def philox_ceiling(sms: int, mhz: float) -> dict:
    """Values/s that Philox alone allows, ignoring memory.

    Assumptions (sm_80 / sm_90):
    - 32-bit integer multiply (IMAD, IMAD.HI) throughput is 64 per clock per SM (CUDA C
      Programming Guide, "Arithmetic Instructions" throughput table, compute capability
      8.x / 9.0); the XORs and key additions go to the ALU pipe and overlap with it.
    - One Philox4x32 round needs mulhilo32 twice = 2 high + 2 low products = 4 multiply
      slots (an IMAD.WIDE counts as 2); 10 rounds = 40 slots per block of four 32-bit words.
    - float32 / bfloat16 use one word per value (10 slots per value), float64 two (20).
    """
    blocks_per_s = sms * mhz * 1e6 * 64 / 40
    return {"philox_blocks_per_s": blocks_per_s, "values_per_s": {
        "float32": 4 * blocks_per_s, "bfloat16": 4 * blocks_per_s, "float16": 4 * blocks_per_s,
        "float64": 2 * blocks_per_s},
        "assumption": "64 int32 multiplies/clk/SM, 40 per Philox4x32-10 block, 1 word per f32/bf16 value, 2 per f64"}


def time_op(fn, n_elems: int) -> tuple[float, list]:
    """Median seconds per call over REPEATS runs, after a warm-up."""
    inner = max(1, min(50, int(2e8 // max(n_elems, 1))))
    for _ in range(2):
        fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for _ in range(REPEATS):
        start.record()
        for _ in range(inner):
            fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1e3 / inner)
    return statistics.median(times), times


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="sizes up to 1e8 only")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print("bench_cuda.py: no CUDA GPU visible (torch.cuda.is_available() is False)")
        return 1
    info = fastinit.info()
    if not info.get("cuda_available"):
        print(f"bench_cuda.py: fastinit CUDA unavailable: {info.get('cuda_unavailable_reason')}")
        return 1

    dev = torch.cuda.current_device()
    props = torch.cuda.get_device_properties(dev)
    sms = props.multi_processor_count
    mhz, clock_src = sm_clock_mhz(dev)
    ceiling = philox_ceiling(sms, mhz)
    nominal = next((v for k, v in NOMINAL_GBPS.items() if k in props.name), None)
    print(f"device: {props.name}, {sms} SMs, SM clock {mhz:.0f} MHz ({clock_src}), "
          f"{props.total_memory / 2**30:.0f} GiB; nominal HBM {nominal or '?'} GB/s")
    print(f"torch {torch.__version__}, fastinit {info.get('version')} (stream {info.get('stream_version')})")
    print("Philox compute ceiling: " + ", ".join(f"{k} {v / 1e9:.0f} G values/s" for k, v in ceiling["values_per_s"].items())
          + f"  [{ceiling['assumption']}]")

    sizes = [s for s in SIZES if not args.quick or s <= 10**8]
    rows = []
    t_begin = time.time()
    hdr = f"{'dtype':9} {'n':>11} {'op':26} {'ms':>9} {'Gval/s':>8} {'GB/s':>8} {'vs torch':>8} {'of write':>8}"
    print(hdr)
    print("-" * len(hdr))
    for name in DTYPES:
        dt = getattr(torch, name)
        esz = torch.empty((), dtype=dt).element_size()
        for n in sizes:
            free, _ = torch.cuda.mem_get_info()
            if n * esz > 0.8 * free:
                print(f"{name:9} {n:>11} skipped: needs {n * esz / 2**30:.1f} GiB, {free / 2**30:.1f} GiB free")
                continue
            t = torch.empty(n // COLS, COLS, dtype=dt, device="cuda")
            ops = {
                "fastinit.uniform_(seed)": lambda t=t: fastinit.uniform_(t, -1.0, 1.0, seed=1),
                "fastinit.kaiming_uniform_": lambda t=t: fastinit.kaiming_uniform_(t, a=5**0.5),
                "torch kaiming_uniform_": lambda t=t: torch.nn.init.kaiming_uniform_(t, a=5**0.5),
                "zero_ (write limit)": lambda t=t: t.zero_(),
            }
            res = {k: time_op(fn, n) for k, fn in ops.items()}
            t_torch = res["torch kaiming_uniform_"][0]
            t_zero = res["zero_ (write limit)"][0]
            for k, (sec, all_t) in res.items():
                row = {"dtype": name, "n": n, "op": k, "seconds": sec, "repeats": all_t,
                       "gvalues_per_s": n / sec / 1e9, "gb_per_s": n * esz / sec / 1e9,
                       "ratio_to_torch": t_torch / sec, "fraction_of_write_limit": t_zero / sec}
                rows.append(row)
                print(f"{name:9} {n:>11} {k:26} {sec * 1e3:9.3f} {row['gvalues_per_s']:8.1f} {row['gb_per_s']:8.0f} "
                      f"{row['ratio_to_torch']:8.2f} {row['fraction_of_write_limit']:8.2f}")
            del t
            torch.cuda.empty_cache()

    write_gbps = max((r["gb_per_s"] for r in rows if r["op"].startswith("zero_")), default=None)
    print(f"memory ceiling: measured zero_ {write_gbps:.0f} GB/s" if write_gbps else "memory ceiling: not measured",
          f"(nominal {nominal} GB/s)" if nominal else "")
    print(f"total {time.time() - t_begin:.1f} s")

    out_dir = os.environ.get("OUT") or os.path.join(HERE, "results")
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "bench_cuda.json")
    with open(path, "w") as f:
        json.dump({
            "device": props.name, "sms": sms, "sm_clock_mhz": mhz, "sm_clock_source": clock_src,
            "nominal_hbm_gb_per_s": nominal, "measured_write_gb_per_s": write_gbps,
            "philox_ceiling": ceiling, "torch": torch.__version__, "fastinit": info,
            "python": platform.python_version(), "repeats": REPEATS, "rows": rows,
        }, f, indent=1)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
