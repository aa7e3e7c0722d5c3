"""The registry finds every solver: each module that registers one is named in the entry-point group."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from rendering import InputError
from solvers import FAMILIES, get_entry, make_solver, solver_modules, solver_names

ROOT = Path(__file__).resolve().parents[2]


def _registering_modules() -> set[str]:
    """Modules with a module-level ``register(...)``/``compose(...)`` call or ``@register`` decorator."""
    out = set()
    for pkg in ("rendering", "solvers", "learned", "kit", "bench"):
        for path in (ROOT / pkg).rglob("*.py"):
            tree = ast.parse(path.read_text())
            for node in tree.body:
                calls = []
                if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
                    calls.append(node.value)
                if isinstance(node, ast.ClassDef):
                    calls += [d for d in node.decorator_list if isinstance(d, ast.Call)]
                names = {getattr(c.func, "id", getattr(c.func, "attr", "")) for c in calls}
                if names & {"register", "compose"}:
                    rel = path.relative_to(ROOT).with_suffix("")
                    out.add(".".join(rel.parts))
    return out


def test_every_module_that_registers_solvers_is_an_entry_point():
    missing = _registering_modules() - set(solver_modules())
    assert not missing, f"add these to [project.entry-points.\"stringart.solvers\"] in pyproject.toml: {missing}"


def test_every_solver_declares_a_known_family_and_lists_by_family():
    names = solver_names()
    fams = [get_entry(n).cls.family for n in names]
    assert set(fams) <= set(FAMILIES)
    assert fams == sorted(fams, key=FAMILIES.index)  # tables and `bench solvers` group by family


def test_composed_solvers_declare_their_steps():
    steps = {n: getattr(get_entry(n).cls, "composition", ()) for n in solver_names()}
    assert steps["greedy-view+refine"] == ("greedy-view", "refine-ssim")
    assert steps["greedy+ga"] == ("greedy", "ga")
    assert steps["ae+greedy"] == ("ChordNet guide", "greedy")
    assert steps["ae-target+greedy"] == ("FrontNet", "greedy-view")


def test_an_unavailable_solver_is_listed_and_refused_in_one_line(monkeypatch):
    from solvers import base

    monkeypatch.setattr(base, "missing_modules", lambda cls: list(getattr(cls, "requires", ())))
    entry = get_entry("ae+greedy")
    assert "pip install 'stringart-bench[learned]'" in entry.unavailable
    assert "ae+greedy" in solver_names() and "ae+greedy" not in solver_names(available=True)
    assert "greedy" in solver_names(available=True)
    with pytest.raises(InputError, match=r"solver ae\+greedy is not available in this install: it needs torch") as e:
        make_solver("ae+greedy")
    assert "\n" not in str(e.value)
