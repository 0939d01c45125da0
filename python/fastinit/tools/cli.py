"""The ``python -m fastinit`` command line.

Subcommands (``python -m fastinit --help`` lists them):

* none: what fastinit found on this machine, then a head-to-head against torch.nn.init;
* ``bound``: how kaiming_uniform_'s bound is derived for a weight shape;
* ``audit``: how a network's activations evolve at initialization (``fastinit.tools.audit``).

Bad arguments are argparse errors (usage, message, exit 2), never a traceback; an optional
dependency a subcommand needs (torch, matplotlib for ``--plot``) is checked before any work.
"""

import argparse as _argparse
import math as _math
import statistics as _statistics
import sys as _sys
import time as _time

import numpy as _np

from ..core import runtime as _runtime
from ..core.bounds import calculate_gain as _calculate_gain, correct_fan as _correct_fan
from ..core.bounds import kaiming_bound as _kaiming_bound
from ..fills import kaiming_uniform_ as _kaiming_uniform_
from . import audit as _audit_module

__all__ = ["main"]

_REPEATS = 7


def _median_seconds(fn, repeats=_REPEATS, progress=None):
    fn()  # warm-up: first touch of pages, lazy initialisation
    times = []
    for _ in range(repeats):
        t0 = _time.perf_counter()
        fn()
        times.append(_time.perf_counter() - t0)
        if progress is not None:
            progress()
    return _statistics.median(times)


class _Progress:
    """One status line on stderr (``[k/n] what``), rewritten in place on a terminal and
    printed once per step otherwise, so that stdout keeps only the results."""

    def __init__(self, total):
        self.total, self.done, self.label = total, 0, ""
        self.tty = _sys.stderr.isatty()

    def start(self, label):
        self.label = label
        if not self.tty:
            print(f"  ... {label}", file=_sys.stderr, flush=True)
        self.tick(0)

    def tick(self, n=1):
        self.done += n
        if self.tty:
            print(f"\r  [{self.done:3d}/{self.total}] {self.label:<40}", end="", file=_sys.stderr, flush=True)

    def close(self):
        if self.tty:
            print("\r" + " " * 60 + "\r", end="", file=_sys.stderr, flush=True)


def _torch_bound(w, a):
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


def _head_to_head(args):
    info = _runtime.info()
    print("fastinit", info["version"], "(stream version %d)" % info["stream_version"])
    for k, v in info.items():
        print(f"  {k:24s} {v}")
    a = _math.sqrt(5)  # what nn.Linear and the conv layers use
    shape = (args.rows, args.cols)
    print(f"\nkaiming_uniform_(w, a=sqrt(5)) on a {shape[0]}x{shape[1]} weight, median of {args.repeats} runs",
          flush=True)
    try:
        import torch
    except ImportError:
        torch = None
    ok = True
    per_case = args.repeats + 1
    if torch is None:
        print("torch is not installed: comparing against NumPy's Generator(Philox)", flush=True)
        progress = _Progress(2 * per_case)
        w = _np.empty(shape, _np.float32)
        bound = _kaiming_bound(shape, a=a)
        rng = _np.random.Generator(_np.random.Philox(0))
        progress.start("numpy Philox float32")
        t_ref = _median_seconds(lambda: rng.random(out=w, dtype=_np.float32), args.repeats, progress.tick)
        progress.start("fastinit float32")
        t_fast = _median_seconds(lambda: _kaiming_uniform_(w, a=a, seed=0), args.repeats, progress.tick)
        progress.close()
        print(f"  float32   numpy Philox {t_ref * 1e3:8.2f} ms   fastinit {t_fast * 1e3:8.2f} ms   "
              f"speed-up {t_ref / t_fast:5.1f}x   bound {bound:.9g}")
        ok = float(_np.abs(w).max()) <= bound
    else:
        dtypes = (torch.float32, torch.bfloat16)
        progress = _Progress(2 * per_case * len(dtypes))
        for dtype in dtypes:
            name = str(dtype)[6:]
            w = torch.empty(shape, dtype=dtype)
            progress.start(f"torch.nn.init {name}")
            t_torch = _median_seconds(lambda: torch.nn.init.kaiming_uniform_(w, a=a), args.repeats, progress.tick)
            progress.start(f"fastinit {name}")
            t_fast = _median_seconds(lambda: _kaiming_uniform_(w, a=a), args.repeats, progress.tick)
            b_fast = _kaiming_bound(w, a=a)
            # Storage rounding may put -bound a hair beyond the float64 bound: compare in dtype.
            within = float(w.abs().max()) <= torch.tensor(b_fast, dtype=dtype).item()
            b_torch = _torch_bound(w, a)
            agree = b_torch == b_fast
            ok &= agree and within
            progress.close()
            print(f"  {name:9s} torch {t_torch * 1e3:8.2f} ms   fastinit {t_fast * 1e3:8.2f} ms   "
                  f"speed-up {t_torch / t_fast:5.1f}x   bound {b_fast:.9g} "
                  f"({'agrees with torch' if agree else 'DIFFERS from torch %r' % b_torch}"
                  f"{'' if within else ', VALUES OUT OF BOUND'})", flush=True)
    print("\nbounds check:", "ok" if ok else "FAILED")
    return 0 if ok else 1


