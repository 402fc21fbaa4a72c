"""Projection: an image the network made itself is recovered; outputs have NVIDIA's layout; the CLI runs."""

from __future__ import annotations

import numpy as np
import PIL.Image
import pytest
import torch

from stylegan2_ada.cli import main as cli_main
from stylegan2_ada.errors import UserError
from stylegan2_ada.io.snapshot import save_snapshot
from stylegan2_ada.tools.projector import (
    Schedule,
    learning_rate,
    noise_regularization,
    project,
    render,
    run_projection,
    w_noise_scale,
    w_statistics,
)
from stylegan2_ada.tools.seeds import class_labels, z_from_seed

SHORT = {"w_avg_samples": 500}


def own_image(G, seed: int, class_idx: int | None = None) -> np.ndarray:
    """uint8 [H, W, C] that G itself renders for `seed` (const noise), the target to recover."""
    with torch.no_grad():
        ws = G.mapping(z_from_seed(seed, G.z_dim), class_labels(G.c_dim, class_idx, 1))
    return render(G, ws)[0]


def chw(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image.transpose(2, 0, 1).copy())


def mse(a: np.ndarray, b: np.ndarray) -> float:
    return float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())


def test_schedule_matches_nvidia_shape():
    s = Schedule(num_steps=1000)
    assert learning_rate(0, s) == 0.0  # ramp-up starts at zero
    assert learning_rate(50, s) == pytest.approx(0.1)  # full rate after 5%
    assert learning_rate(500, s) == pytest.approx(0.1)
    assert learning_rate(875, s) == pytest.approx(0.05)  # half-way down the cosine ramp-down
    assert w_noise_scale(0, s, 2.0) == pytest.approx(2.0 * 0.05)
    assert w_noise_scale(750, s, 2.0) == 0.0  # faded out after 75%


def test_noise_regularization_small_for_white_noise_large_for_smooth():
    white = torch.randn(32, 32, generator=torch.Generator().manual_seed(0))
    smooth = torch.ones(32, 32)
    assert float(noise_regularization([white])) < 1e-2
    assert float(noise_regularization([smooth])) == pytest.approx(2 * 3)  # 2 shifts x 3 scales (32, 16, 8)


class RandomFeatures(torch.nn.Module):
    """A random two-layer conv net as the pluggable feature network (multi-scale, like LPIPS's layer stack).

    Unlike SmallVGG.lpips it keeps each layer's magnitude: LPIPS's per-pixel channel normalisation of only
    8-16 random channels throws brightness away, so pixels would not be pinned down by the distance."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.convs = torch.nn.ModuleList()
        for cin, cout in ((3, 16), (16, 32)):
            conv = torch.nn.Conv2d(cin, cout, 3, padding=1)
            with torch.no_grad():
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=g) / (cin * 9) ** 0.5)
                conv.bias.zero_()
            self.convs.append(conv)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images / 127.5 - 1
        parts = []
        for conv in self.convs:
            x = torch.nn.functional.leaky_relu(conv(x), 0.2)
            parts.append((x / (x.shape[2] * x.shape[3]) ** 0.5).flatten(1))
            x = torch.nn.functional.avg_pool2d(x, 2)
        return torch.cat(parts, dim=1)


def quiet_generator(make_generator, **kw):
    """The tiny test generator with noise strengths of a trained network (small): with 0.3 the random
    noise maps, which projection re-optimises and then drops as NVIDIA's does, dominate a 16 px image."""
    G = make_generator(16, **kw)
    for name, p in G.named_parameters():
        if name.endswith("noise_strength"):
            p.fill_(0.05)
    return G


@pytest.mark.parametrize("w_plus", [False, True])
@pytest.mark.parametrize("seed", [2, 7])
def test_projection_recovers_own_image(make_generator, w_plus, seed):
    G = quiet_generator(make_generator)
    target = own_image(G, seed)
    w_avg, _ = w_statistics(G, SHORT["w_avg_samples"], None, torch.device("cpu"))
    start = render(G, w_avg.repeat(1, G.num_ws, 1))[0]

    result = project(
        G,
        chw(target),
        RandomFeatures(),
        Schedule(num_steps=80, **SHORT),
        w_plus=w_plus,
        progress=False,
    )

    assert result.ws_steps.shape == (80, G.num_ws, G.w_dim)
    if not w_plus:  # W mode: the same w on every layer
        assert torch.equal(result.w[0], result.w[0, :1].expand(G.num_ws, -1))
    assert result.distances[-1] < 0.15 * result.distances[0]
    # proj.png's pixels (the network's own noise, as `generate --projected-w` renders them)
    assert mse(render(G, result.w)[0], target) < 0.4 * mse(start, target)


def test_projection_leaves_the_network_alone(make_generator, small_vgg):
    G = make_generator(16)
    before = {k: v.clone() for k, v in G.state_dict().items()}
    project(
        G,
        chw(own_image(G, 1)),
        small_vgg.lpips,
        Schedule(num_steps=3, **SHORT),
        progress=False,
    )
    assert all(torch.equal(before[k], v) for k, v in G.state_dict().items())


