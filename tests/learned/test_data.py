"""Data: folder recursion, corrupt files, the offline pool's held-out set, augmentation consistency."""

import numpy as np
import pytest
from PIL import Image

from learned.data import (HELD_OUT, CropDataset, ImageFolder, chord_permutation, flip, is_validation, load_pool,
                          pin_permutation, rotate_pins)
from rendering import ChordSet, InputError, PinLayout, get_chord_table


def _write(folder, name, size=(40, 30), value=None):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(name))
    arr = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8) if value is None else \
        np.full((size[1], size[0], 3), value, np.uint8)
    Image.fromarray(arr).save(path)
    return path


def test_folder_is_recursive_and_counts_corrupt_files(tmp_path):
    _write(tmp_path, "a.png")
    _write(tmp_path, "sub/b.jpg")
    _write(tmp_path, "sub/deeper/c.bmp")
    _write(tmp_path, "tiny.png", size=(5, 5))
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg at all")
    (tmp_path / "sub" / "cut.png").write_bytes((tmp_path / "a.png").read_bytes()[:40])
    (tmp_path / "notes.txt").write_text("ignored")
    folder = ImageFolder(tmp_path)
    assert folder.names == ["a.png", "sub/b.jpg", "sub/deeper/c.bmp"]
    assert sorted(folder.skipped) == ["broken.jpg", "sub/cut.png"]
    assert folder.too_small == 1
    assert "3 images" in folder.report() and "2 unreadable skipped" in folder.report()
    img = folder.images[0]
    assert img.dtype == np.float32 and img.shape == (30, 40) and 0 <= img.min() <= img.max() <= 1


def test_folder_errors_are_one_line(tmp_path):
    with pytest.raises(InputError, match="--data must be a folder of images"):
        ImageFolder(tmp_path / "nope")
    (tmp_path / "x.png").write_bytes(b"junk")
    with pytest.raises(InputError, match=r"no readable images under .* \(1 unreadable\)"):
        ImageFolder(tmp_path)


def test_offline_pool_holds_out_the_benchmark_images():
    images, names, report = load_pool(None)
    assert len(images) > 200
    srcs = {n.split(":", 1)[1] for n in names if not n.startswith("lfw:")}
    assert not srcs & set(HELD_OUT)
    assert {"camera", "astronaut", "chelsea", "cat", "grace_hopper"} <= set(HELD_OUT)
    assert "held out" in report
    # the pool's pictures differ from every held-out picture (cat is chelsea under another name)
    from rendering import BUILTIN_IMAGES

    held = {BUILTIN_IMAGES[n][0]().shape[:2] for n in BUILTIN_IMAGES}
    assert any(n.startswith("lfw:") for n in names)
    assert all(is_validation(f"lfw:{k}") == (k % 10 == 0) for k in range(30))
    assert held  # loaded fine


def test_crops_are_deterministic_and_split(tmp_path):
    for k in range(6):
        _write(tmp_path, f"img{k}.png", size=(80, 60))
    folder = ImageFolder(tmp_path)
    a = CropDataset(folder.images, folder.names, size=32, n_train=5, n_val=2, seed=3, n_pins=16)
    b = CropDataset(folder.images, folder.names, size=32, n_train=5, n_val=2, seed=3, n_pins=16)
    np.testing.assert_array_equal(a.train, b.train)
    assert a.train.shape == (5, 32, 32) and a.val.shape == (2, 32, 32)
    batches = list(a.train_batches(2, np.random.default_rng(0)))
    assert [len(x) for x in batches] == [2, 2, 1]


def test_pin_permutation_matches_layout_geometry():
    lay = PinLayout(n_pins=12, canvas=64)
    pos = lay.positions - lay.center
    k = 3  # a quarter turn clockwise
    perm = pin_permutation(12, k)
    # clockwise quarter turn in image coords (y down): (x, y) -> (-y, x)
    np.testing.assert_allclose(pos[perm], np.stack([-pos[:, 1], pos[:, 0]], 1), atol=1e-9)
    permf = pin_permutation(12, 0, flipped=True)
    np.testing.assert_allclose(pos[permf], np.stack([-pos[:, 0], pos[:, 1]], 1), atol=1e-9)


@pytest.mark.parametrize("k, flipped", [(5, False), (0, True), (7, True)])
def test_augmentation_shifts_chord_labels_consistently(k, flipped):
    """Rotating a picture by k pin steps (and flipping it) permutes its chord projections."""
    n, canvas = 48, 96
    lay = PinLayout(n_pins=n, canvas=canvas)
    table = get_chord_table(lay, 4, 0.3, disk_cache=False)
    cs = table.chords
    yy, xx = np.mgrid[0:canvas, 0:canvas] + 0.5
    img = np.clip(0.5 + 0.4 * np.sin(xx / 9.0) * np.cos(yy / 13.0) + 0.1 * (xx > 60), 0, 1).astype(np.float32)

    def proj(im):
        dark = 1.0 - im.ravel().astype(np.float64)
        owner = np.repeat(np.arange(cs.n_chords), np.diff(table.indptr))
        num = np.bincount(owner, weights=table.coverage * dark[table.pixel], minlength=cs.n_chords)
        return num / table.coverage_sums()

    aug = flip(img) if flipped else img
    aug = rotate_pins(aug, k, n)
    perm = chord_permutation(cs, k, flipped)
    assert (perm >= 0).all() and len(np.unique(perm)) == cs.n_chords
    before, after = proj(img), proj(aug)
    # chord c of the original is chord perm[c] of the augmented picture
    inside = cs.pin_b - cs.pin_a  # every chord (they all stay inside the frame)
    err = np.abs(after[perm] - before)
    assert np.median(err) < 0.01 and np.corrcoef(after[perm], before)[0, 1] > 0.99
    # and a wrong shift does not match
    wrong = chord_permutation(cs, k + 3, flipped)
    assert np.corrcoef(after[wrong], before)[0, 1] < 0.9
    assert inside.size == cs.n_chords


def test_chord_permutation_is_identity_at_zero():
    cs = ChordSet.build(PinLayout(n_pins=10, canvas=32), 2)
    np.testing.assert_array_equal(chord_permutation(cs, 0), np.arange(cs.n_chords))
    np.testing.assert_array_equal(chord_permutation(cs, 10), np.arange(cs.n_chords))
