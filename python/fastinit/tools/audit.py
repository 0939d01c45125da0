"""``fastinit.audit(module, example_input)``: how the signal's scale moves through a model
at initialization, forward and backward; and ``run_cli`` for ``python -m fastinit audit``.

One forward and one backward pass with hooks. For every submodule that runs (in the order
its forward returns; a module run twice gets two rows), from its output tensor (the first
tensor of a tuple output):

* ``act_rms``: ``sqrt(mean(y^2))`` over all elements;
* ``act_std``: the spread *across examples*: ``sqrt(mean over positions of var over dim 0)``
  (population variance); it equals ``act_rms`` for a zero-mean signal that varies with the
  input, and falls below it when part of the output is the same for every example (a bias
  floor). With a batch of 1 it is the std over all elements;
* ``grad_rms``, ``grad_std``: the same of the gradient of the loss with respect to that
  output (a tensor hook, so in-place activations are fine).

The loss: ``loss_fn(output)`` if given, else ``(output * z).sum()`` with ``z`` standard
normal noise of a fixed seed (``torch.Generator().manual_seed(0)``; the global RNG is not
touched): the output's gradient then has RMS ~1, and each row's gradient RMS is the
backward pass's gain from the output to that layer. Which tensor of a dict, tuple or
dataclass output is measured, and what is restored afterwards: see ``audit``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..models.schemes import apply_scheme

__all__ = ["audit", "AuditReport", "LayerStats", "plot_reports", "run_cli"]


@dataclass
class LayerStats:
    name: str
    kind: str
    shape: tuple
    act_rms: float
    act_std: float
    grad_rms: float = float("nan")
    grad_std: float = float("nan")


@dataclass
class AuditReport:
    input_rms: float
    input_std: float
    rows: list = field(default_factory=list)

    def table(self) -> str:
        """The report as a text table, one line per row.

        Columns: the row number, the layer's qualified name and class (cut to 28 and 18
        characters), its output's activation RMS and std across examples, the activation
        RMS relative to the input's (``x input``; nan when the input's RMS is 0), and the
        gradient's RMS and std (nan where no gradient reached the output). A first line
        ``(input)`` gives the input's RMS and std.

        Returns:
            The table, lines joined by newlines, numbers in ``%10.4g``.

        Example:
            >>> print(fastinit.audit(model, x).table())
        """
        head = (f"{'#':>3}  {'layer':<28} {'type':<18} {'act rms':>10} {'act std':>10} {'x input':>10} "
                f"{'grad rms':>10} {'grad std':>10}")
        lines = [head, "-" * len(head),
                 f"{'':>3}  {'(input)':<28} {'':<18} {self.input_rms:10.4g} {self.input_std:10.4g} {1.0:10.4g}"]
        for i, r in enumerate(self.rows):
            rel = r.act_rms / self.input_rms if self.input_rms else float("nan")
            lines.append(f"{i:>3}  {r.name[:28]:<28} {r.kind[:18]:<18} {r.act_rms:10.4g} {r.act_std:10.4g} "
                         f"{rel:10.4g} {r.grad_rms:10.4g} {r.grad_std:10.4g}")
        return "\n".join(lines)

    def plot(self, path, title=None):
        """Write a PNG at ``path``: activation and gradient RMS per layer, log scale.

        The same figure as ``plot_reports({"model": self}, path, title=title)``
        (matplotlib, Agg backend, imported only here).

        Args:
            path: the file to write (str or path-like).
            title (str): the figure's title; default None (no title).

        Returns:
            None.

        Example:
            >>> fastinit.audit(model, x).plot("audit.png", title="torch default init")
        """
        plot_reports({"model": self}, path, title=title)

    def last_ratio(self) -> float:
        """Activation RMS of the last row over the input's; nan when there is no row or the
        input's RMS is 0 or nan (never a ZeroDivisionError)."""
        if not self.rows or not self.input_rms:
            return float("nan")
        return self.rows[-1].act_rms / self.input_rms


def _tensors(obj, depth=0):
    """The tensors in ``obj``, depth first: ``obj`` itself; the items of a tuple or list; the
    values of a mapping (insertion order: a dict, transformers' ModelOutput); the fields of
    a dataclass instance (declaration order)."""
    import dataclasses
    from collections.abc import Mapping

    import torch

    if isinstance(obj, torch.Tensor):
        yield obj
        return
    if depth > 32:
        return
    if isinstance(obj, (tuple, list)):
        items = obj
    elif isinstance(obj, Mapping):
        items = obj.values()
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        items = [getattr(obj, f.name, None) for f in dataclasses.fields(obj)]
    else:
        return
    for o in items:
        yield from _tensors(o, depth + 1)


def _first_tensor(out):
    """The input audit measures: the first tensor of ``out`` (any dtype)."""
    return next(_tensors(out), None)


