"""Network architecture configs and the training presets of NVIDIA's train.py, as plain data.

A config travels with the weights (JSON beside the safetensors), so a snapshot always rebuilds the
network it was saved from. Field names follow NVIDIA's constructor arguments so a pickle's init_kwargs
map onto them directly.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class MappingConfig:
    num_layers: int = 8
    embed_features: int | None = None  # None = w_dim
    layer_features: int | None = None  # None = w_dim
    activation: str = "lrelu"
    lr_multiplier: float = 0.01
    w_avg_beta: float | None = 0.995


@dataclass(frozen=True)
class GeneratorConfig:
    z_dim: int = 512
    c_dim: int = 0
    w_dim: int = 512
    img_resolution: int = 1024
    img_channels: int = 3
    mapping: MappingConfig = field(default_factory=MappingConfig)
    channel_base: int = 32768
    channel_max: int = 512
    num_fp16_res: int = 4
    conv_clamp: float | None = 256
    architecture: str = "skip"
    resample_filter: tuple[int, ...] = (1, 3, 3, 1)
    use_noise: bool = True
    fp16_channels_last: bool = False

    def __post_init__(self) -> None:
        _check_resolution(self.img_resolution)
        if self.architecture not in ("orig", "skip", "resnet"):
            raise ValueError(f"unknown synthesis architecture {self.architecture!r}: use orig, skip or resnet")

    @property
    def num_ws(self) -> int:
        return 2 * int(math.log2(self.img_resolution)) - 2

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GeneratorConfig:
        d = dict(d)
        d["mapping"] = MappingConfig(**known_fields(MappingConfig, dict(d.get("mapping", {}))))
        if "resample_filter" in d:
            d["resample_filter"] = tuple(d["resample_filter"])
        return cls(**known_fields(cls, d))


@dataclass(frozen=True)
class DiscriminatorConfig:
    c_dim: int = 0
    img_resolution: int = 1024
    img_channels: int = 3
    architecture: str = "resnet"
    channel_base: int = 32768
    channel_max: int = 512
    num_fp16_res: int = 4
    conv_clamp: float | None = 256
    cmap_dim: int | None = None
    mbstd_group_size: int | None = 4
    mbstd_num_channels: int = 1
    mapping: MappingConfig = field(default_factory=lambda: MappingConfig(w_avg_beta=None))
    resample_filter: tuple[int, ...] = (1, 3, 3, 1)
    activation: str = "lrelu"
    freeze_layers: int = 0
    fp16_channels_last: bool = False

    def __post_init__(self) -> None:
        _check_resolution(self.img_resolution)
        if self.architecture not in ("orig", "skip", "resnet"):
            raise ValueError(f"unknown discriminator architecture {self.architecture!r}: use orig, skip or resnet")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DiscriminatorConfig:
        d = dict(d)
        d["mapping"] = MappingConfig(**known_fields(MappingConfig, dict(d.get("mapping", {"w_avg_beta": None}))))
        if "resample_filter" in d:
            d["resample_filter"] = tuple(d["resample_filter"])
        return cls(**known_fields(cls, d))


def known_fields(cls: type, d: dict[str, Any]) -> dict[str, Any]:
    """`d` itself, after checking that every key is a field of the dataclass `cls`: unknown keys are an
    error everywhere (network configs, training options), never silently dropped."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(d) - names
    if unknown:
        raise ValueError(f"unknown {cls.__name__} fields {sorted(unknown)}: the config is from a newer version?")
    return d


def _check_resolution(res: int) -> None:
    if res < 4 or res & (res - 1) != 0:
        raise ValueError(f"resolution {res} is not a power of two >= 4: resize the images (e.g. 256, 512, 1024)")


# ---------------------------------------------------------------------------------------------------
# Training presets (--cfg), with the values of NVIDIA's stylegan2-ada-pytorch train.py.


@dataclass(frozen=True)
class Preset:
    name: str
    ref_gpus: int
    kimg: int
    batch: int  # -1 = computed ('auto')
    mbstd: int
    fmaps: float
    lrate: float
    gamma: float
    ema_kimg: float
    ema_rampup: float | None
    map_layers: int


PRESETS: dict[str, Preset] = {
    "auto": Preset("auto", -1, 25000, -1, -1, -1, -1, -1, -1, 0.05, 2),
    "stylegan2": Preset("stylegan2", 8, 25000, 32, 4, 1, 0.002, 10, 10, None, 8),
    "paper256": Preset("paper256", 8, 25000, 64, 8, 0.5, 0.0025, 1, 20, None, 8),
    "paper512": Preset("paper512", 8, 25000, 64, 8, 1, 0.0025, 0.5, 20, None, 8),
    "paper1024": Preset("paper1024", 8, 25000, 32, 4, 1, 0.002, 2, 10, None, 8),
    "cifar": Preset("cifar", 2, 100000, 64, 32, 1, 0.0025, 0.01, 500, 0.05, 2),
}


def resolve_preset(name: str, resolution: int, gpus: int = 1) -> Preset:
    """The preset with 'auto' values filled in for this resolution and GPU count."""
    if name not in PRESETS:
        raise ValueError(f"unknown --cfg {name!r}: choose one of {', '.join(PRESETS)}")
    p = PRESETS[name]
    if name != "auto":
        return p
    batch = max(min(gpus * min(4096 // resolution, 32), 64), gpus)
    return dataclasses.replace(
        p,
        ref_gpus=gpus,
        batch=batch,
        mbstd=min(batch // gpus, 4),
        fmaps=1 if resolution >= 512 else 0.5,
        lrate=0.002 if resolution >= 1024 else 0.0025,
        gamma=0.0002 * resolution**2 / batch,
        ema_kimg=batch * 10 / 32,
    )


def network_configs(
    cfg: str,
    resolution: int,
    img_channels: int = 3,
    c_dim: int = 0,
    gpus: int = 1,
) -> tuple[GeneratorConfig, DiscriminatorConfig]:
    """G and D configs for a preset, as NVIDIA's train.py builds them (fp16 in the 4 top resolutions,
    conv clamp 256)."""
    p = resolve_preset(cfg, resolution, gpus)
    channel_base = int(p.fmaps * 32768)
    g = GeneratorConfig(
        c_dim=c_dim,
        img_resolution=resolution,
        img_channels=img_channels,
        mapping=MappingConfig(num_layers=p.map_layers),
        channel_base=channel_base,
        channel_max=512,
        num_fp16_res=4,
        conv_clamp=256,
    )
    d = DiscriminatorConfig(
        c_dim=c_dim,
        img_resolution=resolution,
        img_channels=img_channels,
        architecture="orig" if cfg == "cifar" else "resnet",
        channel_base=channel_base,
        channel_max=512,
        num_fp16_res=4,
        conv_clamp=256,
        mbstd_group_size=p.mbstd,
    )
    return g, d
