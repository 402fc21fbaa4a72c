"""Import of PyTorch-port pickles (stylegan2-ada-pytorch, stylegan3 --cfg=stylegan2) without running them."""

from __future__ import annotations

import sys

import pytest
from io_nets import assert_same_discriminator, assert_same_generator, port_networks
from io_pickle_writers import marker_source, torch_port_pickle

from stylegan2_ada.errors import UserError
from stylegan2_ada.io.load import load_generator, load_networks
from stylegan2_ada.io.nvidia_torch import UnsupportedNetworkError


@pytest.mark.parametrize(
    ("c_dim", "channels", "flat"),
    [(0, 3, False), (4, 3, False), (0, 1, False), (3, 1, True)],
    ids=["uncond-rgb", "cond-rgb", "grayscale", "stylegan3-cfg-stylegan2"],
)
def test_port_pickle_imports_exactly_without_running_its_code(tmp_path, c_dim, channels, flat):
    G, D, G_ema = port_networks(c_dim, channels)
    marker = tmp_path / "module_src_ran"
    path = tmp_path / "network-snapshot-000100.pkl"
    path.write_bytes(torch_port_pickle(G, D, G_ema, marker_source(str(marker)), flat_synthesis=flat))

    snap = load_networks(path)

    assert not marker.exists()
    assert "torch_utils" not in sys.modules and "dnnlib" not in sys.modules
    assert set(snap.networks) == {"G", "D", "G_ema"}
    assert snap.metadata["source_kind"] == "nvidia-pytorch-pickle"
    assert snap.metadata["source"] == str(path)
    assert snap.metadata["training_set_kwargs"]["use_labels"] == (c_dim > 0)
    assert snap.networks["G"].cfg == G.cfg
    assert snap.networks["D"].cfg == D.cfg
    assert_same_generator(snap.networks["G"], G, run=False)
    assert_same_generator(snap.networks["G_ema"], G_ema)
    assert_same_discriminator(snap.networks["D"], D)
    assert load_generator(path).cfg == G_ema.cfg


def test_stylegan3_alias_free_network_is_refused(tmp_path):
    G, D, G_ema = port_networks()
    src = "class SynthesisInput(torch.nn.Module):\n    pass\n"
    path = tmp_path / "stylegan3-t.pkl"
    path.write_bytes(torch_port_pickle(G, D, G_ema, src))
    with pytest.raises(UnsupportedNetworkError, match="StyleGAN3"):
        load_networks(path)


def test_options_that_do_not_describe_the_weights_are_refused(tmp_path):
    G, D, G_ema = port_networks()
    raw = torch_port_pickle(G, D, G_ema, "")
    # Same length, different value: the pickle claims channel_max=32 while the weights have 64 channels.
    path = tmp_path / "bad.pkl"
    path.write_bytes(raw.replace(b"\x8c\x0bchannel_max\x94K@", b"\x8c\x0bchannel_max\x94K "))
    assert path.read_bytes() != raw
    with pytest.raises(UserError, match="do not match"):
        load_networks(path)
