import numpy as np
import pytest
import torch

from rendering import InputError, PinLayout, build_chord_table, coverage_sum, render, render_opaque, view_scale
from rendering.torch_render import StringRenderer, render_torch


@pytest.fixture(scope="module")
def table():
    return build_chord_table(PinLayout(n_pins=24, canvas=40), 3, 0.8)


def reference_render(table, chords, opacity):
    """Obviously-correct NumPy version of the multiplicative model."""
    img = np.ones(table.n_pixels, dtype=np.float64)
    for c in chords:
        pix, cov = table.chord_pixels(c)
        img[pix] *= 1.0 - opacity * cov.astype(np.float64)
    return img.reshape(table.shape)


@pytest.mark.parametrize("opacity", [1.0, 0.4])
def test_numba_render_matches_numpy_reference(table, opacity):
    chords = np.random.default_rng(0).integers(0, table.n_chords, 60)
    chords = np.concatenate([chords, chords[:5]])  # repeated chords are drawn twice
    np.testing.assert_allclose(render(table, chords, opacity=opacity), reference_render(table, chords, opacity),
                               atol=1e-5)


def test_render_is_order_independent_and_blank_when_empty(table):
    chords = np.arange(0, table.n_chords, 3)
    np.testing.assert_allclose(render(table, chords), render(table, chords[::-1]), atol=1e-6)
    assert np.all(render(table, np.array([], dtype=int)) == 1.0)


def test_render_rejects_bad_chord_ids(table):
    with pytest.raises(InputError, match=r"chord ids must be in \[0, "):
        render(table, [0, table.n_chords])
    with pytest.raises(InputError, match="1-D array"):
        render(table, [[0, 1]])
    with pytest.raises(InputError, match="integer chord ids"):
        render(table, [0.5])


def test_opaque_model_clamps_and_matches_a_single_thread(table):
    one = [5]
    # one thread: the supersampled opaque model and the multiplicative model agree closely
    a = render(table, one)
    b = render_opaque(table, one, supersample=4, disk_cache=False)
    assert abs(a.sum() - b.sum()) / (1 - a).sum() < 0.05
    # many passes of one chord: opaque saturates at the thread's footprint, multiplicative keeps darkening
    many = [5] * 20
    assert render_opaque(table, many, supersample=1).min() >= 0.0
    dark_opaque = (1 - render_opaque(table, many, supersample=4, disk_cache=False)).sum()
    assert dark_opaque == pytest.approx((1 - b).sum(), rel=0.35)
    assert (1 - render(table, many)).sum() > 1.5 * dark_opaque


def test_coverage_sum_adds_up(table):
    chords = [0, 1, 2, 2]
    total = sum(table.chord_pixels(c)[1].sum() for c in chords)
    assert coverage_sum(table, chords).sum() == pytest.approx(total, rel=1e-5)


def test_view_scale_is_a_box_average():
    img = np.arange(16, dtype=np.float32).reshape(4, 4)
    np.testing.assert_allclose(view_scale(img, 2), [[2.5, 4.5], [10.5, 12.5]])


def test_torch_render_equals_numba_render_for_integer_weights(table):
    chords = np.array([1, 4, 4, 9, 30])
    w = torch.zeros(table.n_chords, dtype=torch.float64)
    for c in chords:
        w[c] += 1
    img = render_torch(table, w, opacity=0.9).numpy()
    np.testing.assert_allclose(img, render(table, chords, opacity=0.9), atol=1e-5)
    batch = render_torch(table, torch.stack([w, torch.zeros_like(w)]), opacity=0.9)
    assert batch.shape == (2, 1, 40, 40)
    np.testing.assert_allclose(batch[0, 0].numpy(), img, atol=1e-12)
    assert torch.all(batch[1] == 1)
    mod = StringRenderer(table, opacity=0.9)
    np.testing.assert_allclose(mod(w).numpy(), img)


