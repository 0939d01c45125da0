"""The documents against what runs.

* docs/STREAM.md: every known-answer table is read from the document itself and checked
  against the installed fastinit (every ISA of this CPU, NumPy and torch targets) and
  against the independent NumPy reference (tests/reference.py).
* README.md: its performance figures against the benchmark result files they come from,
  with the machine they were measured on.
* Citations: no file in the repository cites a document that is not in it.
"""

import json
import math
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

import fastinit
import reference as R
from conftest import c_fill, isa_params
from fastinit import _C

ROOT = Path(__file__).resolve().parents[1]
STREAM = ROOT / "docs" / "STREAM.md"
README = ROOT / "README.md"
RESULTS = ROOT / "benchmarks" / "results"

UINT = {2: np.uint16, 4: np.uint32, 8: np.uint64}


# ---------------------------------------------------------------------------
# markdown helpers


def md_tables(text):
    """Every markdown table as (header cells, rows of cells)."""
    out = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("|") and i + 1 < len(lines) and re.match(r"^\|[\s:|-]+\|$", lines[i + 1]):
            header = cells(lines[i])
            rows = []
            i += 2
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(cells(lines[i]))
                i += 1
            out.append((header, rows))
        else:
            i += 1
    return out


def cells(line):
    return [c.strip() for c in line.strip().strip("|").split("|")]


def table(text, first_header):
    found = [t for t in md_tables(text) if t[0][0] == first_header]
    assert len(found) == 1, f"expected one table whose first column is {first_header!r}, found {len(found)}"
    header, rows = found[0]
    assert rows, f"table {first_header!r} has no rows"
    return header, rows


def section(text, title):
    """The text of the '## title' section (up to the next '## ')."""
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert m, f"no section '## {title}'"
    return m.group(1)


@pytest.fixture(scope="module")
def stream_doc():
    return STREAM.read_text()


@pytest.fixture(scope="module")
def readme():
    return README.read_text()


def hexwords(text):
    return [int(w, 16) for w in text.split()]


# ---------------------------------------------------------------------------
# docs/STREAM.md


def test_stream_doc_states_the_installed_stream_version(stream_doc):
    m = re.match(r"# The fastinit stream \(stream version (\d+)\)", stream_doc)
    assert m and int(m.group(1)) == fastinit.STREAM_VERSION


def test_philox_known_answers(stream_doc):
    _, rows = table(stream_doc, "counter c0 c1 c2 c3")
    assert len(rows) == 3
    for counter, key, output in rows:
        ctr, k, want = hexwords(counter), hexwords(key), hexwords(output)
        assert (len(ctr), len(k), len(want)) == (4, 2, 4)
        assert [int(x) for x in _C.philox4x32_10(ctr, k)] == want
        assert [int(x) for x in R.philox4x32_10(np.array(ctr, dtype=np.uint32), tuple(k))] == want


def word_rows(stream_doc):
    _, rows = table(stream_doc, "seed")
    return [(int(seed, 0), hexwords(words)) for seed, words in rows if words.count(" ") == 7]


def test_word_table_has_three_seeds(stream_doc):
    assert [s for s, _ in word_rows(stream_doc)] == [0, 42, 0x0123456789ABCDEF]


@pytest.mark.parametrize("isa", isa_params())
def test_word_table_against_the_code(stream_doc, isa):
    for seed, want in word_rows(stream_doc):
        # The word order: block b = j >> 2 is philox((b lo, b hi, 0, 0), (seed lo, seed hi)).
        key = [seed & 0xFFFFFFFF, seed >> 32]
        got = [int(x) for b in (0, 1) for x in _C.philox4x32_10([b, 0, 0, 0], key)]
        assert got == want
        assert R.words(seed, 0, 8).tolist() == want
        # Through the fill: float32 on [0, 1) stores (x >> 8) * 2^-24 exactly, at any offset.
        for offset in (0, 3):
            a = np.full(8 - offset, np.nan, dtype=np.float32)
            c_fill(a, 0.0, 1.0, seed, offset, isa, 1)
            assert (a.astype(np.float64) * 2.0**24).astype(np.uint64).tolist() == [w >> 8 for w in want[offset:]]


