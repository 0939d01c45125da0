"""Cycles per value of the AVX2 and AVX-512 kernels, L1-resident fills, next to their floors.

Builds benchmarks/bench_philox.cpp against the CPU kernel sources of two trees -- the
working tree and a git revision (--base, default HEAD) -- with the extension's per-file
ISA flags, then runs the two binaries alternately (--rounds times per ISA, dtype and
distribution) and prints medians.

Timing is rdtsc (TSC ticks; a VM without a PMU has no cycle counter), converted to core
cycles with a calibration loop of dependent adds (1 cycle each), measured in the same run.
Next to every fill it prints two floors, measured in each tree's own code:

* the Philox floor: the ISA's Philox words alone, stored raw in stream order into L1
  (Philox + transpose + store): what a fill costs before its value stage;
* the multiply floor: Philox's 19 32x32->64 products per block at vpmuludq's measured
  throughput, with nothing else.

With bfloat16 among the dtypes it first checks the working tree's bfloat16 packing of each
ISA against value.h's rounding on all 2^32 float32 bit patterns and prints the mismatches.

Both are per 32-bit word: a float64 value takes two words, so its floors are doubled.

    python benchmarks/bench_philox.py [--base REV] [--rounds 9] [--dtypes float32,bfloat16]
        [--dists uniform,normal,trunc_normal] [--json out.json]
"""
import argparse
import os
import shutil
import json
import platform
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCES = ["fill_scalar.cpp", "fill_avx2.cpp", "fill_avx512.cpp", "dispatch.cpp", "fill_cpu.cpp", "threadpool.cpp"]
ISA_FLAGS = {
    "fill_avx2.cpp": ["-mavx2", "-mfma", "-mf16c"],
    "fill_avx512.cpp": ["-mavx512f", "-mavx512dq", "-mavx512bw", "-mavx512vl", "-mavx2", "-mfma", "-mf16c"],
}
DTYPES = {"float32": 0, "float64": 1, "float16": 2, "bfloat16": 3}


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def build(csrc, out, cxx):
    common = ["-O3", "-std=c++17", "-ffp-contract=off", "-DFASTINIT_HAVE_AVX2", "-DFASTINIT_HAVE_AVX512", "-I", csrc]
    bench = os.path.join(ROOT, "benchmarks", "bench_philox.cpp")
    jobs = [(os.path.join(csrc, src), ISA_FLAGS.get(src, []), src + ".o") for src in SOURCES]
    jobs.append((bench, [], "bench_philox.o"))
    # the floors, compiled inside each ISA's own kernel source (see bench_philox.cpp)
    jobs.append((bench, ["-DBENCH_FLOOR_ISA=2", *ISA_FLAGS["fill_avx2.cpp"]], "floor_avx2.o"))
    jobs.append((bench, ["-DBENCH_FLOOR_ISA=3", *ISA_FLAGS["fill_avx512.cpp"]], "floor_avx512.o"))
    objs, procs = [], []
    for path, flags, name in jobs:
        obj = os.path.join(out, name)
        procs.append(subprocess.Popen([cxx, *common, *flags, "-c", path, "-o", obj]))
        objs.append(obj)
    if any(p.wait() for p in procs):
        sys.exit("build failed in " + csrc)
    exe = os.path.join(out, "bench_philox")
    subprocess.check_call([cxx, "-o", exe, *objs, "-pthread"])
    return exe


def run(exe, isa, reps, dtype, what):
    """(value, checksum), or None if the ISA is not supported here."""
    r = subprocess.run([exe, isa, str(reps), str(DTYPES[dtype]), what], capture_output=True, text=True)
    if r.returncode == 77:
        return None
    if r.returncode != 0:
        sys.exit(f"{exe} {isa} {dtype} {what} failed: {r.stderr}")
    v, chk = r.stdout.split()
    return float(v), chk


