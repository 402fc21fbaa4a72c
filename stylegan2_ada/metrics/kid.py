"""Kernel Inception Distance (Binkowski et al. 2018), as NVIDIA's kid50k_full computes it.

Unbiased MMD^2 with the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3, averaged over num_subsets
random subsets of m = min(N_real, N_gen, max_subset_size) rows drawn without replacement from each set.
"""

from __future__ import annotations

import numpy as np


def kernel_distance(
    real: np.ndarray,
    gen: np.ndarray,
    num_subsets: int = 100,
    max_subset_size: int = 1000,
    seed: int = 0,
) -> float:
    """KID between feature sets [N, D] (float64 arithmetic on the subsets)."""
    real = np.asarray(real, np.float64)
    gen = np.asarray(gen, np.float64)
    d = real.shape[1]
    m = min(real.shape[0], gen.shape[0], max_subset_size)
    if m < 2:
        raise ValueError("KID needs at least 2 items in each set")
    rng = np.random.default_rng(seed)
    total = 0.0
    for _ in range(num_subsets):
        x = gen[rng.choice(gen.shape[0], m, replace=False)]
        y = real[rng.choice(real.shape[0], m, replace=False)]
        within = (x @ x.T / d + 1) ** 3 + (y @ y.T / d + 1) ** 3
        across = (x @ y.T / d + 1) ** 3
        # Unbiased estimate: drop the diagonal of the within-set kernels.
        total += (within.sum() - np.trace(within)) / (m - 1) - across.sum() * 2 / m
    return float(total / num_subsets / m)
