"""The thread forming line by line: a GIF, an MP4 and a grid of stages.

Snapshots are the preview (the multiplicative thread model on the shared chord table) after ``k``
lines, drawn incrementally: each snapshot applies only the lines since the previous one, with exactly
the arithmetic of :func:`rendering.render` (each pass ``1 - opacity * coverage`` in float64, rounded to
float32, in thread order), so the snapshot after the last line is the preview, bit for bit (a test
checks). Frames are box-averaged to at most ``size`` pixels (:func:`rendering.view_scale`) and quantized
as :func:`rendering.fileio.png_bytes` does; a band under the picture carries the line counter, so the
picture's pixels are the preview's.

The MP4 goes through imageio's ffmpeg plugin (``pip install imageio-ffmpeg``, the ``kit`` extra); where
no encoder is installed, :func:`mp4_bytes` says so in one line and the kit goes on without it.
"""

from __future__ import annotations

import io
import math

import numpy as np

from rendering import view_scale

#: the replay's frames at most, its picture's side at most (px), seconds per frame, last frame held (s)
FRAMES = 120
SIZE = 256
FRAME_S = 0.08
HOLD_S = 2.5
BAND = 32
STAGES = (500, 1000, 2000, 4000)


def to_u8(image: np.ndarray) -> np.ndarray:
    """(H, W) or (H, W, 3) float in [0, 1] -> uint8, rounded as :func:`rendering.fileio.png_bytes` does."""
    return np.clip(np.round(np.asarray(image) * 255.0), 0, 255).astype(np.uint8)


def frame_counts(n_lines: int, frames: int = FRAMES) -> np.ndarray:
    """The line counts shown: 0 (the bare board) to ``n_lines``, evenly spaced, at most ``frames`` of them."""
    m = max(2, min(int(frames), n_lines + 1))
    return np.unique(np.round(np.linspace(0, n_lines, m)).astype(np.int64))


def stage_counts(n_lines: int, stages=None) -> list[int]:
    """The snapshots of the stages grid: 500/1000/2000/4000 lines where there are that many (the last is
    always the whole thread), else eighths, quarters and halves of it."""
    if stages:
        got = sorted({int(s) for s in stages if 0 < int(s) <= n_lines})
        return got or [n_lines]
    base = [s for s in STAGES if s < n_lines] + [n_lines]
    if len(base) < 4:
        base = sorted({max(1, round(n_lines * f)) for f in (1 / 8, 1 / 4, 1 / 2, 1)})
    return base


def _view(img: np.ndarray, f: int) -> np.ndarray:
    """:func:`rendering.view_scale` of a grey or colour picture."""
    if img.ndim == 3:
        return np.stack([view_scale(img[..., i], f) for i in range(img.shape[2])], axis=-1)
    return view_scale(img, f)


def snapshots(solution, counts) -> "list[np.ndarray]":
    """Previews after each of ``counts`` lines (ascending), drawn incrementally with the renderer's arithmetic
    (:meth:`rendering.PictureModel.snapshots`: the one after the last line is the preview, bit for bit)."""
    from rendering import picture_model

    p = solution.problem
    return picture_model(p.palette).snapshots(p.table, solution.chords, solution.colours, p.palette, counts,
                                              opacity=p.thread.opacity)


def replay_scale(canvas: int, size: int = SIZE) -> int:
    """The box-averaging factor that brings the canvas to at most ``size`` px."""
    return max(1, math.ceil(canvas / size))


def _font(px: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=px)
    except TypeError:  # Pillow without FreeType sizes
        return ImageFont.load_default()


