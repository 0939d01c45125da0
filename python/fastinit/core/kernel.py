"""The bridge from the public fills to the kernels of ``_C`` (docs/STREAM.md sections 4 and 9).

Every random fill goes through one path, :func:`_fill`: torch's argument parsing of the
Tensor method that torch.nn.init itself would call (``uniform_`` or ``normal_``), that
method's checks in torch's order, the target's description (dtype, layout, overlap),
the seed, then the kernel of the distribution. :func:`_fast_fill` is the per-call fast
path for plain contiguous CPU tensors. The argument helpers here are shared by every
fill module (``fastinit.fills``); this module imports nothing from them.
"""

from __future__ import annotations


import contextlib
import math

import numpy as np

from . import _C
from .shards import (
    boxes,
    check_placements,
    dtensor_segments,
    is_dtensor,
    local_tensor,
)
from .seeds import (
    _isa_error,
    _outside_torch_contexts,
    check_cpu_isa,
    check_u64,
    numpy_generator,
    numpy_seed,
    torch_seed,
    torch_seed_words,
)
from .targets import (
    _FINFO_MAX,
    _STORAGE_SIZE,
    _torch,
    _torch_dtype_code,
    _torch_dtype_label,
    check_bounds,
    check_no_overlap,
    check_torch_inplace,
    describe,
    is_torch_tensor,
)


# The torch Tensor methods whose argument parsing and checks are reproduced, with the
# names torch's argument parser gives their parameters.
_ARG_NAMES = {"uniform_": ("from", "to"), "normal_": ("mean", "std")}
# The kernels of each distribution: (CPU, CUDA) names in fastinit._C.
_KERNELS = {
    "uniform": ("fill", "fill_cuda"),
    "normal": ("fill_normal", "fill_cuda_normal"),
    "trunc_normal": ("fill_trunc_normal", "fill_cuda_trunc_normal"),
}
_METHOD_OF = {"uniform": "uniform_", "normal": "normal_"}


def _wants_torch_function(tensor) -> bool:
    """torch.nn.init's __torch_function__ hook, its test: whether ``tensor`` (a subclass with
    ``__torch_function__``) or an active torch-function mode takes the call. Every public fill
    asks first: torch.nn.init's functions reach a tensor subclass's ``__torch_function__``
    through the Tensor methods they call. One C call for a plain tensor; the keyword arguments
    are built only for :func:`_handle_torch_function` (issue 20 item 4: about 0.3 us a call,
    benchmarks/bench_keydraw.py)."""
    torch = _torch()
    return torch is not None and torch.overrides.has_torch_function_variadic(tensor)


def _handle_torch_function(fn, tensor, **kwargs):
    """The hook itself, once :func:`_wants_torch_function` said yes: the subclass or mode is
    offered the fastinit function (``fn``, every argument by name), before anything is
    checked or drawn."""
    return _torch().overrides.handle_torch_function(fn, (tensor,), tensor=tensor, **kwargs)


_PLAIN_REALS = (float, int)  # exact types whose float() runs no user code
_NUMPY_SCALARS = (np.bool_, np.integer, np.floating, np.complexfloating)


def _as_float(value, method: str, name: str, position: int) -> float:
    """torch's argument parser for a ``double`` argument (torch/csrc/utils/python_arg_parser.cpp,
    ParameterType::DOUBLE, and THPUtils_checkDouble): a Python float or int (subclasses and
    bool included), a NumPy bool, integer, floating or complex scalar, a 0-d tensor that does
    not require grad, or a torch SymFloat/SymInt; anything else (Fraction, Decimal, a 0-d
    tensor requiring grad, a 0-d ndarray) is a TypeError. The value is what torch takes:
    PyFloat_AsDouble (``float()``), a tensor's ``item()``."""
    if type(value) is float or type(value) is int or isinstance(value, (float, int, _NUMPY_SCALARS)):
        return float(value)
    torch = _torch()
    if torch is not None:
        if isinstance(value, torch.Tensor):
            if value.dim() == 0 and not value.requires_grad:
                return float(value)
        elif isinstance(value, (torch.SymFloat, torch.SymInt)):
            return float(value)
    raise TypeError(f"{method}(): argument '{name}' (position {position}) must be float, not {_tp_name(value)}")


def _tp_name(obj) -> str:
    """CPython's tp_name, which torch's argument parser prints: the bare name for classes
    defined in Python, the dotted name that C and Cython types carry."""
    t = type(obj)
    if t.__flags__ & (1 << 9) or t.__module__ == "builtins":  # Py_TPFLAGS_HEAPTYPE
        return t.__name__
    return f"{t.__module__}.{t.__qualname__}"


