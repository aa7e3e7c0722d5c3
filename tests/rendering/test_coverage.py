"""The chord table against an obviously-correct supersampled NumPy reference."""

import multiprocessing as mp
import os

import numpy as np
import pytest

from rendering import ChordTable, InputError, PinLayout, build_chord_table, get_chord_table
from rendering import chords as chords_mod


def reference_coverage(p, q, width, canvas, samples=48):
    """Area of each pixel inside the flat-capped strip of ``width`` around segment p-q, by point sampling."""
    p, q = np.asarray(p, float), np.asarray(q, float)
    t = (q - p) / np.linalg.norm(q - p)
    n = np.array([-t[1], t[0]])
    L = np.linalg.norm(q - p)
    off = (np.arange(samples) + 0.5) / samples
    sx, sy = np.meshgrid(off, off)
    out = np.zeros((canvas, canvas))
    for y in range(canvas):
        for x in range(canvas):
            rx, ry = x + sx - p[0], y + sy - p[1]
            d = rx * n[0] + ry * n[1]
            u = rx * t[0] + ry * t[1]
            out[y, x] = np.mean((np.abs(d) <= width / 2) & (u >= 0) & (u <= L))
    return out


def dense(table: ChordTable, c: int) -> np.ndarray:
    img = np.zeros(table.n_pixels)
    pix, cov = table.chord_pixels(c)
    np.add.at(img, pix, cov)
    return img.reshape(table.shape)


@pytest.mark.parametrize("width", [0.3, 1.0, 2.5])
def test_coverage_matches_the_supersampled_reference(width):
    lay = PinLayout(n_pins=9, canvas=24)
    table = build_chord_table(lay, 1, width)
    for c in [0, 3, 7, 11, 20, 30]:  # chords at many angles
        i, j = table.chords.pins(c)
        ref = reference_coverage(lay.positions[i], lay.positions[j], width, lay.canvas)
        got = dense(table, c)
        assert np.abs(got - ref).max() < 0.06, (c, np.abs(got - ref).max())
        assert got.sum() == pytest.approx(ref.sum(), rel=0.02)


@pytest.mark.parametrize("width", [0.05, 0.17, 1.0, 3.0])
def test_summed_coverage_is_width_times_length_at_every_angle(width):
    table = build_chord_table(PinLayout(n_pins=90, canvas=256), 10, width)
    ratio = table.coverage_sums() / (width * table.lengths_px())
    assert np.abs(ratio - 1).max() < 0.03


def test_coverage_values_and_pixels_are_valid():
    table = build_chord_table(PinLayout(n_pins=40, canvas=64), 4, 0.7)
    assert table.indptr[0] == 0 and table.indptr[-1] == table.nnz
    assert np.all(np.diff(table.indptr) > 0)
    assert table.coverage.min() > 0 and table.coverage.max() <= 1
    assert table.pixel.min() >= 0 and table.pixel.max() < 64 * 64
    for c in range(0, table.n_chords, 37):
        pix, _ = table.chord_pixels(c)
        assert len(np.unique(pix)) == len(pix)  # each pixel once per chord


def test_wide_thread_saturates_at_full_coverage():
    table = build_chord_table(PinLayout(n_pins=8, canvas=32), 2, 4.0)
    assert table.coverage.max() == pytest.approx(1.0)


def test_bad_width_is_one_clear_line():
    with pytest.raises(InputError, match="thread width must be greater than 0, got -1"):
        build_chord_table(PinLayout(n_pins=8, canvas=32), 2, -1.0)
    with pytest.raises(InputError, match="thread width must be greater than 0, got 0"):
        get_chord_table(PinLayout(n_pins=8, canvas=32), 2, 0.0)


