"""The greedy loop on the GPU (numba.cuda). Private: used by :mod:`solvers.greedy` when ``device="cuda"``.

The state (brightness for the ``error`` rule, darkness for ``sum``) stays on
the device for the whole thread; only the pin path, the gains and a few
counters come back. Each step:

1. *score*: one block per candidate pin ``j`` (the chord ``(cur, j)``), the
   gain ``sum cov * (g - cov * h)`` summed by a shared-memory tree reduction,
   with ``g`` and ``h`` computed from the state on the fly by the same float32
   expressions as :func:`solvers._greedy_kernels._gh`;
2. *pick and draw*: one block takes the arg-max (ties to the lowest pin, as
   the CPU loop), applies the ``no_return`` relaxation and the stops, and
   updates the state along the chosen chord.

One cooperative launch runs the whole thread; ``grid.sync()`` separates the
phases (two grid barriers per step, no host round trip). The earlier second
driver, two launches per step, was removed: on an H100 it took 0.80 s at 288
pins / 4000 lines / 512 px against 0.064 s for the cooperative launch and
0.74 s for the CPU (issue 14), so where a GPU cannot launch cooperatively the
CPU greedy is the better fallback (:class:`CooperativeLaunchError`).

No pruning: every candidate is scored, which is cheap on a GPU and gives the
same pick as the CPU loop's exact pruning. :mod:`numba.cuda` is imported on
first use only.
"""

from __future__ import annotations

import types

import numpy as np

from ._greedy_kernels import STAT_RELAXED, STAT_STOP, STOP_DEAD_END, STOP_NO_GAIN

#: numba.cuda, bound by :func:`kernels` (a module global, so the simulator can swap it inside kernels)
cuda = None

MODES = ("auto", "persistent")


class CooperativeLaunchError(RuntimeError):
    """The GPU cannot run a cooperative launch (a grid-wide barrier): the greedy loop falls back to the CPU."""
_compiled: dict = {}


