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
import sys
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


# Per thread: (buffer, its bound random_, its address). The buffer is fastinit's own two
# int64 words, created on first use explicitly on the CPU and outside every torch context
# (no torch-function mode such as torch.device("meta") or set_default_device, no dispatch
# mode such as FakeTensorMode, no torch.func transform, not in inference mode), so that
# whatever is active on a thread's first fill does not leak into its later ones (issue 18,
# findings 1 and 2). It never leaves this module: nothing else can resize or free it.
_local = threading.local()


def _outside_torch_contexts(torch):
    """A context in which torch ops see none of the caller's modes or transforms: torch
    function modes and overrides, dispatch modes (FakeTensorMode), torch.func layers."""
    import contextlib

    stack = contextlib.ExitStack()
    stack.enter_context(torch._C.DisableTorchFunction())
    stack.enter_context(torch._C._DisableTorchDispatch())
    stack.enter_context(torch._C._DisableFuncTorch())
    return stack


def _new_draw(torch):
    with _outside_torch_contexts(torch), torch.inference_mode(False):
        buf = torch.empty(2, dtype=torch.int64, device="cpu")
    ptr = buf.data_ptr()
    if type(buf) is not torch.Tensor or buf.device.type != "cpu" or buf.is_inference() or ptr == 0:
        raise RuntimeError(f"fastinit: could not create the key buffer on the CPU (got {type(buf).__name__} on "
                           f"{buf.device}, data pointer {ptr:#x})")
    draw = _local.draw = (buf, buf.random_, ptr)
    return draw


_CONTEXT_PROBES = []  # on first use: torch's probes of this thread's modes and transforms


def _ambient(torch) -> bool:
    """Whether a torch-function mode, a dispatch mode or a torch.func transform is active on
    this thread (three C calls, about 80 ns together; the guarded draw costs about 1.5 us
    more, so it runs only then)."""
    if not _CONTEXT_PROBES:
        C = torch._C
        _CONTEXT_PROBES[:] = [C._is_torch_function_mode_enabled, C._len_torch_dispatch_stack,
                              C._functorch.maybe_current_level]
    function_modes, dispatch_modes, functorch_level = _CONTEXT_PROBES
    return function_modes() or dispatch_modes() > 0 or functorch_level() is not None


def torch_seed_words(generator) -> int:
    """The draw of :func:`torch_seed` for a CPU generator (``None``: torch.default_generator),
    left in this thread's buffer: returns the address of its two int64 words (the kernel
    reads the key there, w[0] | w[1] << 32; saves the tolist). The per-call fast path's
    draw: no import, one thread-local lookup, the three context probes, then the bound
    ``random_`` (issue 20 item 4; benchmarks/bench_keydraw.py)."""
    try:
        buf, random_, ptr = _local.draw
    except AttributeError:
        import torch

        buf, random_, ptr = _new_draw(torch)
    torch = sys.modules["torch"]  # imported: the draw buffer is a torch tensor
    if _ambient(torch):
        with _outside_torch_contexts(torch):
            _draw_into(buf, generator)
    elif generator is None:
        random_(0, 4294967296)  # torch.default_generator
    else:
        random_(0, 4294967296, generator=generator)
    return ptr


def _draw_into(buf, generator):
    # torch.randint(0, 2**32, (2,), dtype=torch.int64, generator=g) is random_(0, 2**32) on a
    # fresh int64 tensor: the same words, the same advance of g, without the allocation.
    if generator is None:
        buf.random_(0, 1 << 32)
    else:
        buf.random_(0, 1 << 32, generator=generator)


def torch_seed(generator) -> int:
    import torch

    g = torch.default_generator if generator is None else generator
    if g.device.type != "cpu":
        with _outside_torch_contexts(torch), torch.inference_mode(False):
            w = torch.randint(0, 1 << 32, (2,), dtype=torch.int64, generator=g, device=g.device).tolist()
        return w[0] | (w[1] << 32)
    torch_seed_words(generator)
    buf = _local.draw[0]
    if _ambient(torch):
        with _outside_torch_contexts(torch):
            w = buf.tolist()
    else:
        w = buf.tolist()
    return w[0] | (w[1] << 32)


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
