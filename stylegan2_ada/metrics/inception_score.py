"""Inception Score (Salimans et al. 2016), as NVIDIA's is50k computes it.

IS = exp(E_x KL(p(y|x) || p(y))), per split of the generated images (10 splits), reported as the mean and
standard deviation over splits. p(y|x) is the Inception softmax without the output bias.
"""

from __future__ import annotations

import numpy as np


def inception_score(probs: np.ndarray, num_splits: int = 10) -> tuple[float, float]:
    probs = np.asarray(probs, np.float64)
    n = probs.shape[0]
    scores = []
    for i in range(num_splits):
        part = probs[i * n // num_splits : (i + 1) * n // num_splits]
        marginal = part.mean(axis=0, keepdims=True)
        kl = (part * (np.log(part) - np.log(marginal))).sum(axis=1).mean()
        scores.append(np.exp(kl))
    return float(np.mean(scores)), float(np.std(scores))