def test_conditional_projection_needs_a_class_and_improves(make_generator, small_vgg):
    G = make_generator(16, c_dim=3, seed=4)
    target = own_image(G, 3, class_idx=2)
    with pytest.raises(UserError, match="--class"):
        project(
            G,
            chw(target),
            small_vgg.lpips,
            Schedule(num_steps=2, **SHORT),
            progress=False,
        )
    result = project(
        G,
        chw(target),
        small_vgg.lpips,
        Schedule(num_steps=40, **SHORT),
        w_plus=True,
        class_idx=2,
        progress=False,
    )
    assert result.distances[-1] < 0.5 * result.distances[0]


def test_grayscale_target(make_generator, small_vgg):
    G = make_generator(16, img_channels=1, seed=1)
    target = own_image(G, 1)
    result = project(G, chw(target), small_vgg.lpips, Schedule(num_steps=5, **SHORT), progress=False)
    assert np.isfinite(result.distances).all()


def test_outputs_layout_and_generate_projected_w(make_generator, small_vgg, tmp_path):
    G = make_generator(16)
    PIL.Image.fromarray(own_image(G, 2)).resize((40, 30)).save(tmp_path / "photo.png")  # not square: centre crop
    out = tmp_path / "out"
    paths = run_projection(
        G,
        tmp_path / "photo.png",
        out,
        small_vgg.lpips,
        Schedule(num_steps=4, **SHORT),
        save_video=True,
        progress=False,
    )
    assert {p.name for p in paths.values()} == {
        "target.png",
        "proj.png",
        "projected_w.npz",
        "proj.mp4",
    }
    with np.load(out / "projected_w.npz") as data:
        assert data.files == ["w"]
        w = data["w"]
    assert w.dtype == np.float32 and w.shape == (1, G.num_ws, G.w_dim)
    assert np.asarray(PIL.Image.open(out / "target.png")).shape == (16, 16, 3)
    assert (out / "proj.mp4").stat().st_size > 0
    import imageio.v2 as imageio

    frames = imageio.mimread(out / "proj.mp4")
    assert len(frames) == 4 and frames[0].shape[:2] == (16, 32)  # target | projection

    net = save_snapshot(tmp_path / "net.safetensors", {"G_ema": G})
    assert (
        cli_main(
            [
                "generate",
                f"--network={net}",
                f"--outdir={tmp_path / 'gen'}",
                f"--projected-w={out / 'projected_w.npz'}",
            ]
        )
        == 0
    )
    assert np.array_equal(
        np.asarray(PIL.Image.open(tmp_path / "gen" / "proj00.png")),
        np.asarray(PIL.Image.open(out / "proj.png")),
    )


class _ScriptedLPIPS(torch.nn.Module):
    """A TorchScript stand-in for NVIDIA's vgg16.pt with its call signature, to run the CLI offline."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)

    def forward(
        self,
        img: torch.Tensor,
        resize_images: bool = True,
        return_lpips: bool = False,
        return_features: bool = False,
    ) -> torch.Tensor:
        f = torch.relu(self.conv(img / 127.5 - 1))
        f = f / (f.square().sum(dim=1, keepdim=True).sqrt() + 1e-10)
        return f.flatten(1)


def test_project_cli_with_vgg16_file(tiny_nets, tmp_path, capsys):
    torch.manual_seed(1)
    vgg = tmp_path / "vgg16.pt"
    torch.jit.script(_ScriptedLPIPS()).save(str(vgg))
    PIL.Image.fromarray((np.random.default_rng(0).random([20, 20, 3]) * 255).astype(np.uint8)).save(tmp_path / "t.png")
    out = tmp_path / "out"
    args = [
        f"--network={tiny_nets['cond']}",
        f"--target={tmp_path / 't.png'}",
        f"--outdir={out}",
        "--num-steps=3",
    ]
    args += [f"--vgg16={vgg}", "--save-video=False", "--w-plus", "--device=cpu"]
    assert cli_main(["project", *args, "--class=1"]) == 0
    assert "not a known file" in capsys.readouterr().err  # the digest warning of an unofficial vgg16.pt
    assert sorted(p.name for p in out.iterdir()) == [
        "proj.png",
        "projected_w.npz",
        "target.png",
    ]
    assert cli_main(["project", *args]) == 2  # conditional without --class: one-line error


def test_align_crops_the_face(pyfeat_data):
    from stylegan2_ada.tools.projector import load_target

    aligned = load_target(pyfeat_data / "single_face.jpg", 32, 3, align=True)
    plain = load_target(pyfeat_data / "single_face.jpg", 32, 3)
    assert aligned.shape == plain.shape == (32, 32, 3)
    assert not np.array_equal(aligned, plain)  # an FFHQ-style crop, not the centre square
    with pytest.raises(UserError, match="no face"):
        load_target(pyfeat_data / "free-mountain-vector-01.jpg", 32, 3, align=True)
