"""FID and KID against independent float64 computations of the published formulas."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from stylegan2_ada.metrics.features import FeatureStats
from stylegan2_ada.metrics.fid import fid_from_features, frechet_distance
from stylegan2_ada.metrics.kid import kernel_distance


def _moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return x.mean(axis=0), np.cov(x, rowvar=False, bias=True)


def _fid_symmetric(mu1, s1, mu2, s2) -> float:
    # The same distance through the symmetric form trace((S1^1/2 S2 S1^1/2)^1/2), a different route.
    r1 = np.real(scipy.linalg.sqrtm(s1))
    inner = np.real(scipy.linalg.sqrtm(r1 @ s2 @ r1))
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(inner))


def _correlated(rng: np.random.Generator, n: int, d: int, scale: float = 1.0) -> np.ndarray:
    mix = rng.normal(size=[d, d]) * scale
    return rng.normal(size=[n, d]) @ mix + rng.normal(size=d)


def _fid_nvidia_form(mu1, s1, mu2, s2) -> float:
    # The published/NVIDIA expression: |mu1-mu2|^2 + tr(S1 + S2 - 2 sqrtm(S1 S2)), real part.
    root = scipy.linalg.sqrtm(s1 @ s2)
    return float(np.real(np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * root)))


def test_fid_matches_independent_formula():
    rng = np.random.default_rng(1)
    a = _correlated(rng, 400, 12)
    b = _correlated(rng, 300, 12, scale=0.7)
    expected = _fid_symmetric(*_moments(a), *_moments(b))
    assert expected > 1
    assert _fid_nvidia_form(*_moments(a), *_moments(b)) == pytest.approx(expected, rel=1e-9)
    assert fid_from_features(a, b) == pytest.approx(expected, rel=1e-6)
    assert frechet_distance(*_moments(b), *_moments(a)) == pytest.approx(expected, rel=1e-6)


def test_fid_with_fewer_samples_than_features():
    # Singular covariances (as in quick checks with few images): still the sqrtm value, and real.
    rng = np.random.default_rng(8)
    a, b = _correlated(rng, 10, 40), _correlated(rng, 12, 40, scale=0.5)
    expected = _fid_nvidia_form(*_moments(a), *_moments(b))
    assert fid_from_features(a, b) == pytest.approx(expected, rel=1e-5)  # low-rank route
    assert frechet_distance(*_moments(a), *_moments(b)) == pytest.approx(expected, rel=1e-5)  # covariance route


def test_fid_of_identical_sets_is_zero():
    rng = np.random.default_rng(2)
    a = _correlated(rng, 200, 16)
    assert abs(fid_from_features(a, a.copy())) < 1e-6
    few = _correlated(rng, 10, 40)  # fewer rows than features: the low-rank route
    assert abs(fid_from_features(few, few.copy())) < 1e-6


def test_fid_of_shifted_set_is_squared_shift():
    # Same covariance exactly: only the mean term remains, |v|^2.
    rng = np.random.default_rng(3)
    a = _correlated(rng, 300, 10)
    v = rng.normal(size=10) * 3
    assert fid_from_features(a, a + v) == pytest.approx(float(v @ v), rel=1e-6)


def test_fid_two_gaussians_closed_form():
    # Diagonal covariances commute: FID = |mu1-mu2|^2 + sum (sigma1 - sigma2)^2 with standard deviations.
    rng = np.random.default_rng(4)
    mu1, mu2 = rng.normal(size=8), rng.normal(size=8)
    sd1, sd2 = rng.uniform(0.5, 2, 8), rng.uniform(0.5, 2, 8)
    analytic = float(np.sum((mu1 - mu2) ** 2) + np.sum((sd1 - sd2) ** 2))
    assert frechet_distance(mu1, np.diag(sd1**2), mu2, np.diag(sd2**2)) == pytest.approx(analytic, rel=1e-9)
    # Samples of those Gaussians approach it.
    a = rng.normal(size=[200_000, 8]) * sd1 + mu1
    b = rng.normal(size=[200_000, 8]) * sd2 + mu2
    assert fid_from_features(a, b) == pytest.approx(analytic, rel=0.02, abs=0.01)


def test_feature_stats_moments_chunked():
    rng = np.random.default_rng(5)
    x = _correlated(rng, 250, 6).astype(np.float32)
    stats = FeatureStats(capture_all=True, capture_mean_cov=True, max_items=230)
    for chunk in np.array_split(x, 7):
        stats.append(chunk)
    assert stats.is_full() and stats.num_items == 230
    mean, cov = stats.get_mean_cov()
    ref_mean, ref_cov = _moments(x[:230].astype(np.float64))
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(cov, ref_cov, rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(stats.get_all(), x[:230])
    again = FeatureStats.from_arrays(stats.to_arrays())
    np.testing.assert_array_equal(again.get_mean_cov()[1], cov)


def _mmd2_unbiased_loops(x: np.ndarray, y: np.ndarray) -> float:
    """Binkowski et al.'s unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3, written out pair by pair."""
    m, d = x.shape

    def k(a, b):
        return (float(np.dot(a, b)) / d + 1) ** 3

    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return xx + yy - 2 * xy


def test_kid_matches_published_formula():
    # One subset as large as the sets: the subset is a permutation of the whole set, so the estimate is
    # exactly the unbiased MMD^2 of the two sets.
    rng = np.random.default_rng(6)
    real = rng.normal(size=[30, 5])
    gen = rng.normal(size=[30, 5]) * 1.3 + 0.4
    expected = _mmd2_unbiased_loops(gen, real)
    assert expected > 0
    assert kernel_distance(real, gen, num_subsets=1, max_subset_size=1000) == pytest.approx(expected, rel=1e-9)


def test_kid_identical_distribution_near_zero_and_shift_positive():
    rng = np.random.default_rng(7)
    real = rng.normal(size=[600, 16])
    same = rng.normal(size=[600, 16])
    shifted = rng.normal(size=[600, 16]) + 0.5
    kid_same = kernel_distance(real, same, num_subsets=8, max_subset_size=300)
    kid_shift = kernel_distance(real, shifted, num_subsets=8, max_subset_size=300)
    assert abs(kid_same) < 0.01
    assert kid_shift > 0.1
    # Seeded subsets: the same seed gives the same number.
    assert kernel_distance(real, shifted, num_subsets=8, max_subset_size=300) == kid_shift
