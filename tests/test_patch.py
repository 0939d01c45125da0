"""patch_torch_init (issue 4): inside the block torch.nn.init's functions, and every
by-value import of them, are fastinit's; construction goes through fastinit; on exit
(also through an exception, also nested) every reference is the original object again."""
from __future__ import annotations

import math
import sys
import types

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
import torch.nn.init as tinit  # noqa: E402
import torch.nn.modules.activation as tactivation  # noqa: E402
import torch.nn.modules.transformer as ttransformer  # noqa: E402

import fastinit  # noqa: E402
from fastinit import _C  # noqa: E402
from fastinit.models.patch import PATCHED_NAMES, patch_torch_init  # noqa: E402

PROVIDED = [n for n in PATCHED_NAMES if hasattr(fastinit, n)]
ORIGINAL = {n: getattr(tinit, n) for n in PATCHED_NAMES}


def _by_value_refs():
    """(module name, attribute, object) for every reference to an original function."""
    ids = {id(f) for f in ORIGINAL.values()}
    out = []
    for mn, m in list(sys.modules.items()):
        d = getattr(m, "__dict__", None)
        if isinstance(d, dict):
            for k, v in list(d.items()):
                if id(v) in ids:
                    out.append((mn, k, v))
    return out


def _assert_restored(snapshot):
    for n, f in ORIGINAL.items():
        assert getattr(tinit, n) is f, f"torch.nn.init.{n} not restored"
    now = _by_value_refs()
    assert sorted((a, b, id(c)) for a, b, c in now) == sorted((a, b, id(c)) for a, b, c in snapshot)
    assert tactivation.xavier_uniform_ is ORIGINAL["xavier_uniform_"]
    assert tactivation.constant_ is ORIGINAL["constant_"]
    assert ttransformer.xavier_uniform_ is ORIGINAL["xavier_uniform_"]


def _calls():
    return sum(_C.kernel_calls().values())


def test_originals_are_torch_functions():
    for n, f in ORIGINAL.items():
        assert f.__module__ == "torch.nn.init", n
    assert {"uniform_", "kaiming_uniform_", "xavier_uniform_"} <= set(PROVIDED)


def test_inside_the_block_functions_are_fastinit_and_restored_after():
    snap = _by_value_refs()
    # a user module that imported by value, as torch's own modules do
    user = types.ModuleType("fastinit_test_user_module")
    user.kaiming_uniform_ = tinit.kaiming_uniform_
    user.unrelated = math.sqrt
    sys.modules[user.__name__] = user
    try:
        snap = _by_value_refs()
        with patch_torch_init():
            for n in PROVIDED:
                assert getattr(tinit, n) is getattr(fastinit, n), n
            for n in PATCHED_NAMES:
                if n not in PROVIDED:
                    assert getattr(tinit, n) is ORIGINAL[n], f"{n}: replaced but fastinit has none"
            assert tactivation.xavier_uniform_ is fastinit.xavier_uniform_
            assert ttransformer.xavier_uniform_ is fastinit.xavier_uniform_
            if "constant_" in PROVIDED:
                assert tactivation.constant_ is fastinit.constant_
            assert user.kaiming_uniform_ is fastinit.kaiming_uniform_
            assert user.unrelated is math.sqrt
            assert not [r for r in _by_value_refs() if r[2] is not getattr(fastinit, r[1], None)
                        and r[1] in PROVIDED], "an original reference survived inside the block"
        _assert_restored(snap)
        assert user.kaiming_uniform_ is ORIGINAL["kaiming_uniform_"]
    finally:
        del sys.modules[user.__name__]


