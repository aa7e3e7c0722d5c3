"""The architecture, checked: arrows one way, rendering's privates private, no import circles.

The layers, bottom up: ``rendering`` (geometry, thread model, kernels, metrics) <- ``solvers`` (Problem,
Solver, Solution, the classical solvers) <- ``learned`` <- ``kit`` (the maker's outputs: result files,
kit, winding, calibration; they read a Solution, never solve) <- ``bench`` (CLI, harness, report, page).
Every ``import`` in the five packages is read with :mod:`ast` (module level and inside functions alike: a
lazy import is still an arrow).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("rendering", "solvers", "learned", "kit", "bench")
#: what each package may import of ours: the layers below it
ALLOWED = {"rendering": set(), "solvers": {"rendering"}, "learned": {"rendering", "solvers"},
           "kit": {"rendering", "solvers", "learned"}, "bench": {"rendering", "solvers", "learned", "kit"}}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(module imported, names taken from it, line) for every import in a file, relative ones resolved."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(a.name, [], node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.append((mod, [a.name for a in node.names], node.lineno))
    return out


def _targets(mod: str, names: list[str], modules) -> list[str]:
    """The modules an import loads: ``from pkg import sub`` loads ``pkg.sub``, and ``pkg`` itself only
    when some name is not a submodule (``from . import _kernels`` does not import the package's __init__
    again; ``from . import x, Y`` does)."""
    subs = [f"{mod}.{n}" for n in names if f"{mod}.{n}" in modules]
    return subs if names and len(subs) == len(names) else subs + [mod]


def _sources(*folders: str):
    for folder in folders:
        yield from sorted((ROOT / folder).rglob("*.py"))


@pytest.fixture(scope="module")
def modules() -> dict[str, Path]:
    return {_module_name(p): p for p in _sources(*PACKAGES)}


def test_arrows_point_one_way():
    bad = []
    for path in _sources(*PACKAGES):
        own = _module_name(path).split(".")[0]
        for mod, _, line in _imports(path):
            top = mod.split(".")[0]
            if top in PACKAGES and top != own and top not in ALLOWED[own]:
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {mod}")
    assert not bad, "imports against the layering rendering <- solvers <- learned <- kit <- bench:\n" + "\n".join(bad)


def test_nothing_outside_rendering_touches_its_privates():
    bad = []
    for path in _sources("solvers", "learned", "kit", "bench", "benchmarks"):
        for mod, names, line in _imports(path):
            if not mod.startswith("rendering"):
                continue
            if any(part.startswith("_") for part in mod.split(".")):
                bad.append(f"{path.relative_to(ROOT)}:{line} imports private module {mod}")
            bad += [f"{path.relative_to(ROOT)}:{line} imports private name {mod}.{n}" for n in names
                    if n.startswith("_")]
        text = path.read_text()
        for attr in ("._derived", "._lock", "._torch", "._memory"):
            if attr in text:
                bad.append(f"{path.relative_to(ROOT)} reads a private attribute {attr} of rendering")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_circle_inside_a_package(package, modules):
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        if name.split(".")[0] != package:
            continue
        deps = set()
        for mod, names, _ in _imports(path):
            deps |= {t for t in _targets(mod, names, modules)
                     if t in modules and t.split(".")[0] == package and t != name}
        graph[name] = deps
    # a package's __init__ imports its modules; a module importing its own package's __init__ closes a circle
    cycles = []
    state: dict[str, int] = {}

    def visit(node, stack):
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                cycles.append(" -> ".join(stack[stack.index(dep):] + [dep]))
            elif dep not in state:
                visit(dep, stack + [dep])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, f"import circles in {package}:\n" + "\n".join(cycles)


def test_the_kit_is_a_layer_of_its_own():
    """No folder solvers/kit; nothing below the kit imports it (the solvers never write files of the kit)."""
    assert not (ROOT / "solvers" / "kit").exists()
    bad = [f"{path.relative_to(ROOT)}:{line} imports {mod}" for path in _sources("rendering", "solvers", "learned")
           for mod, _, line in _imports(path) if mod.split(".")[0] == "kit"]
    assert not bad, "\n".join(bad)


def test_results_are_read_through_the_one_reader():
    """The kit, the report and the harness read result files through kit.results.load_solution only: no other
    module parses a pin file or a result JSON."""
    readers = ("read_pin_file", "read_result_doc", "solution_from_doc")
    bad = []
    for path in _sources("kit", "bench"):
        if path.name == "results.py" and path.parent.name == "kit":
            continue
        text = path.read_text()
        bad += [f"{path.relative_to(ROOT)} calls {r}" for r in readers if f"{r}(" in text]
    assert not bad, "\n".join(bad)


def test_every_module_with_numba_kernels_stamps_the_cache():
    """A module that compiles numba kernels registers itself for the cache stamp (rendering.jit), so an edit to
    any kernel module recompiles every cached kernel that may inline it."""
    from rendering.jit import kernel_modules

    found = set()
    for path in _sources(*PACKAGES):
        text = path.read_text()
        if re.search(r"^from numba import .*\bnjit\b", text, re.M):  # CPU kernels, cached on disk
            found.add(str(path.relative_to(ROOT)))
    stamped = set(kernel_modules())
    assert found <= stamped, f"kernel modules missing from the cache stamp: {sorted(found - stamped)}"


def test_few_places_branch_on_grey_versus_colour():
    """Outside kernel modules the code loops over threads instead of asking whether it is in colour: at most 10
    grey/colour conditionals (``tools/branches.py`` counts them; 96 at 52ed502, before the one picture model)."""
    import runpy

    tool = runpy.run_path(str(ROOT / "tools" / "branches.py"))
    found = tool["branches"](ROOT)
    assert len(found) <= 10, "\n".join(f"{f}:{line}: {src}" for f, line, src in found)


#: the most parameters a kernel (a function in a kernel module) may take: state passes as named tuples
MAX_KERNEL_PARAMETERS = 14


def test_kernels_take_named_tuples_not_long_argument_lists():
    """Every function in a kernel module (``_*.py`` in rendering and solvers, the CUDA kernels nested in their
    factories included) takes at most :data:`MAX_KERNEL_PARAMETERS` parameters: state passes as named tuples
    (pynndescent's habit), not the 15-41 positional arguments the greedy kernels once took."""
    long = []
    for path in _sources("rendering", "solvers"):
        if not path.name.startswith("_") or path.name == "__init__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.FunctionDef):
                n = len(node.args.posonlyargs) + len(node.args.args) + len(node.args.kwonlyargs)
                if n > MAX_KERNEL_PARAMETERS:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} takes {n}")
    assert not long, "\n".join(long)
