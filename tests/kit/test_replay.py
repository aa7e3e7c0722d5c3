"""The replay: its last frame is the preview pixel for pixel; frames capped; stages; MP4 or one line why not."""

import io

import numpy as np
import pytest
from PIL import Image

from rendering import view_scale
from kit import replay


def test_snapshots_end_at_the_preview_bit_for_bit(small_solution):
    shots = replay.snapshots(small_solution, [0, 10, small_solution.n_lines])
    assert np.all(shots[0] == 1.0)
    assert np.array_equal(shots[-1], small_solution.render())


def test_gif_last_frame_equals_the_preview(small_solution):
    frames, counts, f = replay.replay_frames(small_solution, frames=40)
    assert f == 1 and len(frames) == 40 and counts[0] == 0 and counts[-1] == small_solution.n_lines
    gif = Image.open(io.BytesIO(replay.gif_bytes(frames)))
    assert gif.n_frames == 40
    gif.seek(gif.n_frames - 1)
    last = np.asarray(gif.convert("L"))
    canvas = small_solution.problem.layout.canvas
    preview = np.asarray(Image.open(io.BytesIO(_png(small_solution.render()))))
    assert np.array_equal(last[:canvas], preview)  # the picture above the counter band
    assert last.shape[0] == canvas + replay.BAND and last[canvas:].min() == 0  # the counter is drawn


def test_a_large_canvas_is_box_averaged_and_frames_are_capped(result_dir):
    from kit import load_solution

    sol = load_solution(result_dir).solution
    frames, counts, f = replay.replay_frames(sol, frames=500, size=64)
    assert f == 2 and len(frames) == min(500, sol.n_lines + 1) and frames[0].shape == (64 + replay.BAND, 64)
    assert np.array_equal(frames[-1][:64], replay.to_u8(view_scale(sol.render(), 2)))
    assert len(replay.frame_counts(4000)) == replay.FRAMES


def test_stage_counts_and_grid(small_solution):
    assert replay.stage_counts(4000) == [500, 1000, 2000, 4000]
    assert replay.stage_counts(2500) == [500, 1000, 2000, 2500]
    assert replay.stage_counts(150) == [19, 38, 75, 150]
    assert replay.stage_counts(4000, [100, 9999, 300]) == [100, 300]
    im = Image.open(io.BytesIO(replay.stages_png(small_solution)))
    assert im.width > 4 * 96 and im.height > 96


def test_mp4_where_an_encoder_is_installed():
    why = replay.mp4_encoder()
    frames = [np.full((40, 30), v, np.uint8) for v in (255, 128, 0)]
    if why is not None:
        assert why.startswith("replay.mp4 not written: ") and "\n" not in why
        pytest.skip(why)
    data = replay.mp4_bytes(frames)
    assert data[4:8] == b"ftyp"
    import imageio.v3 as iio

    got = iio.imread(io.BytesIO(data), extension=".mp4", index=None)
    assert got.shape[1:3] == (48, 32)  # padded to multiples of 16


def _png(img):
    from kit.results import png_bytes

    return png_bytes(img)
