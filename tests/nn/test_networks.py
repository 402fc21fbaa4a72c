"""Architecture checks against NVIDIA's published parameter counts and state-dict names, and the
behaviour of truncation, noise, labels, channels and precision."""

import dataclasses

import numpy as np
import pytest
import torch

from stylegan2_ada.config import GeneratorConfig, network_configs, resolve_preset
from stylegan2_ada.nn import Discriminator, Generator


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# (preset, resolution, G params, D params, num_ws) from the NVIDIA PyTorch port (REFERENCE.md).
NVIDIA_COUNTS = [
    ("stylegan2", 1024, 30_370_060, 29_012_513, 18),
    ("paper512", 512, 30_276_583, 28_982_849, 16),
    ("paper256", 256, 24_767_458, 24_001_089, 14),
]


@pytest.mark.parametrize("cfg,res,g_params,d_params,num_ws", NVIDIA_COUNTS)
def test_parameter_counts_equal_nvidia(cfg, res, g_params, d_params, num_ws):
    g, d = network_configs(cfg, res)
    G, D = Generator(g), Discriminator(d)
    assert count(G) == g_params
    assert count(D) == d_params
    assert G.num_ws == num_ws == g.num_ws


def test_state_dict_names_follow_nvidia():
    g, d = network_configs("stylegan2", 1024)
    gs, ds = Generator(g).state_dict(), Discriminator(d).state_dict()
    for name in [
        "mapping.fc0.weight",
        "mapping.fc7.bias",
        "mapping.w_avg",
        "synthesis.b4.const",
        "synthesis.b4.resample_filter",
        "synthesis.b4.conv1.affine.weight",
        "synthesis.b64.conv0.affine.weight",
        "synthesis.b64.conv0.noise_strength",
        "synthesis.b64.conv0.noise_const",
        "synthesis.b64.torgb.weight",
        "synthesis.b1024.torgb.affine.bias",
    ]:
        assert name in gs, name
    for name in ["b1024.fromrgb.weight", "b1024.skip.weight", "b8.conv1.bias", "b4.conv.weight", "b4.fc.weight", "b4.out.weight"]:
        assert name in ds, name
    assert "b512.fromrgb.weight" not in ds  # resnet D: FromRGB only at the top block
    assert gs["synthesis.b64.conv0.noise_const"].shape == (64, 64)
    assert gs["synthesis.b64.conv0.weight"].shape == (512, 512, 3, 3)
    assert gs["synthesis.b1024.conv1.weight"].shape == (32, 32, 3, 3)
    assert ds["b4.fc.weight"].shape == (512, 512 * 16)


def test_every_preset_builds_with_its_table_values():
    for name, res in [("auto", 64), ("stylegan2", 64), ("paper256", 64), ("paper512", 64), ("paper1024", 64), ("cifar", 32)]:
        g, d = network_configs(name, res)
        G, D = Generator(g), Discriminator(d)
        with torch.no_grad():
            img = G(torch.randn(2, 512), None, half_dtype=None)
        assert img.shape == (2, 3, res, res)
        if name != "cifar":  # cifar's mbstd group is 32
            with torch.no_grad():
                assert D(img, None, half_dtype=None).shape == (2, 1)
    auto1024, _ = network_configs("auto", 1024)
    assert auto1024.channel_base == 32768 and auto1024.mapping.num_layers == 2
    auto256 = resolve_preset("auto", 256)
    assert (auto256.batch, auto256.mbstd, auto256.fmaps, auto256.lrate) == (16, 4, 0.5, 0.0025)
    assert auto256.gamma == pytest.approx(0.0002 * 256**2 / 16)
    g, d = network_configs("cifar", 32)
    assert d.architecture == "orig" and g.mapping.num_layers == 2 and d.mbstd_group_size == 32


def tiny(c_dim=0, channels=3, res=32):
    g, d = network_configs("paper256", res, img_channels=channels, c_dim=c_dim)
    g = dataclasses.replace(g, channel_base=1024, channel_max=64)
    d = dataclasses.replace(d, channel_base=1024, channel_max=64, mbstd_group_size=2)
    G = Generator(g).eval()
    with torch.no_grad():
        G.mapping.w_avg.normal_()
        for block in G.synthesis.blocks():
            for layer in (getattr(block, "conv0", None), block.conv1):
                if layer is not None:
                    layer.noise_strength.fill_(0.5)
    return G, Discriminator(d)


def latents(seeds, z_dim=512):
    return torch.from_numpy(np.concatenate([np.random.RandomState(s).randn(1, z_dim) for s in seeds])).float()


def test_truncation_psi_zero_gives_the_average_image_for_every_seed():
    G, _ = tiny()
    with torch.no_grad():
        imgs = G(latents([0, 1, 2, 3]), None, truncation_psi=0, noise_mode="const", half_dtype=None)
        avg = G.synthesis(G.mapping.w_avg[None, None].repeat(1, G.num_ws, 1), noise_mode="const", half_dtype=None)
    for img in imgs:
        assert torch.allclose(img, avg[0], atol=1e-4)  # batched vs single grouped conv rounding
    assert not torch.allclose(imgs[0], G(latents([0]), None, noise_mode="const", half_dtype=None)[0])


