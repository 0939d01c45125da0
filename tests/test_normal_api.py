"""The Python surface of the normal family (normal_, kaiming_normal_, xavier_normal_,
trunc_normal_) and the constant fills (constant_, ones_, zeros_): parity with
torch.nn.init, seeds, offsets, views, NumPy arrays.

Every expected exception, message, warning and parameter (std, bounds) is computed by
torch at test time; nothing is hard-coded from fastinit's own output. Values are checked
against other fastinit calls (same seed: same bits), which the stream contract
(docs/STREAM.md) makes exact.
"""

import inspect
import math
import warnings

import ml_dtypes
import numpy as np
import pytest
import torch

import fastinit
from helpers import Deferring as _Deferring, Recorder as _Recorder
from helpers import case_id as _case_id, expanded as _expanded, filled as _e
from helpers import draws_like_torch, numpy_recipe, record_torch_method, same_outcome_as_torch, torch_recipe

DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]
NP_DTYPES = [np.float32, np.float64, np.float16, ml_dtypes.bfloat16]
TORCH_OF = dict(zip([np.dtype(d) for d in NP_DTYPES], DTYPES))
RANDOM = ["normal_", "kaiming_normal_", "xavier_normal_", "trunc_normal_"]
CONSTANT = ["constant_", "ones_", "zeros_"]
NONLINEARITIES = ["linear", "conv2d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"]
A_VALUES = [0, math.sqrt(5), 0.01, 10, -2]
SHAPES = [(7, 5), (3, 1), (6, 4, 3), (8, 3, 3, 3), (4, 2, 3, 2, 5), (1, 1, 1, 1, 1)]
SHAPE = (37, 29)


def _t(dt=torch.float32, shape=SHAPE):
    return torch.full(shape, 7.0, dtype=dt)


def _a(dt=np.float32, shape=SHAPE):
    return np.full(shape, 7.0, dtype=dt)


def _bits(x):
    if isinstance(x, torch.Tensor):
        x = x.detach().contiguous()
        x = x.view({2: torch.int16, 4: torch.int32, 8: torch.int64}[x.element_size()]).numpy()
    x = np.ascontiguousarray(x)
    return x.view({2: np.uint16, 4: np.uint32, 8: np.uint64}[x.dtype.itemsize]).copy()


def same_bits(x, y):
    bx, by = _bits(x), _bits(y)
    return bx.shape == by.shape and bx.dtype == by.dtype and np.array_equal(bx, by)


def record_torch_normal():
    return record_torch_method("normal_")


def torch_std(name, shape, *args, **kwargs):
    with record_torch_normal() as calls:
        getattr(torch.nn.init, name)(torch.empty(shape), *args, **kwargs)
    assert len(calls) == 1
    mean, std = calls[0]
    assert mean == 0
    return std


# --------------------------------------------------------------------------
# signatures
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", RANDOM + CONSTANT)
def test_signature_matches_torch(name):
    tp = list(inspect.signature(getattr(torch.nn.init, name)).parameters.values())
    fp = list(inspect.signature(getattr(fastinit, name)).parameters.values())
    assert [(p.name, p.kind, p.default) for p in fp[: len(tp)]] == [(p.name, p.kind, p.default) for p in tp]
    assert [(p.name, p.kind, p.default) for p in fp[len(tp):]] == [
        ("seed", inspect.Parameter.KEYWORD_ONLY, None),
        ("offset", inspect.Parameter.KEYWORD_ONLY, 0),
    ]


def test_exported():
    for name in RANDOM + CONSTANT:
        assert name in fastinit.__all__
        assert callable(getattr(fastinit, name))


# --------------------------------------------------------------------------
# std and parameters as torch computes them
# --------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
def test_kaiming_normal_is_normal_with_torch_std(shape):
    for mode in ["fan_in", "fan_out", "FAN_OUT"]:
        for nl in NONLINEARITIES:
            for a in A_VALUES:
                std = torch_std("kaiming_normal_", shape, a=a, mode=mode, nonlinearity=nl)
                for dt in DTYPES:
                    t = torch.empty(shape, dtype=dt)
                    r = fastinit.kaiming_normal_(t, a, mode, nl, seed=1234, offset=5)
                    assert r is t
                    u = fastinit.normal_(torch.empty(shape, dtype=dt), 0.0, std, seed=1234, offset=5)
                    assert same_bits(t, u), (shape, mode, nl, a, dt)
    # torch's defaults
    std = torch_std("kaiming_normal_", shape)
    assert same_bits(fastinit.kaiming_normal_(torch.empty(shape), seed=9),
                     fastinit.normal_(torch.empty(shape), 0, std, seed=9))


@pytest.mark.parametrize("shape", SHAPES)
def test_xavier_normal_is_normal_with_torch_std(shape):
    for gain in [1.0, 5.0 / 3, math.sqrt(2.0), 0.75, 3, 0.0, torch.nn.init.calculate_gain("leaky_relu", 0.2)]:
        std = torch_std("xavier_normal_", shape, gain=gain)
        for dt in DTYPES:
            t = torch.empty(shape, dtype=dt)
            assert fastinit.xavier_normal_(t, gain, seed=77) is t
            u = fastinit.normal_(torch.empty(shape, dtype=dt), 0.0, std, seed=77)
            assert same_bits(t, u), (shape, gain, dt)
    std = torch_std("xavier_normal_", shape)
    assert same_bits(fastinit.xavier_normal_(torch.empty(shape), seed=3),
                     fastinit.normal_(torch.empty(shape), 0.0, std, seed=3))


def test_kaiming_xavier_normal_numpy_same_std():
    for shape in SHAPES:
        for dt in NP_DTYPES:
            k = fastinit.kaiming_normal_(np.empty(shape, dt), 0.3, "fan_out", "leaky_relu", seed=5)
            ks = torch_std("kaiming_normal_", shape, a=0.3, mode="fan_out")
            assert same_bits(k, fastinit.normal_(np.empty(shape, dt), 0.0, ks, seed=5))
            x = fastinit.xavier_normal_(np.empty(shape, dt), 1.7, seed=5)
            xs = torch_std("xavier_normal_", shape, gain=1.7)
            assert same_bits(x, fastinit.normal_(np.empty(shape, dt), 0.0, xs, seed=5))


