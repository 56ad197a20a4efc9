"""The only orchestration: path or Radiograph -> GradingResult (-> overlay PNG).

``analyze`` is the library entry point and raises :class:`~brooker.errors.BrookerError` for an
input it cannot read or measure. ``grade_path`` is what the command line, batch runs and Dask
workers call: it never raises a BrookerError, it returns an ``error`` record instead.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING

from brooker._version import __version__
from brooker.background import beside
from brooker.calibration import calibrate
from brooker.config import AnalysisConfig, config_or_default
from brooker.dicom_io import check_gradable, load_radiograph
from brooker.errors import BrookerError, MissingSpacingError
from brooker.fragments import candidate_bone, classify_fragments
from brooker.grading import grade_hip, not_graded_hip
from brooker.ho_pixels import ho_probability, judges
from brooker.image_io import with_user_sides
from brooker.localization import DETECTOR_CENTRE_ERROR_MM, Scene, analyse_scene, find_hips
from brooker.measurement import measure_gap
from brooker.models import (
    BrookerGrade,
    ErrorInfo,
    GradingResult,
    HipJoint,
    HipResult,
    PatientSide,
    PixelSpacing,
    Radiograph,
    Status,
)
from brooker.outlines import body_outlines
from brooker.padding import cropped, result_shifted
from brooker.paths import require_folder, require_text_path
from brooker.segmentation import HipMasks, segment_hip
from brooker.spacing import no_spacing_tags, with_spacing_options
from brooker.upright import result_turned, upright_view

if TYPE_CHECKING:
    from brooker.overlay import Prepared


def analyze(
    source: str | Path | Radiograph, config: AnalysisConfig | None = None
) -> GradingResult:
    """Grade every hip on one radiograph.

    Parameters
    ----------
    source : str, Path or Radiograph
        A DICOM, PNG, JPEG or TIFF file, or a radiograph already loaded with
        :func:`brooker.load_radiograph`.
    config : AnalysisConfig, optional
        Applied to a loaded radiograph as to a path: its ``pixel_spacing`` and
        ``magnification`` give the spacing and spacing caveats that loading the file with them
        gives (:func:`brooker.spacing.with_spacing_options`; they replace those the radiograph
        was loaded with, which stand where the config gives none), then ``flipped``,
        ``ball_mm``, ``head_mm`` and ``estimate_spacing``. A radiograph whose spacing was
        already calibrated from an object on the film refuses the two spacing options
        (:class:`~brooker.errors.ConfigError`).

    Returns
    -------
    GradingResult
        ``status`` ``ok`` with one :class:`HipResult` per hip in the field of view (at least
        one of them graded), or ``ungradable`` with a ``reason``: no hip found, or hips found
        and none graded (``hips`` then holds them, each with its ``not_graded``).

    Raises
    ------
    BrookerError
        The file cannot be read, decoded, or measured (no physical spacing).
    TypeError
        ``source`` is neither a path as text nor a Radiograph: the film's bytes, an open file
        (write them to a file and pass its path).
    """
    if not isinstance(source, Radiograph):
        require_text_path(source, "analyze() takes a file's path (str or os.PathLike) or a "
                                  "Radiograph")
    config = config_or_default(config, "analyze()")
    radiograph = load_calibrated(source, config)
    with _naming_uid(radiograph):
        return _analyze_loaded(radiograph, config)


@contextlib.contextmanager
def _naming_uid(radiograph: Radiograph) -> Iterator[None]:
    """A film refused once loaded names its SOP Instance UID in the error (the loader's own
    errors already do): the error record keeps it."""
    try:
        yield
    except BrookerError as err:
        if err.sop_instance_uid is None:
            err.sop_instance_uid = radiograph.meta.sop_instance_uid
        raise


def load_calibrated(source: str | Path | Radiograph, config: AnalysisConfig) -> Radiograph:
    """Load (DICOM, PNG, JPEG, TIFF) and apply the config's sides and calibration.

    A loaded ``source`` gets the config's ``pixel_spacing`` and ``magnification`` as its file
    would (:func:`brooker.spacing.with_spacing_options`: the spacing policy runs again on the
    spacing tags the loader kept). The spacing from a calibration object (``ball_mm``,
    ``head_mm``) replaces the file's; ``estimate_spacing`` fills in a missing one
    (:func:`brooker.calibration.calibrate`).
    """
    if isinstance(source, Radiograph):
        with _naming_uid(source):
            radiograph = with_spacing_options(
                source, pixel_spacing=config.pixel_spacing, magnification=config.magnification
            )
            if config.flipped is not None:
                radiograph = with_user_sides(radiograph, config.flipped)
    else:
        radiograph = load_radiograph(
            source,
            pixel_spacing=config.pixel_spacing,
            magnification=config.magnification,
            max_megapixels=config.max_megapixels,
            flipped=config.flipped,
        )
    with _naming_uid(radiograph):
        return calibrate(radiograph, config)


def judge_pixels(masks: HipMasks, config: AnalysisConfig) -> HipMasks:
    """``masks`` with the learned pixel judge's map (:mod:`brooker.ho_pixels`), which
    :func:`brooker.fragments.classify_fragments` then reads; unchanged when the judges are off
    or the hip has no candidate at all (nothing for them to judge)."""
    if config.ho_probability_min <= 0 or not candidate_bone(masks).any():
        return masks
    net = judges(config.judges)[0]
    prob = ho_probability(masks, config.sector_deg, config.sector_radius_mm, net)
    return dataclasses.replace(masks, ho_prob=prob)


def _rank(result: HipResult) -> int:
    """Order of the results about the centres tried: by class, and a hip not graded there (a
    spur or bridge seen with no femur by the joint, or a spur with no opposing bone to measure
    its gap to: :func:`brooker.grading.grade_hip`) after every class: graded about any centre,
    it is reported graded."""
    return 5 if result.grade is None else int(result.grade)


def _grade_at(
    radiograph: Radiograph, hip: HipJoint, config: AnalysisConfig, scene: Scene
) -> tuple[HipResult, HipMasks]:
    """Segment, judge, measure and grade one hip about ``hip.center_px``; with the masks it
    was graded on, for the bodies' outlines of the result that is kept (:func:`_outlined`)."""
    assert radiograph.spacing is not None
    masks = judge_pixels(segment_hip(radiograph, hip, config, scene), config)
    return grade_masks(hip, masks, radiograph.spacing, config), masks


