"""Running feature networks over a dataset or a generator, in batches, on one or several GPUs.

FeatureStats accumulates either every feature row (KID, precision/recall, IS) or float64 sums for the
mean and covariance (FID), so 50k x 2048 features never need to sit in memory for FID.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import torch
import torch.distributed as dist

from ..device import half_dtype_for
from ..errors import UserError

FeatureFn = Callable[[torch.Tensor], torch.Tensor]


class FeatureStats:
    """Feature rows (capture_all) and/or their float64 sums (capture_mean_cov), up to max_items rows."""

    def __init__(self, capture_all: bool = False, capture_mean_cov: bool = False, max_items: int | None = None) -> None:
        self.capture_all = capture_all
        self.capture_mean_cov = capture_mean_cov
        self.max_items = max_items
        self.num_items = 0
        self.num_features: int | None = None
        self._rows: list[np.ndarray] = []
        self.raw_sum: np.ndarray | None = None
        self.raw_outer: np.ndarray | None = None

    def is_full(self) -> bool:
        return self.max_items is not None and self.num_items >= self.max_items

    def append(self, x: np.ndarray | torch.Tensor) -> None:
        if isinstance(x, torch.Tensor):
            x = x.detach().cpu().numpy()
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 2:
            raise ValueError(f"features must be [N, D], got {x.shape}")
        if self.max_items is not None:
            x = x[: max(self.max_items - self.num_items, 0)]
        if x.shape[0] == 0:
            return
        if self.num_features is None:
            self.num_features = x.shape[1]
            if self.capture_mean_cov:
                self.raw_sum = np.zeros([x.shape[1]], np.float64)
                self.raw_outer = np.zeros([x.shape[1], x.shape[1]], np.float64)
        elif x.shape[1] != self.num_features:
            raise ValueError(f"feature size changed from {self.num_features} to {x.shape[1]}")
        self.num_items += x.shape[0]
        if self.capture_all:
            self._rows.append(x)
        if self.capture_mean_cov:
            x64 = x.astype(np.float64)
            self.raw_sum += x64.sum(axis=0)
            self.raw_outer += x64.T @ x64

    def get_all(self) -> np.ndarray:
        if not self.capture_all:
            raise RuntimeError("these stats did not keep the feature rows")
        if not self._rows:
            return np.zeros([0, self.num_features or 0], np.float32)
        if len(self._rows) > 1:
            self._rows = [np.concatenate(self._rows, axis=0)]
        return self._rows[0]

    def get_mean_cov(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and (biased, 1/N) covariance, the estimator NVIDIA's FID uses."""
        if not self.capture_mean_cov or self.raw_sum is None or self.raw_outer is None:
            raise RuntimeError("these stats did not accumulate mean and covariance")
        mean = self.raw_sum / self.num_items
        cov = self.raw_outer / self.num_items - np.outer(mean, mean)
        return mean, cov

    # npz, not pickle: a cache file can never run code.
    def to_arrays(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {
            "num_items": np.array(self.num_items),
            "capture_all": np.array(self.capture_all),
            "capture_mean_cov": np.array(self.capture_mean_cov),
        }
        if self.capture_all:
            out["features"] = self.get_all()
        if self.capture_mean_cov:
            out["raw_sum"] = self.raw_sum
            out["raw_outer"] = self.raw_outer
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> FeatureStats:
        stats = cls(capture_all=bool(arrays["capture_all"]), capture_mean_cov=bool(arrays["capture_mean_cov"]))
        stats.num_items = int(arrays["num_items"])
        if stats.capture_all:
            stats._rows = [np.asarray(arrays["features"], np.float32)]
            stats.num_features = stats._rows[0].shape[1]
        if stats.capture_mean_cov:
            stats.raw_sum = np.asarray(arrays["raw_sum"], np.float64)
            stats.raw_outer = np.asarray(arrays["raw_outer"], np.float64)
            stats.num_features = stats.raw_sum.shape[0]
        return stats


# --- multi-GPU --------------------------------------------------------------------------------------


def check_distributed(num_gpus: int, rank: int) -> None:
    if not 0 <= rank < num_gpus:
        raise ValueError(f"rank {rank} outside 0..{num_gpus - 1}")
    if num_gpus > 1 and not (dist.is_available() and dist.is_initialized()):
        raise UserError(f"num_gpus={num_gpus} needs torch.distributed to be initialised by the caller")


def gather_rows(x: torch.Tensor, num_gpus: int) -> torch.Tensor:
    """Every rank's rows interleaved (rank0 row0, rank1 row0, ...), on every rank; equal batch sizes."""
    if num_gpus == 1:
        return x
    parts = [torch.empty_like(x) for _ in range(num_gpus)]
    dist.all_gather(parts, x.contiguous())
    return torch.stack(parts, dim=1).flatten(0, 1)


def _progress(total: int, desc: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="img", disable=not enabled, dynamic_ncols=True, leave=False)


# --- dataset and generator loops --------------------------------------------------------------------


def dataset_features(
    dataset: torch.utils.data.Dataset,
    feature_fn: FeatureFn,
    stats: FeatureStats,
    device: torch.device,
    batch_size: int = 64,
    num_workers: int | None = None,
    num_gpus: int = 1,
    rank: int = 0,
    progress: bool = True,
    desc: str = "dataset features",
) -> FeatureStats:
    """Feeds the first min(len, max_items) dataset images (uint8) through feature_fn into stats."""
    check_distributed(num_gpus, rank)
    num_items = len(dataset) if stats.max_items is None else min(len(dataset), stats.max_items)
    if num_items == 0:
        raise UserError("the dataset is empty")
    # Equal-sized shares per rank (the last indices wrap around; stats.max_items drops the extras).
    per_rank = (num_items - 1) // num_gpus + 1
    indices = [(i * num_gpus + rank) % num_items for i in range(per_rank)]
    if num_workers is None:
        num_workers = min(3, max((torch.get_num_threads() or 1) - 1, 0)) if device.type == "cuda" else 0
    loader = torch.utils.data.DataLoader(
        dataset,
        sampler=indices,
        batch_size=batch_size,
        num_workers=num_workers,
        pin_memory=device.type == "cuda",
    )
    with _progress(num_items, desc, progress and rank == 0) as bar:
        for images, _labels in loader:
            features = feature_fn(images.to(device, non_blocking=True))
            features = gather_rows(features, num_gpus)
            before = stats.num_items
            stats.append(features)
            bar.update(stats.num_items - before)
            if stats.is_full():
                break
    return stats


def random_labels(dataset: torch.utils.data.Dataset, count: int, c_dim: int, rng: np.random.Generator) -> torch.Tensor:
    """Labels of randomly chosen dataset items (NVIDIA samples the real label distribution)."""
    if c_dim == 0:
        return torch.zeros([count, 0])
    idx = rng.integers(len(dataset), size=count)
    return torch.from_numpy(np.stack([dataset.get_label(int(i)) for i in idx]).astype(np.float32))


def generator_images_uint8(
    G: torch.nn.Module,
    z: torch.Tensor,
    c: torch.Tensor,
    half_dtype: torch.dtype | None,
) -> torch.Tensor:
    """G's images at truncation 1 with random noise, as uint8 (NVIDIA's `img * 127.5 + 128` rounding)."""
    img = G(z, c, noise_mode="random", half_dtype=half_dtype)
    return (img * 127.5 + 128).clamp(0, 255).to(torch.uint8)


def generator_features(
    G: torch.nn.Module,
    dataset: torch.utils.data.Dataset,
    feature_fn: FeatureFn,
    stats: FeatureStats,
    device: torch.device,
    seed: int = 0,
    batch_size: int = 64,
    batch_gen: int | None = None,
    precision: str = "auto",
    num_gpus: int = 1,
    rank: int = 0,
    progress: bool = True,
    desc: str = "generator features",
) -> FeatureStats:
    """Generates images with G until stats.max_items rows are collected; seeded, leaves the global RNG alone."""
    check_distributed(num_gpus, rank)
    if stats.max_items is None:
        raise ValueError("generator features need stats.max_items")
    # Generator sub-batches: 16 keeps 1024px fp16 inference within a few GB of GPU memory.
    batch_gen = batch_gen or min(batch_size, 16 if device.type == "cuda" else batch_size)
    G = copy.deepcopy(G).eval().requires_grad_(False).to(device)
    half_dtype = half_dtype_for(device, precision)
    rng = np.random.default_rng([seed, rank])
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), torch.no_grad():
        torch.manual_seed(seed * 1009 + rank)  # z and the per-layer noise inputs
        with _progress(stats.max_items, desc, progress and rank == 0) as bar:
            while not stats.is_full():
                # No bigger batch than still needed (split over the ranks), so small counts stay cheap.
                this_batch = min(batch_size, -(-(stats.max_items - stats.num_items) // num_gpus))
                images = []
                for start in range(0, this_batch, batch_gen):
                    n = min(batch_gen, this_batch - start)
                    z = torch.randn([n, G.z_dim], device=device)
                    c = random_labels(dataset, n, G.c_dim, rng).to(device)
                    images.append(generator_images_uint8(G, z, c, half_dtype))
                features = gather_rows(feature_fn(torch.cat(images)), num_gpus)
                before = stats.num_items
                stats.append(features)
                bar.update(stats.num_items - before)
    return stats