def test_normal_defaults_and_scaling():
    # mean/std defaults are (0, 1); std == 0 gives mean exactly, as torch
    assert same_bits(fastinit.normal_(torch.empty(100), seed=4), fastinit.normal_(torch.empty(100), 0.0, 1.0, seed=4))
    for dt in DTYPES:
        for mean in (0.0, 2.5, -3.0):
            t = fastinit.normal_(torch.empty(50, dtype=dt), mean, 0.0, seed=1)
            assert torch.equal(t, torch.nn.init.normal_(torch.empty(50, dtype=dt), mean, 0.0))
    # mean and std are ints, bools or 0-d tensors as well
    ref = fastinit.normal_(torch.empty(64), 1.0, 2.0, seed=8)
    for m, s in [(1, 2), (True, 2.0), (torch.tensor(1.0), torch.tensor(2)), (np.float32(1), np.int64(2))]:
        assert torch.equal(fastinit.normal_(torch.empty(64), m, s, seed=8), ref)


def test_normal_non_finite_parameters_like_torch():
    """torch fills inf/nan for non-finite mean or std (only std < 0 and nan std are
    refused): fastinit gives the same kinds of values."""
    n = 2000
    for dt in DTYPES:
        for mean, std in [(math.nan, 1.0), (math.inf, 1.0), (-math.inf, 1.0), (0.0, math.inf), (math.inf, math.inf)]:
            tt = torch.nn.init.normal_(torch.empty(n, dtype=dt), mean, std).double().numpy()
            ft = fastinit.normal_(torch.empty(n, dtype=dt), mean, std, seed=2).double().numpy()
            for name, f in [("nan", np.isnan), ("+inf", np.isposinf), ("-inf", np.isneginf), ("finite", np.isfinite)]:
                assert f(tt).any() == f(ft).any(), (dt, mean, std, name)
        # a finite mean beyond the dtype's range overflows to inf, as in torch
        big = {torch.float16: 1e5, torch.bfloat16: 1e39, torch.float32: 1e39, torch.float64: 1e300}[dt]
        tt = torch.nn.init.normal_(torch.empty(100, dtype=dt), big, 1.0).double().numpy()
        ft = fastinit.normal_(torch.empty(100, dtype=dt), big, 1.0, seed=2).double().numpy()
        assert np.array_equal(np.isinf(tt), np.isinf(ft)), dt


# --------------------------------------------------------------------------
# exceptions, warnings and check order: the same outcome as torch
# --------------------------------------------------------------------------


_GEN = torch.Generator()
_INF, _NAN = math.inf, math.nan
I32, I64, U8, BOOL, F16, BF16, F64 = torch.int32, torch.int64, torch.uint8, torch.bool, torch.float16, torch.bfloat16, torch.float64

