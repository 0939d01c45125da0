"""Property tests (hypothesis, derandomized) for every public init function.

For each function in ``fastinit.__all__`` whose name ends with ``_`` (the in-place
inits: uniform_, kaiming_uniform_, xavier_uniform_, and whatever is added later), over
random shapes (0-d to 6-d, zero-size dims), dtypes (valid and invalid), NumPy arrays and
torch CPU tensors, and views of all kinds (transposes/permutations, step slices, negative
strides, as_strided views that overlap or not, expanded/broadcast views, misaligned and
big-endian NumPy buffers, read-only arrays, 0-d arrays), with bounds, ``a``, ``gain``,
``seed`` and ``offset`` at their extremes and of wrong types:

* an accepted input holds exactly the stream's values (docs/STREAM.md) of its logical
  (row-major) indices, from the independent oracle in ``reference.py`` with the
  parameters torch would compute (constants, in every dtype torch fills, integer, bool
  and complex included: the bits torch.nn.init's own constant_/ones_/zeros_ store);
* no byte outside the view changes (the view lives inside a larger buffer filled with a
  sentinel pattern);
* a rejected input raises an exception and leaves the whole buffer byte-for-byte as it
  was; inputs that must be accepted (valid dtype, writable, native byte order, valid
  arguments, a layout that is plainly non-overlapping) are not rejected;
* nothing crashes the interpreter: the most dangerous layouts (overlapping as_strided,
  huge strides on size-1 and size-0 dims, huge zero-size shapes) run in a subprocess, so
  a segfault fails a test instead of killing pytest.
"""
from __future__ import annotations

import math
import operator
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastinit
import reference as R

import ml_dtypes  # noqa: E402  a test dependency: missing is a failure
BF16 = np.dtype(ml_dtypes.bfloat16)

_HERE = os.path.dirname(os.path.abspath(__file__))

# Every public in-place init, discovered at import time, so that new ones are covered.
# Whole-model init takes a module, not a tensor: it has its own tests (test_init_module.py,
# test_deferred.py).
MODULE_FUNCS = {"init_module_", "materialize_"}
# Inits whose values are not an elementwise function of the stream (a QR, per-column
# ranks, deterministic patterns) or that are the normal/uniform streams under JAX's
# parameters: their models are in test_extra_init.py (exact against torch for eye_ and
# dirac_, the stream's values for variance_scaling_/lecun_*, statistics and algorithm
# checks for orthogonal_ and sparse_).
MODELLED_IN_TEST_EXTRA_INIT = {"orthogonal_", "sparse_", "eye_", "dirac_", "variance_scaling_", "lecun_uniform_",
                               "lecun_normal_"}
INIT_FUNCS = sorted(n for n in fastinit.__all__
                    if n.endswith("_") and n not in MODULE_FUNCS | MODELLED_IN_TEST_EXTRA_INIT
                    and callable(getattr(fastinit, n, None)))
KNOWN = {"uniform_", "kaiming_uniform_", "xavier_uniform_", "normal_", "kaiming_normal_", "xavier_normal_",
         "trunc_normal_", "constant_", "ones_", "zeros_"}

HYP = dict(
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
N_EXAMPLES = int(os.environ.get("FASTINIT_PROPERTY_EXAMPLES", "250"))  # per function and backend

VALID_NP = [np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.float16), BF16]
INVALID_NP = [np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
                                    np.uint64, np.bool_, np.complex64, np.complex128, np.longdouble)]
TORCH_OF = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64,
            np.dtype(np.float16): torch.float16, BF16: torch.bfloat16}
INVALID_TORCH = [torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8, torch.uint16, torch.uint32,
                 torch.uint64, torch.bool, torch.complex64, torch.complex128]
_TORCH_ITEMSIZE = {t: torch.empty(0, dtype=t).element_size() for t in INVALID_TORCH + list(TORCH_OF.values())}

FLOAT_MAX = {"float32": float(np.finfo(np.float32).max), "float64": float(np.finfo(np.float64).max),
             "float16": 65504.0, "bfloat16": float(ml_dtypes.finfo(ml_dtypes.bfloat16).max)}

MARGIN = 64  # sentinel bytes on each side of the region a view may touch

# torch's defaults, written out (the model in predict() unpacks them)
DEFAULT_ARGS = {"uniform_": (0.0, 1.0), "kaiming_uniform_": (0, "fan_in", "leaky_relu"), "xavier_uniform_": (1.0,),
                "normal_": (0.0, 1.0), "kaiming_normal_": (0, "fan_in", "leaky_relu"), "xavier_normal_": (1.0,),
                "trunc_normal_": (0.0, 1.0, -2.0, 2.0), "constant_": (0.5,), "ones_": (), "zeros_": ()}
# Functions that compute fans, so refuse fewer than 2 dimensions.
NEEDS_2D = {"kaiming_uniform_", "xavier_uniform_", "kaiming_normal_", "xavier_normal_"}


def test_init_functions_discovered():
    # every public in-place init has a model below: a new one must get one
    assert KNOWN == set(INIT_FUNCS), INIT_FUNCS


# ----------------------------------------------------------------------------------
# layouts: (shape, element strides, start element, extent in elements)
# ----------------------------------------------------------------------------------
def _extent(shape, strides):
    """(min, max) element offset touched relative to the view's first element."""
    lo = hi = 0
    for n, s in zip(shape, strides):
        if n == 0:
            return 0, 0
        if s > 0:
            hi += (n - 1) * s
        else:
            lo += (n - 1) * s
    return lo, hi


def _numel(shape):
    n = 1
    for s in shape:
        n *= s
    return n


