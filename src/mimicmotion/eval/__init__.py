"""Evaluation: frame metrics (PSNR, SSIM), distribution metrics (FID-VID, FVD), temporal metrics
(frame differences, boundary flicker) and pictures (Y-T slices, frame-difference strips).

Submodules are imported explicitly (`from mimicmotion.eval.temporal import ...`); importing this
package loads nothing heavy, so torch is only imported where a feature extractor is used.
"""

# The metric names, here so that the command line can list them without importing the metrics.
METRICS = ("psnr", "ssim", "lpips", "fid-vid", "fvd", "temporal")
DEFAULT_METRICS = ("fid-vid", "fvd", "ssim", "psnr", "temporal")
