"""Result folders: the one writer (:func:`write_result`) and the one reader (:func:`load_solution`).

A result is what ``bench solve --out DIR`` writes, what a study keeps per run, and what the page
(``bench serve``) lists and reopens: ``STEM.png`` (the preview), ``STEM.txt`` (the pin file), ``STEM.csv``
(each line and the thread used), ``STEM.json`` (everything needed to rebuild the Solution without the
picture, and its scores) and ``STEM.svg`` (the threads at physical size). Every consumer -- the kit, the
winding assistant, the report, the harness, the page -- reads through :func:`load_solution`.

One format for one thread and for several (the threads are runs ``(colour, pins)`` in build order):

* TXT: one black thread on white is one pin a line (the file makers and other tools expect); other threads
  are the palette and the board, then blocks that each start with ``spool NAME`` and give that colour's
  pins, from the pin where its thread is (the tie-on pin the first time) to the spool switch.
* CSV: ``step, colour, from_pin, to_pin, length_mm, colour_m, cumulative_m``.
* JSON: the layout, the thread model, ``board``, ``colors`` (lines and length per colour), ``runs`` in build
  order (and ``pins``, the whole path, for one thread), the solver, its config and seed, and the ``scores``
  and ``references`` when given.
* SVG: each run a polyline in its colour on the board's colour, at physical size.

Every file is made in memory first and written atomically (:mod:`rendering.fileio`), so a failure never
leaves a half-written result.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rendering import InputError, Palette, PinLayout, Target, ThreadModel
from rendering.fileio import json_default, png_bytes, prepare_out_dir, write_files_atomically

FORMATS = ("png", "txt", "csv", "json", "svg")
#: files the kit and the winding assistant write beside a result: never taken for a result
PROGRESS_SUFFIX = ".wind.json"
_REQUIRED = {"n_pins": int, "shape": str, "canvas_px": int, "min_gap": int, "frame_mm": (int, float),
             "thread_mm": (int, float), "opacity": (int, float)}


# ---------------------------------------------------------------------------- bytes
def _segment_lengths_mm(solution) -> np.ndarray:
    return solution.segment_lengths_m() * 1000.0


def txt_bytes(solution) -> bytes:
    """The pin file: one pin a line for one black thread on white; else the palette, the board and spool blocks::

        board white #ffffff
        colour black #000000
        colour red #d0202e
        spool black
        12
        143
        ...
        spool red
        7
        ...
    """
    pal = solution.problem.palette
    if pal.plain and solution.path is not None:  # the one-thread file makers and other tools read
        return ("\n".join(map(str, solution.path.tolist())) + "\n").encode()
    out = [f"board {pal.board_name} {pal.board_hex}"] + [f"colour {n} {pal.hex(k)}" for k, n in enumerate(pal.names)]
    for k, pins in solution.threads:
        out.append(f"spool {pal.names[k]}")
        out += [str(int(p)) for p in pins]
    return ("\n".join(out) + "\n").encode()


def csv_bytes(solution) -> bytes:
    """step, colour, from_pin, to_pin, length_mm, colour_m (that colour's thread so far), cumulative_m."""
    pal = solution.problem.palette
    lengths = _segment_lengths_mm(solution)
    cum = np.cumsum(lengths) / 1000.0
    per = np.zeros(pal.n)
    rows = ["step,colour,from_pin,to_pin,length_mm,colour_m,cumulative_m"]
    for k, ((a, b), c, mm, m) in enumerate(zip(solution.pin_pairs().tolist(), solution.colours.tolist(), lengths,
                                               cum)):
        per[c] += mm / 1000.0
        rows.append(f"{k + 1},{pal.names[c]},{a},{b},{mm:.2f},{per[c]:.4f},{m:.4f}")
    return ("\n".join(rows) + "\n").encode()


def result_doc(solution, *, scores: dict | None = None, references: dict | None = None) -> dict:
    """The result JSON's fields."""
    p = solution.problem
    pal = p.palette
    doc = {
        "solver": solution.solver, "config": solution.config, "seed": solution.seed,
        "seconds": round(float(solution.seconds), 6),
        "image": p.target.name, "n_pins": p.layout.n_pins, "shape": p.layout.shape, "canvas_px": p.layout.canvas,
        "margin": p.layout.margin, "jitter": p.layout.jitter, "layout_seed": p.layout.seed,
        "min_gap": p.min_gap, "n_lines": solution.n_lines, "lines_asked": p.n_lines, "frame_mm": p.thread.frame_mm,
        "thread_mm": p.thread.thread_mm, "opacity": p.thread.opacity,
        "thread_length_m": round(solution.thread_length_m(), 3),
        "pin_numbering": "pin 0 at 12 o'clock, clockwise seen from the front",
        "continuous": solution.paths is not None,
        "board": {"name": pal.board_name, "hex": pal.board_hex},
        "colors": [{"name": n, "hex": pal.hex(k), "lines": int(lines), "thread_length_m": round(float(m), 3)}
                   for k, (n, lines, m) in enumerate(zip(pal.names, solution.lines_per_colour(),
                                                         solution.thread_lengths_m()))],
        "runs": [{"colour": pal.names[k], "pins": pins.tolist()} for k, pins in solution.threads],
        "spool_switches": max(0, len(solution.threads) - 1),
    }
    if solution.path is not None:
        doc["pins"] = solution.path.tolist()
    if scores is not None:
        doc["scores"] = {k: float(v) for k, v in scores.items()}
    if references is not None:
        doc["references"] = {k: {m: float(v) for m, v in r.items()} for k, r in references.items()}
    return doc


def json_bytes(solution, *, scores: dict | None = None, references: dict | None = None) -> bytes:
    return (json.dumps(result_doc(solution, scores=scores, references=references), indent=1,
                       default=json_default) + "\n").encode()


def svg_bytes(solution) -> bytes:
    """The threads drawn at physical size (millimetres), frame and pins included."""
    p = solution.problem
    pal = p.palette
    scale = 1.0 / p.thread.px_per_mm(p.layout.span_px)  # mm per px
    size = p.layout.canvas * scale
    pos = p.layout.positions * scale
    t = p.thread.thread_mm
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{size:.2f}mm" height="{size:.2f}mm" '
           f'viewBox="0 0 {size:.3f} {size:.3f}">',
           f'<rect width="{size:.3f}" height="{size:.3f}" fill="{pal.board_hex}"/>']
    c, half = p.layout.center * scale, p.layout.span_px / 2 * scale
    if p.layout.shape == "circle":
        out.append(f'<circle cx="{c:.3f}" cy="{c:.3f}" r="{half:.3f}" fill="none" stroke="#bbb" stroke-width="0.5"/>')
    else:
        out.append(f'<rect x="{c - half:.3f}" y="{c - half:.3f}" width="{2 * half:.3f}" height="{2 * half:.3f}" '
                   f'fill="none" stroke="#bbb" stroke-width="0.5"/>')
    for k, pins in solution.threads:  # each run a polyline in its colour, in build order (later threads on top)
        pts = " ".join(f"{x:.3f},{y:.3f}" for x, y in pos[pins])
        out.append(f'<polyline points="{pts}" fill="none" stroke="{pal.hex(k)}" stroke-width="{t:g}" '
                   f'stroke-opacity="{p.thread.opacity:g}" stroke-linejoin="round"/>')
    out.append('<g fill="#888">' + "".join(f'<circle cx="{x:.3f}" cy="{y:.3f}" r="0.8"/>' for x, y in pos) + "</g>")
    out.append("</svg>")
    return ("\n".join(out) + "\n").encode()


