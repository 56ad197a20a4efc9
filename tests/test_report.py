"""The review page as a file: what it holds, what it must never hold, and the CLI around it.

The page's behaviour in a browser is tested in ``test_report_browser.py``.
"""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import pytest
from conftest import ROOT
from report_run import FILMS, make_run
from typer.testing import CliRunner

from brooker import report
from brooker.cli import app

SAMPLE = ROOT / "sample_images" / "hip_view_right_4.dcm"


@pytest.fixture
def run(tmp_path: Path) -> tuple[Path, str]:
    out = tmp_path / "run"
    make_run(out)
    info = report.write_report(out)
    assert info.path == out / "report.html"
    assert info.films == len(FILMS)
    assert info.thumbnails == 4
    return out, info.path.read_text(encoding="utf-8")


def _cards(page: str) -> list[str]:
    return re.findall(r"<article class=\"card\".*?</article>", page, flags=re.S)


def test_one_card_per_film_in_path_order(run: tuple[Path, str]) -> None:
    _, page = run
    cards = _cards(page)
    files = [re.search(r'data-file="([^"]*)"', c).group(1) for c in cards]  # type: ignore[union-attr]
    assert files == [f.replace('"', "&quot;") for f, _ in FILMS]
    first = cards[0]
    assert 'data-classes="II III"' in first
    assert "gap 14.2 ± 0.4 mm" in first or "gap 14.3 ± 0.4 mm" in first
    assert 'data-gap="14.25"' in first
    assert 'data-max="3"' in first
    assert 'data-borderline="1"' in cards[1]
    assert "borderline" in cards[1]
    assert 'data-prosthesis="1"' in cards[2]
    assert "apparent ankylosis" in cards[2]
    assert "ungradable: no hip joint found" in cards[4]
    assert "error: cannot decode [unsupported_pixel_data]" in cards[5]  # named once, above
    assert "no overlay" in cards[6]
    assert "<img" not in cards[6]
    assert 'data-classes="III"' in cards[6]  # the hip found but not graded has no class
    assert 'data-notgraded="1"' in cards[6]
    assert 'data-notgraded="0"' in cards[0]
    assert "not graded: the head is not bone-bright inside" in cards[6]
    assert 'data-side="left" data-cls=""' in cards[6]
    assert "disabled" in cards[6].split('data-side="left"')[1]  # nothing to agree with


def test_summary_counts(run: tuple[Path, str]) -> None:
    out, _ = run
    s = report.summary(report.load_records(out))
    assert s["status"] == {"ok": 5, "ungradable": 1, "error": 1}
    assert s["class"] == {"0": 3, "I": 1, "II": 1, "III": 3, "IV": 1, "not graded": 1}
    assert s["hips"] == {"borderline": 1, "weak call": 1, "prosthesis": 2}
    assert s["spacing"] == {"pixel_spacing": 5, "none": 2}
    # films with no hip by reason or error code, and each hip found but not graded
    assert s["not_graded"] == {
        "no hip joint found": 1,
        # a code with what it means (a radiologist read "missing_spacing" beside sentences)
        "unsupported_pixel_data: Pixel data that cannot be decoded here": 1,
        "the head is not bone-bright inside": 1,
    }
    assert s["caveats"]["laterality assumed (AP convention)"] == 1


def test_weak_call_tag_attribute_count_and_filter(run: tuple[Path, str]) -> None:
    """A weak call (the class rests only on fragments the learned judge kept under 0.7) is
    shown as borderline is: a tag on the hip, ``data-weak`` on its film's card for the filter,
    a count among the summary's hips and a checkbox in the toolbar."""
    _, page = run
    cards = _cards(page)
    assert 'data-weak="1"' in cards[0]
    assert all('data-weak="0"' in c for c in cards[1:])
    right, left = re.findall(r'<tr class="hip".*?</tr>', cards[0], flags=re.S)
    assert 'data-side="right"' in right
    assert 'data-side="left"' in left
    assert '<span class="tag weak">weak call</span>' in left
    assert "weak call" not in right  # the strong hip of the same film
    assert all("weak call" not in c for c in cards[1:])  # the borderline hip is not weak
    summary = re.search(r'<section class="summary".*?</section>', page, flags=re.S)
    assert summary is not None
    assert '<tr><td class="n">1</td><td>weak call</td></tr>' in summary.group()
    toolbar = re.search(r'<nav class="bar".*?</nav>', page, flags=re.S)
    assert toolbar is not None
    assert '<input type="checkbox" id="f-weak"> weak call</label>' in toolbar.group()
    script = page.split("<script>", 1)[1]
    assert '$("f-weak")' in script
    assert "d.weak" in script


def test_a_record_without_weak_call_is_not_weak(tmp_path: Path) -> None:
    """Records written before ``weak_call`` existed have no such key: not a weak call."""
    out = tmp_path / "run"
    recs = make_run(out)
    for rec in recs:
        for h in rec["hips"]:
            h.pop("weak_call", None)
    page = report.render_report(recs, out_dir=out, thumbnails={})
    cards = _cards(page)
    assert all('data-weak="0"' in c for c in cards)
    assert all("weak call" not in c for c in cards)
    assert report.summary(recs)["hips"] == {"borderline": 1, "weak call": 0, "prosthesis": 2}


