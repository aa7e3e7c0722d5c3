"""The study folder: what a study writes, and reads back to resume.

In the output folder of :func:`bench.harness.run_study`:

* ``runs.csv`` -- one row per run (see :data:`bench.runner.COLUMNS`), rewritten
  atomically after every finished run, so an interrupted study leaves a valid table;
* ``pins/<solver>/<image>-P<pins>-C<canvas>-L<lines>-s<seed>-<config hash>.txt`` --
  each run's pin file (one pin a line for a continuous thread, ``a b`` a line otherwise);
* ``targets/<image>-<canvas>.png`` -- the preprocessed targets (for the gallery);
* ``errors.log`` -- the traceback of every failed run;
* ``meta.json`` -- git commit, package versions, CPU/GPU, command line
  (:func:`environment`), the study's settings and every invocation.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import socket
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rendering import InputError
from rendering.fileio import json_default, png_bytes, prepare_out_dir, write_files_atomically

from .plan import RunSpec, Study
from .runner import COLUMNS, first_line

if TYPE_CHECKING:
    import pandas as pd


# --------------------------------------------------------------------------- the runs table
def read_runs(out: str | os.PathLike) -> pd.DataFrame:
    """``runs.csv`` of a study folder as a DataFrame (``error`` is ``""`` for a finished run)."""
    import pandas as pd

    path = Path(out) / "runs.csv"
    if not path.is_file():
        raise InputError(f"no runs.csv in '{out}'; run `bench run --out {out}` first or pass a study folder")
    try:
        df = pd.read_csv(path, dtype={"config": str, "error": str, "run_id": str, "pin_file": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise InputError(f"'{path}' is not a readable runs table ({first_line(e)}); re-run the study") from None
    missing = [c for c in ("solver", "image", "lines", "ssim", "l1", "seconds", "error") if c not in df.columns]
    if missing:
        raise InputError(f"'{path}' lacks the columns {', '.join(missing)}; expected a table written by `bench run`")
    for c in ("error", "pin_file", "config", "palette", "board"):
        if c in df.columns:
            df[c] = df[c].fillna("").astype(str)
    return df


class StudyFolder:
    """A study's output folder (checked writable when opened) and the rows of its ``runs.csv``.

    ``rows`` maps ``run_id`` to the row: the runs an earlier call left (resume)
    and those this call adds; every file is written atomically.
    """

    def __init__(self, out: str | os.PathLike):
        self.path = prepare_out_dir(out)
        self.rows: dict[str, dict] = {}
        if (self.path / "runs.csv").is_file():
            old = read_runs(self.path)
            if "run_id" not in old.columns:
                raise InputError(f"'{self.path / 'runs.csv'}' has no run_id column; it was not written by "
                                 f"`bench run`, choose another --out")
            for rec in old.to_dict("records"):
                self.rows[str(rec["run_id"])] = rec

    def to_do(self, study: Study, retry_errors: bool = True) -> list[RunSpec]:
        """The runs of ``study`` not finished yet: never run, or (with ``retry_errors``) recorded as failed."""
        return [s for s in study.runs if s.run_id not in self.rows
                or (retry_errors and str(self.rows[s.run_id].get("error", "")) != "")]

    def write_targets(self, images: dict[str, np.ndarray]) -> None:
        """``{path relative to the folder: (H, W) or (H, W, 3) image in [0, 1]}`` -> PNG files."""
        by_dir: dict[Path, dict[str, bytes]] = {}
        for rel, image in images.items():
            by_dir.setdefault(self.path / Path(rel).parent, {})[Path(rel).name] = png_bytes(image)
        for folder, files in by_dir.items():
            folder.mkdir(exist_ok=True)
            write_files_atomically(folder, files)

    def start_table(self) -> None:
        """Write the header of ``runs.csv`` when there is no table yet."""
        if not (self.path / "runs.csv").is_file():
            write_files_atomically(self.path, {"runs.csv": (",".join(COLUMNS) + "\n").encode()})

    def add(self, row: dict, pin_file: str) -> dict:
        """Store a finished run: its pin file (at ``pin_file``, relative), its traceback in ``errors.log``
        when it failed, and its row in ``runs.csv``. Returns the row as stored (without ``_pins``/``_traceback``)."""
        pins_txt, tb = row.pop("_pins", None), row.pop("_traceback", None)
        if pins_txt is not None and pin_file:
            pdir = self.path / Path(pin_file).parent
            pdir.mkdir(parents=True, exist_ok=True)
            write_files_atomically(pdir, {Path(pin_file).name: pins_txt.encode()})
            row["pin_file"] = pin_file
        if row["error"]:
            with open(self.path / "errors.log", "a") as f:
                f.write(f"--- {row['finished_at']} {row['solver']} {row['image']} lines={row['lines']} "
                        f"seed={row['seed']} run_id={row['run_id']}\n{tb or row['error']}\n")
        self.rows[row["run_id"]] = row
        self._write_runs()
        return row

    def _write_runs(self) -> None:
        import pandas as pd

        df = pd.DataFrame(list(self.rows.values()))
        known = list(COLUMNS)
        cols = [c for c in known if c in df.columns] + [c for c in df.columns if c not in known]
        write_files_atomically(self.path, {"runs.csv": df[cols].to_csv(index=False).encode()})

    def table(self, study: Study) -> pd.DataFrame:
        """The rows of ``study``'s grid (columns :data:`~bench.runner.COLUMNS`, in :meth:`Study.table_order`)."""
        import pandas as pd

        table = pd.DataFrame([self.rows[s.run_id] for s in study.table_order() if s.run_id in self.rows])
        if not table.empty:
            table = table[[c for c in COLUMNS if c in table.columns]]
            table["error"] = table["error"].fillna("").astype(str)
        table = table.reset_index(drop=True)
        table.attrs.update(out=str(self.path), study=study.name)
        return table

    def write_meta(self, study: Study, info: dict, env: dict | None = None) -> None:
        """Write ``meta.json``: environment, study settings, this command; earlier invocations kept.

        An entry of this invocation written before the runs (``finished`` None) is replaced. ``env`` is
        :func:`environment`'s facts (read now when None); read them before writing anything, or the git
        state records this very study's files as uncommitted changes.
        """
        path = self.path / "meta.json"
        invocations = []
        if path.is_file():
            try:
                invocations = list(json.loads(path.read_text()).get("invocations", []))
            except (OSError, ValueError, AttributeError):
                invocations = []
        if invocations and invocations[-1].get("started") == info["started"]:
            invocations.pop()
        meta = {**(environment() if env is None else env), "study": study.settings(), "command": info["command"],
                "invocations": invocations + [dict(info)]}
        write_files_atomically(self.path, {"meta.json": (json.dumps(meta, indent=1, default=json_default)
                                                          + "\n").encode()})


