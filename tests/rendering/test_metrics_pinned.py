"""Every metric of :mod:`rendering.metrics` against an independent computation, and pinned.

The references below are written from the definitions, in plain NumPy, without
scikit-image or SciPy:

* SSIM (Wang et al. 2004) as scikit-image computes it: a 7x7 uniform window,
  the picture extended by reflection at its edges (``d c b a | a b c d``, SciPy's
  ``reflect``), sample (co)variances (divided by 48, not 49), ``C1 = (0.01 R)^2``,
  ``C2 = (0.03 R)^2`` with the data range ``R = 1``; the map is averaged over the
  frame's pixels only;
* the viewing scale: a box average of ``VIEW_SCALE x VIEW_SCALE`` blocks, the
  viewed frame = blocks at least half inside;
* CIEDE2000 from the published formula (Sharma, Wu, Dalal 2005), checked on
  pairs of their test data; sRGB -> CIELAB with scikit-image's constants
  (its sRGB matrix, D65 white (0.95047, 1, 1.08883), the 0.008856 / 7.787 knee);
* the sigma = 2 px Gaussian blur: a separable kernel cut at 4 sigmas, edge
  pixels repeated (scikit-image's ``filters.gaussian`` defaults).

Beside each comparison with the reference, the values are pinned as numbers
(computed with these references on 2026-12-07, numpy 2.4, scikit-image 0.26),
so a change that moves the code and a reference together still shows.

An audit found two broken metrics the older suite let through: SSIM's
``data_range`` set to 4 (every SSIM ~0.2 higher) and the SSIM map averaged over
the whole canvas instead of the frame. Both fail here (the tests named
``..._data_range_...`` and ``..._over_the_frame...`` say by how much).
"""

from __future__ import annotations

import numpy as np
import pytest

from rendering.metrics import (
    BLUR_METRICS,
    METRICS,
    reference_scores,
    reference_scores_blurred,
    score,
    score_blurred,
    score_colour,
)
from rendering.raster import VIEW_SCALE

TIGHT = dict(rel=1e-7, abs=1e-9)  # code against reference: the same arithmetic up to rounding (float32 views)
PINNED = dict(rel=1e-6, abs=1e-9)  # against the printed numbers


# ---------------------------------------------------------------------------- the pinned inputs
def _grid(n: int):
    y, x = np.mgrid[0:n, 0:n].astype(np.float64)
    return y, x


def pinned_grey(n: int = 56):
    """A target, a preview and a disc frame from closed formulas (no random stream to drift)."""
    y, x = _grid(n)
    c = (n - 1) / 2
    rim = ((y - c) ** 2 + (x - c) ** 2) / c ** 2  # brighter corners: the frame's mean tone is not the canvas's
    target = np.clip(0.45 + 0.3 * np.sin(x / 4.0) * np.cos(y / 6.0) + 0.1 * np.sin((x + 2 * y) / 1.7) + 0.25 * rim,
                     0.0, 1.0)
    strokes = 0.5 + 0.5 * np.cos((x - y) * 1.3)  # thread-like diagonal texture
    preview = np.clip(target * (1.0 - 0.45 * strokes) + 0.25 * np.sin(y / 5.0) ** 2 - 0.15 * np.cos(x / 7.0),
                      0.0, 1.0)
    mask = (y - c) ** 2 + (x - c) ** 2 <= (0.43 * n) ** 2
    return preview, target, mask


def pinned_colour(n: int = 24):
    y, x = _grid(n)
    target = np.stack([0.5 + 0.4 * np.sin(x / 3.0), 0.5 + 0.4 * np.cos(y / 4.0), 0.5 + 0.3 * np.sin((x + y) / 5.0)],
                      axis=-1)
    preview = np.clip(target[..., ::-1] * 0.8 + 0.1 * np.cos(x / 2.0)[..., None], 0.0, 1.0)
    c = (n - 1) / 2
    mask = (y - c) ** 2 + (x - c) ** 2 <= (0.45 * n) ** 2
    return preview, target, mask


