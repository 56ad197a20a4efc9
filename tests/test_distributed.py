"""brooker.distributed: the same records on a local Dask cluster (loopback only)."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import fill_every_shard

pytest.importorskip("dask.bag")
pytest.importorskip("distributed")

from brooker import batch
from brooker._version import __version__
from brooker.distributed import grade_bag
from brooker.models import (
    BrookerGrade,
    GradingResult,
    HipResult,
    ImageSide,
    PatientSide,
    Status,
)

PREAMBLE = b"\0" * 128 + b"DICM"


def fake_grade(path, config=None, **kwargs):  # type: ignore[no-untyped-def]
    """A grade from the content length; ``BUG`` raises."""
    data = Path(path).read_bytes()
    if b"BUG" in data:
        raise RuntimeError("boom")
    hip = HipResult(
        PatientSide.LEFT, ImageSide.RIGHT, BrookerGrade(len(data) % 5), (1.0, 2.0), False
    )
    return GradingResult(file="x", status=Status.OK, version=__version__, hips=(hip,))


class FakeClient:
    """A stand-in for a ``distributed.Client`` that the command line enters and leaves; it
    counts how often it was closed (left)."""

    scheduler = SimpleNamespace(address="tcp://10.0.0.1:8786")

    def __init__(self) -> None:
        self.closed = 0

    def __enter__(self) -> FakeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.closed += 1


def grade_on_fake_cluster(
    monkeypatch: pytest.MonkeyPatch, grade_bag: Any, *args: str, client: Any = None
) -> Any:
    """``brooker grade ARGS --dask-scheduler tcp://x:1`` with ``grade_bag`` standing in for
    the cluster's work and ``client`` (a :class:`FakeClient` by default) for its client."""
    from typer.testing import CliRunner

    from brooker import distributed
    from brooker.cli import app

    monkeypatch.setattr(distributed, "grade_bag", grade_bag)
    fake = FakeClient() if client is None else client
    monkeypatch.setattr("brooker.cli.grade_cmd._dask_client", lambda *a, **k: fake)
    return CliRunner().invoke(app, ["grade", *args, "--dask-scheduler", "tcp://x:1"])


def threads_grade(path, config=None, **kwargs):  # type: ignore[no-untyped-def]
    """Ungradable, its reason whether a film's parts would run in threads here."""
    from brooker import background

    threads = background._THREADS[0] and not getattr(background._HERE, "in_turn", False)
    return GradingResult(file="x", status=Status.UNGRADABLE, version=__version__,
                         reason="beside" if threads else "in turn")  # fmt: skip


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "in"
    for i in range(7):
        p = root / f"d{i % 2}" / "IM0001" if i < 2 else root / f"f{i}"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(PREAMBLE + (b"BUG" if i == 6 else b"x" * i))
    (root / "notes.txt").write_text("not DICOM")
    return root


@pytest.fixture(scope="module")
def client():  # type: ignore[no-untyped-def]
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address=":0",  # any free port: 8787 may be taken (another cluster)
    )
    c = Client(cluster)
    try:
        yield c
    finally:
        c.close()
        cluster.close()


def _lines(parts: list[str]) -> list[dict]:  # type: ignore[type-arg]
    recs = []
    for p in parts:
        text = Path(p).read_text(encoding="utf-8")
        assert text.endswith("\n")
        recs += [json.loads(line) for line in text.splitlines()]
    return sorted(recs, key=lambda r: r["file"])


