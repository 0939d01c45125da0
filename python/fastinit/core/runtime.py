"""The runtime: the package version, the stream version, CPU threads and what the build found."""

import operator as _operator

from . import _C

__version__ = "0.1.0"
STREAM_VERSION = 3  # docs/STREAM.md; CHANGELOG.md lists every stream version

__all__ = ["__version__", "STREAM_VERSION", "set_num_threads", "get_num_threads", "info"]


def set_num_threads(n: int) -> None:
    """Set the number of threads for CPU fills (the calling thread counts as one).

    The values written never depend on it. Default: the CPUs this process may run on. A
    fill uses at most 256 threads, and never more than it has chunks of work. Independent
    of ``torch.set_num_threads``.

    Args:
        n (int): a positive integer below 2**31, of any integral type (``int``, NumPy
            integers, 0-d integer tensors); bool is refused.

    Raises:
        TypeError: ``n`` is a bool or not an integer.
        ValueError: ``n`` is outside [1, 2**31).

    Example:
        >>> fastinit.set_num_threads(4)
    """
    if isinstance(n, bool):
        raise TypeError("set_num_threads expects a positive int, not bool")
    try:
        k = _operator.index(n)  # any integral type: int, numpy integers, 0-d integer tensors
    except TypeError:
        raise TypeError(f"set_num_threads expects a positive int, not {type(n).__name__}") from None
    if not 1 <= k < 2**31:
        raise ValueError(f"set_num_threads expects a positive int below 2**31, got {k}")
    _C.set_num_threads(k)


def get_num_threads() -> int:
    """The number of threads CPU fills use (see :func:`set_num_threads`).

    Returns:
        int: the current setting.

    Example:
        >>> fastinit.get_num_threads()
        2
    """
    return _C.get_num_threads()


def info() -> dict:
    """What fastinit found on this machine.

    Returns:
        dict: ``version``; ``stream_version`` (docs/STREAM.md); ``isa``, the CPU path in use
        (``'scalar'``, ``'avx2'`` or ``'avx512'``, or an error where ``FASTINIT_CPU_ISA``
        asks for one this CPU lacks); ``isas_available``; ``threads``; ``cuda_compiled``;
        ``cuda_available``; ``cuda_unavailable_reason`` (empty when CUDA is available).

    Example:
        >>> fastinit.info()["isa"]
        'avx512'
    """
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