# ---------------------------------------------------------------------------- independent references
def ref_ssim_map(a: np.ndarray, b: np.ndarray, *, data_range: float = 1.0, win: int = 7) -> np.ndarray:
    """The SSIM map of two pictures: 7x7 uniform window, reflect padding, sample covariance."""
    r = win // 2
    n = win * win

    def mean(img):
        p = np.pad(img, r, mode="symmetric")  # SciPy's "reflect": the edge pixel repeated
        out = np.zeros_like(img)
        for dy in range(win):
            for dx in range(win):
                out += p[dy:dy + img.shape[0], dx:dx + img.shape[1]]
        return out / n

    ua, ub = mean(a), mean(b)
    va = (mean(a * a) - ua * ua) * n / (n - 1)
    vb = (mean(b * b) - ub * ub) * n / (n - 1)
    cab = (mean(a * b) - ua * ub) * n / (n - 1)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    return (2 * ua * ub + c1) * (2 * cab + c2) / ((ua ** 2 + ub ** 2 + c1) * (va + vb + c2))


def ref_box(img: np.ndarray, k: int) -> np.ndarray:
    """Mean of every k x k block (the canvas cropped to a multiple of k), one block at a time."""
    h, w = img.shape[0] // k, img.shape[1] // k
    out = np.empty((h, w))
    for i in range(h):
        for j in range(w):
            out[i, j] = img[i * k:(i + 1) * k, j * k:(j + 1) * k].astype(np.float64).sum() / (k * k)
    return out


def ref_three(p: np.ndarray, t: np.ndarray, mask: np.ndarray, *, data_range: float = 1.0) -> dict:
    """SSIM (map averaged over the frame), L1 and PSNR of pictures already white outside the frame."""
    d = p[mask] - t[mask]
    mse = float(np.sum(d * d) / d.size)
    return {"ssim": float(ref_ssim_map(t, p, data_range=data_range)[mask].sum() / mask.sum()),
            "l1": float(np.sum(np.abs(d)) / d.size),
            "psnr": float("inf") if mse == 0 else float(10.0 * np.log10(1.0 / mse))}


