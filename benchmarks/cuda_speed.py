"""CUDA timings: the GPU greedy loop, render and batched GA fitness vs the CPU kernels.

Run on a machine with an NVIDIA GPU (numba-cuda and a driver installed):

    python benchmarks/cuda_speed.py                      # the issue's two targets
    python benchmarks/cuda_speed.py --sizes 288:512:4000 --no-cpu
    NUMBA_ENABLE_CUDASIM=1 python benchmarks/cuda_speed.py --sizes 12:24:5 --repeat 1   # smoke test, no GPU

Targets (issue 14, H100): greedy at 288 pins / 4000 lines / 512 px in <= 50 ms
(moonshot 20 ms); 512 pins at 1024 px (4000 lines) in <= 60 ms. Each size prints
one row: the GPU greedy wall time (one cooperative launch), the CPU greedy
(incremental scores) serial and with ``parallel=True`` (all cores), whether the
paths agree (GPU/CPU serial, CPU parallel/serial), render and population-fitness times. Times are medians of
``--repeat`` runs after one warm-up run (JIT compile and table upload excluded). Without a
GPU (and without the simulator) it says so and exits with status 0.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import numpy as np


def median_time(fn, repeat):
    out = None
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def gpu_greedy(problem, mode):
    """One GPU greedy run (``error`` score, free start, each chord once); returns the pin path."""
    from solvers import _greedy_cuda as G
    from solvers import _greedy_kernels as K
    from solvers import error_weights

    t = problem.table
    cs = problem.chords
    T = np.ascontiguousarray(problem.target.image.ravel(), dtype=np.float32)
    S = np.ones(t.n_pixels, np.float32)
    used = np.zeros(t.n_chords, bool)
    path = np.zeros(problem.n_lines + 1, np.int64)
    gains = np.zeros(problem.n_lines)
    removed = np.zeros(problem.n_lines)
    stats = np.zeros(2, np.int64)
    drawn = G.greedy(t, K.Pins(cs.id_of, cs.pin_a, cs.pin_b),
                     K.Picture(S, T, error_weights(problem), np.float32(problem.thread.opacity), K.RULE_ERROR,
                               np.float32(0.0)),
                     K.Settings(problem.n_lines, -1, 0, True, False), K.Thread(used, path, gains, removed, stats),
                     mode=mode)
    return path[:drawn + 1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", default=["288:512:4000", "512:1024:4000"],
                    help="pins:canvas:lines, one or more")
    ap.add_argument("--image", default="camera")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--population", type=int, default=64, help="paths scored at once by the batched fitness")
    ap.add_argument("--no-cpu", action="store_true", help="skip the CPU greedy (slow at 1024 px)")
    args = ap.parse_args()
    os.environ.setdefault("STRINGART_CACHE_DIR", tempfile.mkdtemp(prefix="stringart-bench-"))

    from rendering.device import cuda_available, device_table, render_cuda, simulator_enabled

    if not cuda_available():
        print("no usable CUDA GPU here (numba.cuda.is_available() is False): nothing measured")
        return
    from numba import cuda

    from rendering import render
    from solvers import Problem
    from solvers._ga_cuda import population_fitness
    from solvers.ga import random_paths
    from solvers.greedy import greedy_path

    where = "CUDA simulator (not a GPU timing)" if simulator_enabled() else cuda.get_current_device().name
    if isinstance(where, bytes):
        where = where.decode()
    print(f"device: {where}")
    print("| pins | canvas | lines | GPU greedy s | CPU serial s | CPU parallel s | same path | render GPU s | "
          "render CPU s | fitness x{0} GPU s |".format(args.population))
    print("|---|---|---|---|---|---|---|---|---|---|")
    for size in args.sizes:
        pins, canvas, lines = (int(x) for x in size.split(":"))
        problem = Problem.create(args.image, pins=pins, canvas=canvas, lines=lines)
        device_table(problem.table)  # upload once, outside the timings
        gpu_greedy(problem.with_lines(min(lines, 3)), "auto")  # compile
        t_gpu, path_gpu = median_time(lambda problem=problem: gpu_greedy(problem, "auto"), args.repeat)
        if args.no_cpu:
            t_ser = t_par = float("nan")
            same = "n/a"
        else:
            greedy_path(problem.with_lines(3))
            greedy_path(problem.with_lines(3), parallel=True)
            t_ser, (path_cpu, _, _) = median_time(lambda problem=problem: greedy_path(problem), args.repeat)
            t_par, (path_par, _, _) = median_time(lambda problem=problem: greedy_path(problem, parallel=True),
                                                  args.repeat)
            same = f"{np.array_equal(path_cpu, path_gpu)}/{np.array_equal(path_cpu, path_par)}"
        chords = problem.chords.path_to_chords(path_gpu)
        render_cuda(problem.table, chords[:2])
        t_rg, _ = median_time(lambda problem=problem, chords=chords:
                              render_cuda(problem.table, chords, opacity=problem.thread.opacity), args.repeat)
        t_rc, _ = median_time(lambda problem=problem, chords=chords:
                              render(problem.table, chords, opacity=problem.thread.opacity), args.repeat)
        paths = random_paths(problem, args.population, rng=0)
        population_fitness(problem, paths[:1])
        t_fit, _ = median_time(lambda problem=problem, paths=paths: population_fitness(problem, paths), args.repeat)
        print(f"| {pins} | {canvas} | {lines} | {t_gpu:.4f} | {t_ser:.4f} | {t_par:.4f} | {same} | {t_rg:.4f} | "
              f"{t_rc:.4f} | {t_fit:.4f} |", flush=True)

if __name__ == "__main__":
    main()
