"""From a user's tensor or array to the plain description the kernels take: pointer,
sizes, byte strides, dtype code and device. All input validation lives here (and in
_api.py), before anything is written."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

F32, F64, F16, BF16 = 0, 1, 2, 3
_STORAGE_SIZE = {F32: 4, F64: 8, F16: 2, BF16: 2}

# torch's names in uniform_'s bound checks (c10 toString of the scalar type, and the
# C++ type in "out of bounds for ..."), so errors read exactly as torch's.
_BOUND_NAMES = {F32: ("float", "Float"), F64: ("double", "Double"), F16: ("c10::Half", "Half"),
                BF16: ("c10::BFloat16", "BFloat16")}
_FINFO_MAX = {F32: float(np.finfo(np.float32).max), F64: float(np.finfo(np.float64).max),
              F16: 65504.0, BF16: float.fromhex("0x1.fe00000000000p+127")}

_OVERLAP_MSG = (
    "unsupported operation: more than one element of the written-to tensor refers to a single "
    "memory location. Please clone() the tensor before performing the operation."
)


@dataclass
class Target:
    ptr: int
    dtype: int
    sizes: list
    strides: list  # bytes
    device: str  # "cpu", "cuda" or "meta"
    device_index: int = -1
    stream: int = 0
    is_torch: bool = False
    contiguous: bool = False  # C-contiguous: no overlap check needed
    neg: bool = False  # torch neg-bit view: reads negate what is stored (filled, then negated)
    functional: bool = False  # torch functionalization wrapper: no memory, written with copy_

    elsize: int = 0  # bytes per element where dtype is not a fill dtype (constant fills)

    @property
    def itemsize(self) -> int:
        return self.elsize or _STORAGE_SIZE[self.dtype]

    @property
    def numel(self) -> int:
        n = 1
        for s in self.sizes:
            n *= s
        return n


_TORCH = None


def _torch():
    """torch if the user has imported it (fastinit never imports it for NumPy work)."""
    global _TORCH
    if _TORCH is None:
        _TORCH = sys.modules.get("torch")
    return _TORCH


def is_torch_tensor(obj) -> bool:
    torch = _torch()
    return torch is not None and isinstance(obj, torch.Tensor)


_TORCH_CODES = {}


def _torch_dtype_code(t):
    if not _TORCH_CODES:
        torch = _torch()
        _TORCH_CODES.update({torch.float32: F32, torch.float64: F64, torch.float16: F16, torch.bfloat16: BF16})
    return _TORCH_CODES.get(t.dtype)


def _torch_dtype_label(dtype) -> str:
    # c10's ScalarType names, as in '"check_uniform_bounds" not implemented for 'Long''.
    s = str(dtype).replace("torch.", "")
    special = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
               "bool": "Bool", "complex64": "ComplexFloat", "complex128": "ComplexDouble",
               "complex32": "ComplexHalf"}
    if s in special:
        return special[s]
    parts = s.split("_")
    return "".join(p[:1].upper() + p[1:] for p in parts)


def _numpy_dtype_code(dt: np.dtype):
    if dt == np.float32:
        return F32
    if dt == np.float64:
        return F64
    if dt == np.float16:
        return F16
    if dt.name == "bfloat16" and dt.itemsize == 2:
        return BF16
    return None


def check_no_overlap(sizes, strides, itemsize) -> None:
    """Refuses views in which two elements may share memory. A zero stride on a dimension
    of size > 1 (expand, broadcast_to) gets torch's own message; other layouts must pass a
    sufficient test: sorted by |stride|, each stride clears the extent of the ones below."""
    dims = sorted((abs(st), sz) for sz, st in zip(sizes, strides) if sz > 1)
    if any(st == 0 for st, _ in dims):
        raise RuntimeError(_OVERLAP_MSG)
    extent = itemsize
    for st, sz in dims:
        if st < extent:
            raise RuntimeError(
                "fastinit: the elements of this view may overlap in memory (strides "
                f"{tuple(strides)} bytes for shape {tuple(sizes)}); fill a copy instead"
            )
        extent = st * (sz - 1) + extent


def _unsupported_numpy_dtype(dt) -> TypeError:
    return TypeError(
        f"fastinit: unsupported dtype {dt}; expected float32, float64, float16 or bfloat16 (ml_dtypes)"
    )


def describe(obj, *, op: str = "uniform_") -> Target:
    """Validates the dtype, layout and writability of obj and describes it for the kernels.
    Bound checks come later (check_bounds), in torch's order."""
    if is_torch_tensor(obj):
        return _describe_torch(obj)
    if isinstance(obj, np.ndarray):
        return _describe_numpy(obj)
    if hasattr(obj, "__cuda_array_interface__"):
        return _describe_cuda_array(obj)
    raise TypeError(
        f"fastinit.{op}: expected a torch.Tensor, a numpy.ndarray or an object with "
        f"__cuda_array_interface__, got {type(obj).__name__}"
    )


