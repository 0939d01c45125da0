"""Parity of fastinit's Python surface with torch.nn.init.

Every expected value here is computed by torch at test time (bounds recorded
from torch's own call to Tensor.uniform_, exceptions raised by torch's own
function); nothing is hard-coded from fastinit's output.
"""

import inspect
import math
import warnings

import numpy as np
import pytest
import scipy.stats
import torch

import fastinit
from helpers import Deferring as _Deferring, Recorder as _Recorder
from helpers import case_id as _case_id, expanded as _expanded, filled as _e
from helpers import record_torch_method, same_outcome_as_torch

try:  # independent NumPy implementation of the stream (other helper)
    from reference import expected as ref_expected
except Exception:  # pragma: no cover - reference not there yet
    ref_expected = None

NONLINEARITIES = [
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "selu",
]
A_VALUES = [0, math.sqrt(5), 0.01, 10]
SHAPES = [(7, 5), (3, 1), (6, 4, 3), (8, 3, 3, 3), (4, 2, 3, 2, 5), (1, 1, 1, 1, 1)]
MODES = ["fan_in", "fan_out"]
DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]


def record_torch_uniform():
    return record_torch_method("uniform_")


def torch_kaiming_bound(shape, a, mode, nonlinearity):
    with record_torch_uniform() as calls:
        torch.nn.init.kaiming_uniform_(torch.empty(shape), a=a, mode=mode, nonlinearity=nonlinearity)
    assert len(calls) == 1
    lo, hi = calls[0]
    assert lo == -hi
    return hi


def torch_xavier_bound(shape, gain):
    with record_torch_uniform() as calls:
        torch.nn.init.xavier_uniform_(torch.empty(shape), gain=gain)
    assert len(calls) == 1
    lo, hi = calls[0]
    assert lo == -hi
    return hi


# --------------------------------------------------------------------------
# signatures
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["uniform_", "kaiming_uniform_", "xavier_uniform_", "calculate_gain"])
def test_signature_matches_torch(name):
    tp = list(inspect.signature(getattr(torch.nn.init, name)).parameters.values())
    fp = list(inspect.signature(getattr(fastinit, name)).parameters.values())
    # torch's parameters first, same names, kinds and defaults, same order
    assert [(p.name, p.kind, p.default) for p in fp[: len(tp)]] == [(p.name, p.kind, p.default) for p in tp]
    extra = fp[len(tp) :]
    if name == "calculate_gain":
        assert extra == []
    else:
        assert [(p.name, p.kind, p.default) for p in extra] == [
            ("seed", inspect.Parameter.KEYWORD_ONLY, None),
            ("offset", inspect.Parameter.KEYWORD_ONLY, 0),
        ]


# --------------------------------------------------------------------------
# bounds
# --------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
def test_kaiming_bound_equals_torch(shape):
    for mode in MODES:
        for nl in NONLINEARITIES:
            for a in A_VALUES:
                tb = torch_kaiming_bound(shape, a, mode, nl)
                for arg in (shape, torch.Size(shape), torch.empty(shape)):
                    fb = fastinit.kaiming_bound(arg, a, mode, nl)
                    assert fb == tb, (shape, mode, nl, a, fb, tb)
                # keywords, as documented
                fb = fastinit.kaiming_bound(shape, a=a, mode=mode, nonlinearity=nl)
                assert fb == tb and isinstance(fb, float)


def test_kaiming_bound_defaults_equal_torch():
    for shape in SHAPES:
        with record_torch_uniform() as calls:
            torch.nn.init.kaiming_uniform_(torch.empty(shape))
        assert fastinit.kaiming_bound(shape) == calls[0][1]


@pytest.mark.parametrize("shape", SHAPES)
def test_kaiming_fill_uses_torch_bound(shape):
    """The fill of kaiming_uniform_ is exactly uniform_(-bound, bound) with
    torch's bound (same seed -> bit-identical), inside +-bound."""
    seed = 1234
    for mode in MODES:
        for nl in ["leaky_relu", "relu", "tanh", "selu", "linear"]:
            for a in A_VALUES:
                tb = torch_kaiming_bound(shape, a, mode, nl)
                for dt in DTYPES:
                    t = torch.empty(shape, dtype=dt)
                    r = fastinit.kaiming_uniform_(t, a, mode, nl, seed=seed)
                    assert r is t
                    u = torch.empty(shape, dtype=dt)
                    fastinit.uniform_(u, -tb, tb, seed=seed)
                    assert torch.equal(t, u), (shape, mode, nl, a, dt)
                    b_s = torch.tensor(tb, dtype=dt).item()
                    assert t.abs().max().item() <= b_s
                    if ref_expected is not None and dt in (torch.float32, torch.float64):
                        exp = ref_expected(shape, {torch.float32: np.float32, torch.float64: np.float64}[dt], -tb, tb, seed)
                        np.testing.assert_array_equal(t.numpy(), np.asarray(exp).reshape(shape))


