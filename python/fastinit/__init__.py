"""fastinit: fast, reproducible weight initialization.

Fills tensors and arrays in place with Philox4x32-10 values whose bits depend only on
(seed, element index): identical across thread counts, SIMD paths, CPU and CUDA, memory
layouts and shardings. Drop-in for torch.nn.init's uniform and normal families (and its
constant fills), and the rest of torch.nn.init. docs/STREAM.md is the stream contract
(stream version 3).
"""

from . import distributed
from .core import _C
from .core.bounds import calculate_gain, kaiming_bound
from .core.runtime import STREAM_VERSION, __version__, get_num_threads, info, set_num_threads
from .fills import registry as _registry
from .models.deferred import (
    DeferredInitError,
    deferred_init,
    is_deferred,
    materialize_,
    materialize_module,
    materialize_tensor,
)
from .models.module import init_module_
from .models.patch import patch_torch_init
from .models.schemes import apply_scheme
from .tools.audit import audit

# the init functions: one entry each in fastinit.fills.registry
globals().update({_e.name: _e.fn for _e in _registry.ENTRIES})

__all__ = [
    *_registry.names(),
    "init_module_",
    "apply_scheme",
    "deferred_init",
    "materialize_",
    "is_deferred",
    "materialize_tensor",
    "materialize_module",
    "DeferredInitError",
    "patch_torch_init",
    "audit",
    "calculate_gain",
    "kaiming_bound",
    "set_num_threads",
    "get_num_threads",
    "info",
    "STREAM_VERSION",
]
