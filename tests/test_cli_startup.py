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


def _last_line(*argv: str, env: dict[str, str] | None = None) -> str:
    """The last line a fresh Python prints, run from the repository with ``argv`` (``-c``
    code, or a script, and its arguments); it must exit 0."""
    proc = subprocess.run(
        [sys.executable, *argv], capture_output=True, text=True, cwd=ROOT, env=env, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1]


PACKAGE = ROOT / "brooker"
HEAVY = ("numpy", "scipy", "skimage", "pydicom", "PIL")


def _loaded_heavy(code: str) -> list[str]:
    probe = (
        "import json, sys\n"
        f"{code}\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    return json.loads(_last_line("-c", probe))


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
    assert json.loads(_last_line("-c", code)) == []


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
    assert _last_line("-c", code, env=env) == str([given or "1", "1", "1"])


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


def test_grading_a_film_imports_no_scipy_spatial(tmp_path: Path) -> None:
    """scikit-image's peak_local_max and hough_circle live in modules that import
    scipy.spatial, and with it scipy.sparse and scipy.linalg: 0.16 s at the start of every
    worker, a sixth of a single film's answer. The pipeline uses neither module: a film graded
    (a native head searched for with the circle transform) and a film's prosthetic heads
    found by their metal's local maxima (the spacing check's step)."""
    code = (
        "import sys\n"
        "from brooker.calibration import find_prosthetic_heads\n"
        "from brooker.dicom_io import load_radiograph\n"
        "from brooker.pipeline import grade_path\n"
        f"r = grade_path('sample_images/hip_view_right_4.dcm', out_dir={str(tmp_path)!r})\n"
        "assert len(r.hips) == 1 and r.overlay\n"
        "film = load_radiograph('sample_images/pelvis_1_vs_2.dcm')\n"
        "assert len(find_prosthetic_heads(film.pixels)) == 2\n"
        "print(sorted(m for m in ('scipy.spatial', 'scipy.sparse', 'scipy.linalg')"
        " if m in sys.modules))\n"
    )
    assert _last_line("-c", code) == "[]"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a forkserver and /proc")
def test_the_worker_server_starts_with_one_blas_thread() -> None:
    """The command line starts the forkserver its workers fork from as a run begins (its
    imports then overlap the run's setup); started that way, it still runs one BLAS thread,
    and the caller's own environment is left as it was."""
    code = (
        "import json, os\n"
        "from multiprocessing import forkserver\n"
        "from brooker import worker_server\n"
        "worker_server.start_server()\n"
        "worker_server.start_server()  # running already: nothing more\n"
        "import time\n"
        "pid = forkserver._forkserver._forkserver_pid\n"
        "# /proc shows the server's own environment once it has exec'd, the parent's before\n"
        "for _ in range(400):\n"
        "    if b'forkserver' in open(f'/proc/{pid}/cmdline', 'rb').read(): break\n"
        "    time.sleep(0.025)\n"
        "env = open(f'/proc/{pid}/environ', 'rb').read().split(b'\\0')\n"
        "print(json.dumps([b'OPENBLAS_NUM_THREADS=1' in env,\n"
        "                  'OPENBLAS_NUM_THREADS' in os.environ]))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS",)}
    assert json.loads(_last_line("-c", code, env=env)) == [True, False]


