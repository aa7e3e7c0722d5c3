"""Speed of the greedy solver: seconds and lines/second as lines, pins and canvas grow.

Run from the repository root::

    STRINGART_CACHE_DIR=/tmp/sacache python benchmarks/greedy_speed.py            # full sweep
    STRINGART_CACHE_DIR=/tmp/sacache python benchmarks/greedy_speed.py --quick    # headline row only
    git worktree add /tmp/before <commit>
    python benchmarks/greedy_speed.py --against /tmp/before   # this code against another checkout, same run

With ``--against DIR`` each registered greedy solver is timed in this checkout and in ``DIR`` (another
checkout of the project, e.g. a worktree of an older commit) by two worker processes, interleaved case by
case, and the ratio of the best times is reported: a speed comparison on this noisy machine is only fair
within one run.

Every timing is of ``GreedySolver.solve`` with the JIT warm and the chord
table cached (its build time is printed apart), the best of ``--repeat``
runs, as wall seconds and as this process's CPU seconds (the machine is
shared, and CPU time is less disturbed by other jobs). The first solve of a
table also builds the pixel-major table (kept in memory afterwards); its time
is printed apart too. The ``scan`` row times the same greedy without the
incremental scores, the naive kernel whose memory traffic the default avoids.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _common import git_commit, publish  # noqa: E402
from rendering import PinLayout, ThreadModel, default_min_gap, get_chord_table  # noqa: E402
from rendering.derived import pixel_table  # noqa: E402
from solvers import Problem, make_solver  # noqa: E402


def timed(fn, repeat: int) -> tuple[float, float, object]:
    """Best wall and best CPU seconds of ``repeat`` calls, and the last result."""
    walls, cpus = [], []
    out = None
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return min(walls), min(cpus), out


def prepare(image: str, pins: int, lines: int, canvas: int) -> tuple[Problem, dict]:
    t0 = time.perf_counter()
    problem = Problem.create(image, pins=pins, lines=lines, canvas=canvas)
    table = problem.table  # from the disk cache when there, else built and cached
    t_table = time.perf_counter() - t0
    t0 = time.perf_counter()
    pt = pixel_table(table)
    t_pixel = time.perf_counter() - t0
    return problem, dict(table_s=t_table, pixel_table_s=t_pixel, table_mib=table.nbytes / 2**20,
                         pixel_table_mib=pt.nbytes / 2**20, chords=table.n_chords, nnz=table.nnz)


def row(label: str, problem: Problem, repeat: int, solver: str = "greedy", **config) -> dict:
    s = make_solver(solver, **config)
    wall, cpu, sol = timed(lambda: s.solve(problem), repeat)
    return dict(case=label, pins=problem.layout.n_pins, lines=problem.n_lines, canvas=problem.layout.canvas,
                wall_s=wall, cpu_s=cpu, lines_per_s=problem.n_lines / wall, error=float(sol.history[-1]))


def fmt(rows: list[dict]) -> str:
    head = "| case | pins | canvas | lines | wall s | CPU s | lines/s |\n|---|---:|---:|---:|---:|---:|---:|\n"
    return head + "".join(f"| {r['case']} | {r['pins']} | {r['canvas']} | {r['lines']} | {r['wall_s']:.3f} | "
                          f"{r['cpu_s']:.3f} | {r['lines_per_s']:,.0f} |\n" for r in rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", default="camera")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="only the headline case (288 pins, 4000 lines, 512 px)")
    ap.add_argument("--no-memory", action="store_true", help="skip the 512-pin, 1024-px memory check")
    ap.add_argument("--out", type=Path, default=None, help="also write the Markdown report here")
    ap.add_argument("--against", type=Path, default=None,
                    help="another checkout of the project: time both, interleaved, and report the ratios")
    ap.add_argument("--solvers", default=",".join(COMPARED),
                    help="with --against: the registered solvers to compare, comma-separated")
    args = ap.parse_args(argv)

    if args.against is not None:
        return compare(args)
    # warm the JIT on a tiny problem (numba caches compiled kernels on disk too)
    tiny = Problem.create(args.image, pins=32, lines=20, canvas=64)
    for name, cfg in (("greedy", {}), ("greedy", dict(method="scan")), ("greedy-sum", {}), ("greedy-view", {}),
                      ("greedy+refine", {}), ("greedy-view+refine", {})):
        make_solver(name, **cfg).solve(tiny)

    out = []
    problem, info = prepare(args.image, 288, 4000, 512)
    out.append(f"chord table 288 pins, 512 px: {info['chords']} chords, {info['nnz']:,} entries, "
               f"{info['table_mib']:.0f} MiB, loaded/built in {info['table_s']:.2f} s; pixel-major copy "
               f"{info['pixel_table_mib']:.0f} MiB built in {info['pixel_table_s']:.2f} s (once per table)")
    rows = [row("greedy (headline)", problem, args.repeat)]
    rows.append(row("greedy-sum (seed rule)", problem, args.repeat, "greedy-sum"))
    make_solver("greedy-view").solve(problem.with_lines(1))  # builds the block table (kept per table)
    rows.append(row("greedy-view", problem, args.repeat, "greedy-view"))
    rows.append(row("greedy-view+refine", problem, max(1, args.repeat // 2), "greedy-view+refine"))
    if not args.quick:
        rows.append(row("greedy+refine (3 sweeps)", problem, 1, "greedy+refine"))
    if not args.quick:
        rows.append(row("greedy, scan (naive kernel)", problem, max(1, args.repeat // 2), method="scan"))
        rows.append(row("greedy, parallel", problem, args.repeat, parallel=True))
        for lines in (1000, 2000, 3000):
            rows.append(row("lines", problem.with_lines(lines), args.repeat))
        for pins in (128, 256, 384, 512):
            p, _ = prepare(args.image, pins, 4000, 512)
            rows.append(row("pins", p, args.repeat))
        for canvas in (256, 768, 1024):
            p, inf = prepare(args.image, 288, 4000, canvas)
            out.append(f"chord table 288 pins, {canvas} px: {inf['table_mib']:.0f} MiB (+{inf['pixel_table_mib']:.0f} "
                       f"MiB pixel-major), table {inf['table_s']:.2f} s, pixel-major {inf['pixel_table_s']:.2f} s")
            rows.append(row("canvas", p, max(1, args.repeat // 2)))
    if not args.quick and not args.no_memory:
        layout = PinLayout(n_pins=512, canvas=1024)
        width = ThreadModel().width_px(layout.span_px)
        t0 = time.perf_counter()
        table = get_chord_table(layout, default_min_gap(512), width)
        t_build = time.perf_counter() - t0
        t0 = time.perf_counter()
        pt = pixel_table(table)
        t_pix = time.perf_counter() - t0
        out.append(f"memory, 512 pins at 1024 px: chord table {table.nbytes / 2**30:.2f} GiB "
                   f"({table.n_chords} chords, {table.nnz:,} entries; {t_build:.1f} s), pixel-major copy "
                   f"{pt.nbytes / 2**30:.2f} GiB ({t_pix:.1f} s); together "
                   f"{(table.nbytes + pt.nbytes) / 2**30:.2f} GiB of this machine's 24 GiB")
        del table, pt

    commit = git_commit()
    import numba

    env = (f"commit {commit}; Python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}; "
           f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), numba threads "
           f"{numba.get_num_threads()}; load average {os.getloadavg()[0]:.1f} at the end; "
           f"command: python benchmarks/greedy_speed.py {' '.join(argv if argv is not None else sys.argv[1:])}")
    report = "\n".join(["# Greedy speed", "", fmt(rows), *[f"- {line}" for line in out], f"- {env}", ""])
    return publish(report, args.out)


#: what ``--against`` compares: registered names (each checkout's own defaults), at 288 pins / 4000 lines / 512 px
COMPARED = ("greedy", "greedy-sum", "greedy-view", "greedy-view+refine", "greedy+refine", "ga", "greedy+ga")

_WORKER = r"""
import hashlib, json, sys, time
sys.path.insert(0, sys.argv[1])
import numpy as np
from solvers import Problem, make_solver
problem = Problem.create(sys.argv[2], pins=288, lines=4000, canvas=512)
problem.table
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    name = line.strip()
    solver = make_solver(name)
    sol = solver.solve(problem, rng=0)  # prepare() and the first run: kernels loaded, tables built
    sol = solver.solve(problem, rng=0)
    digest = hashlib.sha1(np.ascontiguousarray(sol.path, dtype=np.int64).tobytes()).hexdigest()
    print(json.dumps({"name": name, "seconds": sol.seconds, "pins": digest}), flush=True)