def value_rows(stream_doc):
    header, rows = table(stream_doc, "dtype")
    assert header == ["dtype", "seed", "offset", "lo", "hi", "stored bits"]
    return [(dt, int(seed), int(offset), float(lo), float(hi), hexwords(b)) for dt, seed, offset, lo, hi, b in rows]


def numpy_dtype(name):
    if name == "bfloat16":
        ml_dtypes = pytest.importorskip("ml_dtypes", reason="bfloat16 NumPy arrays need the ml_dtypes package")
        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name)


def test_value_table_covers_every_dtype_and_the_hi_rule(stream_doc):
    rows = value_rows(stream_doc)
    assert {r[0] for r in rows} == {"float32", "float64", "float16", "bfloat16"}
    assert any(r[2] >= 2**62 for r in rows)  # a counter word c1 that is not zero
    assert any(0 in r[5] and r[3] == 0.0 for r in rows)  # the hi -> lo rule firing


@pytest.mark.parametrize("isa", isa_params())
def test_value_table_against_every_cpu_path(stream_doc, isa):
    for dt, seed, offset, lo, hi, want in value_rows(stream_doc):
        ndt = numpy_dtype(dt)
        for threads in (1, 2):
            a = np.zeros(len(want), ndt)
            c_fill(a, lo, hi, seed, offset, isa, threads)
            assert a.view(UINT[ndt.itemsize]).tolist() == want, (dt, seed, offset, isa, threads)


def test_value_table_public_api_and_reference(stream_doc):
    for dt, seed, offset, lo, hi, want in value_rows(stream_doc):
        ndt = numpy_dtype(dt)
        a = np.zeros(len(want), ndt)
        assert fastinit.uniform_(a, lo, hi, seed=seed, offset=offset) is a
        assert a.view(UINT[ndt.itemsize]).tolist() == want
        assert R.expected_bits((len(want),), dt, lo, hi, seed, offset).tolist() == want


def test_value_table_torch(stream_doc):
    torch = pytest.importorskip("torch", reason="the torch half of this check needs torch")
    for dt, seed, offset, lo, hi, want in value_rows(stream_doc):
        t = torch.zeros(len(want), dtype=getattr(torch, dt))
        fastinit.uniform_(t, lo, hi, seed=seed, offset=offset)
        int_type = {2: torch.int16, 4: torch.int32, 8: torch.int64}[t.element_size()]
        got = [v & ((1 << (8 * t.element_size())) - 1) for v in t.view(int_type).tolist()]
        assert got == want, dt


def test_float32_decimal_example(stream_doc):
    m = re.search(r"the float32 row reads ([-0-9., ]+);", stream_doc.replace("\n", " "))
    assert m, "the decimal reading of the float32 row is missing"
    shown = [float(x) for x in m.group(1).replace(" ", "").strip(",").split(",")]
    a = np.zeros(4, np.float32)
    fastinit.uniform_(a, -1.0, 1.0, seed=42)
    assert np.allclose(a, shown, rtol=0, atol=5e-9)


def seed_rows(stream_doc):
    header, rows = table(stream_doc, "seeding")
    assert header == ["seeding", "target", "key drawn"]
    return {seeding.strip("`"): int(key, 16) for seeding, _, key in rows}


def test_seed_table_numpy(stream_doc):
    keys = seed_rows(stream_doc)
    want = np.zeros(16, np.float32)
    # numpy.random.seed(0), then a fill with no generator
    fastinit.uniform_(want, seed=keys["numpy.random.seed(0)"])
    state = np.random.get_state()
    try:
        np.random.seed(0)
        got = fastinit.uniform_(np.zeros(16, np.float32))
    finally:
        np.random.set_state(state)
    assert got.tobytes() == want.tobytes()
    fastinit.uniform_(want, seed=keys["generator=numpy.random.default_rng(0)"])
    got = fastinit.uniform_(np.zeros(16, np.float32), generator=np.random.default_rng(0))
    assert got.tobytes() == want.tobytes()
    got = fastinit.uniform_(np.zeros(16, np.float32), generator=0)  # an int means default_rng(int)
    assert got.tobytes() == want.tobytes()


