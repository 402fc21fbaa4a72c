"""Configs read from files are checked before anything is built: types, ranges, known fields, sizes."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from stylegan2_ada import config_check as cc
from stylegan2_ada.config import DiscriminatorConfig, GeneratorConfig, MappingConfig, network_configs
from stylegan2_ada.errors import UserError
from stylegan2_ada.ops.bias_act import _ACTIVATIONS


def _fields(cfg) -> dict:
    return dataclasses.asdict(cfg)


def test_the_tables_cover_every_field_and_activation():
    assert set(cc.GENERATOR_FIELDS) | {"mapping"} == {f.name for f in dataclasses.fields(GeneratorConfig)}
    assert set(cc.DISCRIMINATOR_FIELDS) | {"mapping"} == {f.name for f in dataclasses.fields(DiscriminatorConfig)}
    assert set(cc.MAPPING_FIELDS) == {f.name for f in dataclasses.fields(MappingConfig)}
    assert set(cc.ACTIVATIONS) == set(_ACTIVATIONS)


@pytest.mark.parametrize(
    "preset,resolution,channels,c_dim",
    [
        ("stylegan2", 1024, 3, 0),
        ("paper512", 512, 3, 0),
        ("paper256", 256, 1, 5),
        ("cifar", 32, 3, 10),
        ("auto", 4096, 3, 1000),
    ],
)
def test_every_preset_passes_unchanged(preset, resolution, channels, c_dim):
    g, d = network_configs(preset, resolution, img_channels=channels, c_dim=c_dim)
    assert cc.generator_config(_fields(g), "x") == g
    assert cc.discriminator_config(_fields(d), "x") == d
    assert cc.snapshot_config({"class": "GeneratorConfig", **g.to_dict()}, "x") == g


def test_numpy_scalars_and_missing_fields_are_accepted():
    cfg = cc.generator_config({"img_resolution": np.int64(256), "conv_clamp": np.float32(256), "mapping": {}}, "x")
    assert cfg.img_resolution == 256 and type(cfg.img_resolution) is int and cfg.z_dim == 512
    assert cc.discriminator_config({}, "x").mapping.w_avg_beta is None  # as DiscriminatorConfig.from_dict


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("w_dim", 16384, r"net: w_dim=16384 is invalid: expected an integer in 1\.\.4096$"),
        ("z_dim", True, r"true/false is not a number"),
        ("z_dim", 512.0, r"expected an integer"),
        ("img_resolution", 2**20, r"a power of two in 4\.\.4096"),
        ("img_resolution", 1000, r"a power of two"),
        ("img_resolution", 2, r"a power of two"),
        ("channel_base", 10**9, r"channel_base=1000000000 is invalid"),
        ("channel_max", 0, r"1\.\.2048"),
        ("conv_clamp", math.nan, r"conv_clamp=nan is invalid: expected a finite number"),
        ("conv_clamp", math.inf, r"finite"),
        ("conv_clamp", 0, r"more than 0"),
        ("img_channels", -1, r"1\.\.4"),
        ("architecture", "x", r"one of orig, skip, resnet"),
        ("use_noise", 1, r"true or false"),
        ("resample_filter", [1, -1], r"non-zero sum"),
        ("resample_filter", "1331", r"a list of"),
        ("num_fp16_res", -1, r"0\.\.16"),
        ("c_dim", 10**6, r"0\.\.65536"),
    ],
)
def test_bad_values_name_the_field_and_the_range(field, value, message):
    with pytest.raises(UserError, match=message):
        cc.generator_config({field: value}, "net")


def test_mapping_discriminator_and_unknown_fields():
    with pytest.raises(UserError, match=r"mapping\.w_avg_beta=2 is invalid"):
        cc.generator_config({"mapping": {"w_avg_beta": 2}}, "net")
    with pytest.raises(UserError, match=r"mapping\.num_layers=0 is invalid"):
        cc.generator_config({"mapping": {"num_layers": 0}}, "net")
    with pytest.raises(UserError, match=r"unknown config fields \['evil'\]"):
        cc.generator_config({"evil": 1}, "net")
    with pytest.raises(UserError, match=r"mbstd_group_size=0 is invalid"):
        cc.discriminator_config({"mbstd_group_size": 0}, "net")
    with pytest.raises(UserError, match=r"does not divide the 512 channels"):
        cc.discriminator_config({"mbstd_num_channels": 3}, "net")
    with pytest.raises(UserError, match=r"gives no channels at 1024x1024"):
        cc.discriminator_config({"channel_base": 512}, "net")
    with pytest.raises(UserError, match=r"unknown network class"):
        cc.snapshot_config({"class": "Evil"}, "net")
    with pytest.raises(UserError, match=r"not a set of named fields \(found a list\)"):
        cc.snapshot_config([1], "net")


def test_a_config_larger_than_its_file_is_refused():
    g, d = network_configs("stylegan2", 1024)
    weights = cc.check_fits({"G": g, "D": d}, 400_000_000, "net.pkl")  # NVIDIA's ffhq pickles: about 360 MB for three
    assert weights > 60_000_000
    with pytest.raises(
        UserError, match=r"net\.pkl: the configs of G, D describe [\d,]+ weights .* the file holds 5\.0 MB"
    ):
        cc.check_fits({"G": g, "D": d}, 5_000_000, "net.pkl")
