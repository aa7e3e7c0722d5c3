"""CUDA rasterizer kernels vs the CPU kernels, under numba's CUDA simulator (and on a GPU when there is one).

The simulator must be switched on before :mod:`numba.cuda` is first imported,
so the normal test run executes this file again in a child process with
``NUMBA_ENABLE_CUDASIM=1`` (and once more without it when the machine has an
NVIDIA device). Run directly with the variable set, the tests run in-process.
The simulator runs every CUDA thread as a Python thread: problems are tiny.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

CHILD = os.environ.get("STRINGART_CUDA_TESTS") == "1" or os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")


if not CHILD:
    @pytest.mark.parametrize("where", ["simulator", "gpu"])
    def test_cuda_kernels(run_cuda_child, where):
        run_cuda_child(__file__, simulate=where == "simulator")

    def test_importing_rendering_does_not_import_numba_cuda():
        code = ("import sys, rendering, rendering.device, rendering._cuda, solvers, solvers.greedy, solvers.ga, "
                "solvers._greedy_cuda, solvers._ga_cuda\n"
                "from rendering.device import resolve_device\n"
                "assert resolve_device('cpu') == 'cpu'\n"
                "assert 'numba.cuda' not in sys.modules, 'numba.cuda was imported'\n")
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr[-3000:]

else:
    from rendering import InputError, PinLayout, get_chord_table, render
    from rendering import device as D

    @pytest.fixture(scope="module")
    def table():
        return get_chord_table(PinLayout(n_pins=12, canvas=24), 2, 1.3, disk_cache=False)

    def test_device_resolution():
        assert D.cuda_available()
        assert D.resolve_device("auto") == "cuda"
        assert D.resolve_device("CUDA") == "cuda"
        assert D.resolve_device("cpu") == "cpu"
        with pytest.raises(InputError, match="device must be one of auto, cpu, cuda, got 'tpu'"):
            D.resolve_device("tpu")

    @pytest.mark.parametrize("opacity", [1.0, 0.35])
    def test_render_matches_cpu(table, opacity):
        rng = np.random.default_rng(1)
        chords = rng.integers(0, table.n_chords, 14)
        chords[5] = chords[2]  # a repeated chord darkens twice
        got = D.render_cuda(table, chords, opacity=opacity)
        want = render(table, chords, opacity=opacity)
        assert got.shape == want.shape == (24, 24) and got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
        assert got.min() < 0.5  # not a blank canvas

    def test_render_batch_ragged_lists(table):
        lists = [np.array([0, 7, 9]), np.array([], dtype=np.int64), np.array([3, 3, 11, 20, 4])]
        got = D.render_batch_cuda(table, lists, opacity=0.7)
        assert got.shape == (3, 24, 24)
        for img, ch in zip(got, lists):
            np.testing.assert_allclose(img, render(table, ch, opacity=0.7), rtol=0, atol=1e-6)
        assert (got[1] == 1.0).all()

    def test_score_chords_matches_reference(table):
        rng = np.random.default_rng(2)
        g = rng.normal(size=table.shape)
        h = rng.random(table.shape)
        chords = np.array([0, 5, 17, 17, table.n_chords - 1])
        got = D.score_chords_cuda(table, chords, g, h)
        g, h = g.ravel(), h.ravel()
        want = []
        for c in chords:
            s, e = table.indptr[c], table.indptr[c + 1]
            cv = table.coverage[s:e].astype(np.float64)
            p = table.pixel[s:e]
            want.append(np.sum(cv * (g[p] - cv * h[p])))
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
        assert got[2] == got[3]

    def test_sse_batch_matches_ga_cpu_fitness():
        from solvers import Problem
        from solvers._ga_cuda import population_fitness
        from solvers.baseline import random_path
        from solvers.ga import path_fitness

        problem = Problem.create("camera", pins=12, lines=6, canvas=24, min_gap=2)
        paths = np.stack([random_path(problem, np.random.default_rng(s)) for s in range(3)])
        got = population_fitness(problem, paths)
        want = [path_fitness(problem, p) for p in paths]
        np.testing.assert_allclose(got, want, rtol=1e-10)
        assert len(set(got.tolist())) == 3

    def test_sse_batch_matches_numpy(table):
        rng = np.random.default_rng(3)
        target = rng.random(table.shape)
        weight = rng.random(table.shape)
        lists = [rng.integers(0, table.n_chords, 5), rng.integers(0, table.n_chords, 9)]
        got = D.sse_batch_cuda(table, lists, target, weight, opacity=0.6)
        want = [np.sum(weight * (render(table, ch, opacity=0.6).astype(np.float64) - target) ** 2) for ch in lists]
        np.testing.assert_allclose(got, want, rtol=1e-5)

    def test_bad_inputs_are_one_line_errors(table):
        with pytest.raises(InputError, match=r"chord ids must be in \[0, "):
            D.render_cuda(table, [0, table.n_chords])
        with pytest.raises(InputError, match="one value per pixel"):
            D.score_chords_cuda(table, [0], np.zeros(5), np.zeros(table.n_pixels))
        with pytest.raises(InputError, match="opacity must be greater than 0"):
            D.render_cuda(table, [0], opacity=0.0)
        with pytest.raises(InputError, match="factors must have one value per table entry"):
            D.sse_batch_cuda(table, [[0]], np.ones(table.n_pixels), np.ones(table.n_pixels), factors=[0.0])