def test_seed_table_torch(stream_doc):
    torch = pytest.importorskip("torch", reason="the torch seeding row needs torch")
    key = seed_rows(stream_doc)["torch.manual_seed(0)"]
    state = torch.get_rng_state()
    try:
        torch.manual_seed(0)
        got = fastinit.uniform_(torch.zeros(16))
        # the documented draw, by torch itself
        torch.manual_seed(0)
        w = torch.randint(0, 2**32, (2,), dtype=torch.int64).tolist()
    finally:
        torch.set_rng_state(state)
    assert w[0] | (w[1] << 32) == key
    assert torch.equal(got, fastinit.uniform_(torch.zeros(16), seed=key))


# ---------------------------------------------------------------------------
# docs/STREAM.md section 4.1: model-level keys, recomputed without fastinit
#
# A pure-Python Philox4x32-10 (section 1's pseudocode, checked first against Random123's
# known answers in the document) and hashlib's SHA-256: nothing here comes from fastinit,
# so the table's expected keys are independent of the code under test.

_M0, _M1, _W0, _W1, _MASK32 = 0xD2511F53, 0xCD9E8D57, 0x9E3779B9, 0xBB67AE85, 0xFFFFFFFF


def py_philox4x32_10(counter, key):
    c0, c1, c2, c3 = counter
    k0, k1 = key
    for r in range(10):
        if r:
            k0, k1 = (k0 + _W0) & _MASK32, (k1 + _W1) & _MASK32
        p0, p1 = _M0 * c0, _M1 * c2
        c0, c1, c2, c3 = (p1 >> 32) ^ c1 ^ k0, p1 & _MASK32, (p0 >> 32) ^ c3 ^ k1, p0 & _MASK32
    return [c0, c1, c2, c3]


def py_name_counter(name):
    """Section 4.1: bytes 0..15 of SHA-256(UTF-8 name) as four little-endian 32-bit words."""
    import hashlib

    h = hashlib.sha256(name.encode("utf-8")).digest()
    return [int.from_bytes(h[4 * i:4 * i + 4], "little") for i in range(4)]


def py_derive_seed(s, name):
    w = py_philox4x32_10(py_name_counter(name), (s & _MASK32, s >> 32))
    return w[0] | (w[1] << 32)


def model_key_rows(stream_doc):
    header, rows = table(stream_doc, "s")
    assert header == ["s", "name", "SHA-256(name) bytes 0..15", "counter c0 c1 c2 c3", "derived key"]
    out = []
    for s, name, digest, counter, key in rows:
        assert name.startswith("`") and name.endswith("`"), name
        out.append((int(s, 0), name[1:-1], digest, hexwords(counter), int(key, 16)))
    return out


def test_pure_python_philox_matches_random123(stream_doc):
    _, rows = table(stream_doc, "counter c0 c1 c2 c3")
    for counter, key, output in rows:
        assert py_philox4x32_10(hexwords(counter), hexwords(key)) == hexwords(output)


def test_model_key_table_recomputed_independently(stream_doc):
    import hashlib

    rows = model_key_rows(stream_doc)
    names = [r[1] for r in rows]
    # the cases the section describes: plain names, the #j suffix (one and two digits), a
    # temporary's key, an init pass's prefix, UTF-8
    for want in ("weight", "lin.weight", "lin.weight#1", "lin.bias", ":temporary:0", "head.weight#12",
                 "init_weights/lin.weight", "init_weights/:temporary:0"):
        assert want in names, want
    assert any(not n.isascii() for n in names) and any(s >= 2**32 for s, *_ in rows)
    for s, name, digest, counter, key in rows:
        assert hashlib.sha256(name.encode("utf-8")).digest()[:16].hex() == digest, name
        assert py_name_counter(name) == counter, name
        assert py_derive_seed(s, name) == key, (s, name)


def test_model_key_table_against_derive_seed(stream_doc):
    from fastinit.core.seeds import derive_seed

    for s, name, _, _, key in model_key_rows(stream_doc):
        assert derive_seed(s, name) == key, (s, name)