@st.composite
def _small_shape(draw, max_ndim=6, max_numel=1024, max_dim=6, min_ndim=0):
    nd = draw(st.integers(min_ndim, max_ndim))
    dims = []
    for _ in range(nd):  # a zero-size dim in about 1 of 20 dims
        dims.append(draw(st.sampled_from([0] + list(range(1, max_dim + 1)) * 3)))
    n = 1
    for i, d in enumerate(dims):  # shrink dims until small enough
        if d and n * d > max_numel:
            dims[i] = max(1, max_numel // n)
        n *= max(dims[i], 1)
    return tuple(dims)


@st.composite
def layouts(draw, allow_negative: bool, min_ndim: int = 0):
    """A view described in element units, from one of several constructions."""
    kind = draw(st.sampled_from(["ops", "ops", "ops", "strided", "expand"] + (["zero_d"] if min_ndim == 0 else [])))
    if kind == "zero_d":
        return "zero_d", (), (), 0, 1
    if kind == "strided":
        shape = draw(_small_shape(max_ndim=6, max_numel=512, max_dim=5, min_ndim=min_ndim))
        strides = tuple(draw(st.integers(-6 if allow_negative else 0, 6)) for _ in shape)
        lo, hi = _extent(shape, strides)
        return "strided", shape, strides, -lo, hi - lo + 1
    # "ops": permutations and step slices (negative steps with NumPy) of a C-order parent
    pshape = draw(_small_shape(max_ndim=6, max_numel=2048, max_dim=7, min_ndim=min_ndim))
    parent = np.empty(pshape, dtype=np.int64)
    v = parent
    if v.ndim:
        v = v.transpose(draw(st.permutations(range(v.ndim))))
        idx = []
        for n in v.shape:
            step = draw(st.sampled_from([1, 1, 2, 3] + ([-1, -2] if allow_negative else [])))
            if n == 0 or draw(st.integers(0, 19)) == 0:  # now and then an empty slice
                start, stop = draw(st.integers(0, n)), draw(st.integers(0, n))
            else:
                start = draw(st.integers(0, (n - 1) // 2))
                stop = draw(st.integers(start + 1, n))
            if step < 0:
                start, stop = n - 1 - start, (None if stop == n else n - 1 - stop)
            idx.append(slice(start, stop, step))
        v = v[tuple(idx)]
    shape = v.shape
    strides = tuple(s // 8 for s in v.strides)
    start = (v.__array_interface__["data"][0] - parent.__array_interface__["data"][0]) // 8
    extent = max(parent.size, 1)
    if kind == "expand":
        # broadcast: a new or a size-1 dim of size >= 2 with stride 0 (overlapping)
        pos = draw(st.integers(0, len(shape)))
        k = draw(st.integers(2, 4))
        if len(shape) >= 6:
            pos = draw(st.integers(0, len(shape) - 1))
            shape = shape[:pos] + (k,) + shape[pos + 1:]
            strides = strides[:pos] + (0,) + strides[pos + 1:]
        else:
            shape = shape[:pos] + (k,) + shape[pos:]
            strides = strides[:pos] + (0,) + strides[pos:]
    return kind, shape, strides, start, extent


def _byte_offsets(shape, bstrides, start_byte):
    off = np.full((1,) * len(shape), start_byte, dtype=np.int64)
    for d, (n, s) in enumerate(zip(shape, bstrides)):
        shp = [1] * len(shape)
        shp[d] = n
        off = off + (np.arange(n, dtype=np.int64) * s).reshape(shp)
    return off.reshape(-1) if _numel(shape) else np.zeros(0, np.int64)


def _overlaps(offsets, itemsize) -> bool:
    if offsets.size < 2:
        return False
    o = np.sort(offsets)
    return bool(np.any(np.diff(o) < itemsize))


def _plainly_disjoint(shape, bstrides, itemsize) -> bool:
    """Sorted by |stride|, every stride clears the extent of the dims below it: such a view
    cannot overlap and every implementation must accept it."""
    dims = sorted((abs(s), n) for n, s in zip(shape, bstrides) if n > 1)
    extent = itemsize
    for s, n in dims:
        if s < extent:
            return False
        extent = s * (n - 1) + extent
    return True


def _covered_mask(nbytes, offsets, itemsize):
    mask = np.zeros(nbytes, dtype=bool)
    for b in range(itemsize):
        mask[offsets + b] = True
    return mask


def _uint_of(itemsize):
    return {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64, 16: np.dtype("V16")}[itemsize]


class Case:
    """A view (NumPy array or torch tensor) inside a sentinel-filled byte buffer."""

    def __init__(self, backend, dtype, layout, misalign=0, big_endian=False, readonly=False, seed=0):
        kind, shape, strides, start, extent = layout
        self.kind = kind
        self.backend = backend
        self.dtype = dtype  # np.dtype or torch.dtype
        self.itemsize = dtype.itemsize if isinstance(dtype, np.dtype) else _TORCH_ITEMSIZE[dtype]
        it = self.itemsize
        self.shape = tuple(shape)
        self.bstrides = tuple(s * it for s in strides)
        self.misalign = misalign
        nbytes = 2 * MARGIN + misalign + max(extent, 1) * it
        rng = np.random.default_rng(seed)
        self.sentinel = rng.integers(0, 256, nbytes, dtype=np.uint8)
        self.buf = self.sentinel.copy()
        self.start_byte = MARGIN + misalign + start * it
        if backend == "numpy":
            dt = dtype.newbyteorder(">" if sys.byteorder == "little" else "<") if big_endian else dtype
            self.obj = np.ndarray(self.shape, dtype=dt, buffer=self.buf, offset=self.start_byte,
                                  strides=self.bstrides)
            if readonly:
                self.obj.flags.writeable = False
        else:
            assert misalign == 0 and not big_endian and not readonly
            region = self.buf[MARGIN:MARGIN + max(extent, 1) * it]
            base = torch.from_numpy(region).view(dtype)
            self.obj = base.as_strided(self.shape, tuple(strides), start)
            assert _numel(self.shape) == 0 or self.obj.data_ptr() == self.buf.__array_interface__["data"][0] + self.start_byte
        self.offsets = _byte_offsets(self.shape, self.bstrides, self.start_byte)
        # a view with no element cannot overlap (torch fills a zero-size expanded tensor too)
        self.overlapping = _numel(self.shape) > 0 and (_overlaps(self.offsets, it) or any(
            n > 1 and s == 0 for n, s in zip(self.shape, self.bstrides)))
        self.plainly_disjoint = _plainly_disjoint(self.shape, self.bstrides, it)

    def describe(self):
        return (f"{self.backend} {self.kind} dtype={self.dtype} shape={self.shape} byte_strides={self.bstrides} "
                f"misalign={self.misalign}")

    def view_bits(self):
        return np.ndarray(self.shape, dtype=_uint_of(self.itemsize), buffer=self.buf, offset=self.start_byte,
                          strides=self.bstrides).copy()

    def unchanged(self) -> bool:
        return np.array_equal(self.buf, self.sentinel)

    def first_change_outside(self):
        mask = _covered_mask(self.buf.size, self.offsets, self.itemsize)
        bad = np.nonzero((self.buf != self.sentinel) & ~mask)[0]
        return None if bad.size == 0 else (int(bad.size), int(bad[0]))


# ----------------------------------------------------------------------------------
# the model: what a call must do
# ----------------------------------------------------------------------------------
def _u64_ok(v) -> bool:
    if isinstance(v, bool):
        return False
    try:
        i = operator.index(v)
    except TypeError:
        return False
    return 0 <= i < 2**64


def _as_real(x):
    """float(x) for what torch's parser takes as a float (a real number), else raises."""
    if isinstance(x, (bool, int, float, np.floating, np.integer)):
        return float(x)
    raise TypeError(type(x).__name__)


def _bounds_ok(lo, hi, name) -> bool:
    big = FLOAT_MAX[name]
    return -big <= lo <= big and -big <= hi <= big and lo <= hi and hi - lo <= big


def _fans(shape):
    if len(shape) < 2:
        raise ValueError("fewer than 2 dimensions")
    rf = _numel(shape[2:])
    return shape[1] * rf, shape[0] * rf


def model_bounds(fname, shape, args):
    """(lo, hi) as torch.nn.init computes them (torch's own calculate_gain, torch's
    operation order in float64); raises where torch raises."""
    if fname == "uniform_":
        a, b = args
        return _as_real(a), _as_real(b)
    if fname == "kaiming_uniform_":
        a, mode, nonlinearity = args
        fan_in, fan_out = _fans(shape)
        fan = fan_in if mode == "fan_in" else fan_out
        gain = torch.nn.init.calculate_gain(nonlinearity, a)
        std = gain / math.sqrt(fan)
        bound = math.sqrt(3.0) * std
        return -bound, bound
    if fname == "xavier_uniform_":
        (gain,) = args
        fan_in, fan_out = _fans(shape)
        std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
        a = math.sqrt(3.0) * std
        return -a, a
    raise KeyError(fname)


def model_params(fname, shape, args):
    """The distribution torch.nn.init asks for, from torch's own formulas (calculate_gain,
    its operation order, float64): ("uniform", lo, hi), ("normal", mean, std), ("trunc",
    mean, |std|, a, b) or ("const", value). Raises where those formulas raise."""
    if fname in ("uniform_", "kaiming_uniform_", "xavier_uniform_"):
        return ("uniform",) + tuple(model_bounds(fname, shape, args))
    if fname == "normal_":
        mean, std = args
        return "normal", _as_real(mean), _as_real(std)
    if fname == "kaiming_normal_":
        a, mode, nonlinearity = args
        fan_in, fan_out = _fans(shape)
        fan = fan_in if mode == "fan_in" else fan_out
        return "normal", 0.0, torch.nn.init.calculate_gain(nonlinearity, a) / math.sqrt(fan)
    if fname == "xavier_normal_":
        (gain,) = args
        fan_in, fan_out = _fans(shape)
        return "normal", 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out))
    if fname == "trunc_normal_":
        mean, std, a, b = args
        return "trunc", float(mean), abs(float(std)), float(a), float(b)
    if fname in ("constant_", "ones_", "zeros_"):
        return "const", fname, tuple(args)
    raise KeyError(fname)


def expected_view_bits(dtype, shape, params, seed, offset):
    """The exact bits an accepted call must leave in the view (row-major), from the
    independent oracle (tests/reference.py) or, for constants, from torch.nn.init's own
    constant_/ones_/zeros_ on a torch tensor of the same dtype (NumPy dtypes mapped by
    _NP_TO_TORCH: fastinit stores what torch's fill_ stores)."""
    kind = params[0]
    name = _dtype_name(dtype) if kind != "const" else None
    if kind == "uniform":
        return R.expected_bits(shape, name, params[1], params[2], seed, offset)
    if kind == "normal":
        return _as_bits(R.normal_expected(shape, name, params[1], params[2], seed, offset))
    if kind == "trunc":
        return _as_bits(R.trunc_normal_expected(shape, name, *params[1:], seed, offset))
    tdt = _NP_TO_TORCH[dtype] if isinstance(dtype, np.dtype) else dtype
    twin = torch.zeros(shape, dtype=tdt)
    getattr(torch.nn.init, params[1])(twin, *params[2])
    return _bits_of(twin)


def _as_bits(a):
    a = np.ascontiguousarray(a)
    return a.view(_uint_of(a.dtype.itemsize))


def _dtype_name(dtype):
    if isinstance(dtype, np.dtype):
        return R._dtype_name(dtype)
    return {v: k for k, v in TORCH_OF.items()}[dtype].name if dtype != torch.bfloat16 else "bfloat16"


CONSTANTS = {"constant_", "ones_", "zeros_"}
# Every NumPy dtype the constant fills take, and the torch dtype whose fill_ they follow
# (np.longdouble has no torch twin: refused with a TypeError).
_NP_TO_TORCH = {np.dtype(np.int8): torch.int8, np.dtype(np.int16): torch.int16, np.dtype(np.int32): torch.int32,
                np.dtype(np.int64): torch.int64, np.dtype(np.uint8): torch.uint8, np.dtype(np.uint16): torch.uint16,
                np.dtype(np.uint32): torch.uint32, np.dtype(np.uint64): torch.uint64, np.dtype(np.bool_): torch.bool,
                np.dtype(np.complex64): torch.complex64, np.dtype(np.complex128): torch.complex128, **TORCH_OF}
# The dtypes beyond the four float ones that the constant fills accept (drawn as valid for them)
CONST_EXTRA_NP = [d for d in INVALID_NP if d in _NP_TO_TORCH]
CONST_EXTRA_TORCH = list(INVALID_TORCH)


def _is_complex(dtype):
    return (dtype.is_complex if isinstance(dtype, torch.dtype) else np.dtype(dtype).kind == "c")


def torch_twin_outcome(case, fname, args):
    """What torch.nn.init.<fname> does on a torch tensor of the case's dtype, shape and
    element strides (a fresh buffer): None (accepted) or the exception type. NumPy-only
    properties (byte order, read-only, misalignment, negative strides, dtypes torch lacks)
    are left out here: they are separate faults."""
    # NumPy: the constant fills follow torch's fill_ in the torch dtype of the array's
    # (_NP_TO_TORCH); the random fills refuse a non-float array with fastinit's own
    # TypeError (a separate fault), so their twin has a float dtype and shows torch's
    # argument and layout checks only
    if isinstance(case.dtype, torch.dtype):
        tdt = case.dtype
    elif fname in CONSTANTS and case.dtype in _NP_TO_TORCH:
        tdt = _NP_TO_TORCH[case.dtype]
    else:
        tdt = TORCH_OF.get(case.dtype, torch.float64)
    it = torch.empty(0, dtype=tdt).element_size()
    strides = tuple(s // case.itemsize for s in case.bstrides)
    if any(s < 0 for s in strides) or any(s % case.itemsize for s in case.bstrides):
        strides = None
    n = _numel(case.shape)
    if strides is None or n == 0:
        twin = torch.zeros(case.shape, dtype=tdt)
    else:
        lo, hi = _extent(case.shape, strides)
        twin = torch.zeros(hi + 1, dtype=tdt).as_strided(case.shape, strides)
    del it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if fname == "trunc_normal_":
                torch_trunc_normal_checks(twin, *args)
            else:
                getattr(torch.nn.init, fname)(twin, *args)
        except Exception as e:  # noqa: BLE001 - torch's outcome is the model
            return type(e)
    return None


def torch_trunc_normal_checks(tensor, mean, std, a, b):
    """Every step of torch.nn.init._no_grad_trunc_normal_ (torch 2.x) that can raise, in
    its order, without its rejection loops (which never end for intervals the tensor's
    dtype cannot resolve): its Python arithmetic, then normal_ (p > 0.3, after rounding
    the bounds to the dtype) or uniform_(a, b), then the first rejection test's
    comparison (lt when p > 0.3, else gt: no complex kernel, also for an empty tensor)."""
    def norm_cdf(x):
        return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0

    if tensor.is_meta:
        return
    (mean < a - 2 * std) or (mean > b + 2 * std)
    p = norm_cdf((b - mean) / std) - norm_cdf((a - mean) / std)
    if p > 0.3:
        lo = tensor.new_tensor(a, device="cpu").item()
        hi = tensor.new_tensor(b, device="cpu").item()
        result = tensor.normal_(mean, std)
        (result < lo) | (result > hi)
    else:
        mode = max(a, min(mean, b))
        log_peak = -0.5 * ((mode - mean) / std) ** 2
        candidates = torch.empty_like(tensor)
        accept_buf = torch.empty_like(tensor)
        tensor.uniform_(a, b)
        candidates.copy_(tensor)
        candidates.sub_(mean).div_(std).pow_(2).mul_(-0.5).sub_(log_peak)
        accept_buf.uniform_().log_().gt(candidates)


def _u64_error(v):
    if _u64_ok(v):
        return None
    if isinstance(v, bool):
        return TypeError
    try:
        operator.index(v)
    except TypeError:
        return TypeError
    return ValueError


def predict(case: Case, fname, args, seed, offset, writable, native):
    """(allowed exception types, params). An empty set: the call must succeed and fill
    exactly `params`' values (or nothing, for a no-op). Otherwise every fault present adds
    its exact exception type: torch's type where torch raises for the same torch input,
    else fastinit's documented refusal (random fills of complex dtypes and dtypes torch
    lacks: TypeError; constant fills of overlapping views, which torch fills: RuntimeError;
    read-only or non-native NumPy arrays: ValueError; overlapping views: RuntimeError, as
    torch's in-place ops; bad seed/offset: TypeError for a non-int, ValueError out of
    range). With several faults the check order decides which one is raised: any of them."""
    hard, soft = set(), set()  # soft: a refusal with that type, or acceptance, both pass
    if fname in ("kaiming_uniform_", "kaiming_normal_") and _numel(case.shape) == 0:
        return set(), None, False  # torch: a warning, then the tensor untouched, before any check
    t = torch_twin_outcome(case, fname, args)
    if t is not None:
        hard.add(t)
    if _is_complex(case.dtype) and fname not in CONSTANTS and not (fname == "trunc_normal_" and
                                                                  case.backend == "torch"):
        # torch's random fills take complex; fastinit refuses with a TypeError, except that an
        # empty complex target may return first, as torch returns before its dtype dispatch.
        # (trunc_normal_ on a complex torch tensor: torch's own NotImplementedError, which
        # the twin shows; the constants fill complex as torch does.)
        (soft if _numel(case.shape) == 0 and t is None else hard).add(TypeError)
    if fname == "trunc_normal_" and t is None:
        try:
            finite = math.isfinite(float(args[0])) and math.isfinite(float(args[1]))
        except Exception:  # noqa: BLE001
            finite = True
        if not finite:
            hard.add(ValueError)  # documented: where torch would fill U(a, b), fastinit refuses
    if case.backend == "numpy" and case.dtype not in (_NP_TO_TORCH if fname in CONSTANTS else VALID_NP):
        hard.add(TypeError)  # fastinit's refusal of a NumPy dtype it does not fill
    if not writable or not native:
        hard.add(ValueError)
    if case.overlapping and (t is None or fname in CONSTANTS):
        hard.add(RuntimeError)  # constants: torch fills overlapping views, fastinit refuses
    for v in (offset, seed):
        e = _u64_error(v)
        if e is not None:
            hard.add(e)
    try:
        params = model_params(fname, case.shape, args)
    except Exception:  # noqa: BLE001 - torch raised too (in hard)
        params = None
    return hard | soft, params, bool(soft) and not hard


def _call(fname, obj, args, seed, offset):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(fastinit, fname)(obj, *args, seed=seed, offset=offset)


def _contiguous_like(case: Case):
    if case.backend == "numpy":
        return np.empty(case.shape, dtype=case.dtype)
    return torch.empty(case.shape, dtype=case.dtype)


def _bits_of(obj):
    if isinstance(obj, torch.Tensor):
        obj = obj.resolve_conj().resolve_neg().contiguous()
        obj = (obj.view(torch.int16) if obj.dtype == torch.bfloat16 else obj).numpy()
    a = np.ascontiguousarray(obj)
    return a.view(_uint_of(a.dtype.itemsize))


def _hex(word):
    return "0x" + word.tobytes()[::-1].hex()


def check_call(case: Case, fname, args, seed, offset, writable=True, native=True):
    what = f"{fname}{tuple(args)!r} seed={seed!r} offset={offset!r} on {case.describe()}"
    allowed, params, may_accept = predict(case, fname, args, seed, offset, writable, native)
    raised = None
    try:
        ret = _call(fname, case.obj, args, seed, offset)
    except Exception as e:  # noqa: BLE001 - compared with the model below
        raised = e
    if raised is not None:
        assert case.unchanged(), f"refused ({type(raised).__name__}: {raised}) but the buffer changed: {what}"
        if not allowed and not case.plainly_disjoint and type(raised) is RuntimeError:
            return  # a non-overlapping view the overlap check cannot prove disjoint: refused with torch's type
        assert allowed, f"refused a valid input ({type(raised).__name__}: {raised}): {what}"
        assert type(raised) in allowed, (
            f"raised {type(raised).__name__} ({raised}); the model allows only "
            f"{sorted(t.__name__ for t in allowed)}: {what}")
        return
    assert not allowed or may_accept, f"accepted an input that must be refused with {sorted(t.__name__ for t in allowed)}: {what}"
    assert ret is case.obj, f"did not return the same object: {what}"
    bad = case.first_change_outside()
    assert bad is None, f"{bad[0]} bytes outside the view changed, first at buffer byte {bad[1]}: {what}"
    n = _numel(case.shape)
    if n == 0 or (fname in ("kaiming_uniform_", "kaiming_normal_") and n == 0):
        assert case.unchanged(), f"a no-op call changed the buffer: {what}"
        return
    got = case.view_bits()
    want = expected_view_bits(case.dtype, case.shape, params, operator.index(seed), operator.index(offset))
    bad = np.nonzero(got.reshape(-1) != want.reshape(-1))[0]
    assert bad.size == 0, (
        f"{bad.size} of {got.size} elements differ from the model; first at logical index {int(bad[0])}: "
        f"want {_hex(want.reshape(-1)[bad[0]])} got {_hex(got.reshape(-1)[bad[0]])}: {what}")


# ----------------------------------------------------------------------------------
# argument strategies
# ----------------------------------------------------------------------------------
_INF, _NAN = float("inf"), float("nan")
_SPECIAL = [0.0, -0.0, 1.0, -1.0, 0.5, 5e-324, -5e-324, 1e-300, 1.4e-45, 1e-45, 6e-8, 1e-5, 65504.0, 65519.0,
            65520.0, -65504.0, 1e5, 3.3895313892515355e38, 3.4028234663852886e38, 3.5e38, 1e308,
            1.7976931348623157e308, -1.7976931348623157e308, _INF, -_INF, _NAN]
_SPECIAL = _SPECIAL + [-x for x in _SPECIAL if x == x and x > 0 and -x not in _SPECIAL]
_BAD_TYPES = ["1.0", None, 1j, [1.0], b"x", object()]

bound_value = st.one_of(
    st.sampled_from(_SPECIAL),
    st.floats(-10, 10),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-10**6, 10**6),
    st.sampled_from([True, False, 2**1100, -(2**1100), np.float32(0.25), np.float16(-2.0), np.int64(3),
                     np.float64(1e-3)]),
    st.sampled_from(_BAD_TYPES),
)


@st.composite
def uniform_args(draw):
    if draw(st.integers(0, 3)) == 0:  # anything at all
        return (draw(bound_value), draw(bound_value))
    x = draw(st.one_of(st.floats(-4, 4), st.sampled_from(_SPECIAL), st.floats(allow_nan=False, allow_infinity=False)))
    y = draw(st.one_of(st.floats(-4, 4), st.sampled_from(_SPECIAL), st.floats(allow_nan=False, allow_infinity=False)))
    if x == x and y == y and x > y:
        x, y = y, x
    return (x, y)


a_value = st.one_of(
    st.sampled_from([0, 0.0, 0.01, -0.01, math.sqrt(5), -math.sqrt(5), 1e-300, 1e150, 1e154, 1e155, 1e200, -1e200,
                     1e308, _INF, -_INF, _NAN, True, 5, -5, 10**200, np.float32(0.5), np.float64(2.0), "0.1", None,
                     1j]),
    st.floats(-100, 100),
    st.floats(allow_nan=False),
)


@st.composite
def kaiming_args(draw):
    return (draw(a_value), draw(st.sampled_from(["fan_in", "fan_out"])),
            draw(st.sampled_from(["leaky_relu", "leaky_relu", "relu", "tanh", "linear", "selu", "sigmoid",
                                  "conv2d"])))


gain_value = st.one_of(
    st.sampled_from([1.0, 0.0, -0.0, -1.0, 5 / 3, 1e-300, 1e30, 1e38, 1e300, 1e308, _INF, -_INF, _NAN, 2, True]),
    st.floats(-10, 10),
    st.floats(allow_nan=False),
)


@st.composite
def normal_args(draw):
    if draw(st.integers(0, 3)) == 0:
        return (draw(bound_value), draw(bound_value))
    return draw(good_normal_args())


@st.composite
def good_normal_args(draw):
    mean = draw(st.one_of(st.floats(-1e3, 1e3), st.sampled_from([0.0, -0.0, 1e-300, -1e30, 3e4])))
    std = draw(st.one_of(st.floats(0, 1e3), st.sampled_from([0.0, 1e-300, 1e-40, 0.02, 1e30])))
    return (mean, std)


@st.composite
def good_trunc_args(draw):
    mean = draw(st.floats(-3, 3))
    std = draw(st.one_of(st.floats(0.01, 5), st.sampled_from([0.02, 1.0, 1e-3])))
    if draw(st.booleans()):
        a = draw(st.floats(-6, 6))
        b = a + draw(st.floats(0.01, 10))
    else:  # narrow, far and one-sided intervals (in units of std around mean)
        lo, hi = draw(st.sampled_from([(2, 3), (-3, -2), (8, 9), (-9, -8), (12.5, 14), (-1, 3), (20, 21),
                                       (-2, 2), (-100, 100)]))
        a, b = mean + lo * std, mean + hi * std
    return (mean, std, a, b)


@st.composite
def trunc_args(draw):
    if draw(st.integers(0, 2)) == 0:
        return tuple(draw(bound_value) for _ in range(4))
    m, sd, a, b = draw(good_trunc_args())
    i = draw(st.integers(0, 3))  # one argument replaced by anything
    v = [m, sd, a, b]
    v[i] = draw(st.one_of(bound_value, st.sampled_from([0.0, -1.0, -0.02])))
    return tuple(v)


def args_strategy(fname):
    if fname == "uniform_":
        return uniform_args()
    if fname in ("kaiming_uniform_", "kaiming_normal_"):
        return kaiming_args()
    if fname in ("xavier_uniform_", "xavier_normal_"):
        return st.tuples(gain_value)
    if fname == "normal_":
        return normal_args()
    if fname == "trunc_normal_":
        return trunc_args()
    if fname == "constant_":
        return st.tuples(bound_value)
    return st.just(DEFAULT_ARGS[fname])


@st.composite
def good_uniform_args(draw):
    """Valid for every dtype: from tiny to large magnitudes, equal bounds, signed zeros."""
    scale = draw(st.sampled_from([1e-300, 1e-40, 1e-5, 1.0, 1.0, 1.0, 100.0, 3e4]))
    x = draw(st.floats(-1, 1)) * scale
    y = draw(st.one_of(st.floats(-1, 1).map(lambda v: v * scale), st.just(x), st.sampled_from([0.0, -0.0])))
    return (min(x, y), max(x, y))


def good_args_strategy(fname):
    """Arguments that every dtype accepts (extremes included)."""
    if fname == "uniform_":
        return good_uniform_args()
    if fname == "normal_":
        return good_normal_args()
    if fname == "trunc_normal_":
        return good_trunc_args()
    if fname == "constant_":
        return st.tuples(st.one_of(st.floats(-6e4, 6e4), st.sampled_from([0.0, -0.0, 1e-30, 65504.0, 1, -3]),
                                   st.floats(-1e30, 1e30)))
    if fname in ("kaiming_uniform_", "kaiming_normal_"):
        return st.tuples(
            st.one_of(st.floats(-1e3, 1e3), st.sampled_from([0, 5, -3, math.sqrt(5), 1e-300, 1e150, -1e150])),
            st.sampled_from(["fan_in", "fan_out"]),
            st.sampled_from(["leaky_relu", "leaky_relu", "relu", "tanh", "linear", "selu"]))
    if fname in ("xavier_uniform_", "xavier_normal_"):
        return st.tuples(st.one_of(st.floats(0, 10), st.sampled_from([0.0, 1e-300, 1, 1e3])))
    return st.just(DEFAULT_ARGS[fname])


_U64_EDGES = [0, 1, 3, 4, 5, 2**31, 2**32 - 1, 2**32, 2**33 - 3, 2**34 - 2, 2**62, 2**63 - 1, 2**63, 2**64 - 7,
              2**64 - 2, 2**64 - 1]
_U64_BAD = [-1, -(2**63), 2**64, 2**64 + 1, 2**100, 1.0, 0.5, True, False, "0", None, np.int64(-1)]
u64_value = st.one_of(st.sampled_from(_U64_EDGES), st.integers(0, 2**64 - 1),
                      st.sampled_from([np.uint64(2**64 - 1), np.int64(7)]))
seed_value = st.one_of(u64_value, u64_value, u64_value, st.sampled_from([v for v in _U64_BAD if v is not None]))
offset_value = st.one_of(u64_value, u64_value, u64_value, st.sampled_from(_U64_BAD))


# ----------------------------------------------------------------------------------
# the property tests
# ----------------------------------------------------------------------------------
# What is wrong with a drawn input: mostly nothing (the values are then checked), else one
# thing, else anything at all.
FAULTS = ["none"] * 8 + ["dtype", "readonly", "byteorder", "args", "seed", "offset", "any", "any"]


def _min_ndim(fname, fault):
    # kaiming/xavier refuse fewer than 2 dims: keep such shapes for the "any" draws
    return 2 if fname in NEEDS_2D and fault != "any" else 0


@pytest.mark.parametrize("fname", INIT_FUNCS)
@settings(max_examples=N_EXAMPLES, **HYP)
@given(data=st.data())
def test_numpy_any_view(fname, data):
    fault = data.draw(st.sampled_from(FAULTS))
    valid = fault not in ("dtype", "any") or data.draw(st.booleans())
    # the constants fill every dtype that torch's fill_ fills: those are valid for them
    good = VALID_NP + CONST_EXTRA_NP if fname in CONSTANTS else VALID_NP
    dtype = data.draw(st.sampled_from(good if valid else [d for d in INVALID_NP if d not in good]))
    layout = data.draw(layouts(allow_negative=True, min_ndim=_min_ndim(fname, fault)))
    misalign = data.draw(st.sampled_from([0, 0, 0, 1, 2, 3, 4, 5, 6, 7]))
    big_endian = (dtype.itemsize > 1 and dtype != BF16 and fault in ("byteorder", "any")
                  and data.draw(st.booleans()))
    readonly = fault in ("readonly", "any") and data.draw(st.booleans())
    args = data.draw(args_strategy(fname) if fault in ("args", "any") else good_args_strategy(fname))
    seed = data.draw(seed_value if fault in ("seed", "any") else u64_value)
    offset = data.draw(offset_value if fault in ("offset", "any") else u64_value)
    case = Case("numpy", dtype, layout, misalign, big_endian, readonly, seed=data.draw(st.integers(0, 2**32 - 1)))
    check_call(case, fname, args, seed, offset, writable=not readonly, native=not big_endian)


@pytest.mark.parametrize("fname", INIT_FUNCS)
@settings(max_examples=N_EXAMPLES, **HYP)
@given(data=st.data())
def test_torch_any_view(fname, data):
    fault = data.draw(st.sampled_from(FAULTS))
    valid = fault not in ("dtype", "any") or data.draw(st.booleans())
    if fname in CONSTANTS:  # every torch dtype is valid for them
        dtype = data.draw(st.sampled_from(list(TORCH_OF.values()) + CONST_EXTRA_TORCH))
    else:
        np_dt = data.draw(st.sampled_from(VALID_NP)) if valid else None
        dtype = TORCH_OF[np_dt] if valid else data.draw(st.sampled_from(INVALID_TORCH))
    layout = data.draw(layouts(allow_negative=False, min_ndim=_min_ndim(fname, fault)))
    args = data.draw(args_strategy(fname) if fault in ("args", "any") else good_args_strategy(fname))
    seed = data.draw(seed_value if fault in ("seed", "any") else u64_value)
    offset = data.draw(offset_value if fault in ("offset", "any") else u64_value)
    case = Case("torch", dtype, layout, seed=data.draw(st.integers(0, 2**32 - 1)))
    check_call(case, fname, args, seed, offset)


@pytest.mark.parametrize("fname", INIT_FUNCS)
@settings(max_examples=60, **HYP)
@given(data=st.data())
def test_valid_views_are_filled(fname, data):
    """Only valid inputs and plainly non-overlapping views: every call must succeed."""
    backend = data.draw(st.sampled_from(["numpy", "torch"]))
    np_dt = data.draw(st.sampled_from(VALID_NP + CONST_EXTRA_NP if fname in CONSTANTS else VALID_NP))
    layout = data.draw(layouts(allow_negative=backend == "numpy").filter(lambda l: l[0] in ("ops", "zero_d")))
    if fname in NEEDS_2D:
        kind, shape, strides, start, extent = layout
        if len(shape) < 2:
            layout = ("ops", (3, 4), (4, 1), 0, 12)
    if fname == "uniform_":
        lo = data.draw(st.floats(-1e4, 1e4))
        hi = data.draw(st.floats(-1e4, 1e4))
        args = (min(lo, hi), max(lo, hi))
    elif fname in ("kaiming_uniform_", "kaiming_normal_"):
        args = (data.draw(st.floats(-10, 10)), "fan_in", "leaky_relu")
    elif fname in ("xavier_uniform_", "xavier_normal_"):
        args = (data.draw(st.floats(0, 10)),)
    else:
        args = data.draw(good_args_strategy(fname))
    seed = data.draw(st.integers(0, 2**64 - 1))
    offset = data.draw(st.one_of(st.integers(0, 2**64 - 1), st.sampled_from(_U64_EDGES)))
    misalign = data.draw(st.sampled_from([0, 1, 3, 7])) if backend == "numpy" else 0
    dtype = np_dt if backend == "numpy" else _NP_TO_TORCH[np_dt]
    case = Case(backend, dtype, layout, misalign, seed=7)
    if torch_twin_outcome(case, fname, args) is not None:
        return  # e.g. xavier on a (0, 0) weight, constant_ beyond the dtype's range: torch raises too
    assert case.plainly_disjoint or _numel(case.shape) == 0, case.describe()
    try:
        _call(fname, case.obj, args, seed, offset)
    except Exception as e:  # noqa: BLE001
        raise AssertionError(f"valid input refused: {type(e).__name__}: {e}: {fname}{args} {case.describe()}")
    case.buf[:] = case.sentinel
    check_call(case, fname, args, seed, offset)


# ----------------------------------------------------------------------------------
# deterministic cases for each view kind named in the issue (hypothesis might miss one)
# ----------------------------------------------------------------------------------
def _named_views():
    c = []
    c.append(("transpose", ("ops", (7, 5), (1, 7), 0, 35)))
    c.append(("permute4d", ("ops", (4, 2, 3, 5), (1, 60, 20, 4), 0, 120)))
    c.append(("step_slice", ("ops", (5, 4), (30, 3), 2, 160)))
    c.append(("negative_strides", ("ops", (6, 5), (-10, -2), 59, 60)))
    c.append(("as_strided_disjoint_interleaved", ("strided", (3, 2), (2, 3), 0, 8)))
    c.append(("as_strided_overlap", ("strided", (4, 3), (2, 1), 0, 9)))
    c.append(("as_strided_overlap_neg", ("strided", (2, 2), (-1, 1), 1, 3)))
    c.append(("expand", ("expand", (3, 4), (0, 1), 0, 4)))
    c.append(("expand_inner", ("expand", (4, 3), (1, 0), 0, 4)))
    c.append(("zero_d", ("zero_d", (), (), 0, 1)))
    c.append(("zero_size", ("ops", (3, 0, 2), (0, 2, 1), 0, 1)))
    c.append(("size1_stride0", ("ops", (1, 9, 1), (0, 2, 0), 0, 17)))
    return c


@pytest.mark.parametrize("name,layout", _named_views(), ids=[c[0] for c in _named_views()])
@pytest.mark.parametrize("fname", INIT_FUNCS)
@pytest.mark.parametrize("np_dt", VALID_NP, ids=lambda d: d.name)
def test_named_views(fname, np_dt, name, layout):
    args = {"uniform_": (-0.75, 0.5), "kaiming_uniform_": (math.sqrt(5), "fan_in", "leaky_relu"),
            "xavier_uniform_": (1.0,)}.get(fname, DEFAULT_ARGS.get(fname, ()))
    for backend in ("numpy", "torch"):
        if backend == "torch" and any(s < 0 for s in layout[2]):
            continue
        for misalign in ((0, 1, 3, 5, 7) if backend == "numpy" else (0,)):
            dtype = np_dt if backend == "numpy" else TORCH_OF[np_dt]
            case = Case(backend, dtype, layout, misalign, seed=misalign)
            if name.startswith("expand") or name.endswith("overlap") or name.endswith("overlap_neg"):
                assert case.overlapping
            check_call(case, fname, args, 0xDEADBEEF, 2**64 - 3)


@pytest.mark.parametrize("fname", INIT_FUNCS)
@pytest.mark.parametrize("np_dt", VALID_NP, ids=lambda d: d.name)
def test_big_endian_and_readonly_refused(fname, np_dt):
    for big_endian, readonly in [(True, False), (False, True), (True, True)]:
        if big_endian and np_dt == BF16:
            continue
        case = Case("numpy", np_dt, ("ops", (4, 6), (6, 1), 0, 24), 0, big_endian, readonly)
        with pytest.raises(ValueError):
            _call(fname, case.obj, DEFAULT_ARGS.get(fname, ()), 1, 0)
        assert case.unchanged()


@pytest.mark.parametrize("np_dt", VALID_NP, ids=lambda d: d.name)
@pytest.mark.parametrize("misalign", [1, 2, 3, 5, 7])
def test_misaligned_large(np_dt, misalign):
    """Big enough for the multi-threaded, streaming-store path (> 8 MiB), from a buffer
    misaligned for the element type (np.frombuffer(bytearray, offset=1..7))."""
    n = (9 << 20) // np_dt.itemsize + 13
    raw = bytearray(n * np_dt.itemsize + 16)
    a = np.frombuffer(raw, dtype=np_dt, count=n, offset=misalign)
    fastinit.uniform_(a, -2.0, 3.0, seed=99, offset=5)
    ref = fastinit.uniform_(np.empty(n, dtype=np_dt), -2.0, 3.0, seed=99, offset=5)
    np.testing.assert_array_equal(a.view(_uint_of(np_dt.itemsize)), ref.view(_uint_of(np_dt.itemsize)))
    for start in (0, 1, n // 2 - 3, n - 40):
        want = R.expected_bits((40,), np_dt, -2.0, 3.0, 99, 5 + start)
        np.testing.assert_array_equal(a[start:start + 40].view(_uint_of(np_dt.itemsize)), want)
    head = bytes(raw[:misalign])
    tail = bytes(raw[misalign + n * np_dt.itemsize:])
    assert head == b"\0" * misalign and tail == b"\0" * len(tail)


@pytest.mark.parametrize("fname", INIT_FUNCS)
@settings(max_examples=40, **HYP)
@given(np_dt=st.sampled_from(VALID_NP), pad_before=st.integers(0, 9), pad_after=st.integers(0, 9),
       shape=st.sampled_from([(7,), (3, 5), (4, 1, 3), (2, 3, 2, 2), (0, 3), ()]), reverse=st.booleans(),
       seed=st.integers(0, 2**64 - 1))
def test_structured_field_views(fname, np_dt, pad_before, pad_after, shape, reverse, seed):
    """A field of a packed structured array: byte strides that are not multiples of the
    item size, misaligned elements; the other fields must not change."""
    rec = np.dtype([("a", "u1", (pad_before,)), ("x", np_dt), ("b", "u1", (pad_after,))])
    n = _numel(shape)
    raw = np.random.default_rng(seed % 2**32).integers(0, 256, (n + 2) * rec.itemsize, dtype=np.uint8)
    sentinel = raw.copy()
    arr = raw[rec.itemsize:(n + 1) * rec.itemsize].view(rec).reshape(shape)
    v = arr["x"]
    if reverse and v.ndim:
        v = v[::-1]
    args = DEFAULT_ARGS.get(fname, ())
    if fname in NEEDS_2D and v.ndim < 2:
        with pytest.raises(ValueError):  # torch's "Fan in and fan out can not be computed"
            _call(fname, v, args, seed, 0)
        assert np.array_equal(raw, sentinel)
        return
    out = _call(fname, v, args, seed, 0)
    assert out is v
    # only the bytes of field x changed
    mask = np.zeros(raw.size, dtype=bool)
    fld = raw[rec.itemsize:(n + 1) * rec.itemsize].reshape(-1, rec.itemsize)
    fmask = mask[rec.itemsize:(n + 1) * rec.itemsize].reshape(-1, rec.itemsize)
    fmask[:, pad_before:pad_before + np_dt.itemsize] = True
    assert np.array_equal(raw[~mask], sentinel[~mask]), "bytes outside the field changed"
    del fld
    if n:
        want = expected_view_bits(np_dt, v.shape, model_params(fname, v.shape, args), seed, 0)
        assert np.array_equal(v.copy().view(want.dtype).reshape(-1), want.reshape(-1))
    if n:
        ref = _call(fname, np.empty(v.shape, dtype=np_dt), args, seed, 0)
        assert np.array_equal(v.copy().view(_uint_of(np_dt.itemsize)),
                              ref.view(_uint_of(np_dt.itemsize)))


# ----------------------------------------------------------------------------------
# dangerous layouts, in a subprocess: a crash fails the test instead of killing pytest
# ----------------------------------------------------------------------------------
@st.composite
def dangerous_layouts(draw):
    kind = draw(st.sampled_from(["overlap", "overlap", "huge_stride_size1", "huge_zero_size", "expand_big"]))
    if kind == "overlap":
        shape = draw(_small_shape(max_ndim=5, max_numel=4096, max_dim=16))
        strides = tuple(draw(st.integers(-3, 3)) for _ in shape)
        lo, hi = _extent(shape, strides)
        return kind, shape, strides, -lo, hi - lo + 1
    if kind == "huge_stride_size1":
        # dims of size 1 (never stepped over) with strides near +-2**62 elements
        shape = draw(st.lists(st.sampled_from([1, 1, 3, 5]), min_size=1, max_size=6))
        strides = []
        step = 1
        for n in reversed(shape):
            if n == 1:
                strides.insert(0, draw(st.sampled_from([2**60, -(2**60), 2**61 - 1, -(2**61), 2**40, 0])))
            else:
                strides.insert(0, step)
                step *= n
        lo, hi = _extent(shape, strides)
        return kind, tuple(shape), tuple(strides), -lo, hi - lo + 1
    if kind == "huge_zero_size":
        # one huge dim (NumPy refuses shapes whose non-zero dims multiply past 2**63)
        shape = draw(st.lists(st.sampled_from([0, 1, 3, 7]), min_size=0, max_size=4))
        shape.insert(draw(st.integers(0, len(shape))), draw(st.sampled_from([2**31 + 1, 2**40])))
        if 0 not in shape:
            shape.insert(draw(st.integers(0, len(shape))), 0)
        shape = tuple(shape)
        strides = tuple(draw(st.sampled_from([1, 2**50, -(2**50), 0])) for _ in shape)
        return kind, shape, strides, 0, 1
    # stride-0 dims of large size: a wrong acceptance would write one location 2**20 times
    shape = (2**20, 3)
    return kind, shape, (0, 1), 0, 3


def _dangerous_example(backend, np_dt, layout, fname, seed_):
    if backend == "torch" and (any(s < 0 for s in layout[2]) or layout[0] == "huge_stride_size1"):
        backend = "numpy"  # torch.as_strided checks its storage bound with huge strides
    dtype = np_dt if backend == "numpy" else TORCH_OF[np_dt]
    args = DEFAULT_ARGS.get(fname, ())
    if layout[0] == "huge_stride_size1":
        # the buffer only spans the elements actually reached; numpy accepts the view because
        # np.ndarray(buffer=...) checks the extent: build it with as_strided instead
        kind, shape, strides, _, _ = layout
        lim = (2**63 - 1) // np_dt.itemsize  # byte strides must fit in int64
        strides = tuple(max(-lim, min(lim, s)) for s in strides)
        dense = [(n, s) for n, s in zip(shape, strides) if n > 1]
        ext = 1
        for n, s in dense:
            ext += (n - 1) * s
        case = Case(backend, dtype, ("ops", tuple(n for n, _ in dense) or (), tuple(s for _, s in dense), 0, ext),
                    seed=seed_)
        case.obj = np.lib.stride_tricks.as_strided(case.obj, shape=shape, strides=[s * np_dt.itemsize for s in strides])
        assert case.obj.flags.writeable
        case.shape, case.bstrides = tuple(shape), tuple(s * np_dt.itemsize for s in strides)
        case.overlapping = False
        case.plainly_disjoint = True
        check_call(case, fname, args, seed_, 3)
        return
    if layout[0] == "huge_zero_size":
        kind, shape, strides, _, _ = layout
        base = np.zeros(8, dtype=np_dt) if backend == "numpy" else torch.zeros(8, dtype=dtype)
        if backend == "numpy":
            v = np.lib.stride_tricks.as_strided(base, shape=shape, strides=[s * np_dt.itemsize for s in strides])
            assert v.flags.writeable
        else:
            v = base.as_strided(shape, [abs(s) for s in strides])
        try:
            _call(fname, v, args, seed_, 2**64 - 1)
        except Exception:  # noqa: BLE001
            pass  # kaiming/xavier may raise for their own reasons (fan of 0 ...)
        assert not (base.any() if backend == "numpy" else bool(base.float().abs().sum() != 0))
        return
    case = Case(backend, dtype, layout, seed=seed_)
    check_call(case, fname, args, seed_, 0)


@settings(max_examples=250, **HYP)
@given(backend=st.sampled_from(["numpy", "torch"]), np_dt=st.sampled_from(VALID_NP), layout=dangerous_layouts(),
       fname=st.sampled_from(INIT_FUNCS), seed_=st.integers(0, 2**64 - 1))
def dangerous_property(backend, np_dt, layout, fname, seed_):
    _dangerous_example(backend, np_dt, layout, fname, seed_)


def run_dangerous():  # entry point of the subprocess
    dangerous_property()
    print("DANGEROUS-OK")


def test_dangerous_layouts_in_subprocess():
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {_HERE!r})
        import test_properties
        test_properties.run_dangerous()
    """)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240, cwd=_HERE)
    out = p.stdout + p.stderr
    assert p.returncode == 0, f"subprocess exited with {p.returncode} (negative: killed by signal):\n{out[-4000:]}"
    assert "DANGEROUS-OK" in p.stdout, out[-4000:]


def test_trunc_normal_checks_model_follows_torch_source():
    """torch_trunc_normal_checks replays torch's trunc_normal_ without its loops: the
    steps it replays must still be torch's."""
    import inspect

    src = inspect.getsource(torch.nn.init._no_grad_trunc_normal_)
    for step in ("p = norm_cdf((b - mean) / std) - norm_cdf((a - mean) / std)", "if p > 0.3:",
                 'tensor.new_tensor(a, device="cpu")', 'tensor.new_tensor(b, device="cpu")',
                 "tensor.normal_(mean, std", "mask = (result < lo) | (result > hi)", "mode = max(a, min(mean, b))",
                 "log_peak = -0.5 * ((mode - mean) / std) ** 2", "tensor.uniform_(a, b",
                 "candidates.sub_(mean).div_(std).pow_(2).mul_(-0.5).sub_(log_peak)",
                 "accept_buf.uniform_(generator=generator).log_().gt(candidates)"):
        assert step in src, step


# ----------------------------------------------------------------------------------
# deterministic cases for what the random property tests reach only now and then:
# integer/bool/complex constants, more than 16 dimensions, views past their storage,
# neg-bit views
# ----------------------------------------------------------------------------------
_INT_DTYPES = [torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8, torch.uint16, torch.uint32,
               torch.uint64, torch.bool, torch.complex64, torch.complex128]


@pytest.mark.parametrize("dtype", _INT_DTYPES, ids=str)
@pytest.mark.parametrize("fname,args", [("zeros_", ()), ("ones_", ()), ("constant_", (3,)), ("constant_", (True,)),
                                        ("constant_", (-2.75,)), ("constant_", (300,)), ("constant_", (-1,)),
                                        ("constant_", (1 + 2j,)), ("constant_", (float("nan"),))], ids=str)
def test_int_bool_complex_constants_like_torch(fname, args, dtype):
    """torch fills integer, bool and complex tensors in zeros_/ones_/constant_: so does
    fastinit, with torch's values (and torch's exception type where torch refuses the
    value), on torch tensors and on NumPy arrays of the same dtype."""
    layouts_ = [lambda: torch.full((3, 5), 7).to(dtype), lambda: torch.full((5, 3), 7).to(dtype).t(),
                lambda: torch.full((4, 6), 7).to(dtype)[:, ::2]]
    for make in layouts_:
        want, got = make(), make()
        try:
            getattr(torch.nn.init, fname)(want, *args)
            t_exc = None
        except Exception as e:  # noqa: BLE001
            t_exc = type(e)
        if t_exc is not None:
            with pytest.raises(t_exc):
                getattr(fastinit, fname)(got, *args)
            assert torch.equal(got, make())
            continue
        assert getattr(fastinit, fname)(got, *args) is got
        assert got.dtype == dtype and np.array_equal(_bits_of(got), _bits_of(want)), (fname, args, dtype, got, want)
    np_dt = {v: k for k, v in _NP_TO_TORCH.items()}[dtype]
    for shape in [(), (1,), (3, 5)]:  # one element: torch's scalar_fill path
        want = torch.full(shape, 7).to(dtype)
        got = np.full(shape, 7).astype(np_dt)
        before = got.copy()
        try:
            getattr(torch.nn.init, fname)(want, *args)
        except Exception as e:  # noqa: BLE001
            with pytest.raises(type(e)):
                getattr(fastinit, fname)(got, *args)
            assert np.array_equal(got.reshape(-1).view(np.uint8), before.reshape(-1).view(np.uint8))
            continue
        assert getattr(fastinit, fname)(got, *args) is got
        assert np.array_equal(got.reshape(-1).view(_uint_of(got.itemsize)), _bits_of(want).reshape(-1)), \
            (fname, args, np_dt, shape, got, want)


@pytest.mark.parametrize("fname", ["uniform_", "kaiming_uniform_", "xavier_uniform_", "normal_", "kaiming_normal_",
                                   "xavier_normal_", "trunc_normal_", "constant_", "ones_", "zeros_"])
def test_more_than_16_dims(fname):
    """torch accepts any number of dimensions: 17- and 20-dimensional views get the
    oracle's values of their row-major indices (a transposed one too)."""
    for shape in [(2,) + (1,) * 15 + (3,), (1, 2) * 9 + (2, 1)]:
        t = torch.empty(shape)
        v = t.transpose(0, -1)
        for target in (t, v):
            args = DEFAULT_ARGS[fname]
            assert _call(fname, target, args, 99, 5) is target
            params = model_params(fname, tuple(target.shape), args)
            want = expected_view_bits(torch.float32, tuple(target.shape), params, 99, 5)
            assert np.array_equal(_bits_of(target).reshape(-1), want.reshape(-1)), (fname, shape)


_SMALL_STORAGE = textwrap.dedent("""
    import sys, torch, fastinit
    name, n, nbytes, off = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    base = torch.zeros(n + off)
    t = base[off:]
    base.untyped_storage().resize_(nbytes)
    try:
        getattr(fastinit, name)(t, seed=1)
    except Exception as e:
        print("RAISED", type(e).__name__, e)
    else:
        print("ACCEPTED")
""")


@pytest.mark.parametrize("name", ["uniform_", "normal_", "trunc_normal_", "zeros_", "kaiming_normal_"])
@pytest.mark.parametrize("n,nbytes,off", [(1000, 0, 0), (1000, 0, 7), (10**6, 16, 0), (64, 255, 0)])
def test_storage_too_small_is_refused(name, n, nbytes, off):
    """A tensor whose storage is smaller than its view (freed by FSDP2 with resize_(0)):
    refused with a RuntimeError (torch itself crashes here), never a write past the
    storage. Run in a subprocess, so that a write past the storage fails the test
    instead of killing pytest."""
    # kaiming_normal_ needs 2 dimensions (else torch's ValueError comes first)
    code = _SMALL_STORAGE if name != "kaiming_normal_" else _SMALL_STORAGE.replace("t = base[off:]",
                                                                                    "t = base[off:].view(-1, 1)")
    p = subprocess.run([sys.executable, "-c", code, name, str(n), str(nbytes), str(off)], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, f"crashed (exit {p.returncode}): {p.stderr[-2000:]}"
    assert p.stdout.startswith("RAISED RuntimeError"), p.stdout


_NEG_CASES = [(f, DEFAULT_ARGS[f]) for f in ("uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_")]
_NEG_CASES.append(("trunc_normal_", (0.0, 1.0, 2.0, 3.0)))  # p <= 0.3: torch's uniform_ branch


@pytest.mark.parametrize("fname,args", _NEG_CASES, ids=str)
def test_neg_and_conj_views(fname, args):
    """A view with torch's neg bit (the imaginary part of a conj() view) is filled so that
    the values read through the view are the oracle's (as torch's own fills make them);
    the real parts stay as they were. Where torch raises (trunc_normal_'s p > 0.3 branch:
    new_tensor on a neg view, "DispatchKey Negative doesn't correspond to a device"),
    fastinit raises torch's type and writes nothing."""
    twin = torch.zeros(6, dtype=torch.complex64).conj().imag
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            getattr(torch.nn.init, fname)(twin, *args)
        t_exc = None
    except Exception as e:  # noqa: BLE001
        t_exc = type(e)
    base = torch.zeros(6, dtype=torch.complex64)
    v = base.conj().imag
    assert v.is_neg()
    if t_exc is not None:
        with pytest.raises(t_exc):
            _call(fname, v, args, 5, 0)
        assert np.array_equal(_bits_of(torch.view_as_real(base)), np.zeros((6, 2), np.uint32)), "refused but wrote"
        return
    assert _call(fname, v, args, 5, 0) is v
    want = expected_view_bits(torch.float32, (6,), model_params(fname, (6,), args), 5, 0)
    got = v.clone().resolve_neg()
    assert np.array_equal(_bits_of(got), want), (fname, got)
    assert np.array_equal(_bits_of(torch.view_as_real(base)[:, 0]), np.zeros(6, np.uint32)), "real parts changed"


# ----------------------------------------------------------------------------------
# the context axis: a fill under each torch mode and device context gives the bits it
# gives outside them (no state inherits torch's ambient context), on CPU tensors and NumPy
# arrays, seeded and from a generator
# ----------------------------------------------------------------------------------
class _PassThroughMode(torch.overrides.TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        return func(*args, **(kwargs or {}))


def _context(name):
    import contextlib

    if name == "meta_device_context":
        return torch.device("meta")
    if name == "default_device_meta":
        @contextlib.contextmanager
        def default_meta():
            # What was set before (None: no default device). get_default_device() would say
            # cpu, and set_default_device("cpu") leaves a DeviceContext mode on for every later
            # test (torch's own warnings then point into torch/utils/_device.py).
            from torch.utils import _device

            before = _device.CURRENT_DEVICE
            torch.set_default_device("meta")
            try:
                yield
            finally:
                torch.set_default_device(before)
        return default_meta()
    if name == "fake_tensor_mode":
        from torch._subclasses.fake_tensor import FakeTensorMode

        return FakeTensorMode(allow_non_fake_inputs=True)
    if name == "inference_mode":
        return torch.inference_mode()
    if name == "no_grad":
        return torch.no_grad()
    if name == "torch_function_mode":
        return _PassThroughMode()
    raise KeyError(name)


CONTEXTS = ["meta_device_context", "default_device_meta", "fake_tensor_mode", "inference_mode", "no_grad",
            "torch_function_mode"]


@pytest.mark.parametrize("context", CONTEXTS)
@settings(max_examples=40, **HYP)
@given(data=st.data())
def test_fills_under_torch_contexts_give_the_same_bits(context, data):
    fname = data.draw(st.sampled_from(INIT_FUNCS))
    backend = data.draw(st.sampled_from(["numpy", "torch"]))
    np_dt = data.draw(st.sampled_from(VALID_NP))
    shape = data.draw(_small_shape(max_ndim=4, max_numel=256, min_ndim=2 if fname in NEEDS_2D else 0))
    if fname in NEEDS_2D and 0 in shape:
        shape = (3, 4)
    args = data.draw(good_args_strategy(fname))
    keyed = data.draw(st.booleans())
    seed = int(data.draw(u64_value))
    offset = int(data.draw(u64_value))

    def target():
        if backend == "numpy":
            return np.full(shape, 7, dtype=np_dt)
        return torch.full(shape, 7.0, dtype=TORCH_OF[np_dt])

    def call(obj):
        kw = {"offset": offset}
        if keyed:
            kw["seed"] = seed
        elif backend == "numpy":
            kw["generator"] = seed % 2**32
        else:
            kw["generator"] = torch.Generator().manual_seed(seed % 2**63)
        if fname in CONSTANTS:
            kw.pop("generator", None)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return getattr(fastinit, fname)(obj, *args, **kw)

    want = call(target())
    got_obj = target()
    with _context(context):
        ret = call(got_obj)
    assert ret is got_obj
    assert torch.get_default_device().type == "cpu"
    assert np.array_equal(_bits_of(got_obj), _bits_of(want)), (
        f"{fname}{tuple(args)!r} keyed={keyed} seed={seed} offset={offset} on {backend} {np_dt} {shape} "
        f"differs under {context}")
