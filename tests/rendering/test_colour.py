"""The colour thread model, thread colours and palettes (rendering.colour)."""

import numpy as np
import pytest

from rendering import InputError, Palette, PinLayout, get_chord_table, load_target, render
from rendering.colour import (LAB_FIT, THREAD_COLOURS, auto_count, auto_palette, check_palette_spec,
                              colour_snapshots, default_thread, fit_lab_matrix, hull_distance2, parse_colour,
                              parse_palette, render_colour)

BLACK = Palette(names=("black",), rgb=((0.0, 0.0, 0.0),))


@pytest.fixture(scope="module")
def table():
    return get_chord_table(PinLayout(n_pins=48, canvas=48), 4, 0.8, disk_cache=False)


def test_thread_table_has_the_common_colours():
    for name in ("black", "white", "grey", "red", "crimson", "orange", "yellow", "gold", "green", "dark-green",
                 "teal", "blue", "navy", "sky-blue", "purple", "pink", "brown", "beige"):
        assert name in THREAD_COLOURS
    assert 16 <= len(THREAD_COLOURS) <= 24
    assert parse_colour("black")[1] == (0.0, 0.0, 0.0) and parse_colour("white")[1] == (1.0, 1.0, 1.0)


def test_parse_colour_names_aliases_and_hex():
    assert parse_colour("Dark Green")[0] == "dark-green"
    assert parse_colour("gray")[0] == "grey"
    assert parse_colour("#1E90FF") == ("#1e90ff", (30 / 255, 144 / 255, 1.0))
    assert parse_colour("#f80")[1] == (1.0, 136 / 255, 0.0)
    with pytest.raises(InputError, match="unknown thread colour 'fuchsia'; use a thread name"):
        parse_colour("fuchsia", "thread colour")
    with pytest.raises(InputError, match="is not a colour: expected #rrggbb"):
        parse_colour("#12345")


def test_palette_refuses_bad_colours_in_one_line():
    cases = [("white", "white", "thread colour white is the board's colour"),
             ("black,red,black", None, "colour black is given twice"),
             ("auto:0", None, "auto:K colours must be at least 1"),
             ("black,nope", None, "unknown thread colour 'nope'"),
             ("black,,red", None, "--colors takes colours separated by commas"),
             ("auto:x", None, "--colors auto takes a count")]
    for spec, board, msg in cases:
        with pytest.raises(InputError, match=msg) as e:
            check_palette_spec(spec, board)
        assert "\n" not in str(e.value)
    assert check_palette_spec("auto:4") == (4, "white")
    assert check_palette_spec("white,red,#1e90ff", "black") == (3, "black")
    assert auto_count("auto") == 4 and auto_count("red") is None
    assert default_thread("black") == "white" and default_thread(None) == "black"


def test_black_on_white_is_the_grey_model_bit_for_bit(table):
    rng = np.random.default_rng(0)
    chords = rng.choice(table.n_chords, 300)
    for opacity in (1.0, 0.63):
        grey = render(table, chords, opacity=opacity)
        col = render_colour(table, chords, np.zeros(chords.size, int), BLACK, opacity=opacity)
        for ch in range(3):
            np.testing.assert_array_equal(col[..., ch], grey)


def test_white_on_black_is_the_negative_of_black_on_white(table):
    rng = np.random.default_rng(1)
    chords = rng.choice(table.n_chords, 200)
    white = Palette(names=("white",), rgb=((1.0, 1.0, 1.0),), board_name="black", board_rgb=(0.0, 0.0, 0.0))
    img = render_colour(table, chords, np.zeros(chords.size, int), white, opacity=0.8)
    np.testing.assert_allclose(img[..., 0], 1.0 - render(table, chords, opacity=0.8), atol=2e-6)
    assert img.min() == 0.0 and img.max() > 0.5  # a bare black board where no thread passes


def test_compositing_matches_a_numpy_reference(table):
    """Each pass C <- C (1 - a) + c a, in order, per channel (float64 per pass, float32 between)."""
    rng = np.random.default_rng(2)
    pal = Palette(names=("red", "teal", "#203040"), rgb=(parse_colour("red")[1], parse_colour("teal")[1],
                                                         parse_colour("#203040")[1]),
                  board_name="beige", board_rgb=parse_colour("beige")[1])
    chords = rng.choice(table.n_chords, 120)
    colours = rng.integers(0, 3, chords.size)
    ref = np.empty((table.n_pixels, 3), np.float32)
    ref[:] = np.asarray(pal.board_rgb, np.float32)
    o = np.float32(0.7)
    for c, k in zip(chords, colours):
        s, e = table.indptr[c], table.indptr[c + 1]
        a = (o * table.coverage[s:e]).astype(np.float64)[:, None]
        px = table.pixel[s:e]
        ref[px] = (ref[px].astype(np.float64) * (1.0 - a) + pal.colours[k][None] * a).astype(np.float32)
    got = render_colour(table, chords, colours, pal, opacity=0.7)
    np.testing.assert_array_equal(got.reshape(-1, 3), ref)
    shots = colour_snapshots(table, chords, colours, pal, [0, 50, chords.size], opacity=0.7)
    np.testing.assert_array_equal(shots[-1], got)  # drawn incrementally: the same bits
    assert np.all(shots[0] == np.asarray(pal.board_rgb, np.float32))


