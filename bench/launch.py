"""The ``bench`` console script: a ``bench solve`` goes to the warm process when one runs (:mod:`bench.warm`),
checked before the command line is even imported; anything else runs here (:func:`bench.cli.main`)."""

from __future__ import annotations

import os
import sys


def main() -> None:
    if sys.argv[1:2] == ["--warm-server"]:  # started by `bench warm` (bench.warm.start)
        sys.exit(_warm_server(sys.argv[2:]))
    if len(sys.argv) > 1 and sys.argv[1] == "solve" and os.environ.get("STRINGART_WARM", "1") != "0":
        from .warm import delegate

        code = delegate(sys.argv[1:])
        if code is not None:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    from .cli import main as cli_main

    cli_main()


def _warm_server(argv: list[str]) -> int:
    """The warm process: :func:`bench.warm.serve` with the command line."""
    import argparse
    import json

    from . import warm
    from .cli import app

    ap = argparse.ArgumentParser(prog="bench --warm-server", description="the warm process (`bench warm` starts it)")
    ap.add_argument("--idle", type=float, default=warm.DEFAULT_IDLE_MINUTES)
    ap.add_argument("--warm-up", default=json.dumps(list(warm.WARM_UP)), help="the first command, as a JSON list")
    args = ap.parse_args(argv)
    return warm.serve(app, args.idle, json.loads(args.warm_up))


if __name__ == "__main__":
    main()
