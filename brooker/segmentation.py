"""Radiograph + hip -> bone, metal and region masks around that hip, at the stored resolution
(block-averaged by whole factors towards the 0.4 mm working pitch on finer films).

Around each hip a region of interest (ROI) is cut from the stored pixels; on films finer than
``work_pitch_mm`` (0.4 mm) whole blocks of pixels are averaged into one (0.2 mm -> 0.4 mm,
0.1 mm -> 0.4 mm), so a fine film costs no more to segment than the real exports the engine is
built on (0.4-0.6 mm). In the ROI:

* the local soft-tissue and bone levels are estimated on a coarse copy and interpolated back,
  so that the bone threshold sits half-way between them everywhere (the half-maximum of a
  blurred edge is where the edge really is, which keeps the gap unbiased);
* metal is what is far brighter than bone and flat (or saturated); a band of the blur width
  around metal is not bone (the blurred edge of a staple passes through bone brightness);
* the joint itself is excluded (a disk of the cup or head radius plus a margin: there the
  femoral head and acetabulum touch by nature), and so is a wedge below and medial to the joint
  (ischium, pubis, lesser trochanter), where pelvis and femur overlap normally on an AP film;
* "normal" bone is what survives a morphological opening with a disk of the first of
  ``spur_opening_radii_mm`` (6 mm): the wide bodies of the ilium and of the femur. Of those, the
  pelvis body is the one reaching the top of the ROI above the joint, or covering the acetabular
  roof right above the joint's exclusion disk (a thin iliac wing can leave the top strip only a
  narrow link to the ilium, which the opening cuts), and the femur body the one reaching the
  bottom of the ROI lateral to the joint. Everything else that is bone, in the lateral and
  superior sector, is a heterotopic-bone candidate. When a thick bridge survives the opening and
  joins the two bodies, larger disks are tried until they part; what they remove is the bridge
  (:func:`part_bodies`). A bridge hugging the head is one mass with it, wider than every disk:
  when no disk parts the bodies, the joint is cut out first and the disks are tried again
  (:func:`part_hip`). Bodies that still no disk parts are one piece, and the hip's record says
  that a bridge may be missed there.
* a round spur on the ilium's lateral edge can be wider than that disk: a much larger disk
  (``pelvic_bump_radius_mm``) follows the ilium's long smooth edge but not a knob on it, and a
  knob that stands out with a neck on both sides is taken out of the pelvis body
  (:func:`_pelvic_bumps`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from brooker.config import AnalysisConfig
from brooker.imaging import (
    block_mean,
    dilate_cross,
    distance_transform_edt,
    edt_open,
    fill_small_holes,
    fine_texture,
    sample_grid,
    window_around,
    within,
)
from brooker.localization import Scene, analyse_scene
from brooker.models import HipJoint, ImageSide, Radiograph

BoolImage = npt.NDArray[np.bool_]
FloatImage = npt.NDArray[np.float32]

#: How far from a bump candidate its neck (the concave turn of the outline) is looked for, mm.
NECK_REACH_MM = 2.0
#: How far beside a bump candidate the ilium it overlaps is looked for, mm.
OVERLAP_REACH_MM = 4.0
#: A hole of the femur this close to the pelvis body is the gap of a spur, not the femur's, mm.
PELVIS_CLEARANCE_MM = 2.0
#: Depth of the acetabular roof probe above the joint's exclusion disk, mm (:func:`part_bodies`).
ROOF_PROBE_DEPTH_MM = 15.0
#: How far from the film-wide (1 mm grid) metal map a bright ROI pixel is still confirmed as
#: metal, mm (three ROI pixels at the 0.4 mm working pitch, as it was counted until 2026-12-01).
METAL_CONFIRM_MM = 1.2
#: The implant's flat interior begins more than this far inside its bright region, mm, and
#: never at its outermost pixel (the one pixel counted until 2026-12-01 at the 0.4 mm working
#: pitch; two at a 0.25 mm pitch): the blurred rim is not flat.
PROSTHESIS_FLAT_INSET_MM = 0.5


@dataclass(frozen=True, slots=True, eq=False)
class HipMasks:
    """Masks of one hip's ROI (all of the ROI's shape; ``origin_px`` is its top-left corner).

    ``allowed`` is where bone counts (not the joint, not the medial-inferior wedge);
    ``sector`` is the periarticular region where heterotopic bone is sought; ``head`` the
    femoral head, femoral-side bone for the gap.
    """

    hip: HipJoint
    origin_px: tuple[int, int]
    image: FloatImage
    bone: BoolImage
    metal_halo: BoolImage
    allowed: BoolImage
    sector: BoolImage
    pelvis: BoolImage
    femur: BoolImage
    head: BoolImage
    bodies_joined: bool
    """Pelvis and femur bodies were joined at the first opening (parted or not after)."""
    spacing_mm: tuple[float, float]
    """(row, col) size of an ROI pixel at the patient, mm (the working pitch, see ``block_px``)."""
    block_px: tuple[int, int] = (1, 1)
    """Stored pixels per ROI pixel along (rows, cols): ROIs of fine films are block-averaged."""
    norm: FloatImage | None = None
    """The image on the film's local scale: 0 at the soft-tissue level, 1 at the bone level."""
    ho_prob: FloatImage | None = None
    """Probability of heterotopic bone per ROI pixel (:mod:`brooker.ho_pixels`), when judged."""
    bodies_unparted: bool = False
    """No opening parted the pelvis and femur bodies: the joined body in the sector is the only
    candidate for a bridge, and the judges rarely see one in so much normal bone."""
    parted_at_joint: bool = False
    """The bodies parted only with the joint cut out first (:func:`part_hip`): what lies
    between them along the joint's margin is the bridge candidate."""
    femur_top_mm: float | None = None
    """How far above the head's centre the femur body reaches, mm (negative: below it). A
    native femur's neck and greater trochanter reach about the centre's level. None when there
    is no femur body apart from the pelvis: none was found, or the bodies never parted
    (``bodies_unparted``: the joined piece then reaches the ilium, and says nothing of where
    the femur begins)."""
    metal: BoolImage | None = None
    """Metal itself (``metal_halo`` less its 1 mm halo); None on masks built without it, where
    :mod:`brooker.measurement` takes the halo for the metal."""
    head_metal_fraction: float = 0.0
    """Fraction of the head's disk (0.8 of its radius) that is metal or its halo: a prosthetic
    head that is not metal here was not segmented as the method needs."""
    in_field: BoolImage | None = None
    """Where bone may be found: the exposed field less a margin from a collimator shutter's
    edge; None when the whole ROI is exposed. Bone stops at its edge, which is no edge of the
    bone itself (:mod:`brooker.outlines`)."""

    def to_image(self, row: float, col: float) -> tuple[float, float]:
        """ROI (row, col) -> stored-image (row, col)."""
        kr, kc = self.block_px
        r0, c0 = self.origin_px
        return (r0 + (row + 0.5) * kr - 0.5, c0 + (col + 0.5) * kc - 0.5)