def test_construction_goes_through_fastinit():
    before = _calls()
    torch.manual_seed(0)
    ref = nn.Linear(256, 128)
    assert _calls() == before, "torch's own construction must not call fastinit"
    torch.manual_seed(0)
    with patch_torch_init():
        lin = nn.Linear(256, 128)
        mha = nn.MultiheadAttention(32, 4)  # xavier_uniform_ imported by value in activation.py
    assert _calls() >= before + 2 + 2  # Linear weight + bias, MHA out_proj + in_proj_weight
    # the same distribution (bound 1/16), different values from torch's
    assert lin.weight.abs().max() <= 1 / 16 and lin.weight.abs().max() > 1 / 16 * 0.999
    assert not torch.equal(lin.weight, ref.weight)
    # and exactly what fastinit gives for the same generator state
    torch.manual_seed(0)
    w = fastinit.kaiming_uniform_(torch.empty(128, 256), a=math.sqrt(5))
    assert torch.equal(lin.weight, w)
    bound = math.sqrt(6 / (32 + 96))
    assert mha.in_proj_weight.abs().max() <= bound


def test_restored_after_exception():
    snap = _by_value_refs()
    with pytest.raises(RuntimeError, match="boom"):
        with patch_torch_init():
            assert tinit.uniform_ is fastinit.uniform_
            raise RuntimeError("boom")
    _assert_restored(snap)
    with pytest.raises(KeyboardInterrupt):
        with patch_torch_init():
            raise KeyboardInterrupt
    _assert_restored(snap)


def test_nested_and_sequential():
    snap = _by_value_refs()
    with patch_torch_init():
        with patch_torch_init():
            assert tinit.uniform_ is fastinit.uniform_
            assert ttransformer.xavier_uniform_ is fastinit.xavier_uniform_
        # leaving the inner block does not undo the outer one
        assert tinit.uniform_ is fastinit.uniform_
        assert ttransformer.xavier_uniform_ is fastinit.xavier_uniform_
        with pytest.raises(ValueError):
            with patch_torch_init():
                raise ValueError
        assert tinit.kaiming_uniform_ is fastinit.kaiming_uniform_
    _assert_restored(snap)
    for _ in range(3):
        with patch_torch_init():
            pass
    _assert_restored(snap)


def test_context_object_from_each_call_is_independent():
    snap = _by_value_refs()
    a, b = patch_torch_init(), patch_torch_init()
    a.__enter__()
    b.__enter__()
    assert tinit.uniform_ is fastinit.uniform_
    a.__exit__(None, None, None)  # out of order: b found nothing to replace, a restores all
    b.__exit__(None, None, None)
    _assert_restored(snap)


def test_hf_style_captured_table_is_patched_and_restored():
    """A transformers-like module: a dict of torch's functions captured at import time and a
    guarded wrapper that calls through it (transformers.initialization's pattern)."""
    fake = types.ModuleType("transformers.initialization")
    fake.TORCH_INIT_FUNCTIONS = {n: getattr(tinit, n) for n in PATCHED_NAMES}
    fake.TORCH_INIT_FUNCTIONS["orthogonal_"] = tinit.orthogonal_

    def normal_(tensor, mean=0.0, std=1.0, generator=None):
        if not getattr(tensor, "_is_hf_initialized", False):
            return fake.TORCH_INIT_FUNCTIONS["normal_"](tensor, mean=mean, std=std, generator=generator)
        return tensor

    fake.normal_ = normal_
    real = sys.modules.get("transformers.initialization")
    sys.modules["transformers.initialization"] = fake
    try:
        table = dict(fake.TORCH_INIT_FUNCTIONS)
        with patch_torch_init():
            for n in PROVIDED:
                assert fake.TORCH_INIT_FUNCTIONS[n] is getattr(fastinit, n), n
            assert fake.TORCH_INIT_FUNCTIONS["orthogonal_"] is tinit.orthogonal_
            assert fake.normal_ is normal_  # the guard stays
        assert fake.TORCH_INIT_FUNCTIONS == table
        assert all(fake.TORCH_INIT_FUNCTIONS[k] is table[k] for k in table)
    finally:
        if real is None:
            del sys.modules["transformers.initialization"]
        else:
            sys.modules["transformers.initialization"] = real


