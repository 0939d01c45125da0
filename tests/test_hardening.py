"""Regression tests for issue 11's bug list (and issue 10 item 3): targets whose memory is
missing, too small or flagged; arguments that run user code; patch_torch_init across
threads; Ctrl-C; refusals that must draw nothing; divergences from torch.

Anything that crashed the process before its fix runs in a subprocess, so a crash fails
the test instead of killing pytest."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
import threading
import warnings

import ml_dtypes
import numpy as np
import pytest
import torch

import fastinit
from helpers import same_outcome_as_torch

RANDOM_FILLS = ["uniform_", "kaiming_uniform_", "xavier_uniform_", "normal_", "kaiming_normal_", "xavier_normal_",
                "trunc_normal_"]
CONSTANT_FILLS = ["constant_", "ones_", "zeros_"]
ALL_FILLS = RANDOM_FILLS + CONSTANT_FILLS


def _args(name):
    return (0.5,) if name == "constant_" else ()


def run_py(code: str, env=None, timeout=300) -> str:
    """Run code in a fresh interpreter; it must exit 0 (a segfault fails here). Returns
    its stdout."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                       timeout=timeout, env=full_env)
    assert r.returncode == 0, f"exit code {r.returncode}\nstdout: {r.stdout[-2000:]}\nstderr: {r.stderr[-3000:]}"
    return r.stdout


# --------------------------------------------------------------------------
# 1. storage missing or too small
# --------------------------------------------------------------------------

_STORAGE_CASES = {
    "freed": "t = torch.zeros(100, 10); t.untyped_storage().resize_(0)",
    "freed_offset": "t = torch.zeros(101, 10)[1:]; t.untyped_storage().resize_(0)",
    "shrunk": "t = torch.zeros(1000, 1000); t.untyped_storage().resize_(16)",
    "shrunk_transposed": "t = torch.zeros(1000, 1000).t(); t.untyped_storage().resize_(4000)",
    "shrunk_tail": "t = torch.zeros(100, 10)[50:]; t.untyped_storage().resize_(3000)",
}


@pytest.mark.parametrize("case", sorted(_STORAGE_CASES))
def test_storage_too_small_refused(case):
    """Every fill function, with and without seed=, refuses a view whose bytes lie beyond
    its storage, writes nothing and draws nothing (before the fix: SIGSEGV / heap
    overflow)."""
    out = run_py(f"""
        import torch, fastinit, warnings
        warnings.simplefilter("ignore")
        for name in {ALL_FILLS!r}:
            for kw in ({{"seed": 1}}, {{}}):
                {_STORAGE_CASES[case]}
                g0 = torch.default_generator.get_state()
                args = (0.5,) if name == "constant_" else ()
                if name in ("constant_", "ones_", "zeros_"):
                    kw = {{}}
                try:
                    getattr(fastinit, name)(t, *args, **kw)
                except RuntimeError as e:
                    assert "storage" in str(e) and "nothing was written" in str(e), str(e)
                else:
                    raise AssertionError(name + " accepted a view past its storage")
                assert torch.equal(g0, torch.default_generator.get_state()), name + " drew a key"
        print("ok")
    """)
    assert out.strip().endswith("ok")


def test_storage_resized_back_is_filled():
    """A storage freed and then given its bytes back (FSDP2's unshard) is filled normally."""
    t = torch.zeros(1000)
    t.untyped_storage().resize_(0)
    t.untyped_storage().resize_(4000)
    fastinit.uniform_(t, seed=3)
    assert torch.equal(t, fastinit.uniform_(torch.empty(1000), seed=3))


def test_dtensor_freed_local_storage_refused(tmp_path):
    """FSDP2 frees a parameter's local storage with resize_(0): a fill must refuse it, not
    crash."""
    out = run_py(f"""
        import torch, torch.distributed as dist, fastinit
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.tensor import distribute_tensor, Shard
        dist.init_process_group("gloo", rank=0, world_size=1, init_method="file://{tmp_path}/pg")
        mesh = init_device_mesh("cpu", (1,))
        dt = distribute_tensor(torch.zeros(64, 8), mesh, [Shard(0)])
        dt._local_tensor.untyped_storage().resize_(0)
        g0 = torch.default_generator.get_state()
        for name in ("uniform_", "normal_", "trunc_normal_", "kaiming_uniform_"):
            for kw in ({{"seed": 1}}, {{}}):
                try:
                    getattr(fastinit, name)(dt, **kw)
                except RuntimeError as e:
                    assert "storage" in str(e), str(e)
                else:
                    raise AssertionError("accepted")
        assert torch.equal(g0, torch.default_generator.get_state())
        dist.destroy_process_group()
        print("ok")
    """)
    assert out.strip().endswith("ok")


@pytest.mark.parametrize("name", RANDOM_FILLS)
def test_functionalize_supported(name):
    """torch.func.functionalize: the tensor has no memory (data_ptr 0); the fill goes
    through a real buffer and copy_, so the mutation is recorded and the values are
    fastinit's (before the fix: SIGSEGV)."""
    out = run_py(f"""
        import torch, fastinit
        x = torch.zeros(6, 5)
        r = torch.func.functionalize(lambda x: fastinit.{name}(x, seed=7) * 1)(x)
        want = fastinit.{name}(torch.empty(6, 5), seed=7)
        assert torch.equal(r, want) and torch.equal(x, want), (r, want)
        y = torch.zeros(6, 10)[:, ::2]
        torch.func.functionalize(lambda y: fastinit.{name}(y, seed=7))(y)
        assert torch.equal(y, want)
        for c in ("constant_", "zeros_", "ones_"):
            z = torch.full((3,), 5.0)
            args = (2.0,) if c == "constant_" else ()
            torch.func.functionalize(lambda z: getattr(fastinit, c)(z, *args))(z)
            assert torch.equal(z, getattr(torch.nn.init, c)(torch.empty(3), *args))
        print("ok")
    """)
    assert out.strip().endswith("ok")