def _roi_bounds(
    hip: HipJoint, shape: tuple[int, int], sampling: tuple[float, float], config: AnalysisConfig
) -> tuple[int, int, int, int]:
    row_mm, col_mm = sampling
    r0, c0 = hip.center_px
    lat_sign = -1.0 if hip.image_side is ImageSide.LEFT else 1.0  # lateral = toward image edge
    up = config.roi_up_mm / row_mm
    down = config.roi_down_mm / row_mm
    lat = config.roi_lateral_mm / col_mm
    med = config.roi_medial_mm / col_mm
    # the stored pixels whose centres lie within the extents: a film and its mirror image get
    # mirrored ROIs (flooring the start and ceiling the end did not: one column apart)
    top = int(max(0, math.ceil(r0 - up)))
    bottom = int(min(shape[0], math.floor(r0 + down) + 1))
    if lat_sign < 0:
        left, right = int(max(0, math.ceil(c0 - lat))), int(min(shape[1], math.floor(c0 + med) + 1))
    else:
        left, right = int(max(0, math.ceil(c0 - med))), int(min(shape[1], math.floor(c0 + lat) + 1))
    return top, bottom, left, right



def joint_radius_mm(hip: HipJoint) -> float:
    """Radius of the joint itself: the cup's, 1.6 head radii on a prosthesis without a cup
    measured, else the head's."""
    if hip.prosthesis and hip.cup_radius_mm:
        return hip.cup_radius_mm
    return 1.6 * hip.head_radius_mm if hip.prosthesis else hip.head_radius_mm


def joint_exclusion_radius_mm(hip: HipJoint, config: AnalysisConfig) -> float:
    """Radius about the hip centre within which nothing is heterotopic bone: the joint's
    (:func:`joint_radius_mm`) times ``joint_exclusion_factor``, plus
    ``joint_exclusion_margin_mm``. The inner edge of the region searched, as the overlay
    draws it."""
    return config.joint_exclusion_factor * joint_radius_mm(hip) + config.joint_exclusion_margin_mm


