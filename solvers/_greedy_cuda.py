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
from typing import Any, NamedTuple

import numpy as np

from ._greedy_kernels import STAT_RELAXED, STAT_STOP, STOP_DEAD_END, STOP_NO_GAIN

#: numba.cuda, bound by :func:`kernels` (a module global, so the simulator can swap it inside kernels)
cuda = None

MODES = ("auto", "persistent")


class CooperativeLaunchError(RuntimeError):
    """The GPU cannot run a cooperative launch (a grid-wide barrier): the greedy loop falls back to the CPU."""


class Loop(NamedTuple):
    """The greedy loop's state on the device, one kernel argument (numba's CUDA target passes a tuple's
    arrays and scalars as separate kernel parameters, on a GPU and under the simulator alike).

    used (n_chords,) uint8; last (n_pins,) int64, the line at which each pin was last visited; path
    (n_lines + 1,) int64; gains, removed (n_lines,) float64; scores (n_pins,) float64 and flags (n_pins,)
    int8, the candidates of a step; ctrl (4,) int64, [current pin, lines drawn, stop, dead ends relaxed].
    """

    used: Any
    last: Any
    path: Any
    gains: Any
    removed: Any
    scores: Any
    flags: Any
    ctrl: Any


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
    def score_chord(sh, tid, tab, pic, c):
        s = 0.0
        for t in range(tab.indptr[c] + tid, tab.indptr[c + 1], TPB_):
            p = tab.pixel[t]
            s += gain_term(tab.coverage[t], pic.state[p], pic.target[p], pic.weight[p], pic.opacity, pic.rule)
        return block_sum(sh, tid, s)

    @cuda.jit(device=True)
    def score_pins(sh, tab, id_of, pic, run, st, cur, drawn):
        """This block's candidates (pins ``blockIdx, blockIdx + gridDim, ...``) score the chords from ``cur``;
        flags 2 ok, 1 only if relaxed, 0 no."""
        tid = cuda.threadIdx.x
        n = id_of.shape[0]
        j = cuda.blockIdx.x
        while j < n:
            c = id_of[cur, j]
            if c < 0 or (run.once != 0 and st.used[c] != 0):
                if tid == 0:
                    st.scores[j] = NEG_INF
                    st.flags[j] = 0
            else:
                s = score_chord(sh, tid, tab, pic, c)
                if tid == 0:
                    st.scores[j] = s
                    st.flags[j] = 1 if st.last[j] > drawn - run.no_return else 2
            j += cuda.gridDim.x

    @cuda.jit(device=True)
    def draw_chord(sh, tid, tab, pic, c):
        """Add chord ``c`` to the state (the CPU's ``_draw``); returns the darkness removed (``sum``)."""
        B = pic.state
        o = pic.opacity
        sum_step = pic.sum_step
        r = 0.0
        for t in range(tab.indptr[c] + tid, tab.indptr[c + 1], TPB_):
            p = tab.pixel[t]
            cv = tab.coverage[t]
            if pic.rule == 0:
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
    def pick_and_draw(sh, sval, sidx, tab, id_of, pic, run, st, cur, drawn):
        """One block: pick the best pin from ``cur``, draw its chord, record the step in ``st.ctrl``.

        ``st.ctrl`` (int64): [current pin, lines drawn, stop (0 go on, 1 no gain, 2 dead end),
        dead ends relaxed].
        """
        tid = cuda.threadIdx.x
        n = id_of.shape[0]
        best, bj = best_pin(sval, sidx, tid, n, st.scores, st.flags, 2)
        relaxed = 0
        if bj > n and run.no_return > 0:
            relaxed = 1
            best, bj = best_pin(sval, sidx, tid, n, st.scores, st.flags, 1)
        stop = 0
        c = 0
        r = 0.0
        if bj > n:
            stop = 2
        elif run.early_stop != 0 and best <= 0.0:
            stop = 1
        if stop == 0:
            c = id_of[cur, bj]
            r = draw_chord(sh, tid, tab, pic, c)
        if tid == 0:
            ctrl = st.ctrl
            ctrl[3] += relaxed
            if stop != 0:
                ctrl[2] = stop
            else:
                st.used[c] = 1
                st.gains[drawn] = best
                st.removed[drawn] = r
                st.path[drawn + 1] = bj
                st.last[bj] = drawn + 1
                ctrl[0] = bj
                ctrl[1] = drawn + 1

    @cuda.jit
    def greedy_loop(tab, id_of, pic, run, st):
        """The whole thread in one cooperative launch (grid barriers between the phases)."""
        sh = cuda.shared.array(TPB_, np.float64)
        sval = cuda.shared.array(TPB_, np.float64)
        sidx = cuda.shared.array(TPB_, np.int64)
        grid = cuda.cg.this_grid()
        ctrl = st.ctrl
        while True:
            cur = ctrl[0]
            drawn = ctrl[1]
            if ctrl[2] != 0 or drawn >= run.n_lines:
                break
            score_pins(sh, tab, id_of, pic, run, st, cur, drawn)
            grid.sync()
            if cuda.blockIdx.x == 0:
                pick_and_draw(sh, sval, sidx, tab, id_of, pic, run, st, cur, drawn)
            grid.sync()

    @cuda.jit
    def score_all(tab, pic, once, used, out):
        """Every chord's score (``-inf`` for used ones under ``once``): the first chord of a free start."""
        sh = cuda.shared.array(TPB_, np.float64)
        tid = cuda.threadIdx.x
        c = cuda.blockIdx.x
        while c < out.shape[0]:
            if once != 0 and used[c] != 0:
                if tid == 0:
                    out[c] = NEG_INF
            else:
                s = score_chord(sh, tid, tab, pic, c)
                if tid == 0:
                    out[c] = s
            c += cuda.gridDim.x

    @cuda.jit
    def draw_first(tab, pic, c, a, b, s, st):
        """Draw the first chord ``c`` = (a, b) of a free start, one block."""
        sh = cuda.shared.array(TPB_, np.float64)
        tid = cuda.threadIdx.x
        r = draw_chord(sh, tid, tab, pic, c)
        if tid == 0:
            st.used[c] = 1
            st.path[0] = a
            st.path[1] = b
            st.last[a] = 0
            st.last[b] = 1
            st.gains[0] = s
            st.removed[0] = r

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