def result_files(solution, *, stem: str = "stringart", formats=FORMATS, scores: dict | None = None,
                 references: dict | None = None) -> dict[str, bytes]:
    """Every file of a result as ``{name: bytes}`` (nothing written). The preview is the solution's one render."""
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise InputError(f"unknown export format {bad[0]!r}; choose from {', '.join(FORMATS)}")
    makers = {"png": lambda s: png_bytes(s.render()), "txt": txt_bytes, "csv": csv_bytes,
              "json": lambda s: json_bytes(s, scores=scores, references=references), "svg": svg_bytes}
    return {f"{stem}.{fmt}": makers[fmt](solution) for fmt in formats}


def write_result(solution, folder, *, stem: str = "stringart", formats=FORMATS, scores: dict | None = None,
                 references: dict | None = None, extra_files: dict | None = None) -> dict[str, Path]:
    """Write a result: ``folder/stem.{png,txt,csv,json,svg}`` (and ``extra_files``, e.g. a kit), all at once.

    Returns ``{format: path}`` for the result's files and ``{name: path}`` for the extra files.
    """
    files = result_files(solution, stem=stem, formats=formats, scores=scores, references=references)
    out = prepare_out_dir(folder)
    written = write_files_atomically(out, {**files, **(extra_files or {})})
    paths = {fmt: written[f"{stem}.{fmt}"] for fmt in formats}
    paths.update({name: written[name] for name in (extra_files or {})})
    return paths


