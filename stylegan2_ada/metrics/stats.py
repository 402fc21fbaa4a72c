"""Dataset feature statistics, cached on disk by dataset content, detector and options.

The key of a cache file is a sha256 over: the dataset's content fingerprint, the dataset options that
change which images are seen (xflip, max_size, resolution), the feature network's id (which includes its
file digest), what is kept (mean/cov or every row) and how many items. Changing any image changes the
fingerprint, so a stale file is never reused; files are .npz (no pickle) written atomically.

Fingerprints: for a zip, the member names, sizes and CRC-32 checksums from the zip directory (a content
checksum the zip already stores, so nothing is decompressed); for a folder, a sha256 of every file's
bytes, remembered for the process by (name, size, mtime) so repeated evaluations during training do not
re-read the images.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..atomic import atomic_write
from ..cache import STATS, subfolder
from .features import FeatureFn, FeatureStats, dataset_features

CACHE_FORMAT = "stylegan2_ada.metric-stats/1"
_folder_memo: dict[tuple[str, str], str] = {}


def _zip_fingerprint(path: Path) -> str:
    h = hashlib.sha256(b"zip\0")
    with zipfile.ZipFile(path) as zf:
        for info in sorted(zf.infolist(), key=lambda i: i.filename):
            h.update(f"{info.filename}\0{info.file_size}\0{info.CRC:08x}\n".encode())
    return h.hexdigest()


def _folder_fingerprint(path: Path) -> str:
    files = sorted(p for p in path.rglob("*") if p.is_file())
    listing = "\n".join(f"{p.relative_to(path).as_posix()}\0{p.stat().st_size}\0{p.stat().st_mtime_ns}" for p in files)
    memo_key = (str(path.resolve()), hashlib.sha256(listing.encode()).hexdigest())
    if memo_key not in _folder_memo:
        h = hashlib.sha256(b"folder\0")
        for p in files:
            h.update(p.relative_to(path).as_posix().encode() + b"\0")
            with open(p, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 22), b""):
                    h.update(chunk)
            h.update(b"\n")
        _folder_memo[memo_key] = h.hexdigest()
    return _folder_memo[memo_key]


def dataset_fingerprint(path: str | Path) -> str:
    """Content fingerprint of a dataset zip or folder (see the module docstring)."""
    path = Path(path)
    if path.is_dir():
        return _folder_fingerprint(path)
    if zipfile.is_zipfile(path):
        return _zip_fingerprint(path)
    raise FileNotFoundError(f"{path} is neither a dataset folder nor a zip")


def _dataset_options(dataset: Any) -> dict[str, Any]:
    # Which images (and how many, mirrored or not) the loader yields.
    return {
        "length": len(dataset),
        "resolution": int(getattr(dataset, "resolution", 0)),
        "xflip": bool(np.any(getattr(dataset, "_xflip", np.zeros(1)))),
    }


def stats_cache_path(
    dataset: Any,
    detector_id: str,
    options: dict[str, Any],
    cache: str | Path | None = None,
) -> Path:
    key = {
        "format": CACHE_FORMAT,
        "dataset": dataset_fingerprint(dataset.path),
        "dataset_options": _dataset_options(dataset),
        "detector": detector_id,
        "options": options,
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:32]
    name = getattr(dataset, "name", None) or Path(dataset.path).stem
    return subfolder(STATS, cache) / f"{name}-{detector_id}-{digest}.npz"


def cached_dataset_stats(
    dataset: Any,
    feature_fn: FeatureFn,
    detector_id: str,
    device: torch.device,
    capture_all: bool = False,
    capture_mean_cov: bool = False,
    max_items: int | None = None,
    cache: str | Path | None = None,
    use_cache: bool = True,
    batch_size: int = 64,
    num_gpus: int = 1,
    rank: int = 0,
    progress: bool = True,
) -> FeatureStats:
    """Feature stats of (up to max_items) dataset images, from the cache when the same were computed before."""
    num_items = len(dataset) if max_items is None else min(len(dataset), max_items)
    options = {"capture_all": capture_all, "capture_mean_cov": capture_mean_cov, "num_items": num_items}
    path = stats_cache_path(dataset, detector_id, options, cache) if use_cache else None
    found = path is not None and path.is_file()
    if num_gpus > 1:
        # Every rank must take the same branch (the compute branch gathers across ranks): rank 0 decides.
        flag = torch.tensor([float(found)], device=device)
        torch.distributed.broadcast(flag, src=0)
        found = bool(flag.item())
    if found:
        try:
            with np.load(path, allow_pickle=False) as data:
                return FeatureStats.from_arrays(dict(data))
        except (OSError, ValueError, KeyError):
            pass  # unreadable cache file: recompute and overwrite it
    stats = FeatureStats(capture_all=capture_all, capture_mean_cov=capture_mean_cov, max_items=num_items)
    dataset_features(
        dataset,
        feature_fn,
        stats,
        device,
        batch_size=batch_size,
        num_gpus=num_gpus,
        rank=rank,
        progress=progress,
        desc=f"dataset features ({detector_id.split('-')[0]})",
    )
    if path is not None and rank == 0:
        arrays = stats.to_arrays()

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)

        atomic_write(path, write)
    return stats

