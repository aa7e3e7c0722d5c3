"""Foundation timings: chord-table build, cache load and render at the default size.

Run: python benchmarks/foundation_speed.py [--pins 288] [--canvas 512] [--lines 4000] [--out FILE]

Prints the table build time (JIT warm, no cache), the time to load it from the
disk cache, its size, and render times for both thread models. Timings are the
median of several repeats; the machine is noisy, so compare ratios in one run.
With ``--out`` (``results/foundation/foundation_speed.md`` for the documentation's
table) it also writes them as a Markdown table, with the commit and the command.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import provenance


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
    ap.add_argument("--out", type=Path, default=None,
                    help="also write the Markdown table here (e.g. results/foundation/foundation_speed.md)")
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
    if args.out:
        from rendering.fileio import atomic_write

        rows = [("chord table", f"{table.n_chords} chords, {table.nnz / 1e6:.1f} M entries, "
                                f"{table.nbytes / 2**20:.0f} MiB"),
                ("first call (JIT compile or load from numba's cache)", f"{jit:.2f} s"),
                ("chord table build (Numba, JIT warm)", f"{build:.2f} s"),
                ("chord table load from the disk cache (memory-mapped: its pages load as a solve reads them)",
                 f"{load_s:.2f} s"),
                (f"render {args.lines} chords, multiplicative model", f"{r * 1000:.1f} ms"),
                (f"render {args.lines} chords, opaque model (4x supersampled)", f"{ro * 1000:.0f} ms")]
        text = "\n".join([
            "# Foundation timings", "",
            f"{args.pins} pins, {args.canvas} px, min_gap {gap}, thread {w:.2f} px; median of repeats "
            f"(3 for the table and the opaque render, 5 for the multiplicative render).", "",
            "| measure | value |", "|---|---:|", *[f"| {a} | {b} |" for a, b in rows], "",
            f"- {provenance()}", ""])
        args.out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(args.out, text.encode("utf-8"))


if __name__ == "__main__":
    main()
