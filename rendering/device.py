"""Device choice and the CUDA rasterizer (numba.cuda): public, validating wrappers.

The kernels live in :mod:`rendering._cuda`. Importing this module never
imports :mod:`numba.cuda`; the first call that needs it does. Every wrapper
validates its inputs on the host, copies them to the GPU, runs one kernel and
copies the result back. The chord table is uploaded once per table and kept
on the device while the table lives (:func:`device_table`).

Under numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1`` set before
:mod:`numba.cuda` is first imported) the same kernels run on the CPU, slowly,
with small blocks: that is how the parity tests run without a GPU.

Examples
--------
>>> resolve_device("cpu")
'cpu'
>>> resolve_device("gpu")
Traceback (most recent call last):
...
rendering.errors.InputError: device must be one of auto, cpu, cuda, got 'gpu'; use cpu, or auto to pick CUDA when a GPU is there
"""  # noqa: E501  (a doctest: the exception's message must stand on one line to match)

from __future__ import annotations

import types
from dataclasses import dataclass

import numpy as np

from .chords import ChordTable
from .errors import InputError
from .raster import _as_chord_ids

DEVICES = ("auto", "cpu", "cuda")
#: threads per block under the simulator (each simulated thread is a Python thread)
SIM_TPB = 4


def simulator_enabled() -> bool:
    """True when numba's CUDA simulator is on (``NUMBA_ENABLE_CUDASIM=1`` when numba was imported)."""
    from numba import config

    return bool(config.ENABLE_CUDASIM)  # type: ignore[attr-defined]  # numba.config sets its names at import time


def gpu_driver_present() -> bool:
    """True where an NVIDIA driver is visible (Linux: ``/dev/nvidiactl``; elsewhere assumed) or the simulator is on."""
    import os
    import sys

    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return True
    return not sys.platform.startswith("linux") or os.path.exists("/dev/nvidiactl")


_status: tuple[bool, str] | None = None


def cuda_status() -> tuple[bool, str]:
    """Whether numba's CUDA target can run kernels here; if not, one line saying why and what to install.

    Never raises. Imports :mod:`numba.cuda` unless, on Linux, no NVIDIA driver is
    there. Known trap: numba-cuda 0.30 calls ``numpy.row_stack``, which numpy 2.5
    removed, so it does not import with numpy >= 2.5 (``pip install -e ".[cuda]"``
    installs a pair that works).
    """
    global _status
    if _status is not None:
        return _status
    import sys

    fix = "install a working pair with: pip install -e \".[cuda]\""
    if not gpu_driver_present() and "numba.cuda" not in sys.modules:
        _status = (False, "no NVIDIA driver on this machine (no /dev/nvidiactl)")
        return _status
    try:
        cuda = _import_numba_cuda()
    except AttributeError as e:
        import numpy as np

        if "row_stack" in str(e):
            _status = (False, f"numba-cuda does not import with numpy {np.__version__}: it calls numpy.row_stack, "
                              f"which numpy 2.5 removed; {fix} (numpy < 2.5)")
        else:
            _status = (False, f"numba's CUDA target failed to import ({type(e).__name__}: {e}); {fix}")
        return _status
    except Exception as e:  # noqa: BLE001  (a missing package or a broken toolkit)
        _status = (False, f"numba's CUDA target failed to import ({type(e).__name__}: {e}); {fix}")
        return _status
    try:
        ok = bool(cuda.is_available())
    except Exception as e:  # noqa: BLE001
        _status = (False, f"numba.cuda could not initialise the GPU ({type(e).__name__}: {e}); check the driver")
        return _status
    _status = (True, "") if ok else (False, "numba.cuda finds no usable GPU (driver or CUDA libraries missing; "
                                            "`python -c 'from numba import cuda; cuda.detect()'` says why); " + fix)
    return _status


def _import_numba_cuda():
    from numba import cuda

    return cuda


def cuda_available() -> bool:
    """True when numba.cuda can run kernels here (a usable GPU and driver, or the simulator);
    see :func:`cuda_status`."""
    return cuda_status()[0]


