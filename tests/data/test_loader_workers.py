"""A zip dataset read by DataLoader worker processes (the metrics loop on CUDA uses 3, training too).

The parent opens the zip when the dataset is built; forked workers used to inherit that handle and share
its file offset, so their reads interleaved and failed with 'BadZipFile: Bad CRC-32'. Every worker now opens
its own handle; these runs on the CPU compare worker reads with plain reads, image by image.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from stylegan2_ada.data.dataset import ImageDataset
from stylegan2_ada.data.dataset_writer import DatasetWriter
from stylegan2_ada.metrics.features import FeatureStats, dataset_features


@pytest.fixture()
def zip_dataset(tmp_path: Path) -> tuple[str, list[np.ndarray]]:
    rng = np.random.default_rng(7)
    # Enough members of some size that the workers' reads overlap in time.
    images = [rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(160)]
    path = str(tmp_path / "d.zip")
    with DatasetWriter(path) as writer:
        for i, img in enumerate(images):
            writer.add(img, label=i % 3)
    return path, images


def _pixels_as_features(images: torch.Tensor) -> torch.Tensor:
    return images.reshape(images.shape[0], -1).float()


@pytest.mark.filterwarnings("ignore:This DataLoader will create")  # 3 workers on a 2-core machine: on purpose
@pytest.mark.parametrize("workers", [3])
def test_dataset_features_with_workers_read_every_image(zip_dataset, workers: int) -> None:
    path, images = zip_dataset
    ds = ImageDataset(path)  # opens the zip here, in the parent, as the metrics code does
    runs = {}
    for n in (0, workers):
        stats = FeatureStats(capture_all=True)
        dataset_features(ds, _pixels_as_features, stats, torch.device("cpu"), batch_size=8, num_workers=n, progress=False)
        runs[n] = stats.get_all()
    assert runs[0].shape == (160, 32 * 32 * 3)
    assert np.array_equal(runs[0], runs[workers])
    expected = np.stack([img.transpose(2, 0, 1).reshape(-1) for img in images]).astype(np.float32)
    assert np.array_equal(runs[workers], expected)


def test_training_style_loader_with_workers_matches_plain_reads(zip_dataset) -> None:
    path, images = zip_dataset
    ds = ImageDataset(path, use_labels=True, xflip=True)
    first = ds[0]  # the parent has read through its handle before the workers start
    loader = torch.utils.data.DataLoader(ds, batch_size=10, num_workers=2, shuffle=False, prefetch_factor=2)
    got_images, got_labels = zip(*loader)
    got_images, got_labels = torch.cat(got_images).numpy(), torch.cat(got_labels).numpy()
    assert got_images.shape == (320, 3, 32, 32)
    for i in range(len(ds)):
        img, label = ds[i]
        assert np.array_equal(got_images[i], img) and np.array_equal(got_labels[i], label)
    assert np.array_equal(got_images[0], first[0])
    assert np.array_equal(got_images[160], images[0].transpose(2, 0, 1)[:, :, ::-1])  # the mirrored copies
    # A second pass (new workers) and reads in the parent afterwards still work.
    again = torch.cat([b for b, _ in loader]).numpy()
    assert np.array_equal(again, got_images)
    assert np.array_equal(ds[5][0], images[5].transpose(2, 0, 1))