def kernels(tpb: int) -> types.SimpleNamespace:
    """Compile (once per ``tpb``) and return the greedy kernels (``tpb``: a power of two)."""
    global cuda
    if tpb in _compiled:
        return _compiled[tpb]
    from rendering.device import block_functions

    R = block_functions(tpb)
    cuda = R.cuda
    block_sum = R.block_sum
    block_argmax = R.block_argmax
    TPB_ = tpb
    NEG_INF = -np.inf

    @cuda.jit(device=True)
    def gain_term(cv, s, t, w, o, rule):
        """cov * (g - cov * h) in float64, with g and h as the CPU's ``_gh`` (numba's CPU typing spelt out)."""
        b = np.float64(s)
        if rule == 0:
            g = 2.0 * np.float64(o) * np.float64(w) * b * (b - np.float64(t))
            h = np.float64(np.float32(np.float32(o * o) * w)) * b * b
        else:
            g = b
            h = 0.0
        c = np.float64(cv)
        return c * (g - c * h)

    @cuda.jit(device=True)
    def score_chord(sh, tid, indptr, pixel, coverage, B, T, Wt, o, rule, c):
        s = 0.0
        for t in range(indptr[c] + tid, indptr[c + 1], TPB_):
            p = pixel[t]
            s += gain_term(coverage[t], B[p], T[p], Wt[p], o, rule)
        return block_sum(sh, tid, s)

    @cuda.jit(device=True)
    def score_pins(sh, tid, blk, nblk, indptr, pixel, coverage, id_of, B, T, Wt, o, rule, used, last,
                   cur, drawn, no_return, once, scores, flags):
        """Blocks ``blk, blk + nblk, ...`` score the chords from ``cur``; flags 2 ok, 1 only if relaxed, 0 no."""
        n = id_of.shape[0]
        j = blk
        while j < n:
            c = id_of[cur, j]
            if c < 0 or (once != 0 and used[c] != 0):
                if tid == 0:
                    scores[j] = NEG_INF
                    flags[j] = 0
            else:
                s = score_chord(sh, tid, indptr, pixel, coverage, B, T, Wt, o, rule, c)
                if tid == 0:
                    scores[j] = s
                    flags[j] = 1 if last[j] > drawn - no_return else 2
            j += nblk

    @cuda.jit(device=True)
    def draw_chord(sh, tid, indptr, pixel, coverage, B, o, rule, sum_step, c):
        """Add chord ``c`` to the state (the CPU's ``_draw``); returns the darkness removed (``sum``)."""
        r = 0.0
        for t in range(indptr[c] + tid, indptr[c + 1], TPB_):
            p = pixel[t]
            cv = coverage[t]
            if rule == 0:
                B[p] = np.float32(np.float64(B[p]) * (1.0 - np.float64(np.float32(o * cv))))
            else:
                old = B[p]
                d = np.float32(old - np.float32(sum_step * cv))
                if d <= 0:
                    d = np.float32(0.0)
                r += np.float64(np.float32(old - d))
                B[p] = d
        return block_sum(sh, tid, r)

    @cuda.jit(device=True)
    def best_pin(sval, sidx, tid, n, scores, flags, level):
        v = NEG_INF
        vi = n + 1
        for j in range(tid, n, TPB_):
            if flags[j] >= level and (vi > n or scores[j] > v):
                v = scores[j]
                vi = j
        return block_argmax(sval, sidx, tid, v, vi)

    @cuda.jit(device=True)
    def pick_and_draw(sh, sval, sidx, tid, indptr, pixel, coverage, id_of, B, o, rule, sum_step,
                      cur, drawn, no_return, early_stop, scores, flags, used, last, path, gains, removed, ctrl):
        """One block: pick the best pin from ``cur``, draw its chord, record the step in ``ctrl``.

        ``ctrl`` (int64): [current pin, lines drawn, stop (0 go on, 1 no gain, 2 dead end),
        dead ends relaxed].
        """
        n = id_of.shape[0]
        best, bj = best_pin(sval, sidx, tid, n, scores, flags, 2)
        relaxed = 0
        if bj > n and no_return > 0:
            relaxed = 1
            best, bj = best_pin(sval, sidx, tid, n, scores, flags, 1)
        stop = 0
        c = 0
        r = 0.0
        if bj > n:
            stop = 2
        elif early_stop != 0 and best <= 0.0:
            stop = 1
        if stop == 0:
            c = id_of[cur, bj]
            r = draw_chord(sh, tid, indptr, pixel, coverage, B, o, rule, sum_step, c)
        if tid == 0:
            ctrl[3] += relaxed
            if stop != 0:
                ctrl[2] = stop
            else:
                used[c] = 1
                gains[drawn] = best
                removed[drawn] = r
                path[drawn + 1] = bj
                last[bj] = drawn + 1
                ctrl[0] = bj
                ctrl[1] = drawn + 1

    @cuda.jit
    def greedy_loop(indptr, pixel, coverage, id_of, B, T, Wt, o, rule, sum_step, n_lines, no_return, once,
                    early_stop, used, last, path, gains, removed, scores, flags, ctrl):
        """The whole thread in one cooperative launch (grid barriers between the phases)."""
        sh = cuda.shared.array(TPB_, np.float64)
        sval = cuda.shared.array(TPB_, np.float64)
        sidx = cuda.shared.array(TPB_, np.int64)
        grid = cuda.cg.this_grid()
        tid = cuda.threadIdx.x
        blk = cuda.blockIdx.x
        nblk = cuda.gridDim.x
        while True:
            cur = ctrl[0]
            drawn = ctrl[1]
            if ctrl[2] != 0 or drawn >= n_lines:
                break
            score_pins(sh, tid, blk, nblk, indptr, pixel, coverage, id_of, B, T, Wt, o, rule, used, last,
                       cur, drawn, no_return, once, scores, flags)
            grid.sync()
            if blk == 0:
                pick_and_draw(sh, sval, sidx, tid, indptr, pixel, coverage, id_of, B, o, rule, sum_step,
                              cur, drawn, no_return, early_stop, scores, flags, used, last, path, gains,
                              removed, ctrl)
            grid.sync()

    @cuda.jit
    def score_all(indptr, pixel, coverage, B, T, Wt, o, rule, once, used, out):
        """Every chord's score (``-inf`` for used ones under ``once``): the first chord of a free start."""
        sh = cuda.shared.array(TPB_, np.float64)
        tid = cuda.threadIdx.x
        c = cuda.blockIdx.x
        while c < out.shape[0]:
            if once != 0 and used[c] != 0:
                if tid == 0:
                    out[c] = NEG_INF
            else:
                s = score_chord(sh, tid, indptr, pixel, coverage, B, T, Wt, o, rule, c)
                if tid == 0:
                    out[c] = s
            c += cuda.gridDim.x

    @cuda.jit
    def draw_first(indptr, pixel, coverage, B, o, rule, sum_step, c, a, b, s, used, last, path, gains, removed):
        """Draw the first chord ``c`` = (a, b) of a free start, one block."""
        sh = cuda.shared.array(TPB_, np.float64)
        tid = cuda.threadIdx.x
        r = draw_chord(sh, tid, indptr, pixel, coverage, B, o, rule, sum_step, c)
        if tid == 0:
            used[c] = 1
            path[0] = a
            path[1] = b
            last[a] = 0
            last[b] = 1
            gains[0] = s
            removed[0] = r

    ns = types.SimpleNamespace(tpb=tpb, greedy_loop=greedy_loop, score_all=score_all, draw_first=draw_first)
    _compiled[tpb] = ns
    return ns


