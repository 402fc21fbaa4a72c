"""Perceptual path length (Karras et al. 2019), as NVIDIA's ppl2_wend / ppl_* compute it.

For each sample: two latents, a point t on the path between them (t = 0 for 'end' sampling, uniform for
'full') and a point epsilon further; both images are generated in fp32 with the same random per-layer
noise, optionally centre-cropped (faces: rows 3/8..7/8, columns 2/8..6/8), box-downsampled to 256 when
larger, and compared with the LPIPS feature distance of VGG16: squared distance / epsilon^2. The
result is the mean after dropping values below the 1st and above the 99th percentile.

The LPIPS network is any callable mapping float images in [0, 255] (NCHW) to [N, D] features, so tests
can plug in a small network; NVIDIA's is VGG16Detector.lpips.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import torch

from .features import _progress, check_distributed, gather_rows, random_labels

LpipsFn = Callable[[torch.Tensor], torch.Tensor]


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation of the directions of a and b (unit-length result)."""
    a = a / a.norm(dim=-1, keepdim=True)
    b = b / b.norm(dim=-1, keepdim=True)
    cos = (a * b).sum(dim=-1, keepdim=True)
    angle = t * torch.acos(cos)
    ortho = b - cos * a
    ortho = ortho / ortho.norm(dim=-1, keepdim=True)
    out = a * torch.cos(angle) + ortho * torch.sin(angle)
    return out / out.norm(dim=-1, keepdim=True)


def _randomize_noise(G: torch.nn.Module) -> None:
    for name, buf in G.named_buffers():
        if name.endswith(".noise_const"):
            buf.copy_(torch.randn_like(buf))


@torch.no_grad()
def path_length_batch(
    G: torch.nn.Module,
    c: torch.Tensor,
    lpips_fn: LpipsFn,
    epsilon: float = 1e-4,
    space: str = "w",
    sampling: str = "end",
    crop: bool = False,
) -> torch.Tensor:
    """One PPL value per label row of c (G is modified: its noise buffers are re-drawn)."""
    n = c.shape[0]
    device = c.device
    t = torch.rand([n], device=device) * (1.0 if sampling == "full" else 0.0)
    z0, z1 = torch.randn([n * 2, G.z_dim], device=device).chunk(2)
    if space == "w":
        w0, w1 = G.mapping(torch.cat([z0, z1]), torch.cat([c, c])).chunk(2)
        wt0 = w0.lerp(w1, t[:, None, None])
        wt1 = w0.lerp(w1, t[:, None, None] + epsilon)
    else:
        zt0 = slerp(z0, z1, t[:, None])
        zt1 = slerp(z0, z1, t[:, None] + epsilon)
        wt0, wt1 = G.mapping(torch.cat([zt0, zt1]), torch.cat([c, c])).chunk(2)
    _randomize_noise(G)
    img = G.synthesis(torch.cat([wt0, wt1]), noise_mode="const", half_dtype=None)  # fp32 throughout
    if crop:
        if img.shape[2] != img.shape[3]:
            raise ValueError("the PPL face crop needs square images")
        e = img.shape[2] // 8
        img = img[:, :, e * 3 : e * 7, e * 2 : e * 6]
    factor = G.img_resolution // 256
    if factor > 1:
        img = img.reshape(img.shape[0], img.shape[1], img.shape[2] // factor, factor, img.shape[3] // factor, factor)
        img = img.mean(dim=[3, 5])
    img = (img + 1) * (255 / 2)
    if img.shape[1] == 1:
        img = img.repeat(1, 3, 1, 1)
    f0, f1 = lpips_fn(img).float().chunk(2)
    return (f0 - f1).square().sum(dim=1) / epsilon**2


def filtered_mean(dist: np.ndarray) -> float:
    """Mean of the values between the 1st (lower) and 99th (higher) percentiles, inclusive."""
    lo = np.percentile(dist, 1, method="lower")
    hi = np.percentile(dist, 99, method="higher")
    return float(dist[(dist >= lo) & (dist <= hi)].mean())


def compute_ppl(
    G: torch.nn.Module,
    dataset: torch.utils.data.Dataset,
    lpips_fn: LpipsFn,
    device: torch.device,
    num_samples: int = 50000,
    epsilon: float = 1e-4,
    space: str = "w",
    sampling: str = "end",
    crop: bool = False,
    batch_size: int = 4,
    seed: int = 0,
    num_gpus: int = 1,
    rank: int = 0,
    progress: bool = True,
) -> float:
    """PPL over num_samples paths; deterministic for a seed, leaves the global RNG alone."""
    if space not in ("z", "w") or sampling not in ("full", "end"):
        raise ValueError(f"space must be z|w and sampling full|end, got {space!r}, {sampling!r}")
    check_distributed(num_gpus, rank)
    G = copy.deepcopy(G).eval().requires_grad_(False).to(device)
    rng = np.random.default_rng([seed, rank])
    dists = []
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed * 1009 + rank)
        with _progress(num_samples, "ppl sampling", progress and rank == 0) as bar:
            done = 0
            while done < num_samples:
                c = random_labels(dataset, batch_size, G.c_dim, rng).to(device)
                d = gather_rows(path_length_batch(G, c, lpips_fn, epsilon, space, sampling, crop), num_gpus)
                dists.append(d.cpu())
                step = min(d.shape[0], num_samples - done)
                done += step
                bar.update(step)
    dist = torch.cat(dists)[:num_samples].double().numpy()
    return filtered_mean(dist)