def test_kaiming_fill_reaches_bound():
    shape = (64, 32, 3, 3)  # 18432 elements: P(max|x| < (1 - 1e-3) b) ~ 1e-8
    for mode in MODES:
        for nl in ["leaky_relu", "relu", "tanh", "selu", "linear"]:
            for a in A_VALUES:
                tb = torch_kaiming_bound(shape, a, mode, nl)
                t = fastinit.kaiming_uniform_(torch.empty(shape), a, mode, nl, seed=5)
                lo32 = torch.tensor(-tb, dtype=torch.float32).item()
                hi32 = torch.tensor(tb, dtype=torch.float32).item()
                assert t.min().item() >= lo32 and t.max().item() < hi32
                assert t.max().item() > hi32 * (1 - 1e-3)
                assert t.min().item() < lo32 * (1 - 1e-3)


@pytest.mark.parametrize("shape", SHAPES)
def test_xavier_bound_and_fill(shape):
    seed = 99
    for gain in [1.0, 5.0 / 3, math.sqrt(2.0), 0.75, 0.5, 3, torch.nn.init.calculate_gain("leaky_relu", 0.2)]:
        tb = torch_xavier_bound(shape, gain)
        for dt in DTYPES:
            t = torch.empty(shape, dtype=dt)
            r = fastinit.xavier_uniform_(t, gain, seed=seed)
            assert r is t
            u = torch.empty(shape, dtype=dt)
            fastinit.uniform_(u, -tb, tb, seed=seed)
            assert torch.equal(t, u), (shape, gain, dt)
            assert t.abs().max().item() <= torch.tensor(tb, dtype=dt).item()
    # reaches the bound on a large tensor
    big = (96, 64, 3)
    tb = torch_xavier_bound(big, 1.0)
    t = fastinit.xavier_uniform_(torch.empty(big), seed=3)
    assert t.max().item() < tb and t.min().item() >= -tb
    assert t.max().item() > tb * (1 - 1e-3) and t.min().item() < -tb * (1 - 1e-3)


def test_uniform_bounds():
    n = 100_000
    for a, b in [(0.0, 1.0), (-2.0, 3.0), (-1e-3, 1e-3), (5, 7), (-7.5, -7.25)]:
        for dt in DTYPES:
            t = fastinit.uniform_(torch.empty(n, dtype=dt), a, b, seed=11)
            lo = torch.tensor(a, dtype=dt).item()
            hi = torch.tensor(b, dtype=dt).item()
            assert t.min().item() >= lo and t.max().item() < hi, (a, b, dt)
            if dt in (torch.float32, torch.float64):
                w = b - a
                assert t.max().item() > b - 1e-3 * w and t.min().item() < a + 1e-3 * w
    # defaults are [0, 1)
    t = fastinit.uniform_(torch.empty(n), seed=1)
    assert t.min().item() >= 0 and t.max().item() < 1 and t.max().item() > 0.999
    # from == to fills with that value, as torch does
    t1 = torch.empty(10)
    torch.nn.init.uniform_(t1, 2.5, 2.5)
    t2 = fastinit.uniform_(torch.empty(10), 2.5, 2.5, seed=1)
    assert torch.equal(t1, t2)


# --------------------------------------------------------------------------
# calculate_gain
# --------------------------------------------------------------------------

GAIN_PARAMS = [None, 0, 1, 2, -3, 0.0, 0.01, 0.2, -0.5, 1.0, 10.0, 1e-300, 1e200, math.inf, math.nan]


def _outcome(fn):
    try:
        return ("ok", fn())
    except Exception as e:  # noqa: BLE001
        return ("raise", type(e), str(e))


def _same(o1, o2):
    if o1[0] != o2[0]:
        return False
    if o1[0] == "raise":
        return o1 == o2
    a, b = o1[1], o2[1]
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return a == b and type(a) is type(b)


def test_calculate_gain_values():
    for nl in NONLINEARITIES:
        for p in GAIN_PARAMS:
            to = _outcome(lambda: torch.nn.init.calculate_gain(nl, p))
            fo = _outcome(lambda: fastinit.calculate_gain(nl, p))
            assert _same(to, fo), (nl, p, to, fo)
        # positional default
        assert _same(_outcome(lambda: torch.nn.init.calculate_gain(nl)), _outcome(lambda: fastinit.calculate_gain(nl)))