def _explain_bound(args):
    shape = tuple(args.shape)
    # Checked here, as argparse errors (usage line, exit 2), not as a traceback from the
    # library's ValueError: kaiming's fans need (out, in, *kernel), and the gain a known name.
    if len(shape) < 2:
        args.parser.error(f"the shape needs at least 2 dimensions, (out, in, *kernel), got {len(shape)}: "
                          "fan_in and fan_out cannot be computed for a tensor with fewer than 2 dimensions")
    try:
        gain = _calculate_gain(args.nonlinearity, args.a)
    except ValueError as e:
        args.parser.error(str(e))
    fan = _correct_fan(shape, args.mode)
    bound = _kaiming_bound(shape, args.a, args.mode, args.nonlinearity)
    receptive = _math.prod(shape[2:]) if len(shape) > 2 else 1
    print(f"shape {shape}: {args.mode} = shape[{1 if args.mode == 'fan_in' else 0}] * receptive field "
          f"{receptive} = {fan}")
    if args.nonlinearity == "leaky_relu":
        print(f"gain = sqrt(2 / (1 + a^2)) with a = {args.a:g}: {gain:.9g}")
    else:
        print(f"gain for {args.nonlinearity}: {gain:.9g}")
    print(f"bound = sqrt(3) * gain / sqrt({args.mode}) = {bound:.9g}")
    print(f"1/sqrt({args.mode}) = {1 / _math.sqrt(fan):.9g}")
    # The a=sqrt(5) explanation only where it applies (issue 19: it was printed for a=0 too).
    if args.nonlinearity == "leaky_relu" and abs(args.a - _math.sqrt(5)) < 1e-6:
        print(
            "\nWhy nn.Linear passes a=sqrt(5): with a^2 = 5 the gain is sqrt(2/6) = 1/sqrt(3), so\n"
            "bound = sqrt(3) * (1/sqrt(3)) / sqrt(fan_in) = 1/sqrt(fan_in): the U(-1/sqrt(in), 1/sqrt(in))\n"
            "that nn.Linear documents, kept when its init moved to kaiming_uniform_."
        )
        print(f"Here: |bound - 1/sqrt({args.mode})| = {abs(bound - 1 / _math.sqrt(fan)):.3g}")
    return 0


def _audit(args):
    # Every optional dependency and the output path are checked before any work: the audit
    # takes seconds (15 s for the default 20 layers of width 1024 on 2 cores), and failing
    # only at the plot threw that away (issue 19).
    try:
        import torch  # noqa: F401  the audit runs torch models
    except ImportError:
        print("python -m fastinit audit needs torch (pip install torch): it runs torch models", file=_sys.stderr)
        return 2
    if args.plot is not None:
        try:
            import matplotlib  # noqa: F401  imported by the plot only; checked here, before the work
        except ImportError:
            print("python -m fastinit audit --plot needs matplotlib (pip install matplotlib); "
                  "without --plot the audit prints its tables only", file=_sys.stderr)
            return 2
        import os

        folder = os.path.dirname(os.path.abspath(args.plot))
        if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
            print(f"python -m fastinit audit --plot: cannot write {args.plot!r}: "
                  f"{folder} is not a writable folder", file=_sys.stderr)
            return 2
    rc = _audit_module.run_cli(args)
    return 0 if rc is None else int(rc)


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise _argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise _argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _parser():
    p = _argparse.ArgumentParser(
        prog="python -m fastinit",
        description="fastinit: fast, reproducible weight initialization. Without a subcommand: what "
                    "fastinit found on this machine (version, CPU path, threads, CUDA), then "
                    "kaiming_uniform_ timed against torch.nn.init's (against NumPy's Philox without torch).",
        epilog="Example: python -m fastinit bound 3072 768 --a 2.2360679",
    )
    p.add_argument("--version", action="version", version=f"fastinit {_runtime.__version__} "
                   f"(stream version {_runtime.STREAM_VERSION})")
    p.add_argument("--rows", type=_positive_int, default=4096, help="head-to-head weight rows (default 4096)")
    p.add_argument("--cols", type=_positive_int, default=4096, help="head-to-head weight columns (default 4096)")
    p.add_argument("--repeats", type=_positive_int, default=_REPEATS,
                   help=f"timed runs per case, after one warm-up; the median is shown (default {_REPEATS})")
    p.set_defaults(func=_head_to_head)
    sub = p.add_subparsers(title="subcommands", metavar="{bound,audit}")

    b = sub.add_parser("bound", help="show how kaiming_uniform_'s bound is derived for a weight shape",
                       description="Show how kaiming_uniform_'s bound is derived for a weight shape.")
    b.add_argument("shape", type=_positive_int, nargs="+",
                   help="the weight's shape, as w.shape (out, in, *kernel): at least 2 positive sizes")
    b.add_argument("--a", type=float, default=0.0, help="negative slope (nn.Linear uses sqrt(5) = 2.2360679...)")
    b.add_argument("--mode", default="fan_in", choices=["fan_in", "fan_out"])
    b.add_argument("--nonlinearity", default="leaky_relu")
    b.set_defaults(func=_explain_bound, parser=b)

    au = sub.add_parser("audit", help="activation statistics of a deep network at initialization",
                        description="Build a deep network, initialize it, and report how the activations' "
                                    "statistics evolve layer by layer.")
    au.add_argument("--plot", metavar="FILE", default=None, help="also write a plot to FILE (needs matplotlib)")
    au.add_argument("--layers", type=_positive_int, default=20, help="number of layers (default 20)")
    au.add_argument("--width", type=_positive_int, default=1024, help="hidden width (default 1024)")
    au.add_argument("--block", action="store_true", help="a stack of transformer blocks instead of an MLP")
    au.add_argument("--seed", type=int, default=0, help="seed of the initialization and the input (default 0)")
    au.set_defaults(func=_audit)
    return p


def main(argv=None):
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    args = _parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    _sys.exit(main())
