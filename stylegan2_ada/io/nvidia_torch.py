"""Networks from pickles of NVIDIA's PyTorch port (stylegan2-ada-pytorch, stylegan3 --cfg=stylegan2).

The restricted unpickler turns each pickled module into a PersistentObject holding the module's
__dict__. From the top-level Generator/Discriminator we take the constructor arguments (init_kwargs)
to build our own network, and the nested _parameters/_buffers/_modules to fill it. State-dict names of
our networks equal the port's, so the weights load 1:1 and strictly.
"""

from __future__ import annotations

from typing import Any

import torch

from ..config import DiscriminatorConfig, GeneratorConfig, MappingConfig
from ..errors import UserError
from ..nn import Discriminator, Generator
from .restricted_unpickler import PersistentObject

# Positional order of the port's constructors, for pickles whose init_args are not empty.
_G_ARG_NAMES = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "mapping_kwargs", "synthesis_kwargs")
_D_ARG_NAMES = (
    "c_dim", "img_resolution", "img_channels", "architecture", "channel_base", "channel_max",
    "num_fp16_res", "conv_clamp", "cmap_dim", "block_kwargs", "mapping_kwargs", "epilogue_kwargs",
)  # fmt: skip
_MAPPING_KEYS = {"num_layers", "embed_features", "layer_features", "activation", "lr_multiplier", "w_avg_beta"}
# Synthesis options that change nothing in the weights or the images.
_IGNORED_SYNTHESIS_KEYS = {"fused_modconv_default", "fp16_channels_last", "channels_last"}


class UnsupportedNetworkError(UserError):
    """A network pickle of an architecture this package does not implement."""


def init_kwargs_of(obj: PersistentObject, arg_names: tuple[str, ...]) -> dict[str, Any]:
    """The constructor arguments recorded by torch_utils.persistence, positional ones named."""
    args = tuple(obj.state.get("_init_args") or ())
    kwargs = dict(obj.state.get("_init_kwargs") or {})
    if len(args) > len(arg_names):
        raise UserError(f"{obj.class_name} in this pickle has {len(args)} positional arguments; expected at most {len(arg_names)}")
    kwargs.update(zip(arg_names, args, strict=False))  # positional ones come first
    return kwargs


def collect_state_dict(obj: PersistentObject, prefix: str = "") -> dict[str, torch.Tensor]:
    """Parameters and persistent buffers of a pickled module tree, with state-dict names."""
    out: dict[str, torch.Tensor] = {}
    state = obj.state
    non_persistent = set(state.get("_non_persistent_buffers_set") or ())
    for group in ("_parameters", "_buffers"):
        for name, value in (state.get(group) or {}).items():
            if value is None or (group == "_buffers" and name in non_persistent):
                continue
            if not isinstance(value, torch.Tensor):
                raise UserError(f"{prefix}{name} in this pickle is a {type(value).__name__}, not a tensor")
            out[prefix + name] = value
    for name, child in (state.get("_modules") or {}).items():
        if child is None:
            continue
        if not isinstance(child, PersistentObject):
            raise UserError(f"sub-module {prefix}{name} in this pickle is not a network module")
        out.update(collect_state_dict(child, f"{prefix}{name}."))
    return out


def _check_stylegan2(obj: PersistentObject, role: str) -> None:
    if obj.class_name != role:
        raise UnsupportedNetworkError(f"expected a {role} in this pickle, found a {obj.class_name!r}")
    src = obj.module_src
    # Read as text only: the alias-free StyleGAN3 synthesis defines these; StyleGAN2's does not.
    if "class SynthesisInput" in src or "def filtered_lrelu" in src or "filtered_lrelu." in src:
        raise UnsupportedNetworkError(
            "this is a StyleGAN3 (alias-free, --cfg=stylegan3-t/-r) network, which this package does not "
            "implement; only StyleGAN2 networks (stylegan2-ada-pytorch, stylegan3 --cfg=stylegan2, TF) load"
        )


