"""Exports of a Solution: pin sequence TXT, CSV and JSON, SVG at physical size, PNG preview.

Every file is produced in memory first, then all are written to temporary
files and renamed into place, so a failure never leaves a half-written file.

A colour solution (several threads, :attr:`~solvers.Solution.colours`) exports its build order: the TXT
lists the palette and the board, then blocks that each start with ``spool NAME`` and give that colour's
pins, from the pin where its thread is (the tie-on pin the first time) to the spool switch; the CSV adds
the colour and the thread used per colour; the JSON holds the palette, the board, the runs in build
order and the thread length per colour; the SVG draws each thread in its colour on the board's colour.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from rendering import InputError

FORMATS = ("png", "txt", "csv", "json", "svg")
_UMASK = os.umask(0)
os.umask(_UMASK)


def check_out_dir(out_dir) -> Path:
    """Check that ``out_dir`` can be written without creating it (create it when writing: :func:`prepare_out_dir`).

    A folder that exists must be writable; one that does not must have a writable
    folder as its nearest existing parent. Raises :class:`InputError` otherwise.
    """
    out = Path(out_dir).expanduser()
    if out.exists():
        return prepare_out_dir(out)
    parent = out.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(f"output path '{out}' cannot be created: '{parent}' is not a folder; choose another --out")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"cannot create output folder '{out}' (no write permission in '{parent}'); "
                         f"choose another --out")
    return out


def prepare_out_dir(out_dir) -> Path:
    """Create ``out_dir`` if needed and check that it can be written (before any work)."""
    out = Path(out_dir).expanduser()
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=out)
        os.close(fd)
        os.unlink(probe)
    except FileExistsError:
        raise InputError(f"output path '{out}' exists and is not a folder; choose another --out") from None
    except OSError as e:
        raise InputError(f"cannot write to output folder '{out}' ({e.strerror or e}); choose another --out") from None
    return out


def write_files_atomically(out_dir: Path, files: dict[str, bytes]) -> dict[str, Path]:
    """Write ``{name: bytes}`` into ``out_dir``: all to temporary files first, then renamed.

    A file that already holds exactly these bytes is left alone (not rewritten, its
    modification time kept), so re-running a command that produces the same output
    changes nothing on disk.
    """
    out_dir = Path(out_dir)
    tmps: list[tuple[str, Path]] = []
    written = {}
    try:
        for name, data in files.items():
            if _same_bytes(out_dir / name, data):
                written[name] = out_dir / name
                continue
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=out_dir)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.chmod(tmp, 0o666 & ~_UMASK)
            tmps.append((name, Path(tmp)))
    except OSError as e:
        for _, tmp in tmps:
            tmp.unlink(missing_ok=True)
        raise InputError(f"cannot write to output folder '{out_dir}' ({e.strerror or e}); "
                         f"free some space or choose another --out") from None
    for name, tmp in tmps:
        os.replace(tmp, out_dir / name)
        written[name] = out_dir / name
    return {name: written[name] for name in files}


def _same_bytes(path: Path, data: bytes) -> bool:
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        return False


def png_bytes(image: np.ndarray) -> bytes:
    """(H, W) float in [0, 1] -> 8-bit grayscale PNG; (H, W, 3) -> 8-bit RGB PNG."""
    from PIL import Image

    buf = io.BytesIO()
    arr = np.clip(np.round(np.asarray(image) * 255.0), 0, 255).astype(np.uint8)
    Image.fromarray(arr, mode="RGB" if arr.ndim == 3 else "L").save(buf, "PNG")
    return buf.getvalue()


def _segment_lengths_mm(solution) -> np.ndarray:
    p = solution.problem
    pos = p.layout.positions
    pairs = solution.pin_pairs()
    return np.hypot(*(pos[pairs[:, 0]] - pos[pairs[:, 1]]).T) / p.thread.px_per_mm(p.layout.span_px)


def txt_bytes(solution) -> bytes:
    """One pin a line for a continuous thread; ``a b`` a line for a chord list; a colour solution's build
    order in spool blocks (:func:`colour_txt_bytes`)."""
    if getattr(solution, "colours", None) is not None:
        return colour_txt_bytes(solution)
    if solution.path is not None:
        return ("\n".join(map(str, solution.path.tolist())) + "\n").encode()
    return ("\n".join(f"{a} {b}" for a, b in solution.pin_pairs().tolist()) + "\n").encode()


def csv_bytes(solution) -> bytes:
    """step, from_pin, to_pin, length_mm, cumulative_m (a colour solution: step, colour, from_pin, to_pin,
    length_mm, colour_m (that colour's thread so far), cumulative_m)."""
    lengths = _segment_lengths_mm(solution)
    if getattr(solution, "colours", None) is not None:
        pal = solution.problem.colour_palette
        cum = np.cumsum(lengths) / 1000.0
        per = np.zeros(pal.n)
        rows = ["step,colour,from_pin,to_pin,length_mm,colour_m,cumulative_m"]
        for k, ((a, b), c, mm, m) in enumerate(zip(solution.pin_pairs().tolist(), solution.colours.tolist(),
                                                   lengths, cum)):
            per[c] += mm / 1000.0
            rows.append(f"{k + 1},{pal.names[c]},{a},{b},{mm:.2f},{per[c]:.4f},{m:.4f}")
        return ("\n".join(rows) + "\n").encode()
    cum = np.cumsum(lengths) / 1000.0
    rows = ["step,from_pin,to_pin,length_mm,cumulative_m"]
    for k, ((a, b), mm, m) in enumerate(zip(solution.pin_pairs().tolist(), lengths, cum)):
        rows.append(f"{k + 1},{a},{b},{mm:.2f},{m:.4f}")
    return ("\n".join(rows) + "\n").encode()


def colour_txt_bytes(solution) -> bytes:
    """A colour solution's pin file: the palette and the board, then the build order in blocks.

    ::

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

    Each block winds one spool: its first pin is where that colour's thread is (the tie-on pin the first
    time, else where the spool was left at its last switch), then the pins to take it to.
    """
    pal = solution.problem.colour_palette
    out = [f"board {pal.board_name} {pal.board_hex}"] + [f"colour {n} {pal.hex(k)}" for k, n in enumerate(pal.names)]
    pairs = solution.pin_pairs()
    for c, first, last in solution.runs():
        out.append(f"spool {pal.names[c]}")
        out.append(str(int(pairs[first, 0])))
        out += [str(int(b)) for b in pairs[first:last + 1, 1]]
    return ("\n".join(out) + "\n").encode()


def is_colour_pin_file(text: str) -> bool:
    """Whether a pin file's text is a colour solution's (:func:`colour_txt_bytes`)."""
    head = text.lstrip().split(None, 1)
    return bool(head) and head[0] in ("board", "colour", "spool")


def read_colour_pin_file(path) -> dict:
    """A colour pin file (:func:`colour_txt_bytes`) -> ``{"names", "rgb", "board_name", "board_rgb",
    "pairs" (n, 2) int64, "colours" (n,) int64}``, the lines in build order.

    Raises :class:`InputError` (one line) for a missing or malformed file.
    """
    from rendering.colour import parse_colour

    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read pin file '{path}' ({getattr(e, 'strerror', None) or e}); "
                         f"pass a .txt pin file written by bench") from None
    names, rgb, board, pairs, colours = [], [], None, [], []
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
                board = (parts[1], parse_colour(parts[2])[1])
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
            raise InputError(f"colour pin file '{path}' line {n} ('{ln.strip()[:40]}') is not 'board NAME #hex', "
                             f"'colour NAME #hex', 'spool NAME' or a pin number") from None
    close()
    if board is None or not names or not pairs:
        raise InputError(f"colour pin file '{path}' lacks its board, its colours or its lines; write it again "
                         f"with bench")
    return dict(names=names, rgb=rgb, board_name=board[0], board_rgb=board[1],
                pairs=np.array(pairs, dtype=np.int64).reshape(-1, 2), colours=np.array(colours, dtype=np.int64))


def read_pin_file(path) -> np.ndarray:
    """A pin file written by :func:`txt_bytes` -> (n_lines, 2) int64 pin pairs.

    Path files hold one pin a line (a continuous thread); chord files ``a b`` a line; a colour pin file
    gives its lines in build order (their colours: :func:`read_colour_pin_file`).
    Raises :class:`InputError` for a missing, empty or mixed file.
    """
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read pin file '{path}' ({getattr(e, 'strerror', None) or e}); "
                         f"pass a .txt pin file written by bench") from None
    if is_colour_pin_file(text):
        return read_colour_pin_file(path)["pairs"]
    try:
        rows = [[int(v) for v in ln.split()] for ln in text.splitlines() if ln.strip()]
    except ValueError:
        raise InputError(f"pin file '{path}' holds something other than whole numbers; expected one pin a line "
                         f"or 'a b' a line") from None
    if not rows:
        raise InputError(f"pin file '{path}' is empty; expected one pin a line or 'a b' a line")
    if all(len(r) == 1 for r in rows):
        pins = np.array([r[0] for r in rows], dtype=np.int64)
        return np.stack([pins[:-1], pins[1:]], axis=1)
    if all(len(r) == 2 for r in rows):
        return np.array(rows, dtype=np.int64)
    raise InputError(f"pin file '{path}' mixes formats; expected one pin a line or 'a b' a line")