def test_calculate_gain_errors():
    bad = [
        ("leaky_relu", "x"),
        ("leaky_relu", True),
        ("leaky_relu", False),
        ("leaky_relu", [1]),
        ("leaky_relu", 1j),
        ("leaky_relu", np.float32(0.2)),
        ("leaky_relu", np.int64(2)),
        ("relu", "x"),  # param ignored by torch for relu
        ("tanh", True),
        ("bad", None),
        ("ReLU", None),
        ("", None),
        (None, None),
        (3, None),
    ]
    for nl, p in bad:
        to = _outcome(lambda: torch.nn.init.calculate_gain(nl, p))
        fo = _outcome(lambda: fastinit.calculate_gain(nl, p))
        assert _same(to, fo), (nl, p, to, fo)


# --------------------------------------------------------------------------
# exceptions, warnings and check order
# --------------------------------------------------------------------------


_GEN = torch.Generator()
CASES = [
    # kaiming_uniform_
    ("kaiming_uniform_", _e(3, 4), (), {"mode": "bad"}),
    ("kaiming_uniform_", _e(3, 4), (), {"mode": "FAN_IN"}),  # torch lowercases
    ("kaiming_uniform_", _e(3, 4), (), {"mode": "Fan_Out"}),
    ("kaiming_uniform_", _e(3, 4), (), {"nonlinearity": "bad"}),
    ("kaiming_uniform_", _e(3, 4), (), {"nonlinearity": "ReLU"}),
    ("kaiming_uniform_", _e(3), (), {}),
    ("kaiming_uniform_", _e(), (), {}),
    ("kaiming_uniform_", _e(3), (), {"mode": "bad"}),  # mode checked before dims
    ("kaiming_uniform_", _e(3), (), {"nonlinearity": "bad"}),  # dims before nonlinearity
    ("kaiming_uniform_", _e(3, 4), (), {"mode": "bad", "nonlinearity": "bad"}),
    ("kaiming_uniform_", _e(3, 4), ("x",), {}),
    ("kaiming_uniform_", _e(3, 4), (True,), {}),
    ("kaiming_uniform_", _e(3, 4), (), {"a": "x", "nonlinearity": "relu"}),  # ignored by relu
    ("kaiming_uniform_", _e(3, 4), (), {"a": None}),
    ("kaiming_uniform_", _e(3, 4), (), {"mode": 3}),
    ("kaiming_uniform_", _e(3, 4), (), {"mode": None}),
    ("kaiming_uniform_", _e(3, 4, dtype=torch.int32), (), {}),
    ("kaiming_uniform_", _e(3, 4, dtype=torch.int64), (), {}),
    ("kaiming_uniform_", _e(3, 4, dtype=torch.uint8), (), {}),
    ("kaiming_uniform_", _e(3, 4, dtype=torch.bool), (), {}),
    ("kaiming_uniform_", _e(3, 4, dtype=torch.int32), (), {"mode": "bad"}),
    ("kaiming_uniform_", _e(3, dtype=torch.int32), (), {}),
    ("kaiming_uniform_", _expanded(3, 4), (), {}),
    ("kaiming_uniform_", _e(3, 4), (), {"generator": 3}),
    ("kaiming_uniform_", _e(3, 4), (), {"generator": np.random.default_rng(0)}),
    ("kaiming_uniform_", _e(3, 4), (0, "fan_in", "leaky_relu", "gen"), {}),
    ("kaiming_uniform_", _e(3, 4), (), {"generator": _GEN}),
    ("kaiming_uniform_", _e(3, 4, dtype=torch.float16), (), {}),
    # zero-element tensors: warning and early return before any check
    ("kaiming_uniform_", _e(0, 4), (), {}),
    ("kaiming_uniform_", _e(4, 0), (), {}),
    ("kaiming_uniform_", _e(0), (), {}),
    ("kaiming_uniform_", _e(2, 0, 3), (), {}),
    ("kaiming_uniform_", _e(0, 4), (), {"mode": "bad"}),
    ("kaiming_uniform_", _e(0, 4), (), {"nonlinearity": "bad"}),
    ("kaiming_uniform_", _e(0, 4), (), {"a": "x"}),
    ("kaiming_uniform_", _e(0, 4, dtype=torch.int32), (), {}),
    ("kaiming_uniform_", _e(0, 4), (), {"generator": 3}),
    # xavier_uniform_
    ("xavier_uniform_", _e(3), (), {}),
    ("xavier_uniform_", _e(), (), {}),
    ("xavier_uniform_", _e(0, 0), (), {}),
    ("xavier_uniform_", _e(0, 5), (), {}),
    ("xavier_uniform_", _e(0), (), {}),
    ("xavier_uniform_", _e(0, 5, dtype=torch.int32), (), {}),
    ("xavier_uniform_", _e(3, 4, dtype=torch.int32), (), {}),
    ("xavier_uniform_", _e(3, 4, dtype=torch.bool), (), {}),
    ("xavier_uniform_", _expanded(3, 4), (), {}),
    ("xavier_uniform_", _e(3, 4), ("x",), {}),
    ("xavier_uniform_", _e(3, 4), (None,), {}),
    ("xavier_uniform_", _e(3, 4), (math.inf,), {}),
    ("xavier_uniform_", _e(3, 4), (math.nan,), {}),
    ("xavier_uniform_", _e(3, 4), (-1.0,), {}),
    ("xavier_uniform_", _e(3, 4), (), {"generator": 3}),
    # uniform_
    ("uniform_", _e(5), (2.0, 1.0), {}),
    ("uniform_", _e(5), (1, 1), {}),
    ("uniform_", _e(5), (math.nan, 1.0), {}),
    ("uniform_", _e(5), (0.0, math.nan), {}),
    ("uniform_", _e(5), (0.0, math.inf), {}),
    ("uniform_", _e(5), (-math.inf, 0.0), {}),
    ("uniform_", _e(5, dtype=torch.float64), (-math.inf, math.inf), {}),
    ("uniform_", _e(5), (0.0, 1e39), {}),
    ("uniform_", _e(5), (-1e39, 0.0), {}),
    ("uniform_", _e(5, dtype=torch.float64), (0.0, 1e39), {}),
    ("uniform_", _e(5, dtype=torch.float16), (0.0, 1e5), {}),
    ("uniform_", _e(5, dtype=torch.float16), (-1e5, 0.0), {}),
    ("uniform_", _e(5, dtype=torch.float16), (0.0, 65504.0), {}),
    ("uniform_", _e(5, dtype=torch.float16), (0.0, 65520.0), {}),
    ("uniform_", _e(5, dtype=torch.float16), (-60000.0, 60000.0), {}),
    ("uniform_", _e(5, dtype=torch.float16), (1e5, 0.0), {}),
    ("uniform_", _e(5, dtype=torch.bfloat16), (0.0, 1e39), {}),
    ("uniform_", _e(5, dtype=torch.bfloat16), (-3e38, 3e38), {}),
    ("uniform_", _e(5), (-3e38, 3e38), {}),
    ("uniform_", _e(5), (-1.7e38, 1.7e38), {}),
    ("uniform_", _e(5, dtype=torch.float64), (-1e308, 1e308), {}),
    ("uniform_", _e(5, dtype=torch.float64), (-8e307, 8e307), {}),
    ("uniform_", _e(5, dtype=torch.int32), (0.0, 1.0), {}),
    ("uniform_", _e(5, dtype=torch.int64), (2.0, 1.0), {}),
    ("uniform_", _e(5, dtype=torch.bool), (), {}),
    ("uniform_", _e(5, dtype=torch.uint8), (), {}),
    ("uniform_", _expanded(4), (), {}),
    ("uniform_", _expanded(3, 4), (2.0, 1.0), {}),
    ("uniform_", _e(5), (), {"generator": 3}),
    ("uniform_", _e(5), (), {"generator": "g"}),
    ("uniform_", _e(5), (), {"generator": np.random.default_rng(0)}),
    ("uniform_", _e(5), (2.0, 1.0), {"generator": 3}),
    ("uniform_", _e(5), (0.0, 1.0, 3), {}),
    ("uniform_", _e(5), ("x", 1.0), {}),
    ("uniform_", _e(5), (0.0, None), {}),
    ("uniform_", _e(0), (2.0, 1.0), {}),
    ("uniform_", _e(0), (), {}),
    ("uniform_", _e(0, dtype=torch.int32), (), {}),
    ("uniform_", _e(), (0.0, 1.0), {}),
    ("uniform_", _e(5), (0.0, 1.0), {"generator": _GEN}),
]


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_same_outcome_as_torch(case):
    (to, _, tt, _), (_, _, ft, fbefore) = same_outcome_as_torch(*case)
    if to[0] == "raise":
        # nothing written
        assert ft.dtype == tt.dtype
        assert torch.equal(ft, fbefore) or (ft.numel() == 0)