def _mapping_config(kwargs: dict[str, Any], defaults: MappingConfig) -> MappingConfig:
    unknown = set(kwargs) - _MAPPING_KEYS
    if unknown:
        raise UnsupportedNetworkError(f"unknown mapping network options {sorted(unknown)} in this pickle")
    merged = {
        "num_layers": defaults.num_layers,
        "embed_features": defaults.embed_features,
        "layer_features": defaults.layer_features,
        "activation": defaults.activation,
        "lr_multiplier": defaults.lr_multiplier,
        "w_avg_beta": defaults.w_avg_beta,
    }
    merged.update(kwargs)
    return MappingConfig(**merged)


def _filter(value: Any) -> tuple[int, ...]:
    return tuple(int(v) for v in value)


def generator_config(obj: PersistentObject) -> GeneratorConfig:
    """GeneratorConfig from the port's Generator init_kwargs (port defaults where absent)."""
    _check_stylegan2(obj, "Generator")
    kw = init_kwargs_of(obj, _G_ARG_NAMES)
    mapping_kwargs = dict(kw.pop("mapping_kwargs", None) or {})
    synthesis = dict(kw.pop("synthesis_kwargs", None) or {})
    core = {k: kw.pop(k) for k in ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels") if k in kw}
    synthesis.update(kw)  # stylegan3's networks_stylegan2 takes the synthesis options flat
    if synthesis.pop("activation", "lrelu") != "lrelu":
        raise UnsupportedNetworkError("this generator uses a synthesis activation other than lrelu; not supported")
    for key in _IGNORED_SYNTHESIS_KEYS:
        synthesis.pop(key, None)
    options = {
        "channel_base": synthesis.pop("channel_base", 32768),
        "channel_max": synthesis.pop("channel_max", 512),
        "num_fp16_res": synthesis.pop("num_fp16_res", 0),
        "conv_clamp": synthesis.pop("conv_clamp", None),
        "architecture": synthesis.pop("architecture", "skip"),
        "resample_filter": _filter(synthesis.pop("resample_filter", (1, 3, 3, 1))),
        "use_noise": bool(synthesis.pop("use_noise", True)),
    }
    if synthesis:
        raise UnsupportedNetworkError(f"unknown generator options {sorted(synthesis)} in this pickle; not supported")
    missing = {"z_dim", "c_dim", "w_dim", "img_resolution", "img_channels"} - set(core)
    if missing:
        raise UserError(f"the generator in this pickle does not record {sorted(missing)}; cannot rebuild it")
    return GeneratorConfig(**core, mapping=_mapping_config(mapping_kwargs, MappingConfig()), **options)


def discriminator_config(obj: PersistentObject) -> DiscriminatorConfig:
    """DiscriminatorConfig from the port's Discriminator init_kwargs (port defaults where absent)."""
    _check_stylegan2(obj, "Discriminator")
    kw = init_kwargs_of(obj, _D_ARG_NAMES)
    block = dict(kw.pop("block_kwargs", None) or {})
    epilogue = dict(kw.pop("epilogue_kwargs", None) or {})
    mapping_kwargs = dict(kw.pop("mapping_kwargs", None) or {})
    activations = {block.pop("activation", "lrelu"), epilogue.pop("activation", "lrelu")}
    if len(activations) != 1:
        raise UnsupportedNetworkError("this discriminator mixes activations between blocks and epilogue")
    block.pop("fp16_channels_last", None)
    options = {
        "c_dim": kw.pop("c_dim", None),
        "img_resolution": kw.pop("img_resolution", None),
        "img_channels": kw.pop("img_channels", None),
        "architecture": kw.pop("architecture", "resnet"),
        "channel_base": kw.pop("channel_base", 32768),
        "channel_max": kw.pop("channel_max", 512),
        "num_fp16_res": kw.pop("num_fp16_res", 0),
        "conv_clamp": kw.pop("conv_clamp", None),
        "cmap_dim": kw.pop("cmap_dim", None),
        "mbstd_group_size": epilogue.pop("mbstd_group_size", 4),
        "mbstd_num_channels": epilogue.pop("mbstd_num_channels", 1),
        "resample_filter": _filter(block.pop("resample_filter", (1, 3, 3, 1))),
        "activation": activations.pop(),
        "freeze_layers": int(block.pop("freeze_layers", 0)),
    }
    leftovers = {**kw, **block, **epilogue}
    if leftovers:
        raise UnsupportedNetworkError(f"unknown discriminator options {sorted(leftovers)} in this pickle; not supported")
    if None in (options["c_dim"], options["img_resolution"], options["img_channels"]):
        raise UserError("the discriminator in this pickle does not record c_dim/img_resolution/img_channels")
    mapping = _mapping_config(mapping_kwargs, MappingConfig(w_avg_beta=None))
    return DiscriminatorConfig(**options, mapping=mapping)


def load_weights(module: torch.nn.Module, state: dict[str, torch.Tensor], what: str) -> None:
    """Strict load with one clear error for missing, unexpected or mis-shaped weights."""
    ours = module.state_dict()
    missing = [k for k in ours if k not in state]
    unexpected = [k for k in state if k not in ours]
    wrong = [k for k in ours if k in state and tuple(state[k].shape) != tuple(ours[k].shape)]
    if missing or unexpected or wrong:
        details = "; ".join(
            f"{label} {names[:3]}{' ...' if len(names) > 3 else ''}"
            for label, names in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong))
            if names
        )
        raise UnsupportedNetworkError(f"{what}: weights do not match the architecture its options describe ({details})")
    module.load_state_dict(state, strict=True)


