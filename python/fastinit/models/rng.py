"""The random ops of a model's code, run with a key: one implementation for the engine
(``init_module_``/``apply_scheme`` run the code for real) and for ``materialize_``'s replay
(a record runs), so that both paths give the same bits (docs/STREAM.md section 4.1).

* An RNG factory (``torch.rand``/``randn`` and their ``_like``, ``torch.normal`` with
  number arguments) is an empty tensor filled by a fastinit fill with the key, where the
  dtype is one fastinit fills (:func:`factory_fill`); any other RNG op (``randint``,
  ``randperm``, ``bernoulli``, ``random_``...) is torch's own op with a CPU generator seeded
  by the key (:func:`seeded_torch_op`).
* Random ops are counted in *passes* (:class:`Passes`): the code outside any
  ``init_weights()`` is pass 0; each outermost call of a module's ``init_weights()``
  (Hugging Face's ``post_init``, timm's constructors; ``init_module_``'s library init) is a
  pass of its own, whose keys carry the prefix ``init_weights/``. So the keys of a
  library's init do not depend on what the constructor drew before it (a draw that
  ``init_module_`` cannot re-run).
* In a pass, the j-th random op on the tensor named ``name`` is keyed by
  :func:`key_name` ``(name, j, library)``; the i-th random op on a tensor that is not the
  model's (a *temporary*) by ``key_name(temporary_name(i), 0, library)``.
"""

from __future__ import annotations

import sys

from .shapes import _torch

# RNG factories that are fastinit fills: name -> (fastinit function, default params)
RNG_FACTORY_FILL = {"rand": ("uniform_", (0.0, 1.0)), "rand_like": ("uniform_", (0.0, 1.0)),
                    "randn": ("normal_", (0.0, 1.0)), "randn_like": ("normal_", (0.0, 1.0))}
# RNG factories run as torch's own op with a seeded generator (and rand/randn where the
# dtype is not one fastinit fills)
RNG_FACTORY_TORCH = {"randint", "randint_like", "randperm", "bernoulli", "normal", "poisson", "multinomial",
                     "rand_like", "randn_like"}
# in-place RNG tensor methods: fastinit fill where one exists (parameter names as torch's),
# else torch's op with a generator
RNG_METHOD_FILL = {"uniform_": ("from", "to"), "normal_": ("mean", "std")}
RNG_METHOD_TORCH = {"random_", "bernoulli_", "exponential_", "log_normal_", "cauchy_", "geometric_"}

_SEED_MASK = (1 << 63) - 1  # torch.Generator.manual_seed takes a signed 64-bit value


#: the prefix of the key names of the ops in an ``init_weights()`` pass
LIBRARY_PREFIX = "init_weights/"


def temporary_name(i: int) -> str:
    """The name of the i-th random op on a tensor that is not the model's."""
    return f":temporary:{i}"


def key_name(name: str, ordinal: int, library: bool) -> str:
    """The name ``derive_seed`` hashes for the ``ordinal``-th random op of a pass on
    ``name`` (docs/STREAM.md section 4.1)."""
    base = LIBRARY_PREFIX + name if library else name
    return base if ordinal == 0 else f"{base}#{ordinal}"


class Passes:
    """Which pass a random op belongs to: 0 outside any ``init_weights()`` of an
    ``nn.Module``, k >= 1 inside the k-th outermost such call of this recording or run
    (found on the calling thread's stack, so the engine and the recorder, which see the
    same code run, agree)."""

    def __init__(self):
        self.frame = None  # the outermost init_weights frame of the current pass (kept alive:
        self.count = 0     # a new call cannot reuse its address)

    def current(self) -> int:
        import torch

        outer = None
        f = sys._getframe(1)
        while f is not None:
            if f.f_code.co_name == "init_weights" and isinstance(f.f_locals.get("self"), torch.nn.Module):
                outer = f
            f = f.f_back
        if outer is None:
            return 0
        if outer is not self.frame:
            self.frame = outer
            self.count += 1
        return self.count

    def close(self):
        self.frame = None


def is_rng_factory(name: str) -> bool:
    return name in RNG_FACTORY_FILL or name in RNG_FACTORY_TORCH


def factory_fill(name, args, kwargs):
    """How the RNG factory ``name(*args, **kwargs)`` is a fastinit fill: ``(make, fill,
    params)`` with ``make(**overrides)`` the empty tensor to fill (its dtype still to be
    checked), or None where it is torch's own op. ``kwargs`` without ``generator``."""
    torch = _torch()
    like = args[0] if args and isinstance(args[0], torch.Tensor) else None
    if name in RNG_FACTORY_FILL and (like is None) != name.endswith("_like"):
        fill, params = RNG_FACTORY_FILL[name]
        empty = torch.empty_like if name.endswith("_like") else torch.empty
        return (lambda **o: empty(*args, **{**kwargs, **o})), fill, params
    if name == "normal" and len(args) >= 3 and not any(isinstance(a, torch.Tensor) for a in args[:2]):
        kw = {k: v for k, v in kwargs.items() if k != "out"}
        return (lambda **o: torch.empty(args[2], **{**kw, **o})), "normal_", (float(args[0]), float(args[1]))
    return None


def takes_generator(func) -> bool:
    import inspect

    try:
        return "generator" in inspect.signature(func).parameters
    except (TypeError, ValueError):  # a builtin: torch's RNG ops all take generator=
        return True


def seeded_torch_op(func, head, args, kwargs, key, device=None):
    """torch's own RNG op with a CPU ``torch.Generator`` seeded by ``key & (2**63 - 1)``,
    computed on the CPU on one torch thread (LAPACK's QR in ``orthogonal_`` rounds
    differently with more), so that every device and thread count gets the same bits.
    ``head``: ``()`` for a factory (its result is moved to ``device``), ``(target,)`` for an
    in-place op (the result is copied into ``target``). A ``device`` argument is replaced
    by the CPU."""
    torch = _torch()
    g = torch.Generator(device="cpu")
    g.manual_seed(key & _SEED_MASK)
    cpu = lambda x: x.cpu() if isinstance(x, torch.Tensor) else x  # noqa: E731
    args = tuple(cpu(a) for a in args)
    kwargs = {k: ("cpu" if k == "device" else cpu(v)) for k, v in kwargs.items() if k != "generator"}
    gkw = {"generator": g} if takes_generator(func) else {}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        if not head:
            out = func(*args, **gkw, **kwargs)
            return out.to(device) if device is not None else out
        target = head[0]
        tmp = target if target.device.type == "cpu" else torch.empty(target.shape, dtype=target.dtype)
        func(tmp, *args, **gkw, **kwargs)
        if tmp is not target:
            with torch.no_grad():
                target.copy_(tmp)
        return target
    finally:
        torch.set_num_threads(threads)
