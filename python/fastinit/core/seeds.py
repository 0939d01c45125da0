"""Seeds for fills that are not given ``seed=`` (docs/STREAM.md section 4).

One 64-bit Philox key is drawn per call, so successive calls get independent streams
and the framework's own seeding (``torch.manual_seed``, ``numpy.random.seed``) makes runs
reproducible:

* torch tensors, any device: two 32-bit words from ``generator`` (default:
  ``torch.default_generator``, the CPU one, also for CUDA tensors, so one
  ``torch.manual_seed`` gives the same weights on CPU and GPU), as
  ``torch.randint(0, 2**32, (2,), dtype=torch.int64, generator=g)``; the key is
  ``w[0] | w[1] << 32``.
* NumPy arrays: ``generator.integers(0, 2**64, dtype=numpy.uint64)`` for a
  ``numpy.random.Generator`` (an int ``generator`` means ``numpy.random.default_rng(int)``);
  with no generator, NumPy's global state: ``numpy.random.randint(0, 2**64, dtype=numpy.uint64)``.
"""

from __future__ import annotations

import hashlib
import operator
import threading

import numpy as np

from . import _C

_U64 = 1 << 64


def check_u64(value, name: str) -> int:
    """An int in [0, 2**64), or TypeError/ValueError naming the argument."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int in [0, 2**64), not bool")
    try:
        v = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int in [0, 2**64), not {type(value).__name__}") from None
    if not 0 <= v < _U64:
        raise ValueError(f"{name} must be in [0, 2**64), got {v}")
    return v


_local = threading.local()  # per-thread draw buffer: one small tensor, reused


def torch_seed(generator) -> int:
    import torch

    g = torch.default_generator if generator is None else generator
    if g.device.type != "cpu":
        w = torch.randint(0, 1 << 32, (2,), dtype=torch.int64, generator=g, device=g.device).tolist()
        return w[0] | (w[1] << 32)
    buf = getattr(_local, "buf", None)
    if buf is None:
        buf = _local.buf = torch.empty(2, dtype=torch.int64)
    # torch.randint(low, high, size) is random_(low, high) on a fresh tensor: the same
    # draw, without the allocation and argument parsing (a few microseconds a call).
    w = buf.random_(0, 1 << 32, generator=g).tolist()
    return w[0] | (w[1] << 32)


def torch_seed_words(generator) -> int:
    """torch_seed's draw for a CPU generator, left in this thread's buffer: returns the
    address of its two int64 words (the kernel reads the key there; saves the tolist)."""
    buf = getattr(_local, "buf", None)
    if buf is None:
        import torch

        buf = _local.buf = torch.empty(2, dtype=torch.int64)
    if generator is None:
        buf.random_(0, 1 << 32)  # torch.default_generator
    else:
        buf.random_(0, 1 << 32, generator=generator)
    return buf.data_ptr()


def numpy_generator(generator):
    """The generator a NumPy fill draws from: None (the global state), or a
    numpy.random.Generator (an int means numpy.random.default_rng(int)). Converted with
    the other arguments, before the target is looked at (an int's __index__ is user code)."""
    if generator is None or isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        return np.random.default_rng(operator.index(generator))
    raise TypeError(
        "generator for a NumPy array must be a numpy.random.Generator or an int, "
        f"not {type(generator).__name__}"
    )


def numpy_seed(generator) -> int:
    generator = numpy_generator(generator)
    if generator is None:
        return int(np.random.randint(0, _U64, dtype=np.uint64))
    return int(generator.integers(0, _U64, dtype=np.uint64))


_isa_error = []  # [] until checked; then [None] or [the error every CPU fill raises]


def check_cpu_isa(quiet: bool = False):
    """Raises the error every CPU fill would raise for an unusable FASTINIT_CPU_ISA (read
    once per process), before a key is drawn; with ``quiet``, returns it instead (None if
    the ISA is usable)."""
    if not _isa_error:
        try:
            _C.active_isa()
            _isa_error.append(None)
        except RuntimeError as e:
            _isa_error.append(str(e))
    if _isa_error[0] is not None and not quiet:
        raise RuntimeError(_isa_error[0])
    return _isa_error[0]


def derive_seed(seed: int, name: str) -> int:
    """The per-tensor seed that ``init_module_(..., seed=seed)`` uses for ``name``."""
    seed = check_u64(seed, "seed")
    h = hashlib.sha256(name.encode("utf-8")).digest()
    counter = [int.from_bytes(h[4 * i: 4 * i + 4], "little") for i in range(4)]
    w = _C.philox4x32_10(counter, [seed & 0xFFFFFFFF, seed >> 32])
    return int(w[0]) | (int(w[1]) << 32)