def test_a_hips_class_range_is_tagged_on_its_card(tmp_path: Path) -> None:
    """A hip graded 0 here and IV 2 mm away (``class_range``) is tagged on its card, amber;
    records written before the key existed have none."""
    out = tmp_path / "run"
    recs = make_run(out)
    recs[0]["hips"][0]["class_range"] = ["0", "IV"]
    recs[0]["hips"][0]["center_uncertainty_mm"] = 2.0
    recs[0]["hips"][0]["limited_by"] = ["femur not segmented to the trochanter"]
    cards = _cards(report.render_report(recs, out_dir=out, thumbnails={}))
    assert '<span class="tag weak">0 to IV if centre moved 2 mm</span>' in cards[0]
    assert '<span class="tag weak">femur not segmented to the trochanter</span>' in cards[0]
    assert all("centre moved" not in c and "segmented" not in c for c in cards[1:])
    recs[0]["hips"][0]["centres_graded"] = [1, 5]
    cards = _cards(report.render_report(recs, out_dir=out, thumbnails={}))
    assert '<span class="tag weak">graded at 1 of 5 centres 2 mm apart</span>' in cards[0]


def test_summary_counts_hips_not_graded_by_kind() -> None:
    """Hips not graded for reasons that differ only in their numbers are one kind (named with
    the range of the number that differs); a film whose hips were all found but not graded
    counts its hips, not its own reason again."""
    why = (
        "a spur or bridge was seen, but the femur is not segmented as bone up to the greater "
        "trochanter (its body begins {} mm below the head's centre)"
    )
    recs = [
        {"status": "ok", "hips": [{"grade": None, "not_graded": why.format(mm)}]}
        for mm in (41, 94)
    ] + [
        {"status": "ungradable", "reason": "right hip found, not graded: " + why.format(90),
         "hips": [{"grade": None, "not_graded": why.format(90)}]}
    ]  # fmt: skip
    assert report.summary(recs)["not_graded"] == {why.format("41 to 94"): 3}


def test_summary_counts_caveats_by_kind() -> None:
    """Caveats that differ only in their numbers are one kind, counted together, and named
    with the range of the number that differs."""
    recs = [
        {"status": "ok", "hips": [{"grade": 0, "caveats": [
            "the femur is not segmented as bone up to the greater trochanter (its body begins "
            f"{mm} mm below the head's centre): pieces of the trochanter may be read as femoral "
            "spurs or islands, and a gap measured to the wrong bone (check the overlay)"]}]}
        for mm in (46, 85, 109)
    ]  # fmt: skip
    s = report.summary(recs)
    assert s["caveats"] == {
        "the femur is not segmented as bone up to the greater trochanter (its body begins 46 to "
        "109 mm "
        "below the head's centre): pieces of the trochanter may be read as femoral spurs or "
        "islands, and a gap measured to the wrong bone (check the overlay)": 3
    }


def test_caveat_kinds_keep_dicom_tags() -> None:
    """A tag's digits name the attribute: (0020,0020) is not '(N,N)' on the page; the numbers
    of two such caveats still count as one kind."""
    text = ("(0020,0020) Patient Orientation R\\F and (0018,5101) View Position AP disagree "
            "about the sides: the orientation is followed")  # fmt: skip
    assert report.caveat_kind(text) == text
    assert report.caveat_kind("(0028,0030) Pixel Spacing 0.25 mm, 12 % off (0018,1164)") == (
        "(0028,0030) Pixel Spacing N mm, N % off (0018,1164)"
    )
    assert report.caveat_kind("(12,34) at 1.5") == "(N,N) at N"  # not a tag: four hex digits


def test_caveat_kinds_take_a_minus_sign_with_its_number() -> None:
    """The summary counts kinds of reason: a negative score is the same kind as a positive one
    (the minus was left behind as "-N", a second kind); a hyphen after a letter or digit is not
    a sign."""
    neg = "no hip joint found (best hip-region score -1.6, needs 0.5)"
    pos = "no hip joint found (best hip-region score 2.0, needs 0.5)"
    assert report.caveat_kind(neg) == report.caveat_kind(pos)
    assert report.caveat_kind(neg) == "no hip joint found (best hip-region score N, needs N)"
    assert report.caveat_kind("T-1 at 0.5-1.0 mm") == "T-N at N-N mm"
    recs = [{"file": f, "status": "ungradable", "reason": r} for f, r in (("a", neg), ("b", pos))]
    s = report.summary(recs)
    assert s["not_graded"] == {
        "no hip joint found (best hip-region score -1.6 to 2.0, needs 0.5)": 2
    }