def auto_fallback_notice() -> str | None:
    """One line for ``--device auto`` on a machine with a GPU whose CUDA target is not usable (None otherwise)."""
    ok, why = cuda_status()
    if ok or not gpu_driver_present():
        return None
    return f"running on the CPU: {why}"


def check_device(device, *, name: str = "device") -> str:
    """Check a device option (any case) without importing :mod:`numba.cuda`; returns it lower-cased.

    The one check of a ``device`` value: solver configs, ``bench --device`` and
    training all call it. ``name`` is what the user typed (e.g. ``--device``).

    >>> check_device("CPU")
    'cpu'
    """
    if not isinstance(device, str) or device.lower() not in DEVICES:
        raise InputError(f"{name} must be one of {', '.join(DEVICES)}, got {device!r}; use cpu, or auto to pick "
                         f"CUDA when a GPU is there")
    return device.lower()


def resolve_device(device: str = "auto") -> str:
    """Turn a device option into ``"cpu"`` or ``"cuda"``.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda"}; ``auto`` picks CUDA when :func:`cuda_available`

    Returns
    -------
    str, ``"cpu"`` or ``"cuda"``

    Raises
    ------
    InputError
        for an unknown name, or ``"cuda"`` when no GPU is usable.
    """
    device = check_device(device)
    if device == "cpu":
        return "cpu"
    ok = cuda_available()
    if device == "auto":
        return "cuda" if ok else "cpu"
    if not ok:
        raise InputError(f"device 'cuda' was asked but {cuda_status()[1]}; or use --device cpu (or auto)")
    return "cuda"


def threads_per_block() -> int:
    """Threads per block the wrappers launch with: 256 on a GPU, :data:`SIM_TPB` in the simulator."""
    from . import _cuda

    return SIM_TPB if simulator_enabled() else _cuda.TPB


def kernels():
    """The compiled kernel namespace for :func:`threads_per_block` (see :func:`rendering._cuda.kernels`)."""
    if not cuda_available():
        resolve_device("cuda")  # raises the one-line error
    from . import _cuda

    return _cuda.kernels(threads_per_block())


def block_functions(tpb: int | None = None):
    """The building blocks for CUDA kernels written elsewhere (the GPU greedy in :mod:`solvers`).

    Parameters
    ----------
    tpb : int, threads per block (a power of two); default :func:`threads_per_block`

    Returns
    -------
    SimpleNamespace with ``cuda`` (the :mod:`numba.cuda` module the rasterizer compiles
    with, the simulator's when it is on), ``tpb``, and the device functions
    ``block_sum(sh, tid, value) -> float64`` (fixed-order tree reduction over the block,
    ``sh`` a float64 shared array of ``tpb``) and
    ``block_argmax(sval, sidx, tid, value, index) -> (value, index)`` (ties to the lowest index).
    """
    from . import _cuda

    ns = _cuda.kernels(tpb or threads_per_block())
    return types.SimpleNamespace(cuda=_cuda.cuda, tpb=ns.tpb, block_sum=ns.block_sum, block_argmax=ns.block_argmax)


# ---------------------------------------------------------------------------- device-resident table
@dataclass(frozen=True, eq=False)
class DeviceTable:
    """A :class:`ChordTable`'s CSR arrays on the GPU.

    Attributes
    ----------
    indptr : device (n_chords + 1,) int64
    pixel : device (nnz,) int32
    coverage : device (nnz,) float32
    """

    indptr: object
    pixel: object
    coverage: object


def device_table(table: ChordTable) -> DeviceTable:
    """Upload ``table`` once; later calls return the same device arrays while the table lives
    (kept in :meth:`ChordTable.derived`)."""
    if not isinstance(table, ChordTable):
        raise InputError(f"table must be a ChordTable (rendering.get_chord_table), got {type(table).__name__}")

    def upload(t: ChordTable) -> DeviceTable:
        kernels()  # checks that CUDA is there
        from numba import cuda

        # no reference back to the table: the copy is freed with it (the memo is the table's own)
        return DeviceTable(cuda.to_device(t.indptr), cuda.to_device(t.pixel), cuda.to_device(t.coverage))

    return table.derived(("cuda",), upload)


