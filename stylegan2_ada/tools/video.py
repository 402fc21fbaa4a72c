"""Interpolation videos: walks through z or w between seeds or saved latents, loops, truncation traversals.

A walk is a function of a phase t in [0, 1] sampled at the frames; closed walks (noiseloop, circularloop,
and linear/slerp with loop=True) have path(1) == path(0), so their frames use t = i / frames and the
video repeats without a seam or a doubled frame. Open walks use t = i / (frames - 1) and end on the
last keypoint. Frames are rendered in batches and streamed to the encoder (MP4 through the ffmpeg that
imageio-ffmpeg ships, H.264 yuv420p) or collected for Pillow (GIF); PNG frames only when asked for.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from tqdm import tqdm

from ..atomic import atomic_write, disk_full_error
from ..errors import UserError
from ..image_files import save_png, to_pil, to_uint8
from .render import (
    DRAWN_NOISE_MODES,
    NETWORK_NOISE_MODES,
    RenderOptions,
    RenderSettings,
    batches,
    eval_mode,
    network_device,
    noise_maps,
    place,
    render_settings,
    shared_noise,
)
from .seeds import check_seed, class_labels, latents_for_seeds

if TYPE_CHECKING:
    from typing_extensions import Unpack

WALKS = ("linear", "slerp", "noiseloop", "circularloop")
SPACES = ("z", "w")
VIDEO_NOISE_MODES = NETWORK_NOISE_MODES + DRAWN_NOISE_MODES[::-1]
FORMATS = ("mp4", "gif")

EASINGS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": lambda t: t,
    "smoothstep": lambda t: t * t * (3 - 2 * t),
    "cosine": lambda t: 0.5 - 0.5 * np.cos(np.pi * t),
    "cubic": lambda t: np.where(t < 0.5, 4 * t**3, 1 - 4 * (1 - t) ** 3),
}


# ---------------------------------------------------------------------------------------------------------
# Paths through latent space (numpy float64; no network needed).


def phases(frames: int, closed: bool) -> np.ndarray:
    """Frame phases in [0, 1]: i / frames for closed walks (t = 1 would repeat frame 0), else i / (frames - 1)."""
    if frames < 1:
        raise UserError(f"--frames={frames}: a video needs at least one frame")
    if closed:
        return np.arange(frames, dtype=np.float64) / frames
    return np.linspace(0.0, 1.0, frames) if frames > 1 else np.zeros(1)


def ease(t: np.ndarray, name: str) -> np.ndarray:
    if name not in EASINGS:
        raise UserError(f"easing {name!r} unknown: choose one of {', '.join(EASINGS)}")
    return EASINGS[name](np.asarray(t, dtype=np.float64))


def lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """a + (b - a) t for each t: [T, *a.shape]."""
    t = np.asarray(t, dtype=np.float64).reshape([-1] + [1] * a.ndim)
    return a[None] + (b - a)[None] * t


def slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Spherical interpolation of the vectors along the last axis (one angle per vector, so each w layer
    turns on its own): [T, *a.shape]. Where a and b are (anti)parallel it falls back to lerp."""
    t = np.asarray(t, dtype=np.float64).reshape([-1] + [1] * a.ndim)
    na = np.linalg.norm(a, axis=-1, keepdims=True)
    nb = np.linalg.norm(b, axis=-1, keepdims=True)
    cos = np.clip(np.sum(a * b, axis=-1, keepdims=True) / np.maximum(na * nb, 1e-30), -1.0, 1.0)
    omega = np.arccos(cos)[None]
    sin = np.sin(omega)
    safe = sin > 1e-7
    s = np.where(safe, sin, 1.0)
    wa = np.where(safe, np.sin((1 - t) * omega) / s, 1 - t)
    wb = np.where(safe, np.sin(t * omega) / s, t)
    return wa * a[None] + wb * b[None]


