"""Start-up as a feature: what a person waits for, command by command.

Run from the repository root (in the project's environment, ``bench`` on the PATH)::

    python benchmarks/startup.py                      # everything, ~3 min on 2 cores
    python benchmarks/startup.py --out results/startup/startup.md
    python benchmarks/startup.py --skip-first-run --skip-load

Measures, on this machine, with the chord-table and kernel caches warm unless said:

* whole commands, start to exit (median of ``--repeat`` runs): ``bench --help``,
  ``bench solvers``, ``bench solve`` with ``random`` (100 lines) and with
  ``greedy`` (288 pins, 4000 lines, 512 px) on a photo file, ``bench cache``;
* where a whole ``bench solve ... --solver greedy`` spends its time
  (``--timings``: imports, image, chord table, preparing, solving, scoring,
  writing) and the heaviest imports (``python -X importtime``);
* the first ``bench solve`` after a fresh install (empty kernel and table caches:
  ``NUMBA_CACHE_DIR`` and ``STRINGART_CACHE_DIR`` pointed at empty folders), and
  whether it said so on one line;
* solver seconds of ``greedy``, ``ae+greedy`` and ``ae-chords`` on an idle machine and
  with one competing busy process (the thread policy of :mod:`rendering.jit`);
* ``--canvas 10000``: refused in one line (exit 2) and how fast, nothing cached.

Targets (issue 13): greedy solve <= 1.0 s (moonshot 0.6), ``--help`` <= 0.3 s,
``solvers`` <= 0.5 s, random solve <= 0.6 s, first run <= 8 s with the notice,
``ae+greedy`` faster than ``greedy`` under load, ``--canvas 10000`` <= 5 s.
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

from _common import git_commit, publish  # noqa: E402

TARGETS = {"bench --help": 0.3, "bench solvers": 0.5, "bench solve (random, 100 lines)": 0.6,
           "bench solve (greedy, 288/4000/512)": 1.0, "bench cache": 0.5}


def run(cmd: list[str], env: dict | None = None, cwd=None) -> tuple[float, subprocess.CompletedProcess]:
    t = time.perf_counter()
    # in place: a running `bench warm` would serve `bench solve` (benchmarks/whole_solve.py measures that)
    res = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "STRINGART_WARM": "0", **(env or {})},
                         cwd=cwd)
    return time.perf_counter() - t, res


def median_run(cmd: list[str], repeat: int, env=None) -> tuple[float, subprocess.CompletedProcess]:
    times, res = [], None
    for _ in range(repeat):
        dt, res = run(cmd, env)
        if res.returncode not in (0,):
            raise SystemExit(f"{' '.join(cmd)} failed ({res.returncode}): {res.stderr.strip()[-500:]}")
        times.append(dt)
    return statistics.median(times), res


def make_photo(folder: Path) -> Path:
    """A photo-like file: scikit-image's coffee, upscaled to 1200x800, as a JPEG."""
    from PIL import Image
    from skimage import data

    path = folder / "photo.jpg"
    Image.fromarray(data.coffee()).resize((1200, 800)).save(path, quality=90)
    return path


def importtime(module: str) -> list[tuple[str, float]]:
    """The slowest imports under ``module`` (self + children, seconds), from ``python -X importtime``."""
    res = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"], capture_output=True,
                         text=True)
    rows = []
    for line in res.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cum, name = line.split("|")
        try:
            rows.append((name.strip(), int(cum) / 1e6))
        except ValueError:
            continue
    return rows


