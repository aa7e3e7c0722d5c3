"""Fixtures of the kit's tests: small solved results, in memory and as `bench solve` folders."""

import pytest


@pytest.fixture(scope="session")
def small_solution():
    """A random continuous thread: 48 pins, 150 lines, 96 px, a 300 mm frame (fast to kit)."""
    from rendering import ThreadModel
    from solvers import Problem, make_solver

    problem = Problem.create("camera", pins=48, lines=150, canvas=96, thread=ThreadModel(frame_mm=300.0))
    return make_solver("random").solve(problem, rng=1)


@pytest.fixture(scope="session")
def result_dir(tmp_path_factory):
    """The output folder of `bench solve camera` (greedy, 64 pins, 300 lines, 128 px, 300 mm frame)."""
    from bench import solve

    out = tmp_path_factory.mktemp("result")
    solve("camera", solver="greedy", pins=64, lines=300, canvas=128, frame_mm=300.0, out=out)
    return out


@pytest.fixture
def result_copy(result_dir, tmp_path):
    """A private copy of :func:`result_dir` (tests that write into it)."""
    import shutil

    dst = tmp_path / "result"
    shutil.copytree(result_dir, dst)
    return dst
