"""Fréchet Inception Distance (Heusel et al. 2017), as NVIDIA's fid50k_full computes it.

FID = |mu_r - mu_g|^2 + trace(S_r + S_g - 2 sqrtm(S_g S_r)), with the biased (1/N) covariances of the
2048-d Inception pool features, every real image of the dataset (no mirroring) and 50k generated images.

trace(sqrtm(S1 S2)) is computed as the sum of square roots of the eigenvalues of R S2 R, R = S1^(1/2):
the same number as NVIDIA's scipy sqrtm of the product (S1 S2 is similar to R S2 R), but with symmetric
eigensolvers it takes seconds instead of a minute at 2048x2048 and stays real when covariances are
singular (fewer samples than features). The tests check it against scipy's sqrtm.
"""

from __future__ import annotations

import numpy as np


def _psd_sqrt(s: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(s)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """trace(sqrtm(sigma1 @ sigma2)) for symmetric positive semi-definite matrices."""
    r = _psd_sqrt(sigma1)
    m = r @ sigma2 @ r
    eig = np.linalg.eigvalsh((m + m.T) / 2)  # symmetrise away round-off
    return float(np.sqrt(np.clip(eig, 0, None)).sum())


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet distance between Gaussians N(mu1, sigma1) and N(mu2, sigma2) (float64)."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    mean_term = float(np.square(mu1 - mu2).sum())
    return mean_term + float(np.trace(sigma1) + np.trace(sigma2)) - 2 * trace_sqrt_product(sigma1, sigma2)


def fid_from_features(real: np.ndarray, gen: np.ndarray) -> float:
    """FID between two feature sets [N, D], using the same biased covariance as the metric.

    With no more rows than features the trace term is the nuclear norm of A B^T / sqrt(n_a n_b) (A, B the
    centred rows): the nonzero eigenvalues of S_a S_b are the squared singular values of that matrix.
    Exact, and much cheaper than 2048x2048 eigensolvers for small sets."""
    a = np.asarray(real, np.float64)
    b = np.asarray(gen, np.float64)
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    if max(a.shape[0], b.shape[0]) > a.shape[1]:
        cov_a = a.T @ a / a.shape[0] - np.outer(mu_a, mu_a)
        cov_b = b.T @ b / b.shape[0] - np.outer(mu_b, mu_b)
        return frechet_distance(mu_a, cov_a, mu_b, cov_b)
    ca, cb = a - mu_a, b - mu_b
    traces = np.square(ca).sum() / a.shape[0] + np.square(cb).sum() / b.shape[0]
    nuclear = np.linalg.svd(ca @ cb.T / np.sqrt(a.shape[0] * b.shape[0]), compute_uv=False).sum()
    return float(np.square(mu_a - mu_b).sum() + traces - 2 * nuclear)
