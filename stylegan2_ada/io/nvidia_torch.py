"""Networks from pickles of NVIDIA's PyTorch port (stylegan2-ada-pytorch, stylegan3 --cfg=stylegan2).

The restricted unpickler turns each pickled module into a PersistentObject holding the module's
__dict__. From the top-level Generator/Discriminator we take the constructor arguments (init_kwargs)
to build our own network, and the nested _parameters/_buffers/_modules to fill it. State-dict names of
our networks equal the port's, so the weights load 1:1 and strictly. The options are checked
(config_check), and the weights compared with the names and shapes they imply, before anything is built.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

import torch

from .. import config_check
from ..config import DiscriminatorConfig, GeneratorConfig, MappingConfig
from ..errors import UserError
from ..network_shapes import shape_mismatch, state_shapes
from ..nn import Discriminator, Generator
from .data_limits import nesting_problem
from .restricted_unpickler import PersistentObject, TFNetwork

# Positional order of the port's constructors, for pickles whose init_args are not empty.
_G_ARG_NAMES = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "mapping_kwargs", "synthesis_kwargs")
_D_ARG_NAMES = (
    "c_dim", "img_resolution", "img_channels", "architecture", "channel_base", "channel_max",
    "num_fp16_res", "conv_clamp", "cmap_dim", "block_kwargs", "mapping_kwargs", "epilogue_kwargs",
)  # fmt: skip
_MAPPING_KEYS = {"num_layers", "embed_features", "layer_features", "activation", "lr_multiplier", "w_avg_beta"}
# Synthesis options that change nothing in the weights or the images.
_IGNORED_SYNTHESIS_KEYS = {"fused_modconv_default", "fp16_channels_last", "channels_last"}
MAX_METADATA_NODES = 100_000  # training_set_kwargs and the like are a few dozen values

T = TypeVar("T")


class UnsupportedNetworkError(UserError):
    """A network pickle of an architecture this package does not implement."""


def options_of(value: Any, what: str) -> dict[str, Any]:
    """Named options recorded in the pickle (None: none), or a clear error for anything else."""
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(type(k) is str for k in value):
        raise UserError(f"{what} in this pickle is not a set of named options (found {config_check.a_type(value)})")
    return dict(value)


def init_kwargs_of(obj: PersistentObject, arg_names: tuple[str, ...]) -> dict[str, Any]:
    """The constructor arguments recorded by torch_utils.persistence, positional ones named."""
    args = obj.state.get("_init_args")
    args = () if args is None else args
    if not isinstance(args, (tuple, list)):
        raise UserError(f"{obj.class_name} in this pickle records its positional arguments as a {type(args).__name__}")
    kwargs = options_of(obj.state.get("_init_kwargs"), f"the init_kwargs of {obj.class_name}")
    if len(args) > len(arg_names):
        raise UserError(f"{obj.class_name} in this pickle has {len(args)} positional arguments; expected at most {len(arg_names)}")
    kwargs.update(zip(arg_names, args, strict=False))  # positional ones come first
    return kwargs


def collect_state_dict(obj: PersistentObject, prefix: str = "") -> dict[str, torch.Tensor]:
    """Parameters and persistent buffers of a pickled module tree, with state-dict names."""
    out: dict[str, torch.Tensor] = {}
    state = obj.state
    non_persistent = state.get("_non_persistent_buffers_set")
    if not isinstance(non_persistent, (set, frozenset, list, tuple, type(None))):
        raise UserError(f"{prefix or 'a module'} in this pickle has a malformed _non_persistent_buffers_set")
    non_persistent = set(non_persistent or ())
    for group in ("_parameters", "_buffers"):
        for name, value in options_of(state.get(group), f"{prefix}{group}").items():
            if value is None or (group == "_buffers" and name in non_persistent):
                continue
            if not isinstance(value, torch.Tensor):
                raise UserError(f"{prefix}{name} in this pickle is a {type(value).__name__}, not a tensor")
            if not value.is_floating_point():
                raise UserError(f"{prefix}{name} in this pickle holds {value.dtype} values, not floating-point weights")
            out[prefix + name] = value
    for name, child in options_of(state.get("_modules"), f"{prefix}_modules").items():
        if child is None:
            continue
        if not isinstance(child, PersistentObject):
            raise UserError(f"sub-module {prefix}{name} in this pickle is not a network module")
        out.update(collect_state_dict(child, f"{prefix}{name}."))
    return out


def _check_stylegan2(obj: PersistentObject, role: str) -> None:
    if obj.class_name != role:
        raise UnsupportedNetworkError(f"expected a {role} in this pickle, found a {config_check.short(obj.class_name)}")
    src = obj.module_src
    # Read as text only: the alias-free StyleGAN3 synthesis defines these; StyleGAN2's does not.
    if "class SynthesisInput" in src or "def filtered_lrelu" in src or "filtered_lrelu." in src:
        raise UnsupportedNetworkError(
            "this is a StyleGAN3 (alias-free, --cfg=stylegan3-t/-r) network, which this package does not "
            "implement; only StyleGAN2 networks (stylegan2-ada-pytorch, stylegan3 --cfg=stylegan2, TF) load"
        )


def _mapping_fields(kwargs: dict[str, Any], defaults: MappingConfig) -> dict[str, Any]:
    unknown = set(kwargs) - _MAPPING_KEYS
    if unknown:
        raise UnsupportedNetworkError(f"unknown mapping network options {sorted(unknown)[:5]} in this pickle")
    return {**dataclasses.asdict(defaults), **kwargs}


def _is_lrelu(value: Any) -> bool:
    return type(value) is str and value == "lrelu"


def generator_config(obj: PersistentObject) -> GeneratorConfig:
    """GeneratorConfig from the port's Generator init_kwargs (port defaults where absent), checked."""
    _check_stylegan2(obj, "Generator")
    kw = init_kwargs_of(obj, _G_ARG_NAMES)
    mapping_kwargs = options_of(kw.pop("mapping_kwargs", None), "the generator's mapping_kwargs")
    synthesis = options_of(kw.pop("synthesis_kwargs", None), "the generator's synthesis_kwargs")
    core = {k: kw.pop(k) for k in ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels") if k in kw}
    synthesis.update(kw)  # stylegan3's networks_stylegan2 takes the synthesis options flat
    if not _is_lrelu(synthesis.pop("activation", "lrelu")):
        raise UnsupportedNetworkError("this generator uses a synthesis activation other than lrelu; not supported")
    for key in _IGNORED_SYNTHESIS_KEYS:
        synthesis.pop(key, None)
    options = {
        "channel_base": synthesis.pop("channel_base", 32768),
        "channel_max": synthesis.pop("channel_max", 512),
        "num_fp16_res": synthesis.pop("num_fp16_res", 0),
        "conv_clamp": synthesis.pop("conv_clamp", None),
        "architecture": synthesis.pop("architecture", "skip"),
        "resample_filter": synthesis.pop("resample_filter", (1, 3, 3, 1)),
        "use_noise": synthesis.pop("use_noise", True),
    }
    if synthesis:
        raise UnsupportedNetworkError(f"unknown generator options {sorted(synthesis)[:5]} in this pickle; not supported")
    missing = {"z_dim", "c_dim", "w_dim", "img_resolution", "img_channels"} - set(core)
    if missing:
        raise UserError(f"the generator in this pickle does not record {sorted(missing)}; cannot rebuild it")
    mapping = _mapping_fields(mapping_kwargs, MappingConfig())
    return config_check.generator_config({**core, **options, "mapping": mapping}, "")


def discriminator_config(obj: PersistentObject) -> DiscriminatorConfig:
    """DiscriminatorConfig from the port's Discriminator init_kwargs (port defaults where absent), checked."""
    _check_stylegan2(obj, "Discriminator")
    kw = init_kwargs_of(obj, _D_ARG_NAMES)
    block = options_of(kw.pop("block_kwargs", None), "the discriminator's block_kwargs")
    epilogue = options_of(kw.pop("epilogue_kwargs", None), "the discriminator's epilogue_kwargs")
    mapping_kwargs = options_of(kw.pop("mapping_kwargs", None), "the discriminator's mapping_kwargs")
    activations = (block.pop("activation", "lrelu"), epilogue.pop("activation", "lrelu"))
    if any(type(a) is not str for a in activations) or activations[0] != activations[1]:
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
        "resample_filter": block.pop("resample_filter", (1, 3, 3, 1)),
        "activation": activations[0],
        "freeze_layers": block.pop("freeze_layers", 0),
    }
    leftovers = {**kw, **block, **epilogue}
    if leftovers:
        raise UnsupportedNetworkError(f"unknown discriminator options {sorted(leftovers)[:5]} in this pickle; not supported")
    if any(options[k] is None for k in ("c_dim", "img_resolution", "img_channels")):
        raise UserError("the discriminator in this pickle does not record c_dim/img_resolution/img_channels")
    mapping = _mapping_fields(mapping_kwargs, MappingConfig(w_avg_beta=None))
    return config_check.discriminator_config({**options, "mapping": mapping}, "")


