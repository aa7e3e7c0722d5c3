"""The GPU greedy loop vs the CPU loop, under numba's CUDA simulator (and on a GPU when there is one).

Same set-up as ``tests/rendering/test_cuda_sim.py``: the normal run re-runs
this file in a child process with ``NUMBA_ENABLE_CUDASIM=1``. The CPU
reference is :func:`solvers._greedy_kernels._greedy_scan` (a fresh scan of
every candidate per step, the arithmetic the GPU kernels copy); the pick must
be the same at every step. Problems are tiny: each simulated
``syncthreads`` costs milliseconds.
"""

import os

import numpy as np
import pytest

CHILD = os.environ.get("STRINGART_CUDA_TESTS") == "1" or os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")


if not CHILD:
    @pytest.mark.parametrize("where", ["simulator", "gpu"])
    def test_greedy_cuda(run_cuda_child, where):
        run_cuda_child(__file__, simulate=where == "simulator")

else:
    from solvers import Problem
    from solvers import _greedy_cuda as G
    from solvers import _greedy_kernels as K
    from solvers import error_weights

    def both(problem, *, rule, start, no_return, mode, early_stop=False, target=None, opacity=0.8):
        """Run the CPU scan loop and the GPU loop on the same inputs; return both results."""
        t = problem.table
        cs = problem.chords
        T = np.ascontiguousarray(problem.target.image.ravel() if target is None else target, dtype=np.float32)
        Wt = error_weights(problem)
        o = np.float32(opacity)
        step = np.float32(0.3 / t.width_px)
        out = []
        for dev in ("cpu", "cuda"):
            S = np.ones(t.n_pixels, np.float32) if rule == 0 else ((1.0 - T) * (Wt > 0)).astype(np.float32)
            used = np.zeros(t.n_chords, bool)
            path = np.zeros(problem.n_lines + 1, np.int64)
            gains = np.zeros(problem.n_lines)
            removed = np.zeros(problem.n_lines)
            stats = np.zeros(K.N_STATS, np.int64)
            pins = K.Pins(cs.id_of, cs.pin_a, cs.pin_b)
            pic = K.Picture(S, T, Wt, o, rule, step)
            run = K.Settings(problem.n_lines, start, no_return, True, early_stop)
            thread = K.Thread(used, path, gains, removed, stats)
            if dev == "cpu":
                drawn = K._greedy_scan(K.Table(t.indptr, t.pixel, t.coverage), pins, pic, run, thread, False)
            else:
                drawn = G.greedy(t, pins, pic, run, thread, mode=mode)
            out.append(dict(drawn=drawn, path=path[:drawn + 1], gains=gains[:drawn], removed=removed[:drawn],
                            state=S, used=used, stats=stats))
        return out

    #: the simulator runs the CPU's arithmetic; a GPU fuses multiply-adds and sums in another order (an H100
    #: differed by 1.8e-8 relative on per-step gains), so there gains are held to 1e-6; paths stay exact
    RTOL = 1e-9 if os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0") else 1e-6

    def check_same(cpu, gpu):
        assert gpu["drawn"] == cpu["drawn"]
        np.testing.assert_array_equal(gpu["path"], cpu["path"])
        np.testing.assert_allclose(gpu["gains"], cpu["gains"], rtol=RTOL, atol=1e-12)
        np.testing.assert_allclose(gpu["removed"], cpu["removed"], rtol=RTOL, atol=1e-12)
        np.testing.assert_allclose(gpu["state"], cpu["state"], rtol=0, atol=1e-6)
        np.testing.assert_array_equal(gpu["used"], cpu["used"])
        np.testing.assert_array_equal(gpu["stats"], cpu["stats"])

    @pytest.fixture(scope="module")
    def problem():
        return Problem.create("camera", pins=12, lines=5, canvas=24, min_gap=2)

    def test_error_rule_free_start_persistent(problem):
        cpu, gpu = both(problem, rule=K.RULE_ERROR, start=-1, no_return=0, mode="persistent")
        assert cpu["drawn"] == 5 and cpu["stats"][1] == 0
        check_same(cpu, gpu)
        assert gpu["gains"].min() > 0  # real gains, not zeros

    def test_sum_rule_start_pin_no_return():
        problem = Problem.create("camera", pins=12, lines=7, canvas=24, min_gap=2)
        cpu, gpu = both(problem, rule=K.RULE_SUM, start=3, no_return=3, mode="persistent")
        assert cpu["path"][0] == 3 and cpu["removed"].min() > 0
        check_same(cpu, gpu)

    def test_dead_ends_relax_no_return_then_stop():
        # 6 pins, min_gap 2: 9 chords; 9 lines with each chord once runs into dead ends
        problem = Problem.create("camera", pins=6, lines=9, canvas=24, min_gap=2)
        cpu, gpu = both(problem, rule=K.RULE_ERROR, start=0, no_return=2, mode="persistent")
        assert cpu["stats"][0] > 0  # the no-return rule was relaxed at least once
        check_same(cpu, gpu)

    @pytest.mark.parametrize("start", [-1, 2])
    def test_early_stop_on_a_white_target(problem, start):
        white = np.ones(problem.table.n_pixels, np.float32)  # every chord makes the error worse
        cpu, gpu = both(problem, rule=K.RULE_ERROR, start=start, no_return=0, mode="auto", early_stop=True,
                        target=white)
        assert cpu["drawn"] == 0 and cpu["stats"][1] == 1
        check_same(cpu, gpu)
        assert gpu["path"][0] == cpu["path"][0]

    def test_matches_the_solver_default_path(problem):
        from solvers.greedy import greedy_path

        problem = problem.with_lines(4)
        path, history, _ = greedy_path(problem)
        cpu, gpu = both(problem, rule=K.RULE_ERROR, start=-1, no_return=0, mode="persistent",
                        opacity=problem.thread.opacity)
        np.testing.assert_array_equal(gpu["path"], path)
        err0 = history[0]
        np.testing.assert_allclose(err0 - np.cumsum(gpu["gains"]), history[1:], rtol=1e-6)

    def test_bad_mode_is_refused(problem):
        with pytest.raises(ValueError, match="mode must be one of auto, persistent, got 'steps'"):
            both(problem, rule=K.RULE_ERROR, start=0, no_return=0, mode="steps")
        with pytest.raises(ValueError, match="mode must be one of auto, persistent"):
            both(problem, rule=K.RULE_ERROR, start=0, no_return=0, mode="fast")
