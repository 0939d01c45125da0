"""fastinit.audit and the `python -m fastinit audit` runner (issue 12): the a=sqrt(5)
question, measured."""

from __future__ import annotations

import argparse
import math

import pytest
import torch
import torch.nn as nn

import fastinit
from fastinit.tools.audit import mlp_theory, run_cli

LAYERS, WIDTH = 20, 1024


def _mlp(bias=False, seed=0):
    torch.manual_seed(seed)  # torch's own default init (kaiming_uniform_(a=sqrt(5)))
    mods = []
    for _ in range(LAYERS):
        mods += [nn.Linear(WIDTH, WIDTH, bias=bias), nn.ReLU()]
    return nn.Sequential(*mods)


def _x(n=256):
    return torch.randn(n, WIDTH, generator=torch.Generator().manual_seed(1))


def test_default_init_shrinks_rms_by_one_over_sqrt6_per_pair():
    rep = fastinit.audit(_mlp(), _x())
    assert len(rep.rows) == 2 * LAYERS and [r.kind for r in rep.rows[:2]] == ["Linear", "ReLU"]
    ratio = rep.last_ratio()
    predicted = (1 / math.sqrt(6)) ** LAYERS
    assert predicted / 2 <= ratio <= predicted * 2, (ratio, predicted)
    # fastinit's reproduction of torch's default init (init_module_) gives the same picture
    m = fastinit.init_module_(_mlp(), seed=2)
    assert predicted / 2 <= fastinit.audit(m, _x()).last_ratio() <= predicted * 2
    # row by row: a Linear keeps 1/3 of the second moment, a ReLU 1/2 (each factor within 15%)
    rms = [rep.input_rms] + [r.act_rms for r in rep.rows]
    theory = mlp_theory(LAYERS)
    for k in range(1, len(rms)):
        want = theory[k] / theory[k - 1]
        assert abs(rms[k] / rms[k - 1] / want - 1) < 0.15, (k, rms[k] / rms[k - 1], want)


def test_kaiming_keeps_rms_flat():
    m = fastinit.apply_scheme(_mlp(), "kaiming", nonlinearity="relu", seed=3)
    rep = fastinit.audit(m, _x())
    assert 0.5 <= rep.last_ratio() <= 2
    # gradients: flat too (square layers, fan_in = fan_out)
    g = [r.grad_rms for r in rep.rows]
    assert 0.25 <= min(g) and max(g) <= 4


def test_default_biases_set_a_floor():
    rep = fastinit.audit(_mlp(bias=True), _x())
    floor_relu = math.sqrt(1 / (5 * WIDTH))  # README "The a=sqrt(5) question, measured": s = s/6 + 1/(6n)
    for r in rep.rows[-10:]:
        want = floor_relu * (math.sqrt(2) if r.kind == "Linear" else 1)
        assert want / 1.5 <= r.act_rms <= want * 1.5, (r.name, r.act_rms, want)
    # the floor is the same vector for every input: the spread across examples keeps decaying
    last = rep.rows[-1]
    assert last.act_std < 1e-4 * last.act_rms


def test_audit_rows_are_the_module_outputs():
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(32, 16), nn.Tanh(), nn.Linear(16, 4))
    x = torch.randn(50, 32)
    rep = fastinit.audit(m, x)
    with torch.no_grad():
        h1 = m[0](x)
        h2 = torch.tanh(h1)
        y = m[2](h2)
    for row, t in zip(rep.rows, (h1, h2, y)):
        assert row.act_rms == pytest.approx(float(t.double().pow(2).mean().sqrt()), rel=1e-6)
        assert row.act_std == pytest.approx(float(t.double().var(0, unbiased=False).mean().sqrt()), rel=1e-6)
    # default loss: (y * z).sum() with z ~ N(0, 1) of seed 0, so dL/dy = z
    z = torch.randn(y.shape, generator=torch.Generator().manual_seed(0))
    assert rep.rows[-1].grad_rms == pytest.approx(float(z.double().pow(2).mean().sqrt()), rel=1e-6)
    # custom loss: mean of squares -> dL/dy = 2 y / numel
    rep2 = fastinit.audit(m, x, loss_fn=lambda out: out.pow(2).mean())
    g = 2 * y.detach() / y.numel()
    assert rep2.rows[-1].grad_rms == pytest.approx(float(g.double().pow(2).mean().sqrt()), rel=1e-5)
    assert all(p.grad is None for p in m.parameters())  # nothing accumulated
    text = rep.table()
    assert "act rms" in text and "grad std" in text and len(text.splitlines()) == 3 + len(rep.rows)