def alternate(exes, rounds, isa, dtype, what, reps=61):
    """Medians per tree of `rounds` alternating runs, and whether the outputs agreed."""
    res = {name: [] for name in exes}
    checks = {name: set() for name in exes}
    for _ in range(rounds):
        for name, exe in exes.items():
            r = run(exe, isa, reps, dtype, what)
            if r is None:
                return None
            res[name].append(r[0])
            checks[name].add(r[1])
    med = {name: statistics.median(v) for name, v in res.items()}
    same = len(set().union(*checks.values())) == 1
    return med, same


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default="HEAD", help="git revision to compare against (default HEAD)")
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--isas", default="avx2,avx512")
    ap.add_argument("--dtypes", default="float32,bfloat16")
    ap.add_argument("--dists", default="uniform,normal,trunc_normal")
    ap.add_argument("--json", help="also write the rows to this JSON file")
    ap.add_argument("--cxx", default=os.environ.get("CXX", "g++"))
    args = ap.parse_args()
    tmp = tempfile.mkdtemp()
    rows = []
    try:
        base_src = os.path.join(tmp, "base")
        os.makedirs(base_src)
        arch = subprocess.run(["git", "-C", ROOT, "archive", args.base, "csrc"], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", base_src], input=arch, check=True)
        exes = {}
        for name, csrc in (("base", os.path.join(base_src, "csrc")), ("new", os.path.join(ROOT, "csrc"))):
            os.makedirs(os.path.join(tmp, "o_" + name))
            exes[name] = build(csrc, os.path.join(tmp, "o_" + name), args.cxx)
        clock = statistics.median(run(exes["new"], "scalar", 61, "float32", "clock")[0] for _ in range(3))
        machine = f"{cpu_model()}, {os.cpu_count()} logical CPUs"
        print(f"machine: {machine}")
        print(f"core cycles per TSC tick (dependent adds): {clock:.3f}")
        print(f"cycles per value (ticks x {clock:.3f}), L1-resident 4096-value fills, medians of {args.rounds} "
              f"alternating runs of base {args.base} and the working tree")
        print(f"{'isa':7} {'dtype':9} {'fill':13} {'base':>7} {'new':>7} {'new/base':>8} "
              f"{'philox floor':>12} {'x floor':>8} {'mul floor':>9} {'x mul':>6}")
        if "bfloat16" in args.dtypes.split(","):
            checks = []
            for isa in args.isas.split(","):
                r = subprocess.run([exes["new"], isa, "0", "3", "bf16check"], capture_output=True, text=True)
                if r.returncode != 77:
                    checks.append(f"{isa} {r.stdout.split()[0] if r.stdout else 'failed: ' + r.stderr.strip()}")
            print("bfloat16 packing of the working tree vs value.h on all 2^32 float32 patterns, mismatches: "
                  + ", ".join(checks))
        for isa in args.isas.split(","):
            floors = alternate(exes, args.rounds, isa, "float32", "floor")
            if floors is None:
                print(f"{isa:7} (not supported on this CPU)")
                continue
            mul = alternate(exes, max(3, args.rounds // 3), isa, "float32", "mul")
            fl = {k: v * clock for k, v in floors[0].items()}
            ml = mul[0]["new"] * clock
            same = "" if floors[1] else "  FLOOR WORDS DIFFER"
            print(f"{isa:7} {'(words)':9} {'philox floor':13} {fl['base']:7.3f} {fl['new']:7.3f} "
                  f"{fl['new'] / fl['base']:8.3f} {'':>12} {'':>8} {ml:9.3f}{same}")
            rows.append(dict(isa=isa, dtype="uint32", fill="philox_floor", base=fl["base"], new=fl["new"], mul_floor=ml))
            for dt in args.dtypes.split(","):
                wpv = 2 if dt == "float64" else 1
                for dist in args.dists.split(","):
                    r = alternate(exes, args.rounds, isa, dt, dist)
                    b, n = r[0]["base"] * clock, r[0]["new"] * clock
                    f = fl["new"] * wpv
                    m = ml * wpv
                    flag = "" if r[1] else "  OUTPUT DIFFERS"
                    print(f"{isa:7} {dt:9} {dist:13} {b:7.3f} {n:7.3f} {n / b:8.3f} {f:12.3f} {n / f:8.2f} "
                          f"{m:9.3f} {n / m:6.2f}{flag}")
                    rows.append(dict(isa=isa, dtype=dt, fill=dist, base=b, new=n, philox_floor=f, mul_floor=m,
                                     same_output=r[1]))
        if args.json:
            with open(args.json, "w") as fh:
                json.dump(dict(machine=machine, cycles_per_tick=clock, base=args.base, unit="core cycles per value",
                               rows=rows), fh, indent=1)
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
