"""The committed default study is what the code gives now: pin files re-solved byte for byte.

Every registered solver of the default study is re-solved on camera at 2000
lines (288 pins, 512 px; the first replicate of the stochastic ones) with the
config and seed recorded in ``results/default/runs.csv``, and its pin file must
equal the committed one byte for byte. A solver whose config or result moved
fails here: re-run the study (``bench run``) and commit what it writes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from bench.plan import config_json, study_solvers
from rendering import load_target
from solvers import Problem, make_solver
from kit.results import txt_bytes

STUDY = Path(__file__).resolve().parents[2] / "results" / "default"
IMAGE, LINES = "camera", 2000


@pytest.fixture(scope="module")
def rows():
    df = pd.read_csv(STUDY / "runs.csv", dtype={"config": str, "error": str, "pin_file": str})
    df = df[(df["image"] == IMAGE) & (df["lines"] == LINES) & (df["replicate"] == 0)]
    return {r["solver"]: r for r in df.to_dict("records")}


@pytest.fixture(scope="module")
def problem():
    return Problem.create(load_target(IMAGE, 512), pins=288, lines=LINES, canvas=512)


def test_the_study_covers_every_registered_solver(rows):
    # the default study is every solver that draws one black thread (colour solvers have their own study)
    assert sorted(set(rows) & set(study_solvers())) == sorted(study_solvers())


@pytest.mark.parametrize("name", study_solvers())
def test_pin_file_reproduced_byte_for_byte(name, rows, problem):
    row = rows[name]
    solver = make_solver(name)
    assert config_json(solver.config_dict()) == row["config"], "the solver's default config changed"
    assert json.loads(row["config"]) == json.loads(config_json(solver.config_dict()))
    sol = solver.solve(problem, rng=int(row["seed"]))
    assert txt_bytes(sol) == (STUDY / row["pin_file"]).read_bytes()
