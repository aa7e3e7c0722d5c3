"""The comparison harness: a grid of solvers x images x line counts x seeds -> one tidy row per run.

:func:`run_study` plans the grid, skips the runs an earlier call already
finished (resume), runs the rest in a local process pool (or on a Dask
distributed cluster) and writes, in the output folder:

* ``runs.csv`` -- one row per run (see :data:`COLUMNS`), rewritten atomically
  after every finished run, so an interrupted study leaves a valid table;
* ``pins/<solver>/<image>-L<lines>-s<seed>-<config hash>.txt`` -- each run's
  pin file (one pin a line for a continuous thread, ``a b`` a line otherwise);
* ``targets/<image>-<canvas>.png`` -- the preprocessed targets (for the gallery);
* ``errors.log`` -- the traceback of every failed run;
* ``meta.json`` -- git commit, package versions, CPU/GPU, command line.

A failing run writes its error into its row and the study goes on; so does a
run whose worker process dies, or (with ``timeout``) one that runs too long:
its worker is killed and replaced. Each run
gets a seed derived from the master seed, the image, the line count and the
replicate (not the solver: every solver sees the same seeds), recorded in the
row. Deterministic solvers (``stochastic = False``) run one replicate only.

Every line count is its own run: a solver that plans for its budget must not
be judged on a prefix of a longer path.

The timed region is the solver's own :attr:`~solvers.Solution.seconds`; the
chord table is built (or loaded from its cache) before the solver starts, and
each worker process warms every solver up once (a tiny untimed solve), so JIT
compilation and model loading are not charged to whichever run came first.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import multiprocessing
import multiprocessing.connection
import os
import platform
import re
import shlex
import socket
import subprocess
import sys
import time
import traceback
import zlib
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from rendering import BUILTIN_IMAGES, InputError, ThreadModel, get_chord_table, load_target
from rendering.errors import check_float, check_int
from solvers import Problem, get_entry, make_solver, solver_names
from solvers.export import png_bytes, prepare_out_dir, txt_bytes, write_files_atomically

from .metrics import METRICS, VIEW_SCALE, reference_scores, score_solution

#: The default study (``bench run`` with no arguments): every registered solver on these.
DEFAULT_STUDY = dict(images=tuple(BUILTIN_IMAGES), pins=288, canvas=512, lines=(1000, 2000, 3000, 4000), seeds=2)
#: The smoke study (``bench run --quick``): tiny sizes and each solver's ``quick_options``.
QUICK_STUDY = dict(images=("camera",), pins=288, canvas=128, lines=(100, 200), seeds=1)

#: Image file suffixes picked up from a folder.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".webp")

#: How long to wait for a Dask scheduler to answer.
DASK_CONNECT_TIMEOUT = "10s"

REFERENCES = ("blank", "flat")
#: The columns of ``runs.csv``, in order.
COLUMNS = (
    ["run_id", "solver", "config", "image", "pins", "lines", "canvas", "seed", "replicate", "master_seed"]
    + list(METRICS)
    + ["seconds", "error", "n_lines", "thread_length_m", "min_gap", "shape", "frame_mm", "thread_mm", "opacity",
       "quick", "wall_seconds", "pin_file", "host", "finished_at"]
    + [f"{ref}_{m}" for ref in REFERENCES for m in METRICS]
)


# --------------------------------------------------------------------------- planning
@dataclasses.dataclass(frozen=True)
class ImageSource:
    """An image of the study: its label in the table and where it is loaded from."""

    label: str
    source: str


def resolve_images(images: Iterable[str | os.PathLike]) -> list[ImageSource]:
    """Built-in names, image files and folders (every image file inside, sorted) -> :class:`ImageSource`.

    Labels are built-in names or file stems; two images with one label are refused.
    """
    out: list[ImageSource] = []
    for item in images:
        text = str(item)
        if isinstance(item, str) and text in BUILTIN_IMAGES:
            out.append(ImageSource(text, text))
            continue
        path = Path(text).expanduser()
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not files:
                raise InputError(f"folder '{path}' holds no image files ({', '.join(IMAGE_SUFFIXES)}); "
                                 f"pass a folder with pictures, files, or built-in names")
            out.extend(ImageSource(p.stem, str(p.resolve())) for p in files)
        elif path.is_file():
            out.append(ImageSource(path.stem, str(path.resolve())))
        else:
            raise InputError(f"image '{text}' is neither a built-in name, a file nor a folder; built-ins: "
                             f"{', '.join(BUILTIN_IMAGES)}")
    if not out:
        raise InputError("no images given; pass built-in names (see `bench images`), files or a folder")
    seen: dict[str, str] = {}
    for im in out:
        if im.label in seen and seen[im.label] != im.source:
            raise InputError(f"two images share the name '{im.label}' ({seen[im.label]} and {im.source}); "
                             f"rename one of the files")
        seen[im.label] = im.source
    return list({im.label: im for im in out}.values())


def derive_seed(master_seed: int, image: str, lines: int, replicate: int) -> int:
    """The seed of one run: the same for every solver at one (image, lines, replicate).

    >>> derive_seed(0, "camera", 1000, 0) == derive_seed(0, "camera", 1000, 0)
    True
    >>> derive_seed(0, "camera", 1000, 0) != derive_seed(0, "camera", 1000, 1)
    True
    """
    ss = np.random.SeedSequence([int(master_seed), int(replicate), int(lines), zlib.crc32(image.encode())])
    return int(ss.generate_state(1, np.uint32)[0])


def config_json(config: dict) -> str:
    """A solver config as canonical JSON (sorted keys), the ``config`` column."""
    return json.dumps(config, sort_keys=True, default=_json_default, separators=(",", ":"))


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (set, frozenset)):
        return sorted(o)
    return str(o)


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]", "_", text)


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One run of the grid. Plain data, so it pickles to a process or a Dask worker."""

    solver: str
    options: dict
    config: str
    image: str
    source: str
    pins: int
    lines: int
    canvas: int
    min_gap: int | None
    seed: int
    replicate: int
    master_seed: int
    quick: bool
    problem_options: dict

    @property
    def run_id(self) -> str:
        """A stable hash of everything that defines the run (the resume key)."""
        key = json.dumps([self.solver, self.config, self.image, self.pins, self.lines, self.canvas, self.min_gap,
                          self.seed, sorted(self.problem_options.items())], default=str)
        return hashlib.sha1(key.encode()).hexdigest()[:16]

    @property
    def pin_file(self) -> str:
        """Path of the run's pin file, relative to the study folder."""
        h = hashlib.sha1(self.config.encode()).hexdigest()[:6]
        return f"pins/{_safe(self.solver)}/{_safe(self.image)}-P{self.pins}-C{self.canvas}-L{self.lines}-s{self.seed}-{h}.txt"


