"""Checks a network config read from a file before anything is built from it.

A snapshot's JSON header, an NVIDIA pickle's init_kwargs and a TF pickle's static_kwargs all say which
network to build, and a broken or hostile file can say anything: w_dim=16384, a resolution of 2**20,
channel_base=1e9, NaN, `true` for a number. Every loader turns what its file says into the fields of
GeneratorConfig/DiscriminatorConfig and passes them here first: unknown fields, wrong types (a bool is not
a number; NaN and infinities are refused) and values out of range become one UserError naming the file,
the field and the allowed range. The bounds admit every network NVIDIA published (512 wide, 1024 pixels at
most) with room to spare, and keep any single config from asking for an absurd allocation; `check_fits`
then compares the weights the configs imply with the bytes the file actually holds.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .config import DiscriminatorConfig, GeneratorConfig, MappingConfig
from .errors import UserError
from .network_shapes import discriminator_cmap_dim, parameter_count

# The bounds (NVIDIA's networks in brackets).
MAX_RESOLUTION = 4096  # power of two from 4 [32..1024]
MAX_WIDTH = 4096  # z_dim, w_dim, mapping widths, cmap_dim [512]
MAX_CHANNELS = 2048  # channel_max [512]
MAX_CHANNEL_BASE = 2**20  # [16384..32768]
MAX_LABELS = 2**16  # c_dim [0..1000]
MAX_IMG_CHANNELS = 4  # [1, 3]
MAX_MAPPING_LAYERS = 32  # [2..8]
MAX_FP16_RES = 16  # [0, 4]
MAX_CONV_CLAMP = 1e6  # [256]
MAX_LR_MULTIPLIER = 100.0  # [0.01, 0.1]
MAX_FILTER_TAPS, MAX_TAP = 16, 1024  # [1, 3, 3, 1]
MAX_MBSTD_GROUP = 1024  # [4..32]
MAX_MBSTD_CHANNELS = 64  # [1]
MAX_FREEZE_LAYERS = 1000  # [0..~40]
MIN_BYTES_PER_WEIGHT = 2  # fp16/bf16: the smallest a stored weight can be

ACTIVATIONS = ("linear", "relu", "lrelu", "tanh", "sigmoid", "swish")  # ops.bias_act's (a test keeps them equal)
ARCHITECTURES = ("orig", "skip", "resnet")


class _Invalid(Exception):
    """A value that does not fit its field; `expected` says what would."""

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


def _is_integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


@dataclass(frozen=True)
class Int:
    low: int
    high: int
    optional: bool = False

    def describe(self) -> str:
        return f"an integer in {self.low}..{self.high}" + (" or null" if self.optional else "")

    def check(self, value: Any) -> int | None:
        if value is None and self.optional:
            return None
        if not _is_integer(value):
            raise _Invalid(self.describe() + (" (true/false is not a number)" if isinstance(value, bool) else ""))
        value = int(value)
        if not self.low <= value <= self.high:
            raise _Invalid(self.describe())
        return value


@dataclass(frozen=True)
class Real:
    low: float
    high: float
    optional: bool = False
    low_open: bool = False  # the low end itself is not allowed

    def describe(self) -> str:
        low = f"more than {self.low:g}" if self.low_open else f"at least {self.low:g}"
        return f"a finite number {low} and at most {self.high:g}" + (" or null" if self.optional else "")

    def check(self, value: Any) -> float | int | None:
        if value is None and self.optional:
            return None
        if not isinstance(value, numbers.Real) or isinstance(value, bool):
            raise _Invalid(self.describe() + (" (true/false is not a number)" if isinstance(value, bool) else ""))
        try:
            number = float(value)
        except (OverflowError, ValueError):
            raise _Invalid(self.describe()) from None
        if (
            not math.isfinite(number)
            or number > self.high
            or number < self.low
            or (self.low_open and number == self.low)
        ):
            raise _Invalid(self.describe())
        return value if type(value) in (int, float) else number  # keeps 256 an int in the JSON it is saved to


@dataclass(frozen=True)
class Choice:
    options: tuple[str, ...]

    def check(self, value: Any) -> str:
        if type(value) is not str or value not in self.options:
            raise _Invalid("one of " + ", ".join(self.options))
        return value


class Bool:
    def check(self, value: Any) -> bool:
        if type(value) is not bool:
            raise _Invalid("true or false")
        return value


class Resolution:
    def check(self, value: Any) -> int:
        expected = f"a power of two in 4..{MAX_RESOLUTION}"
        if not _is_integer(value) or not 4 <= int(value) <= MAX_RESOLUTION or int(value) & (int(value) - 1):
            raise _Invalid(expected)
        return int(value)


class Filter:
    def check(self, value: Any) -> tuple[int, ...]:
        expected = (
            f"a list of 1..{MAX_FILTER_TAPS} integers in -{MAX_TAP}..{MAX_TAP} with a non-zero sum, e.g. [1, 3, 3, 1]"
        )
        if not isinstance(value, (list, tuple)) or not 1 <= len(value) <= MAX_FILTER_TAPS:
            raise _Invalid(expected)
        if not all(_is_integer(v) and -MAX_TAP <= int(v) <= MAX_TAP for v in value) or sum(int(v) for v in value) == 0:
            raise _Invalid(expected)
        return tuple(int(v) for v in value)


_MAPPING: dict[str, Any] = {
    "num_layers": Int(0, MAX_MAPPING_LAYERS),
    "embed_features": Int(1, MAX_WIDTH, optional=True),
    "layer_features": Int(1, MAX_WIDTH, optional=True),
    "activation": Choice(ACTIVATIONS),
    "lr_multiplier": Real(0, MAX_LR_MULTIPLIER, low_open=True),
    "w_avg_beta": Real(0, 1, optional=True),
}
_SHARED: dict[str, Any] = {
    "c_dim": Int(0, MAX_LABELS),
    "img_resolution": Resolution(),
    "img_channels": Int(1, MAX_IMG_CHANNELS),
    "channel_base": Int(4, MAX_CHANNEL_BASE),
    "channel_max": Int(1, MAX_CHANNELS),
    "num_fp16_res": Int(0, MAX_FP16_RES),
    "conv_clamp": Real(0, MAX_CONV_CLAMP, optional=True, low_open=True),
    "architecture": Choice(ARCHITECTURES),
    "resample_filter": Filter(),
    "fp16_channels_last": Bool(),
}
GENERATOR_FIELDS: dict[str, Any] = {
    **_SHARED,
    "z_dim": Int(1, MAX_WIDTH),
    "w_dim": Int(1, MAX_WIDTH),
    "use_noise": Bool(),
}
DISCRIMINATOR_FIELDS: dict[str, Any] = {
    **_SHARED,
    "cmap_dim": Int(1, MAX_WIDTH, optional=True),
    "mbstd_group_size": Int(1, MAX_MBSTD_GROUP, optional=True),
    "mbstd_num_channels": Int(0, MAX_MBSTD_CHANNELS),
    "activation": Choice(ACTIVATIONS),
    "freeze_layers": Int(0, MAX_FREEZE_LAYERS),
}
MAPPING_FIELDS = _MAPPING


def short(value: Any, limit: int = 48) -> str:
    """A value as it may appear in a one-line message: repr, cut short."""
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a hostile object's repr must not hide the real error
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def a_type(value: Any) -> str:
    """'an int', 'a list', 'null': the kind of a value, for messages."""
    if value is None:
        return "null"
    name = type(value).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def _at(where: str) -> str:
    return f"{where}: " if where else ""


def _names(keys: list[Any]) -> str:
    shown = ", ".join(short(k, 32) for k in keys[:5])
    return f"[{shown}{', ...' if len(keys) > 5 else ''}]"


def _fields(specs: dict[str, Any], fields: Any, where: str, prefix: str = "") -> dict[str, Any]:
    if not isinstance(fields, Mapping):
        what = prefix.rstrip(".") or "the network config"
        raise UserError(f"{_at(where)}{what} is not a set of named fields (found {a_type(fields)})")
    unknown = [k for k in fields if k not in specs]
    if unknown:
        prefix_words = prefix.replace(".", " ")
        raise UserError(
            f"{_at(where)}unknown {prefix_words}config fields {_names(unknown)}: not options of this "
            "network (a config from a newer version, or altered?)"
        )
    out: dict[str, Any] = {}
    for name, value in fields.items():
        try:
            out[name] = specs[name].check(value)
        except _Invalid as exc:
            raise UserError(f"{_at(where)}{prefix}{name}={short(value)} is invalid: expected {exc.expected}") from None
    return out


def check_value(value: Any, spec: Any, name: str, where: str) -> Any:
    """One value against a spec (Int(...), Real(...), Choice(...), Bool(), Filter(), Resolution()), for
    loaders that read options under other names (TF static_kwargs) before they become config fields."""
    try:
        return spec.check(value)
    except _Invalid as exc:
        raise UserError(f"{_at(where)}{name}={short(value)} is invalid: expected {exc.expected}") from None


def _mapping(value: Any, default: MappingConfig, where: str) -> MappingConfig:
    if isinstance(value, MappingConfig):
        value = dataclasses.asdict(value)
    return MappingConfig(**{**dataclasses.asdict(default), **_fields(_MAPPING, value, where, "mapping.")})


def _channel_base_covers(out: dict[str, Any], cfg_defaults: Any, where: str) -> None:
    res = out.get("img_resolution", cfg_defaults.img_resolution)
    base = out.get("channel_base", cfg_defaults.channel_base)
    if base < res:
        raise UserError(
            f"{_at(where)}channel_base={base} gives no channels at {res}x{res}: expected channel_base in "
            f"{res}..{MAX_CHANNEL_BASE}"
        )


def generator_config(fields: Any, where: str) -> GeneratorConfig:
    """A GeneratorConfig from untrusted fields (missing ones take the dataclass defaults), or a UserError."""
    if not isinstance(fields, Mapping):
        raise UserError(f"{_at(where)}the generator config is not a set of named fields (found {a_type(fields)})")
    fields = dict(fields)
    mapping = _mapping(fields.pop("mapping", {}), MappingConfig(), where)
    out = _fields(GENERATOR_FIELDS, fields, where)
    _channel_base_covers(out, GeneratorConfig, where)
    if mapping.num_layers < 1:
        raise UserError(f"{_at(where)}mapping.num_layers=0 is invalid: expected an integer in 1..{MAX_MAPPING_LAYERS}")
    return _build(GeneratorConfig, out, mapping, where)


def discriminator_config(fields: Any, where: str) -> DiscriminatorConfig:
    """A DiscriminatorConfig from untrusted fields (missing ones take the dataclass defaults), or a UserError."""
    if not isinstance(fields, Mapping):
        raise UserError(f"{_at(where)}the discriminator config is not a set of named fields (found {a_type(fields)})")
    fields = dict(fields)
    mapping = _mapping(fields.pop("mapping", {"w_avg_beta": None}), MappingConfig(), where)
    out = _fields(DISCRIMINATOR_FIELDS, fields, where)
    _channel_base_covers(out, DiscriminatorConfig, where)
    cfg = _build(DiscriminatorConfig, out, mapping, where)
    channels_at_4 = min(cfg.channel_base // 4, cfg.channel_max)
    if cfg.mbstd_num_channels and channels_at_4 % cfg.mbstd_num_channels:
        raise UserError(
            f"{_at(where)}mbstd_num_channels={cfg.mbstd_num_channels} does not divide the {channels_at_4} channels at 4x4"
        )
    cmap = discriminator_cmap_dim(cfg)
    embed = cmap if mapping.embed_features is None else mapping.embed_features
    if cfg.c_dim and mapping.num_layers == 0 and embed != cmap:
        raise UserError(
            f"{_at(where)}with mapping.num_layers=0 the label embedding ({embed}) must be cmap_dim wide ({cmap})"
        )
    return cfg


def _build(cls: type, out: dict[str, Any], mapping: MappingConfig, where: str) -> Any:
    try:
        return cls(**out, mapping=mapping)
    except (TypeError, ValueError) as exc:  # the dataclass's own checks, should the bounds above ever miss one
        raise UserError(f"{_at(where)}{exc}") from None


def snapshot_config(entry: Any, where: str) -> GeneratorConfig | DiscriminatorConfig:
    """A config as our snapshots store it: {"class": "GeneratorConfig" | "DiscriminatorConfig", fields...}."""
    if not isinstance(entry, Mapping):
        raise UserError(f"{_at(where)}the network config is not a set of named fields (found {a_type(entry)})")
    fields = dict(entry)
    kind = fields.pop("class", None)
    if kind == "GeneratorConfig":
        return generator_config(fields, where)
    if kind == "DiscriminatorConfig":
        return discriminator_config(fields, where)
    raise UserError(f"{_at(where)}unknown network class {short(kind)}: expected GeneratorConfig or DiscriminatorConfig")


def check_fits(configs: Mapping[str, GeneratorConfig | DiscriminatorConfig], file_bytes: int, where: str) -> int:
    """Refuses configs whose weights could not be in a file of `file_bytes` (even at 16 bits each), so a small
    file cannot make the loader build a huge network. Returns the weight count."""
    weights = sum(parameter_count(cfg) for cfg in configs.values())
    needed = weights * MIN_BYTES_PER_WEIGHT
    if needed > file_bytes:
        raise UserError(
            f"{_at(where)}the configs of {', '.join(configs)} describe {weights:,} weights ({needed / 1e6:,.1f} MB even "
            f"at 16 bits), but the file holds {file_bytes / 1e6:,.1f} MB; it is truncated or its config was altered"
        )
    return weights
