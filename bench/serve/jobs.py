"""Jobs of ``bench serve``: their records in the workspace, their event streams, and the workers that run them.

**The workspace.** One folder per job, ``WORKSPACE/<id>/``: the photo, ``job.json`` (the server's record of
the job: its options, status, scores and files; written atomically at every change of status), and what
``bench solve --out`` writes there (``<stem>.{png,txt,csv,json,svg}``, the kit, ``target.jpg``), so ``bench
wind WORKSPACE/<id>``, ``bench kit`` and the page read the same result. A folder of the workspace without a
``job.json`` but with a result in it (``bench solve --out WORKSPACE/mine``) is listed too, as a finished run.
When the server starts it reads every ``job.json``: finished jobs are listed again, and jobs that were queued
or running when it stopped are marked ``interrupted``.

**Status.** ``queued`` -> ``running`` -> (``solved``, while the kit is made) -> ``done``; or ``failed``,
``cancelled``, ``interrupted``.

**Events.** Each job keeps the events of its solve while it runs (its frame, then the chords as the solver
chooses them): a page that subscribes late gets them all, then the new ones as they come. Once the job has
finished the backlog is dropped (the result files hold the thread), so the server's memory does not grow with
the jobs it has run.

**Workers.** :class:`Scheduler` keeps ``workers`` solve processes (:mod:`bench.serve.worker`; one per core by
default), started one after the other (two processes compiling the same kernels into numba's cache at once
is not safe), each warmed up once. Jobs wait in a queue and go to the first idle worker. A thread per worker
reads its pipe and relays its events to the job's subscribers (on the server's event loop). Cancelling a
running job reaches the worker's :meth:`solvers.Progress.cancel`; a solve that does not stop within
:data:`CANCEL_GRACE` seconds has its worker killed and replaced. A worker that dies fails the job it held, in
one line, and a fresh one takes its place; the server goes on serving.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import threading
import time
from collections import deque
from pathlib import Path

from rendering.fileio import atomic_write

#: the server's record of a job, in its folder
RECORD = "job.json"
IN_FLIGHT = ("queued", "running", "solved")
FINISHED = ("done", "failed", "cancelled", "interrupted")
#: seconds a cancelled solve may take to stop before its worker is killed (the greedy kernels stop at once)
CANCEL_GRACE = 3.0
#: a job id (and a folder name the runs list takes): letters, digits, ``.``, ``_``, ``-``; no ``..``
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
#: fresh workers that may fail to start in a row before the scheduler gives up
START_FAILURES = 3


def valid_id(job_id: str) -> bool:
    """Whether ``job_id`` can name a folder of the workspace (no separator, no ``..``, nothing hidden).

    >>> valid_id("20250101-120000-ab12cd"), valid_id(".."), valid_id("a/b"), valid_id("..a")
    (True, False, False, False)
    """
    return bool(ID_PATTERN.match(job_id)) and ".." not in job_id


def new_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


class Job:
    """One job: its folder, its record (what ``job.json`` holds) and its live stream.

    Attributes
    ----------
    id, folder : the job's id and folder
    record : dict, the fields of ``job.json``
    picture : dict or None, the frame the canvas draws (pins, colours), once the worker has made the problem
    """

    def __init__(self, job_id: str, folder: Path, record: dict):
        self.id = job_id
        self.folder = folder
        self.record = record
        self.picture: dict | None = None
        self.backlog: list[dict] = []
        self.subscribers: list = []  # (loop, asyncio.Queue)
        self.lock = threading.Lock()
        self.cancel_requested = False

    @property
    def status(self) -> str:
        return self.record["status"]

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def save(self) -> None:
        atomic_write(self.folder / RECORD, (json.dumps(self.record, indent=1, default=str) + "\n").encode())

    def update(self, **fields) -> None:
        with self.lock:
            self.record.update(fields)
        self.save()

    # ------------------------------------------------------------------ the stream
    def publish(self, event: dict, *, last: bool = False) -> None:
        """Send ``event`` to every subscriber (and keep it for later ones while the job runs); ``last`` ends
        the stream: subscribers get None after it, the backlog is dropped."""
        with self.lock:
            if "picture" in event:
                self.picture = event["picture"]
            if last:
                self.backlog = []
                self.picture = None
            else:
                self.backlog.append(event)
            subs = list(self.subscribers)
            if last:
                self.subscribers = []
        for loop, q in subs:
            try:
                loop.call_soon_threadsafe(q.put_nowait, event)
                if last:
                    loop.call_soon_threadsafe(q.put_nowait, None)
            except RuntimeError:  # that loop is closed: its subscriber is gone
                pass

    def subscribe(self, loop, q) -> list[dict] | None:
        """Register ``q`` (an asyncio queue on ``loop``) for the events to come; returns the events so far, or
        None when the job has finished (then nothing is registered)."""
        with self.lock:
            if self.finished:
                return None
            self.subscribers.append((loop, q))
            return list(self.backlog)

    def unsubscribe(self, q) -> None:
        with self.lock:
            self.subscribers = [(lp, s) for lp, s in self.subscribers if s is not q]


class Store:
    """The workspace's jobs: those of this server (read back from their ``job.json`` at start) and the result
    folders put there by hand."""

    def __init__(self, workspace):
        self.workspace = Path(workspace).expanduser().resolve()
        self.jobs: dict[str, Job] = {}
        self.lock = threading.Lock()
        self._summaries: dict[str, tuple] = {}

    def load(self) -> list[str]:
        """Read every job record of the workspace; jobs in flight when the server stopped become
        ``interrupted``. Returns the ids marked interrupted."""
        self.workspace.mkdir(parents=True, exist_ok=True)
        interrupted = []
        for folder in sorted(self.workspace.iterdir()):
            path = folder / RECORD
            if not (folder.is_dir() and valid_id(folder.name) and path.is_file()) or folder.is_symlink():
                continue
            try:
                record = json.loads(path.read_text())
                if not isinstance(record, dict) or "status" not in record:
                    raise ValueError
            except (OSError, ValueError):
                continue  # not a record of ours: the folder is listed as a result if it holds one
            job = Job(folder.name, folder, record)
            if job.status in IN_FLIGHT:
                job.record.update(status="interrupted", error="the server stopped while this job was "
                                  f"{job.status}; solve it again", finished=time.time())
                try:
                    job.save()
                except OSError:
                    pass
                interrupted.append(job.id)
            self.jobs[job.id] = job
        return interrupted

    def create(self, record: dict, files: dict[str, bytes]) -> Job:
        """A new job's folder with ``files`` (the photo) and its record, written at once."""
        from rendering.fileio import write_files_atomically

        job_id = new_id()
        while (self.workspace / job_id).exists():
            job_id = new_id()
        folder = self.workspace / job_id
        folder.mkdir(parents=True)
        record = {"id": job_id, "status": "queued", "created": time.time(), **record}
        job = Job(job_id, folder, record)
        write_files_atomically(folder, {**files, RECORD: (json.dumps(record, indent=1, default=str) + "\n").encode()})
        with self.lock:
            self.jobs[job_id] = job
        return job

    def get(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)

    def folder_of(self, job_id: str) -> Path | None:
        """The folder of a job or of a result put in the workspace by hand; None when there is none."""
        if not valid_id(job_id):
            return None
        job = self.jobs.get(job_id)
        if job is not None:
            return job.folder
        folder = self.workspace / job_id
        if folder.is_dir() and not folder.is_symlink():
            return folder
        return None

    # ------------------------------------------------------------------ results (through the one reader)
    def result_json(self, job_id: str) -> Path | None:
        """The result JSON of a job or result folder (None: not solved, or no result there)."""
        from kit.results import find_result_json
        from rendering import InputError

        folder = self.folder_of(job_id)
        if folder is None:
            return None
        job = self.jobs.get(job_id)
        if job is not None:
            stem = job.record.get("stem")
            path = folder / f"{stem}.json" if stem else None
            return path if path is not None and path.is_file() else None
        try:
            return find_result_json(folder)
        except InputError:
            return None

    def load_result(self, job_id: str):
        """The job's result read back (:func:`kit.results.load_solution`), or None."""
        from kit.results import load_solution

        path = self.result_json(job_id)
        return load_solution(path) if path is not None else None

    def summary(self, job_id: str) -> dict | None:
        """A run's line in the runs list: its record's fields (for a job of this server) and its result's
        (title, solver, lines, pins, scores, thread), with the winding progress; cached by the files' times."""
        from kit.geometry import Geometry
        from kit.wind import Winder, progress_path
        from rendering import InputError

        folder = self.folder_of(job_id)
        if folder is None:
            return None
        job = self.jobs.get(job_id)
        record = dict(job.record) if job is not None else {}
        path = self.result_json(job_id)
        out = {"id": job_id, "status": record.get("status", "done"), "created": record.get("created"),
               "imported": job is None, "group": record.get("group"), "error": record.get("error"),
               "solver": (record.get("options") or {}).get("solver"), "kit": bool(record.get("kit_files")),
               "photo": record.get("photo")}
        if path is None:
            if job is None:
                return None
            out["title"] = f"{record.get('image', 'photo')} · {out['solver']}"
            return out
        wind = progress_path(path)
        key = (path.stat().st_mtime_ns, wind.stat().st_mtime_ns if wind.exists() else 0)
        cached = self._summaries.get(job_id)
        if cached is None or cached[0] != key:
            try:
                loaded = self.load_result(job_id)
            except InputError as e:
                out.update(title=job_id, error=str(e).splitlines()[0])
                return out
            d = loaded.doc
            winder = Winder(Geometry.from_solution(loaded.solution, check=False), wind)
            winder.load()
            info = {"title": loaded.title, "stem": loaded.stem, "solver": d.get("solver"), "image": d.get("image"),
                    "lines": loaded.solution.n_lines, "pins": d.get("n_pins"), "canvas": d.get("canvas_px"),
                    "scores": loaded.scores, "seconds": d.get("seconds"),
                    "thread_length_m": d.get("thread_length_m"),
                    "palette": [c.get("hex") for c in d.get("colors") or []],
                    "board": (d.get("board") or {}).get("hex"),
                    "wind": {"done": winder.done, "lines": winder.n}}
            if job is None:
                info["created"] = path.stat().st_mtime
            self._summaries[job_id] = (key, info)
            cached = self._summaries[job_id]
        out.update({k: v for k, v in cached[1].items() if v is not None or k not in out})
        out["has_result"] = True
        return out

    def ids(self) -> list[str]:
        """Every job of this server and every result folder of the workspace."""
        ids = set(self.jobs)
        try:
            for folder in self.workspace.iterdir():
                if folder.is_dir() and not folder.is_symlink() and valid_id(folder.name) and folder.name not in ids \
                        and any(p.suffix == ".json" for p in folder.iterdir()):
                    ids.add(folder.name)
        except OSError:
            pass
        return sorted(ids)