def test_cluster_records_equal_local_records(client, tree: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    out = tmp_path / "dask"
    (out).mkdir()
    (out / "part-99999.jsonl").write_text("stale\n")
    parts = grade_bag([tree], out_dir=out, client=client, npartitions=3, grade_fn=fake_grade)
    assert [Path(p).name for p in parts] == [
        "part-00000.jsonl",
        "part-00001.jsonl",
        "part-00002.jsonl",
    ]
    recs = _lines(parts)
    local = sorted(
        (r.to_record() for r in batch.grade_many([tree], workers=0, grade_fn=fake_grade)),
        key=lambda r: r["file"],
    )
    assert recs == local
    assert len(recs) == 7
    assert {r["status"] for r in recs} == {"ok", "error"}


def test_stale_parts_go_in_a_folder_whose_name_is_a_glob_pattern(tree: Path, tmp_path: Path):
    """The parts of an earlier run are removed before a new one writes its own, also under a
    folder named like ``run[1]`` (a glob pattern: they were kept, and read as records)."""
    out = tmp_path / "run[1]"
    out.mkdir()
    (out / "part-99999.jsonl").write_text("stale\n")
    parts = grade_bag([tree], out_dir=out, npartitions=2, grade_fn=fake_grade)
    assert [Path(p).name for p in parts] == ["part-00000.jsonl", "part-00001.jsonl"]
    assert not (out / "part-99999.jsonl").exists()


def test_a_folder_whose_name_holds_a_star_gets_its_parts(tree: Path, tmp_path: Path):
    """Dask names partition files by replacing the ``*`` of a path pattern: a ``*`` in the
    output folder's own name must stay as it is."""
    out = tmp_path / "run*1"
    parts = grade_bag([tree], out_dir=out, npartitions=2, grade_fn=fake_grade)
    assert [Path(p).name for p in parts] == ["part-00000.jsonl", "part-00001.jsonl"]
    assert all(Path(p).parent == out for p in parts)
    assert len(_lines(parts)) == 7


def test_shards_share_out_dir_each_with_its_own_parts(tree: Path, tmp_path: Path):
    """The shards of a job array on Dask share one out_dir: each grades its own inputs, writes
    part-shard-I-of-N-NNNNN.jsonl, removes only its own earlier parts (never another shard's,
    which may be running now, nor a run's with no shard) and returns only its own parts."""
    from brooker.report import load_records

    out = tmp_path / "run"
    out.mkdir()
    (out / "part-shard-0-of-2-00099.jsonl").write_text("stale\n")  # shard 0's earlier run
    others = {"part-shard-1-of-2-00099.jsonl": "shard 1, running\n", "part-00099.jsonl": "x\n"}
    for name, text in others.items():
        (out / name).write_text(text)
    def film(k: int) -> str:
        (tree / f"x{k}").write_bytes(PREAMBLE + b"x")
        return str(tree / f"x{k}")

    fill_every_shard(list(batch.discover([tree]).files), film)  # 8 alone: 1 run in 128
    everything = list(batch.discover([tree]).files)  # in discovery's order
    graded: list[str] = []
    for i in (0, 1):
        parts = grade_bag([tree], out_dir=out, npartitions=2, grade_fn=fake_grade, shard=(i, 2))
        assert parts
        assert all(Path(p).name.startswith(f"part-shard-{i}-of-2-000") for p in parts)
        assert "part-shard-0-of-2-00099.jsonl" not in [Path(p).name for p in parts]
        files = [r["file"] for r in _lines(parts)]
        assert files == batch.select_shard(everything, i, 2)
        graded += files
        if i == 0:
            assert not (out / "part-shard-0-of-2-00099.jsonl").exists()
            for name, text in others.items():
                assert (out / name).read_text() == text
    assert sorted(graded) == everything
    assert not (out / "part-shard-1-of-2-00099.jsonl").exists()  # shard 1's own, earlier
    assert (out / "part-00099.jsonl").read_text() == "x\n"  # a run's with no shard
    (out / "part-00099.jsonl").unlink()
    assert [r["file"] for r in load_records(out)] == everything


@pytest.mark.parametrize("shard", [(2, 2), (-1, 2), (0, 0), (0,), "0/2", (True, 2)])
def test_bad_shard_is_refused_before_any_work(tree: Path, tmp_path: Path, shard: object):
    from brooker.errors import ConfigError

    with pytest.raises(ConfigError, match="shard"):
        grade_bag([tree], out_dir=tmp_path / "o", grade_fn=fake_grade, shard=shard)  # type: ignore[arg-type]
    assert not (tmp_path / "o").exists()


def test_default_scheduler(tree: Path, tmp_path: Path):
    parts = grade_bag([tree / "f2", tree / "f3"], out_dir=tmp_path / "o", grade_fn=fake_grade)
    assert [r["file"] for r in _lines(parts)] == [str(tree / "f2"), str(tree / "f3")]


def test_out_dir_that_is_a_folder_being_graded_is_refused(tree: Path):
    """As grade_many: the parts and overlays would land among the inputs (and the earlier
    parts of the folder be removed). Refused before any work; a sub-folder stays fine."""
    from brooker.errors import ConfigError

    before = sorted(p.name for p in tree.iterdir())
    with pytest.raises(ConfigError, match="folder being graded"):
        grade_bag([tree], out_dir=tree, grade_fn=fake_grade)
    assert sorted(p.name for p in tree.iterdir()) == before  # nothing written
    parts = grade_bag([tree / "d0"], out_dir=tree / "d0" / "o", grade_fn=fake_grade)
    assert [r["file"] for r in _lines(parts)] == [str(tree / "d0" / "IM0001")]


@pytest.mark.parametrize(("paths", "given"), [([b"d0"], "not bytes"), ([None], "not NoneType")])
def test_a_path_that_is_not_text_is_named(
    tree: Path, tmp_path: Path, paths: list[object], given: str
):
    """As grade_many: a bytes path failed deep in discovery ("cannot use a string pattern on
    a bytes-like object"), None in ``os.stat``; now a TypeError names what was given."""
    out = tmp_path / "o"
    with pytest.raises(TypeError, match=f"grade_bag\\(\\) takes paths .*, {given}"):
        grade_bag(paths, out_dir=out, grade_fn=fake_grade)  # type: ignore[arg-type]
    assert not out.exists()


def test_no_inputs_writes_nothing(tmp_path: Path):
    (tmp_path / "empty").mkdir()
    assert grade_bag([tmp_path / "empty"], out_dir=tmp_path / "o") == []


def test_import_without_dask_says_what_to_install(tmp_path: Path):
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'dask' or name.startswith('dask.'):\n"
        "            raise ImportError('blocked')\n"
        "sys.meta_path.insert(0, Block())\n"
        "try:\n"
        "    import brooker.distributed\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "brooker[dask]" in p.stdout


def test_cli_dask_scheduler(client, tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """``brooker grade --dask-scheduler ADDRESS`` on the local cluster (real engine: the
    inputs are not radiographs, so every record is an error, but the plumbing is the same)."""
    from typer.testing import CliRunner

    from brooker.cli import app

    out = tmp_path / "o"
    r = CliRunner().invoke(
        app,
        [
            "grade",
            str(tree / "f2"),
            str(tree / "f3"),
            "--json",
            "--out",
            str(out),
            "--dask-scheduler",
            client.scheduler.address,
        ],
    )
    assert r.exit_code == 3, r.output
    recs = [json.loads(line) for line in r.stdout.splitlines()]
    assert sorted(x["file"] for x in recs) == [str(tree / "f2"), str(tree / "f3")]
    assert all(x["status"] == "error" for x in recs)
    assert list(out.glob("part-*.jsonl"))
    # the results file the manifest names holds the run's records, as after a local run
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["results"] == "results.jsonl"
    held = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert sorted(x["file"] for x in held) == sorted(x["file"] for x in recs)


def test_cli_shards_on_dask_share_one_out(client, tree: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    """``brooker grade --shard I/N --dask-scheduler ADDR`` for every shard into one --out (a
    job array): no shard deletes another's parts, each prints its own records, and ``brooker
    report``'s records are every input's, once."""
    from typer.testing import CliRunner

    from brooker.cli import app
    from brooker.report import load_records

    inputs = [str(tree / f"f{i}") for i in range(2, 6)]
    extra = tmp_path / "extra"
    extra.mkdir()

    def junk(k: int) -> str:
        (extra / f"x{k}").write_bytes(b"not a radiograph")
        return str(extra / f"x{k}")

    fill_every_shard(inputs, junk)  # the four alone: one shard empty 1 run in 8
    out = tmp_path / "o"
    for i in (0, 1):
        r = CliRunner().invoke(
            app,
            ["grade", *inputs, "--json", "--quiet", "--out", str(out), "--shard", f"{i}/2",
             "--dask-scheduler", client.scheduler.address],
        )
        assert r.exit_code == 3, r.output
        shown = sorted(json.loads(line)["file"] for line in r.stdout.splitlines())
        # sorted both: select_shard keeps the inputs' order, and the extra files' folder
        # sorts before the tree's
        assert shown == sorted(batch.select_shard(inputs, i, 2))
    assert {p.name.rsplit("-", 1)[0] for p in out.glob("part-*.jsonl")} == {
        "part-shard-0-of-2",
        "part-shard-1-of-2",
    }
    assert [r["file"] for r in load_records(out)] == sorted(inputs)


def _grade_on_unreachable_scheduler(tree: Path, out: Path):  # type: ignore[no-untyped-def]
    """``brooker grade f2 --out OUT --dask-scheduler`` a port nobody listens on."""
    import socket

    import dask
    from typer.testing import CliRunner

    from brooker.cli import app

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        r = CliRunner().invoke(
            app,
            ["grade", str(tree / "f2"), "--out", str(out),
             "--dask-scheduler", f"tcp://127.0.0.1:{port}"],
        )
    return r, port


def test_cli_unreachable_scheduler_is_not_an_internal_error(tree: Path, tmp_path: Path):
    """A scheduler address that cannot be reached is the environment or a wrong option, not
    a bug in brooker: exit 2 with a one-line message, no traceback in errors.log."""
    out = tmp_path / "o"
    r, port = _grade_on_unreachable_scheduler(tree, out)
    assert r.exit_code == 2, r.output
    assert f"127.0.0.1:{port}" in r.stderr
    assert "internal error" not in r.stderr
    assert not (out / "errors.log").exists()
    # nor a folder of its making left behind, held open by a lock file (a scale-out audit)
    assert not out.exists()


def test_cli_unreachable_scheduler_leaves_the_earlier_run_as_it_was(tree: Path, tmp_path: Path):
    """A scheduler that cannot be reached is a usage error (exit 2), found before anything is
    written: the results file and manifest of the run already in --out are left as they were
    (they were truncated and replaced, so the run's records were lost, and ``brooker report``
    dated an earlier Dask run's parts by the failed run's manifest)."""
    from typer.testing import CliRunner

    from brooker.cli import app

    out = tmp_path / "o"
    first = CliRunner().invoke(
        app, ["grade", str(tree / "f2"), "--out", str(out), "--workers", "1"]
    )
    assert first.exit_code == 3, first.output  # not a DICOM the engine can grade: its record
    results = (out / "results.jsonl").read_bytes()
    manifest = (out / "manifest.json").read_bytes()
    assert results
    r, _ = _grade_on_unreachable_scheduler(tree, out)
    assert r.exit_code == 2, r.output
    assert (out / "results.jsonl").read_bytes() == results
    assert (out / "manifest.json").read_bytes() == manifest


def test_paths_given_as_an_iterator_are_all_graded(tree: Path, tmp_path: Path):
    """``paths`` read once: the out_dir check must not use up an iterator (a generator of
    paths) before the inputs are found, or nothing is graded, silently."""
    paths = iter([tree / "f2", tree / "f3"])
    parts = grade_bag(paths, out_dir=tmp_path / "o", grade_fn=fake_grade)  # type: ignore[arg-type]
    assert [r["file"] for r in _lines(parts)] == [str(tree / "f2"), str(tree / "f3")]


def test_a_worker_in_another_folder_reads_the_clients_relative_paths(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Dask worker runs in its own working folder: a relative input is read in the client's,
    the overlay written under the absolute --out, and the record keeps the client's spelling
    of both (as a local run's does)."""
    from brooker.distributed import grade_record

    elsewhere = tmp_path / "worker-cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    rel = str(tree.relative_to(tmp_path) / "f2")
    line = grade_record(
        rel,
        None,
        str(tmp_path / "o"),
        False,
        False,
        {},
        fake_grade,
        base_dir=str(tmp_path),
        out_spelling="o",
    )
    rec = json.loads(line)
    assert rec["file"] == rel
    assert rec["status"] == "ok", rec
    # a file refused there is named in its message as the client spelt it, as locally
    (tmp_path / "bad.dcm").write_bytes(b"not a film at all" * 20)
    bad = json.loads(
        grade_record("bad.dcm", None, None, False, False, {}, base_dir=str(tmp_path))
    )
    assert bad["file"] == "bad.dcm"
    assert bad["error"]["message"].startswith("bad.dcm: not a DICOM file")
    # read in the worker's own folder, the same input is not there
    lost = json.loads(grade_record(rel, None, None, False, False, {}, fake_grade))
    assert lost["status"] == "error", lost


def test_cli_an_input_the_workers_wrote_no_record_of_is_an_error_record(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers that cannot see --out write their partitions elsewhere: the run does not end
    'complete' with exit 0 and no records; each input missing gets an error record (exit 3)."""


    out = tmp_path / "o"
    r = grade_on_fake_cluster(
        monkeypatch, lambda *a, **k: [], str(tree / "f2"), "--json", "--out", str(out)
    )
    assert r.exit_code == 3, r.output
    (rec,) = [json.loads(line) for line in r.stdout.splitlines()]
    assert rec["file"] == str(tree / "f2")
    assert rec["error"]["code"] == "internal_error"
    assert "no record" in rec["error"]["message"]
    held = (out / "results.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["file"] for line in held] == [str(tree / "f2")]


def test_a_scheduler_with_no_workers_is_said_not_waited_on_silently(client):  # type: ignore[no-untyped-def]
    """``--dask-scheduler`` of a cluster with no workers (yet): the run waits for one, as Dask
    does (an adaptive cluster's join later), and says so rather than looking hung; a cluster
    with workers gets no such warning."""
    import io

    from distributed import LocalCluster
    from rich.console import Console

    from brooker.cli import grade_cmd

    def connect(address: str) -> str:
        buf = io.StringIO()
        c = grade_cmd._dask_client(address, 1, Console(file=buf, width=200), quiet=True)
        c.close()
        return buf.getvalue()

    empty = LocalCluster(
        n_workers=0, processes=False, protocol="tcp", host="127.0.0.1", dashboard_address=":0"
    )
    try:
        said = connect(empty.scheduler_address)
    finally:
        empty.close()
    assert "has no workers yet" in said
    assert empty.scheduler_address in said
    assert "no workers" not in connect(client.scheduler.address)


def test_an_empty_path_on_dask_names_no_file_as_a_local_run_says(
    client, tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):  # type: ignore[no-untyped-def]
    """On a worker an empty path is not the client's working folder joined to nothing: its
    record is the local run's (``not_found``, '"": an empty path names no file')."""
    monkeypatch.chdir(tree)
    parts = grade_bag(["", "f2"], out_dir=tmp_path / "o", client=client, grade_fn=fake_grade)
    recs = {r["file"]: r for r in _lines(parts)}
    assert set(recs) == {"", "f2"}
    assert recs[""]["error"] == {
        "code": "not_found", "message": '"": an empty path names no file'
    }
    assert recs["f2"]["status"] == "ok"


def test_a_dask_shard_none_of_the_inputs_falls_in_removes_its_earlier_parts(
    client, tree: Path, tmp_path: Path
):  # type: ignore[no-untyped-def]
    """``grade --shard I/N --dask-scheduler`` whose share is empty: exit 0, and this shard's
    parts of an earlier run are removed (its records would pass for this run's)."""
    from typer.testing import CliRunner

    from brooker.cli import app

    film = str(tree / "f2")
    empty = 1 - batch.shard_of(film, 2)
    out = tmp_path / "o"
    out.mkdir()
    stale = out / f"part-shard-{empty}-of-2-00000.jsonl"
    stale.write_text('{"file": "gone.dcm"}\n')
    r = CliRunner().invoke(
        app,
        ["grade", film, "--json", "--quiet", "--out", str(out), "--shard", f"{empty}/2",
         "--dask-scheduler", client.scheduler.address],
    )
    assert r.exit_code == 0, r.output
    assert not stale.exists()
    assert (out / f"results.shard-{empty}-of-2.jsonl").read_text() == ""


def test_a_film_on_a_dask_worker_runs_its_parts_in_turn(tree: Path, tmp_path: Path) -> None:
    """Dask's threads keep its workers' cores busy: a film graded there runs its parts in
    turn (brooker.background.in_turn_here), and the process is left as it was after."""
    from brooker import background

    parts = grade_bag([tree], out_dir=tmp_path / "o", npartitions=2, grade_fn=threads_grade)
    lines = [line for p in parts for line in Path(p).read_text().splitlines()]
    reasons = {json.loads(line)["reason"] for line in lines}
    assert reasons == {"in turn"}
    assert not getattr(background._HERE, "in_turn", False)


def test_the_overlays_of_the_replaced_parts_go_with_them(tree: Path, tmp_path: Path):
    """grade_bag removes its earlier partitions, but their overlays stayed: a film graded
    again without an overlay (or left out) kept a picture no record named. They go with the
    parts now; an overlay that the folder's results.jsonl names stays (grade_bag does not
    own it), and so does anything else there."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from test_batch import drawing_grade

    out = tmp_path / "o"
    films = [tree / "f2", tree / "f3"]
    grade_bag(films, out_dir=out, npartitions=1, grade_fn=drawing_grade)
    drawn = sorted(p.name for p in out.glob("*.png"))
    assert len(drawn) == 2
    kept = out / drawn[0]
    (out / "results.jsonl").write_text(json.dumps({"file": "x", "overlay": str(kept)}) + "\n")
    mine = out / "f2-notes.png"  # the user's, named like nothing brooker writes
    mine.write_bytes(kept.read_bytes())
    grade_bag(films, out_dir=out, npartitions=1, grade_fn=drawing_grade, overlay=False)
    assert sorted(p.name for p in out.glob("*.png")) == sorted([kept.name, mine.name])


def _graded_with_dying_workers(  # type: ignore[no-untyped-def]
    client, tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dies: Any
) -> list[dict]:  # type: ignore[type-arg]
    """The records of f2-f5 of ``tree`` graded on ``client`` in one partition, each film's
    grading raising KilledWorker (as the scheduler raises it, its worker named by address)
    when ``dies(path, calls)`` says so, ``calls`` counting that film's gradings so far. The
    calls are logged in ``tmp_path/calls.txt``: the cluster runs a copy of the function it is
    sent, so a counter in this process would not see them."""
    from distributed import KilledWorker

    from brooker import distributed

    real = distributed.grade_record
    log = tmp_path / "calls.txt"

    def grade(path: str, **kw: Any) -> str:
        with log.open("a") as fh:
            fh.write(path + "\n")
        if dies(path, log.read_text().splitlines().count(path)):
            raise KilledWorker("grade", SimpleNamespace(address="tcp://127.0.0.1:1"), 3)
        return real(path, **kw)

    monkeypatch.setattr(distributed, "grade_record", grade)
    parts = distributed.grade_bag(
        [str(tree / f"f{i}") for i in (2, 3, 4, 5)], out_dir=tmp_path / "o", client=client,
        npartitions=1, overlay=False, grade_fn=fake_grade,
    )  # fmt: skip
    return _lines(parts)


def test_a_film_that_kills_its_worker_costs_its_record_not_the_run(
    client, tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    """A film that kills its Dask worker each time the scheduler retries it (KilledWorker)
    ended the whole run with an internal error and no record (exit 1; a scale-out audit of
    2026-12-07, `kill -9` of the worker): its partition's other films are graded one task
    each, and that film gets an internal_error record."""
    recs = _graded_with_dying_workers(
        client, tree, tmp_path, monkeypatch, lambda path, calls: path.endswith("f3")
    )
    assert [r["file"] for r in recs] == [str(tree / f"f{i}") for i in (2, 3, 4, 5)]
    (dead,) = [r for r in recs if r["file"].endswith("f3")]
    assert dead["error"]["code"] == "internal_error"
    assert "the Dask worker grading it died" in dead["error"]["message"]
    assert all(r["status"] != "error" for r in recs if r is not dead)


def test_a_film_only_queued_on_a_dying_worker_is_graded_again_alone(
    client, tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    """A healthy film whose task waited on the worker another film killed is counted among
    the suspects too (KilledWorker), and got an internal_error record beside the culprit's
    (a user's test of 2026-12-07, a worker over its memory limit): each such film is graded
    again alone, and only the one that kills its worker then too gets the record."""
    recs = {
        r["file"]: r
        for r in _graded_with_dying_workers(
            client, tree, tmp_path, monkeypatch,
            lambda path, calls: path.endswith("f3") or (path.endswith("f4") and calls == 1),
        )
    }  # fmt: skip
    assert sorted(recs) == [str(tree / f"f{i}") for i in (2, 3, 4, 5)]
    assert recs[str(tree / "f3")]["error"]["code"] == "internal_error"
    assert recs[str(tree / "f4")]["status"] != "error", recs[str(tree / "f4")]
    calls = (tmp_path / "calls.txt").read_text().splitlines()
    assert calls.count(str(tree / "f4")) == 2


def test_a_local_run_after_a_dask_run_replaces_its_parts_too(
    client, tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    """A local run into the folder of a Dask run removed the overlays the partitions named but
    kept the partitions: the review page then showed their films with no picture (a
    scale-out audit of 2026-12-07). Another shard's partitions stay."""
    from typer.testing import CliRunner

    from brooker.cli import app

    out = tmp_path / "o"
    grade_bag([tree], out_dir=out, client=client, npartitions=2, grade_fn=fake_grade)
    grade_bag([tree], out_dir=out, client=client, npartitions=1, grade_fn=fake_grade, shard=(0, 2))
    assert len(list(out.glob("part-0*.jsonl"))) == 2
    monkeypatch.setattr(
        batch, "grade_many", functools.partial(batch.grade_many, grade_fn=fake_grade)
    )
    r = CliRunner().invoke(app, ["grade", str(tree / "f2"), "--out", str(out), "-q"])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.glob("part-*.jsonl")) == [
        "part-shard-0-of-2-00000.jsonl"
    ]
    assert [json.loads(x)["file"] for x in (out / "results.jsonl").read_text().splitlines()] == [
        str(tree / "f2")
    ]


def test_cli_a_cluster_lost_mid_run_is_the_environment_not_a_bug(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scheduler killed during the run was an "internal error" (exit 1), its message two
    lines run into one with a literal \\x0a (a scale-out audit of 2026-12-07): exit 6, one
    line, the manifest failed with cluster_lost, no traceback in errors.log."""
    import logging
    from concurrent.futures import CancelledError

    from brooker.cli.grade_cmd import _cluster_lost

    said: list[logging.LogRecord] = []

    class Said(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            said.append(record)

    def lost(*a: object, **k: object) -> list[str]:
        # Dask's client logs each failed reconnection, three chained tracebacks on stderr
        logging.getLogger("distributed.client").error("reconnect failed", exc_info=True)
        # as distributed's FutureCancelledError (a concurrent.futures.CancelledError) says it,
        # cut by Dask in mid-word and long
        raise CancelledError(
            "scheduler-connection-lost.\\x0aClient lost the scheduler. " + "word " * 60 + "re"
        )

    handler = Said()
    logging.getLogger("distributed").addHandler(handler)
    monkeypatch.setattr(logging.getLogger("distributed.client"), "level", logging.NOTSET)

    out = tmp_path / "o"
    r = grade_on_fake_cluster(monkeypatch, lost, str(tree / "f2"), "--out", str(out))
    assert r.exit_code == 6, r.output
    (line,) = [x for x in r.stderr.splitlines() if x.startswith("error: ")]
    assert "the Dask cluster at tcp://10.0.0.1:8786 was lost during the run" in line
    assert "\\x0a" not in line
    assert "word ...): run the same command again" in line  # cut between words
    logging.getLogger("distributed").removeHandler(handler)
    assert said == []  # the run's one line, not Dask's log of it
    assert logging.getLogger("distributed.client").level == logging.NOTSET  # as it was
    assert "internal error" not in r.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["state"] == "failed"
    assert manifest["error"]["code"] == "cluster_lost"
    assert not (out / "errors.log").exists()
    # a bug stays a bug, brooker's own errors stay theirs
    assert _cluster_lost(ZeroDivisionError("x"), FakeClient()) is None
    from brooker.errors import OutputError

    assert _cluster_lost(OutputError("disk", None), FakeClient()) is None
    assert _cluster_lost(OSError("comm closed"), FakeClient()) is not None


def test_cli_a_dask_run_left_with_no_worker_says_so(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """User test: every worker killed for its memory (its nanny gave up), the run waited
    without a word for ten minutes. After a while with no worker it says so, once."""

    from brooker.cli import grade_cmd

    class NoWorkers(FakeClient):
        asked = 0

        def scheduler_info(self, n_workers: int = -1) -> dict[str, Any]:
            # the scheduler's count, and no worker's details when n_workers=0
            NoWorkers.asked += 1
            n = 0 if NoWorkers.asked > 1 else 7
            return {"n_workers": n, "workers": {} if n_workers == 0 else {"w": {}}}

    def waits(*a: object, **k: object) -> list[str]:
        time.sleep(1.0)
        return []

    monkeypatch.setattr(grade_cmd, "_WORKERS_POLL_S", 0.05)
    monkeypatch.setattr(grade_cmd, "_NO_WORKERS_WARN_S", 0.2)
    out = tmp_path / "o"
    args = (str(tree / "f2"), "--out", str(out))
    r = grade_on_fake_cluster(monkeypatch, waits, *args, client=NoWorkers())
    said = [x for x in r.stderr.splitlines() if "has had no worker for" in x]
    assert len(said) == 1, r.stderr
    assert said[0].startswith("warning: the Dask cluster at tcp://10.0.0.1:8786 has had no")
    assert "every worker it had is gone" in said[0]  # 7 came (before the first poll), went
    assert NoWorkers.asked > 3

    class NeverAny(FakeClient):
        def scheduler_info(self) -> dict[str, Any]:  # a Dask with no n_workers: details
            return {"workers": {}}

    r = grade_on_fake_cluster(monkeypatch, waits, *args, client=NeverAny())
    said = [x for x in r.stderr.splitlines() if "has had no worker for" in x]
    assert len(said) == 1, r.stderr
    assert "no worker has joined it yet" in said[0]  # an adaptive cluster slow to start


_FAST_DONE = __import__("threading").Event()


def slow_until_fast(path, config=None, **kwargs):  # type: ignore[no-untyped-def]
    """``fake_grade``; ``f2`` waits (at most 60 s) until another partition has been reported."""
    if Path(path).name == "f2":
        _FAST_DONE.wait(60)
    return fake_grade(path, config, **kwargs)


def test_each_partition_is_reported_as_it_finishes(client, tree: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    """``on_part`` gets each partition (its path, its number of files) as soon as it is
    written, in the order they finish: a long run on a cluster printed nothing, and had no
    progress bar, until its last film was graded (a scale-out audit of 2026-12-07). The first
    partition here waits for the second to be reported, so the order shows."""
    _FAST_DONE.clear()
    seen: list[tuple[str, int]] = []

    def on_part(path: str, n: int) -> None:
        seen.append((Path(path).name, n))
        # what the callback reads is there: the partition's records, one per file
        assert len(Path(path).read_text(encoding="utf-8").splitlines()) == n
        _FAST_DONE.set()

    files = [str(tree / f"f{i}") for i in (2, 3, 4, 5)]
    parts = grade_bag(
        files, out_dir=tmp_path / "o", client=client, npartitions=2, overlay=False,
        grade_fn=slow_until_fast, on_part=on_part,
    )  # fmt: skip
    assert seen == [("part-00001.jsonl", 2), ("part-00000.jsonl", 2)]
    assert [Path(p).name for p in parts] == ["part-00000.jsonl", "part-00001.jsonl"]


def test_without_a_client_each_partition_is_reported_at_the_end(tree: Path, tmp_path: Path):
    seen: list[int] = []
    files = [str(tree / f"f{i}") for i in (2, 3, 4)]
    grade_bag(files, out_dir=tmp_path / "o", npartitions=2, overlay=False,
              grade_fn=fake_grade, on_part=lambda p, n: seen.append(n))  # fmt: skip
    assert seen == [2, 1]


def test_a_callback_that_fails_stops_the_run(  # type: ignore[no-untyped-def]
    client, tree: Path, tmp_path: Path
) -> None:
    """An exception in ``on_part`` (the reader of the records gone: a broken pipe) is raised
    as it is, not taken for the cluster's."""
    def stop(path: str, n: int) -> None:
        raise BrokenPipeError("reader gone")

    files = [str(tree / f"f{i}") for i in (2, 3, 4, 5)]
    with pytest.raises(BrokenPipeError):
        grade_bag(files, out_dir=tmp_path / "o", client=client, npartitions=4, overlay=False,
                  grade_fn=fake_grade, on_part=stop)  # fmt: skip


def test_cli_on_dask_says_each_record_once(client, tree: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Records printed as each partition comes are not printed again at the end: one JSON
    line and one error line per file, and the summary counts each file once."""
    from typer.testing import CliRunner

    from brooker.cli import app

    files = [str(tree / f"f{i}") for i in (2, 3, 4, 5)]
    r = CliRunner().invoke(
        app,
        ["grade", *files, "--json", "--out", str(tmp_path / "o"),
         "--dask-scheduler", client.scheduler.address],
    )  # fmt: skip
    assert r.exit_code == 3, r.output
    recs = [json.loads(line) for line in r.stdout.splitlines()]
    assert sorted(x["file"] for x in recs) == sorted(files)
    errors = [x for x in r.stderr.splitlines() if x.startswith("error: ")]
    assert sorted(e.split(": ")[1] for e in errors) == sorted(files)
    assert "4 file(s): 4 error" in r.stderr


@pytest.mark.parametrize("given", [["--timeout", "60"], ["--timeout", "300"]])
def test_cli_a_time_limit_on_dask_is_refused_not_ignored(
    tree: Path, tmp_path: Path, given: list[str]
) -> None:
    """There is no per-file time limit on a Dask worker: a --timeout given with
    --dask-scheduler was taken and not applied, and the manifest said the default, 300 s
    (a scale-out audit of 2026-12-07). It is a usage error, found before any connection."""
    from typer.testing import CliRunner

    from brooker.cli import app

    out = tmp_path / "o"
    r = CliRunner().invoke(
        app, ["grade", str(tree / "f2"), "--out", str(out), *given,
              "--dask-scheduler", "tcp://127.0.0.1:1"],
    )  # fmt: skip
    assert r.exit_code == 2, r.output
    assert "--timeout" in r.stderr
    assert "no per-file time limit" in r.stderr
    assert not out.exists()


def test_cli_dask_manifest_says_no_time_limit(client, tree: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    """The manifest of a Dask run says the limit that applied: none (``--timeout 0``, no
    limit, is what Dask does, and is taken)."""
    from typer.testing import CliRunner

    from brooker.cli import app

    for extra in ([], ["--timeout", "0"]):
        out = tmp_path / f"o{len(extra)}"
        r = CliRunner().invoke(
            app, ["grade", str(tree / "f2"), "--out", str(out), "-q", *extra,
                  "--dask-scheduler", client.scheduler.address],
        )  # fmt: skip
        assert r.exit_code == 3, r.output
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["options"]["timeout_s"] is None


def test_connecting_says_how_long_dask_waits_and_how_many_workers_it_found(client):  # type: ignore[no-untyped-def]
    """A wrong address is found out only after Dask's connect timeout (30 s unless set), and
    the line "grading N file(s) on the Dask cluster" came before the connection was tried:
    the wait is said before it, with the setting that sets it, and the workers found after."""
    import io

    import dask
    from rich.console import Console

    from brooker.cli import grade_cmd

    buf = io.StringIO()
    with dask.config.set({"distributed.comm.timeouts.connect": "7s"}):
        c = grade_cmd._dask_client(
            client.scheduler.address, 3, Console(file=buf, width=300), quiet=False
        )
    c.close()
    first, second = buf.getvalue().splitlines()[:2]
    assert first.startswith(f"connecting to the Dask scheduler at {client.scheduler.address}")
    assert "up to 7 s" in first
    assert "distributed.comm.timeouts.connect" in first
    assert second == (
        f"grading 3 file(s) on the Dask cluster at {client.scheduler.address} (2 worker(s) now)"
    )


def test_cli_on_dask_with_a_relative_out_says_each_record_once(  # type: ignore[no-untyped-def]
    client, tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With --out relative (the default, brooker-out) each record was printed, counted and
    tabled twice: the partitions were reported by their absolute paths and returned as
    --out spelt them (a review of 2026-12-07)."""
    from typer.testing import CliRunner

    from brooker.cli import app

    monkeypatch.chdir(tmp_path)
    files = [str(tree / f"f{i}") for i in (2, 3, 4, 5)]
    r = CliRunner().invoke(
        app, ["grade", *files, "--json", "--out", "rel", "--dask-scheduler",
              client.scheduler.address],
    )  # fmt: skip
    assert r.exit_code == 3, r.output
    assert len(r.stdout.splitlines()) == 4
    manifest = json.loads((tmp_path / "rel" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["counts"]["files"] == 4
    assert len((tmp_path / "rel" / "results.jsonl").read_text().splitlines()) == 4


def test_cli_on_dask_a_reader_gone_is_141_not_a_lost_cluster(client, tree: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    """`grade --json --dask-scheduler ... | head -0`: the broken pipe raised as a record was
    printed was taken for the cluster's loss (exit 6, manifest cluster_lost): it is exit 141
    and an interrupted run, as on a local run (a review of 2026-12-07)."""
    from closed_stdout import run_with_stdout_closed

    out = tmp_path / "o"
    code, err = run_with_stdout_closed(
        [sys.executable, "-m", "brooker", "grade", str(tree / "f2"), str(tree / "f3"), "--json",
         "-q", "--out", str(out), "--dask-scheduler", client.scheduler.address],
    )  # fmt: skip
    assert code == 141, err
    assert "was lost" not in err
    assert json.loads((out / "manifest.json").read_text())["state"] == "interrupted"


def test_cli_on_dask_a_stop_keeps_the_records_it_printed(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records are printed as partitions come back: a run stopped after the first had its
    records counted in the manifest but results.jsonl empty (written only at the end). It
    holds what was printed (a review of 2026-12-07)."""


    def first_then_stop(
        files: list[str], *a: object, out_dir: Path, on_part: Any, **k: object
    ) -> list[str]:
        part = Path(out_dir) / "part-00000.jsonl"
        rec = batch.error_record(files[0], "not_dicom", "x").to_record()
        part.write_text(batch.record_line(rec) + "\n", encoding="utf-8")
        on_part(str(part), 1)
        raise KeyboardInterrupt

    out = tmp_path / "o"
    out.mkdir()
    (out / "results.jsonl").write_text("")  # an earlier run's, replaced
    r = grade_on_fake_cluster(
        monkeypatch, first_then_stop, str(tree / "f2"), str(tree / "f3"), "--json", "--out",
        str(out),
    )  # fmt: skip
    assert r.exit_code == 130, r.output
    held = (out / "results.jsonl").read_text().splitlines()
    assert [json.loads(x)["file"] for x in held] == [str(tree / "f2")]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["state"] == "interrupted"
    assert manifest["counts"]["files"] == 1


def test_cli_on_dask_a_full_disk_for_the_results_is_exit_5_and_closes_the_client(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The results file that cannot be opened (a full disk) is the environment (exit 5), and
    the Dask client is closed all the same (a review of 2026-12-07: it was opened before the
    client's context)."""
    import errno

    from brooker.errors import output_error

    client = FakeClient()
    def full(self: Any, path: Any) -> None:
        raise output_error(OSError(errno.ENOSPC, "No space left on device"), str(path))

    monkeypatch.setattr(batch.ResultsWriter, "__init__", full)
    r = grade_on_fake_cluster(
        monkeypatch, lambda *a, **k: [], str(tree / "f2"), "--out", str(tmp_path / "o"),
        client=client,
    )  # fmt: skip
    assert r.exit_code == 5, r.output
    assert client.closed == 1


def test_a_connect_timeout_setting_that_is_no_duration_is_a_usage_error(
    tree: Path, tmp_path: Path
) -> None:
    """DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT=abc was an internal error (exit 1, a KeyError
    from Dask, errors.log written into --out): the environment's setting, not a bug. It is a
    usage error naming the setting and its value, and nothing is written."""
    import os
    import subprocess

    out = tmp_path / "o"
    env = {**os.environ, "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "abc"}
    done = subprocess.run(
        [sys.executable, "-m", "brooker", "grade", str(tree / "f2"), "--out", str(out),
         "--dask-scheduler", "tcp://127.0.0.1:1"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "distributed.comm.timeouts.connect" in done.stderr
    assert "'abc'" in done.stderr
    assert "internal error" not in done.stderr
    assert not out.exists()


def test_grade_bag_refuses_a_config_that_is_not_an_analysis_config(tmp_path: Path) -> None:
    """A dict as the config gave every film an internal_error record, after the earlier parts
    and overlays were removed (a review of 2026-12-07): a TypeError before anything is."""
    from brooker.distributed import grade_bag

    out = tmp_path / "out"
    out.mkdir()
    (out / "part-00000.jsonl").write_text("{}\n")
    with pytest.raises(TypeError, match=r"grade_bag\(\) takes an AnalysisConfig"):
        grade_bag([tmp_path], {"pixel_spacing": (0.3, 0.3)}, out_dir=out)  # type: ignore[arg-type]
    assert (out / "part-00000.jsonl").exists()


def test_cli_a_worker_that_cannot_write_out_is_exit_5_not_a_cluster_lost(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker whose --out is read-only raised its OSError through the future, and the
    command line took it for the cluster's connection lost: exit 6, "run the same command
    again", which failed the same way (a user's test of 2026-12-07). The partition's write
    now raises the typed OutputError: exit 5, as a local run's."""
    import errno

    from brooker import distributed
    from brooker.errors import OutputError

    def refused(*a: object, **k: object) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(distributed, "atomic_write_bytes", refused)
    with pytest.raises(OutputError, match="cannot write: Read-only file system"):
        distributed._write_part(["{}"], str(tmp_path / "part-00000.jsonl"))

    def worker_refused(*a: object, **k: object) -> list[str]:
        return [distributed._write_part(["{}"], str(tmp_path / "o" / "part-00000.jsonl"))]

    out = tmp_path / "o"
    r = grade_on_fake_cluster(monkeypatch, worker_refused, str(tree / "f2"), "--out", str(out))
    assert r.exit_code == 5, r.output
    assert "was lost during the run" not in r.stderr