def check_weights(cfg: GeneratorConfig | DiscriminatorConfig, state: dict[str, Any], what: str = "") -> None:
    """Refuses weights whose names or shapes differ from what `cfg` builds, before anything is built."""
    problem = shape_mismatch(state_shapes(cfg), {k: tuple(v.shape) for k, v in state.items()})
    if problem:
        prefix = f"{what}: " if what else ""
        raise UnsupportedNetworkError(f"{prefix}the weights do not match the architecture its options describe ({problem})")


def named(name: str, fn: Callable[..., T], *args: Any) -> T:
    """fn(*args), with `name` in front of the message of any user error it raises."""
    try:
        return fn(*args)
    except UserError as exc:
        raise type(exc)(f"{name}: {exc}") from None


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
    cfg = generator_config(obj)
    state = collect_state_dict(obj)
    check_weights(cfg, state, "generator")
    G = Generator(cfg)
    load_weights(G, state, "generator")
    return G.eval().requires_grad_(False)


def convert_discriminator(obj: PersistentObject) -> Discriminator:
    cfg = discriminator_config(obj)
    state = collect_state_dict(obj)
    check_weights(cfg, state, "discriminator")
    D = Discriminator(cfg)
    load_weights(D, state, "discriminator")
    return D.eval().requires_grad_(False)


