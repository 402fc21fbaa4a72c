"""Synthetic dataset export: generated images as an NVIDIA-format dataset zip, with a manifest that
reproduces every image bit for bit.

Each image is (seed, class) rendered with a fixed truncation and noise mode, in fp32, in batches of a
recorded size. The manifest records all of that; ws.npz holds the ws in the zip's order (key 'w', the
layout of projected_w.npz, so `generate --projected-w` renders them too). `reproduce_images` renders
the manifest again, which is how the tests check the promise.

Optional filters, applied before writing (kept images keep their order):
- drop_memorized=f: drop the fraction f of images whose nearest training image is closest (tools.memorization);
- min_d_score=s: keep images whose discriminator logit D(image, c) is at least s (D from the snapshot).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..atomic import atomic_write
from ..errors import UserError
from .generate import _noise_maps, _seed_noise
from .images import to_uint8
from .seeds import check_seed, latents_for_seeds

# Modes that give the same picture every time (random noise would not).
EXPORT_NOISE_MODES = ("const", "none", "seed", "fixnoise")
MANIFEST_FORMAT = "stylegan2_ada-synthetic-dataset"
DATASET_NAME = "dataset.zip"


@dataclass(frozen=True)
class Item:
    seed: int
    class_idx: int | None


@dataclass(frozen=True)
class RenderSettings:
    truncation_psi: float = 1.0
    truncation_cutoff: int | None = None
    noise_mode: str = "const"
    batch_size: int = 16


def make_items(seeds: Sequence[int], classes: Sequence[int] | None, c_dim: int) -> list[Item]:
    """Every seed for every class (seed-major), or the seeds alone for an unconditional network."""
    seeds = [check_seed(s) for s in seeds]
    if not seeds:
        raise UserError("no seeds given: use --seeds like 0-999")
    if c_dim == 0:
        if classes:
            raise UserError("--class given but the network is unconditional; leave it out")
        return [Item(s, None) for s in seeds]
    if not classes:
        raise UserError(f"this network is conditional ({c_dim} classes): choose classes with --class=0-{c_dim - 1}")
    for c in classes:
        if not 0 <= c < c_dim:
            raise UserError(f"--class={c} is out of range: this network has classes 0..{c_dim - 1}")
    return [Item(s, c) for s in seeds for c in classes]


def _labels(items: Sequence[Item], c_dim: int, device: torch.device) -> torch.Tensor | None:
    if c_dim == 0:
        return None
    c = torch.zeros([len(items), c_dim], device=device)
    for row, item in enumerate(items):
        c[row, item.class_idx] = 1
    return c


def _check_settings(settings: RenderSettings) -> None:
    if settings.noise_mode not in EXPORT_NOISE_MODES:
        raise UserError(
            f"noise mode {settings.noise_mode!r} is not reproducible: choose one of {', '.join(EXPORT_NOISE_MODES)}"
        )
    if settings.batch_size < 1:
        raise UserError(f"--batch-size={settings.batch_size}: must be at least 1")


def _synthesize(G: torch.nn.Module, ws: torch.Tensor, seeds: Sequence[int], noise_mode: str) -> np.ndarray:
    net_mode = "const" if noise_mode in ("seed", "fixnoise") else noise_mode
    with _noise_maps(G, _seed_noise(G, list(seeds), noise_mode)):
        return to_uint8(G.synthesis(ws, noise_mode=net_mode, half_dtype=None))


def render_items(
    G: torch.nn.Module,
    items: Sequence[Item],
    settings: RenderSettings,
    progress: bool = True,
    desc: str = "rendering",
) -> Iterator[tuple[int, torch.Tensor, np.ndarray]]:
    """(start index, ws [n, num_ws, w_dim] float32 on CPU, uint8 [n, H, W, C]) per batch, fp32, eval mode."""
    _check_settings(settings)
    dev = next(G.parameters()).device
    was_training = G.training
    G.eval()
    bar = tqdm(total=len(items), unit="img", desc=desc, disable=not progress)
    try:
        with torch.inference_mode():
            for start in range(0, len(items), settings.batch_size):
                chunk = items[start : start + settings.batch_size]
                seeds = [it.seed for it in chunk]
                z = latents_for_seeds(seeds, G.z_dim).to(dev)
                ws = G.mapping(
                    z,
                    _labels(chunk, G.c_dim, dev),
                    truncation_psi=settings.truncation_psi,
                    truncation_cutoff=settings.truncation_cutoff,
                )
                yield start, ws.cpu(), _synthesize(G, ws, seeds, settings.noise_mode)
                bar.update(len(chunk))
    finally:
        bar.close()
        G.train(was_training)


def render_images(
    G: torch.nn.Module,
    items: Sequence[Item],
    settings: RenderSettings,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """All images uint8 [N, H, W, C] and ws float32 [N, num_ws, w_dim] of `items`, in memory."""
    images, ws = [], []
    for _, w, img in render_items(G, items, settings, progress):
        images.append(img)
        ws.append(w.numpy())
    return np.concatenate(images), np.concatenate(ws)


# --- filters ----------------------------------------------------------------------------------------


def discriminator_scores(
    D: torch.nn.Module,
    images: np.ndarray,
    items: Sequence[Item],
    c_dim: int,
    batch: int = 16,
) -> np.ndarray:
    """D's logit for each saved (uint8) image with its class label: higher = more real to D."""
    dev = next(D.parameters()).device
    out = []
    D.eval()
    with torch.inference_mode():
        for start in range(0, len(images), batch):
            x = torch.from_numpy(np.ascontiguousarray(images[start : start + batch].transpose(0, 3, 1, 2)))
            x = x.to(dev, torch.float32) / 127.5 - 1
            c = _labels(items[start : start + batch], c_dim, dev)
            if c is None:
                c = torch.zeros([len(x), 0], device=dev)
            out.append(D(x, c, half_dtype=None).reshape(-1).float().cpu().numpy())
    return np.concatenate(out)


