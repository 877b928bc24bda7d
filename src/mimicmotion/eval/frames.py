"""Frame metrics: PSNR and SSIM of two RGB uint8 frames of the same size.

PSNR: 10 log10(255^2 / MSE), the MSE taken over all pixels and the three channels on the 0..255
scale; identical frames give +inf.

SSIM (Wang et al. 2004): local statistics under an 11x11 Gaussian window (sigma 1.5, normalised
to sum 1), population (biased) variances, K1 = 0.01, K2 = 0.03, L = 255, averaged over the
positions where the window lies inside the image (MATLAB's `ssim_index` "valid" map; no
automatic down-sampling). `channels="rgb"` (default) averages the SSIM of R, G and B;
`channels="y"` uses the BT.601 luma Y = 0.299 R + 0.587 G + 0.114 B.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

PEAK = 255.0
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1, SSIM_K2 = 0.01, 0.03
SSIM_CHANNELS = ("rgb", "y")
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114])


def psnr(pred: np.ndarray, gt: np.ndarray) -> float:
    """PSNR in dB of two uint8 frames; +inf when they are identical."""
    _check_pair(pred, gt)
    mse = float(np.mean((pred.astype(np.float64) - gt.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(PEAK**2 / mse)


def ssim(pred: np.ndarray, gt: np.ndarray, channels: str = "rgb") -> float:
    """Mean SSIM of two uint8 frames (H, W, 3), both at least 11x11 pixels."""
    _check_pair(pred, gt)
    if min(pred.shape[:2]) < SSIM_WINDOW:
        raise ValueError(f"SSIM needs frames of at least {SSIM_WINDOW}x{SSIM_WINDOW}, got {pred.shape[:2]}")
    x, y = pred.astype(np.float64), gt.astype(np.float64)
    if channels == "y":
        return _ssim_plane(x @ LUMA_WEIGHTS, y @ LUMA_WEIGHTS)
    if channels == "rgb":
        return float(np.mean([_ssim_plane(x[..., c], y[..., c]) for c in range(x.shape[2])]))
    raise ValueError(f"SSIM channels must be one of {SSIM_CHANNELS}, got {channels!r}")


def _ssim_plane(x: np.ndarray, y: np.ndarray) -> float:
    c1, c2 = (SSIM_K1 * PEAK) ** 2, (SSIM_K2 * PEAK) ** 2

    def local_mean(image: np.ndarray) -> np.ndarray:
        # The border handling of the blur does not matter: the border is cropped below, leaving
        # only positions whose whole window lies inside the image.
        return cv2.GaussianBlur(image, (SSIM_WINDOW, SSIM_WINDOW), SSIM_SIGMA, borderType=cv2.BORDER_REFLECT)

    mu_x, mu_y = local_mean(x), local_mean(y)
    var_x = local_mean(x * x) - mu_x**2
    var_y = local_mean(y * y) - mu_y**2
    cov = local_mean(x * y) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    border = SSIM_WINDOW // 2
    return float(ssim_map[border:-border, border:-border].mean())


def _check_pair(pred: np.ndarray, gt: np.ndarray) -> None:
    if pred.shape != gt.shape:
        raise ValueError(f"frames differ in shape: {pred.shape} vs {gt.shape}")
    if pred.ndim != 3 or pred.shape[2] != 3:
        raise ValueError(f"expected RGB frames (H, W, 3), got {pred.shape}")