# ---------------------------------------------------------------------------- pin files
def is_spool_pin_file(text: str) -> bool:
    """Whether a pin file's text is in spool blocks (:func:`txt_bytes` for threads other than black on white)."""
    head = text.lstrip().split(None, 1)
    return bool(head) and head[0] in ("board", "colour", "spool")


def read_pin_file(path) -> dict:
    """A pin file written by :func:`txt_bytes` -> ``{"pairs" (n, 2) int64, "colours" (n,) int64, "names",
    "rgb", "board_name", "board_rgb"}``, the lines in build order (the palette's fields None for a file of one
    pin a line, or of ``a b`` pairs a line, an older chord file).

    Raises :class:`InputError` (one line) for a missing, empty or malformed file.
    """
    from rendering.colour import parse_colour

    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read pin file '{path}' ({getattr(e, 'strerror', None) or e}); "
                         f"pass a .txt pin file written by bench") from None
    if not is_spool_pin_file(text):
        rows = sum(1 for ln in text.splitlines() if ln.strip())
        tokens = text.split()
        try:
            values = np.array(tokens, dtype=np.int64)
        except ValueError:
            raise InputError(f"pin file '{path}' holds something other than whole numbers; expected one pin a "
                             f"line") from None
        if not rows:
            raise InputError(f"pin file '{path}' is empty; expected one pin a line")
        widths = {len(ln.split()) for ln in text.splitlines() if ln.strip()} if len(tokens) != rows else {1}
        if widths == {1}:
            pairs = np.stack([values[:-1], values[1:]], axis=1)
        elif widths == {2}:
            pairs = values.reshape(-1, 2)
        else:
            raise InputError(f"pin file '{path}' mixes formats; expected one pin a line")
        return dict(pairs=pairs, colours=np.zeros(len(pairs), np.int64), names=None, rgb=None, board_name=None,
                    board_rgb=None)
    names, rgb, board_line, pairs, colours = [], [], (), [], []
    block: list[int] = []
    current = -1

    def close():
        if current >= 0 and len(block) >= 2:
            pairs.extend(zip(block[:-1], block[1:]))
            colours.extend([current] * (len(block) - 1))

    for n, ln in enumerate(text.splitlines(), 1):
        parts = ln.split()
        if not parts:
            continue
        try:
            if parts[0] == "board" and len(parts) == 3:
                board_line = (parts[1], parse_colour(parts[2])[1])
            elif parts[0] == "colour" and len(parts) == 3:
                names.append(parts[1])
                rgb.append(parse_colour(parts[2])[1])
            elif parts[0] == "spool" and len(parts) == 2 and parts[1] in names:
                close()
                current, block = names.index(parts[1]), []
            elif len(parts) == 1 and current >= 0:
                block.append(int(parts[0]))
            else:
                raise ValueError
        except (ValueError, InputError):
            raise InputError(f"pin file '{path}' line {n} ('{ln.strip()[:40]}') is not 'board NAME #hex', "
                             f"'colour NAME #hex', 'spool NAME' or a pin number") from None
    close()
    if not (board_line and names and pairs):
        raise InputError(f"pin file '{path}' lacks its board, its colours or its lines; write it again with bench")
    return dict(names=names, rgb=rgb, board_name=board_line[0], board_rgb=board_line[1],
                pairs=np.array(pairs, dtype=np.int64).reshape(-1, 2), colours=np.array(colours, dtype=np.int64))