class _Slot:
    """One worker process and the job it holds."""

    def __init__(self, index: int):
        self.index = index
        self.proc = None  # bench.executors._Worker
        self.pid: int | None = None
        self.ready = False
        self.job: Job | None = None
        self.send_lock = threading.Lock()
        self.killed_for_cancel = False
        self.started = 0.0

    def send(self, message) -> bool:
        try:
            with self.send_lock:
                self.proc.conn.send(message)
            return True
        except (OSError, ValueError, AttributeError):
            return False


class Scheduler:
    """The solve workers and the queue of jobs waiting for one.

    Parameters
    ----------
    store : Store, where jobs are recorded
    workers : int, worker processes (one per core by default)
    settings : dict, handed to each worker (:func:`bench.serve.worker.main`)
    cores : int, the cores the workers share (a job's numba threads: the cores over the busy workers)
    interval : float, seconds between two batches of chords while a job solves
    """

    def __init__(self, store: Store, workers: int, settings: dict | None = None, cores: int | None = None,
                 interval: float = 0.05):
        self.store = store
        self.cores = cores or os.cpu_count() or 1
        self.slots = [_Slot(i) for i in range(max(1, int(workers)))]
        self.settings = dict(settings or {})
        self.queue: deque[Job] = deque()
        self.lock = threading.RLock()
        self.stopping = False
        self.start_failures = 0
        self.error: str | None = None
        self.interval = float(interval)

    # ------------------------------------------------------------------ workers
    def start(self) -> None:
        """Start the first worker; each next one starts when the one before is warm."""
        self._spawn(self.slots[0])

    def _spawn(self, slot: _Slot) -> None:
        from bench.executors import START_METHOD, _Worker

        from . import worker

        with self.lock:
            if self.stopping:
                return
            slot.ready, slot.job, slot.pid, slot.killed_for_cancel = False, None, None, False
            slot.started = time.monotonic()
            slot.proc = _Worker(START_METHOD, self.settings, os.environ.get("STRINGART_CACHE_DIR"), main=worker.main)
            popen = getattr(slot.proc.proc, "popen", None)
            slot.pid = popen.pid if popen is not None else getattr(slot.proc.proc, "pid", None)
        threading.Thread(target=self._read, args=(slot, slot.proc), name=f"serve-worker-{slot.index}",
                         daemon=True).start()

    def _next_to_start(self) -> None:
        with self.lock:
            for slot in self.slots:
                if slot.proc is None:
                    self._spawn(slot)
                    return

    def _read(self, slot: _Slot, proc) -> None:
        """Relay one worker's messages until its pipe closes; then account for its death."""
        while True:
            try:
                msg = proc.conn.recv()
            except (EOFError, OSError):
                break
            try:
                self._handle(slot, msg)
            except Exception:  # noqa: BLE001  (a bad message must not stop the relay of the others)
                import traceback

                traceback.print_exc()
        if slot.proc is proc:
            self._died(slot, proc)

    def _handle(self, slot: _Slot, msg) -> None:
        kind = msg[0]
        if kind == "ready":
            with self.lock:
                slot.ready, slot.pid = True, int(msg[1])
                self.start_failures = 0
            self._next_to_start()
            self.dispatch()
            return
        job = self.store.get(msg[1])
        if job is None:
            return
        payload = msg[2]
        if kind == "event":
            if job.status == "running":
                job.publish(payload)
        elif kind == "solved":
            fields = {k: v for k, v in payload.items() if k != "final"}
            job.update(status="solved", **fields)
            job.publish({"status": "solved", **payload, "kit": bool(job.record.get("kit"))})
        elif kind == "done":
            job.update(status="done", finished=time.time(), **payload)
            job.publish(self.final_event(job), last=True)
            self._free(slot)
        elif kind == "failed":
            job.update(status="failed", error=str(payload), finished=time.time())
            job.publish(self.final_event(job), last=True)
            self._free(slot)
        elif kind == "cancelled":
            job.update(status="cancelled", error="cancelled", finished=time.time())
            job.publish(self.final_event(job), last=True)
            self._free(slot)

    def _free(self, slot: _Slot) -> None:
        with self.lock:
            slot.job = None
        self.dispatch()

    def _died(self, slot: _Slot, proc) -> None:
        """A worker's pipe closed: fail (or, when it was killed to cancel it, cancel) the job it held, and
        start another worker in its place."""
        proc.proc.join(5.0)
        code = proc.proc.exitcode
        try:
            proc.conn.close()
        except OSError:
            pass
        with self.lock:
            job, slot.job, slot.proc, was_ready = slot.job, None, None, slot.ready
            slot.ready = False
            cancelled = slot.killed_for_cancel
            if self.stopping:
                return
            if not was_ready:
                self.start_failures += 1
        if job is not None and not job.finished:
            if cancelled:
                job.update(status="cancelled", error="cancelled (its solve did not stop in time: its worker was "
                                                     "stopped)", finished=time.time())
            else:
                job.update(status="failed", finished=time.time(),
                           error=f"the worker process running this job stopped (exit code {code}; out of memory, "
                                 f"or killed); solve it again")
            job.publish(self.final_event(job), last=True)
        if self.start_failures >= START_FAILURES:
            self.error = (f"the solve workers fail to start (exit code {code}, {self.start_failures} times); "
                          f"see the server's log")
            self._fail_queue(self.error)
            return
        self._spawn(slot)

    def _fail_queue(self, error: str) -> None:
        with self.lock:
            waiting = list(self.queue)
            self.queue.clear()
        for job in waiting:
            job.update(status="failed", error=error, finished=time.time())
            job.publish(self.final_event(job), last=True)

    def stop(self) -> None:
        """Stop every worker (those in flight are killed: their jobs are marked interrupted at the next
        start)."""
        with self.lock:
            self.stopping = True
            slots = [s for s in self.slots if s.proc is not None]
        for slot in slots:
            proc = slot.proc
            if proc is None:
                continue
            if slot.job is None:
                slot.send(None)
            proc.stop(kill=slot.job is not None)

    # ------------------------------------------------------------------ jobs
    def submit(self, job: Job) -> None:
        if self.error:
            job.update(status="failed", error=self.error, finished=time.time())
            job.publish(self.final_event(job), last=True)
            return
        with self.lock:
            self.queue.append(job)
            position = len(self.queue)
        job.publish({"status": "queued", "position": position})
        self.dispatch()

    def dispatch(self) -> None:
        """Give waiting jobs to idle, warm workers (first come, first served)."""
        given = []
        with self.lock:
            for slot in self.slots:
                if not self.queue:
                    break
                if slot.proc is None or not slot.ready or slot.job is not None:
                    continue
                job = self.queue.popleft()
                slot.job = job
                busy = sum(1 for s in self.slots if s.job is not None)
                given.append((slot, job, max(1, self.cores // max(1, busy))))
        for slot, job, threads in given:
            job.update(status="running", started=time.time(), worker=slot.index)
            job.publish({"status": "running", "phase": "starting", "lines": 0})
            spec = {"id": job.id, "folder": str(job.folder), "photo": job.record["photo"],
                    "args": job.record["args"], "kit": bool(job.record.get("kit")),
                    "kit_options": job.record.get("kit_options") or {}, "threads": threads,
                    "interval": self.interval}
            if not slot.send(("job", spec)):
                pass  # the worker died meanwhile: its reader fails the job and starts another

    def cancel(self, job: Job) -> str:
        """Cancel a job: a queued one at once, a running one through its worker. Returns what happened:
        ``"cancelled"``, ``"cancelling"`` or the job's status when there is nothing to cancel."""
        with self.lock:
            if job in self.queue:
                self.queue.remove(job)
                queued = True
            else:
                queued = False
            slot = next((s for s in self.slots if s.job is job), None)
        if queued:
            job.update(status="cancelled", error="cancelled", finished=time.time())
            job.publish(self.final_event(job), last=True)
            return "cancelled"
        if slot is None or job.status != "running":
            return job.status
        job.cancel_requested = True
        slot.send(("cancel", job.id))
        proc = slot.proc

        def force():
            with self.lock:
                if slot.job is not job or slot.proc is not proc or job.finished:
                    return
                slot.killed_for_cancel = True
            proc.proc.kill()

        timer = threading.Timer(CANCEL_GRACE, force)
        timer.daemon = True
        timer.start()
        return "cancelling"

    def status(self) -> dict:
        with self.lock:
            return {"workers": len(self.slots), "ready": sum(1 for s in self.slots if s.ready),
                    "busy": sum(1 for s in self.slots if s.job is not None), "queued": len(self.queue),
                    "error": self.error}

    # ------------------------------------------------------------------ events
    @staticmethod
    def final_event(job: Job) -> dict:
        """The last event of a job's stream: its status and, when solved, its scores and files."""
        r = job.record
        keys = ("scores", "references", "seconds", "wall", "n_lines", "thread_length_m", "files", "kit_files",
                "kit_notes", "note", "error", "stem", "palette", "timings")
        return {"status": r["status"], **{k: r[k] for k in keys if r.get(k) is not None}}