def segment_hip(
    radiograph: Radiograph, hip: HipJoint, config: AnalysisConfig, scene: Scene | None = None
) -> HipMasks:
    """Segment bone, metal, and the pelvis and femur bodies around one hip."""
    scene = scene or analyse_scene(radiograph, config, detect=False)
    assert radiograph.spacing is not None
    stored_mm = radiograph.spacing.sampling_mm
    top, bottom, left, right = _roi_bounds(hip, radiograph.pixels.shape, stored_mm, config)
    # on films finer than the working pitch, whole blocks of stored pixels become one ROI pixel
    kr, kc = (max(1, int(config.work_pitch_mm / s + 1e-6)) for s in stored_mm)
    bottom = top + (bottom - top) // kr * kr
    # the columns left over from whole blocks go on the medial side, so that the block grid is
    # anchored at the lateral edge on either hip (mirror images block alike)
    if hip.image_side is ImageSide.LEFT:
        right = left + (right - left) // kc * kc
    else:
        left = right - (right - left) // kc * kc
    stored = radiograph.pixels[top:bottom, left:right]
    sat_level = scene.stored_max
    raw_saturated: BoolImage = np.asarray(
        stored >= sat_level - 1e-3 * max(abs(sat_level), 1.0), dtype=np.bool_
    )
    if kr > 1 or kc > 1:
        shape4 = ((bottom - top) // kr, kr, (right - left) // kc, kc)
        raw = block_mean(stored, kr, kc)
        raw_saturated = np.asarray(raw_saturated.reshape(shape4).any(axis=(1, 3)), dtype=np.bool_)
    else:
        raw = stored.astype(np.float32)
    sampling = (stored_mm[0] * kr, stored_mm[1] * kc)
    row_mm, col_mm = sampling
    # stored-image row / column of each ROI pixel's centre
    stored_rows = top + (np.arange(raw.shape[0], dtype=np.float32) + 0.5) * kr - 0.5
    stored_cols = left + (np.arange(raw.shape[1], dtype=np.float32) + 0.5) * kc - 0.5
    # light denoising; sigma well below the blur of any radiograph, so edges do not move
    sig = (config.denoise_sigma_mm / row_mm, config.denoise_sigma_mm / col_mm)
    img = np.asarray(ndi.gaussian_filter(raw, sig), dtype=np.float32)  # float32 already

    # levels from the whole-film model (1 mm grid), interpolated to the ROI's pixels
    grid = scene.grid
    rows_g = (stored_rows + 0.5) / grid.scale_row - 0.5
    cols_g = (stored_cols + 0.5) / grid.scale_col - 0.5
    soft = sample_grid(scene.model.soft, rows_g, cols_g)
    bone_lvl = sample_grid(scene.model.bone, rows_g, cols_g)
    # the coarse masks are only resampled when the ROI's window of the grid has any of them
    gr0, gr1 = int(max(0.0, np.floor(rows_g[0]))), int(np.ceil(rows_g[-1])) + 2
    gc0, gc1 = int(max(0.0, np.floor(cols_g[0]))), int(np.ceil(cols_g[-1])) + 2
    if scene.model.metal_mask[gr0:gr1, gc0:gc1].any():
        coarse_metal = sample_grid(scene.model.metal_mask.astype(np.float32), rows_g, cols_g) > 0.25
    else:
        coarse_metal = np.zeros(raw.shape, dtype=bool)
    if scene.model.field[gr0:gr1, gc0:gc1].all():
        in_field = np.ones(raw.shape, dtype=bool)
    else:
        in_field = sample_grid(scene.model.field.astype(np.float32), rows_g, cols_g) > 0.5
    if not in_field.all():
        # the shutter's blurred edge is bright but not bone: keep a margin from it (the field
        # was found on the 1 mm grid)
        in_field = ~within(~in_field, config.shutter_margin_mm, sampling)
    contrast = np.maximum(bone_lvl - soft, 1e-6)
    threshold = (soft + config.bone_threshold_fraction * contrast).astype(np.float32)
    norm = (img - soft) / contrast

    # metal: far above bone, and flat or saturated, confirmed on the coarse flat-metal map
    metal_cand = norm > config.metal_contrast_factor
    sig_m = (config.mask_sigma_mm / row_mm, config.mask_sigma_mm / col_mm)
    smooth = ndi.gaussian_filter(raw, sig_m)
    # clipped: a thin staple is only clipped in the raw pixels (smoothing lowers its peak); a
    # noisy clipped prosthesis only on average (the film's clip level, from the 1 mm grid)
    saturated = raw_saturated | (smooth >= scene.model.clip_level)
    # saturated and well above bone is metal too (a staple or a marker at the top of the range
    # on a film whose bone contrast is high)
    confirmed = saturated | (norm > 3.5)
    if coarse_metal.any():
        # a disk in mm, so anisotropic pixels reach as far along the rows as the columns (the
        # 3-pixel diamond it replaced gives the same records on every labelled set)
        confirmed |= within(coarse_metal, METAL_CONFIRM_MM, sampling)
    metal = (metal_cand & confirmed) | (saturated & (norm > 1.5))
    metal &= in_field
    # specks below metal_min_area_mm2 are not metal; labelled in the box of the metal only
    # (every component lies in it; most hips have none and skip the ROI-wide label)
    rows = np.flatnonzero(metal.any(axis=1))
    if rows.size:
        cols = np.flatnonzero(metal.any(axis=0))
        box = (slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1))
        lab, n = ndi.label(metal[box])
        sizes = np.bincount(lab.ravel(), minlength=n + 1)[1:] * row_mm * col_mm
        keep = np.zeros(n + 1, bool)
        keep[1:] = sizes >= config.metal_min_area_mm2
        metal = np.zeros_like(metal)
        metal[box] = keep[lab]
    # geometry around the joint centre
    rr = (stored_rows - hip.center_px[0]) * stored_mm[0]
    cc = (stored_cols - hip.center_px[1]) * stored_mm[1]
    lat_sign = -1.0 if hip.image_side is ImageSide.LEFT else 1.0
    v_mm = np.broadcast_to(-rr[:, None], img.shape).astype(np.float32)
    u_mm = np.broadcast_to(lat_sign * cc[None, :], img.shape).astype(np.float32)
    dist = np.hypot(u_mm, v_mm)
    if hip.prosthesis:
        # on a windowed 8-bit export the implant can be barely brighter than bone: the bone level
        # near it is then the implant's own, and none of it passes for metal above
        metal |= prosthesis_metal(smooth, raw, soft, dist, hip, metal, in_field, sampling)
    halo = within(metal, config.metal_halo_mm, sampling)
    # the mask is taken on a smoother copy: trabecular texture must not punch holes in bone.
    # A symmetric blur does not move the half-maximum of an edge; the gap itself is refined
    # on the lightly denoised image (measurement.py).
    bone = (smooth > threshold) & ~metal & in_field
    # a hole may be the shutter's margin (and the unexposed film beyond it) enclosed by bone
    # and the ROI's border: what lies outside the exposed field is never bone
    bone = fill_small_holes(bone, config.max_hole_mm2 / (row_mm * col_mm)) & in_field

    phi = np.degrees(np.arctan2(u_mm, v_mm))  # 0 up, 90 lateral, 180 down, 270 medial
    np.add(phi, 360.0, out=phi, where=phi < 0)  # = phi % 360 here, without a float modulo
    joint_r = joint_radius_mm(hip)
    r_ex = joint_exclusion_radius_mm(hip, config)
    lo, hi = config.medial_wedge_deg
    wedge = (phi >= lo) & (phi <= hi) & (dist <= config.sector_radius_mm)
    allowed = (dist > r_ex) & ~wedge
    s_lo, s_hi = config.sector_deg
    in_angle = (
        ((phi >= s_lo % 360) | (phi <= s_hi)) if s_lo < 0 else ((phi >= s_lo) & (phi <= s_hi))
    )
    sector = allowed & (dist <= config.sector_radius_mm) & in_angle

    # open before cutting out the joint, so the cut itself leaves no corners behind
    skeleton = bone | metal
    # the ilium always reaches the top of the ROI, the femoral shaft its bottom
    strip = max(2, round(3.0 / row_mm))
    # (or the edge of the exposed field, when a collimator shutter cuts the ROI short)
    above = np.zeros_like(allowed)
    above[strip:] = in_field[:-strip]
    below = np.zeros_like(allowed)
    below[:-strip] = in_field[strip:]
    pelvis_probe = in_field & ~above & (v_mm > joint_r)
    femur_probe = in_field & ~below & (v_mm < -joint_r)
    femur_probe &= u_mm > -0.5 * joint_r
    # the acetabular roof, right above the joint: the ilium covers it even where a thin iliac
    # wing leaves the ROI's top strip only a narrow link to it, which the opening cuts
    roof_probe = in_field & (v_mm > r_ex) & (v_mm < r_ex + ROOF_PROBE_DEPTH_MM)
    roof_probe &= np.abs(u_mm) < 0.5 * joint_r
    # depth of every bone pixel inside the bone: shared by each opening and the bump test
    inside = distance_transform_edt(skeleton, sampling)
    parting = part_hip(
        skeleton,
        inside,
        allowed,
        pelvis_probe,
        femur_probe,
        config.spur_opening_radii_mm,
        sampling,
        roof_probe=roof_probe,
    )
    pelvis, femur, radius = parting.pelvis, parting.femur, parting.radius_mm
    unparted = parting.unparted
    if not unparted and pelvis.any():
        # the lateral ilium is a long smooth edge: a round spur on it may be wider than what
        # the first opening removes from the femur (whose trochanters are knobs of that size)
        pelvis &= ~_pelvic_bumps(
            parting.skeleton, parting.inside, pelvis, sector, sampling, config, norm
        )
    if not unparted and femur.any():
        # a trochanter whose cancellous interior fell below the bone threshold leaves a thin
        # cracked ring that the opening would take for femoral spurs
        femur = _solid_femur(
            parting.skeleton, femur, pelvis, allowed, in_field, radius, sampling, config
        )
    if unparted:  # the joined body itself, in the sector, is the bridge
        pelvis = pelvis & ~sector
        femur = femur & ~sector
    # the femoral head is femoral-side bone too: a pelvic spur may come closest to it
    head = (dist <= hip.head_radius_mm) & (bone | metal)
    head_disk = dist <= 0.8 * hip.head_radius_mm
    head_metal = float(halo[head_disk].mean()) if head_disk.any() else 0.0
    return HipMasks(
        hip=hip,
        origin_px=(top, left),
        image=img,
        bone=bone,
        metal_halo=halo,
        metal=metal,
        allowed=allowed,
        sector=sector,
        pelvis=pelvis,
        femur=femur,
        head=head,
        bodies_joined=unparted or parting.joined_at_base,
        bodies_unparted=unparted,
        parted_at_joint=parting.joint_cut,
        spacing_mm=sampling,
        block_px=(kr, kc),
        head_metal_fraction=head_metal,
        femur_top_mm=float(v_mm[femur].max()) if femur.any() and not unparted else None,
        norm=np.asarray(norm, dtype=np.float32),
        in_field=None if in_field.all() else in_field,
    )