def json_bytes(solution) -> bytes:
    p = solution.problem
    doc = {
        "solver": solution.solver, "config": solution.config, "seed": solution.seed,
        "seconds": round(float(solution.seconds), 6),
        "image": p.target.name, "n_pins": p.layout.n_pins, "shape": p.layout.shape, "canvas_px": p.layout.canvas,
        "margin": p.layout.margin, "jitter": p.layout.jitter, "layout_seed": p.layout.seed,
        "min_gap": p.min_gap, "n_lines": solution.n_lines, "frame_mm": p.thread.frame_mm,
        "thread_mm": p.thread.thread_mm, "opacity": p.thread.opacity,
        "thread_length_m": round(solution.thread_length_m(), 3),
        "pin_numbering": "pin 0 at 12 o'clock, clockwise seen from the front",
        "continuous": solution.path is not None,
    }
    if getattr(solution, "colours", None) is not None:
        pal = p.colour_palette
        doc["continuous"] = True  # each colour is one continuous thread
        doc["board"] = {"name": pal.board_name, "hex": pal.board_hex}
        doc["colors"] = [{"name": n, "hex": pal.hex(k), "lines": int(np.count_nonzero(solution.colours == k)),
                          "thread_length_m": round(solution.thread_length_m(k), 3)} for k, n in enumerate(pal.names)]
        pairs = solution.pin_pairs()
        doc["runs"] = [{"colour": pal.names[c], "pins": [int(pairs[a, 0])] + pairs[a:b + 1, 1].tolist()}
                       for c, a, b in solution.runs()]
        doc["spool_switches"] = max(0, len(doc["runs"]) - 1)
    elif solution.path is not None:
        doc["pins"] = solution.path.tolist()
    else:
        doc["chords"] = solution.pin_pairs().tolist()
    return (json.dumps(doc, indent=1, default=json_default) + "\n").encode()