@dataclasses.dataclass
class Study:
    """A planned study: resolved settings and the runs of its grid."""

    name: str
    out: Path
    solvers: list[str]
    images: list[ImageSource]
    pins: int
    canvas: int
    lines: list[int]
    seeds: int
    master_seed: int
    min_gap: int | None
    quick: bool
    runs: list[RunSpec]
    problem_options: dict = dataclasses.field(default_factory=dict)

    def settings(self) -> dict:
        return dict(study=self.name, solvers=self.solvers, images={i.label: i.source for i in self.images},
                    pins=self.pins, canvas=self.canvas, lines=self.lines, seeds=self.seeds,
                    master_seed=self.master_seed, min_gap=self.min_gap, quick=self.quick,
                    problem_options=self.problem_options, n_runs=len(self.runs))


def _as_list(value, name: str) -> list:
    if isinstance(value, (str, bytes, os.PathLike)) or not isinstance(value, Iterable):
        value = [value]
    value = list(value)
    if not value:
        raise InputError(f"{name} is empty; give at least one")
    return value


def plan_study(*, solvers: Sequence[str] | None = None, images: Sequence[str] | None = None,
               pins: int | None = None, lines: Sequence[int] | int | None = None, canvas: int | None = None,
               seeds: int | None = None, master_seed: int = 0, min_gap: int | None = None,
               solver_options: dict[str, dict] | None = None, quick: bool = False, study: str | None = None,
               out: str | os.PathLike | None = None, thread: ThreadModel | None = None) -> Study:
    """Resolve a study's settings and list its runs; checks every input before any work.

    Settings left ``None`` take :data:`DEFAULT_STUDY` (or :data:`QUICK_STUDY`
    when ``quick``); ``solvers=None`` means every registered solver. With
    ``quick`` each solver starts from its ``quick_options``; ``solver_options``
    (``{solver: {option: value}}``) override both.
    """
    base = QUICK_STUDY if quick else DEFAULT_STUDY
    names = solver_names() if solvers is None else [str(s) for s in _as_list(solvers, "solvers")]
    for n in names:
        get_entry(n)  # unknown names fail here, with the list of known ones
    names = list(dict.fromkeys(names))
    solver_options = dict(solver_options or {})
    for n in solver_options:
        if n not in names:
            raise InputError(f"options given for solver '{n}', which is not in the study ({', '.join(names)}); "
                             f"add it with --solver {n} or drop its options")
    ims = resolve_images(base["images"] if images is None else _as_list(images, "images"))
    pins = check_int("pins", base["pins"] if pins is None else pins, low=3, hint="use e.g. --pins 288")
    canvas = check_int("canvas", base["canvas"] if canvas is None else canvas, low=16, hint="use e.g. --canvas 512")
    line_list = [check_int("lines", x, low=1, hint="use e.g. --lines 1000,2000")
                 for x in _as_list(base["lines"] if lines is None else lines, "lines")]
    line_list = sorted(set(line_list))
    seeds = check_int("seeds", base["seeds"] if seeds is None else seeds, low=1, hint="use e.g. --seeds 3")
    master_seed = check_int("seed", master_seed, low=0, hint="use a non-negative master seed, e.g. --seed 0")
    if min_gap is not None:
        min_gap = check_int("min_gap", min_gap, low=1, hint="use e.g. --min-gap 20")
    thread = thread or ThreadModel()
    problem_options = dict(frame_mm=thread.frame_mm, thread_mm=thread.thread_mm, opacity=thread.opacity)
    # the geometry is checked once, at the largest budget, before any run starts
    Problem.create(np.ones((canvas, canvas), np.float32), pins=pins, lines=max(line_list), canvas=canvas,
                   min_gap=min_gap, thread=thread)

    configs = {}
    for n in names:
        entry = get_entry(n)
        opts = {**(dict(entry.cls.quick_options) if quick else {}), **solver_options.get(n, {})}
        configs[n] = (opts, config_json(make_solver(n, **opts).config_dict()), bool(entry.cls.stochastic))
    name = study or ("quick" if quick else "default")
    out_path = Path(out) if out is not None else Path("results") / _safe(name)
    runs = []
    # longest budgets first: the pool's makespan is shorter when the big runs start early
    for n_lines in sorted(line_list, reverse=True):
        for im in ims:
            for n in names:
                opts, cfg, stochastic = configs[n]
                for rep in range(seeds if stochastic else 1):
                    runs.append(RunSpec(solver=n, options=opts, config=cfg, image=im.label, source=im.source,
                                        pins=pins, lines=n_lines, canvas=canvas, min_gap=min_gap,
                                        seed=derive_seed(master_seed, im.label, n_lines, rep), replicate=rep,
                                        master_seed=master_seed, quick=quick, problem_options=problem_options))
    return Study(name=name, out=out_path, solvers=names, images=ims, pins=pins, canvas=canvas, lines=line_list,
                 seeds=seeds, master_seed=master_seed, min_gap=min_gap, quick=quick, runs=runs,
                 problem_options=problem_options)