def convert_generator(obj: PersistentObject) -> Generator:
    G = Generator(generator_config(obj))
    load_weights(G, collect_state_dict(obj), "generator")
    return G.eval().requires_grad_(False)


def convert_discriminator(obj: PersistentObject) -> Discriminator:
    D = Discriminator(discriminator_config(obj))
    load_weights(D, collect_state_dict(obj), "discriminator")
    return D.eval().requires_grad_(False)


def json_safe(value: Any) -> Any:
    """Plain JSON data from pickled metadata (numpy scalars, tuples, EasyDicts)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_safe(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return value.item()
    return repr(value)


def is_torch_port_pickle(data: Any) -> bool:
    return isinstance(data, dict) and any(isinstance(data.get(k), PersistentObject) for k in ("G", "G_ema", "D"))


def convert_torch_port(data: dict[str, Any]) -> tuple[dict[str, torch.nn.Module], dict[str, Any]]:
    """Our networks (G, G_ema, D: those present) and metadata from an unpickled port pickle."""
    networks: dict[str, torch.nn.Module] = {}
    for name, convert in (("G", convert_generator), ("G_ema", convert_generator), ("D", convert_discriminator)):
        obj = data.get(name)
        if obj is None:
            continue
        if not isinstance(obj, PersistentObject):
            raise UserError(f"'{name}' in this pickle is not a network module")
        try:
            networks[name] = convert(obj)
        except UserError as exc:
            raise type(exc)(f"{name}: {exc}") from exc
    if not networks:
        raise UserError("this pickle holds none of G, G_ema, D")
    metadata: dict[str, Any] = {}
    if data.get("training_set_kwargs") is not None:
        metadata["training_set_kwargs"] = json_safe(data["training_set_kwargs"])
    augment = data.get("augment_pipe")
    if isinstance(augment, PersistentObject):
        metadata["augment_pipe_kwargs"] = json_safe(dict(augment.state.get("_init_kwargs") or {}))
        p = (augment.state.get("_buffers") or {}).get("p")
        if isinstance(p, torch.Tensor) and p.numel() == 1:
            metadata["augment_p"] = float(p)
    return networks, metadata
