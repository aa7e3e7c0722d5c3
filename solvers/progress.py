"""Progress as a stream: a solve reports its lines as the solver chooses them, and can be cancelled.

One mechanism serves the CLI's progress line, the page's live canvas (``bench serve``) and cancellation:

* The caller passes a :class:`Progress` to :meth:`solvers.Solver.solve` (``progress=``) with a callback.
* A solver's loop shares two numbers with it, :attr:`Progress.control`: the lines drawn so far (the
  kernel writes it after each line) and a cancel flag (the kernel reads it before each line and stops
  when it is set). A loop that builds its threads in arrays registers them with :func:`watching`; while
  it runs (numba kernels release the GIL), a watcher thread reads the counter every ``interval`` seconds
  and hands the new pins to the callback, in batches, as they are chosen.
* Nobody listening costs nothing: without a :class:`Progress` the loop gets a private control array that
  nothing reads, and no thread starts.

Loops that run in Python check :func:`cancelled` between steps instead. A solver that reports nothing
while it runs still ends with a ``done`` event that carries its whole thread.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

#: slots of :attr:`Progress.control` (int64): lines drawn so far, and the cancel flag (non-zero: stop)
DRAWN, CANCEL = 0, 1
CONTROL_SIZE = 2


class Cancelled(Exception):
    """A solve was cancelled (:meth:`Progress.cancel`) before it finished."""


@dataclass
class Event:
    """What a listener hears.

    Attributes
    ----------
    status : ``"running"``, ``"done"`` or ``"cancelled"``
    lines : int, lines drawn so far
    total : int, the line budget
    seconds : float, since the solve started
    threads : list of (colour, pins) the new pins since the last event: each item continues that colour's
        thread (its first pin is where the last event left it, repeated so a batch draws on its own)
    phase : str, what the solver is doing (``"solving"``, ``"refining"``, ...)
    final : the whole solution's runs ``(colour, pins)`` in build order (``done`` only)
    """

    status: str
    lines: int
    total: int
    seconds: float
    threads: list = field(default_factory=list)
    phase: str = "solving"
    final: list | None = None


class Progress:
    """A listener of one solve: a callback for :class:`Event` batches and a cancel flag.

    Parameters
    ----------
    callback : called with each :class:`Event` (from a watcher thread while a kernel runs, else from the
        solving thread); None: only cancellation
    interval : float, seconds between batches while a kernel runs
    """

    def __init__(self, callback: Callable[[Event], None] | None = None, *, interval: float = 0.05):
        self.callback = callback
        self.interval = float(interval)
        self.control = np.zeros(CONTROL_SIZE, dtype=np.int64)
        self.total = 0
        self.phase = "solving"
        self._t0 = time.perf_counter()
        self._sent = 0

    def cancel(self) -> None:
        """Ask the solve to stop: the kernel stops before its next line, a Python loop at its next check."""
        self.control[CANCEL] = 1

    @property
    def cancelled(self) -> bool:
        return bool(self.control[CANCEL])

    def emit(self, status: str, threads=(), *, lines: int | None = None, final=None) -> None:
        if self.callback is None:
            return
        n = int(self.control[DRAWN]) if lines is None else int(lines)
        self.callback(Event(status=status, lines=n, total=self.total, seconds=time.perf_counter() - self._t0,
                            threads=[(int(k), np.asarray(p).tolist()) for k, p in threads], phase=self.phase,
                            final=None if final is None else [(int(k), np.asarray(p).tolist()) for k, p in final]))

    def set_phase(self, phase: str) -> None:
        """Say what the solve is doing now (heard with the next event)."""
        self.phase = phase
        if self.callback is not None:
            self.emit("running")


_CURRENT: contextvars.ContextVar[Progress | None] = contextvars.ContextVar("stringart_progress", default=None)


def current() -> Progress | None:
    """The listener of the solve running in this context, or None."""
    return _CURRENT.get()


@contextlib.contextmanager
def listening(progress: Progress | None, total: int):
    """Make ``progress`` the current listener while a solver runs (:meth:`solvers.Solver.solve` does this)."""
    if progress is None:
        yield None
        return
    progress.total = int(total)
    progress.control[DRAWN] = 0
    progress._t0 = time.perf_counter()
    token = _CURRENT.set(progress)
    try:
        yield progress
    finally:
        _CURRENT.reset(token)


def control() -> np.ndarray:
    """The control array a loop shares with the current listener (:data:`DRAWN`, :data:`CANCEL`); a private
    one when nobody listens."""
    p = _CURRENT.get()
    return p.control if p is not None else np.zeros(CONTROL_SIZE, dtype=np.int64)


def cancelled() -> bool:
    """Whether the current solve was asked to stop (for loops that run in Python)."""
    p = _CURRENT.get()
    return p is not None and p.cancelled


def report(drawn: int) -> None:
    """A Python loop's progress: ``drawn`` lines so far (no pins; the canvas waits for the end)."""
    p = _CURRENT.get()
    if p is not None:
        p.control[DRAWN] = drawn


class _Watcher:
    """Polls a loop's arrays from a thread and sends the new pins as events."""

    def __init__(self, progress: Progress, pins_of: Callable[[int, int], list]):
        self.progress = progress
        self.pins_of = pins_of
        self.sent = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, name="stringart-progress", daemon=True)

    def flush(self) -> None:
        n = int(self.progress.control[DRAWN])
        if n > self.sent:
            self.progress.emit("running", self.pins_of(self.sent, n), lines=n)
            self.sent = n

    def run(self) -> None:
        while not self.stop.wait(self.progress.interval):
            self.flush()


@contextlib.contextmanager
def watching(pins_of: Callable[[int, int], list]):
    """While the body runs, send the lines a loop draws to the current listener, in batches.

    ``pins_of(a, b)`` returns the runs ``(colour, pins)`` of lines ``a`` to ``b`` (exclusive), each pin list
    starting at the pin its line starts from; the loop writes the count to :func:`control`'s
    :data:`DRAWN` slot. Nothing happens without a listener with a callback.
    """
    p = _CURRENT.get()
    if p is None or p.callback is None:
        yield
        return
    w = _Watcher(p, pins_of)
    w.thread.start()
    try:
        yield
    finally:
        w.stop.set()
        w.thread.join()
        w.flush()


def path_batches(path: np.ndarray, colour: int = 0) -> Callable[[int, int], list]:
    """``pins_of`` for :func:`watching` of a loop that fills one pin path (``path[i]``: the pin after line i)."""
    return lambda a, b: [(colour, path[a:b + 1].copy())]


@contextlib.contextmanager
def quiet():
    """Run the body unheard (a search's trial solves): no events, but cancellation still reaches it (the control
    array is shared; its line count is the trial's meanwhile)."""
    p = _CURRENT.get()
    if p is None:
        yield
        return
    silent = Progress(None)
    silent.control = p.control
    token = _CURRENT.set(silent)
    try:
        yield
    finally:
        _CURRENT.reset(token)
