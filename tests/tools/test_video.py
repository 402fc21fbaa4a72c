"""Interpolation videos: closed loops, norm-keeping slerp, MP4/GIF files readable back, truncation
traversal, conditional networks, and dvschultz's generate.py video sub-commands."""

import subprocess
import sys
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import PIL.Image
import pytest
import torch

from stylegan2_ada.cli import main as cli_main
from stylegan2_ada.cli.legacy import generate_main as legacy_main
from stylegan2_ada.errors import UserError
from stylegan2_ada.tools import video as V
from stylegan2_ada.tools.seeds import z_from_seed

REPO = Path(__file__).resolve().parents[2]


def read_mp4(path):
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    frames = [np.frombuffer(f, np.uint8) for f in reader]
    return meta, frames


@pytest.fixture(scope="module")
def G(make_generator):
    return make_generator()


def closes(path: np.ndarray, atol: float = 1e-9) -> None:
    """Frame F (phase 1) equals frame 0, and the step back to it is an ordinary step (no jump)."""
    assert np.allclose(path[-1], path[0], atol=atol)
    steps = np.linalg.norm((path[1:] - path[:-1]).reshape(len(path) - 1, -1), axis=1)
    assert steps.min() > 0
    assert steps.max() < 3 * np.median(steps)


def test_noiseloop_is_dvschultz_opensimplex_circle():
    from opensimplex import OpenSimplex

    frames, diameter, start_seed = 24, 1.5, 7
    path = V.noise_loop(frames, [16], diameter=diameter, seed=start_seed)
    assert path.shape == (frames, 16)
    # dvschultz's generate.py, written out here: element i reads OpenSimplex(start_seed + i).noise2d at the
    # angle f * (2 pi / frames) of a circle mapped from [-1, 1]^2 onto [0, diameter]^2; no rescaling.
    for f, i in [(0, 0), (5, 3), (13, 15), (23, 8)]:
        angle = f * (2 * np.pi / frames)
        x = diameter * (np.cos(angle) + 1) / 2
        y = diameter * (np.sin(angle) + 1) / 2
        assert abs(path[f, i] - OpenSimplex(start_seed + i).noise2(x, y)) < 1e-13, (f, i)
    # Values from opensimplex 0.3's noise2d (the release of dvschultz's days), so a change of the package's
    # noise shows up here: frame 5, element 3 above, and frame 0 of element 0 for start seed 0, diameter 2.
    assert abs(path[5, 3] - 0.3966925272940312) < 1e-13
    assert abs(V.noise_loop(4, [1], diameter=2.0, seed=0)[0, 0] - -0.3063147467401727) < 1e-13


def test_noiseloop_is_closed_and_smooth():
    frames = 48
    steps = np.arange(frames + 1)  # one more than the video: frame `frames` must be frame 0 again
    path = V.noise_loop(frames, [64], diameter=2.0, seed=5, index=steps)
    assert np.array_equal(path[-1], path[0])
    closes(path)  # and the step from the last frame back to the first is an ordinary one
    # The circle itself closes, not just the modulo: just before a full turn the noise is frame 0's.
    near = V.noise_loop(frames, [64], diameter=2.0, seed=5, index=np.array([frames - 1e-6]))
    np.testing.assert_allclose(near[0], path[0], atol=1e-5)
    assert np.abs(path).max() < 1 and 0.1 < path.std() < 0.6  # raw OpenSimplex values, not a standard normal
    assert not np.allclose(V.noise_loop(frames, [64], seed=6), path[:-1])  # the seed matters
    # A larger circle crosses more of the noise field: bigger steps between frames.
    wide = V.noise_loop(frames, [64], diameter=6.0, seed=5)
    assert np.abs(np.diff(wide, axis=0)).mean() > 2 * np.abs(np.diff(path, axis=0)).mean()
    with pytest.raises(UserError, match="diameter"):
        V.noise_loop(frames, [4], diameter=0.0)


def test_noiseloop_walks_and_grid_cells_use_separate_noise_fields(G):
    space, lat = V.walk_latents(G, V.Walk(kind="noiseloop", diameter=1.0, start_seed=2), 6)
    assert space == "z"
    np.testing.assert_array_equal(lat, V.noise_loop(6, [G.z_dim], diameter=1.0, seed=2))
    _, cells = V.grid_latents(G, V.Walk(kind="noiseloop", start_seed=2), frames=6, cells=2)
    # Cell 1 reads fields 2 + z_dim ..., not cell 0's fields shifted by one element.
    np.testing.assert_allclose(cells[:, 1], V.noise_loop(6, [G.z_dim], seed=2 + G.z_dim), atol=1e-7)
    assert not np.allclose(cells[:, 1, :-1], cells[:, 0, 1:])
    with pytest.raises(UserError, match="space=z"):
        V.walk_latents(G, V.Walk(kind="noiseloop", space="w"), 6)


