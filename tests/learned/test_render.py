"""Differentiable renderers: values match the foundation's, gradients flow (gradcheck)."""

import numpy as np
import pytest
import torch

from learned.losses import ssim_map, view_loss
from learned.soft_lines import soft_lines
from rendering.torch_render import chord_means, chord_render
from rendering import PinLayout, get_chord_table, render
from rendering.torch_render import render_torch


@pytest.fixture(scope="module")
def table():
    return get_chord_table(PinLayout(n_pins=16, canvas=24), 3, 0.6, disk_cache=False)


def test_chord_render_equals_foundation_and_numba(table):
    g = torch.Generator().manual_seed(0)
    w = torch.rand(3, table.n_chords, generator=g, dtype=torch.float64)
    np.testing.assert_allclose(chord_render(table, w).numpy(), render_torch(table, w).numpy(), atol=1e-12)
    ids = [0, 4, 9]
    w1 = torch.zeros(1, table.n_chords, dtype=torch.float64)
    w1[0, ids] = 1
    np.testing.assert_allclose(chord_render(table, w1)[0, 0].numpy(), render(table, ids), atol=1e-6)


@pytest.fixture(scope="module")
def small():
    return get_chord_table(PinLayout(n_pins=8, canvas=16), 2, 0.6, disk_cache=False)


def test_chord_render_gradcheck(small):
    table = small
    w = torch.rand(1, table.n_chords, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: chord_render(table, x), (w,), eps=1e-6, atol=1e-6, fast_mode=True)


def test_chord_means_matches_numpy_and_gradcheck(table):
    maps = torch.rand(2, 3, 24, 24, dtype=torch.float64)
    out = chord_means(table, maps)
    owner = np.repeat(np.arange(table.n_chords), np.diff(table.indptr))
    m = maps[1, 2].numpy().ravel()
    ref = np.bincount(owner, weights=table.coverage * m[table.pixel], minlength=table.n_chords) / table.coverage_sums()
    np.testing.assert_allclose(out[1, 2].numpy(), ref, rtol=1e-5)


def test_chord_means_gradcheck(small):
    x = torch.rand(1, 1, 16, 16, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda z: chord_means(small, z), (x,), eps=1e-6, atol=1e-6)


def test_soft_lines_gradcheck_in_the_endpoints():
    u = torch.tensor([[0.05, 0.30]], dtype=torch.float64, requires_grad=True)
    v = torch.tensor([[0.55, 0.80]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: soft_lines(a, b, 12, 0.5, sigma=1.0), (u, v), eps=1e-6, atol=1e-5)


def test_soft_lines_tone_matches_the_chord_table():
    """A soft line darkens as much as the table's thread between the nearest pins."""
    canvas, n = 64, 32
    table = get_chord_table(PinLayout(n_pins=n, canvas=canvas), 4, 0.25, disk_cache=False)
    cid = table.chords.chord_id(0, 13)
    ref = 1.0 - render(table, [cid]).astype(np.float64)
    soft = 1.0 - soft_lines(torch.tensor([[0.0]]), torch.tensor([[13 / n]]), canvas, 0.25)[0, 0].numpy()
    assert abs(soft.sum() - ref.sum()) / ref.sum() < 0.05
    # and it is drawn where the chord is (centre of darkness within half a pixel)
    yy, xx = np.mgrid[0:canvas, 0:canvas]
    for w in (xx, yy):
        assert abs((w * soft).sum() / soft.sum() - (w * ref).sum() / ref.sum()) < 0.5


def test_ssim_matches_scikit_image():
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(1)
    a = rng.random((32, 32))
    b = np.clip(a + 0.2 * rng.standard_normal((32, 32)), 0, 1)
    _, ref = structural_similarity(a, b, data_range=1.0, full=True, win_size=7)
    ours = ssim_map(torch.from_numpy(a)[None, None], torch.from_numpy(b)[None, None])[0, 0].numpy()
    np.testing.assert_allclose(ours[3:-3, 3:-3], ref[3:-3, 3:-3], atol=1e-6)


def test_view_loss_is_zero_for_identical_images():
    x = torch.rand(2, 1, 16, 16)
    mask = torch.ones(16, 16, dtype=torch.bool)
    loss, info = view_loss(x, x, mask)
    assert float(loss) == pytest.approx(0.0, abs=1e-5) and info["ssim"] == pytest.approx(1.0, abs=1e-5)


def test_float32_cpu_kernels_match_the_float64_torch_path(table):
    """float32 on the CPU runs the Numba CSR kernels; float64 runs torch.sparse: same values and gradients."""
    g = torch.Generator().manual_seed(1)
    w64 = torch.rand(2, table.n_chords, generator=g, dtype=torch.float64, requires_grad=True)
    w32 = w64.detach().float().requires_grad_(True)
    up = torch.rand(2, 1, 24, 24, generator=g, dtype=torch.float64)
    (chord_render(table, w64) * up).sum().backward()
    (chord_render(table, w32) * up.float()).sum().backward()
    np.testing.assert_allclose(chord_render(table, w32).detach().numpy(), chord_render(table, w64).detach().numpy(),
                               atol=1e-5)
    np.testing.assert_allclose(w32.grad.numpy(), w64.grad.numpy(), rtol=1e-4, atol=1e-5)
    m64 = torch.rand(2, 3, 24, 24, generator=g, dtype=torch.float64, requires_grad=True)
    m32 = m64.detach().float().requires_grad_(True)
    c = torch.rand(2, 3, table.n_chords, generator=g, dtype=torch.float64)
    (chord_means(table, m64) * c).sum().backward()
    (chord_means(table, m32) * c.float()).sum().backward()
    np.testing.assert_allclose(chord_means(table, m32).detach().numpy(), chord_means(table, m64).detach().numpy(),
                               atol=1e-5)
    np.testing.assert_allclose(m32.grad.numpy(), m64.grad.numpy(), rtol=1e-4, atol=1e-5)
