"""A warm ``bench solve``: one process kept ready, so that a solve skips Python's and numba's start-up.

A whole ``bench solve`` spends about a second before and around its solve: the interpreter and the imports,
numba loading its compiled kernels, the first scoring's imports. ``bench warm`` starts a process that pays this
once, then waits (``--idle`` minutes, 30 by default) for ``bench solve`` commands: while it runs, ``bench solve``
hands its arguments, folder and environment to it over a socket only this user can open, and prints what it
prints; the files, the output and the exit status are those of a solve run in place (a test checks), and
Ctrl-C stops it the same way. ``STRINGART_WARM=0`` runs a command in place all the same.

The warm process only serves commands of the code and the settings it was started with: the socket's name is a
hash of the toolkit's source files (their size and time), the Python and the cache folders
(``STRINGART_CACHE_DIR``, ``NUMBA_CACHE_DIR``), so an edit, another environment or another cache folder finds
no warm process and runs in place.

The protocol is JSON lines: the client sends ``{"argv", "cwd", "env", "tty", "started"}``; the server answers
``{"out": text}`` and ``{"err": text}`` as the command writes, then ``{"rc": status}``. While the command runs
the client may send ``{"interrupt": true}`` (its Ctrl-C), which the server turns into a KeyboardInterrupt.
``{"status": true}`` and ``{"stop": true}`` are ``bench warm --status`` and ``--stop``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

#: commands a warm process runs (the others gain little: they load no kernel)
SERVED = ("solve",)
#: minutes a warm process waits for a command before it ends
DEFAULT_IDLE_MINUTES = 30.0
#: the warm-up: one default solve (the command a maker types), run unseen before the first command
WARM_UP = ("solve", "camera")
#: the client's wall time at its start, while a warm process runs its command (``--timings``' start-up)
REQUEST_STARTED: list[float] = []


def stamp() -> str:
    """What a warm process must share with a command it serves: the toolkit's files (path, size, time: an edit
    to any of them makes a warm process of the old code unreachable), the interpreter, and the cache folders."""
    from rendering.jit import package_files  # no numba, no numpy: a few ms

    h = hashlib.sha1()
    for rel, path in package_files():
        st = path.stat()
        h.update(f"{rel}:{st.st_size}:{st.st_mtime_ns};".encode())
    for key in ("STRINGART_CACHE_DIR", "NUMBA_CACHE_DIR", "STRINGART_MAX_MEMORY_GB"):
        h.update(f"{key}={os.environ.get(key, '')};".encode())
    h.update(f"{sys.executable};{sys.version}".encode())
    return h.hexdigest()[:20]


def socket_path() -> Path:
    """The socket of the warm process for this code and these settings (in a folder only this user can open;
    short, as a socket's path must be)."""
    folder = Path(tempfile.gettempdir()) / f"stringart-warm-{os.getuid()}"
    return folder / f"{stamp()}.sock"


def _send(conn: socket.socket, message: dict) -> None:
    conn.sendall((json.dumps(message) + "\n").encode())


class _Reader:
    """The JSON messages arriving on a socket, one :meth:`next` at a time; a KeyboardInterrupt while it waits
    leaves it whole (a generator would be closed by it)."""

    def __init__(self, conn: socket.socket):
        self.conn, self.buf = conn, b""

    def next(self) -> dict | None:
        """The next message, or None once the other side has closed."""
        while b"\n" not in self.buf:
            chunk = self.conn.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line) if line.strip() else self.next()


def _lines(conn: socket.socket):
    """The JSON messages arriving on ``conn`` until it closes."""
    reader = _Reader(conn)
    while (msg := reader.next()) is not None:
        yield msg


def _connect(timeout: float = 1.0) -> socket.socket | None:
    path = socket_path()
    if not path.exists():
        return None
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(timeout)
    try:
        conn.connect(str(path))
    except OSError:
        conn.close()
        return None
    conn.settimeout(None)
    return conn