def test_zero_element_warning_points_at_caller():
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        torch.nn.init.kaiming_uniform_(torch.empty(0, 3))
        fastinit.kaiming_uniform_(torch.empty(0, 3))
    assert len(w) == 2
    assert w[0].category is w[1].category is UserWarning
    assert str(w[0].message) == str(w[1].message)
    # torch uses stacklevel=2: the warning names the caller's file
    assert w[0].filename == __file__
    assert w[1].filename == w[0].filename


def test_zero_element_kaiming_does_not_touch_generators():
    g = torch.Generator().manual_seed(3)
    s0 = g.get_state()
    d0 = torch.default_generator.get_state()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = torch.empty(0, 5)
        assert fastinit.kaiming_uniform_(t, generator=g) is t
        assert fastinit.kaiming_uniform_(t) is t
    assert torch.equal(g.get_state(), s0)
    assert torch.equal(torch.default_generator.get_state(), d0)


# --------------------------------------------------------------------------
# __torch_function__
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,shape,kwargs",
    [
        ("kaiming_uniform_", (3, 4), {"a": 0.5, "mode": "fan_out", "nonlinearity": "relu"}),
        ("kaiming_uniform_", (3,), {"mode": "bad"}),  # dispatch before any check
        ("kaiming_uniform_", (0, 4), {}),  # ... and before the zero-element warning
        ("uniform_", (5,), {"a": 2.0, "b": 1.0}),
        ("uniform_", (5,), {"a": -1.0, "b": 1.0}),
    ],
)
def test_torch_function_dispatch(name, shape, kwargs):
    results = {}
    for mod in (torch.nn.init, fastinit):
        _Recorder.log.clear()
        t = torch.empty(shape).as_subclass(_Recorder)
        g = torch.Generator()
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            r = getattr(mod, name)(t, generator=g, **kwargs)
        assert r == "dispatched"
        assert w == [], [str(x.message) for x in w]
        assert len(_Recorder.log) == 1
        func, types, args, kw = _Recorder.log[0]
        assert func is getattr(mod, name)
        assert _Recorder in types
        # torch passes the tensor as a keyword (handle_torch_function(f, (t,), tensor=t, ...))
        tensors = [x for x in args if x is t] + [v for v in kw.values() if v is t]
        assert len(tensors) == 1
        assert kw.pop("generator") is g
        kw = {k: ("<the tensor>" if v is t else v) for k, v in kw.items()}
        results[mod] = (len(args), kw)
    (tn, tk), (fn, fk) = results[torch.nn.init], results[fastinit]
    assert tn == fn, (tn, fn)
    for k, v in tk.items():
        assert k in fk and (fk[k] is v or fk[k] == v), (k, tk, fk)
    # anything else fastinit forwards can only be its own keyword-only args
    assert set(fk) - set(tk) <= {"seed", "offset"}


