"""Our safetensors snapshot format: exact round trip, self-describing header, safe and atomic writes."""

import json
import os
import stat

import pytest
import torch

from stylegan2_ada.config import network_configs
from stylegan2_ada.io.snapshot import SnapshotError, load_snapshot, read_header, save_snapshot
from stylegan2_ada.nn import Discriminator, Generator


def tiny_networks(c_dim=0, channels=3):
    g, d = network_configs("paper256", 16, img_channels=channels, c_dim=c_dim)
    g = type(g).from_dict({**g.to_dict(), "channel_base": 512, "channel_max": 32})
    d = type(d).from_dict({**d.to_dict(), "channel_base": 512, "channel_max": 32, "mbstd_group_size": 2})
    G = Generator(g)
    with torch.no_grad():
        G.mapping.w_avg.normal_()
    return G, Discriminator(d)


@pytest.mark.parametrize("c_dim,channels", [(0, 3), (4, 1)])
def test_round_trip_restores_every_tensor_and_the_same_images(tmp_path, c_dim, channels):
    G, D = tiny_networks(c_dim, channels)
    path = save_snapshot(tmp_path / "snap.safetensors", {"G": G, "G_ema": G, "D": D}, {"kimg": 12, "note": "x"})
    snap = load_snapshot(path)
    assert set(snap.networks) == {"G", "G_ema", "D"}
    assert snap.metadata == {"kimg": 12, "note": "x"}
    for name, module in (("G", G), ("D", D)):
        ours, theirs = module.state_dict(), snap.networks[name].state_dict()
        assert list(ours) == list(theirs)
        assert all(torch.equal(ours[k], theirs[k]) for k in ours)
    z = torch.randn(2, 512)
    c = torch.eye(c_dim)[:2] if c_dim else None
    G.eval()
    assert torch.equal(G(z, c, noise_mode="const", half_dtype=None), snap.generator(z, c, noise_mode="const", half_dtype=None))
    assert snap.generator.cfg == G.cfg


def test_header_and_sidecar_describe_the_networks(tmp_path):
    G, D = tiny_networks()
    path = save_snapshot(tmp_path / "net", {"G_ema": G, "D": D})
    assert path.suffix == ".safetensors"
    header = read_header(path)
    assert header["networks"]["G_ema"]["class"] == "GeneratorConfig"
    assert header["networks"]["G_ema"]["img_resolution"] == 16
    sidecar = json.loads(path.with_suffix(".json").read_text())
    assert sidecar["networks"] == header["networks"]
    # Written with ordinary permissions and no temporary files left behind.
    assert stat.S_IMODE(os.stat(path).st_mode) & 0o044 == 0o044 & ~_umask()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.json", "net.safetensors"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_damaged_and_foreign_files_are_clear_errors(tmp_path):
    G, D = tiny_networks()
    path = save_snapshot(tmp_path / "snap.safetensors", {"G": G})
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(path.read_bytes()[:100])
    with pytest.raises(SnapshotError, match="not a readable safetensors"):
        load_snapshot(truncated)
    from safetensors.torch import save_file

    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(foreign))
    with pytest.raises(SnapshotError, match="convert"):
        load_snapshot(foreign)
    with pytest.raises(SnapshotError, match="no such snapshot"):
        load_snapshot(tmp_path / "missing.safetensors")


def test_a_failed_write_keeps_the_previous_snapshot(tmp_path, monkeypatch):
    G, D = tiny_networks()
    path = save_snapshot(tmp_path / "snap.safetensors", {"G": G})
    before = path.read_bytes()

    import stylegan2_ada.io.snapshot as snapshot_module

    def disk_full(tensors, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(snapshot_module, "save_file", disk_full)
    with pytest.raises(OSError, match="No space"):
        save_snapshot(path, {"G": G, "D": D})
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snap.json", "snap.safetensors"]


def test_half_precision_file_is_half_the_size_and_loads_as_float32(tmp_path):
    G, D = tiny_networks()
    full = save_snapshot(tmp_path / "full.safetensors", {"G_ema": G, "D": D})
    half = save_snapshot(tmp_path / "half.safetensors", {"G_ema": G, "D": D}, weights_dtype=torch.float16)
    assert 0.45 < half.stat().st_size / full.stat().st_size < 0.55
    loaded = load_snapshot(half)
    for name, module in (("G_ema", G), ("D", D)):
        for key, value in module.state_dict().items():
            got = loaded.networks[name].state_dict()[key]
            assert got.dtype == torch.float32
            # The float16 rounding of each weight, exactly (and the float32 value within fp16's precision).
            torch.testing.assert_close(got, value.half().float(), rtol=0, atol=0)
    z = torch.randn(2, G.z_dim)
    with torch.no_grad():
        a, b = G(z, None, noise_mode="const"), loaded.generator(z, None, noise_mode="const")
    assert (a - b).abs().max() < 0.05  # pictures in [-1, 1]: fp16 weights move them by far less than 1/255 * 10
    with pytest.raises(ValueError, match="weights_dtype"):
        save_snapshot(tmp_path / "int.safetensors", {"G_ema": G}, weights_dtype=torch.int8)
