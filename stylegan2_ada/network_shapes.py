"""The state-dict shapes a network config implies, computed by arithmetic alone.

Loaders compare what a file holds against these shapes (and its size against their total) before they
build a network or allocate its weights, so a config that does not describe its tensors, or asks for far
more weights than the file has, is refused without spending memory on it. The names and shapes follow
stylegan2_ada.nn (NVIDIA's PyTorch port); tests/test_network_shapes.py checks them against real networks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from .config import DiscriminatorConfig, GeneratorConfig, MappingConfig

Shape = tuple[int, ...]
_DEFAULT_FILTER = (1, 3, 3, 1)  # what layers get when no filter is passed to them


def _filter_shape(taps: Sequence[int]) -> Shape:
    # ops.filters.setup_filter: fewer than 8 taps become their 2-D outer product.
    n = len(taps)
    return (n, n) if n < 8 else (n,)


def _dense(out: dict[str, Shape], prefix: str, in_features: int, out_features: int, bias: bool = True) -> None:
    out[f"{prefix}.weight"] = (out_features, in_features)
    if bias:
        out[f"{prefix}.bias"] = (out_features,)


def _conv(
    out: dict[str, Shape], prefix: str, cin: int, cout: int, k: int, taps: Sequence[int], bias: bool = True
) -> None:
    out[f"{prefix}.resample_filter"] = _filter_shape(taps)
    out[f"{prefix}.weight"] = (cout, cin, k, k)
    if bias:
        out[f"{prefix}.bias"] = (cout,)


def _mapping(out: dict[str, Shape], z_dim: int, c_dim: int, w_dim: int, tracks_w_avg: bool, cfg: MappingConfig) -> None:
    embed = w_dim if cfg.embed_features is None else cfg.embed_features
    layer = w_dim if cfg.layer_features is None else cfg.layer_features
    if c_dim == 0:
        embed = 0
    features = [z_dim + embed] + [layer] * (cfg.num_layers - 1) + [w_dim]
    if c_dim > 0:
        _dense(out, "mapping.embed", c_dim, embed)
    for idx in range(cfg.num_layers):
        _dense(out, f"mapping.fc{idx}", features[idx], features[idx + 1])
    if tracks_w_avg and cfg.w_avg_beta is not None:
        out["mapping.w_avg"] = (w_dim,)


def _channels(channel_base: int, channel_max: int, resolutions: list[int]) -> dict[int, int]:
    return {res: min(channel_base // res, channel_max) for res in resolutions}


def generator_shapes(cfg: GeneratorConfig) -> dict[str, Shape]:
    out: dict[str, Shape] = {}
    log2 = int(math.log2(cfg.img_resolution))
    resolutions = [2**i for i in range(2, log2 + 1)]
    ch = _channels(cfg.channel_base, cfg.channel_max, resolutions)
    taps = cfg.resample_filter

    def synthesis_layer(prefix: str, cin: int, cout: int, res: int) -> None:
        out[f"{prefix}.resample_filter"] = _filter_shape(taps)
        out[f"{prefix}.weight"] = (cout, cin, 3, 3)
        out[f"{prefix}.bias"] = (cout,)
        if cfg.use_noise:
            out[f"{prefix}.noise_const"] = (res, res)
            out[f"{prefix}.noise_strength"] = ()
        _dense(out, f"{prefix}.affine", cfg.w_dim, cin)

    for res in resolutions:
        p = f"synthesis.b{res}"
        cin, cout = (ch[res // 2] if res > 4 else 0), ch[res]
        out[f"{p}.resample_filter"] = _filter_shape(taps)
        if cin == 0:
            out[f"{p}.const"] = (cout, res, res)
        else:
            synthesis_layer(f"{p}.conv0", cin, cout, res)
        synthesis_layer(f"{p}.conv1", cout, cout, res)
        if res == cfg.img_resolution or cfg.architecture == "skip":
            out[f"{p}.torgb.weight"] = (cfg.img_channels, cout, 1, 1)
            out[f"{p}.torgb.bias"] = (cfg.img_channels,)
            _dense(out, f"{p}.torgb.affine", cfg.w_dim, cout)
        if cin != 0 and cfg.architecture == "resnet":
            _conv(out, f"{p}.skip", cin, cout, 1, taps, bias=False)
    _mapping(out, cfg.z_dim, cfg.c_dim, cfg.w_dim, True, cfg.mapping)
    return out


def discriminator_cmap_dim(cfg: DiscriminatorConfig) -> int:
    """The width of the label projection (0 for an unconditional D)."""
    if cfg.c_dim == 0:
        return 0
    return min(cfg.channel_base // 4, cfg.channel_max) if cfg.cmap_dim is None else cfg.cmap_dim


def discriminator_shapes(cfg: DiscriminatorConfig) -> dict[str, Shape]:
    out: dict[str, Shape] = {}
    log2 = int(math.log2(cfg.img_resolution))
    resolutions = [2**i for i in range(log2, 2, -1)]
    ch = _channels(cfg.channel_base, cfg.channel_max, resolutions + [4])
    taps = cfg.resample_filter
    for res in resolutions:
        p = f"b{res}"
        tmp, cout = ch[res], ch[res // 2]
        out[f"{p}.resample_filter"] = _filter_shape(taps)
        if res == cfg.img_resolution or cfg.architecture == "skip":
            _conv(out, f"{p}.fromrgb", cfg.img_channels, tmp, 1, _DEFAULT_FILTER)
        _conv(out, f"{p}.conv0", tmp, tmp, 3, _DEFAULT_FILTER)
        _conv(out, f"{p}.conv1", tmp, cout, 3, taps)
        if cfg.architecture == "resnet":
            _conv(out, f"{p}.skip", tmp, cout, 1, taps, bias=False)
    cmap = discriminator_cmap_dim(cfg)
    if cfg.c_dim > 0:
        _mapping(out, 0, cfg.c_dim, cmap, False, cfg.mapping)
    c4 = ch[4]
    if cfg.architecture == "skip":
        _conv(out, "b4.fromrgb", cfg.img_channels, c4, 1, _DEFAULT_FILTER)
    _conv(out, "b4.conv", c4 + cfg.mbstd_num_channels, c4, 3, _DEFAULT_FILTER)
    _dense(out, "b4.fc", c4 * 16, c4)
    _dense(out, "b4.out", c4, 1 if cmap == 0 else cmap)
    return out


def state_shapes(cfg: GeneratorConfig | DiscriminatorConfig) -> dict[str, Shape]:
    """Every state-dict entry (parameters and persistent buffers) of the network `cfg` builds, with its shape."""
    if isinstance(cfg, GeneratorConfig):
        return generator_shapes(cfg)
    return discriminator_shapes(cfg)


def element_count(shapes: Mapping[str, Shape]) -> int:
    return sum(math.prod(shape) for shape in shapes.values())


def parameter_count(cfg: GeneratorConfig | DiscriminatorConfig) -> int:
    """Elements of every parameter and buffer of the network (what a file of it must hold)."""
    return element_count(state_shapes(cfg))


def shape_mismatch(expected: Mapping[str, Shape], found: Mapping[str, Shape]) -> str | None:
    """None when `found` has exactly the names and shapes of `expected`, else what differs (one line)."""
    missing = [k for k in expected if k not in found]
    unexpected = [k for k in found if k not in expected]
    wrong = [
        f"{k} {list(found[k])} (config: {list(expected[k])})"
        for k in expected
        if k in found and tuple(found[k]) != expected[k]
    ]
    parts = [
        f"{label} {', '.join(_short(n) for n in names[:3])}{' ...' if len(names) > 3 else ''}"
        for label, names in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong))
        if names
    ]
    return "; ".join(parts) or None


def _short(name: str, limit: int = 120) -> str:
    text = repr(name) if not name.isprintable() else name
    return text if len(text) <= limit else text[: limit - 3] + "..."
