"""A whole ``bench solve``, start to exit, against Raveler's whole run of the same job, in one run.

Run from the repository root (``bench`` on the PATH, Raveler's git repository at ``$RAVELER_GIT_DIR`` or the
mirror :mod:`_raveler` names)::

    python benchmarks/whole_solve.py --out results/startup/whole_solve.md
    python benchmarks/whole_solve.py --against /tmp/old     # also bench solve --kit against another checkout

Every case is a fresh process, timed from its start to its exit, the caches warm (each case runs once
untimed first); the cases are interleaved round by round, so the machine's noise falls on all of them alike,
and the table gives the median and the fastest of ``--repeat`` rounds and the ratios of the medians.

* ``raveler``: the C++ exact greedy (built by :func:`_raveler.build`, ``-O2``) on the same 512 px target
  (camera), 288 pins, 4000 lines, the same thread and frame; its input is the prepared target's bytes on
  stdin, so it does not decode a photo (ours does).
* ``bench solve camera``: the default solver (greedy-view), the default options (``--faces auto``), writing
  its five result files, in a fresh process (``STRINGART_WARM=0``); and with ``--faces off``;
* the same command while ``bench warm`` keeps a warm process (:mod:`bench.warm`): the whole command, client
  and all, start to exit;
* ``bench solve grace_hopper`` with ``--faces auto`` (a face is found and weighed) and ``--faces off``: the
  cost of face weights (issue 25: at most 1.1x).
* with ``--against DIR``: ``bench solve camera --kit`` here (with and without face weights) and in the
  checkout ``DIR`` (issue 22: the kit renders the solution once now, three times before; the like-for-like
  pair is ``--faces off`` here, as an older checkout has no face weights).

Targets: issue 23, a whole ``bench solve camera`` no longer than Raveler's whole run; issue 25,
``--faces auto`` at most 1.1x ``--faces off``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import _raveler  # noqa: E402
from _common import git_commit, provenance, publish  # noqa: E402

PINS, LINES, CANVAS, THREAD_M, FRAME_M = 288, 4000, 512, 0.0002, 0.6


def _timed(cmd: list[str], *, stdin: bytes | None = None, env: dict | None = None, cwd=None) -> float:
    t = time.perf_counter()
    res = subprocess.run(cmd, input=stdin, capture_output=True, env={**os.environ, **(env or {})}, cwd=cwd)
    dt = time.perf_counter() - t
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({res.returncode}): {res.stderr.decode(errors='replace')[-600:]}")
    return dt


def cases(tmp: Path, against: Path | None) -> dict[str, dict]:
    """``{label: dict(cmd=..., stdin=..., env=..., cwd=...)}`` of every timed command."""
    from rendering import load_target

    binary = _raveler.build(log=lambda m: print(m, file=sys.stderr))
    target = load_target("camera", CANVAS).image
    out = {"raveler camera (C++, whole run)": dict(
        cmd=[str(binary), "-k", str(PINS), "-n", str(LINES), "-w", repr(THREAD_M), "-s", repr(FRAME_M), "-f", "csv",
             "-o", str(tmp / "raveler.csv"), "-"], stdin=_raveler.to_stdin_bytes(target))}
    solve = ["bench", "solve"]
    cold = {"STRINGART_WARM": "0"}
    for image, faces in (("camera", "auto"), ("camera", "off"), ("grace_hopper", "auto"), ("grace_hopper", "off")):
        out[f"bench solve {image} --faces {faces}"] = dict(
            cmd=[*solve, image, "--faces", faces, "--out", str(tmp / f"{image}-{faces}")], env=cold)
    out["bench solve camera (bench warm running)"] = dict(cmd=[*solve, "camera", "--out", str(tmp / "warm")],
                                                          env={"STRINGART_WARM": "1"})
    if against is not None:
        out["bench solve camera --kit (this checkout)"] = dict(cmd=[*solve, "camera", "--kit", "--out",
                                                                    str(tmp / "kit-this")], env=cold)
        # the older checkout has no face weights: the like-for-like kit is without them
        out["bench solve camera --kit --faces off (this checkout)"] = dict(
            cmd=[*solve, "camera", "--kit", "--faces", "off", "--out", str(tmp / "kit-this-off")], env=cold)
        out[f"bench solve camera --kit (at {git_commit(against)})"] = dict(
            cmd=[sys.executable, "-m", "bench.cli", "solve", "camera", "--kit", "--out", str(tmp / "kit-against")],
            env={"PYTHONPATH": str(against)}, cwd=str(against))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=7, help="rounds (each runs every case once)")
    ap.add_argument("--against", type=Path, default=None, help="another checkout: bench solve --kit there too")
    ap.add_argument("--out", type=Path, default=None, help="write the Markdown table here")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="whole-solve-") as tmp_name:
        tmp = Path(tmp_name)
        todo = cases(tmp, args.against)
        subprocess.run(["bench", "warm", "--idle", "20"], check=True, capture_output=True)
        for c in todo.values():  # warm: kernels compiled and tables cached outside the timed rounds
            _timed(**c)
        times: dict[str, list[float]] = {k: [] for k in todo}
        for r in range(args.repeat):
            for label, c in todo.items():
                times[label].append(_timed(**c))
            print(f"round {r + 1}/{args.repeat}: " + ", ".join(f"{t[-1]:.2f}" for t in times.values()),
                  file=sys.stderr)
        subprocess.run(["bench", "warm", "--stop"], capture_output=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    rav = med["raveler camera (C++, whole run)"]
    lines = ["# A whole `bench solve` against Raveler's whole run", "",
             f"{PINS} pins, {LINES} lines, {CANVAS} px, thread {THREAD_M * 1000:g} mm on a {FRAME_M * 1000:g} mm "
             f"frame; each case a fresh process, start to exit, caches warm, {args.repeat} interleaved rounds.", "",
             "| command | median s | fastest s | median / raveler |", "|---|---:|---:|---:|"]
    for k, v in times.items():
        lines.append(f"| `{k}` | {med[k]:.2f} | {min(v):.2f} | {med[k] / rav:.2f} |")
    cam = med["bench solve camera --faces auto"]
    hot = med["bench solve camera (bench warm running)"]
    face = med["bench solve grace_hopper --faces auto"] / med["bench solve grace_hopper --faces off"]
    lines += ["", f"- issue 23: whole `bench solve camera` / Raveler's whole run = {cam / rav:.2f} (target <= 1.00: "
                  f"{'met' if cam <= rav else 'missed'}); with `bench warm` running: {hot / rav:.2f} "
                  f"({'met' if hot <= rav else 'missed'})",
              f"- issue 25: `--faces auto` / `--faces off` on grace_hopper (a face) = {face:.2f} (target <= 1.10: "
              f"{'met' if face <= 1.10 else 'missed'})"]
    if args.against is not None:
        at = git_commit(args.against)
        k = med["bench solve camera --kit --faces off (this checkout)"] / med[f"bench solve camera --kit (at {at})"]
        lines.append(f"- issue 22: `bench solve camera --kit --faces off` here / `bench solve camera --kit` at {at} "
                     f"(which has no face weights) = {k:.2f} (target < 1: {'met' if k < 1 else 'missed'})")
    lines += [f"- {provenance()}; load average {os.getloadavg()[0]:.1f} at the end", ""]
    return publish("\n".join(lines), args.out)


if __name__ == "__main__":
    sys.exit(main())