# ------------------------------------------------------------------------------------------------ the client
def delegate(argv: list[str]) -> int | None:
    """Run ``bench ARGV`` in the warm process when one serves this code and these settings: its exit status,
    with its output printed here as it comes; None when there is none (the caller runs the command itself)."""
    if not argv or argv[0] not in SERVED or os.environ.get("STRINGART_WARM", "1") == "0":
        return None
    conn = _connect()
    if conn is None:
        return None
    started = time.time() - _since_start()
    try:
        _send(conn, dict(argv=argv, cwd=os.getcwd(), env=dict(os.environ), started=started,
                         tty=[sys.stdout.isatty(), sys.stderr.isatty()]))
        messages = _Reader(conn)
        interrupted = False
        while True:
            try:
                msg = messages.next()
            except KeyboardInterrupt:
                if interrupted:  # a second Ctrl-C: leave without waiting
                    return 130
                interrupted = True
                _send(conn, {"interrupt": True})
                continue
            if msg is None:
                print("error: the warm bench process ended during the command; run it again (STRINGART_WARM=0 "
                      "runs it in place)", file=sys.stderr)
                return 1
            if "rc" in msg:
                return int(msg["rc"])
            for key, stream in (("out", sys.stdout), ("err", sys.stderr)):
                if key in msg:
                    stream.write(msg[key])
                    stream.flush()
    except OSError:
        return None if not locals().get("messages") else 1
    finally:
        conn.close()


def _since_start() -> float:
    """Seconds since this process started (Linux: /proc), else 0."""
    try:
        ticks = os.sysconf("SC_CLK_TCK")
        start = int(open("/proc/self/stat").read().rsplit(")", 1)[1].split()[19]) / ticks
        return float(open("/proc/uptime").read().split()[0]) - start
    except (OSError, ValueError, IndexError):
        return 0.0


def status() -> dict | None:
    """The warm process's state (pid, served commands, idle minutes, started), or None when none runs."""
    conn = _connect()
    if conn is None:
        return None
    try:
        _send(conn, {"status": True})
        return next(_lines(conn), None)
    except OSError:
        return None
    finally:
        conn.close()


def stop() -> bool:
    """Ask the warm process to end; whether one was running."""
    conn = _connect()
    if conn is None:
        return False
    try:
        _send(conn, {"stop": True})
        next(_lines(conn), None)
    except OSError:
        pass
    finally:
        conn.close()
    return True


def start(idle_minutes: float = DEFAULT_IDLE_MINUTES, *, wait: float = 180.0, warm_up=WARM_UP) -> dict:
    """Start a warm process in the background (a session of its own: it outlives this one) and wait until it
    answers; its status. ``warm_up``: the command it runs first, unseen (without ``--out``). Raises RuntimeError
    with its last words when it does not come up."""
    import subprocess

    log = Path(tempfile.gettempdir()) / f"stringart-warm-{os.getuid()}" / f"{stamp()}.log"
    log.parent.mkdir(mode=0o700, exist_ok=True)
    with open(log, "wb") as f:
        proc = subprocess.Popen([sys.executable, "-m", "bench.launch", "--warm-server", "--idle",
                                 repr(float(idle_minutes)), "--warm-up", json.dumps(list(warm_up))],
                                stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + wait
    while time.time() < deadline:
        got = status()
        if got is not None:
            return got
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    tail = log.read_text(errors="replace").strip().splitlines()[-3:] if log.exists() else []
    raise RuntimeError("the warm process did not start" + (f": {' / '.join(tail)}" if tail else ""))


# ------------------------------------------------------------------------------------------------ the server
class _Stream(io.TextIOBase):
    """sys.stdout or sys.stderr of a served command: what it writes goes to the client as it comes."""

    def __init__(self, conn: socket.socket, key: str, tty: bool, lock: threading.Lock):
        self.conn, self.key, self.tty, self.lock = conn, key, tty, lock

    def write(self, s) -> int:  # type: ignore[override]
        if isinstance(s, (bytes, bytearray)):  # click writes bytes where it finds no text layer
            s = bytes(s).decode("utf-8", errors="replace")
        if s:
            with self.lock:
                try:
                    _send(self.conn, {self.key: s})
                except OSError:
                    pass  # the client left: the command still ends as it would (Ctrl-C was sent first)
        return len(s)

    def isatty(self) -> bool:
        return self.tty

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"


def _run_command(app, request: dict, conn: socket.socket, lock: threading.Lock) -> int:
    """Run one command of ``app`` (the ``bench`` command line) as ``bench`` would, in the client's folder and
    environment, its output to the client."""
    saved_env, saved_cwd, saved = dict(os.environ), os.getcwd(), (sys.stdout, sys.stderr)
    tty = list(request.get("tty") or [False, False])
    try:
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in (request.get("env") or {}).items()})
        os.chdir(request["cwd"])
        sys.stdout = _Stream(conn, "out", bool(tty[0]), lock)
        sys.stderr = _Stream(conn, "err", bool(tty[1]), lock)
        REQUEST_STARTED[:] = [float(request.get("started") or time.time())]
        try:
            app(args=list(request["argv"]), prog_name="bench")
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            if not isinstance(e.code, (int, type(None))):
                print(e.code, file=sys.stderr)
        except KeyboardInterrupt:
            print("\ninterrupted", file=sys.stderr)
            code = 130
        except Exception as e:  # noqa: BLE001  (a bug: said, and the warm process goes on)
            print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        return code
    finally:
        REQUEST_STARTED.clear()
        sys.stdout, sys.stderr = saved
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)


