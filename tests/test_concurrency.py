"""Concurrency: many Python threads filling at once while the thread count changes,
fork safety (the child of a process whose pool has workers, multiprocessing's fork
pool, a fork in the middle of another thread's fill), and Ctrl-C during a long fill.

Every result is compared bit for bit with a single-threaded fill of the same seed.
Nothing here may hang: threads are joined and children waited for with timeouts, and a
timeout fails the test (a child that hangs is killed first)."""
from __future__ import annotations

import hashlib
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import warnings

import numpy as np
import pytest

import fastinit
import reference as R
from conftest import c_fill

import ml_dtypes
BF16 = np.dtype(ml_dtypes.bfloat16)
DTYPES = [np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.float16), BF16]
_HERE = os.path.dirname(os.path.abspath(__file__))


def _digest(a: np.ndarray) -> str:
    return hashlib.blake2b(np.ascontiguousarray(a).view(np.uint8), digest_size=16).hexdigest()


def _single_threaded(n, dtype, lo, hi, seed, offset=0) -> np.ndarray:
    """The reference result: one thread, through the private entry point."""
    a = np.empty(n, dtype=dtype)
    return c_fill(a, lo, hi, seed, offset, "", 1)


def _first_diff(got, want) -> str:
    g = np.ascontiguousarray(got).view({2: np.uint16, 4: np.uint32, 8: np.uint64}[got.dtype.itemsize])
    w = np.ascontiguousarray(want).view(g.dtype)
    bad = np.nonzero(g != w)[0]
    if bad.size == 0:
        return "no difference"
    i = int(bad[0])
    return f"{bad.size} of {g.size} elements differ, first at {i}: want 0x{int(w[i]):x} got 0x{int(g[i]):x}"


@pytest.fixture
def restore_threads():
    before = fastinit.get_num_threads()
    yield
    fastinit.set_num_threads(before)


# ----------------------------------------------------------------------------------
# threads
# ----------------------------------------------------------------------------------
def test_many_threads_while_thread_count_changes(restore_threads):
    import torch

    sizes = [1000, 4099, 33_000, 250_001, 1_000_003, 2_000_000]
    n_threads, rounds = 8, 3
    jobs = []  # per thread: list of (n, dtype, lo, hi, seed, digest)
    for t in range(n_threads):
        mine = []
        for j in range(4):
            n = sizes[(t + 2 * j) % len(sizes)]
            dt = DTYPES[(t + j) % len(DTYPES)]
            lo, hi = -1.0 - t, 2.0 + j
            seed = 1000 * t + j
            mine.append((n, dt, lo, hi, seed, _digest(_single_threaded(n, dt, lo, hi, seed))))
        jobs.append(mine)

    errors = []
    stop = threading.Event()

    def worker(t):
        try:
            use_torch = t % 2 == 1
            targets = []
            for n, dt, *_ in jobs[t]:
                if use_torch:
                    tdt = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64,
                           np.dtype(np.float16): torch.float16, BF16: torch.bfloat16}[dt]
                    targets.append(torch.empty(n, dtype=tdt))
                else:
                    targets.append(np.empty(n, dtype=dt))
            for r in range(rounds):
                for (n, dt, lo, hi, seed, want), x in zip(jobs[t], targets):
                    out = fastinit.uniform_(x, lo, hi, seed=seed)
                    assert out is x
                    a = x.view(torch.int16 if x.element_size() == 2 else {4: torch.int32, 8: torch.int64}[
                        x.element_size()]).numpy() if use_torch else x
                    got = _digest(a)
                    if got != want:
                        ref = _single_threaded(n, dt, lo, hi, seed)
                        errors.append(f"thread {t} round {r} n={n} dtype={dt}: "
                                      f"{_first_diff(np.asarray(a).view(ref.dtype), ref)}")
        except BaseException as e:  # noqa: BLE001
            errors.append(f"thread {t}: {type(e).__name__}: {e}")

    def toggler():
        k = 0
        while not stop.is_set():
            fastinit.set_num_threads((1, 2, 3)[k % 3])
            k += 1
            time.sleep(0.0005)

    tog = threading.Thread(target=toggler, daemon=True)
    workers = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(n_threads)]
    tog.start()
    for w in workers:
        w.start()
    deadline = time.monotonic() + 180
    for w in workers:
        w.join(max(0.0, deadline - time.monotonic()))
    alive = [i for i, w in enumerate(workers) if w.is_alive()]
    stop.set()
    tog.join(10)
    assert not alive, f"threads {alive} still running after 180 s: deadlock?"
    assert not tog.is_alive(), "set_num_threads thread did not stop"
    assert not errors, "\n".join(errors)