def _outlined(graded: tuple[HipResult, HipMasks]) -> HipResult:
    """The result with the edges of the bodies it was graded against (for the overlay): drawn
    for the centre kept only, not for each of the five tried."""
    result, masks = graded
    return dataclasses.replace(result, body_outlines=body_outlines(masks))


def grade_masks(
    hip: HipJoint, masks: HipMasks, spacing: PixelSpacing, config: AnalysisConfig
) -> HipResult:
    """Fragments, gap and class of one segmented (and judged) hip (not graded when a spur has
    no opposing bone to measure its gap to, :func:`brooker.grading.grade_hip`)."""
    frags = classify_fragments(masks, spacing, config)
    gap = measure_gap(masks, frags, spacing, config)
    return grade_hip(
        hip,
        frags,
        gap,
        config,
        head_metal_fraction=masks.head_metal_fraction,
        femur_top_mm=masks.femur_top_mm,
        bodies_unparted=masks.bodies_unparted,
        parted_at_joint=masks.parted_at_joint,
    )


def grade_found_hip(
    radiograph: Radiograph, hip: HipJoint, config: AnalysisConfig, scene: Scene
) -> HipResult:
    """One hip's result.

    A hip placed at the hip detector's centre (no head outline was fitted, as on most native
    hips of real films; ``hip.center_uncertainty_mm`` > 0) carries a caveat saying so, with the
    detector's measured error (:data:`~brooker.localization.DETECTOR_CENTRE_ERROR_MM`), whatever
    its class: the region searched and the joint cut out hang on that centre. Graded I-IV, it
    is graded again about the four centres that far up, down, left and right, and the lowest
    class of the five is reported (ties: the found centre's own result), with a caveat and
    ``class_range`` when they differ (and ``centres_graded`` when about some it is not
    graded): all five are graded, so the range is whole. The sector,
    the joint's exclusion disk and the judges' inputs are all taken from the centre, so a call
    that a 2 mm shift undoes rests on the centre's placement, not on the bone; on the team's
    real films most such calls were false (README, step 7). The result is the lowest run's
    whole, its ``center_px`` included: the centre it was graded about, so that its fragments,
    gap, search region and caveats agree with the centre the record and overlay show. Hips
    graded 0 at their centre, or whose head outline was fitted, are graded once.

    A result not graded (a spur or bridge seen with no femur by the joint, or a spur with no
    opposing bone: :func:`brooker.grading.grade_hip`) ranks after every class: the hip is
    reported not graded only when no centre grades it. The femur's top is measured from the
    centre, so a femur whose top lies near the bound can be seen about one centre and not about
    another; a class II-IV about a centre where it is seen is then reported, with the caveat.
    """
    own = _grade_at(radiograph, hip, config, scene)
    if hip.center_uncertainty_mm <= 0:
        return _outlined(own)
    searched = own[0].grade != 0  # a class 0 is the lowest there is
    low, spread = _lowest_about(radiograph, hip, config, scene, own) if searched else (own, ())
    result = _outlined(low)
    return dataclasses.replace(
        result, caveats=(*result.caveats, _placed_by_detector(hip), *spread)
    )


