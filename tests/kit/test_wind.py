"""`bench wind`: scripted keys through typer's CliRunner, progress saved and resumed; a real terminal under tmux."""

import json
import os
import shutil
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from bench.cli import app
from kit import load_solution
from kit.geometry import Geometry
from kit.wind import Winder, big_text

runner = CliRunner()


def _progress(folder):
    return json.loads((folder / "camera-greedy-300.wind.json").read_text())


def test_keys_move_and_progress_is_saved_and_resumed(result_copy):
    path = load_solution(result_copy).solution.path
    res = runner.invoke(app, ["wind", str(result_copy)], input="\n \n\nb")  # 4 lines on, 1 back, end of input
    assert res.exit_code == 0, res.output
    assert _progress(result_copy)["done"] == 3
    assert "block 1 of 3 · line 1 of 300" in res.stdout and f"tie on at pin {path[0]}, then to pin" in res.stdout
    assert "saved: 3 of 300 lines wound" in res.stdout
    res = runner.invoke(app, ["wind", str(result_copy)], input="q")
    assert "resuming at line 4 (3 lines wound before)" in res.stdout
    assert f"from pin {path[3]}   to pin" in res.stdout and f"then: {path[5]} > {path[6]}" in res.stdout
    assert "thread " in res.stdout and " m of " in res.stdout
    res = runner.invoke(app, ["wind", str(result_copy), "--restart"], input="x")
    assert "key 'x' does nothing" in res.stdout and _progress(result_copy)["done"] == 0
    res = runner.invoke(app, ["wind", str(result_copy), "--line", "299"], input="  \n")
    assert "All 300 lines wound." in res.stdout and f"tie off at pin {path[-1]}" in res.stdout
    assert "finished: all 300 lines wound" in res.stdout and _progress(result_copy)["done"] == 300
    res = runner.invoke(app, ["wind", str(result_copy), "--line", "301"], input="q")
    assert res.exit_code == 2 and "--line must be between 1 and 300, got 301" in res.stderr


def test_progress_of_another_thread_is_not_resumed(result_copy):
    (result_copy / "camera-greedy-300.wind.json").write_text(json.dumps({"done": 7, "lines": 300,
                                                                          "fingerprint": "other"}))
    res = runner.invoke(app, ["wind", str(result_copy)], input="q")
    assert "is for another thread; starting at line 1" in res.stdout and _progress(result_copy)["done"] == 0


def test_progress_that_cannot_be_saved_is_one_line(result_copy):
    (result_copy / "camera-greedy-300.wind.json").mkdir()  # in the way, even for root
    res = runner.invoke(app, ["wind", str(result_copy)], input="q")
    assert res.exit_code == 2 and res.stderr.startswith("error: cannot save winding progress in ")
    assert len(res.stderr.strip().splitlines()) == 1


def test_screens(small_solution):
    geo = Geometry.from_solution(small_solution, 1.5)
    w = Winder(geo, None, title="t", ascii_only=True)
    w.go(101)
    text = w.screen()
    assert "block 2 of 2 · line 101 of 150 (1 of this block)" in text and "█" not in text
    assert all("  " + row in text for row in big_text(str(small_solution.path[101]), ascii_only=True))
    assert max(len(ln) for ln in text.splitlines()) <= 80
    keys = iter(["\n"] * 10 + ["b", "q"])
    assert w.run(lambda: next(keys), lambda s: None) == "quit" and w.done == 109
    assert w.run(lambda: "\n", lambda s: None) == "finished" and w.done == 150


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_in_a_real_terminal_under_tmux(result_copy, tmp_path):
    session = f"kitwind{os.getpid()}"
    script = tmp_path / "run.sh"
    script.write_text(f"#!/bin/sh\n{sys.executable} -m bench.cli wind {result_copy}\necho EXIT=$?\nsleep 20\n")
    script.chmod(0o755)
    env_cache = os.environ.get("STRINGART_CACHE_DIR", "")

    def pane() -> str:
        return subprocess.run(["tmux", "capture-pane", "-t", session, "-p"], capture_output=True, text=True).stdout

    def wait_for(text: str, timeout: float = 20.0) -> str:
        end = time.time() + timeout
        while time.time() < end:
            screen = pane()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never showed:\n{pane()}")

    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "100", "-y", "32",
                    f"env STRINGART_CACHE_DIR={env_cache} {script}"], check=True)
    try:
        wait_for("line 1 of 300")
        subprocess.run(["tmux", "send-keys", "-t", session, "Enter"], check=True)
        wait_for("line 2 of 300")
        subprocess.run(["tmux", "send-keys", "-t", session, "Space"], check=True)
        screen = wait_for("line 3 of 300")
        assert "line 1 of 300" not in screen  # the screen was cleared, not scrolled
        subprocess.run(["tmux", "send-keys", "-t", session, "b"], check=True)
        wait_for("line 2 of 300")
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=True)
        wait_for("EXIT=0")
        assert _progress(result_copy)["done"] == 1
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
