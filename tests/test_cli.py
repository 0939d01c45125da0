"""The ``python -m fastinit`` command line, run as a user runs it: in a subprocess."""

import os
import subprocess
import sys
import re
import textwrap

import pytest

import fastinit


def run(*args, code=None, timeout=300):
    """Run ``python -m fastinit ARGS`` (or ``python -c CODE``) outside the source tree."""
    cmd = [sys.executable, "-c", code] if code is not None else [sys.executable, "-m", "fastinit", *args]
    if code is not None:
        cmd += list(args)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=os.path.expanduser("~"),
                          env=env)


def test_help_exits_0_and_lists_subcommands():
    r = run("--help")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: python -m fastinit")
    for word in ("bound", "audit", "--version", "--repeats"):
        assert word in r.stdout
    assert r.stderr == ""


@pytest.mark.parametrize("sub", ["bound", "audit"])
def test_subcommand_help(sub):
    r = run(sub, "--help")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"usage: python -m fastinit {sub}")


def test_audit_help_lists_its_options():
    out = run("audit", "--help").stdout
    for opt in ("--plot", "--layers", "--width", "--block", "--seed"):
        assert opt in out


def test_version():
    r = run("--version")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"fastinit {fastinit.__version__} (stream version {fastinit.STREAM_VERSION})"


@pytest.mark.parametrize("argv", [["--bogus"], ["frobnicate"], ["bound"], ["bound", "3", "--mode", "sideways"],
                                  ["audit", "--layers", "0"], ["--repeats", "x"],
                                  # issue 19: these three printed a traceback
                                  ["bound", "10"], ["bound", "0", "5"], ["bound", "3", "4", "--nonlinearity", "bogus"]])
def test_bad_arguments_give_argparse_errors(argv):
    r = run(*argv)
    assert r.returncode == 2
    assert r.stdout == ""
    assert "usage: python -m fastinit" in r.stderr
    assert "error:" in r.stderr
    assert "Traceback" not in r.stderr


def test_bound_of_one_dimension_names_the_reason():
    r = run("bound", "10")
    assert "the shape needs at least 2 dimensions" in r.stderr, r.stderr


def test_bound_derivation():
    r = run("bound", "3072", "768", "--a", "2.2360679")
    assert r.returncode == 0, r.stderr
    assert "fan_in = shape[1] * receptive field 1 = 768" in r.stdout
    bound = fastinit.kaiming_bound((3072, 768), a=2.2360679)
    assert f"bound = sqrt(3) * gain / sqrt(fan_in) = {bound:.9g}" in r.stdout
    assert f"1/sqrt(fan_in) = {1 / 768 ** 0.5:.9g}" in r.stdout


def test_bound_explains_sqrt5_only_for_sqrt5():
    """The a=sqrt(5) paragraph belongs to nn.Linear's a; issue 19: it was printed for a=0 too."""
    why = "Why nn.Linear passes a=sqrt(5)"
    r0 = run("bound", "64", "32")
    assert r0.returncode == 0, r0.stderr
    assert "with a = 0:" in r0.stdout and why not in r0.stdout
    relu = run("bound", "64", "32", "--nonlinearity", "relu")
    assert relu.returncode == 0 and why not in relu.stdout
    r5 = run("bound", "64", "32", "--a", "2.2360679")
    assert r5.returncode == 0 and why in r5.stdout and "Here: |bound - 1/sqrt(fan_in)|" in r5.stdout


def test_head_to_head_small_shows_progress_and_passes():
    pytest.importorskip("torch", reason="the head-to-head against torch needs torch")
    r = run("--rows", "64", "--cols", "48", "--repeats", "2")
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert out.startswith(f"fastinit {fastinit.__version__} (stream version {fastinit.STREAM_VERSION})")
    for key in ("isa", "threads", "cuda_compiled", "cuda_available"):
        assert f"\n  {key} " in out
    assert "on a 64x48 weight, median of 2 runs" in out
    assert out.count("agrees with torch") == 2  # float32 and bfloat16
    assert out.rstrip().endswith("bounds check: ok")
    # progress goes to stderr (not a terminal here: one line per case)
    for line in ("... torch.nn.init float32", "... fastinit float32", "... torch.nn.init bfloat16",
                 "... fastinit bfloat16"):
        assert line in r.stderr


