"""``python -m fastinit``: info and a head-to-head against torch.nn.init on this machine.
``python -m fastinit bound SHAPE... [--a A] [--mode M] [--nonlinearity N]``: how the
Kaiming bound is derived."""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time

import numpy as np

import fastinit
from fastinit._bound import calculate_gain, correct_fan


def _median_seconds(fn, repeats: int = 7) -> float:
    fn()  # warm-up: first touch of pages, lazy initialisation
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _torch_bound(w, a) -> float:
    """The bound torch.nn.init.kaiming_uniform_ passes to uniform_, recorded from torch itself."""
    import torch

    seen = []
    real = torch.Tensor.uniform_

    def spy(self, lo=0.0, hi=1.0, *args, **kwargs):
        seen.append((lo, hi))
        return real(self, lo, hi, *args, **kwargs)

    torch.Tensor.uniform_ = spy
    try:
        torch.nn.init.kaiming_uniform_(w, a=a)
    finally:
        torch.Tensor.uniform_ = real
    return seen[0][1]


def head_to_head() -> int:
    info = fastinit.info()
    print("fastinit", info["version"], "(stream version %d)" % info["stream_version"])
    for k, v in info.items():
        print(f"  {k:24s} {v}")
    a = math.sqrt(5)  # what nn.Linear and the conv layers use
    shape = (4096, 4096)
    print(f"\nkaiming_uniform_(w, a=sqrt(5)) on a {shape[0]}x{shape[1]} weight, median of 7 runs")
    try:
        import torch
    except ImportError:
        torch = None
    ok = True
    if torch is None:
        print("torch is not installed: comparing against NumPy's Generator(Philox)")
        w = np.empty(shape, np.float32)
        bound = fastinit.kaiming_bound(shape, a=a)
        rng = np.random.Generator(np.random.Philox(0))
        t_ref = _median_seconds(lambda: rng.random(out=w, dtype=np.float32))
        t_fast = _median_seconds(lambda: fastinit.kaiming_uniform_(w, a=a, seed=0))
        print(f"  float32   numpy Philox {t_ref * 1e3:8.2f} ms   fastinit {t_fast * 1e3:8.2f} ms   "
              f"speed-up {t_ref / t_fast:5.1f}x   bound {bound:.9g}")
        ok = float(np.abs(w).max()) <= bound
    else:
        for dtype in (torch.float32, torch.bfloat16):
            w = torch.empty(shape, dtype=dtype)
            t_torch = _median_seconds(lambda: torch.nn.init.kaiming_uniform_(w, a=a))
            t_fast = _median_seconds(lambda: fastinit.kaiming_uniform_(w, a=a))
            b_fast = fastinit.kaiming_bound(w, a=a)
            # Storage rounding may put -bound a hair beyond the float64 bound: compare in dtype.
            within = float(w.abs().max()) <= torch.tensor(b_fast, dtype=dtype).item()
            b_torch = _torch_bound(w, a)
            agree = b_torch == b_fast
            ok &= agree and within
            print(f"  {str(dtype)[6:]:9s} torch {t_torch * 1e3:8.2f} ms   fastinit {t_fast * 1e3:8.2f} ms   "
                  f"speed-up {t_torch / t_fast:5.1f}x   bound {b_fast:.9g} "
                  f"({'agrees with torch' if agree else 'DIFFERS from torch %r' % b_torch}"
                  f"{'' if within else ', VALUES OUT OF BOUND'})")
    print("\nbounds check:", "ok" if ok else "FAILED")
    return 0 if ok else 1


def explain_bound(argv) -> int:
    p = argparse.ArgumentParser(prog="python -m fastinit bound",
                                description="Show how kaiming_uniform_'s bound is derived for a weight shape.")
    p.add_argument("shape", type=int, nargs="+", help="the weight's shape, as w.shape (out, in, *kernel)")
    p.add_argument("--a", type=float, default=0.0, help="negative slope (nn.Linear uses sqrt(5) = 2.2360679...)")
    p.add_argument("--mode", default="fan_in", choices=["fan_in", "fan_out"])
    p.add_argument("--nonlinearity", default="leaky_relu")
    args = p.parse_args(argv)
    shape = tuple(args.shape)
    fan = correct_fan(shape, args.mode)
    gain = calculate_gain(args.nonlinearity, args.a)
    bound = fastinit.kaiming_bound(shape, args.a, args.mode, args.nonlinearity)
    receptive = math.prod(shape[2:]) if len(shape) > 2 else 1
    print(f"shape {shape}: {args.mode} = shape[{1 if args.mode == 'fan_in' else 0}] * receptive field "
          f"{receptive} = {fan}")
    if args.nonlinearity == "leaky_relu":
        print(f"gain = sqrt(2 / (1 + a^2)) with a = {args.a:g}: {gain:.9g}")
    else:
        print(f"gain for {args.nonlinearity}: {gain:.9g}")
    print(f"bound = sqrt(3) * gain / sqrt({args.mode}) = {bound:.9g}")
    print(f"1/sqrt({args.mode}) = {1 / math.sqrt(fan):.9g}")
    print(
        "\nWhy nn.Linear passes a=sqrt(5): with a^2 = 5 the gain is sqrt(2/6) = 1/sqrt(3), so\n"
        "bound = sqrt(3) * (1/sqrt(3)) / sqrt(fan_in) = 1/sqrt(fan_in): the U(-1/sqrt(in), 1/sqrt(in))\n"
        "that nn.Linear documents, kept when its init moved to kaiming_uniform_."
    )
    if args.nonlinearity == "leaky_relu" and abs(args.a - math.sqrt(5)) < 1e-6:
        print(f"Here: |bound - 1/sqrt({args.mode})| = {abs(bound - 1 / math.sqrt(fan)):.3g}")
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "bound":
        return explain_bound(argv[1:])
    if argv:
        print(__doc__)
        return 2
    return head_to_head()


if __name__ == "__main__":
    sys.exit(main())
