"""1e8-element fills on 2 threads: G values/s, x kaiming_uniform_ and x fill_ (issue 20 targets).

Medians of alternating runs (default 5) of fill_(0.5), fastinit's kaiming_uniform_,
normal_ and trunc_normal_, and torch's kaiming_uniform_ on the same pre-touched buffer,
float32 and bfloat16. Force a CPU path with FASTINIT_CPU_ISA. Usage:

    FASTINIT_CPU_ISA=avx512 python benchmarks/bench_normal_vs_uniform.py [rounds]
"""
import os, sys, time, statistics, torch, fastinit
torch.set_num_threads(2)
n = 10**8
res = {}
for dt in (torch.float32, torch.bfloat16):
    t = torch.empty(n // 1000, 1000, dtype=dt); t.fill_(0.0)
    ops = {"fill_": lambda: t.fill_(0.5),
           "kaiming_uniform_": lambda: fastinit.kaiming_uniform_(t, a=5**0.5, seed=1),
           "normal_": lambda: fastinit.normal_(t, 0.0, 0.02, seed=1),
           "trunc_normal_": lambda: fastinit.trunc_normal_(t, 0.0, 1.0, -2.0, 2.0, seed=1),
           "torch kaiming_uniform_": lambda: torch.nn.init.kaiming_uniform_(t, a=5**0.5)}
    times = {k: [] for k in ops}
    for r in range(int(sys.argv[1]) if len(sys.argv) > 1 else 7):
        for k, f in ops.items():
            t0 = time.perf_counter(); f(); times[k].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    for k in ops:
        g = n / med[k] / 1e9
        print(f"{os.environ.get('FASTINIT_CPU_ISA','auto'):7} {str(dt)[6:]:9} {k:24} {g:6.3f} G/s  x kaiming {med['kaiming_uniform_']/med[k]:5.2f}  x fill_ {med['fill_']/med[k]:5.2f}")
    del t