def test_disk_cache_round_trip(tmp_path, monkeypatch):
    monkeypatch.setenv("STRINGART_CACHE_DIR", str(tmp_path))
    lay = PinLayout(n_pins=30, canvas=48)
    chords_mod.clear_memory_cache()
    a = get_chord_table(lay, 3, 0.5)
    entries = [p for p in tmp_path.iterdir() if (p / "info.json").is_file()]
    assert len(entries) == 1 and a.cache_key == entries[0].name
    chords_mod.clear_memory_cache()
    b = get_chord_table(lay, 3, 0.5)
    assert a is not b
    for name in ("indptr", "pixel", "coverage"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        assert getattr(a, name).dtype == getattr(b, name).dtype and not getattr(b, name).flags.writeable
    assert get_chord_table(lay, 3, 0.5) is b  # memory cache
    assert get_chord_table(lay, 3, 0.6) is not b  # every parameter is in the key
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == 2
    # a corrupt cache file is rebuilt, not trusted
    chords_mod.clear_memory_cache()
    (entries[0] / "pixel.npy").write_bytes(b"garbage")
    c = get_chord_table(lay, 3, 0.5)
    np.testing.assert_array_equal(a.coverage, c.coverage)
    chords_mod.clear_memory_cache()
    np.testing.assert_array_equal(get_chord_table(lay, 3, 0.5).pixel, a.pixel)  # stored again


def _build_in_child(cache, out_queue):
    os.environ["STRINGART_CACHE_DIR"] = cache
    t = get_chord_table(PinLayout(n_pins=60, canvas=96), 5, 0.4)
    out_queue.put(float(t.coverage.sum()))


def test_two_processes_building_the_same_table_at_once(tmp_path):
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_build_in_child, args=(str(tmp_path), q)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    sums = [q.get(timeout=5) for _ in procs]
    assert all(p.exitcode == 0 for p in procs)
    assert sums[0] == sums[1]
    assert len([p for p in tmp_path.iterdir() if (p / "info.json").is_file()]) == 1
    assert not list(tmp_path.glob(".*"))  # no temporary folder left behind


def test_pixel_major_copy_is_kept_in_the_disk_cache(tmp_path, monkeypatch):
    from rendering.derived import pixel_table

    monkeypatch.setenv("STRINGART_CACHE_DIR", str(tmp_path))
    lay = PinLayout(n_pins=30, canvas=48)
    chords_mod.clear_memory_cache()
    built = pixel_table(get_chord_table(lay, 3, 0.5))
    chords_mod.clear_memory_cache()
    table = get_chord_table(lay, 3, 0.5)
    loaded = pixel_table(table)
    assert (tmp_path / table.cache_key / "pixel_major_chord.npy").is_file()
    for name in ("indptr", "chord", "coverage"):
        a, b = getattr(built, name), getattr(loaded, name)
        np.testing.assert_array_equal(a, b)
        assert a.dtype == b.dtype and not b.flags.writeable


def test_table_size_estimate_is_close_to_the_built_table():
    for pins, canvas, gap, width in ((64, 64, 4, 0.2), (120, 160, 10, 1.5), (288, 256, 20, 0.09)):
        lay = PinLayout(n_pins=pins, canvas=canvas)
        t = get_chord_table(lay, gap, width, disk_cache=False)
        size = chords_mod.table_size(lay, gap, width)
        assert t.nnz <= size["entries"] <= 1.15 * t.nnz
        assert t.nbytes <= size["table_bytes"] <= 1.15 * t.nbytes


def test_a_table_too_big_for_memory_is_refused_before_anything_is_built(tmp_path, monkeypatch):
    monkeypatch.setenv("STRINGART_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("STRINGART_MAX_MEMORY_GB", "0.002")
    chords_mod.clear_memory_cache()
    with pytest.raises(InputError, match=r"chord table for 64 pins at 256 px would take about .* lower --canvas "
                                         r"\(about \d+ px fits\) or --pins"):
        get_chord_table(PinLayout(n_pins=64, canvas=256), 4, 0.5)
    assert not list(tmp_path.iterdir())
    get_chord_table(PinLayout(n_pins=16, canvas=32), 2, 0.5)  # a small one still fits


def test_cache_lists_trims_least_recently_used_and_clears(tmp_path, monkeypatch):
    import time

    from rendering import cache

    monkeypatch.setenv("STRINGART_CACHE_DIR", str(tmp_path))
    chords_mod.clear_memory_cache()
    lays = [PinLayout(n_pins=24, canvas=c) for c in (32, 40, 48)]
    for lay in lays:
        get_chord_table(lay, 3, 0.5)
        time.sleep(0.02)
    items = cache.entries()
    assert len(items) == 3 and items[0]["info"]["canvas"] == 48  # most recently used first
    (tmp_path / "old-format.npz").write_bytes(b"x" * 10)
    assert any(e["info"].get("stale") for e in cache.entries())
    keep = sum(e["bytes"] for e in items[:2])
    cache.trim(keep)
    left = {e["info"].get("canvas") for e in cache.entries()}
    assert 32 not in left and 48 in left  # the least recently used went first
    n, freed = cache.clear()
    assert n >= 2 and freed > 0 and cache.entries() == []