CASES = [
    # normal_: argument parsing, std check (before dtype and for empty tensors), dtype, overlap
    ("normal_", _e(5), (), {}),
    ("normal_", _e(5), (0.5, 2.0), {}),
    ("normal_", _e(5), (0, -1), {}),
    ("normal_", _e(5), (0, -1.23456789), {}),
    ("normal_", _e(5), (0, -1e-7), {}),
    ("normal_", _e(5), (0, -1e300), {}),
    ("normal_", _e(5), (0, -_INF), {}),
    ("normal_", _e(5), (0, _NAN), {}),
    ("normal_", _e(5), (0, -0.0), {}),
    ("normal_", _e(5), (0, 0), {}),
    ("normal_", _e(5), (_NAN, 1), {}),
    ("normal_", _e(5), (_INF, 1), {}),
    ("normal_", _e(5), (0, _INF), {}),
    ("normal_", _e(5), ("x", 1), {}),
    ("normal_", _e(5), (0, "x"), {}),
    ("normal_", _e(5), ("x", -1), {}),
    ("normal_", _e(5), (None, 1), {}),
    ("normal_", _e(5), (1j, 1), {}),
    ("normal_", _e(5), (True, 1), {}),
    ("normal_", _e(5), (0, torch.tensor(-1.0)), {}),
    ("normal_", _e(5), (0, torch.tensor([1.0, 2.0])), {}),
    ("normal_", _e(5), (0, 1, 3), {}),
    ("normal_", _e(5), (0, -1, 3), {}),
    ("normal_", _e(5), (), {"generator": "g"}),
    ("normal_", _e(5), (), {"generator": np.random.default_rng(0)}),
    ("normal_", _e(5), (), {"generator": _GEN}),
    ("normal_", _e(5, dtype=I32), (), {}),
    ("normal_", _e(5, dtype=I64), (), {}),
    ("normal_", _e(5, dtype=U8), (), {}),
    ("normal_", _e(5, dtype=BOOL), (), {}),
    ("normal_", _e(5, dtype=I32), (0, -1), {}),
    ("normal_", _e(5, dtype=I32), (), {"generator": 3}),
    ("normal_", _e(0, dtype=I32), (), {}),
    ("normal_", _e(0, dtype=I32), (0, -1), {}),
    ("normal_", _e(0), (0, -1), {}),
    ("normal_", _e(0), (), {}),
    ("normal_", _e(3, 0), (), {}),
    ("normal_", _e(), (), {}),
    ("normal_", _e(5, dtype=F16), (1e5, 1), {}),
    ("normal_", _expanded(3, 4), (), {}),
    ("normal_", _expanded(3, 4), (0, -1), {}),
    ("normal_", _expanded(3, 4, dtype=I32), (), {}),
    ("normal_", _expanded(3, 4), (), {"generator": 3}),
    # kaiming_normal_: zero-element warning first, mode, dims, nonlinearity, then normal_
    ("kaiming_normal_", _e(3, 4), (), {}),
    ("kaiming_normal_", _e(3, 4), (), {"mode": "bad"}),
    ("kaiming_normal_", _e(3, 4), (), {"mode": "FAN_IN"}),
    ("kaiming_normal_", _e(3, 4), (), {"nonlinearity": "bad"}),
    ("kaiming_normal_", _e(3), (), {}),
    ("kaiming_normal_", _e(), (), {}),
    ("kaiming_normal_", _e(3), (), {"mode": "bad"}),
    ("kaiming_normal_", _e(3), (), {"nonlinearity": "bad"}),
    ("kaiming_normal_", _e(3, 4), ("x",), {}),
    ("kaiming_normal_", _e(3, 4), (True,), {}),
    ("kaiming_normal_", _e(3, 4), (None,), {}),
    ("kaiming_normal_", _e(3, 4), (_NAN,), {}),
    ("kaiming_normal_", _e(3, 4), (_INF,), {}),
    ("kaiming_normal_", _e(3, 4), (1e200,), {}),
    ("kaiming_normal_", _e(3, 4), (), {"a": "x", "nonlinearity": "relu"}),
    ("kaiming_normal_", _e(3, 4), (), {"mode": None}),
    ("kaiming_normal_", _e(3, 4, dtype=I32), (), {}),
    ("kaiming_normal_", _e(3, 4, dtype=BOOL), (), {}),
    ("kaiming_normal_", _e(3, 4, dtype=I32), (), {"mode": "bad"}),
    ("kaiming_normal_", _expanded(3, 4), (), {}),
    ("kaiming_normal_", _e(3, 4), (), {"generator": 3}),
    ("kaiming_normal_", _e(3, 4), (), {"generator": _GEN}),
    ("kaiming_normal_", _e(0, 4), (), {}),
    ("kaiming_normal_", _e(0, 4), (), {"mode": "bad"}),
    ("kaiming_normal_", _e(0), (), {}),
    ("kaiming_normal_", _e(0, 4, dtype=I32), (), {"generator": 3}),
    # xavier_normal_: dims, Python arithmetic of the std, then normal_
    ("xavier_normal_", _e(3, 4), (), {}),
    ("xavier_normal_", _e(3), (), {}),
    ("xavier_normal_", _e(), (), {}),
    ("xavier_normal_", _e(0, 0), (), {}),
    ("xavier_normal_", _e(0, 5), (), {}),
    ("xavier_normal_", _e(0, 5, dtype=I32), (), {}),
    ("xavier_normal_", _e(3, 4, dtype=I32), (), {}),
    ("xavier_normal_", _e(3, 4, dtype=I32), (-1.0,), {}),
    ("xavier_normal_", _expanded(3, 4), (), {}),
    ("xavier_normal_", _e(3, 4), ("x",), {}),
    ("xavier_normal_", _e(3, 4), (None,), {}),
    ("xavier_normal_", _e(3, 4), (_INF,), {}),
    ("xavier_normal_", _e(3, 4), (_NAN,), {}),
    ("xavier_normal_", _e(3, 4), (-1.0,), {}),
    ("xavier_normal_", _e(3, 4), (torch.tensor([1.0, 2.0]),), {}),
    ("xavier_normal_", _e(3, 4), (), {"generator": 3}),
    # trunc_normal_: torch's Python (warning, ZeroDivisionError, OverflowError), then the
    # checks of normal_ (interval mass > 0.3) or uniform_(a, b) (otherwise)
    ("trunc_normal_", _e(5), (), {}),
    ("trunc_normal_", _e(5), (0.0, 1.0, -2.0, 2.0), {}),
    ("trunc_normal_", _e(5), (0.0, 1.0, 2.0, 3.0), {}),
    ("trunc_normal_", _e(5), (5.0, 1.0, -2.0, 2.0), {}),
    ("trunc_normal_", _e(5), (-5.0, 1.0, -2.0, 2.0), {}),
    ("trunc_normal_", _e(5), (0.0, 0.0), {}),
    ("trunc_normal_", _e(5), (0.0, -0.0), {}),
    ("trunc_normal_", _e(5), (0.0, -1.0), {}),
    ("trunc_normal_", _e(5), (0.0, -1.0, -1.0, 1.0), {}),
    ("trunc_normal_", _e(5), (0.0, 1.0, 2.0, -2.0), {}),
    ("trunc_normal_", _e(5), (0.0, -1.0, 2.0, -2.0), {}),
    ("trunc_normal_", _e(5), (0.0, 1.0, 1.0, 1.0), {}),
    ("trunc_normal_", _e(5), (0.0, 1.0, -_INF, _INF), {}),
    ("trunc_normal_", _e(5), (0.0, 1.0, -_INF, 0.0), {}),
    ("trunc_normal_", _e(5), (0.0, 1.0, 5.0, _INF), {}),
    ("trunc_normal_", _e(5), (0.0, 1.0, -_INF, -5.0), {}),
    ("trunc_normal_", _e(5), (0.0, 1.0, _NAN, 1.0), {}),
    ("trunc_normal_", _e(5), (0.0, 1.0, -1.0, _NAN), {}),
    ("trunc_normal_", _e(5), (1e300, 1.0), {}),
    ("trunc_normal_", _e(5), ("x", 1.0), {}),
    ("trunc_normal_", _e(5), (0.0, "x"), {}),
    ("trunc_normal_", _e(5), (0.0, 1.0, "x", 2.0), {}),
    ("trunc_normal_", _e(5), (None,), {}),
    ("trunc_normal_", _e(5), (torch.tensor(0.5),), {}),
    ("trunc_normal_", _e(5), (0.0, 1.0, -2.0, 2.0, 3), {}),
    ("trunc_normal_", _e(5), (0.0, 1.0, 2.0, 3.0, 3), {}),
    ("trunc_normal_", _e(5), (), {"generator": _GEN}),
    ("trunc_normal_", _e(5, dtype=I32), (), {}),
    ("trunc_normal_", _e(5, dtype=I32), (0.0, 1.0, 2.0, 3.0), {}),
    ("trunc_normal_", _e(5, dtype=BOOL), (), {}),
    ("trunc_normal_", _e(5, dtype=I64), (0.0, 1.0, -_INF, _INF), {}),
    ("trunc_normal_", _e(0, dtype=I32), (), {}),
    ("trunc_normal_", _e(0, dtype=I32), (0.0, 1.0, 2.0, 3.0), {}),
    ("trunc_normal_", _e(0), (0.0, 1.0, 2.0, -2.0), {}),
    ("trunc_normal_", _e(0), (), {}),
    ("trunc_normal_", _e(), (), {}),
    ("trunc_normal_", _e(5, dtype=F16), (0.0, 1.0, -1e5, 1e5), {}),
    ("trunc_normal_", _e(5, dtype=F16), (0.0, 1.0, 2.0, 1e5), {}),
    ("trunc_normal_", _e(5, dtype=BF16), (0.0, 1.0, 2.0, 1e39), {}),
    ("trunc_normal_", _e(5), (0.0, 1.0, 2.0, 1e39), {}),
    ("trunc_normal_", _e(5, dtype=F64), (0.0, 1.0, -1e39, 1e39), {}),
    ("trunc_normal_", _expanded(3, 4), (), {}),
    ("trunc_normal_", _expanded(3, 4), (0.0, 1.0, 2.0, 3.0), {}),
    ("trunc_normal_", _expanded(3, 4, dtype=I32), (), {}),
    # constant_, ones_, zeros_ (torch tensors: torch's own fill_/zero_; the dtypes and
    # overlapping views torch accepts and fastinit refuses: test_constant_target_checks)
    ("constant_", _e(5), (0.5,), {}),
    ("constant_", _e(5), (_INF,), {}),
    ("constant_", _e(5), (_NAN,), {}),
    ("constant_", _e(5), (1e39,), {}),
    ("constant_", _e(5, dtype=F16), (1e5,), {}),
    ("constant_", _e(5, dtype=F16), (65504.0,), {}),
    ("constant_", _e(5, dtype=BF16), (3.4e38,), {}),
    ("constant_", _e(5), ("x",), {}),
    ("constant_", _e(5), (None,), {}),
    ("constant_", _e(5), (1j,), {}),
    ("constant_", _e(5), (True,), {}),
    ("constant_", _e(5), (torch.tensor(2.0),), {}),
    ("constant_", _e(5), (torch.tensor([1.0, 2.0]),), {}),
    ("constant_", _e(0), (1.0,), {}),
    ("ones_", _e(5), (), {}),
    ("zeros_", _e(5), (), {}),
    ("zeros_", _e(0), (), {}),
]


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_same_outcome_as_torch(case):
    (to, _, tt, _), (_, _, ft, fbefore) = same_outcome_as_torch(*case)
    name = case[0]
    if to[0] == "raise":
        assert ft.dtype == tt.dtype
        assert torch.equal(ft, fbefore) or ft.numel() == 0 or not ft.dtype.is_floating_point, "buffer modified"
        assert _bits(ft).tobytes() == _bits(fbefore).tobytes() if ft.dtype.is_floating_point else True
    elif name in CONSTANT:
        assert torch.equal(ft, tt) or (ft.isnan().all() and tt.isnan().all())