def test_render_colour_validates(table):
    with pytest.raises(InputError, match="one palette index per chord"):
        render_colour(table, [0, 1], [0], BLACK)
    with pytest.raises(InputError, match=r"colour indices must be in \[0, 0\]"):
        render_colour(table, [0, 1], [0, 1], BLACK)


def _hull_reference(p, verts, iters=3000):
    """Projected gradient on the simplex of weights: the distance to the hull, slowly."""
    w = np.full(len(verts), 1.0 / len(verts))
    for _ in range(iters):
        g = 2 * verts @ (verts.T @ w - p)
        w = w - 0.02 * g
        u = np.sort(w)[::-1]  # project onto the simplex
        css = np.cumsum(u) - 1
        r = np.nonzero(u - css / (np.arange(len(u)) + 1) > 0)[0][-1]
        w = np.maximum(w - css[r] / (r + 1), 0)
    return float(np.sum((verts.T @ w - p) ** 2))


def test_hull_distance_is_exact():
    rng = np.random.default_rng(3)
    verts = rng.random((5, 3))
    pts = rng.random((12, 3)) * 1.6 - 0.3
    got = hull_distance2(pts, verts)
    want = np.array([_hull_reference(p, verts) for p in pts])  # a point of the hull: an upper bound
    assert np.all(got <= want + 1e-9)
    np.testing.assert_allclose(got, want, atol=1e-5)
    inside = verts.mean(axis=0, keepdims=True)
    assert hull_distance2(inside, verts)[0] == pytest.approx(0.0, abs=1e-12)
    # adding a vertex: only the simplices with it, combined with the old distance
    old = hull_distance2(pts, verts[:4])
    np.testing.assert_allclose(np.minimum(old, hull_distance2(pts, verts, containing=4)), got, atol=1e-12)


def test_auto_palette_picks_threads_whose_mixtures_reach_the_picture():
    img = np.ones((64, 64, 3))
    img[:, :32] = parse_colour("red")[1]
    img[:32, 32:] = parse_colour("navy")[1]
    pal = auto_palette(img, 2)
    assert set(pal.names) == {"red", "navy"} and pal.board_name == "white"
    # orange pixels lie between red and yellow: red and yellow reach them (no orange thread in the candidates)
    mix = np.tile(np.asarray(parse_colour("red")[1]) * 0.5 + np.asarray(parse_colour("yellow")[1]) * 0.5,
                  (32, 32, 1))
    got = auto_palette(mix, 2, candidates=["black", "red", "yellow", "blue", "green"])
    assert set(got.names) == {"red", "yellow"}
    # a black board: never a black thread; white reaches grey pictures
    grey = np.full((32, 32, 3), 0.6)
    on_black = auto_palette(grey, 1, board="black")
    assert on_black.names == ("white",) and on_black.board_name == "black"
    with pytest.raises(InputError, match="auto:K colours must be at most"):
        auto_palette(grey, 30)


def test_parse_palette_auto_needs_the_picture_and_keeps_a_given_palette():
    with pytest.raises(InputError, match="auto:K chooses colours for a picture"):
        parse_palette("auto:2")
    pal = parse_palette("black,red,#1e90ff")
    assert pal.spec == "black,red,#1e90ff" and pal.n == 3 and pal.describe() == "black, red, #1e90ff on white"
    assert parse_palette(pal) is pal
    assert parse_palette(pal, "beige").board_name == "beige"
    assert BLACK.plain and BLACK.grey and not pal.grey


def test_lab_fit_is_the_least_squares_fit_of_cielab():
    np.testing.assert_allclose(fit_lab_matrix(), LAB_FIT, atol=5e-4)


def test_load_target_keeps_the_colour_picture():
    t = load_target("astronaut", 64, colour=True)
    assert t.rgb.shape == (64, 64, 3) and t.rgb.dtype == np.float32 and t.colour is t.rgb
    assert np.array_equal(t.image, load_target("astronaut", 64).image)  # the grey target is unchanged
    cam = load_target("camera", 64, colour=True)
    for ch in range(3):  # a grey picture: three equal channels, each the grey target
        np.testing.assert_array_equal(cam.rgb[..., ch], cam.image)
    grey = load_target("camera", 64)  # without colour: the grey picture's channels, a read-only view
    assert grey.rgb.shape == (64, 64, 3) and not grey.rgb.flags.writeable
    np.testing.assert_array_equal(grey.rgb[..., 1], grey.image)
    with pytest.raises(InputError, match="colour threads take the picture as it is"):
        load_target("astronaut", 64, colour=True, gamma=1.5)
