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
Every static kwarg is type- and range-checked as it is read, the resulting config by config_check, and
every variable's shape against that config, before any network is built.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .. import config_check as cc
from ..config import DiscriminatorConfig, GeneratorConfig
from ..errors import UserError
from ..network_shapes import state_shapes
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


def _what(net: TFNetwork, role: str) -> str:
    return f"TF {role} {cc.short(net.name)}"


def collect_variables(net: TFNetwork, prefix: str = "") -> dict[str, np.ndarray]:
    """All variables of a network and its components, named '<component>/<variable>'."""
    out: dict[str, np.ndarray] = {}
    for item in net.variables:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)):
            raise UserError(f"network {cc.short(net.name)} has a malformed variable list")
        name, value = item
        if isinstance(value, np.ndarray):
            if value.dtype.kind not in "fiu":
                raise UserError(
                    f"variable {cc.short(name)} of network {cc.short(net.name)} holds {value.dtype} values, not numbers"
                )
        elif isinstance(value, (np.floating, np.integer, float, int)) and not isinstance(value, bool):
            value = np.asarray(value, dtype=np.float32)  # scalars (noise_strength) may be numpy scalars
        else:
            raise UserError(
                f"variable {cc.short(name)} of network {cc.short(net.name)} is a {type(value).__name__}, not an array"
            )
        out[prefix + name] = value
    for comp_name, comp in net.components.items():
        if type(comp_name) is not str or not isinstance(comp, TFNetwork):
            raise UserError(f"component {cc.short(comp_name)} of network {cc.short(net.name)} is not a network")
        out.update(collect_variables(comp, f"{prefix}{comp_name}/"))
    return out


def _check_version(net: TFNetwork) -> None:
    if net.version < 4:
        raise UnsupportedNetworkError(
            f"TF network {cc.short(net.name)} has pickle version {net.version} (StyleGAN1 or older); only StyleGAN2 "
            "networks (version >= 4) are supported"
        )


def _check_kwargs(net: TFNetwork, known: set[str]) -> list[str]:
    unknown = sorted(set(net.static_kwargs) - known - _RUNTIME_ONLY)
    if unknown:
        warnings.warn(f"TF network {cc.short(net.name)}: ignoring unknown options {unknown[:5]}", stacklevel=3)
    return unknown


class _Kwargs:
    """A network's static_kwargs, each read with its type and range checked (a message names the kwarg)."""

    def __init__(self, net: TFNetwork, role: str) -> None:
        self.kw = net.static_kwargs
        self.what = _what(net, role)

    def get(self, key: str, default: Any, spec: Any) -> Any:
        value = self.kw.get(key, default)
        return None if value is None else cc.check_value(value, spec, key, self.what)

    def text(self, key: str, default: str) -> str:
        value = self.kw.get(key, default)
        if type(value) is not str:
            raise UserError(f"{self.what}: {key}={cc.short(value)} is invalid: expected a name")
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.kw.get(key, default)
        return default if value is None else cc.check_value(value, cc.Bool(), key, self.what)


_WIDTH = cc.Int(1, cc.MAX_WIDTH)


