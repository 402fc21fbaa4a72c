"""Metric names, the one entry point `compute_metric`, and `report_metric` (metric-<name>.jsonl lines).

Names follow NVIDIA's and any sample count can be asked for in the same pattern:
  fid{N}k_full, kid{N}k_full, pr{N}k{K}_full  against the whole dataset, unmirrored (fid50k_full, ...)
  fid{N}k, kid{N}k, pr{N}k{K}                 against N thousand real images (mirrored if the dataset is)
  is{N}k                                      Inception Score, 10 splits
  ppl2_wend                                   PPL in W at path endpoints on the full image
  ppl_zfull, ppl_wfull, ppl_zend, ppl_wend    PPL on the face crop (StyleGAN papers)
N may be fractional (fid0.5k_full = 500 generated images). `num_samples` overrides the generated count
(and the PPL sample count) of any metric, e.g. for quick checks.
"""

from __future__ import annotations

import inspect
import json
import math
import os
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..device import pick_device
from ..errors import UserError
from .detectors import InceptionDetector, load_inception, load_vgg16
from .features import FeatureStats, check_distributed, generator_features
from .fid import frechet_distance
from .inception_score import inception_score
from .kid import kernel_distance
from .ppl import compute_ppl
from .precision_recall import precision_recall
from .stats import cached_dataset_stats

PAPER_METRICS = ("fid50k_full", "kid50k_full", "pr50k3_full", "ppl2_wend", "is50k")
OTHER_METRICS = (
    "fid50k",
    "kid50k",
    "pr50k3",
    "ppl_zfull",
    "ppl_wfull",
    "ppl_zend",
    "ppl_wend",
    "fid10k_full",
    "kid10k_full",
)


@dataclass(frozen=True)
class MetricSpec:
    name: str
    kind: str  # fid | kid | pr | is | ppl
    num_gen: int
    max_real: int | None = None  # None: every dataset image
    full: bool = False  # *_full: whole dataset without mirroring
    k: int = 3  # precision/recall neighbourhood
    space: str = "w"
    sampling: str = "end"
    crop: bool = False


def _count(text: str) -> int:
    n = float(text) * 1000
    if n < 1 or n != math.floor(n):
        raise UserError(f"sample count {text}k is not a whole number of images")
    return int(n)


def parse_metric(name: str) -> MetricSpec:
    """MetricSpec for a metric name, or UserError listing the valid patterns."""
    num = r"(\d+(?:\.\d+)?)"
    if m := re.fullmatch(rf"(fid|kid){num}k(_full)?", name):
        kind, n, full = m.group(1), _count(m.group(2)), bool(m.group(3))
        max_real = (None if kind == "fid" else 1_000_000) if full else n
        return MetricSpec(name, kind, n, max_real, full)
    if m := re.fullmatch(rf"pr{num}k(\d+)(_full)?", name):
        n, full = _count(m.group(1)), bool(m.group(3))
        return MetricSpec(name, "pr", n, 200_000 if full else n, full, k=int(m.group(2)))
    if m := re.fullmatch(rf"is{num}k", name):
        return MetricSpec(name, "is", _count(m.group(1)), full=True)
    if m := re.fullmatch(r"ppl(2?)_([zw])(full|end)", name):
        return MetricSpec(name, "ppl", 50_000, space=m.group(2), sampling=m.group(3), crop=not m.group(1))
    raise UserError(
        f"unknown metric {name!r}: use {', '.join(PAPER_METRICS)}, {', '.join(OTHER_METRICS)}, "
        "or a pattern such as fid10k_full, kid2k_full, pr10k3_full, is10k"
    )


def is_valid_metric(name: str) -> bool:
    try:
        parse_metric(name)
    except UserError:
        return False
    return True


def list_metrics() -> list[str]:
    return list(PAPER_METRICS + OTHER_METRICS)