def test_torch_render_gradcheck():
    table = build_chord_table(PinLayout(n_pins=8, canvas=16), 2, 1.2)
    w = torch.rand(table.n_chords, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    w.requires_grad_(True)
    # the full Jacobian on a centre crop (most chords cross it), and the whole image in fast mode
    assert torch.autograd.gradcheck(lambda x: render_torch(table, x, opacity=0.8)[5:11, 5:11], (w,))
    assert torch.autograd.gradcheck(lambda x: render_torch(table, x, opacity=0.8), (w,), fast_mode=True)
    wb = torch.rand(2, table.n_chords, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    wb.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: render_torch(table, x, opacity=0.8), (wb,), fast_mode=True)


def test_torch_render_rejects_wrong_shape(table):
    with pytest.raises(InputError, match="weights must have shape"):
        render_torch(table, torch.zeros(3))


def test_view_scale_is_scikit_images_downscale_local_mean_bit_for_bit():
    from skimage.transform import downscale_local_mean

    from rendering import view_scale

    rng = np.random.default_rng(3)
    for shape, f in (((64, 64), 4), ((66, 70), 4), ((30, 30), 3)):
        img = rng.random(shape).astype(np.float32)
        h, w = shape[0] // f * f, shape[1] // f * f
        ref = downscale_local_mean(img[:h, :w], (f, f)).astype(np.float32)
        np.testing.assert_array_equal(view_scale(img, f), ref)


def test_small_renders_without_numba_take_the_numpy_path_bit_for_bit(table, monkeypatch):
    """render()'s NumPy path (a small render in a process without numba) against the numba kernel."""
    import sys

    from rendering import _kernels, raster

    chords = np.random.default_rng(0).integers(0, table.n_chords, 300)  # repeats included: drawn twice
    chords[:2] = chords[2]
    for opacity in (0.8, 1.0):
        kernel = np.ones(table.n_pixels, np.float32)
        _kernels._render_multiplicative(table.indptr, table.pixel, table.coverage, chords, np.float32(opacity), kernel)
        calls = []
        with monkeypatch.context() as m:
            m.setattr(_kernels, "_render_multiplicative", lambda *a, calls=calls: calls.append(a))
            m.delitem(sys.modules, "numba", raising=False)
            numpy_path = render(table, chords, opacity=opacity)
            assert calls == []  # the kernel never ran: this was the NumPy path
            np.testing.assert_array_equal(numpy_path.ravel(), kernel)
            assert numpy_path.dtype == np.float32 and numpy_path.shape == table.shape
            m.setattr(raster, "NUMPY_RENDER_ENTRIES", 10)  # a large render goes to the kernel even without numba
            render(table, chords, opacity=opacity)
            assert len(calls) == 1
    assert not np.array_equal(numpy_path.ravel(), np.ones(table.n_pixels))


def test_snapshots_are_the_same_on_the_numpy_path_and_the_kernel(table, monkeypatch):
    """render_snapshots draws each stretch of lines with render()'s two paths: the same pictures bit for bit, and
    the last one is render()'s."""
    import sys

    from rendering import raster
    from rendering.raster import render_snapshots

    chords = np.random.default_rng(1).integers(0, table.n_chords, 200)
    counts = [0, 1, 50, 50, 199, 200]
    kernel = render_snapshots(table, chords, counts, opacity=0.8)
    with monkeypatch.context() as m:
        m.delitem(sys.modules, "numba", raising=False)
        m.setattr(raster, "NUMPY_RENDER_ENTRIES", 10 ** 9)
        assert raster._use_numpy(table, chords)
        numpy_path = render_snapshots(table, chords, counts, opacity=0.8)
    assert len(kernel) == len(numpy_path) == len(counts)
    for a, b in zip(kernel, numpy_path):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(kernel[-1], render(table, chords, opacity=0.8))
    assert not np.array_equal(kernel[2], kernel[4])


def test_a_process_without_numba_renders_a_cached_table_with_numpy():
    import subprocess
    import sys

    from rendering import get_chord_table

    t = get_chord_table(PinLayout(n_pins=40, canvas=48), 4, 0.7)  # now in the test cache (STRINGART_CACHE_DIR)
    chords = np.random.default_rng(0).integers(0, t.n_chords, 300)
    expected = render(t, chords, opacity=0.8)  # this process has numba: the kernel
    code = ("import sys, numpy as np\n"
            "from rendering import PinLayout, get_chord_table, render\n"
            "t = get_chord_table(PinLayout(n_pins=40, canvas=48), 4, 0.7)\n"
            "chords = np.random.default_rng(0).integers(0, t.n_chords, 300)\n"
            "a = render(t, chords, opacity=0.8)\n"
            "assert 'numba' not in sys.modules, 'numba was loaded'\n"
            "sys.stdout.buffer.write(a.tobytes())\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=300)
    assert res.returncode == 0, res.stderr.decode()
    np.testing.assert_array_equal(np.frombuffer(res.stdout, np.float32).reshape(t.shape), expected)