def test_init_module_uses_the_documented_keys(stream_doc):
    """init_module_(nn.Linear(4, 3), seed=0): weight and bias filled at offset 0 with the
    table's keys for `weight` and `bias` (torch's default rules: kaiming_uniform_(a=sqrt(5)),
    bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)))."""
    torch = pytest.importorskip("torch", reason="init_module_ initializes torch modules: needs torch")
    keys = {(s, n): k for s, n, _, _, k in model_key_rows(stream_doc)}
    lin = torch.nn.Linear(4, 3)
    fastinit.init_module_(lin, seed=0)
    w = fastinit.kaiming_uniform_(torch.empty(3, 4), a=math.sqrt(5), seed=keys[(0, "weight")])
    b = fastinit.uniform_(torch.empty(3), -0.5, 0.5, seed=keys[(0, "bias")])
    assert torch.equal(lin.weight.detach(), w) and torch.equal(lin.bias.detach(), b)


def _torch_and_keys(stream_doc):
    """torch (model-level tests need it) and the model key table, (s, name) -> key."""
    torch = pytest.importorskip("torch", reason="materialize_ builds torch modules: needs torch")
    return torch, {(s, n): k for s, n, _, _, k in model_key_rows(stream_doc)}


def test_materialize_uses_the_documented_keys_and_ordinals(stream_doc):
    """The section's example: nn.Linear's kaiming_uniform_ was op 0 on `lin.weight`, the
    parent's normal_ is op 1 (`lin.weight#1`), the bias's uniform_ is op 0 (`lin.bias`)."""
    torch, keys = _torch_and_keys(stream_doc)
    nn = torch.nn

    class Parent(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 3)
            nn.init.normal_(self.lin.weight, std=0.02)

    m = fastinit.deferred_init(Parent)
    fastinit.materialize_(m, "cpu", seed=1234)
    w = fastinit.normal_(torch.empty(3, 4), std=0.02, seed=keys[(1234, "lin.weight#1")])
    b = fastinit.uniform_(torch.empty(3), -0.5, 0.5, seed=keys[(1234, "lin.bias")])
    assert torch.equal(m.lin.weight.detach(), w) and torch.equal(m.lin.bias.detach(), b)
    # and not op 0's key: the ordinal matters
    w0 = fastinit.normal_(torch.empty(3, 4), std=0.02, seed=keys[(1234, "lin.weight")])
    assert not torch.equal(m.lin.weight.detach(), w0)


def test_init_pass_uses_the_documented_keys(stream_doc):
    """The same normal_ in the model's init_weights() (an init pass, as Hugging Face's
    post_init runs it) is keyed `init_weights/lin.weight`, by materialize_ and by
    init_module_; a torch.randn temporary there `init_weights/:temporary:0`."""
    torch, keys = _torch_and_keys(stream_doc)
    nn = torch.nn

    class Parent(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 3)
            self.init_weights()

        def init_weights(self):
            nn.init.normal_(self.lin.weight, std=0.02)
            with torch.no_grad():
                self.lin.bias.copy_(torch.randn(3))

    w = fastinit.normal_(torch.empty(3, 4), std=0.02, seed=keys[(1234, "init_weights/lin.weight")])
    m = fastinit.materialize_(fastinit.deferred_init(Parent), "cpu", seed=1234)
    e = Parent()
    fastinit.init_module_(e, seed=1234)
    assert torch.equal(m.lin.weight.detach(), w) and torch.equal(e.lin.weight.detach(), w)
    b = fastinit.normal_(torch.empty(3), seed=keys[(7, "init_weights/:temporary:0")])
    m = fastinit.materialize_(fastinit.deferred_init(Parent), "cpu", seed=7)
    e = Parent()
    fastinit.init_module_(e, seed=7)
    assert torch.equal(m.lin.bias.detach(), b) and torch.equal(e.lin.bias.detach(), b)


# ---------------------------------------------------------------------------
# citations


def repo_files():
    try:
        out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
        names = out.split()
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: walk it
        names = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*") if p.is_file() and ".git" not in p.parts]
    return [n for n in names if Path(n).suffix in {".py", ".md", ".cpp", ".h", ".cu", ".sh", ".txt", ".toml", ""}
            or n.endswith("CMakeLists.txt")]


