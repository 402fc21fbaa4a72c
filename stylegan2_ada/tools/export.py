"""Synthetic dataset export: generated images as an NVIDIA-format dataset zip, with a manifest that
reproduces every image bit for bit.

Each image is (seed, class) rendered with a fixed truncation and noise mode, in fp32, in batches of a
recorded size. The manifest records all of that; ws.npz holds the ws in the zip's order (key 'w', the
layout of projected_w.npz, so `generate --projected-w` renders them too). `reproduce_images` renders
the manifest again, which is how the tests check the promise.

Optional filters, applied before writing (kept images keep their order):
- drop_memorized=f: drop the fraction f of images whose nearest training image is closest (metrics.memorization);
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
from ..image_files import to_uint8
from .render import RenderSettings, batches, eval_mode, noise_maps, place, seed_noise
from .seeds import check_seed, latents_for_seeds

FeatureFn = Callable[[torch.Tensor], torch.Tensor]

# Modes that give the same picture every time (random noise would not).
EXPORT_NOISE_MODES = ("const", "none", "seed", "fixnoise")
NOT_REPRODUCIBLE = "noise mode {mode!r} is not reproducible: choose one of {modes}"
# Export's defaults: batches of 16 (the batch size is part of the recipe the manifest records).
EXPORT_SETTINGS = RenderSettings(batch_size=16)
# Every export renders in fp32, so that the manifest's recipe gives the same bytes again.
EXPORT_PRECISIONS = ("auto", "fp32")
MANIFEST_FORMAT = "stylegan2_ada-synthetic-dataset"
DATASET_NAME = "dataset.zip"


@dataclass(frozen=True)
class Item:
    seed: int
    class_idx: int | None


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
    settings.check(EXPORT_NOISE_MODES, NOT_REPRODUCIBLE)
    if settings.precision not in EXPORT_PRECISIONS:
        raise UserError(f"precision {settings.precision!r}: export renders in fp32, so that the manifest reproduces it")
    if settings.class_idx is not None:
        raise ValueError("export takes each image's class from its Item: leave class_idx out of the settings")


def _synthesize(G: torch.nn.Module, ws: torch.Tensor, seeds: Sequence[int], settings: RenderSettings) -> np.ndarray:
    with noise_maps(G, seed_noise(G, list(seeds), settings.noise_mode)):
        return to_uint8(G.synthesis(ws, noise_mode=settings.network_noise_mode, half_dtype=None))


def render_items(
    G: torch.nn.Module,
    items: Sequence[Item],
    settings: RenderSettings,
    progress: bool = True,
    desc: str = "rendering",
) -> Iterator[tuple[int, torch.Tensor, np.ndarray]]:
    """(start index, ws [n, num_ws, w_dim] float32 on CPU, uint8 [n, H, W, C]) per batch, fp32, eval mode."""
    _check_settings(settings)
    G, dev = place(G, settings)
    with eval_mode(G), tqdm(total=len(items), unit="img", desc=desc, disable=not progress) as bar:
        for start, chunk in batches(items, settings.batch_size):
            seeds = [it.seed for it in chunk]
            z = latents_for_seeds(seeds, G.z_dim).to(dev)
            ws = G.mapping(
                z,
                _labels(chunk, G.c_dim, dev),
                truncation_psi=settings.truncation_psi,
                truncation_cutoff=settings.truncation_cutoff,
            )
            yield start, ws.cpu(), _synthesize(G, ws, seeds, settings)
            bar.update(len(chunk))


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
    feature_fn: FeatureFn,
    progress: bool = True,
) -> np.ndarray:
    """Distance of each image to its nearest training image (metrics.memorization features)."""
    # Imported here: the metrics load only when this filter is asked for.
    from ..metrics.memorization import compute_features, load_image_set, nearest_neighbours

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


@dataclass(frozen=True)
class _Filters:
    """export_dataset's filters: drop the fraction closest to training images, keep D logits >= min_d_score."""

    drop_memorized: float = 0.0
    training_data: str | Path | None = None
    feature_fn: FeatureFn | None = None
    feature_name: str = ""
    min_d_score: float | None = None
    D: torch.nn.Module | None = None

    @property
    def active(self) -> bool:
        return self.drop_memorized > 0 or self.min_d_score is not None

    def check(self) -> None:
        if not 0 <= self.drop_memorized < 1:
            raise UserError(f"--drop-memorized={self.drop_memorized}: give a fraction from 0 to below 1")
        if self.drop_memorized > 0 and (self.training_data is None or self.feature_fn is None):
            raise UserError("--drop-memorized needs the training data: add --data=DATASET")
        if self.min_d_score is not None and self.D is None:
            raise UserError("--min-d-score needs a discriminator: the network file has no D (use a training snapshot)")

    def to_manifest(self, candidates: int, kept: int) -> dict:
        memorized = self.drop_memorized > 0
        return {
            "candidates": candidates,
            "kept": kept,
            "drop_memorized": self.drop_memorized,
            "memorization_features": self.feature_name if memorized else None,
            "training_data": str(self.training_data) if memorized else None,
            "min_d_score": self.min_d_score,
        }


