"""A solve worker of ``bench serve``: a process of its own that keeps kernels and chord tables warm.

The server starts each worker as :class:`bench.executors` starts a study's (a fresh interpreter that never
imports the caller's ``__main__``, SIGINT ignored, gone with its parent) and talks to it over one pipe.

Server to worker: ``("job", spec)`` (a job to run: its id, folder, photo and :func:`bench.single.solve`'s
arguments), ``("cancel", job_id)``, ``None`` (leave). A thread reads the pipe all the time, so a cancel
reaches the running solve's :meth:`solvers.Progress.cancel` at once (the greedy kernels stop before their next
line) while the main thread solves.

Worker to server: ``("ready", pid)`` once warm, then per job ``("event", id, {...})`` as the solve goes (its
frame first, then the chords as the solver chooses them, in batches), ``("solved", id, {...})`` (scores,
result files: the result is written), ``("done", id, {...})`` (the kit written), or ``("failed", id, line)``
or ``("cancelled", id, {})``.

A worker is warmed with a tiny solve at start (kernels loaded or compiled, the scorer's modules imported), and
keeps its chord tables in memory between jobs (:func:`rendering.get_chord_table`'s cache), so a repeated solve
runs as fast as in one process.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from pathlib import Path

#: the tiny solve that warms a worker: the default solver's kernels, the scorer, the result writer's imports
WARM = dict(image="camera", pins=32, lines=40, canvas=64, min_gap=3)


class _Link:
    """The worker's end of the pipe: sends from any thread (one at a time), a reader thread for the server's
    messages (jobs queued for the main thread, cancels applied at once)."""

    def __init__(self, conn):
        self.conn = conn
        self.lock = threading.Lock()
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.current: tuple[str, object] | None = None  # (job id, its Progress)
        self.cancelled: set[str] = set()
        self.reader = threading.Thread(target=self._read, name="serve-worker-pipe", daemon=True)

    def send(self, message) -> None:
        with self.lock:
            self.conn.send(message)

    def _read(self) -> None:
        while True:
            try:
                msg = self.conn.recv()
            except (EOFError, OSError):
                os._exit(0)  # the server is gone: nothing to report, nobody to report it to
            if msg is None:
                self.jobs.put(None)
                return
            kind, payload = msg
            if kind == "job":
                self.jobs.put(payload)
            elif kind == "cancel":
                self.cancelled.add(payload)
                cur = self.current
                if cur is not None and cur[0] == payload:
                    cur[1].cancel()


def main(conn, settings: dict, cache_dir: str | None) -> None:
    """The worker's life: set up, warm up, say ready, then run jobs until told to leave.

    ``settings``: ``warm_kit`` (make a tiny kit in the warm-up: the first job's kit is then as quick as the
    next; tests leave it out for a quicker start) and ``nice`` (how much lower than the server's its priority
    is). ``cache_dir``: the chord-table cache to use (the server's).
    """
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    if cache_dir:
        os.environ.setdefault("STRINGART_CACHE_DIR", cache_dir)
    try:
        os.nice(int(settings.get("nice", 5)))  # the server process answers the page first; solves take the rest
    except OSError:
        pass
    link = _Link(conn)
    link.reader.start()
    from bench.serve.uploads import _register_heif

    _register_heif()
    warm_up(kit=bool(settings.get("warm_kit", True)))
    link.send(("ready", os.getpid()))
    while True:
        spec = link.jobs.get()
        if spec is None:
            return
        run_job(link, spec)


def warm_up(kit: bool = True) -> None:
    """A tiny solve of the default solver (its kernels loaded, compiled on a first run after install; the
    scorer imported) and, with ``kit``, its kit made in memory (matplotlib, the PDF and GIF writers imported);
    the default frame's chord table read in when it is cached."""
    from bench.single import solve
    from rendering import PinLayout, ThreadModel, default_min_gap, get_chord_table, is_cached
    from solvers import DEFAULT_SOLVER, Progress

    res = solve(WARM["image"], solver=DEFAULT_SOLVER, pins=WARM["pins"], lines=WARM["lines"], canvas=WARM["canvas"],
                min_gap=WARM["min_gap"], listener=Progress(lambda e: None))
    if kit:
        from kit.build import KitOptions, kit_files

        kit_files(res.solution, KitOptions(frames=4, mp4=False))
    layout, thread = PinLayout(n_pins=288, canvas=512), ThreadModel()
    width = thread.width_px(layout.span_px)
    if is_cached(layout, default_min_gap(288), width):
        get_chord_table(layout, default_min_gap(288), width)


#: the target as the solver sees it (cropped, resized, in colour where it was given), for the page to show
TARGET = "target.jpg"


def target_jpeg(target) -> bytes:
    """The target as a JPEG: for showing beside the preview (a PNG took 0.1 s at 512 px, a JPEG 5 ms)."""
    import io

    import numpy as np
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.clip(np.round(np.asarray(target.colour) * 255.0), 0, 255).astype(np.uint8)).save(
        buf, "JPEG", quality=92)
    return buf.getvalue()