def json_safe(value: Any) -> Any:
    """Plain JSON data from pickled metadata (numpy scalars, tuples, EasyDicts); refuses absurd sizes."""
    problem = nesting_problem(value, max_nodes=MAX_METADATA_NODES)
    if problem:
        raise UserError(f"the training metadata in this pickle is not plain data: {problem}")
    return _plain(value)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (PersistentObject, TFNetwork)):
        return f"<{type(value).__name__}>"
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return value.item()
    return config_check.short(value, 200)


def is_torch_port_pickle(data: Any) -> bool:
    return isinstance(data, dict) and any(isinstance(data.get(k), PersistentObject) for k in ("G", "G_ema", "D"))


def convert_torch_port(
    data: dict[str, Any], file_bytes: int | None = None
) -> tuple[dict[str, torch.nn.Module], dict[str, Any]]:
    """Our networks (G, G_ema, D: those present) and metadata from an unpickled port pickle.

    Every config is checked, its weight count compared with `file_bytes` (the pickle's size) and every
    weight's shape with the config before any network is built."""
    objects: dict[str, PersistentObject] = {}
    for name in ("G", "G_ema", "D"):
        obj = data.get(name)
        if obj is None:
            continue
        if not isinstance(obj, PersistentObject):
            raise UserError(f"'{name}' in this pickle is not a network module")
        objects[name] = obj
    if not objects:
        raise UserError("this pickle holds none of G, G_ema, D")
    configs = {
        name: named(name, discriminator_config if name == "D" else generator_config, obj) for name, obj in objects.items()
    }
    if file_bytes is not None:
        config_check.check_fits(configs, file_bytes, "")
    states = {name: named(name, collect_state_dict, obj) for name, obj in objects.items()}
    for name, cfg in configs.items():
        named(name, check_weights, cfg, states[name])
    networks: dict[str, torch.nn.Module] = {}
    for name, cfg in configs.items():
        module = Discriminator(cfg) if name == "D" else Generator(cfg)
        named(name, load_weights, module, states[name], "generator" if name != "D" else "discriminator")
        networks[name] = module.eval().requires_grad_(False)
    metadata: dict[str, Any] = {}
    if data.get("training_set_kwargs") is not None:
        metadata["training_set_kwargs"] = json_safe(data["training_set_kwargs"])
    augment = data.get("augment_pipe")
    if isinstance(augment, PersistentObject):
        metadata["augment_pipe_kwargs"] = json_safe(options_of(augment.state.get("_init_kwargs"), "augment_pipe"))
        p = options_of(augment.state.get("_buffers"), "augment_pipe buffers").get("p")
        if isinstance(p, torch.Tensor) and p.numel() == 1 and p.is_floating_point():
            metadata["augment_p"] = float(p)
    return networks, metadata
