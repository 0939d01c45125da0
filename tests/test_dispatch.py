"""ISA dispatch: FASTINIT_CPU_ISA really switches the kernel, unavailable or
bogus ISAs give a clear error (not a crash), available_isas() never lists an
ISA the CPU lacks, and the default is the best available one."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import reference as R
from conftest import ALL_ISAS, assert_bits_equal, c_fill, read_cpu_flags
from fastinit import _C

_CHILD = r"""
import json, sys
import numpy as np
out = {}
try:
    import fastinit
    from fastinit import _C
    out["import"] = "ok"
except BaseException as e:  # report, do not crash
    out["import"] = "%s: %s" % (type(e).__name__, e)
    print(json.dumps(out)); sys.exit(0)

def attempt(key, f):
    try:
        out[key] = {"ok": f()}
    except BaseException as e:
        out[key] = {"exc": type(e).__name__, "msg": str(e)}

attempt("available", lambda: list(_C.available_isas()))
attempt("active", lambda: _C.active_isa())
attempt("calls_before", lambda: dict(_C.kernel_calls()))
a = np.full(1001, 7.0, dtype=np.float32)
attempt("fill", lambda: _C.fill(a.__array_interface__["data"][0], 0, [1001], [4], -0.5, 0.5, 42, 9, "", 2))
out["values"] = a.view(np.uint32).tolist()
attempt("calls_after", lambda: dict(_C.kernel_calls()))
b = np.full(257, 7.0, dtype=np.float64)
attempt("public", lambda: (fastinit.uniform_(b, -1.0, 2.0, seed=5, offset=3), None)[1])
out["public_values"] = b.view(np.uint64).tolist()
attempt("calls_after_public", lambda: dict(_C.kernel_calls()))
attempt("info", lambda: fastinit.info())
print(json.dumps(out))
"""


def run_child(env_isa):
    env = dict(os.environ)
    env.pop("FASTINIT_CPU_ISA", None)
    if env_isa is not None:
        env["FASTINIT_CPU_ISA"] = env_isa
    p = subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, f"child crashed (rc={p.returncode}) with FASTINIT_CPU_ISA={env_isa!r}:\n{p.stderr}"
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    assert lines, f"no output from child:\nstdout={p.stdout}\nstderr={p.stderr}"
    out = json.loads(lines[-1])
    assert out["import"] == "ok", out["import"]
    return out


def best_available():
    avail = set(_C.available_isas())
    return [i for i in ALL_ISAS if i in avail][-1]


def test_forced_isa_switches_kernel(isa):
    out = run_child(isa)
    assert out["active"] == {"ok": isa}
    assert "ok" in out["fill"], out["fill"]
    before, after = out["calls_before"]["ok"], out["calls_after"]["ok"]
    for k in ALL_ISAS:
        delta = after[k] - before[k]
        if k == isa:
            assert delta >= 1, f"{k} kernel not called: {before} -> {after}"
        else:
            assert delta == 0, f"{k} kernel called while {isa} forced: {before} -> {after}"
    # the forced kernel computes the stream's values
    got = np.array(out["values"], dtype=np.uint32).view(np.float32)
    assert_bits_equal(got, R.expected((1001,), np.float32, -0.5, 0.5, 42, 9), f"forced {isa}")
    # the public layer goes through the same kernel and reports it
    assert out["public"] == {"ok": None}, out["public"]
    after2 = out["calls_after_public"]["ok"]
    for k in ALL_ISAS:
        if k == isa:
            assert after2[k] > after[k]
        else:
            assert after2[k] == after[k]
    got64 = np.array(out["public_values"], dtype=np.uint64).view(np.float64)
    assert_bits_equal(got64, R.expected((257,), np.float64, -1.0, 2.0, 5, 3), f"public, forced {isa}")
    assert out["info"]["ok"]["isa"] == isa


@pytest.mark.parametrize("bad", ["avx512", "bogus", "AVX9000", "sse2"])
def test_forced_unavailable_isa_errors(bad):
    if bad in _C.available_isas():
        pytest.skip(f"{bad} is available on this CPU; nothing to check")
    out = run_child(bad)
    # the fill fails with a clear RuntimeError naming the variable and the value
    assert out["fill"].get("exc") == "RuntimeError", out["fill"]
    assert "FASTINIT_CPU_ISA" in out["fill"]["msg"] and bad in out["fill"]["msg"], out["fill"]["msg"]
    # ... and wrote nothing
    assert np.all(np.array(out["values"], dtype=np.uint32).view(np.float32) == 7.0)
    assert out["public"].get("exc") == "RuntimeError", out["public"]
    assert np.all(np.array(out["public_values"], dtype=np.uint64).view(np.float64) == 7.0)
    # no kernel ran
    if "ok" in out["calls_before"] and "ok" in out["calls_after_public"]:
        assert out["calls_before"]["ok"] == out["calls_after_public"]["ok"]
    # available_isas still answers and never lists the bad one
    assert bad not in out["available"]["ok"]


def test_default_dispatch_is_best():
    out = run_child(None)
    assert out["active"] == {"ok": best_available()}
    assert out["info"]["ok"]["isa"] == best_available()
    assert sorted(out["info"]["ok"]["isas_available"]) == sorted(_C.available_isas())
    got = np.array(out["values"], dtype=np.uint32).view(np.float32)
    assert_bits_equal(got, R.expected((1001,), np.float32, -0.5, 0.5, 42, 9), "default dispatch")


def test_empty_env_is_default():
    out = run_child("")
    assert out["active"] == {"ok": best_available()}


def test_available_isas_match_cpu():
    avail = list(_C.available_isas())
    assert "scalar" in avail
    assert set(avail) <= set(ALL_ISAS), avail
    assert len(set(avail)) == len(avail)
    flags = read_cpu_flags()
    if not flags:
        pytest.skip("no /proc/cpuinfo flags to compare with")
    if "avx2" in avail:
        assert {"avx2", "fma"} <= flags, "avx2 listed but the CPU lacks avx2/fma"
    if "avx512" in avail:
        assert "avx512f" in flags, "avx512 listed but the CPU lacks avx512f"
    # this kind of CPU (AVX2 + FMA + F16C) must get the AVX2 kernel
    if {"avx2", "fma", "f16c"} <= flags:
        assert "avx2" in avail
    if "avx512f" not in flags:
        assert "avx512" not in avail


def test_isa_argument_switches_kernel(isa):
    """In-process: fill(..., isa=X) runs kernel X only."""
    a = np.empty(300, np.float16)
    before = dict(_C.kernel_calls())
    c_fill(a, -2.0, 2.0, 1, 2, isa, 1)
    after = dict(_C.kernel_calls())
    for k in ALL_ISAS:
        assert (after[k] - before[k] >= 1) if k == isa else (after[k] == before[k]), (k, before, after)
    assert_bits_equal(a, R.expected(a.shape, np.float16, -2.0, 2.0, 1, 2), f"isa={isa}")


@pytest.mark.parametrize("bad", ["avx512", "bogus", "AVX2 "])
def test_isa_argument_unavailable(bad):
    if bad in _C.available_isas():
        pytest.skip(f"{bad} is available on this CPU")
    a = np.full(50, 3.0, np.float32)
    before = dict(_C.kernel_calls())
    with pytest.raises((ValueError, RuntimeError)) as ei:
        c_fill(a, 0.0, 1.0, 1, 0, bad, 1)
    assert bad.strip() in str(ei.value) or bad in str(ei.value)
    assert np.all(a == 3.0)
    assert dict(_C.kernel_calls()) == before


def test_info_in_process():
    import fastinit

    inf = fastinit.info()
    env = os.environ.get("FASTINIT_CPU_ISA")
    if not env:
        assert inf["isa"] == best_available() == _C.active_isa()
    assert sorted(inf["isas_available"]) == sorted(_C.available_isas())
