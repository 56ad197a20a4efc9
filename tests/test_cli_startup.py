"""The command line starts fast: ``brooker --help`` / ``--version`` import no heavy module.

Startup time itself is measured by ``benchmarks/bench.py``, not asserted here (wall-clock
assertions are flaky on a shared machine); these tests pin the cause of a slow start instead.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "brooker"
HEAVY = ("numpy", "scipy", "skimage", "pydicom", "PIL")


def _loaded_heavy(code: str) -> list[str]:
    probe = (
        "import json, sys\n"
        f"{code}\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_importing_the_cli_loads_no_heavy_module() -> None:
    assert _loaded_heavy("import brooker.cli") == []


@pytest.mark.parametrize("args", [["--help"], ["--version"]])
def test_help_and_version_load_no_heavy_module(args: list[str]) -> None:
    code = (
        "import atexit, json, sys\n"
        "atexit.register(lambda: print(json.dumps(sorted("
        f"m for m in {HEAVY!r} if m in sys.modules))))\n"
        f"sys.argv = ['brooker', *{args!r}]\n"
        "from brooker.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


def _imported_top_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_only_the_cli_package_imports_typer_or_rich() -> None:
    cli = PACKAGE / "cli"
    offenders = sorted(
        f"{path.relative_to(ROOT)}: {', '.join(sorted(bad))}"
        for path in PACKAGE.rglob("*.py")
        if cli not in path.parents
        and (bad := _imported_top_modules(path) & {"typer", "rich"})
    )
    assert offenders == []


@pytest.mark.parametrize("given", [None, "3"])
def test_the_command_line_runs_one_blas_thread_unless_told(given: str | None) -> None:
    """Each process of a batch ran a BLAS thread per core, and on a 2-core machine those
    threads and the other worker's contended (README, *Performance*): the command line sets one
    before numpy is imported (its workers inherit it), and keeps a value the user gave."""
    code = (
        "import os, sys\n"
        "sys.argv = ['brooker', '--version']\n"
        "from brooker.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print([os.environ.get(v) for v in "
        "('OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS')])\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    if given is not None:
        env["OPENBLAS_NUM_THREADS"] = given
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == str([given or "1", "1", "1"])


def test_each_commands_summary_is_one_line_of_its_docstring() -> None:
    """typer keeps a line break inside a command's first docstring paragraph: `brooker --help`
    listed grade's summary as "... (files, folders, or a list of" and "paths)." on a line of
    its own. Each summary is one line of source."""
    from brooker.cli import app

    for info in app.registered_commands:
        assert info.callback is not None
        first = (info.callback.__doc__ or "").strip().split("\n\n")[0]
        assert "\n" not in first, (info.name, first)


def test_hashing_the_judges_imports_no_analysis_module() -> None:
    """The command line hashes the judges' files for the manifest before any film is graded;
    their names came from brooker.ho_pixels, whose import (scipy.ndimage) cost a quarter of a
    second on every run."""
    assert "scipy" not in _loaded_heavy(
        "from brooker.cli.grade_cmd import _judges_sha256\n"
        "assert len(_judges_sha256(None)) == 2"
    )


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a forkserver and /proc")
def test_the_worker_server_starts_with_one_blas_thread() -> None:
    """The command line starts the forkserver its workers fork from as a run begins (its
    imports then overlap the run's setup); started that way, it still runs one BLAS thread,
    and the caller's own environment is left as it was."""
    code = (
        "import json, os\n"
        "from multiprocessing import forkserver\n"
        "from brooker import batch\n"
        "batch.start_worker_server()\n"
        "batch.start_worker_server()  # running already: nothing more\n"
        "pid = forkserver._forkserver._forkserver_pid\n"
        "env = open(f'/proc/{pid}/environ', 'rb').read().split(b'\\0')\n"
        "print(json.dumps([b'OPENBLAS_NUM_THREADS=1' in env,\n"
        "                  'OPENBLAS_NUM_THREADS' in os.environ]))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS",)}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == [True, False]
