"""Numba housekeeping: stamped caches, the first-run check, precompiling elsewhere, the thread policy."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from rendering import jit


def test_kernel_caches_are_stamped_with_every_kernel_module():
    from numba.core import caching

    from rendering import _kernels

    assert caching.CacheImpl._locator_classes[0].__name__ == "ToolkitLocator"
    locator = _kernels._render_multiplicative._cache._impl.locator
    stamp = locator.get_source_stamp()
    assert stamp[1] == jit.kernels_stamp()
    mods = jit.kernel_modules()
    assert len(jit.kernels_stamp()) == 40 and all((Path(jit._ROOT) / m).is_file() for m in mods)
    assert "solvers/_ssim_kernels.py" in mods and "solvers/_greedy_kernels.py" in mods


def test_an_index_naming_a_type_that_is_gone_is_a_cache_miss(tmp_path, monkeypatch):
    """numba unpickles a cache index before it compares stamps: an index that names a kernel's named tuple
    since renamed must read as empty (the kernel recompiles), not fail every process that has it on disk;
    another package's unreadable index still raises."""
    import pickle
    import types

    import pytest
    from numba.core import caching

    jit.guard_cache()
    gone = types.ModuleType("stringart_gone_module")

    class Bundle(tuple):  # stands for a named tuple of a kernel module
        pass

    Bundle.__module__ = gone.__name__
    Bundle.__qualname__ = "Bundle"
    gone.Bundle = Bundle
    monkeypatch.setitem(sys.modules, gone.__name__, gone)
    ours = (("source", 1), jit.kernels_stamp())

    def index_file(stamp, name):
        f = caching.IndexDataCacheFile(str(tmp_path), name, stamp)
        with open(f._index_path, "wb") as fh:
            pickle.dump(f._version, fh, protocol=-1)
            fh.write(pickle.dumps((stamp, {(Bundle(), "cpu"): "kernel-0.nbc"})))
        return f

    fresh = index_file(ours, "fresh")
    assert list(fresh._load_index().values()) == ["kernel-0.nbc"]  # readable: as numba reads it
    ours_file, theirs_file = index_file(ours, "ours"), index_file(("another package",), "theirs")
    del gone.Bundle  # the type is renamed away
    assert ours_file._load_index() == {}
    with pytest.raises(AttributeError):
        theirs_file._load_index()


def test_kernels_cached_sees_a_compiled_kernel():
    from numba import njit

    @njit(cache=False)
    def f(x):
        return x + 1

    assert f(1) == 2
    assert jit.kernels_cached(f)


def test_set_threads_gives_torch_one_thread_and_numba_its_share():
    import numba
    import torch

    old_n, old_t = numba.get_num_threads(), torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        jit.set_threads(1)
        assert torch.get_num_threads() == 1 and numba.get_num_threads() == 1
        jit.set_threads()  # numba left as it is
        assert numba.get_num_threads() == 1
    finally:
        numba.set_num_threads(old_n)
        torch.set_num_threads(old_t)


def test_precompile_fills_the_cache_without_building_a_table(tmp_path):
    code = ("from solvers import make_solver\n"
            "make_solver('greedy').precompile(pins=32)\n")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "nb"), "STRINGART_CACHE_DIR": str(tmp_path / "t")}
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    names = {p.name.split("-")[0] for p in (tmp_path / "nb").rglob("*.nbi")}
    assert "_greedy_kernels._greedy" in names and "_kernels._invert" in names
    assert not any("chord_pixels" in n for n in names)  # the table-building kernels were not compiled
    assert not (tmp_path / "t").exists()  # nothing in the table cache


def test_specimen_table_has_the_types_of_a_real_one():
    from rendering import PinLayout, get_chord_table
    from rendering.chords import clear_memory_cache, specimen_table

    lay = PinLayout(n_pins=24, canvas=40)
    real = get_chord_table(lay, 3, 0.5, disk_cache=False)
    clear_memory_cache()
    spec = specimen_table(lay, 3, 0.5)
    assert get_chord_table(lay, 3, 0.5) is spec
    for name in ("indptr", "pixel", "coverage"):
        a, b = getattr(real, name), getattr(spec, name)
        assert a.dtype == b.dtype and a.flags.writeable == b.flags.writeable
    assert np.all(np.diff(spec.indptr) == 2) and spec.pixel.max() < 40 * 40
    clear_memory_cache()