def test_zerotensor_refused_as_torch():
    """A ZeroTensor is immutable: torch's error, no crash (before the fix: SIGSEGV)."""
    out = run_py("""
        import torch, fastinit
        for name in ("uniform_", "normal_", "zeros_"):
            msgs = []
            for mod in (torch.nn.init, fastinit):
                try:
                    getattr(mod, name)(torch._efficientzerotensor(3))
                except RuntimeError as e:
                    msgs.append(str(e))
            assert len(msgs) == 2 and msgs[0] == msgs[1], msgs
        print("ok")
    """)
    assert out.strip().endswith("ok")


def test_nested_tensor_refused_clearly():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's prototype-stage warning
        t = torch.nested.nested_tensor([torch.zeros(2), torch.zeros(3)], layout=torch.strided)
    with pytest.raises(RuntimeError, match="nested"):
        fastinit.uniform_(t, seed=1)


def test_numpy_view_past_its_buffer_refused():
    """as_strided views reaching beyond the owning buffer (the array that owns the data, a
    bytearray, a torch tensor's storage) are refused; the buffer's bytes and the
    generators are untouched (before the fix: a heap overflow, so in a subprocess)."""
    out = run_py(f"""
        import numpy as np, torch, fastinit
        ast = np.lib.stride_tricks.as_strided
        base = np.zeros(100, np.float32)
        owners = [base, np.frombuffer(bytearray(400), np.float32), torch.zeros(100).numpy()]
        bad = [
            ast(base, shape=(20, 10), strides=(40, 4)),
            ast(base[50:], shape=(6, 10), strides=(40, 4)),
            ast(base[10:], shape=(2, 20), strides=(4, -4)),
            ast(base[10:], shape=(5, 20), strides=(4, -4)),
            ast(base, shape=(10, 10), strides=(44, 4)),
            ast(owners[1], shape=(101, 1), strides=(4, 4)),
            ast(owners[2], shape=(101, 1), strides=(4, 4)),
        ]
        state = np.random.get_state()[1].copy()
        for a in bad:
            assert a.flags.writeable
            for name in {ALL_FILLS!r}:
                args = (0.5,) if name == "constant_" else ()
                try:
                    getattr(fastinit, name)(a, *args)
                except RuntimeError as e:
                    assert "base buffer" in str(e), str(e)
                else:
                    raise AssertionError(name + " accepted a view past its buffer")
        assert all((o == 0).all() for o in owners)
        assert np.array_equal(np.random.get_state()[1], state)
        print("ok")
    """)
    assert out.strip().endswith("ok")


def test_numpy_views_inside_their_buffer_accepted(tmp_path):
    """Views within their owner are filled, with the values of a plain array."""
    want = fastinit.uniform_(np.empty(50, np.float32), seed=2)
    mm = np.memmap(tmp_path / "m", dtype=np.float32, mode="w+", shape=(100,))
    for a in [np.zeros(100, np.float32)[::2], np.frombuffer(bytearray(400), np.float32)[50:],
              torch.zeros(100).numpy()[::-2], mm[50:],
              np.lib.stride_tricks.as_strided(np.zeros(100, np.float32), shape=(50,), strides=(8,))]:
        assert a.flags.writeable
        fastinit.uniform_(a, seed=2)
        assert np.array_equal(a, want)


def test_numpy_resized_base_refused():
    """A view of an array whose buffer was shrunk by ndarray.resize(refcheck=False)."""
    a = np.zeros(1000, np.float32)
    v = a[500:]
    a.resize(10, refcheck=False)
    with pytest.raises(RuntimeError, match="base buffer"):
        fastinit.uniform_(v, seed=1)


class _FakeMem:
    def __init__(self, ptr, size):
        self.ptr, self.size = ptr, size


class _FakeCuda:
    """A CuPy-like object: __cuda_array_interface__ and .data.mem (never written: every
    case here is refused before the kernel)."""

    def __init__(self, ptr, shape, strides, mem):
        self.__cuda_array_interface__ = {"shape": shape, "strides": strides, "typestr": "<f4",
                                         "data": (ptr, False), "version": 3}

        class _P:
            pass

        self.data = _P()
        self.data.mem = mem


def test_cuda_array_interface_extent_checked():
    for obj in [_FakeCuda(0x10000, (100,), None, _FakeMem(0x10000, 200)),
                _FakeCuda(0x10000, (10,), (-4,), _FakeMem(0x10000, 4000)),
                _FakeCuda(0, (10,), None, _FakeMem(0, 0)),
                _FakeCuda(0x10000, (10, 10), (2**62, 4), None)]:
        if obj.data.mem is None:
            del obj.data
        with pytest.raises(RuntimeError, match="fastinit: this view needs bytes"):
            fastinit.uniform_(obj, seed=1)


# --------------------------------------------------------------------------
# 2. neg-bit views
# --------------------------------------------------------------------------


def _neg_views():
    return {
        "neg_view": lambda: torch._neg_view(torch.zeros(4, 6)),
        "conj_imag": lambda: torch.zeros(4, 6, dtype=torch.complex64).conj().imag,
        "conj_imag_f64": lambda: torch.zeros(4, 6, dtype=torch.complex128).conj().imag,
        "neg_view_t": lambda: torch._neg_view(torch.zeros(6, 4)).t(),
        "neg_view_bf16": lambda: torch._neg_view(torch.zeros(4, 6, dtype=torch.bfloat16)),
    }


@pytest.mark.parametrize("view", sorted(_neg_views()))
@pytest.mark.parametrize("name", [n for n in ALL_FILLS if n != "trunc_normal_"])
def test_neg_bit_views_read_right(view, name):
    """Through a neg-bit view (conj().imag of a complex tensor), the values read are
    exactly the values a plain tensor gets (before the fix: their negatives)."""
    v = _neg_views()[view]()
    assert v.is_neg()
    kw = {} if name in CONSTANT_FILLS else {"seed": 11}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        getattr(fastinit, name)(v, *_args(name), **kw)
        want = getattr(fastinit, name)(torch.empty(v.shape, dtype=v.dtype), *_args(name), **kw)
    assert torch.equal(v.clone(), want), (v, want)
    assert v.is_neg()


