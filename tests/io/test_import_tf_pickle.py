"""Import of TensorFlow pickles (stylegan2, stylegan2-ada TF, dvschultz) without TensorFlow.

The pickles are built here from the documented Network state (__getstate__ of dnnlib.tflib.network:
version, name, static_kwargs, components, build_module_src, build_func_name, variables, shapes, names)
with TF variable names and layouts made from a random network of ours by the inverse mapping.
"""

from __future__ import annotations

import sys

import pytest
from io_nets import assert_same_discriminator, assert_same_generator, tf_setup
from io_pickle_writers import Network, dumps, tf_discriminator, tf_generator, tf_pickle

from stylegan2_ada.io.load import load_networks
from stylegan2_ada.io.nvidia_torch import UnsupportedNetworkError


@pytest.mark.parametrize(("c_dim", "channels"), [(0, 3), (5, 3), (0, 1)], ids=["uncond-rgb", "cond-rgb", "grayscale"])
def test_tf_pickle_imports_exactly(tmp_path, c_dim, channels):
    G, D, Gs, g_kwargs, d_kwargs = tf_setup(c_dim, channels)
    raw = tf_pickle(G, D, Gs, g_kwargs, d_kwargs)
    assert b"cnumpy.core.multiarray\n_reconstruct" in raw and b"cdnnlib.tflib.network\nNetwork" in raw
    path = tmp_path / "network-snapshot-000100.pkl"
    path.write_bytes(raw)

    snap = load_networks(path)

    assert "dnnlib" not in sys.modules
    assert snap.metadata["source_kind"] == "nvidia-tf-pickle"
    assert "tf_unused_variables" not in snap.metadata
    assert snap.networks["G_ema"].cfg == Gs.cfg
    assert snap.networks["D"].cfg == D.cfg
    assert_same_generator(snap.networks["G"], G, run=False)
    assert_same_generator(snap.networks["G_ema"], Gs)
    assert_same_discriminator(snap.networks["D"], D)


def _write(tmp_path, G_net: Network, D_net: Network, Gs_net: Network):
    path = tmp_path / "tf.pkl"
    path.write_bytes(dumps((G_net, D_net, Gs_net), protocol=3))
    return path


def test_whole_batch_mbstd_default_of_ada_d_main(tmp_path):
    G, D, Gs, g_kwargs, d_kwargs = tf_setup(0, 3)
    del d_kwargs["mbstd_group_size"]  # D_main's default: the whole minibatch
    path = _write(tmp_path, tf_generator(G, g_kwargs), tf_discriminator(D, d_kwargs), tf_generator(Gs, g_kwargs))
    assert load_networks(path).networks["D"].cfg.mbstd_group_size is None


def test_original_stylegan2_conditional_generator_is_refused(tmp_path):
    G, D, Gs, g_kwargs, d_kwargs = tf_setup(3, 3)
    nets = [tf_generator(G, g_kwargs), tf_discriminator(D, d_kwargs), tf_generator(Gs, g_kwargs)]
    for net in (nets[0], nets[2]):
        mapping = net.__getstate__()["components"]["mapping"].__getstate__()
        mapping["variables"] = [(n.replace("LabelEmbed", "LabelConcat"), v) for n, v in mapping["variables"]]
    with pytest.raises(UnsupportedNetworkError, match="LabelConcat"):
        load_networks(_write(tmp_path, *nets))


def test_old_network_versions_are_refused(tmp_path):
    G, D, Gs, g_kwargs, d_kwargs = tf_setup(0, 3)
    nets = [tf_generator(G, g_kwargs), tf_discriminator(D, d_kwargs), tf_generator(Gs, g_kwargs)]
    for net in nets:
        net.__getstate__()["version"] = 3
    with pytest.raises(UnsupportedNetworkError, match="version 3"):
        load_networks(_write(tmp_path, *nets))


def test_missing_variable_is_a_clear_error(tmp_path):
    G, D, Gs, g_kwargs, d_kwargs = tf_setup(0, 3)
    nets = [tf_generator(G, g_kwargs), tf_discriminator(D, d_kwargs), tf_generator(Gs, g_kwargs)]
    synthesis = nets[2].__getstate__()["components"]["synthesis"].__getstate__()
    synthesis["variables"] = [(n, v) for n, v in synthesis["variables"] if n != "8x8/Conv1/mod_bias"]
    with pytest.raises(UnsupportedNetworkError, match="8x8/Conv1/mod_bias"):
        load_networks(_write(tmp_path, *nets))