def format_time(seconds: float) -> str:
    """'12s', '3m 05s', '2h 04m 09s', '1d 03h 15m' (NVIDIA's total_time_str layout)."""
    s = int(np.rint(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h {s // 60 % 60:02d}m {s % 60:02d}s"
    return f"{s // 86400}d {s // 3600 % 24:02d}h {s // 60 % 60:02d}m"


def _make_dataset(dataset: Any, spec: MetricSpec, G: torch.nn.Module) -> Any:
    """The dataset a metric reads: the whole dataset for *_full (no max_size, no mirroring), like NVIDIA."""
    from ..data.dataset import DatasetError, ImageDataset

    if isinstance(dataset, (str, os.PathLike)):
        kwargs: dict[str, Any] = {"path": str(dataset)}
    elif isinstance(dataset, dict):
        # NVIDIA's training_set_kwargs also carry class_name and other loader-only keys.
        accepted = inspect.signature(ImageDataset).parameters
        kwargs = {k: v for k, v in dataset.items() if k in accepted}
    else:
        if spec.kind == "ppl":
            return dataset  # only its labels are used
        kwargs = {
            "path": dataset.path,
            "resolution": dataset.resolution,
            "use_labels": dataset.has_labels,
            "xflip": bool(np.any(getattr(dataset, "_xflip", np.zeros(1)))),
        }
    kwargs.setdefault("resolution", G.img_resolution)
    kwargs.setdefault("use_labels", G.c_dim > 0)
    if spec.kind != "ppl":
        kwargs["max_size"] = None
        if spec.full:
            kwargs["xflip"] = False
    try:
        return ImageDataset(**kwargs)
    except DatasetError as exc:
        raise UserError(str(exc)) from None
    except TypeError as exc:
        raise UserError(f"bad dataset options {sorted(kwargs)}: {exc}") from None


def _broadcast(value: float, num_gpus: int, device: torch.device) -> float:
    if num_gpus == 1:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device)
    torch.distributed.broadcast(t, src=0)
    return float(t.item())


def compute_metric(
    name: str,
    G: torch.nn.Module,
    dataset: Any,
    device: torch.device | str | None = None,
    num_gpus: int = 1,
    rank: int = 0,
    cache_dir: str | Path | None = None,
    *,
    num_samples: int | None = None,
    seed: int = 0,
    batch_size: int = 64,
    progress: bool = True,
    use_cache: bool = True,
    inception: InceptionDetector | None = None,
    vgg16: Any | None = None,
) -> dict[str, Any]:
    """Computes one metric of generator G against `dataset` (ImageDataset, its kwargs, or a path).

    Returns NVIDIA's result layout: {"results": {...}, "metric", "total_time", "total_time_str", "num_gpus"}.
    With num_gpus > 1, torch.distributed must be initialised; every rank calls this and gets the result.
    `inception` / `vgg16` replace the feature networks (any object with the same call conventions)."""
    spec = parse_metric(name)
    if num_samples is not None:
        if num_samples < 2:
            raise UserError("num_samples must be at least 2")
        spec = replace(spec, num_gen=int(num_samples))
    check_distributed(num_gpus, rank)
    device = pick_device(str(device) if device is not None else None)
    # The caller's random streams (training!) must not move: fork them for the whole computation.
    fork_devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=fork_devices):
        return _compute_metric(
            name, spec, G, dataset, device, num_gpus, cache_dir, seed, batch_size, progress, use_cache, inception, vgg16, rank
        )


def _compute_metric(
    name: str,
    spec: MetricSpec,
    G: torch.nn.Module,
    dataset: Any,
    device: torch.device,
    num_gpus: int,
    cache_dir: str | Path | None,
    seed: int,
    batch_size: int,
    progress: bool,
    use_cache: bool,
    inception: InceptionDetector | None,
    vgg16: Any | None,
    rank: int,
) -> dict[str, Any]:
    start = time.time()
    ds = _make_dataset(dataset, spec, G)
    common = {"device": device, "num_gpus": num_gpus, "rank": rank, "progress": progress}
    if spec.kind == "ppl":
        lpips = vgg16.lpips if vgg16 is not None else load_vgg16(device, cache=cache_dir).lpips
        value = compute_ppl(
            G,
            ds,
            lpips,
            num_samples=spec.num_gen,
            space=spec.space,
            sampling=spec.sampling,
            crop=spec.crop,
            seed=seed,
            **common,
        )
        results = {name: value}
    else:
        results = _feature_metric(name, spec, G, ds, cache_dir, seed, batch_size, use_cache, inception, vgg16, common)
    results = {k: _broadcast(v, num_gpus, device) for k, v in results.items()}
    total = time.time() - start
    return {
        "results": results,
        "metric": name,
        "total_time": total,
        "total_time_str": format_time(total),
        "num_gpus": num_gpus,
    }


def _feature_metric(
    name: str,
    spec: MetricSpec,
    G: torch.nn.Module,
    ds: Any,
    cache_dir: str | Path | None,
    seed: int,
    batch_size: int,
    use_cache: bool,
    inception: InceptionDetector | None,
    vgg16: Any | None,
    common: dict[str, Any],
) -> dict[str, float]:
    device = common["device"]
    if spec.kind == "pr":
        detector = vgg16 if vgg16 is not None else load_vgg16(device, cache=cache_dir)
        feature_fn = detector
    else:
        detector = inception if inception is not None else load_inception(device, cache=cache_dir)
        feature_fn = detector.probabilities if spec.kind == "is" else detector
    detector_id = getattr(detector, "cache_id", type(detector).__name__)
    keep_all = spec.kind in ("kid", "pr", "is")

    real = None
    if spec.kind != "is":
        real = cached_dataset_stats(
            ds,
            feature_fn,
            detector_id,
            capture_all=keep_all,
            capture_mean_cov=not keep_all,
            max_items=spec.max_real,
            cache=cache_dir,
            use_cache=use_cache,
            batch_size=batch_size,
            **common,
        )
    gen = FeatureStats(capture_all=keep_all, capture_mean_cov=not keep_all, max_items=spec.num_gen)
    generator_features(G, ds, feature_fn, gen, seed=seed, batch_size=batch_size, **common)
    if common["rank"] != 0:
        keys = {"pr": ("_precision", "_recall"), "is": ("_mean", "_std")}.get(spec.kind, ("",))
        return {name + k: float("nan") for k in keys}

    if spec.kind == "fid":
        return {name: frechet_distance(*gen.get_mean_cov(), *real.get_mean_cov())}
    if spec.kind == "kid":
        return {name: kernel_distance(real.get_all(), gen.get_all(), num_subsets=100, max_subset_size=1000, seed=seed)}
    if spec.kind == "pr":
        p, r = precision_recall(
            torch.from_numpy(real.get_all()).to(device),
            torch.from_numpy(gen.get_all()).to(device),
            k=spec.k,
        )
        return {f"{name}_precision": p, f"{name}_recall": r}
    mean, std = inception_score(gen.get_all(), num_splits=10)
    return {f"{name}_mean": mean, f"{name}_std": std}


def report_metric(
    result: dict[str, Any],
    run_dir: str | Path | None = None,
    snapshot_name: str | Path | None = None,
    echo: bool = True,
) -> str:
    """Appends the result to <run_dir>/metric-<name>.jsonl (when run_dir is a folder) in NVIDIA's layout;
    snapshot_pkl is the snapshot's path relative to run_dir. Returns the JSON line."""
    snapshot = None
    if snapshot_name is not None:
        snapshot = str(snapshot_name)
        if run_dir is not None:
            snapshot = os.path.relpath(snapshot, run_dir) if os.path.isabs(snapshot) else snapshot
    line = json.dumps(dict(result, snapshot_pkl=snapshot, timestamp=time.time()))
    if echo:
        print(line)
    if run_dir is not None and os.path.isdir(run_dir):
        with open(os.path.join(run_dir, f"metric-{result['metric']}.jsonl"), "a", encoding="utf-8") as f:
            f.write(line + "\n")
    return line
