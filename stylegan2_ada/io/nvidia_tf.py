"""Networks from TensorFlow pickles (NVlabs stylegan2, stylegan2-ada TF, the dvschultz fork), without TF.

A TF pickle is a tuple (G, D, Gs) of dnnlib.tflib.network.Network states: `static_kwargs` (the build
function's arguments), `variables` (list of (name, numpy array)) and `components` (G's 'mapping' and
'synthesis' sub-networks, Network states themselves). The variables are renamed to our state-dict
names and re-laid out:
- dense weights are [in, out] in TF, [out, in] here (transpose);
- conv weights are [kh, kw, in, out] in TF, [out, in, kh, kw] here; the generator's upsampling convs are
  transposed convolutions in TF, so their kernels are also flipped spatially;
- TF adds 1 to the style (mod_bias) at run time, the port keeps it in the bias (affine.bias = mod_bias + 1);
- the const input drops its leading batch axis; noise inputs noise{i} [1, 1, r, r] become noise_const [r, r].
Learning-rate multipliers and He gains are applied at run time in both, so weights copy as they are.
Channel counts: TF uses nf(stage) = clip(fmap_base / 2**stage, fmap_min, fmap_max) with stage =
log2(res) - 1, i.e. channel_base = 2 * fmap_base here.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ..config import DiscriminatorConfig, GeneratorConfig, MappingConfig
from ..errors import UserError
from ..nn import Discriminator, Generator
from .nvidia_torch import UnsupportedNetworkError, json_safe, load_weights
from .restricted_unpickler import TFNetwork

# static_kwargs that only affect training or evaluation graphs, not the weights or the images.
_RUNTIME_ONLY = {
    "truncation_psi", "truncation_cutoff", "truncation_psi_val", "truncation_cutoff_val", "style_mixing_prob",
    "dlatent_avg_beta", "w_avg_beta", "randomize_noise", "fused_modconv", "dtype", "structure", "is_training",
    "is_validation", "return_dlatents", "mapping_func", "synthesis_func", "augment_strength", "adaptive_dropout",
    "freeze_layers", "pagan_num", "pagan_fade", "dlatent_broadcast", "is_template_graph", "force_clean_graph",
}  # fmt: skip
_G_KNOWN = {
    "latent_size", "label_size", "dlatent_size", "resolution", "num_channels", "mapping_layers", "mapping_fmaps",
    "mapping_lrmul", "mapping_nonlinearity", "normalize_latents", "label_fmaps", "fmap_base", "fmap_decay",
    "fmap_min", "fmap_max", "fmap_const", "use_noise", "architecture", "nonlinearity", "num_fp16_res",
    "conv_clamp", "resample_kernel",
}  # fmt: skip
_D_KNOWN = {
    "num_channels", "resolution", "label_size", "fmap_base", "fmap_decay", "fmap_min", "fmap_max",
    "mapping_layers", "mapping_fmaps", "mapping_lrmul", "architecture", "nonlinearity", "mbstd_group_size",
    "mbstd_num_features", "num_fp16_res", "conv_clamp", "resample_kernel", "use_pagan", "score_size", "score_max",
    "use_spectral_norm",
}  # fmt: skip


def is_tf_pickle(data: Any) -> bool:
    return isinstance(data, tuple) and len(data) == 3 and all(isinstance(n, TFNetwork) for n in data)


def collect_variables(net: TFNetwork, prefix: str = "") -> dict[str, np.ndarray]:
    """All variables of a network and its components, named '<component>/<variable>'."""
    out: dict[str, np.ndarray] = {}
    for item in net.variables:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)):
            raise UserError(f"network {net.name!r} has a malformed variable list")
        name, value = item
        if not isinstance(value, np.ndarray):
            value = np.asarray(value, dtype=np.float32)  # scalars (noise_strength) may be numpy scalars
        out[prefix + name] = value
    for comp_name, comp in net.components.items():
        if not isinstance(comp, TFNetwork):
            raise UserError(f"component {comp_name!r} of network {net.name!r} is not a network")
        out.update(collect_variables(comp, f"{prefix}{comp_name}/"))
    return out


def _check_version(net: TFNetwork) -> None:
    if net.version < 4:
        raise UnsupportedNetworkError(
            f"TF network {net.name!r} has pickle version {net.version} (StyleGAN1 or older); only StyleGAN2 "
            "networks (version >= 4) are supported"
        )


def _check_kwargs(net: TFNetwork, known: set[str]) -> list[str]:
    unknown = sorted(set(net.static_kwargs) - known - _RUNTIME_ONLY)
    if unknown:
        warnings.warn(f"TF network {net.name!r}: ignoring unknown options {unknown}", stacklevel=3)
    return unknown


def _channel_base(kw: dict[str, Any], resolution: int, what: str) -> tuple[int, int]:
    """channel_base, channel_max reproducing TF's nf() at every resolution, or a clear refusal."""
    fmap_base = int(kw.get("fmap_base", 16384))
    fmap_decay = float(kw.get("fmap_decay", 1))
    fmap_min = int(kw.get("fmap_min", 1))
    fmap_max = int(kw.get("fmap_max", 512))
    channel_base, channel_max = 2 * fmap_base, fmap_max
    for stage in range(1, int(math.log2(resolution))):  # the feature maps at resolution 2**(stage+1)
        tf_nf = int(np.clip(int(fmap_base / (2.0 ** (stage * fmap_decay))), fmap_min, fmap_max))
        if tf_nf != min(channel_base // 2 ** (stage + 1), channel_max):
            raise UnsupportedNetworkError(
                f"{what}: feature-map options fmap_decay={fmap_decay}, fmap_min={fmap_min} give channel "
                "counts the NVIDIA StyleGAN2 architecture cannot express; not supported"
            )
    return channel_base, channel_max


def _filter(kw: dict[str, Any]) -> tuple[int, ...]:
    k = kw.get("resample_kernel", [1, 3, 3, 1])
    return (1, 1) if k is None else tuple(int(v) for v in k)


def _activation(kw: dict[str, Any], key: str) -> str:
    return str(kw.get(key, "lrelu"))


def generator_config(net: TFNetwork, tf_vars: dict[str, np.ndarray]) -> GeneratorConfig:
    _check_version(net)
    kw = net.static_kwargs
    _check_kwargs(net, _G_KNOWN)
    if not kw.get("normalize_latents", True):
        raise UnsupportedNetworkError("this TF generator does not normalise its latents; not supported")
    if kw.get("fmap_const") is not None:
        raise UnsupportedNetworkError("this TF generator sets fmap_const; not supported")
    if _activation(kw, "nonlinearity") != "lrelu":
        raise UnsupportedNetworkError("this TF generator uses a synthesis activation other than lrelu; not supported")
    if any(name.startswith("mapping/LabelConcat/") for name in tf_vars):
        raise UnsupportedNetworkError(
            "this is a conditional generator of the original TF StyleGAN2 (LabelConcat), whose label path "
            "differs from StyleGAN2-ADA's; not supported (unconditional and StyleGAN2-ADA networks are)"
        )
    if any(re.match(r"synthesis/ToRGB_lod\d+/", name) for name in tf_vars):
        raise UnsupportedNetworkError("this TF generator is a progressive-growing (config A-D) network; not supported")
    resolution = int(kw.get("resolution", 1024))
    z_dim = int(kw.get("latent_size", 512))
    w_dim = int(kw.get("dlatent_size", 512))
    c_dim = int(kw.get("label_size", 0))
    channel_base, channel_max = _channel_base(kw, resolution, "generator")
    beta = kw.get("dlatent_avg_beta", kw.get("w_avg_beta", 0.995))
    embed_features = int(kw.get("label_fmaps") or z_dim)  # TF's default is latent_size, the port's w_dim
    mapping = MappingConfig(
        num_layers=int(kw.get("mapping_layers", 8)),
        embed_features=None if embed_features == w_dim else embed_features,
        layer_features=kw.get("mapping_fmaps"),
        activation=_activation(kw, "mapping_nonlinearity"),
        lr_multiplier=float(kw.get("mapping_lrmul", 0.01)),
        w_avg_beta=1.0 if beta is None else float(beta),  # None in TF = no tracking = beta 1 here
    )
    return GeneratorConfig(
        z_dim=z_dim,
        c_dim=c_dim,
        w_dim=w_dim,
        img_resolution=resolution,
        img_channels=int(kw.get("num_channels", 3)),
        mapping=mapping,
        channel_base=channel_base,
        channel_max=channel_max,
        num_fp16_res=int(kw.get("num_fp16_res", 0)),
        conv_clamp=kw.get("conv_clamp"),
        architecture=str(kw.get("architecture", "skip")),
        resample_filter=_filter(kw),
        use_noise=bool(kw.get("use_noise", True)),
    )


def discriminator_config(net: TFNetwork, tf_vars: dict[str, np.ndarray]) -> DiscriminatorConfig:
    _check_version(net)
    kw = net.static_kwargs
    _check_kwargs(net, _D_KNOWN)
    for flag in ("use_pagan", "use_spectral_norm"):
        if kw.get(flag):
            raise UnsupportedNetworkError(f"this TF discriminator uses {flag}; not supported")
    if int(kw.get("score_max", 1)) != 1:
        raise UnsupportedNetworkError("this TF discriminator has several output scores (auxrot); not supported")
    resolution = int(kw.get("resolution", 1024))
    c_dim = int(kw.get("label_size", 0))
    if c_dim > 0 and "LabelEmbed/weight" not in tf_vars:
        raise UnsupportedNetworkError(
            "this is a conditional discriminator of the original TF StyleGAN2 (no label embedding); not supported"
        )
    channel_base, channel_max = _channel_base(kw, resolution, "discriminator")
    fmap_base = int(kw.get("fmap_base", 16384))
    default_fmaps = int(np.clip(fmap_base, int(kw.get("fmap_min", 1)), int(kw.get("fmap_max", 512))))  # TF nf(0)
    cmap_dim = int(kw.get("mapping_fmaps") or default_fmaps)
    if "mbstd_group_size" in kw:
        group = kw["mbstd_group_size"]
    else:  # the build function's own default: 4 in StyleGAN2's D_stylegan2, whole batch in ADA's D_main
        group = 4 if net.build_func_name == "D_stylegan2" else None
    activation = _activation(kw, "nonlinearity")
    return DiscriminatorConfig(
        c_dim=c_dim,
        img_resolution=resolution,
        img_channels=int(kw.get("num_channels", 3)),
        architecture=str(kw.get("architecture", "resnet")),
        channel_base=channel_base,
        channel_max=channel_max,
        num_fp16_res=int(kw.get("num_fp16_res", 0)),
        conv_clamp=kw.get("conv_clamp"),
        cmap_dim=cmap_dim,
        mbstd_group_size=None if group is None else int(group),
        mbstd_num_channels=int(kw.get("mbstd_num_features", 1)),
        mapping=MappingConfig(
            num_layers=int(kw.get("mapping_layers", 0)),
            embed_features=cmap_dim,
            layer_features=cmap_dim,
            activation=activation,
            lr_multiplier=float(kw.get("mapping_lrmul", 0.1)),
            w_avg_beta=None,
        ),
        resample_filter=_filter(kw),
        activation=activation,
        freeze_layers=int(kw.get("freeze_layers", 0)),
    )


# --- variable layout -------------------------------------------------------------------------------


def _dense(w: np.ndarray) -> np.ndarray:
    return w.T


def _conv(w: np.ndarray) -> np.ndarray:
    return w.transpose(3, 2, 0, 1)


def _conv_flipped(w: np.ndarray) -> np.ndarray:
    return w[::-1, ::-1].transpose(3, 2, 0, 1)


def _style_bias(b: np.ndarray) -> np.ndarray:
    return b + np.float32(1)


def _same(x: np.ndarray) -> np.ndarray:
    return x


Source = tuple[str, Callable[[np.ndarray], np.ndarray]]


def _generator_source(name: str) -> Source | None:
    """TF variable and layout change for one of our generator state-dict names (None: not from TF)."""
    if name.endswith("resample_filter"):
        return None
    if name == "mapping.w_avg":
        return "dlatent_avg", _same
    m = re.fullmatch(r"mapping\.(embed|fc(\d+))\.(weight|bias)", name)
    if m:
        scope = "LabelEmbed" if m.group(1) == "embed" else f"Dense{m.group(2)}"
        return f"mapping/{scope}/{m.group(3)}", _dense if m.group(3) == "weight" else _same
    if name == "synthesis.b4.const":
        return "synthesis/4x4/Const/const", lambda x: x[0]
    m = re.fullmatch(r"synthesis\.b(\d+)\.(conv0|conv1|torgb|skip)\.(.+)", name)
    if not m:
        raise UserError(f"no TF variable for {name}")
    res, layer, field = int(m.group(1)), m.group(2), m.group(3)
    scope = {"conv0": "Conv0_up", "conv1": "Conv" if res == 4 else "Conv1", "torgb": "ToRGB", "skip": "Skip"}[layer]
    prefix = f"synthesis/{res}x{res}/{scope}"
    if field == "weight":
        return f"{prefix}/weight", _conv_flipped if layer in ("conv0", "skip") else _conv
    if field == "affine.weight":
        return f"{prefix}/mod_weight", _dense
    if field == "affine.bias":
        return f"{prefix}/mod_bias", _style_bias
    if field in ("bias", "noise_strength"):
        return f"{prefix}/{field}", _same
    if field == "noise_const":
        # Noise inputs are numbered by layer: 4x4 Conv is 0, then Conv0_up/Conv1 of each resolution.
        index = 0 if res == 4 else 2 * int(math.log2(res)) - (5 if layer == "conv0" else 4)
        return f"synthesis/noise{index}", lambda x: x[0, 0]
    raise UserError(f"no TF variable for {name}")


def _discriminator_source(name: str) -> Source | None:
    if name.endswith("resample_filter"):
        return None
    m = re.fullmatch(r"mapping\.(embed|fc(\d+))\.(weight|bias)", name)
    if m:
        scope = "LabelEmbed" if m.group(1) == "embed" else f"Mapping{m.group(2)}"
        return f"{scope}/{m.group(3)}", _dense if m.group(3) == "weight" else _same
    m = re.fullmatch(r"b4\.(conv|fc|out|fromrgb)\.(weight|bias)", name)
    if m:
        scope = {"conv": "4x4/Conv", "fc": "4x4/Dense0", "out": "Output", "fromrgb": "4x4/FromRGB"}[m.group(1)]
        layout = (_dense if m.group(1) in ("fc", "out") else _conv) if m.group(2) == "weight" else _same
        return f"{scope}/{m.group(2)}", layout
    m = re.fullmatch(r"b(\d+)\.(fromrgb|conv0|conv1|skip)\.(weight|bias)", name)
    if m:
        res = int(m.group(1))
        scope = {"fromrgb": "FromRGB", "conv0": "Conv0", "conv1": "Conv1_down", "skip": "Skip"}[m.group(2)]
        return f"{res}x{res}/{scope}/{m.group(3)}", _conv if m.group(3) == "weight" else _same
    raise UserError(f"no TF variable for {name}")


def _fill(
    module: torch.nn.Module,
    tf_vars: dict[str, np.ndarray],
    source_of: Callable[[str], Source | None],
    what: str,
) -> list[str]:
    """Loads every weight of `module` from its TF variable; returns the TF variables left unused."""
    state: dict[str, torch.Tensor] = {}
    used: set[str] = set()
    missing: list[str] = []
    for name, ours in module.state_dict().items():
        src = source_of(name)
        if src is None:
            state[name] = ours  # fixed buffers (resampling filters) come from the config
            continue
        tf_name, layout = src
        if tf_name not in tf_vars:
            missing.append(tf_name)
            continue
        used.add(tf_name)
        value = np.array(layout(np.asarray(tf_vars[tf_name], dtype=np.float32)), order="C")  # keeps 0-d shapes
        state[name] = torch.from_numpy(value)
    if missing:
        raise UnsupportedNetworkError(
            f"{what}: the TF pickle lacks variables this architecture needs ({missing[:3]}"
            f"{' ...' if len(missing) > 3 else ''}); its options do not describe its weights"
        )
    load_weights(module, state, what)
    return sorted(set(tf_vars) - used)


def convert_generator(net: TFNetwork) -> tuple[Generator, list[str]]:
    tf_vars = collect_variables(net)
    G = Generator(generator_config(net, tf_vars))
    unused = _fill(G, tf_vars, _generator_source, f"TF generator {net.name!r}")
    return G.eval().requires_grad_(False), unused


def convert_discriminator(net: TFNetwork) -> tuple[Discriminator, list[str]]:
    tf_vars = collect_variables(net)
    D = Discriminator(discriminator_config(net, tf_vars))
    unused = _fill(D, tf_vars, _discriminator_source, f"TF discriminator {net.name!r}")
    return D.eval().requires_grad_(False), unused


def convert_tf(data: tuple[TFNetwork, TFNetwork, TFNetwork]) -> tuple[dict[str, torch.nn.Module], dict[str, Any]]:
    """Our G, D, G_ema (and metadata) from an unpickled TF (G, D, Gs) tuple.

    A discriminator of a kind we do not implement is left out with a warning, so the generators of such
    a pickle can still be used."""
    tf_G, tf_D, tf_Gs = data
    networks: dict[str, torch.nn.Module] = {}
    metadata: dict[str, Any] = {"tf_static_kwargs": {}}
    unused: dict[str, list[str]] = {}
    for key, net in (("G", tf_G), ("G_ema", tf_Gs)):
        networks[key], unused[key] = convert_generator(net)
    try:
        networks["D"], unused["D"] = convert_discriminator(tf_D)
    except UnsupportedNetworkError as exc:
        warnings.warn(f"discriminator not imported: {exc}", stacklevel=2)
        metadata["discriminator_skipped"] = str(exc)
    for key, net in (("G", tf_G), ("D", tf_D), ("G_ema", tf_Gs)):
        metadata["tf_static_kwargs"][key] = json_safe(net.static_kwargs)
    for key, names in unused.items():
        if names:
            warnings.warn(f"{key}: TF variables not used by the converted network: {names[:5]}", stacklevel=2)
            metadata.setdefault("tf_unused_variables", {})[key] = names
    return networks, metadata