@pytest.mark.parametrize("space", ["z", "w"])
def test_circularloop_and_looped_linear_walks_are_closed(G, space):
    frames = 24
    for walk in (
        V.Walk(kind="circularloop", space=space, diameter=2.0),
        V.Walk(kind="linear", space=space, seeds=[1, 2, 3], loop=True, easing="linear"),
        V.Walk(kind="slerp", space=space, seeds=[1, 2, 3], loop=True),
    ):
        got_space, lat = V.walk_latents(G, walk, frames, truncation_psi=0.7)
        assert got_space == space
        # Phase 1 (frame `frames`) is frame 0 again: extend the walk by the phase of frame `frames`.
        t = np.arange(frames + 1) / frames
        if walk.kind == "circularloop":
            dist = np.linalg.norm((lat - lat.mean(axis=0)).reshape(frames, -1), axis=1)
            assert np.allclose(dist, 1.0, atol=1e-6)  # radius = diameter / 2 around the centre
            # Evenly spaced on the circle, including the step from the last frame back to the first.
            wrapped = np.concatenate([lat, lat[:1]]).reshape(frames + 1, -1)
            steps = np.linalg.norm(np.diff(wrapped, axis=0), axis=1)
            assert np.allclose(steps, steps[0], rtol=1e-6)
        else:
            keys = V.walk_latents(
                G,
                V.Walk(kind="linear", space=space, seeds=[1, 2, 3]),
                3,
                truncation_psi=0.7,
            )[1]
            full = V.keyframe_walk(keys, t, walk.kind, walk.easing, closed=True)
            assert np.allclose(full[:-1], lat)
            closes(full)


def test_open_linear_walk_ends_on_its_keypoints(G):
    space, lat = V.walk_latents(G, V.Walk(kind="linear", seeds=[4, 7], easing="smoothstep"), 5)
    assert space == "z" and lat.shape == (5, G.z_dim)
    assert np.allclose(lat[0], z_from_seed(4, G.z_dim).double().numpy()[0], atol=1e-6)
    assert np.allclose(lat[-1], z_from_seed(7, G.z_dim).double().numpy()[0], atol=1e-6)


def test_slerp_keeps_unit_norms_and_lerp_does_not():
    rnd = np.random.RandomState(0)
    a, b = rnd.randn(512), rnd.randn(512)
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    t = np.linspace(0, 1, 11)
    path = V.slerp(a, b, t)
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(path[0], a, atol=1e-12)
    np.testing.assert_allclose(path[-1], b, atol=1e-12)
    assert np.linalg.norm(V.lerp(a, b, t)[5]) < 0.9  # the straight line cuts inside the sphere
    # Per layer for ws: each row keeps its own norm.
    wa = rnd.randn(3, 8)
    wb = rnd.randn(3, 8)
    wb *= np.linalg.norm(wa, axis=1, keepdims=True) / np.linalg.norm(wb, axis=1, keepdims=True)
    ws = V.slerp(wa, wb, t)
    np.testing.assert_allclose(np.linalg.norm(ws, axis=2), np.repeat(np.linalg.norm(wa, axis=1)[None], 11, 0))
    # Parallel endpoints fall back to lerp instead of dividing by zero.
    assert np.all(np.isfinite(V.slerp(a, 2 * a, t)))


def test_easings_keep_the_ends_and_go_forward():
    t = np.linspace(0, 1, 21)
    for name in V.EASINGS:
        e = V.ease(t, name)
        assert e[0] == 0 and abs(e[-1] - 1) < 1e-12 and np.all(np.diff(e) >= 0), name