def test_audit_refuses_non_modules():
    with pytest.raises(TypeError, match="torch.nn.Module"):
        fastinit.audit(lambda x: x, torch.ones(2))
    with pytest.raises(TypeError, match="example_input"):
        fastinit.audit(nn.ReLU(), "x")


def test_plot_writes_png(tmp_path):
    pytest.importorskip("matplotlib", reason="plots need matplotlib")
    rep = fastinit.audit(nn.Sequential(nn.Linear(8, 8), nn.ReLU()), torch.randn(4, 8))
    p = tmp_path / "a.png"
    rep.plot(p)
    assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5000


def test_run_cli_mlp_and_block(tmp_path, capsys):
    pytest.importorskip("matplotlib", reason="plots need matplotlib")
    p = tmp_path / "mlp.png"
    assert run_cli(argparse.Namespace(plot=str(p), layers=6, width=128, block=False, seed=5)) == 0
    out = capsys.readouterr().out
    assert out.count("act rms") == 3 and "torch default init" in out and "kaiming (relu)" in out
    assert p.read_bytes()[:4] == b"\x89PNG"
    assert run_cli(argparse.Namespace(plot=None, layers=2, width=64, block=True, seed=5)) == 0
    out = capsys.readouterr().out
    assert "TransformerEncoderLayer" in out and out.count("act rms") == 2 and "self_attn" in out
    with pytest.raises(ValueError, match="positive"):
        run_cli(argparse.Namespace(plot=None, layers=-1, width=64, block=False, seed=None))


# --- issue 18 finding 5: outputs of any structure; audit leaves everything as it found it --------

class _DictOut(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(8, 8)

    def forward(self, x):
        return {"hidden": self.lin(x), "count": torch.tensor(3)}


class _IntFirstTuple(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(8, 8)

    def forward(self, x):
        return torch.zeros(2, dtype=torch.int64), self.lin(x)


@__import__("dataclasses").dataclass
class _Out:
    labels: object
    hidden: torch.Tensor


class _DataclassOut(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(8, 8)

    def forward(self, x):
        return _Out(labels=None, hidden=self.lin(x))


@pytest.mark.parametrize("model_cls", [_DictOut, _IntFirstTuple, _DataclassOut])
def test_structured_outputs_are_measured_and_back_propagated(model_cls):
    torch.manual_seed(0)
    model = model_cls()
    x = torch.randn(16, 8)
    called = []

    def loss_fn(out):
        called.append(type(out))
        y = out["hidden"] if isinstance(out, dict) else out[1] if isinstance(out, tuple) else out.hidden
        return y.pow(2).sum()

    for kw in ({}, {"loss_fn": loss_fn}):
        rep = fastinit.audit(model, x, **kw)
        lin = [r for r in rep.rows if r.name == "lin"]
        assert len(lin) == 1
        assert math.isfinite(lin[0].grad_rms) and lin[0].grad_rms > 0, (kw, lin[0])
    assert called == [dict if model_cls is _DictOut else tuple if model_cls is _IntFirstTuple else _Out]


def test_audit_restores_buffers_rngs_and_inputs():
    import random

    import numpy as np

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8), nn.Dropout(0.5), nn.Linear(8, 8)).train()
    x = torch.randn(16, 8, requires_grad=True)
    x_before = x.detach().clone()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    versions = {k: v._version for k, v in model.state_dict().items()}
    random.seed(1)
    np.random.seed(1)
    cpu, py, npy = torch.get_rng_state(), random.getstate(), np.random.get_state()
    fastinit.audit(model, x)
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k]), f"{k} changed"
    assert model[1].num_batches_tracked.item() == 0
    assert torch.equal(torch.get_rng_state(), cpu), "torch's global generator advanced"
    assert random.getstate() == py
    after = np.random.get_state()
    assert after[0] == npy[0] and np.array_equal(after[1], npy[1]) and after[2:] == npy[2:]
    assert x.grad is None, "the input's .grad was left set"
    assert torch.equal(x.detach(), x_before)
    assert all(p.grad is None for p in model.parameters())
    assert model.training
    # parameters the forward did not write keep their version counters
    assert model[0].weight._version == versions["0.weight"]


def test_audit_restores_an_input_written_in_place():
    model = nn.Sequential(nn.ReLU(inplace=True), nn.Linear(8, 8))
    x = torch.randn(16, 8)
    before = x.clone()
    fastinit.audit(model, x)
    assert torch.equal(x, before)


def test_last_ratio_of_a_zero_input_is_nan():
    model = nn.Sequential(nn.Linear(8, 8))
    rep = fastinit.audit(model, torch.zeros(4, 8))
    assert rep.input_rms == 0.0
    assert math.isnan(rep.last_ratio())
    assert math.isnan(fastinit.tools.audit.AuditReport(1.0, 1.0).last_ratio())  # no rows