def memorization_distances(
    images: np.ndarray,
    training_path: str | Path,
    feature_fn: Callable[[torch.Tensor], torch.Tensor],
    progress: bool = True,
) -> np.ndarray:
    """Distance of each image to its nearest training image (tools.memorization features)."""
    from .memorization import compute_features, load_image_set, nearest_neighbours

    _, training = load_image_set(training_path)
    gen_f = compute_features(images, feature_fn, progress=progress, desc="generated features")
    train_f = compute_features(training, feature_fn, progress=progress, desc="training features")
    return nearest_neighbours(gen_f, train_f)[1]


def keep_mask(
    num: int,
    memorization: np.ndarray | None = None,
    drop_fraction: float = 0.0,
    d_scores: np.ndarray | None = None,
    min_d_score: float | None = None,
) -> np.ndarray:
    """Boolean mask of images to keep: without the round(f*N) closest to training images, and with D >= s."""
    keep = np.ones(num, dtype=bool)
    if drop_fraction > 0:
        if memorization is None:
            raise ValueError("drop_fraction needs memorization distances")
        count = round(drop_fraction * num)
        order = np.argsort(memorization, kind="stable")  # closest first
        keep[order[:count]] = False
    if min_d_score is not None:
        if d_scores is None:
            raise ValueError("min_d_score needs discriminator scores")
        keep &= d_scores >= min_d_score
    return keep


# --- export -----------------------------------------------------------------------------------------


def file_sha256(path: str | Path) -> str | None:
    p = Path(path)
    if not p.is_file():
        return None
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def _write_json(path: Path, data: dict) -> None:
    text = json.dumps(data, indent=2)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def _write_ws(path: Path, ws: np.ndarray, items: Sequence[Item]) -> None:
    seeds = np.array([it.seed for it in items], dtype=np.int64)
    classes = np.array([-1 if it.class_idx is None else it.class_idx for it in items], dtype=np.int64)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, w=ws.astype(np.float32), seeds=seeds, classes=classes)

    atomic_write(path, write)