# ---------------------------------------------------------------------------- reading
@dataclass(frozen=True, eq=False)
class LoadedResult:
    """A result read back: the Solution, the JSON it came from and that JSON's fields.

    Attributes
    ----------
    solution : Solution (its problem's target is a blank canvas: the kit does not need the picture)
    json_path : Path of the result JSON (None when read from a pin file and fields given by the caller)
    doc : dict, the JSON's fields
    """

    solution: object
    json_path: Path | None
    doc: dict

    @property
    def folder(self) -> Path | None:
        return self.json_path.parent if self.json_path is not None else None

    @property
    def stem(self) -> str:
        return self.json_path.stem if self.json_path is not None else str(self.doc.get("image") or "result")

    @property
    def scores(self) -> dict:
        """The scores the result was written with (empty when none were)."""
        return dict(self.doc.get("scores") or {})

    @property
    def title(self) -> str:
        """A short human title, e.g. ``camera · greedy · 4000 lines``."""
        d, n = self.doc, self.solution.n_lines
        parts = [str(d.get("image") or self.stem), str(d.get("solver") or ""), f"{n} lines"]
        return " · ".join(p for p in parts if p)


def _is_result_doc(doc) -> bool:
    return isinstance(doc, dict) and "n_pins" in doc and ("pins" in doc or "chords" in doc or "runs" in doc)


def find_result_json(folder) -> Path:
    """The single result JSON written by ``bench solve`` in ``folder``.

    Raises :class:`InputError` when there is none, or several (then it asks for one of them).
    """
    folder = Path(folder)
    cands = sorted(p for p in folder.glob("*.json") if p.is_file() and not p.name.endswith(PROGRESS_SUFFIX))
    if not cands:
        hint = " (its .txt pin file alone does not say the frame)" if any(folder.glob("*.txt")) else ""
        raise InputError(f"no result in folder '{folder}': no .json pin file written by bench solve{hint}; "
                         f"run `bench solve IMAGE --out {folder}` first, or pass a result JSON")
    if len(cands) == 1:
        return cands[0]
    results = []
    for p in cands:
        try:
            if _is_result_doc(json.loads(p.read_text())):
                results.append(p)
        except (OSError, ValueError, UnicodeDecodeError):
            continue
    if len(results) == 1:
        return results[0]
    names = ", ".join(p.name for p in (results or cands)[:4]) + (", ..." if len(results or cands) > 4 else "")
    raise InputError(f"several results in folder '{folder}' ({names}); pass one of them, e.g. "
                     f"'{(results or cands)[0]}'")


def read_result_doc(path) -> dict:
    """The fields of a result JSON, checked: one :class:`InputError` line for a missing, corrupt or foreign file."""
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read result file '{path}' ({getattr(e, 'strerror', None) or e}); "
                         f"pass a .json written by bench solve") from None
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise InputError(f"result file '{path}' is not valid JSON ({str(e).splitlines()[0]}); it may be cut "
                         f"short: write it again with bench solve") from None
    if not isinstance(doc, dict):
        raise InputError(f"result file '{path}' holds a {type(doc).__name__}, not a result; pass a .json "
                         f"written by bench solve")
    check_doc(doc, path)
    if "pins" not in doc and "chords" not in doc and "runs" not in doc:
        raise InputError(f"result file '{path}' holds no thread ('runs', 'pins' or 'chords'); pass a .json "
                         f"written by bench solve")
    return doc


