"""The CUDA kernel against the CPU kernels, bit for bit (docs/STREAM.md section 5: values never
depend on the device, strides or layout), plus the CUDA-specific plumbing: streams,
devices, errors, CuPy input.

Every test is marked `cuda` and SKIPPED, with the reason, when torch is missing or
`torch.cuda.is_available()` is False, or when fastinit was built without CUDA. If torch
sees a GPU but a CUDA-built fastinit says CUDA is unavailable, the tests FAIL: that is a
broken install, not a machine without a GPU.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastinit
from fastinit import _C

try:
    import torch
except ImportError:  # pragma: no cover - depends on the environment
    torch = None


def _skip_reason():
    if torch is None:
        return "torch is not installed"
    if not torch.cuda.is_available():
        return "torch.cuda.is_available() is False (no CUDA GPU visible)"
    if not _C.cuda_compiled():
        return "fastinit was built without CUDA (FASTINIT_CUDA=OFF, or AUTO without nvcc or a CUDA driver at build time)"
    return None


_REASON = _skip_reason()
pytestmark = [pytest.mark.cuda, pytest.mark.skipif(_REASON is not None, reason=_REASON or "")]

DTYPES = ["float32", "float64", "float16", "bfloat16"]
INT_VIEW = {2: "int16", 4: "int32", 8: "int64"}


def tdtype(name):
    return getattr(torch, name)


def bits(t):
    """Bit patterns of t as a contiguous CPU integer tensor."""
    t = t.detach().contiguous()
    return t.view(getattr(torch, INT_VIEW[t.element_size()])).cpu()


def assert_same_bits(got, want, what=""):
    g, w = bits(got).reshape(-1), bits(want).reshape(-1)
    assert got.shape == want.shape, f"{what}: shape {tuple(got.shape)} != {tuple(want.shape)}"
    bad = torch.nonzero(g != w).reshape(-1)
    if bad.numel():
        i = int(bad[0])
        raise AssertionError(
            f"{what}: {bad.numel()} of {g.numel()} elements differ; first at flat index {i}: "
            f"CPU 0x{int(w[i]) & 0xFFFFFFFFFFFFFFFF:x}, CUDA 0x{int(g[i]) & 0xFFFFFFFFFFFFFFFF:x}"
        )


def sentinel(n, dtype, device):
    """n elements of a recognisable non-zero pattern (every byte 0x5A)."""
    esz = torch.empty((), dtype=dtype).element_size()
    raw = torch.full((n * esz,), 0x5A, dtype=torch.uint8, device=device)
    return raw.view(dtype)


@pytest.fixture(scope="module", autouse=True)
def _cuda_really_works():
    ok, why = _C.cuda_available()
    assert ok, f"torch sees a GPU but fastinit's CUDA runtime does not: {why}"


def test_kat_words_on_cuda():
    # Independent of the CPU kernels: float32 on [0, 1) is (word >> 8) * 2^-24 exactly,
    # with docs/STREAM.md's seed-42 words.
    words = [0x9CEAF053, 0x77F5493B, 0x12BF50AD, 0x5742B3D7, 0xFCDB2127, 0x53BA6CFD, 0x838F5A6E, 0x744E06FB]
    t = torch.empty(8, dtype=torch.float32, device="cuda")
    fastinit.uniform_(t, 0.0, 1.0, seed=42)
    want = torch.tensor([(w >> 8) * 2.0**-24 for w in words], dtype=torch.float32)
    assert_same_bits(t, want, "seed-42 KAT")


OFFSETS = [0, 1, 3, 2**32 - 3, 2**33 - 5, 2**34 - 7, 2**63 - 3, 2**64 - 5]
# The large size with a few offsets only (time); the small ones with all of them. The
# offsets near 2^33 / 2^34 put a Philox counter carry (block 2^32) inside the target for
# float64 / float32; 2^64 - 5 wraps the stream index.
SIZE_OFFSETS = [(n, o) for n in (0, 1, 3, 5, 7, 8, 9, 17) for o in OFFSETS] + [
    (1_000_003, o) for o in (0, 3, 2**34 - 7, 2**64 - 5)
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n,offset", SIZE_OFFSETS)
def test_contiguous_matches_cpu(dtype, n, offset):
    dt = tdtype(dtype)
    g = torch.empty(n, dtype=dt, device="cuda")
    out = fastinit.uniform_(g, -1.5, 2.0, seed=0x0123456789ABCDEF, offset=offset)
    assert out is g
    c = fastinit.uniform_(torch.empty(n, dtype=dt), -1.5, 2.0, seed=0x0123456789ABCDEF, offset=offset)
    torch.cuda.synchronize()
    assert_same_bits(g, c, f"{dtype} n={n} offset={offset}")


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_300m_elements_matches_cpu_chunked(dtype):
    n = 300_000_000
    dt = tdtype(dtype)
    free, _ = torch.cuda.mem_get_info()
    if free < 2 * n * 2 + (256 << 20):
        pytest.skip(f"needs ~{2 * n * 2 >> 20} MiB free GPU memory, {free >> 20} MiB free")
    seed, offset = 987654321, 2**64 - 1_000_001  # the stream index wraps inside the tensor
    g = torch.empty(n, dtype=dt, device="cuda")
    fastinit.uniform_(g, -0.25, 0.25, seed=seed, offset=offset)
    torch.cuda.synchronize()
    # Chunks filled on the CPU as shards (offset = the shard's first global index) must
    # equal the whole-tensor CUDA fill there.
    chunk = 50_000_000
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        c = fastinit.uniform_(torch.empty(m, dtype=dt), -0.25, 0.25, seed=seed, offset=(offset + start) % 2**64)
        assert_same_bits(g[start:start + m], c, f"{dtype} chunk at {start}")
    del g


def _views():
    # (name, base element count, function base -> view); the same function is applied to
    # a CUDA base and a CPU base.
    return [
        ("slice1", 1000, lambda b: b[1:]),
        ("slice3", 1000, lambda b: b[3:]),
        ("slice3_tail", 1000, lambda b: b[3:996]),
        ("slice5_short", 64, lambda b: b[5:11]),
        ("step2", 2001, lambda b: b[1::2]),
        ("step3", 3000, lambda b: b[::3]),
        ("transpose", 37 * 53, lambda b: b.view(37, 53).t()),
        ("transpose_big", 1500 * 1001, lambda b: b.view(1500, 1001).t()),
        ("col_shard", 64 * 100, lambda b: b.view(64, 100)[:, 30:70]),
        ("row_shard_misaligned", 64 * 100, lambda b: b.view(64, 100)[3:50, 1:]),
        ("nd_permute", 4 * 5 * 6 * 7, lambda b: b.view(4, 5, 6, 7).permute(2, 0, 3, 1)[1:, :, ::2]),
        ("as_strided", 5000, lambda b: torch.as_strided(b, (7, 9, 11), (600, 1, 50), 13)),
        ("expand_dims", 300, lambda b: b[:240].view(4, 1, 60, 1)),
    ]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", _views(), ids=[v[0] for v in _views()])
@pytest.mark.parametrize("offset", [0, 3, 2**64 - 101])
def test_views_match_cpu_and_write_nothing_else(dtype, case, offset):
    _, n, make = case
    dt = tdtype(dtype)
    gbase = sentinel(n, dt, "cuda")
    cbase = sentinel(n, dt, "cpu")
    gv, cv = make(gbase), make(cbase)
    assert gv.shape == cv.shape and gv.stride() == cv.stride()
    fastinit.uniform_(gv, -3.0, 5.0, seed=77, offset=offset)
    fastinit.uniform_(cv, -3.0, 5.0, seed=77, offset=offset)
    torch.cuda.synchronize()
    # The whole base: the view's values equal the CPU ones, and every byte outside the
    # view still holds the sentinel on both.
    assert_same_bits(gbase, cbase, f"{dtype} {case[0]} offset={offset}")
    assert not torch.equal(bits(cbase), bits(sentinel(n, dt, "cpu"))), "the CPU fill wrote nothing"


@pytest.mark.parametrize("dtype", DTYPES)
def test_negative_strides_via_private_api(dtype):
    # torch views cannot have negative strides; NumPy-style targets can, and the binding
    # takes them: a reversed 2-D view with a negative outer and inner stride.
    dt = tdtype(dtype)
    esz = torch.empty((), dtype=dt).element_size()
    code = DTYPES.index(dtype)
    rows, cols = 33, 70
    gbase = sentinel(rows * cols, dt, "cuda")
    cbase = sentinel(rows * cols, dt, "cpu")
    last = (rows * cols - 1) * esz
    sizes, strides = [rows, cols - 3], [-cols * esz, -esz]
    _C.fill_cuda(gbase.data_ptr() + last, gbase.device.index, torch.cuda.current_stream().cuda_stream, code,
                 sizes, strides, -1.0, 1.0, 9, 2**64 - 50)
    _C.fill(cbase.data_ptr() + last, code, sizes, strides, -1.0, 1.0, 9, 2**64 - 50)
    torch.cuda.synchronize()
    assert_same_bits(gbase, cbase, f"{dtype} negative strides")
    assert not torch.equal(bits(cbase), bits(sentinel(rows * cols, dt, "cpu")))


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_byte_misaligned_pointer_via_private_api(dtype):
    # Pointers that are not element-aligned (possible through the private binding, and
    # for raw __cuda_array_interface__ producers) take the narrow-store paths.
    dt = tdtype(dtype)
    esz = torch.empty((), dtype=dt).element_size()
    code = DTYPES.index(dtype)
    n = 1001
    for shift in range(1, 16):
        graw = torch.full((n * esz + 32,), 0x5A, dtype=torch.uint8, device="cuda")
        craw = torch.full((n * esz + 32,), 0x5A, dtype=torch.uint8)
        for raw, fill in ((graw, "cuda"), (craw, "cpu")):
            if fill == "cuda":
                _C.fill_cuda(raw.data_ptr() + shift, raw.device.index, torch.cuda.current_stream().cuda_stream,
                             code, [n], [esz], -1.0, 1.0, 5, 2**32 - 1)
            else:
                _C.fill(raw.data_ptr() + shift, code, [n], [esz], -1.0, 1.0, 5, 2**32 - 1)
        torch.cuda.synchronize()
        assert torch.equal(graw.cpu(), craw), f"{dtype} byte shift {shift}"


@pytest.mark.parametrize("dtype", DTYPES)
def test_upper_bound_rule_matches_cpu(dtype):
    # [1, 2) in the 16-bit types: many values round to 2 and must become 1, as on the CPU.
    dt = tdtype(dtype)
    g = fastinit.uniform_(torch.empty(100_003, dtype=dt, device="cuda"), 1.0, 2.0, seed=3)
    c = fastinit.uniform_(torch.empty(100_003, dtype=dt), 1.0, 2.0, seed=3)
    assert_same_bits(g, c, dtype)
    assert float(g.float().max()) < 2.0


@pytest.mark.parametrize("dtype", DTYPES)
def test_public_api_seeded(dtype):
    dt = tdtype(dtype)
    for shape in [(256, 3, 3, 3), (1000, 513), (7,)]:
        g = torch.empty(shape, dtype=dt, device="cuda")
        c = torch.empty(shape, dtype=dt)
        assert fastinit.uniform_(g, -1, 1, seed=11) is g
        fastinit.uniform_(c, -1, 1, seed=11)
        assert_same_bits(g, c, f"uniform_ {shape}")
        if len(shape) >= 2:
            assert fastinit.kaiming_uniform_(g, a=5**0.5, seed=12) is g
            fastinit.kaiming_uniform_(c, a=5**0.5, seed=12)
            assert_same_bits(g, c, f"kaiming_uniform_ {shape}")
            fastinit.xavier_uniform_(g, seed=13)
            fastinit.xavier_uniform_(c, seed=13)
            assert_same_bits(g, c, f"xavier_uniform_ {shape}")


def test_manual_seed_gives_same_weights_on_cpu_and_cuda():
    # docs/STREAM.md section 4: the seed comes from the CPU default generator for CUDA tensors too.
    torch.manual_seed(1234)
    g1 = fastinit.kaiming_uniform_(torch.empty(300, 200, device="cuda"))
    g2 = fastinit.uniform_(torch.empty(1001, dtype=torch.bfloat16, device="cuda"), -2, 2)
    torch.manual_seed(1234)
    c1 = fastinit.kaiming_uniform_(torch.empty(300, 200))
    c2 = fastinit.uniform_(torch.empty(1001, dtype=torch.bfloat16), -2, 2)
    assert_same_bits(g1, c1, "kaiming after manual_seed")
    assert_same_bits(g2, c2, "uniform after manual_seed")
    assert not torch.equal(bits(g1[:1]), bits(torch.zeros(1)))


def test_nn_parameter_on_cuda():
    lin = torch.nn.Linear(300, 17).cuda()
    ref = torch.nn.Linear(300, 17)
    with torch.no_grad():
        fastinit.kaiming_uniform_(lin.weight, a=5**0.5, seed=21)
        fastinit.kaiming_uniform_(ref.weight, a=5**0.5, seed=21)
    assert_same_bits(lin.weight, ref.weight, "Linear.weight")


def test_non_default_stream():
    s = torch.cuda.Stream()
    n = 1 << 20
    t = torch.zeros(n, device="cuda")
    torch.cuda.synchronize()
    with torch.cuda.stream(s):
        # A long kernel on s first: if the fill is enqueued on s it cannot have run until
        # the sleep ends; on any other stream it would run at once.
        torch.cuda._sleep(int(2e9))  # ~1 s at H200 clocks
        fastinit.uniform_(t, -1, 1, seed=99)
        done = torch.cuda.Event()
        done.record(s)
    assert not done.query(), "the sleep on s ended too early for this check"
    early = t.cpu()  # a copy on the default stream, which does not wait for s
    assert not done.query(), "the sleep on s ended too early for this check"
    assert torch.count_nonzero(early) == 0, "the fill ran before the work queued ahead of it on its stream"
    s.synchronize()
    c = fastinit.uniform_(torch.empty(n), -1, 1, seed=99)
    assert_same_bits(t, c, "fill on a side stream")


def test_raw_stream_handle_and_legacy_default_stream():
    # stream 0 (legacy default) and an explicit handle through the private binding.
    n = 4099
    c = fastinit.uniform_(torch.empty(n), -1, 1, seed=8)
    for handle in (0, torch.cuda.Stream().cuda_stream):
        g = torch.zeros(n, device="cuda")
        _C.fill_cuda(g.data_ptr(), g.device.index, handle, 0, [n], [4], -1.0, 1.0, 8, 0)
        torch.cuda.synchronize()
        assert_same_bits(g, c, f"stream handle {handle}")


def test_current_device_restored_with_two_gpus():
    if torch.cuda.device_count() < 2:
        pytest.skip(f"needs 2 GPUs to see a device switch, {torch.cuda.device_count()} visible")
    torch.cuda.set_device(0)
    g = torch.empty(10_001, device="cuda:1")
    fastinit.uniform_(g, -1, 1, seed=4)
    assert torch.cuda.current_device() == 0
    torch.cuda.synchronize(1)
    assert_same_bits(g, fastinit.uniform_(torch.empty(10_001), -1, 1, seed=4), "fill on cuda:1")
    # The same with cuda:1 current and a tensor on cuda:0.
    torch.cuda.set_device(1)
    try:
        h = fastinit.uniform_(torch.empty(10_001, device="cuda:0"), -1, 1, seed=4)
        assert torch.cuda.current_device() == 1
        assert_same_bits(h, g, "fill on cuda:0 from cuda:1")
    finally:
        torch.cuda.set_device(0)


def test_invalid_device_is_a_runtime_error_and_keeps_current_device():
    before = torch.cuda.current_device()
    g = torch.empty(16, device="cuda")
    with pytest.raises(RuntimeError, match="fastinit CUDA error: cudaErrorInvalidDevice"):
        _C.fill_cuda(g.data_ptr(), torch.cuda.device_count() + 3, 0, 0, [16], [4], -1.0, 1.0, 1, 0)
    assert torch.cuda.current_device() == before
    # The runtime is still usable afterwards.
    fastinit.uniform_(g, -1, 1, seed=1)
    assert_same_bits(g, fastinit.uniform_(torch.empty(16), -1, 1, seed=1), "after an error")


def test_zero_elements_launches_nothing():
    g = torch.empty(0, 5, device="cuda")
    assert fastinit.uniform_(g, -1, 1, seed=1) is g
    # A zero-size target never touches its pointer, even an invalid one.
    _C.fill_cuda(8, 0, 0, 0, [0, 5], [20, 4], -1.0, 1.0, 1, 0)
    torch.cuda.synchronize()
    assert g.shape == (0, 5)


def test_bad_pointer_raises_not_crashes():
    # An illegal address poisons the CUDA context for the whole process: run it apart.
    code = textwrap.dedent(
        """
        import os, sys
        import torch
        from fastinit import _C
        torch.cuda.init()
        torch.empty(1, device="cuda")
        try:
            _C.fill_cuda(8, torch.cuda.current_device(), torch.cuda.current_stream().cuda_stream,
                         0, [1], [4], -1.0, 1.0, 1, 0)
            torch.cuda.synchronize()
        except RuntimeError as e:
            print("RAISED:", str(e).splitlines()[0], flush=True)
            os._exit(0)
        print("NO ERROR", flush=True)
        os._exit(3)
        """
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "RAISED:" in r.stdout, (
        f"rc={r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr[-3000:]}"
    )


def test_cupy_array():
    cupy = pytest.importorskip("cupy", reason="cupy is not installed")
    for dt in (np.float32, np.float64, np.float16):
        a = cupy.empty((301, 7), dtype=dt)
        assert fastinit.uniform_(a, -1, 1, seed=6) is a
        b = fastinit.uniform_(np.empty((301, 7), dtype=dt), -1, 1, seed=6)
        cupy.cuda.runtime.deviceSynchronize()
        got = cupy.asnumpy(a)
        assert got.tobytes() == b.tobytes(), f"cupy {np.dtype(dt).name}"
        vb = cupy.zeros((40, 30), dtype=dt)
        wb = np.zeros((40, 30), dtype=dt)
        fastinit.uniform_(vb[::2, 5:], -1, 1, seed=6, offset=17)
        fastinit.uniform_(wb[::2, 5:], -1, 1, seed=6, offset=17)
        cupy.cuda.runtime.deviceSynchronize()
        assert cupy.asnumpy(vb).tobytes() == wb.tobytes(), f"cupy view {np.dtype(dt).name}"


@pytest.mark.slow
def test_bfloat16_tensor_past_2_32_elements():
    """A bf16 tensor of 2^32 + 5 elements (8 GiB): element indices and byte offsets past
    2^31 and 2^32 inside one contiguous kernel launch. Windows around 2^31, 2^32 and the
    end equal CPU fills of the same length at the same stream offset, for uniform and
    normal values."""
    n = 2**32 + 5
    free, _ = torch.cuda.mem_get_info()
    if free < 2 * n + (1 << 30):
        pytest.skip(f"needs ~{(2 * n >> 20) + 1024} MiB free GPU memory, the GPU has {free >> 20} MiB free")
    seed = 0x2_3232_0005
    g = torch.empty(n, dtype=torch.bfloat16, device="cuda")
    L = 4099
    starts = [0, 2**31 - L // 2, 2**31 - 1, 2**32 - L // 2, 2**32 - 1, n - L]
    try:
        for kind in ("uniform", "normal"):
            if kind == "uniform":
                fastinit.uniform_(g, -1.0, 1.0, seed=seed)
            else:
                fastinit.normal_(g, 0.5, 2.0, seed=seed)
            torch.cuda.synchronize()
            for s in starts:
                c = torch.empty(L, dtype=torch.bfloat16)
                if kind == "uniform":
                    fastinit.uniform_(c, -1.0, 1.0, seed=seed, offset=s)
                else:
                    fastinit.normal_(c, 0.5, 2.0, seed=seed, offset=s)
                assert_same_bits(g[s:s + L], c, f"{kind} window at {s}")
    finally:
        del g
        torch.cuda.empty_cache()


def test_cuda_graph_capture_and_replay():
    """A fill captured into a CUDA graph launches nothing at capture time and writes the
    same bits as the CPU on each replay (the seed is fixed at capture)."""
    n = 1_000_003
    t = torch.zeros(n, device="cuda")
    want = fastinit.uniform_(torch.empty(n), -0.5, 0.5, seed=77, offset=5)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm-up outside the capture, as torch's docs ask
        fastinit.uniform_(t, -0.5, 0.5, seed=77, offset=5)
    torch.cuda.current_stream().wait_stream(side)
    t.zero_()
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        assert fastinit.uniform_(t, -0.5, 0.5, seed=77, offset=5) is t
    torch.cuda.synchronize()
    assert not bool(t.any()), "the captured fill ran during capture"
    for _ in range(2):
        graph.replay()
        torch.cuda.synchronize()
        assert_same_bits(t, want, "graph replay")
        t.zero_()


def test_grid_stride_loop_covers_huge_strided_target():
    # More Philox blocks than threads in one grid, in the strided kernel.
    free, _ = torch.cuda.mem_get_info()
    n_rows, n_cols = 8192, 4097
    if free < 3 * n_rows * n_cols * 4:
        pytest.skip("not enough free GPU memory")
    g = torch.empty(n_cols, n_rows, device="cuda").t()
    fastinit.uniform_(g, -1, 1, seed=31, offset=2**64 - 12345)
    c = fastinit.uniform_(torch.empty(n_rows, n_cols), -1, 1, seed=31, offset=2**64 - 12345)
    assert_same_bits(g, c, "transposed 8192x4097")


# ---- normal and truncated normal (docs/STREAM.md) through the private binding ----------

NORMAL_CASES = [
    ("normal", (0.0, 1.0)),
    ("normal", (0.25, 3.0)),
    ("trunc", (0.0, 1.0, -2.0, 2.0)),
    ("trunc", (0.0, 1.0, 2.0, 3.0)),
    ("trunc", (0.0, 0.1, -2.0, 2.0)),
    ("trunc", (0.0, 1.0, 5.0, 6.0)),
    ("trunc", (1.0, 2.0, -3.0, 0.5)),
]


def _normal_fill_pair(kind, params, g, c, seed, offset, sizes=None, strides=None, gptr=None, cptr=None):
    """Fill CUDA tensor g and CPU tensor c (same shape/strides) with the same stream."""
    code = DTYPES.index(str(g.dtype).replace("torch.", ""))
    esz = g.element_size()
    sizes = list(g.shape) if sizes is None else sizes
    strides = [s * esz for s in g.stride()] if strides is None else strides
    gptr = g.data_ptr() if gptr is None else gptr
    cptr = c.data_ptr() if cptr is None else cptr
    stream = torch.cuda.current_stream(g.device).cuda_stream
    if kind == "normal":
        _C.fill_cuda_normal(gptr, g.device.index, stream, code, sizes, strides, *params, seed, offset)
        _C.fill_normal(cptr, code, sizes, strides, *params, seed, offset)
    else:
        _C.fill_cuda_trunc_normal(gptr, g.device.index, stream, code, sizes, strides, *params, seed, offset)
        _C.fill_trunc_normal(cptr, code, sizes, strides, *params, seed, offset)
    torch.cuda.synchronize()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind,params", NORMAL_CASES, ids=[f"{k}{p}" for k, p in NORMAL_CASES])
@pytest.mark.parametrize("n,offset", [(0, 0), (1, 3), (7, 2**32 - 3), (17, 2**64 - 5), (1_000_003, 0),
                                      (1_000_003, 2**34 - 7), (100_001, 2**64 - 50_000)])
def test_normal_family_contiguous_matches_cpu(dtype, kind, params, n, offset):
    dt = tdtype(dtype)
    g = torch.empty(n, dtype=dt, device="cuda")
    c = torch.empty(n, dtype=dt)
    _normal_fill_pair(kind, params, g, c, 0x0123456789ABCDEF, offset)
    assert_same_bits(g, c, f"{kind}{params} {dtype} n={n} offset={offset}")
    if kind == "trunc" and n:
        lo, hi = params[2], params[3]
        assert float(c.double().min()) >= float(torch.tensor(lo, dtype=dt)) - 0.0
        assert float(c.double().max()) <= float(torch.tensor(hi, dtype=dt)) + 0.0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", _views(), ids=[v[0] for v in _views()])
@pytest.mark.parametrize("kind,params", [NORMAL_CASES[0], NORMAL_CASES[3]], ids=["normal", "trunc23"])
def test_normal_family_views_match_cpu(dtype, case, kind, params):
    _, n, make = case
    dt = tdtype(dtype)
    gbase = sentinel(n, dt, "cuda")
    cbase = sentinel(n, dt, "cpu")
    gv, cv = make(gbase), make(cbase)
    _normal_fill_pair(kind, params, gv, cv, 77, 2**64 - 101)
    assert_same_bits(gbase, cbase, f"{kind} {dtype} {case[0]}")
    assert not torch.equal(bits(cbase), bits(sentinel(n, dt, "cpu"))), "the CPU fill wrote nothing"


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_normal_family_byte_misaligned_and_negative_strides(dtype):
    dt = tdtype(dtype)
    esz = torch.empty((), dtype=dt).element_size()
    n = 1001
    for shift in (1, 3, 6):
        graw = torch.full((n * esz + 32,), 0x5A, dtype=torch.uint8, device="cuda")
        craw = torch.full((n * esz + 32,), 0x5A, dtype=torch.uint8)
        g = graw[:n * esz].view(dt)
        _normal_fill_pair("trunc", (0.0, 1.0, -1.0, 3.0), g, g.cpu(), 5, 2**32 - 1, sizes=[n], strides=[esz],
                          gptr=graw.data_ptr() + shift, cptr=craw.data_ptr() + shift)
        assert torch.equal(graw.cpu(), craw), f"{dtype} byte shift {shift}"
    rows, cols = 33, 70
    gbase = sentinel(rows * cols, dt, "cuda")
    cbase = sentinel(rows * cols, dt, "cpu")
    last = (rows * cols - 1) * esz
    _normal_fill_pair("normal", (0.0, 2.0), gbase, cbase, 9, 2**64 - 50, sizes=[rows, cols - 3],
                      strides=[-cols * esz, -esz], gptr=gbase.data_ptr() + last, cptr=cbase.data_ptr() + last)
    assert_same_bits(gbase, cbase, f"{dtype} negative strides")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([os.path.abspath(__file__), "-q", "-m", "cuda"]))


BOX_CASES = [  # (global shape, box start, box size): a DTensor shard is such a box
    ((64, 48), (0, 16), (64, 16)),
    ((64, 48), (16, 0), (16, 48)),
    ((9, 7), (0, 6), (9, 1)),  # one column: inner index stride 7
    ((5, 6, 7), (1, 2, 3), (3, 1, 4)),
    ((3000, 1001), (7, 500), (2000, 401)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["uniform", "normal", "trunc_normal"])
@pytest.mark.parametrize("gshape, start, size", BOX_CASES, ids=str)
def test_boxes_with_index_strides_match_cpu(dtype, kind, gshape, start, size):
    """A box of a larger tensor (global row-major index strides, offset = the corner's
    global index) on CUDA equals the CPU fill of the same box and the whole tensor's
    values there."""
    names = {"uniform": ("fill", "fill_cuda", (-0.5, 0.25)), "normal": ("fill_normal", "fill_cuda_normal", (0.1, 2.0)),
             "trunc_normal": ("fill_trunc_normal", "fill_cuda_trunc_normal", (0.0, 1.0, -1.0, 2.0))}
    cpu_fn, cuda_fn, params = names[kind]
    istr = [int(np.prod(gshape[d + 1:])) for d in range(len(gshape))]
    corner = sum(a * s for a, s in zip(start, istr))
    seed, base = 77, 2**64 - 5
    dt = tdtype(dtype)
    esz = torch.empty((), dtype=dt).element_size()
    whole = torch.empty(gshape, dtype=dt)
    getattr(_C, cpu_fn)(whole.data_ptr(), DTYPES.index(dtype), list(gshape), [s * esz for s in whole.stride()],
                        *params, seed, base)
    box = torch.empty(size, dtype=dt, device="cuda")
    getattr(_C, cuda_fn)(box.data_ptr(), box.device.index, torch.cuda.current_stream().cuda_stream,
                         DTYPES.index(dtype), list(size), [s * esz for s in box.stride()], *params, seed,
                         (base + corner) % 2**64, istr)
    torch.cuda.synchronize()
    want = whole[tuple(slice(a, a + n) for a, n in zip(start, size))]
    assert_same_bits(box, want, f"{kind} {dtype} box {start}+{size} of {gshape}")