def test_the_summary_names_a_kind_of_caveat_by_its_own_words(tmp_path: Path) -> None:
    """A kind of caveat was shown with every number as "N", the tool's own constants too
    ("weak call (probability N, under N) ... N of N calls"): it is shown as written, the
    numbers its caveats share kept, a per-hip figure that differs as its range; a kind of one
    caveat is that caveat."""
    weak = ("the class rests on a weak call (probability {}, under 0.7): held out on the team's "
            "films, 9 of 14 calls this weak were wrong")  # fmt: skip
    placed = ("centred where the hip detector put it (on real films a median 6 mm from the "
              "head's true centre, over 13 mm for 1 hip in 10) and drawn as a typical 47 mm "
              "head")  # fmt: skip
    recs = [
        {"file": f"{p}.dcm", "status": "ok", "caveats": ["(0018,5101) View Position PA"],
         "hips": [{"side": "right", "grade": 2, "brooker_class": "II",
                   "caveats": [weak.format(p), placed]}]}
        for p in (0.62, 0.55, 0.68)
    ]  # fmt: skip
    assert report.summary(recs)["caveats"] == {
        weak.format("0.55 to 0.68"): 3,
        placed: 3,
        "(0018,5101) View Position PA": 3,
    }
    page = report.render_report(recs, out_dir=tmp_path, thumbnails={})
    summary = re.search(r'<section class="summary".*?</section>', page, flags=re.S)
    assert summary is not None
    assert "9 of 14 calls" in summary.group()
    assert " N " not in summary.group()


def test_self_contained_no_network(run: tuple[Path, str]) -> None:
    _, page = run
    assert "<link" not in page
    assert "http://" not in page
    assert "https://" not in page
    assert "@import" not in page
    srcs = re.findall(r'\bsrc="([^"]*)"', page)
    assert len(srcs) == 4
    assert all(s.startswith("data:image/") for s in srcs)
    hrefs = re.findall(r'\bhref="([^"]*)"', page)
    assert sorted(hrefs) == [f"{n}-0000000{i}.png" for i, n in enumerate("abcd")]
    assert "default-src 'none'" in page  # the CSP forbids fetching anything
    assert "brookerReview" in page  # the script is inline
    assert "article.card" in page  # and so is the style sheet


def test_thumbnails_are_small(run: tuple[Path, str]) -> None:
    from PIL import Image

    _, page = run
    for uri in re.findall(r'src="data:image/\w+;base64,([^"]*)"', page):
        data = base64.b64decode(uri)
        assert len(data) < 30_000
        with Image.open(io.BytesIO(data)) as im:
            assert im.width <= report.THUMB_MAX_PX
            assert im.height <= report.THUMB_MAX_PX * 4 // 3
            assert not im.info.get("exif")


def test_thumbnails_in_worker_processes_match_serial(tmp_path: Path) -> None:
    from report_run import write_png

    pngs = {}
    for i in range(16):  # the pool is used from 16 overlays on
        pngs[i] = tmp_path / f"o{i}.png"
        write_png(pngs[i], i, size=(400 + 10 * i, 500))
    (tmp_path / "o3.png").write_bytes(b"not a png")
    parallel = report.make_thumbnails(pngs, workers=2)
    serial = report.make_thumbnails(pngs, workers=1)
    assert parallel == serial
    assert parallel[3] is None
    assert sum(v is not None for v in parallel.values()) == 15