def json_default(o):
    """``json.dumps(..., default=json_default)``: NumPy scalars and arrays as Python values, sets sorted, else ``str``."""
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (set, frozenset)):
        return sorted(o)
    return str(o)


def svg_bytes(solution) -> bytes:
    """The thread drawn at physical size (millimetres), frame and pins included."""
    p = solution.problem
    scale = 1.0 / p.thread.px_per_mm(p.layout.span_px)  # mm per px
    size = p.layout.canvas * scale
    pos = p.layout.positions * scale
    t = p.thread.thread_mm
    colour = getattr(solution, "colours", None) is not None or p.palette is not None
    pal = p.colour_palette
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{size:.2f}mm" height="{size:.2f}mm" '
           f'viewBox="0 0 {size:.3f} {size:.3f}">',
           f'<rect width="{size:.3f}" height="{size:.3f}" fill="{pal.board_hex if colour else "white"}"/>']
    c, half = p.layout.center * scale, p.layout.span_px / 2 * scale
    if p.layout.shape == "circle":
        out.append(f'<circle cx="{c:.3f}" cy="{c:.3f}" r="{half:.3f}" fill="none" stroke="#bbb" stroke-width="0.5"/>')
    else:
        out.append(f'<rect x="{c - half:.3f}" y="{c - half:.3f}" width="{2 * half:.3f}" height="{2 * half:.3f}" '
                   f'fill="none" stroke="#bbb" stroke-width="0.5"/>')
    if colour:  # each run of one colour a polyline in its colour, in build order (later threads on top)
        pairs = solution.pin_pairs()
        cols = solution.colours if solution.colours is not None else np.zeros(solution.n_lines, np.int64)
        runs = solution.runs() if solution.colours is not None else [(0, 0, solution.n_lines - 1)]
        for c, a, b in runs:
            if b < a:
                continue
            pins = np.concatenate([[pairs[a, 0]], pairs[a:b + 1, 1]])
            pts = " ".join(f"{x:.3f},{y:.3f}" for x, y in pos[pins])
            out.append(f'<polyline points="{pts}" fill="none" stroke="{pal.hex(int(cols[a]))}" stroke-width="{t:g}" '
                       f'stroke-opacity="{p.thread.opacity:g}" stroke-linejoin="round"/>')
    elif solution.path is not None:
        pts = " ".join(f"{x:.3f},{y:.3f}" for x, y in pos[solution.path])
        out.append(f'<polyline points="{pts}" fill="none" stroke="black" stroke-width="{t:g}" '
                   f'stroke-opacity="{p.thread.opacity:g}" stroke-linejoin="round"/>')
    else:
        out.append(f'<g stroke="black" stroke-width="{t:g}" stroke-opacity="{p.thread.opacity:g}">')
        for a, b in solution.pin_pairs().tolist():
            out.append(f'<line x1="{pos[a, 0]:.3f}" y1="{pos[a, 1]:.3f}" x2="{pos[b, 0]:.3f}" y2="{pos[b, 1]:.3f}"/>')
        out.append("</g>")
    out.append('<g fill="#888">' + "".join(f'<circle cx="{x:.3f}" cy="{y:.3f}" r="0.8"/>' for x, y in pos) + "</g>")
    out.append("</svg>")
    return ("\n".join(out) + "\n").encode()


def save_solution(solution, out_dir, *, stem: str = "stringart", formats=FORMATS) -> dict[str, Path]:
    """Write the chosen exports of ``solution`` as ``out_dir/stem.{png,txt,csv,json,svg}``.

    Returns ``{format: path}``.
    """
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise InputError(f"unknown export format {bad[0]!r}; choose from {', '.join(FORMATS)}")
    out = prepare_out_dir(out_dir)
    makers = {"png": lambda s: png_bytes(s.render()), "txt": txt_bytes, "csv": csv_bytes, "json": json_bytes,
              "svg": svg_bytes}
    files = {f"{stem}.{fmt}": makers[fmt](solution) for fmt in formats}
    written = write_files_atomically(out, files)
    return {fmt: written[f"{stem}.{fmt}"] for fmt in formats}
