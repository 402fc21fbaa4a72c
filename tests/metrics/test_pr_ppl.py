"""Precision/recall and perceptual path length."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from stylegan2_ada.metrics.ppl import compute_ppl, filtered_mean, slerp
from stylegan2_ada.metrics.precision_recall import precision_recall


def test_precision_recall_of_a_set_against_itself_is_one():
    feats = torch.randn(300, 32, generator=torch.Generator().manual_seed(0))
    assert precision_recall(feats, feats.clone(), k=3, row_batch_size=70, col_batch_size=50) == (1.0, 1.0)


def test_precision_recall_far_apart_and_partial_overlap():
    g = torch.Generator().manual_seed(1)
    real = torch.randn(200, 16, generator=g)
    far = torch.randn(200, 16, generator=g) + 50
    assert precision_recall(real, far, k=3) == (0.0, 0.0)
    # Generated samples cover only the left half of a 2-D square: precision stays high, recall halves.
    square = torch.rand(400, 2, generator=g)
    left = square[square[:, 0] < 0.5] + 0.001 * torch.randn(int((square[:, 0] < 0.5).sum()), 2, generator=g)
    p, r = precision_recall(square, left, k=3)
    assert p > 0.95
    assert 0.4 < r < 0.65


def test_precision_recall_batching_does_not_change_the_result():
    g = torch.Generator().manual_seed(2)
    real, gen = torch.randn(150, 8, generator=g), torch.randn(120, 8, generator=g) * 1.5
    assert precision_recall(real, gen, 3, 1000, 1000) == precision_recall(real, gen, 3, 17, 23)


def test_filtered_mean_drops_the_tails():
    # NVIDIA's percentiles ('lower' 1st, 'higher' 99th): 5 outliers on each side of 1000 values go.
    values = np.concatenate([np.full(990, 2.0), np.full(5, 1e9), np.full(5, -1e9)])
    assert filtered_mean(values) == 2.0
    x = np.arange(1000, dtype=np.float64)
    lo, hi = np.percentile(x, 1, method="lower"), np.percentile(x, 99, method="higher")
    assert filtered_mean(x) == pytest.approx(x[(x >= lo) & (x <= hi)].mean())


def test_slerp_endpoints_unit_length():
    g = torch.Generator().manual_seed(3)
    a, b = torch.randn(4, 8, generator=g), torch.randn(4, 8, generator=g)
    torch.testing.assert_close(slerp(a, b, torch.zeros(4, 1)), a / a.norm(dim=1, keepdim=True))
    torch.testing.assert_close(slerp(a, b, torch.ones(4, 1)), b / b.norm(dim=1, keepdim=True), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(slerp(a, b, torch.full((4, 1), 0.3)).norm(dim=1), torch.ones(4))


@pytest.mark.parametrize("name", ["wend_full_image", "zfull_crop"])
def test_ppl_finite_and_seed_reproducible(small_vgg, make_generator, name):
    G = make_generator(resolution=16)
    space, sampling, crop = ("w", "end", False) if name == "wend_full_image" else ("z", "full", True)
    kw = {"num_samples": 24, "space": space, "sampling": sampling, "crop": crop, "batch_size": 8, "progress": False}
    dataset = [None]  # unconditional: labels are never drawn
    before = torch.random.get_rng_state()
    a = compute_ppl(G, dataset, small_vgg.lpips, torch.device("cpu"), seed=5, **kw)
    assert torch.equal(torch.random.get_rng_state(), before)  # the caller's RNG is left alone
    b = compute_ppl(G, dataset, small_vgg.lpips, torch.device("cpu"), seed=5, **kw)
    c = compute_ppl(G, dataset, small_vgg.lpips, torch.device("cpu"), seed=6, **kw)
    assert math.isfinite(a) and a > 0
    assert a == b
    assert a != c
    # G's own noise buffers are untouched (PPL re-draws them on a copy).
    assert all(torch.equal(p, q) for p, q in zip(G.state_dict().values(), make_generator(16).state_dict().values()))