def test_head_to_head_without_torch_uses_numpy():
    code = textwrap.dedent("""
        import sys
        sys.modules["torch"] = None  # import torch raises ImportError
        from fastinit.tools.cli import main
        sys.exit(main(sys.argv[1:]))
    """)
    r = run("--rows", "32", "--cols", "32", "--repeats", "1", code=code)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "torch is not installed: comparing against NumPy's Generator(Philox)" in r.stdout
    assert "numpy Philox" in r.stdout and r.stdout.rstrip().endswith("bounds check: ok")


def test_audit_without_torch_says_it_needs_torch():
    code = textwrap.dedent("""
        import sys
        sys.modules["torch"] = None  # import torch raises ImportError
        from fastinit.tools.cli import main
        sys.exit(main(sys.argv[1:]))
    """)
    r = run("audit", "--layers", "2", code=code)
    assert r.returncode == 2
    assert "python -m fastinit audit needs torch" in r.stderr
    assert "Traceback" not in r.stderr


def test_audit_runs_the_mlp_case_and_writes_the_plot(tmp_path):
    """The real audit, small: both inits' tables, the prediction line and the PNG."""
    pytest.importorskip("torch", reason="the audit runs torch models: needs torch")
    png = tmp_path / "audit.png"
    r = run("audit", "--layers", "3", "--width", "32", "--seed", "0", "--plot", str(png))
    assert r.returncode == 0, r.stderr
    for title in ("3 x (Linear(32, 32) + ReLU): torch default init ==",
                  "3 x (Linear(32, 32) + ReLU): kaiming (relu) =="):
        assert title in r.stdout
    ratios = [float(x) for x in re.findall(r"last activation RMS / input RMS = ([\d.e+-]+)", r.stdout)]
    assert len(ratios) >= 2
    # 3 Linear+ReLU pairs: the default keeps (1/sqrt(6))^3 = 0.068 of the RMS, kaiming about 1
    assert 0.068 / 2 < ratios[0] < 0.068 * 2 and 0.5 < ratios[1] < 2
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_audit_block_runs_a_transformer_block():
    pytest.importorskip("torch", reason="the audit runs torch models: needs torch")
    r = run("audit", "--block", "--layers", "1", "--width", "32", "--seed", "0")
    assert r.returncode == 0, r.stderr
    assert "TransformerEncoder" in r.stdout and "LayerNorm" in r.stdout


def test_audit_plot_without_matplotlib_stops_before_any_work(tmp_path):
    """issue 19: ``audit --plot`` without matplotlib ran the whole audit (15 s), then crashed.
    Now: a clear message, exit 2, and nothing printed on stdout (no table was computed)."""
    pytest.importorskip("torch", reason="the audit runs torch models: needs torch")
    code = textwrap.dedent("""
        import sys
        sys.modules["matplotlib"] = None  # import matplotlib raises ImportError
        from fastinit.tools.cli import main
        sys.exit(main(sys.argv[1:]))
    """)
    png = tmp_path / "a.png"
    r = run("audit", "--layers", "2", "--width", "16", "--plot", str(png), code=code)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "needs matplotlib" in r.stderr and "Traceback" not in r.stderr
    assert r.stdout == "" and not png.exists()


def test_audit_plot_into_a_missing_folder_stops_before_any_work(tmp_path):
    pytest.importorskip("torch", reason="the audit runs torch models: needs torch")
    png = tmp_path / "no-such-folder" / "a.png"
    r = run("audit", "--layers", "2", "--width", "16", "--plot", str(png))
    assert r.returncode == 2, r.stdout + r.stderr
    assert "is not a writable folder" in r.stderr and "Traceback" not in r.stderr
    assert r.stdout == ""
