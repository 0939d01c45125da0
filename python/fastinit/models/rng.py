"""The random ops of a model's code, run with a key: one implementation for the engine
(``init_module_``/``apply_scheme`` run the code for real) and for ``materialize_``'s replay
(a record runs), so that both paths give the same bits (docs/STREAM.md section 4.1).

* An RNG factory (``torch.rand``/``randn`` and their ``_like``, ``torch.normal`` with
  number arguments) is an empty tensor filled by a fastinit fill with the key, where the
  dtype is one fastinit fills (:func:`factory_fill`); any other RNG op (``randint``,
  ``randperm``, ``bernoulli``, ``random_``...) is torch's own op with a CPU generator seeded
  by the key (:func:`seeded_torch_op`).
* A random op on a tensor that is not the model's is a *temporary*: the i-th such op of
  the run (of the constructor, for ``materialize_``) is keyed by
  ``derive_seed(s, temporary_name(i))``.
"""

from __future__ import annotations

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


def temporary_name(i: int) -> str:
    """The key name of the i-th random op on a tensor that is not the model's."""
    return f":temporary:{i}"


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