@pytest.mark.parametrize("args", [(math.nan, 1.0), (math.inf, 1.0), (-math.inf, 1.0), (0.0, math.inf),
                                  (0.0, math.nan), (0.0, -math.inf), (math.nan, 1.0, -1.0, 1.0)])
def test_trunc_normal_non_finite_mean_std_refused(args):
    """Deliberate difference: torch fills U(a, b) when mean or std is not finite (its
    acceptance test compares with nan); fastinit refuses with ValueError and writes
    nothing, after every check torch itself makes."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = torch.nn.init.trunc_normal_(torch.empty(100), *args)
        assert t.min() >= -2.0 and t.max() <= 2.0  # what torch gives
        for x in (_t(), _a()):
            before = _bits(x)
            with pytest.raises(ValueError, match="finite"):
                fastinit.trunc_normal_(x, *args, seed=1)
            assert np.array_equal(_bits(x), before)
        # torch's own error still comes first
        x = _t(I32)
        with pytest.raises(NotImplementedError, match="check_uniform_bounds"):
            fastinit.trunc_normal_(x, *args, seed=1)


def test_trunc_normal_negative_std_is_abs_std():
    """torch's rejection sampler only uses std**2: a negative std it accepts gives the
    distribution of |std|."""
    for dt in DTYPES:
        for mean, std, a, b in [(0.0, -1.0, -2.0, 2.0), (0.5, -0.3, -1.0, 1.0), (0.0, -1.0, 2.0, 3.0)]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch's test with a negative std warns here
                x = fastinit.trunc_normal_(torch.empty(500, dtype=dt), mean, std, a, b, seed=3)
                y = fastinit.trunc_normal_(torch.empty(500, dtype=dt), mean, -std, a, b, seed=3)
            assert same_bits(x, y), (dt, mean, std)


def test_trunc_normal_equal_bounds_and_infinite_bounds():
    for dt in DTYPES:
        t = fastinit.trunc_normal_(torch.empty(100, dtype=dt), 0.0, 1.0, 0.5, 0.5, seed=2)
        assert torch.equal(t, torch.nn.init.trunc_normal_(torch.empty(100, dtype=dt), 0.0, 1.0, 0.5, 0.5))
        # infinite bounds where torch accepts them: a plain normal / a half normal
        n = fastinit.trunc_normal_(torch.empty(10000, dtype=dt), 0.0, 1.0, -math.inf, math.inf, seed=4)
        assert torch.isfinite(n).all() and n.min() < -2 and n.max() > 2
        h = fastinit.trunc_normal_(torch.empty(10000, dtype=dt), 0.0, 1.0, -math.inf, 0.0, seed=4)
        assert torch.isfinite(h).all() and h.max() <= 0 and h.min() < -2


def _in_function(w, fn):
    lines, first = inspect.getsourcelines(fn)
    return w.filename == inspect.getsourcefile(fn) and first <= w.lineno < first + len(lines)


def test_trunc_normal_warning_location_like_torch():
    """torch warns from _no_grad_trunc_normal_ with stacklevel=2: the warning is attributed
    to torch's own trunc_normal_, not to the caller. fastinit's is attributed likewise to
    fastinit's trunc_normal_."""
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        torch.nn.init.trunc_normal_(torch.empty(10), 5.0, 1.0, -2.0, 2.0)
        fastinit.trunc_normal_(torch.empty(10), 5.0, 1.0, -2.0, 2.0, seed=1)
        fastinit.trunc_normal_(np.empty(10, np.float32), -5.0, 1.0, -2.0, 2.0, seed=1)
    assert len(w) == 3
    assert w[0].category is w[1].category is w[2].category is UserWarning
    assert str(w[0].message) == str(w[1].message) == str(w[2].message)
    assert _in_function(w[0], torch.nn.init.trunc_normal_), (w[0].filename, w[0].lineno)
    assert _in_function(w[1], fastinit.trunc_normal_) and _in_function(w[2], fastinit.trunc_normal_)