def pack_chord_lists(chord_lists, n_chords: int) -> tuple[np.ndarray, np.ndarray]:
    """Pack chord lists of possibly different lengths into one padded array.

    Parameters
    ----------
    chord_lists : (B, n) int array, or a sequence of B 1-D int arrays
    n_chords : int, ids must lie in ``[0, n_chords)``

    Returns
    -------
    chords : (B, max(n, 1)) int64, padded with 0
    lengths : (B,) int64
    """
    if isinstance(chord_lists, np.ndarray) and chord_lists.ndim == 2:
        flat = _as_chord_ids(chord_lists.ravel(), n_chords)
        B, n = chord_lists.shape
        chords = np.zeros((B, max(n, 1)), dtype=np.int64)
        chords[:, :n] = flat.reshape(B, n)
        return chords, np.full(B, n, dtype=np.int64)
    if isinstance(chord_lists, np.ndarray) and chord_lists.ndim != 2:
        raise InputError(f"chord lists must be a (B, n) array or a list of 1-D arrays, got shape {chord_lists.shape}")
    rows = [_as_chord_ids(r, n_chords) for r in chord_lists]
    if not rows:
        raise InputError("chord lists must hold at least one list of chord ids, got none")
    lengths = np.array([r.size for r in rows], dtype=np.int64)
    chords = np.zeros((len(rows), max(int(lengths.max()), 1)), dtype=np.int64)
    for i, r in enumerate(rows):
        chords[i, :r.size] = r
    return chords, lengths


def _grid(n: int) -> int:
    """Blocks for ``n`` independent items (the kernels loop when there are more items than blocks)."""
    return max(1, min(int(n), 65535))


# ---------------------------------------------------------------------------- public operations
def render_batch_cuda(table: ChordTable, chord_lists, *, opacity: float = 1.0) -> np.ndarray:
    """Render many chord lists at once on the GPU (multiplicative model, one block per image).

    Parameters
    ----------
    table : ChordTable
    chord_lists : (B, n) int array or a sequence of B 1-D int arrays of chord ids
    opacity : float in (0, 1]

    Returns
    -------
    images : (B, canvas, canvas) float32 in [0, 1], 1 = white; equal to
        :func:`rendering.render` of each list (passes applied in list order)
    """
    from .errors import check_float

    opacity = check_float("opacity", opacity, low=0.0, high=1.0, low_open=True)
    chords, lengths = pack_chord_lists(chord_lists, table.n_chords)
    dt = device_table(table)
    K = kernels()
    from numba import cuda

    out = cuda.device_array((chords.shape[0], table.n_pixels), dtype=np.float32)
    K.render_batch[_grid(chords.shape[0]), K.tpb](dt.indptr, dt.pixel, dt.coverage, cuda.to_device(chords),
                                                  cuda.to_device(lengths), np.float32(opacity), out)
    return out.copy_to_host().reshape((chords.shape[0],) + table.shape)


def render_cuda(table: ChordTable, chords, *, opacity: float = 1.0) -> np.ndarray:
    """:func:`rendering.render` on the GPU.

    Parameters
    ----------
    table : ChordTable
    chords : (n,) int chord ids; a chord listed twice is drawn twice
    opacity : float in (0, 1]

    Returns
    -------
    image : (canvas, canvas) float32 in [0, 1], 1 = white
    """
    chords = _as_chord_ids(chords, table.n_chords)
    return render_batch_cuda(table, [chords], opacity=opacity)[0]


def _pixel_array(name: str, a, n_pixels: int, dtype) -> np.ndarray:
    a = np.asarray(a)
    if a.size != n_pixels or not (a.ndim == 1 or a.ndim == 2):
        raise InputError(f"{name} must hold one value per pixel ({n_pixels}), got shape {a.shape}")
    a = np.ascontiguousarray(a.ravel(), dtype=dtype)
    if not np.isfinite(a).all():
        raise InputError(f"{name} must be finite; replace NaN/inf values first")
    return a