#: A prosthetic head at least this much metal needs nothing more (under it, the hip's record
#: says the implant was read as bone: :mod:`brooker.grading`).
PROSTHETIC_HEAD_MIN_METAL = 0.9
#: A prosthetic head's metal level is read in this fraction of its radius about the centre.
PROSTHESIS_CORE_RADII = 0.6
#: Metal of an implant whose head was not read as metal: at least this fraction of the head's
#: own level over the soft tissue (the cup and stem are as dense; bone is far below it) ...
PROSTHESIS_METAL_LEVEL = 0.85
#: ... and flat: the head's fine texture at most this fraction of that of the bone around it
#: (bone is trabecular; metal has only the film's noise) ...
PROSTHESIS_MAX_TEXTURE_RATIO = 0.6
#: ... the bone around it being what reaches this fraction of the head's level over the soft
#: tissue (short of the metal's), outside the implant's rim, within this many head radii.
PROSTHESIS_BONE_LEVEL = 0.3
PROSTHESIS_BONE_REACH_RADII = 3.0
#: How far from its flat interior (texture at most twice the head's) the implant's rim is
#: grown back, mm: the blurred edge raises the fine texture about that far inside it (the
#: film-wide :func:`brooker.localization.metal_mask` grows 2 mm on its 1 mm grid). Bone as
#: bright as the implant that touches it loses up to this much to the metal.
PROSTHESIS_RIM_MM = 3.0
#: The texture is read on the image smoothed by a Gaussian of this sigma, mm: the film's pixel
#: noise is finer than trabecular bone, and on a noisy film it makes metal look as textured as
#: bone (the team's noisy phantom heads measured 0.8-1.0 of the bone's fine texture unsmoothed,
#: 0.14-0.35 smoothed; the real films' prosthetic heads that this step looks at, 0.07-0.51
#: unsmoothed and 0.07-0.40 smoothed).
PROSTHESIS_TEXTURE_SIGMA_MM = 0.35