# The original contract's name, spelled so that this file does not cite it itself.
UNPUBLISHED = r"\b" + "SP" + r"EC\b"


def test_nothing_cites_the_unpublished_spec():
    bad = []
    for name in repo_files():
        path = ROOT / name
        if not path.is_file():
            continue
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if re.search(UNPUBLISHED, line):
                bad.append(f"{name}:{n}: {line.strip()}")
    assert not bad, "citations of a document that is not in the repository:\n" + "\n".join(bad)


@pytest.mark.parametrize("doc", ["README.md", "docs/STREAM.md"])
def test_paths_named_in_the_docs_exist(doc):
    text = (ROOT / doc).read_text()
    named = set(re.findall(r"`((?:benchmarks|tests|csrc|docs|python|\.ci)/[\w./-]+)`", text))
    named |= {m for m in re.findall(r"\]\(((?!https?:|#)[^)#]+)\)", text)}
    base = (ROOT / doc).parent
    outputs = ("benchmarks/out",)  # written by the benchmarks, not tracked
    missing = [p for p in sorted(named)
               if not ((ROOT / p).exists() or (base / p).exists() or p.startswith(outputs))]
    assert named and not missing, f"{doc} names files that are not in the repository: {missing}"


# ---------------------------------------------------------------------------
# README performance figures against benchmarks/results/bench_cpu.json


def close_as_shown(shown: str, value: float) -> bool:
    """`shown` (as printed in the README, e.g. '1.60', '0.011', '212.8') is `value`
    rounded to the digits shown."""
    decimals = len(shown.split(".")[1]) if "." in shown else 0
    return abs(float(shown) - value) <= 0.5 * 10.0**-decimals + 1e-12


def parse_quantity(text):
    """'1.60 G/s' -> ('1.60', 1e9 values/s); '11.3 us' -> ('11.3', seconds)."""
    num, unit = text.split()
    scale = {"G/s": 1.0, "us": 1e-6, "ms": 1e-3, "s": 1.0}[unit]
    return num, scale, unit


@pytest.fixture(scope="module")
def bench_cpu():
    return json.loads((RESULTS / "bench_cpu.json").read_text())


def bench_row(data, op, dtype, size, threads, case):
    found = [r for r in data["rows"] if (r["op"], r["dtype"], r["size"], r["threads"], r["case"])
             == (op, dtype, size, threads, case)]
    assert len(found) == 1, (op, dtype, size, threads, case)
    return found[0]


def test_readme_performance_names_the_machine(readme, bench_cpu):
    perf = section(readme, "Performance")
    m = bench_cpu["machine"]
    assert m["cpu_model"] in perf
    isa = m.get("isa") or m["fastinit"]["isa"]
    assert {"avx2": "AVX2", "avx512": "AVX-512", "scalar": "scalar"}[isa] in perf
    assert f"{m['cpu_count']} vCPUs" in perf
    assert "benchmarks/results/bench_cpu.json" in perf


def test_readme_performance_table_matches_bench_cpu_json(readme, bench_cpu):
    header, rows = table(section(readme, "Performance"), "op")
    assert header == ["op", "dtype", "elements", "threads", "fastinit", "torch", "x torch", "x limit"]
    assert len(rows) >= 8
    for op, dtype, elements, threads, fast, ref, x_torch, x_limit in rows:
        case = "pretouched"
        if "fresh" in op:
            case = "fresh"
        elif op.startswith("trunc_normal_"):
            case = "trunc_normal"
        elif op.startswith("normal_"):
            case = "normal"
        size, threads = int(float(elements)), int(threads)
        what = f"README row {op} {dtype} {elements} {threads}"
        rf = bench_row(bench_cpu, "fastinit", dtype, size, threads, case)
        rt = bench_row(bench_cpu, "torch", dtype, size, threads, case)
        for shown, r in ((fast, rf), (ref, rt)):
            num, scale, unit = parse_quantity(shown)
            value = r["gvals_per_s"] if unit == "G/s" else r["median_s"] / scale
            assert close_as_shown(num, value), f"{what}: {shown} vs {value} in bench_cpu.json"
        assert close_as_shown(x_torch, rf["ratio_to_torch"]), f"{what}: x torch {x_torch} vs {rf['ratio_to_torch']}"
        assert close_as_shown(x_limit, rf["frac_write_limit"]), f"{what}: x limit {x_limit} vs {rf['frac_write_limit']}"


