"""What every benchmark report records about where its numbers came from (imported by the scripts beside it)."""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def git_commit(root: Path | None = None) -> str:
    """The short commit hash of this checkout (or of the checkout ``root``), or ``"?"`` outside a git checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root or ROOT, capture_output=True,
                             text=True)
    except OSError:
        return "?"
    return out.stdout.strip() or "?"


def publish(report: str, out: Path | None) -> int:
    """Print a benchmark's report and, with ``out``, write it there (atomically, its folder made); exit status 0."""
    print(report)
    if out:
        sys.path.insert(0, str(ROOT))
        from rendering.fileio import atomic_write

        Path(out).parent.mkdir(parents=True, exist_ok=True)
        atomic_write(Path(out), report.encode("utf-8"))
        print(f"wrote {out}")
    return 0


def study_parser(doc: str, *, vs: str) -> argparse.ArgumentParser:
    """The command line of a script over one finished study: the study folder (default ``results/default``)
    and ``--vs``, the reference solver of the statistics (default ``vs``); described by ``doc``'s first line."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("study", nargs="?", default="results/default")
    ap.add_argument("--vs", default=vs)
    return ap


def provenance() -> str:
    """One line: commit, processor, core count and the command that ran."""
    return (f"git {git_commit()}, {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
            f"command: `python {' '.join(sys.argv)}`")
