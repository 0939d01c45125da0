"""fastinit: fast, reproducible weight initialization.

Fills tensors and arrays in place with Philox4x32-10 values whose bits depend only on
(seed, element index): identical across thread counts, SIMD paths, CPU and CUDA, memory
layouts and shardings. Drop-in for torch.nn.init's uniform and normal families (and its
constant fills). The uniform stream is fixed by SPEC section 2 (stream version 1), the normal
and truncated-normal streams by docs/STREAM.md.
"""

from __future__ import annotations

from . import _C, distributed
from ._api import (
    constant_,
    kaiming_normal_,
    kaiming_uniform_,
    normal_,
    ones_,
    trunc_normal_,
    uniform_,
    xavier_normal_,
    xavier_uniform_,
    zeros_,
)
from ._bound import calculate_gain, kaiming_bound
from ._module import init_module_
from ._patch import patch_torch_init

__version__ = "0.1.0"
STREAM_VERSION = 1

__all__ = [
    "uniform_",
    "kaiming_uniform_",
    "xavier_uniform_",
    "normal_",
    "kaiming_normal_",
    "xavier_normal_",
    "trunc_normal_",
    "constant_",
    "ones_",
    "zeros_",
    "init_module_",
    "patch_torch_init",
    "calculate_gain",
    "kaiming_bound",
    "set_num_threads",
    "get_num_threads",
    "info",
    "STREAM_VERSION",
]


def set_num_threads(n: int) -> None:
    """Threads for CPU fills (the caller counts as one). Default: the CPUs this process
    may run on. Values are the same for any count. A fill uses at most 256 threads, and
    never more than it has chunks of work."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads expects a positive int, got {n!r}")
    _C.set_num_threads(n)


def get_num_threads() -> int:
    return _C.get_num_threads()


def info() -> dict:
    """Version, CPU path in use and available, threads, CUDA build and availability."""
    try:
        isa = _C.active_isa()
    except RuntimeError as e:  # a bad FASTINIT_CPU_ISA: every CPU fill raises the same
        isa = f"error: {e}"
    cuda_ok, why = _C.cuda_available()
    return {
        "version": __version__,
        "stream_version": STREAM_VERSION,
        "isa": isa,
        "isas_available": list(_C.available_isas()),
        "threads": _C.get_num_threads(),
        "cuda_compiled": bool(_C.cuda_compiled()),
        "cuda_available": bool(cuda_ok),
        "cuda_unavailable_reason": "" if cuda_ok else why,
    }

from ._deferred import deferred_init, materialize_  # noqa: E402

__all__ += ["deferred_init", "materialize_"]
