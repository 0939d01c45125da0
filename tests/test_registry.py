"""fastinit.fills.registry (issue 17): the one table of init functions. Every other list of
names (the exports, patch_torch_init's table, the fills' module) is derived from it, so
these tests compare the derived lists with the table and the table with the functions'
real signatures and with torch.nn.init."""
from __future__ import annotations

import inspect

import pytest

torch = pytest.importorskip("torch")
import torch.nn.init as tinit  # noqa: E402

import fastinit  # noqa: E402
from fastinit.fills import registry  # noqa: E402
from fastinit.models import patch  # noqa: E402


def test_exports_are_the_registry():
    names = registry.names()
    assert list(fastinit.fills.__all__) == list(names)
    assert list(fastinit.__all__[:len(names)]) == list(names)
    for e in registry.ENTRIES:
        assert getattr(fastinit, e.name) is e.fn and getattr(fastinit.fills, e.name) is e.fn
        assert e.fn.__name__ == e.name
        assert registry.get(e.name) is e and registry.by_function(e.fn) is e


def test_patch_table_is_the_registry():
    assert patch.PATCHED_NAMES == registry.torch_names()
    with fastinit.patch_torch_init():
        for n in registry.torch_names():
            assert getattr(tinit, n) is next(e.fn for e in registry.ENTRIES if e.torch_name == n)


def test_signatures_match_the_entries():
    for e in registry.ENTRIES:
        params = inspect.signature(e.fn).parameters
        assert ("seed" in params) == e.takes_seed, e.name
        assert ("generator" in params) == e.takes_generator, e.name
        assert e.kind in ("random", "constant", "deterministic")
        assert e.replay == {"random": "keyed", "constant": "constant", "deterministic": "as_is"}[e.kind]
        if e.kind == "random":
            assert e.takes_seed and e.takes_generator, e.name


def test_torch_counterparts_exist_and_cover_torch():
    public = {n for n, v in vars(tinit).items() if n.endswith("_") and not n.startswith("_") and callable(v)
              and getattr(v, "__module__", None) == "torch.nn.init"}
    for n in registry.torch_names():
        assert n in public, n
    assert set(registry.torch_only_names()) == public - set(registry.torch_names())
    assert registry.torch_only_names() == ()  # torch 2.13: fastinit has all of torch.nn.init


def test_kinds_agree_with_torch():
    """A random entry's torch counterpart takes a generator; constant/deterministic ones do not."""
    for e in registry.ENTRIES:
        if e.torch_name is None:
            continue
        takes = "generator" in inspect.signature(getattr(tinit, e.torch_name)).parameters
        assert takes == (e.kind == "random"), e.name


def test_kinds_do_what_they_say():
    """A random entry with a fixed seed is reproducible and seed-dependent; a constant one
    writes constant_value; a deterministic one writes torch's values."""
    for e in registry.ENTRIES:
        shape = (6, 4, 3) if e.name == "dirac_" else (8, 6)
        args = {"sparse_": (0.5,), "constant_": (0.25,)}.get(e.name, ())
        a, b = torch.empty(shape), torch.empty(shape)
        if e.kind == "random":
            e.fn(a, *args, seed=1)
            e.fn(b, *args, seed=1)
            assert torch.equal(a, b), e.name
            e.fn(b, *args, seed=2)
            assert not torch.equal(a, b), e.name
        elif e.kind == "constant":
            e.fn(a, *args)
            assert torch.equal(a, torch.full(shape, float(registry.constant_value(e.name, args, {})))), e.name
        else:
            e.fn(a)
            getattr(tinit, e.torch_name)(b)
            assert torch.equal(a, b), e.name


def test_constant_value():
    assert registry.constant_value("constant_", (), {"val": 3}) == 3
    assert registry.constant_value("ones_", (), {}) == 1.0
    with pytest.raises(KeyError):
        registry.constant_value("normal_", (), {})
    with pytest.raises(KeyError):
        registry.get("no_such_")