def _threads_json(threads) -> list:
    return [[int(k), [int(p) for p in pins]] for k, pins in threads]


def run_job(link: _Link, spec: dict) -> None:
    """One job: the solve (its events sent as they come), the result written, then the kit."""
    from bench.cli_common import error_line
    from bench.single import solve
    from kit.build import KitOptions, build_kit
    from rendering import InputError
    from rendering.fileio import atomic_write
    from rendering.jit import set_threads
    from solvers import Cancelled, Progress

    job_id = spec["id"]
    folder = Path(spec["folder"])
    send = link.send
    t0 = time.perf_counter()
    state = {"sent_final": False}

    def on_event(ev) -> None:
        payload = {"status": "running", "phase": ev.phase, "lines": ev.lines, "total": ev.total,
                   "seconds": round(ev.seconds, 3)}
        if ev.threads:
            payload["threads"] = _threads_json(ev.threads)
        if ev.final is not None:  # the whole thread (a refiner may have moved pins the stream showed)
            payload["final"] = _threads_json(ev.final)
            payload["phase"] = "scoring"
            state["sent_final"] = True
        if ev.status == "running" or ev.final is not None:
            send(("event", job_id, payload))

    def on_problem(problem) -> None:
        pal = problem.palette
        send(("event", job_id, {"status": "running", "phase": "loading", "picture": {
            "canvas": int(problem.layout.canvas), "pins_xy": [[round(float(x), 2), round(float(y), 2)]
                                                              for x, y in problem.layout.positions],
            "board": pal.board_hex, "colours": [pal.hex(k) for k in range(pal.n)], "names": list(pal.names),
            "shape": problem.layout.shape, "opacity": float(problem.thread.opacity),
            "thread_px": float(problem.width_px)}, "lines": 0, "total": int(problem.n_lines)}))

    def on_phase(message: str) -> None:
        send(("event", job_id, {"status": "running", "phase": message}))

    progress = Progress(on_event, interval=float(spec.get("interval", 0.05)))
    if job_id in link.cancelled:
        send(("cancelled", job_id, {}))
        return
    link.current = (job_id, progress)
    try:
        set_threads(int(spec.get("threads") or 0) or None)
        args = dict(spec["args"])
        solver_options = dict(args.pop("solver_options", {}) or {})
        if "device" in solver_options:  # resolved here, so probing for a GPU is not the solver's seconds
            from rendering.device import resolve_device

            solver_options["device"] = resolve_device(solver_options["device"])
        res = solve(str(folder / spec["photo"]), out=folder, solver_options=solver_options, progress=on_phase,
                    listener=progress, on_problem=on_problem, kit=False, **args)
    except Cancelled:
        link.current = None
        send(("cancelled", job_id, {"seconds": round(time.perf_counter() - t0, 3)}))
        return
    except (InputError, ValueError) as e:
        link.current = None
        send(("failed", job_id, error_line(e)))
        return
    except Exception as e:  # noqa: BLE001  (any failure of a job is that job's: the worker goes on)
        link.current = None
        send(("failed", job_id, f"the solve failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
                                f"; see the server's log"))
        import traceback

        traceback.print_exc()
        return
    link.current = None
    sol = res.solution
    atomic_write(folder / TARGET, target_jpeg(sol.problem.target))
    stem = Path(res.files["json"]).stem
    summary = {"scores": res.metrics, "references": res.references, "timings": res.timings, "note": res.note,
               "stem": stem, "seconds": round(float(sol.seconds), 4), "n_lines": int(sol.n_lines),
               "thread_length_m": round(float(sol.thread_length_m()), 2),
               "files": sorted(p.name for p in res.files.values()) + [TARGET],
               "palette": sol.problem.palette.describe(), "wall": round(time.perf_counter() - t0, 3)}
    if not state["sent_final"]:
        summary["final"] = _threads_json(sol.threads)
    send(("solved", job_id, summary))
    if not spec.get("kit"):
        send(("done", job_id, {"kit_files": [], "kit_notes": [], "wall": round(time.perf_counter() - t0, 3)}))
        return
    try:
        from kit import load_solution

        title = load_solution(res.files["json"]).title
        kit = build_kit(sol, folder, KitOptions(**spec.get("kit_options", {})), title=title)
    except Exception as e:  # noqa: BLE001  (the result stands: a kit that failed is one line beside it)
        line = error_line(e) if isinstance(e, (InputError, ValueError)) else f"{type(e).__name__}: {e}"
        send(("done", job_id, {"kit_files": [], "kit_notes": [f"the kit was not made: {line}"],
                               "wall": round(time.perf_counter() - t0, 3)}))
        return
    send(("done", job_id, {"kit_files": sorted(p.name for p in kit.files.values()), "kit_notes": list(kit.notes),
                           "kit_seconds": round(sum(kit.seconds.values()), 2),
                           "wall": round(time.perf_counter() - t0, 3)}))