def greedy(table, pins, pic, run, out, *, mode: str = "auto", tpb: int | None = None,
           blocks: int | None = None) -> int:
    """The CPU loop :func:`solvers._greedy_kernels._greedy_scan`, on the GPU.

    Same arguments and results as the CPU loop (its named tuples), with the table in place of its
    :class:`~solvers._greedy_kernels.Table` and without ``parallel``.

    Parameters
    ----------
    table : ChordTable (uploaded once, see :func:`rendering.device.device_table`)
    pins : :class:`solvers._greedy_kernels.Pins`, ``id_of`` (n_pins, n_pins) int32 chord ids (-1 not
        allowed), ``pin_a``, ``pin_b`` (n_chords,) int32
    pic : :class:`solvers._greedy_kernels.Picture`: ``state`` (n_pixels,) float32, updated in place
        (brightness for ``error``, darkness for ``sum``); ``target``, ``weight`` (n_pixels,) float32;
        ``opacity`` float32; ``rule`` 0 ``error``, 1 ``sum``; ``sum_step`` float32 darkness per unit coverage
    run : :class:`solvers._greedy_kernels.Settings`, ``n_lines``, ``start`` (< 0: best chord of all first),
        ``no_return``, ``once``, ``early_stop``, as the CPU loop
    out : :class:`solvers._greedy_kernels.Thread`, filled in place: ``used`` (n_chords,) bool; ``path``
        (n_lines + 1,) int64; ``gains``, ``removed`` (n_lines,) float64; ``stats`` (N_STATS,) int64, slots as
        :data:`solvers._greedy_kernels.STAT_RELAXED` ...
    mode : {"auto", "persistent"}, both one cooperative launch (the names of earlier versions)
    tpb : threads per block (default: :func:`rendering.device.threads_per_block`)
    blocks : cap on the blocks of the persistent launch (default: as many as fit)

    Returns
    -------
    int, the number of lines drawn
    """
    from numba import cuda as _c

    from rendering.device import device_table, threads_per_block

    from ._greedy_kernels import Picture, Settings, Table

    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    tpb = tpb or threads_per_block()
    K = kernels(tpb)
    dt = device_table(table)
    tab = Table(dt.indptr, dt.pixel, dt.coverage)
    n = pins.id_of.shape[0]
    n_chords = table.n_chords
    n_lines, start = int(run.n_lines), int(run.start)
    path, stats = out.path, out.stats
    once_i = np.int64(bool(run.once))
    d_pic = Picture(_c.to_device(np.ascontiguousarray(pic.state, dtype=np.float32)),
                    _c.to_device(np.ascontiguousarray(pic.target, dtype=np.float32)),
                    _c.to_device(np.ascontiguousarray(pic.weight, dtype=np.float32)),
                    np.float32(pic.opacity), np.int64(pic.rule), np.float32(pic.sum_step))
    d_run = Settings(np.int64(n_lines), np.int64(start), np.int64(run.no_return), once_i,
                     np.int64(bool(run.early_stop)))
    d_id = _c.to_device(np.ascontiguousarray(pins.id_of, dtype=np.int32))
    d_used = _c.to_device(np.asarray(out.used).astype(np.uint8))
    d_last = _c.to_device(np.full(n, -(1 << 30), dtype=np.int64))
    d_path = _c.to_device(np.zeros(n_lines + 1, dtype=np.int64))
    d_gains = _c.to_device(np.zeros(n_lines, dtype=np.float64))
    d_removed = _c.to_device(np.zeros(n_lines, dtype=np.float64))
    d_scores = _c.device_array(n, dtype=np.float64)
    d_flags = _c.device_array(n, dtype=np.int8)
    ctrl = np.zeros(4, dtype=np.int64)
    if start < 0:
        d_all = _c.device_array(n_chords, dtype=np.float64)
        K.score_all[max(1, min(n_chords, 65535)), tpb](tab, d_pic, once_i, d_used, d_all)
        scores = d_all.copy_to_host()
        if not np.isfinite(scores).any():
            stats[STAT_STOP] = STOP_DEAD_END
            path[0] = 0
            return 0
        c = int(np.argmax(scores))  # first of the ties: the lowest chord id, as the CPU loop
        if run.early_stop and scores[c] <= 0.0:
            stats[STAT_STOP] = STOP_NO_GAIN
            path[0] = pins.pin_a[c]
            return 0
        first = Loop(d_used, d_last, d_path, d_gains, d_removed, d_scores, d_flags, _c.to_device(ctrl))
        K.draw_first[1, tpb](tab, d_pic, np.int64(c), np.int64(pins.pin_a[c]), np.int64(pins.pin_b[c]),
                             np.float64(scores[c]), first)
        ctrl[0] = pins.pin_b[c]
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
        st = Loop(d_used, d_last, d_path, d_gains, d_removed, d_scores, d_flags, d_ctrl)
        args = (tab, d_id, d_pic, d_run, st)
        try:
            nblk = _cooperative_blocks(K.greedy_loop, args, tpb, blocks or n)
        except Exception as e:  # noqa: BLE001  (a GPU or driver without cooperative launches)
            raise CooperativeLaunchError(f"this GPU cannot run the greedy loop's cooperative launch "
                                         f"({type(e).__name__}: {e}); use --device cpu") from None
        K.greedy_loop[nblk, tpb](*args)
    ctrl = d_ctrl.copy_to_host()
    drawn = int(ctrl[1])
    path[:] = d_path.copy_to_host()
    out.gains[:] = d_gains.copy_to_host()
    out.removed[:] = d_removed.copy_to_host()
    pic.state[:] = d_pic.state.copy_to_host()
    out.used[:] = d_used.copy_to_host().astype(bool)
    stats[STAT_RELAXED] += ctrl[3]
    if ctrl[2] != 0:
        stats[STAT_STOP] = ctrl[2]
    return drawn