def check_doc(doc: dict, source) -> None:
    """One :class:`InputError` line when a result's fields lack or garble what rebuilds its frame."""
    for key, kind in _REQUIRED.items():
        if key not in doc:
            raise InputError(f"result file '{source}' has no '{key}'; pass a .json written by bench solve")
        if isinstance(doc[key], bool) or not isinstance(doc[key], kind):
            raise InputError(f"result file '{source}' has a bad '{key}' ({doc[key]!r}); pass a .json written by "
                             f"bench solve")


def _as_int_array(values, what: str, path) -> np.ndarray:
    try:
        arr = np.asarray(values)
        if arr.size and not (np.issubdtype(arr.dtype, np.integer)):
            raise ValueError
        return arr.astype(np.int64)
    except (ValueError, TypeError):
        raise InputError(f"result file '{path}' has a bad '{what}' list (expected whole pin numbers); write it "
                         f"again with bench solve") from None


def _palette(doc: dict, pins: dict | None, path) -> Palette:
    from rendering.colour import parse_colour

    try:
        if pins and pins.get("names"):  # a pin file in spool blocks names its threads and board
            return Palette(names=tuple(pins["names"]), rgb=tuple(pins["rgb"]), board_name=pins["board_name"],
                           board_rgb=pins["board_rgb"])
        # results written before threads were recorded are one black thread on white
        threads = doc.get("colors") or [{"name": "black", "hex": "#000000"}]
        board = doc.get("board") or {"name": "white", "hex": "#ffffff"}
        return Palette(names=tuple(str(c["name"]) for c in threads),
                       rgb=tuple(parse_colour(c["hex"])[1] for c in threads),
                       board_name=str(board["name"]), board_rgb=parse_colour(board["hex"])[1])
    except (KeyError, TypeError, ValueError) as e:
        if isinstance(e, InputError):
            raise
        raise InputError(f"result file '{path}' has bad threads ('colors', 'board'); write it again with "
                         f"bench solve") from None


def _lines(doc: dict, palette: Palette, path) -> tuple[np.ndarray, np.ndarray]:
    """The lines in build order (pin pairs) and their colours, from ``runs`` (or an older ``pins``/``chords``)."""
    if "runs" in doc:
        pairs, colours = [], []
        try:
            for run in doc["runs"]:
                pins = _as_int_array(run["pins"], "runs", path).ravel()
                pairs += list(zip(pins[:-1].tolist(), pins[1:].tolist()))
                colours += [palette.names.index(str(run["colour"]))] * max(0, pins.size - 1)
        except (KeyError, TypeError, ValueError) as e:
            if isinstance(e, InputError):
                raise
            raise InputError(f"result file '{path}' has bad 'runs'; write it again with bench solve") from None
        return np.array(pairs, np.int64).reshape(-1, 2), np.array(colours, np.int64)
    if "pins" in doc:
        pins = _as_int_array(doc["pins"], "pins", path).ravel()
        return np.stack([pins[:-1], pins[1:]], axis=1), np.zeros(max(0, pins.size - 1), np.int64)
    pairs = _as_int_array(doc["chords"], "chords", path).reshape(-1, 2) if len(doc["chords"]) else \
        np.zeros((0, 2), np.int64)
    return pairs, np.zeros(len(pairs), np.int64)