def _channel_base(kw: _Kwargs, resolution: int) -> tuple[int, int]:
    """channel_base, channel_max reproducing TF's nf() at every resolution, or a clear refusal."""
    fmap_base = kw.get("fmap_base", 16384, cc.Int(1, cc.MAX_CHANNEL_BASE // 2))
    fmap_decay = kw.get("fmap_decay", 1.0, cc.Real(0, 8))
    fmap_min = kw.get("fmap_min", 1, cc.Int(0, cc.MAX_CHANNELS))
    fmap_max = kw.get("fmap_max", 512, cc.Int(1, cc.MAX_CHANNELS))
    channel_base, channel_max = 2 * fmap_base, fmap_max
    for stage in range(1, int(math.log2(resolution))):  # the feature maps at resolution 2**(stage+1)
        tf_nf = int(np.clip(int(fmap_base / (2.0 ** (stage * fmap_decay))), fmap_min, fmap_max))
        if tf_nf != min(channel_base // 2 ** (stage + 1), channel_max):
            raise UnsupportedNetworkError(
                f"{kw.what}: feature-map options fmap_decay={fmap_decay}, fmap_min={fmap_min} give channel "
                "counts the NVIDIA StyleGAN2 architecture cannot express; not supported"
            )
    return channel_base, channel_max


def _filter(kw: _Kwargs) -> tuple[int, ...]:
    k = kw.get("resample_kernel", [1, 3, 3, 1], cc.Filter())
    return (1, 1) if k is None else k


def generator_config(net: TFNetwork, tf_vars: dict[str, np.ndarray]) -> GeneratorConfig:
    _check_version(net)
    kw = _Kwargs(net, "generator")
    _check_kwargs(net, _G_KNOWN)
    if not kw.flag("normalize_latents", True):
        raise UnsupportedNetworkError("this TF generator does not normalise its latents; not supported")
    if kw.kw.get("fmap_const") is not None:
        raise UnsupportedNetworkError("this TF generator sets fmap_const; not supported")
    if kw.text("nonlinearity", "lrelu") != "lrelu":
        raise UnsupportedNetworkError("this TF generator uses a synthesis activation other than lrelu; not supported")
    if any(name.startswith("mapping/LabelConcat/") for name in tf_vars):
        raise UnsupportedNetworkError(
            "this is a conditional generator of the original TF StyleGAN2 (LabelConcat), whose label path "
            "differs from StyleGAN2-ADA's; not supported (unconditional and StyleGAN2-ADA networks are)"
        )
    if any(re.match(r"synthesis/ToRGB_lod\d+/", name) for name in tf_vars):
        raise UnsupportedNetworkError("this TF generator is a progressive-growing (config A-D) network; not supported")
    resolution = kw.get("resolution", 1024, cc.Resolution())
    z_dim = kw.get("latent_size", 512, _WIDTH)
    w_dim = kw.get("dlatent_size", 512, _WIDTH)
    channel_base, channel_max = _channel_base(kw, resolution)
    beta_key = "dlatent_avg_beta" if "dlatent_avg_beta" in kw.kw else "w_avg_beta"
    beta = kw.kw.get(beta_key, 0.995)
    beta = None if beta is None else cc.check_value(beta, cc.Real(0, 1), beta_key, kw.what)
    embed_features = kw.get("label_fmaps", None, _WIDTH) or z_dim  # TF's default is latent_size, the port's w_dim
    fields = {
        "z_dim": z_dim,
        "c_dim": kw.get("label_size", 0, cc.Int(0, cc.MAX_LABELS)) or 0,
        "w_dim": w_dim,
        "img_resolution": resolution,
        "img_channels": kw.get("num_channels", 3, cc.Int(1, cc.MAX_IMG_CHANNELS)),
        "mapping": {
            "num_layers": kw.get("mapping_layers", 8, cc.Int(1, cc.MAX_MAPPING_LAYERS)),
            "embed_features": None if embed_features == w_dim else embed_features,
            "layer_features": kw.get("mapping_fmaps", None, _WIDTH),
            "activation": kw.text("mapping_nonlinearity", "lrelu"),
            "lr_multiplier": kw.get("mapping_lrmul", 0.01, cc.Real(0, cc.MAX_LR_MULTIPLIER, low_open=True)),
            "w_avg_beta": 1.0 if beta is None else beta,  # None in TF = no tracking = beta 1 here
        },
        "channel_base": channel_base,
        "channel_max": channel_max,
        "num_fp16_res": kw.get("num_fp16_res", 0, cc.Int(0, cc.MAX_FP16_RES)) or 0,
        "conv_clamp": kw.get("conv_clamp", None, cc.Real(0, cc.MAX_CONV_CLAMP, low_open=True)),
        "architecture": kw.text("architecture", "skip"),
        "resample_filter": _filter(kw),
        "use_noise": kw.flag("use_noise", True),
    }
    return cc.generator_config(fields, kw.what)


def discriminator_config(net: TFNetwork, tf_vars: dict[str, np.ndarray]) -> DiscriminatorConfig:
    _check_version(net)
    kw = _Kwargs(net, "discriminator")
    _check_kwargs(net, _D_KNOWN)
    for flag in ("use_pagan", "use_spectral_norm"):
        if kw.flag(flag, False):
            raise UnsupportedNetworkError(f"this TF discriminator uses {flag}; not supported")
    if kw.get("score_max", 1, cc.Int(1, 1 << 16)) != 1:
        raise UnsupportedNetworkError("this TF discriminator has several output scores (auxrot); not supported")
    resolution = kw.get("resolution", 1024, cc.Resolution())
    c_dim = kw.get("label_size", 0, cc.Int(0, cc.MAX_LABELS)) or 0
    if c_dim > 0 and "LabelEmbed/weight" not in tf_vars:
        raise UnsupportedNetworkError(
            "this is a conditional discriminator of the original TF StyleGAN2 (no label embedding); not supported"
        )
    channel_base, channel_max = _channel_base(kw, resolution)
    fmap_base = kw.get("fmap_base", 16384, cc.Int(1, cc.MAX_CHANNEL_BASE // 2))
    default_fmaps = int(np.clip(fmap_base, kw.get("fmap_min", 1, cc.Int(0, cc.MAX_CHANNELS)), channel_max))  # TF nf(0)
    cmap_dim = kw.get("mapping_fmaps", None, _WIDTH) or default_fmaps
    if "mbstd_group_size" in kw.kw:
        group = kw.get("mbstd_group_size", None, cc.Int(1, cc.MAX_MBSTD_GROUP))
    else:  # the build function's own default: 4 in StyleGAN2's D_stylegan2, whole batch in ADA's D_main
        group = 4 if net.build_func_name == "D_stylegan2" else None
    activation = kw.text("nonlinearity", "lrelu")
    fields = {
        "c_dim": c_dim,
        "img_resolution": resolution,
        "img_channels": kw.get("num_channels", 3, cc.Int(1, cc.MAX_IMG_CHANNELS)),
        "architecture": kw.text("architecture", "resnet"),
        "channel_base": channel_base,
        "channel_max": channel_max,
        "num_fp16_res": kw.get("num_fp16_res", 0, cc.Int(0, cc.MAX_FP16_RES)) or 0,
        "conv_clamp": kw.get("conv_clamp", None, cc.Real(0, cc.MAX_CONV_CLAMP, low_open=True)),
        "cmap_dim": cmap_dim,
        "mbstd_group_size": group,
        "mbstd_num_channels": kw.get("mbstd_num_features", 1, cc.Int(0, cc.MAX_MBSTD_CHANNELS)),
        "mapping": {
            "num_layers": kw.get("mapping_layers", 0, cc.Int(0, cc.MAX_MAPPING_LAYERS)) or 0,
            "embed_features": cmap_dim,
            "layer_features": cmap_dim,
            "activation": activation,
            "lr_multiplier": kw.get("mapping_lrmul", 0.1, cc.Real(0, cc.MAX_LR_MULTIPLIER, low_open=True)),
            "w_avg_beta": None,
        },
        "resample_filter": _filter(kw),
        "activation": activation,
        "freeze_layers": kw.get("freeze_layers", 0, cc.Int(0, cc.MAX_FREEZE_LAYERS)) or 0,
    }
    return cc.discriminator_config(fields, kw.what)


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


@dataclass
class _Plan:
    """One network to convert: its config and the TF variables that fill it."""

    cfg: GeneratorConfig | DiscriminatorConfig
    tf_vars: dict[str, np.ndarray]
    source_of: Callable[[str], Source | None]
    what: str


def _plan(net: TFNetwork, role: str) -> _Plan:
    tf_vars = collect_variables(net)
    if role == "generator":
        return _Plan(generator_config(net, tf_vars), tf_vars, _generator_source, _what(net, role))
    return _Plan(discriminator_config(net, tf_vars), tf_vars, _discriminator_source, _what(net, role))


def _tf_state(plan: _Plan) -> tuple[dict[str, np.ndarray], list[str]]:
    """Our state-dict entries from the TF variables, re-laid out and shape-checked against the config before
    anything is built or copied; and the TF variables left unused."""
    state: dict[str, np.ndarray] = {}
    used: set[str] = set()
    missing: list[str] = []
    wrong: list[str] = []
    for name, shape in state_shapes(plan.cfg).items():
        src = plan.source_of(name)
        if src is None:
            continue  # fixed buffers (resampling filters) come from the config
        tf_name, layout = src
        if tf_name not in plan.tf_vars:
            missing.append(tf_name)
            continue
        used.add(tf_name)
        raw = plan.tf_vars[tf_name]
        try:
            value = layout(raw)  # views, or a small copy (style biases)
        except (ValueError, IndexError):
            value = None
        if value is None or tuple(value.shape) != shape:
            wrong.append(f"{tf_name} {list(raw.shape)}")
            continue
        state[name] = value
    if missing:
        raise UnsupportedNetworkError(
            f"{plan.what}: the TF pickle lacks variables this architecture needs ({missing[:3]}"
            f"{' ...' if len(missing) > 3 else ''}); its options do not describe its weights"
        )
    if wrong:
        raise UnsupportedNetworkError(
            f"{plan.what}: weights do not match the architecture its options describe (wrong shape "
            f"{', '.join(wrong[:3])}{' ...' if len(wrong) > 3 else ''})"
        )
    return state, sorted(set(plan.tf_vars) - used)


def _build(plan: _Plan, state: dict[str, np.ndarray]) -> torch.nn.Module:
    module = Generator(plan.cfg) if isinstance(plan.cfg, GeneratorConfig) else Discriminator(plan.cfg)
    weights = dict(module.state_dict())  # the fixed buffers stay as the config makes them
    for name, value in state.items():
        weights[name] = torch.from_numpy(np.array(value, dtype=np.float32, order="C"))  # keeps 0-d shapes
    load_weights(module, weights, plan.what)
    return module.eval().requires_grad_(False)


def convert_generator(net: TFNetwork) -> tuple[Generator, list[str]]:
    plan = _plan(net, "generator")
    state, unused = _tf_state(plan)
    return _build(plan, state), unused  # type: ignore[return-value]


def convert_discriminator(net: TFNetwork) -> tuple[Discriminator, list[str]]:
    plan = _plan(net, "discriminator")
    state, unused = _tf_state(plan)
    return _build(plan, state), unused  # type: ignore[return-value]


def convert_tf(
    data: tuple[TFNetwork, TFNetwork, TFNetwork], file_bytes: int | None = None
) -> tuple[dict[str, torch.nn.Module], dict[str, Any]]:
    """Our G, D, G_ema (and metadata) from an unpickled TF (G, D, Gs) tuple.

    Every config is checked, its weight count compared with `file_bytes` and every variable's shape with
    the config before any network is built. A discriminator of a kind we do not implement is left out with
    a warning, so the generators of such a pickle can still be used."""
    tf_G, tf_D, tf_Gs = data
    metadata: dict[str, Any] = {"tf_static_kwargs": {}}
    plans = {"G": _plan(tf_G, "generator"), "G_ema": _plan(tf_Gs, "generator")}
    states: dict[str, dict[str, np.ndarray]] = {}
    unused: dict[str, list[str]] = {}
    try:
        plans["D"] = _plan(tf_D, "discriminator")
    except UnsupportedNetworkError as exc:
        warnings.warn(f"discriminator not imported: {exc}", stacklevel=2)
        metadata["discriminator_skipped"] = str(exc)
    if file_bytes is not None:
        cc.check_fits({key: plan.cfg for key, plan in plans.items()}, file_bytes, "")
    for key in ("G", "G_ema"):
        states[key], unused[key] = _tf_state(plans[key])
    if "D" in plans:
        try:
            states["D"], unused["D"] = _tf_state(plans["D"])
        except UnsupportedNetworkError as exc:
            warnings.warn(f"discriminator not imported: {exc}", stacklevel=2)
            metadata["discriminator_skipped"] = str(exc)
    networks = {key: _build(plans[key], state) for key, state in states.items()}
    for key, net in (("G", tf_G), ("D", tf_D), ("G_ema", tf_Gs)):
        metadata["tf_static_kwargs"][key] = json_safe(net.static_kwargs)
    for key, names in unused.items():
        if names:
            warnings.warn(f"{key}: TF variables not used by the converted network: {names[:5]}", stacklevel=2)
            metadata.setdefault("tf_unused_variables", {})[key] = names
    return networks, metadata
