"""The maker's kit for colour threads: instructions per spool with the switch points, the replay in colour
ending at the preview, the result read back with its colours, the winding assistant naming the spool."""

import io
import json

import numpy as np
import pytest
from PIL import Image

from kit import Geometry, KitOptions, build_kit, load_solution
from kit.results import write_result
from kit import instructions, replay
from kit.wind import Winder


@pytest.fixture(scope="module")
def colour_solution():
    from rendering import ThreadModel
    from solvers import Problem, make_solver

    p = Problem.create("astronaut", pins=48, lines=300, canvas=96, colors="black,red,#1e90ff",
                       thread=ThreadModel(frame_mm=300.0))
    sol = make_solver("colour-greedy", min_run=30).solve(p)
    assert len(sol.runs()) >= 3  # the kit is about spool switches
    return sol


def test_instructions_per_spool(colour_solution):
    geo = Geometry.from_solution(colour_solution, 1.5)
    runs = colour_solution.runs()
    bl = instructions.blocks(geo)
    for _, first, last in bl:  # a block never spans two spools, and holds at most 100 lines
        assert last - first < instructions.BLOCK
        assert len(set(colour_solution.colours[first:last + 1].tolist())) == 1
    assert sum(last - first + 1 for _, first, last in bl) == colour_solution.n_lines
    txt = instructions.instructions_txt(geo, title="t").decode()
    assert "Spools:" in txt and f"{len(runs) - 1} spool switches" in txt
    names = colour_solution.problem.palette.names
    pairs = colour_solution.pin_pairs()
    for i, (c, a, _) in enumerate(runs):  # each switch names the spool and where to tie it on or pick it up
        verb = "pick it up" if any(r[0] == c for r in runs[:i]) else "tie it on"
        assert f"SPOOL {names[c].upper()}: {verb} at pin {int(pairs[a, 0])}" in txt
    assert "tie off each spool at its last pin" in txt
    # the cells are the next pins of the spool's own thread
    first_block = [ln for ln in txt.splitlines() if ln.strip().startswith("1 |")][0]
    assert first_block.split("|")[1].split()[:3] == [str(int(v)) for v in pairs[:3, 1]]
    pdf = instructions.instructions_pdf(geo, title="t")
    assert pdf.startswith(b"%PDF")


def test_replay_ends_at_the_colour_preview(colour_solution):
    shots = replay.snapshots(colour_solution, [0, 100, colour_solution.n_lines])
    assert shots[0].shape == (96, 96, 3) and np.all(shots[0] == 1.0)
    assert np.array_equal(shots[-1], colour_solution.render())
    frames, counts, f = replay.replay_frames(colour_solution, frames=20)
    assert frames[-1].shape == (96 + replay.BAND, 96, 3)
    gif = Image.open(io.BytesIO(replay.gif_bytes(frames)))
    assert gif.n_frames == 20
    im = Image.open(io.BytesIO(replay.stages_png(colour_solution)))
    assert im.mode == "RGB"


def test_kit_and_result_round_trip(colour_solution, tmp_path):
    write_result(colour_solution, tmp_path, stem="c")
    kit = build_kit(colour_solution, tmp_path, KitOptions(mp4=False))
    assert {"instructions.pdf", "instructions.txt", "preview_real.png", "replay.gif", "stages.png",
            "template.svg"} <= set(kit.files)
    with Image.open(kit.files["preview_real.png"]) as im:
        px = np.asarray(im.convert("RGB")).reshape(-1, 3)
        assert {tuple(v) for v in px[:: max(1, len(px) // 20000)]} > {(255, 255, 255)}  # coloured threads
    for source in (tmp_path, tmp_path / "c.json", tmp_path / "c.txt"):
        again = load_solution(source).solution
        assert len(again.threads) > 1 and np.array_equal(again.colours, colour_solution.colours)
        assert np.array_equal(again.chords, colour_solution.chords)
        for a, b in zip(again.paths, colour_solution.paths):
            assert np.array_equal(a, b) or (a.size <= 1 and b.size <= 1)
        assert again.problem.palette == colour_solution.problem.palette
    doc = json.loads((tmp_path / "c.json").read_text())
    doc["runs"][0]["pins"] = [0, 999]
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    from rendering import InputError

    with pytest.raises(InputError, match="names pin 999"):
        load_solution(tmp_path / "bad.json")


def test_winding_assistant_names_the_spool(colour_solution):
    geo = Geometry.from_solution(colour_solution, 1.5)
    w = Winder(geo, None, title="t", ascii_only=True)
    names = colour_solution.problem.palette.names
    runs = colour_solution.runs()
    c, a, b = runs[1]
    w.go(a + 1)
    text = w.screen()
    assert f"spool {names[c]} · block" in text and f"spool {names[c]}: tie it on at pin" in text
    w.go(b + 1)  # the last line of the run: then the next spool
    assert f"switch to spool {names[runs[2][0]]}" in w.screen()
    w.go(colour_solution.n_lines)
    w.next()
    assert "tie off spool" in w.screen()
