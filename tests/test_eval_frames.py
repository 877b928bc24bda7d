"""PSNR and SSIM against analytic values and an independent, direct SSIM computation."""

import math

import numpy as np
import pytest

from mimicmotion.eval.frames import psnr, ssim


def reference_ssim_plane(x: np.ndarray, y: np.ndarray) -> float:
    """SSIM written straight from Wang et al. (2004): for every position where the 11x11 window
    fits, Gaussian-weighted means, variances and covariance, then the SSIM formula; the mean of
    the map. Deliberately a per-pixel loop with no filtering library."""
    x, y = x.astype(np.float64), y.astype(np.float64)
    offsets = np.arange(11) - 5
    window = np.exp(-(offsets[:, None] ** 2 + offsets[None, :] ** 2) / (2 * 1.5**2))
    window /= window.sum()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    values = []
    for row in range(5, x.shape[0] - 5):
        for col in range(5, x.shape[1] - 5):
            px, py = x[row - 5 : row + 6, col - 5 : col + 6], y[row - 5 : row + 6, col - 5 : col + 6]
            mx, my = (window * px).sum(), (window * py).sum()
            vx, vy = (window * (px - mx) ** 2).sum(), (window * (py - my) ** 2).sum()
            cov = (window * (px - mx) * (py - my)).sum()
            values.append(((2 * mx * my + c1) * (2 * cov + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2)))
    return float(np.mean(values))


@pytest.fixture
def pair():
    rng = np.random.default_rng(0)
    gt = rng.integers(0, 256, (17, 19, 3), dtype=np.uint8)
    # a smooth gradient plus noise: structure that SSIM can partly recognise
    gt = np.clip(gt // 4 + np.linspace(0, 180, 19)[None, :, None], 0, 255).astype(np.uint8)
    noise = rng.normal(0, 20, gt.shape)
    pred = np.clip(gt + noise, 0, 255).astype(np.uint8)
    return pred, gt


def test_psnr_of_identical_frames_is_infinite():
    frame = np.random.default_rng(1).integers(0, 256, (8, 9, 3), dtype=np.uint8)
    assert psnr(frame, frame.copy()) == math.inf


@pytest.mark.parametrize("offset", [1, 5, 40])
def test_psnr_of_a_uniform_offset_is_analytic(offset):
    gt = np.random.default_rng(2).integers(0, 256 - offset, (12, 10, 3), dtype=np.uint8)
    pred = gt + np.uint8(offset)
    # MSE = offset^2 everywhere
    assert psnr(pred, gt) == pytest.approx(10 * math.log10(255**2 / offset**2), abs=1e-9)
    assert psnr(gt, pred) == pytest.approx(psnr(pred, gt))


def test_psnr_does_not_wrap_around_in_uint8():
    gt = np.zeros((4, 4, 3), dtype=np.uint8)
    pred = np.full((4, 4, 3), 255, dtype=np.uint8)
    assert psnr(pred, gt) == pytest.approx(0.0, abs=1e-12)


def test_ssim_of_a_frame_with_itself_is_one(pair):
    _, gt = pair
    assert ssim(gt, gt.copy()) == pytest.approx(1.0, abs=1e-12)
    assert ssim(gt, gt.copy(), channels="y") == pytest.approx(1.0, abs=1e-12)


def test_ssim_matches_a_direct_computation_per_channel(pair):
    pred, gt = pair
    expected = np.mean([reference_ssim_plane(pred[..., c], gt[..., c]) for c in range(3)])
    assert ssim(pred, gt) == pytest.approx(expected, abs=1e-9)
    assert 0.05 < expected < 0.99  # a case where the value actually depends on the details


def test_ssim_on_luma_matches_a_direct_computation(pair):
    pred, gt = pair
    weights = np.array([0.299, 0.587, 0.114])
    expected = reference_ssim_plane(pred.astype(np.float64) @ weights, gt.astype(np.float64) @ weights)
    assert ssim(pred, gt, channels="y") == pytest.approx(expected, abs=1e-9)


def test_ssim_is_symmetric_and_falls_with_more_noise(pair):
    pred, gt = pair
    assert ssim(pred, gt) == pytest.approx(ssim(gt, pred), abs=1e-12)
    noisier = np.clip(gt + np.random.default_rng(3).normal(0, 60, gt.shape), 0, 255).astype(np.uint8)
    assert ssim(noisier, gt) < ssim(pred, gt)


def test_ssim_refuses_frames_smaller_than_its_window():
    small = np.zeros((10, 30, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="at least 11x11"):
        ssim(small, small)
