"""`bench run` and `run_study` for a new user: plain scripts, Ctrl-C, a dead parent, bad files in a folder, the
study's label, a no-op re-run, exit statuses, an unreachable scheduler, progress without a terminal, and what
``--timeout`` counts. Tiny sizes (32 pins, 32 px, the ``random`` solver)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from bench import executors
from bench.cli import app
from bench.executors import LocalPool
from bench.harness import run_study
from bench.plan import plan_study
from bench.storage import read_runs
from rendering import InputError
from solvers import Solver, registry

REPO = Path(__file__).resolve().parents[2]
TINY = dict(pins=32, canvas=32)
TINY_ARGS = ["--solver", "random", "--pins", "32", "--canvas", "32"]
runner = CliRunner()
posix_only = pytest.mark.skipif(os.name != "posix", reason="process groups, signals and terminals of POSIX")


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    return env


def _script(tmp_path: Path, code: str) -> Path:
    path = tmp_path / "script.py"
    path.write_text(textwrap.dedent(code))
    return path


def _alive(pids) -> list[int]:
    """The pids still running (zombies, waiting to be reaped, count as gone)."""
    psutil = _psutil()
    out = []
    for pid in pids:
        if psutil is not None:
            try:
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    out.append(pid)
            except psutil.NoSuchProcess:
                pass
        else:
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    out.append(pid)
            except OSError:
                pass
    return out


def _psutil():
    try:
        import psutil

        return psutil
    except ImportError:
        return None


def _children(pid: int) -> list[int]:
    psutil = _psutil()
    if psutil is not None:
        return [c.pid for c in psutil.Process(pid).children(recursive=True)]
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _wait_for_line(proc: subprocess.Popen, stream, needle: str, limit: float = 60.0) -> list[str]:
    """Lines of ``stream`` up to the first holding ``needle`` (fails after ``limit`` s or at EOF)."""
    seen, t0 = [], time.monotonic()
    while time.monotonic() - t0 < limit:
        line = stream.readline()
        if not line:
            break
        seen.append(line)
        if needle in line:
            return seen
    proc.kill()
    pytest.fail(f"never saw {needle!r}; got:\n{''.join(seen)}\n{proc.stderr.read() if proc.stderr else ''}")


# --------------------------------------------------------------------------- 1. plain scripts
def test_run_study_at_the_top_level_of_a_plain_script(tmp_path):
    """No ``if __name__ == "__main__":`` guard, a real pool of 2: the workers never run the script again."""
    script = _script(tmp_path, """
        from bench.harness import run_study

        import os

        print("script body runs in", os.getpid(), flush=True)
        df = run_study(solvers=["random"], images=["camera"], pins=32, canvas=32, lines=[20, 40], seeds=2,
                       workers=2, out="study")
        print("errors:", int((df["error"] != "").sum()), "rows:", len(df))
    """)
    r = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=_env(), capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    assert r.stdout.count("script body runs") == 1  # not once more per worker
    assert "errors: 0 rows: 4" in r.stdout
    pid = r.stdout.split("script body runs in ")[1].split()[0]
    assert not read_runs(tmp_path / "study")["host"].str.endswith(f":{pid}").any()  # the runs ran in workers


def test_spawn_fallback_refuses_a_plain_script_in_one_line(tmp_path):
    """Where workers can only be spawned (Windows), a script without the guard gets one clear InputError."""
    script = _script(tmp_path, """
        import bench.executors
        from bench.harness import run_study
        from rendering import InputError

        bench.executors.START_METHOD = "spawn"
        try:
            run_study(solvers=["random"], images=["camera"], pins=32, canvas=32, lines=[20], workers=2, out="s")
        except InputError as e:
            print("ERROR", e)
            raise SystemExit(2)
    """)
    r = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=_env(), capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    line = [ln for ln in r.stdout.splitlines() if ln.startswith("ERROR")]
    assert len(line) == 1 and 'if __name__ == "__main__":' in line[0] and "workers=1" in line[0], r.stdout


# --------------------------------------------------------------------------- 2. clean stops
@posix_only
def test_ctrl_c_stops_cleanly_and_keeps_the_finished_runs(tmp_path):
    out = tmp_path / "study"
    lines = ",".join(str(n) for n in range(20, 220, 20))
    cmd = [sys.executable, "-m", "bench.cli", "run", *TINY_ARGS, "--image", "camera", "--lines", lines,
           "--seeds", "60", "--workers", "2", "--no-report", "--out", str(out)]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)  # its own process group, as a terminal's job
    try:
        head = _wait_for_line(proc, proc.stderr, "[3/600]")
        workers = _children(proc.pid)
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the whole group, workers included
        stdout, rest = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    err = "".join(head) + rest
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err and "BrokenPipe" not in err, err
    said = [ln for ln in err.splitlines() if "interrupted" in ln]
    assert said == ["interrupted; the finished runs are saved, re-run the same command to resume"], err
    df = read_runs(out)
    assert 3 <= len(df) < 600 and (df["error"] == "").all()
    assert len(workers) == 2
    t0 = time.monotonic()
    while _alive(workers) and time.monotonic() - t0 < 5:
        time.sleep(0.1)
    assert not _alive(workers)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_workers_go_when_the_parent_is_killed(tmp_path):
    """SIGKILL the parent: an idle worker sees its pipe end, a busy one (in a Numba loop) dies with the parent."""
    script = _script(tmp_path, """
        from bench.harness import run_study

        run_study(solvers=["ga", "random"], images=["camera"], pins=32, canvas=32, lines=[20], seeds=1,
                  workers=2, solver_options={"ga": {"generations": 10 ** 9}}, out="study",
                  progress=lambda row: print("row", row["solver"], flush=True))
    """)
    proc = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    workers: list[int] = []
    try:
        _wait_for_line(proc, proc.stdout, "row random")
        workers = _children(proc.pid)
        assert len(workers) == 2
        proc.kill()
        proc.wait(10)
        t0 = time.monotonic()
        while _alive(workers) and time.monotonic() - t0 < 5:
            time.sleep(0.1)
        assert not _alive(workers), f"workers still running after the parent died: {_alive(workers)}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in _alive(workers):
            os.kill(pid, signal.SIGKILL)
    assert "Traceback" not in proc.stderr.read()


# --------------------------------------------------------------------------- 3. bad files in a folder
def _folder_with_a_bad_file(tmp_path: Path) -> Path:
    from PIL import Image

    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a.png").write_text("this is not a picture")  # sorts first: the study's first image
    Image.fromarray((np.random.default_rng(0).random((40, 50)) * 255).astype(np.uint8)).save(folder / "b.png")
    return folder


def test_an_unreadable_file_in_a_folder_fails_only_its_runs(tmp_path):
    folder, out = _folder_with_a_bad_file(tmp_path), tmp_path / "study"
    res = invoke("run", *TINY_ARGS, "--image", folder, "--image", "camera", "--lines", "20,40", "--seeds", "1",
                 "--workers", "1", "--out", out)
    assert res.exit_code == 1, res.output
    warnings = [ln for ln in res.output.splitlines() if ln.startswith("warning:")]
    assert len(warnings) == 1 and str(folder / "a.png") in warnings[0] and "not an image" in warnings[0]
    assert "Traceback" not in res.output
    df = read_runs(out)
    assert len(df) == 6
    bad = df[df["image"] == "a"]
    assert len(bad) == 2 and bad["error"].str.startswith(f"ImageError: cannot read image file {folder / 'a.png'}").all()
    assert bad["error"].str.contains("not an image Pillow can read").all()
    assert (df[df["image"] != "a"]["error"] == "").all()
    assert "FAILED: ImageError: cannot read image file" in res.output  # the progress line
    # the targets and the gallery skip it
    assert sorted(p.name for p in (out / "targets").iterdir()) == ["b-32.png", "camera-32.png"]
    study = json.loads((out / "meta.json").read_text())["study"]
    assert list(study["images"]) == ["b", "camera"] and list(study["unreadable_images"]) == ["a"]
    assert (out / "gallery.png").is_file() and "## Failures" in (out / "summary.md").read_text()
    assert f"2 of 6 runs failed; see {out / 'errors.log'}" in res.output


def test_an_unreadable_file_named_itself_is_bad_input(tmp_path):
    folder = _folder_with_a_bad_file(tmp_path)
    res = invoke("run", *TINY_ARGS, "--image", folder / "a.png", "--lines", "20", "--workers", "1",
                 "--out", tmp_path / "study")
    assert res.exit_code == 2 and res.output.startswith("error: ") and "not an image" in res.output, res.output
    assert not (tmp_path / "study").exists()


# --------------------------------------------------------------------------- 4. the study's label
def test_the_study_is_labelled_by_its_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = invoke("run", *TINY_ARGS, "--image", "camera", "--lines", "20", "--workers", "1", "--out", "results/mine")
    assert res.exit_code == 0, res.output
    assert "study 'mine'" in res.output
    out = tmp_path / "results" / "mine"
    assert json.loads((out / "meta.json").read_text())["study"]["study"] == "mine"
    assert (out / "summary.md").read_text().startswith("# String-art comparison: mine\n")
    kw = dict(images=["camera"], lines=[20], **TINY)
    assert plan_study(out="results/mine/", **kw).name == "mine"
    assert plan_study(out="results/mine", study="other", **kw).name == "other"
    assert plan_study(**kw).name == "default" and plan_study(quick=True, **kw).name == "quick"


# --------------------------------------------------------------------------- 5. a finished study stays as it is
def _snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_rerunning_a_finished_study_changes_no_file(tmp_path):
    out = tmp_path / "study"
    args = ["run", *TINY_ARGS, "--image", "camera", "--image", "astronaut", "--lines", "20,40", "--seeds", "1",
            "--workers", "1", "--out", out]
    assert invoke(*args).exit_code == 0
    before = _snapshot(out)
    assert {"runs.csv", "meta.json", "summary.md", "gallery.png", "targets/camera-32.png"} <= set(before)
    time.sleep(0.05)  # a rewrite would show in the mtimes
    res = invoke(*args)
    assert res.exit_code == 0, res.output
    assert "0 runs to do, 4 already done" in res.output
    after = _snapshot(out)
    changed = [name for name in set(before) | set(after) if before.get(name) != after.get(name)]
    assert changed == [], changed
    assert len(json.loads((out / "meta.json").read_text())["invocations"]) == 1


def test_the_git_state_is_read_before_anything_is_written(tmp_path, monkeypatch):
    import bench.harness
    from bench.storage import environment

    out, seen = tmp_path / "study", []

    def env():
        seen.append(sorted(str(p.relative_to(out)) for p in out.rglob("*")))
        return environment()

    monkeypatch.setattr(bench.harness, "environment", env)
    run_study(solvers=["random"], images=["camera"], lines=[20], workers=1, out=out, **TINY)
    assert seen == [[]]  # once, and the folder was still empty
    run_study(solvers=["random"], images=["camera"], lines=[20], workers=1, out=out, **TINY)
    assert len(seen) == 1  # nothing to run: not read, nothing written


# --------------------------------------------------------------------------- 6. exit status
@pytest.fixture
def failing_solver(monkeypatch):
    class Failing(Solver):
        """Always raises."""

        name = "test-fail"

        @dataclass(frozen=True, kw_only=True)
        class Config:
            pass

        def run(self, problem, rng):
            raise RuntimeError("boom: this solver always fails\nsecond line")

    monkeypatch.setitem(registry._REGISTRY, "test-fail", registry.Entry("test-fail", Failing, {}, Failing.__doc__))
    return "test-fail"


def test_exit_status_is_1_when_some_runs_failed(tmp_path, failing_solver):
    out = tmp_path / "study"
    res = invoke("run", "--solver", failing_solver, *TINY_ARGS, "--image", "camera", "--lines", "20",
                 "--seeds", "1", "--workers", "1", "--out", out)
    assert res.exit_code == 1, res.output
    assert "FAILED: RuntimeError: boom: this solver always fails" in res.output  # first line only
    assert "second line" not in res.output
    for f in ("runs.csv", "meta.json", "summary.md", "errors.log"):
        assert (out / f).is_file(), f
    assert res.output.rstrip().splitlines()[-1] == f"1 of 2 runs failed; see {out / 'errors.log'}"


# --------------------------------------------------------------------------- 7. an unreachable scheduler
def test_unreachable_scheduler_leaves_nothing_behind(tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setattr(executors, "DASK_CONNECT_TIMEOUT", "1s")
    out = tmp_path / "study"
    res = invoke("run", *TINY_ARGS, "--image", "camera", "--lines", "20", "--scheduler", "tcp://127.0.0.1:1",
                 "--out", out)
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: cannot reach the Dask scheduler"), res.output
    assert not out.exists()


# --------------------------------------------------------------------------- 9. what --timeout counts
def test_timeout_counts_the_run_not_the_workers_start(tmp_path):
    """Each run takes milliseconds; a fresh worker's imports and greedy's JIT load take longer than 1 s."""
    res = invoke("run", *TINY_ARGS, "--solver", "greedy", "--image", "camera", "--lines", "20,40", "--seeds", "2",
                 "--workers", "1", "--timeout", "1", "--no-report", "--out", tmp_path / "study")
    assert res.exit_code == 0, res.output
    df = read_runs(tmp_path / "study")
    assert len(df) == 6 and (df["error"] == "").all()


def test_the_run_clock_starts_when_the_solver_is_prepared(tmp_path, monkeypatch):
    """A slow preparation is not charged to the run (it has a limit of its own); a slow run is stopped."""
    (tmp_path / "slow_worker.py").write_text(textwrap.dedent("""
        import time
        from bench import executors
        from bench.runner import run_one

        def slow_run_one(spec, on_started):
            def started():
                if spec.lines == 20:  # a slow preparation (a JIT compilation, a model to load)
                    time.sleep(1.0)
                on_started()
                if spec.lines == 40:  # a slow run
                    time.sleep(30)

            return run_one(spec, on_started=started)

        def main(conn, threads, cache_dir):  # the pool's own worker loop, around a slow run_one
            executors.run_one = slow_run_one
            executors._worker_main(conn, threads, cache_dir)
    """))
    monkeypatch.syspath_prepend(str(tmp_path))  # workers get this process's sys.path
    import slow_worker

    st = plan_study(solvers=["random"], images=["camera"], lines=[20, 40, 60], seeds=1, out=tmp_path / "s", **TINY)
    rows = {r["lines"]: r for r in LocalPool(1, 0.5, worker_main=slow_worker.main).run(st.runs)}
    assert rows[20]["error"] == "" and rows[60]["error"] == ""
    assert rows[40]["error"].startswith("Timeout: the run took longer than 0.5 s")
    # preparation has its own limit: timeout + PREPARE_GRACE
    monkeypatch.setattr(executors, "PREPARE_GRACE", 0.1)
    rows = {r["lines"]: r for r in LocalPool(1, 0.5, worker_main=slow_worker.main).run(st.runs[-1:])}
    assert rows[20]["error"].startswith("Timeout: getting the run ready")


def test_worker_main_must_be_importable():
    def local(conn, threads, cache_dir):
        pass

    with pytest.raises(ValueError, match="top level of an importable module"):
        list(LocalPool(1, None, worker_main=local).run(plan_study(solvers=["random"], images=["camera"],
                                                                  lines=[20], **TINY).runs))


def test_bad_input_still_fails_before_any_output(tmp_path):
    with pytest.raises(InputError, match="timeout must be"):
        run_study(solvers=["random"], images=["camera"], lines=[20], timeout=-1, out=tmp_path / "s", **TINY)
    assert not (tmp_path / "s").exists()


# --------------------------------------------------------------------------- 8. progress with and without a terminal
@posix_only
def test_a_terminal_gets_the_bar_and_a_pipe_gets_lines(tmp_path):
    pty = pytest.importorskip("pty")
    args = [sys.executable, "-m", "bench.cli", "run", *TINY_ARGS, "--image", "camera", "--lines", "20,40",
            "--seeds", "1", "--workers", "1", "--no-report"]
    piped = subprocess.run([*args, "--out", str(tmp_path / "a")], env=_env(), capture_output=True, text=True,
                           timeout=60)
    assert piped.returncode == 0, piped.stderr
    lines = [ln for ln in piped.stderr.splitlines() if ln.startswith("[")]
    assert [ln.split(":")[0] for ln in lines] == ["[1/2] random camera 40", "[2/2] random camera 20"], piped.stderr
    master, slave = pty.openpty()
    proc = subprocess.Popen([*args, "--out", str(tmp_path / "b")], env=_env(), stdout=subprocess.DEVNULL,
                            stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # the terminal's other end is closed
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(60) == 0
    text = b"".join(chunks).decode(errors="replace")
    assert "bench run" in text and "2/2" in text and "[1/2]" not in text, text