@pytest.mark.parametrize("name", ["kaiming_uniform_", "uniform_"])
def test_torch_function_deferring_subclass_fills(name):
    _Deferring.log.clear()
    t = torch.empty(16, 8).as_subclass(_Deferring)
    r = getattr(fastinit, name)(t, seed=77, offset=3)
    assert r is t
    assert _Deferring.log and _Deferring.log[0] is getattr(fastinit, name)
    plain = getattr(fastinit, name)(torch.empty(16, 8), seed=77, offset=3)
    assert torch.equal(t.as_subclass(torch.Tensor), plain), "seed=/offset= lost through __torch_function__"


def test_xavier_on_subclass_like_torch():
    """torch.nn.init.xavier_uniform_ has no __torch_function__ hook of its own;
    it must work on a deferring subclass and return the same object."""
    t = torch.empty(6, 5).as_subclass(_Deferring)
    r = torch.nn.init.xavier_uniform_(t)
    assert r is t
    t2 = torch.empty(6, 5).as_subclass(_Deferring)
    r2 = fastinit.xavier_uniform_(t2, seed=1)
    assert r2 is t2
    plain = fastinit.xavier_uniform_(torch.empty(6, 5), seed=1)
    assert torch.equal(t2.as_subclass(torch.Tensor), plain)


# --------------------------------------------------------------------------
# identity and autograd
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["kaiming_uniform_", "xavier_uniform_", "uniform_"])
def test_parameter_stays_leaf(name):
    p = torch.nn.Parameter(torch.zeros(12, 7))
    assert torch.is_grad_enabled()
    r = getattr(fastinit, name)(p, seed=5)
    assert r is p
    assert type(r) is torch.nn.Parameter
    assert p.is_leaf and p.grad_fn is None and p.requires_grad
    assert torch.is_grad_enabled()
    assert p.abs().sum().item() > 0
    # still a usable leaf
    (p * 2).sum().backward()
    assert torch.equal(p.grad, torch.full_like(p, 2.0))


