"""Projection of a photo into a generator's latent space (W or W+), on the schedule of NVIDIA's projector.

The optimisation follows the published schedule: start from the mean w (of 10000 mapped latents drawn
from RandomState(123)), Adam (betas 0.9/0.999) on w and on the per-layer noise maps, learning rate 0.1
with a 5% cosine ramp-up and a 25% cosine ramp-down, Gaussian jitter on w of w_std * 0.05 that fades out
quadratically over the first 75% of the steps, and a noise regulariser (squared auto-correlation of each
noise map at every scale down to 8x8, weight 1e5), the maps renormalised to zero mean / unit variance
after each step. The distance is the squared LPIPS-feature difference (NVIDIA's vgg16.pt with
resize_images=False) of images area-downsampled to 256 when larger.

The feature network is any differentiable callable: float NCHW images in [0, 255] -> [N, D] features, so
tests can plug in a small random network.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import PIL.Image
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..atomic import atomic_write
from ..errors import UserError
from ..image_files import save_png, to_uint8
from .seeds import class_labels

LpipsFn = Callable[[torch.Tensor], torch.Tensor]
FEATURE_SIZE = 256  # images larger than this are area-downsampled before the feature network (VGG saw 224)


@dataclass(frozen=True)
class Schedule:
    """NVIDIA's projector hyper-parameters (their defaults)."""

    num_steps: int = 1000
    w_avg_samples: int = 10000
    initial_learning_rate: float = 0.1
    initial_noise_factor: float = 0.05
    lr_rampdown_length: float = 0.25
    lr_rampup_length: float = 0.05
    noise_ramp_length: float = 0.75
    regularize_noise_weight: float = 1e5


@dataclass
class Projection:
    """ws_steps: [num_steps, num_ws, w_dim], the w after each step; distances / losses per step."""

    ws_steps: torch.Tensor
    noise_maps: dict[str, torch.Tensor] = field(default_factory=dict)  # optimised noise_const buffers, by name
    distances: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)

    @property
    def w(self) -> torch.Tensor:
        """The final ws as [1, num_ws, w_dim] (the layout of projected_w.npz)."""
        return self.ws_steps[-1:]


def learning_rate(step: int, schedule: Schedule) -> float:
    """Cosine ramp-up over the first lr_rampup_length and ramp-down over the last lr_rampdown_length."""
    t = step / schedule.num_steps
    down = min(1.0, (1.0 - t) / schedule.lr_rampdown_length)
    ramp = 0.5 - 0.5 * math.cos(down * math.pi)
    ramp *= min(1.0, t / schedule.lr_rampup_length)
    return schedule.initial_learning_rate * ramp


def w_noise_scale(step: int, schedule: Schedule, w_std: float) -> float:
    t = step / schedule.num_steps
    return w_std * schedule.initial_noise_factor * max(0.0, 1.0 - t / schedule.noise_ramp_length) ** 2


def w_statistics(
    G: torch.nn.Module,
    num_samples: int,
    c: torch.Tensor | None,
    device: torch.device,
    batch: int = 2000,
) -> tuple[torch.Tensor, float]:
    """Mean w [1, 1, w_dim] and the scalar spread sqrt(sum |w - w_avg|^2 / N) of `num_samples` mapped
    latents from RandomState(123), as NVIDIA's projector computes them (untruncated, first w only)."""
    z_all = np.random.RandomState(123).randn(num_samples, G.z_dim)
    parts = []
    with torch.no_grad():
        for start in range(0, num_samples, batch):
            z = torch.from_numpy(z_all[start : start + batch]).to(device=device, dtype=torch.float32)
            cc = c.expand(len(z), -1) if c is not None else None
            parts.append(G.mapping(z, cc)[:, :1, :].to(torch.float64))
    w = torch.cat(parts)  # [N, 1, C]
    w_avg = w.mean(dim=0, keepdim=True)
    w_std = float(((w - w_avg).square().sum() / num_samples).sqrt())
    return w_avg.to(torch.float32), w_std


def noise_regularization(maps: list[torch.Tensor]) -> torch.Tensor:
    """Squared mean auto-correlation (one pixel right and down, wrapping) of each map, at every scale
    obtained by 2x average pooling down to 8x8: pushes the noise maps to stay white noise."""
    total = torch.zeros([], device=maps[0].device)
    for m in maps:
        x = m.reshape(1, 1, *m.shape[-2:])
        while True:
            total = total + (x * torch.roll(x, shifts=1, dims=3)).mean().square()
            total = total + (x * torch.roll(x, shifts=1, dims=2)).mean().square()
            if x.shape[2] <= 8:
                break
            x = F.avg_pool2d(x, kernel_size=2)
    return total