def ref_score(preview, target, mask, *, factor: int = VIEW_SCALE) -> dict:
    p = np.where(mask, preview, 1.0)
    t = np.where(mask, target, 1.0)
    full = ref_three(p, t, mask)
    k = max(1, min(factor, min(mask.shape) // 7))
    # the viewed pictures are float32 (as rendering.view_scale returns them), then compared in float64
    pv = ref_box(p, k).astype(np.float32).astype(np.float64)
    tv = ref_box(t, k).astype(np.float32).astype(np.float64)
    mv = ref_box(mask.astype(np.float64), k) >= 0.5
    view = ref_three(pv, tv, mv)
    return {**view, **{f"{k_}_full": v for k_, v in full.items()}}


def ref_gaussian(img: np.ndarray, sigma: float = 2.0, truncate: float = 4.0) -> np.ndarray:
    """Separable Gaussian blur, edge pixels repeated outside the picture."""
    r = int(truncate * sigma + 0.5)
    x = np.arange(-r, r + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    k /= k.sum()
    out = img.astype(np.float64)
    for axis in (0, 1):
        p = np.pad(out, [(r, r) if a == axis else (0, 0) for a in (0, 1)], mode="edge")
        acc = np.zeros_like(out)
        for i, w in enumerate(k):
            sl = [slice(None), slice(None)]
            sl[axis] = slice(i, i + out.shape[axis])
            acc += w * p[tuple(sl)]
        out = acc
    return out


def ref_blurred(preview, target, mask, sigma: float = 2.0) -> dict:
    p = ref_gaussian(np.where(mask, preview, 1.0), sigma)
    t = ref_gaussian(np.where(mask, target, 1.0), sigma)
    r = ref_three(p, t, mask)
    return {"ssim_blur2": r["ssim"], "psnr_blur2": r["psnr"]}


# sRGB -> CIELAB (D65, 2 degree observer) with scikit-image's constants
_XYZ_FROM_RGB = np.array([[0.412453, 0.357580, 0.180423],
                          [0.212671, 0.715160, 0.072169],
                          [0.019334, 0.119193, 0.950227]])
_D65 = np.array([0.95047, 1.0, 1.08883])


def ref_lab(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb, np.float64)
    lin = np.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    xyz = lin @ _XYZ_FROM_RGB.T / _D65
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16.0 / 116.0)
    return np.stack([116.0 * f[..., 1] - 16.0, 500.0 * (f[..., 0] - f[..., 1]), 200.0 * (f[..., 1] - f[..., 2])],
                    axis=-1)


def ref_ciede2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 (kL = kC = kH = 1) as Sharma, Wu and Dalal (2005) write it, equations (1)-(22)."""
    L1, a1, b1 = np.moveaxis(np.asarray(lab1, np.float64), -1, 0)
    L2, a2, b2 = np.moveaxis(np.asarray(lab2, np.float64), -1, 0)
    C1, C2 = np.hypot(a1, b1), np.hypot(a2, b2)
    Cbar = (C1 + C2) / 2
    G = 0.5 * (1 - np.sqrt(Cbar ** 7 / (Cbar ** 7 + 25.0 ** 7)))
    a1p, a2p = (1 + G) * a1, (1 + G) * a2
    C1p, C2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360.0
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360.0
    h1p = np.where((b1 == 0) & (a1p == 0), 0.0, h1p)
    h2p = np.where((b2 == 0) & (a2p == 0), 0.0, h2p)
    dLp = L2 - L1
    dCp = C2p - C1p
    dh = h2p - h1p
    dhp = np.where(C1p * C2p == 0, 0.0, np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh)))
    dHp = 2 * np.sqrt(C1p * C2p) * np.sin(np.radians(dhp) / 2)
    Lbp = (L1 + L2) / 2
    Cbp = (C1p + C2p) / 2
    hs = h1p + h2p
    hbp = np.where(C1p * C2p == 0, hs,
                   np.where(np.abs(h1p - h2p) <= 180, hs / 2, np.where(hs < 360, (hs + 360) / 2, (hs - 360) / 2)))
    T = (1 - 0.17 * np.cos(np.radians(hbp - 30)) + 0.24 * np.cos(np.radians(2 * hbp))
         + 0.32 * np.cos(np.radians(3 * hbp + 6)) - 0.20 * np.cos(np.radians(4 * hbp - 63)))
    dtheta = 30 * np.exp(-(((hbp - 275) / 25) ** 2))
    Rc = 2 * np.sqrt(Cbp ** 7 / (Cbp ** 7 + 25.0 ** 7))
    Sl = 1 + 0.015 * (Lbp - 50) ** 2 / np.sqrt(20 + (Lbp - 50) ** 2)
    Sc = 1 + 0.045 * Cbp
    Sh = 1 + 0.015 * Cbp * T
    Rt = -np.sin(np.radians(2 * dtheta)) * Rc
    return np.sqrt((dLp / Sl) ** 2 + (dCp / Sc) ** 2 + (dHp / Sh) ** 2 + Rt * (dCp / Sc) * (dHp / Sh))


def ref_score_colour(preview, target, mask, *, board=(1.0, 1.0, 1.0), factor: int = VIEW_SCALE) -> dict:
    b = np.asarray(board, np.float64)
    p = np.where(mask[..., None], preview, b)
    t = np.where(mask[..., None], target, b)
    luma = np.array([0.2125, 0.7154, 0.0721])  # Rec. 709, skimage.color.rgb2gray's weights
    full = ref_three(p @ luma, t @ luma, mask)
    k = max(1, min(factor, min(mask.shape) // 7))
    pv = np.stack([ref_box(p[..., c], k) for c in range(3)], -1).astype(np.float32).astype(np.float64)
    tv = np.stack([ref_box(t[..., c], k) for c in range(3)], -1).astype(np.float32).astype(np.float64)
    mv = ref_box(mask.astype(np.float64), k) >= 0.5
    view = ref_three(pv @ luma, tv @ luma, mv)
    de_full = float(ref_ciede2000(ref_lab(t[mask]), ref_lab(np.clip(p[mask], 0, 1))).mean())
    de_view = float(ref_ciede2000(ref_lab(tv[mv]), ref_lab(np.clip(pv[mv], 0, 1))).mean())
    return {**view, **{f"{k_}_full": v for k_, v in full.items()}, "de2000": de_view, "de2000_full": de_full}


# ---------------------------------------------------------------------------- the references hold on their own
#: pairs from Sharma, Wu and Dalal (2005), table 1 (pairs 1-3, 7, 13, 15, 17-20, 25, 34): Lab 1, Lab 2, dE00
SHARMA = [((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
          ((50.0, 3.1571, -77.2803), (50.0, 0.0, -82.7485), 2.8615),
          ((50.0, 2.8361, -74.0200), (50.0, 0.0, -82.7485), 3.4412),
          ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
          ((50.0, 2.49, -0.001), (50.0, -2.49, 0.0009), 7.1792),  # the hue mean's discontinuity, both sides
          ((50.0, 2.49, -0.001), (50.0, -2.49, 0.0011), 7.2195),
          ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
          ((50.0, 2.5, 0.0), (61.0, -5.0, 29.0), 22.8977),
          ((50.0, 2.5, 0.0), (56.0, -27.0, -3.0), 31.9030),
          ((50.0, 2.5, 0.0), (58.0, 24.0, 15.0), 19.4535),
          ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
          ((2.0776, 0.0795, -1.1350), (0.9033, -0.0636, -0.5514), 0.9082)]


def test_the_ciede2000_reference_gives_sharmas_published_values():
    lab1 = np.array([s[0] for s in SHARMA])
    lab2 = np.array([s[1] for s in SHARMA])
    expected = np.array([s[2] for s in SHARMA])
    np.testing.assert_allclose(ref_ciede2000(lab1, lab2), expected, atol=5e-5)
    np.testing.assert_allclose(ref_ciede2000(lab2, lab1), expected, atol=5e-5)  # symmetric


def test_the_lab_reference_on_known_colours():
    lab = ref_lab(np.array([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.5, 0.5, 0.5]]))
    np.testing.assert_allclose(lab[0], [100.0, 0.0, 0.0], atol=1e-2)  # the 6-digit matrix: ~0.005 off
    np.testing.assert_allclose(lab[1], [0.0, 0.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(lab[2], [53.24, 80.09, 67.20], atol=0.01)  # sRGB red, as colour tables list it
    np.testing.assert_allclose(lab[3, 1:], 0.0, atol=1e-2)  # grey is neutral


def test_the_ssim_reference_on_closed_form_cases():
    y, x = _grid(20)
    a = 0.5 + 0.4 * np.sin(x / 2.0 + y / 3.0)
    assert np.allclose(ref_ssim_map(a, a), 1.0)
    # a constant offset only touches the luminance term: (2 u (u + d) + C1) / (u^2 + (u + d)^2 + C1)
    flat = np.full((20, 20), 0.3)
    m = ref_ssim_map(flat, flat + 0.2)
    c1 = 0.01 ** 2
    assert np.allclose(m, (2 * 0.3 * 0.5 + c1) / (0.3 ** 2 + 0.5 ** 2 + c1))


# ---------------------------------------------------------------------------- score
#: score(*pinned_grey()) as the references computed it
PINNED_SCORE = {"ssim": 0.8511926437051334, "l1": 0.1054415558775266, "psnr": 17.544228643123173,
                "ssim_full": 0.6220176819893984, "l1_full": 0.14012968550680047, "psnr_full": 15.283014425842385}


def test_score_equals_the_independent_computation_and_the_pinned_values():
    preview, target, mask = pinned_grey()
    got = score(preview, target, mask)
    ref = ref_score(preview, target, mask)
    assert set(got) == set(METRICS)
    for k in METRICS:
        assert got[k] == pytest.approx(ref[k], **TIGHT), k
        assert got[k] == pytest.approx(PINNED_SCORE[k], **PINNED), k


def test_score_at_another_viewing_factor_and_a_plain_square_frame():
    preview, target, _ = pinned_grey(42)
    mask = np.zeros((42, 42), bool)
    mask[5:37, 3:40] = True  # not a multiple of the factor: the viewed frame is the blocks half inside
    for factor in (1, 2, 3):
        got, ref = score(preview, target, mask, factor=factor), ref_score(preview, target, mask, factor=factor)
        for k in METRICS:
            assert got[k] == pytest.approx(ref[k], **TIGHT), (factor, k)
    full = ref_score(preview, target, mask)["ssim_full"]
    assert score(preview, target, mask, factor=1)["ssim"] == pytest.approx(full)


def test_ssim_data_range_is_one():
    """The data range enters C1 and C2: with 4 instead of 1 this picture's SSIM rises by more than 0.05."""
    preview, target, mask = pinned_grey()
    p, t = np.where(mask, preview, 1.0), np.where(mask, target, 1.0)
    wrong = float(ref_ssim_map(t, p, data_range=4.0)[mask].mean())
    right = float(ref_ssim_map(t, p, data_range=1.0)[mask].mean())
    assert wrong - right > 0.05  # the check below can tell them apart
    assert score(preview, target, mask)["ssim_full"] == pytest.approx(right, abs=1e-9)


def test_ssim_is_averaged_over_the_frame_only():
    """Outside the frame both pictures are white, where SSIM is 1: a canvas-wide mean is higher by > 0.1 here."""
    preview, target, mask = pinned_grey()
    p, t = np.where(mask, preview, 1.0), np.where(mask, target, 1.0)
    smap = ref_ssim_map(t, p)
    assert smap[~mask].mean() > 0.9 and smap.mean() - smap[mask].mean() > 0.1
    got = score(preview, target, mask)
    assert got["ssim_full"] == pytest.approx(smap[mask].mean(), abs=1e-9)
    assert got["ssim"] == pytest.approx(ref_score(preview, target, mask)["ssim"], **TIGHT)


def test_l1_is_a_mean_absolute_difference_and_psnr_is_decibels_of_the_mse():
    mask = np.ones((28, 28), bool)
    t = np.full((28, 28), 0.5)
    p = t.copy()
    p[::2] += 0.2  # half the pixels 0.2 off: L1 = 0.1, MSE = 0.02
    m = score(p, t, mask, factor=1)
    assert m["l1_full"] == pytest.approx(0.1) and m["psnr_full"] == pytest.approx(10 * np.log10(1 / 0.02))
    assert m["l1_full"] != pytest.approx(0.02)  # not squared


def test_identical_pictures_and_the_garbage_outside_the_frame():
    preview, target, mask = pinned_grey()
    noisy = np.where(mask, target, 1.0 - target)
    m = score(noisy, target, mask)
    assert m["ssim"] == pytest.approx(1.0) and m["ssim_full"] == pytest.approx(1.0)
    assert m["l1"] == 0.0 and m["psnr"] == float("inf") and m["psnr_full"] == float("inf")


# ---------------------------------------------------------------------------- reference canvases
PINNED_REFERENCES = {"blank": {"ssim": 0.01837999248268661, "l1": 0.4283463962376118, "psnr": 6.787109617166158},
                     "flat": {"ssim": 0.7048381112473859, "l1": 0.1148785836994648, "psnr": 16.917853155123936}}


def test_reference_scores_equal_the_independent_computation():
    _, target, mask = pinned_grey()
    got = reference_scores(target, mask)
    flat = float(target[mask].sum() / mask.sum())  # the mean tone *inside the frame*
    refs = {"blank": ref_score(np.ones_like(target), target, mask),
            "flat": ref_score(np.full_like(target, flat), target, mask)}
    for name in ("blank", "flat"):
        for k in METRICS:
            assert got[name][k] == pytest.approx(refs[name][k], **TIGHT), (name, k)
        for k, v in PINNED_REFERENCES[name].items():
            assert got[name][k] == pytest.approx(v, **PINNED), (name, k)
    assert abs(flat - float(target.mean())) > 0.05  # so a canvas-wide mean would show


# ---------------------------------------------------------------------------- colour
PINNED_COLOUR = {"de2000": 21.663005519437657, "de2000_full": 23.649482385507763, "ssim": 0.9572356740102319,
                 "l1": 0.10076063566631425}


@pytest.mark.parametrize("board", [(1.0, 1.0, 1.0), (0.1, 0.1, 0.12)])
def test_score_colour_equals_the_independent_computation(board):
    preview, target, mask = pinned_colour()
    got = score_colour(preview, target, mask, board=board)
    ref = ref_score_colour(preview, target, mask, board=board)
    for k in (*METRICS, "de2000", "de2000_full"):
        assert got[k] == pytest.approx(ref[k], rel=1e-7, abs=1e-9), k  # Lab in float64 both ways
    if board == (1.0, 1.0, 1.0):
        for k, v in PINNED_COLOUR.items():
            assert got[k] == pytest.approx(v, **PINNED), k


def test_the_luminance_is_rec709_luma():
    """A picture that differs only in a chroma direction (equal luma) has perfect luminance scores."""
    n = 21
    mask = np.ones((n, n), bool)
    y, x = _grid(n)
    target = np.stack([0.5 + 0.2 * np.sin(x / 3), 0.5 + 0.1 * np.cos(y / 2), np.full((n, n), 0.5)], -1)
    luma = np.array([0.2125, 0.7154, 0.0721])
    shift = np.cross(luma, [0.0, 0.0, 1.0])  # orthogonal to the luma weights
    preview = target + 0.05 * shift / np.abs(shift).max()
    m = score_colour(preview, target, mask)
    assert m["l1_full"] == pytest.approx(0.0, abs=1e-12) and m["ssim_full"] == pytest.approx(1.0)
    assert m["de2000_full"] > 0.5  # the colour difference is seen by CIEDE2000 only


# ---------------------------------------------------------------------------- the published protocol (blur2)
PINNED_BLUR = {"ssim_blur2": 0.7249898953576148, "psnr_blur2": 18.324023651393578}


def test_score_blurred_equals_the_independent_computation_and_the_pinned_values():
    preview, target, mask = pinned_grey()
    got = score_blurred(preview, target, mask)
    assert set(got) == set(BLUR_METRICS)
    ref = ref_blurred(preview, target, mask)
    for k in BLUR_METRICS:
        assert got[k] == pytest.approx(ref[k], **TIGHT), k
        assert got[k] == pytest.approx(PINNED_BLUR[k], **PINNED), k
    # the blur is sigma = 2 px, not 1, and it is applied to both pictures
    assert ref_blurred(preview, target, mask, sigma=1.0)["ssim_blur2"] < got["ssim_blur2"] - 0.01
    one_sided = ref_three(ref_gaussian(np.where(mask, preview, 1.0)), np.where(mask, target, 1.0), mask)
    assert abs(one_sided["ssim"] - got["ssim_blur2"]) > 0.05


def test_blurred_references_and_bad_input():
    from rendering import InputError

    preview, target, mask = pinned_grey()
    refs = reference_scores_blurred(target, mask)
    flat = float(target[mask].mean())
    assert refs["flat"]["ssim_blur2"] == pytest.approx(ref_blurred(np.full_like(target, flat), target, mask)
                                                       ["ssim_blur2"], **TIGHT)
    assert refs["blank"]["psnr_blur2"] == pytest.approx(ref_blurred(np.ones_like(target), target, mask)
                                                        ["psnr_blur2"], **TIGHT)
    assert score_blurred(target, target, mask) == {"ssim_blur2": pytest.approx(1.0), "psnr_blur2": float("inf")}
    with pytest.raises(InputError, match=r"blur sigma must be a positive number of pixels, got 0") as e:
        score_blurred(preview, target, mask, sigma=0)
    assert "\n" not in str(e.value)
    with pytest.raises(InputError, match="must have one"):
        score_blurred(preview[:-1], target, mask)
    with pytest.raises(InputError, match="frame mask is empty"):
        score_blurred(preview, target, np.zeros_like(mask))