# torch.func's transforms (torch._C._functorch.TransformType) whose wrappers a random fill
# refuses, as the user knows them; functionalize's wrappers are written through copy_.
_TRANSFORM_NAMES = {"Vmap": "torch.func.vmap", "Grad": "torch.func.grad (or vjp, jacrev)",
                    "Jvp": "torch.func.jvp (or jacfwd)"}


def functorch_transform(tensor):
    """The torch.func transform that wraps ``tensor`` (vmap's BatchedTensor, grad's or jvp's
    TensorWrapper: no memory of their own, ``data_ptr()`` raises), as the name to print;
    None for a tensor that no transform wraps (also a plain tensor used inside one) or that
    only functionalize wraps. A wrapper whose transform has exited (leaked out of it) is
    named as such."""
    torch = _torch()
    ft = torch._C._functorch
    if not ft.is_functorch_wrapped_tensor(tensor):
        return None
    kinds = {i.level(): i.key().name for i in ft.get_interpreter_stack() or ()}
    while ft.is_functorch_wrapped_tensor(tensor):
        kind = kinds.get(ft.maybe_get_level(tensor))
        if kind is None:
            return "a torch.func transform that has exited"
        if kind in _TRANSFORM_NAMES:
            return _TRANSFORM_NAMES[kind]
        tensor = ft.get_unwrapped(tensor)
    return None


def outside_functorch():
    """A context in which torch ops see no torch.func transform (nothing when none is
    active), for the torch ops a fill runs on a tensor that no transform wraps: its own
    temporaries (orthogonal_'s QR, sparse_'s ranking keys) and its writes into the
    target, which then behave as outside the transform (grad would otherwise refuse to
    mutate a tensor captured from outside, and wrap the temporaries)."""
    torch = _torch()
    if torch._C._functorch.maybe_current_level() is None:
        return contextlib.nullcontext()
    return torch._C._DisableFuncTorch()


def refuse_functorch(tensor, name: str) -> None:
    """A random fill's refusal of a tensor that a torch.func transform wraps (issue 18
    finding 9): its values would be fastinit's stream written through the wrapper, which
    neither vmap's randomness modes nor grad's tracking describe; torch's own function is
    the one to call there. Raised before any key is drawn."""
    transform = functorch_transform(tensor)
    if transform is not None:
        raise RuntimeError(
            f"fastinit.{name} cannot write a tensor inside {transform}: the tensor is a torch.func wrapper "
            f"without memory of its own. Call torch.nn.init.{name} there (or fill the tensor before the "
            "transform, or fill a plain tensor created outside it); nothing was drawn or written")


def _check_generator(generator, is_torch: bool, method: str) -> None:
    if generator is None or not is_torch:
        return
    torch = _torch()
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"{method}(): argument 'generator' must be torch.Generator, not {_tp_name(generator)}")


def _shape(tensor):
    shape = getattr(tensor, "shape", None)
    if shape is None:
        describe(tensor)  # raises the not-an-array TypeError
    return tuple(shape)


def _fmt(x: float) -> str:
    # C++ ostream's default formatting of a double (what torch's C++ messages use).
    return "%g" % x


def _check_normal_std(std: float, tensor, is_torch: bool) -> None:
    """normal_'s std check, which torch runs before looking at the dtype (and also for
    empty tensors). The meta implementation is torch's Python reference, which formats
    the number with Python's repr and then checks the dtype."""
    meta = is_torch and tensor.is_meta
    if not std >= 0.0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std if meta else _fmt(std)}")
    if meta and not (tensor.dtype.is_floating_point or tensor.dtype.is_complex):
        raise RuntimeError(f"expected a floating-point or complex dtype, but got dtype={tensor.dtype}")


def _describe(tensor, method: str, is_torch: bool):
    """The target, refusing what torch's method refuses with its own dtype message."""
    if method == "normal_" and is_torch and _torch_dtype_code(tensor) is None and not tensor.dtype.is_complex:
        kernel = "normal_kernel_cuda" if tensor.device.type == "cuda" else "normal_kernel_cpu"
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{_torch_dtype_label(tensor.dtype)}'")
    return describe(tensor, op=method)


_FAST = []  # on first use: (exact tensor types, torch.strided, torch.Generator, dtype codes, limits, sizes, bump)