# --------------------------------------------------------------------------- one run (in a worker)
@lru_cache(maxsize=16)
def _target(source: str, canvas: int):
    return load_target(source, canvas)


@lru_cache(maxsize=32)
def _references(source: str, canvas: int, pins: int, min_gap, thread_key: tuple) -> dict:
    p = _problem_for(source, canvas, pins, 1, min_gap, thread_key)
    return reference_scores(p.target.image, p.mask, factor=VIEW_SCALE)


def _problem_for(source: str, canvas: int, pins: int, lines: int, min_gap, thread_key: tuple) -> Problem:
    thread = ThreadModel(**dict(thread_key))
    return Problem.create(_target(source, canvas), pins=pins, lines=lines, canvas=canvas, min_gap=min_gap,
                          thread=thread)


def _base_row(spec: RunSpec) -> dict:
    row = {c: np.nan for c in COLUMNS}
    row.update(run_id=spec.run_id, solver=spec.solver, config=spec.config, image=spec.image, pins=spec.pins,
               lines=spec.lines, canvas=spec.canvas, seed=spec.seed, replicate=spec.replicate,
               master_seed=spec.master_seed, error="", quick=spec.quick, min_gap=spec.min_gap,
               pin_file="", **{k: spec.problem_options[k] for k in ("frame_mm", "thread_mm", "opacity")})
    return row


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0]}" if text else type(e).__name__