def test_threads_sharing_one_array_disjoint_halves(restore_threads):
    """Two threads fill the two halves of one array (views, offset = first index) at once,
    repeatedly: the whole equals one single-threaded fill."""
    fastinit.set_num_threads(2)
    n = 3_000_001
    want = _single_threaded(n, np.float32, -3.0, 3.0, 5)
    a = np.empty(n, dtype=np.float32)
    cut = 1_400_003
    errors = []

    def part(lo_i, hi_i):
        try:
            for _ in range(5):
                fastinit.uniform_(a[lo_i:hi_i], -3.0, 3.0, seed=5, offset=lo_i)
        except BaseException as e:  # noqa: BLE001
            errors.append(repr(e))

    ts = [threading.Thread(target=part, args=(0, cut), daemon=True),
          threading.Thread(target=part, args=(cut, n), daemon=True)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    assert not any(t.is_alive() for t in ts), "deadlock"
    assert not errors, errors
    assert np.array_equal(a.view(np.uint32), want.view(np.uint32)), _first_diff(a, want)


# ----------------------------------------------------------------------------------
# fork
# ----------------------------------------------------------------------------------
def _wait_child(pid: int, timeout: float) -> int:
    """Exit status of the child; kills it and fails on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            if os.WIFSIGNALED(status):
                pytest.fail(f"forked child killed by signal {os.WTERMSIG(status)}")
            return os.WEXITSTATUS(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail(f"forked child did not finish within {timeout} s: deadlock after fork?")
        time.sleep(0.02)


_CHILD_CODES = {0: "ok", 3: "wrong values", 4: "exception in the child"}
_FORK_N = 1_500_017  # > 1e6 elements: the multi-threaded path


def _child_fill_and_exit(want_digests):
    """Runs in the forked child: multi-threaded fills, compared with the parent's
    single-threaded digests; never returns."""
    code = 4
    try:
        ok = True
        for (dt, seed), want in want_digests.items():
            b = np.empty(_FORK_N, dtype=dt)
            fastinit.uniform_(b, -1.0, 1.0, seed=seed)  # configured thread count (>= 2)
            ok &= _digest(b) == want
            c_fill(b, -1.0, 1.0, seed, 0, "", 4)  # an explicit 4-thread fill too
            ok &= _digest(b) == want
        code = 0 if ok else 3
    finally:
        os._exit(code)


def _fork():
    with warnings.catch_warnings():  # Python >= 3.12 warns about fork in a threaded process
        warnings.simplefilter("ignore", DeprecationWarning)
        return os.fork()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_after_pool_used(restore_threads):
    fastinit.set_num_threads(2)
    warm = np.empty(4_000_000, dtype=np.float32)
    fastinit.uniform_(warm, seed=1)  # the pool now has a worker thread
    c_fill(warm, 0.0, 1.0, 2, 0, "", 3)  # and a second one
    want = {(dt, 77 + i): _digest(_single_threaded(_FORK_N, dt, -1.0, 1.0, 77 + i)) for i, dt in enumerate(DTYPES)}
    for _ in range(2):  # twice: the child of a child's parent state is the same
        pid = _fork()
        if pid == 0:
            _child_fill_and_exit(want)
        code = _wait_child(pid, 60)
        assert code == 0, f"child exit {code}: {_CHILD_CODES.get(code, 'unknown')}"
    # and the parent's own pool still works
    b = np.empty(_FORK_N, dtype=np.float32)
    fastinit.uniform_(b, -1.0, 1.0, seed=77)
    assert _digest(b) == want[(DTYPES[0], 77)]


def _mp_fill(args):
    n, dtname, seed = args
    dt = BF16 if dtname == "bfloat16" else np.dtype(dtname)
    b = np.empty(n, dtype=dt)
    fastinit.uniform_(b, -2.0, 2.0, seed=seed)
    return _digest(b)


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs the fork start method")
def test_multiprocessing_fork_pool(restore_threads):
    fastinit.set_num_threads(2)
    warm = np.empty(4_000_000, dtype=np.float32)
    fastinit.uniform_(warm, seed=1)  # workers exist before the pool forks
    tasks = [(1_200_000 + 7 * i, ("float32", "float64", "float16", "bfloat16")[i % 4], 500 + i) for i in range(8)]
    want = [_digest(_single_threaded(n, BF16 if d == "bfloat16" else np.dtype(d), -2.0, 2.0, s)) for n, d, s in tasks]
    ctx = multiprocessing.get_context("fork")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        pool = ctx.Pool(2)
    try:
        res = pool.map_async(_mp_fill, tasks)
        try:
            got = res.get(timeout=120)
        except multiprocessing.TimeoutError:
            pytest.fail("multiprocessing fork pool did not finish within 120 s: deadlock after fork?")
    finally:
        pool.terminate()
        pool.join()
    assert got == want


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_while_another_thread_fills(restore_threads):
    """A thread keeps filling a big array (slow scalar path, several threads, so that it
    is nearly always inside the pool when the main thread forks)."""
    fastinit.set_num_threads(2)
    want = {(dt, 91 + i): _digest(_single_threaded(_FORK_N, dt, -1.0, 1.0, 91 + i))
            for i, dt in enumerate(DTYPES[:2])}
    big = np.empty(20_000_000, dtype=np.float32)
    stop = threading.Event()
    started = threading.Event()
    errors = []

    def filler():
        try:
            k = 0
            while not stop.is_set():
                started.set()
                c_fill(big, -1.0, 1.0, k, 0, "scalar", 3)
                k += 1
        except BaseException as e:  # noqa: BLE001
            errors.append(repr(e))

    t = threading.Thread(target=filler, daemon=True)
    t.start()
    try:
        assert started.wait(30)
        for i in range(4):
            time.sleep(0.05 + 0.037 * i)  # land at different points of the fill
            pid = _fork()
            if pid == 0:
                _child_fill_and_exit(want)
            code = _wait_child(pid, 60)
            assert code == 0, f"fork {i}: child exit {code}: {_CHILD_CODES.get(code, 'unknown')}"
    finally:
        stop.set()
        t.join(120)
    assert not t.is_alive(), "the parent's filling thread hung after the forks"
    assert not errors, errors
    # the parent's last fill is still right
    ref = np.empty(1000, np.float32)
    fastinit.uniform_(ref, seed=3)
    assert np.array_equal(ref.view(np.uint32), R.expected_bits((1000,), np.float32, 0.0, 1.0, 3))


# ----------------------------------------------------------------------------------
# Ctrl-C
# ----------------------------------------------------------------------------------
# The kernel fills a CPU target in slices of 64 MiB with the GIL released and checks for
# signals between slices (csrc/bindings.cpp, cpu_fill: PyErr_CheckSignals after each
# slice). What that implies needs no clock: the fill stops at a slice boundary, at most one
# slice after the one in progress when SIGINT arrived; the rest of the target is untouched.
# The child signals itself from a watcher thread once the second slice has started (the
# fill is then surely running), and right after the signal counts the slices that have
# started (a lower bound of the progress at the signal). One thread, the scalar path:
# slices of about a second, so the watcher runs long before the fill could end.
_SLICE_BYTES = 64 << 20
_CTRL_C_CHILD = textwrap.dedent(r"""
    import os, signal, sys, threading, time
    # Python installs its KeyboardInterrupt handler only where SIGINT was not ignored at
    # start; a child of a background job inherits SIG_IGN (POSIX), so install it here.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.path.insert(0, {here!r})
    import numpy as np
    import fastinit
    import reference as R
    assert fastinit.info()["isa"] == "scalar", fastinit.info()
    threads = fastinit.get_num_threads()
    fastinit.set_num_threads(1)
    SENTINEL = 0x7E01  # a float16 NaN: uniform_(-1, 1) never stores it
    slice_elems = {slice_bytes} // 2
    n_slices = 24
    u = np.full(slice_elems * n_slices, SENTINEL, np.uint16)
    a = u.view(np.float16)
    started_at_signal = []

    def watcher():
        while u[slice_elems] == SENTINEL:  # the second slice has not started
            time.sleep(0.001)  # polling only: no clock is asserted on
        os.kill(os.getpid(), signal.SIGINT)
        started_at_signal.append(int(np.count_nonzero(u[::slice_elems] != SENTINEL)))

    w = threading.Thread(target=watcher)
    try:
        w.start()
        fastinit.uniform_(a, -1.0, 1.0, seed=2)
        print("FINISHED", flush=True)
    except KeyboardInterrupt:
        w.join()
        written = int(np.count_nonzero(u != SENTINEL))
        prefix_ok = bool((u[:written] != SENTINEL).all())
        want = R.expected_bits((1000,), np.float16, -1.0, 1.0, 2, max(written - 1000, 0)) if written else None
        values_ok = written == 0 or np.array_equal(u[written - 1000:written], want.reshape(-1).view(np.uint16))
        print("INTERRUPTED", written, slice_elems, n_slices, started_at_signal[0], prefix_ok, values_ok,
              flush=True)
    b = np.empty(1000, np.float32)
    fastinit.uniform_(b, -1.0, 1.0, seed=3)
    assert np.array_equal(b.view(np.uint32), R.expected_bits((1000,), np.float32, -1.0, 1.0, 3))
    fastinit.set_num_threads(threads)
    c = np.empty(3_000_000, np.float32)
    fastinit.uniform_(c, -1.0, 1.0, seed=4)  # multi-threaded, after the interrupt
    assert np.array_equal(c[-1000:].view(np.uint32),
                          R.expected_bits((1000,), np.float32, -1.0, 1.0, 4, 3_000_000 - 1000))
    print("OK", flush=True)
""")


def test_ctrl_c_interrupts_a_long_fill():
    """SIGINT during a long CPU fill raises KeyboardInterrupt at the next slice boundary:
    the written elements are a prefix of whole slices, with the stream's values; at most
    one slice more than had started when the signal arrived; the fill stopped before the
    end; later fills work. No wall-clock bound (issue 19 item 3): the latency is measured
    by benchmarks/bench_interrupt.py."""
    env = dict(os.environ, FASTINIT_CPU_ISA="scalar", PYTHONUNBUFFERED="1")
    proc = subprocess.run([sys.executable, "-c", _CTRL_C_CHILD.format(here=_HERE, slice_bytes=_SLICE_BYTES)],
                          capture_output=True, text=True, env=env, cwd=_HERE, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    lines = proc.stdout.split("\n")
    assert "FINISHED" not in lines, "the fill ran to its end: SIGINT was not observed between slices\n" + out
    (line,) = [ln for ln in lines if ln.startswith("INTERRUPTED")]
    _, written, slice_elems, n_slices, started, prefix_ok, values_ok = line.split()
    written, slice_elems, n_slices, started = int(written), int(slice_elems), int(n_slices), int(started)
    assert prefix_ok == "True", f"the written elements are not a prefix: {line}"
    assert values_ok == "True", f"the written prefix does not hold the stream's values: {line}"
    assert written % slice_elems == 0, f"the fill stopped inside a slice ({written} elements written): {line}"
    assert started >= 2, line  # the watcher signalled once the second slice had started
    assert written // slice_elems <= started + 1, (
        f"{written // slice_elems} slices written, but only {started} had started at the signal: the fill went "
        f"on past the slice in progress: {line}")
    assert written < slice_elems * n_slices, line
    assert "OK" in lines, "a fill after the interrupt failed:\n" + out