def export_dataset(
    G: torch.nn.Module,
    items: Sequence[Item],
    outdir: str | Path,
    settings: RenderSettings = EXPORT_SETTINGS,
    network_source: str = "",
    drop_memorized: float = 0.0,
    training_data: str | Path | None = None,
    feature_fn: FeatureFn | None = None,
    feature_name: str = "",
    min_d_score: float | None = None,
    D: torch.nn.Module | None = None,
    progress: bool = True,
) -> dict:
    """Writes outdir/dataset.zip, outdir/ws.npz and outdir/manifest.json; returns the manifest."""
    _check_settings(settings)
    filters = _Filters(drop_memorized, training_data, feature_fn, feature_name, min_d_score, D)
    filters.check()
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    items = list(items)

    mem, scores = _score_candidates(G, items, settings, filters, progress)
    keep = keep_mask(len(items), mem, drop_memorized, scores, min_d_score)
    kept = [it for it, k in zip(items, keep) if k]
    if not kept:
        raise UserError("the filters removed every image; lower --min-d-score or --drop-memorized")
    # The kept images' scores, in the order they are written.
    kept_mem = mem[keep] if mem is not None else None
    kept_scores = scores[keep] if scores is not None else None

    records, ws = _write_dataset(G, kept, outdir / DATASET_NAME, settings, kept_mem, kept_scores, progress)
    _write_ws(outdir / "ws.npz", ws, kept)
    manifest = {
        **_recipe(G, settings, network_source),
        "filters": filters.to_manifest(len(items), len(kept)),
        "images": records,
    }
    _write_json(outdir / "manifest.json", manifest)
    return manifest


def _score_candidates(
    G: torch.nn.Module,
    items: Sequence[Item],
    settings: RenderSettings,
    filters: _Filters,
    progress: bool,
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Pass 1 (only with filters): every candidate's memorisation distance and D score; no image is kept."""
    if not filters.active:
        return None, None
    images, _ = render_images(G, items, settings, progress)
    mem = scores = None
    if filters.drop_memorized > 0:
        mem = memorization_distances(images, filters.training_data, filters.feature_fn, progress)
    if filters.min_d_score is not None:
        scores = discriminator_scores(filters.D, images, items, G.c_dim, settings.batch_size)
    return mem, scores


def _write_dataset(
    G: torch.nn.Module,
    kept: Sequence[Item],
    path: Path,
    settings: RenderSettings,
    mem: np.ndarray | None,
    scores: np.ndarray | None,
    progress: bool,
) -> tuple[list[dict], np.ndarray]:
    """Pass 2: the images as they are written (this rendering, in batches of the kept items, is the recipe).
    Returns each image's manifest record and all the ws [N, num_ws, w_dim]."""
    from ..data.dataset_writer import DatasetWriter

    records: list[dict] = []
    ws_all: list[np.ndarray] = []
    with DatasetWriter(str(path), channels=G.img_channels) as writer:
        for start, ws, images in render_items(G, kept, settings, progress, desc="writing"):
            ws_all.append(ws.numpy())
            for j, image in enumerate(images):
                item = kept[start + j]
                record = {
                    "file": writer.add(image, label=item.class_idx),
                    "seed": item.seed,
                    "class": item.class_idx,
                    "psi": settings.truncation_psi,
                }
                if mem is not None:
                    record["memorization_distance"] = float(mem[start + j])
                if scores is not None:
                    record["d_score"] = float(scores[start + j])
                records.append(record)
    return records, np.concatenate(ws_all)


def _recipe(G: torch.nn.Module, settings: RenderSettings, network_source: str) -> dict:
    """The manifest's recipe: network, truncation, noise mode, batch size and precision."""
    config = G.cfg.to_dict() if hasattr(getattr(G, "cfg", None), "to_dict") else None
    return {
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
    }


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
        precision=manifest.get("precision", "fp32"),
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
    G, dev = place(G, settings)
    out = []
    with eval_mode(G):
        for start, chunk in batches(items, settings.batch_size):
            ws = ws_all[start : start + len(chunk)].to(dev)
            out.append(_synthesize(G, ws, [it.seed for it in chunk], settings))
    return np.concatenate(out)