def test_kaiming_normal_zero_element_warning_points_at_caller():
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        torch.nn.init.kaiming_normal_(torch.empty(0, 3))
        fastinit.kaiming_normal_(torch.empty(0, 3))
        fastinit.kaiming_normal_(np.empty((0, 3), np.float32))
    assert len(w) == 3
    assert str(w[0].message) == str(w[1].message) == str(w[2].message)
    assert w[0].filename == w[1].filename == w[2].filename == __file__


def test_meta_tensors_like_torch():
    for name, args in [("normal_", ()), ("normal_", (0.0, -1.0)), ("normal_", (0.0, -1.23456789)),
                       ("normal_", (0.0, math.nan)), ("kaiming_normal_", ()), ("xavier_normal_", ()),
                       ("xavier_normal_", (-1.0,)), ("trunc_normal_", ()), ("trunc_normal_", (0.0, 0.0)),
                       ("trunc_normal_", (0.0, 1.0, 2.0, -2.0))]:
        for dt in (torch.float32, torch.int32, torch.complex64):
            outs = []
            for mod in (torch.nn.init, fastinit):
                t = torch.empty(4, 3, device="meta", dtype=dt)
                try:
                    outs.append(("ok", getattr(mod, name)(t, *args) is t))
                except Exception as e:  # noqa: BLE001
                    outs.append((type(e), str(e)))
            if dt.is_complex and outs[0][0] == "ok":
                continue  # fastinit refuses complex (tested below); torch fills it
            assert outs[0] == outs[1], (name, args, dt, outs)


def test_no_generator_draw_for_empty_or_refused():
    for call in (
        lambda g: fastinit.normal_(torch.empty(0), generator=g),
        lambda g: fastinit.normal_(torch.empty(0, dtype=torch.int32), generator=g),
        lambda g: fastinit.xavier_normal_(torch.empty(0, 5), generator=g),
        lambda g: fastinit.trunc_normal_(torch.empty(0), generator=g),
        lambda g: fastinit.trunc_normal_(torch.empty(3, 0), 0.0, 1.0, 2.0, 3.0, generator=g),
    ):
        g = torch.Generator().manual_seed(1)
        s0 = g.get_state()
        call(g)
        assert torch.equal(g.get_state(), s0)
    for call in (
        lambda g: fastinit.normal_(torch.empty(5), 0, -1, generator=g),
        lambda g: fastinit.normal_(torch.empty(5, dtype=torch.int32), generator=g),
        lambda g: fastinit.kaiming_normal_(torch.empty(5), generator=g),
        lambda g: fastinit.trunc_normal_(torch.empty(5), 0.0, 1.0, 2.0, -2.0, generator=g),
        lambda g: fastinit.trunc_normal_(torch.empty(5), math.nan, generator=g),
    ):
        g = torch.Generator().manual_seed(1)
        s0 = g.get_state()
        with pytest.raises(Exception):
            call(g)
        assert torch.equal(g.get_state(), s0)


def test_zero_element_draws_like_torch():
    for name, shape in [("normal_", (0,)), ("normal_", (3, 0)), ("xavier_normal_", (0, 5)),
                        ("kaiming_normal_", (0, 3)), ("trunc_normal_", (0,))]:
        draws_like_torch(name, shape)


# --------------------------------------------------------------------------
# __torch_function__, identity, autograd
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,shape,kwargs",
    [
        ("normal_", (5,), {"mean": 2.0, "std": 3.0}),
        ("normal_", (5,), {"mean": 0.0, "std": -1.0}),  # dispatch before any check
        ("normal_", (0,), {}),
        ("constant_", (5,), {"val": 3.0}),
        ("constant_", (5,), {"val": "x"}),
    ],
)
def test_torch_function_dispatch(name, shape, kwargs):
    results = {}
    for mod in (torch.nn.init, fastinit):
        _Recorder.log.clear()
        t = torch.empty(shape).as_subclass(_Recorder)
        extra = {"generator": torch.Generator()} if name == "normal_" else {}
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            r = getattr(mod, name)(t, **kwargs, **extra)
        assert r == "dispatched"
        assert w == []
        assert len(_Recorder.log) == 1
        func, types, args, kw = _Recorder.log[0]
        assert func is getattr(mod, name)
        assert _Recorder in types
        if extra:
            assert kw.pop("generator") is extra["generator"]
        kw = {k: ("<the tensor>" if v is t else v) for k, v in kw.items()}
        results[mod] = (len(args), kw)
    (tn, tk), (fn, fk) = results[torch.nn.init], results[fastinit]
    assert tn == fn
    for k, v in tk.items():
        assert k in fk and (fk[k] is v or fk[k] == v), (k, tk, fk)
    assert set(fk) - set(tk) <= {"seed", "offset"}


@pytest.mark.parametrize("name", RANDOM)
def test_deferring_subclass_fills(name):
    _Deferring.log.clear()
    t = torch.empty(16, 8).as_subclass(_Deferring)
    r = getattr(fastinit, name)(t, seed=77, offset=3)
    assert r is t
    if name == "normal_":
        assert _Deferring.log and _Deferring.log[0] is fastinit.normal_
    plain = getattr(fastinit, name)(torch.empty(16, 8), seed=77, offset=3)
    assert torch.equal(t.as_subclass(torch.Tensor), plain), "seed=/offset= lost"
    # torch itself fills the subclass too and returns it
    t2 = torch.empty(16, 8).as_subclass(_Deferring)
    assert getattr(torch.nn.init, name)(t2) is t2


@pytest.mark.parametrize("name", RANDOM + CONSTANT)
def test_parameter_stays_leaf(name):
    p = torch.nn.Parameter(torch.full((12, 7), 0.5))
    args = (3.0,) if name == "constant_" else ()
    kw = {} if name in CONSTANT else {"seed": 5}
    r = getattr(fastinit, name)(p, *args, **kw)
    assert r is p and type(r) is torch.nn.Parameter
    assert p.is_leaf and p.grad_fn is None and p.requires_grad
    assert torch.is_grad_enabled()
    assert not torch.equal(p.detach(), torch.full((12, 7), 0.5))
    (p * 2).sum().backward()
    assert torch.equal(p.grad, torch.full_like(p, 2.0))


