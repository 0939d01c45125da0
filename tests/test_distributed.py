"""DTensor, FSDP2 and tensor-parallel support (issue 5), in real process groups.

fastinit's contract for a DTensor: the gathered tensor (`full_tensor()`) equals, bit for
bit, the same call on a plain tensor of the global shape in one process with the same seed
(explicit `seed=`, or `seed=None` after the same `torch.manual_seed` on every rank, which
draws one key on every rank, also where the shard is empty). `Partial` is refused.
`fastinit.distributed.assert_same_seed` checks that the ranks' generators agree. The same
holds for whole models under FSDP2 (`fully_shard`), tensor parallelism
(`parallelize_module`) and both (where `_StridedShard` appears).

How it runs (CI has 2 cores, so few process groups): one module-scoped fixture per world
size (2 and 4) starts the group ONCE with the multiprocessing "spawn" context, gloo on the
loopback interface (MASTER_ADDR=127.0.0.1, a port found by binding port 0). Every rank runs
the named cases of `dist_worker.cases(world)` in order and writes one result per case to
a file; each test below asserts on one case id's results from every rank. The whole group
is bounded by GROUP_TIMEOUT_S: stragglers are killed and their cases fail with the ranks'
logs (tracebacks included). A case passes only if it compared real data on every rank.

The CUDA group (nccl, marked `cuda`) runs a small selection of the same cases on 2 GPUs and
is skipped, with the reason, with fewer than 2 GPUs or a fastinit built without CUDA.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import signal
import socket
import time

import pytest

import torch  # noqa: E402  a test dependency: missing is a failure
import torch.distributed as dist  # noqa: E402
if not dist.is_available():  # pragma: no cover - depends on the torch build
    pytest.skip("torch.distributed is not available in this torch build", allow_module_level=True)
pytest.importorskip("torch.distributed.tensor", reason="DTensor (torch.distributed.tensor) needs torch >= 2.4")

import dist_worker  # noqa: E402  (tests/ is on sys.path, see conftest)
from fastinit import _C  # noqa: E402

GROUP_TIMEOUT_S = float(os.environ.get("FASTINIT_DIST_TIMEOUT", "120"))
LOG_TAIL = 6000  # characters of each rank's log quoted in a failure


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Group:
    """The outcome of one process group: per rank, {case id: (status, message)}."""

    def __init__(self, world, outdir, procs, timed_out, wall):
        self.world, self.outdir, self.wall = world, outdir, wall
        self.exitcodes = [p.exitcode for p in procs]
        self.timed_out = timed_out
        self.results = []
        self.done = []
        for r in range(world):
            res, done = {}, False
            path = os.path.join(outdir, f"rank{r}.jsonl")
            if os.path.exists(path):
                with open(path) as f:
                    for line in f:
                        try:
                            d = json.loads(line)
                        except ValueError:  # a line cut by a kill
                            continue
                        if d.get("done"):
                            done = True
                        else:
                            res[d["id"]] = (d["status"], d["msg"])
            self.results.append(res)
            self.done.append(done)

    def log(self, r):
        path = os.path.join(self.outdir, f"rank{r}.log")
        try:
            with open(path, errors="replace") as f:
                text = f.read()
        except OSError:
            return "(no log)"
        return text[-LOG_TAIL:]

    def describe(self, r):
        how = "killed after the group timeout" if self.timed_out else f"exit code {self.exitcodes[r]}"
        return f"rank {r} ({how}, finished={self.done[r]}); log tail:\n{self.log(r)}"

    def check(self, case_id):
        failures = []
        for r in range(self.world):
            got = self.results[r].get(case_id)
            if got is None:
                failures.append(f"rank {r}: no result for this case.\n{self.describe(r)}")
            elif got[0] != "pass":
                failures.append(f"rank {r}: {got[1]}")
        if failures:
            pytest.fail(f"case {case_id} (world {self.world}):\n" + "\n---\n".join(failures), pytrace=False)


def launch(world, outdir, device="cpu", only=None, timeout=GROUP_TIMEOUT_S):
    """Start `world` spawned ranks running dist_worker.main (the cases in `only`, or all),
    wait at most `timeout` s (less once a rank has died: the others then get a short grace
    period), then have the stragglers dump their Python stacks into their logs and kill them."""
    ctx = multiprocessing.get_context("spawn")
    port = free_port()
    procs = [ctx.Process(target=dist_worker.main, args=(r, world, port, str(outdir), device, only),
                         name=f"fastinit-dist-{world}-rank{r}", daemon=True) for r in range(world)]
    t0 = time.monotonic()
    for p in procs:
        p.start()
    deadline = t0 + timeout
    while any(p.is_alive() for p in procs) and time.monotonic() < deadline:
        if any(p.exitcode not in (None, 0) for p in procs):
            deadline = min(deadline, time.monotonic() + 15)
        time.sleep(0.1)
    stragglers = [p for p in procs if p.is_alive()]
    for p in stragglers:
        try:
            os.kill(p.pid, signal.SIGUSR1)  # faulthandler: the stacks go to the rank's log
        except OSError:
            pass
    if stragglers:
        time.sleep(1.0)
    for p in stragglers:
        p.kill()
    timed_out = bool(stragglers)
    for p in procs:
        p.join(10)
    return Group(world, str(outdir), procs, timed_out, time.monotonic() - t0)


def selected(request, test_name):
    """The case ids of `test_name` that this session runs (a -k selection runs only those)."""
    return sorted({item.callspec.params["case_id"] for item in request.session.items
                   if getattr(item, "originalname", None) == test_name and hasattr(item, "callspec")})


@pytest.fixture(scope="module")
def group2(request, tmp_path_factory):
    return launch(2, tmp_path_factory.mktemp("dist2"), only=selected(request, "test_world2"))


@pytest.fixture(scope="module")
def group4(request, tmp_path_factory):
    return launch(4, tmp_path_factory.mktemp("dist4"), only=selected(request, "test_world4"))


def _cuda_skip_reason():
    if not torch.cuda.is_available() or torch.cuda.device_count() < 2:
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        return f"needs 2 CUDA GPUs for an nccl group (torch sees {n})"
    if not _C.cuda_compiled():
        return "fastinit was built without CUDA (FASTINIT_CUDA=OFF, or AUTO without nvcc or a CUDA driver at build time)"
    if not dist.is_nccl_available():
        return "torch.distributed has no nccl backend"
    return None


@pytest.fixture(scope="module")
def group_cuda(request, tmp_path_factory):
    why = _cuda_skip_reason()
    if why:
        pytest.skip(why)
    return launch(2, tmp_path_factory.mktemp("dist_cuda"), device="cuda",
                  only=selected(request, "test_cuda_world2"))


@pytest.mark.parametrize("case_id", dist_worker.case_ids(2))
def test_world2(group2, case_id):
    group2.check(case_id)


@pytest.mark.parametrize("case_id", dist_worker.case_ids(4))
def test_world4(group4, case_id):
    group4.check(case_id)


@pytest.mark.cuda
@pytest.mark.parametrize("case_id", dist_worker.case_ids(2, "cuda"))
def test_cuda_world2(group_cuda, case_id):
    group_cuda.check(case_id)
