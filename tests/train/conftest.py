"""Shared set-up of the training tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from train_helpers import write_dataset_zip

# The test machines share two cores between several jobs: one thread per process avoids OpenMP spin
# contention, which otherwise makes these tiny networks ~30x slower. Child processes inherit it.
os.environ["OMP_NUM_THREADS"] = "1"
torch.set_num_threads(1)


@pytest.fixture
def tiny_zip(tmp_path: Path) -> Path:
    return write_dataset_zip(tmp_path / "tiny.zip")