def test_readme_distributed_table_matches_its_result_file(readme):
    text = (RESULTS / "bench_distributed.txt").read_text()
    per_rank_tables = [rows for header, rows in md_tables(text) if header[:4] == ["mode", "world",
                       "largest shard = ideal ratio", "per-rank s, in turn"]]
    assert len(per_rank_tables) == 1
    per_rank = {(r[0], int(r[1])): r for r in per_rank_tables[0]}
    _, rows = table(section(readme, "Sharded init that matches single-device init"), "world")
    for world, _, fast, ratio, slice_fast, slice_torch in rows:
        w = int(world)
        assert fast == per_rank[("fastinit", w)][3] + " s"
        assert close_as_shown(ratio, float(per_rank[("fastinit", w)][4]))
        assert slice_fast == per_rank[("slice_fastinit", w)][3] + " s"
        assert slice_torch == per_rank[("slice_torch", w)][3] + " s"


# ---------------------------------------------------------------------------
# public namespaces and docstrings (help() is the reference a user reads first)


def test_public_namespaces_are_clean():
    import types

    import fastinit.distributed

    # The layers (core, fills, models, tools) are subpackages, visible as attributes.
    layers = {"core", "fills", "models", "tools"}
    for mod, allowed in ((fastinit, {"distributed"} | layers), (fastinit.distributed, set())):
        public = {n for n in dir(mod) if not n.startswith("_")}
        assert set(mod.__all__) <= public
        extra = public - set(mod.__all__) - allowed
        assert not extra, f"{mod.__name__} leaks {sorted(extra)}"
        for n in public - set(mod.__all__):
            assert isinstance(getattr(mod, n), types.ModuleType)


def _public_functions():
    import inspect

    import fastinit.distributed

    out = [(f"fastinit.{n}", getattr(fastinit, n)) for n in fastinit.__all__ if callable(getattr(fastinit, n))]
    out += [(f"fastinit.distributed.{n}", getattr(fastinit.distributed, n)) for n in fastinit.distributed.__all__]
    return [(name, fn) for name, fn in out if inspect.isfunction(fn) or inspect.isfunction(getattr(fn, "__wrapped__", None))]


@pytest.mark.parametrize("name,fn", _public_functions(), ids=lambda x: x if isinstance(x, str) else "")
def test_public_function_docstrings(name, fn):
    import inspect

    doc = inspect.getdoc(fn)
    assert doc, f"{name} has no docstring"
    from fastinit.core.docs import _FRAGMENTS

    assert not any(key.strip() in doc for key in _FRAGMENTS), f"{name}: a shared fragment was not filled in"
    assert "Example:" in doc, f"{name}: no Example section"
    assert ":math:" not in doc and not re.search(r"^\s*\.\. \w+::", doc, re.M), \
        f"{name}: RST markup that help() shows raw"
    params = [p for p in inspect.signature(fn).parameters if p not in ("self",)]
    if params:
        assert "Args:" in doc, f"{name}: no Args section"
        args = doc.split("Args:", 1)[1]
        missing = [p for p in params if not re.search(rf"^\s+(?:{p}\b|[\w, ]*\b{p}\b[\w, ]*\()", args, re.M)
                   and not re.search(rf"^\s+[\w, ]*\b{p}\b[\w, ]*(?: \(|:)", args, re.M)]
        assert not missing, f"{name}: parameters not described under Args: {missing}"


def test_readme_cli_output_is_the_recorded_one(readme):
    """The README's expected output of `python -m fastinit` is a recorded run, with the
    machine it ran on in the file's first line."""
    name = "python_m_fastinit_zen5.txt"
    recorded = (RESULTS / name).read_text().splitlines()
    assert recorded[0].startswith("# python -m fastinit") and "AMD EPYC (Zen 5" in recorded[0]
    m = re.search(r"\*\*What `python -m fastinit` prints\*\*(.*?)```\n(.*?)```", readme, re.S)
    assert m, "the README's expected output of python -m fastinit is missing"
    assert f"`benchmarks/results/{name}`" in m.group(1) and "AMD EPYC, Zen 5" in m.group(1).replace("\n", " ")
    assert m.group(2).rstrip("\n").splitlines() == recorded[1:]
    # and it has the shape that the CLI prints today
    assert recorded[1] == f"fastinit {fastinit.__version__} (stream version {fastinit.STREAM_VERSION})"
    assert recorded[-1] == "bounds check: ok"


