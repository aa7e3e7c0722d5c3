"""The results tables and numbers of the README and the documentation, regenerated from the result files.

Every table of results and every number from a result file on a page (``README.md`` and ``docs/*.md``,
except ``docs/serve.md``) sits between markers that name its source; this command rewrites what is between
them from the committed result files, or checks that it matches. Usage::

    python tools/docs_tables.py                  # rewrite the pages in place (atomically), print what changed
    python tools/docs_tables.py --check          # rewrite nothing; one line per mismatch, exit 1 if any
    python tools/docs_tables.py --check README.md docs/results.md   # some pages only

Exit status: 0 every page matches (or was rewritten), 1 ``--check`` found a mismatch, 2 a marker is bad
(unknown kind, option or source: one line saying what was expected, what came, how to fix it).

Markers
-------
A **table** is a block: the opening marker on its own line, the generated lines, the closing marker::

    <!-- table: KIND SOURCE OPTION=VALUE ... -->
    | solver | 4000 |
    ...
    <!-- /table -->

A **value** is inline, inside one line of prose (or of a hand-made table), never at the start of a line
(Markdown would take that line for an HTML block and split the paragraph)::

    greedy-view reaches <!-- v: value results/default col=ssim solver=greedy-view lines=4000 -->0.618<!-- /v -->

``SOURCE`` is a path relative to the repository root: a study folder (its ``runs.csv``, read with
:func:`bench.storage.read_runs`; only finished runs count), a ``.csv`` file, a ``.md`` file (one of its
tables, or its text) or any other text file (``.txt``, ``meta.json``: its text). The arguments are split as
a shell would (quote a value with spaces: ``heading="4000 lines"``). ``OPTION=VALUE`` pairs are the kind's
options below; any other ``COLUMN=VALUE`` keeps the rows whose column has that value (``a|b`` for either;
numbers compare as numbers). Markers inside fenced code blocks are left alone.

Table kinds:

``pivot SOURCE metric=M [lines=N,N] [solvers=A,B] [refs=yes|no] [ci=yes|no] [digits=N] [best=max|min|none]
[label=TEXT]``
    Solvers x line counts of a study, as its ``summary.md`` draws them (:func:`bench.report.pivot`,
    :func:`bench.report.markdown_table`): the mean over images and seeds of the finished runs, ``±`` half the
    95 % bootstrap interval over images (:func:`bench.report.interval_halfwidths`; ``ci=no`` leaves it out),
    the bare-board and flat-picture reference rows (``refs=no`` leaves them out), the best solver of each
    column in bold (among the rows shown). ``lines`` and ``solvers`` choose columns and rows (in that order;
    default all, in the study's order); ``digits`` and ``best`` default to :data:`bench.report.METRIC_TABLES`
    (``seconds``: three significant figures, the least in bold, no references; ``digits=auto``: three
    significant figures); ``label`` is the column header, ``{lines}`` standing for the line count. SOURCE
    may also be a ``.csv`` with ``solver``, ``lines`` and ``image`` columns (one row per run).
``md SOURCE [heading=H] [table=N] [columns=A,B]``
    A copy of a Markdown table of a results file: the ``table``-th (default 1) after the heading whose text
    is ``H`` (``"A > B"``: the heading ``B`` after the heading ``A``; default: the file's start), up to the
    next heading of the same or a higher level; ``columns`` keeps those (by header).

Value kinds (``fmt`` is a Python format spec, e.g. ``.3f``, ``+.3f``, ``d``; ``digits=N`` is ``.Nf``;
``scale`` multiplies first; a range prints ``LOW{sep}HIGH``, or one number where both print alike):

``value SOURCE col=C [agg=mean|median|min|max|range|sum|count|nunique] [over=COLUMN,...] [COLUMN=VALUE ...]``
    An aggregate of a column over the rows kept (``count`` counts the rows); with ``over``, of the column's
    means in each group (``over=lines agg=range``: the range of the means per line count).
``diff SOURCE col=C a=X b=Y [by=solver] [over=lines] [agg=range|min|max|mean|pos|neg|groups]``
    ``mean(C | by=X) - mean(C | by=Y)`` in each group of ``over`` (``over=image,lines`` pairs per image
    and line count; ``over=none`` one group), then ``agg`` over the groups: the range (default; ``sep``
    defaults to `` to ``), the least, the most, the mean, or how many groups are above zero (``pos``), below
    (``neg``), or there are (``groups``). Signed (``+.3f``) by default.
``ratio SOURCE col=C a=X b=Y [by=solver] [over=lines] [agg=range|min|max|mean]``
    The same with ``mean(a) / mean(b)`` (``.2f``, ``sep`` ``-``): "1.2-1.3x greedy's time".
``cell SOURCE col=C [heading=H] [table=N] [COLUMN=VALUE ...]``
    The text of one cell of a Markdown table (chosen as for ``md``; bold and italics stripped) or of a
    ``.csv``, in the one row the filters keep; re-formatted only when ``fmt``, ``digits`` or ``scale`` is
    given.
``text SOURCE pattern=REGEX [heading=H] [match=K] [agg=min|max|range|mean|sum|count]``
    What the regular expression's one group captures in the file's text (or in the section under heading
    ``H``): the ``match``-th match (default 1; -1 the last), or ``agg`` over every match. For numbers in
    prose or lists of a results file (``mean seconds ... greedy 0.31``).

Everything else on a page is left as it is. A number that has no committed source is not put under a
marker; the pull request that adds one says so.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
#: pages another change owns: never read or rewritten here
SKIP = ("docs/serve.md",)

BLOCK_OPEN = re.compile(r"^<!-- table: (?P<spec>.*?) -->\s*$")
BLOCK_CLOSE = "<!-- /table -->"
INLINE = re.compile(r"<!-- v: (?P<spec>.*?) -->(?P<body>.*?)<!-- /v -->")
FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


class MarkerError(ValueError):
    """A marker that cannot be evaluated (its message is one line: what was expected, what came, the fix)."""


@dataclass
class Mismatch:
    """One place where a page differs from its source: the page, the 1-based line, both texts."""

    page: str
    line: int
    source: str | None
    page_text: str | None

    def __str__(self) -> str:
        src = "(nothing)" if self.source is None else repr(self.source)
        got = "(nothing)" if self.page_text is None else repr(self.page_text)
        return f"{self.page}:{self.line}: the source gives {src}, the page says {got}"


# --------------------------------------------------------------------------- pages
def pages(root: Path = ROOT) -> list[Path]:
    """``README.md`` and ``docs/*.md`` under ``root``, less :data:`SKIP`."""
    found = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    return [p for p in found if p.is_file() and p.relative_to(root).as_posix() not in SKIP]


# --------------------------------------------------------------------------- marker arguments
def parse_spec(spec: str) -> tuple[str, str, dict[str, str]]:
    """``KIND SOURCE KEY=VALUE ...`` split as a shell would: the kind, the source and the pairs.

    >>> parse_spec('cell results/x.md col="wall s" case=lines')
    ('cell', 'results/x.md', {'col': 'wall s', 'case': 'lines'})
    """
    try:
        words = shlex.split(spec)
    except ValueError as e:
        raise MarkerError(f"cannot split the marker '{spec}' ({e}); close every quote") from None
    if len(words) < 2:
        raise MarkerError(f"a marker needs a kind and a source, got '{spec}'; write e.g. "
                          f"'value results/default col=ssim solver=greedy lines=4000'")
    args: dict[str, str] = {}
    for w in words[2:]:
        key, eq, value = w.partition("=")
        if not eq or not key:
            raise MarkerError(f"expected KEY=VALUE after the source, got '{w}' in '{spec}'; quote a value "
                              f"with spaces (key=\"a b\")")
        args[key] = value
    return words[0], words[1], args


def _take(args: dict[str, str], allowed: tuple[str, ...]) -> tuple[dict[str, str], dict[str, str]]:
    """Split the pairs into the kind's options and the column filters."""
    return ({k: v for k, v in args.items() if k in allowed}, {k: v for k, v in args.items() if k not in allowed})


def _no_filters(kind: str, filters: dict[str, str], allowed: tuple[str, ...]) -> None:
    if filters:
        raise MarkerError(f"'{kind}' takes the options {', '.join(allowed)}, got {', '.join(filters)}; "
                          f"remove or rename them")


def _int(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise MarkerError(f"{name} must be an integer, got '{value}'") from None


def _float(name: str, value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise MarkerError(f"{name} must be a number, got '{value}'") from None


def _yes(name: str, value: str) -> bool:
    if value not in ("yes", "no"):
        raise MarkerError(f"{name} must be yes or no, got '{value}'")
    return value == "yes"


# --------------------------------------------------------------------------- sources
class Sources:
    """The result files a run of the command reads, each read once, paths relative to ``root``."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._cache: dict[tuple, object] = {}

    def path(self, source: str) -> Path:
        """The file or folder ``source`` names; a one-line error where there is none."""
        p = self.root / source
        if not p.exists():
            raise MarkerError(f"unknown source '{source}': no such file or folder under {self.root}; expected a "
                              f"study folder (runs.csv), a .csv, .md or .txt file, relative to the repository root")
        return p

    def memo(self, key: tuple, build: Callable[[], object]):
        """``build()``, made once per ``key`` for the life of this object."""
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    def runs(self, source: str) -> pd.DataFrame:
        """A study's ``runs.csv`` (all runs, failed ones too), or a ``.csv`` of runs with the columns
        :func:`bench.report.pivot` needs filled in (``config``, ``error``)."""
        from rendering import InputError

        p = self.path(source)
        if p.is_dir() or p.name == "runs.csv":
            from bench.storage import read_runs

            try:
                return self.memo(("runs", source), lambda: read_runs(p if p.is_dir() else p.parent))
            except InputError as e:
                raise MarkerError(f"source '{source}': {e}") from None
        if p.suffix != ".csv":
            raise MarkerError(f"source '{source}' is not runs: expected a study folder (with runs.csv) or a .csv "
                              f"with solver, lines and metric columns")
        df = self.csv(source).copy()
        for col, default in (("config", "{}"), ("error", "")):
            df[col] = _texts(df[col], default) if col in df.columns else default
        return df

    def order(self, source: str) -> list[str] | None:
        """The study's solver order (``meta.json``), or None."""
        p = self.path(source)
        meta = (p if p.is_dir() else p.parent) / "meta.json"
        try:
            solvers = (json.loads(meta.read_text()).get("study") or {}).get("solvers")
        except (OSError, ValueError, AttributeError):
            return None
        return list(solvers) if solvers else None

    def csv(self, source: str) -> pd.DataFrame:
        p = self.path(source)

        def read() -> pd.DataFrame:
            try:
                return pd.read_csv(p)
            except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
                raise MarkerError(f"source '{source}' is not a readable CSV ({e}); regenerate it") from None

        return self.memo(("csv", source), read)

    def text(self, source: str) -> str:
        p = self.path(source)
        if not p.is_file():
            raise MarkerError(f"source '{source}' is a folder; name a .md or .txt file inside it")
        return self.memo(("text", source), lambda: p.read_text(encoding="utf-8"))

    def md_table(self, source: str, heading: str | None, n: int) -> list[list[str]]:
        """The ``n``-th Markdown table (1-based) of a file's section (:func:`md_tables`)."""
        lines = section(self.text(source), heading, source)
        tables = md_tables(lines)
        if not 1 <= n <= len(tables):
            where = f"under '{heading}'" if heading else "in the file"
            raise MarkerError(f"source '{source}' has {len(tables)} table(s) {where}, asked for table={n}; "
                              f"pick 1-{len(tables)} or another heading")
        return tables[n - 1]

    def frame(self, source: str, heading: str | None = None, n: int = 1) -> pd.DataFrame:
        """A source as rows: the finished runs of a study, a CSV, or a Markdown table (cells as text)."""
        p = self.path(source)
        if p.is_dir() or p.name == "runs.csv":
            df = self.runs(source)
            return df[df["error"] == ""]
        if p.suffix == ".csv":
            df = self.csv(source)
            if "error" in df.columns:
                df = df[_texts(df["error"], "") == ""]
            return df
        if p.suffix == ".md":
            rows = self.md_table(source, heading, n)
            head = [_plain(c) for c in rows[0]]
            body = [r + [""] * (len(head) - len(r)) for r in rows[2:]]
            return pd.DataFrame([[_plain(c) for c in r[:len(head)]] for r in body], columns=head, dtype=object)
        raise MarkerError(f"source '{source}' has no rows: expected a study folder, a .csv or a .md file "
                          f"(a .txt takes the 'text' kind)")


def _texts(series: pd.Series, empty: str) -> pd.Series:
    """A column as text, ``empty`` where it is missing (an all-empty column reads as float NaN)."""
    return series.astype(object).where(series.notna(), empty).astype(str)


def section(text: str, heading: str | None, source: str) -> list[str]:
    """The lines of a Markdown text under ``heading`` (``"A > B"`` nests) up to the next heading of the same
    or a higher level; the whole text when ``heading`` is None. Fenced code is not searched for headings."""
    lines = text.splitlines()
    if not heading:
        return lines
    heads = []  # (index, level, text)
    fenced = False
    for i, line in enumerate(lines):
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced and (m := HEADING.match(line)):
            heads.append((i, len(m.group(1)), m.group(2)))
    start, pos, level = -1, 0, 0
    for part in (h.strip() for h in heading.split(" > ")):
        for k in range(pos, len(heads)):
            if heads[k][2] == part:
                start, level, pos = heads[k][0], heads[k][1], k + 1
                break
        else:
            have = "; ".join(h[2] for h in heads[:12])
            raise MarkerError(f"source '{source}' has no heading '{part}' (of '{heading}'); its headings: {have}")
    end = next((h[0] for h in heads[pos:] if h[1] <= level), len(lines))
    return lines[start + 1:end]


def _cells(line: str) -> list[str]:
    body = line.strip()
    body = body[1:] if body.startswith("|") else body
    body = body[:-1] if body.endswith("|") and not body.endswith("\\|") else body
    return [c.strip() for c in re.split(r"(?<!\\)\|", body)]


def md_tables(lines: list[str]) -> list[list[list[str]]]:
    """Every Markdown table in ``lines``: its rows of stripped cells, the header first and the ``---`` row
    second.

    >>> md_tables(["x", "| a | b |", "|---|---:|", "| 1 | **2** |", ""])
    [[['a', 'b'], ['---', '---:'], ['1', '**2**']]]
    """
    out, cur = [], []
    fenced = False
    for line in [*lines, ""]:
        if FENCE.match(line):
            fenced = not fenced
        if not fenced and line.lstrip().startswith("|"):
            cur.append(line)
            continue
        if len(cur) >= 2 and re.fullmatch(r"\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?", cur[1].strip()):
            out.append([_cells(r) for r in cur])
        cur = []
    return out


def _plain(cell: str) -> str:
    """A cell's text without the Markdown emphasis or code marks around it (``**0.358**`` -> ``0.358``; a mark
    that is not closed stays: ``raveler*``).

    >>> _plain("**0.358**"), _plain("*bare board (reference)*"), _plain("raveler*"), _plain("`a`")
    ('0.358', 'bare board (reference)', 'raveler*', 'a')
    """
    text = cell.strip()
    while m := re.fullmatch(r"(\*\*|\*|__|_|`)(.+)\1", text):
        text = m.group(2).strip()
    return text


def number(text) -> float:
    """A cell as a number: ``+0.016`` and ``16,583`` read; a ``±`` or bracketed interval and marks after the
    number are ignored; NaN where there is no number."""
    if isinstance(text, (int, float, np.integer, np.floating)) and not isinstance(text, bool):
        return float(text)
    m = re.match(r"^\s*([-+−]?[\d,]*\.?\d+(?:[eE][-+]?\d+)?)", _plain(str(text)))
    return float(m.group(1).replace(",", "").replace("−", "-")) if m else math.nan


# --------------------------------------------------------------------------- filters and formats
def keep(df: pd.DataFrame, filters: dict[str, str], source: str) -> pd.DataFrame:
    """The rows of ``df`` whose columns hold the filters' values (``a|b``: either; numbers as numbers)."""
    for col, want in filters.items():
        if col not in df.columns:
            raise MarkerError(f"source '{source}' has no column '{col}' (it has {', '.join(map(str, df.columns))});"
                              f" filter on one of those, or check the option's name")
        values = want.split("|")
        series = df[col]
        numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
        if numeric and all(not math.isnan(number(v)) for v in values):
            mask = series.astype(float).isin([number(v) for v in values])
        else:
            mask = series.astype(str).map(_plain).isin(values)
        df = df[mask.to_numpy()]
    return df


def _spec(opts: dict[str, str], default: str) -> str:
    if "fmt" in opts:
        return opts["fmt"]
    if "digits" in opts:
        return ("+" if default.startswith("+") else "") + f".{_int('digits', opts['digits'])}f"
    return default


def fmt_number(x: float, spec: str) -> str:
    """``x`` formatted by ``spec``; a zero never prints a minus sign (``-0.000`` -> ``+0.000`` or ``0.000``).

    >>> fmt_number(-0.0001, "+.3f"), fmt_number(3.0, "d"), fmt_number(0.0735, ".3f")
    ('+0.000', '3', '0.073')
    """
    if x is None or (isinstance(x, float) and math.isnan(x)):
        raise MarkerError("the source gives no value here (no row kept, or not a number); check the filters")
    try:
        text = format(int(round(x)), spec) if spec.endswith("d") else format(float(x), spec)
    except ValueError as e:
        raise MarkerError(f"bad format '{spec}' ({e}); use a Python format spec such as .3f, +.3f or d") from None
    if text.startswith("-") and number(text) == 0:
        text = ("+" if "+" in spec else "") + text[1:]
    return text


def aggregate(values: np.ndarray, agg: str, spec: str, sep: str) -> str:
    """``values`` reduced by ``agg`` and formatted: a range prints ``low{sep}high`` (one number if alike)."""
    values = np.asarray(values, dtype=float)
    if agg in ("count", "groups"):
        return fmt_number(float(values.size), "d")
    if agg in ("pos", "neg"):
        return fmt_number(float((values > 0).sum() if agg == "pos" else (values < 0).sum()), "d")
    values = values[~np.isnan(values)]
    if values.size == 0:
        raise MarkerError("the source gives no value here (no row kept); check the filters")
    if agg == "range":
        lo, hi = fmt_number(values.min(), spec), fmt_number(values.max(), spec)
        return lo if lo == hi else f"{lo}{sep}{hi}"
    funcs: dict[str, Callable[[np.ndarray], float]] = {"mean": np.mean, "median": np.median, "min": np.min,
                                                        "max": np.max, "sum": np.sum}
    return fmt_number(float(funcs[agg](values)), spec)


def _check_agg(agg: str, allowed: tuple[str, ...]) -> str:
    if agg not in allowed:
        raise MarkerError(f"agg must be one of {', '.join(allowed)}, got '{agg}'")
    return agg


def _scaled(values, opts: dict[str, str]) -> np.ndarray:
    scale = _float("scale", opts["scale"]) if "scale" in opts else 1.0
    return np.array([number(v) for v in values], dtype=float) * scale


# --------------------------------------------------------------------------- table kinds
PIVOT_OPTS = ("metric", "lines", "solvers", "refs", "ci", "digits", "best", "label")


def table_pivot(src: Sources, source: str, args: dict[str, str]) -> list[str]:
    """Solvers x line counts of a study (see the module's docstring)."""
    from bench import report

    opts, filters = _take(args, PIVOT_OPTS)
    metric = opts.get("metric")
    if not metric:
        raise MarkerError("pivot needs metric=COLUMN (e.g. metric=ssim)")
    df = keep(src.runs(source), filters, source)
    if metric not in df.columns:
        raise MarkerError(f"source '{source}' has no metric '{metric}'; pick one of its columns "
                          f"(ssim, l1, psnr, seconds, ...)")
    if df.empty:
        raise MarkerError(f"no run of '{source}' is kept by {filters}; check the filters")
    known = {m: (d, b) for m, _, d, b in report.METRIC_TABLES}
    digits: int | None
    best: str | None
    if metric == "seconds":
        digits, best, refs = None, "min", False
    else:
        digits, best = known.get(metric, (3, None))
        refs = True
    if "digits" in opts:
        digits = None if opts["digits"] == "auto" else _int("digits", opts["digits"])
    if "best" in opts:
        if opts["best"] not in ("max", "min", "none"):
            raise MarkerError(f"best must be max, min or none, got '{opts['best']}'")
        best = None if opts["best"] == "none" else opts["best"]
    refs = _yes("refs", opts["refs"]) if "refs" in opts else refs
    ci = _yes("ci", opts["ci"]) if "ci" in opts else metric != "seconds"
    order = src.order(source)
    table = report.pivot(df, metric, order=order, references=refs)
    half = None
    if ci and "image" in df.columns:  # the bootstrap is the slow part: once per source, filters and metric
        key = ("intervals", source, tuple(sorted(filters.items())), metric)
        half = src.memo(key, lambda: report.interval_halfwidths(df, metric, order))
    lines = list(table.columns)
    if "lines" in opts:
        want = [_int("lines", v) for v in opts["lines"].split(",")]
        missing = [n for n in want if n not in lines]
        if missing:
            raise MarkerError(f"source '{source}' has no runs at lines {missing}; it has {lines}")
        lines = want
    solvers = [s for s in table.index if s not in report.REFERENCE_LABELS.values()]
    if "solvers" in opts:
        want_s = opts["solvers"].split(",")
        missing_s = [s for s in want_s if s not in solvers]
        if missing_s:
            raise MarkerError(f"source '{source}' has no solver {', '.join(missing_s)}; it has {', '.join(solvers)}")
        solvers = want_s
    rows = solvers + [r for r in table.index if r in report.REFERENCE_LABELS.values()]
    table = table.loc[rows, lines]
    flags = {f for f in report.incomplete_cells(df, order) if f[0] in rows and f[1] in lines}
    if "label" in opts:
        names = {n: opts["label"].format(lines=n) for n in lines}
        table = table.rename(columns=names)
        half = half.rename(columns=names) if half is not None else None
        flags = {(r, names[c]) for r, c in flags}
    text = report.markdown_table(table, digits=digits, best=best, flags=flags or None, ci=half)
    return text.splitlines()


MD_OPTS = ("heading", "table", "columns")


def table_md(src: Sources, source: str, args: dict[str, str]) -> list[str]:
    """A copy of a Markdown table of a results file (its columns chosen)."""
    opts, extra = _take(args, MD_OPTS)
    _no_filters("md", extra, MD_OPTS)
    rows = src.md_table(source, opts.get("heading"), _int("table", opts.get("table", "1")))
    head, seps = rows[0], rows[1]
    keep_idx = list(range(len(head)))
    if "columns" in opts:
        want = [c.strip() for c in opts["columns"].split(",")]
        plain = [_plain(h) for h in head]
        missing = [c for c in want if c not in plain]
        if missing:
            raise MarkerError(f"the table of '{source}' has no column {', '.join(missing)}; "
                              f"it has {', '.join(plain)}")
        keep_idx = [plain.index(c) for c in want]
    seps = [seps[i] if i < len(seps) else "---" for i in range(len(head))]

    def row(cells: list[str]) -> str:
        cells = cells + [""] * (len(head) - len(cells))
        return "|" + "|".join(f" {cells[i]} " if cells[i] else " " for i in keep_idx) + "|"

    return [row(head), "|" + "|".join(seps[i] for i in keep_idx) + "|", *[row(r) for r in rows[2:]]]


TABLE_KINDS: dict[str, Callable[[Sources, str, dict[str, str]], list[str]]] = {"pivot": table_pivot, "md": table_md}


# --------------------------------------------------------------------------- value kinds
VALUE_OPTS = ("col", "agg", "fmt", "digits", "scale", "sep", "heading", "table")


def _groups(df: pd.DataFrame, over: str | None, source: str) -> list[str]:
    """The ``over=A,B`` columns (none for ``over=none`` or no option), checked to be in ``df``."""
    cols = [] if over in (None, "none") else over.split(",")
    for c in cols:
        if c not in df.columns:
            raise MarkerError(f"source '{source}' has no column '{c}' to group by; set over= to one of "
                              f"{', '.join(map(str, df.columns))} (over=none for one group)")
    return cols


def _column(df: pd.DataFrame, opts: dict[str, str], source: str, kind: str) -> str:
    col = opts.get("col")
    if not col:
        raise MarkerError(f"'{kind}' needs col=COLUMN")
    if col not in df.columns:
        raise MarkerError(f"source '{source}' has no column '{col}' (it has {', '.join(map(str, df.columns))})")
    return col


def value_value(src: Sources, source: str, args: dict[str, str]) -> str:
    """An aggregate of a column over the rows kept."""
    opts, filters = _take(args, (*VALUE_OPTS, "over"))
    df = keep(src.frame(source, opts.get("heading"), _int("table", opts.get("table", "1"))), filters, source)
    agg = _check_agg(opts.get("agg", "mean"), ("mean", "median", "min", "max", "range", "sum", "count", "nunique"))
    if agg == "count":
        return fmt_number(float(len(df)), "d")
    col = _column(df, opts, source, "value")
    if agg == "nunique":
        return fmt_number(float(df[col].nunique()), "d")
    over = _groups(df, opts.get("over"), source)
    values = _scaled(df[col], opts)
    if over:
        values = df.assign(_v=values).groupby(over)["_v"].mean().to_numpy()
    return aggregate(values, agg, _spec(opts, ".3f"), opts.get("sep", "-"))


PAIR_OPTS = (*VALUE_OPTS, "a", "b", "by", "over")


def _pairs(src: Sources, source: str, args: dict[str, str], kind: str) -> tuple[pd.Series, pd.Series, dict]:
    opts, filters = _take(args, PAIR_OPTS)
    df = keep(src.frame(source, opts.get("heading"), _int("table", opts.get("table", "1"))), filters, source)
    col = _column(df, opts, source, kind)
    by = opts.get("by", "solver")
    if by not in df.columns:
        raise MarkerError(f"source '{source}' has no column '{by}' naming what to compare; set by= to one of "
                          f"{', '.join(map(str, df.columns))}")
    over = _groups(df, opts.get("over", "lines"), source)
    if "a" not in opts or "b" not in opts:
        raise MarkerError(f"'{kind}' needs a=VALUE and b=VALUE (two values of the column '{by}')")
    df = df.assign(_v=_scaled(df[col], opts))
    means = []
    for side in (opts["a"], opts["b"]):
        part = df[df[by].astype(str).map(_plain) == side]
        if part.empty:
            have = ", ".join(dict.fromkeys(df[by].astype(str).map(_plain)))
            raise MarkerError(f"source '{source}' has no row with {by}={side}; it has {have}")
        means.append(part.groupby(over)["_v"].mean() if over else pd.Series([part["_v"].mean()]))
    a, b = means[0].align(means[1], join="inner")
    if a.empty:
        raise MarkerError(f"{opts['a']} and {opts['b']} share no group of {', '.join(over)} in '{source}'")
    return a, b, opts


def value_diff(src: Sources, source: str, args: dict[str, str]) -> str:
    """Per group, the difference of two solvers' means; then the range (or another aggregate) over groups."""
    a, b, opts = _pairs(src, source, args, "diff")
    agg = _check_agg(opts.get("agg", "range"), ("range", "min", "max", "mean", "pos", "neg", "groups"))
    return aggregate((a - b).to_numpy(), agg, _spec(opts, "+.3f"), opts.get("sep", " to "))


def value_ratio(src: Sources, source: str, args: dict[str, str]) -> str:
    """Per group, the ratio of two solvers' means; then the range (or another aggregate) over groups."""
    a, b, opts = _pairs(src, source, args, "ratio")
    agg = _check_agg(opts.get("agg", "range"), ("range", "min", "max", "mean"))
    return aggregate((a / b).to_numpy(), agg, _spec(opts, ".2f"), opts.get("sep", "-"))


def value_cell(src: Sources, source: str, args: dict[str, str]) -> str:
    """The text of the one cell the filters and ``col`` pick."""
    opts, filters = _take(args, ("col", "fmt", "digits", "scale", "heading", "table"))
    df = keep(src.frame(source, opts.get("heading"), _int("table", opts.get("table", "1"))), filters, source)
    col = _column(df, opts, source, "cell")
    if len(df) != 1:
        raise MarkerError(f"{len(df)} rows of '{source}' match {filters or 'no filter'}; filter on more columns "
                          f"so that one row is left")
    cell = df[col].iloc[0]
    if any(k in opts for k in ("fmt", "digits", "scale")):
        return fmt_number(float(_scaled([cell], opts)[0]), _spec(opts, ".3f"))
    return _plain(str(cell))


TEXT_OPTS = ("pattern", "heading", "match", "agg", "fmt", "digits", "scale", "sep")


def value_text(src: Sources, source: str, args: dict[str, str]) -> str:
    """What a regular expression's group captures in a results file's text."""
    opts, extra = _take(args, TEXT_OPTS)
    _no_filters("text", extra, TEXT_OPTS)
    if "pattern" not in opts:
        raise MarkerError("'text' needs pattern=REGEX with one group, e.g. pattern=\"greedy (\\d+\\.\\d+)\"")
    try:
        rx = re.compile(opts["pattern"])
    except re.error as e:
        raise MarkerError(f"pattern '{opts['pattern']}' is not a regular expression ({e})") from None
    if rx.groups != 1:
        raise MarkerError(f"pattern '{opts['pattern']}' has {rx.groups} groups; give it exactly one (...)")
    text = "\n".join(section(src.text(source), opts.get("heading"), source))
    found = rx.findall(text)
    if not found:
        raise MarkerError(f"pattern '{opts['pattern']}' matches nothing in '{source}'; the file changed: "
                          f"rewrite the pattern or the sentence")
    if "agg" in opts:
        agg = _check_agg(opts["agg"], ("min", "max", "range", "mean", "sum", "count"))
        return aggregate(_scaled(found, opts), agg, _spec(opts, ".3f"), opts.get("sep", "-"))
    k = _int("match", opts.get("match", "1"))
    if not (1 <= k <= len(found) or -len(found) <= k <= -1):
        raise MarkerError(f"pattern '{opts['pattern']}' matches {len(found)} time(s) in '{source}', asked for "
                          f"match={k}")
    got = found[k - 1 if k > 0 else k]
    if any(x in opts for x in ("fmt", "digits", "scale")):
        return fmt_number(float(_scaled([got], opts)[0]), _spec(opts, ".3f"))
    return got


VALUE_KINDS: dict[str, Callable[[Sources, str, dict[str, str]], str]] = {
    "value": value_value, "diff": value_diff, "ratio": value_ratio, "cell": value_cell, "text": value_text}


# --------------------------------------------------------------------------- a page
def _kind(kinds: dict, kind: str, what: str):
    if kind not in kinds:
        raise MarkerError(f"unknown {what} kind '{kind}'; expected one of {', '.join(kinds)} "
                          f"(see tools/docs_tables.py)")
    return kinds[kind]


def render_page(text: str, src: Sources, name: str) -> tuple[str, list[Mismatch]]:
    """The page with every marker's content regenerated, and where it differed.

    Raises :class:`MarkerError` with ``name:line:`` in front for a bad marker.
    """
    lines = text.split("\n")
    out: list[str] = []
    diffs: list[Mismatch] = []
    fenced = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if FENCE.match(line):
            fenced = not fenced
        if fenced:
            out.append(line)
            i += 1
            continue
        try:
            m = BLOCK_OPEN.match(line)
            if m:
                end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == BLOCK_CLOSE), None)
                if end is None:
                    raise MarkerError(f"the table marker has no closing '{BLOCK_CLOSE}' line; add one after the "
                                      f"table")
                kind, source, args = parse_spec(m.group("spec"))
                new = _kind(TABLE_KINDS, kind, "table")(src, source, args)
                old = lines[i + 1:end]
                for k in range(max(len(new), len(old))):
                    a = new[k] if k < len(new) else None
                    b = old[k] if k < len(old) else None
                    if a != b:
                        diffs.append(Mismatch(name, i + 2 + k, a, b))
                out += [line, *new, lines[end]]
                i = end + 1
                continue
            if BLOCK_CLOSE in line or "<!-- table:" in line:
                raise MarkerError("a table marker must stand alone on its line, opened by '<!-- table: KIND "
                                  f"SOURCE ... -->' and closed by '{BLOCK_CLOSE}'")
            if line.lstrip().startswith("<!-- v:"):
                raise MarkerError("an inline marker opens the line, so Markdown takes the line for an HTML block "
                                  "and splits the paragraph; move a word of the line before in front of it")
            pieces, pos = [], 0
            for m in INLINE.finditer(line):
                kind, source, args = parse_spec(m.group("spec"))
                new_v = _kind(VALUE_KINDS, kind, "value")(src, source, args)
                if new_v != m.group("body"):
                    diffs.append(Mismatch(name, i + 1, new_v, m.group("body")))
                pieces += [line[pos:m.start("body")], new_v]
                pos = m.end("body")
            pieces.append(line[pos:])
            new_line = "".join(pieces)
            if new_line.count("<!-- v:") != new_line.count("<!-- /v -->"):
                raise MarkerError("an inline marker is not closed on its line; write "
                                  "'<!-- v: KIND SOURCE ... -->VALUE<!-- /v -->' on one line")
            out.append(new_line)
        except MarkerError as e:
            raise MarkerError(f"{name}:{i + 1}: {e}") from None
        i += 1
    return "\n".join(out), diffs


def run(root: Path = ROOT, names: list[str] | None = None, *, check: bool = False,
        say: Callable[[str], None] = print) -> int:
    """Check or rewrite the pages under ``root`` (``names``: some pages, relative to ``root``); the exit status.

    Parameters
    ----------
    root : the repository (pages and sources are relative to it)
    names : pages to look at; default :func:`pages`
    check : rewrite nothing; say one line per mismatch and return 1 if there is one
    say : where the lines go
    """
    root = Path(root)
    src = Sources(root)
    targets = [root / n for n in names] if names else pages(root)
    status = 0
    for page in targets:
        rel = page.relative_to(root).as_posix() if page.is_relative_to(root) else str(page)
        if rel in SKIP:
            continue
        if not page.is_file():
            say(f"error: no page '{rel}'; name README.md or a docs/*.md page")
            return 2
        text = page.read_text(encoding="utf-8")
        try:
            new, diffs = render_page(text, src, rel)
        except MarkerError as e:
            say(f"error: {e}")
            return 2
        for d in diffs:
            say(str(d) if check else f"{d.page}:{d.line}: {d.page_text!r} -> {d.source!r}")
        if diffs and check:
            status = 1
        elif diffs:
            from rendering.fileio import atomic_write

            atomic_write(page, new.encode("utf-8"))
    return status


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("pages", nargs="*", help="pages relative to the repository root (default: all)")
    ap.add_argument("--check", action="store_true", help="rewrite nothing; exit 1 and say where a page differs")
    ap.add_argument("--root", type=Path, default=ROOT, help="the repository (default: this one)")
    args = ap.parse_args(argv)
    return run(args.root.resolve(), args.pages or None, check=args.check)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
