import numpy as np
import pytest
from PIL import Image

from rendering import BUILTIN_IMAGES, InputError, load_target


@pytest.mark.parametrize("name", list(BUILTIN_IMAGES))
def test_builtin_images_load_offline(name):
    t = load_target(name, 64)
    assert t.image.shape == (64, 64) and t.image.dtype == np.float32
    assert 0 <= t.image.min() < t.image.max() <= 1
    assert t.name == name


def test_array_inputs_of_every_kind():
    rgb = np.zeros((30, 50, 3), dtype=np.uint8)
    rgb[:, 25:] = 255
    t = load_target(rgb, 16)
    assert t.image.shape == (16, 16)
    # centre crop keeps the middle 30x30: left half black, right half white
    assert t.image[:, :6].max() < 0.05 and t.image[:, -6:].min() > 0.95
    np.testing.assert_allclose(load_target(np.full((20, 20), 0.25), 16).image, 0.25, atol=1e-6)
    assert load_target(np.ones((20, 20), dtype=bool), 16).image.min() == 1.0
    rgba = np.zeros((20, 20, 4), dtype=np.uint8)  # fully transparent -> white
    assert load_target(rgba, 16).image.min() == pytest.approx(1.0)


def test_contrast_and_gamma():
    arr = np.linspace(0.3, 0.6, 400).reshape(20, 20)
    stretched = load_target(arr, 16, contrast=True).image
    assert stretched.min() < 0.05 and stretched.max() > 0.95
    g = load_target(np.full((20, 20), 0.5), 16, gamma=2.0).image
    np.testing.assert_allclose(g, 0.25, atol=1e-6)


def test_file_with_exif_rotation(tmp_path):
    arr = np.zeros((20, 40), dtype=np.uint8)
    arr[:, :20] = 255  # left half white
    im = Image.fromarray(arr)
    exif = im.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    path = tmp_path / "rot.jpg"
    im.save(path, exif=exif, quality=95)
    t = load_target(path, 20)
    # displayed upright the image is 20 wide, 40 tall with the white half on top
    assert t.image[:5].mean() > 0.9 and t.image[-5:].mean() < 0.1
    assert t.name == "rot.jpg"


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="image file '.*nope.png' not found; pass an existing file or a built-in"):
        load_target(tmp_path / "nope.png", 32)
    with pytest.raises(InputError, match="'kamera' is neither a file nor a built-in image"):
        load_target("kamera", 32)


def test_file_that_is_not_an_image(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("hello")
    with pytest.raises(InputError, match="is not an image Pillow can read"):
        load_target(path, 32)


def test_empty_and_tiny_images(tmp_path):
    with pytest.raises(InputError, match="is empty"):
        load_target(np.zeros((0, 10)), 32)
    with pytest.raises(InputError, match="is 3x2 pixels; expected at least 8x8"):
        load_target(np.zeros((2, 3)), 32)
    path = tmp_path / "tiny.png"
    Image.fromarray(np.zeros((4, 4), dtype=np.uint8)).save(path)
    with pytest.raises(InputError, match="tiny.png' is 4x4 pixels"):
        load_target(path, 32)


def test_bad_values():
    with pytest.raises(InputError, match=r"expected \[0, 1\] \(divide uint8 data by 255\)"):
        load_target(np.full((20, 20), 3.0), 32)
    with pytest.raises(InputError, match="NaN"):
        load_target(np.full((20, 20), np.nan), 32)
    with pytest.raises(InputError, match="canvas must be at least 16, got 8"):
        load_target("camera", 8)


def test_builtin_samples_are_scikit_images_own_pixels():
    import skimage.data

    from rendering.target import BUILTIN_IMAGES

    for name in ("camera", "astronaut", "coffee", "chelsea", "moon", "coins", "rocket"):
        ours = BUILTIN_IMAGES[name][0]()
        theirs = getattr(skimage.data, name)()
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape, name
        np.testing.assert_array_equal(ours, theirs, err_msg=name)


def test_a_picture_already_at_the_canvas_size_is_what_resize_gives():
    from skimage.transform import resize

    from rendering.target import prepare_image

    g = np.random.default_rng(0).random((64, 64)).astype(np.float32)
    ref = np.clip(resize(g, (64, 64), order=1, anti_aliasing=False, preserve_range=True), 0, 1).astype(np.float32)
    np.testing.assert_array_equal(prepare_image(g, 64), ref)