def prosthesis_metal(
    smooth: FloatImage,
    raw: FloatImage,
    soft: FloatImage,
    dist: npt.NDArray[np.floating],
    hip: HipJoint,
    metal: BoolImage,
    in_field: BoolImage,
    sampling: tuple[float, float],
) -> BoolImage:
    """The implant of a prosthetic hip whose head the film-wide levels did not read as metal.

    The scene's bone level is a local mean over bright pixels, and on a windowed 8-bit export
    an implant can be barely brighter than bone: near the implant the bone level is then the
    implant's own, and no part of it is "far above bone". Its head tells its level instead.
    Where ``hip``'s head (the inner ``PROSTHESIS_CORE_RADII`` of its radius) is less than
    ``PROSTHETIC_HEAD_MIN_METAL`` ``metal``, brighter than the soft tissue, and flatter than
    the bone around it (``PROSTHESIS_MAX_TEXTURE_RATIO``; the bone: ``PROSTHESIS_BONE_LEVEL``
    of the head's level, outside the implant's rim, within ``PROSTHESIS_BONE_REACH_RADII``),
    the metal is what reaches ``PROSTHESIS_METAL_LEVEL`` of the head's level over the soft
    tissue (``soft``, the scene's level) with a flat interior, its rim grown back
    ``PROSTHESIS_RIM_MM``, in the piece that holds the head (the neck and stem, and a cup that
    touches the ball on the film). Bone as bright as the implant and as smooth, within the rim
    of it, is read as metal too: by its level and texture it is the implant's. The head and
    the bone are compared on ``raw`` smoothed by ``PROSTHESIS_TEXTURE_SIGMA_MM`` (the film's
    pixel noise is not texture); the flat interior is read unsmoothed.
    ``smooth``: the ROI's image smoothed as the bone mask's; ``raw``: unsmoothed, for the
    texture; ``dist``: each ROI pixel's distance from the head's centre, mm; ``sampling``: the
    ROI's pixel size, mm. Empty where the head does not qualify.
    """
    out = np.zeros(smooth.shape, dtype=np.bool_)
    core = dist <= PROSTHESIS_CORE_RADII * hip.head_radius_mm
    if not core.any() or metal[core].mean() >= PROSTHETIC_HEAD_MIN_METAL:
        return out
    level = float(np.median(smooth[core]))
    head_contrast = level - float(np.median(soft[core]))
    if not head_contrast > 0:
        return out
    high_pass = (1.0 / sampling[0], 1.0 / sampling[1])
    cand = (smooth >= soft + PROSTHESIS_METAL_LEVEL * head_contrast) & in_field
    cand_lab, _ = ndi.label(cand)
    implant = np.isin(cand_lab, np.unique(cand_lab[core & cand]))  # what is as bright as the head
    # the bone around: bright, short of the metal, clear of the implant's blurred rim
    bone_like = (smooth > soft + PROSTHESIS_BONE_LEVEL * head_contrast) & in_field & ~cand
    bone_like &= ~within(implant, PROSTHESIS_RIM_MM, sampling)
    bone_like &= dist <= PROSTHESIS_BONE_REACH_RADII * hip.head_radius_mm
    if not bone_like.any():
        return out
    # flatter than bone above the noise's scale
    sigma = (PROSTHESIS_TEXTURE_SIGMA_MM / sampling[0], PROSTHESIS_TEXTURE_SIGMA_MM / sampling[1])
    structure = fine_texture(ndi.gaussian_filter(raw, sigma), high_pass)
    if float(np.median(structure[core])) > PROSTHESIS_MAX_TEXTURE_RATIO * float(
        np.median(structure[bone_like])
    ):
        return out
    # the flat interior: no more detail than the head's own (noise included)
    texture = fine_texture(raw, high_pass)
    head_texture = float(np.median(texture[core]))
    # (and never the outermost pixel, whatever the pitch: the ROI's own border included)
    inset = distance_transform_edt(cand, sampling) > PROSTHESIS_FLAT_INSET_MM
    inset &= ndi.binary_erosion(cand)
    flat = inset & (texture <= 2.0 * head_texture)
    grown = cand & within(flat, PROSTHESIS_RIM_MM, sampling)
    lab, n = ndi.label(grown)
    if n == 0:
        return out
    # the implant is one piece with its head: bone as bright and as smooth elsewhere is not
    # taken for it
    keep = np.zeros(n + 1, dtype=bool)
    keep[np.unique(lab[core])] = True
    keep[0] = False
    return np.asarray(keep[lab], dtype=np.bool_)