def _lowest_about(
    radiograph: Radiograph,
    hip: HipJoint,
    config: AnalysisConfig,
    scene: Scene,
    own: tuple[HipResult, HipMasks],
) -> tuple[tuple[HipResult, HipMasks], tuple[str, ...]]:
    """The lowest of ``own`` (the hip graded about its centre, and its masks) and the hip
    graded about the centres ``hip.center_uncertainty_mm`` up, down, left and right
    (:func:`grade_found_hip`), and the caveat saying how the classes differ (none when they
    agree)."""
    d_mm = hip.center_uncertainty_mm
    assert radiograph.spacing is not None
    dr, dc = d_mm / radiograph.spacing.row_mm, d_mm / radiograph.spacing.col_mm
    row, col = hip.center_px
    results = [own[0]]
    lowest = own  # and its masks: only the lowest run's are kept (a few MB each)
    for off_r, off_c in ((-dr, 0.0), (dr, 0.0), (0.0, -dc), (0.0, dc)):
        moved = dataclasses.replace(hip, center_px=(row + off_r, col + off_c))
        other = _grade_at(radiograph, moved, config, scene)
        results.append(other[0])
        if _rank(other[0]) < _rank(lowest[0]):  # the first of equals: own first
            lowest = other
        # no early stop at a class 0: it cannot be lowered, but the centres after it can
        # raise the range's top (a "0 to II" that is really "0 to IV" hides how near a call is)
    low = lowest[0]
    graded = [r for r in results if r.grade is not None]
    classes = sorted({int(r.grade or 0) for r in graded})
    if low.grade is None or (len(classes) == 1 and len(graded) == len(results)):
        # not graded about any centre, or the same class about all five
        return own, ()
    # in the numerals every other place names a class in (it read "0 to 4")
    lo, hi = (BrookerGrade(classes[0]).roman, BrookerGrade(classes[-1]).roman)
    span = f"{lo} to {hi}" if len(classes) > 1 else lo
    if len(graded) < len(results):
        # "II (about the others it is not graded)" was hard to read: how many, and which way
        span += (
            f" about {len(graded)} of the {len(results)} centres and is not graded about the "
            f"other {len(results) - len(graded)}"
        )
    # numbers only where the text varies, so that the report counts few kinds of caveat (a
    # range or one class, with or without the centres where the hip is not graded)
    # one class about the centres it was graded about is that class, not "the lowest" (a
    # radiologist's second look, 2026-12-08)
    which = "the lowest class is" if len(classes) > 1 else "that class is"
    caveat = (
        f"graded again about centres {d_mm:g} mm up, down, left and right of the hip "
        f"detector's (the rounding of its score map), this hip grades {span}: {which} "
        "reported, with the centre it was graded about (check the overlay)"
    )
    if len(classes) > 1:  # the range itself, for the overlay's label and the terminal
        low = dataclasses.replace(
            low, class_range=(BrookerGrade(classes[0]), BrookerGrade(classes[-1]))
        )
    if len(graded) < len(results):  # as plain: a III about 1 centre of 5 is no sure III
        low = dataclasses.replace(low, centres_graded=(len(graded), len(results)))
    return (low, lowest[1]), (caveat,)


