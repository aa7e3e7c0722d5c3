"""The ``bench`` command line: a thin layer over functions scripts can call.

This module builds the Typer app from the command modules, one per command
group (:mod:`bench.solve_cmd`, :mod:`bench.run_cmd`, :mod:`bench.train_cmd`,
:mod:`bench.cache_cmd`);
they share :mod:`bench.cli_common` and import nothing from here.
User errors print one line (``error: ...``) and exit with status 2.
"""

from __future__ import annotations

import sys

import typer

from . import cache_cmd, run_cmd, solve_cmd, train_cmd

# rich_markup_mode=None: plain help (click's), so "[default: ...]" in help texts is shown, not read as markup,
# and --help does not import rich
app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
                  help="String art: solvers, learned models and the benchmark that compares them.")

app.command("solve")(solve_cmd.solve_cmd)
app.command("images")(solve_cmd.images_cmd)
app.command("solvers")(solve_cmd.solvers_cmd)
app.command("run")(run_cmd.run_cmd)
app.command("report")(run_cmd.report_cmd)
app.command("train")(train_cmd.train_cmd)
app.command("cache")(cache_cmd.cache_cmd)


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
