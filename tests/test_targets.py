"""fastinit.core.targets: memory checks before any write (issue 18 findings 6, 7, 8, 12).

Each crash case runs in a subprocess: before the fix it killed the interpreter (SIGSEGV);
now it must raise a clear Python exception, write nothing and draw nothing."""
from __future__ import annotations

import subprocess
import sys

import pytest

_PRELUDE = r"""
import numpy as np, torch, fastinit, sys, tempfile
def expect(fn, exc=(RuntimeError, TypeError, ValueError)):
    g_state = torch.get_rng_state()
    try:
        fn()
    except exc as e:
        assert torch.equal(torch.get_rng_state(), g_state), "a refused call drew a key"
        print("REFUSED", type(e).__name__, e)
        sys.exit(0)
    print("ACCEPTED")
    sys.exit(3)
"""

_CASES = {
    # finding 6: structured fills on a freed or shrunk storage
    "eye_freed": "t = torch.empty(8, 8); t.untyped_storage().resize_(0); expect(lambda: fastinit.eye_(t))",
    "dirac_freed": "t = torch.empty(4, 4, 3); t.untyped_storage().resize_(0); expect(lambda: fastinit.dirac_(t))",
    "orthogonal_freed": ("t = torch.empty(8, 8); t.untyped_storage().resize_(0); "
                         "expect(lambda: fastinit.orthogonal_(t))"),
    "orthogonal_shrunk": ("t = torch.empty(8, 8); t.untyped_storage().resize_(16); "
                          "expect(lambda: fastinit.orthogonal_(t))"),
    # finding 7: a torch tensor over read-only memory, every kind of fill
    "readonly_memmap": (
        "f = tempfile.NamedTemporaryFile(); f.write(b'\\0' * (1 << 20)); f.flush()\n"
        "import warnings; warnings.simplefilter('ignore')\n"
        "t = torch.from_numpy(np.memmap(f.name, dtype=np.float32, mode='r', shape=(512, 512)))\n"
        "fn = getattr(fastinit, sys.argv[2])\n"
        "expect(lambda: fn(t, 0.5) if sys.argv[2] in ('constant_', 'sparse_') else fn(t))"),
    # finding 8: a NumPy array from DLPack whose owner's (mmap-backed) storage was freed
    # finding 12: a freed nn.Parameter gets the freed-storage error, as a plain tensor does
    "parameter_freed": ("p = torch.nn.Parameter(torch.empty(4, 4)); p.untyped_storage().resize_(0)\n"
                        "expect(lambda: fastinit.uniform_(p))"),
    "dlpack_freed": ("t = torch.empty(1 << 22); a = np.from_dlpack(t); t.untyped_storage().resize_(0)\n"
                     "expect(lambda: fastinit.uniform_(a))"),
}

_READONLY_FILLS = ["uniform_", "normal_", "kaiming_uniform_", "xavier_normal_", "trunc_normal_", "constant_",
                   "zeros_", "eye_", "orthogonal_", "sparse_"]


def _run(case, arg=""):
    proc = subprocess.run([sys.executable, "-c", _PRELUDE + _CASES[case], case, arg], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, (f"{case} {arg}: exit {proc.returncode} (negative: killed by a signal)\n"
                                  f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return proc.stdout


@pytest.mark.parametrize("case", ["eye_freed", "dirac_freed", "orthogonal_freed", "orthogonal_shrunk"])
def test_structured_fill_on_freed_storage_is_refused(case):
    assert "REFUSED RuntimeError" in _run(case)


@pytest.mark.parametrize("name", _READONLY_FILLS)
def test_read_only_torch_memory_is_refused(name):
    assert "read-only" in _run("readonly_memmap", name)


def test_dlpack_array_whose_owner_was_freed_is_refused():
    assert "not mapped writable" in _run("dlpack_freed")


def test_freed_parameter_gets_the_extent_error_not_the_fake_tensor_one():
    out = _run("parameter_freed")
    assert "REFUSED RuntimeError" in out and "storage freed or resized" in out, out