@pytest.mark.parametrize("view", sorted(_neg_views()))
def test_neg_bit_view_trunc_normal_like_torch(view):
    """torch's trunc_normal_ rounds its bounds with new_tensor, which a neg-bit view
    refuses; fastinit follows torch's outcome (error or values read right)."""
    t_run, f_run = same_outcome_as_torch("trunc_normal_", _neg_views()[view], (), {})
    if f_run[0][0] == "ok":
        v = _neg_views()[view]()
        fastinit.trunc_normal_(v, seed=3)
        assert torch.equal(v.clone(), fastinit.trunc_normal_(torch.empty(v.shape, dtype=v.dtype), seed=3))


def test_conj_bit_real_view_is_plain():
    """conj().real of a complex tensor has no flag to honour (the real part is not
    conjugated); it fills like a plain strided view."""
    v = torch.zeros(4, dtype=torch.complex64).conj().real
    assert not v.is_neg()
    fastinit.uniform_(v, seed=2)
    assert torch.equal(v.clone(), fastinit.uniform_(torch.empty(4), seed=2))


# --------------------------------------------------------------------------
# 3. user code in arguments
# --------------------------------------------------------------------------


def test_index_that_frees_the_target():
    """seed/offset objects whose __index__ frees or replaces the target's memory
    (t.set_, storage resize_, ndarray.resize): arguments are converted before the target
    is described, so nothing is written to freed memory (before the fix: use after free)."""
    out = run_py("""
        import torch, numpy as np, fastinit
        class Evil:
            def __init__(self, act): self.act = act
            def __index__(self):
                self.act(); return 5
        for name in ("uniform_", "normal_", "trunc_normal_", "kaiming_uniform_"):
            for which in ("seed", "offset"):
                t = torch.zeros(1024, 1024)
                kw = {"seed": 1, "offset": 0}
                kw[which] = Evil(lambda: t.set_(torch.zeros(0)))
                getattr(fastinit, name)(t, **kw)
                assert t.numel() == 0
                t = torch.zeros(1024, 1024)
                kw[which] = Evil(lambda: t.untyped_storage().resize_(0))
                try:
                    getattr(fastinit, name)(t, **kw)
                except RuntimeError as e:
                    assert "storage" in str(e)
                else:
                    raise AssertionError("accepted a freed storage")
                a = np.zeros((1024, 1024), np.float32)
                kw[which] = Evil(lambda: a.resize(0, refcheck=False))
                getattr(fastinit, name)(a, **kw)
                assert a.size == 0
        print("ok")
    """)
    assert out.strip().endswith("ok")


def test_generator_subclass_that_frees_the_target():
    """A numpy.random.Generator subclass whose draw shrinks the target: the target is
    described again after such a draw."""
    out = run_py("""
        import numpy as np, fastinit
        class G(np.random.Generator):
            def integers(self, *a, **k):
                arr.resize(0, refcheck=False)
                return super().integers(*a, **k)
        arr = np.zeros(1 << 20, np.float32)
        fastinit.uniform_(arr, generator=G(np.random.PCG64(1)))
        assert arr.size == 0
        print("ok")
    """)
    assert out.strip().endswith("ok")


# --------------------------------------------------------------------------
# 4. patch_torch_init: open blocks are counted
# --------------------------------------------------------------------------


def _patched():
    return torch.nn.init.uniform_ is fastinit.uniform_ and torch.nn.init.normal_ is fastinit.normal_


def test_patch_out_of_order_exit_same_thread():
    orig = torch.nn.init.uniform_
    a, b = fastinit.patch_torch_init(), fastinit.patch_torch_init()
    a.__enter__()
    b.__enter__()
    a.__exit__(None, None, None)
    assert _patched(), "restored while a block is still open"
    b.__exit__(None, None, None)
    assert torch.nn.init.uniform_ is orig