@dataclass(frozen=True, slots=True, eq=False)
class Parting:
    """The pelvis and femur bodies of one ROI, as :func:`part_bodies` found them."""

    pelvis: BoolImage
    femur: BoolImage
    radius_mm: float
    """The radius of the opening the bodies come from."""
    joined_at_base: bool
    """The first opening left the pelvis and femur one piece."""
    unparted: bool
    """No opening parted them: ``pelvis`` and ``femur`` share a joined piece."""
    skeleton: BoolImage
    """The bone (and metal) mask that was opened: later steps that reopen the bodies (round
    pelvic spurs, the solid femur) must see the same mask, or they rejoin what was parted."""
    inside: npt.NDArray[np.float64]
    """``distance_transform_edt(skeleton)``."""
    joint_cut: bool = False
    """The bodies parted only once the joint was cut out of the skeleton (:func:`part_hip`)."""


def part_bodies(
    skeleton: BoolImage,
    inside: npt.NDArray[np.float64],
    allowed: BoolImage,
    pelvis_probe: BoolImage,
    femur_probe: BoolImage,
    radii_mm: tuple[float, ...],
    sampling: tuple[float, float],
    *,
    roof_probe: BoolImage | None = None,
) -> Parting:
    """The wide bodies of the ilium and femur: ``skeleton`` opened with a disk of the first of
    ``radii_mm``, the pelvis the piece(s) covering ``pelvis_probe`` and the femur those
    covering ``femur_probe`` (``inside``: ``distance_transform_edt(skeleton)``).

    ``roof_probe`` (the acetabular roof, right above the joint) adds the piece(s) covering it
    to the pelvis: the ilium over the joint is the pelvis even when the opening cuts its link
    to the top of the ROI (a thin iliac wing there), and the bone joining it to the femur is
    then a bridge candidate, not a part of one large candidate with the ilium.

    A bridge as wide as the disk survives it and joins the two bodies: the larger disks are
    tried in turn until they part, and what the larger opening removes between them is the
    bridge. A larger disk that wipes out the femoral shaft (narrower than itself), or the
    pelvis body, parts nothing: no larger disk is tried, and the bodies are reported joined, as
    the last disk that kept both left them.
    """
    joined = joined_at_base = False
    radius = radii_mm[0]
    kept: tuple[npt.NDArray[np.int32], list[int], list[int], float] | None = None
    for i, radius in enumerate(radii_mm):
        opened = edt_open(skeleton, radius, sampling, inside) & allowed
        body_lab, _ = ndi.label(opened)
        pelvis_ids = _dominant_labels(body_lab, pelvis_probe)
        if roof_probe is not None:
            pelvis_ids = sorted(set(pelvis_ids) | set(_dominant_labels(body_lab, roof_probe)))
        femur_ids = _dominant_labels(body_lab, femur_probe)
        if not (femur_ids and pelvis_ids) and kept is not None:
            # this disk wipes out the femoral shaft (or a narrow ilium): that is no parting,
            # and a larger disk wipes it out too. The bodies stay joined, as the last disk
            # left them
            body_lab, pelvis_ids, femur_ids, radius = kept
            joined = True
            break
        joined = bool(set(pelvis_ids) & set(femur_ids))
        if i == 0:
            joined_at_base = joined
        if not joined:
            break
        kept = (body_lab, pelvis_ids, femur_ids, radius)
    pelvis = np.isin(body_lab, pelvis_ids) if pelvis_ids else np.zeros_like(allowed)
    femur = np.isin(body_lab, femur_ids) if femur_ids else np.zeros_like(allowed)
    return Parting(pelvis, femur, radius, joined_at_base, joined, skeleton, inside)


def part_hip(
    skeleton: BoolImage,
    inside: npt.NDArray[np.float64],
    allowed: BoolImage,
    pelvis_probe: BoolImage,
    femur_probe: BoolImage,
    radii_mm: tuple[float, ...],
    sampling: tuple[float, float],
    *,
    roof_probe: BoolImage | None = None,
) -> Parting:
    """:func:`part_bodies`, and when no disk parts the bodies, :func:`part_bodies` again on the
    skeleton with the joint cut out (``skeleton & allowed``).

    The skeleton is opened with the joint in it, so that the cut leaves no corners behind. But
    bone that joins the pelvis to the femur right beside the joint (a bridge hugging the head,
    over the lateral joint space) is one mass with the head, wider than every disk, and the
    joint cut alone then leaves it whole. Cut first, such a bridge is a band that a disk
    removes. (``allowed`` also leaves out the medial wedge, where pelvis and femur overlap by
    nature.) The parting found so is reported as joined at the first opening, as a bridge
    parted by a larger disk is, and with ``joint_cut``: what the cut leaves between the bodies
    is judged as any bridge candidate is, but the joint that joined them is no bridge, so a
    spur attached to them is measured as on any hip, not taken for an inferred class IV
    (:func:`brooker.measurement.measure_gap`). The returned ``skeleton`` is the cut one, for the
    steps that reopen the bodies. A retry that leaves no pelvis or femur body is no parting.
    """
    shared = (allowed, pelvis_probe, femur_probe, radii_mm, sampling)  # both partings' own
    parting = part_bodies(skeleton, inside, *shared, roof_probe=roof_probe)
    if not parting.unparted:
        return parting
    cut = skeleton & allowed
    inside_cut = distance_transform_edt(cut, sampling)
    retry = part_bodies(cut, inside_cut, *shared, roof_probe=roof_probe)
    if retry.unparted or not (retry.pelvis.any() and retry.femur.any()):
        return parting
    return dataclasses.replace(retry, joined_at_base=True, joint_cut=True)