_INFERENCE_MSG = (
    "Inplace update to inference tensor outside InferenceMode is not allowed.You can make a clone to get a "
    "normal tensor before doing inplace update.See https://github.com/pytorch/rfcs/pull/17 for more details."
)
_ZEROTENSOR_MSG = (
    "ZeroTensors are immutable. Please use the materialized zero tensor obtained using .clone() if you want "
    "a mutable tensor."
)


def check_torch_inplace(t) -> None:
    """torch's last check before an in-place write (its version-counter bump, after every
    argument and bound check, also for empty tensors): inference tensors are writable only
    inside inference_mode. Same type and message as torch."""
    torch = _torch()
    if t.is_inference() and not torch.is_inference_mode_enabled():
        raise RuntimeError(_INFERENCE_MSG)


def _describe_torch(t) -> Target:
    torch = _torch()
    code = _torch_dtype_code(t)
    if code is None and t.dtype.is_complex:
        raise TypeError(f"fastinit: complex tensors are not supported (got {t.dtype})")
    if code is None:
        raise NotImplementedError(f"\"check_uniform_bounds\" not implemented for '{_torch_dtype_label(t.dtype)}'")
    if t.layout is not torch.strided:
        raise RuntimeError(f"fastinit: only strided tensors can be filled, got layout {t.layout}")
    if t.is_nested:
        raise RuntimeError("fastinit: nested tensors cannot be filled; fill their components")
    dev = t.device.type
    if dev not in ("cpu", "cuda", "meta"):
        raise RuntimeError(f"fastinit: tensors on device type '{dev}' are not supported (cpu and cuda are)")
    if t._is_zerotensor():
        raise RuntimeError(_ZEROTENSOR_MSG)
    esz = _STORAGE_SIZE[code]
    sizes = list(t.shape)
    target = Target(ptr=0, dtype=code, sizes=sizes, strides=[s * esz for s in t.stride()], device=dev,
                    is_torch=True, contiguous=t.is_contiguous(), neg=t.is_neg())
    if dev != "meta":
        if type(t) is not torch.Tensor and _has_no_memory(t):
            raise TypeError(
                f"fastinit: this {type(t).__name__} has no memory of its own: tensor subclasses without "
                "storage (FakeTensor, wrapper subclasses other than DTensor) cannot be filled"
            )
        target.ptr = t.data_ptr()
        if target.ptr == 0 and torch._is_functional_tensor(t):
            target.functional = True  # written through copy_ (functionalization records it)
        else:
            check_torch_extent(t, target)
    if dev == "cuda":
        target.device_index = t.device.index if t.device.index is not None else torch.cuda.current_device()
        target.stream = torch.cuda.current_stream(target.device_index).cuda_stream
    return target


def _has_no_memory(t) -> bool:
    """A tensor subclass whose data pointer is not its elements' memory: FakeTensor, or a
    wrapper subclass (its data_ptr() is 0; writing through it crashed the process)."""
    if t.numel() == 0:
        return False
    fake = sys.modules.get("torch._subclasses.fake_tensor")
    if fake is not None and isinstance(t, fake.FakeTensor):
        return True
    from torch.utils._python_dispatch import is_traceable_wrapper_subclass

    if is_traceable_wrapper_subclass(t):
        return True
    if t.data_ptr() == 0:
        # a storage freed to 0 bytes (FSDP2, resize_) is memory that is gone, not a subclass
        # without memory: its extent error follows (an nn.Parameter as a plain tensor)
        try:
            return t.untyped_storage().nbytes() != 0
        except Exception:
            return True
    return False


def _span(sizes, strides, itemsize):
    """[lo, hi): the bytes a view touches, relative to its first element; None if empty."""
    lo, hi = 0, itemsize
    for n, st in zip(sizes, strides):
        if n == 0:
            return None
        if st < 0:
            lo += st * (n - 1)
        else:
            hi += st * (n - 1)
    return lo, hi