def _watch(conn: socket.socket, main: int, done: threading.Event) -> None:
    """While a command runs: the client's Ctrl-C (or its leaving) interrupts the main thread."""
    import signal

    try:
        for msg in _lines(conn):
            if msg.get("interrupt") and not done.is_set():
                signal.pthread_kill(main, signal.SIGINT)
    except (OSError, ValueError):
        pass
    if not done.is_set():  # the client is gone: stop the command as its Ctrl-C would
        signal.pthread_kill(main, signal.SIGINT)


def _warm_up(app, argv=WARM_UP) -> None:
    """One solve (default: :data:`WARM_UP`), untimed and unseen: imports, kernels, tables and scoring loaded before
    the first command."""
    import contextlib

    with tempfile.TemporaryDirectory(prefix="stringart-warm-") as tmp, contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        try:
            app(args=[*argv, "--out", tmp], prog_name="bench")
        except SystemExit:
            pass


def serve(app, idle_minutes: float = DEFAULT_IDLE_MINUTES, warm_up=WARM_UP) -> int:
    """The warm process (``python -m bench.launch --warm-server``): warm up, then serve commands of ``app`` (the
    ``bench`` command line) one at a time until ``idle_minutes`` pass without one, or ``--stop``."""
    path = socket_path()
    path.parent.mkdir(mode=0o700, exist_ok=True)
    os.chmod(path.parent, 0o700)
    _warm_up(app, warm_up)
    if _connect() is not None:
        print("another warm process already serves this code", file=sys.stderr)
        return 0
    path.unlink(missing_ok=True)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)  # the socket: this user only
    try:
        server.bind(str(path))
    finally:
        os.umask(old)
    server.listen(8)
    served, born = 0, time.time()
    last = born  # the last command's end: only commands keep it warm (a --status does not)
    lock = threading.Lock()
    try:
        while True:
            left = last + idle_minutes * 60.0 - time.time()
            if left <= 0:
                return 0
            server.settimeout(left)
            try:
                conn, _ = server.accept()
            except (socket.timeout, TimeoutError):
                return 0
            except KeyboardInterrupt:
                continue
            try:
                if _handle(app, conn, lock, idle_minutes, born, served):
                    served += 1
                    last = time.time()
            except _Stop:
                return 0
            except KeyboardInterrupt:  # a Ctrl-C that came as the command ended
                continue
            finally:
                conn.close()
    finally:
        server.close()
        path.unlink(missing_ok=True)


class _Stop(Exception):
    """``bench warm --stop`` was asked."""


def _handle(app, conn: socket.socket, lock: threading.Lock, idle_minutes: float, born: float, served: int) -> bool:
    """Answer one connection; whether it ran a command."""
    try:
        request = next(_lines(conn), None)
    except (OSError, ValueError):
        return False
    if not request:
        return False
    if request.get("status") or request.get("stop"):
        with lock:
            _send(conn, dict(pid=os.getpid(), served=served, idle_minutes=idle_minutes,
                             up_seconds=round(time.time() - born, 1), stopping=bool(request.get("stop"))))
        if request.get("stop"):
            raise _Stop
        return False
    argv = list(request.get("argv") or [])
    if not argv or argv[0] not in SERVED:
        _send(conn, {"err": f"error: the warm process runs only bench {', '.join(SERVED)}\n"})
        _send(conn, {"rc": 2})
        return False
    done = threading.Event()
    watcher = threading.Thread(target=_watch, args=(conn, threading.main_thread().ident, done), daemon=True)
    watcher.start()
    try:
        code = _run_command(app, request, conn, lock)
    except KeyboardInterrupt:
        code = 130
    finally:
        done.set()
    try:
        with lock:
            _send(conn, {"rc": code})
    except OSError:
        pass
    return True