def test_patch_across_threads():
    """Thread A opens, thread B opens, A exits first: the patch stays until B exits."""
    orig = torch.nn.init.uniform_
    a_in, b_in, a_out, b_check, b_out = (threading.Event() for _ in range(5))
    seen = {}

    def thread_a():
        with fastinit.patch_torch_init():
            a_in.set()
            b_in.wait(10)
        a_out.set()

    def thread_b():
        a_in.wait(10)
        with fastinit.patch_torch_init():
            b_in.set()
            a_out.wait(10)
            seen["after A exits"] = _patched()
            seen["linear"] = torch.nn.Linear(4, 4).weight.clone()
        b_out.set()

    ts = [threading.Thread(target=thread_a), threading.Thread(target=thread_b)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    assert seen["after A exits"], "A's exit restored torch's functions while B's block was open"
    assert torch.nn.init.uniform_ is orig


def test_patch_exception_in_inner_block_keeps_outer():
    orig = torch.nn.init.uniform_
    with fastinit.patch_torch_init():
        with pytest.raises(ZeroDivisionError):
            with fastinit.patch_torch_init():
                1 / 0
        assert _patched()
    assert torch.nn.init.uniform_ is orig


# --------------------------------------------------------------------------
# 5. Ctrl-C during a fill
# --------------------------------------------------------------------------


def test_keyboard_interrupt_bumps_version():
    """A KeyboardInterrupt between the kernel's 64 MiB slices leaves the tensor partly
    written; its version counter must have moved (before the fix it did not)."""
    out = run_py("""
        import signal, sys, threading, _thread, torch, fastinit
        # interrupt_main does nothing where SIGINT is ignored, as in a child of a
        # background job (POSIX): install Python's handler.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        sys.setswitchinterval(100.0)  # the helper runs only once the fill releases the GIL
        n = 6 * (16 << 20)  # six slices of float32
        for attempt in range(5):
            t = torch.zeros(n)
            v0 = t._version
            # The interrupt is sent once the fill has written its first element (slice 0 of
            # six), not after a delay: on a loaded machine a timed interrupter can miss the
            # whole fill. The helper runs only while the fill has released the GIL.
            def interrupter():
                while t[0] == 0:
                    pass
                _thread.interrupt_main()
            th = threading.Thread(target=interrupter, daemon=True); th.start()
            try:
                fastinit.uniform_(t, seed=1)
            except KeyboardInterrupt:
                th.join()
                assert t._version > v0, "version counter not bumped after a partial write"
                assert (t != 0).any()
                print("ok"); break
            th.join()
        else:
            print("no interrupt landed during the fill")
    """)
    assert out.strip().endswith("ok"), out


# --------------------------------------------------------------------------
# 6. refusals, meta and empty targets draw nothing; more than 16 dims; size-1 strides
# --------------------------------------------------------------------------


def _gen_states(g, npg):
    return (torch.default_generator.get_state(), g.get_state(), np.random.get_state()[1].copy(),
            npg.bit_generator.state)


def _same_states(a, b):
    return (torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and np.array_equal(a[2], b[2])
            and a[3] == b[3])


def _inference(*shape):
    with torch.inference_mode():
        return torch.zeros(shape)


# (class name, maker, functions that refuse it, exception types)
_REFUSALS = [
    ("int64", lambda: torch.zeros(4, 5, dtype=torch.int64), RANDOM_FILLS, (NotImplementedError, RuntimeError)),
    ("complex", lambda: torch.zeros(4, 5, dtype=torch.complex64), RANDOM_FILLS, (TypeError, RuntimeError)),
    ("expanded", lambda: torch.zeros(1, 5).expand(4, 5), ALL_FILLS, RuntimeError),
    ("overlapping", lambda: torch.zeros(10).as_strided((4, 5), (1, 1)), ALL_FILLS, RuntimeError),
    ("inference", lambda: _inference(4, 5), ALL_FILLS, RuntimeError),
    ("numpy int", lambda: np.zeros((4, 5), np.int32), RANDOM_FILLS, TypeError),
    ("numpy read-only", lambda: np.broadcast_to(np.zeros(5, np.float32), (4, 5)), ALL_FILLS, ValueError),
    ("not an array", lambda: [[0.0] * 5] * 4, ALL_FILLS, TypeError),
]


def _refusal_cases():
    for cls, make, funcs, types in _REFUSALS:
        for name in funcs:
            yield pytest.param(name, make, types, id=f"{name}-{cls}")


@pytest.mark.parametrize("name,make,types", list(_refusal_cases()))
def test_refusals_draw_nothing(name, make, types):
    """Every refusal leaves every generator untouched: torch's default, the one passed,
    NumPy's global state and a NumPy Generator."""
    g, npg = torch.Generator().manual_seed(5), np.random.default_rng(5)
    x = make()
    before = _gen_states(g, npg)
    kw = {}
    if name not in CONSTANT_FILLS:
        kw = {"generator": g if (isinstance(x, torch.Tensor) or isinstance(x, list)) else npg}
    with pytest.raises(types):
        getattr(fastinit, name)(x, *_args(name), **kw)
    with pytest.raises(types):
        getattr(fastinit, name)(make() if not isinstance(x, np.ndarray) else x, *_args(name))
    assert _same_states(before, _gen_states(g, npg))


# refusal classes that crashed the process before their fix: checked in a subprocess
_CRASHING_REFUSALS = {
    "freed storage": "t = torch.zeros(4, 5); t.untyped_storage().resize_(0); return t",
    "shrunk storage": "t = torch.zeros(400, 5); t.untyped_storage().resize_(16); return t",
    "zerotensor": "return torch._efficientzerotensor(4, 5)",
    "numpy past buffer": "return np.lib.stride_tricks.as_strided(np.zeros(5, np.float32), (4, 5), (20, 4))",
}


@pytest.mark.parametrize("cls", sorted(_CRASHING_REFUSALS))
def test_crashing_refusals_draw_nothing(cls):
    out = run_py(f"""
        import numpy as np, torch, fastinit
        def make():
            {_CRASHING_REFUSALS[cls]}
        for name in {ALL_FILLS!r}:
            g, npg = torch.Generator().manual_seed(5), np.random.default_rng(5)
            states = lambda: (torch.default_generator.get_state(), g.get_state(), np.random.get_state()[1].copy(),
                              npg.bit_generator.state)
            before = states()
            args = (0.5,) if name == "constant_" else ()
            for kw in ({{}}, {{"generator": g if isinstance(make(), torch.Tensor) else npg}}):
                if name in ("constant_", "ones_", "zeros_") and kw:
                    continue
                try:
                    getattr(fastinit, name)(make(), *args, **kw)
                except RuntimeError:
                    pass
                else:
                    raise AssertionError(name + " accepted")
            after = states()
            assert torch.equal(before[0], after[0]) and torch.equal(before[1], after[1]), name
            assert np.array_equal(before[2], after[2]) and before[3] == after[3], name
        print("ok")
    """)
    assert out.strip().endswith("ok")


def test_bad_argument_refusals_draw_nothing():
    g, npg = torch.Generator().manual_seed(5), np.random.default_rng(5)
    before = _gen_states(g, npg)
    for call in [lambda: fastinit.uniform_(torch.zeros(3), 1.0, 0.0, generator=g),
                 lambda: fastinit.uniform_(torch.zeros(3), 0.0, math.inf),
                 lambda: fastinit.normal_(torch.zeros(3), 0.0, -1.0, generator=g),
                 lambda: fastinit.uniform_(torch.zeros(3), offset=-1),
                 lambda: fastinit.uniform_(np.zeros(3, np.float32), 1.0, 0.0, generator=npg),
                 lambda: fastinit.uniform_(np.zeros(3, np.float32), 1.0, 0.0),
                 lambda: fastinit.uniform_(np.zeros(3, np.float32), generator="x"),
                 lambda: fastinit.kaiming_uniform_(torch.zeros(3, 3), mode="bad", generator=g),
                 lambda: fastinit.trunc_normal_(torch.zeros(3), 0.0, 1.0, 2.0, -2.0, generator=g)]:
        with pytest.raises((RuntimeError, ValueError, TypeError)):
            call()
    assert _same_states(before, _gen_states(g, npg))


@pytest.mark.parametrize("name", RANDOM_FILLS)
def test_meta_and_empty_draw_nothing(name):
    """torch draws nothing for a meta or empty tensor; neither does fastinit (before the
    fix a meta tensor drew a key)."""
    g, npg = torch.Generator().manual_seed(5), np.random.default_rng(5)
    before = _gen_states(g, npg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for x, kw in [(torch.empty(4, 5, device="meta"), {"generator": g}), (torch.empty(4, 5, device="meta"), {}),
                      (torch.empty(0, 5), {"generator": g}), (torch.empty(0, 5), {}),
                      (np.empty((0, 5), np.float32), {"generator": npg}), (np.empty((0, 5), np.float32), {})]:
            getattr(fastinit, name)(x, **kw)
        # torch's own behaviour on the same meta tensor, the model
        getattr(torch.nn.init, name)(torch.empty(4, 5, device="meta"), generator=g)
    assert _same_states(before, _gen_states(g, npg))


def test_bad_isa_refused_before_drawing():
    out = run_py("""
        import torch, numpy as np, fastinit
        g0 = torch.default_generator.get_state(); n0 = np.random.get_state()[1].copy()
        for x in (torch.zeros(10), np.zeros(10, np.float32)):
            for name in ("uniform_", "normal_", "trunc_normal_"):
                try:
                    getattr(fastinit, name)(x)
                except RuntimeError as e:
                    assert "FASTINIT_CPU_ISA" in str(e), str(e)
                else:
                    raise AssertionError("accepted")
        assert torch.equal(g0, torch.default_generator.get_state())
        assert np.array_equal(n0, np.random.get_state()[1])
        print("ok")
    """, env={"FASTINIT_CPU_ISA": "sse9"})
    assert out.strip().endswith("ok")


def _many_dims_views():
    return {
        "17 dims, size-1 padded": lambda: torch.empty([1] * 8 + [2] * 9),
        "17 dims contiguous": lambda: torch.empty([2] * 17),
        "20 dims reversed": lambda: torch.empty([2] * 20).permute(*range(19, -1, -1)),
        "18 dims every other": lambda: torch.empty([2] * 18 + [3])[..., ::2],
        "numpy 20 dims reversed": lambda: np.empty([2] * 20, np.float32).transpose(),
        "numpy 33 dims": lambda: np.empty([2] * 15 + [1] * 18, np.float32),
    }


@pytest.mark.parametrize("view", sorted(_many_dims_views()))
@pytest.mark.parametrize("name", ["uniform_", "normal_", "trunc_normal_"])
def test_more_than_16_dims(view, name):
    """torch accepts any number of dims; so does fastinit, with the values of a contiguous
    target of the same shape (before the fix: ValueError after a key was drawn)."""
    v = _many_dims_views()[view]()
    getattr(fastinit, name)(v, seed=4, offset=3)
    if isinstance(v, np.ndarray):
        want = getattr(fastinit, name)(np.empty(v.shape, np.float32), seed=4, offset=3)
        assert np.array_equal(v, want)
    else:
        want = getattr(fastinit, name)(torch.empty(v.shape), seed=4, offset=3)
        assert torch.equal(v, want)
    g = torch.Generator().manual_seed(1)
    if isinstance(v, torch.Tensor):
        getattr(fastinit, name)(v, generator=g)
        assert torch.equal(v, getattr(fastinit, name)(torch.empty(v.shape), generator=torch.Generator().manual_seed(1)))


@pytest.mark.parametrize("stride", [2**62, 2**63 - 1, 2**61 + 3, 0])
def test_size_one_dim_with_huge_stride(stride):
    """A size-1 dim's stride is never used; torch accepts any (before the fix: a pybind11
    signature dump, after a key was drawn)."""
    v = torch.zeros(3).as_strided((3, 1), (1, stride))
    fastinit.uniform_(v, seed=9)
    assert torch.equal(v, fastinit.uniform_(torch.empty(3, 1), seed=9))
    v = torch.zeros(3).as_strided((1, 3, 1), (stride, 1, stride))
    fastinit.normal_(v, seed=9)
    assert torch.equal(v, fastinit.normal_(torch.empty(1, 3, 1), seed=9))


# --------------------------------------------------------------------------
# 7. divergences from torch
# --------------------------------------------------------------------------


_INFERENCE_CASES = [
    ("uniform_", (), {}), ("uniform_", (1.0, 0.0), {}), ("uniform_", (0.0, math.inf), {}),
    ("normal_", (), {}), ("normal_", (0.0, -1.0), {}), ("kaiming_uniform_", (), {}), ("xavier_normal_", (), {}),
    ("trunc_normal_", (), {}), ("constant_", (2.0,), {}), ("ones_", (), {}), ("zeros_", (), {}),
]


@pytest.mark.parametrize("name,args,kwargs", _INFERENCE_CASES)
@pytest.mark.parametrize("shape", [(4, 5), (0, 5)])
def test_inference_tensor_outside_mode_like_torch(name, args, kwargs, shape):
    """An inference tensor written outside inference_mode: torch's error, in torch's check
    order (after the argument and bound checks, also for empty tensors); inside the mode
    it is filled."""
    same_outcome_as_torch(name, lambda: _inference(*shape), args, kwargs)
    with torch.inference_mode():
        t = _inference(*shape)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if not (name == "uniform_" and args) and not (name == "normal_" and args):
                assert getattr(fastinit, name)(t, *args, seed=1) is t if name not in CONSTANT_FILLS else True


def test_inference_tensor_inside_mode_filled():
    with torch.inference_mode():
        t = torch.zeros(10)
        fastinit.uniform_(t, seed=3)
        assert torch.equal(t, fastinit.uniform_(torch.empty(10), seed=3))


def test_set_num_threads_integral_types():
    before = fastinit.get_num_threads()
    try:
        for n in (np.int64(2), np.int32(1), np.uint8(2), torch.tensor(1)):
            fastinit.set_num_threads(n)
            assert fastinit.get_num_threads() == int(n)
        for bad, typ in [(True, TypeError), (1.5, TypeError), ("2", TypeError), (0, ValueError), (-1, ValueError),
                         (2**31, ValueError), (2**64, ValueError), (np.int64(2**40), ValueError)]:
            with pytest.raises(typ, match="set_num_threads expects a positive int") as ei:
                fastinit.set_num_threads(bad)
            assert "incompatible function arguments" not in str(ei.value)
    finally:
        fastinit.set_num_threads(before)


_INT_DTYPES = [torch.int8, torch.uint8, torch.int16, torch.int32, torch.int64, torch.bool, torch.uint16,
               torch.uint32, torch.uint64, torch.complex64, torch.complex128, torch.float32, torch.float64,
               torch.float16, torch.bfloat16]
_VALUES = [0, 1, -1, 2.7, -2.7, 127.5, 127, 128, 255, 256, -255, -256, -129, 2**31, 2**63 - 1, 2**63, 2**64 - 1,
           -2**63, 2**64, float("nan"), float("inf"), -float("inf"), 1e300, 65520.0, True, False, 1.5 + 2j, 3 + 0j,
           torch.tensor(3), torch.tensor(2.5), torch.tensor(True), np.int8(-3), np.float32(0.1)]


@pytest.mark.parametrize("dtype", _INT_DTYPES, ids=str)
def test_constant_every_dtype_like_torch(dtype):
    """zeros_/ones_/constant_ on every dtype torch fills (integers, bool, complex
    included): torch's values and errors (before the fix: integer/bool/complex refused,
    which crashed BertModel under patch_torch_init)."""
    for name, args in [("zeros_", ()), ("ones_", ())] + [("constant_", (v,)) for v in _VALUES]:
        _, f_run = same_outcome_as_torch(name, lambda: torch.full((2, 3), 5).to(dtype), args, {})
        t_t = torch.full((2, 3), 5).to(dtype)
        f_t = torch.full((2, 3), 5).to(dtype)
        try:
            getattr(torch.nn.init, name)(t_t, *args)
        except Exception:  # noqa: BLE001
            continue
        getattr(fastinit, name)(f_t, *args)
        assert torch.equal(t_t.view(torch.uint8), f_t.view(torch.uint8)), (name, args, t_t, f_t)


def test_constant_fast_path_keeps_grad_mode_and_bumps_version():
    """The constant fills' per-call path (plain contiguous CPU tensors) turns grad mode off
    around torch's fill_ itself: the caller's grad mode comes back, after a refusal too, and
    the version counter moves as torch.nn.init's does."""
    p = torch.nn.Parameter(torch.empty(768))
    for name, args in (("ones_", ()), ("zeros_", ()), ("constant_", (0.5,))):
        v0 = p._version
        assert getattr(fastinit, name)(p, *args) is p
        assert p._version > v0 and torch.is_grad_enabled(), name
    assert torch.equal(p.detach(), torch.full((768,), 0.5))
    with torch.no_grad():
        fastinit.zeros_(p)
        assert not torch.is_grad_enabled()
    t = torch.zeros(4, dtype=torch.int8)
    with pytest.raises(RuntimeError) as want:
        torch.nn.init.constant_(t, 300)
    with pytest.raises(RuntimeError) as got:
        fastinit.constant_(t, 300)
    assert str(got.value) == str(want.value) and torch.is_grad_enabled() and not t.any()


_NP_OF = {torch.int8: np.int8, torch.uint8: np.uint8, torch.int16: np.int16, torch.int32: np.int32,
          torch.int64: np.int64, torch.bool: np.bool_, torch.uint16: np.uint16, torch.uint32: np.uint32,
          torch.uint64: np.uint64, torch.complex64: np.complex64, torch.complex128: np.complex128,
          torch.float32: np.float32, torch.float64: np.float64, torch.float16: np.float16,
          torch.bfloat16: ml_dtypes.bfloat16}


@pytest.mark.parametrize("dtype", _INT_DTYPES, ids=str)
def test_constant_numpy_every_dtype_like_torch(dtype):
    """NumPy arrays get the value torch's fill_ stores in the same dtype, or torch's error
    (type and message)."""
    npdt = np.dtype(_NP_OF[dtype])
    for name, args in [("zeros_", ()), ("ones_", ())] + [("constant_", (v,)) for v in _VALUES]:
        t = torch.full((2, 3), 5).to(dtype)
        a = np.full((2, 3), 5).astype(npdt)
        try:
            getattr(torch.nn.init, name)(t, *args)
            t_out = ("ok",)
        except Exception as e:  # noqa: BLE001
            t_out = (type(e), str(e))
        try:
            assert getattr(fastinit, name)(a, *args) is a
            f_out = ("ok",)
        except Exception as e:  # noqa: BLE001
            f_out = (type(e), str(e))
        assert f_out == t_out, (name, args, t_out, f_out)
        if t_out == ("ok",):
            want = t.view(torch.int16).numpy().view(npdt) if dtype == torch.bfloat16 else t.numpy()
            assert a.tobytes() == np.ascontiguousarray(want).tobytes() or (
                npdt.kind in "fcV" and np.isnan(a.astype(np.complex128)).all()), (name, args, a, want)


def test_constant_numpy_unsupported_dtypes_refused():
    for a in [np.zeros(3, "M8[s]"), np.zeros(3, "U3"), np.zeros(3, object)]:
        with pytest.raises(TypeError, match="unsupported dtype"):
            fastinit.zeros_(a)


def test_bert_under_patch_torch_init():
    """BertModel's init calls init.zeros_ on its int64 token_type_ids buffer (issue 10)."""
    transformers = pytest.importorskip("transformers", reason="needs transformers")
    cfg = transformers.BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                  intermediate_size=32, max_position_embeddings=20)
    torch.manual_seed(0)
    with fastinit.patch_torch_init():
        m = transformers.BertModel(cfg)
    ids = m.embeddings.token_type_ids
    assert ids.dtype == torch.int64 and torch.equal(ids, torch.zeros_like(ids))


# --------------------------------------------------------------------------
# the per-call fast path (issue 13 item 1) against the general path
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["uniform_", "kaiming_uniform_", "xavier_uniform_", "normal_"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16], ids=str)
def test_fast_path_same_as_general_path(name, dtype):
    """A plain contiguous tensor (fast path) and a transposed view (general path) get the
    same values, the same draws from the generator and a version bump."""
    shape = (37, 29)
    for kw in ({"seed": 5, "offset": 2**64 - 7}, {}):
        g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
        fast = torch.empty(shape, dtype=dtype)
        slow = torch.empty(shape[::-1], dtype=dtype).t()
        v0 = fast._version
        extra = {} if kw else {"generator": g1}
        getattr(fastinit, name)(fast, **kw, **extra)
        getattr(fastinit, name)(slow, **kw, **({} if kw else {"generator": g2}))
        assert torch.equal(fast, slow)
        assert torch.equal(g1.get_state(), g2.get_state())
        assert fast._version > v0