def check_extent(ptr, sizes, strides, itemsize, buf_lo, buf_bytes, what) -> None:
    """Refuses a view whose bytes are not all inside the buffer [buf_lo, buf_lo + buf_bytes)
    that owns them (a storage freed or shrunk by resize_, as FSDP2 frees unsharded
    parameters; an as_strided view past its base)."""
    span = _span(sizes, strides, itemsize)
    if span is None:
        return
    lo, hi = ptr + span[0], ptr + span[1]
    if ptr == 0 or lo < buf_lo or hi > buf_lo + buf_bytes:
        raise RuntimeError(
            f"fastinit: this view needs bytes [{lo - buf_lo}, {hi - buf_lo}) of its {what}, which holds "
            f"{buf_bytes} bytes (storage freed or resized, e.g. by FSDP2 or resize_, or a view past its "
            "buffer); nothing was written"
        )


def check_torch_extent(t, target) -> None:
    """The view's bytes against its storage (torch itself does not check: t.fill_() on a
    tensor whose storage was resized to 0 bytes crashes), and, for a CPU storage that torch
    did not allocate itself (not resizable: from_numpy, frombuffer, DLPack), that the
    memory is mapped writable (a tensor over a read-only np.memmap crashed on write)."""
    if not target.numel:
        return
    st = t.untyped_storage()
    check_extent(target.ptr, target.sizes, target.strides, target.itemsize, st.data_ptr(), st.nbytes(),
                 "storage")
    if target.device == "cpu" and not st.resizable():
        span = _span(target.sizes, target.strides, target.itemsize)
        lo, hi = target.ptr + span[0], target.ptr + span[1]
        if mapped_writable(lo, hi) is False:
            raise RuntimeError("fastinit: this tensor's memory is read-only (e.g. torch.from_numpy of a read-only "
                               "array or memmap); nothing was written")


def check_torch_memory(t) -> None:
    """Every check of the random fills' target description that concerns memory (no-memory
    subclasses, extent against the storage, writability), for the fills that write through
    torch ops (eye_, dirac_, orthogonal_, sparse_): run before anything is drawn or written."""
    torch = _torch()
    if t.device.type not in ("cpu", "cuda") or t.numel() == 0 or t.layout is not torch.strided or t.is_nested:
        return
    if type(t) is not torch.Tensor and _has_no_memory(t):
        describe(t)  # the no-memory TypeError
    ptr = t.data_ptr()
    if ptr == 0 and torch._is_functional_tensor(t):
        return
    esz = t.element_size()
    check_torch_extent(t, Target(ptr=ptr, dtype=None, sizes=list(t.shape), strides=[st * esz for st in t.stride()],
                                 device=t.device.type, elsize=esz))


def mapped_writable(lo: int, hi: int):
    """Whether every byte of [lo, hi) lies in a writable mapping of this process, from
    /proc/self/maps (Linux; about 20-100 us, so only where the owner is not torch's or
    NumPy's own allocation); None where that file cannot be read. Memory freed back to a
    heap that stays mapped cannot be told from live memory this way."""
    try:
        with open("/proc/self/maps", "rb") as f:
            data = f.read()
    except OSError:
        return None
    pos = lo
    for line in data.splitlines():
        fields = line.split(None, 2)
        if len(fields) < 2:
            continue
        a, _, b = fields[0].partition(b"-")
        start, end = int(a, 16), int(b, 16)
        if end <= pos:
            continue
        if start > pos or fields[1][1:2] != b"w":
            return False
        pos = end
        if pos >= hi:
            return True
    return False


def _array_span(a):
    """(first byte, byte count) of everything ndarray ``a`` can reach."""
    ptr = a.__array_interface__["data"][0]
    span = _span(a.shape, a.strides, a.itemsize)
    return (ptr, 0) if span is None else (ptr + span[0], span[1] - span[0])


def _numpy_owner(a):
    """(first byte, byte count) of the memory that owns ndarray ``a``'s data: the base
    array that owns its data, a buffer-protocol object (bytes, mmap, ...) or a torch
    tensor's storage; None where the owner is not known (a raw pointer)."""
    obj = a
    for _ in range(1000):
        if isinstance(obj, np.ndarray):
            if obj.flags.owndata:
                return _array_span(obj)
            if obj.base is None:
                return None
            obj = obj.base
            continue
        torch = _torch()
        if torch is not None and isinstance(obj, torch.Tensor):
            if obj.device.type != "cpu" or obj.is_meta:
                return None
            st = obj.untyped_storage()
            return st.data_ptr(), st.nbytes()
        try:
            view = memoryview(obj)
        except TypeError:
            obj = getattr(obj, "base", None)  # as_strided's DummyArray keeps its array in .base
            if obj is None:
                return None
            continue
        with view:
            return _array_span(np.asarray(view)) if view.nbytes else (0, 0)
    return None