def _measured(out):
    """The output audit measures (and back-propagates from): the first floating-point tensor
    of ``out`` in :func:`_tensors` order: the output itself, else the first one in its
    tuples, lists, mappings and dataclass fields, depth first."""
    return next((t for t in _tensors(out) if t.is_floating_point()), None)


def _rms_std(t):
    t = t.detach().double()
    rms = float(t.pow(2).mean().sqrt()) if t.numel() else float("nan")
    if t.dim() >= 1 and t.shape[0] >= 2:
        std = float(t.var(dim=0, unbiased=False).mean().sqrt())
    else:
        std = float(t.std(unbiased=False)) if t.numel() else float("nan")
    return rms, std


def audit(module, example_input, *, loss_fn=None):
    """Measure how the signal's scale moves through ``module`` at initialization.

    Runs ``module(example_input)`` forward and backward once with hooks: a check of an
    initialization, not a fill (it draws nothing from fastinit's streams). For every
    submodule that runs (``nn.ModuleList`` and ``nn.ModuleDict`` excepted; in the order
    its forward returns; a module run twice gets two rows, the second named
    ``name#2``), from its output tensor, which is the first floating-point tensor of the
    output in this order: the output itself; else, depth first, the items of a tuple or
    list, the values of a mapping in insertion order (a dict, transformers' ``ModelOutput``:
    its first field set, e.g. ``last_hidden_state``, or ``loss`` when labels were given),
    the fields of a dataclass in declaration order. A module whose output holds no
    floating-point tensor gets no row. The same rule picks the model's output for the loss:

    * ``act_rms``: ``sqrt(mean(y^2))`` over all elements;
    * ``act_std``: the spread across examples, ``sqrt(mean over positions of var over
      dim 0)`` (population variance); it equals ``act_rms`` for a zero-mean signal that
      varies with the input, and falls below it when part of the output is the same for
      every example (a bias floor). With a batch of 1 it is the std over all elements;
    * ``grad_rms``, ``grad_std``: the same of the gradient of the loss with respect to that
      output (a tensor hook, so in-place activations are fine); nan when no gradient
      reaches it.

    The loss: ``loss_fn(output)`` if given, else ``(output * z).sum()`` with ``z`` standard
    normal noise of a fixed seed (``torch.Generator().manual_seed(0)``; the global RNG is
    not touched): the output's gradient then has RMS ~1, and each row's gradient RMS is the
    backward pass's gain from the output to that layer. ``loss_fn`` is given the whole
    output (a dict, tuple, dataclass...). No backward pass runs when the measured output
    does not require grad.

    audit leaves everything as it found it, also when the pass raises: the hooks are
    removed; the parameters' ``.grad`` are set back (nothing is accumulated); parameters
    and buffers written by the forward (batch norm's running statistics and counter) get
    their values back, and input tensors their values and ``.grad``; torch's CPU (and, if
    initialized, CUDA) generators, Python's ``random`` and NumPy's global state are
    restored (dropout draws from them). For this it holds a copy of the module's
    parameters, buffers and input tensors during the pass. See the module docstring for
    what the numbers mean.

    Args:
        module (torch.nn.Module): the model to measure; it runs in the mode it is in
            (training mode: batch statistics, dropout), and what its forward updates is
            restored afterwards.
        example_input: a tensor, or a tuple of positional arguments for ``module``
            (one of them a tensor).
        loss_fn (keyword-only): a function of the module's output returning a scalar
            tensor to back-propagate; default None (the fixed-noise loss above).

    Returns:
        An ``AuditReport``: ``input_rms``, ``input_std`` (of the first tensor of
        ``example_input``; nan when it is not floating point)
        and ``rows`` (one ``LayerStats`` per module output: ``name``, ``kind`` (the class
        name), ``shape``, ``act_rms``, ``act_std``, ``grad_rms``, ``grad_std``), with
        ``.table()``, ``.plot(path)`` and ``.last_ratio()``.

    Raises:
        TypeError: ``module`` is not a ``torch.nn.Module``; ``example_input`` is not a
            tensor or a tuple holding one. Whatever the module's forward or ``loss_fn``
            raises propagates (hooks removed, gradients restored).

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Linear(512, 512), torch.nn.ReLU())
        >>> report = fastinit.audit(model, torch.randn(256, 512))
        >>> print(report.table())
        >>> report.plot("audit.png")
    """
    import torch

    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"audit expects a torch.nn.Module, not {type(module).__name__}")
    args = example_input if isinstance(example_input, tuple) else (example_input,)
    first = _first_tensor(args)
    if first is None:
        raise TypeError("audit: example_input must be a tensor or a tuple holding one")
    in_rms, in_std = _rms_std(first) if first.is_floating_point() else (float("nan"), float("nan"))
    report = AuditReport(in_rms, in_std)
    seen = {}
    handles = []

    def on_forward(name, kind):
        def hook(mod, inp, out):
            y = _measured(out)
            if y is None:
                return
            n = seen.get(name, 0)
            seen[name] = n + 1
            rms, std = _rms_std(y)
            row = LayerStats(name if n == 0 else f"{name}#{n + 1}", kind, tuple(y.shape), rms, std)
            report.rows.append(row)
            if y.requires_grad:
                def grad_hook(g, row=row):
                    row.grad_rms, row.grad_std = _rms_std(g)
                y.register_hook(grad_hook)

        return hook

    for name, m in module.named_modules():
        if m is module or isinstance(m, (torch.nn.ModuleList, torch.nn.ModuleDict)):
            continue
        handles.append(m.register_forward_hook(on_forward(name, type(m).__name__)))
    # Everything the pass could change is put back afterwards (issue 18 finding 5): the
    # parameters' .grad, the parameters' and buffers' values (batch norm's running
    # statistics and counter), the input tensors' values and .grad, and every RNG the
    # forward may draw from (torch's CPU and CUDA generators, Python's random, NumPy's
    # global state: dropout, stochastic depth).
    restore = _Snapshot(module, args)
    try:
        out = module(*args)
        y = _measured(out)
        if y is not None and y.requires_grad:
            if loss_fn is None:
                z = torch.randn(y.shape, generator=torch.Generator().manual_seed(0), dtype=y.dtype).to(y.device)
                loss = (y * z).sum()
            else:
                loss = loss_fn(out)
            loss.backward()
    finally:
        for h in handles:
            h.remove()
        restore()
    return report