_warmed: set = set()


def _warm_up(solver, spec: RunSpec, problem: Problem) -> None:
    """Once per process and solver config: a tiny untimed solve, so JIT compilation, kernel-cache
    loads and model loading do not land in the first timed run of a worker. Errors are ignored
    here (the real run reports them)."""
    key = (spec.solver, spec.config, spec.pins, spec.canvas)
    if key in _warmed:
        return
    _warmed.add(key)
    try:
        solver.solve(problem.with_lines(min(spec.lines, 8)), rng=0)
    except Exception:  # noqa: BLE001
        pass


def run_one(spec: RunSpec) -> dict:
    """Run one grid cell; never raises.

    Returns
    -------
    dict: the row (keys :data:`COLUMNS`), plus ``_pins`` (the pin file's text,
    or None) and ``_traceback`` (None unless the run failed).
    """
    t0 = time.perf_counter()
    row = _base_row(spec)
    row["host"] = f"{socket.gethostname()}:{os.getpid()}"
    pins_txt, tb = None, None
    thread_key = tuple(sorted(spec.problem_options.items()))
    try:
        problem = _problem_for(spec.source, spec.canvas, spec.pins, spec.lines, spec.min_gap, thread_key)
        row.update(min_gap=problem.min_gap, shape=problem.layout.shape)
        problem.table  # noqa: B018  (built or loaded outside the timed region)
        solver = make_solver(spec.solver, **spec.options)
        _warm_up(solver, spec, problem)
        solution = solver.solve(problem, rng=spec.seed)
        n = solution.n_lines
        if n > spec.lines:
            raise RuntimeError(f"solver returned {n} lines, over the budget of {spec.lines}")
        row.update(score_solution(solution, factor=VIEW_SCALE))
        row.update(seconds=float(solution.seconds), n_lines=n, thread_length_m=solution.thread_length_m(),
                   config=config_json(solution.config) if solution.config else spec.config)
        pins_txt = txt_bytes(solution).decode()
    except Exception as e:  # noqa: BLE001  (a failing run is recorded, the study goes on)
        row["error"] = _first_line(e)
        tb = traceback.format_exc()
    try:
        refs = _references(spec.source, spec.canvas, spec.pins, spec.min_gap, thread_key)
        for ref in REFERENCES:
            for m in METRICS:
                row[f"{ref}_{m}"] = refs[ref][m]
    except Exception as e:  # noqa: BLE001
        if not row["error"]:
            row["error"] = f"reference scores failed: {_first_line(e)}"
            tb = traceback.format_exc()
    row["wall_seconds"] = time.perf_counter() - t0
    row["finished_at"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    row["_pins"] = pins_txt
    row["_traceback"] = tb
    return row


def _init_worker(threads: int, cache_dir: str | None) -> None:
    """Pool initializer: share the CPU fairly (numba/torch threads) and the chord-table cache.

    ``NUMBA_NUM_THREADS`` is left alone: numba is imported by now, and changing
    it after its thread pool started is an error; ``numba.set_num_threads`` is the runtime knob.
    """
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, str(threads))
    if cache_dir:
        os.environ.setdefault("STRINGART_CACHE_DIR", cache_dir)
    solver_names()  # load solver plugins once per worker (may import torch)
    try:
        import numba

        numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    except Exception:  # noqa: BLE001
        pass
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


