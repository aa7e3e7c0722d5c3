"""Where the runs of a study run: one small interface, three executors.

* :class:`InProcess` -- one after the other in this process (``workers=1``, no timeout);
* :class:`LocalPool` -- spawned worker processes, each run on its own clock: a run past
  the timeout has its worker killed, a worker that dies fails only the run it held,
  and a fresh worker takes its place;
* :class:`DaskExecutor` -- the tasks of a Dask distributed cluster.

:func:`make_executor` picks one from ``bench run``'s ``--workers``, ``--scheduler``
and ``--timeout``. Each yields the rows of :func:`bench.runner.run_one` as runs
finish (in any order); none raises for a failed run.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import sys
import time
from abc import ABC, abstractmethod
from typing import Callable, Iterator, Sequence

from rendering import InputError
from rendering.errors import check_float, check_int
from solvers import solver_names

from .plan import RunSpec
from .runner import failed_row, first_line, run_one

#: How long to wait for a Dask scheduler to answer.
DASK_CONNECT_TIMEOUT = "10s"
#: How often (seconds) the pool looks at its workers' clocks when a timeout is set.
_POLL = 0.25
#: What a pool worker sends once it is set up and waiting for runs.
_READY = "ready"


class Executor(ABC):
    """Runs specs and yields their rows as they finish."""

    @abstractmethod
    def run(self, specs: Sequence[RunSpec]) -> Iterator[dict]:
        """The row of every spec (:func:`bench.runner.run_one`'s), in the order they finish."""


def check_execution(workers: int | None = None, scheduler=None, timeout: float | None = None
                    ) -> tuple[int, float | None]:
    """``(workers, timeout)`` checked (None workers = the CPU count); a timeout with a scheduler is refused."""
    if workers is None:
        workers = os.cpu_count() or 1
    workers = check_int("workers", workers, low=1, hint="use e.g. --workers 2")
    if timeout is not None:
        timeout = check_float("timeout", timeout, low=0.0, low_open=True, hint="seconds per run, e.g. 600")
        if scheduler is not None:
            raise InputError("--timeout works with local workers only; drop --scheduler or --timeout "
                             "(Dask cannot stop a running task)")
    return workers, timeout


def make_executor(workers: int | None = None, scheduler=None, timeout: float | None = None) -> Executor:
    """The executor for ``workers`` local processes (None = CPU count, 1 = in this process), a Dask
    ``scheduler`` (an address or a ``distributed.Client``: run there instead) and a per-run ``timeout``
    in seconds (local workers only; then runs always go to worker processes, even with ``workers=1``)."""
    workers, timeout = check_execution(workers, scheduler, timeout)
    if scheduler is not None:
        return DaskExecutor(scheduler)
    if workers <= 1 and timeout is None:
        return InProcess()
    return LocalPool(workers, timeout)


class InProcess(Executor):
    """Each run in this process, one after the other (errors and tracebacks land here)."""

    def run(self, specs: Sequence[RunSpec]) -> Iterator[dict]:
        for s in specs:
            yield run_one(s)


# --------------------------------------------------------------------------- local pool
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
    """One worker process of :class:`LocalPool`: whether it is set up, the run it holds, when that run started."""

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


class LocalPool(Executor):
    """Runs on ``workers`` spawned processes, each run on its own clock.

    A run still going after ``timeout`` seconds has its worker killed (Numba and
    torch code cannot be interrupted any other way) and is recorded as failed; a
    worker that dies mid-run (out of memory, a crash in native code) fails only
    the run it held. A fresh worker takes the dead one's place, so the study
    goes on. A run's clock starts when a set-up worker takes it (a worker's own
    start, imports included, is not counted). Workers are spawned (not forked:
    torch and numba threads may run). ``worker_main`` (a module-level function
    like :func:`_worker_main`) is for tests.
    """

    def __init__(self, workers: int, timeout: float | None = None, *, worker_main: Callable = _worker_main):
        self.workers = max(1, workers)
        self.timeout = timeout
        self.worker_main = worker_main

    def run(self, specs: Sequence[RunSpec]) -> Iterator[dict]:
        timeout, worker_main = self.timeout, self.worker_main
        threads = max(1, (os.cpu_count() or 1) // self.workers)
        ctx = multiprocessing.get_context("spawn")
        cache_dir = os.environ.get("STRINGART_CACHE_DIR")
        pending = list(reversed(specs))
        pool = [_Worker(ctx, threads, cache_dir, worker_main) for _ in range(min(self.workers, len(specs)))]
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
                        yield failed_row(spec, problem)
        finally:
            for w in pool:
                w.stop(kill=w.spec is not None)


# --------------------------------------------------------------------------- Dask
class DaskExecutor(Executor):
    """Runs as tasks of a Dask distributed cluster: ``scheduler`` is its address or a ``distributed.Client``
    (used as is, not closed). A task Dask loses (a dead worker, a pickling problem) fails only its run."""

    def __init__(self, scheduler):
        self.scheduler = scheduler

    def run(self, specs: Sequence[RunSpec]) -> Iterator[dict]:
        try:
            from distributed import Client, as_completed
        except ImportError:
            raise InputError("--scheduler needs Dask distributed; install it with "
                             "pip install 'stringart-bench[dask]' (or 'dask[distributed]')") from None
        scheduler = self.scheduler
        own = not hasattr(scheduler, "submit")
        try:
            client = Client(scheduler, timeout=DASK_CONNECT_TIMEOUT) if own else scheduler
        except (OSError, TimeoutError, ValueError) as e:
            raise InputError(f"cannot reach the Dask scheduler at {scheduler!r} ({first_line(e)}); "
                             f"start one (dask scheduler) or drop --scheduler") from None
        try:
            futures = {}
            for s in specs:
                futures[client.submit(run_one, s, pure=False, key=f"stringart-run-{s.run_id}")] = s
            for fut in as_completed(list(futures)):
                try:
                    yield fut.result()
                except Exception as e:  # noqa: BLE001  (a lost worker or a pickling problem)
                    yield failed_row(futures[fut], f"dask: {first_line(e)}")
        finally:
            if own:
                client.close()
