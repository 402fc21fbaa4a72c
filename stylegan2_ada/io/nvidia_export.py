"""Writes network pickles that NVIDIA's own code loads (`legacy.load_network_pkl`, `--resume=X.pkl`).

NVIDIA's pickles carry the source code of their network modules inside the file. Ours do not: they name
NVIDIA's classes (`training.networks.Generator`, ...) and give the constructor arguments and the weights,
so the file only loads where NVIDIA's code is importable, which is exactly where it is meant to be used
(their generate.py, calc_metrics.py, projector.py and train.py run from their checkout). On load the
pickle does, in this order:

    G = functools.partial(training.networks.Generator, **init_kwargs)()
    G.load_state_dict(weights)          # strict: every name and shape must match
    G.eval().requires_grad_(False)

which is what NVIDIA's trainer holds in a snapshot. Their persistence wrapper records the constructor
arguments as it does for networks it builds itself, so when NVIDIA's code saves the network again its
pickle is an ordinary NVIDIA pickle. Our state-dict names equal NVIDIA's, so the weights load 1:1.

Two flavours: `stylegan2-ada-pytorch` (training.networks) and `stylegan3` (that repository's
`--cfg=stylegan2` networks in training.networks_stylegan2, whose Generator takes synthesis options flat).
Our own loader does not read these files back (they name code outside this package): keep the
.safetensors they were made from.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..atomic import atomic_write
from ..config import DiscriminatorConfig, GeneratorConfig, MappingConfig
from ..errors import UserError

FLAVOURS = {
    "stylegan2-ada-pytorch": "training.networks",
    "stylegan3": "training.networks_stylegan2",
}
EXPORT_MARK = "stylegan2_ada export"  # the value of the pickle's "exported_by" key
PICKLE_PROTOCOL = 4  # Python >= 3.4: binary bytes without the latin-1 detour of protocol 2


@dataclass(frozen=True)
class _Global:
    """A name the loader imports (GLOBAL opcode); never imported here."""

    module: str
    name: str

    def __call__(self, *args: Any) -> Any:  # pickle's save_reduce requires a callable
        raise TypeError("placeholder for a name that only the loader resolves")


class _Call:
    """`func(*args)` performed by the loader (REDUCE), then `.__setstate__(state)` when state is given."""

    def __init__(self, func: Any, args: tuple, state: Any = None) -> None:
        self.func = func
        self.args = args
        self.state = state

    def __call__(self, *args: Any) -> Any:
        raise TypeError("placeholder for a call that only the loader performs")


_GETATTR = _Global("builtins", "getattr")
_GETITEM = _Global("operator", "getitem")
_PARTIAL = _Global("functools", "partial")


def _method(obj: Any, name: str, *args: Any) -> _Call:
    return _Call(_Call(_GETATTR, (obj, name)), args)


def _then(value: Any, side_effect: Any) -> _Call:
    """Evaluates `value`, then `side_effect`, and gives `value` (tuple items are built in order)."""
    return _Call(_GETITEM, ((value, side_effect), 0))


def _construct(cls: _Global, kwargs: dict[str, Any]) -> _Call:
    # partial(cls) with its keywords set through partial.__setstate__, as pickling a partial does;
    # calling it runs cls(**kwargs), so NVIDIA's persistence records them as init kwargs.
    partial = _Call(_PARTIAL, (cls,), state=(cls, (), kwargs, None))
    return _Call(partial, ())


class _ExportPickler(pickle._Pickler):  # type: ignore[name-defined]
    """The pure-Python pickler, taught to write our two placeholders as GLOBAL and REDUCE."""

    dispatch = dict(pickle._Pickler.dispatch)  # type: ignore[attr-defined]

    def _save_global_name(self, obj: _Global) -> None:
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode("ascii"))
        self.memoize(obj)

    def _save_call(self, obj: _Call) -> None:
        self.save_reduce(obj.func, obj.args, obj.state, obj=obj)

    dispatch[_Global] = _save_global_name
    dispatch[_Call] = _save_call


def _mapping_kwargs(m: MappingConfig, *, with_w_avg_beta: bool) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "num_layers": m.num_layers,
        "embed_features": m.embed_features,
        "layer_features": m.layer_features,
        "activation": m.activation,
        "lr_multiplier": m.lr_multiplier,
    }
    if with_w_avg_beta:  # NVIDIA's D passes w_avg_beta=None itself; a second value would be a TypeError
        kwargs["w_avg_beta"] = m.w_avg_beta
    return kwargs


def generator_kwargs(cfg: GeneratorConfig, flavour: str) -> dict[str, Any]:
    """NVIDIA's Generator constructor arguments for our config."""
    synthesis = {
        "channel_base": cfg.channel_base,
        "channel_max": cfg.channel_max,
        "num_fp16_res": cfg.num_fp16_res,
        "conv_clamp": cfg.conv_clamp,
        "architecture": cfg.architecture,
        "resample_filter": list(cfg.resample_filter),
        "use_noise": cfg.use_noise,
    }
    kwargs: dict[str, Any] = {
        "z_dim": cfg.z_dim,
        "c_dim": cfg.c_dim,
        "w_dim": cfg.w_dim,
        "img_resolution": cfg.img_resolution,
        "img_channels": cfg.img_channels,
        "mapping_kwargs": _mapping_kwargs(cfg.mapping, with_w_avg_beta=True),
    }
    if flavour == "stylegan3":
        kwargs.update(synthesis)  # networks_stylegan2.Generator(..., mapping_kwargs={}, **synthesis_kwargs)
    else:
        kwargs["synthesis_kwargs"] = synthesis
    return kwargs


