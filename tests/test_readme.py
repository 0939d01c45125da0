"""README.md as a user reads it: every ```python block runs as written, the two commands
are there, and every `python -m fastinit ...` it shows is a valid command line.

Each python block runs on its own (it must be self-contained) in a fresh interpreter, in a
temporary folder, with a timeout generous for 2 shared cores. A block that needs a GPU
falls back to the CPU itself (the README's distributed examples pick NCCL on two GPUs and
gloo otherwise), so nothing here skips for want of a GPU.

timm's block: timm imports torchvision, and PyPI's torchvision does not load beside
torch's CPU wheel (tests/test_clients.py explains it). Where the real torchvision cannot be
imported, the block runs after tests/test_clients.py's stand-in torchvision, and says so
in a warning; where it can, the block runs as is.
"""

import os
import re
import shlex
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
TESTS_DIR = str(Path(__file__).resolve().parent)

# Several blocks build models or start two processes: on 2 shared vCPUs they take 5 to 30 s
# each alone, several times that under load.
TIMEOUT_S = 900
# Blocks that take more than a few seconds (models from libraries, two processes, the audit).
SLOW_MARKERS = ("transformers", "timm", "mp.spawn", "fastinit.audit", "deferred_init")


def readme_text():
    return README.read_text()


def python_blocks(text):
    """Every ```python block, with the heading it sits under, as (id, code)."""
    out = []
    heading = "top"
    count = {}
    for m in re.finditer(r"^(#{2,3} [^\n]+)$|^```python\n(.*?)^```", text, re.S | re.M):
        if m.group(1):
            heading = m.group(1).lstrip("# ").strip()
            continue
        slug = re.sub(r"[^a-z0-9]+", "-", heading.lower()).strip("-")
        count[slug] = count.get(slug, 0) + 1
        out.append((f"{slug}-{count[slug]}", m.group(2)))
    assert out, "README.md has no python blocks"
    return out


def bash_blocks(text):
    return [m.group(1) for m in re.finditer(r"^```bash\n(.*?)^```", text, re.S | re.M)]


BLOCKS = python_blocks(readme_text())


def _param(block_id, code):
    marks = [pytest.mark.slow] if any(k in code for k in SLOW_MARKERS) else []
    return pytest.param(code, id=block_id, marks=marks)


@pytest.mark.parametrize("code", [_param(i, c) for i, c in BLOCKS])
def test_readme_python_block_runs_as_written(code, tmp_path):
    script = code
    if re.search(r"^import .*\btimm\b", code, re.M):
        # tests/test_clients.py's prelude: the real torchvision if it loads, else the stand-in.
        from test_clients import _STANDIN_WARNING, _TIMM_PRELUDE

        script = (f"TESTS_DIR = {TESTS_DIR!r}\n" + _TIMM_PRELUDE
                  + "\nprint('torchvision stand-in' if stub else 'real torchvision', file=sys.stderr)\n" + code)
    path = tmp_path / "snippet.py"
    path.write_text(script)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    # The blocks run as a user runs them: outside the source tree, the installed fastinit.
    env.pop("PYTHONPATH", None)
    r = subprocess.run([sys.executable, str(path)], cwd=tmp_path, capture_output=True, text=True,
                       timeout=TIMEOUT_S, env=env)
    assert r.returncode == 0, f"the README block failed:\n{code}\n--- stdout\n{r.stdout[-3000:]}\n--- stderr\n{r.stderr[-6000:]}"
    if "torchvision stand-in" in r.stderr:
        warnings.warn(_STANDIN_WARNING)


def test_readme_blocks_are_found():
    ids = [i for i, _ in BLOCKS]
    assert len(ids) >= 8, ids
    # the ones issue 19 found broken: placeholders that no longer exist
    text = "\n".join(c for _, c in BLOCKS)
    for placeholder in ("MyModel, config", "LlamaConfig(...)", "mesh_2d[", "plan)", "Transformer(config)"):
        assert placeholder not in text, placeholder


# ---------------------------------------------------------------------------
# the two commands and the command lines shown


def two_commands(text):
    """The commands of the bash block under '## The two commands' (comments dropped)."""
    sec = re.search(r"^## The two commands\n(.*?)(?=^## )", text, re.S | re.M)
    assert sec, "README.md has no '## The two commands' section"
    # The block with the commands (the one before it makes the virtual environment). .ci/run
    # finds it the same way.
    blocks = [b for b in bash_blocks(sec.group(1)) if "python -m fastinit" in b]
    assert len(blocks) == 1, "expected one bash block with the two commands in '## The two commands'"
    return [ln for ln in blocks[0].splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


def test_the_two_commands_are_there():
    main, tests = two_commands(readme_text())
    assert main == "pip install torch==2.13.0 . && python -m fastinit"
    assert tests.startswith('pip install torch==2.13.0 ".[test]"') and tests.endswith("&& python -m pytest -q")


def test_ci_runs_the_two_commands_from_the_readme():
    """.ci/run reads the commands from README.md (not a copy) and runs them in a fresh venv."""
    ci = (ROOT / ".ci" / "run").read_text()
    assert "README.md" in ci and '-m venv "$VENV"' in ci and 'VENV="$WORK/readme-venv"' in ci
    main, tests = two_commands(readme_text())
    assert main not in ci and tests not in ci, ".ci/run must read the commands from README.md, not copy them"


def fastinit_command_lines(text):
    """Every `python -m fastinit ...` the README shows, in code spans and bash blocks."""
    lines = set()
    for block in bash_blocks(text):
        for ln in block.splitlines():
            ln = ln.split("#", 1)[0].strip()
            for part in ln.split("&&"):
                part = part.strip()
                if part.startswith("python -m fastinit"):
                    lines.add(part)
    lines |= {m.strip() for m in re.findall(r"`(python -m fastinit[^`]*)`", text.replace("\n", " "))}
    return sorted(lines)


def test_readme_says_to_use_a_virtual_environment():
    sec = re.search(r"^## The two commands\n(.*?)(?=^## )", readme_text(), re.S | re.M).group(1)
    assert any("python3 -m venv" in b for b in bash_blocks(sec))
    assert "--index-url https://download.pytorch.org/whl/cpu" in sec  # torch's CPU wheel elsewhere


def test_readme_fastinit_command_lines_parse():
    """Each command line shown is accepted by the real parser (subcommands, options)."""
    from fastinit.tools.cli import _parser

    cmds = fastinit_command_lines(readme_text())
    assert any(" audit " in c + " " for c in cmds) and any(" bound " in c for c in cmds), cmds
    for cmd in cmds:
        argv = shlex.split(cmd)[3:]
        if "--help" in argv or "--version" in argv:
            continue
        try:
            args = _parser().parse_args(argv)
        except SystemExit as e:  # argparse reports the error on stderr and exits 2
            pytest.fail(f"README command line rejected by the parser: {cmd!r} (exit {e.code})")
        assert callable(args.func), cmd


def test_readme_audit_command_does_not_overwrite_tracked_files():
    """issue 19: the README's audit command wrote over docs/sqrt5_audit.png, a tracked file."""
    for cmd in fastinit_command_lines(readme_text()):
        m = re.search(r"--plot\s+(\S+)", cmd)
        if m:
            assert not (ROOT / m.group(1)).exists(), f"{cmd!r} would overwrite {m.group(1)}"