def test_fast_path_falls_back_for_errors_like_torch():
    """Every check the fast path does not pass goes to the general path: torch's errors."""
    cases = [("uniform_", (1.0, 0.0)), ("uniform_", (0.0, math.inf)), ("uniform_", (-1e39, 1e39)),
             ("normal_", (0.0, -1.0)), ("normal_", (0.0, math.nan)), ("uniform_", ("x", 1.0))]
    for name, args in cases:
        same_outcome_as_torch(name, lambda: torch.zeros(4, 5), args, {})


# --- torch's one-element quirk and trunc_normal_'s check order on complex tensors -------


@pytest.mark.parametrize("dt,tdt", [(np.float16, torch.float16), (ml_dtypes.bfloat16, torch.bfloat16)])
@pytest.mark.parametrize("val", [65505.0, 65520.0, 1e39, 2.0**63, -1e39, 300.0])
@pytest.mark.parametrize("n", [1, 2])
def test_numpy_16bit_constant_follows_torch_on_one_and_two_elements(dt, tdt, val, n):
    """torch's fill_ on a one-element float16/bfloat16 tensor converts through float32
    with no range check (65520 -> inf); on two or more it raises the overflow error.
    NumPy arrays get the same outcome."""
    t = torch.zeros(n, dtype=tdt)
    a = np.zeros(n, dtype=dt)
    try:
        torch.nn.init.constant_(t, val)
        want = None
    except RuntimeError as e:
        want = str(e)
    if want is None:
        fastinit.constant_(a, val)
        assert np.array_equal(a.view(np.uint16), t.view(torch.int16).numpy().view(np.uint16))
    else:
        with pytest.raises(RuntimeError) as got:
            fastinit.constant_(a, val)
        assert str(got.value) == want
        assert not a.any()


