"""The ``bench`` command line: a thin layer over functions scripts can call.

This module builds the Typer app from the command modules, one per command
group (:mod:`bench.solve_cmd`, :mod:`bench.run_cmd`, :mod:`bench.train_cmd`,
:mod:`bench.cache_cmd`, :mod:`bench.kit_cmd`, :mod:`bench.serve_cmd`);
they share :mod:`bench.cli_common` and import nothing from here.
User errors print one line (``error: ...``) and exit with status 2.
"""

from __future__ import annotations

import sys

import typer

from . import cache_cmd, kit_cmd, run_cmd, serve_cmd, solve_cmd, train_cmd

# rich_markup_mode=None: plain help (click's), so "[default: ...]" in help texts is shown, not read as markup,
# and --help does not import rich
app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
                  help="String art: solvers, learned models and the benchmark that compares them.")



def _add(name: str, fn) -> None:
    """Register a command; its docstring's whole first paragraph is its line in ``bench --help`` (click would
    cut it at 45 characters with "...")."""
    first = " ".join((fn.__doc__ or "").strip().split("\n\n")[0].split())  # the first paragraph, whole
    app.command(name, short_help=first)(fn)


_add("solve", solve_cmd.solve_cmd)
_add("images", solve_cmd.images_cmd)
_add("solvers", solve_cmd.solvers_cmd)
_add("run", run_cmd.run_cmd)
_add("report", run_cmd.report_cmd)
_add("train", train_cmd.train_cmd)
_add("cache", cache_cmd.cache_cmd)
_add("kit", kit_cmd.kit_cmd)
_add("wind", kit_cmd.wind_cmd)
app.add_typer(kit_cmd.calibrate_app, name="calibrate", short_help=kit_cmd.calibrate_app.info.help)
_add("serve", serve_cmd.serve_cmd)
_add("warm", serve_cmd.warm_cmd)


def main() -> None:
    """The console script: run the app, then leave without tearing the interpreter down.

    Tearing down numba's compiled code (LLVM) takes ~0.5 s at exit, a third of a
    whole ``bench solve``: once the command has run, its output is flushed, the
    ``atexit`` handlers run (worker pools, logging), and the process ends at once.
    """
    import atexit
    import os

    try:
        app()
        code = 0
    except SystemExit as e:
        code = e.code
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        getattr(atexit, "_run_exitfuncs", lambda: None)()
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