@pytest.mark.parametrize("name", ["kaiming_uniform_", "xavier_uniform_", "uniform_"])
def test_non_leaf_like_torch(name):
    def make():
        x = torch.ones(6, 5, requires_grad=True)
        return x, x * 2

    x1, y1 = make()
    getattr(torch.nn.init, name)(y1)
    x2, y2 = make()
    r = getattr(fastinit, name)(y2, seed=1)
    assert r is y2
    assert type(y2.grad_fn) is type(y1.grad_fn)
    assert y2.requires_grad == y1.requires_grad
    assert y2._version == y1._version


def test_grad_mode_restored_after_error():
    p = torch.nn.Parameter(torch.zeros(3, 4))
    with pytest.raises(ValueError):
        fastinit.kaiming_uniform_(p, mode="bad")
    assert torch.is_grad_enabled()
    with pytest.raises(RuntimeError):
        fastinit.uniform_(p, 2.0, 1.0)
    assert torch.is_grad_enabled()
    with torch.no_grad():
        fastinit.uniform_(p, seed=1)
        assert not torch.is_grad_enabled()
    assert torch.is_grad_enabled()


def test_inference_mode_tensor():
    with torch.inference_mode():
        t = torch.empty(4, 4)
    t1 = torch.empty(4, 4)
    with torch.inference_mode():
        torch.nn.init.uniform_(t1)
        r = fastinit.uniform_(t, seed=1)
    assert r is t


# --------------------------------------------------------------------------
# distribution vs torch
# --------------------------------------------------------------------------


def test_two_sample_ks_against_torch():
    n = 1_000_000
    b = 1 / math.sqrt(768)
    g = torch.Generator().manual_seed(2024)
    tt = torch.empty(n).uniform_(-b, b, generator=g).numpy()
    ft = fastinit.uniform_(torch.empty(n), -b, b, seed=2024).numpy()
    res = scipy.stats.ks_2samp(ft, tt)
    assert res.pvalue > 1e-6, res
    # the same for kaiming_uniform_ against torch's kaiming_uniform_
    shape = (1000, 1000)
    g = torch.Generator().manual_seed(7)
    tk = torch.nn.init.kaiming_uniform_(torch.empty(shape), a=math.sqrt(5), generator=g).numpy().ravel()
    fk = fastinit.kaiming_uniform_(torch.empty(shape), a=math.sqrt(5), seed=7).numpy().ravel()
    res = scipy.stats.ks_2samp(fk, tk)
    assert res.pvalue > 1e-6, res


def test_linear_768_3072_sqrt5_story():
    lin = torch.nn.Linear(768, 3072)
    w = lin.weight
    ref = 1 / math.sqrt(768)
    tb = torch_kaiming_bound(tuple(w.shape), math.sqrt(5), "fan_in", "leaky_relu")
    fb = fastinit.kaiming_bound(w, a=math.sqrt(5))
    assert fb == tb
    assert abs(fb - ref) <= math.ulp(ref), (fb, ref)
    r = fastinit.kaiming_uniform_(w, a=math.sqrt(5), seed=0)
    assert r is w and w.is_leaf and w.grad_fn is None and w.requires_grad
    ref32 = torch.tensor(ref, dtype=torch.float32).item()
    fb32 = torch.tensor(fb, dtype=torch.float32).item()
    assert w.abs().max().item() <= max(ref32, fb32)
    assert w.min().item() >= -fb32 and w.max().item() < fb32
    assert w.abs().max().item() > 0.999 * ref


# --- issue 18 finding 3: every public fill honours a subclass's __torch_function__ ---------------

