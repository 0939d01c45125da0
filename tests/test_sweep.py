"""deferred_init / materialize_ over real model code (issue 17, item 6).

Every model type that transformers registers (``CONFIG_MAPPING``; its base model class from
``MODEL_MAPPING``, else the first task mapping that has it), built from its default config
shrunk generically (widths, heads, layers, vocab, experts, image size; less where that does
not build; at most 5M parameters), and the smallest variant of every timm family (fewest
parameters on meta; ``num_classes=10``, ``img_size=64`` where the model takes it), each
checked by tests/sweep_models.py against two eager builds (``torch.manual_seed(0)`` and
``(1)``):

* a tensor equal in both eager builds (a constant, a computed buffer) is bit-identical
  after ``materialize_``; a random one is random in ours too (not equal to eager's values)
  and, with >= 1000 elements, passes a two-sample KS test against eager (p > 1e-6);
  elements zero in both eager builds (padding rows) are zero;
* fresh memory is poisoned (NaN, ints -1: ``deferred._POISON``), so an unwritten element
  shows up; parameter and buffer names, types, shapes, dtypes and ties (storage
  addresses) are eager's; the same seed twice gives bit-identical tensors;
* where the eager model runs on a generic input (``dummy_inputs``; with
  ``decoder_input_ids``; ``pixel_values`` of the config's image size; a waveform; timm:
  an image of the input size), ours runs on it and is finite where eager's output is.

A model in ``RAISES`` must raise ``DeferredInitError`` with that text (the op and the
tensor it names); one in ``NOT_BUILT`` must still not build eagerly for that reason (its
reason is the check: when it starts to build, this test fails and the model joins the
sweep). Every other model must pass. Models run in chunks, one process each (timm needs the
torchvision stand-in of test_clients.py; a crash takes only its chunk). The whole sweep is
marked slow; ``FAST`` is the unmarked sample.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)
import sweep_models  # noqa: E402

CHUNK = 40
CHUNK_TIMEOUT_S = 1200

#: the unmarked sample: a few of each kind of model code
FAST = {"hf": ["bert", "llama", "gpt2", "t5", "mixtral", "clip", "wav2vec2"],
        "timm": ["resnet", "vision_transformer", "convnext"]}

#: model -> the DeferredInitError text it must raise (names the op and the tensor)
RAISES = {
}

#: model -> why its eager build cannot be made here (asserted: the text must be in the
#: worker's reason)
NOT_BUILT = {
}


def _hf_types():
    try:
        return sweep_models.hf_types()
    except Exception as e:  # transformers is a test dependency: missing fails the tests below
        return [f"transformers-not-importable:{type(e).__name__}"]


def _cases():
    cases = [("hf", t) for t in _hf_types()] + [("timm", f) for f in sorted(sweep_models.TIMM_SMALLEST)]
    return cases


def _chunks():
    """(kind, names) groups, the fast sample first, in a fixed order."""
    out = []
    for kind in ("hf", "timm"):
        out.append((kind, tuple(FAST[kind])))
        rest = [n for k, n in _cases() if k == kind and n not in FAST[kind]]
        out += [(kind, tuple(rest[i:i + CHUNK])) for i in range(0, len(rest), CHUNK)]
    return out


_RESULTS = {}


def _worker_name(kind, name):
    return sweep_models.TIMM_SMALLEST[name] if kind == "timm" else name


def _result(kind, name):
    key = (kind, name)
    if key in _RESULTS:
        return _RESULTS[key]
    chunk = next(c for c in _chunks() if c[0] == kind and name in c[1])
    argv = [_worker_name(kind, n) for n in chunk[1]]
    proc = subprocess.run([sys.executable, os.path.join(_HERE, "sweep_models.py"), kind] + argv,
                          capture_output=True, text=True, timeout=CHUNK_TIMEOUT_S)
    got = {}
    for line in proc.stdout.splitlines():
        if line.startswith("SWEEP "):
            r = json.loads(line[6:])
            got[r["name"]] = r
    for n, w in zip(chunk[1], argv):
        _RESULTS[(kind, n)] = got.get(w) or {
            "name": w, "status": "crash",
            "msg": f"no result: the chunk's process ended with rc {proc.returncode}\n{proc.stderr[-3000:]}"}
    return _RESULTS[key]


def _params(fast):
    out = []
    for kind, name in _cases():
        is_fast = name in FAST.get(kind, ())
        if is_fast != fast:
            continue
        out.append(pytest.param(kind, name, id=f"{kind}-{name}",
                                marks=() if fast else (pytest.mark.slow,)))
    return out


def _check(kind, name):
    key = f"{kind}:{name}"
    r = _result(kind, name)
    what = f"{key} ({r['name']}, level {r.get('level')}, {r.get('params')} params)"
    if r.get("torchvision_stub"):
        warnings.warn(f"{key}: torchvision stand-in (timm's model code only)")
    if key in NOT_BUILT:
        assert r["status"] == "skip", f"{what} is listed in NOT_BUILT ({NOT_BUILT[key]!r}) but now {r['status']}: " \
                                      f"{r['msg']}: take it off the list"
        assert NOT_BUILT[key] in r["msg"], f"{what}: a different reason: {r['msg']}"
        return
    if key in RAISES:
        assert r["status"] == "raise", f"{what} must raise DeferredInitError ({RAISES[key]!r}), got {r['status']}: " \
                                       f"{r['msg']}"
        assert RAISES[key] in r["msg"], f"{what}: another DeferredInitError: {r['msg']}"
        return
    assert r["status"] == "pass", f"{what}: {r['status']}: {r['msg']}"


@pytest.mark.parametrize("kind,name", _params(fast=True))
def test_sweep_sample(kind, name):
    _check(kind, name)


@pytest.mark.parametrize("kind,name", _params(fast=False))
def test_sweep(kind, name):
    _check(kind, name)


def test_sweep_lists_name_real_models():
    """RAISES and NOT_BUILT name models of the sweep (a renamed type would silently drop out)."""
    keys = {f"{k}:{n}" for k, n in _cases()}
    stale = sorted((set(RAISES) | set(NOT_BUILT)) - keys)
    assert not stale, f"listed but not in the sweep: {stale}"
    assert not set(RAISES) & set(NOT_BUILT)
    assert len(sweep_models.TIMM_SMALLEST) > 50 and all(sweep_models.TIMM_SMALLEST.values())


# --- engine defects the sweep found, each as a minimal model ------------------------------


@pytest.fixture
def poisoned(monkeypatch):
    import fastinit.models.deferred as deferred_mod
    monkeypatch.setattr(deferred_mod, "_POISON", True)


def test_overwrite_reading_own_earlier_state(poisoned):
    """``a.copy_(init.uniform_(a, 1, 16).log())`` (Hugging Face's bailing_hybrid A_log): the
    copy_ overwrites ``a`` whole but its source reads ``a`` after the uniform_; the replay
    read the not yet written (poisoned) tensor: NaN."""
    import torch
    from test_deferred import check_against_eager
    import fastinit

    class ALog(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.A_log = torch.nn.Parameter(torch.empty(4096))
            with torch.no_grad():
                self.A_log.copy_(torch.nn.init.uniform_(self.A_log, a=1.0, b=16.0).log())

    m = check_against_eager(ALog, what="A_log", make=lambda: fastinit.deferred_init(ALog))
    a = m.A_log.detach()
    assert bool(((a >= 0) & (a <= torch.log(torch.tensor(16.0)))).all())