@pytest.mark.parametrize("args", [(0.0, 1.0, 2.0, -2.0), (0.0, 1.0, math.inf, 3.0), (0.0, 1.0, 1e39, 1e40),
                                  (0.0, -1.0, 2.0, -2.0), (0.0, 1.0, -2.0, 2.0), (0.0, 1.0, -0.1, 0.1)])
@pytest.mark.parametrize("layout", ["contiguous", "expanded"])
def test_trunc_normal_complex_raises_what_torch_raises_first(args, layout):
    def make():
        t = torch.zeros(3, dtype=torch.complex64)
        return t if layout == "contiguous" else torch.zeros(1, dtype=torch.complex64).expand(3)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            torch.nn.init.trunc_normal_(make(), *args)
            want = None
        except Exception as e:  # noqa: BLE001
            want = (type(e), str(e))
        assert want is not None  # torch refuses every complex trunc_normal_
        t = make()
        g = torch.Generator().manual_seed(3)
        state = g.get_state()
        with pytest.raises(want[0]) as got:
            fastinit.trunc_normal_(t, *args, generator=g)
    assert str(got.value) == want[1]
    assert not t.any() and torch.equal(g.get_state(), state)


# --------------------------------------------------------------------------
# torch.func transforms (issue 18 finding 9): constant fills, eye_ and dirac_ run torch's
# own op on a transform's wrapper (the values torch's function gives); random fills refuse
# it with a RuntimeError naming fastinit and the transform, drawing nothing; a plain tensor
# used inside a transform is filled as anywhere else
# --------------------------------------------------------------------------
from torch.func import grad as _grad, jacrev as _jacrev, jvp as _jvp, vmap as _vmap  # noqa: E402