def _cooperative_blocks(kernel, args, tpb: int, want: int) -> int:
    """How many blocks a cooperative launch of ``kernel`` may use (1 under the simulator)."""
    from rendering.device import simulator_enabled

    if simulator_enabled():
        return 1
    spec = kernel.specialize(*args)
    k = next(iter(spec.overloads.values()))
    return max(1, min(want, int(k.max_cooperative_grid_blocks(tpb))))


def greedy(table, id_of, pin_a, pin_b, B, T, Wt, o, rule, sum_step, n_lines, start, no_return, once, early_stop,
           used, path, gains, removed, stats, *, mode: str = "auto", tpb: int | None = None,
           blocks: int | None = None) -> int:
    """The CPU loop :func:`solvers._greedy_kernels._greedy_scan`, on the GPU.

    Same arguments and results as the CPU loop, with the table in place of its
    three CSR arrays and without ``parallel``.

    Parameters
    ----------
    table : ChordTable (uploaded once, see :func:`rendering.device.device_table`)
    id_of : (n_pins, n_pins) int32 chord ids, -1 not allowed; pin_a, pin_b : (n_chords,) int32
    B : (n_pixels,) float32 state, updated in place (brightness for ``error``, darkness for ``sum``)
    T, Wt : (n_pixels,) float32 target and weight
    o : float32 opacity; rule : 0 ``error``, 1 ``sum``; sum_step : float32 darkness per unit coverage
    n_lines, start, no_return, once, early_stop : as the CPU loop (``start < 0``: best chord of all first)
    used : (n_chords,) bool, updated in place
    path : (n_lines + 1,) int64; gains, removed : (n_lines,) float64
    stats : (N_STATS,) int64, slots as :data:`solvers._greedy_kernels.STAT_RELAXED` ..., filled in place
    mode : {"auto", "persistent"}, both one cooperative launch (the names of earlier versions)
    tpb : threads per block (default: :func:`rendering.device.threads_per_block`)
    blocks : cap on the blocks of the persistent launch (default: as many as fit)

    Returns
    -------
    int, the number of lines drawn
    """
    from numba import cuda as _c

    from rendering.device import device_table, threads_per_block

    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    tpb = tpb or threads_per_block()
    K = kernels(tpb)
    dt = device_table(table)
    n = id_of.shape[0]
    n_chords = table.n_chords
    o = np.float32(o)
    sum_step = np.float32(sum_step)
    rule = np.int64(rule)
    once_i = np.int64(bool(once))
    early_i = np.int64(bool(early_stop))
    d_id = _c.to_device(np.ascontiguousarray(id_of, dtype=np.int32))
    d_B = _c.to_device(np.ascontiguousarray(B, dtype=np.float32))
    d_T = _c.to_device(np.ascontiguousarray(T, dtype=np.float32))
    d_W = _c.to_device(np.ascontiguousarray(Wt, dtype=np.float32))
    d_used = _c.to_device(np.asarray(used).astype(np.uint8))
    d_last = _c.to_device(np.full(n, -(1 << 30), dtype=np.int64))
    d_path = _c.to_device(np.zeros(n_lines + 1, dtype=np.int64))
    d_gains = _c.to_device(np.zeros(n_lines, dtype=np.float64))
    d_removed = _c.to_device(np.zeros(n_lines, dtype=np.float64))
    d_scores = _c.device_array(n, dtype=np.float64)
    d_flags = _c.device_array(n, dtype=np.int8)
    ctrl = np.zeros(4, dtype=np.int64)
    if start < 0:
        d_all = _c.device_array(n_chords, dtype=np.float64)
        K.score_all[max(1, min(n_chords, 65535)), tpb](dt.indptr, dt.pixel, dt.coverage, d_B, d_T, d_W, o, rule,
                                                       once_i, d_used, d_all)
        scores = d_all.copy_to_host()
        if not np.isfinite(scores).any():
            stats[STAT_STOP] = STOP_DEAD_END
            path[0] = 0
            return 0
        c = int(np.argmax(scores))  # first of the ties: the lowest chord id, as the CPU loop
        if early_stop and scores[c] <= 0.0:
            stats[STAT_STOP] = STOP_NO_GAIN
            path[0] = pin_a[c]
            return 0
        K.draw_first[1, tpb](dt.indptr, dt.pixel, dt.coverage, d_B, o, rule, sum_step, np.int64(c),
                             np.int64(pin_a[c]), np.int64(pin_b[c]), np.float64(scores[c]), d_used, d_last, d_path,
                             d_gains, d_removed)
        ctrl[0] = pin_b[c]
        ctrl[1] = 1
    else:
        ctrl[0] = start
        path_host = np.zeros(n_lines + 1, dtype=np.int64)
        path_host[0] = start
        d_path = _c.to_device(path_host)
        last = np.full(n, -(1 << 30), dtype=np.int64)
        last[start] = 0
        d_last = _c.to_device(last)
    d_ctrl = _c.to_device(ctrl)
    if ctrl[1] < n_lines:
        args = (dt.indptr, dt.pixel, dt.coverage, d_id, d_B, d_T, d_W, o, rule, sum_step, np.int64(n_lines),
                np.int64(no_return), once_i, early_i, d_used, d_last, d_path, d_gains, d_removed, d_scores,
                d_flags, d_ctrl)
        try:
            nblk = _cooperative_blocks(K.greedy_loop, args, tpb, blocks or n)
        except Exception as e:  # noqa: BLE001  (a GPU or driver without cooperative launches)
            raise CooperativeLaunchError(f"this GPU cannot run the greedy loop's cooperative launch "
                                         f"({type(e).__name__}: {e}); use --device cpu") from None
        K.greedy_loop[nblk, tpb](*args)
    ctrl = d_ctrl.copy_to_host()
    drawn = int(ctrl[1])
    path[:] = d_path.copy_to_host()
    gains[:] = d_gains.copy_to_host()
    removed[:] = d_removed.copy_to_host()
    B[:] = d_B.copy_to_host()
    used[:] = d_used.copy_to_host().astype(bool)
    stats[STAT_RELAXED] += ctrl[3]
    if ctrl[2] != 0:
        stats[STAT_STOP] = ctrl[2]
    return drawn