def test_thumbnails_are_kept_for_the_next_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    out = tmp_path / "run"
    make_run(out)
    first = report.write_report(out).path.read_text(encoding="utf-8")
    cache = out / report.THUMB_CACHE
    assert len(list(cache.iterdir())) == 4

    def fail(*_: object, **__: object) -> None:
        raise AssertionError("thumbnail made again")

    monkeypatch.setattr(report, "_thumbnail", fail)
    second = report.write_report(out).path.read_text(encoding="utf-8")
    srcs = re.compile(r'src="(data:[^"]*)"')
    assert srcs.findall(second) == srcs.findall(first)
    monkeypatch.undo()

    png = out / "a-00000000.png"
    st = png.stat()
    os.utime(png, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # the film was graded again
    report.write_report(out)
    entries = sorted(p.name for p in cache.iterdir())
    assert len(entries) == 4  # the old thumbnail of a-00000000 was replaced, not kept
    assert report.cache_file(png, cache).name in entries


def test_a_thumbnail_made_again_takes_away_what_a_killed_build_left(tmp_path: Path) -> None:
    """A build killed (SIGKILL) while it kept a thumbnail left its temporary file in the
    cache for good: the next build, making that thumbnail again, takes it away; another
    overlay's stays."""
    out = tmp_path / "run"
    make_run(out)
    cache = out / report.THUMB_CACHE
    png = out / "a-00000000.png"
    left = cache / f".{report.cache_file(png, cache).name}.0123456789ab.tmp"
    older = cache / ".a-00000000.0123456789abcdef.webp.0123456789ab.tmp"
    other = cache / ".z-00000009.0123456789abcdef.webp.0123456789ab.tmp"
    cache.mkdir()
    for tmp in (left, older, other):
        tmp.write_bytes(b"half a thumbnail")
    report.write_report(out)
    assert sorted(p.name for p in cache.iterdir() if p.name.endswith(".tmp")) == [other.name]
    assert report.cache_file(png, cache).is_file()


def test_hostile_names_are_escaped(tmp_path: Path) -> None:
    out = tmp_path / "run"
    recs = make_run(out)
    recs[0]["file"] = "scans/<script>alert(1)</script>.dcm"
    recs[1]["caveats"] = ["</script><img src=x onerror=alert(2)>"]
    page = report.render_report(recs, out_dir=out, thumbnails={})
    assert "<script>alert(1)" not in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_verdict_keys_tell_copies_apart(tmp_path: Path) -> None:
    out = tmp_path / "run"
    recs = make_run(out)[:2]
    recs[1] = dict(recs[0], file="other/a_two_hips.dcm")  # the same image in another folder
    page = report.render_report(recs, out_dir=out, thumbnails={})
    keys = re.findall(r'data-key="([^"]*)"', page)
    assert len(set(keys)) == 2
    assert keys[0] == f"{FILMS[0][0]}|{recs[0]['input_sha256']}"


def test_a_file_name_that_is_not_utf8(tmp_path: Path) -> None:
    out = tmp_path / "run"
    recs = make_run(out)
    recs[0]["file"] = "scans/caf\udce9.dcm"  # the byte 0xe9 of a Latin-1 name (os.fsdecode)
    info = report.write_report(out, recs)
    page = info.path.read_text(encoding="utf-8")
    assert "scans/caf\\xe9.dcm" in page


@pytest.mark.parametrize("folder", ["run", "run[1]"])
def test_records_from_shards_and_parts_once_each(tmp_path: Path, folder: str) -> None:
    """A shard's file and a Dask part, overlapping by a record and the part torn at its end:
    every film once. ``[1]`` in a folder's name is a character class to glob: the shards' and
    parts' files were silently missed, and the report showed none of their films."""
    out = tmp_path / folder
    recs = make_run(out)
    (out / "results.jsonl").unlink()
    with open(out / "results.shard-0-of-2.jsonl", "w", encoding="utf-8") as fh:
        for r in recs[:4]:
            fh.write(json.dumps(r) + "\n")
    with open(out / "part-00000.jsonl", "w", encoding="utf-8") as fh:
        for r in recs[3:]:
            fh.write(json.dumps(r) + "\n")
        fh.write('{"file": "torn')
    assert [p.name for p in report.results_files(out)] == [
        "results.shard-0-of-2.jsonl",
        "part-00000.jsonl",
    ]
    assert [r["file"] for r in report.load_records(out)] == [f for f, _ in FILMS]


def test_a_film_two_runs_spelt_differently_is_one_card(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A shard graded "scans/a.dcm", a later run "/.../scans/a.dcm": one film, the later
    run's record (as --resume matches spellings)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "scans").mkdir()
    (tmp_path / "scans" / "a.dcm").write_bytes(b"x")
    out = tmp_path / "run"
    out.mkdir()
    old = {"file": "scans/a.dcm", "status": "ok", "hips": [], "version": "0", "n": 1}
    new = {**old, "file": str(tmp_path / "scans" / "a.dcm"), "n": 2}
    (out / "results.shard-0-of-1.jsonl").write_text(json.dumps(old) + "\n", encoding="utf-8")
    (out / "manifest.shard-0-of-1.json").write_text(
        json.dumps({"command": "grade", "started_at": "2026-01-01T00:00:00+00:00"})
    )
    (out / "results.jsonl").write_text(json.dumps(new) + "\n", encoding="utf-8")
    (out / "manifest.json").write_text(
        json.dumps({"command": "grade", "started_at": "2026-01-02T00:00:00+00:00"})
    )
    (rec,) = report.load_records(out)
    assert rec["n"] == 2


def test_records_from_the_dask_parts_of_every_shard(tmp_path: Path) -> None:
    """The shards of a job array on Dask share one folder, each with its own parts
    (part-shard-I-of-N-NNNNN.jsonl): the report reads them all, beside a run's parts with no
    shard."""
    out = tmp_path / "run"
    recs = make_run(out)
    (out / "results.jsonl").unlink()
    for name, part in (
        ("part-shard-0-of-2-00000.jsonl", recs[:2]),
        ("part-shard-0-of-2-00001.jsonl", recs[2:3]),
        ("part-shard-1-of-2-00000.jsonl", recs[3:]),
    ):
        (out / name).write_text("".join(json.dumps(r) + "\n" for r in part), encoding="utf-8")
    assert [p.name for p in report.results_files(out)] == [
        "part-shard-0-of-2-00000.jsonl",
        "part-shard-0-of-2-00001.jsonl",
        "part-shard-1-of-2-00000.jsonl",
    ]
    assert [r["file"] for r in report.load_records(out)] == [f for f, _ in FILMS]


def _run_files(
    out: Path, runs: dict[str, tuple[str, str | None, bool]], mtimes: list[str]
) -> None:
    """Record files of several runs in ``out``: ``runs`` maps a record file to (its record's
    status, its run's ``started_at`` or None for no manifest, whether that run was on Dask);
    ``mtimes`` names the files oldest first by modification time."""
    import os

    out.mkdir()
    for name, (status, started, dask) in runs.items():
        rec = {"file": "scans/a.dcm", "status": status, "hips": []}
        (out / name).write_text(json.dumps(rec) + "\n", encoding="utf-8")
        if started is None:
            continue
        manifest = name.replace("results", "manifest").replace(".jsonl", ".json")
        if name.startswith("part-shard-"):  # part-shard-I-of-N-NNNNN: shard I of N on Dask
            manifest = f"manifest.{name.removeprefix('part-').rsplit('-', 1)[0]}.json"
        elif name.startswith("part-"):
            manifest = "manifest.json"
        options = {"dask_scheduler": "tcp://127.0.0.1:8786" if dask else None}
        (out / manifest).write_text(
            json.dumps({"started_at": started, "options": options}), encoding="utf-8"
        )
    for i, name in enumerate(mtimes):
        os.utime(out / name, (1_000_000_000 + 60 * i,) * 2)


@pytest.mark.parametrize(
    ("runs", "mtimes", "status"),
    [
        (  # a Dask run, then a sharded one, then a local one: the local run's records
            {
                "part-00000.jsonl": ("dask", None, False),  # its manifest.json overwritten
                "results.shard-0-of-2.jsonl": ("shard", "2026-12-01T10:00:00Z", False),
                "results.jsonl": ("local", "2026-12-01T11:00:00Z", False),
            },
            ["results.jsonl", "part-00000.jsonl", "results.shard-0-of-2.jsonl"],
            "local",
        ),
        (  # a local run, then a sharded one: the shard's records
            {
                "results.jsonl": ("local", "2026-12-01T10:00:00Z", False),
                "results.shard-0-of-2.jsonl": ("shard", "2026-12-01T10:00:01Z", False),
            },
            ["results.shard-0-of-2.jsonl", "results.jsonl"],
            "shard",
        ),
        (  # a sharded run, then a Dask run: the parts' records
            {
                "results.shard-0-of-2.jsonl": ("shard", "2026-12-01T10:00:00Z", False),
                "part-00000.jsonl": ("dask", "2026-12-02T09:00:00+00:00", True),
            },
            ["part-00000.jsonl", "results.shard-0-of-2.jsonl"],
            "dask",
        ),
        (  # shard 0 of 2 on Dask, then a Dask run with no shard: the latter's parts, each
            # part dated by its own run's manifest (not both by the latest Dask manifest)
            {
                "part-shard-0-of-2-00000.jsonl": ("shard-dask", "2026-12-01T10:00:00Z", True),
                "part-00000.jsonl": ("dask", "2026-12-01T11:00:00Z", True),
            },
            ["part-00000.jsonl", "part-shard-0-of-2-00000.jsonl"],
            "dask",
        ),
        (  # a Dask run with no shard, then shard 1 of 2 on Dask: the shard's parts
            {
                "part-00000.jsonl": ("dask", "2026-12-01T10:00:00Z", True),
                "part-shard-1-of-2-00000.jsonl": ("shard-dask", "2026-12-01T11:00:00Z", True),
            },
            ["part-shard-1-of-2-00000.jsonl", "part-00000.jsonl"],
            "shard-dask",
        ),
        (  # shard 0 of 2 on Dask, then a local run of shard 0: the local shard's file
            {
                "part-shard-0-of-2-00000.jsonl": ("shard-dask", "2026-12-01T10:00:00Z", True),
                "results.jsonl": ("local", "2026-12-01T11:00:00Z", False),
            },
            ["results.jsonl", "part-shard-0-of-2-00000.jsonl"],
            "local",
        ),
    ],
)
def test_the_latest_run_wins_whatever_the_files_mtimes(
    tmp_path: Path, runs: dict[str, tuple[str, str | None, bool]], mtimes: list[str],
    status: str,
) -> None:
    """A folder holding the record files of several runs (a Dask run's parts, a sharded run's
    files, a local run's results.jsonl) shows the records of the run that started last, as the
    runs' manifests say: not the file modified last, which depends on how the folder was copied
    (``cp`` without ``-p``). Here the mtimes say the opposite of the manifests."""
    out = tmp_path / "run"
    _run_files(out, runs, mtimes)
    assert [r["status"] for r in report.load_records(out)] == [status]


def test_record_files_with_no_manifest_are_read_in_name_order(tmp_path: Path) -> None:
    """Files no manifest dates (the Python API writes none) are older than any dated file and
    are read results.jsonl, shards', parts', the last read winning, whatever their mtimes."""
    out = tmp_path / "run"
    undated = {
        "results.jsonl": ("local", None, False),
        "results.shard-0-of-2.jsonl": ("shard", None, False),
        "part-00000.jsonl": ("dask", None, False),
    }
    _run_files(out, undated, ["part-00000.jsonl", "results.shard-0-of-2.jsonl", "results.jsonl"])
    assert [r["status"] for r in report.load_records(out)] == ["dask"]
    (out / "manifest.json").write_text(
        json.dumps({"started_at": "2026-12-01T10:00:00Z", "options": {}}), encoding="utf-8"
    )
    assert [r["status"] for r in report.load_records(out)] == ["local"]


def test_full_size_link_is_relative_to_the_page(tmp_path: Path) -> None:
    out = tmp_path / "run"
    make_run(out)
    info = report.write_report(out, path=tmp_path / "elsewhere" / "r.html")
    page = info.path.read_text(encoding="utf-8")
    assert 'href="../run/a-00000000.png"' in page


def test_a_card_links_the_hip_crops_written_beside_its_overlay(tmp_path: Path) -> None:
    """With --overlay-crops each hip has a crop (and its unmarked twin) beside the overlay;
    a radiologist reviewing from the page reached them only through the folder (2026-12-08).
    A card links the crops that are there, relative to the page; a card without any has no
    crop line."""
    from report_run import write_png

    out = tmp_path / "run"
    make_run(out)
    write_png(out / "a-00000000-right.png", 1)
    write_png(out / "a-00000000-left.png", 2)
    write_png(out / "c-00000002-left.png", 3)
    info = report.write_report(out, path=tmp_path / "elsewhere" / "r.html")
    cards = _cards(info.path.read_text(encoding="utf-8"))
    crop_cards = [c for c in cards if "crops:" in c]
    assert len(crop_cards) == 2
    assert 'href="../run/a-00000000-right.png"' in crop_cards[0]
    assert 'href="../run/a-00000000-left.png"' in crop_cards[0]
    assert ">right hip</a>" in crop_cards[0]
    assert 'href="../run/c-00000002-left.png"' in crop_cards[1]
    assert "-right.png" not in crop_cards[1]


def test_a_copied_run_folder_links_its_own_overlays(tmp_path: Path) -> None:
    """The records name the overlays by absolute path; a copy of the run folder (an archive
    unpacked elsewhere) links and shows its own copies, even while the original is there."""
    import shutil

    out = tmp_path / "run"
    make_run(out)
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    (copy / "a-00000000.png").write_bytes((out / "b-00000001.png").read_bytes())  # tell apart
    page = report.write_report(copy).path.read_text(encoding="utf-8")
    assert 'href="a-00000000.png"' in page
    assert "../run/" not in page
    mine, theirs = (report.thumbnail_data_uri(d / "a-00000000.png") for d in (copy, out))
    assert mine is not None
    assert theirs is not None
    assert mine[0] != theirs[0]
    assert mine[0] in page  # the copy's picture
    assert theirs[0] not in page


def test_a_page_named_through_a_symlink_is_written_where_it_points(tmp_path: Path) -> None:
    out = tmp_path / "run"
    make_run(out)
    real = tmp_path / "pages" / "r.html"
    real.parent.mkdir()
    real.write_text("old")
    link = tmp_path / "r.html"
    link.symlink_to(real)
    report.write_report(out, path=link)
    assert link.is_symlink()
    page = real.read_text(encoding="utf-8")
    assert 'href="../run/a-00000000.png"' in page  # relative to where the page is


def test_full_size_link_through_a_folder_whose_name_is_not_utf8(tmp_path: Path) -> None:
    """The page written outside the run folder links to the overlays through the folders
    between: a folder name that is not UTF-8 (``os.fsdecode``: a lone surrogate) is linked as
    its byte, percent-encoded, and the page is written."""
    import os

    out = Path(os.fsdecode(os.fsencode(tmp_path) + b"/caf\xe9")) / "run"
    make_run(out)
    info = report.write_report(out, path=tmp_path / "r.html", workers=1)
    page = info.path.read_text(encoding="utf-8")
    assert 'href="caf%E9/run/a-00000000.png"' in page


def test_report_id_depends_on_the_folder(tmp_path: Path) -> None:
    assert report.report_id(tmp_path / "a") == report.report_id(tmp_path / "x" / ".." / "a")
    assert report.report_id(tmp_path / "a") != report.report_id(tmp_path / "b")


def test_cli_report_rebuilds_and_exit_codes(tmp_path: Path) -> None:
    out = tmp_path / "run"
    make_run(out)
    runner = CliRunner()
    res = runner.invoke(app, ["report", str(out)])
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == str(out / "report.html")
    assert "7 film(s), 4 picture(s)" in res.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    res = runner.invoke(app, ["report", str(empty)])
    assert res.exit_code == 4
    assert "no results.jsonl" in res.stderr
    res = runner.invoke(app, ["report", str(tmp_path / "missing")])
    assert res.exit_code == 2
    unboxed = " ".join(re.sub("[\u2500-\u257f]", " ", res.stderr).split())  # the box's lines
    assert "does not exist" in unboxed  # not "is not a folder"



def test_a_page_that_cannot_be_written_is_exit_5(tmp_path: Path) -> None:
    """An unwritable page (here a folder in the way of ``-o``'s parent) is the environment:
    exit 5 and one line, as for every other output. It was a traceback and exit 1, the code
    the README keeps for bugs in brooker."""
    from brooker.errors import OutputError

    out = tmp_path / "run"
    make_run(out)
    before = (out / "results.jsonl").read_bytes()
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(OutputError, match="cannot write"):
        report.write_report(out, path=blocker / "report.html")
    res = CliRunner().invoke(app, ["report", str(out), "-o", str(blocker / "report.html")])
    assert res.exit_code == 5, res.output
    assert "Traceback" not in res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {blocker / 'report.html'}: cannot write")
    assert lines[0].endswith("[output_not_writable]")
    assert (out / "results.jsonl").read_bytes() == before
    assert not list(tmp_path.glob("**/.report.html.*.tmp"))


def test_grade_report_that_cannot_be_written_is_exit_5(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "report.html").mkdir(parents=True)  # a folder where the page goes
    args = ["grade", str(SAMPLE), "--out", str(out), "--report", "--workers", "1", "-q"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 5, res.output
    assert "internal error" not in res.stderr
    assert "report.html: cannot write" in " ".join(res.stderr.split())
    assert not (out / "errors.log").exists()


IDENTIFIERS = {
    "PatientName": "Doe^Jane",
    "PatientID": "PID-884211",
    "PatientBirthDate": "19470312",
    "AccessionNumber": "ACC-55102",
    "InstitutionName": "St Example Hospital",
    "ReferringPhysicianName": "Who^Doctor",
}


@pytest.fixture
def identified_film(tmp_path: Path) -> Path:
    import pydicom

    ds = pydicom.dcmread(SAMPLE)
    for tag, value in IDENTIFIERS.items():
        setattr(ds, tag, value)
    folder = tmp_path / "in"
    folder.mkdir()
    path = folder / "film.dcm"
    ds.save_as(path)
    return path


@pytest.mark.parametrize("overlay", [True, False])
def test_grade_report_carries_no_patient_identifier(
    tmp_path: Path, identified_film: Path, overlay: bool
) -> None:
    out = tmp_path / "out"
    args = ["grade", str(identified_film), "--out", str(out), "--report", "--workers", "1"]
    res = CliRunner().invoke(app, [*args, *([] if overlay else ["--no-overlay"])])
    assert res.exit_code in (0, 3), res.output
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "review page:" in res.stderr
    for value in IDENTIFIERS.values():
        for form in {value, value.replace("^", " "), value.split("^")[0]}:
            assert form not in page
    assert len(_cards(page)) == 1
    pictures = page.count('<a class="thumb"')
    rec = json.loads((out / "results.jsonl").read_text(encoding="utf-8"))
    assert pictures == (1 if overlay and rec["status"] == "ok" else 0)


def test_the_page_ships_with_the_package() -> None:
    assets = ROOT / "brooker" / "report_assets"
    assert (assets / "report.js").is_file()
    assert (assets / "report.css").is_file()
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert "report_assets/*.js" in text


def test_a_bridged_hip_reads_bridged_on_the_page() -> None:
    """A class IV hip's gap (0 in its record) read "gap 0.0 ± 0.4 mm", as if two spurs
    touched; the overlay and the terminal say "0 mm (bridged)", and so does the page."""
    from report_run import hip

    assert "gap 0 mm (bridged)" in report._hip_html(hip("right", "IV", 0.0))
    assert "gap 0.1 ± 0.4 mm" in report._hip_html(hip("right", "III", 0.01))  # never 0


def test_report_o_to_a_closed_pipe_exits_141(tmp_path: Path) -> None:
    """``brooker report OUT -o /dev/stdout | head`` whose reader went away exited 5 ("cannot
    write: Broken pipe") where the README gives 141, as report's own standard output does."""
    import os
    import subprocess
    import sys

    out = tmp_path / "run"
    make_run(out)
    r, w = os.pipe()
    os.close(r)  # the reader gone before a byte is written
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "brooker", "report", str(out), "-o", "/dev/stdout", "-q"],
            stdout=w, stderr=subprocess.PIPE, cwd=ROOT, timeout=120, check=False,
        )  # fmt: skip
    finally:
        os.close(w)
    assert proc.returncode == 141, proc.stderr
    assert b"Traceback" not in proc.stderr


def test_report_o_to_standard_output_is_the_page_alone(tmp_path: Path) -> None:
    """``report OUT -o /dev/stdout`` wrote the page and then its path, ``/dev/stdout``, on the
    same stream: the HTML ended in a stray line (a review of 2026-12-07)."""
    import subprocess
    import sys

    out = tmp_path / "run"
    make_run(out)
    proc = subprocess.run(
        [sys.executable, "-m", "brooker", "report", str(out), "-o", "/dev/stdout", "-q"],
        capture_output=True, cwd=ROOT, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(b"<!doctype html>")
    assert proc.stdout.rstrip().endswith(b"</html>")


@pytest.mark.parametrize(
    ("manifest", "said"),
    [
        ({"state": "interrupted", "inputs": {"files": 19}, "counts": {"files": 5}},
         "the run was interrupted (5 of 19 input file(s) done when it stopped): run the "
         "same brooker grade command with --resume to go on"),
        ({"state": "interrupted", "inputs": {"files": 19}, "counts": {"files": 5},
          "options": {"dask_scheduler": "tcp://h:8786"}},
         "the run was interrupted (5 of 19 input file(s) done when it stopped): run the "
         "same brooker grade command again (there is no --resume on Dask)"),
        ({"state": "failed", "inputs": {"files": 3}, "counts": {"files": 2},
          "error": {"code": "cluster_lost", "message": "the cluster was lost"}},
         "the run failed (2 of 3 input file(s) done when it stopped): the cluster was lost"),
        ({"state": "failed", "inputs": {"files": 3}, "counts": {"files": 3},
          "error": {"code": "disk_full", "message": "a.dcm: no space left (and 2 more file(s))"}},
         "the run failed (every one of its 3 input file(s) done): a.dcm: no space left (and 2 "
         "more file(s)); once there is room, run the same brooker grade command with --resume"),
        ({"state": "failed", "inputs": {"files": 0}, "counts": {"files": 0},
          "error": {"code": "output_not_writable", "message": "o: read-only"}},
         "the run failed: o: read-only; once the folder can be written, run the same brooker "
         "grade command with --resume"),
        ({"state": "running", "inputs": "20", "counts": [1]},  # malformed: no figures
         "the run has not finished: it is still running, or was killed"),
        ({"state": "complete", "inputs": {"files": 7}, "counts": {"files": 7}}, None),
    ],
    ids=["interrupted", "dask", "failed", "outputs", "read-only", "running", "complete"],
)  # fmt: skip
def test_the_page_of_a_run_that_did_not_finish_says_so(
    tmp_path: Path, manifest: dict[str, object], said: str | None
) -> None:
    """The page of a run interrupted after 5 of 19 films read "5 film(s) · 5 ok" and nothing
    else, as if the folder were done (a user's test of 2026-12-07): what the manifest says
    of a run that did not finish is said under the title, and by ``brooker report``."""
    out = tmp_path / "run"
    make_run(out)
    (out / "manifest.json").write_text(json.dumps(manifest))
    res = CliRunner().invoke(app, ["report", str(out)])
    assert res.exit_code == 0, res.output
    page = (out / "report.html").read_text()
    stderr = " ".join(res.stderr.split())
    if said is None:
        assert 'class="unfinished"' not in page
        assert "warning:" not in stderr
    else:
        assert f'<p class="unfinished">manifest.json: {said}' in page
        assert f"warning: manifest.json: {said}" in stderr


def test_a_stopped_run_that_a_later_complete_run_covers_is_not_named(tmp_path: Path) -> None:
    """A shard stopped, then the whole folder graded by a later run: the page showed every
    film and still said the shard's run was interrupted, "the rest are not on this page" (a
    review of 2026-12-07). A later complete manifest.json covers every earlier run; complete
    manifests of every shard of one job array cover an earlier manifest.json. -q keeps the
    warning off stderr (the page still says it)."""
    out = tmp_path / "run"
    make_run(out)
    stopped = {"state": "interrupted", "started_at": "2026-12-07T10:00:00+00:00",
               "inputs": {"files": 9}, "counts": {"files": 2}}  # fmt: skip
    done = {"state": "complete", "started_at": "2026-12-07T11:00:00+00:00"}
    (out / "manifest.shard-1-of-2.json").write_text(json.dumps(stopped))
    (out / "manifest.json").write_text(json.dumps(done))
    assert report.unfinished_runs(out) == []
    (out / "manifest.json").write_text(json.dumps({**done, "started_at": "2026-12-07T09:00:00Z"}))
    assert [line.split(":")[0] for line in report.unfinished_runs(out)] == [
        "manifest.shard-1-of-2.json"
    ]
    # the other way round: the plain run stopped, every shard of one array done after it
    (out / "manifest.json").write_text(json.dumps(stopped))
    (out / "manifest.shard-1-of-2.json").write_text(json.dumps(done))
    assert len(report.unfinished_runs(out)) == 1  # shard 0 of 2 is not there
    (out / "manifest.shard-0-of-2.json").write_text(json.dumps(done))
    assert report.unfinished_runs(out) == []
    (out / "manifest.shard-1-of-2.json").write_text(json.dumps(stopped))
    quiet = CliRunner().invoke(app, ["report", str(out), "-q"])
    assert quiet.exit_code == 0, quiet.output
    assert quiet.stderr == ""
    assert 'class="unfinished"' in (out / "report.html").read_text()