def _under(transform, fn, x):
    """fn(t) for the wrapper t that ``transform`` makes of x; returns the transform's output."""
    if transform == "vmap":
        return _vmap(fn)(x)
    if transform.startswith("vmap-"):
        return _vmap(fn, randomness=transform[5:])(x)
    if transform == "grad":
        return _grad(lambda t: (fn(t.clone()) * t).sum())(x)
    if transform == "jacrev":
        return _jacrev(lambda t: fn(t.clone()) + t)(x)
    if transform == "jvp":
        return _jvp(lambda t: fn(t.clone()) + t, (x,), (torch.ones_like(x),))[1]
    raise KeyError(transform)


_TRANSFORMS = ["vmap", "vmap-different", "vmap-same", "grad", "jacrev", "jvp"]
_TRANSFORM_WORDS = {"vmap": "torch.func.vmap", "grad": "torch.func.grad", "jacrev": "torch.func.grad",
                    "jvp": "torch.func.jvp"}


@pytest.mark.parametrize("transform", _TRANSFORMS)
@pytest.mark.parametrize("name,args", [("constant_", (2.5,)), ("zeros_", ()), ("ones_", ())])
def test_constant_fills_under_torch_func_like_torch(transform, name, args):
    x = torch.arange(12.0).reshape(3, 4) + 1
    want = _under(transform, lambda t: getattr(torch.nn.init, name)(t, *args), x.clone())
    got = _under(transform, lambda t: getattr(fastinit, name)(t, *args), x.clone())
    assert torch.equal(got, want)