@pytest.mark.parametrize("name", RANDOM + CONSTANT)
def test_non_leaf_like_torch(name):
    args = (3.0,) if name == "constant_" else ()
    kw = {} if name in CONSTANT else {"seed": 1}

    def make():
        x = torch.ones(6, 5, requires_grad=True)
        return x, x * 2

    x1, y1 = make()
    getattr(torch.nn.init, name)(y1, *args)
    x2, y2 = make()
    r = getattr(fastinit, name)(y2, *args, **kw)
    assert r is y2
    assert type(y2.grad_fn) is type(y1.grad_fn)
    assert y2.requires_grad == y1.requires_grad
    if name == "trunc_normal_":
        # torch's count depends on its rejection rounds (normal_, then copy_ if any were
        # redrawn); one in-place write is what fastinit does
        assert y2._version == 1 and y1._version >= 1
    else:
        assert y2._version == y1._version


def test_grad_mode_restored():
    p = torch.nn.Parameter(torch.zeros(3, 4))
    with pytest.raises(RuntimeError):
        fastinit.normal_(p, 0, -1)
    with pytest.raises(ValueError):
        fastinit.kaiming_normal_(p, mode="bad")
    assert torch.is_grad_enabled()
    with torch.no_grad():
        fastinit.trunc_normal_(p, seed=1)
        fastinit.zeros_(p)
        assert not torch.is_grad_enabled()
    assert torch.is_grad_enabled()


# --------------------------------------------------------------------------
# seeds
# --------------------------------------------------------------------------

_CALLS = {
    "normal_": lambda x, **k: fastinit.normal_(x, 0.5, 2.0, **k),
    "kaiming_normal_": lambda x, **k: fastinit.kaiming_normal_(x, 0.1, "fan_out", **k),
    "xavier_normal_": lambda x, **k: fastinit.xavier_normal_(x, 1.5, **k),
    "trunc_normal_": lambda x, **k: fastinit.trunc_normal_(x, 0.1, 1.0, -1.5, 2.5, **k),
    "trunc_normal_tail": lambda x, **k: fastinit.trunc_normal_(x, 0.0, 1.0, 2.0, 3.0, **k),
}


@pytest.mark.parametrize("name", list(_CALLS))
@pytest.mark.parametrize("dt", DTYPES, ids=str)
def test_manual_seed_reproducible_and_recipe(name, dt):
    f = _CALLS[name]
    torch.manual_seed(1234)
    a1, a2 = f(_t(dt)), f(_t(dt))
    after = torch.rand(3)
    torch.manual_seed(1234)
    b1, b2 = f(_t(dt)), f(_t(dt))
    assert same_bits(a1, b1) and same_bits(a2, b2)
    assert not torch.equal(a1, a2)
    # exactly one recipe draw per call, from the default generator
    torch.manual_seed(1234)
    s1, s2 = torch_recipe(), torch_recipe()
    assert torch.equal(torch.rand(3), after)
    assert same_bits(a1, f(_t(dt), seed=s1)) and same_bits(a2, f(_t(dt), seed=s2))
    # an explicit generator: the same recipe, the default generator untouched
    g1, g2 = torch.Generator().manual_seed(2**40 + 1), torch.Generator().manual_seed(2**40 + 1)
    d0 = torch.default_generator.get_state()
    x = f(_t(dt), generator=g1)
    assert torch.equal(torch.default_generator.get_state(), d0)
    s = torch_recipe(g2)
    assert torch.equal(g1.get_state(), g2.get_state())
    assert same_bits(x, f(_t(dt), seed=s))


@pytest.mark.parametrize("name", list(_CALLS))
def test_seed_bypasses_generators(name):
    f = _CALLS[name]
    g = torch.Generator().manual_seed(6)
    gs, d0 = g.get_state(), torch.default_generator.get_state()
    a = f(_t(), seed=42, generator=g)
    b = f(_t(), seed=42)
    assert torch.equal(g.get_state(), gs) and torch.equal(torch.default_generator.get_state(), d0)
    assert same_bits(a, b)
    torch.manual_seed(100)
    assert same_bits(a, f(_t(), seed=42))
    np.random.seed(3)
    st = np.random.get_state()[1].copy()
    ng = np.random.default_rng(9)
    ngs = ng.bit_generator.state
    c = f(_a(), seed=42, generator=ng)
    assert ng.bit_generator.state == ngs and np.array_equal(np.random.get_state()[1], st)
    assert same_bits(c, a)


@pytest.mark.parametrize("name", list(_CALLS))
@pytest.mark.parametrize("dt", NP_DTYPES, ids=lambda d: np.dtype(d).name)
def test_numpy_seeding(name, dt):
    f = _CALLS[name]
    g1, g2 = np.random.default_rng(77), np.random.default_rng(77)
    a = f(_a(dt), generator=g1)
    assert same_bits(a, f(_a(dt), seed=numpy_recipe(g2)))
    assert g1.bit_generator.state == g2.bit_generator.state
    assert same_bits(f(_a(dt), generator=5), f(_a(dt), seed=numpy_recipe(np.random.default_rng(5))))
    np.random.seed(2024)
    b = f(_a(dt))
    np.random.seed(2024)
    assert same_bits(b, f(_a(dt), seed=int(np.random.randint(0, 2**64, dtype=np.uint64))))
    # NumPy and torch give the same values for the same seed
    assert same_bits(f(_a(dt), seed=2**63 + 5), f(_t(TORCH_OF[np.dtype(dt)]), seed=2**63 + 5))


@pytest.mark.parametrize("name", RANDOM + CONSTANT)
def test_bad_seed_offset(name):
    args = (1.0,) if name == "constant_" else ()
    for value, types in [(-1, ValueError), (2**64, ValueError), (1.5, TypeError), ("1", TypeError),
                         (True, TypeError), (np.float64(2.0), TypeError)]:
        for which in ("seed", "offset"):
            for x in (_t(), _a()):
                before = _bits(x)
                with pytest.raises(types, match=which):
                    getattr(fastinit, name)(x, *args, **{which: value})
                assert np.array_equal(_bits(x), before)


def test_bad_numpy_generator():
    for name in RANDOM:
        a = _a()
        before = _bits(a)
        with pytest.raises(TypeError, match="generator"):
            getattr(fastinit, name)(a, generator="g")
        assert np.array_equal(_bits(a), before)