def keyframe_walk(
    keys: np.ndarray,
    t: np.ndarray,
    kind: str = "linear",
    easing: str = "linear",
    closed: bool = False,
) -> np.ndarray:
    """Through keypoints keys [K, ...] at phases t: K - 1 segments (K with `closed`, the last one back to
    the first), each eased. One keypoint: a still picture."""
    if kind not in ("linear", "slerp"):
        raise ValueError(kind)
    keys = np.asarray(keys, dtype=np.float64)
    num = len(keys)
    if num == 0:
        raise UserError("a walk needs at least one latent (seeds or a latent file)")
    if num == 1:
        return np.repeat(keys[:1], len(t), axis=0)
    segments = num if closed else num - 1
    u = np.asarray(t, dtype=np.float64) * segments
    seg = np.minimum(np.floor(u).astype(np.int64), segments - 1)
    local = ease(u - seg, easing)
    out = np.empty((len(u),) + keys.shape[1:])
    step = lerp if kind == "linear" else slerp
    for s in np.unique(seg):
        idx = np.nonzero(seg == s)[0]
        out[idx] = step(keys[s], keys[(s + 1) % num], local[idx])
    return out


def noise_loop(
    frames: int,
    shape: Sequence[int],
    diameter: float = 2.0,
    seed: int = 0,
    index: np.ndarray | None = None,
) -> np.ndarray:
    """dvschultz's noiseloop: every element walks once round a circle in its own 2D OpenSimplex noise field.

    Element i reads the field OpenSimplex(seed + i) (package `opensimplex`; its 0.3 noise2d and 0.4 noise2 give
    the same values) on the circle of diameter `diameter` centred at (diameter/2, diameter/2); frame f sits at
    the angle f * (2 pi / frames). The noise values (within about +-0.87) are the z as they are: the mapping
    network normalises z, so their scale does not change the picture. A larger diameter crosses more of the
    field: a livelier loop.

    index: frame positions (default 0 .. frames - 1; fractional ones lie between frames). They are taken modulo
    `frames`, so frame `frames` is frame 0 exactly. Returns [len(index), *shape] float64."""
    if frames < 1:
        raise UserError(f"--frames={frames}: a video needs at least one frame")
    if diameter <= 0:
        raise UserError(f"--diameter={diameter}: must be positive")
    try:
        from opensimplex import OpenSimplex  # only this walk needs it
    except ImportError as exc:
        raise UserError("the noiseloop walk needs the opensimplex package: pip install opensimplex==0.4.5.1") from exc
    check_seed(seed)
    pos = np.arange(frames) if index is None else np.asarray(index)
    # Same operations and order as dvschultz (angle = f * (2 pi / frames), then cos/sin mapped from [-1, 1]
    # to [0, diameter]), so our z equal theirs bit for bit.
    angle = (np.pi * 2 / frames) * np.mod(pos, frames)
    xs = [float(v) for v in diameter * ((np.cos(angle) + 1) / 2)]
    ys = [float(v) for v in diameter * ((np.sin(angle) + 1) / 2)]
    size = int(np.prod(shape))
    out = np.empty((size, len(xs)))
    # One scalar call per element and frame: about 10 us each in pure Python (240 frames x 512 in ~2 s);
    # the package's noise2array evaluates a whole x-by-y grid, which a circle does not need.
    bar = tqdm(range(size), desc="noise loop", unit="element", leave=False, disable=size * len(xs) < 100_000)
    for i in bar:
        noise = OpenSimplex(seed + i).noise2
        out[i] = [noise(x, y) for x, y in zip(xs, ys)]
    return out.T.reshape((len(xs),) + tuple(shape))


def circular_loop(t: np.ndarray, center: np.ndarray, a: np.ndarray, b: np.ndarray, radius: float) -> np.ndarray:
    """A circle of `radius` around `center` in the plane through center, a and b (dvschultz's
    circularloop, with the two axes made orthonormal so that the path is a true circle)."""
    e1 = (center - a).ravel()
    e1 = e1 / max(np.linalg.norm(e1), 1e-30)
    e2 = (center - b).ravel()
    e2 = e2 - np.dot(e2, e1) * e1
    e2 = e2 / max(np.linalg.norm(e2), 1e-30)
    angle = 2 * np.pi * np.asarray(t, dtype=np.float64)[:, None]
    out = center.ravel()[None] + radius * (np.sin(angle) * e1[None] + np.cos(angle) * e2[None])
    return out.reshape((len(angle),) + center.shape)


