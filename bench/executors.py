"""Where the runs of a study run: one small interface, three executors.

* :class:`InProcess` -- one after the other in this process (``workers=1``, no timeout);
* :class:`LocalPool` -- worker processes, each run on its own clock: a run past
  the timeout has its worker killed, a worker that dies fails only the run it held,
  and a fresh worker takes its place;
* :class:`DaskExecutor` -- the tasks of a Dask distributed cluster.

:func:`make_executor` picks one from ``bench run``'s ``--workers``, ``--scheduler``
and ``--timeout``. An executor is a context manager: entering it connects (Dask) or
checks what the runs need, before the harness writes anything; :meth:`Executor.run`
yields the rows of :func:`bench.runner.run_one` as runs finish (in any order); none
raises for a failed run.

How pool workers start (:data:`START_METHOD`). On POSIX each worker is a fresh
interpreter (``subprocess``: fork and exec at once, so no thread of numba or torch is
ever forked) that runs a few lines of the standard library, sets ``sys.path`` to the
parent's and imports :func:`_worker_main` by name: it never imports the caller's
``__main__``, so :func:`bench.harness.run_study` works at the top level of a plain
script. (multiprocessing's "spawn" and "forkserver" both import ``__main__`` again in
every child, ``set_forkserver_preload([])`` notwithstanding: a script without an
``if __name__ == "__main__":`` guard runs again in each worker and fails.) Elsewhere
(Windows) workers are spawned, and a script without the guard gets one
:class:`~rendering.InputError` saying so.

Workers ignore SIGINT (the parent stops them: Ctrl-C in a terminal reaches the
whole process group), die with the parent on Linux (``PR_SET_PDEATHSIG``) and exit
quietly, status 0, when the parent's end of their pipe is gone.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import subprocess
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
#: How pool workers start: "exec" (a fresh interpreter that never imports ``__main__``; POSIX) or
#: "spawn" (multiprocessing's; the fallback where file descriptors cannot be passed to a child).
START_METHOD = "exec" if os.name == "posix" else "spawn"
#: With a timeout: seconds a run may take, on top of the timeout, to get ready before its own clock
#: starts (its image and chord table loaded, the solver prepared: JIT compilation, model loading).
PREPARE_GRACE = 300.0
#: How often (seconds) the pool looks at its workers' clocks when a timeout is set.
_POLL = 0.25
#: What a pool worker sends once it is set up and waiting for runs.
_READY = "ready"
#: What a pool worker sends when a run's solver is prepared and its timed part starts.
_STARTED = "started"
#: Exit status of a spawned worker that found itself running the caller's script again.
_EXIT_REIMPORTED_MAIN = 87


class Executor(ABC):
    """Runs specs and yields their rows as they finish; a context manager (:meth:`open` / :meth:`close`)."""

    def open(self) -> None:  # noqa: B027  (an optional hook: does nothing by default)
        """Connect to (or check) what the runs need; raises :class:`~rendering.InputError`. Before any output."""

    def close(self) -> None:  # noqa: B027  (an optional hook: does nothing by default)
        """Let go of what :meth:`open` took."""

    def __enter__(self) -> Executor:
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

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


def exit_if_reimported_main() -> None:
    """In a spawned worker that is running the caller's script again (its ``__main__`` re-imported while the
    worker starts): leave at once, quietly, with a status that tells the parent why (see :class:`LocalPool`).

    :func:`bench.harness.run_study` calls it first, so such a worker never plans, writes or runs anything.
    """
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise SystemExit(_EXIT_REIMPORTED_MAIN)


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
    solver_names()  # load solver plugins once per worker
    from rendering.jit import set_threads

    set_threads(threads)  # numba: this worker's share of the cores; torch (when a learned solver loads it): 1


def _worker_main(conn, threads: int, cache_dir: str | None) -> None:
    """A pool worker: set up once and say so, then for each spec received say when its solver is prepared
    (the run's clock starts) and send its row back; ``None`` ends it."""
    _init_worker(threads, cache_dir)
    conn.send(_READY)
    while True:
        spec = conn.recv()
        if spec is None:
            return
        conn.send(run_one(spec, on_started=lambda: conn.send(_STARTED)))


def _serve(conn, target: str, args: tuple) -> None:
    """The body of every pool worker: run ``target`` (``"module:qualname"``, a worker main like
    :func:`_worker_main`) with SIGINT ignored; a parent gone away (EOF or a broken pipe) ends it quietly."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it stops its workers
    try:
        module, _, name = target.partition(":")
        main = importlib.import_module(module)
        for part in name.split("."):
            main = getattr(main, part)
        main(conn, *args)
    except (EOFError, BrokenPipeError, ConnectionResetError, KeyboardInterrupt):
        os._exit(0)  # the parent is gone: nothing to report, nobody to report it to


#: What a fresh worker interpreter runs (standard library only, until ``sys.path`` is the parent's):
#: ignore SIGINT (it starts blocked, see :func:`_sigint_blocked`), die with the parent (Linux),
#: read where to find its main function, then :func:`_serve`. argv: the pipe's fd, the parent's pid.
_BOOT = """\
import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
if hasattr(signal, "pthread_sigmask"):
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
if sys.platform.startswith("linux"):
    try:
        import ctypes
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: die with the parent
    except Exception:
        pass
if os.getppid() != int(sys.argv[2]):
    os._exit(0)  # the parent died already
from multiprocessing.connection import Connection
conn = Connection(int(sys.argv[1]))
try:
    path, target, args = conn.recv()
except (EOFError, OSError):
    os._exit(0)
sys.path[:] = path
from bench.executors import _serve
_serve(conn, target, args)
"""


@contextlib.contextmanager
def _sigint_blocked():
    """SIGINT blocked in this thread meanwhile (a child started now inherits the mask, so a Ctrl-C cannot
    reach it before it ignores SIGINT; one sent to this process meanwhile arrives afterwards)."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


class _Exec:
    """A worker interpreter started by :mod:`subprocess`, with the interface of ``multiprocessing.Process``
    that :class:`_Worker` uses (no sentinel: its death shows as the end of its pipe)."""

    sentinel = None

    def __init__(self, popen: subprocess.Popen):
        self.popen = popen

    @property
    def exitcode(self) -> int | None:
        return self.popen.poll()

    def is_alive(self) -> bool:
        return self.popen.poll() is None

    def join(self, timeout: float | None = None) -> None:
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            pass

    def kill(self) -> None:
        try:
            self.popen.kill()
        except OSError:
            pass


def _target_name(main: Callable) -> str:
    module, name = getattr(main, "__module__", None), getattr(main, "__qualname__", "")
    if not module or module == "__main__" or "<" in name:
        raise ValueError(f"a pool worker's main function must be defined at the top level of an importable "
                         f"module, got {main!r}")
    return f"{module}:{name}"


class _Worker:
    """One worker process of :class:`LocalPool`: whether it is set up, the run it holds, when it got that run
    and when the run's own clock started (the worker said its solver is prepared)."""

    def __init__(self, start: str, threads: int, cache_dir: str | None, main: Callable = _worker_main):
        target, args = _target_name(main), (threads, cache_dir)
        if start == "exec":
            ours, theirs = socket.socketpair()
            self.conn = multiprocessing.connection.Connection(ours.detach())
            fd = theirs.detach()
            try:
                with _sigint_blocked():
                    popen = subprocess.Popen([sys.executable, "-c", _BOOT, str(fd), str(os.getpid())],
                                             pass_fds=(fd,), close_fds=True)
            except BaseException:
                self.conn.close()
                raise
            finally:
                os.close(fd)
            self.proc = _Exec(popen)
            try:
                self.conn.send((list(sys.path), target, args))
            except OSError:
                pass  # it died already: seen as a worker that failed to start
        elif start == "spawn":
            ctx = multiprocessing.get_context("spawn")
            self.conn, child = ctx.Pipe()
            self.proc = ctx.Process(target=_serve, args=(child, target, args), daemon=True)
            with _sigint_blocked():
                self.proc.start()
            child.close()
        else:
            raise ValueError(f"start must be 'exec' or 'spawn', got {start!r}")
        self.ready = False
        self.spec: RunSpec | None = None
        self.given = 0.0
        self.started: float | None = None

    def give(self, spec: RunSpec) -> None:
        self.spec, self.given, self.started = spec, time.monotonic(), None
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


def _start_failure(w: _Worker) -> str:
    if w.proc.exitcode == _EXIT_REIMPORTED_MAIN:
        main = getattr(sys.modules.get("__main__"), "__file__", None) or "the main module"
        return (f"run_study is called at the top level of {main}, which every spawned worker process runs "
                f"again; put the call under `if __name__ == \"__main__\":` or pass workers=1")
    return (f"a bench worker process failed to start (exit code {w.proc.exitcode}); "
            f"run with --workers 1 to see the error in this process")


class LocalPool(Executor):
    """Runs on ``workers`` worker processes, each run on its own clock.

    A run still going ``timeout`` seconds after its solver was prepared has its
    worker killed (Numba and torch code cannot be interrupted any other way) and
    is recorded as failed; so is one whose preparation (loading its image and
    the chord table, the solver's JIT compilation or model) takes more than
    ``timeout + PREPARE_GRACE`` seconds. A worker that dies mid-run (out of
    memory, a crash in native code) fails only the run it held. A fresh worker
    takes the dead one's place, so the study goes on. A worker's own start,
    imports included, is never counted. Workers start as :data:`START_METHOD`
    says (never forked: torch and numba threads may run). ``worker_main`` (a
    module-level function like :func:`_worker_main`) and ``start`` are for tests.
    """

    def __init__(self, workers: int, timeout: float | None = None, *, worker_main: Callable = _worker_main,
                 start: str | None = None):
        self.workers = max(1, workers)
        self.timeout = timeout
        self.worker_main = worker_main
        self.start = start or START_METHOD

    def _check_run(self, w: _Worker, now: float) -> str | None:
        """Why the run ``w`` holds is to be given up (it died, or ran out of time), or None."""
        timeout = self.timeout
        if not w.proc.is_alive():
            return (f"WorkerDied: the worker process running this died (exit code {w.proc.exitcode}: "
                    f"out of memory or a crash in native code); re-run to retry")
        if timeout is None:
            return None
        if w.started is not None and now - w.started > timeout:
            return (f"Timeout: the run took longer than {timeout:g} s and was stopped; "
                    f"raise --timeout or drop it to let it finish")
        if w.started is None and now - w.given > timeout + PREPARE_GRACE:
            return (f"Timeout: getting the run ready (its image, the chord table, the solver's JIT compilation "
                    f"or model) took longer than {timeout + PREPARE_GRACE:g} s and was stopped; "
                    f"raise --timeout or drop it")
        return None

    def run(self, specs: Sequence[RunSpec]) -> Iterator[dict]:
        timeout, worker_main, start = self.timeout, self.worker_main, self.start
        threads = max(1, (os.cpu_count() or 1) // self.workers)
        cache_dir = os.environ.get("STRINGART_CACHE_DIR")
        pending = list(reversed(specs))
        pool: list[_Worker] = []
        try:
            for _ in range(min(self.workers, len(specs))):
                pool.append(_Worker(start, threads, cache_dir, worker_main))
            while pending or any(w.spec is not None for w in pool):
                for w in pool:
                    if w.ready and w.spec is None and pending:
                        w.give(pending.pop())
                watched = [w for w in pool if w.spec is not None or not w.ready]
                handles = [w.conn for w in watched] + [w.proc.sentinel for w in watched
                                                       if w.proc.sentinel is not None]
                fired = set(multiprocessing.connection.wait(handles, timeout=_POLL if timeout is not None else None))
                now = time.monotonic()
                for i, w in enumerate(pool):
                    if w not in watched:
                        continue
                    hit = w.conn in fired or (w.proc.sentinel is not None and w.proc.sentinel in fired)
                    # a worker gone since the wait may have left its last message in the pipe: read it first
                    msg = w.receive() if hit or not w.proc.is_alive() else None
                    if not w.ready:
                        if msg == _READY:
                            w.ready = True
                        elif not w.proc.is_alive():
                            raise InputError(_start_failure(w))
                        continue
                    if msg == _STARTED:
                        w.started = time.monotonic()
                        continue
                    if msg is not None:
                        w.spec = None
                        yield msg
                        continue
                    problem = self._check_run(w, now)
                    if problem is not None:
                        spec, w.spec = w.spec, None
                        w.stop(kill=True)
                        if pending:  # a fresh worker for the runs still to give out
                            pool[i] = _Worker(start, threads, cache_dir, worker_main)
                        yield failed_row(spec, problem)
        finally:
            for w in pool:
                w.stop(kill=w.spec is not None)


# --------------------------------------------------------------------------- Dask
class DaskExecutor(Executor):
    """Runs as tasks of a Dask distributed cluster: ``scheduler`` is its address or a ``distributed.Client``
    (used as is, not closed). A task Dask loses (a dead worker, a pickling problem) fails only its run.

    :meth:`open` connects (``with DaskExecutor(address) as ex:``); :meth:`run` connects itself when
    it was not opened, and then closes the client it made when it ends.
    """

    def __init__(self, scheduler):
        self.scheduler = scheduler
        self.client = None
        self._own = False

    def open(self) -> None:
        if self.client is not None:
            return
        try:
            from distributed import Client
        except ImportError:
            raise InputError("--scheduler needs Dask distributed; install it with "
                             "pip install 'stringart-bench[dask]' (or 'dask[distributed]')") from None
        scheduler = self.scheduler
        if hasattr(scheduler, "submit"):
            self.client, self._own = scheduler, False
            return
        try:
            self.client = Client(scheduler, timeout=DASK_CONNECT_TIMEOUT)
        except (OSError, TimeoutError, ValueError) as e:
            raise InputError(f"cannot reach the Dask scheduler at {scheduler!r} ({first_line(e)}); "
                             f"start one (dask scheduler) or drop --scheduler") from None
        self._own = True

    def close(self) -> None:
        client, self.client = self.client, None
        if client is not None and self._own:
            client.close()

    def run(self, specs: Sequence[RunSpec]) -> Iterator[dict]:
        opened_here = self.client is None
        self.open()
        from distributed import as_completed

        try:
            futures = {}
            for s in specs:
                futures[self.client.submit(run_one, s, pure=False, key=f"stringart-run-{s.run_id}")] = s
            for fut in as_completed(list(futures)):
                try:
                    yield fut.result()
                except Exception as e:  # noqa: BLE001  (a lost worker or a pickling problem)
                    yield failed_row(futures[fut], f"dask: {first_line(e)}")
        finally:
            if opened_here:
                self.close()
