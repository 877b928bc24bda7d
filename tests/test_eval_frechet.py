"""The Frechet distance and the running feature statistics against direct computations."""

import numpy as np
import pytest
from scipy import linalg

from mimicmotion.eval.frechet import FeatureStats, frechet_distance, frechet_distance_from_stats


def direct_frechet(mu1, sigma1, mu2, sigma2):
    """The textbook formula with a general matrix square root (scipy.linalg.sqrtm)."""
    covmean = linalg.sqrtm(sigma1 @ sigma2).real
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(sigma1 + sigma2 - 2 * covmean))


def random_gaussian(rng, dim):
    a = rng.normal(size=(dim, dim))
    return rng.normal(size=dim) * 3, a @ a.T + 0.1 * np.eye(dim)


@pytest.mark.parametrize("dim", [1, 3, 6])
def test_matches_the_formula_with_scipy_sqrtm(dim):
    rng = np.random.default_rng(dim)
    mu1, sigma1 = random_gaussian(rng, dim)
    mu2, sigma2 = random_gaussian(rng, dim)
    expected = direct_frechet(mu1, sigma1, mu2, sigma2)
    assert frechet_distance(mu1, sigma1, mu2, sigma2) == pytest.approx(expected, rel=1e-9, abs=1e-9)
    assert frechet_distance(mu2, sigma2, mu1, sigma1) == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_one_dimensional_gaussians_give_the_closed_form():
    # W2^2 between N(m1, s1^2) and N(m2, s2^2) is (m1 - m2)^2 + (s1 - s2)^2
    assert frechet_distance([1.0], [[4.0]], [-2.0], [[9.0]]) == pytest.approx(9.0 + 1.0)


def test_identical_statistics_give_zero():
    rng = np.random.default_rng(5)
    mu, sigma = random_gaussian(rng, 8)
    assert frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-9)


def test_singular_covariances_from_few_samples_stay_finite():
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(3, 10)), rng.normal(size=(4, 10)) + 1
    value = frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    assert np.isfinite(value) and value > 0
    sigma = np.cov(a, rowvar=False)
    same = frechet_distance(a.mean(0), sigma, a.mean(0), sigma)
    # The square roots of the round-off eigenvalues of the null space (~1e-16) are ~1e-8 each.
    assert same == pytest.approx(0.0, abs=1e-6 * np.trace(sigma))


def test_running_statistics_equal_numpy_mean_and_cov():
    rng = np.random.default_rng(7)
    features = rng.normal(size=(53, 5)) * [1, 2, 3, 4, 5] + 1000.0  # large common offset
    stats = FeatureStats()
    for start, stop in [(0, 1), (1, 20), (20, 21), (21, 53)]:  # uneven batches
        stats.update(features[start:stop])
    assert stats.count == 53
    np.testing.assert_allclose(stats.mean, features.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(stats.covariance, np.cov(features, rowvar=False), rtol=1e-9, atol=1e-9)


def test_distance_from_statistics_equals_distance_of_the_feature_sets():
    rng = np.random.default_rng(8)
    a, b = rng.normal(size=(40, 4)), rng.normal(size=(30, 4)) * 2 + 0.5
    sa, sb = FeatureStats(), FeatureStats()
    sa.update(a)
    sb.update(b)
    expected = direct_frechet(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    assert frechet_distance_from_stats(sa, sb) == pytest.approx(expected, rel=1e-9)


def test_covariance_needs_two_samples():
    stats = FeatureStats()
    stats.update(np.ones((1, 3)))
    with pytest.raises(ValueError, match="at least 2"):
        _ = stats.covariance
