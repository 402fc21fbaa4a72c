"""generate_images / render_ws on tiny real networks: files, truncation, noise modes, labels, channels."""

import numpy as np
import PIL.Image
import pytest
import torch

from stylegan2_ada.errors import UserError
from stylegan2_ada.image_files import to_uint8
from stylegan2_ada.io.load import load_generator
from stylegan2_ada.tools.generate import (
    generate_images,
    load_ws,
    render_ws,
)
from stylegan2_ada.tools.seeds import z_from_seed


def read(path):
    with PIL.Image.open(path) as im:
        return im.mode, np.asarray(im).copy()


@pytest.fixture(scope="module")
def G(make_generator):
    return make_generator()


def test_files_and_pixels_match_the_network(G, tmp_path):
    paths = generate_images(G, [42, 0, 7], tmp_path, batch_size=2, progress=False)
    assert [p.name for p in paths] == ["seed0042.png", "seed0000.png", "seed0007.png"]
    for seed, path in zip([42, 0, 7], paths):
        mode, got = read(path)
        assert mode == "RGB" and got.shape == (16, 16, 3)
        with torch.no_grad():  # one image at a time, as NVIDIA's script renders it
            want = to_uint8(G(z_from_seed(seed, 512), None, noise_mode="const", half_dtype=None))[0]
        assert np.abs(got.astype(int) - want.astype(int)).max() <= 1


def test_grid(G, tmp_path):
    paths = generate_images(G, range(5), tmp_path, grid=True, progress=False)
    assert paths[-1].name == "grid.png"
    _, grid = read(paths[-1])
    _, first = read(tmp_path / "seed0000.png")
    _, fifth = read(tmp_path / "seed0004.png")
    assert grid.shape == (32, 48, 3)  # 5 images: 3 columns, 2 rows, row by row
    assert np.array_equal(grid[:16, :16], first) and np.array_equal(grid[16:, 16:32], fifth)
    assert not grid[16:, 32:].any()  # the empty cell stays black
    generate_images(G, range(5), tmp_path / "g", grid=5, progress=False)
    assert read(tmp_path / "g" / "grid.png")[1].shape == (16, 80, 3)


def test_psi_zero_gives_the_w_avg_image_for_every_seed(G, tmp_path):
    paths = generate_images(G, [0, 1, 2, 99], tmp_path, truncation_psi=0, progress=False)
    images = [read(p)[1] for p in paths]
    with torch.no_grad():
        ws = G.mapping.w_avg.reshape(1, 1, -1).repeat(1, G.num_ws, 1)
        avg = to_uint8(G.synthesis(ws, noise_mode="const", half_dtype=None))[0]
    for img in images:
        assert np.array_equal(img, images[0])
        assert np.abs(img.astype(int) - avg.astype(int)).max() <= 1
    # and psi=1 does not: seeds differ
    plain = [read(p)[1] for p in generate_images(G, [0, 1], tmp_path / "p1", progress=False)]
    assert not np.array_equal(plain[0], plain[1])


def test_truncation_cutoff_changes_only_late_layers(G, tmp_path):
    full = read(generate_images(G, [3], tmp_path / "a", truncation_psi=0.0, progress=False)[0])[1]
    cut = read(generate_images(G, [3], tmp_path / "b", truncation_psi=0.0, truncation_cutoff=2, progress=False)[0])[1]
    assert not np.array_equal(full, cut)


def test_noise_modes(G, tmp_path, make_generator):
    def run(mode, sub):
        return [read(p)[1] for p in generate_images(G, [1, 2], tmp_path / sub, noise_mode=mode, progress=False)]

    const_a, const_b = run("const", "c1"), run("const", "c2")
    assert all(np.array_equal(a, b) for a, b in zip(const_a, const_b))
    rand_a, rand_b = run("random", "r1"), run("random", "r2")
    assert not np.array_equal(rand_a[0], rand_b[0])
    none = run("none", "n")
    assert not np.array_equal(none[0], const_a[0])
    # strength 0 removes the noise: 'none' and 'const' agree
    G0 = make_generator()
    for name, p in G0.named_parameters():
        if name.endswith("noise_strength"):
            p.zero_()
    a = read(generate_images(G0, [1], tmp_path / "z1", noise_mode="none", progress=False)[0])[1]
    b = read(generate_images(G0, [1], tmp_path / "z2", noise_mode="const", progress=False)[0])[1]
    assert np.array_equal(a, b)


