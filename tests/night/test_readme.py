"""Every command and code block of the README runs as written (the checkout's README.md).

Blocks run in README order in a scratch folder that sees the checkout's
``examples/`` and ``scripts/``, with HOME there too (the simulated nights'
logs stay out of the user's home).  ``pointing ...`` lines run through the
command line's ``main`` and must exit 0; ``.venv/bin/`` stands for the venv of
the set-up step, i.e. this interpreter; ``python`` blocks are executed;
``toml`` blocks are parsed (and an ``[indi]`` block validated).

What cannot run here is in :data:`SKIP`, each with its reason and what is
checked instead: real hardware or INDI commands are checked with ``--help``
(the subcommand exists and knows every option the line uses), ``python -c``
lines are compiled and their imports resolved, installs from PyPI are left to
CI.  Every README line must be either run or matched by the skip list.
"""

from __future__ import annotations

import ast
import importlib
import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from pointing.cli import main

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"

#: (pattern in the line, reason, what is checked instead)
SKIP = (
    ("pip install", "installs from PyPI (network); the set-up is run by CI (.ci/run)",
     "nothing: the rest of the line runs in this interpreter"),
    ("python -m pytest", "the whole test suite (the lead runs it)", "nothing"),
    ("--backend mystation", "needs the station's own hardware module", "--help"),
    ("a real station's nights", "reads a real station's log (a checkout has none)", "--help"),
    ("--backend indi", "needs an INDI server with the station's drivers", "--help"),
    ("indiserver", "INDI's simulators (Debian indi-bin)", "nothing"),
    ("bench.toml", "the INDI bench station file", "compiled, imports resolved"),
)


def _blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of every fenced block, in order."""
    return [(m.group(1), m.group(2)) for m in
            re.finditer(r"^```(\w*)\n(.*?)^```", text, flags=re.S | re.M)]


def _lines(body: str) -> list[str]:
    """Shell lines with backslash continuations joined."""
    return [ln.strip() for ln in body.replace("\\\n", " ").splitlines() if ln.strip()]


def _skip(line: str) -> tuple[str, str, str] | None:
    return next((s for s in SKIP if s[0] in line), None)


def _help_knows(argv: list[str], capsys) -> None:
    """The subcommand exists and its --help names every option the line uses."""
    with pytest.raises(SystemExit) as exc:
        main([argv[0], "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for opt in (a.split("=")[0] for a in argv if a.startswith("--")):
        assert opt in text, (argv, opt)


def _python_c(code: str) -> None:
    tree = ast.parse(code)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = importlib.import_module(node.module)
            for alias in node.names:
                assert hasattr(module, alias.name), (node.module, alias.name)


def _run_shell(line: str, work: Path, capsys) -> str:
    """Run one README shell line; returns what was done (for the record)."""
    done = []
    for part in (p.strip() for p in line.split("&&")):
        skip = _skip(part)
        argv = shlex.split(part, comments=True)
        if not argv:
            continue
        if argv[0].startswith(".venv/bin/"):
            argv[0] = argv[0].removeprefix(".venv/bin/")
        if argv[0] == "python" and argv[1].startswith("scripts/"):
            done.append(_run_script(argv, part, work))
        elif skip and skip[2] == "--help" and argv[0] == "pointing":
            _help_knows(argv[1:], capsys)
            done.append(f"--help: {part}")
        elif skip and argv[0] == "python" and "-c" in argv:
            _python_c(argv[argv.index("-c") + 1])
            done.append(f"compiled: {part}")
        elif skip:
            done.append(f"skipped ({skip[1]}): {part}")
        elif argv[:3] == ["python3", "-m", "venv"]:
            done.append(f"skipped (the venv is this interpreter): {part}")
        elif argv[0] == "pointing":
            status = main(argv[1:])
            assert status == 0, (part, capsys.readouterr().err[-2000:])
            done.append(f"ran: {part}")
        else:
            raise AssertionError(f"README line neither run nor in the skip list: {part!r}")
    return "; ".join(done)


def _run_script(argv: list[str], part: str, work: Path) -> str:
    """A script line: run as written, or with --help when it needs real hardware."""
    needs_hardware = "--backend" in argv and "--simulate" not in argv
    script = [sys.executable, argv[1], "--help"] if needs_hardware else [sys.executable,
                                                                         *argv[1:]]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout, as the venv's install
    out = subprocess.run(script, cwd=work, env=env, capture_output=True, text=True,
                         timeout=900)
    assert out.returncode == 0, (part, out.stderr[-2000:])
    if needs_hardware:
        for opt in (a for a in argv if a.startswith("--")):
            assert opt in out.stdout, (part, opt)
    return f"ran{' --help' if needs_hardware else ''}: {part}"


@pytest.fixture
def work(tmp_path, monkeypatch):
    for name in ("examples", "scripts"):
        (tmp_path / name).symlink_to(ROOT / name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


def test_every_readme_command_and_block_runs_as_written(work, capsys):
    blocks = _blocks(README.read_text(encoding="utf-8"))
    assert blocks, "no code blocks in the README"
    record = []
    for lang, body in blocks:
        if lang == "sh":
            for line in _lines(body):
                record.append(_run_shell(line, work, capsys))
        elif lang == "python":
            exec(compile(body, "README.md", "exec"), {"__name__": "readme"})
            record.append("python block ran")
        elif lang == "toml":
            doc = tomllib.loads(body)
            if "indi" in doc:
                from pointing.hardware.indi.devices import IndiConfig

                IndiConfig.from_section(doc["indi"])
            record.append(f"toml parsed: {', '.join(doc)}")
    ran = [r for r in record if r.startswith("ran") or "python block" in r]
    assert any("nightly" in r and "--simulate" in r for r in ran)  # the main job ran
    assert (work / "night-report" / "report.html").is_file()


def test_the_nightly_script_says_how_to_run_it_without_the_toolkit(tmp_path):
    """Run by a Python that cannot import the toolkit: one clear line, exit 2."""
    python = Path("/usr/bin/python3")
    if not python.is_file():
        pytest.skip("no system Python beside the venv")
    out = subprocess.run([str(python), "-I", str(ROOT / "scripts" / "nightly_calibration.py"),
                          "--help"], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    if out.returncode == 0:
        pytest.skip("the system Python has the toolkit installed")
    assert out.returncode == 2
    assert "run the script with the Python that has ogs-pointing installed" in out.stderr
    assert "Traceback" not in out.stderr


def test_the_skip_list_is_narrow():
    """Only hardware, INDI, network and the suite itself are skipped."""
    text = README.read_text(encoding="utf-8")
    lines = [ln for lang, body in _blocks(text) if lang == "sh" for ln in _lines(body)]
    skipped = [ln for ln in lines if _skip(ln) and not ln.startswith("python3 -m venv")]
    for ln in skipped:  # nothing that can run here (simulated, on shipped files) is skipped
        assert not any(k in ln for k in ("--simulate", "examples/", "night-report/")), ln
    assert any("--simulate" in ln for ln in lines)