def _placed_by_detector(hip: HipJoint) -> str:
    """The caveat of a hip placed at the hip detector's centre (no head outline fitted): how
    far such centres lie from the true one, held out on the team's real films."""
    median_mm, p90_mm = DETECTOR_CENTRE_ERROR_MM
    return (
        f"no outline of this head was found: it is centred where the hip detector put it (on "
        f"real films a median {median_mm:g} mm from the head's true centre, over "
        f"{p90_mm:g} mm for 1 hip in 10) and drawn as a typical {2 * hip.head_radius_mm:g} mm "
        "head: the region searched and the joint left out hang on that centre (check the "
        "overlay)"
    )


def _analyze_loaded(radiograph: Radiograph, config: AnalysisConfig) -> GradingResult:
    """Grade a loaded, calibrated radiograph; a film padded to a plate size is analysed inside
    its padding border (:mod:`brooker.padding`), one stored upside down or turned a quarter
    turned upright (:mod:`brooker.upright`), and the result given on the stored pixels."""
    box = radiograph.unpadded_px
    if box is not None:
        check_gradable(radiograph)  # the film as stored, and the image inside its border
        return result_shifted(_analyze_loaded(cropped(radiograph), config), (box[0], box[1]))
    turn = radiograph.to_upright
    if turn.is_identity:
        return _analyze_upright(radiograph, config)
    view = upright_view(radiograph)
    return result_turned(_analyze_upright(view, config), turn.inverse, view.pixels.shape)


def _analyze_upright(radiograph: Radiograph, config: AnalysisConfig) -> GradingResult:
    meta = radiograph.meta
    check_gradable(radiograph)  # size and spacing that no perception step can misuse
    if radiograph.spacing is None:
        inputs = radiograph.spacing_inputs
        what = (
            "the image file carries none"
            if radiograph.meta.transfer_syntax_uid == ""
            else no_spacing_tags(None if inputs is None else inputs.tags)
        )
        # what is wrong only: the command line adds how to mend it with its options
        # (brooker.cli.hints), the error's docstring and the README the AnalysisConfig fields
        raise MissingSpacingError(
            f"no physical pixel spacing: {what}, so no gap can be measured", meta.path
        )
    common = {
        "file": meta.path,
        "version": __version__,
        "spacing": radiograph.spacing,
        "sop_instance_uid": meta.sop_instance_uid,
        "laterality_source": radiograph.laterality_source,
        "image_shape_px": (meta.rows, meta.cols),
    }
    scene = analyse_scene(radiograph, config)
    found = find_hips(radiograph, config, scene)
    if not found.hips:
        return GradingResult(
            status=Status.UNGRADABLE,
            reason=found.reason or "no hip joint found",
            caveats=radiograph.caveats,
            hip_candidates=found.candidates[:3],
            **common,  # type: ignore[arg-type]
        )
    # the patient's right hip first, as a reader lists them, whichever image half it is on (a
    # film stored flipped listed its left hip first)
    hips = sorted(
        _grade_hips(radiograph, found.hips, config, scene),
        key=lambda h: h.patient_side is not PatientSide.RIGHT,
    )
    if not any(h.grade is not None for h in hips):
        unseen = [f"{h.patient_side.value} hip found, not graded: {h.not_graded}" for h in hips]
        return GradingResult(
            status=Status.UNGRADABLE,
            reason="; ".join(unseen) or "no hip joint found",
            hips=tuple(hips),
            caveats=radiograph.caveats + found.caveats,
            **common,  # type: ignore[arg-type]
        )
    return GradingResult(
        status=Status.OK,
        hips=tuple(hips),
        caveats=radiograph.caveats + found.caveats,
        **common,  # type: ignore[arg-type]
    )