def _pelvic_bumps(
    skeleton: BoolImage,
    inside: npt.NDArray[np.float64],
    pelvis: BoolImage,
    sector: BoolImage,
    sampling: tuple[float, float],
    config: AnalysisConfig,
    norm: FloatImage | None = None,
) -> BoolImage:
    """Round spurs on the pelvis outline that the first opening left in the body.

    A disk of ``pelvic_bump_radius_mm`` rolled inside the bone follows the ilium's long smooth
    edge but cannot reach into a knob on it: what an opening with that disk removes from the
    pelvis body, in the sector, is a bump candidate. It is a spur when it

    * is a knob, not a stretch of bone narrower than the disk: no point of it lies deeper than
      half the radius inside the bone (where the disk cannot pass, the whole width goes);
    * stands out of the rest of the pelvis by at least ``spur_min_depth_mm``;
    * lies over the ilium's edge: beside it (within ``OVERLAP_REACH_MM``) the bone is at least
      ``bump_overlap_ratio`` times as dense (in ``norm``, soft tissue 0 and bone 1) as the knob
      itself, where knob and ilium overlap and their densities add up. A lobe of the ilium's
      own outline (the anterior inferior iliac spine) is as dense as the bone beside it;
    * meets the outline at a neck on both sides: there the outline turns concave, so that a
      closing with a disk of ``bump_neck_radius_mm`` fills at least ``bump_min_neck_mm`` deep
      on each side. A corner of normal bone (the acetabular margin, the end of a wing) has no
      neck, a lobe of the ilium's own outline one at most.
    """
    radius = config.pelvic_bump_radius_mm
    none = np.zeros_like(pelvis)
    if radius <= 0:
        return none
    core = inside > radius  # ``inside``: distance_transform_edt(skeleton, sampling=sampling)
    if not core.any():
        return none
    target = pelvis & sector
    if not target.any():
        return none
    # what the disk covers, only where it matters: the box of pelvis & sector grown by the
    # radius (a disk centred farther away cannot reach into the box)
    rows, cols = np.nonzero(target.any(axis=1))[0], np.nonzero(target.any(axis=0))[0]
    box = window_around(
        (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)),
        radius + max(sampling),
        sampling,
        pelvis.shape,
    )
    smooth = np.zeros_like(pelvis)
    if core[box].any():
        # = distance_transform_edt(~core[box]) <= radius; ``within`` takes the distance map
        # only around the core itself (bone deeper than the radius is rare: often a small
        # piece of the box)
        smooth[box] = within(core[box], radius, sampling)
    residue = target & ~smooth
    lab, n = ndi.label(residue, structure=np.ones((3, 3), bool))
    if n == 0:
        return none
    px_area = sampling[0] * sampling[1]
    # the pelvis's own outline (an island or a staple beside it makes no neck): labelled over
    # the whole ROI, but only once a candidate gets as far as the neck test (most do not)
    own: BoolImage | None = None
    # a window around a candidate holds its neck and what the neck's closing disk sees
    reach = NECK_REACH_MM + 2 * config.bump_neck_radius_mm + 2.0
    bumps = none.copy()
    for i, sl in enumerate(ndi.find_objects(lab), start=1):
        if sl is None:
            continue
        comp_sl = lab[sl] == i
        if comp_sl.sum() * px_area < config.min_fragment_area_mm2:
            continue
        if float(inside[sl][comp_sl].max()) > 0.5 * radius:
            continue
        extent = max((s.stop - s.start) * mm for s, mm in zip(sl, sampling, strict=True))
        win = window_around(sl, max(reach, extent, OVERLAP_REACH_MM), sampling, pelvis.shape)
        comp = lab[win] == i
        rest = pelvis[win] & ~comp
        if not rest.any():
            continue
        depth = distance_transform_edt(~rest, sampling)[comp].max()
        if depth < config.spur_min_depth_mm:
            continue
        away = distance_transform_edt(~comp, sampling)
        if norm is not None:
            beside = norm[win][rest & (away <= OVERLAP_REACH_MM)]
            knob = float(np.median(norm[win][comp]))
            if beside.size == 0 or np.percentile(beside, 90) < config.bump_overlap_ratio * knob:
                continue
        if own is None:
            sk_lab, _ = ndi.label(skeleton)
            own = np.isin(sk_lab, np.unique(sk_lab[pelvis & (sk_lab > 0)]))
        closed = ~edt_open(~own[win], config.bump_neck_radius_mm, sampling)
        notches = closed & ~own[win]
        notch_depth = distance_transform_edt(notches, sampling) * notches
        necks, n_necks = ndi.label((away <= NECK_REACH_MM) & notches, np.ones((3, 3), bool))
        if n_necks < 2:
            continue
        ids = np.arange(1, n_necks + 1)
        deepest = np.sort(np.asarray(ndi.maximum(notch_depth, necks, ids)))
        if deepest[-2] < config.bump_min_neck_mm:  # a neck on both sides
            continue
        bumps[win] |= comp
    return bumps


