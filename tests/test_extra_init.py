"""orthogonal_, sparse_, eye_, dirac_ (torch.nn.init's semantics) and the JAX-style
variance_scaling_ / lecun_* (issue 12)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats as st
import torch

import fastinit
from helpers import same_outcome_as_torch

P_MIN = 1e-6  # statistical tests: fixed seeds, extreme thresholds


def filled(*shape, dtype=torch.float32):
    return lambda: torch.full(shape, 7.0).to(dtype)


# --------------------------------------------------------------------------
# eye_ / dirac_: exactly torch's values, errors and messages
# --------------------------------------------------------------------------

EYE_SHAPES = [(3, 5), (5, 3), (4, 4), (0, 3), (3, 0), (1, 1)]


@pytest.mark.parametrize("shape", EYE_SHAPES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16, torch.int32])
def test_eye_equals_torch(shape, dtype):
    t_run, f_run = same_outcome_as_torch("eye_", filled(*shape, dtype=dtype), (), {})
    assert torch.equal(f_run[2], t_run[2])
    assert f_run[2].dtype == dtype


def test_eye_strided_view_and_parameter():
    a, b = torch.full((6, 6), 3.0).t()[:, :4], torch.full((6, 6), 3.0).t()[:, :4]
    torch.nn.init.eye_(a)
    fastinit.eye_(b)
    assert torch.equal(a._base, b._base)  # the rest of the base is untouched, as torch's
    p = torch.nn.Parameter(torch.empty(3, 4))
    assert fastinit.eye_(p) is p and p.is_leaf and p.requires_grad
    assert torch.equal(p.detach(), torch.eye(3, 4))


DIRAC_CASES = [
    ((4, 4, 3), 1), ((4, 6, 3), 2), ((6, 4, 5), 3), ((3, 16, 5, 5), 1), ((3, 24, 5, 5), 3),
    ((8, 2, 4, 4), 2), ((6, 6, 3, 3, 3), 1), ((6, 3, 2, 3, 4), 3), ((2, 0, 3), 1), ((0, 3, 3), 1),
    ((4, 4, 3), -2), ((4, 4, 3), True), ((4, 4, 2, 2), np.int64(2)),
]


@pytest.mark.parametrize("shape,groups", DIRAC_CASES, ids=str)
def test_dirac_equals_torch(shape, groups):
    t_run, f_run = same_outcome_as_torch("dirac_", filled(*shape), (groups,), {})
    assert t_run[0][0] == "ok"
    assert torch.equal(f_run[2], t_run[2])


DIRAC_ERRORS = [
    ((4, 4), 1), ((4,), 1), ((2, 2, 2, 2, 2, 2), 1),  # dimensions
    ((4, 4, 3), 3), ((5, 4, 3, 3), 2),  # dim 0 not divisible
    ((4, 4, 3), 0),  # integer modulo by zero
    ((4, 4, 3), "2"),  # unsupported operand
    ((4, 4, 3), 2.0),  # range() of a float (torch: after zeroing the tensor)
    ((4, 4, 0), 1), ((4, 4, 3, 0), 1), ((4, 4, 0, 3, 3), 2),  # empty kernel dims (torch: after zeroing)
]


@pytest.mark.parametrize("shape,groups", DIRAC_ERRORS, ids=str)
def test_dirac_errors_as_torch(shape, groups):
    t_run, f_run = same_outcome_as_torch("dirac_", filled(*shape), (groups,), {})
    assert t_run[0][0] == "raise"
    # fastinit raises before writing anything (torch sometimes zeroes first)
    assert torch.equal(f_run[2], f_run[3])


@pytest.mark.parametrize("shape", [(3,), (2, 3, 4), ()])
def test_eye_errors_as_torch(shape):
    t_run, f_run = same_outcome_as_torch("eye_", filled(*shape), (), {})
    assert t_run[0][0] == "raise"
    assert torch.equal(f_run[2], f_run[3])


def test_eye_dirac_meta_and_numpy():
    m = torch.empty(4, 4, 3, device="meta")
    assert fastinit.dirac_(m) is m and fastinit.eye_(torch.empty(3, 3, device="meta")).is_meta
    with pytest.raises(TypeError, match="torch.Tensor"):
        fastinit.eye_(np.zeros((3, 3)))


# --------------------------------------------------------------------------
# orthogonal_
# --------------------------------------------------------------------------


def _flat_gram_error(w, gain):
    """max |G - gain^2 I| / gain^2 for the Gram matrix of the (semi-)orthogonal side."""
    m = w.detach().reshape(w.shape[0], -1).double()
    g = m.t() @ m if m.shape[0] >= m.shape[1] else m @ m.t()
    return float((g - gain**2 * torch.eye(g.shape[0], dtype=torch.float64)).abs().max()) / gain**2


@pytest.mark.parametrize("shape", [(200, 50), (50, 200), (64, 64), (16, 8, 3, 3), (8, 16, 3, 3), (7, 1)])
@pytest.mark.parametrize("gain", [1.0, 1.7])
def test_orthogonal_is_orthogonal(shape, gain):
    w = torch.empty(shape, dtype=torch.float64)
    assert fastinit.orthogonal_(w, gain, seed=11) is w
    assert _flat_gram_error(w, gain) < 1e-6
    # float32: the float64 Q rounded to float32 (relative 2^-24 per entry)
    w32 = fastinit.orthogonal_(torch.empty(shape), gain, seed=11)
    assert _flat_gram_error(w32, gain) < 1e-5


def test_orthogonal_follows_torchs_algorithm():
    """Independent model in NumPy: fastinit's normal stream for the temporary (tested
    elsewhere), numpy's QR of the tall orientation, torch's sign correction, gain."""
    for shape in [(30, 12), (12, 30), (6, 4, 3)]:
        rows = shape[0]
        cols = math.prod(shape) // rows
        z = fastinit.normal_(torch.empty(rows, cols, dtype=torch.float64), seed=5, offset=3).numpy()
        a = z.T if rows < cols else z
        q, r = np.linalg.qr(a)
        q = q * np.sign(np.diag(r))
        q = q.T if rows < cols else q
        w = fastinit.orthogonal_(torch.empty(shape, dtype=torch.float64), 2.5, seed=5, offset=3)
        np.testing.assert_allclose(w.numpy().reshape(rows, cols), 2.5 * q, rtol=0, atol=1e-12)


def test_orthogonal_same_bits_on_any_thread_count():
    outs = []
    for fi_threads, torch_threads in [(1, 1), (3, 3), (3, 1), (1, 2)]:
        fastinit.set_num_threads(fi_threads)
        prev = torch.get_num_threads()
        torch.set_num_threads(torch_threads)
        try:
            outs.append(fastinit.orthogonal_(torch.empty(300, 120), 1.3, seed=99))
        finally:
            torch.set_num_threads(prev)
    fastinit.set_num_threads(2)
    assert all(torch.equal(outs[0], o) for o in outs[1:])
    assert torch.get_num_threads() == prev


def test_orthogonal_generator_and_dtypes():
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    a = fastinit.orthogonal_(torch.empty(20, 10), generator=g1)
    b = fastinit.orthogonal_(torch.empty(20, 10), generator=g2)
    assert torch.equal(a, b)
    # exactly one key drawn, as by every fastinit fill
    assert torch.equal(g1.get_state(), _after_one_key(torch.Generator().manual_seed(3)).get_state())
    for dt in (torch.bfloat16, torch.float16):  # torch's CPU QR refuses these; fastinit does not
        w = fastinit.orthogonal_(torch.empty(40, 10, dtype=dt), seed=1)
        assert _flat_gram_error(w, 1.0) < 2e-2
    p = torch.nn.Parameter(torch.empty(5, 5))
    assert fastinit.orthogonal_(p, seed=1) is p and p.is_leaf


def _after_one_key(g):
    torch.randint(0, 2**32, (2,), dtype=torch.int64, generator=g)
    return g


ORTHO_ERRORS = [
    (filled(5), (), {}),
    (filled(), (), {}),
    (lambda: torch.zeros(4, 3, dtype=torch.int64), (), {}),
    (filled(4, 3), (), {"generator": 3}),
]


@pytest.mark.parametrize("case", range(len(ORTHO_ERRORS)))
def test_orthogonal_errors_as_torch(case):
    make, args, kwargs = ORTHO_ERRORS[case]
    t_run, f_run = same_outcome_as_torch("orthogonal_", make, args, kwargs)
    assert t_run[0][0] == "raise"
    assert torch.equal(f_run[2], f_run[3])


def test_orthogonal_noops_draw_nothing():
    g = torch.Generator().manual_seed(1)
    s = g.get_state()
    fastinit.orthogonal_(torch.empty(0, 4), generator=g)
    fastinit.orthogonal_(torch.empty(4, 4, device="meta"), generator=g)
    assert torch.equal(g.get_state(), s)
    # refused input draws nothing either
    with pytest.raises(NotImplementedError):
        fastinit.orthogonal_(torch.zeros(4, 4, dtype=torch.int32), generator=g)
    assert torch.equal(g.get_state(), s)


# --------------------------------------------------------------------------
# sparse_
# --------------------------------------------------------------------------


def test_sparse_zero_counts_values_and_positions():
    rows, cols, sparsity, std = 40, 5000, 0.3, 0.05
    w = fastinit.sparse_(torch.empty(rows, cols, dtype=torch.float64), sparsity, std, seed=21, offset=7)
    n_zero = math.ceil(sparsity * rows)
    assert ((w == 0).sum(0) == n_zero).all()
    # the non-zeros are exactly normal_'s values for the same key and offset
    ref = fastinit.normal_(torch.empty(rows, cols, dtype=torch.float64), 0, std, seed=21, offset=7)
    nz = w != 0
    assert torch.equal(w[nz], ref[nz])
    assert st.kstest(w[nz].numpy(), st.norm(0, std).cdf).pvalue > P_MIN
    # each row is zeroed in a column with probability n_zero / rows: chi-square over rows
    per_row = (w == 0).sum(1).numpy()
    expected = cols * n_zero / rows
    chi2 = float(((per_row - expected) ** 2 / expected).sum())
    assert st.chi2.sf(chi2, rows - 1) > P_MIN
    # which entries are zero varies between columns and between seeds
    w2 = fastinit.sparse_(torch.empty(rows, cols, dtype=torch.float64), sparsity, std, seed=22, offset=7)
    assert not torch.equal(w == 0, w2 == 0)


@pytest.mark.parametrize("sparsity", [0.0, 0.1, 0.5, 1.0, 1.7, -0.25, -3.0])
def test_sparse_counts_as_torch(sparsity):
    """torch's count ceil(sparsity * rows), sliced from a permutation (so negative and
    too-large counts behave as Python slicing does)."""
    torch.manual_seed(0)
    t = torch.nn.init.sparse_(torch.empty(8, 30), sparsity)
    f = fastinit.sparse_(torch.empty(8, 30), sparsity, seed=4)
    assert torch.equal((t == 0).sum(0), (f == 0).sum(0))


SPARSE_ERRORS = [
    (filled(6), (0.1,), {}), (filled(3, 4, 5), (0.1,), {}),
    (filled(4, 3), (0.1, -1.0), {}), (filled(4, 3), (float("nan"),), {}),
    (filled(4, 3), (float("inf"),), {}), (filled(4, 3), ("x",), {}),
    (filled(4, 3), (0.1, "s"), {}), (filled(4, 3), (0.1,), {"generator": 1}),
    (lambda: torch.zeros(4, 3, dtype=torch.int64), (0.1,), {}),
]


@pytest.mark.parametrize("case", range(len(SPARSE_ERRORS)))
def test_sparse_errors_as_torch(case):
    make, args, kwargs = SPARSE_ERRORS[case]
    t_run, f_run = same_outcome_as_torch("sparse_", make, args, kwargs)
    assert t_run[0][0] == "raise"
    assert torch.equal(f_run[2], f_run[3])


def test_sparse_generator_reproducible_and_one_key():
    a = fastinit.sparse_(torch.empty(10, 10), 0.5, generator=torch.Generator().manual_seed(8))
    b = fastinit.sparse_(torch.empty(10, 10), 0.5, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b)
    g = torch.Generator().manual_seed(8)
    fastinit.sparse_(torch.empty(10, 10), 0.5, generator=g)
    assert torch.equal(g.get_state(), _after_one_key(torch.Generator().manual_seed(8)).get_state())


# --------------------------------------------------------------------------
# variance_scaling_ / lecun_*
# --------------------------------------------------------------------------

VS_SHAPE = (192, 96, 3, 3)  # fan_in 864, fan_out 1728, 165,888 samples


def _jax_n(mode, shape=VS_SHAPE):
    # JAX's docs, written out for torch's (out, in, *kernel) layout
    rf = math.prod(shape[2:])
    fan_in, fan_out = shape[1] * rf, shape[0] * rf
    return {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]


def test_truncation_constant_is_std_of_truncated_standard_normal():
    assert abs(st.truncnorm(-2, 2).std() - fastinit.fills.scaling.TRUNC_2SIGMA_STD) < 1e-15


@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "fan_avg"])
@pytest.mark.parametrize("distribution", ["truncated_normal", "normal", "uniform"])
@pytest.mark.parametrize("scale", [1.0, 2.0, 0.1])
def test_variance_scaling_distribution(mode, distribution, scale):
    w = fastinit.variance_scaling_(torch.empty(VS_SHAPE, dtype=torch.float64), scale, mode, distribution, seed=17)
    x = w.numpy().ravel()
    n = x.size
    sigma = math.sqrt(scale / _jax_n(mode))  # JAX's documented std (after truncation)
    if distribution == "normal":
        dist = st.norm(0, sigma)
    elif distribution == "uniform":
        b = math.sqrt(3 * scale / _jax_n(mode))
        dist = st.uniform(-b, 2 * b)
        assert x.min() >= -b and x.max() < b
    else:
        s = sigma / 0.87962566103423978
        dist = st.truncnorm(-2, 2, scale=s)
        assert np.abs(x).max() <= 2 * s
    assert abs(dist.std() - sigma) < 1e-12 * sigma  # the stated distribution has the documented std
    # moments within 6 standard errors
    assert abs(x.mean()) < 6 * sigma / math.sqrt(n)
    var_se = math.sqrt((dist.moment(4) - sigma**4) / n)
    assert abs(x.var() - sigma**2) < 6 * var_se
    assert st.kstest(x, dist.cdf).pvalue > P_MIN


@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "fan_avg"])
def test_variance_scaling_is_the_formula_bit_for_bit(mode):
    shape, scale = (40, 30, 5), 1.5
    sigma = math.sqrt(scale / _jax_n(mode, shape))
    e = lambda: torch.empty(shape)  # noqa: E731
    vs = fastinit.variance_scaling_
    assert torch.equal(vs(e(), scale, mode, "normal", seed=3, offset=9),
                       fastinit.normal_(e(), 0.0, sigma, seed=3, offset=9))
    b = math.sqrt(3 * scale / _jax_n(mode, shape))
    assert torch.equal(vs(e(), scale, mode, "uniform", seed=3), fastinit.uniform_(e(), -b, b, seed=3))
    s = sigma / 0.87962566103423978
    assert torch.equal(vs(e(), scale, mode, "truncated_normal", seed=3),
                       fastinit.trunc_normal_(e(), 0.0, s, -2 * s, 2 * s, seed=3))


def test_lecun_is_variance_scaling_fan_in():
    e = lambda: torch.empty(64, 32, 3)  # noqa: E731
    assert torch.equal(fastinit.lecun_uniform_(e(), seed=2),
                       fastinit.variance_scaling_(e(), 1.0, "fan_in", "uniform", seed=2))
    assert torch.equal(fastinit.lecun_normal_(e(), seed=2),
                       fastinit.variance_scaling_(e(), 1.0, "fan_in", "truncated_normal", seed=2))
    w = fastinit.lecun_normal_(torch.empty(512, 1024, dtype=torch.float64), seed=5)
    assert abs(float(w.std()) * math.sqrt(1024) - 1) < 0.01


def test_variance_scaling_numpy_zero_scale_and_generator():
    a = fastinit.variance_scaling_(np.empty((30, 20), np.float32), 2.0, "fan_out", "normal", seed=1)
    b = fastinit.variance_scaling_(torch.empty(30, 20), 2.0, "fan_out", "normal", seed=1)
    assert np.array_equal(a, b.numpy())
    assert (fastinit.variance_scaling_(torch.ones(5, 5), 0.0, seed=1) == 0).all()
    g1, g2 = torch.Generator().manual_seed(4), torch.Generator().manual_seed(4)
    assert torch.equal(fastinit.lecun_uniform_(torch.empty(6, 6), g1), fastinit.lecun_uniform_(torch.empty(6, 6), g2))


@pytest.mark.parametrize("args,exc,msg", [
    ((1.0, "fan_sum"), ValueError, "invalid mode for variance scaling initializer: fan_sum"),
    ((1.0, "fan_in", "cauchy"), ValueError, "invalid distribution for variance scaling initializer: cauchy"),
    ((-1.0,), ValueError, "`scale` must be a positive float. Got: -1.0"),
    ((float("nan"),), ValueError, "`scale` must be a positive float. Got: nan"),
])
def test_variance_scaling_errors(args, exc, msg):
    w = torch.full((4, 4), 7.0)
    g = torch.Generator().manual_seed(0)
    s = g.get_state()
    with pytest.raises(exc, match="^" + __import__("re").escape(msg) + "$"):
        fastinit.variance_scaling_(w, *args, generator=g)
    assert (w == 7).all() and torch.equal(g.get_state(), s)


def test_variance_scaling_shape_errors_and_empty():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        fastinit.variance_scaling_(torch.empty(5))
    with pytest.warns(UserWarning, match="zero-element"):
        fastinit.lecun_normal_(torch.empty(0, 5))


# --------------------------------------------------------------------------
# torch.nn.init's documented behaviours, re-checked with patch_torch_init on
# --------------------------------------------------------------------------

RANDOM_ARGS = {  # a valid call per random torch.nn.init function: (shape, args)
    "uniform_": ((30, 40), (-0.5, 1.5)),
    "normal_": ((30, 40), (0.3, 2.0)),
    "trunc_normal_": ((30, 40), (0.0, 1.0, -1.0, 1.5)),
    "xavier_uniform_": ((30, 40), (1.3,)),
    "xavier_normal_": ((30, 40), (1.3,)),
    "kaiming_uniform_": ((30, 40, 3), (0.2, "fan_out", "leaky_relu")),
    "kaiming_normal_": ((30, 40, 3), (0, "fan_in", "relu")),
    "orthogonal_": ((30, 40), (1.5,)),
    "sparse_": ((30, 40), (0.2, 0.05)),
}


def _torch_init_names():
    """torch.nn.init's exported functions, split into the trailing-underscore functions and
    the deprecated aliases (``uniform`` for ``uniform_``...). calculate_gain is neither."""
    names = [n for n in torch.nn.init.__all__ if n != "calculate_gain"]
    funcs = [n for n in names if n.endswith("_")]
    aliases = [n for n in names if not n.endswith("_")]
    assert all(a + "_" in funcs for a in aliases), aliases
    return funcs, aliases


def _is_random(name):
    import inspect

    return "generator" in inspect.signature(getattr(torch.nn.init, name)).parameters


def test_patch_covers_every_torch_init_function():
    """Every random function torch.nn.init exports (judged by its ``generator`` parameter,
    so a new torch function is caught) is fastinit's inside patch_torch_init, and so is
    every deprecated alias of one (it draws fastinit's values and still warns)."""
    from fastinit.models.patch import PATCHED_NAMES

    funcs, aliases = _torch_init_names()
    random_funcs = [n for n in funcs if _is_random(n)]
    assert set(RANDOM_ARGS) == set(random_funcs), "a torch.nn.init function fastinit does not know"
    with fastinit.patch_torch_init():
        for n in random_funcs:
            assert n in PATCHED_NAMES and getattr(torch.nn.init, n) is getattr(fastinit, n), n
        for a in aliases:
            if a + "_" not in RANDOM_ARGS:
                continue
            shape, args = RANDOM_ARGS[a + "_"]
            torch.manual_seed(3)
            with pytest.warns(FutureWarning, match=f"nn.init.{a}` is now deprecated"):
                got = getattr(torch.nn.init, a)(torch.empty(shape), *args)
            torch.manual_seed(3)
            want = getattr(fastinit, a + "_")(torch.empty(shape), *args)
            assert torch.equal(got, want), a


def test_fastinit_provides_every_torch_init_function():
    funcs, _ = _torch_init_names()
    assert [n for n in funcs if not hasattr(fastinit, n)] == []
    assert set(RANDOM_ARGS) == {n for n in funcs if _is_random(n)}


@pytest.fixture
def patched():
    with fastinit.patch_torch_init():
        yield torch.nn.init


def _ks(x, cdf):
    return st.kstest(x.detach().double().numpy().ravel(), cdf).pvalue


def test_patched_uniform_normal_trunc_distributions(patched):
    torch.manual_seed(0)
    w = patched.uniform_(torch.empty(100, 200), -0.5, 1.5)
    assert w.min() >= -0.5 and w.max() < 1.5 and _ks(w, st.uniform(-0.5, 2.0).cdf) > P_MIN
    w = patched.normal_(torch.empty(100, 200), 0.3, 2.0)
    assert _ks(w, st.norm(0.3, 2.0).cdf) > P_MIN
    w = patched.trunc_normal_(torch.empty(100, 200), 0.0, 1.0, -1.0, 1.5)
    assert w.min() >= -1.0 and w.max() <= 1.5 and _ks(w, st.truncnorm(-1.0, 1.5).cdf) > P_MIN


def test_patched_constants_eye_dirac(patched):
    assert (patched.constant_(torch.empty(3, 4), 2.5) == 2.5).all()
    assert (patched.ones_(torch.empty(3, 4)) == 1).all() and (patched.zeros_(torch.ones(3, 4)) == 0).all()
    assert torch.equal(patched.eye_(torch.empty(3, 5)), torch.eye(3, 5))
    # a Dirac-initialized conv passes its input through (channels < min(out, in))
    for dims, conv in ((3, torch.nn.functional.conv1d), (4, torch.nn.functional.conv2d),
                       (5, torch.nn.functional.conv3d)):
        for groups in (1, 2):
            k = (3,) * (dims - 2)
            w = patched.dirac_(torch.empty((8, 4) + k), groups)
            x = torch.randn((2, 4 * groups) + (5,) * (dims - 2))
            y = conv(x, w, padding=1, groups=groups)
            per = 8 // groups
            for g in range(groups):
                n = min(per, 4)
                assert torch.equal(y[:, g * per: g * per + n], x[:, g * 4: g * 4 + n])
    for fn, shape in (("eye_", (2, 2, 2)), ("dirac_", (3, 3)), ("orthogonal_", (5,)), ("sparse_", (5,))):
        args = (0.1,) if fn == "sparse_" else ()
        with pytest.raises(ValueError):
            getattr(patched, fn)(torch.empty(shape), *args)


@pytest.mark.parametrize("name", ["xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_"])
def test_patched_fan_based_distributions(patched, name):
    torch.manual_seed(1)
    shape = (64, 50, 3, 3)
    fi, fo = 50 * 9, 64 * 9
    if name.startswith("xavier"):
        gain = 1.7
        w = getattr(patched, name)(torch.empty(shape), gain)
        std = gain * math.sqrt(2 / (fi + fo))
    else:
        w = getattr(patched, name)(torch.empty(shape), 0.3, "fan_out", "leaky_relu")
        std = math.sqrt(2 / (1 + 0.09)) / math.sqrt(fo)
    b = math.sqrt(3) * std
    dist = st.uniform(-b, 2 * b) if name.endswith("uniform_") else st.norm(0, std)
    assert _ks(w, dist.cdf) > P_MIN
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        getattr(patched, name)(torch.empty(5))
    if name.startswith("kaiming"):
        with pytest.warns(UserWarning, match="zero-element"):
            getattr(patched, name)(torch.empty(0, 5))
        with pytest.raises(ValueError, match="Mode fan_x not supported"):
            getattr(patched, name)(torch.empty(4, 4), 0, "fan_x")


def test_patched_orthogonal_and_sparse(patched):
    torch.manual_seed(2)
    for shape in ((20, 50), (50, 20), (6, 4, 3, 3)):
        w = patched.orthogonal_(torch.empty(shape, dtype=torch.float64), 2.0)
        assert _flat_gram_error(w, 2.0) < 1e-6
    w = patched.sparse_(torch.empty(50, 30), 0.3, 0.02)
    assert ((w == 0).sum(0) == math.ceil(0.3 * 50)).all()


# sparse_ included: torch's own draws its zero positions with randperm from the global
# generator, ignoring generator=, so this fails unless the patch covers sparse_.
@pytest.mark.parametrize("name", sorted(RANDOM_ARGS))
def test_patched_generator_reproducible_and_shapes_kept(patched, name):
    shape, args = RANDOM_ARGS[name]
    a = getattr(patched, name)(torch.empty(shape), *args, generator=torch.Generator().manual_seed(7))
    b = getattr(patched, name)(torch.empty(shape), *args, generator=torch.Generator().manual_seed(7))
    c = getattr(patched, name)(torch.empty(shape), *args, generator=torch.Generator().manual_seed(8))
    assert a.shape == shape and torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("alias", ["uniform", "normal", "constant", "eye", "dirac", "xavier_uniform",
                                   "xavier_normal", "kaiming_uniform", "kaiming_normal", "orthogonal", "sparse"])
def test_patched_deprecated_aliases_still_warn(patched, alias):
    shape, args = RANDOM_ARGS.get(alias + "_", ((4, 4, 3) if alias == "dirac" else (4, 4), ()))
    if alias == "constant":
        args = (1.0,)
    with pytest.warns(FutureWarning, match=f"nn.init.{alias}` is now deprecated"):
        getattr(patched, alias)(torch.empty(shape), *args)


# --------------------------------------------------------------------------
# DTensor: sharded equals single (gloo, 2 spawned ranks)
# --------------------------------------------------------------------------

DIST_CASES = [  # (function, shape, args, kwargs)
    ("orthogonal_", (9, 6), (1.5,), {"seed": 3}),
    ("orthogonal_", (5, 4, 3), (), {"seed": 4, "offset": 11}),
    ("orthogonal_", (6, 10), (), {}),  # key drawn from the (same-seeded) default generator
    ("sparse_", (11, 7), (0.3, 0.1), {"seed": 5}),
    ("sparse_", (8, 9), (0.5,), {}),
    ("eye_", (7, 5), (), {}),
    ("dirac_", (6, 4, 3, 3), (2,), {}),
    ("variance_scaling_", (9, 7, 3), (2.0, "fan_avg", "truncated_normal"), {"seed": 6}),
    ("lecun_uniform_", (9, 7), (), {"seed": 7}),
]


def _dist_worker(rank, world, port, outdir):
    import os
    import traceback

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    lines = []
    try:
        import torch.distributed as dist
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.tensor import Replicate, Shard, distribute_tensor

        dist.init_process_group("gloo", rank=rank, world_size=world)
        mesh = init_device_mesh("cpu", (world,))
        for i, (name, shape, args, kwargs) in enumerate(DIST_CASES):
            for pl in ([Shard(0)], [Shard(1)], [Replicate()]):
                torch.manual_seed(100 + i)
                dt = distribute_tensor(torch.full(shape, 7.0), mesh, pl)
                torch.manual_seed(100 + i)
                getattr(fastinit, name)(dt, *args, **kwargs)
                full = dt.full_tensor()
                torch.manual_seed(100 + i)
                single = getattr(fastinit, name)(torch.full(shape, 7.0), *args, **kwargs)
                ok = torch.equal(full, single)
                lines.append(f"{name} {shape} {pl} {'ok' if ok else 'DIFFERENT'}")
        dist.destroy_process_group()
    except Exception:  # noqa: BLE001
        lines.append("ERROR " + traceback.format_exc())
    with open(os.path.join(outdir, f"rank{rank}.txt"), "w") as f:
        f.write("\n".join(lines))


def test_dtensor_sharded_equals_single(tmp_path):
    import multiprocessing
    import socket

    if not torch.distributed.is_available():
        pytest.skip("torch.distributed is not available in this torch build")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_dist_worker, args=(r, 2, port, str(tmp_path)), daemon=True) for r in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(180)
    for p in procs:
        if p.is_alive():
            p.kill()
    for r in range(2):
        text = (tmp_path / f"rank{r}.txt").read_text()
        assert "ERROR" not in text and "DIFFERENT" not in text, f"rank {r}:\n{text}"
        assert text.count(" ok") == 3 * len(DIST_CASES), text


