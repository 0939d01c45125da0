"""Helpers shared by several test files (imported as `helpers`; conftest puts this
directory on sys.path)."""

from __future__ import annotations

import math
import warnings

import ml_dtypes
import numpy as np
import pytest
import torch

TORCH_DTYPES = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16,
                "bfloat16": torch.bfloat16}
NP_DTYPES = {"float32": np.dtype(np.float32), "float64": np.dtype(np.float64), "float16": np.dtype(np.float16),
             "bfloat16": np.dtype(ml_dtypes.bfloat16)}


def storage_round(x, dt):
    """x rounded to the storage type as the kernels round parameters (via float32 for
    the 16-bit types)."""
    if dt == "float64" or not math.isfinite(x):
        return float(x)
    v = np.float32(x)
    if dt == "float32":
        return float(v)
    return float(np.asarray(v).astype(NP_DTYPES[dt]).astype(np.float64))


def all_finite_values(dt):
    """Every finite value of a 16-bit float type, sorted, +0/-0 merged."""
    bits = np.arange(1 << 16, dtype=np.uint16)
    with np.errstate(invalid="ignore"):
        v = bits.view(NP_DTYPES[dt]).astype(np.float64)
    return np.unique(v[np.isfinite(v)])


class Recorder(torch.Tensor):
    """A __torch_function__ subclass that records the call and handles it itself."""

    log = []

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        cls.log.append((func, types, args, dict(kwargs or {})))
        return "dispatched"


class Deferring(torch.Tensor):
    """A __torch_function__ subclass that records the call and defers to torch."""

    log = []

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        cls.log.append(func)
        return super().__torch_function__(func, types, args, kwargs or {})


def run_init(mod, name, make, args, kwargs):
    """Call mod.<name>(make(), *args, **kwargs): (outcome, warnings, target, copy before).
    The outcome is ("ok", returned the target) or ("raise", type, message), so torch and
    fastinit can be compared call for call."""
    t = make()
    before = t.detach().clone() if isinstance(t, torch.Tensor) else None
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        try:
            r = getattr(mod, name)(t, *args, **kwargs)
            out = ("ok", r is t)
        except Exception as e:  # noqa: BLE001
            out = ("raise", type(e), str(e))
    warns = [(x.category, str(x.message)) for x in w]
    return out, warns, t, before


def same_outcome_as_torch(name, make, args, kwargs):
    """run_init with torch.nn.init and with fastinit; asserts the same outcome and the same
    warnings, returns (torch's run, fastinit's run)."""
    import fastinit

    t_run = run_init(torch.nn.init, name, make, args, kwargs)
    f_run = run_init(fastinit, name, make, args, kwargs)
    assert f_run[0] == t_run[0], f"torch: {t_run[0]}\nfastinit: {f_run[0]}"
    assert f_run[1] == t_run[1], f"warnings differ: torch {t_run[1]}, fastinit {f_run[1]}"
    return t_run, f_run


def draws_like_torch(name, shape):
    """Asserts that mod.<name>(torch.empty(shape), generator=g) moves g's state for
    fastinit exactly when it does for torch.nn.init (zero-element targets)."""
    import fastinit

    moved = {}
    for mod in (torch.nn.init, fastinit):
        g = torch.Generator().manual_seed(12)
        s0 = g.get_state()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            getattr(mod, name)(torch.empty(shape), generator=g)
        moved[mod] = not torch.equal(g.get_state(), s0)
    assert moved[torch.nn.init] == moved[fastinit], (name, shape, moved)


def filled(*shape, dtype=torch.float32):
    """A maker of a tensor of this shape holding 7.0."""
    return lambda: torch.full(shape, 7.0).to(dtype)


def expanded(*shape, dtype=torch.float32):
    """A maker of an expanded (overlapping) view of this shape."""
    return lambda: torch.full((1,) + shape[1:], 7.0).to(dtype).expand(*shape)


def case_id(c):
    name, make, args, kwargs = c
    t = make()
    return f"{name}-{tuple(t.shape)}-{str(t.dtype)[6:]}-{args}-{kwargs}"


def run_native_check(script: str, timeout: int) -> None:
    """Run one of tests/native's check scripts: skip (with its reason) on exit 77, else
    require exit 0 and a final "N passed, 0 failed" line with N > 0."""
    import re
    import subprocess

    try:
        proc = subprocess.run(["bash", script], capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError as e:  # no bash at all
        pytest.skip(f"cannot run {script}: {e}")
    out = proc.stdout + proc.stderr
    if proc.returncode == 77:
        reason = [ln for ln in out.splitlines() if ln.startswith("SKIP")]
        pytest.skip(reason[0] if reason else out.strip())
    summary = re.findall(r"^(\d+) passed, (\d+) failed$", proc.stdout, re.MULTILINE)
    assert proc.returncode == 0 and summary, f"{script} exited {proc.returncode}:\n{out[-8000:]}"
    passed, failed = map(int, summary[-1])
    assert failed == 0 and passed > 0, out[-8000:]


def torch_recipe(g=None):
    """The README's seed recipe for torch: two 32-bit draws, key w0 | w1 << 32."""
    w = torch.randint(0, 2**32, (2,), dtype=torch.int64, generator=g)
    return int(w[0]) | (int(w[1]) << 32)


def numpy_recipe(g):
    """The README's seed recipe for a numpy.random.Generator."""
    return int(g.integers(0, 2**64, dtype=np.uint64))


def record_torch_method(name):
    """Context manager: torch.Tensor.<name> (uniform_ or normal_) records its two
    distribution arguments in the yielded list and writes nothing."""
    import contextlib

    @contextlib.contextmanager
    def cm():
        calls = []
        orig = getattr(torch.Tensor, name)

        def fake(self, x=0.0, y=1.0, *, generator=None):
            calls.append((x, y))
            return self

        setattr(torch.Tensor, name, fake)
        try:
            yield calls
        finally:
            setattr(torch.Tensor, name, orig)

    return cm()


def named_tensors(model):
    """Every parameter and buffer of ``model`` by qualified name, tied ones under each name."""
    out = dict(model.named_parameters(remove_duplicate=False))
    out.update(model.named_buffers(remove_duplicate=False))
    return out
