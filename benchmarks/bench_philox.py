"""Cycles (TSC ticks) per value of the AVX2 and AVX-512 kernels, L1-resident fills.

Builds benchmarks/bench_philox.cpp against the CPU kernel sources of two trees -- the
working tree and a git revision (--base, default HEAD) -- with the extension's per-file
ISA flags, then runs the two binaries alternately (--rounds times per ISA and dtype) and
prints medians. rdtsc counts TSC ticks: equal to core cycles when the core runs at the
TSC frequency; on a shared VM without a PMU this is the best clock there is.

    python benchmarks/bench_philox.py [--base REV] [--rounds 9] [--dtypes float32,bfloat16]
"""
import argparse
import os
import shutil
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


def build(csrc, out, cxx):
    common = ["-O3", "-std=c++17", "-ffp-contract=off", "-DFASTINIT_HAVE_AVX2", "-DFASTINIT_HAVE_AVX512", "-I", csrc]
    objs, procs = [], []
    for src in SOURCES + [os.path.join(ROOT, "benchmarks", "bench_philox.cpp")]:
        path = src if os.path.isabs(src) else os.path.join(csrc, src)
        obj = os.path.join(out, os.path.basename(src) + ".o")
        procs.append(subprocess.Popen([cxx, *common, *ISA_FLAGS.get(os.path.basename(src), []), "-c", path, "-o", obj]))
        objs.append(obj)
    if any(p.wait() for p in procs):
        sys.exit("build failed in " + csrc)
    exe = os.path.join(out, "bench_philox")
    subprocess.check_call([cxx, "-o", exe, *objs, "-pthread"])
    return exe


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default="HEAD", help="git revision to compare against (default HEAD)")
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--isas", default="avx2,avx512")
    ap.add_argument("--dtypes", default="float32")
    ap.add_argument("--cxx", default=os.environ.get("CXX", "g++"))
    args = ap.parse_args()
    tmp = tempfile.mkdtemp()
    try:
        base_src = os.path.join(tmp, "base")
        os.makedirs(base_src)
        arch = subprocess.run(["git", "-C", ROOT, "archive", args.base, "csrc"], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", base_src], input=arch, check=True)
        exes = {}
        for name, csrc in (("base", os.path.join(base_src, "csrc")), ("new", os.path.join(ROOT, "csrc"))):
            os.makedirs(os.path.join(tmp, "o_" + name))
            exes[name] = build(csrc, os.path.join(tmp, "o_" + name), args.cxx)
        print(f"ticks per value (rdtsc), L1-resident 4096-value fills, medians of {args.rounds} alternating runs")
        print(f"{'isa':8} {'dtype':9} {'base ' + args.base:>14} {'working tree':>14} {'new/base':>9}")
        for isa in args.isas.split(","):
            for dt in args.dtypes.split(","):
                res = {"base": [], "new": []}
                checks = set()
                for _ in range(args.rounds):
                    for name in ("base", "new"):
                        r = subprocess.run([exes[name], isa, "15", str(DTYPES[dt])], capture_output=True, text=True)
                        if r.returncode == 77:
                            break
                        v, chk = r.stdout.split()
                        res[name].append(float(v))
                        checks.add(chk)
                if not res["new"]:
                    print(f"{isa:8} {dt:9} (not supported on this CPU)")
                    continue
                b, n = statistics.median(res["base"]), statistics.median(res["new"])
                same = "" if len(checks) == 1 else "  OUTPUT DIFFERS"
                print(f"{isa:8} {dt:9} {b:14.3f} {n:14.3f} {n / b:9.3f}{same}")
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