def test_mp4_and_gif_have_the_right_frames_and_size(G, tmp_path):
    space, lat = V.grid_latents(G, V.Walk(kind="slerp", seeds=[1, 2, 3, 4]), frames=7, cells=2)
    assert lat.shape == (7, 2, G.z_dim)
    mp4 = V.make_video(G, space, lat, tmp_path / "walk.mp4", fps=12, grid=(2, 1), progress=False)
    meta, frames = read_mp4(mp4)
    assert tuple(meta["size"]) == (32, 16) and len(frames) == 7
    assert abs(meta["fps"] - 12) < 1e-6
    # Frames come in order: the first decoded frame is nearer the first rendered frame than the last one
    # (tiny random networks draw pixel noise, which H.264's 4:2:0 chroma blurs, so no exact match).
    first, *_, last = V.render_frames(G, space, lat, grid=(2, 1))
    decoded = frames[0].reshape(16, 32, 3).astype(int)
    assert np.abs(decoded - first).mean() < 0.7 * np.abs(decoded - last).mean()
    gif = V.make_video(
        G,
        space,
        lat,
        tmp_path / "walk.gif",
        fps=12,
        grid=(2, 1),
        frames_dir=tmp_path / "frames",
        progress=False,
    )
    with PIL.Image.open(gif) as im:
        assert im.size == (32, 16) and im.n_frames == 7
    assert len(list((tmp_path / "frames").glob("frame*.png"))) == 7


def test_grid_splits_the_seeds_between_walks(G):
    _, lat = V.grid_latents(G, V.Walk(kind="linear", seeds=[0, 1, 2, 3]), frames=3, cells=2)
    z = {s: z_from_seed(s, G.z_dim).double().numpy()[0] for s in range(4)}
    assert np.allclose(lat[0, 0], z[0], atol=1e-6) and np.allclose(lat[-1, 0], z[1], atol=1e-6)
    assert np.allclose(lat[0, 1], z[2], atol=1e-6) and np.allclose(lat[-1, 1], z[3], atol=1e-6)
    with pytest.raises(UserError, match="evenly"):
        V.grid_latents(G, V.Walk(kind="linear", seeds=[0, 1, 2]), frames=3, cells=2)


def test_truncation_traversal_matches_the_mapping(G):
    psis = V.traversal_psis(-1.0, 1.0, 0.25)
    assert len(psis) == 9 and psis[-1] == 1.0
    ws = V.truncation_ws(G, psis, seed=3)
    with torch.no_grad():
        for i in (0, 6, 8):
            expected = G.mapping(z_from_seed(3, G.z_dim), None, truncation_psi=psis[i])[0].double().numpy()
            np.testing.assert_allclose(ws[i], expected, atol=1e-5)
    np.testing.assert_allclose(ws[4], np.broadcast_to(G.mapping.w_avg.double().numpy(), ws[4].shape), atol=1e-6)


def test_conditional_video_needs_and_uses_the_class(tiny_nets, tmp_path, capsys):
    args = [
        "video",
        f"--network={tiny_nets['cond']}",
        "--seeds=1,2",
        "--frames=3",
        "--format=gif",
    ]
    assert cli_main([*args, f"--outdir={tmp_path / 'none'}"]) == 2
    assert "--class" in capsys.readouterr().err
    for cls in (0, 3):
        assert (
            cli_main(
                [
                    *args,
                    f"--outdir={tmp_path / str(cls)}",
                    f"--class={cls}",
                    "--name=v",
                    "--space=w",
                ]
            )
            == 0
        )
    with (
        PIL.Image.open(tmp_path / "0" / "v.gif") as a,
        PIL.Image.open(tmp_path / "3" / "v.gif") as b,
    ):
        assert a.n_frames == b.n_frames == 3
        assert not np.array_equal(np.asarray(a.convert("RGB")), np.asarray(b.convert("RGB")))


def test_truncation_traversal_of_a_conditional_network_uses_its_class(tiny_nets, tmp_path, capsys):
    # The class enters through the mapping (ws); the frames are rendered from those ws, which carry it.
    args = ["video", f"--network={tiny_nets['cond']}", "--walk=truncation", "--seeds=5", "--format=gif"]
    args += ["--start=0", "--stop=1", "--increment=0.5", "--name=t"]
    assert cli_main([*args, f"--outdir={tmp_path / 'none'}"]) == 2
    assert "--class" in capsys.readouterr().err
    frames = {}
    for cls in (0, 3):
        assert cli_main([*args, f"--outdir={tmp_path / str(cls)}", f"--class={cls}"]) == 0
        with PIL.Image.open(tmp_path / str(cls) / "t.gif") as gif:
            assert gif.n_frames == 3
            gif.seek(2)  # psi 1: the class shows
            frames[cls] = np.asarray(gif.convert("RGB"))
    assert not np.array_equal(frames[0], frames[3])


