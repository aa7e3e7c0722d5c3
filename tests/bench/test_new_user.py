"""What a new user tripped on (issue 23): each defect found in a fresh clone, with a test that failed before."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import time
import zlib

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from bench.cli import app

runner = CliRunner()


def _bench(*args, **kw):
    return runner.invoke(app, [str(a) for a in args], **kw)


def png16(path, arr: np.ndarray) -> None:
    """A 16-bit PNG (grey, RGB or RGBA) written by hand: Pillow writes 16-bit grey only."""
    h, w = arr.shape[:2]
    channels = 1 if arr.ndim == 2 else arr.shape[2]
    raw = b"".join(b"\x00" + arr[y].astype(">u2").tobytes() for y in range(h))

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    head = struct.pack(">IIBBBBB", w, h, 16, {1: 0, 3: 2, 4: 6}[channels], 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", head) + chunk(b"IDAT", zlib.compress(raw))
                     + chunk(b"IEND", b""))


# ------------------------------------------------------------------------------ 3: every mode Pillow hands back
@pytest.fixture(scope="module")
def camera8():
    import skimage.data

    return skimage.data.camera()


def test_a_16_bit_png_is_the_picture_not_white(tmp_path, camera8):
    from rendering.target import read_picture

    Image.fromarray(camera8.astype(np.uint16) * 257).save(tmp_path / "c16.png")  # mode I;16
    grey, rgb, _ = read_picture(tmp_path / "c16.png")
    np.testing.assert_allclose(grey, camera8 / 255.0, atol=1e-6)
    r = _bench("solve", tmp_path / "c16.png", "--pins", 64, "--lines", 400, "--canvas", 96, "--out", tmp_path / "o")
    assert r.exit_code == 0, r.output
    rows = {ln.split()[0]: ln.split() for ln in r.output.splitlines() if ln.startswith(("greedy-view ", "bare "))}
    assert float(rows["greedy-view"][2]) < float(rows["bare"][3]) - 0.1  # L1 far below the bare board's


def test_16_bit_grey_tiff_and_16_bit_rgb_png(tmp_path, camera8):
    import skimage.data

    from rendering.target import read_picture

    Image.fromarray(camera8.astype(np.uint16) * 257).save(tmp_path / "c16.tif")
    np.testing.assert_allclose(read_picture(tmp_path / "c16.tif")[0], camera8 / 255.0, atol=1e-6)
    ast = skimage.data.astronaut()
    png16(tmp_path / "rgb16.png", ast.astype(np.uint16) * 257)
    np.testing.assert_allclose(read_picture(tmp_path / "rgb16.png")[1], ast / 255.0, atol=1 / 255)
    png16(tmp_path / "g16.png", camera8.astype(np.uint16) * 257)
    np.testing.assert_allclose(read_picture(tmp_path / "g16.png")[0], camera8 / 255.0, atol=1e-6)


def test_cmyk_jpeg_reads_as_its_colours(tmp_path):
    import skimage.data

    from rendering.target import read_picture

    ast = skimage.data.astronaut()
    Image.fromarray(ast).convert("CMYK").save(tmp_path / "c.jpg", quality=95)
    assert Image.open(tmp_path / "c.jpg").mode == "CMYK"
    _, rgb, _ = read_picture(tmp_path / "c.jpg")
    assert np.abs(rgb - ast / 255.0).mean() < 0.02


def test_transparency_becomes_the_board_colour(tmp_path):
    from solvers import Problem

    img = np.zeros((64, 64, 4), np.uint8)
    img[16:48, 16:48] = (200, 40, 40, 255)  # an opaque square on a see-through ground
    pal = Image.fromarray(img, "RGBA").quantize(4)
    pal.save(tmp_path / "p.png", transparency=int(np.asarray(pal)[0, 0]))
    assert Image.open(tmp_path / "p.png").mode == "P"
    on_black = Problem.create(str(tmp_path / "p.png"), pins=32, lines=10, canvas=64, board="black")
    assert on_black.target.rgb[2, 2].max() < 0.01 and on_black.palette.board_name == "black"
    on_white = Problem.create(str(tmp_path / "p.png"), pins=32, lines=10, canvas=64)
    assert on_white.target.image[2, 2] > 0.99


@pytest.mark.parametrize("suffix", [".gif", ".webp"])
def test_an_animation_gives_its_first_frame_and_a_note(tmp_path, suffix):
    frames = [Image.new("RGB", (64, 64), (30, 30, 30)), Image.new("RGB", (64, 64), (220, 220, 220))]
    frames[0].save(tmp_path / f"a{suffix}", save_all=True, append_images=frames[1:])
    r = _bench("solve", tmp_path / f"a{suffix}", "--pins", 32, "--lines", 20, "--canvas", 64, "--out", tmp_path)
    assert r.exit_code == 0, r.output
    assert "an animation of 2 frames: its first frame is used" in r.output


def test_heic_through_the_plugin_and_avif_through_pillow(tmp_path, monkeypatch):
    import skimage.data

    from rendering import InputError
    from rendering.target import read_picture

    ast = skimage.data.astronaut()
    Image.fromarray(ast).save(tmp_path / "a.avif")
    assert np.abs(read_picture(tmp_path / "a.avif")[1] - ast / 255.0).mean() < 0.03
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    Image.fromarray(ast).save(tmp_path / "a.heic")
    assert np.abs(read_picture(tmp_path / "a.heic")[1] - ast / 255.0).mean() < 0.03
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # as if not installed
    with pytest.raises(InputError, match=r"needs the pillow-heif plugin: pip install 'stringart-bench\[heic\]'"):
        read_picture(tmp_path / "a.heic")


# ------------------------------------------------------------------------------ 2, 6, 7, 8: checked first
def test_a_kit_no_one_can_print_is_refused_before_any_work(tmp_path):
    t = time.perf_counter()
    r = _bench("solve", "camera", "--kit", "--frame-mm", 20000, "--out", tmp_path / "x")
    assert r.exit_code == 2 and time.perf_counter() - t < 5
    assert "--frame-mm 20000 needs a drill template of" in r.output and "at most 400" in r.output
    assert not (tmp_path / "x").exists()


def test_the_pin_spacing_error_names_an_option_of_bench_solve(tmp_path):
    r = _bench("solve", "camera", "--kit", "--pins", 720, "--frame-mm", 300, "--out", tmp_path / "x")
    assert r.exit_code == 2 and "--pin-mm" in r.output
    r = _bench("solve", "camera", "--kit", "--pins", 720, "--frame-mm", 300, "--pin-mm", 1.0, "--lines", 50,
               "--canvas", 64, "--out", tmp_path / "y")
    assert r.exit_code == 0, r.output  # bench solve has --pin-mm: the suggestion works


def test_a_1_mm_frame_names_the_frame_not_memory(tmp_path):
    r = _bench("solve", "camera", "--frame-mm", 1, "--out", tmp_path / "x")
    assert r.exit_code == 2 and r.output.startswith("error: --frame-mm must be at least")
    assert "memory" not in r.output and "--canvas" not in r.output


def test_an_unwritable_out_is_caught_before_the_solve():
    r = _bench("solve", "camera", "--out", "/proc/stringart-x")
    assert r.exit_code == 2 and "choose another --out" in r.output
    assert "solving with" not in r.output and "chord table" not in r.output


# ------------------------------------------------------------------------------ 9: a spool that draws nothing
def test_a_thread_that_draws_nothing_is_said_and_left_out_of_the_kit(tmp_path):
    img = np.ones((96, 96), np.float32)
    img[:, :48] = 0.0  # black and white only: dithering never takes the yellow
    Image.fromarray((img * 255).astype(np.uint8)).save(tmp_path / "bw.png")
    r = _bench("solve", tmp_path / "bw.png", "--colors", "black,yellow", "--solver", "colour-dither", "--pins", 48,
               "--lines", 120, "--canvas", 96, "--kit", "--frame-mm", 300, "--out", tmp_path / "o")
    assert r.exit_code == 0, r.output
    assert "note: thread yellow drew no line" in r.output
    txt = (tmp_path / "o" / "instructions.txt").read_text()
    assert "Spools:  black" in txt and "yellow" not in txt


# ------------------------------------------------------------------------------ 10: whole help lines
def test_help_shows_every_commands_whole_line():
    """As a terminal shows it (click shortens a command's line to 45 characters unless told its whole line)."""
    r = subprocess.run([sys.executable, "-c", "from bench.cli import app; app()", "--help"], capture_output=True,
                       text=True, timeout=120, env=dict(os.environ, COLUMNS="100", TERM="dumb"))
    commands = r.stdout.split("Commands")[1]
    assert r.returncode == 0 and "..." not in commands and "…" not in commands, r.stdout
    assert ("Build the maker's kit of a result: template (SVG, tiled PDF), instructions (PDF, TXT)"
            in " ".join(commands.split()))  # wrapped to the terminal, never cut


# ------------------------------------------------------------------------------ 5: the first-run notice
def test_a_warm_default_solve_neither_announces_nor_starts_a_compile(tmp_path):
    from rendering import needs_compiling
    from solvers import Problem, make_solver

    solver = make_solver("greedy-view")
    problem = Problem.create("camera", pins=64, lines=60, canvas=64)
    solver.solve(problem)
    for k in solver.jit_kernels():  # every kernel it lists is one its run compiles (or loads)
        assert k.signatures, f"greedy-view lists {k.__name__}, which its default path never runs"
    assert not needs_compiling(*solver.jit_kernels())
    r = _bench("solve", "camera", "--pins", 64, "--lines", 60, "--canvas", 64, "--out", tmp_path)
    assert r.exit_code == 0 and "compiling kernels" not in r.output


# ------------------------------------------------------------------------------ 4: the same threads on any CPU
_LEARNED = """
import hashlib
from learned.inference import refined_projection_scores
from solvers import Problem, make_solver
p = Problem.create("camera", pins=288, lines=300, canvas=128)
scores = refined_projection_scores(p, steps=2)  # what the decoder ranks: every bit of it
print(hashlib.sha1(scores.tobytes()).hexdigest(), make_solver("projection+refine").solve(p, rng=0).path.tolist())
"""


def test_a_learned_solver_draws_the_same_thread_whatever_kernels_the_cpu_offers():
    pytest.importorskip("torch")

    def run(**env):
        e = {k: v for k, v in os.environ.items() if k not in ("ATEN_CPU_CAPABILITY", "STRINGART_TORCH_NATIVE")}
        out = subprocess.run([sys.executable, "-c", _LEARNED], env={**e, **env}, capture_output=True, text=True,
                             timeout=300)
        assert out.returncode == 0, out.stderr
        return out.stdout

    # an AVX2 (or AVX-512) machine would pick other kernels; pinned, torch takes its baseline ones everywhere
    assert run(ATEN_CPU_CAPABILITY="avx2") == run(ATEN_CPU_CAPABILITY="default")
    # the pin is what makes it so: let torch choose, and another kernel set gives another thread
    assert run(STRINGART_TORCH_NATIVE="1", ATEN_CPU_CAPABILITY="avx2") != \
        run(STRINGART_TORCH_NATIVE="1", ATEN_CPU_CAPABILITY="default")