@pytest.mark.parametrize("transform", ["vmap", "grad", "jacrev", "jvp"])
@pytest.mark.parametrize("name,shape", [("eye_", (3, 4)), ("dirac_", (4, 2, 3)), ("dirac_", (2, 2, 3, 3))])
def test_eye_dirac_under_torch_func_like_torch(transform, name, shape):
    """torch's own op on the wrapper: torch's values, or torch's own error (eye(out=) has
    no vmap batching rule)."""
    x = torch.full((2,) + shape, 3.0) if transform == "vmap" else torch.full(shape, 3.0)

    def outcome(fn):
        try:
            return ("ok", _under(transform, fn, x.clone()))
        except Exception as e:  # noqa: BLE001 - compared with torch's
            return ("raise", type(e), str(e))

    want = outcome(getattr(torch.nn.init, name))
    got = outcome(getattr(fastinit, name))
    assert got[0] == want[0], (got, want)
    if want[0] == "ok":
        assert torch.equal(got[1], want[1])
    else:
        assert got[1:] == want[1:]


_RANDOM_UNDER_TRANSFORM = [("uniform_", (), (3, 4)), ("normal_", (), (3, 4)), ("kaiming_uniform_", (), (3, 4)),
                           ("kaiming_normal_", (), (3, 4)), ("xavier_uniform_", (), (3, 4)),
                           ("xavier_normal_", (), (3, 4)), ("trunc_normal_", (), (3, 4)),
                           ("trunc_normal_", (0.0, 1.0, 2.0, 3.0), (3, 4)), ("orthogonal_", (), (3, 4)),
                           ("sparse_", (0.5,), (3, 4)), ("lecun_normal_", (), (3, 4)),
                           ("variance_scaling_", (), (3, 4))]


@pytest.mark.parametrize("transform", _TRANSFORMS)
@pytest.mark.parametrize("name,args,shape", _RANDOM_UNDER_TRANSFORM,
                         ids=[f"{n}{a}" for n, a, _ in _RANDOM_UNDER_TRANSFORM])
@pytest.mark.parametrize("with_generator", [False, True])
def test_random_fills_refuse_torch_func_wrappers(transform, name, args, shape, with_generator):
    """The RuntimeError names fastinit's function (the underlying fill for the JAX-style
    ones, which have no torch counterpart) and the transform; no generator advanced,
    nothing written."""
    x = torch.full((2,) + shape if transform.startswith("vmap") else shape, 3.0)
    before = x.clone()
    g = torch.Generator().manual_seed(11) if with_generator else None
    states = (torch.get_rng_state(), g.get_state() if g is not None else None)
    kwargs = {"generator": g} if g is not None else {}
    with pytest.raises(RuntimeError) as info, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _under(transform, lambda t: getattr(fastinit, name)(t, *args, **kwargs), x)
    msg = str(info.value)
    fill = {"lecun_normal_": "trunc_normal_", "variance_scaling_": "trunc_normal_"}.get(name, name)
    assert msg.startswith(f"fastinit.{fill} cannot write a tensor inside "), msg
    assert _TRANSFORM_WORDS[transform.split("-")[0]] in msg, msg
    assert torch.equal(torch.get_rng_state(), states[0]), "the refusal advanced torch.default_generator"
    if g is not None:
        assert torch.equal(g.get_state(), states[1]), "the refusal advanced the generator"
    assert torch.equal(x, before)


@pytest.mark.parametrize("transform", ["vmap", "vmap-different", "grad", "jacrev", "jvp"])
@pytest.mark.parametrize("name,args", [("uniform_", (-1.0, 2.0)), ("normal_", (0.5, 2.0)), ("kaiming_uniform_", ()),
                                       ("trunc_normal_", ()), ("orthogonal_", ()), ("sparse_", (0.5,)),
                                       ("constant_", (4.0,)), ("eye_", ()), ("dirac_", ())])
def test_plain_tensor_inside_torch_func_filled_as_outside(transform, name, args):
    """A tensor the transform does not wrap (created outside it) is filled inside it with
    the bits it gets outside, seeded or from the generator."""
    shape = (4, 2, 3) if name == "dirac_" else (5, 4)
    random = name not in ("constant_", "eye_", "dirac_")
    kw = {"seed": 9} if random else {}
    want = getattr(fastinit, name)(torch.empty(shape), *args, **kw)
    plain = torch.empty(shape)
    x = torch.ones(2, 3) if transform.startswith("vmap") else torch.ones(3)
    _under(transform, lambda t: (getattr(fastinit, name)(plain, *args, **kw), t * 1)[1], x)
    assert torch.equal(plain, want)
    if random:  # from the generator: one key drawn, as outside
        torch.manual_seed(4)
        want = getattr(fastinit, name)(torch.empty(shape), *args)
        torch.manual_seed(4)
        plain = torch.empty(shape)
        _under(transform, lambda t: (getattr(fastinit, name)(plain, *args), t * 1)[1], x)
        assert torch.equal(plain, want)