def load_benchmark(repeat: int) -> list[dict]:
    """Solver seconds, idle and with one busy process, in a fresh process each (library thread policy)."""
    script = ("import statistics, sys\n"
              "from solvers import Problem, make_solver\n"
              "p = Problem.create('camera', pins=288, lines=4000, canvas=512)\n"
              "for name in sys.argv[1:]:\n"
              "    s = make_solver(name); s.prepare(p)\n"
              f"    ts = [s.solve(p, rng=0).seconds for _ in range({repeat})]\n"
              "    print(name, statistics.median(ts))\n")
    names = ["greedy", "ae+greedy", "ae-chords"]
    out = []
    for load in (False, True):
        busy = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if load else None
        try:
            time.sleep(0.5 if load else 0)
            res = subprocess.run([sys.executable, "-c", script, *names], capture_output=True, text=True)
        finally:
            if busy is not None:
                busy.kill()
                busy.wait()
        if res.returncode:
            raise SystemExit(f"load benchmark failed: {res.stderr[-800:]}")
        for line in res.stdout.split("\n"):
            if line.strip():
                name, sec = line.split()
                out.append(dict(solver=name, load="one busy process" if load else "idle", seconds=float(sec)))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", type=Path, default=None, help="also write the Markdown report here")
    ap.add_argument("--skip-first-run", action="store_true")
    ap.add_argument("--skip-load", action="store_true")
    args = ap.parse_args(argv)
    lines = ["# Start-up and whole-command times", ""]
    tmp = Path(tempfile.mkdtemp(prefix="startup-"))
    photo = make_photo(tmp)
    out = str(tmp / "out")
    solve_greedy = ["bench", "solve", str(photo), "--solver", "greedy", "--pins", "288", "--lines", "4000",
                    "--canvas", "512", "--out", out]
    # warm every cache first: the chord table, the pixel-major copy, the kernels
    for cmd in (solve_greedy, ["bench", "solve", "camera", "--solver", "random", "--lines", "100", "--out", out]):
        run(cmd)
    commands = {"bench --help": ["bench", "--help"], "bench solvers": ["bench", "solvers"],
                "bench solve (random, 100 lines)": ["bench", "solve", "camera", "--solver", "random", "--lines",
                                                     "100", "--out", out],
                "bench solve (greedy, 288/4000/512)": solve_greedy, "bench cache": ["bench", "cache"]}
    lines += ["## Whole commands (caches warm, median of %d)" % args.repeat, "",
              "| command | seconds | target | met |", "|---|---:|---:|---|"]
    for label, cmd in commands.items():
        dt, _ = median_run(cmd, args.repeat)
        lines.append(f"| `{' '.join(cmd).replace(str(tmp), 'TMP')}` | {dt:.2f} | {TARGETS[label]:.1f} | "
                     f"{'yes' if dt <= TARGETS[label] else 'NO'} |")

    # where a whole greedy solve spends its time
    _, res = median_run(solve_greedy + ["--timings"], 1)
    timing = [ln for ln in res.stderr.splitlines() if ln.startswith("timings:")]
    lines += ["", "## Where `bench solve PHOTO --solver greedy` spends its time", "",
              f"- {timing[0] if timing else 'no timings line'}"]
    heavy = sorted(importtime("bench.cli") + importtime("solvers"), key=lambda r: -r[1])
    shown = [f"{n} {s:.3f} s" for n, s in heavy if n.split(".")[0] in
             ("bench", "solvers", "rendering", "numba", "numpy", "typer", "scipy", "skimage", "torch", "pandas",
              "matplotlib", "PIL")][:8]
    lines.append(f"- slowest imports of `bench.cli` and `solvers` (cumulative): {', '.join(shown)}")
    present = subprocess.run([sys.executable, "-c", "import sys, bench.cli, solvers; solvers.solver_names(); "
                              "print(','.join(m for m in ('torch', 'pandas', 'matplotlib', 'scipy.stats', "
                              "'skimage.metrics') if m in sys.modules))"], capture_output=True, text=True)
    lines.append(f"- heavy modules loaded by `import bench.cli` + the registry: {present.stdout.strip() or 'none'}")

    if not args.skip_first_run:
        fresh = Path(tempfile.mkdtemp(prefix="fresh-"))
        env = {"NUMBA_CACHE_DIR": str(fresh / "numba"), "STRINGART_CACHE_DIR": str(fresh / "tables")}
        dt, res = run(["bench", "solve", "camera", "--out", str(fresh / "out")], env)
        notice = [ln for ln in res.stderr.splitlines() if "compiling" in ln]
        lines += ["", "## First `bench solve camera` after a fresh install (empty kernel and table caches)", "",
                  f"- {dt:.1f} s (target 8 s: {'met' if dt <= 8 else 'NOT met'}); exit {res.returncode}; notice: "
                  f"{notice[0] if notice else 'NONE'}"]

    dt, res = run(["bench", "solve", "camera", "--canvas", "10000", "--out", str(tmp / "huge")],
                  {"STRINGART_CACHE_DIR": str(tmp / "huge-cache")})
    lines += ["", "## `bench solve camera --canvas 10000`", "",
              f"- exit {res.returncode} in {dt:.2f} s (target: exit 2 within 5 s); "
              f"cache written: {(tmp / 'huge-cache').exists()}; output folder: {(tmp / 'huge').exists()}",
              f"- `{res.stderr.strip()}`"]

    if not args.skip_load:
        rows = load_benchmark(args.repeat)
        lines += ["", "## Solver seconds, idle and with one competing busy process (camera, 288/4000/512, "
                      f"median of {args.repeat})", "", "| solver | idle | one busy process | ratio |",
                  "|---|---:|---:|---:|"]
        by = {(r["solver"], r["load"]): r["seconds"] for r in rows}
        for name in ("greedy", "ae+greedy", "ae-chords"):
            a, b = by[(name, "idle")], by[(name, "one busy process")]
            lines.append(f"| {name} | {a:.3f} | {b:.3f} | {b / a:.2f} |")
        lines.append(f"- ae+greedy faster than greedy under load: "
                     f"{by[('ae+greedy', 'one busy process')] < by[('greedy', 'one busy process')]}")

    import platform

    lines += ["", f"- commit {git_commit()}; Python {platform.python_version()}; {os.cpu_count()} CPUs; "
                  f"load average {os.getloadavg()[0]:.1f} at the end; command: python benchmarks/startup.py "
                  f"{' '.join(argv if argv is not None else sys.argv[1:])}", ""]
    report = "\n".join(lines)
    return publish(report, args.out)


if __name__ == "__main__":
    sys.exit(main())
