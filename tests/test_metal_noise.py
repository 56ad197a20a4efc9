"""A prosthetic head is flat but for the film's noise: the flatness test allows for it.

``localization._metal_head`` tells a metal head from bright bone by its fine texture (at most
1.2 % of its brightness). Pixel noise gives every flat region that texture too, so the film's
noise (``localization.pixel_noise``, Immerkaer's estimator) is subtracted from it first: a
noisy film's metal head is still metal, and bone's own texture still is not.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

import brooker.phantom as ph
from brooker.config import AnalysisConfig
from brooker.dicom_io import load_radiograph
from brooker.localization import _metal_head, analyse_scene, find_hips, pixel_noise
from brooker.models import PatientSide
from brooker.phantom import HipSpec, PhantomSpec

PITCH_MM = 1.0
SIZE = 240
CENTRE = (120.0, 120.0)


def _hip(core: np.ndarray | float, noise: float, seed: int = 0) -> np.ndarray:
    """A 1 mm grid: soft tissue 100 with a gentle slope, bone 215 in a ring 30-70 mm from the
    centre, and a head 14 mm across at 230 (``core``: its grey levels), plus white noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    img = 100.0 + 0.05 * (yy - 120.0)
    d = np.hypot(yy - CENTRE[0], xx - CENTRE[1]) * PITCH_MM
    img[(d >= 40.0) & (d <= 44.0)] = 215.0
    head = d <= 14.0
    img[head] = core if np.isscalar(core) else np.asarray(core)[head]
    return (img + rng.normal(0.0, noise, img.shape)).astype(np.float32)


@pytest.mark.parametrize("sigma", [0.0, 1.0, 3.0, 6.0])
def test_the_noise_estimate_is_the_added_noise(sigma: float) -> None:
    img = _hip(230.0, sigma)
    est = pixel_noise(img, np.ones(img.shape, dtype=bool))
    # the ring's and the head's edges are few of the pixels: the median ignores them
    assert est == pytest.approx(sigma, abs=0.06 + 0.05 * sigma)


def test_too_few_pixels_give_no_estimate() -> None:
    img = _hip(230.0, 3.0)
    where = np.zeros(img.shape, dtype=bool)
    where[:6, :6] = True
    assert pixel_noise(img, where) == 0.0


def test_a_noisy_metal_head_is_metal_once_the_noise_is_allowed_for() -> None:
    img = _hip(230.0, 4.0)
    # 4 grey levels of noise is 2.7 % of the head's 130 above the film's median
    assert _metal_head(img, *CENTRE, PITCH_MM) is None
    noise = pixel_noise(img, np.ones(img.shape, dtype=bool))
    head = _metal_head(img, *CENTRE, PITCH_MM, noise)
    assert head is not None
    assert head.prosthesis
    assert np.hypot(head.row - CENTRE[0], head.col - CENTRE[1]) <= 2.0


def test_bone_texture_is_not_taken_for_noise() -> None:
    # as bright as the metal head and on the same noisy film, but with a bone's texture
    rng = np.random.default_rng(1)
    textured = 230.0 + rng.normal(0.0, 12.0, (SIZE, SIZE))
    img = _hip(textured, 4.0)
    noise = pixel_noise(img, np.ones(img.shape, dtype=bool))
    assert noise == pytest.approx(4.0, rel=0.2)
    assert _metal_head(img, *CENTRE, PITCH_MM, noise) is None


def test_a_noiseless_film_is_judged_as_before() -> None:
    img = _hip(230.0, 0.0)
    assert pixel_noise(img, np.ones(img.shape, dtype=bool)) == pytest.approx(0.0, abs=1e-6)
    assert _metal_head(img, *CENTRE, PITCH_MM, 0.0) is not None


def test_a_noisy_8_bit_film_keeps_its_prosthesis(tmp_path: Path) -> None:
    # a phantom THA brought to 8 bits, with 6 grey levels of noise: without the noise allowed
    # for, its metal head's texture fails the 1.2 % test and the hip is taken for a native one
    spec = PhantomSpec(seed=5, right=HipSpec(0, prosthesis=True), left=HipSpec(0), spacing_mm=0.4)
    film = ph.render(spec)
    rad = load_radiograph(ph.write(film, tmp_path / "film.dcm"), pixel_spacing=film.spacing)
    rng = np.random.default_rng(0)
    noisy = rad.pixels.astype(np.float32) / 16 + rng.normal(0.0, 6.0, rad.pixels.shape)
    rad = dataclasses.replace(rad, pixels=np.round(np.clip(noisy, 0, 255)).astype(np.float32))
    cfg = AnalysisConfig()
    hips = {h.patient_side: h for h in find_hips(rad, cfg, analyse_scene(rad, cfg)).hips}
    assert hips[PatientSide.RIGHT].prosthesis
    assert not hips[PatientSide.LEFT].prosthesis