def _same(t, copy) -> bool:
    import torch

    return t.shape == copy.shape and t.dtype == copy.dtype and bool(torch.equal(t.detach(), copy))


class _Snapshot:
    """What ``audit``'s pass may change, taken before it; calling the snapshot puts it back."""

    def __init__(self, module, args):
        import random

        import numpy as np
        import torch

        self.grads = [(p, p.grad) for p in module.parameters()]
        self.values = []  # (owner module, "_parameters"/"_buffers", name, tensor, copy)
        for m in module.modules():
            for kind in ("_parameters", "_buffers"):
                for name, t in getattr(m, kind).items():
                    if t is not None:
                        self.values.append((m, kind, name, t, t._version, t.detach().clone()))
        self.inputs = [(t, t.grad if t.is_leaf else None, t._version, t.detach().clone()) for t in _tensors(args)]
        self.cpu_rng = torch.get_rng_state()
        self.cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
        self.py_rng = random.getstate()
        self.np_rng = np.random.get_state()

    def __call__(self):
        import random

        import numpy as np
        import torch

        with torch.no_grad():
            for m, kind, name, t, version, copy in self.values:
                getattr(m, kind)[name] = t  # a forward may rebind a buffer
                # written in place? (batch norm's kernel updates its running statistics without
                # bumping their version counter, so the values are compared too; untouched
                # tensors are not written, and keep their version)
                if t._version != version or not _same(t, copy):
                    t.copy_(copy)
            for t, grad, version, copy in self.inputs:
                if t._version != version or not _same(t, copy):
                    t.copy_(copy)
                if t.is_leaf:
                    t.grad = grad
        for p, grad in self.grads:
            p.grad = grad
        torch.set_rng_state(self.cpu_rng)
        if self.cuda_rng is not None:
            torch.cuda.set_rng_state_all(self.cuda_rng)
        random.setstate(self.py_rng)
        np.random.set_state(self.np_rng)