def _solid_femur(
    skeleton: BoolImage,
    femur: BoolImage,
    pelvis: BoolImage,
    allowed: BoolImage,
    in_field: BoolImage,
    radius: float,
    sampling: tuple[float, float],
    config: AnalysisConfig,
) -> BoolImage:
    """The femur body with its enclosed holes filled, opened again with the same disk.

    A hole of the femur is non-bone that the femur's outline encloses once cracks narrower
    than twice ``crack_radius_mm`` are closed (the edge of the exposed field counts as
    outline, for the closing too: a shutter may cut the trochanter, and the bone mask may stop
    a sliver short of the edge): at most ``max_femur_hole_mm2``, bordering the
    femur body and not within 2 mm of the pelvis body (a pocket between a spur, the femur
    and the pelvis is the gap itself). Filling never moves the outline outwards, so a spur
    standing out of the femur still stands out of the filled one.
    """
    # only worth it where the femur has spur candidates (8-connected, as brooker.fragments
    # groups them: pieces of a ring cracked at pixel corners are one candidate there)
    cand = skeleton & allowed & ~femur & ~pelvis
    lab, n = ndi.label(cand, structure=np.ones((3, 3), bool))
    if n == 0:
        return femur
    touching = np.unique(lab[dilate_cross(femur) & cand])
    touching = touching[touching > 0]
    sizes = np.bincount(lab[cand], minlength=n + 1)[touching] * sampling[0] * sampling[1]
    focus = np.isin(lab, touching[sizes >= config.min_fragment_area_mm2])
    if not focus.any():
        return femur
    holes = _femur_holes(skeleton, femur, pelvis, in_field, focus, sampling, config)
    if not holes.any():
        return femur
    opened = edt_open(skeleton | holes, radius, sampling) & allowed
    lab, _ = ndi.label(opened)
    ids = np.unique(lab[femur & opened])
    grown = np.isin(lab, ids[ids > 0])
    if (grown & pelvis).any():  # the filled femur must not reach the pelvis body
        return femur
    return femur | grown


def _femur_holes(
    skeleton: BoolImage,
    femur: BoolImage,
    pelvis: BoolImage,
    in_field: BoolImage,
    focus: BoolImage,
    sampling: tuple[float, float],
    config: AnalysisConfig,
) -> BoolImage:
    """The femur's holes (see :func:`_solid_femur`) with the cracks that open them, looked for
    around ``focus`` (the femur's spur candidates) as far as the largest hole reaches.

    A crack that joins a hole to the outside (the window's border or the field's edge) is
    taken whole; other cracks only within ``crack_radius_mm`` of the hole (a closed pocket
    reaching into a spur's base is not the femur's)."""
    crack = config.crack_radius_mm
    out = np.zeros_like(femur)
    if crack <= 0:
        return out
    rows, cols = np.nonzero(focus)
    box = (slice(int(rows.min()), int(rows.max()) + 1), slice(int(cols.min()), int(cols.max()) + 1))
    win = window_around(box, math.sqrt(config.max_femur_hole_mm2) + crack, sampling, femur.shape)
    sk, field = skeleton[win], in_field[win]
    # the field's edge is outline for the closing too: a crack between the bone and the
    # shutter's margin is as much a crack as one between two pieces of bone
    closed = ~edt_open(~(sk | ~field), crack, sampling)
    walls = closed | ~field
    # enclosed: not connected to the window's border
    lab, n = ndi.label(~walls)
    if n == 0:
        return out
    border = np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]]))
    # the cracks, whole: a hole is opened by a crack that joins it to the outside (the
    # window's border or the field's edge), however long
    cracks = closed & ~sk & field
    crack_lab, _ = ndi.label(cracks, structure=np.ones((3, 3), bool))
    outside = ~field | np.isin(lab, border[border > 0])
    opening = np.unique(crack_lab[dilate_cross(outside) & cracks])
    px_area = sampling[0] * sampling[1]
    clear_mm = PELVIS_CLEARANCE_MM + 2 * max(sampling)
    fem, pel, found = femur[win], pelvis[win], out[win]
    for i, sl in enumerate(ndi.find_objects(lab), start=1):
        if sl is None or i in border:
            continue
        hwin = window_around(sl, clear_mm, sampling, sk.shape)
        comp = lab[hwin] == i
        if comp.sum() * px_area > config.max_femur_hole_mm2:
            continue
        ring = dilate_cross(comp) & ~comp
        if not (ring & fem[hwin]).any():
            continue
        if pel[hwin].any():
            gap = distance_transform_edt(~pel[hwin], sampling)
            if (gap[ring] <= PELVIS_CLEARANCE_MM).any():
                continue
        # the hole, the cracks beside it and the whole of those that open it to the outside
        near = distance_transform_edt(~comp, sampling) <= crack + max(sampling)
        found[hwin] |= comp | (near & cracks[hwin])
        joins = np.intersect1d(np.unique(crack_lab[hwin][ring]), opening)
        if joins.size:
            found |= np.isin(crack_lab, joins)
    return out


def _dominant_labels(lab: npt.NDArray[np.int32], probe: BoolImage) -> list[int]:
    """Labels of the components that cover most of the probe (the largest, and any >= 25 %)."""
    ids, counts = np.unique(lab[probe & (lab > 0)], return_counts=True)
    if ids.size == 0:
        return []
    order = np.argsort(-counts)
    top = counts[order[0]]
    return [int(ids[i]) for i in order if counts[i] >= 0.25 * top]