def _fast_state():
    """_FAST, set up on first use; None without torch."""
    if not _FAST:
        torch = _torch()
        if torch is None:
            return None
        _FAST[:] = [(torch.Tensor, torch.nn.Parameter), torch.strided, torch.Generator,
                    {torch.float32: 0, torch.float64: 1, torch.float16: 2, torch.bfloat16: 3}, _FINFO_MAX,
                    _STORAGE_SIZE, getattr(torch._C, "_increment_version", None)]
    return _FAST


def _plain_offset_seed(seed, offset) -> bool:
    """Whether ``offset`` and ``seed`` (None or) are ints in [0, 2**64): then the fast paths
    need not call :func:`check_u64`."""
    return (type(offset) is int and 0 <= offset < _U64 and
            (seed is None or (type(seed) is int and 0 <= seed < _U64)))


def _own_cpu_memory(tensor, strided, itemsize: int) -> int:
    """The data pointer of a contiguous, non-empty CPU tensor whose bytes lie inside a
    storage that torch allocated (resizable), and that is not nested, a negative-bit view,
    an inference tensor, a torch.func wrapper or memoryless; 0 for anything else, which the
    general paths then check and refuse with torch's messages. ``tensor``: a plain Tensor
    or Parameter (the caller checked its type). The per-call fast paths' one check of the
    target (issues 13 and 20)."""
    # (a ZeroTensor has data_ptr 0: refused with the memoryless tensors)
    if (not tensor.is_cpu or tensor.layout is not strided or tensor.is_nested
            or not tensor.is_contiguous() or tensor.is_neg() or tensor.is_inference()):
        return 0
    n = tensor.numel()
    try:
        ptr = tensor.data_ptr()
    except RuntimeError:  # a torch.func wrapper: the general path refuses it
        return 0
    if n == 0 or ptr == 0:  # empty, or no memory (functionalization, ZeroTensor)
        return 0
    st = tensor.untyped_storage()
    base = st.data_ptr()
    if ptr < base or ptr + n * itemsize > base + st.nbytes() or not st.resizable():
        return 0  # (not resizable: memory torch did not allocate, checked for writability there)
    return ptr


def _fast_fill(tensor, dist, x1, x2, generator, seed, offset):
    """The per-call fast path (issue 13): a plain, contiguous, non-empty CPU float tensor
    with plain arguments, whose checks all pass. Returns None, having done nothing, for
    anything else (a failing check included), which then takes the general path of
    :func:`_fill` and gets torch's exact errors in torch's order. ``dist``: 0 uniform
    (x1, x2 = from, to), 1 normal (mean, std)."""
    state = _FAST or _fast_state()
    if state is None:
        return None
    types, strided, gen_type, codes, limits, sizes, bump = state
    if type(tensor) not in types or (generator is not None and type(generator) is not gen_type):
        return None
    if not _plain_offset_seed(seed, offset):
        return None
    code = codes.get(tensor.dtype)
    if code is None:
        return None
    if dist == 0:
        big = limits[code]
        if not (-big <= x1 <= x2 <= big and x2 - x1 <= big):
            return None
    elif not x2 >= 0.0:
        return None
    ptr = _own_cpu_memory(tensor, strided, sizes[code])
    if not ptr:
        return None
    n = tensor.numel()
    if generator is not None and generator.device.type != "cpu":
        return None
    if _isa_error != _ISA_OK and check_cpu_isa(quiet=True) is not None:
        return None
    words = 0 if seed is not None else torch_seed_words(generator)
    try:
        _C.fill_contiguous(dist, ptr, code, n, x1, x2, seed or 0, offset, words)
    finally:
        bump((tensor,))
    return tensor


_U64 = 1 << 64
_ISA_OK = [None]  # _seed._isa_error once the ISA has been checked and is usable