def test_sparse_zero_selection_is_the_k_smallest_keys_with_ties_by_row():
    """The documented rule, against a plain stable sort, on keys with many ties."""
    from fastinit.fills.structured import _smallest_per_column

    g = torch.Generator().manual_seed(0)
    for rows, cols in ((10, 300), (7, 50), (1, 5)):
        keys = torch.randint(0, 4, (rows, cols), generator=g).double()  # heavy ties
        for k in range(rows + 1):
            want = torch.zeros(rows, cols, dtype=torch.bool)
            want.scatter_(0, torch.sort(keys, dim=0, stable=True).indices[:k], True)
            assert torch.equal(_smallest_per_column(keys.clone(), k), want), (rows, cols, k)
    # and sparse_ zeroes exactly where its ranking stream says
    from fastinit.core.seeds import derive_seed

    w = fastinit.sparse_(torch.empty(12, 40), 0.4, seed=9, offset=2)
    u = fastinit.uniform_(torch.empty(12, 40, dtype=torch.float64), 0.0, 1.0,
                          seed=derive_seed(9, "fastinit.sparse_:zeros"), offset=2)
    want = torch.zeros(12, 40, dtype=torch.bool)
    want.scatter_(0, torch.sort(u, dim=0, stable=True).indices[:5], True)
    assert torch.equal(w == 0, want)


