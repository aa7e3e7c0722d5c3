"""Count the places outside kernel modules that branch on grey versus colour (issue 22's measure).

A *grey/colour conditional* is the test of an ``if``, a conditional expression, a ``while`` or a
comprehension's ``if`` that asks whether a thing is grey or in colour, in any of the forms the code has
used: ``X is None`` / ``X is not None`` of a palette, colours, paths, the colour picture or the board
(``palette is None``, ``colors is not None``, ``target.rgb is None``); a grey/colour flag
(``palette.plain``, ``palette.grey``, ``sol.is_colour``, ``cls.colour`` / ``cls.colours``, a bare
``colour`` or ``grey`` variable); a colour column or key looked up (``"de2000" in df``,
``measured(df, "de2000")``, ``"colors" in options``); a call that asks (``is_colour_table(df)``,
``threads_for(...) is None``). Validation of a palette's own values is not a branch between grey and
colour and is not counted. Kernel modules (files named ``_*.py``) are left out: choosing the
one-channel fast path is their business. Usage::

    python tools/branches.py            # the count and every place
    python tools/branches.py --max 10   # exit 1 when there are more than 10 (the test suite runs this)
    python tools/branches.py --root DIR # another checkout (e.g. an older commit, to compare)
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from pathlib import Path

PACKAGES = ("rendering", "solvers", "learned", "kit", "bench")
#: names whose ``is None`` / ``is not None`` tells grey from colour
NONE_OF = re.compile(r"(palette|colou?rs?|rgb|paths|threads_for|colou?r_\w+)\b")
#: flags (attributes or variables) that say grey or colour
FLAGS = {"plain", "grey", "gray", "colour", "color", "colours", "is_colour", "is_colour_table", "any_threads",
         "colour_study"}
#: keys and columns that only a colour result has
KEYS = {"de2000", "de2000_full", "colors", "palette", "board", "rgb"}


def _truth_operands(node: ast.AST):
    """The parts of a test whose truth decides it: the test itself, and through ``not``, ``and``, ``or``."""
    yield node
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield from _truth_operands(node.operand)
    elif isinstance(node, ast.BoolOp):
        for v in node.values:
            yield from _truth_operands(v)


def _asks(node: ast.AST, text: str) -> bool:
    """Whether a test expression asks grey-or-colour (see the module's docstring)."""
    for n in _truth_operands(node):  # a flag counts where its truth is the question (not ``colours.size``)
        if isinstance(n, ast.Attribute) and n.attr in FLAGS:
            return True
        if isinstance(n, ast.Name) and n.id in FLAGS:
            return True
    for n in ast.walk(node):
        if isinstance(n, ast.Compare) and any(isinstance(op, (ast.Is, ast.IsNot)) for op in n.ops):
            if any(isinstance(c, ast.Constant) and c.value is None for c in n.comparators):
                if NONE_OF.search(ast.get_source_segment(text, n.left) or ""):
                    return True
        if isinstance(n, ast.Compare) and any(isinstance(op, (ast.In, ast.NotIn)) for op in n.ops):
            if isinstance(n.left, ast.Constant) and n.left.value in KEYS:
                return True
        if isinstance(n, ast.Call):
            fn = getattr(n.func, "id", getattr(n.func, "attr", ""))
            if fn in FLAGS or (fn == "measured" and any(isinstance(a, ast.Constant) and a.value in KEYS
                                                      for a in n.args)):
                return True
    return False


def branches(root: Path) -> list[tuple[str, int, str]]:
    """``(file, line, test source)`` of every grey/colour conditional under ``root``."""
    out = []
    for pkg in PACKAGES:
        for path in sorted((root / pkg).rglob("*.py")):
            if path.name.startswith("_") and path.name != "__init__.py":
                continue
            text = path.read_text()
            tree = ast.parse(text)
            for node in ast.walk(tree):
                tests = []
                if isinstance(node, (ast.If, ast.IfExp, ast.While)):
                    tests.append(node.test)
                elif isinstance(node, ast.comprehension):
                    tests += node.ifs
                for t in tests:
                    if _asks(t, text):
                        src = ast.get_source_segment(text, t) or ""
                        out.append((str(path.relative_to(root)), t.lineno, " ".join(src.split())))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    ap.add_argument("--max", type=int, default=None, help="exit 1 when the count is higher")
    ap.add_argument("--quiet", action="store_true", help="print the count only")
    args = ap.parse_args(argv)
    found = branches(args.root)
    if not args.quiet:
        for f, line, src in found:
            print(f"{f}:{line}: {src}")
    print(f"{len(found)} grey/colour conditionals outside kernel modules")
    return 1 if args.max is not None and len(found) > args.max else 0


if __name__ == "__main__":
    sys.exit(main())