def test_other_threads_see_the_patch_only_while_open():
    import threading

    seen = []
    ev_in, ev_go = threading.Event(), threading.Event()

    def worker():
        ev_in.wait()
        seen.append(tinit.uniform_ is fastinit.uniform_)
        ev_go.set()

    t = threading.Thread(target=worker)
    t.start()
    with patch_torch_init():
        ev_in.set()
        ev_go.wait(10)
    t.join(10)
    assert seen == [True]
    assert tinit.uniform_ is ORIGINAL["uniform_"]


def test_library_modules_imported_inside_the_block_are_fixed_up():
    """A torch/transformers/timm module first imported inside the block captures fastinit's
    functions (transformers builds TORCH_INIT_FUNCTIONS at import time); the outermost exit
    gives it torch's originals back. A user module keeps what it imported."""
    lib = types.ModuleType("transformers._fastinit_test_late")
    user = types.ModuleType("fastinit_test_user_late")
    try:
        with patch_torch_init():
            with patch_torch_init():
                lib.uniform_ = tinit.uniform_  # "from torch.nn.init import uniform_" inside the block
                lib.table = None
                user.uniform_ = tinit.uniform_
                sys.modules[lib.__name__] = lib
                sys.modules[user.__name__] = user
            assert lib.uniform_ is fastinit.uniform_  # the outer block is still open
        assert lib.uniform_ is ORIGINAL["uniform_"]
        assert user.uniform_ is fastinit.uniform_
    finally:
        sys.modules.pop(lib.__name__, None)
        sys.modules.pop(user.__name__, None)


def test_patch_without_torch_says_torch_is_needed():
    """Without torch, entering the block raises an ImportError that names torch, not a bare
    ModuleNotFoundError from deep inside."""
    import subprocess
    import sys

    code = ("import sys; sys.modules['torch'] = None\n"
            "import fastinit\n"
            "try:\n"
            "    fastinit.patch_torch_init().__enter__()\n"
            "except ImportError as e:\n"
            "    print('ERR', type(e).__name__, e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ERR ImportError fastinit.patch_torch_init() needs torch"), out.stdout


def test_originals_found_while_another_library_wraps_them():
    """Issue 18 item 4: a function another library had wrapped when the patch first looked
    for torch's originals is still patched once the wrapper is gone (the originals come
    from torch.nn.init's own definitions, not from whatever is bound at first use)."""
    import subprocess
    import textwrap

    code = textwrap.dedent("""
        import functools, torch, torch.nn.init as tinit, fastinit
        orig = tinit.normal_
        def wrapper(*a, **k):
            return orig(*a, **k)
        wrapper.__module__ = "some_library"
        tinit.normal_ = wrapper                  # another library's wrapper, first
        with fastinit.patch_torch_init():
            pass
        tinit.normal_ = orig                     # the library unwraps
        with fastinit.patch_torch_init():
            print(tinit.normal_ is fastinit.fills.normal_)
        print(tinit.normal_ is orig)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["True", "True"], out.stdout


def test_signal_handler_block_does_not_unpatch_the_main_block():
    """Issue 18 item 4: a block opened and closed in a signal handler, interrupting the main
    thread anywhere (also inside the open/close critical sections), never leaves the main
    thread's open block unpatched."""
    import subprocess
    import textwrap

    code = textwrap.dedent("""
        import signal, torch.nn.init as tinit, fastinit
        busy = []
        def handler(signum, frame):
            if busy:  # a handler interrupted by the next signal: skip (no unbounded nesting)
                return
            busy.append(1)
            try:
                with fastinit.patch_torch_init():
                    pass
            finally:
                busy.pop()
        signal.signal(signal.SIGALRM, handler)
        signal.setitimer(signal.ITIMER_REAL, 7e-3, 7e-3)
        bad = 0
        for _ in range(60):
            with fastinit.patch_torch_init():
                if tinit.normal_ is not fastinit.fills.normal_:
                    bad += 1
        signal.setitimer(signal.ITIMER_REAL, 0)
        print(bad, tinit.normal_.__module__)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["0", "torch.nn.init"], out.stdout