class _RefusesInplace(torch.Tensor):
    """A subclass that refuses every in-place function (name ending in one underscore)."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name.endswith("_") and not name.endswith("__"):
            raise RuntimeError(f"_RefusesInplace refuses {name}")
        return super().__torch_function__(func, types, args, kwargs or {})


class _Records(torch.Tensor):
    """A pass-through subclass that records the functions it is offered."""

    seen = []

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        cls.seen.append(func)
        return super().__torch_function__(func, types, args, kwargs or {})


# (name, shape, positional arguments after the tensor)
_ALL_FILLS = [
    ("uniform_", (6, 5), ()), ("normal_", (6, 5), ()), ("kaiming_uniform_", (6, 5), ()),
    ("kaiming_normal_", (6, 5), ()), ("xavier_uniform_", (6, 5), ()), ("xavier_normal_", (6, 5), ()),
    ("trunc_normal_", (6, 5), ()), ("constant_", (6, 5), (0.5,)), ("ones_", (6, 5), ()), ("zeros_", (6, 5), ()),
    ("orthogonal_", (6, 5), ()), ("sparse_", (6, 5), (0.5,)), ("eye_", (6, 5), ()), ("dirac_", (6, 5, 3), ()),
    ("variance_scaling_", (6, 5), ()), ("lecun_uniform_", (6, 5), ()), ("lecun_normal_", (6, 5), ()),
]
_TORCH_HAS = {"uniform_", "normal_", "kaiming_uniform_", "kaiming_normal_", "xavier_uniform_", "xavier_normal_",
              "trunc_normal_", "constant_", "ones_", "zeros_", "orthogonal_", "sparse_", "dirac_"}
# (torch's eye_ offers the subclass torch.eye(..., out=t), not an in-place name: this subclass lets
# it through; fastinit offers fastinit.eye_ itself, which it refuses)


@pytest.mark.parametrize("name,shape,args", _ALL_FILLS, ids=[c[0] for c in _ALL_FILLS])
def test_subclass_refusing_inplace_is_not_written(name, shape, args):
    if name in _TORCH_HAS:  # torch's own function refuses too (through the Tensor methods it calls)
        t = torch.full(shape, 7.0).as_subclass(_RefusesInplace)
        with pytest.raises(RuntimeError, match="_RefusesInplace refuses"):
            getattr(torch.nn.init, name)(t, *args)
    t = torch.full(shape, 7.0).as_subclass(_RefusesInplace)
    g = torch.Generator().manual_seed(1)
    state = g.get_state()
    kwargs = {} if name in ("eye_", "dirac_", "constant_", "ones_", "zeros_") else {"generator": g}
    with pytest.raises(RuntimeError, match="_RefusesInplace refuses"):
        getattr(fastinit, name)(t, *args, **kwargs)
    assert torch.equal(t.as_subclass(torch.Tensor), torch.full(shape, 7.0)), f"{name} wrote through the subclass"
    assert torch.equal(g.get_state(), state), f"{name} drew a key for a refused call"


@pytest.mark.parametrize("name,shape,args", _ALL_FILLS, ids=[c[0] for c in _ALL_FILLS])
def test_pass_through_subclass_gets_fastinits_values(name, shape, args):
    fn = getattr(fastinit, name)
    kwargs = {} if name in ("eye_", "dirac_") else {"seed": 11}
    _Records.seen.clear()
    t = torch.full(shape, 7.0).as_subclass(_Records)
    assert fn(t, *args, **kwargs) is t
    assert _Records.seen and _Records.seen[0] is fn, _Records.seen[:3]
    want = fn(torch.full(shape, 7.0), *args, **kwargs)
    assert torch.equal(t.as_subclass(torch.Tensor), want)


# --------------------------------------------------------------------------
# argument types of uniform_/normal_ (issue 18 finding 11): exactly what torch's argument
# parser takes for a double (Python float/int/bool and subclasses, NumPy scalars, a 0-d
# tensor without grad); everything else torch's TypeError, nothing drawn or written
# --------------------------------------------------------------------------
class _FloatSub(float):
    pass


def _arg_values():
    import decimal
    import fractions

    return [
        ("fraction", fractions.Fraction(1, 3)),
        ("decimal", decimal.Decimal("0.25")),
        ("float_subclass", _FloatSub(0.25)),
        ("bool", True),
        ("big_int", 2**70),
        ("np_float32", np.float32(0.25)),
        ("np_float16", np.float16(0.25)),
        ("np_int64", np.int64(0)),
        ("np_uint8", np.uint8(0)),
        ("np_bool", np.bool_(True)),
        ("np_longdouble", np.longdouble(0.25)),
        ("np_0d_array", np.array(0.25)),
        ("tensor_0d", torch.tensor(0.25)),
        ("tensor_0d_f16", torch.tensor(0.25, dtype=torch.float16)),
        ("tensor_0d_int", torch.tensor(0)),
        ("tensor_0d_bool", torch.tensor(False)),
        ("tensor_0d_requires_grad", torch.tensor(0.25, requires_grad=True)),
        ("parameter_0d", torch.nn.Parameter(torch.tensor(0.25))),
        ("parameter_0d_no_grad", torch.nn.Parameter(torch.tensor(0.25), requires_grad=False)),
        ("tensor_1d", torch.tensor([0.25])),
        ("tensor_0d_complex", torch.tensor(0.25 + 0j)),
        ("complex", 0.25 + 0j),
        ("str", "0.25"),
    ]


def _call_outcome(fn, t, args):
    """_outcome of ``fn(t, *args)`` with warnings ignored and without the returned tensor:
    ("ok",) or ("raise", exception type, message), what torch's and fastinit's calls are
    compared by."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        o = _outcome(lambda: fn(t, *args))
    return o[:1] if o[0] == "ok" else o