# --------------------------------------------------------------------------
# offsets and views
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["normal_", "trunc_normal_", "trunc_normal_tail"])
@pytest.mark.parametrize("dt", DTYPES, ids=str)
def test_offset_semantics(name, dt):
    f = _CALLS[name]
    full = f(_t(dt), seed=31)
    flat = full.reshape(-1)
    n_rows, n_cols = SHAPE
    for r0, r1 in [(0, 1), (1, 2), (3, 10), (n_rows - 1, n_rows)]:
        shard = f(_t(dt, (r1 - r0, n_cols)), seed=31, offset=r0 * n_cols)
        assert same_bits(shard, full[r0:r1]), (r0, r1)
    for k in (1, 2, 3, 4, 5, 7, 100):
        tail = f(_t(dt, (flat.numel() - k,)), seed=31, offset=k)
        assert same_bits(tail, flat[k:]), k
    assert same_bits(f(_t(dt), seed=31, offset=0), full)
    # large offsets
    for base in (2**32 - 3, 2**62 + 1, 2**63 - 2):
        big = f(_t(dt, (40,)), seed=5, offset=base)
        for k in (1, 3, 4):
            assert same_bits(f(_t(dt, (30,)), seed=5, offset=base + k), big[k:k + 30]), (base, k)


def test_kaiming_normal_offset_shards():
    """A shard of a kaiming_normal_ weight: normal_ with the whole weight's std."""
    for dt in DTYPES:
        full = fastinit.kaiming_normal_(torch.empty(8, 16, dtype=dt), seed=4)
        std = torch_std("kaiming_normal_", (8, 16))
        part = fastinit.normal_(torch.empty(6, 16, dtype=dt), 0.0, std, seed=4, offset=32)
        assert same_bits(part, full[2:])


def _torch_views(base):
    yield base.t()
    yield base[::2]
    yield base[:, 1::3]
    yield base[2:9, 3:20:2].t()
    yield base.unsqueeze(1).expand(-1, 1, -1)[:, 0]  # size-1 expand: no overlap
    yield base.as_strided((5, 4), (1, 7))


@pytest.mark.parametrize("name", list(_CALLS))
@pytest.mark.parametrize("dt", DTYPES, ids=str)
def test_strided_views_torch(name, dt):
    f = _CALLS[name]
    for i in range(6):
        base = _t(dt, (20, 30))
        v = list(_torch_views(base))[i]
        before = base.clone()
        mask = torch.zeros(base.shape, dtype=torch.bool)
        list(_torch_views(mask))[i].fill_(True) if i != 4 else mask.fill_(True)
        r = f(v, seed=11, offset=3)
        assert r is v
        ref = f(torch.empty(v.shape, dtype=dt), seed=11, offset=3)
        assert same_bits(v, ref), (name, i)
        assert torch.equal(base[~mask], before[~mask]), "wrote outside the view"


@pytest.mark.parametrize("name", list(_CALLS))
@pytest.mark.parametrize("dt", NP_DTYPES, ids=lambda d: np.dtype(d).name)
def test_strided_views_numpy(name, dt):
    f = _CALLS[name]
    views = [lambda b: b.T, lambda b: b[::-2], lambda b: b[3:17, ::-3].T, lambda b: b.T[1:, ::2],
             lambda b: np.lib.stride_tricks.as_strided(b, (5, 4), (b.itemsize, 7 * b.itemsize))]
    for make in views:
        base = _a(dt, (20, 30))
        v = make(base)
        assert np.shares_memory(v, base)
        sentinel = base.copy()
        inside = np.zeros(base.shape, bool)
        make(inside)[...] = True
        r = f(v, seed=12)
        assert r is v
        ref = f(np.empty(v.shape, dt), seed=12)
        assert same_bits(v, ref)
        assert same_bits(base[~inside], sentinel[~inside]), "wrote outside the view"


def test_numpy_all_dtypes_match_torch():
    for name, f in _CALLS.items():
        for ndt, tdt in zip(NP_DTYPES, DTYPES):
            a = f(np.empty((13, 11), ndt), seed=99, offset=7)
            t = f(torch.empty(13, 11, dtype=tdt), seed=99, offset=7)
            assert same_bits(a, t), (name, ndt)


def test_fill_is_float32_rounded_for_16_bit_types():
    """float16/bfloat16 take one word per element as float32 does; the stream rounds the
    float32 value to the storage type (docs/STREAM.md)."""
    for name in ("normal_", "trunc_normal_tail"):
        f = _CALLS[name]
        x32 = f(torch.empty(5000), seed=8)
        for dt in (torch.float16, torch.bfloat16):
            x = f(torch.empty(5000, dtype=dt), seed=8)
            assert torch.equal(x, x32.to(dt)), (name, dt)


# --------------------------------------------------------------------------
# bad input: refused, buffer untouched
# --------------------------------------------------------------------------

BAD_NP = [np.int8, np.int32, np.int64, np.uint8, np.uint16, np.bool_, np.complex64, np.complex128]


def _args(name):
    return (0.5,) if name == "constant_" else ()


@pytest.mark.parametrize("name", RANDOM + CONSTANT)
def test_numpy_refusals(name):
    args = _args(name)
    f = getattr(fastinit, name)
    for dt in BAD_NP if name in RANDOM else ():  # constants fill every numeric dtype (test_hardening)
        a = np.ones((4, 3), dtype=dt)
        before = a.copy()
        with pytest.raises((TypeError, ValueError, NotImplementedError)):
            f(a, *args)
        assert np.array_equal(a, before)
    for dt in NP_DTYPES:
        # read-only
        a = _a(dt, (5, 4))
        a.flags.writeable = False
        with pytest.raises(ValueError, match="read-only"):
            f(a, *args)
        assert np.all(a.astype(np.float64) == 7.0)
        # overlapping views
        base = np.full(64, 7.0, dtype=dt)
        it = base.itemsize
        for shape, strides in [((4, 3), (it, it)), ((5, 2), (0, it)), ((3, 4), (2 * it, it))]:
            v = np.lib.stride_tricks.as_strided(base, shape=shape, strides=strides)
            with pytest.raises((RuntimeError, ValueError), match="overlap|memory location"):
                f(v, *args)
            assert np.all(base.astype(np.float64) == 7.0)
    # non-native byte order
    a = np.full((5, 4), 7.0, dtype=">f4")
    with pytest.raises(ValueError, match="byte order"):
        f(a, *args)
    assert np.all(a == 7.0)
    # not an array
    for obj in ([0.0, 1.0], None, 3.0, "abc"):
        with pytest.raises((TypeError, AttributeError)):
            f(obj, *args)


