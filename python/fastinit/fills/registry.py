"""The one table of fastinit's init functions (issue 17).

Every other list of init-function names derives from :data:`ENTRIES`: the public exports
(``fastinit.__all__``, ``fastinit.fills``), ``patch_torch_init``'s table
(``PATCHED_NAMES`` and its replacement map), the fill vocabulary of ``init_module_`` /
``apply_scheme`` and the replay tables of ``deferred_init`` / ``materialize_``. Adding an
init function is one entry here.

Each entry says:

* ``name`` and ``fn``: the public function (``fastinit.<name>``);
* ``kind``: ``"random"`` (draws from the stream: takes ``seed=``), ``"constant"`` (every
  element the same value; takes ``seed=``/``offset=`` only for signature parity, they are
  checked and ignored) or ``"deterministic"`` (a fixed pattern: ``eye_``, ``dirac_``; no
  ``seed``, no ``generator``);
* ``torch_name``: its counterpart in ``torch.nn.init`` (the name ``patch_torch_init``
  replaces), or None when torch has none (the JAX variance-scaling family);
* ``takes_seed`` / ``takes_generator``: whether the signature has ``seed=`` / ``generator``;
* ``replay``: how a recorded or intercepted call is re-run under a model seed, the rule
  ``init_module_``, ``apply_scheme`` and ``materialize_`` share:

  - ``"keyed"``: call ``fn`` with the recorded arguments, ``generator`` dropped and
    ``seed=key``, where ``key`` is the tensor's key for its j-th random op
    (``derive_seed(s, name)`` for j = 0, ``derive_seed(s, f"{name}#{j}")`` for j >= 1);
    it counts as one random op of its tensor. A call that passed its own ``seed=`` keeps it
    (and still counts);
  - ``"constant"``: the value is ``constant_value(args, kwargs)``; not a random op;
  - ``"as_is"``: call ``fn`` with the recorded arguments; not a random op.
"""

from __future__ import annotations

import sys
from typing import Callable, NamedTuple

from . import constant as _constant_fills
from . import scaling as _scaling
from . import standard as _standard
from . import structured as _structured

__all__ = ["InitFunction", "ENTRIES", "get", "by_function", "names", "random_names", "constant_names",
           "deterministic_names", "torch_names", "torch_only_names", "constant_value"]


class InitFunction(NamedTuple):
    name: str
    fn: Callable
    kind: str  # "random" | "constant" | "deterministic"
    torch_name: str | None
    takes_seed: bool
    takes_generator: bool
    replay: str  # "keyed" | "constant" | "as_is"


def _random(fn, torch_name):
    return InitFunction(fn.__name__, fn, "random", torch_name, True, True, "keyed")


def _constant(fn):
    return InitFunction(fn.__name__, fn, "constant", fn.__name__, True, False, "constant")


def _deterministic(fn):
    return InitFunction(fn.__name__, fn, "deterministic", fn.__name__, False, False, "as_is")


#: In the order of the public exports and of patch_torch_init's table.
ENTRIES: tuple = (
    _random(_standard.uniform_, "uniform_"),
    _random(_standard.kaiming_uniform_, "kaiming_uniform_"),
    _random(_standard.xavier_uniform_, "xavier_uniform_"),
    _random(_standard.normal_, "normal_"),
    _random(_standard.kaiming_normal_, "kaiming_normal_"),
    _random(_standard.xavier_normal_, "xavier_normal_"),
    _random(_standard.trunc_normal_, "trunc_normal_"),
    _constant(_constant_fills.constant_),
    _constant(_constant_fills.ones_),
    _constant(_constant_fills.zeros_),
    _random(_structured.orthogonal_, "orthogonal_"),
    _random(_structured.sparse_, "sparse_"),
    _deterministic(_structured.eye_),
    _deterministic(_structured.dirac_),
    _random(_scaling.variance_scaling_, None),
    _random(_scaling.lecun_uniform_, None),
    _random(_scaling.lecun_normal_, None),
)

_BY_NAME = {e.name: e for e in ENTRIES}
assert len(_BY_NAME) == len(ENTRIES), "duplicate registry entry"
_BY_FN = {id(e.fn): e for e in ENTRIES}
_CONSTANT_VALUES = {"ones_": 1.0, "zeros_": 0.0}


def get(name: str) -> InitFunction:
    """The entry named ``name`` (``KeyError`` if fastinit has no such function)."""
    return _BY_NAME[name]


def by_function(fn) -> InitFunction | None:
    """The entry whose function is ``fn`` (by identity), or None."""
    e = _BY_FN.get(id(fn))
    return e if e is not None and e.fn is fn else None


def names() -> tuple:
    """Every init function's name, in export order."""
    return tuple(e.name for e in ENTRIES)


def random_names() -> tuple:
    return tuple(e.name for e in ENTRIES if e.kind == "random")


def constant_names() -> tuple:
    return tuple(e.name for e in ENTRIES if e.kind == "constant")


def deterministic_names() -> tuple:
    return tuple(e.name for e in ENTRIES if e.kind == "deterministic")


def torch_names() -> tuple:
    """The torch.nn.init names fastinit replaces (``patch_torch_init``'s table), in order."""
    return tuple(e.torch_name for e in ENTRIES if e.torch_name is not None)


def torch_only_names() -> tuple:
    """Public ``torch.nn.init`` fill functions (``name_``) that fastinit lacks: those a
    recorder must still see and replay with torch's own function. Empty for torch 2.13;
    computed from the imported ``torch.nn.init`` (empty when torch is not imported)."""
    tinit = sys.modules.get("torch.nn.init")
    if tinit is None:
        return ()
    have = set(torch_names())
    return tuple(sorted(
        n for n, v in vars(tinit).items()
        if n.endswith("_") and not n.startswith("_") and callable(v)
        and getattr(v, "__module__", None) == "torch.nn.init" and n not in have
    ))


def constant_value(name: str, args: tuple, kwargs: dict):
    """The value a call ``name(tensor, *args, **kwargs)`` of a ``"constant"`` entry
    writes (``args``/``kwargs`` without the tensor)."""
    if name in _CONSTANT_VALUES:
        return _CONSTANT_VALUES[name]
    if name != "constant_":
        raise KeyError(name)
    if args:
        return args[0]
    return kwargs["val"]