def smoothed_random_loop(
    seeds: Sequence[int],
    frames: int,
    z_dim: int,
    sigma: float,
    cells: int | None = None,
) -> np.ndarray:
    """dvschultz's lerp-video latents [frames, cells, z_dim]: white noise in time, blurred by a Gaussian of
    `sigma` frames with wrap-around (so the loop closes), then scaled to unit RMS.

    Several seeds: one walk per seed, RandomState(seed).randn(frames, z_dim). One seed and `cells`:
    RandomState(seed).randn(frames, cells, z_dim)."""
    from scipy.ndimage import gaussian_filter1d  # only this walk needs it

    if cells is None:
        raw = np.stack([np.random.RandomState(check_seed(s)).randn(frames, z_dim).astype(np.float32) for s in seeds], 1)
    else:
        if len(seeds) != 1:
            raise UserError("give either one seed with --grid-w/--grid-h, or a list of seeds without them")
        raw = np.random.RandomState(check_seed(seeds[0])).randn(frames, cells, z_dim).astype(np.float32)
    smooth = gaussian_filter1d(raw, sigma, axis=0, mode="wrap")
    return smooth / np.sqrt(np.mean(np.square(smooth)))


def double_frames(latents: np.ndarray) -> np.ndarray:
    """Twice the frames: the old ones at even places, midpoints between neighbours at odd places (the last
    between the last frame and the first, the loop being closed): dvschultz's --slowdown step."""
    out = np.empty((2 * len(latents),) + latents.shape[1:], dtype=latents.dtype)
    out[0::2] = latents
    out[1::2] = (latents + np.roll(latents, -1, axis=0)) / 2
    return out


# ---------------------------------------------------------------------------------------------------------
# Latents from seeds and files.


@dataclasses.dataclass
class Walk:
    """What to walk through: the kind, the space, keypoint seeds or latents, and the loop options."""

    kind: str = "linear"
    space: str = "z"
    seeds: list[int] | None = None
    latents: np.ndarray | None = None  # z [K, z_dim] or ws [K, num_ws, w_dim]
    easing: str = "linear"
    loop: bool = False
    diameter: float = 2.0
    start_seed: int = 0

    @property
    def closed(self) -> bool:
        return self.kind in ("noiseloop", "circularloop") or self.loop


def load_latents(paths: Sequence[str | Path], z_dim: int, num_ws: int, w_dim: int) -> tuple[str, np.ndarray]:
    """('z', [K, z_dim]) or ('w', [K, num_ws, w_dim]) from .npy/.npz files (npz keys w, dlatents or z);
    every row of every file is one keypoint, in the order given."""
    found: list[tuple[str, np.ndarray]] = []
    for p in map(Path, paths):
        if not p.is_file():
            raise UserError(f"{p}: no such latent file (.npy or .npz with 'w', 'dlatents' or 'z')")
        try:
            data = np.load(p, allow_pickle=False)
            if isinstance(data, np.lib.npyio.NpzFile):
                with data:
                    key = next((k for k in ("w", "dlatents", "z") if k in data.files), None)
                    if key is None:
                        raise UserError(f"{p}: no array 'w', 'dlatents' or 'z' (found {', '.join(data.files)})")
                    arr = np.asarray(data[key])
            else:
                arr = np.asarray(data)
        except (ValueError, OSError) as exc:
            raise UserError(f"{p}: not a readable .npy/.npz file ({exc})") from exc
        if arr.ndim >= 2 and tuple(arr.shape[-2:]) == (num_ws, w_dim):
            found.append(("w", arr.reshape(-1, num_ws, w_dim)))
        elif arr.shape[-1:] == (z_dim,) and arr.ndim <= 2:
            found.append(("z", arr.reshape(-1, z_dim)))
        else:
            raise UserError(
                f"{p}: shape {list(arr.shape)} is neither z [N, {z_dim}] nor ws [N, {num_ws}, {w_dim}] of this network"
            )
    spaces = {s for s, _ in found}
    if len(spaces) != 1:
        raise UserError("the latent files mix z and w latents: give files of one kind")
    space = spaces.pop()
    return space, np.concatenate([a for _, a in found]).astype(np.float64)