def export_dataset(
    G: torch.nn.Module,
    items: Sequence[Item],
    outdir: str | Path,
    settings: RenderSettings = RenderSettings(),
    network_source: str = "",
    drop_memorized: float = 0.0,
    training_data: str | Path | None = None,
    feature_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
    feature_name: str = "",
    min_d_score: float | None = None,
    D: torch.nn.Module | None = None,
    progress: bool = True,
) -> dict:
    """Writes outdir/dataset.zip, outdir/ws.npz and outdir/manifest.json; returns the manifest."""
    from ..data.dataset_writer import DatasetWriter

    _check_settings(settings)
    if not 0 <= drop_memorized < 1:
        raise UserError(f"--drop-memorized={drop_memorized}: give a fraction from 0 to below 1")
    if drop_memorized > 0 and (training_data is None or feature_fn is None):
        raise UserError("--drop-memorized needs the training data: add --data=DATASET")
    if min_d_score is not None and D is None:
        raise UserError("--min-d-score needs a discriminator: the network file has no D (use a training snapshot)")
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    items = list(items)

    # Pass 1 (only with filters): score every candidate, keep no images.
    mem = scores = None
    if drop_memorized > 0 or min_d_score is not None:
        images, _ = render_images(G, items, settings, progress)
        if drop_memorized > 0:
            mem = memorization_distances(images, training_data, feature_fn, progress)
        if min_d_score is not None:
            scores = discriminator_scores(D, images, items, G.c_dim, settings.batch_size)
        del images
    keep = keep_mask(len(items), mem, drop_memorized, scores, min_d_score)
    kept = [it for it, k in zip(items, keep) if k]
    if not kept:
        raise UserError("the filters removed every image; lower --min-d-score or --drop-memorized")

    # Pass 2: the images as they are written; this rendering (batches of the kept items) is the recipe.
    records: list[dict] = []
    ws_all: list[np.ndarray] = []
    kept_index = np.flatnonzero(keep)
    with DatasetWriter(str(outdir / DATASET_NAME), channels=G.img_channels) as writer:
        for start, ws, images in render_items(G, kept, settings, progress, desc="writing"):
            ws_all.append(ws.numpy())
            for j, image in enumerate(images):
                item = kept[start + j]
                name = writer.add(image, label=item.class_idx)
                source = int(kept_index[start + j])
                record = {
                    "file": name,
                    "seed": item.seed,
                    "class": item.class_idx,
                    "psi": settings.truncation_psi,
                }
                if mem is not None:
                    record["memorization_distance"] = float(mem[source])
                if scores is not None:
                    record["d_score"] = float(scores[source])
                records.append(record)
    ws_array = np.concatenate(ws_all)
    _write_ws(outdir / "ws.npz", ws_array, kept)

    config = G.cfg.to_dict() if hasattr(getattr(G, "cfg", None), "to_dict") else None
    manifest = {
        "format": MANIFEST_FORMAT,
        "version": 1,
        "dataset": DATASET_NAME,
        "ws_file": "ws.npz",
        "network": {
            "source": str(network_source),
            "sha256": file_sha256(network_source) if network_source else None,
        },
        "generator_config": config,
        "resolution": int(G.img_resolution),
        "channels": int(G.img_channels),
        "c_dim": int(G.c_dim),
        "truncation_psi": settings.truncation_psi,
        "truncation_cutoff": settings.truncation_cutoff,
        "noise_mode": settings.noise_mode,
        "batch_size": settings.batch_size,
        "precision": "fp32",
        "latent": "z = np.random.RandomState(seed).randn(1, z_dim), cast to float32",
        "filters": {
            "candidates": len(items),
            "kept": len(kept),
            "drop_memorized": drop_memorized,
            "memorization_features": feature_name if drop_memorized > 0 else None,
            "training_data": str(training_data) if drop_memorized > 0 else None,
            "min_d_score": min_d_score,
        },
        "images": records,
    }
    _write_json(outdir / "manifest.json", manifest)
    return manifest


# --- reproduction -----------------------------------------------------------------------------------


def load_manifest(outdir: str | Path) -> dict:
    path = Path(outdir) / "manifest.json"
    if not path.is_file():
        raise UserError(f"{path}: no manifest here; give the folder `stylegan2-ada export` wrote")
    manifest = json.loads(path.read_text())
    if manifest.get("format") != MANIFEST_FORMAT:
        raise UserError(f"{path} is not a synthetic dataset manifest")
    return manifest


def manifest_items(manifest: dict) -> list[Item]:
    return [Item(int(r["seed"]), r["class"]) for r in manifest["images"]]


def manifest_settings(manifest: dict) -> RenderSettings:
    return RenderSettings(
        truncation_psi=float(manifest["truncation_psi"]),
        truncation_cutoff=manifest["truncation_cutoff"],
        noise_mode=manifest["noise_mode"],
        batch_size=int(manifest["batch_size"]),
    )


def reproduce_images(G: torch.nn.Module, outdir: str | Path, from_ws: bool = False) -> np.ndarray:
    """Renders the manifest's images again: from the seeds (default) or from the saved ws.npz."""
    manifest = load_manifest(outdir)
    items = manifest_items(manifest)
    settings = manifest_settings(manifest)
    if not from_ws:
        return render_images(G, items, settings, progress=False)[0]
    with np.load(Path(outdir) / manifest["ws_file"]) as data:
        ws_all = torch.from_numpy(data["w"])
    dev = next(G.parameters()).device
    out = []
    with torch.inference_mode():
        for start in range(0, len(items), settings.batch_size):
            seeds = [it.seed for it in items[start : start + settings.batch_size]]
            ws = ws_all[start : start + settings.batch_size].to(dev)
            out.append(_synthesize(G.eval(), ws, seeds, settings.noise_mode))
    return np.concatenate(out)