def _grade_hips(
    radiograph: Radiograph, found: Sequence[HipJoint], config: AnalysisConfig, scene: Scene
) -> list[HipResult]:
    """Each found hip's result, in order: the hips to grade are graded side by side, each in
    a thread of its own (their work is numpy and scipy calls that release the GIL, on a core
    a single film's grading leaves idle); one alone, in this thread."""

    def one(hip: HipJoint) -> HipResult:
        if hip.not_graded_reason is not None:
            return not_graded_hip(hip, hip.not_graded_reason)
        return grade_found_hip(radiograph, hip, config, scene)

    if sum(hip.not_graded_reason is None for hip in found) < 2:
        return [one(hip) for hip in found]
    futures = [beside(one, hip) for hip in found[1:]]
    first = one(found[0])
    return [first, *(f.result() for f in futures)]


def error_result(path: str | Path, err: BrookerError) -> GradingResult:
    """The ``error`` record of an input that could not be graded."""
    return GradingResult(
        file=str(path),
        status=Status.ERROR,
        version=__version__,
        sop_instance_uid=err.sop_instance_uid,
        error=ErrorInfo(code=err.code, message=err.message),
    )


def grade_path(
    path: str | Path,
    config: AnalysisConfig | None = None,
    *,
    out_dir: str | Path | None = None,
    overlay: bool = True,
    overlay_crops: bool = False,
    overlay_name: str | None = None,
) -> GradingResult:
    """Grade one file and, when ``out_dir`` is given, write its overlay PNG there.

    Never raises :class:`BrookerError`: an unreadable input gives an ``error`` result. The
    overlay file name defaults to :func:`brooker.overlay.overlay_name_for` of the path;
    ``overlay_name`` is the name without its ``.png`` (given with it, it is taken without:
    ``"x.png"`` wrote ``x.png.png``). A ``path`` that is not one (``bytes``, an open file) is
    a ``TypeError``, as for :func:`analyze`. An ``out_dir`` that cannot be written raises the
    ``OSError``; one that is a file, ``NotADirectoryError`` before the film is read (it was a
    ``FileExistsError`` naming no ``out_dir``, raised after grading it); an ``overlay_name``
    too long for a file name, ``ConfigError`` (:func:`brooker.overlay.check_overlay_name`).
    """
    require_text_path(path, "grade_path() takes a file's path (str or os.PathLike)")
    config = config_or_default(config, "grade_path()")
    if out_dir is not None and overlay:
        require_folder(out_dir, "grade_path()")
        from brooker.overlay import check_overlay_name

        check_overlay_name(overlay_name, "grade_path()")
    prepared: Future[Prepared] | None = None
    try:
        radiograph = load_calibrated(path, config)
        if out_dir is not None and overlay and radiograph.spacing is not None:
            # (a film with no spacing is refused before it is graded: no overlay)
            # the overlay's text search and base image need the film only: beside the
            # grading (about 0.15 s on a 0.2 mm film, on a core a single film leaves idle);
            # its module imported here, not in the thread, where it could meet this thread's
            # own lazy imports (scikit-image's) half done
            from brooker.overlay import prepare

            prepared = beside(prepare, radiograph)
        with _naming_uid(radiograph):
            result = _analyze_loaded(radiograph, config)
    except BrookerError as err:
        if err.path is None:
            err.path = str(path)
        result = error_result(path, err)
    if out_dir is None or not overlay:
        return result
    from brooker import overlay as ov

    try:
        name = ov.overlay_stem(path, overlay_name)  # never starts with "-"
    except (OSError, RuntimeError):  # a symlink loop: an error record, drawn by no run
        return result
    if result.status is Status.ERROR:
        # no overlay; one an earlier run drew of this file (since edited) would contradict
        # the record
        ov.remove_overlays(out_dir, name, crops=overlay_crops)
        return result
    # every film read gets its overlay, ungradable ones too: what was found or looked for
    try:
        written = ov.write_overlays(
            Path(out_dir),
            name,
            radiograph,
            result,
            crops=overlay_crops,
            prepared=None if prepared is None else prepared.result(),
        )
    except OSError:
        # a full disk at a crop, the overview written: the film's record is an error (batch),
        # and no picture of it may stay to contradict the record
        with contextlib.suppress(OSError):
            ov.remove_overlays(out_dir, name, crops=overlay_crops)
        raise
    return _with_overlay(result, str(written))


def _with_overlay(result: GradingResult, overlay_path: str) -> GradingResult:
    from dataclasses import replace

    return replace(result, overlay=overlay_path)