def discriminator_kwargs(cfg: DiscriminatorConfig) -> dict[str, Any]:
    """NVIDIA's Discriminator constructor arguments for our config (the same in both flavours)."""
    return {
        "c_dim": cfg.c_dim,
        "img_resolution": cfg.img_resolution,
        "img_channels": cfg.img_channels,
        "architecture": cfg.architecture,
        "channel_base": cfg.channel_base,
        "channel_max": cfg.channel_max,
        "num_fp16_res": cfg.num_fp16_res,
        "conv_clamp": cfg.conv_clamp,
        "cmap_dim": cfg.cmap_dim,
        "block_kwargs": {
            "activation": cfg.activation,
            "resample_filter": list(cfg.resample_filter),
            "freeze_layers": cfg.freeze_layers,
        },
        "mapping_kwargs": _mapping_kwargs(cfg.mapping, with_w_avg_beta=False),
        "epilogue_kwargs": {
            "mbstd_group_size": cfg.mbstd_group_size,
            "mbstd_num_channels": cfg.mbstd_num_channels,
            "activation": cfg.activation,
        },
    }


def _weights(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    # fp32 CPU copies: NVIDIA's networks keep fp32 weights and cast inside their fp16 blocks.
    return {k: v.detach().to("cpu", torch.float32, copy=True).contiguous() for k, v in module.state_dict().items()}


def _network_expression(module: torch.nn.Module, flavour: str) -> _Call:
    cfg = getattr(module, "cfg", None)
    if isinstance(cfg, GeneratorConfig):
        cls, kwargs = _Global(FLAVOURS[flavour], "Generator"), generator_kwargs(cfg, flavour)
    elif isinstance(cfg, DiscriminatorConfig):
        cls, kwargs = _Global(FLAVOURS[flavour], "Discriminator"), discriminator_kwargs(cfg)
    else:
        raise UserError(f"cannot export a {type(module).__name__}: only Generator and Discriminator networks")
    net = _construct(cls, kwargs)
    loaded = _then(net, _method(net, "load_state_dict", _weights(module)))
    return _method(_method(loaded, "eval"), "requires_grad_", False)


def nvidia_pickle_bytes(
    networks: dict[str, torch.nn.Module],
    flavour: str = "stylegan2-ada-pytorch",
    training_set_kwargs: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
) -> bytes:
    """The pickle as bytes: a dict with G, D, G_ema (those given), training_set_kwargs and augment_pipe."""
    if flavour not in FLAVOURS:
        raise UserError(f"unknown pickle flavour {flavour!r}: use one of {', '.join(FLAVOURS)}")
    unknown = set(networks) - {"G", "D", "G_ema"}
    if unknown:
        raise UserError(f"NVIDIA pickles hold G, D and G_ema; cannot store {sorted(unknown)}")
    if not networks:
        raise UserError("nothing to export: no networks given")
    data: dict[str, Any] = {name: _network_expression(module, flavour) for name, module in networks.items()}
    data["training_set_kwargs"] = training_set_kwargs
    data["augment_pipe"] = None  # NVIDIA's trainer builds its own pipe on resume; p is not read from pickles
    data["exported_by"] = EXPORT_MARK
    data["stylegan2_ada"] = dict(metadata or {})
    out = _BytesSink()
    _ExportPickler(out, protocol=PICKLE_PROTOCOL).dump(data)
    return out.getvalue()


class _BytesSink:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.chunks.append(bytes(data))
        return len(data)

    def getvalue(self) -> bytes:
        return b"".join(self.chunks)


def save_nvidia_pickle(
    path: str | Path,
    networks: dict[str, torch.nn.Module],
    flavour: str = "stylegan2-ada-pytorch",
    training_set_kwargs: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Writes the pickle atomically (a killed process never leaves a truncated .pkl)."""
    path = Path(path)
    payload = nvidia_pickle_bytes(networks, flavour, training_set_kwargs, metadata)
    atomic_write(path, lambda tmp: tmp.write_bytes(payload))
    return path


def dataset_kwargs_for_nvidia(
    path: str | Path,
    resolution: int,
    use_labels: bool,
    xflip: bool,
    max_size: int | None,
) -> dict[str, Any]:
    """training_set_kwargs as NVIDIA's train.py records them (its calc_metrics reads them when --data is absent)."""
    return {
        "class_name": "training.dataset.ImageFolderDataset",
        "path": str(path),
        "use_labels": bool(use_labels),
        "max_size": max_size,
        "xflip": bool(xflip),
        "resolution": int(resolution),
    }