def _washed_out(head_texture: float, seed: int = 2) -> np.ndarray:
    """A washed-out film (1 mm grid): soft tissue 100; bone 30-70 mm around the centre rising
    from 150 to 215 with a trabecular-like texture; a head 14 mm across and a stem 60 mm long
    below it, both at the bone's brightest (218), with ``head_texture`` grey levels of texture
    on the head."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    d = np.hypot(yy - CENTRE[0], xx - CENTRE[1]) * PITCH_MM
    img = np.full((SIZE, SIZE), 100.0)
    ring = (d >= 30.0) & (d <= 70.0)
    img[ring] = 150.0 + 65.0 * (d[ring] - 30.0) / 40.0 + rng.normal(0.0, 2.0, int(ring.sum()))
    stem = (np.abs(xx - CENTRE[1]) <= 5.0) & (yy >= CENTRE[0]) & (yy <= CENTRE[0] + 60.0)
    img[stem] = 218.0
    head = d <= 14.0
    img[head] = 218.0 + rng.normal(0.0, head_texture, int(head.sum())) if head_texture else 218.0
    return img.astype(np.float32)


def test_a_head_no_brighter_than_bone_must_be_flatter_than_that_bone() -> None:
    # flat: metal (as bright as the bone around, with a stem)
    flat = _metal_head(_washed_out(0.0), *CENTRE, PITCH_MM)
    assert flat is not None
    assert flat.prosthesis
    # a little texture, within 1.2 % of its brightness, but more than half the bone's: a smooth
    # native head on a washed-out film, not metal
    assert _metal_head(_washed_out(1.5), *CENTRE, PITCH_MM) is None


def test_an_edge_enhanced_metal_head_stays_metal() -> None:
    # unsharp masking (amount 1, a Gaussian of 3 mm) lifts the edges of the stem and of the bone
    # around well above their plateaus; the head's core, a median, stays at the metal's level.
    # The brightness gate reads the ring smoothed, so the overshoot does not outshine the head
    from scipy import ndimage as ndi

    img = _washed_out(0.0).astype(np.float64)
    sharp = (img + 1.0 * (img - ndi.gaussian_filter(img, 3.0 / PITCH_MM))).astype(np.float32)
    head = _metal_head(sharp, *CENTRE, PITCH_MM)
    assert head is not None
    assert head.prosthesis
    assert np.hypot(head.row - CENTRE[0], head.col - CENTRE[1]) <= 3.0
    # and a native head's texture still keeps it out, sharpened as well
    tex = _washed_out(1.5).astype(np.float64)
    sharp = (tex + 1.0 * (tex - ndi.gaussian_filter(tex, 3.0 / PITCH_MM))).astype(np.float32)
    assert _metal_head(sharp, *CENTRE, PITCH_MM) is None


def test_a_dark_pixel_at_the_core_does_not_make_a_stem() -> None:
    # a disk as bright as the textured bone around it and flat, with no stem below: not metal
    # (a native head on a washed-out film). The stem and the head's region were the connected
    # component of the core's centre pixel; a dark pixel there has label 0, the background,
    # which reaches every border of the window: a "stem" 70 mm long and a prosthesis flag.
    rng = np.random.default_rng(0)
    n, c = 301, 150
    yy, xx = np.mgrid[:n, :n]
    d = np.hypot(yy - c, xx - c)
    img = np.full((n, n), 100.0)
    ring = (d >= 25) & (d <= 75)
    img[ring] = 170 + rng.normal(0, 15, int(ring.sum()))
    disk = d <= 14
    img[disk] = 200 + 2 * (1 - d[disk] / 14)
    img = img.astype(np.float32)
    assert _metal_head(img, c, c, 1.0) is None
    img[c, c] = 120.0
    assert _metal_head(img, c, c, 1.0) is None