def map_to_w(G: torch.nn.Module, z: np.ndarray, settings: RenderSettings) -> np.ndarray:
    """ws [K, num_ws, w_dim] of the z [K, z_dim], with the settings' truncation and class, on their device
    (float64 for the interpolation)."""
    device = network_device(G, settings.device)
    label = class_labels(G.c_dim, settings.class_idx, len(z))
    with eval_mode(G):
        ws = G.mapping(
            torch.as_tensor(z, dtype=torch.float32, device=device),
            label.to(device) if label is not None else None,
            truncation_psi=settings.truncation_psi,
            truncation_cutoff=settings.truncation_cutoff,
        )
    return ws.cpu().double().numpy()


def walk_latents(
    G: torch.nn.Module,
    walk: Walk,
    frames: int,
    settings: RenderSettings | None = None,
    **options: Unpack[RenderOptions],
) -> tuple[str, np.ndarray]:
    """The walk's latent at every frame: ('z', [F, z_dim]) to be mapped with truncation per frame, or
    ('w', [F, num_ws, w_dim]) already truncated, to go straight to the synthesis network.

    Of the settings, truncation, class and device apply (to keypoints mapped to w)."""
    if walk.kind not in WALKS:
        raise UserError(f"walk {walk.kind!r} unknown: choose one of {', '.join(WALKS)}")
    if walk.space not in SPACES:
        raise UserError(f"space {walk.space!r} unknown: choose z or w")
    settings = render_settings(settings, **options)
    # Resolved once: an unusable device fails here, before any work.
    settings = dataclasses.replace(settings, device=network_device(G, settings.device))
    t = phases(frames, walk.closed)

    if walk.kind == "noiseloop":
        if walk.space == "w" or walk.latents is not None:
            raise UserError("noiseloop walks z (OpenSimplex noise per z element): use --space=z and no latent files")
        return "z", noise_loop(frames, [G.z_dim], walk.diameter, walk.start_seed)

    # Keypoints, in the walk's space.
    if walk.latents is not None:
        if walk.seeds:
            raise UserError("give either seeds or latent files, not both")
        latent_space, keys = load_latents_array(walk.latents, G)
    elif walk.seeds:
        latent_space, keys = (
            "z",
            latents_for_seeds(walk.seeds, G.z_dim).double().numpy(),
        )
    elif walk.kind == "circularloop":
        latent_space, keys = "z", np.zeros([0, G.z_dim])
    else:
        raise UserError("this walk needs keypoints: give --seeds (e.g. 1,2,3) or latent files")
    if walk.kind == "circularloop" and len(keys) < 3:
        # dvschultz draws the centre and the two axis points at random; ours come from --start_seed.
        extra = np.random.RandomState(check_seed(walk.start_seed)).randn(3 - len(keys), G.z_dim)
        if latent_space == "w":
            extra = map_to_w(G, extra, settings)
        keys = np.concatenate([keys, extra])
    if walk.space == "w" and latent_space == "z":
        keys = map_to_w(G, keys, settings)
        latent_space = "w"
    elif walk.space == "z" and latent_space == "w":
        raise UserError("the latents are ws: walk them with --space=w (a w cannot be turned back into z)")

    if walk.kind == "circularloop":
        path = circular_loop(t, keys[0], keys[1], keys[2], walk.diameter / 2)
    else:
        path = keyframe_walk(keys, t, walk.kind, walk.easing, walk.loop)
    return latent_space, path


def load_latents_array(latents: np.ndarray, G: torch.nn.Module) -> tuple[str, np.ndarray]:
    arr = np.asarray(latents, dtype=np.float64)
    if arr.ndim == 3 and tuple(arr.shape[1:]) == (G.num_ws, G.w_dim):
        return "w", arr
    if arr.ndim == 2 and arr.shape[1] == G.z_dim:
        return "z", arr
    raise UserError(
        f"latents of shape {list(arr.shape)} fit neither z [K, {G.z_dim}] nor ws [K, {G.num_ws}, {G.w_dim}]"
    )


