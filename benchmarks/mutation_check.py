"""Mutation check: do the tests catch a broken metric or a broken greedy gain?

Each mutant is one textual change to one source file (``old`` -> ``new``, where
``old`` must occur exactly once). For each mutant the script copies the
repository's files (``git ls-files``: tracked and untracked-but-not-ignored,
without ``results/``) into a scratch folder, applies the change, and runs a
short pytest subset there with a time limit. A mutant is *killed* when the
subset fails (or runs out of time), and *survives* when it passes. The
unmutated copy must pass every subset first, or nothing is reported.

Metric mutants also run the older metric tests alone (``tests/bench/test_metrics.py``),
to show what the suite caught before ``tests/rendering/test_metrics_pinned.py``.

numba caches compiled kernels per source path, so every run uses the same
scratch path and one numba cache for the whole check: mutants of the metrics
reuse the kernels compiled for the baseline; a mutant of a kernel file changes
the kernels' stamp (:func:`rendering.jit.kernels_stamp`) and recompiles them
(~35 s of the greedy subset's time).

Usage::

    python benchmarks/mutation_check.py                 # all mutants -> results/mutation/mutation.md
    python benchmarks/mutation_check.py --only ssim-data-range-4 --out /tmp/m.md
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

METRIC_TESTS = ("tests/rendering/test_metrics_pinned.py", "tests/bench/test_metrics.py")
OLD_METRIC_TESTS = ("tests/bench/test_metrics.py",)
GREEDY_TESTS = ("tests/solvers/test_greedy.py", "-k", "bruteforce or beats_random or chord_scores_match_reference "
                "or greedy_view_matches or greedy_view_with_shortlist")
TIMEOUT_S = 60


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str
    old: str
    new: str
    what: str
    tests: tuple
    old_tests: tuple | None
    note: str = ""


M = "rendering/metrics.py"
G = "solvers/_greedy_kernels.py"
#: greedy's gain, the line two mutants change
GAIN = "return 2.0 * o * w * b * (b - t), o * o * w * b * b"


def _mutants(path: str, tests: tuple, old_tests: tuple | None, changes: list[tuple[str, str, str, str]]) -> tuple:
    """The mutants of one source file, each ``(name, old, new, what)``, run against the same test subsets."""
    return tuple(Mutant(name, path, old, new, what, tests, old_tests) for name, old, new, what in changes)


MUTANTS = _mutants(M, METRIC_TESTS, OLD_METRIC_TESTS, [
    ("ssim-data-range-4", "data_range=1.0, full=True", "data_range=4.0, full=True",
     "SSIM's data range 1 -> 4 (C1, C2 16x larger; every SSIM rises)"),
    ("ssim-canvas-mean", "return float(smap[mask].mean()), l1, psnr", "return float(smap.mean()), l1, psnr",
     "SSIM map averaged over the whole canvas instead of the frame"),
    ("mask-dropped", "    p = np.where(mask, preview, 1.0)\n    t = np.where(mask, target, 1.0)\n    k = _effective",
     "    p = preview\n    t = target\n    k = _effective",
     "outside the frame not set to white before comparing (score)"),
    ("l1-squared", "l1 = float(np.mean(np.abs(diff)))", "l1 = float(np.mean(diff ** 2))",
     "L1 computed as the mean squared difference"),
    ("l1-over-canvas", "diff = pred[mask] - target[mask]", "diff = (pred - target).ravel()",
     "L1 over the canvas instead of the frame"),
    ("psnr-natural-log", "psnr = float(10.0 * np.log10(1.0 / np.mean(",
     "psnr = float(10.0 * np.log(1.0 / np.mean(", "PSNR with ln instead of log10"),
    ("view-factor-x2", "k = _effective_factor(min(mask.shape), factor)\n    pv = view_scale(p, k)",
     "k = _effective_factor(min(mask.shape), factor * 2)\n    pv = view_scale(p, k)",
     "viewing scale twice as coarse (grey score)"),
    ("view-mask-any",
     "mv = view_scale(mask.astype(np.float32), k) >= 0.5\n    ssim_v, l1_v, psnr_v = _scores(pv, tv, mv)",
     "mv = view_scale(mask.astype(np.float32), k) > 0.0\n    ssim_v, l1_v, psnr_v = _scores(pv, tv, mv)",
     "viewed frame = blocks touching the frame instead of half inside"),
    ("ssim-window-5", "win = min(7, side", "win = min(5, side", "SSIM window 7x7 -> 5x5"),
    ("flat-reference-canvas-mean", "flat = np.full_like(target, float(target[mask].mean()))\n    return",
     "flat = np.full_like(target, float(target.mean()))\n    return",
     "flat reference tone = the canvas's mean instead of the frame's"),
    ("de2000-over-canvas", "de_f = _mean_de2000(p, t, mask)", "de_f = _mean_de2000(p, t, np.ones_like(mask))",
     "full-resolution CIEDE2000 averaged over the canvas (board pixels count)"),
    ("blur-sigma-1", "BLUR_SIGMA = 2.0", "BLUR_SIGMA = 1.0", "blur2 protocol with sigma 1 instead of 2"),
    ("blur-one-side", "t = _blur(np.where(mask, target, 1.0), sigma)", "t = np.where(mask, target, 1.0)",
     "blur2 protocol blurs the preview only"),
    ("blur-mode-reflect", 'return gaussian_filter(image, sigma=sigma, mode="nearest"',
     'return gaussian_filter(image, sigma=sigma, mode="reflect"', "blur edges reflected instead of repeated"),
]) + _mutants("rendering/colour.py", METRIC_TESTS, OLD_METRIC_TESTS, [
    ("colour-luma-swapped", "LUMA = np.array([0.2125, 0.7154, 0.0721])",
     "LUMA = np.array([0.0721, 0.7154, 0.2125])", "colour score's luminance with R and B weights swapped"),
]) + _mutants(G, GREEDY_TESTS, None, [
    ("gain-sign", GAIN, "return 2.0 * o * w * b * (t - b), o * o * w * b * b",
     "greedy gain: 2 o w B (B - T) -> 2 o w B (T - B)"),
    ("gain-no-o2-term", GAIN, "return 2.0 * o * w * b * (b - t), 0.0", "greedy gain without its -o^2 c^2 B^2 term"),
    ("score-h-sign", "        sc += cv * (g - cv * h)", "        sc += cv * (g + cv * h)",
     "fresh chord score: c (g - c h) -> c (g + c h)"),
    ("push-update-sign", "        scores[cs[i]] += cv * (dg - cv * dh)",
     "        scores[cs[i]] += cv * (dg + cv * dh)", "incremental score update with the wrong sign of dh"),
    ("view-gain-sign", "return 2.0 * Wb[b] * inv * (Bs[b] - Ts[b]) * a, Wb[b] * a * a",
     "return 2.0 * Wb[b] * inv * (Ts[b] - Bs[b]) * a, Wb[b] * a * a",
     "greedy-view block gain with the error's sign flipped"),
])


def repo_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.split("\n")
    return [f for f in out if f and not f.startswith("results/") and (ROOT / f).is_file()]


def fresh_copy(dest: Path, files: list[str], mutant: Mutant | None) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    for f in files:
        target = dest / f
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / f, target)  # mtimes kept: numba's cache stays valid for unchanged files
    if mutant is not None:
        p = dest / mutant.path
        text = p.read_text()
        n = text.count(mutant.old)
        if n != 1:
            raise SystemExit(f"mutant {mutant.name}: the text to change occurs {n} times in {mutant.path} "
                             f"(expected once); update the mutant to the current source")
        p.write_text(text.replace(mutant.old, mutant.new))


def run_tests(dest: Path, tests: tuple, env: dict) -> tuple[str, float, str]:
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "--no-header", *tests]
    try:
        r = subprocess.run(cmd, cwd=dest, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return "timeout", time.perf_counter() - t0, ""
    dt = time.perf_counter() - t0
    tail = (r.stdout.strip().splitlines() or [""])[-1]
    if r.returncode == 0:
        return "passed", dt, tail
    return ("failed" if r.returncode == 1 else f"error rc={r.returncode}"), dt, tail


def check_imports(dest: Path, env: dict) -> None:
    code = "import rendering, solvers, bench; print(rendering.__file__); print(solvers.__file__)"
    out = subprocess.run([sys.executable, "-c", code], cwd=dest, env=env, capture_output=True, text=True, check=True)
    for line in out.stdout.split():
        if not Path(line).resolve().is_relative_to(dest.resolve()):
            raise SystemExit(f"the copy imports {line}, not its own files; check PYTHONPATH and the editable install")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", nargs="*", help="mutant names to run (default: all)")
    ap.add_argument("--out", default=str(ROOT / "results" / "mutation" / "mutation.md"))
    ap.add_argument("--no-old", action="store_true", help="skip the runs of the older metric tests")
    args = ap.parse_args(argv)
    mutants = [m for m in MUTANTS if not args.only or m.name in args.only]
    unknown = set(args.only or ()) - {m.name for m in MUTANTS}
    if unknown:
        raise SystemExit(f"unknown mutants {', '.join(sorted(unknown))}; "
                         f"choose from {', '.join(m.name for m in MUTANTS)}")
    files = repo_files()
    scratch = Path(tempfile.mkdtemp(prefix="stringart-mutation-"))
    dest = scratch / "repo"
    env = dict(os.environ, PYTHONPATH=str(dest), NUMBA_CACHE_DIR=str(scratch / "numba"), PYTHONDONTWRITEBYTECODE="1")
    env.setdefault("STRINGART_CACHE_DIR", os.path.join(tempfile.gettempdir(), "stringart-test-cache"))
    rows = []
    try:
        fresh_copy(dest, files, None)
        check_imports(dest, env)
        subsets = {m.tests for m in mutants} | ({m.old_tests for m in mutants if m.old_tests} if not args.no_old
                                                  else set())
        for tests in sorted(subsets):
            status, dt, tail = run_tests(dest, tests, env)
            print(f"baseline {' '.join(tests)}: {status} in {dt:.1f} s ({tail})", flush=True)
            if status != "passed":
                raise SystemExit(f"the unmutated copy does not pass {' '.join(tests)}: {status} ({tail}); "
                                 f"fix that first")
        for m in mutants:
            fresh_copy(dest, files, m)
            status, dt, tail = run_tests(dest, m.tests, env)
            old = None
            if m.old_tests and not args.no_old:
                old = run_tests(dest, m.old_tests, env)[0]
            rows.append((m, status, dt, tail, old))
            print(f"{m.name}: {'killed' if status != 'passed' else 'SURVIVED'} ({status}, {dt:.1f} s)"
                  + (f"; older metric tests: {old}" if old else ""), flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    write_report(Path(args.out), rows)
    return 0


def _commit() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        return sha + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def write_report(path: Path, rows: list) -> None:
    killed = sum(status != "passed" for _, status, *_ in rows)
    metric = [r for r in rows if r[4] is not None]
    old_killed = sum(r[4] != "passed" for r in metric)
    lines = [
        "# Mutation check", "",
        f"`python benchmarks/mutation_check.py` at commit {_commit()}: each mutant is one change to one source "
        f"file, run against a short test subset in a copy of the repository ({TIMEOUT_S} s limit). Killed = the "
        f"subset fails.", "",
        f"**{killed} of {len(rows)} mutants killed.**"
        + (f" The older metric tests alone (`tests/bench/test_metrics.py`) kill {old_killed} of the "
           f"{len(metric)} metric mutants." if metric else ""), "",
        "Subsets: metric mutants run `" + " ".join(METRIC_TESTS) + "`; greedy mutants run `"
        + " ".join(GREEDY_TESTS[:1]) + " -k '" + GREEDY_TESTS[2] + "'`.", "",
        "| mutant | file | change | result | seconds | older metric tests |",
        "|---|---|---|---|---:|---|",
    ]
    for m, status, dt, _tail, old in rows:
        res = "**survived**" if status == "passed" else ("killed" if status == "failed" else f"killed ({status})")
        note = f" ({m.note})" if m.note else ""
        lines.append(f"| {m.name} | `{m.path}` | {m.what}{note} | {res} | {dt:.1f} | "
                     f"{'—' if old is None else ('survived' if old == 'passed' else 'killed')} |")
    lines += ["", "A surviving mutant is either a gap in the tests or an equivalent change (one no test can "
              "see); the table says which where known.", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))
    print(f"wrote {path}")


if __name__ == "__main__":
    raise SystemExit(main())