def _describe_numpy(a: np.ndarray, *, any_dtype: bool = False) -> Target:
    """``any_dtype``: every dtype passes (constant fills convert the value themselves)."""
    code = _numpy_dtype_code(a.dtype.newbyteorder("="))
    if code is None and not any_dtype:
        raise _unsupported_numpy_dtype(a.dtype)
    if not a.dtype.isnative:
        raise ValueError(f"fastinit: the array has non-native byte order ({a.dtype.str}); use a native-order array")
    if not a.flags.writeable:
        raise ValueError("fastinit: the array is read-only")
    target = Target(ptr=a.__array_interface__["data"][0], dtype=code, sizes=list(a.shape),
                    strides=list(a.strides), device="cpu", contiguous=a.flags.c_contiguous, elsize=a.itemsize)
    if a.size:
        owner = _numpy_owner(a)
        if owner is not None:
            check_extent(target.ptr, target.sizes, target.strides, target.itemsize, owner[0], owner[1],
                         "base buffer")
        else:
            # no owner to check against (a DLPack capsule, a raw pointer): at least the bytes
            # must be mapped writable (memory unmapped when its owner was freed is refused;
            # memory returned to a heap that stays mapped cannot be detected)
            lo, hi = _array_span(a)
            if mapped_writable(lo, lo + hi) is False:
                raise RuntimeError("fastinit: the array's memory is not mapped writable in this process (its "
                                   "owner freed, e.g. a DLPack export of a tensor whose storage was freed); "
                                   "nothing was written")
    return target


def _describe_cuda_array(obj) -> Target:
    cai = obj.__cuda_array_interface__
    dt = np.dtype(cai["typestr"])
    code = _numpy_dtype_code(dt)
    if code is None:
        raise _unsupported_numpy_dtype(dt)
    ptr, readonly = cai["data"]
    if readonly:
        raise ValueError("fastinit: the CUDA array is read-only")
    if cai.get("mask") is not None:
        raise ValueError("fastinit: masked CUDA arrays (__cuda_array_interface__ 'mask') are not supported")
    shape = [int(s) for s in cai["shape"]]
    strides = cai.get("strides")
    if strides is None:  # C order
        strides, acc = [], dt.itemsize
        for s in reversed(shape):
            strides.insert(0, acc)
            acc *= s
    strides = [int(s) for s in strides]
    if len(strides) != len(shape):
        raise ValueError(f"fastinit: __cuda_array_interface__ has {len(shape)} sizes but {len(strides)} strides")
    # The owning allocation, where the object says (CuPy: .data is a MemoryPointer into
    # .data.mem); otherwise at least a null pointer and an extent past 2**63 are refused.
    mem = getattr(getattr(obj, "data", None), "mem", None)
    base, size = getattr(mem, "ptr", None), getattr(mem, "size", None)
    if isinstance(base, int) and isinstance(size, int):
        check_extent(int(ptr), shape, strides, dt.itemsize, base, size, "CUDA allocation")
    else:
        check_extent(int(ptr), shape, strides, dt.itemsize, 0, 1 << 63, "address space")
    device = getattr(getattr(obj, "device", None), "id", 0)
    # __cuda_array_interface__ v3: stream 1 and 2 are cudaStreamLegacy and
    # cudaStreamPerThread, which are also those handles' values; None means no stream.
    stream = cai.get("stream") or 0
    return Target(ptr=int(ptr), dtype=code, sizes=shape, strides=strides, device="cuda",
                  device_index=int(device), stream=int(stream))


def _fmt(x: float) -> str:
    # C++ ostream's default formatting of a double (what torch's messages use).
    return "%g" % x


def check_bounds(lo: float, hi: float, code: int) -> None:
    """torch's uniform_ checks (aten/src/ATen/native/DistributionTemplates.h), in its order,
    with its messages."""
    cname, sname = _BOUND_NAMES[code]
    big = _FINFO_MAX[code]
    if not (-big <= lo <= big):
        raise RuntimeError(f"from is out of bounds for {cname}")
    if not (-big <= hi <= big):
        raise RuntimeError(f"to is out of bounds for {cname}")
    if not lo <= hi:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found from={_fmt(lo)} > to={_fmt(hi)}")
    if not hi - lo <= big:
        raise RuntimeError(
            f"uniform_ expects to-from <= std::numeric_limits<{sname}>::max(), but found to={_fmt(hi)} "
            f"and from={_fmt(lo)} which result in to-from to exceed the limit"
        )
