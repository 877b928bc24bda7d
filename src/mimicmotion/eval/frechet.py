"""The Frechet distance between two Gaussians fitted to feature sets (FID, FVD).

    d^2 = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2))

tr((S1 S2)^(1/2)) is computed as the sum of the square roots of the eigenvalues of the symmetric
positive semi-definite matrix S1^(1/2) S2 S1^(1/2), which has the same eigenvalues as S1 S2. This
needs only symmetric eigen-decompositions: faster than a general matrix square root on 2048x2048
covariances, never complex, and well defined for the singular covariances that small sample sets
give (tiny negative eigenvalues from round-off are clipped to 0).
"""

from __future__ import annotations

import numpy as np


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Squared Frechet distance between N(mu1, sigma1) and N(mu2, sigma2) (what FID reports)."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (mu1.size, mu1.size):
        raise ValueError(
            f"mismatched statistics: means {mu1.shape}, {mu2.shape}; "
            f"covariances {sigma1.shape}, {sigma2.shape}"
        )
    root1 = _psd_sqrt(sigma1)
    middle = root1 @ sigma2 @ root1
    eigenvalues = np.linalg.eigvalsh((middle + middle.T) / 2)
    trace_sqrt = float(np.sqrt(np.clip(eigenvalues, 0, None)).sum())
    difference = mu1 - mu2
    return float(difference @ difference + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt)


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    eigenvalues, eigenvectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (eigenvectors * np.sqrt(np.clip(eigenvalues, 0, None))) @ eigenvectors.T


class FeatureStats:
    """Running mean and covariance of feature vectors, so features need not be kept.

    Sums are taken in float64 around a shift (the first batch's mean), which keeps the
    covariance accurate when features have a large common offset.
    """

    def __init__(self) -> None:
        self.count = 0
        self._shift: np.ndarray | None = None
        self._sum: np.ndarray | None = None
        self._outer: np.ndarray | None = None

    def update(self, features: np.ndarray) -> None:
        """Add a batch of feature vectors (n, d)."""
        features = np.asarray(features, dtype=np.float64)
        if features.ndim != 2:
            raise ValueError(f"expected features (n, d), got {features.shape}")
        if features.shape[0] == 0:
            return
        if self._shift is None:
            self._shift = features.mean(axis=0)
            self._sum = np.zeros_like(self._shift)
            self._outer = np.zeros((features.shape[1], features.shape[1]))
        centred = features - self._shift
        self._sum += centred.sum(axis=0)
        self._outer += centred.T @ centred
        self.count += features.shape[0]

    @property
    def mean(self) -> np.ndarray:
        self._require(1)
        return self._shift + self._sum / self.count

    @property
    def covariance(self) -> np.ndarray:
        """Sample covariance (divided by n - 1, as numpy.cov and the FID reference code do)."""
        self._require(2)
        offset = self._sum / self.count
        return (self._outer - self.count * np.outer(offset, offset)) / (self.count - 1)

    def _require(self, count: int) -> None:
        if self.count < count:
            raise ValueError(f"need at least {count} feature vectors, have {self.count}")


def frechet_distance_from_stats(a: FeatureStats, b: FeatureStats) -> float:
    return frechet_distance(a.mean, a.covariance, b.mean, b.covariance)