def truncation_ws(
    G: torch.nn.Module,
    psis: Sequence[float],
    seed: int | None = None,
    latent: np.ndarray | None = None,
    settings: RenderSettings | None = None,
    **options: Unpack[RenderOptions],
) -> np.ndarray:
    """ws [F, num_ws, w_dim] of one seed (or one z or w) at each truncation psi: w_avg + psi (w - w_avg),
    which is what G.mapping(z, c, psi) gives, on the first `truncation_cutoff` ws only when that is set.

    Of the settings, the cutoff, class and device apply; the psis replace truncation_psi."""
    settings = render_settings(settings, **options)
    # The untruncated w, the psis being applied below; the device resolved once, before any work.
    plain = dataclasses.replace(
        settings,
        truncation_psi=1.0,
        truncation_cutoff=None,
        device=network_device(G, settings.device),
    )
    if latent is not None:
        space, keys = load_latents_array(np.asarray(latent)[None] if np.ndim(latent) in (1, 2) else latent, G)
        if len(keys) != 1:
            raise UserError("truncation traversal takes a single latent")
        w = keys[0] if space == "w" else map_to_w(G, keys, plain)[0]
    elif seed is not None:
        w = map_to_w(G, latents_for_seeds([seed], G.z_dim).double().numpy(), plain)[0]
    else:
        raise UserError("truncation traversal needs --seed (or a latent file)")
    w_avg = G.mapping.w_avg.detach().cpu().double().numpy()
    cut = G.num_ws if settings.truncation_cutoff is None else int(settings.truncation_cutoff)
    out = np.repeat(w[None], len(psis), axis=0)
    for i, psi in enumerate(psis):
        out[i, :cut] = w_avg + (w[:cut] - w_avg) * psi
    return out


def traversal_psis(start: float, stop: float, increment: float) -> list[float]:
    """start, start + increment, ... up to stop (included when it lands on it, allowing float error)."""
    if increment == 0 or (stop - start) / increment < 0:
        raise UserError(f"--increment={increment} never gets from {start} to {stop}")
    count = math.floor((stop - start) / increment + 1e-9) + 1
    return [start + i * increment for i in range(count)]


# ---------------------------------------------------------------------------------------------------------
# Rendering and encoding.


def _grid_shape(cells: int, grid: tuple[int, int] | None) -> tuple[int, int]:
    if grid is None:
        cols = max(math.ceil(math.sqrt(cells)), 1)
        return cols, (cells + cols - 1) // cols
    return grid


def render_frames(
    G: torch.nn.Module,
    space: str,
    latents: np.ndarray,
    grid: tuple[int, int] | None = None,
    settings: RenderSettings | None = None,
    noise_seed: int | None = None,
    **options: Unpack[RenderOptions],
) -> Iterator[np.ndarray]:
    """uint8 [H, W, C] frames of latents [F, cells, ...] (cells tiled grid_w x grid_h, row by row).

    settings / options: truncation and class (for z latents), noise mode (VIDEO_NOISE_MODES), batch size,
    device, precision. Noise: const/random/none as the network; fixnoise = the same RandomState(1) maps
    for every frame (dvschultz's walks); seed = the TF-era maps of `noise_seed` (dvschultz's truncation
    traversal)."""
    settings = render_settings(settings, **options).check(VIDEO_NOISE_MODES)
    G, dev = place(G, settings)
    half_dtype = settings.half_dtype(dev)
    frames, cells = latents.shape[:2]
    gw, gh = _grid_shape(cells, grid)
    if gw * gh < cells:
        raise UserError(f"a {gw}x{gh} grid has no room for {cells} walks")
    flat = latents.reshape((frames * cells,) + latents.shape[2:])
    # ws carry their class already: only z latents need the label (and a conditional net needs one then).
    label = class_labels(G.c_dim, settings.class_idx, 1) if space == "z" else None
    maps = _frame_noise(G, settings.noise_mode, noise_seed)

    pending: list[np.ndarray] = []
    with eval_mode(G), noise_maps(G, maps):
        for _, chunk in batches(flat, settings.batch_size):
            x = torch.as_tensor(chunk, dtype=torch.float32, device=dev)
            if space == "z":
                c = label.repeat(len(x), 1).to(dev) if label is not None else None
                ws = G.mapping(
                    x,
                    c,
                    truncation_psi=settings.truncation_psi,
                    truncation_cutoff=settings.truncation_cutoff,
                )
            else:
                ws = x
            pending.extend(to_uint8(G.synthesis(ws, noise_mode=settings.network_noise_mode, half_dtype=half_dtype)))
            while len(pending) >= cells:
                cell_images, pending = pending[:cells], pending[cells:]
                yield _tile(cell_images, gw, gh)