def plot_reports(reports: dict, path, *, title=None, theory=None, x_labels=None):
    """One PNG: for each labelled report, activation RMS (left) and gradient RMS (right)
    per row, log scale; ``theory``: optional {label: [values per row]} drawn dashed on the
    activation panel. matplotlib is imported here only (Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_a, ax_g) = plt.subplots(1, 2, figsize=(13, 5))
    for (label, rep), color in zip(reports.items(), ("tab:blue", "tab:green", "tab:purple", "tab:orange", "tab:red")):
        xs = list(range(len(rep.rows) + 1))
        ax_a.plot(xs, [rep.input_rms] + [r.act_rms for r in rep.rows], marker=".", color=color, label=f"{label}: RMS")
        if any(abs(r.act_std - r.act_rms) > 0.05 * r.act_rms for r in rep.rows):
            ax_a.plot(xs, [rep.input_std] + [r.act_std for r in rep.rows], ls=":", color=color,
                      label=f"{label}: std across examples")
        ax_g.plot(xs[1:], [r.grad_rms for r in rep.rows], marker=".", color=color, label=label)
    for (label, vals), color in zip((theory or {}).items(), ("gray", "black")):
        start = len(next(iter(reports.values())).rows) + 1 - len(vals)  # a list may omit the input
        ax_a.plot(range(start, start + len(vals)), vals, ls="--", color=color, lw=1, label=label)
    for ax, what in ((ax_a, "activation RMS"), (ax_g, "gradient RMS (loss gradient at the output: RMS 1)")):
        ax.set_yscale("log")
        ax.set_xlabel("module output, in forward order (0 = the input)")
        ax.set_ylabel(what)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        if x_labels is not None:
            ax.set_xticks(range(len(x_labels)))
            ax.set_xticklabels(x_labels, rotation=90, fontsize=6)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------
# python -m fastinit audit
# --------------------------------------------------------------------------


def _mlp(layers, width, bias):
    import torch.nn as nn

    mods = []
    for _ in range(layers):
        mods += [nn.Linear(width, width, bias=bias), nn.ReLU()]
    return nn.Sequential(*mods)


def _blocks(layers, width):
    import torch.nn as nn

    return nn.Sequential(*[nn.TransformerEncoderLayer(width, nhead=max(1, width // 64), dim_feedforward=4 * width,
                                                      dropout=0.0, batch_first=True) for _ in range(layers)])


def mlp_theory(layers, input_rms=1.0):
    """The rows' activation RMS that the README's derivation ("The a=sqrt(5) question,
    measured") predicts for the bias-free Linear+ReLU MLP under torch's default init: a Linear keeps 1/3 of its input's
    second moment, a ReLU half of its input's."""
    out, s = [input_rms**2], input_rms**2
    for _ in range(layers):
        s /= 3
        out.append(s)
        s /= 2
        out.append(s)
    return [math.sqrt(v) for v in out]


def run_cli(args) -> int:
    """``python -m fastinit audit``. ``args``: an argparse Namespace with ``plot`` (path or
    None), ``layers`` (default 20), ``width`` (default 1024), ``block`` (bool) and ``seed``
    (int or None). Without ``block``: ``layers`` x (Linear(width, width, bias=False) + ReLU)
    under torch's default init against ``apply_scheme("kaiming", nonlinearity="relu")``,
    plus the default init with biases (the floor); with ``block``: ``layers``
    ``nn.TransformerEncoderLayer``\\ s (d_model = width, 4x feed-forward, post-norm, no
    dropout) under both. Prints the tables; with ``plot``, writes one PNG. Returns 0."""
    import torch

    layers = int(getattr(args, "layers", 20) or 20)
    width = int(getattr(args, "width", 1024) or 1024)
    block = bool(getattr(args, "block", False))
    seed = getattr(args, "seed", None)
    path = getattr(args, "plot", None)
    if layers < 1 or width < 1:
        raise ValueError(f"audit: layers and width must be positive, got {layers} and {width}")
    gen = torch.Generator().manual_seed(0 if seed is None else seed)

    def build(**kw):
        if seed is not None:
            torch.manual_seed(seed)
        return _blocks(layers, width) if block else _mlp(layers, width, **kw)

    x = torch.randn((8, 64, width) if block else (512, width), generator=gen)
    what = (f"{layers} x nn.TransformerEncoderLayer(d_model={width})" if block
            else f"{layers} x (Linear({width}, {width}) + ReLU)")
    models = {"torch default init": build(**({} if block else {"bias": False}))}
    models["kaiming (relu)"] = apply_scheme(build(**({} if block else {"bias": False})), "kaiming",
                                            nonlinearity="relu", seed=seed)
    if not block:
        models["torch default init, with biases"] = build(bias=True)
    reports = {}
    for label, m in models.items():
        reports[label] = audit(m, x)
        print(f"== {what}: {label} ==")
        print(reports[label].table())
        print(f"last activation RMS / input RMS = {reports[label].last_ratio():.4g}\n")
    if not block:
        print(f"predicted for the bias-free default init: (1/sqrt(6))^{layers} = {6 ** (-layers / 2):.4g}; "
              f"bias floor sqrt(1/(5 n)) = {math.sqrt(1 / (5 * width)):.4g}")
    if path:
        theory = None
        if not block:
            r = reports["torch default init"].input_rms
            # the floor: Linear rows sqrt(2/(5n)), ReLU rows sqrt(1/(5n)) (README, the a=sqrt(5) section)
            floor = [math.sqrt((2.0 if i % 2 else 1.0) / (5 * width)) for i in range(2 * layers + 1)]
            theory = {"predicted: x 1/sqrt(3) per Linear, x 1/sqrt(2) per ReLU": mlp_theory(layers, r),
                      "predicted bias floor": floor[1:]}
        plot_reports(reports, path, title=f"fastinit audit: {what}", theory=theory)
        print(f"plot written to {path}")
    return 0