def _feature_input(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] or [0, 255] float images already scaled to [0, 255] -> RGB, at most 256x256 (area filter)."""
    if images.shape[1] == 1:
        images = images.repeat(1, 3, 1, 1)  # VGG wants RGB: grey is the same channel three times
    if images.shape[2] > FEATURE_SIZE:
        images = F.interpolate(images, size=(FEATURE_SIZE, FEATURE_SIZE), mode="area")
    return images


def project(
    G: torch.nn.Module,
    target: torch.Tensor,
    lpips_fn: LpipsFn,
    schedule: Schedule = Schedule(),
    w_plus: bool = False,
    class_idx: int | None = None,
    seed: int = 303,
    device: torch.device | str | None = None,
    progress: bool = True,
) -> Projection:
    """Optimises ws so that G.synthesis(ws, noise_mode='const') looks like `target`.

    target: uint8 (or float in [0, 255]) [C, H, W] at the generator's resolution. w_plus: one w per
    layer instead of one w shared by all layers. G itself is not changed (a copy's noise maps are
    optimised, and dropped afterwards, as NVIDIA's tool does: proj.png uses the network's own noise)."""
    if schedule.num_steps < 1:
        raise UserError(f"--num-steps={schedule.num_steps}: need at least 1 step")
    expected = (G.img_channels, G.img_resolution, G.img_resolution)
    if tuple(target.shape) != expected:
        raise UserError(f"target is {list(target.shape)}, the network needs {list(expected)} (CHW)")
    dev = torch.device(device) if device is not None else next(G.parameters()).device
    G = copy.deepcopy(G).eval().requires_grad_(False).to(dev)
    c = class_labels(G.c_dim, class_idx, 1)
    c = c.to(dev) if c is not None else None
    gen = torch.Generator(device=dev).manual_seed(int(seed))

    w_avg, w_std = w_statistics(G, schedule.w_avg_samples, c, dev)
    named_maps = {name: buf for name, buf in G.synthesis.named_buffers() if name.endswith("noise_const")}
    noise_maps = list(named_maps.values())

    target_images = _feature_input(target.to(dev, torch.float32).unsqueeze(0))
    with torch.no_grad():
        target_features = lpips_fn(target_images)

    start = w_avg.repeat(1, G.num_ws, 1) if w_plus else w_avg[:, 0]  # W+: [1, L, C]; W: [1, C]
    w_opt = start.clone().requires_grad_(True)
    for buf in noise_maps:
        buf.copy_(torch.randn(buf.shape, generator=gen, device=dev))
        buf.requires_grad_(True)
    optimizer = torch.optim.Adam([w_opt, *noise_maps], betas=(0.9, 0.999), lr=schedule.initial_learning_rate)

    ws_steps = torch.zeros([schedule.num_steps, G.num_ws, G.w_dim], dtype=torch.float32)
    result = Projection(ws_steps)
    # Batch of one: on CPUs the per-sample (unfused) modulated conv is several times faster than the grouped one.
    fused = None if dev.type == "cuda" else False
    bar = tqdm(range(schedule.num_steps), desc="projecting", unit="step", disable=not progress)
    for step in bar:
        lr = learning_rate(step, schedule)
        for group in optimizer.param_groups:
            group["lr"] = lr
        jitter = torch.randn(w_opt.shape, generator=gen, device=dev) * w_noise_scale(step, schedule, w_std)
        w = w_opt + jitter
        ws = w if w_plus else w.unsqueeze(1).repeat(1, G.num_ws, 1)
        synth = (G.synthesis(ws, noise_mode="const", half_dtype=None, fused_modconv=fused) + 1) * (255 / 2)
        dist = (target_features - lpips_fn(_feature_input(synth))).square().sum()
        loss = dist + noise_regularization(noise_maps) * schedule.regularize_noise_weight
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

        with torch.no_grad():
            final = w_opt.detach()
            ws_steps[step] = (final[0] if w_plus else final.repeat(G.num_ws, 1)).cpu()
            for buf in noise_maps:  # back to zero mean, unit variance
                buf -= buf.mean()
                buf *= buf.square().mean().rsqrt()
        result.distances.append(dist.item())
        result.losses.append(loss.item())
        bar.set_postfix(dist=f"{result.distances[-1]:.4g}", loss=f"{result.losses[-1]:.4g}")
    result.noise_maps = {name: buf.detach().cpu().clone() for name, buf in named_maps.items()}
    return result


# --- feature networks -------------------------------------------------------------------------------


def vgg16_lpips(
    device: torch.device | str = "cpu",
    path: str | Path | None = None,
) -> LpipsFn:
    """NVIDIA's vgg16.pt (found by the metrics detectors: path, $STYLEGAN2_ADA_VGG16, cache, URL) as a
    differentiable LPIPS-feature function."""
    from ..metrics.detectors import load_vgg16

    module = load_vgg16(device, path=path).module

    def features(images: torch.Tensor) -> torch.Tensor:
        # The detector's own lpips() runs without gradients; projection needs them, so call the module.
        return module(images, resize_images=False, return_lpips=True)

    return features


# --- targets and outputs ----------------------------------------------------------------------------


def load_target(
    path: str | Path,
    resolution: int,
    channels: int,
    align: bool = False,
    detector: str = "auto",
) -> np.ndarray:
    """The target photo as uint8 [H, W, C] at the network's size: centre crop to a square and Lanczos
    resize (NVIDIA's projector), or with `align` an FFHQ-aligned crop of its largest face."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"--target {path}: no such file")
    try:
        with PIL.Image.open(path) as img:
            rgb = img.convert("RGB")
    except (OSError, ValueError) as exc:
        raise UserError(f"--target {path}: not a readable image ({exc})") from None
    if align:
        from ..data.align import align_face
        from ..data.faces import make_detector, select_faces

        pixels = np.asarray(rgb)
        faces = select_faces(make_detector(detector).detect(pixels), "largest")
        if not faces:
            raise UserError(f"--align: no face found in {path}; project it without --align")
        face = faces[0]
        aligned = align_face(
            pixels,
            face.eye_left,
            face.eye_right,
            face.mouth_left,
            face.mouth_right,
            resolution,
        )
        rgb = PIL.Image.fromarray(aligned.pixels)
    else:
        w, h = rgb.size
        s = min(w, h)
        rgb = rgb.crop(((w - s) // 2, (h - s) // 2, (w + s) // 2, (h + s) // 2))
        rgb = rgb.resize((resolution, resolution), PIL.Image.Resampling.LANCZOS)
    if channels == 1:
        return np.asarray(rgb.convert("L"))[:, :, None]
    return np.asarray(rgb)


def save_ws_npz(ws: torch.Tensor | np.ndarray, path: str | Path) -> Path:
    """projected_w.npz as NVIDIA's projector writes it: key 'w', float32 [1, num_ws, w_dim]."""
    path = Path(path)
    array = np.asarray(
        ws.detach().cpu().numpy() if isinstance(ws, torch.Tensor) else ws,
        dtype=np.float32,
    )

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, w=array)

    atomic_write(path, write)
    return path


def render(G: torch.nn.Module, ws: torch.Tensor) -> np.ndarray:
    """uint8 [N, H, W, C] of ws with the network's own constant noise, fp32 (as `generate --projected-w`)."""
    dev = next(G.parameters()).device
    with torch.no_grad():
        return to_uint8(G.synthesis(ws.to(dev), noise_mode="const", half_dtype=None))


def _rgb(image: np.ndarray) -> np.ndarray:
    return np.repeat(image, 3, axis=2) if image.shape[2] == 1 else image


def write_video(
    G: torch.nn.Module,
    target: np.ndarray,
    ws_steps: torch.Tensor,
    path: str | Path,
    fps: int = 10,
    batch: int = 8,
    progress: bool = True,
) -> Path:
    """proj.mp4: one frame per step, target | projection side by side, H.264 through imageio-ffmpeg.
    Frames are rendered in batches and streamed to the encoder."""
    import imageio.v2 as imageio

    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    writer = imageio.get_writer(tmp, mode="I", fps=fps, codec="libx264", bitrate="16M", macro_block_size=1)
    try:
        left = _rgb(target)
        bar = tqdm(total=len(ws_steps), desc="video", unit="frame", disable=not progress)
        for start in range(0, len(ws_steps), batch):
            for frame in render(G, ws_steps[start : start + batch]):
                writer.append_data(np.concatenate([left, _rgb(frame)], axis=1))
            bar.update(min(batch, len(ws_steps) - start))
        bar.close()
    finally:
        writer.close()
    tmp.replace(path)
    return path


def run_projection(
    G: torch.nn.Module,
    target_path: str | Path,
    outdir: str | Path,
    lpips_fn: LpipsFn,
    schedule: Schedule = Schedule(),
    w_plus: bool = False,
    class_idx: int | None = None,
    seed: int = 303,
    save_video: bool = True,
    align: bool = False,
    progress: bool = True,
) -> dict[str, Path]:
    """Loads the target, projects it and writes target.png, proj.png, projected_w.npz (and proj.mp4)."""
    target = load_target(target_path, G.img_resolution, G.img_channels, align=align)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    result = project(
        G,
        torch.from_numpy(target.transpose(2, 0, 1).copy()),
        lpips_fn,
        schedule=schedule,
        w_plus=w_plus,
        class_idx=class_idx,
        seed=seed,
        progress=progress,
    )
    paths = {"target": save_png(target, outdir / "target.png")}
    if save_video:
        paths["video"] = write_video(G, target, result.ws_steps, outdir / "proj.mp4", progress=progress)
    paths["proj"] = save_png(render(G, result.w)[0], outdir / "proj.png")
    paths["w"] = save_ws_npz(result.w, outdir / "projected_w.npz")
    return paths
