"""Test-wide setup: a private chord-table cache so tests never touch the user's."""

import os
import tempfile

import pytest

os.environ.setdefault("STRINGART_CACHE_DIR", os.path.join(tempfile.gettempdir(), "stringart-test-cache"))
os.environ.setdefault("NUMBA_NUM_THREADS", "2")


@pytest.fixture
def tiny_problem():
    """A 64 px, 32-pin problem on camera: small enough for every solver in a test."""
    from solvers import Problem

    return Problem.create("camera", pins=32, lines=40, canvas=64, min_gap=3)