def _frame_noise(G: torch.nn.Module, mode: str, noise_seed: int | None) -> list[torch.Tensor] | None:
    """The maps every frame shares: dvschultz's --fixnoise maps, `noise_seed`'s TF-era maps, or None."""
    if mode == "fixnoise":
        return shared_noise(G, None)
    if mode != "seed":
        return None
    if noise_seed is None:
        raise UserError("noise mode 'seed' needs a seed: use it for a seed's truncation traversal")
    return shared_noise(G, noise_seed)


def _tile(images: Sequence[np.ndarray], gw: int, gh: int) -> np.ndarray:
    if gw * gh == 1:
        return images[0]
    h, w, c = images[0].shape
    canvas = np.zeros([gh * h, gw * w, c], dtype=np.uint8)
    for i, img in enumerate(images):
        y, x = (i // gw) * h, (i % gw) * w
        canvas[y : y + h, x : x + w] = img
    return canvas


def _rgb_even(frame: np.ndarray) -> np.ndarray:
    """H.264 in yuv420p needs RGB and even sides: gray is repeated, alpha dropped, odd sides padded black."""
    if frame.shape[2] == 1:
        frame = np.repeat(frame, 3, axis=2)
    frame = frame[:, :, :3]
    h, w = frame.shape[:2]
    if h % 2 or w % 2:
        frame = np.pad(frame, [(0, h % 2), (0, w % 2), (0, 0)])
    return np.ascontiguousarray(frame)


def write_video(
    frames: Iterable[np.ndarray],
    path: str | Path,
    fps: float = 24,
    total: int | None = None,
    frames_dir: str | Path | None = None,
    bitrate: str | None = None,
    progress: bool = True,
) -> Path:
    """Encodes frames to `path` (.mp4: H.264 streamed to ffmpeg; .gif: Pillow, looping forever).

    frames_dir: also save every frame there as frame{i:05d}.png. Returns the path; writes are atomic.
    Note: Pillow merges identical consecutive GIF frames into one longer frame."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise UserError(f"{path}: the video must end in .mp4 or .gif")
    if fps <= 0:
        raise UserError(f"--fps={fps}: must be positive")
    bar = tqdm(total=total, unit="frame", desc="rendering video", disable=not progress)

    def frames_with_side_effects() -> Iterator[np.ndarray]:
        for i, frame in enumerate(frames):
            if frames_dir is not None:
                save_png(frame, Path(frames_dir) / f"frame{i:05d}.png")
            yield frame
            bar.update(1)

    try:
        if fmt == "mp4":
            atomic_write(
                path,
                lambda tmp: _encode_mp4(frames_with_side_effects(), tmp, fps, bitrate),
            )
        else:
            atomic_write(path, lambda tmp: _encode_gif(frames_with_side_effects(), tmp, fps))
    finally:
        bar.close()
    return path


def _encode_mp4(frames: Iterator[np.ndarray], path: Path, fps: float, bitrate: str | None) -> None:
    import imageio_ffmpeg  # only videos need it

    writer = None
    size = None
    count = 0
    try:
        for frame in frames:
            frame = _rgb_even(frame)
            if writer is None:
                size = (frame.shape[1], frame.shape[0])
                writer = imageio_ffmpeg.write_frames(
                    str(path),
                    size,
                    fps=fps,
                    codec="libx264",
                    pix_fmt_out="yuv420p",
                    macro_block_size=1,  # sides are made even above; no rescaling
                    quality=None if bitrate else 8,
                    bitrate=bitrate,
                    output_params=[
                        "-f",
                        "mp4",
                    ],  # the temporary name has no .mp4 to go by
                )
                writer.send(None)
            writer.send(frame)
            count += 1
    finally:
        if writer is not None:
            writer.close()
    if count == 0:
        raise UserError("no frames to write")
    _check_encoded(path, count)


def _check_encoded(path: Path, count: int) -> None:
    """imageio-ffmpeg does not report ffmpeg failing at the end (a full disk while writing the trailer): read
    the file back, so a broken video never replaces a good one."""
    import imageio_ffmpeg

    try:
        frames, _ = imageio_ffmpeg.count_frames_and_secs(str(path))
    except (RuntimeError, OSError) as exc:
        frames, cause = 0, exc
    else:
        cause = None
    if frames != count:
        full = disk_full_error(cause or RuntimeError("frames missing"), path)  # full only if the disk is
        if full is not None:
            raise full from cause
        raise UserError(f"ffmpeg wrote {frames} of {count} frames to {path.name}; see its messages above")


def _encode_gif(frames: Iterator[np.ndarray], path: Path, fps: float) -> None:
    images = [to_pil(f[:, :, :3] if f.shape[2] == 4 else f) for f in frames]
    if not images:
        raise UserError("no frames to write")
    duration = max(round(1000 / fps), 10)  # GIF counts in hundredths of a second
    images[0].save(
        path,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=duration,
        loop=0,
    )


def save_vectors(latents: np.ndarray, folder: str | Path) -> None:
    """Every frame's latents as folder/frame{i:05d}.npy, [cells, z_dim] or [cells, num_ws, w_dim]
    (one walk: [1, ...], as dvschultz's --save_vector)."""
    folder = Path(folder)
    for i, lat in enumerate(np.asarray(latents)):

        def write(tmp: Path, arr: np.ndarray = lat) -> None:
            with open(tmp, "wb") as f:
                np.save(f, arr)

        atomic_write(folder / f"frame{i:05d}.npy", write)


# ---------------------------------------------------------------------------------------------------------
# Whole videos.


def grid_latents(
    G: torch.nn.Module,
    walk: Walk,
    frames: int,
    cells: int = 1,
    settings: RenderSettings | None = None,
    **options: Unpack[RenderOptions],
) -> tuple[str, np.ndarray]:
    """Latents [F, cells, ...] of `cells` walks: the seeds (or latent rows) are split into `cells` equal
    consecutive groups, one per walk. Circular loops without keypoints use start_seed + cell; noise loops
    use start_seed + cell * z_dim, since a noise loop reads the fields start_seed + i of its z_dim elements
    and neighbouring cells would otherwise share all but one field (the same z, shifted by one element)."""
    if cells < 1:
        raise UserError("the grid needs at least one cell")
    settings = render_settings(settings, **options)
    keys = walk.seeds if walk.seeds else (list(walk.latents) if walk.latents is not None else None)
    if keys and len(keys) % cells:
        raise UserError(
            f"{len(keys)} seeds/latents cannot be split evenly over {cells} walks: give a multiple of {cells}"
        )
    per = len(keys) // cells if keys else 0
    spaces, paths = set(), []
    for j in range(cells):
        step = G.z_dim if walk.kind == "noiseloop" else 1
        cell = dataclasses.replace(walk, start_seed=walk.start_seed + j * step)
        if walk.seeds:
            cell.seeds = walk.seeds[j * per : (j + 1) * per]
        elif walk.latents is not None:
            cell.latents = np.asarray(walk.latents)[j * per : (j + 1) * per]
        space, path = walk_latents(G, cell, frames, settings)
        spaces.add(space)
        paths.append(path)
    # float32 is what the network takes, and halves the memory of long w-space videos.
    return spaces.pop(), np.stack(paths, axis=1).astype(np.float32)


def make_video(
    G: torch.nn.Module,
    space: str,
    latents: np.ndarray,
    path: str | Path,
    fps: float = 24,
    grid: tuple[int, int] | None = None,
    settings: RenderSettings | None = None,
    noise_seed: int | None = None,
    frames_dir: str | Path | None = None,
    bitrate: str | None = None,
    progress: bool = True,
    **options: Unpack[RenderOptions],
) -> Path:
    """Renders latents [F, cells, ...] (from grid_latents or truncation_ws) into one MP4 or GIF; settings
    and noise_seed as for render_frames."""
    frames = render_frames(
        G,
        space,
        latents,
        grid=grid,
        settings=render_settings(settings, **options),
        noise_seed=noise_seed,
    )
    return write_video(
        frames,
        path,
        fps=fps,
        total=len(latents),
        frames_dir=frames_dir,
        bitrate=bitrate,
        progress=progress,
    )