def _overlapping_views():
    return [
        ("expand", lambda: torch.zeros(1, 6).expand(5, 6)),
        ("unfold", lambda: torch.zeros(20).unfold(0, 4, 2)),
        ("as_strided_overlap", lambda: torch.zeros(30).as_strided((5, 6), (2, 1))),
    ]


@pytest.mark.parametrize("make", [c[1] for c in _overlapping_views()], ids=[c[0] for c in _overlapping_views()])
@pytest.mark.parametrize("generator", [None, "own"])
def test_sparse_refused_view_draws_nothing(make, generator):
    """Issue 18 finding 10: sparse_ on an expanded or overlapping view raises (torch's
    RuntimeError for a zero stride, fastinit's for another overlap) before any key is
    drawn: the generator it would read is where it was, nothing is written."""
    view = make()
    base = view._base if view._base is not None else view
    before = base.clone()
    g = torch.Generator().manual_seed(3) if generator == "own" else None
    state = (g or torch.default_generator).get_state()
    with pytest.raises(RuntimeError) as info:
        fastinit.sparse_(view, 0.5, generator=g)
    if 0 in view.stride():  # torch's own refusal of this view, with its message
        with pytest.raises(RuntimeError) as torch_info:
            torch.nn.init.sparse_(make(), 0.5)
        assert str(info.value) == str(torch_info.value)
    assert torch.equal((g or torch.default_generator).get_state(), state), "the refusal advanced the generator"
    assert torch.equal(base, before), "the refusal wrote"


def test_sparse_inference_tensor_refused_before_draw():
    """An inference tensor outside inference_mode: torch's RuntimeError, no key drawn."""
    with torch.inference_mode():
        t = torch.zeros(6, 4)
    state = torch.get_rng_state()
    with pytest.raises(RuntimeError) as info:
        fastinit.sparse_(t, 0.5)
    assert torch.equal(torch.get_rng_state(), state)
    with pytest.raises(RuntimeError) as torch_info:
        torch.nn.init.sparse_(t, 0.5)
    assert str(info.value) == str(torch_info.value)
