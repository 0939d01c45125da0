"""No leaks: many calls leave the resident set size (and the thread count) flat.

RSS is measured after a warm-up (first-touch of allocator arenas, lazily created pool
threads, torch's own caches), so what remains is growth per call: a leak of even one
small Python object per call in the million-call loop shows up as tens of MB."""
from __future__ import annotations

import gc

import ml_dtypes
import numpy as np
import psutil
import pytest

import fastinit

BF16 = np.dtype(ml_dtypes.bfloat16)
MB = 1 << 20


def _rss() -> int:
    gc.collect()
    return psutil.Process().memory_info().rss


def _assert_flat(before, after, tol_mb, what):
    grew = (after - before) / MB
    assert grew < tol_mb, f"{what}: RSS grew by {grew:.1f} MB (tolerance {tol_mb} MB)"


def test_million_small_numpy_calls_with_seed():
    arrays = [np.empty(16, dtype=dt) for dt in (np.float32, np.float64, np.float16, BF16)]
    f = fastinit.uniform_
    for i in range(20_000):  # warm-up
        f(arrays[i & 3], -1.0, 1.0, seed=i)
    before = _rss()
    for i in range(1_000_000):
        f(arrays[i & 3], -1.0, 1.0, seed=(i * 0x9E3779B97F4A7C15) & (2**64 - 1), offset=i)
    after = _rss()
    _assert_flat(before, after, 20, "1e6 uniform_ calls on 16-element arrays")


def test_small_torch_calls_without_seed():
    import torch
    ts = [torch.empty(16, dtype=dt) for dt in (torch.float32, torch.float64, torch.float16, torch.bfloat16)]
    w = torch.empty(8, 4)
    for i in range(10_000):
        fastinit.uniform_(ts[i & 3])
        fastinit.kaiming_uniform_(w)
    before = _rss()
    for i in range(200_000):
        fastinit.uniform_(ts[i & 3])  # a seed drawn from torch.default_generator each time
    for i in range(50_000):
        fastinit.kaiming_uniform_(w, a=2.236)
        fastinit.xavier_uniform_(w)
    after = _rss()
    _assert_flat(before, after, 20, "300k small torch calls without seed")


def test_refused_calls_do_not_leak():
    ro = np.zeros(16, np.float32)
    ro.flags.writeable = False
    ov = np.lib.stride_tricks.as_strided(np.zeros(16, np.float32), shape=(4, 4), strides=(4, 4))
    ok = np.zeros(16, np.float32)
    cases = [(ro, (0.0, 1.0), {}), (ov, (0.0, 1.0), {}), (ok, (1.0, 0.0), {}), (ok, (0.0, float("nan")), {}),
             (ok, (0.0, 1.0), {"seed": -1}), (ok, (0.0, 1.0), {"offset": 2**64}), (np.zeros(4, np.int32), (), {})]

    def run(k):
        for i in range(k):
            x, args, kw = cases[i % len(cases)]
            try:
                fastinit.uniform_(x, *args, **kw)
            except Exception:  # noqa: BLE001
                pass
            else:
                raise AssertionError(f"case {i % len(cases)} was accepted")

    run(5_000)
    before = _rss()
    run(200_000)
    after = _rss()
    _assert_flat(before, after, 20, "200k refused calls")


def test_thousand_large_calls():
    import torch
    n = 1_000_000
    a = np.empty(n, np.float32)
    m = np.empty((1000, 1000), np.float16).T  # transposed: the strided path with its buffers
    t = torch.empty(n, dtype=torch.bfloat16)
    for i in range(20):
        fastinit.uniform_(a, seed=i)
        fastinit.uniform_(m, seed=i)
        fastinit.uniform_(t)
    before = _rss()
    for i in range(1000):
        k = i % 4
        if k == 0 or k == 3:
            fastinit.uniform_(a, -1.0, 1.0, seed=i)
        elif k == 1:
            fastinit.uniform_(m, -1.0, 1.0, seed=i)
        else:
            fastinit.uniform_(t)
    after = _rss()
    _assert_flat(before, after, 50, "1000 calls on 1e6 elements")


def test_thread_count_stays_bounded():
    """Changing the thread count between fills reuses the pool's workers: no thread is
    created per call."""
    before_n = fastinit.get_num_threads()
    a = np.empty(2_000_000, np.float32)
    try:
        for k in (1, 2, 3, 4):
            fastinit.set_num_threads(k)
            fastinit.uniform_(a, seed=k)
        base = psutil.Process().num_threads()
        for i in range(400):
            fastinit.set_num_threads(1 + i % 4)
            fastinit.uniform_(a, seed=i)
        grown = psutil.Process().num_threads() - base
        assert grown <= 0, f"{grown} more OS threads after 400 fills with 1-4 threads"
    finally:
        fastinit.set_num_threads(before_n)
