"""``bench serve``: the maker's page in a browser -- make, compare, download and wind.

A thin layer over :func:`bench.serve.create_app`, as ``datasette serve`` is over its app: it builds the app
from the options and runs it with uvicorn. The web stack is imported inside the command only, so
``bench --help`` stays fast.
"""

from pathlib import Path
from typing import Annotated, Optional

import typer

from .cli_common import user_errors

#: serve's option names as the library says them -> as typed
SERVE_OPTION_NAMES = {"port": "--port", "workers": "--workers"}


def _serve_errors(fn):
    """One line naming the option (serve's own names first), exit 2: :func:`bench.cli_common.user_errors`."""
    return user_errors(fn, SERVE_OPTION_NAMES)


@_serve_errors
def serve_cmd(
    port: Annotated[int, typer.Option("--port", help="Port to listen on (0: any free port).")] = 8765,
    host: Annotated[str, typer.Option("--host", help="Address to bind; 0.0.0.0 opens the page to your network "
                                                     "(with a warning).")] = "127.0.0.1",
    workspace: Annotated[Optional[Path], typer.Option(
        "--workspace", help="Folder of the results [default: the user data folder's stringart-bench/workspace].")]
    = None,
    workers: Annotated[Optional[int], typer.Option("--workers", help="Solve worker processes [default: one per "
                                                                     "core].")] = None,
    no_browser: Annotated[bool, typer.Option("--no-browser", help="Do not open the page in a browser.")] = False,
):
    """Start the local web app (make, compare, download, wind) and open it in the browser."""
    import socket
    import threading
    import webbrowser

    from rendering import InputError
    from rendering.errors import check_int

    from .serve.app import create_app, default_workspace

    check_int("port", port, low=0, high=65535, hint="use e.g. --port 8765")
    if workers is not None:
        check_int("workers", workers, low=1, high=64, hint="use e.g. --workers 2")
    folder = Path(workspace).expanduser() if workspace is not None else default_workspace()
    from rendering.fileio import prepare_out_dir

    prepare_out_dir(folder, option="--workspace")
    try:
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)  # from here a browser (or a script reading the URL below) queues instead of being refused
    except OSError as e:
        raise InputError(f"cannot listen on {host}:{port} ({e.strerror or e}); choose another --port or --host") \
            from None
    port = sock.getsockname()[1]
    if host in ("0.0.0.0", "::"):
        typer.echo(f"warning: --host {host} opens the page to every machine that can reach this one: anyone there "
                   f"can run solves and read the results in {folder}; use it on a network you trust", err=True)
    app = create_app(folder, workers=workers, host=host)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"http://{shown}:{port}/"
    typer.echo(f"bench serve: {url}  (workspace {folder}; Ctrl-C stops it)")
    if not no_browser:
        threading.Timer(0.8, lambda: webbrowser.open(url)).start()
    import uvicorn

    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2, lifespan="on")
    server = uvicorn.Server(config)
    server.run(sockets=[sock])


@user_errors
def warm_cmd(
    idle: Annotated[float, typer.Option("--idle", help="Minutes the warm process waits for a command before it "
                                                       "ends.")] = 30.0,
    stop: Annotated[bool, typer.Option("--stop", help="End the warm process.")] = False,
    status: Annotated[bool, typer.Option("--status", help="Say whether one runs, and what it has served.")] = False,
):
    """Keep bench solve warm: one process pays Python's and numba's start-up once, and later bench solve commands
    run in it (about a second less each; STRINGART_WARM=0 runs one in place)."""
    from rendering import InputError
    from rendering.errors import check_float

    from . import warm

    check_float("idle", idle, low=0.0, low_open=True, hint="use e.g. --idle 30")
    if stop:
        typer.echo("the warm process ends" if warm.stop() else "no warm process runs")
        return
    now = warm.status()
    if status:
        typer.echo("no warm process runs (bench warm starts one)" if now is None else
                   f"warm: pid {now['pid']}, {now['served']} commands served, up {now['up_seconds']:.0f} s, ends "
                   f"after {now['idle_minutes']:g} idle minutes")
        return
    if now is not None:
        typer.echo(f"already warm (pid {now['pid']}); bench warm --stop ends it")
        return
    typer.echo("warming up (imports, kernels, a first solve)...", err=True)
    try:
        now = warm.start(idle)
    except RuntimeError as e:
        raise InputError(f"{e}; bench solve still runs, in place") from None
    typer.echo(f"bench solve is warm (pid {now['pid']}) until {idle:g} minutes pass without one; bench warm --stop "
               f"ends it")