def test_dvschultz_latent_walk_command_line(tiny_nets, tmp_path):
    out = tmp_path / "out"
    r = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "generate.py"),
            "generate-latent-walk",
            f"--network={tiny_nets['rgb']}",
            "--walk-type=line-w",
            "--seeds=1,2,3",
            "--frames=6",
            f"--outdir={out}",
            "--save_vector",
        ],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    meta, frames = read_mp4(out / "walk-w-line1-2-3-24fps.mp4")
    assert tuple(meta["size"]) == (16, 16) and len(frames) == 6
    assert np.load(out / "vectors" / "frame00005.npy").shape == (1, 6, 512)


def test_dvschultz_truncation_traversal_and_noiseloop(tiny_nets, tmp_path):
    out = tmp_path / "out"
    rc = legacy_main(
        [
            "truncation-traversal",
            f"--network={tiny_nets['gray']}",
            "--seed=3",
            "--start=-0.5",
            "--stop=0.5",
            "--increment=0.25",
            f"--outdir={out}",
        ]
    )
    assert rc == 0
    meta, frames = read_mp4(out / "truncation-traversal-seed3-start-0.5-stop0.5.mp4")
    assert len(frames) == 5 and tuple(meta["size"]) == (16, 16)
    rc = legacy_main(
        [
            "generate-latent-walk",
            f"--network={tiny_nets['rgb']}",
            "--walk-type=noiseloop",
            "--frames=4",
            f"--outdir={out}",
        ]
    )
    assert rc == 0
    assert len(read_mp4(out / "walk-z-noiseloop-seed0-24fps.mp4")[1]) == 4
    assert (
        legacy_main(
            [
                "generate-latent-walk",
                f"--network={tiny_nets['rgb']}",
                "--walk-type=bspline",
            ]
        )
        == 2
    )


def test_lerp_video_latents_loop_and_slow_down():
    from scipy.ndimage import gaussian_filter

    lat = V.smoothed_random_loop([5, 9], frames=40, z_dim=16, sigma=4.0)
    assert lat.shape == (40, 2, 16) and abs(np.sqrt(np.mean(lat**2)) - 1) < 1e-5
    # dvschultz's recipe: RandomState(seed).randn(frames, z_dim) per seed, blurred along time with wrap.
    raw = np.stack([np.random.RandomState(s).randn(40, 16).astype(np.float32) for s in (5, 9)], 1)
    ref = gaussian_filter(raw, [4.0, 0, 0], mode="wrap")
    np.testing.assert_allclose(lat, ref / np.sqrt(np.mean(ref**2)), rtol=1e-5, atol=1e-6)
    closes(np.concatenate([lat, lat[:1]]))  # the blur wraps around: no jump back to frame 0
    slow = V.double_frames(lat)
    assert len(slow) == 80 and np.array_equal(slow[::2], lat)
    np.testing.assert_allclose(slow[-1], (lat[-1] + lat[0]) / 2)


def test_dvschultz_lerp_video(tiny_nets, tmp_path):
    out = tmp_path / "out"
    args = ["lerp-video", f"--network={tiny_nets['rgb']}", "--duration-sec=0.5", "--fps=8", f"--outdir={out}"]
    assert legacy_main([*args, "--seeds=3", "--grid-w=2", "--grid-h=1", "--slowdown=2"]) == 0
    meta, frames = read_mp4(out / "2x1-lerp-2xslowdown.mp4")
    assert tuple(meta["size"]) == (32, 16) and len(frames) == 8
    assert legacy_main([*args, "--seeds=1,2", "--slowdown=3"]) == 2


def test_walk_between_saved_ws(G, tmp_path):
    rnd = np.random.RandomState(1)
    files = []
    for i in range(2):
        np.savez(tmp_path / f"w{i}.npz", w=rnd.randn(1, G.num_ws, G.w_dim).astype(np.float32))  # projector layout
        files.append(tmp_path / f"w{i}.npz")
    space, keys = V.load_latents(files, G.z_dim, G.num_ws, G.w_dim)
    assert space == "w" and keys.shape == (2, G.num_ws, G.w_dim)
    space, lat = V.walk_latents(G, V.Walk(kind="slerp", space="w", latents=keys), 5)
    assert space == "w" and np.allclose(lat[0], keys[0]) and np.allclose(lat[-1], keys[1])
    with pytest.raises(UserError, match="space=w"):
        V.walk_latents(G, V.Walk(kind="linear", space="z", latents=keys), 5)
    np.save(tmp_path / "bad.npy", np.zeros([3, 7]))
    with pytest.raises(UserError, match="neither z"):
        V.load_latents([tmp_path / "bad.npy"], G.z_dim, G.num_ws, G.w_dim)
