"""Text burned into the pixels is found and blanked in the overlays; bone, metal and markers
are not."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from brooker import overlay as ov
from brooker import phantom as ph
from brooker.burned_text import blank_boxes, find_text_lines
from brooker.dicom_io import load_radiograph
from brooker.models import GradingResult, Status
from brooker.phantom import HipSpec, PhantomSpec

FAST = {"spacing_mm": 0.25, "field_mm": (300.0, 380.0)}
SAMPLES = Path(__file__).resolve().parent.parent / "sample_images"
REAL = Path(__file__).resolve().parent.parent.parent / "shared" / "realfilms" / "films"


def _text_pixels(p: ph.Phantom) -> npt.NDArray[np.bool_]:
    """Where :func:`brooker.phantom.render` wrote its burned-in text (laid out as it does)."""
    spec = p.spec
    rows, cols = p.pixels.shape
    out = np.zeros((rows, cols), bool)
    for item in p.truth["items"]:
        if item["kind"] != "text":
            continue
        lh = max(int(4.0 / spec.row_mm), 8)
        top = int(10 / spec.row_mm)
        n = len(item["lines"])
        for i, line in enumerate(item["lines"]):
            m = ph._letter_mask(line, lh, lh)
            step, margin = int(lh * 1.5), int(10 / spec.col_mm)
            r0 = top + i * step if item["corner"] < 2 else rows - top - (n - i) * step
            c0 = margin if item["corner"] % 2 == 0 else cols - margin - m.shape[1]
            r1, c1 = min(rows, r0 + m.shape[0]), min(cols, c0 + m.shape[1])
            out[max(r0, 0) : r1, max(c0, 0) : c1] |= m[max(0, -r0) : r1 - r0, max(0, -c0) : c1 - c0]
    return out


def _covered(
    mask: npt.NDArray[np.bool_], boxes: list[tuple[int, int, int, int]]
) -> npt.NDArray[np.bool_]:
    inside = np.zeros_like(mask)
    for r0, c0, r1, c1 in boxes:
        inside[r0:r1, c0:c1] = True
    return mask & inside


@pytest.fixture(scope="module")
def texted() -> ph.Phantom:
    return ph.render(
        PhantomSpec(seed=11, right=HipSpec(2), left=HipSpec(0), burned_text=True, **FAST)
    )


def test_phantom_text_is_found_whole(texted: ph.Phantom) -> None:
    text = _text_pixels(texted)
    assert text.sum() > 200  # the layout above matches the renderer's: the text is there
    assert (texted.pixels[text] == texted.pixels.max()).all()
    lines = find_text_lines(texted.pixels)
    assert len(lines) == 4  # the phantom writes four lines
    boxes = blank_boxes(lines, texted.pixels.shape)
    assert _covered(text, boxes).sum() == text.sum()
    # and nothing far from it: every box lies on the text's rows and columns (+ its padding)
    rows, cols = np.nonzero(text)
    for r0, c0, r1, c1 in boxes:
        assert rows.min() - 10 <= r0
        assert r1 <= rows.max() + 10
        assert cols.min() - 10 <= c0
        assert c1 <= cols.max() + 10


def test_no_text_on_a_film_without_any() -> None:
    p = ph.render(PhantomSpec(seed=11, right=HipSpec(2), left=HipSpec(0), **FAST))
    assert find_text_lines(p.pixels) == ()


def test_markers_wires_and_screws_are_not_text() -> None:
    """A side marker (one letter), cerclage wires and screws are bright thin shapes on the
    film, but not a line of glyphs."""
    p = ph.render(
        PhantomSpec(seed=12, right=HipSpec(0, prosthesis=True), left=HipSpec(0), marker=True,
                    cerclage=True, screws=True, staples=True, **FAST)
    )  # fmt: skip
    assert find_text_lines(p.pixels) == ()


def _glyph_row(
    img: npt.NDArray[np.float32], text: str, r0: int, c0: int, h: int, value: float
) -> None:
    m = ph._letter_mask(text, h, h)
    img[r0 : r0 + m.shape[0], c0 : c0 + m.shape[1]][m] = value


def test_text_over_the_body_or_as_blobs_is_not_a_line() -> None:
    rng = np.random.default_rng(0)
    img = np.full((600, 800), 10.0, np.float32)  # air
    img[:, 300:] = 600.0 + 40.0 * rng.standard_normal((600, 500)).astype(np.float32)  # body
    img[200:400, 450:650] = 900.0  # bone
    _glyph_row(img, "NAME DOE", 100, 350, 14, 1000.0)  # bright text on mid-grey tissue
    for k in range(5):  # a row of filled squares on air: blobs, not strokes
        img[500:514, 20 + 25 * k : 34 + 25 * k] = 1000.0
    _glyph_row(img, "L", 20, 20, 40, 1000.0)  # one big letter: a side marker
    img[300, 20:280] = 1000.0  # a wire
    assert find_text_lines(img) == ()
    _glyph_row(img, "ID 123456", 40, 100, 14, 1000.0)  # on air: found, to its ink
    (line,) = find_text_lines(img)
    h, w = ph._letter_mask("ID 123456", 14, 14).shape
    assert line.bbox_px == (40, 100, 40 + h, 100 + w)


def test_a_line_running_from_the_air_onto_the_body_is_blanked_whole() -> None:
    """A label starts on the air and runs onto brighter tissue, where its glyphs stand out
    too little to start a line: once found, the line is followed to its end."""
    img = np.full((400, 600), 10.0, np.float32)
    img[:, 150:] = 620.0  # the body: 0.6 of the range from the air to the text
    _glyph_row(img, "AP PELVIS STANDING", 200, 110, 14, 1000.0)
    ink = np.zeros(img.shape, bool)
    ink[200:, 110:] = img[200:, 110:] == 1000.0
    assert ink[:, 150:].sum() > ink[:, :150].sum()  # most of it on the body
    lines = find_text_lines(img)
    assert len(lines) == 1
    assert _covered(ink, blank_boxes(lines, img.shape)).sum() == ink.sum()


def test_four_mm_text_on_a_fine_film_is_found_whole() -> None:
    """At 0.178 mm the phantom's 4 mm text is 22 pixels tall on a film 2100 pixels long, which
    is searched at half resolution: every glyph, digits included, must still be found (a third
    of the resolution lost them: strokes merged and fell under the glyph height)."""
    p = ph.render(
        PhantomSpec(seed=11, right=HipSpec(2), left=HipSpec(0), burned_text=True,
                    spacing_mm=0.178, field_mm=(300.0, 380.0))
    )  # fmt: skip
    assert max(p.pixels.shape) > 2000
    text = _text_pixels(p)
    lines = find_text_lines(p.pixels)
    assert len(lines) == 4
    assert _covered(text, blank_boxes(lines, p.pixels.shape)).sum() == text.sum()


def test_a_large_film_is_searched_coarser_and_still_found(texted: ph.Phantom) -> None:
    big = np.kron(texted.pixels.astype(np.float32), np.ones((3, 3), np.float32))
    text = np.kron(_text_pixels(texted), np.ones((3, 3), bool))
    lines = find_text_lines(big)
    assert len(lines) == 4
    assert _covered(text, blank_boxes(lines, big.shape)).sum() == text.sum()


def test_overlay_blanks_the_text_and_says_so(texted: ph.Phantom, tmp_path: Path) -> None:
    from brooker.phantom_dicom import DicomVariant, write_dicom

    path = tmp_path / "texted.dcm"
    write_dicom(
        texted.pixels,
        path,
        DicomVariant(pixel_spacing_mm=(0.25, 0.25), bits_stored=texted.spec.bits_stored),
    )
    rad = load_radiograph(path)
    result = GradingResult(file=str(path), status=Status.UNGRADABLE, reason="test", version="0")
    rgb, _ = ov._render(rad, result, 4096)  # 1:1, no downscaling
    text = _text_pixels(texted)
    shown = rgb[: text.shape[0], : text.shape[1]]
    assert (shown[text] == 0).all()  # every text pixel black
    assert shown[~text].max() > 0
    plain, _ = ov._render(rad, result, 4096, text=())
    assert (plain[: text.shape[0], : text.shape[1]][text] > 200).all()  # white without blanking
    # the panel says it (its text is drawn, not returned: compare the two panels)
    assert not np.array_equal(rgb[text.shape[0] :], plain[text.shape[0] :])


def test_the_sample_films_carry_text_only_where_drawn() -> None:
    """The bundled films: text only on the one whose manifest renders it."""
    manifest = json.loads((SAMPLES / "manifest.json").read_text())
    for name in manifest:
        lines = find_text_lines(load_radiograph(SAMPLES / name).pixels)
        assert bool(lines) == (name == "pelvis_3_vs_2_mono1.dcm"), name


@pytest.mark.skipif(not REAL.is_dir(), reason="needs ../shared/realfilms")
def test_real_films_labels_found_and_nothing_else() -> None:
    """Of the team's 30 real films, three carry lines of text (an ID and exposure, a word,
    "Standing") and one the word "Left"; two more a faint line in the margin (an ID in mid-grey
    over the thigh at the bottom edge; a name embossed at the top edge); one a film's ID label
    turned a quarter (an ID, a name and a date side by side). On one more the ticks of a ruler
    along the film's edge read as a line written sideways (blanked: a false find, in the
    margin). Nothing else on any film is taken for text."""
    found = {
        f.name: len(find_text_lines(load_radiograph(f).pixels)) for f in sorted(REAL.glob("*.dcm"))
    }
    assert len(found) == 30
    with_text = {k: v for k, v in found.items() if v}
    assert set(with_text) == {
        "rai_cf6f70dd.dcm",
        "rai_d4074e8e.dcm",
        "rai_fa04189c.dcm",
        "rai_913e70d0.dcm",
        "rai_131581fe.dcm",
        "rai_a9d1140b.dcm",
        "rai_64226537.dcm",
    }
    assert with_text["rai_913e70d0.dcm"] == with_text["rai_131581fe.dcm"] == 1
    (label,) = find_text_lines(load_radiograph(REAL / "rai_a9d1140b.dcm").pixels)
    assert label.sideways
    assert with_text["rai_cf6f70dd.dcm"] == 4  # three lines of ID and exposure, and "Left"


def _faint_film(seed: int = 0) -> npt.NDArray[np.float32]:
    """A film of 8-bit range: air at the left, soft tissue (110, gently graded) over most of it,
    a bone (230) in the middle: the range is about 10..230."""
    rng = np.random.default_rng(seed)
    img = np.full((700, 900), 10.0, np.float32)
    img[:, 80:] = 100.0 + np.linspace(0.0, 20.0, 820, dtype=np.float32)[None, :]
    img[250:450, 350:600] = 230.0
    img += rng.normal(0.0, 1.0, img.shape).astype(np.float32)
    return img


def test_faint_text_in_the_margin_is_found_whole() -> None:
    """A line of letters and digits printed in mid-grey over the thigh at the film's bottom
    edge, a sixth of the range above its background (as on one of the team's real films): far
    below the half of the range a line must stand out by elsewhere, but in the margin, where
    labels are printed, it is found and blanked whole."""
    img = _faint_film()
    before = img.copy()
    _glyph_row(img, "W08541301", 660, 120, 10, 150.0)  # 150 over about 102: 0.2 of the range
    ink = img != before
    (line,) = find_text_lines(img)
    assert _covered(ink, blank_boxes((line,), img.shape)).sum() == ink.sum()
    r0, c0, _, c1 = line.bbox_px  # no more than the line
    assert r0 >= 650
    assert c0 >= 110
    assert c1 <= 120 + 9 * 12 + 10
    # a label of three lines, words and all, whose first line starts farther in than the
    # margin: the lines stacked on one in the margin are the label's too; set tighter, at 1.4
    # heights of line (8 pixels), its lines fall in each other's bands above and below: they
    # are not the crowding of texture
    for top, pitch in ((630, 15), (649, 11)):
        img = _faint_film()
        before = img.copy()
        for k, words in enumerate(("DOE JOHN", "W08541301", "01 DEC 2026")):
            _glyph_row(img, words, top + pitch * k, 120, 10, 150.0)
        ink = img != before
        lines = find_text_lines(img)
        assert len(lines) == 3
        assert _covered(ink, blank_boxes(lines, img.shape)).sum() == ink.sum()


def test_faint_text_is_sought_only_in_the_margin() -> None:
    """The same faint line in the middle of the film, over soft tissue, is not sought (the
    film's interior has trabecular and soft-tissue texture that leaves such shapes: the
    README's *Overlays*), nor is one too faint, a twentieth of the range."""
    img = _faint_film()
    _glyph_row(img, "W08541301", 520, 120, 10, 150.0)
    assert find_text_lines(img) == ()
    img = _faint_film()
    _glyph_row(img, "W08541301", 660, 120, 10, 113.0)
    assert find_text_lines(img) == ()


def test_noise_and_texture_in_the_margin_are_not_faint_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A noisy film's margin is full of small bright shapes in rows, and so is a regular
    texture: neither is a line of text (one needs a film's noise many times over, the other
    its own background above and below). The noisy film is searched at half its size, each
    block by its brightest pixel, which makes the noise's bright tail longer."""
    rng = np.random.default_rng(1)
    noisy = 300.0 + 40.0 * rng.standard_normal((2100, 2700)).astype(np.float32)
    noisy[750:1350, 1000:1800] += 500.0
    assert find_text_lines(noisy) == ()
    import brooker.burned_text as bt

    monkeypatch.setattr(bt, "FAINT_NOISE_FACTOR", 0.0)
    assert find_text_lines(noisy) != ()  # without the noise rule, the noise passes
    monkeypatch.undo()
    textured = _faint_film()
    crosses = np.random.default_rng(2)
    for _ in range(400):  # small crosses strewn over the bottom margin
        row, col = int(crosses.integers(600, 690)), int(crosses.integers(110, 500))
        textured[row : row + 9, col + 4] = 150.0
        textured[row + 4, col : col + 9] = 150.0
    assert find_text_lines(textured) == ()
    monkeypatch.setattr(bt, "_crowded", lambda line, shapes: False)
    assert find_text_lines(textured) != ()  # rows of them are there to be taken for text
    monkeypatch.undo()
    one = _faint_film()
    for col in range(120, 400, 12):  # one row of them, on its own background, is a line
        one[658 : 658 + 9, col + 4] = 150.0
        one[662, col : col + 9] = 150.0
    assert len(find_text_lines(one)) == 1


def _sideways_label(img: npt.NDArray[np.float32], col: int) -> npt.NDArray[np.bool_]:
    """A film's ID label turned a quarter, its dark body from ``col`` to ``col + 58``: an ID in
    white, beside it a name in black on a white strip, and a date in grey; returns where its
    text is."""
    img[300:580, col : col + 58] = 20.0
    img[300:580, col + 28 : col + 42] = 250.0
    before = img.copy()

    def turned(text: str, row: int, c: int, h: int, value: float) -> None:
        m = ph._letter_mask(text, h, h).T[::-1]  # read bottom to top
        img[row : row + m.shape[0], c : c + m.shape[1]][m] = value

    turned("A0252022", 320, col + 12, 14, 240.0)  # the ID, white on the dark part
    turned("SMITH JANE", 310, col + 31, 10, 1.0)  # the name, black on the white strip
    turned("6 JAN 2006", 330, col + 45, 10, 150.0)  # the date, in grey
    return img != before


def test_a_label_turned_a_quarter_in_the_margin_is_blanked_whole() -> None:
    """A film's ID label stands sideways near its edge. Its ID is read on the film turned a
    quarter, and the blank grows over the rest of the label (the name and the date) and no
    farther than it; the same label farther in is not sought sideways (a ruler's ticks would
    read as such a line)."""
    img = _faint_film()
    ink = _sideways_label(img, 760)
    lines = find_text_lines(img)
    assert lines
    assert all(line.sideways for line in lines)
    assert any(c0 <= 772 and c1 >= 782 for _, c0, _, c1 in (t.bbox_px for t in lines))  # the ID
    boxes = blank_boxes(lines, img.shape)
    assert _covered(ink, boxes).sum() == ink.sum()
    for r0, c0, r1, c1 in boxes:  # within the label (and a glyph's height), not the film around
        assert 300 - 14 <= r0
        assert r1 <= 580 + 14
        assert 760 - 14 <= c0
        assert c1 <= 818 + 14
    inside = _faint_film()
    _sideways_label(inside, 460)
    assert find_text_lines(inside) == ()


def test_a_label_turned_a_quarter_on_a_large_film() -> None:
    """On a film searched at a third of its size (each block by its brightest pixel), the
    label read sideways is blanked whole in stored pixels."""
    small = _faint_film()
    ink = np.kron(_sideways_label(small, 760), np.ones((4, 4), bool))
    big = np.kron(small, np.ones((4, 4), np.float32))
    assert max(big.shape) > 2 * 1600  # searched at a third of its size
    lines = find_text_lines(big)
    assert lines
    assert all(line.sideways for line in lines)
    assert _covered(ink, blank_boxes(lines, big.shape)).sum() == ink.sum()


def test_a_label_turned_a_quarter_is_blanked_beside_another_line() -> None:
    """A line written across the film that ends on the label turned a quarter (its box
    overlaps the label's, not the line read along the side) does not drop the label."""
    img = _faint_film()
    img[300:580, 760:815] = 20.0  # the label: dark, with a white strip
    img[300:580, 784:798] = 250.0
    img[440:470, 600:777] = 20.0  # a dark strip across, to the label
    before = img.copy()

    def turned(text: str, row: int, col: int, h: int, value: float) -> None:
        m = ph._letter_mask(text, h, h).T[::-1]  # read bottom to top
        img[row : row + m.shape[0], col : col + m.shape[1]][m] = value

    turned("A0252022", 320, 772, 14, 240.0)
    turned("SMITH JANE", 310, 787, 10, 1.0)
    turned("6 JAN 2006", 330, 801, 10, 150.0)
    label = img != before
    _glyph_row(img, "KV80 MAS20", 450, 700, 14, 240.0)  # ends at column 780, on the label
    lines = find_text_lines(img)
    assert sum(line.sideways for line in lines) == 1
    assert _covered(label, blank_boxes(lines, img.shape)).sum() == label.sum()


def test_a_faint_line_running_onto_brighter_tissue_is_followed_to_its_end() -> None:
    """A faint line in the margin runs from the thigh onto brighter tissue, where its glyphs
    (printed at one grey level) stand out by under a tenth of the range: once found, it is
    followed there at its own level, and blanked whole."""
    img = _faint_film()
    img[620:700, 200:] += 33.0  # from column 200 on, 15 grey levels under the glyphs
    before = img.copy()
    _glyph_row(img, "0854130177 SMITH JANE", 660, 140, 10, 150.0)
    ink = img != before
    assert ink[:, 200:].sum() > ink[:, :200].sum()  # most of it on the brighter tissue
    lines = find_text_lines(img)
    assert len(lines) == 1
    assert _covered(ink, blank_boxes(lines, img.shape)).sum() == ink.sum()


def test_text_on_air_of_a_film_searched_at_a_third_is_found_whole() -> None:
    """A word on the air of a 3300-pixel film, 25 pixels tall (0.6 % of the film: above the
    0.3 % the README says is found), wherever it lies on the search's 3-pixel grid."""
    leaked = []
    for dr in range(3):
        for dc in range(3):
            img = np.full((600, 3300), 10.0, np.float32)  # air
            img[:, 600:2700] = 600.0  # the body
            _glyph_row(img, "STANDING", 99 + dr, 120 + dc, 25, 1000.0)
            ink = img == 1000.0
            lines = find_text_lines(img)
            shown = int(ink.sum() - _covered(ink, blank_boxes(lines, img.shape)).sum())
            if shown:
                leaked.append((dr, dc, shown))
    assert leaked == []