def score_chords_cuda(table: ChordTable, chords, g, h) -> np.ndarray:
    """Score chords on the GPU, one block per chord: ``sum_p cov * (g[p] - cov * h[p])``.

    This is the greedy gain (see :mod:`solvers._greedy_kernels`): with
    ``g = 2 o w B (B - T)`` and ``h = o^2 w B^2`` it is the exact decrease of
    the weighted squared error when the chord is drawn.

    Parameters
    ----------
    table : ChordTable
    chords : (m,) int chord ids
    g, h : (canvas, canvas) or (canvas * canvas,) float per-pixel terms (used as float64)

    Returns
    -------
    scores : (m,) float64
    """
    chords = _as_chord_ids(chords, table.n_chords)
    g = _pixel_array("g", g, table.n_pixels, np.float64)
    h = _pixel_array("h", h, table.n_pixels, np.float64)
    if chords.size == 0:
        return np.zeros(0, dtype=np.float64)
    dt = device_table(table)
    K = kernels()
    from numba import cuda

    out = cuda.device_array(chords.size, dtype=np.float64)
    K.score_chords[_grid(chords.size), K.tpb](dt.indptr, dt.pixel, dt.coverage, cuda.to_device(g),
                                              cuda.to_device(h), cuda.to_device(chords), out)
    return out.copy_to_host()


#: float64 scratch the batched SSE may hold at once (the batch is split to stay below it)
SSE_SCRATCH_BYTES = 512 * 2**20


def sse_batch_cuda(table: ChordTable, chord_lists, target, weight, *, opacity: float = 1.0,
                   factors=None) -> np.ndarray:
    """Weighted squared error of many multiplicative renders, on the GPU (one block per render).

    Each render's brightness is a float64 product of per-pass factors
    ``1 - opacity * coverage`` (float32, as :func:`rendering.render`), applied
    in list order; a caller may pass its own ``factors`` (for example floored
    away from 0, as the GA does).

    Parameters
    ----------
    table : ChordTable
    chord_lists : (B, n) int array or a sequence of B 1-D int arrays of chord ids
    target : (canvas, canvas) or flat, float in [0, 1]
    weight : (canvas, canvas) or flat, float >= 0 (0 outside the frame)
    opacity : float in (0, 1], used when ``factors`` is None
    factors : optional (nnz,) float32 in [0, 1], the brightness factor of each table entry

    Returns
    -------
    sse : (B,) float64, ``sum_p weight_p (bright_p - target_p) ** 2``
    """
    from .errors import check_float

    chords, lengths = pack_chord_lists(chord_lists, table.n_chords)
    target = _pixel_array("target", target, table.n_pixels, np.float64)
    weight = _pixel_array("weight", weight, table.n_pixels, np.float64)
    if factors is None:
        opacity = check_float("opacity", opacity, low=0.0, high=1.0, low_open=True)
        factors = np.float32(1.0) - np.float32(opacity) * table.coverage
    fac = np.asarray(factors)
    if fac.shape != table.coverage.shape:
        raise InputError(f"factors must have one value per table entry {table.coverage.shape}, got {fac.shape}")
    fac = np.ascontiguousarray(fac, dtype=np.float32)
    dt = device_table(table)
    K = kernels()
    from numba import cuda

    B = chords.shape[0]
    step = max(1, min(B, SSE_SCRATCH_BYTES // (8 * table.n_pixels)))
    d_fac, d_t, d_w = cuda.to_device(fac), cuda.to_device(target), cuda.to_device(weight)
    bright = cuda.device_array((step, table.n_pixels), dtype=np.float64)
    out = np.empty(B, dtype=np.float64)
    for s in range(0, B, step):
        e = min(B, s + step)
        d_out = cuda.device_array(e - s, dtype=np.float64)
        K.sse_batch[_grid(e - s), K.tpb](dt.indptr, dt.pixel, d_fac, cuda.to_device(chords[s:e]),
                                         cuda.to_device(lengths[s:e]), d_t, d_w, bright[:e - s], d_out)
        out[s:e] = d_out.copy_to_host()
    return out
