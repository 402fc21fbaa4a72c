"""Seed lists, the seed-to-latent rule of NVIDIA's tools, TF-era noise maps and class labels."""

import numpy as np
import pytest
import torch

from stylegan2_ada.errors import UserError
from stylegan2_ada.tools.seeds import (
    class_labels,
    latents_for_seeds,
    noise_map_resolutions,
    parse_seeds,
    seed_noise_maps,
    z_from_seed,
)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("0,1,4-6", [0, 1, 4, 5, 6]),
        ("7", [7]),
        ("3-3", [3]),
        ("10-12,2,5-6", [10, 11, 12, 2, 5, 6]),
        ("1,1,0-2", [1, 0, 2]),  # order kept, repeats dropped
        (" 4 - 5 , 9 ", [4, 5, 9]),
        ("4294967295", [2**32 - 1]),
    ],
)
def test_parse_seeds(text, expected):
    assert parse_seeds(text) == expected


def test_parse_seed_range_is_inclusive():
    seeds = parse_seeds("0-555")
    assert len(seeds) == 556 and seeds[0] == 0 and seeds[-1] == 555


@pytest.mark.parametrize("text", ["", "a", "1,,2", "-1", "5-3", "4294967296", "0-4294967296", "1.5", "1-2-3"])
def test_parse_seeds_rejects(text):
    with pytest.raises(UserError, match="seeds"):
        parse_seeds(text)


def test_z_from_seed_is_randomstate_randn():
    for seed in (0, 1, 42, 2**32 - 1):
        z = z_from_seed(seed, 512)
        expected = np.random.RandomState(seed).randn(1, 512)
        assert z.dtype == torch.float32 and z.shape == (1, 512)
        assert torch.equal(z, torch.from_numpy(expected).float())


def test_z_from_seed_known_values():
    # Published first draws of numpy's Mersenne-Twister normal generator.
    assert np.allclose(z_from_seed(0, 512)[0, :3].numpy(), [1.76405235, 0.40015721, 0.97873798], atol=1e-7)
    assert np.allclose(z_from_seed(42, 512)[0, :3].numpy(), [0.49671415, -0.1382643, 0.64768854], atol=1e-7)


def test_latents_for_seeds_rows():
    z = latents_for_seeds([5, 0, 9], 512)
    assert z.shape == (3, 512)
    for row, seed in enumerate([5, 0, 9]):
        assert torch.equal(z[row : row + 1], z_from_seed(seed, 512))


def test_z_from_seed_rejects_bad_seeds():
    for bad in (-1, 2**32, 1.5):
        with pytest.raises(UserError):
            z_from_seed(bad, 512)


def test_noise_maps_follow_the_tf_scripts(make_generator):
    G = make_generator()
    res = noise_map_resolutions(G)
    assert res == [4, 8, 8, 16, 16]  # noise0 (b4.conv1), noise1..2 (b8), noise3..4 (b16)
    rnd = np.random.RandomState(7)
    rnd.randn(1, 512)  # z is drawn first
    expected = [rnd.randn(1, 1, r, r)[0, 0] for r in res]
    for got, want in zip(seed_noise_maps(7, res, 512), expected):
        assert np.array_equal(got, want)
    rnd1 = np.random.RandomState(1)  # dvschultz --fixnoise: no z before the maps
    for got, r in zip(seed_noise_maps(None, res, 512), res):
        assert np.array_equal(got, rnd1.randn(1, 1, r, r)[0, 0])


def test_class_labels():
    c = class_labels(4, 2, batch=3)
    assert c.shape == (3, 4) and torch.equal(c, torch.tensor([[0.0, 0, 1, 0]] * 3))
    with pytest.raises(UserError, match="--class"):
        class_labels(4, None, batch=1)
    with pytest.raises(UserError, match="out of range"):
        class_labels(4, 4, batch=1)
    with pytest.warns(UserWarning, match="ignored"):
        assert class_labels(0, 3, batch=1) is None
    assert class_labels(0, None, batch=1) is None
