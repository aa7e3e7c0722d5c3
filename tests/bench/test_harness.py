"""The comparison harness and its report: tiny grids with the ``random`` solver."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from bench import executors, plan, report
from bench.executors import LocalPool
from bench.harness import run_study
from bench.plan import derive_seed, plan_study
from bench.runner import COLUMNS
from bench.storage import read_runs
from rendering.metrics import score
from rendering import InputError, PinLayout, load_target
from solvers import Output, Problem, Solution, Solver, registry, solver_names
from solvers.baseline import random_path

TINY = dict(pins=32, canvas=32)


@pytest.fixture
def extra_solvers(monkeypatch):
    """Register test-only solvers for one test (the registry is restored afterwards)."""

    class Failing(Solver):
        """Always raises."""

        @dataclass(frozen=True, kw_only=True)
        class Config:
            pass

        def run(self, problem, rng):
            raise RuntimeError("boom: this solver always fails")

    class Budgeted(Solver):
        """Deterministic; its quick option halves the budget it uses."""

        stochastic = False
        quick_options = {"fraction": 0.5}

        @dataclass(frozen=True, kw_only=True)
        class Config:
            fraction: float = 1.0

        def run(self, problem, rng):
            n = max(1, int(problem.n_lines * self.config.fraction))
            return Output(path=random_path(problem.with_lines(n), np.random.default_rng(7)))

    for name, cls in (("test-fail", Failing), ("test-budget", Budgeted)):
        cls.name = name
        monkeypatch.setitem(registry._REGISTRY, name, registry.Entry(name, cls, {}, cls.__doc__))
    return ["test-fail", "test-budget"]


def test_grid_rows_seeds_and_pin_files(tmp_path):
    df = run_study(solvers=["random"], images=["camera", "astronaut"], lines=[20, 40], seeds=2, master_seed=3,
                   workers=1, out=tmp_path, **TINY)
    assert len(df) == 2 * 2 * 2
    assert list(df.columns) == COLUMNS
    assert (df["error"] == "").all()
    assert df["n_lines"].tolist() == df["lines"].tolist()
    for r in df.to_dict("records"):
        assert r["seed"] == derive_seed(3, r["image"], r["lines"], r["replicate"])
        assert json.loads(r["config"]) == {}
    # every solver sees the same seeds; replicates differ
    assert df.groupby(["image", "lines"])["seed"].nunique().eq(2).all()
    # the table on disk is the table returned
    disk = read_runs(tmp_path).set_index("run_id").loc[df["run_id"]]
    np.testing.assert_allclose(disk["ssim"].to_numpy(), df["ssim"].to_numpy())
    # the saved pin file re-renders to the very scores of the row
    r = df.iloc[0].to_dict()
    img = report.render_row(r, tmp_path)
    target = load_target(r["image"], r["canvas"]).image
    again = score(img, target, PinLayout(n_pins=r["pins"], canvas=r["canvas"]).frame_mask)
    assert again["ssim"] == pytest.approx(r["ssim"], abs=1e-6)
    assert again["l1"] == pytest.approx(r["l1"], abs=1e-6)
    # the reference columns are the blank and flat canvases' scores
    assert (df["blank_l1"] > df["flat_l1"]).all()
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert {"git", "versions", "cpu", "gpu", "command", "invocations"} <= set(meta)
    assert meta["invocations"][-1]["to_run"] == 8 and meta["invocations"][-1]["finished"]
    assert (tmp_path / "targets" / "camera-32.png").is_file()


def test_same_seed_same_table(tmp_path):
    kw = dict(solvers=["random"], images=["camera"], lines=[30], seeds=2, workers=1, **TINY)
    a = run_study(out=tmp_path / "a", **kw)
    b = run_study(out=tmp_path / "b", **kw)
    pd.testing.assert_series_equal(a["ssim"], b["ssim"])
    c = run_study(out=tmp_path / "c", master_seed=1, **kw)
    assert not np.allclose(a["ssim"], c["ssim"])


def test_resume_skips_finished_rows(tmp_path):
    kw = dict(solvers=["random"], images=["camera"], lines=[20, 40, 60], seeds=1, workers=1, out=tmp_path, **TINY)
    first = run_study(**kw)
    plans = []
    again = run_study(on_plan=lambda st, todo, done: plans.append((todo, done)), **kw)
    assert plans == [(0, 3)]
    pd.testing.assert_frame_equal(first[["run_id", "ssim", "finished_at"]], again[["run_id", "ssim", "finished_at"]])
    # drop one row from the table: only that run is redone
    disk = read_runs(tmp_path)
    disk[disk["lines"] != 40].to_csv(tmp_path / "runs.csv", index=False)
    plans.clear()
    third = run_study(on_plan=lambda st, todo, done: plans.append((todo, done)), **kw)
    assert plans == [(1, 2)]
    assert third["ssim"].tolist() == pytest.approx(first["ssim"].tolist())
    # a wider grid keeps the old rows and adds the new
    plans.clear()
    run_study(on_plan=lambda st, todo, done: plans.append((todo, done)), **{**kw, "lines": [20, 40, 60, 80]})
    assert plans == [(1, 3)]
    assert len(read_runs(tmp_path)) == 4


def test_interrupted_study_leaves_a_valid_table_and_resumes(tmp_path):
    kw = dict(solvers=["random"], images=["camera"], lines=[20, 40, 60], seeds=1, workers=1, out=tmp_path, **TINY)

    def stop(row):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_study(progress=stop, **kw)
    disk = read_runs(tmp_path)
    assert len(disk) == 1 and (disk["error"] == "").all()
    assert not list(tmp_path.glob(".*.tmp"))
    plans = []
    df = run_study(on_plan=lambda st, todo, done: plans.append((todo, done)), **kw)
    assert plans == [(2, 1)] and len(df) == 3


def test_failing_run_is_recorded_and_study_goes_on(tmp_path, extra_solvers):
    kw = dict(solvers=["test-fail", "random"], images=["camera"], lines=[20], seeds=1, workers=1, out=tmp_path,
              **TINY)
    df = run_study(**kw)
    bad = df[df["solver"] == "test-fail"].iloc[0]
    assert bad["error"] == "RuntimeError: boom: this solver always fails"
    assert np.isnan(bad["ssim"]) and bad["pin_file"] == ""
    assert np.isfinite(bad["flat_ssim"])  # references are still there
    assert df[df["solver"] == "random"]["error"].eq("").all()
    assert "Traceback" in (tmp_path / "errors.log").read_text()
    plans = []
    run_study(on_plan=lambda st, todo, done: plans.append((todo, done)), **kw)
    assert plans == [(1, 1)]  # failed rows are retried
    plans.clear()
    run_study(on_plan=lambda st, todo, done: plans.append((todo, done)), retry_errors=False, **kw)
    assert plans == [(0, 2)]
    text = (tmp_path / "summary.md").read_text() if (tmp_path / "summary.md").exists() else ""
    assert text == ""  # run_study itself writes no report
    report.write_report(tmp_path)
    summary = (tmp_path / "summary.md").read_text()
    assert "## Failures" in summary and "boom" in summary
    # a cell with some failed runs is flagged: its mean covers fewer runs
    df = read_runs(tmp_path)
    extra = df[df["solver"] == "random"].assign(run_id="x", error="RuntimeError: late", ssim=np.nan)
    pd.concat([df, extra]).to_csv(tmp_path / "runs.csv", index=False)
    assert report.incomplete_cells(read_runs(tmp_path)) == {("random", 20)}
    report.write_report(tmp_path, figures=False)
    assert "† some runs of this cell failed" in (tmp_path / "summary.md").read_text()


def test_quick_options_and_deterministic_solvers(extra_solvers, tmp_path):
    st = plan_study(solvers=["test-budget", "random"], images=["camera"], lines=[10, 20], seeds=3, quick=True,
                    out=tmp_path, **TINY)
    by = {s: [r for r in st.runs if r.solver == s] for s in ("test-budget", "random")}
    assert len(by["test-budget"]) == 2 and len(by["random"]) == 6  # deterministic: one replicate
    assert by["test-budget"][0].options == {"fraction": 0.5}
    assert json.loads(by["test-budget"][0].config) == {"fraction": 0.5}
    df = run_study(solvers=["test-budget"], images=["camera"], lines=[20], quick=True, workers=1, out=tmp_path,
                   solver_options={"test-budget": {"fraction": 0.25}}, **TINY)
    assert df["n_lines"].tolist() == [5] and df["quick"].tolist() == [True]


def test_default_and_quick_plans():
    st = plan_study()
    # every registered solver that draws one black thread: the colour solvers have a study of their own
    assert st.solvers == [n for n in solver_names() if registry.get_entry(n).cls.family != "colour"]
    assert "greedy" in st.solvers and "colour-greedy" not in st.solvers and st.pins == 288 and st.canvas == 512
    assert st.lines == [1000, 2000, 3000, 4000] and str(st.out) == "results/default"
    per_cell = sum(st.seeds if registry.get_entry(n).cls.stochastic else 1 for n in st.solvers)
    assert len(st.runs) == per_cell * len(st.images) * 4
    assert [r.lines for r in st.runs] == sorted((r.lines for r in st.runs), reverse=True)
    q = plan_study(quick=True)
    assert q.canvas < st.canvas and str(q.out) == "results/quick" and max(q.lines) < min(st.lines)


def test_local_pool_matches_in_process(tmp_path):
    kw = dict(solvers=["random"], images=["camera"], lines=[20, 40], seeds=2, **TINY)
    a = run_study(workers=1, out=tmp_path / "a", **kw)
    b = run_study(workers=2, out=tmp_path / "b", **kw)
    assert (b["error"] == "").all()
    np.testing.assert_allclose(a["ssim"].to_numpy(), b["ssim"].to_numpy())
    assert b["host"].nunique() >= 1 and not b["host"].str.endswith(a["host"].iloc[0].split(":")[1]).all()


def test_timeout_stops_a_hung_run_and_the_study_goes_on(tmp_path):
    """A run past --timeout is stopped (its worker killed mid-Numba-loop) and recorded; the others finish."""
    t0 = time.perf_counter()
    df = run_study(solvers=["random", "ga"], images=["camera"], lines=[20, 30], seeds=1, workers=1, timeout=2,
                   solver_options={"ga": {"generations": 10 ** 9}}, out=tmp_path, **TINY)
    assert time.perf_counter() - t0 < 120
    ga = df[df.solver == "ga"]
    assert len(ga) == 2 and ga["error"].str.startswith("Timeout: the run took longer than 2 s").all()
    assert (df[df.solver == "random"]["error"] == "").all()
    assert json.loads((tmp_path / "meta.json").read_text())["invocations"][-1]["timeout"] == 2
    # a timeout large enough changes nothing
    ok = run_study(solvers=["random"], images=["camera"], lines=[20, 30], workers=2, timeout=600,
                   out=tmp_path / "ok", **TINY)
    ref = run_study(solvers=["random"], images=["camera"], lines=[20, 30], workers=1, out=tmp_path / "ref", **TINY)
    np.testing.assert_allclose(ok["ssim"].to_numpy(), ref["ssim"].to_numpy())


def test_a_dying_worker_fails_only_its_run(tmp_path, monkeypatch):
    (tmp_path / "dying_worker.py").write_text(
        "import os\n"
        "from bench.executors import _init_worker\n"
        "from bench.runner import run_one\n\n"
        "def main(conn, threads, cache_dir):\n"
        "    _init_worker(threads, cache_dir)\n"
        "    conn.send('ready')\n"
        "    while True:\n"
        "        spec = conn.recv()\n"
        "        if spec is None:\n"
        "            return\n"
        "        if spec.lines == 40:\n"
        "            os._exit(3)  # as a crash in native code or the OOM killer would\n"
        "        conn.send(run_one(spec))\n\n"
        "def broken(conn, threads, cache_dir):\n"
        "    os._exit(5)\n")
    monkeypatch.syspath_prepend(str(tmp_path))  # spawned workers get this process's sys.path
    import dying_worker

    st = plan_study(solvers=["random"], images=["camera"], lines=[20, 40, 60, 80], seeds=1, out=tmp_path / "s",
                    **TINY)
    rows = {r["lines"]: r for r in LocalPool(2, None, worker_main=dying_worker.main).run(st.runs)}
    assert sorted(rows) == [20, 40, 60, 80]
    assert rows[40]["error"].startswith("WorkerDied: the worker process running this died (exit code 3")
    assert all(rows[n]["error"] == "" for n in (20, 60, 80))
    # a worker that cannot even start stops the study with one line, not a hang
    with pytest.raises(InputError, match="worker process failed to start .exit code 5"):
        list(LocalPool(1, None, worker_main=dying_worker.broken).run(st.runs))


def test_make_executor_picks_by_workers_scheduler_and_timeout():
    assert isinstance(executors.make_executor(1), executors.InProcess)
    assert isinstance(executors.make_executor(1, timeout=5), LocalPool)  # a timeout needs a worker to kill
    pool = executors.make_executor(3, timeout=5)
    assert isinstance(pool, LocalPool) and pool.workers == 3 and pool.timeout == 5
    assert isinstance(executors.make_executor(2, scheduler="tcp://127.0.0.1:1"), executors.DaskExecutor)
    assert isinstance(executors.make_executor(None), executors.Executor)
    with pytest.raises(InputError, match="local workers only"):
        executors.make_executor(2, scheduler="tcp://127.0.0.1:1", timeout=5)


def test_dask_local_cluster(tmp_path):
    distributed = pytest.importorskip("distributed")
    kw = dict(solvers=["random"], images=["camera"], lines=[20, 40], **TINY)
    a = run_study(workers=1, out=tmp_path / "a", **kw)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        b = run_study(scheduler=cluster.scheduler_address, out=tmp_path / "b", **kw)
    assert (b["error"] == "").all()
    np.testing.assert_allclose(a["ssim"].to_numpy(), b["ssim"].to_numpy())
    assert json.loads((tmp_path / "b" / "meta.json").read_text())["invocations"][-1]["scheduler"]


def test_unreachable_scheduler_is_one_line(tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setattr(executors, "DASK_CONNECT_TIMEOUT", "1s")
    with pytest.raises(InputError, match="cannot reach the Dask scheduler"):
        run_study(solvers=["random"], images=["camera"], lines=[20], scheduler="tcp://127.0.0.1:1",
                  out=tmp_path, **TINY)


@pytest.mark.parametrize("kwargs, match", [
    (dict(solvers=["nope"]), "unknown solver 'nope'"),
    (dict(images=["no-such-picture"]), "neither a built-in name, a suite, a file nor a folder"),
    (dict(lines=[0]), "lines"),
    (dict(lines=[]), "lines is empty"),
    (dict(seeds=0), "seeds"),
    (dict(lines=[10 ** 6]), "repeated chords"),
    (dict(solver_options={"greedy-x": {"a": 1}}), "not in the study"),
    (dict(solver_options={"random": {"bogus": 1}}), "(bad|unknown) option .*bogus"),
    (dict(timeout=0), "timeout must be"),
    (dict(timeout=5, scheduler="tcp://127.0.0.1:1"), "local workers only"),
])
def test_bad_input_fails_before_any_work(tmp_path, kwargs, match):
    out = tmp_path / "study"
    args = dict(solvers=["random"], images=["camera"], lines=[20], workers=1, out=out, **TINY)
    with pytest.raises(InputError, match=match):
        run_study(**{**args, **kwargs})
    assert not out.exists()


def test_unwritable_output(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        run_study(solvers=["random"], images=["camera"], lines=[20], workers=1, out=blocker, **TINY)


def test_images_from_a_folder(tmp_path):
    from PIL import Image

    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in ("b", "a"):
        Image.fromarray((rng.random((40, 50)) * 255).astype(np.uint8)).save(folder / f"{name}.png")
    (folder / "notes.txt").write_text("not an image")
    ims = plan.resolve_images([str(folder), "camera"])
    assert [i.label for i in ims] == ["a", "b", "camera"]
    other = tmp_path / "other"
    other.mkdir()
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(other / "a.png")
    with pytest.raises(InputError, match="share the name 'a'"):
        plan.resolve_images([str(folder), str(other / "a.png")])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no image files"):
        plan.resolve_images([str(empty)])
    df = run_study(solvers=["random"], images=[str(folder)], lines=[20], seeds=1, workers=1, out=tmp_path / "s", **TINY)
    assert sorted(df["image"]) == ["a", "b"] and (df["error"] == "").all()


def test_report_from_runs_csv_alone(tmp_path):
    run_study(solvers=["random"], images=["camera", "astronaut"], lines=[20, 40], workers=1, out=tmp_path, **TINY)
    # nothing but the table (and the pin files for the gallery) is needed
    (tmp_path / "meta.json").unlink()
    files = report.write_report(tmp_path)
    assert {"summary.md", "stats.md", *report.FIGURES} <= set(files)
    for f in report.FIGURES:
        assert (tmp_path / f).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = (tmp_path / "summary.md").read_text()
    for needle in ("SSIM (viewing scale) vs lines", "L1 (viewing scale) vs lines", "Runtime (seconds)",
                   "*bare board (reference)*", "*flat mean picture (reference)*", "| random |", "| 20 | 40 |"):
        assert needle in text, needle
    # the cells are the means of the table
    df = read_runs(tmp_path)
    tab = report.pivot(df, "ssim")
    assert tab.loc["random", 40] == pytest.approx(df[df["lines"] == 40]["ssim"].mean())
    assert f"{tab.loc['random', 40]:.3f}" in text
    # without pin files the gallery still draws (cells say why)
    import shutil

    shutil.rmtree(tmp_path / "pins")
    assert "gallery.png" in report.write_report(tmp_path, gallery_image="astronaut")
    with pytest.raises(InputError, match="not in the study"):
        report.write_report(tmp_path, gallery_image="moon")


def test_report_bad_folders(tmp_path):
    with pytest.raises(InputError, match="not found"):
        report.write_report(tmp_path / "missing")
    with pytest.raises(InputError, match="no runs.csv"):
        report.write_report(tmp_path)
    (tmp_path / "runs.csv").write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="lacks the columns"):
        report.write_report(tmp_path)


def test_read_pin_file_formats(tmp_path):
    from kit.results import read_pin_file

    (tmp_path / "p.txt").write_text("0\n5\n2\n")
    assert read_pin_file(tmp_path / "p.txt")["pairs"].tolist() == [[0, 5], [5, 2]]
    (tmp_path / "c.txt").write_text("0 5\n3 9\n")
    assert read_pin_file(tmp_path / "c.txt")["pairs"].tolist() == [[0, 5], [3, 9]]
    (tmp_path / "m.txt").write_text("0 5\n3\n")
    with pytest.raises(ValueError, match="mixes"):
        read_pin_file(tmp_path / "m.txt")


def test_render_row_refuses_a_broken_pin_file(tmp_path):
    (tmp_path / "pins").mkdir()
    row = dict(pins=32, canvas=32, shape="circle", frame_mm=600.0, thread_mm=0.2, opacity=1.0, min_gap=4,
               pin_file="pins/x.txt")
    with pytest.raises(InputError, match="x.txt' not found"):
        report.render_row(row, tmp_path)  # missing
    (tmp_path / "pins" / "x.txt").write_text("0\n40\n")
    with pytest.raises(InputError, match="names pin 40 but its layout has 32 pins"):
        report.render_row(row, tmp_path)
    (tmp_path / "pins" / "x.txt").write_text("0\n1\n")
    with pytest.raises(InputError, match="not an allowed chord"):
        report.render_row(row, tmp_path)  # closer than min_gap


def test_gallery_shows_a_broken_pin_file_in_its_cell(tmp_path, monkeypatch):
    df = run_study(solvers=["random"], images=["camera"], lines=[20, 40], workers=1, out=tmp_path, **TINY)
    (tmp_path / df["pin_file"].iloc[0]).write_text("0 1\n")  # a chord the layout does not allow
    axes = report._plt().Axes
    shown, text = [], axes.text
    monkeypatch.setattr(axes, "text", lambda self, x, y, s, *a, **k: shown.append(s) or text(self, x, y, s, *a, **k))
    assert "gallery.png" in report.write_report(tmp_path)
    assert "pin file: InputError" in shown and "SSIM" in " ".join(shown)  # the other cell still draws


def test_chord_list_solution_round_trips_through_pin_file(tmp_path):
    # a solution whose lines do not join is saved as separate runs and re-renders identically
    import dataclasses

    p = dataclasses.replace(Problem.create("camera", lines=15, **TINY), continuous=False)
    cs = p.chords
    sol = Solution.from_lines(p, np.stack([cs.pin_a[:15], cs.pin_b[:15]], axis=1), np.zeros(15), solver="x")
    from kit.results import txt_bytes

    (tmp_path / "pins").mkdir()
    (tmp_path / "pins" / "x.txt").write_bytes(txt_bytes(sol))
    row = dict(pins=32, canvas=32, shape="circle", frame_mm=600.0, thread_mm=0.2, opacity=1.0,
               min_gap=p.min_gap, pin_file="pins/x.txt")
    np.testing.assert_array_equal(report.render_row(row, tmp_path), sol.render())