@pytest.mark.parametrize("position", [0, 1])
@pytest.mark.parametrize("method", ["uniform_", "normal_"])
@pytest.mark.parametrize("label,value", _arg_values(), ids=[c[0] for c in _arg_values()])
def test_double_argument_types_like_torch(method, position, label, value):
    """Each argument type against torch's own Tensor method and torch.nn.init function at
    test time: the same acceptance, exception type and message, the same parameter value;
    a refusal draws nothing and writes nothing."""
    args = [0.0, 1.0]
    args[position] = value
    if method == "uniform_" and position == 0 and label in ("big_int",):
        args[1] = 2.0**80  # keep from <= to, so only the type is tested

    want = _call_outcome(lambda t, *a: getattr(t, method)(*a), torch.empty(64, dtype=torch.float64), args)
    want_init = _call_outcome(getattr(torch.nn.init, method), torch.empty(64, dtype=torch.float64), args)
    assert want[:2] == want_init[:2]  # the method is what torch.nn.init calls
    target = torch.full((64,), 7.0, dtype=torch.float64)
    state = torch.get_rng_state()
    got = _call_outcome(getattr(fastinit, method), target, args)
    if want[0] == "raise":
        assert got == want, (label, got, want)
        assert torch.equal(torch.get_rng_state(), state), "a refused call advanced the generator"
        assert bool((target == 7.0).all()), "a refused call wrote"
        return
    assert got[0] == "ok", (label, got)
    # the parameter torch took is the one fastinit took: compare with plain floats
    plain = [float(v) if not isinstance(v, torch.Tensor) else float(v.detach()) for v in args]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = getattr(fastinit, method)(torch.empty(64, dtype=torch.float64), *plain, seed=5)
        again = getattr(fastinit, method)(torch.empty(64, dtype=torch.float64), *args, seed=5)
    assert torch.equal(ref, again)


def _trunc_cases():
    import fractions

    return [
        # the case Hypothesis found: a narrow interval (uniform_ branch), a bool mean
        ("bool_mean_narrow", (), (True, 1.0, 2.0, 3.0)),
        ("bool_mean_narrow_empty", (0,), (True, 1.0, 2.0, 3.0)),
        ("tensor_bool_mean_narrow", (4,), (torch.tensor(True), 1.0, 2.0, 3.0)),
        ("fraction_mean_narrow", (4,), (fractions.Fraction(1), 1.0, 2.0, 3.0)),
        ("fraction_std_narrow", (4,), (0.0, fractions.Fraction(1), 2.0, 3.0)),
        ("fraction_mean_wide", (4,), (fractions.Fraction(1), 1.0, -2.0, 3.0)),
        # uniform_'s own check comes first (torch's order): a > b with a bool mean
        ("bool_mean_narrow_bad_bounds", (4,), (True, 1.0, 3.0, 2.0)),
        # accepted by torch: bool mean in the wide branch, bool std, NumPy bool mean
        ("bool_mean_wide", (4,), (True, 1.0, -2.0, 3.0)),
        ("bool_std_narrow", (4,), (0.0, True, 2.0, 3.0)),
        ("np_bool_mean_narrow", (4,), (np.bool_(True), 1.0, 2.0, 3.0)),
    ]


@pytest.mark.parametrize("shape,args", [c[1:] for c in _trunc_cases()], ids=[c[0] for c in _trunc_cases()])
def test_trunc_normal_rejection_arithmetic_like_torch(shape, args):
    """torch's trunc_normal_ runs candidates.sub_(mean).div_(std) after uniform_(a, b) for
    a narrow interval: its refusals (a bool mean: RuntimeError; a Fraction: TypeError) are
    fastinit's, with torch's message, in torch's order; nothing drawn or written."""
    want = _call_outcome(torch.nn.init.trunc_normal_, torch.empty(shape), args)
    target = torch.full(shape, 7.0)
    state = torch.get_rng_state()
    got = _call_outcome(fastinit.trunc_normal_, target, args)
    assert got == want
    if want[0] == "raise":
        assert torch.equal(torch.get_rng_state(), state), "a refused call advanced the generator"
        assert bool((target == 7.0).all()), "a refused call wrote"