def _fill(tensor, kind, params, generator, seed, offset, checks=None, name=None):
    """One validation and dispatch path for every random fill.

    ``name``: the public function, for messages (default: the method).
    ``kind`` picks the kernel ("uniform": lo, hi; "normal": mean, std; "trunc_normal":
    mean, std, a, b) and ``params`` are its arguments. ``checks`` is ``(method, args)``:
    the torch Tensor method whose parsing and checks apply, and the arguments torch.nn.init
    would give it; by default the kind's own method with ``params`` (trunc_normal_ passes
    the method that torch's trunc_normal_ calls: ``normal_`` or ``uniform_``).

    Order: every argument is parsed and converted first (``__float__``/``__index__`` of
    user objects run here, and may change the target), then the target is described and
    checked, then the key is drawn (only once nothing can refuse the call), then the
    pointer is used, with no user code in between."""
    method, args = checks if checks is not None else (_METHOD_OF[kind], params)
    n1, n2 = _ARG_NAMES[method]
    x1 = _as_float(args[0], method, n1, 1)
    x2 = _as_float(args[1], method, n2, 2)
    is_torch = is_torch_tensor(tensor)
    if generator is not None:
        _check_generator(generator, is_torch, method)
    offset = check_u64(offset, "offset")
    seed = None if seed is None else check_u64(seed, "seed")
    if not is_torch and seed is None:
        generator = numpy_generator(generator)
    if is_torch:
        refuse_functorch(tensor, name or method)
    # every argument is converted: from here on no user code runs until the kernel returns
    # (a subclassed generator excepted: the target is described again after its draw)
    params = params if checks is not None else (x1, x2)
    # A DTensor: fans and bounds came from its global shape; its local tensor is written,
    # box by box of the global tensor (_dtensor.py).
    dt = tensor if is_torch and is_dtensor(tensor) else None
    local = local_tensor(dt) if dt is not None else tensor
    if method == "normal_":
        _check_normal_std(x2, local, is_torch)
        # torch returns before its dtype dispatch for empty tensors
        target = None if is_torch and tensor.numel() == 0 else _describe(local, method, is_torch)
    else:
        target = _describe(local, method, is_torch)
    if target is not None:
        if method == "uniform_":
            check_bounds(x1, x2, target.dtype)
        if not target.contiguous:
            check_no_overlap(target.sizes, target.strides, target.itemsize)
    segs = None
    if dt is not None:
        check_placements(dt.placements)
        segs = dtensor_segments(dt)
    if is_torch and local.device.type != "meta":
        check_torch_inplace(local)  # the method's last check (its version bump), empty tensors too
    # every check of torch's method has passed: trunc_normal_'s own steps after it, then
    # the kernel's own parameters
    if checks is not None:
        params = _trunc_normal_params(*params, method)
    # torch draws nothing for an empty or meta tensor; a DTensor draws on every rank when
    # the global tensor has elements, so that the ranks' generators stay in step
    if target is None or target.device == "meta" or (tensor.numel() if dt is not None else target.numel) == 0:
        return tensor
    if target.device == "cpu":
        check_cpu_isa()
    if seed is None:
        seed = torch_seed(generator) if target.is_torch else numpy_seed(generator)
        if generator is not None and type(generator) not in _plain_generators():
            target = _describe(local, method, is_torch)  # its draw ran user code
    _run(tensor, local, dt, segs, target, kind, params, seed, offset)
    return tensor


def _plain_generators():
    """The exact generator types whose draw runs no user code."""
    import numpy as np

    torch = _torch()
    return (np.random.Generator,) + ((torch.Generator,) if torch is not None else ())


def _run(tensor, local, dt, segs, target, kind, params, seed, offset):
    """The kernel calls (boxes of a DTensor's global tensor, or the whole target), then the
    neg-bit correction; the version counters are bumped whatever happens (a Ctrl-C between
    slices leaves the target partly written)."""
    if dt is None:
        istrides, calls = [], [(0, target.sizes, offset)]
    else:
        istrides, calls = boxes(segs, dt.shape, _scratch_strides(target) if target.functional else target.strides,
                                offset)
    scratch = None
    if target.functional:
        # functionalization: fill a real buffer, then copy_ it in, which torch records
        import numpy as np

        scratch = np.empty(target.numel * target.itemsize, dtype=np.uint8)
        ptr, strides = scratch.ctypes.data, _scratch_strides(target)
    else:
        ptr, strides = target.ptr, target.strides
    cpu, cuda = _KERNELS[kind]
    written = False
    try:
        for byte_offset, sizes, first in calls:
            for b, sz, st, ist, f in kernel_calls(sizes, strides, istrides, first):
                written = True
                if target.device == "cuda" and scratch is None:
                    getattr(_C, cuda)(ptr + byte_offset + b, target.device_index, target.stream, target.dtype, sz,
                                      st, *params, seed, f, ist)
                else:
                    getattr(_C, cpu)(ptr + byte_offset + b, target.dtype, sz, st, *params, seed, f, "", 0, ist)
        torch = _torch()
        if scratch is not None:
            src = torch.from_numpy(scratch).view(local.dtype).view(local.shape)
            with torch.no_grad():
                local.copy_(src)
        elif target.neg:
            with torch.no_grad():
                torch._neg_view(local).neg_()  # the stored bits are read negated through the view
    finally:
        if written and target.is_torch and scratch is None:
            _bump_version(tensor)
            if local is not tensor:
                _bump_version(local)