"""


def compare(args) -> int:
    """Time ``args.solvers`` here and in ``args.against``, interleaved; print the ratios of the best times and
    whether both checkouts drew the same pins."""
    import json
    import subprocess

    sides = {}
    for label, root in (("this", ROOT), ("against", args.against.resolve())):
        env = dict(os.environ, PYTHONPATH=str(root))
        sides[label] = subprocess.Popen([sys.executable, "-c", _WORKER, str(root), args.image], cwd=str(root),
                                        env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        json.loads(sides[label].stdout.readline())
    names = [n.strip() for n in args.solvers.split(",") if n.strip()]
    best: dict = {}
    pins: dict = {}
    order = list(sides.items())
    for r in range(args.repeat):
        for name in names:
            # which checkout goes first alternates round by round: a run can be slowed by the one before it
            # (numba's worker threads spin a while after a parallel loop, on the same 2 cores)
            for label, proc in (order if r % 2 == 0 else order[::-1]):
                proc.stdin.write(name + "\n")
                proc.stdin.flush()
                got = json.loads(proc.stdout.readline())
                best.setdefault((name, label), []).append(got["seconds"])
                pins[(name, label)] = got["pins"]
    for proc in sides.values():
        proc.stdin.close()
        proc.wait()
    lines = ["# Greedy speed, this checkout against another", "",
             f"288 pins, 4000 lines, 512 px, {args.image}; best of {args.repeat} warm solves each, interleaved (the "
             f"first of each pair alternating); "
             f"this = {git_commit()}, against = {git_commit(args.against)} ({args.against})", "",
             "| solver | this s | against s | this / against | same pins |", "|---|---:|---:|---:|---|"]
    for name in names:
        a, b = min(best[(name, "this")]), min(best[(name, "against")])
        same = "yes" if pins[(name, "this")] == pins[(name, "against")] else "NO"
        lines.append(f"| {name} | {a:.3f} | {b:.3f} | {a / b:.3f} | {same} |")
    report = "\n".join(lines) + "\n"
    return publish(report, args.out)


if __name__ == "__main__":
    sys.exit(main())
