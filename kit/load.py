"""A result of ``bench solve`` (its folder, its JSON or its TXT pin file) back into a :class:`~solvers.Solution`.

The JSON written by :func:`solvers.export.json_bytes` holds the layout (pins, shape, canvas, min gap), the
thread model (frame, thread, opacity) and the thread itself (``pins`` for one continuous thread, else
``chords`` as pin pairs). The target image is not needed: the kit draws from the chords. The layout's
jitter, margin and seed are read when the JSON has them (``jitter``, ``margin``, ``layout_seed``) and are
the defaults otherwise.

Every problem is one :class:`~rendering.InputError` line: a folder with no result, several results, a
corrupt JSON, a pin file from another pin count than its layout.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rendering import InputError, PinLayout, Target, ThreadModel

#: files the kit and the winding assistant write beside a result: never taken for a result
PROGRESS_SUFFIX = ".wind.json"
_REQUIRED = {"n_pins": int, "shape": str, "canvas_px": int, "min_gap": int, "frame_mm": (int, float),
             "thread_mm": (int, float), "opacity": (int, float)}


@dataclass(frozen=True, eq=False)
class LoadedResult:
    """A result read back: the Solution, the JSON it came from and that JSON's fields.

    Attributes
    ----------
    solution : Solution (its problem's target is a blank canvas: the kit does not need the picture)
    json_path : Path of the result JSON
    doc : dict, the JSON's fields
    """

    solution: object
    json_path: Path
    doc: dict

    @property
    def folder(self) -> Path:
        return self.json_path.parent

    @property
    def stem(self) -> str:
        return self.json_path.stem

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
    for key, kind in _REQUIRED.items():
        if key not in doc:
            raise InputError(f"result file '{path}' has no '{key}'; pass a .json written by bench solve")
        if isinstance(doc[key], bool) or not isinstance(doc[key], kind):
            raise InputError(f"result file '{path}' has a bad '{key}' ({doc[key]!r}); pass a .json written by "
                             f"bench solve")
    if "pins" not in doc and "chords" not in doc and "runs" not in doc:
        raise InputError(f"result file '{path}' holds no thread ('pins', 'chords' or colour 'runs'); pass a .json "
                         f"written by bench solve")
    return doc


def _colour_solution(doc: dict, layout, thread, path: Path, colour_pins=None):
    """A colour result (``colors``, ``board`` and the ``runs`` in build order; or a colour pin file's lines)."""
    from rendering import Palette
    from rendering.colour import parse_colour
    from solvers.base import Problem, Solution

    try:
        if colour_pins is not None:
            names, rgb = list(colour_pins["names"]), list(colour_pins["rgb"])
            board_name, board_rgb = colour_pins["board_name"], colour_pins["board_rgb"]
            pairs, colours = colour_pins["pairs"], colour_pins["colours"]
        else:
            names = [str(c["name"]) for c in doc["colors"]]
            rgb = [parse_colour(c["hex"])[1] for c in doc["colors"]]
            board_name, board_rgb = str(doc["board"]["name"]), parse_colour(doc["board"]["hex"])[1]
            pairs, colours = [], []
            for run in doc["runs"]:
                pins = _as_int_array(run["pins"], "runs", path).ravel()
                pairs += list(zip(pins[:-1], pins[1:]))
                colours += [names.index(str(run["colour"]))] * (pins.size - 1)
            pairs, colours = np.array(pairs, np.int64).reshape(-1, 2), np.array(colours, np.int64)
        palette = Palette(names=tuple(names), rgb=tuple(rgb), board_name=board_name, board_rgb=board_rgb)
    except (KeyError, TypeError, ValueError) as e:
        if isinstance(e, InputError):
            raise
        raise InputError(f"result file '{path}' has a bad colour thread ('colors', 'board', 'runs'); write it again "
                         f"with bench solve") from None
    if pairs.size == 0:
        raise InputError(f"result '{path}' holds no line; nothing to build")
    lo, hi = int(pairs.min()), int(pairs.max())
    if lo < 0 or hi >= layout.n_pins:
        bad = hi if hi >= layout.n_pins else lo
        raise InputError(f"result '{path}' names pin {bad} but its layout has {layout.n_pins} pins (0-"
                         f"{layout.n_pins - 1}): the pins come from another pin count; pass the matching result")
    paths = []
    for k in range(palette.n):
        sel = np.flatnonzero(colours == k)
        if sel.size and not np.array_equal(pairs[sel[1:], 0], pairs[sel[:-1], 1]):
            raise InputError(f"result '{path}': the thread of colour {names[k]} is not continuous; write it again "
                             f"with bench solve")
        paths.append(np.concatenate([pairs[sel[:1], 0], pairs[sel, 1]]) if sel.size else np.zeros(0, np.int64))
    canvas = layout.canvas
    target = Target(image=np.ones((canvas, canvas), np.float32), name=str(doc.get("image") or path.stem))
    problem = Problem(target=target, layout=layout, thread=thread, n_lines=max(1, len(colours)),
                      min_gap=int(doc["min_gap"]), continuous=True, allow_repeats=True, palette=palette)
    try:
        chords = problem.chords.pairs_to_chords(pairs)
    except InputError as e:
        raise InputError(f"result '{path}': {e}") from None
    return Solution(problem=problem, chords=chords, solver=str(doc.get("solver") or ""),
                    config=dict(doc.get("config") or {}), seed=doc.get("seed"),
                    seconds=float(doc.get("seconds") or 0.0), colours=colours, paths=tuple(paths))


def _as_int_array(values, what: str, path: Path) -> np.ndarray:
    try:
        arr = np.asarray(values)
        if arr.size and not (np.issubdtype(arr.dtype, np.integer)):
            raise ValueError
        return arr.astype(np.int64)
    except (ValueError, TypeError):
        raise InputError(f"result file '{path}' has a bad '{what}' list (expected whole pin numbers); write it "
                         f"again with bench solve") from None


def solution_from_doc(doc: dict, *, source="result", pairs=None):
    """Rebuild the :class:`~solvers.Solution` a result JSON describes.

    Parameters
    ----------
    doc : dict, the fields of a result JSON (:func:`read_result_doc`)
    source : str or Path, named in errors
    pairs : optional (n, 2) int pin pairs that replace the JSON's thread (from a TXT pin file), or a colour
        pin file's fields (:func:`solvers.export.read_colour_pin_file`)
    """
    from solvers.base import Problem, Solution

    path = Path(str(source))
    n_pins, canvas = int(doc["n_pins"]), int(doc["canvas_px"])
    layout = PinLayout(n_pins=n_pins, canvas=canvas, shape=doc["shape"], jitter=float(doc.get("jitter", 0.0)),
                       margin=float(doc.get("margin", 1.0)), seed=int(doc.get("layout_seed", 0)))
    thread = ThreadModel(frame_mm=float(doc["frame_mm"]), thread_mm=float(doc["thread_mm"]),
                         opacity=float(doc["opacity"]))
    if (pairs is None and "runs" in doc) or isinstance(pairs, dict):
        return _colour_solution(doc, layout, thread, path, colour_pins=pairs if isinstance(pairs, dict) else None)
    path_pins = None
    if pairs is not None:
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        if pairs.shape[0] >= 1 and np.array_equal(pairs[1:, 0], pairs[:-1, 1]):
            path_pins = np.concatenate([pairs[:1, 0], pairs[:, 1]])
    elif "pins" in doc:
        path_pins = _as_int_array(doc["pins"], "pins", path).ravel()
    else:
        pairs = _as_int_array(doc["chords"], "chords", path).reshape(-1, 2) if len(doc["chords"]) else None
    used = path_pins if path_pins is not None else pairs
    if used is None or (path_pins is not None and path_pins.size < 2) or used.size == 0:
        raise InputError(f"result '{path}' holds no line; nothing to build")
    lo, hi = int(used.min()), int(used.max())
    if lo < 0 or hi >= n_pins:
        bad = hi if hi >= n_pins else lo
        raise InputError(f"result '{path}' names pin {bad} but its layout has {n_pins} pins (0-{n_pins - 1}): the "
                         f"pins come from another pin count; pass the matching result")
    n_lines = (path_pins.size - 1) if path_pins is not None else pairs.shape[0]
    target = Target(image=np.ones((canvas, canvas), np.float32), name=str(doc.get("image") or path.stem))
    problem = Problem(target=target, layout=layout, thread=thread, n_lines=max(1, n_lines),
                      min_gap=int(doc["min_gap"]), continuous=path_pins is not None, allow_repeats=True)
    extra = dict(solver=str(doc.get("solver") or ""), config=dict(doc.get("config") or {}), seed=doc.get("seed"),
                 seconds=float(doc.get("seconds") or 0.0))
    try:
        if path_pins is not None:
            return Solution.from_path(problem, path_pins, **extra)
        return Solution(problem=problem, chords=problem.chords.pairs_to_chords(pairs), **extra)
    except InputError as e:
        raise InputError(f"result '{path}': {e}") from None


def load_result(path) -> LoadedResult:
    """A result folder (its single result JSON), a result JSON, or a TXT pin file (with the JSON of the same
    name beside it) -> :class:`LoadedResult`."""
    from solvers.export import is_colour_pin_file, read_colour_pin_file, read_pin_file

    p = Path(path).expanduser()
    if not p.exists():
        raise InputError(f"result '{p}' not found; pass the output folder of bench solve or its .json")
    pairs = None
    if p.is_dir():
        json_path = find_result_json(p)
    elif p.suffix.lower() == ".txt":
        json_path = p.with_suffix(".json")
        if not json_path.is_file():
            raise InputError(f"pin file '{p}' has no '{json_path.name}' beside it to say the frame; pass the "
                             f"result folder or its .json")
        try:
            colour_file = is_colour_pin_file(p.read_text())
        except (OSError, UnicodeDecodeError):
            colour_file = False
        pairs = read_colour_pin_file(p) if colour_file else read_pin_file(p)
    else:
        json_path = p
    doc = read_result_doc(json_path)
    solution = solution_from_doc(doc, source=p if pairs is not None else json_path, pairs=pairs)
    return LoadedResult(solution=solution, json_path=json_path, doc=doc)