def test_truncation_cutoff_only_touches_the_first_ws():
    G, _ = tiny()
    z = latents([5, 6])
    ws_full = G.mapping(z, None)
    ws_cut = G.mapping(z, None, truncation_psi=0.5, truncation_cutoff=3)
    expected = G.mapping.w_avg.lerp(ws_full[:, :3], 0.5)
    assert torch.allclose(ws_cut[:, :3], expected)
    assert torch.equal(ws_cut[:, 3:], ws_full[:, 3:])


def test_noise_modes():
    G, _ = tiny()
    z = latents([7])
    with torch.no_grad():
        run = lambda mode: G(z, None, noise_mode=mode, half_dtype=None)  # noqa: E731
        const_a, const_b = run("const"), run("const")
        rand_a, rand_b = run("random"), run("random")
        none = run("none")
    assert torch.equal(const_a, const_b)
    assert not torch.equal(rand_a, rand_b)
    assert not torch.allclose(none, const_a)
    with pytest.raises(ValueError, match="noise_mode"):
        G(z, None, noise_mode="bogus")


def test_w_avg_tracks_only_in_training_mode():
    G, _ = tiny()
    before = G.mapping.w_avg.clone()
    G.mapping(latents([1]), None)
    assert torch.equal(G.mapping.w_avg, before)
    G.train()
    ws = G.mapping(latents([1, 2]), None)
    assert torch.allclose(G.mapping.w_avg, ws[:, 0].mean(0).lerp(before, 0.995))


def test_conditional_and_grayscale_networks():
    G, D = tiny(c_dim=4, channels=1)
    c = torch.eye(4)[[0, 3]]
    img = G(latents([1, 2]), c, noise_mode="const", half_dtype=None)
    assert img.shape == (2, 1, 32, 32)
    assert D(img, c, half_dtype=None).shape == (2, 1)
    other = G(latents([1, 2]), torch.eye(4)[[1, 2]], noise_mode="const", half_dtype=None)
    assert not torch.allclose(img, other)  # the label changes the picture
    assert "mapping.embed.weight" in G.state_dict() and "mapping.embed.weight" in D.state_dict()
    with pytest.raises(AssertionError, match="conditional"):
        G(latents([1]), None)


def test_fused_and_unfused_modconv_give_the_same_image():
    G, _ = tiny()
    z = latents([3, 4])
    with torch.no_grad():
        a = G(z, None, noise_mode="const", half_dtype=None, fused_modconv=True)
        b = G(z, None, noise_mode="const", half_dtype=None, fused_modconv=False)
    assert torch.allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("dtype,tol", [(torch.bfloat16, 0.03), (torch.float16, 0.004)])
def test_half_precision_blocks_stay_close_to_fp32(dtype, tol):
    G, D = tiny()
    z = latents([8, 9])
    with torch.no_grad():
        ref = G(z, None, noise_mode="const", half_dtype=None)
        half = G(z, None, noise_mode="const", half_dtype=dtype)
        assert half.dtype == torch.float32
        assert (half - ref).abs().max() / ref.abs().max() < tol  # relative to the image range
        assert D(ref, None, half_dtype=dtype).dtype == torch.float32


def test_called_directly_on_cpu_the_networks_run_fp32():
    # The library default ("auto") is NVIDIA's rule: fp16 blocks only on CUDA, so a CPU call equals fp32.
    G, D = tiny()
    assert G.cfg.num_fp16_res > 0 and D.cfg.num_fp16_res > 0  # the networks do have mixed-precision blocks
    z = latents([8, 9])
    with torch.no_grad():
        assert torch.equal(G(z, None, noise_mode="const"), G(z, None, noise_mode="const", half_dtype=None))
        img = G(z, None, noise_mode="const", half_dtype=None)
        assert torch.equal(D(img, None), D(img, None, half_dtype=None))
        assert not torch.equal(G(z, None, noise_mode="const", half_dtype=torch.float16), img)  # fp16 differs
    with pytest.raises(ValueError, match="auto"):
        G(z, None, half_dtype="fast")


def test_double_backward_through_discriminator_for_r1():
    _, D = tiny()
    img = torch.randn(2, 3, 32, 32, requires_grad=True)
    logits = D(img, None, half_dtype=None)
    (grad,) = torch.autograd.grad(logits.sum(), img, create_graph=True)
    penalty = grad.square().sum()
    penalty.backward()
    grads = [p.grad for p in D.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


def test_bad_configs_give_clear_errors():
    with pytest.raises(ValueError, match="power of two"):
        GeneratorConfig(img_resolution=1000)
    with pytest.raises(ValueError, match="--cfg"):
        network_configs("stylegan3", 256)
