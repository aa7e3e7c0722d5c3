"""Foundation timings: chord-table build, cache load and render at the default size.

Run: python benchmarks/foundation_speed.py [--pins 288] [--canvas 512] [--lines 4000]

Prints the table build time (JIT warm, no cache), the time to load it from the
disk cache, its size, and render times for both thread models. Timings are the
median of several repeats; the machine is noisy, so compare ratios in one run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import numpy as np


def median_time(fn, repeat=5):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pins", type=int, default=288)
    ap.add_argument("--canvas", type=int, default=512)
    ap.add_argument("--lines", type=int, default=4000)
    args = ap.parse_args()
    os.environ["STRINGART_CACHE_DIR"] = tempfile.mkdtemp(prefix="stringart-bench-")

    from rendering import (PinLayout, ThreadModel, build_chord_table, clear_memory_cache, default_min_gap,
                           get_chord_table, render, render_opaque)

    lay = PinLayout(n_pins=args.pins, canvas=args.canvas)
    gap = default_min_gap(args.pins)
    w = ThreadModel().width_px(lay.span_px)
    t0 = time.perf_counter()
    build_chord_table(PinLayout(n_pins=16, canvas=32), 2, w)  # JIT warm-up (or load from numba's cache)
    jit = time.perf_counter() - t0
    build = median_time(lambda: build_chord_table(lay, gap, w), repeat=3)
    get_chord_table(lay, gap, w)  # writes the disk cache

    def load():
        clear_memory_cache()
        get_chord_table(lay, gap, w)

    load_s = median_time(load, repeat=3)
    table = get_chord_table(lay, gap, w)
    chords = np.random.default_rng(0).choice(table.n_chords, args.lines, replace=False)
    render(table, chords[:10])
    r = median_time(lambda: render(table, chords))
    render_opaque(table, chords, supersample=4)  # builds the 4x table once
    ro = median_time(lambda: render_opaque(table, chords, supersample=4), repeat=3)
    print(f"{args.pins} pins, {args.canvas} px, min_gap {gap}, thread {w:.3f} px: "
          f"{table.n_chords} chords, {table.nnz / 1e6:.1f} M entries, {table.nbytes / 2**20:.0f} MiB")
    print(f"first call (JIT compile or load)  {jit:8.3f} s")
    print(f"chord table build (JIT warm)      {build:8.3f} s")
    print(f"chord table load (disk cache)     {load_s:8.3f} s")
    print(f"render {args.lines} chords (multiplicative) {r * 1000:8.2f} ms")
    print(f"render {args.lines} chords (opaque, 4x)     {ro * 1000:8.2f} ms")


if __name__ == "__main__":
    main()