def solution_from_doc(doc: dict, *, source="result", pin_file: dict | None = None, target: Target | None = None):
    """Rebuild the :class:`~solvers.Solution` a result's fields describe.

    Parameters
    ----------
    doc : dict, the fields of a result JSON (:func:`read_result_doc`), or a study row's
    source : str or Path, named in errors
    pin_file : optional, a pin file's lines (:func:`read_pin_file`) that replace the JSON's threads
    target : optional Target (default: a blank canvas; the kit does not need the picture)
    """
    from solvers import Problem, Solution

    path = Path(str(source))
    check_doc(doc, path)
    n_pins, canvas = int(doc["n_pins"]), int(doc["canvas_px"])
    layout = PinLayout(n_pins=n_pins, canvas=canvas, shape=doc["shape"], jitter=float(doc.get("jitter", 0.0)),
                       margin=float(doc.get("margin", 1.0)), seed=int(doc.get("layout_seed", 0)))
    thread = ThreadModel(frame_mm=float(doc["frame_mm"]), thread_mm=float(doc["thread_mm"]),
                         opacity=float(doc["opacity"]))
    palette = _palette(doc, pin_file, path)
    if pin_file is not None:
        pairs, colours = pin_file["pairs"], pin_file["colours"]
    else:
        pairs, colours = _lines(doc, palette, path)
    if pairs.size == 0:
        raise InputError(f"result '{path}' holds no line; nothing to build")
    lo, hi = int(pairs.min()), int(pairs.max())
    if lo < 0 or hi >= n_pins:
        bad = hi if hi >= n_pins else lo
        raise InputError(f"result '{path}' names pin {bad} but its layout has {n_pins} pins (0-{n_pins - 1}): the "
                         f"pins come from another pin count; pass the matching result")
    if colours.size and colours.max() >= palette.n:
        raise InputError(f"result '{path}' names a colour its palette lacks; write it again with bench solve")
    target = target or Target(image=np.ones((canvas, canvas), np.float32), name=str(doc.get("image") or path.stem))
    continuous = all(int(a) == int(b) for a, b in _joints(pairs, colours))
    problem = Problem(target=target, layout=layout, thread=thread, n_lines=max(1, len(pairs)),
                      min_gap=int(doc["min_gap"]), continuous=continuous, allow_repeats=True, palette=palette)
    try:
        return Solution.from_lines(problem, pairs, colours, solver=str(doc.get("solver") or ""),
                                   config=dict(doc.get("config") or {}), seed=doc.get("seed"),
                                   seconds=float(doc.get("seconds") or 0.0))
    except (InputError, ValueError) as e:
        raise InputError(f"result '{path}': {e}") from None


def _joints(pairs: np.ndarray, colours: np.ndarray):
    """``(where a colour's thread is, where its next line starts)`` for every line after a colour's first."""
    at: dict[int, int] = {}
    for (a, b), k in zip(pairs.tolist(), colours.tolist()):
        if k in at:
            yield at[k], a
        at[k] = b


def load_solution(path, *, doc: dict | None = None, target: Target | None = None) -> LoadedResult:
    """A result back as a :class:`LoadedResult`: the one reader of results.

    ``path``: a result folder (its single result JSON), a result JSON, or a TXT pin file (with the JSON of the
    same name beside it, or ``doc``: the fields that say its frame, e.g. a study's row). ``target``: the
    picture to attach (default: a blank canvas).
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise InputError(f"result '{p}' not found; pass the output folder of bench solve or its .json")
    pins = None
    json_path: Path | None
    if p.is_dir():
        json_path = find_result_json(p)
    elif p.suffix.lower() == ".txt":
        json_path = p.with_suffix(".json")
        if doc is None and not json_path.is_file():
            raise InputError(f"pin file '{p}' has no '{json_path.name}' beside it to say the frame; pass the "
                             f"result folder or its .json")
        pins = read_pin_file(p)
        if doc is not None:
            json_path = None
    else:
        json_path = p
    fields = doc if doc is not None else read_result_doc(json_path)
    solution = solution_from_doc(fields, source=p if pins is not None else json_path, pin_file=pins, target=target)
    return LoadedResult(solution=solution, json_path=json_path, doc=fields)