# --------------------------------------------------------------------------- environment
def command_line() -> str:
    """This process's command line, as a shell would take it."""
    return shlex.join([Path(sys.argv[0]).name] + sys.argv[1:])


def _git_commit() -> dict:
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return {"commit": commit or None, "dirty": bool(dirty) if commit else None}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _gpu() -> str | None:
    """The GPUs this machine has (torch's view when torch is loaded, else ``nvidia-smi -L``), or None."""
    torch = sys.modules.get("torch")
    try:
        if torch is not None and torch.cuda.is_available():
            return ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
    except Exception:  # noqa: BLE001
        pass
    try:
        res = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10)
        names = [ln.split(":", 1)[1].split("(")[0].strip() for ln in res.stdout.splitlines() if ":" in ln]
        return ", ".join(names) or None
    except (OSError, subprocess.SubprocessError):
        return None


def environment() -> dict:
    """Git commit, package versions, Python, platform, CPU and GPU: the ``meta.json`` facts."""
    from importlib import metadata

    versions = {}
    for pkg in ("stringart-bench", "numpy", "numba", "scipy", "scikit-image", "pillow", "pandas", "torch",
                "matplotlib", "typer", "dask", "distributed"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return {"git": _git_commit(), "versions": versions, "python": platform.python_version(),
            "platform": platform.platform(), "cpu": _cpu_model(), "cpu_count": os.cpu_count(), "gpu": _gpu(),
            "host": socket.gethostname()}