# --------------------------------------------------------------------------- table I/O
def read_runs(out: str | os.PathLike) -> pd.DataFrame:
    """``runs.csv`` of a study folder as a DataFrame (``error`` is ``""`` for a finished run)."""
    path = Path(out) / "runs.csv"
    if not path.is_file():
        raise InputError(f"no runs.csv in '{out}'; run `bench run --out {out}` first or pass a study folder")
    try:
        df = pd.read_csv(path, dtype={"config": str, "error": str, "run_id": str, "pin_file": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise InputError(f"'{path}' is not a readable runs table ({_first_line(e)}); re-run the study") from None
    missing = [c for c in ("solver", "image", "lines", "ssim", "l1", "seconds", "error") if c not in df.columns]
    if missing:
        raise InputError(f"'{path}' lacks the columns {', '.join(missing)}; expected a table written by `bench run`")
    for c in ("error", "pin_file", "config"):
        if c in df.columns:
            df[c] = df[c].fillna("").astype(str)
    return df


def _write_runs(out: Path, rows: dict[str, dict]) -> None:
    df = pd.DataFrame(list(rows.values()))
    cols = [c for c in COLUMNS if c in df.columns] + [c for c in df.columns if c not in COLUMNS]
    write_files_atomically(out, {"runs.csv": df[cols].to_csv(index=False).encode()})


# --------------------------------------------------------------------------- environment
def _git_commit() -> dict:
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return {"commit": commit or None, "dirty": bool(dirty) if commit else None}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _gpu() -> str | None:
    """The GPUs this machine has (torch's view when torch is loaded, else ``nvidia-smi -L``), or None."""
    torch = sys.modules.get("torch")
    try:
        if torch is not None and torch.cuda.is_available():
            return ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
    except Exception:  # noqa: BLE001
        pass
    try:
        res = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10)
        names = [ln.split(":", 1)[1].split("(")[0].strip() for ln in res.stdout.splitlines() if ":" in ln]
        return ", ".join(names) or None
    except (OSError, subprocess.SubprocessError):
        return None


def environment() -> dict:
    """Git commit, package versions, Python, platform, CPU and GPU: the ``meta.json`` facts."""
    from importlib import metadata

    versions = {}
    for pkg in ("stringart-bench", "numpy", "numba", "scipy", "scikit-image", "pillow", "pandas", "torch",
                "matplotlib", "typer", "dask", "distributed"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return {"git": _git_commit(), "versions": versions, "python": platform.python_version(),
            "platform": platform.platform(), "cpu": _cpu_model(), "cpu_count": os.cpu_count(), "gpu": _gpu(),
            "host": socket.gethostname()}


def _write_meta(out: Path, study: Study, info: dict) -> None:
    """Write ``meta.json``: environment, study settings, this command; earlier invocations kept.

    An entry of this invocation written before the runs (``finished`` None) is replaced.
    """
    path = out / "meta.json"
    invocations = []
    if path.is_file():
        try:
            invocations = list(json.loads(path.read_text()).get("invocations", []))
        except (OSError, ValueError, AttributeError):
            invocations = []
    if invocations and invocations[-1].get("started") == info["started"]:
        invocations.pop()
    meta = {**environment(), "study": study.settings(), "command": info["command"],
            "invocations": invocations + [dict(info)]}
    write_files_atomically(out, {"meta.json": (json.dumps(meta, indent=1, default=_json_default) + "\n").encode()})


# --------------------------------------------------------------------------- execution
#: How often (seconds) the pool looks at its workers' clocks when a timeout is set.
_POLL = 0.25


def _iter_local(specs: list[RunSpec], workers: int, timeout: float | None = None) -> Iterable[dict]:
    """Run ``specs`` in this process (``workers == 1`` without a timeout) or in a pool of worker processes."""
    if workers <= 1 and timeout is None:
        for s in specs:
            yield run_one(s)
        return
    yield from _iter_pool(specs, max(1, workers), timeout)


#: What a pool worker sends once it is set up and waiting for runs.
_READY = "ready"


def _worker_main(conn, threads: int, cache_dir: str | None) -> None:
    """A pool worker: set up once and say so, then run each spec received and send its row back; ``None`` ends it."""
    _init_worker(threads, cache_dir)
    conn.send(_READY)
    while True:
        try:
            spec = conn.recv()
        except (EOFError, OSError):  # the parent went away
            return
        if spec is None:
            return
        conn.send(run_one(spec))


class _Worker:
    """One worker process of :func:`_iter_pool`: whether it is set up, the run it holds, when that run started."""

    def __init__(self, ctx, threads: int, cache_dir: str | None, main: Callable = _worker_main):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=main, args=(child, threads, cache_dir), daemon=True)
        self.proc.start()
        child.close()
        self.ready = False
        self.spec: RunSpec | None = None
        self.started = 0.0

    def give(self, spec: RunSpec) -> None:
        self.spec, self.started = spec, time.monotonic()
        self.conn.send(spec)

    def receive(self):
        """The next message, or None when the pipe is closed (the process is going down: waited for)."""
        try:
            return self.conn.recv() if self.conn.poll() else None
        except (EOFError, OSError):
            self.proc.join(5.0)
            return None

    def stop(self, *, kill: bool = False) -> None:
        if not kill and self.proc.is_alive():
            try:
                self.conn.send(None)
            except (OSError, ValueError):
                pass
            self.proc.join(2.0)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(2.0)
        self.conn.close()


def _iter_pool(specs: list[RunSpec], workers: int, timeout: float | None, *,
               worker_main: Callable = _worker_main) -> Iterable[dict]:
    """Run ``specs`` on ``workers`` processes, each run on its own clock.

    A run still going after ``timeout`` seconds has its worker killed (Numba and
    torch code cannot be interrupted any other way) and is recorded as failed; a
    worker that dies mid-run (out of memory, a crash in native code) fails only
    the run it held. A fresh worker takes the dead one's place, so the study
    goes on. A run's clock starts when a set-up worker takes it (a worker's own
    start, imports included, is not counted). Workers are spawned (not forked:
    torch and numba threads may run). ``worker_main`` (a module-level function
    like :func:`_worker_main`) is for tests.
    """
    threads = max(1, (os.cpu_count() or 1) // workers)
    ctx = multiprocessing.get_context("spawn")
    cache_dir = os.environ.get("STRINGART_CACHE_DIR")
    pending = list(reversed(specs))
    pool = [_Worker(ctx, threads, cache_dir, worker_main) for _ in range(min(workers, len(specs)))]
    try:
        while pending or any(w.spec is not None for w in pool):
            for w in pool:
                if w.ready and w.spec is None and pending:
                    w.give(pending.pop())
            watched = [w for w in pool if w.spec is not None or not w.ready]
            fired = set(multiprocessing.connection.wait(
                [w.conn for w in watched] + [w.proc.sentinel for w in watched],
                timeout=_POLL if timeout is not None else None))
            for i, w in enumerate(pool):
                if w not in watched:
                    continue
                msg = w.receive() if (w.conn in fired or w.proc.sentinel in fired) else None
                if not w.ready:
                    if msg == _READY:
                        w.ready = True
                    elif not w.proc.is_alive():
                        raise InputError(f"a bench worker process failed to start (exit code {w.proc.exitcode}); "
                                         f"run with --workers 1 to see the error in this process")
                    continue
                problem = None
                if msg is None and not w.proc.is_alive():
                    problem = (f"WorkerDied: the worker process running this died (exit code {w.proc.exitcode}: "
                               f"out of memory or a crash in native code); re-run to retry")
                elif msg is None and timeout is not None and time.monotonic() - w.started > timeout:
                    problem = (f"Timeout: the run took longer than {timeout:g} s and was stopped; "
                               f"raise --timeout or drop it to let it finish")
                if msg is not None:
                    w.spec = None
                    yield msg
                elif problem is not None:
                    spec, w.spec = w.spec, None
                    w.stop(kill=True)
                    if pending:  # a fresh worker for the runs still to give out
                        pool[i] = _Worker(ctx, threads, cache_dir, worker_main)
                    yield _failed(spec, problem)
    finally:
        for w in pool:
            w.stop(kill=w.spec is not None)


def _failed(spec: RunSpec, message: str) -> dict:
    row = _base_row(spec)
    row.update(error=message, finished_at=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
               _pins=None, _traceback=None)
    return row


def _iter_dask(specs: list[RunSpec], scheduler) -> Iterable[dict]:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise InputError("--scheduler needs Dask distributed; install it with "
                         "pip install 'stringart-bench[dask]' (or 'dask[distributed]')") from None
    own = not hasattr(scheduler, "submit")
    try:
        client = Client(scheduler, timeout=DASK_CONNECT_TIMEOUT) if own else scheduler
    except (OSError, TimeoutError, ValueError) as e:
        raise InputError(f"cannot reach the Dask scheduler at {scheduler!r} ({_first_line(e)}); "
                         f"start one (dask scheduler) or drop --scheduler") from None
    try:
        futures = {}
        for s in specs:
            futures[client.submit(run_one, s, pure=False, key=f"stringart-run-{s.run_id}")] = s
        for fut in as_completed(list(futures)):
            try:
                yield fut.result()
            except Exception as e:  # noqa: BLE001  (a lost worker or a pickling problem)
                yield _failed(futures[fut], f"dask: {_first_line(e)}")
    finally:
        if own:
            client.close()


def run_study(*, solvers: Sequence[str] | None = None, images: Sequence[str] | None = None,
              pins: int | None = None, lines: Sequence[int] | int | None = None, canvas: int | None = None,
              seeds: int | None = None, master_seed: int = 0, min_gap: int | None = None,
              solver_options: dict[str, dict] | None = None, quick: bool = False, study: str | None = None,
              out: str | os.PathLike | None = None, workers: int | None = None, scheduler=None,
              retry_errors: bool = True, thread: ThreadModel | None = None, timeout: float | None = None,
              progress: Callable[[dict], None] | None = None,
              on_plan: Callable[[Study, int, int], None] | None = None,
              command: str | None = None) -> pd.DataFrame:
    """Run a comparison study and return its table (one row per run of this study's grid).

    Parameters
    ----------
    solvers : names of registered solvers; None = every registered one
    images : built-in names, image files and/or folders; None = :data:`DEFAULT_STUDY`'s
    pins, canvas : int; None = the study default (288 pins, 512 px)
    lines : line counts; each is its own run (no prefixes of a longer path)
    seeds : replicates per (solver, image, lines); deterministic solvers run one
    master_seed : int >= 0, the seed every run's seed is derived from
    min_gap : int or None (the layout's default)
    solver_options : ``{solver: {option: value}}`` config overrides
    quick : tiny smoke study (:data:`QUICK_STUDY`) with each solver's ``quick_options``
    study : name of the study (output folder ``results/<study>``); default ``default`` / ``quick``
    out : output folder, overrides ``results/<study>``
    workers : local processes; None = CPU count, 1 = in this process
    scheduler : Dask scheduler address (or a ``distributed.Client``): run on that cluster instead
    retry_errors : re-run the rows an earlier call recorded as failed (finished rows are always kept)
    timeout : seconds; a run still going after this long is stopped (its worker process killed and
        replaced) and recorded as failed. Runs then always go to worker processes, even with
        ``workers=1``. The clock covers the whole run, including a fresh worker's one-time warm-up
        of the solver (JIT compilation, model loading). None: no limit. Not with ``scheduler``.
    progress : called with each finished row
    on_plan : called once with (the planned :class:`Study`, runs to do, runs already done) before any run

    Returns
    -------
    pandas.DataFrame with the columns :data:`COLUMNS`, ordered by solver, image, lines, replicate;
    ``attrs["out"]`` is the study folder.

    Examples
    --------
    >>> import tempfile
    >>> df = run_study(solvers=["random"], images=["camera"], pins=32, canvas=32, lines=[20, 40],
    ...                seeds=1, workers=1, out=tempfile.mkdtemp())
    >>> df[["solver", "lines", "error"]].values.tolist()
    [['random', 20, ''], ['random', 40, '']]
    """
    st = plan_study(solvers=solvers, images=images, pins=pins, lines=lines, canvas=canvas, seeds=seeds,
                    master_seed=master_seed, min_gap=min_gap, solver_options=solver_options, quick=quick,
                    study=study, out=out, thread=thread)
    if workers is None:
        workers = os.cpu_count() or 1
    workers = check_int("workers", workers, low=1, hint="use e.g. --workers 2")
    if timeout is not None:
        timeout = check_float("timeout", timeout, low=0.0, low_open=True, hint="seconds per run, e.g. 600")
        if scheduler is not None:
            raise InputError("--timeout works with local workers only; drop --scheduler or --timeout "
                             "(Dask cannot stop a running task)")
    outdir = prepare_out_dir(st.out)
    started = _dt.datetime.now(_dt.timezone.utc)
    t0 = time.perf_counter()

    rows: dict[str, dict] = {}
    if (outdir / "runs.csv").is_file():
        old = read_runs(outdir)
        if "run_id" not in old.columns:
            raise InputError(f"'{outdir / 'runs.csv'}' has no run_id column; it was not written by `bench run`, "
                             f"choose another --out")
        for rec in old.to_dict("records"):
            rows[str(rec["run_id"])] = rec
    planned = {s.run_id for s in st.runs}
    todo = [s for s in st.runs
            if s.run_id not in rows or (retry_errors and str(rows[s.run_id].get("error", "")) != "")]
    if on_plan:
        on_plan(st, len(todo), len(planned) - len(todo))

    # targets (for the gallery) and chord tables, once, before the workers start
    target_files = {}
    for im in st.images:
        target_files[f"{_safe(im.label)}-{st.canvas}.png"] = png_bytes(_target(im.source, st.canvas).image)
    (outdir / "targets").mkdir(exist_ok=True)
    write_files_atomically(outdir / "targets", target_files)
    thread_obj = thread or ThreadModel()
    p0 = _problem_for(st.images[0].source, st.canvas, st.pins, 1, st.min_gap,
                      tuple(sorted(st.problem_options.items())))
    get_chord_table(p0.layout, p0.min_gap, thread_obj.width_px(p0.layout.span_px))

    info = {"command": command or shlex.join([Path(sys.argv[0]).name] + sys.argv[1:]),
            "started": started.isoformat(timespec="seconds"), "to_run": len(todo),
            "skipped": len(planned) - len(todo), "workers": workers, "scheduler": str(scheduler) if scheduler else None,
            "timeout": timeout}
    _write_meta(outdir, st, {**info, "finished": None})
    if not (outdir / "runs.csv").is_file():
        write_files_atomically(outdir, {"runs.csv": (",".join(COLUMNS) + "\n").encode()})
    pin_files = {s.run_id: s.pin_file for s in todo}

    it = _iter_dask(todo, scheduler) if scheduler is not None else _iter_local(todo, workers, timeout)
    n_failed = 0
    try:
        for row in it:
            pins_txt, tb = row.pop("_pins", None), row.pop("_traceback", None)
            spec_pin = pin_files.get(row["run_id"], "")
            if pins_txt is not None and spec_pin:
                pdir = outdir / Path(spec_pin).parent
                pdir.mkdir(parents=True, exist_ok=True)
                write_files_atomically(pdir, {Path(spec_pin).name: pins_txt.encode()})
                row["pin_file"] = spec_pin
            if row["error"]:
                n_failed += 1
                with open(outdir / "errors.log", "a") as f:
                    f.write(f"--- {row['finished_at']} {row['solver']} {row['image']} lines={row['lines']} "
                            f"seed={row['seed']} run_id={row['run_id']}\n{tb or row['error']}\n")
            rows[row["run_id"]] = row
            _write_runs(outdir, rows)
            if progress:
                progress(row)
    finally:
        info.update(finished=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                    wall_seconds=round(time.perf_counter() - t0, 2), failed=n_failed)
        _write_meta(outdir, st, info)
    s_rank = {n: i for i, n in enumerate(st.solvers)}
    i_rank = {im.label: i for i, im in enumerate(st.images)}
    natural = sorted(st.runs, key=lambda s: (s_rank[s.solver], i_rank[s.image], s.lines, s.replicate))
    table = pd.DataFrame([rows[s.run_id] for s in natural if s.run_id in rows])
    if not table.empty:
        table = table[[c for c in COLUMNS if c in table.columns]]
        table["error"] = table["error"].fillna("").astype(str)
    table = table.reset_index(drop=True)
    table.attrs.update(out=str(outdir), study=st.name)
    return table
