"""The anchor of ``benchmarks/quality.py``: Raveler (github.com/jperryhouts/raveler), a C++ exact-gain greedy.

Raveler's source is never copied into this repository: :func:`build` exports it from a git repository (by
default the mirror at ``/work/.mirror/jperryhouts+raveler/repo``, or ``$RAVELER_GIT_DIR``) into a temporary
folder, builds its command-line program there with its own Makefile, without ImageMagick and with ``-O2``::

    git --git-dir=<repo> archive <commit> | tar -x -C <tmp>
    make -C <tmp> cli NOMAGICK=1 flags="-D NOMAGICK -O2"

and keeps only the binary, under ``<cache>/<commit>-O2/raveler`` (``<cache>`` is
``$STRINGART_CACHE_DIR/raveler`` by default). Raveler's Makefile compiles without optimisation; ``-O2`` gives
the same pins, about 3x faster.

What the program does (``src/libraveler.cc``): ``k`` pins on the circle inscribed in a square ``res x res``
image; the darkness ``1 - byte/255`` is the residual; from the current pin (pin 0 first) it draws the chord to
the pin, among all but the current and the previous one, that most lowers the squared residual when a constant
``0.7 * w`` is subtracted along the chord's pixels (one pixel per pixel of length, no anti-aliasing;
``w = thread_m * res / frame_m``, the thread width in pixels). It draws every one of the ``N`` lines asked (no
early stop), one continuous thread; chords may repeat and may join pins closer than our ``min_gap``.

Pin numbering. Without ImageMagick the program reads raw 8-bit grey bytes from stdin (``res = sqrt(size)``).
Pin ``p`` is at ``x = 0.5 + sin(2 pi p / k) / 2``, ``y = 0.5 + cos(2 pi p / k) / 2`` (fractions of the image),
at pixel column ``int((res - 1) x)`` and buffer row ``int((res - 1) y)``: buffer row 0 is ``y = 0``, the
*bottom* of the picture in Raveler's convention, as its own ImageMagick loader flips the image upside down
before use and its SVG writer draws ``y`` upwards. So :func:`to_stdin_bytes` flips our target upside down too;
then pin 0 is at 12 o'clock and pins run clockwise as seen from the front, our layout's convention, and
:func:`pin_map` (nearest of our pins by angle) is the identity at equal pin counts. :func:`reference_path`
re-implements the program's loop in NumPy so that the reading of its input can be checked against its output.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_GIT_DIR = Path("/work/.mirror/jperryhouts+raveler/repo")
OPT_FLAGS = "-O2"


def git_dir() -> Path:
    """The git repository Raveler is built from (``$RAVELER_GIT_DIR`` or the mirror)."""
    return Path(os.environ.get("RAVELER_GIT_DIR", DEFAULT_GIT_DIR))


def default_cache_dir() -> Path:
    """Where the built binary is kept: ``$STRINGART_CACHE_DIR/raveler`` or ``~/.cache/stringart/raveler``."""
    base = os.environ.get("STRINGART_CACHE_DIR")
    return Path(base) / "raveler" if base else Path.home() / ".cache" / "stringart" / "raveler"


def source_commit(repo: Path | None = None) -> str:
    """The full commit hash of HEAD in Raveler's repository."""
    repo = repo or git_dir()
    out = subprocess.run(["git", "--git-dir", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"cannot read Raveler's repository at {repo}: {out.stderr.strip()}; "
                           f"set RAVELER_GIT_DIR to a clone of github.com/jperryhouts/raveler")
    return out.stdout.strip()


def build(cache_dir: Path | None = None, *, repo: Path | None = None, force: bool = False, log=print) -> Path:
    """Build Raveler's CLI once (per commit) and return the binary's path."""
    repo = repo or git_dir()
    commit = source_commit(repo)
    dest = Path(cache_dir or default_cache_dir()) / f"{commit[:12]}{OPT_FLAGS}"
    binary = dest / "raveler"
    if binary.is_file() and os.access(binary, os.X_OK) and not force:
        return binary
    if shutil.which("make") is None or shutil.which("c++") is None:
        raise RuntimeError("building Raveler needs make and a C++ compiler (c++); install build-essential")
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="raveler-src-") as tmp:
        archive = subprocess.run(["git", "--git-dir", str(repo), "archive", commit], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        cmd = ["make", "-C", tmp, "cli", "NOMAGICK=1", f"flags=-D NOMAGICK {OPT_FLAGS}"]
        log(f"building Raveler {commit[:12]}: {' '.join(cmd)}")
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"building Raveler failed:\n{out.stdout}\n{out.stderr}")
        tmp_bin = dest / f".raveler.{os.getpid()}"
        shutil.copy2(Path(tmp) / "build" / "cli" / "raveler", tmp_bin)
        os.replace(tmp_bin, binary)
    (dest / "build.json").write_text(json.dumps(dict(commit=commit, repo=str(repo), command=cmd[3:],
                                                     compiler=_compiler_version()), indent=1))
    return binary


def _compiler_version() -> str:
    out = subprocess.run(["c++", "--version"], capture_output=True, text=True)
    return out.stdout.splitlines()[0] if out.returncode == 0 and out.stdout else "?"


# ----------------------------------------------------------------------------------------- input and pins
def to_stdin_bytes(image: np.ndarray) -> bytes:
    """Our target ((res, res) in [0, 1], 1 = white) as the raw bytes Raveler reads from stdin: 8-bit grey,
    flipped upside down (see the module's docstring) so that its pin 0 is at 12 o'clock, clockwise."""
    img = np.asarray(image, dtype=np.float64)
    if img.ndim != 2 or img.shape[0] != img.shape[1]:
        raise ValueError(f"Raveler needs a square grey image, got shape {img.shape}")
    return np.clip(np.rint(img[::-1] * 255.0), 0, 255).astype(np.uint8).tobytes()