def test_readme_torch_rate_is_the_recorded_one(readme):
    """issue 19: the README said "about 0.3 G/s" beside a sample output of 0.024 G/s. The
    rate in Why is the sample output's float32 torch time for its 4096x4096 weight."""
    recorded = (RESULTS / "python_m_fastinit_zen5.txt").read_text()
    shape = re.search(r"on a (\d+)x(\d+) weight", recorded)
    ms = float(re.search(r"^  float32\s+torch\s+([\d.]+) ms", recorded, re.M).group(1))
    rate = int(shape.group(1)) * int(shape.group(2)) / (ms * 1e-3) / 1e9
    why = re.sub(r"\s+", " ", section(readme, "Why"))
    m = re.search(r"measured here: ([\d.]+) G float32 values/s for a (\d+)x(\d+) `kaiming_uniform_`", why)
    assert m, "the Why section's torch rate is missing"
    assert (m.group(2), m.group(3)) == shape.groups()
    assert m.group(1) == f"{rate:.2g}", (m.group(1), rate)


def test_readme_install_times_come_from_their_result_file(readme):
    text = (RESULTS / "install_times.txt").read_text()
    m = re.search(r"the two commands took ([\d.]+) s and ([\d.]+) s before these changes.*?"
                  r"and ([\d.]+) s and ([\d.]+) s after", readme.replace("\n", " "))
    assert m, "the README's install times are missing"
    _, rows = table(text, "source")
    assert rows[0][1:3] == [f"{m.group(1)} s", f"{m.group(2)} s"]
    assert rows[-1][1:3] == [f"{m.group(3)} s", f"{m.group(4)} s"]


def _doc_list(doc: str, label: str, after: str) -> list:
    """The comma-separated numbers on the line ``<label>: ...`` that follows ``after``."""
    m = re.search(rf"^\s+{re.escape(label)}: (.+)$", doc[doc.index(after):], re.M)
    assert m, f"docs/STREAM.md: no '{label}:' line after {after!r}"
    return [float(x) for x in m.group(1).split(",")]


def test_stream_md_exact_sequences_have_the_oracles_coefficients(stream_doc):
    """Section 6.1 prints every coefficient the independent oracle (tests/reference.py)
    uses, and the oracle matches the kernels bit for bit (test_normal_reference.py): so
    the document alone reproduces the normal family."""
    doc = stream_doc
    for table, name in ((R.PPND7, "PPND7 (binary32):"), (R.PPND16, "PPND16 (binary64):")):
        for group, coeffs in table.items():
            assert _doc_list(doc, group, name) == [float(c) for c in coeffs], (name, group)
    assert _doc_list(doc, "Lg1..Lg7", "**log64(x)**") == [float(c) for c in R._LG]
    y0 = re.search(r"^\s+y  = ([-\d.e]+)$", doc, re.M).group(1)
    rest = re.search(r"y  = fma\(y, f, c\) for c in (.+)$", doc, re.M).group(1)
    assert [float(y0)] + [float(x) for x in rest.split(",")] == [float(c) for c in R._LOG32_P]
    exp_p = re.search(r"P5, P4, P3, P2, P1 = (.+)$", doc, re.M).group(1)
    assert [float(x) for x in exp_p.split(",")] == list(R._EXP_P)
    for label, coeffs in (("a0..a4", R._ANORM_A), ("b0..b3", R._ANORM_B), ("c0..c8", R._ANORM_C),
                          ("d0..d7", R._ANORM_D), ("p0..p5", R._ANORM_P), ("q0..q4", R._ANORM_Q)):
        assert _doc_list(doc, label, "**ndtr64(x)**") == list(coeffs), label