def counter_frame(picture: np.ndarray, text: str, *, band: int = BAND) -> np.ndarray:
    """(h + band, w) uint8 (or (h + band, w, 3) for a colour picture): the picture over a white band with
    ``text`` (the line counter)."""
    from PIL import Image, ImageDraw

    h, w = picture.shape[:2]
    mode = "RGB" if picture.ndim == 3 else "L"
    im = Image.new(mode, (w, h + band), (255, 255, 255) if mode == "RGB" else 255)
    im.paste(Image.fromarray(picture, mode), (0, 0))
    d = ImageDraw.Draw(im)
    d.fontmode = "1"  # black and white text: grey edges would cost the GIF a palette of their own (+70 %)
    d.line([(0, h), (w, h)], fill=0)
    d.text((w / 2, h + band / 2), text, fill=0, font=_font(max(10, band // 2)), anchor="mm")
    return np.asarray(im)


def replay_frames(solution, *, frames: int = FRAMES, size: int = SIZE) -> tuple[list[np.ndarray], np.ndarray, int]:
    """The frames (uint8, picture over its counter band), the line counts they show, and the scale factor."""
    counts = frame_counts(solution.n_lines, frames)
    f = replay_scale(solution.problem.layout.canvas, size)
    n = solution.n_lines
    out = [counter_frame(to_u8(_view(img, f)), f"line {int(k):>{len(str(n))}d} / {n}")
           for k, img in zip(counts, snapshots(solution, counts))]
    return out, counts, f


def gif_bytes(frames: list[np.ndarray], *, frame_s: float = FRAME_S, hold_s: float = HOLD_S) -> bytes:
    """An animated, looping GIF (Pillow), the last frame held ``hold_s`` seconds."""
    from PIL import Image

    ims = [Image.fromarray(f, "RGB" if f.ndim == 3 else "L") for f in frames]
    durations = [int(round(frame_s * 1000))] * (len(ims) - 1) + [int(round(hold_s * 1000))]
    buf = io.BytesIO()
    ims[0].save(buf, "GIF", save_all=True, append_images=ims[1:], duration=durations, loop=0)
    return buf.getvalue()


def mp4_encoder() -> str | None:
    """Why no MP4 can be written here (one line), or None when imageio's ffmpeg plugin has an encoder."""
    try:
        import imageio  # noqa: F401  (its ffmpeg plugin writes the MP4)
        import imageio_ffmpeg
    except ImportError:
        return ("replay.mp4 not written: no MP4 encoder installed (pip install 'stringart-bench[kit]', which "
                "brings imageio-ffmpeg); replay.gif has the same frames")
    try:
        imageio_ffmpeg.get_ffmpeg_exe()
    except Exception as e:  # noqa: BLE001  (no binary for this platform, a broken install)
        return f"replay.mp4 not written: imageio-ffmpeg has no ffmpeg here ({str(e).splitlines()[0]})"
    return None


def mp4_bytes(frames: list[np.ndarray], *, frame_s: float = FRAME_S, hold_s: float = HOLD_S) -> bytes:
    """An H.264 MP4 of the frames (imageio + imageio-ffmpeg), the last frame held ``hold_s`` seconds.

    Frames are padded with white to even multiples of 16 px; metadata without dates (``-bitexact``).
    """
    import os
    import tempfile

    import imageio.v2 as imageio

    fps = max(1, int(round(1.0 / frame_s)))
    h, w = frames[0].shape[:2]
    H, W = -(-h // 16) * 16, -(-w // 16) * 16
    with tempfile.TemporaryDirectory(prefix="stringart-mp4-") as tmp:
        path = os.path.join(tmp, "replay.mp4")
        writer = imageio.get_writer(path, format="FFMPEG", mode="I", fps=fps, codec="libx264", quality=8,
                                    pixelformat="yuv420p", macro_block_size=16, ffmpeg_log_level="error",
                                    output_params=["-fflags", "+bitexact", "-flags:v", "+bitexact",
                                                   "-map_metadata", "-1", "-threads", "1"])
        try:
            hold = max(1, int(round(hold_s * fps)))
            for i, f in enumerate(frames):
                f3 = f if f.ndim == 3 else np.repeat(f[:, :, None], 3, axis=2)
                rgb = np.full((H, W, 3), 255, np.uint8)
                rgb[:h, :w] = f3
                for _ in range(hold if i == len(frames) - 1 else 1):
                    writer.append_data(rgb)
        finally:
            writer.close()
        with open(path, "rb") as fh:
            return fh.read()


def stages_png(solution, *, stages=None, panel: int = 512) -> bytes:
    """A row of snapshots (e.g. 500/1000/2000/4000 lines), each labelled with its lines and thread length."""
    from PIL import Image, ImageDraw

    counts = stage_counts(solution.n_lines, stages)
    f = replay_scale(solution.problem.layout.canvas, panel)
    shots = [to_u8(_view(img, f)) for img in snapshots(solution, counts)]
    h, w = shots[0].shape[:2]
    pad, band = 12, 40
    mode = "RGB" if shots[0].ndim == 3 else "L"
    im = Image.new(mode, (len(shots) * (w + pad) + pad, h + 2 * pad + band), (255, 255, 255) if mode == "RGB" else 255)
    d = ImageDraw.Draw(im)
    pairs = solution.pin_pairs()
    pos = solution.problem.layout.positions
    seg_m = np.hypot(*(pos[pairs[:, 0]] - pos[pairs[:, 1]]).T) / solution.problem.thread.px_per_mm(
        solution.problem.layout.span_px) / 1000.0
    cum = np.concatenate([[0.0], np.cumsum(seg_m)])
    font = _font(18)
    for i, (k, shot) in enumerate(zip(counts, shots)):
        x = pad + i * (w + pad)
        im.paste(Image.fromarray(shot, mode), (x, pad))
        d.text((x + w / 2, pad + h + band / 2 + 2), f"{k} lines · {cum[k]:.0f} m", fill=0, font=font, anchor="mm")
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()