@pytest.mark.parametrize("name", RANDOM)
@pytest.mark.parametrize("dt", [torch.complex64, torch.complex128])
def test_torch_complex_refused(name, dt):
    """fastinit refuses complex random fills; trunc_normal_ with torch's own error (its
    rejection test has no complex comparison), the others with a TypeError."""
    t = torch.full((4, 3), 7 + 7j, dtype=dt)
    before = t.clone()
    if name == "trunc_normal_":
        with pytest.raises(NotImplementedError) as want:
            torch.nn.init.trunc_normal_(t.clone())
        with pytest.raises(NotImplementedError) as got:
            fastinit.trunc_normal_(t, seed=1)
        assert str(got.value) == str(want.value)
    else:
        with pytest.raises(TypeError, match="complex"):
            getattr(fastinit, name)(t, seed=1)
    assert torch.equal(t, before)


@pytest.mark.parametrize("dt", NP_DTYPES, ids=lambda d: np.dtype(d).name)
def test_numpy_bad_parameters(dt):
    """NumPy arrays get the checks a torch tensor of that dtype gets, with torch's messages."""
    tdt = TORCH_OF[np.dtype(dt)]
    cases = [
        ("normal_", (0.0, -1.0)),
        ("normal_", (0.0, math.nan)),
        ("normal_", ("x", 1.0)),
        ("kaiming_normal_", (0, "bad")),
        ("xavier_normal_", (-1.0,)),
        ("trunc_normal_", (0.0, 1.0, 2.0, -2.0)),
        ("trunc_normal_", (0.0, 0.0)),
        ("trunc_normal_", (0.0, 1.0, 5.0, math.inf)),
        ("constant_", (1e39,)),
        ("constant_", (3.4e38,)),
    ]
    for name, args in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # trunc_normal_ (0, 1, [5, inf]): both warn first
            try:
                getattr(torch.nn.init, name)(torch.full((5, 4), 7.0, dtype=tdt), *args)
                te = None
            except Exception as e:  # noqa: BLE001
                te = e
            a = _a(dt, (5, 4))
            if te is None:
                getattr(fastinit, name)(a, *args)
                continue
            with pytest.raises(type(te)) as ei:
                getattr(fastinit, name)(a, *args)
        assert str(ei.value) == str(te), (name, args, dt)
        assert np.all(a.astype(np.float64) == 7.0)


@pytest.mark.parametrize("name", CONSTANT)
def test_constant_target_checks(name):
    """torch fills integer, bool and complex tensors with a constant, and so does fastinit
    (torch's own fill_); overlapping views stay refused, with nothing written."""
    args = (2.0,) if name == "constant_" else ()
    for make in (_e(5, dtype=I32), _e(5, dtype=I64), _e(5, dtype=BOOL), _e(5, dtype=U8),
                 _e(3, 4, dtype=torch.complex64)):
        assert torch.equal(getattr(fastinit, name)(make(), *args), getattr(torch.nn.init, name)(make(), *args))
    t = _expanded(3, 4)()
    assert getattr(torch.nn.init, name)(t, *args) is t  # torch accepts
    t = _expanded(3, 4)()
    before = t.clone()
    with pytest.raises(RuntimeError, match="memory location"):
        getattr(fastinit, name)(t, *args)
    assert torch.equal(t, before)
    # what torch accepts among the supported dtypes, fastinit fills identically
    for dt in DTYPES:
        t = fastinit.__dict__[name](torch.full((3, 4), 7.0, dtype=dt).t(), *args)
        assert torch.equal(t, getattr(torch.nn.init, name)(torch.full((3, 4), 7.0, dtype=dt).t(), *args))


# --------------------------------------------------------------------------
# constant_, ones_, zeros_ on NumPy arrays
# --------------------------------------------------------------------------


def test_constant_numpy_values_equal_torch():
    rng = np.random.default_rng(0)
    vals = [0.0, -0.0, 1.0, -2.5, 0.1, 1 / 3, 65504.0, 65519.0, 1e-8, 6e-8, 1e-40, 3.3895313892515355e38, math.inf,
            -math.inf, True, 7, np.float32(0.3), torch.tensor(0.7)]
    vals += list(rng.standard_normal(200) * 10.0 ** rng.integers(-10, 5, 200))
    # values where rounding through float32 and rounding once differ for the 16-bit types
    vals += [float(np.nextafter(np.float32(1 + 2**-8), np.float32(2))) - 2**-40, 1 + 2**-11 + 2**-40]
    for dt, tdt in zip(NP_DTYPES, DTYPES):
        for v in vals:
            try:
                want = torch.nn.init.constant_(torch.empty(3, dtype=tdt), v)
            except RuntimeError:
                continue
            a = np.empty((3,), dt)
            r = fastinit.constant_(a, v)
            assert r is a
            assert same_bits(a, want), (dt, v)
        assert np.isnan(fastinit.constant_(np.empty(3, dt), math.nan).astype(np.float64)).all()
        assert np.all(fastinit.ones_(np.empty((4, 5), dt)) == 1)
        z = fastinit.zeros_(np.full((4, 5), -1.0, dt))
        assert same_bits(z, np.zeros((4, 5), dt))  # +0.0


def test_constant_numpy_views_and_bad_values():
    for dt in NP_DTYPES:
        base = _a(dt, (10, 12))
        v = base[1:8:2, ::-3]
        fastinit.constant_(v, 2.0)
        assert np.all(v.astype(np.float64) == 2.0)
        inside = np.zeros(base.shape, bool)
        inside[1:8:2, ::-3] = True
        assert np.all(base[~inside].astype(np.float64) == 7.0)
        fastinit.zeros_(v.T)
        assert np.all(v.astype(np.float64) == 0.0)
        fastinit.ones_(base[:, 5])
        assert np.all(base[:, 5].astype(np.float64) == 1.0)
        for bad, err in (("x", TypeError), (None, TypeError), (1j, RuntimeError), ([1.0], TypeError),
                         (torch.tensor([1.0, 2.0]), RuntimeError)):  # torch's fill_ errors
            a = _a(dt, (3,))
            with pytest.raises(err):
                fastinit.constant_(a, bad)
            assert np.all(a.astype(np.float64) == 7.0)