def _scratch_strides(target):
    """Row-major byte strides of the target's shape (the functionalization buffer)."""
    out, acc = [0] * len(target.sizes), target.itemsize
    for d in range(len(target.sizes) - 1, -1, -1):
        out[d] = acc
        acc *= max(target.sizes[d], 1)
    return out


_MAX_DIMS = _C.kMaxDims
_MASK64 = (1 << 64) - 1


def kernel_calls(sizes, strides, istrides, first):
    """The kernel calls for one box: [(byte offset, sizes, byte strides, index strides,
    stream offset)]. Size-1 dims are dropped (their stride may be anything torch allows,
    beyond int64 once in bytes); more dims than the kernel takes (kMaxDims) are merged where
    contiguous in memory and index, and any still left over are looped over here."""
    if 1 not in sizes and len(sizes) <= _MAX_DIMS:
        return ((0, sizes, strides, istrides, first),)
    if not istrides:
        istrides, acc = [0] * len(sizes), 1
        for d in range(len(sizes) - 1, -1, -1):
            istrides[d] = acc
            acc *= max(sizes[d], 1)
    dims = [(n, st, ist) for n, st, ist in zip(sizes, strides, istrides) if n != 1]
    if len(dims) > _MAX_DIMS:
        merged = []
        for n, st, ist in dims:
            if merged and merged[-1][1] == st * n and merged[-1][2] == ist * n:
                merged[-1] = (merged[-1][0] * n, st, ist)
            else:
                merged.append((n, st, ist))
        dims = merged
    outer, inner = dims[:-_MAX_DIMS] if len(dims) > _MAX_DIMS else [], dims[-_MAX_DIMS:]
    sz, st, ist = [d[0] for d in inner], [d[1] for d in inner], [d[2] for d in inner]
    calls = [(0, first)]
    for n, s, i in outer:
        calls = [(b + k * s, (f + k * i) & _MASK64) for b, f in calls for k in range(n)]
    return [(b, sz, st, ist, f) for b, f in calls]


def _bump_version(tensor) -> None:
    # The write bypasses autograd; bumping the version counter keeps autograd's
    # saved-tensor checks honest, as torch's own in-place ops do.
    # torch.autograd.graph.increment_version is this call behind an isinstance check.
    inc = getattr(_torch()._C, "_increment_version", None)
    if inc is not None:
        inc((tensor,))


def _trunc_normal_params(mean, std, a, b, method="normal_"):
    """The kernel's (mean, std, a, b) once torch's checks have passed. torch's rejection
    sampler only uses std**2, so a negative std that gets this far means |std|."""
    if method == "uniform_":
        _check_rejection_arithmetic(mean, std)
    m, s, lo, hi = float(mean), abs(float(std)), float(a), float(b)
    if not (math.isfinite(m) and math.isfinite(s)):
        # torch would fill U(a, b) here (its acceptance test compares with nan)
        raise ValueError(f"trunc_normal_: mean and std must be finite, got mean={m!r}, std={float(std)!r}")
    return m, s, lo, hi


# c10's message for a bool operand of sub (aten/src/ATen/native/BinaryOps.h, sub_check)
_BOOL_SUB_MSG = ("Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying to invert "
                 "a mask, use the `~` or `logical_not()` operator instead.")


def _check_rejection_arithmetic(mean, std):
    """torch's trunc_normal_ for a narrow interval (torch/nn/init.py, _no_grad_trunc_normal_):
    after ``tensor.uniform_(a, b)`` it computes the log-density of the samples with
    ``candidates.sub_(mean).div_(std)``, whose argument parsing and checks refuse what
    uniform_ did not look at: a bool ``mean`` (RuntimeError) and a ``mean`` or ``std``
    that is not a Scalar or Tensor (TypeError, e.g. a Fraction). torch raises after it
    has written the tensor; fastinit replays the two ops on an empty CPU tensor of its
    own, outside the caller's torch contexts, before anything is drawn or written."""
    torch = _torch()
    if torch is None:  # a NumPy target, torch never imported: the one refusal without a parser
        if isinstance(mean, bool):  # (sub_ takes a NumPy bool as a number)
            raise RuntimeError(_BOOL_SUB_MSG)
        return
    with _outside_torch_contexts(torch), torch.no_grad():
        scratch = torch.empty(0, dtype=torch.float64, device="cpu")
        scratch.sub_(mean).div_(std)