def pin_pixels(k: int, res: int) -> np.ndarray:
    """(k, 2) int: ``(column, buffer row)`` of Raveler's pins, as ``pin_to_loc`` computes them."""
    theta = 2.0 * np.pi * np.arange(k) / k
    x = 0.5 + np.sin(theta) / 2.0
    y = 0.5 + np.cos(theta) / 2.0
    return np.stack([((res - 1) * x).astype(np.int64), ((res - 1) * y).astype(np.int64)], axis=1)


def pin_xy(k: int, res: int) -> np.ndarray:
    """(k, 2) float: Raveler's pins in our picture's pixel coordinates (``x`` right, ``y`` down, pixel centres),
    given the upside-down input of :func:`to_stdin_bytes`."""
    cr = pin_pixels(k, res)
    return np.stack([cr[:, 0] + 0.5, (res - 1 - cr[:, 1]) + 0.5], axis=1).astype(np.float64)


def pin_map(k: int, res: int, positions: np.ndarray, center: float) -> np.ndarray:
    """(k,) int: for each Raveler pin, the nearest of our pins (``positions``, (n, 2) px) by angle around the
    canvas centre."""
    ours = np.arctan2(positions[:, 0] - center, -(positions[:, 1] - center))  # clockwise from 12 o'clock
    xy = pin_xy(k, res)
    theirs = np.arctan2(xy[:, 0] - center, -(xy[:, 1] - center))
    d = np.abs(np.angle(np.exp(1j * (theirs[:, None] - ours[None, :]))))
    return np.argmin(d, axis=1)


# ----------------------------------------------------------------------------------------- running it
@dataclass(frozen=True)
class RavelerRun:
    path: np.ndarray  # (lines + 1,) Raveler's pin numbers, pin 0 first
    seconds: float  # wall time of the process (mask precomputation included)
    command: list


def run(binary: Path, image: np.ndarray, *, pins: int, lines: int, thread_m: float, frame_m: float,
        timeout: float = 600.0) -> RavelerRun:
    """Run Raveler on ``image`` (our target) and return its pin path (Raveler's numbering)."""
    data = to_stdin_bytes(image)
    with tempfile.TemporaryDirectory(prefix="raveler-run-") as tmp:
        out_csv = Path(tmp) / "pins.csv"
        cmd = [str(binary), "-k", str(pins), "-n", str(lines), "-w", repr(float(thread_m)), "-s",
               repr(float(frame_m)), "-f", "csv", "-o", str(out_csv), "-"]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, input=data, capture_output=True, timeout=timeout)
        seconds = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"Raveler exited {proc.returncode}: {proc.stderr.decode(errors='replace')}")
        path = parse_csv(out_csv.read_text())
    if path.size != lines + 1:
        raise RuntimeError(f"Raveler gave {path.size} pins for {lines} lines")
    return RavelerRun(path=path, seconds=seconds, command=["raveler", *cmd[1:-3], "<csv>", "-", "< target bytes"])


def parse_csv(text: str) -> np.ndarray:
    """The pin column of Raveler's CSV output (``#`` lines are comments). Its score column is not read: the
    last row's score is read past the end of its array."""
    pins = [int(line.split(",", 1)[0]) for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return np.asarray(pins, dtype=np.int64)


# ----------------------------------------------------------------------------------------- checking it
def line_pixels(a: int, b: int, pix: np.ndarray, res: int) -> np.ndarray:
    """Buffer locations Raveler's ``get_line`` gives the chord from pin ``a`` to pin ``b`` (oversample 1)."""
    cx0, cy0 = pix[a]
    cx1, cy1 = pix[b]
    dx, dy = float(cx1 - cx0), float(cy1 - cy0)
    r = int(np.sqrt(dx * dx + dy * dy))
    if r == 0:
        return np.zeros(0, dtype=np.int64)
    den = 1.0 if r == 1 else r - 1.0
    i = np.arange(r, dtype=np.float64)
    pi = (cx0 + i * dx / den).astype(np.int64)
    pj = (cy0 + i * dy / den).astype(np.int64)
    return res * pj + pi


def reference_path(image: np.ndarray, *, pins: int, steps: int, thread_m: float, frame_m: float) -> np.ndarray:
    """Raveler's first ``steps`` lines re-implemented in NumPy on the bytes :func:`to_stdin_bytes` sends: the
    same path as the program's shows that its input is read as intended."""
    raw = np.frombuffer(to_stdin_bytes(image), dtype=np.uint8)
    res = int(np.sqrt(raw.size))
    residual = 1.0 - raw / 255.0
    w32 = np.float32(thread_m) * np.float32(res) / np.float32(frame_m) / np.float32(1)  # computed in float
    vw = 0.7 * float(w32)
    pix = pin_pixels(pins, res)
    path = [0]
    for size in range(1, steps + 1):
        prev = path[-1]
        banned = set(path[-min(2, size - 1):]) if size > 1 else set()  # its `n < 3 && n < path_size` loop
        best, best_pin = -1e20, (prev + 1) % pins
        for pin in range(pins):
            if pin in banned:
                continue
            loc = line_pixels(prev, pin, pix, res)
            s = vw * (2.0 * (np.cumsum(residual[loc])[-1] if loc.size else 0.0) - vw * loc.size)
            if s > best:
                best, best_pin = s, pin
        path.append(best_pin)
        np.subtract.at(residual, line_pixels(prev, best_pin, pix, res), vw)
    return np.asarray(path, dtype=np.int64)