def test_seed_noise_is_per_image_and_batch_independent(G, tmp_path):
    batched = generate_images(G, [4, 5, 6], tmp_path / "b", noise_mode="seed", batch_size=3, progress=False)
    single = [generate_images(G, [s], tmp_path / f"s{s}", noise_mode="seed", progress=False)[0] for s in (4, 5, 6)]
    const = generate_images(G, [4], tmp_path / "c", noise_mode="const", progress=False)
    for b, s in zip(batched, single):
        assert np.abs(read(b)[1].astype(int) - read(s)[1].astype(int)).max() <= 1
    assert not np.array_equal(read(batched[0])[1], read(const[0])[1])
    # the network's own noise buffers are restored afterwards
    assert G.synthesis.b4.conv1.noise_const.shape == (4, 4)
    fixed = generate_images(G, [4, 5], tmp_path / "f", noise_mode="fixnoise", progress=False)
    assert not np.array_equal(read(fixed[0])[1], read(batched[0])[1])


def test_save_vectors(G, tmp_path):
    generate_images(G, [3, 11], tmp_path, save_vectors=True, progress=False)
    z = np.load(tmp_path / "vectors" / "seed0011.npy")
    assert z.dtype == np.float64 and np.array_equal(z, np.random.RandomState(11).randn(1, 512))


def test_grayscale_network(tiny_nets, tmp_path):
    G = load_generator(tiny_nets["gray"])
    mode, img = read(generate_images(G, [0], tmp_path, progress=False)[0])
    assert mode == "L" and img.shape == (16, 16)


def test_conditional_network(tiny_nets, tmp_path):
    G = load_generator(tiny_nets["cond"])
    with pytest.raises(UserError, match="--class"):
        generate_images(G, [0], tmp_path, progress=False)
    with pytest.raises(UserError, match="out of range"):
        generate_images(G, [0], tmp_path, class_idx=4, progress=False)
    a = read(generate_images(G, [0], tmp_path / "a", class_idx=1, progress=False)[0])[1]
    b = read(generate_images(G, [0], tmp_path / "b", class_idx=2, progress=False)[0])[1]
    assert not np.array_equal(a, b)
    with torch.no_grad():
        c = torch.tensor([[0.0, 1, 0, 0]])
        want = to_uint8(G(z_from_seed(0, 512), c, noise_mode="const", half_dtype=None))[0]
    assert np.abs(a.astype(int) - want.astype(int)).max() <= 1


def test_render_projected_ws(G, tmp_path):
    ws = torch.randn(3, G.num_ws, G.w_dim).numpy()
    np.savez(tmp_path / "projected_w.npz", w=ws)
    paths = render_ws(G, load_ws(tmp_path / "projected_w.npz"), tmp_path / "out", progress=False)
    assert [p.name for p in paths] == ["proj00.png", "proj01.png", "proj02.png"]
    with torch.no_grad():
        want = to_uint8(G.synthesis(torch.from_numpy(ws[1:2]), noise_mode="const", half_dtype=None))[0]
    assert np.abs(read(paths[1])[1].astype(int) - want.astype(int)).max() <= 1
    with pytest.raises(UserError, match="do not fit"):
        render_ws(G, ws[:, :3], tmp_path / "bad", progress=False)
    with pytest.raises(UserError, match="no array 'w'"):
        np.savez(tmp_path / "other.npz", dlatents=ws)
        load_ws(tmp_path / "other.npz")


def test_bad_arguments(G, tmp_path):
    with pytest.raises(UserError):
        generate_images(G, [], tmp_path, progress=False)
    with pytest.raises(UserError):
        generate_images(G, [0], tmp_path, noise_mode="loud", progress=False)
    with pytest.raises(UserError, match="missing.safetensors"):
        load_generator(tmp_path / "missing.safetensors")


@pytest.mark.slow
def test_compiled_generation_matches_eager(G, tmp_path):
    # torch.compile takes minutes on a busy 2-core machine: outside the default suite.
    for mode in ("const", "seed"):
        eager = generate_images(G, range(5), tmp_path / f"e{mode}", noise_mode=mode, batch_size=2, progress=False)
        comp = generate_images(
            G, range(5), tmp_path / f"c{mode}", noise_mode=mode, batch_size=2, compile=True, progress=False
        )
        for a, b in zip(eager, comp):
            assert np.abs(read(a)[1].astype(int) - read(b)[1].astype(int)).max() <= 2