_CLI_RUN = (
    "import sys\n"
    "from brooker.launch import main\n"
    "sys.argv = ['brooker', 'grade', {film!r}, '--out', {out!r},\n"
    "            '--json', '--no-overlay', '--workers', '1']\n"
    "main()\n"
)
#: grade_many from a script: the forkserver starts with its first worker (brooker.batch)
_API_RUN = (
    "import json\n"
    "from brooker.batch import grade_many\n"
    "from brooker.config import AnalysisConfig\n"
    "if __name__ == '__main__':  # multiprocessing's idiom: workers import the main script\n"
    "    for rec in grade_many([{film!r}], AnalysisConfig(), workers=1, out_dir={out!r},\n"
    "                          overlay=False):\n"
    "        print(json.dumps(rec.to_record()))\n"
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a forkserver")
@pytest.mark.parametrize("run", [_CLI_RUN, _API_RUN], ids=["command line", "grade_many"])
def test_a_brooker_folder_in_the_working_directory_is_not_what_the_workers_import(
    tmp_path: Path, run: str
) -> None:
    """multiprocessing starts the workers' server as ``python -c``, which puts the working
    directory first on ``sys.path``: a folder named ``brooker`` there (an earlier run's
    ``--out brooker``, a checkout of another version) was imported in place of the package, and
    every film failed. The server starts with Python's safe path; the command line, run as a
    script is (pip's console script), never had the working directory on its path."""
    work = tmp_path / "work"
    (work / "brooker").mkdir(parents=True)
    # a package of that name that imports: an empty folder does it to an editable install
    # only (its package is found after the path's namespace portions), this to any install
    (work / "brooker" / "__init__.py").write_text("")
    script = tmp_path / "bin" / "brooker-script"
    script.parent.mkdir()
    film = ROOT / "sample_images" / "pelvis_1_vs_2.dcm"
    script.write_text(run.format(film=str(film), out=str(tmp_path / "o")))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env.pop("PYTHONSAFEPATH", None)
    proc = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=work, env=env,
        check=False, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    record = json.loads(proc.stdout)
    assert record["status"] == "ok"
    assert [h["brooker_class"] for h in record["hips"]] == ["II", "II"]


def _graded_from_a_checkout(checkout: Path, *launch: str) -> subprocess.CompletedProcess[str]:
    """``python LAUNCH grade <a sample> --json`` run in ``checkout``, a copy of this package
    that differs from the installed one by its version only (``0.0.0+checkout``, which each
    record carries from the worker that graded it), with no ``PYTHONPATH``."""
    import shutil

    shutil.copytree(
        ROOT / "brooker", checkout / "brooker", ignore=shutil.ignore_patterns("__pycache__")
    )
    (checkout / "brooker" / "_version.py").write_text('__version__ = "0.0.0+checkout"\n')
    (checkout / "run.py").write_text(
        "from brooker.cli import main\n"
        "if __name__ == '__main__':  # multiprocessing's idiom\n"
        "    main()\n"
    )
    film = ROOT / "sample_images" / "pelvis_1_vs_2.dcm"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSAFEPATH")}
    return subprocess.run(
        [sys.executable, *launch, "grade", str(film), "--json", "--no-overlay", "--workers",
         "1", "--out", str(checkout.parent / "o")],
        capture_output=True, text=True, cwd=checkout, env=env, check=False, timeout=300,
    )  # fmt: skip


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a forkserver")
@pytest.mark.parametrize("launch", [["-m", "brooker"], ["run.py"]], ids=["python -m", "script"])
def test_a_checkout_run_from_its_own_folder_grades_with_its_own_code(
    tmp_path: Path, launch: list[str]
) -> None:
    """A checkout of another version run from its folder (``python -m brooker``, or a script
    beside its package) graded every film with the installed brooker: the workers' server
    starts with the safe path and, in Python 3.11-3.12, does not take its parent's
    ``sys.path``. The checkout here differs from the installed package by its version only,
    which each film's record carries from the worker that graded it."""
    proc = _graded_from_a_checkout(tmp_path / "checkout", *launch)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    record = json.loads(proc.stdout)
    assert record["status"] == "ok", record
    assert record["version"] == "0.0.0+checkout"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a forkserver")
def test_a_checkout_the_workers_cannot_import_grades_nothing_and_says_why(
    tmp_path: Path,
) -> None:
    """A checkout whose folder's name holds ``os.pathsep`` cannot be put on the server's
    ``PYTHONPATH``: its workers import the installed brooker. They graded its films with
    that code, without a word; each film's record now says so."""
    checkout = tmp_path / f"a{os.pathsep}b"
    proc = _graded_from_a_checkout(checkout, "-m", "brooker")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    record = json.loads(proc.stdout)
    assert record["status"] == "error"
    assert record["error"]["code"] == "internal_error"
    assert f"not from {checkout}" in record["error"]["message"]


def test_the_package_check_and_the_servers_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker's check of the brooker it imported (:func:`brooker.batch.other_package`), and
    the server's ``PYTHONPATH``: this package's folder first only where it is ahead of the
    standard library here (``python -m`` from a checkout), never an installed or appended
    one's; the variable as it was once the server has started."""
    from brooker import batch, worker_server

    own = worker_server.package_root()
    assert batch.other_package(None) is None
    assert batch.other_package(own) is None
    said = batch.other_package("/elsewhere")
    assert said is not None
    assert f"imported brooker from {own}, not from /elsewhere" in said
    for before in (None, "", "/x"):
        if before is None:
            monkeypatch.delenv("PYTHONPATH", raising=False)
        else:
            monkeypatch.setenv("PYTHONPATH", before)
        for first in (True, False):
            if first:
                monkeypatch.setattr(sys, "path", [own, *sys.path])
            else:
                monkeypatch.setattr(sys, "path", [p for p in sys.path if p != own] + [own])
            with worker_server.worker_environment():
                inside = os.environ.get("PYTHONPATH")
            assert os.environ.get("PYTHONPATH") == before
            if first:
                assert inside is not None
                assert inside.split(os.pathsep)[0] == own
            else:
                assert inside == before


_SERVER_PROBE = (
    "import json, sys\n"
    "from multiprocessing import forkserver\n"
    "from brooker.worker_server import start_for_command\n"
    "start_for_command(json.loads(sys.argv[1]))\n"
    "print(json.dumps(forkserver._forkserver._forkserver_pid is not None))\n"
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a forkserver")
@pytest.mark.parametrize(
    ("argv", "started"),
    [
        (["grade", "film.dcm"], True),
        (["grade", "--json", "--workers", "2", "a", "b"], True),
        (["grade", "--", "--help"], True),  # a file named --help
        (["grade", "--help"], False),
        (["grade", "x.dcm", "--dask-scheduler", "tcp://h:8786"], False),
        (["grade", "--dask-scheduler=tcp://h:8786", "x.dcm"], False),
        (["inspect", "x.dcm"], False),
        (["report", "out"], False),
        (["--version"], False),
        ([], False),
    ],
)
def test_the_worker_server_is_begun_for_a_local_grade_only(argv: list[str], started: bool) -> None:
    """The command line begins the workers' server before it parses anything, on the words
    as typed: for a grade that forks local workers, not for help, a Dask run or another
    command (which would pay for its imports on a busy machine for nothing)."""
    assert json.loads(_last_line("-c", _SERVER_PROBE, json.dumps(argv))) is started


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a forkserver")
def test_the_console_script_begins_the_server_before_importing_the_command_line() -> None:
    """The script's entry point (brooker.launch.main) begins the workers' server before typer
    and the commands are imported (0.1 s that the server's imports now overlap, on the way to
    a single film's answer), once (brooker.cli.main's own early start is then a no-op);
    ``--version`` begins none."""
    probe = (
        "import json, sys, tempfile\n"
        "from brooker import worker_server\n"
        "seen = []\n"
        "def start():\n"
        "    seen.append([sys._getframe(1).f_code.co_name, 'typer' in sys.modules])\n"
        "worker_server.start_server = start\n"
        "from brooker.launch import main\n"
        # --out in a temporary folder: the probe runs from the repository, where a grade
        # left brooker-out/ behind
        "out = tempfile.mkdtemp()\n"
        "for argv in (['grade', 'no-such-film.dcm', '--out', out], ['--version']):\n"
        "    sys.argv = ['brooker', *argv]\n"
        "    worker_server._begun_early = False\n"
        "    try:\n"
        "        main()\n"
        "    except SystemExit:\n"
        "        pass\n"
        "    seen.append('end')\n"
        "import shutil; shutil.rmtree(out, ignore_errors=True)\n"
        "print(json.dumps(seen))\n"
    )
    seen = json.loads(_last_line("-c", probe))
    early = [typer for caller, typer in seen[: seen.index("end")] if caller == "start_for_command"]
    assert early == [False]  # once, before typer; the run's own start (a no-op) comes later
    assert seen[-2:] == ["end", "end"]  # --version: none


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a forkserver")
def test_ctrl_c_while_the_command_line_is_imported_exits_130_without_a_traceback() -> None:
    """A Ctrl-C in a command's first tenth of a second, while the console script's entry point
    imports typer and the commands, printed a KeyboardInterrupt traceback and ended the
    process by the signal; it now ends as a later Ctrl-C does (exit 130, quietly), and the
    workers' server begun before it is stopped."""
    probe = (
        "import json, os, sys\n"
        "from multiprocessing import forkserver\n"
        "from brooker import worker_server\n"
        "class CtrlC:  # the interrupt arrives while typer is being imported\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'typer':\n"
        "            raise KeyboardInterrupt\n"
        "sys.meta_path.insert(0, CtrlC())\n"
        "sys.modules.pop('typer', None)\n"
        "from brooker.launch import main\n"
        "sys.argv = ['brooker', 'grade', 'no-such-film.dcm']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as stop:\n"
        "    code = stop.code\n"
        "pid = forkserver._forkserver._forkserver_pid\n"
        "gone = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG) is not None\n"
        "print(json.dumps([code, worker_server._begun_early, gone]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == [130, False, True]


def test_dir_of_the_package_lists_its_public_names_without_importing_them() -> None:
    """The public names are lazy: ``dir(brooker)`` listed ``Any, TYPE_CHECKING, annotations,
    importlib`` and none of them. It lists ``__all__``, still importing nothing heavy."""
    assert _loaded_heavy("import brooker\ndir(brooker)") == []
    import brooker

    assert dir(brooker) == sorted(brooker.__all__)
    assert "importlib" not in dir(brooker)
    assert all(hasattr(brooker, name) for name in dir(brooker))


def test_the_version_is_written_once() -> None:
    """The version the installed distribution reports is brooker.__version__, a literal in
    brooker/_version.py (pyproject reads it from there; the module reads no metadata)."""
    import importlib.metadata

    import brooker

    assert importlib.metadata.version("brooker") == brooker.__version__
    tree = ast.parse((PACKAGE / "_version.py").read_text())
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]


#: pip's console script (``{extra}``: what a site's own wrapper adds), run with --version;
#: then what multiprocessing would tell a worker about the main script.
_SCRIPT_PROBE = (
    "import re\n"
    "import sys\n"
    "{imports}\n"
    "{extra}\n"
    "if __name__ == '__main__':\n"
    "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n"
    "    sys.argv[1:] = ['--version']\n"
    "    try:\n"
    "        sys.exit(main())\n"
    "    except SystemExit:\n"
    "        pass\n"
    "    import json\n"
    "    from multiprocessing import spawn\n"
    "    data = spawn.get_preparation_data('worker')\n"
    "    print(json.dumps([data.get('init_main_from_name'), 'init_main_from_path' in data]))\n"
)


@pytest.mark.parametrize(
    ("imports", "extra", "name", "by_path"),
    [
        ("from brooker.launch import main", "", "brooker.__main__", False),  # pip's script
        ("from brooker.cli import main", "", "brooker.__main__", False),  # an earlier install's
        # a site's wrapper that sets something up first (the workers may need it): left alone
        ("from brooker.launch import main", "SITE_DECODERS = 1", None, True),
        ("from brooker.cli import main as entry\nmain = entry", "import os", None, True),
    ],
)
def test_workers_do_not_run_the_console_script_again(
    tmp_path: Path, imports: str, extra: str, name: str | None, by_path: bool
) -> None:
    """multiprocessing runs the parent's main script again in every worker (by path), which
    for pip's ``brooker`` script imports typer and the commands, 50 ms on the way to a single
    film's answer. brooker.cli.main presents that script, and only it, as
    ``brooker.__main__``, as under ``python -m brooker``, which multiprocessing leaves out."""
    script = tmp_path / "brooker-script"
    script.write_text(_SCRIPT_PROBE.format(imports=imports, extra=extra))
    assert json.loads(_last_line(str(script))) == [name, by_path]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a forkserver")
@pytest.mark.parametrize(
    ("args", "code", "stopped"),
    [
        (["grade"], 2, True),  # no path: a usage error
        (["grade", "{tmp}", "--out", "{tmp}/o"], 4, True),  # an empty folder: no inputs
        # its worker done: it would end by itself, after the interpreter's teardown (0.07 s)
        (["grade", "sample_images/knee_negative.dcm", "--out", "{tmp}/o"], 3, True),
    ],
)
def test_the_worker_server_is_stopped_as_the_command_ends(
    tmp_path: Path, args: list[str], code: int, stopped: bool
) -> None:
    """brooker.cli.main begins the workers' server before it parses the options, and stops
    it as it ends: it would hold the command's standard output and error until it ended by
    itself (after the half second of its imports when no worker came: a usage error), and a
    caller reading them to the end waited that long for the command's last line."""
    argv = [a.format(tmp=tmp_path) for a in args]
    probe = (
        "import json, os, signal, sys\n"
        "from multiprocessing import forkserver\n"
        f"sys.argv = ['brooker', *{argv!r}]\n"
        "from brooker.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as stop:\n"
        "    code = stop.code\n"
        "pid = forkserver._forkserver._forkserver_pid\n"
        "os.close(forkserver._forkserver._forkserver_alive_fd)  # as this process's end would\n"
        "_, status = os.waitpid(pid, 0)\n"
        "killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM\n"
        "print(json.dumps([code, killed]))\n"
    )
    assert json.loads(_last_line("-c", probe)) == [code, stopped]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a forkserver and /proc")
def test_the_worker_server_ignores_ctrl_c_from_its_start() -> None:
    """A Ctrl-C at the terminal reaches every process of the group. multiprocessing's server
    ignores it only once its half second of imports is done, so one in that time printed
    the server's KeyboardInterrupt traceback under the run's "interrupted": it now starts
    with SIGINT ignored. The caller's own Ctrl-C handling is as it was."""
    code = (
        "import json, signal, time\n"
        "from multiprocessing import forkserver\n"
        "from brooker import worker_server\n"
        "worker_server.start_server()\n"
        "pid = forkserver._forkserver._forkserver_pid\n"
        "for _ in range(400):  # once it has exec'd (before, /proc shows this process)\n"
        "    if b'forkserver' in open(f'/proc/{pid}/cmdline', 'rb').read(): break\n"
        "    time.sleep(0.025)\n"
        "status = open(f'/proc/{pid}/status').read()\n"
        "ignored = int(status.split('SigIgn:')[1].split()[0], 16)\n"
        "blocked = int(status.split('SigBlk:')[1].split()[0], 16)\n"
        "bit = 1 << (signal.SIGINT - 1)\n"
        "print(json.dumps([bool(ignored & bit), bool(blocked & bit),\n"
        "    signal.getsignal(signal.SIGINT) is signal.default_int_handler,\n"
        "    signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, set())]))\n"
    )
    assert json.loads(_last_line("-c", code)) == [True, False, True, False]


_AFTER_STOP = """
import sys
from brooker import batch, worker_server

if __name__ == "__main__":
    worker_server.start_for_command(["grade"])
    worker_server.stop_begun()  # as a command ends (brooker.cli.main)
    # the same process grades again at once: the server stopped is seen gone, another begun
    result = list(batch.grade_many([sys.argv[1]], workers=1))[0]
    print(result.status.value)
"""


def test_a_batch_right_after_a_command_stopped_its_server_starts_another(tmp_path: Path) -> None:
    """stop_begun SIGTERMs the forkserver as every command ends; a batch begun in the same
    process right after (brooker.cli.main called from a script, then grade_many) found it
    still dying, alive to multiprocessing's check, and failed (EOFError or
    ConnectionRefusedError out of grade_many) instead of starting a new one."""
    script = tmp_path / "after_stop.py"
    script.write_text(_AFTER_STOP, encoding="utf-8")
    film = ROOT / "sample_images" / "knee_negative.dcm"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for _ in range(3):  # a race: lost most times, not every time
        assert _last_line(str(script), str(film), env=env) == "ungradable"


def test_stdout_that_cannot_encode_a_character_escapes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A borderline hip's answer ("±0.72 mm") ended ``brooker grade`` with an internal error
    on an ASCII standard output (``PYTHONIOENCODING=ascii``, a review of 2026-12-08): the
    command line escapes what its standard output cannot encode. A stream that already
    handles errors its own way is left as it is."""
    import io

    from brooker import cli

    raw = io.BytesIO()
    ascii_out = io.TextIOWrapper(raw, encoding="ascii")
    monkeypatch.setattr(sys, "stdout", ascii_out)
    cli._escape_what_stdout_cannot_encode()
    print("gap 9.88 mm (\u00b10.72 mm)")
    ascii_out.flush()
    assert raw.getvalue() == b"gap 9.88 mm (\\xb10.72 mm)\n"
    lenient = io.TextIOWrapper(io.BytesIO(), encoding="ascii", errors="replace")
    monkeypatch.setattr(sys, "stdout", lenient)
    cli._escape_what_stdout_cannot_encode()
    assert lenient.errors == "replace"
