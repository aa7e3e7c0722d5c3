"""Exports of a Solution: pin sequence TXT, CSV and JSON, SVG at physical size, PNG preview.

Every file is produced in memory first, then all are written to temporary
files and renamed into place, so a failure never leaves a half-written file.
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
    """(H, W) float in [0, 1] -> 8-bit grayscale PNG."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.clip(np.round(np.asarray(image) * 255.0), 0, 255).astype(np.uint8), mode="L").save(buf, "PNG")
    return buf.getvalue()


def _segment_lengths_mm(solution) -> np.ndarray:
    p = solution.problem
    pos = p.layout.positions
    pairs = solution.pin_pairs()
    return np.hypot(*(pos[pairs[:, 0]] - pos[pairs[:, 1]]).T) / p.thread.px_per_mm(p.layout.span_px)


def txt_bytes(solution) -> bytes:
    """One pin a line for a continuous thread; ``a b`` a line for a chord list."""
    if solution.path is not None:
        return ("\n".join(map(str, solution.path.tolist())) + "\n").encode()
    return ("\n".join(f"{a} {b}" for a, b in solution.pin_pairs().tolist()) + "\n").encode()


def csv_bytes(solution) -> bytes:
    """step, from_pin, to_pin, length_mm, cumulative_m."""
    lengths = _segment_lengths_mm(solution)
    cum = np.cumsum(lengths) / 1000.0
    rows = ["step,from_pin,to_pin,length_mm,cumulative_m"]
    for k, ((a, b), mm, m) in enumerate(zip(solution.pin_pairs().tolist(), lengths, cum)):
        rows.append(f"{k + 1},{a},{b},{mm:.2f},{m:.4f}")
    return ("\n".join(rows) + "\n").encode()


def read_pin_file(path) -> np.ndarray:
    """A pin file written by :func:`txt_bytes` -> (n_lines, 2) int64 pin pairs.

    Path files hold one pin a line (a continuous thread); chord files ``a b`` a line.
    Raises :class:`InputError` for a missing, empty or mixed file.
    """
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read pin file '{path}' ({getattr(e, 'strerror', None) or e}); "
                         f"pass a .txt pin file written by bench") from None
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
    if solution.path is not None:
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
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{size:.2f}mm" height="{size:.2f}mm" '
           f'viewBox="0 0 {size:.3f} {size:.3f}">',
           f'<rect width="{size:.3f}" height="{size:.3f}" fill="white"/>']
    c, half = p.layout.center * scale, p.layout.span_px / 2 * scale
    if p.layout.shape == "circle":
        out.append(f'<circle cx="{c:.3f}" cy="{c:.3f}" r="{half:.3f}" fill="none" stroke="#bbb" stroke-width="0.5"/>')
    else:
        out.append(f'<rect x="{c - half:.3f}" y="{c - half:.3f}" width="{2 * half:.3f}" height="{2 * half:.3f}" '
                   f'fill="none" stroke="#bbb" stroke-width="0.5"/>')
    if solution.path is not None:
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
