"""Writes network pickles in NVIDIA's two formats from the documented structure, for the import tests.

No NVIDIA code is used: the globals the real pickles name (torch_utils.persistence.
_reconstruct_persistent_obj, dnnlib.tflib.network.Network, dnnlib.util.EasyDict) are stand-ins that
exist in sys.modules only while pickling, so the written bytes reference them exactly as NVIDIA's do.
"""

from __future__ import annotations

import contextlib
import math
import pickle
import sys
import types
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch


def _never_called(meta: Any) -> Any:  # pragma: no cover - only its name is pickled
    raise AssertionError("the stand-in reconstructor must never be called")


class EasyDict(dict):
    pass


class Network:
    """Pickles like dnnlib.tflib.network.Network: its __getstate__ dict."""

    def __init__(self, state: dict[str, Any]) -> None:
        self._state = state

    def __getstate__(self) -> dict[str, Any]:
        return self._state


class _Persistent:
    """Pickles as torch_utils.persistence does: a call of _reconstruct_persistent_obj(meta)."""

    def __init__(self, meta: dict[str, Any]) -> None:
        self.meta = meta

    def __reduce__(self) -> tuple[Any, ...]:
        return (_never_called, (self.meta,))


@contextlib.contextmanager
def _stand_in_modules() -> Iterator[None]:
    names = {
        "torch_utils": {},
        "torch_utils.persistence": {"_reconstruct_persistent_obj": _never_called},
        "dnnlib": {"EasyDict": EasyDict},
        "dnnlib.util": {"EasyDict": EasyDict},
        "dnnlib.tflib": {},
        "dnnlib.tflib.network": {"Network": Network},
    }
    saved = {name: sys.modules.get(name) for name in names}
    originals = [(obj, obj.__module__, obj.__qualname__) for obj in (_never_called, EasyDict, Network)]
    try:
        for name, attrs in names.items():
            module = types.ModuleType(name)
            for attr, obj in attrs.items():
                setattr(module, attr, obj)
            sys.modules[name] = module
        _never_called.__module__, _never_called.__qualname__ = "torch_utils.persistence", "_reconstruct_persistent_obj"
        EasyDict.__module__ = "dnnlib.util"
        Network.__module__ = "dnnlib.tflib.network"
        yield
    finally:
        for obj, module, qualname in originals:
            obj.__module__, obj.__qualname__ = module, qualname
        for name, old in saved.items():
            if old is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = old


def dumps(obj: Any, protocol: int = 4) -> bytes:
    with _stand_in_modules():
        return pickle.dumps(obj, protocol=protocol)


# --- PyTorch port -----------------------------------------------------------------------------------


def marker_source(marker: str) -> str:
    """Module source that would leave a file behind if anything ever executed it."""
    return f"import pathlib\npathlib.Path({marker!r}).write_text('module_src was executed')\n"


def persistent_module(module: torch.nn.Module, class_name: str, module_src: str, init_kwargs: dict[str, Any]) -> _Persistent:
    """A persistent object whose state mirrors an nn.Module's __dict__, as NVIDIA pickles it."""

    def state_of(m: torch.nn.Module, kwargs: dict[str, Any], name: str) -> dict[str, Any]:
        params = OrderedDict(
            (k, None if v is None else torch.nn.Parameter(v.detach().clone(), requires_grad=False))
            for k, v in m._parameters.items()
        )
        buffers = OrderedDict((k, None if v is None else v.detach().clone()) for k, v in m._buffers.items())
        children = OrderedDict(
            (k, _Persistent(_meta(type(c).__name__, module_src, state_of(c, {}, k)))) for k, c in m._modules.items()
        )
        return {
            "training": False,
            "_parameters": params,
            "_buffers": buffers,
            "_non_persistent_buffers_set": set(m._non_persistent_buffers_set),
            "_backward_hooks": OrderedDict(),
            "_forward_hooks": OrderedDict(),
            "_forward_pre_hooks": OrderedDict(),
            "_state_dict_hooks": OrderedDict(),
            "_load_state_dict_pre_hooks": OrderedDict(),
            "_modules": children,
            "_init_args": (),
            "_init_kwargs": kwargs,
            "act_gain": np.sqrt(2),  # NVIDIA layers keep numpy float64 gains
            "activation": "lrelu",
        }

    return _Persistent(_meta(class_name, module_src, state_of(module, init_kwargs, class_name)))


def _meta(class_name: str, module_src: str, state: dict[str, Any]) -> dict[str, Any]:
    return {"type": "class", "version": 6, "module_src": module_src, "class_name": class_name, "state": state}


def generator_init_kwargs(cfg: Any, flat_synthesis: bool = False) -> dict[str, Any]:
    """The Generator init_kwargs NVIDIA's train.py records (stylegan3 passes the synthesis options flat)."""
    synthesis = EasyDict(
        channel_base=cfg.channel_base, channel_max=cfg.channel_max, num_fp16_res=cfg.num_fp16_res, conv_clamp=cfg.conv_clamp
    )
    kwargs: dict[str, Any] = dict(
        z_dim=cfg.z_dim, c_dim=cfg.c_dim, w_dim=cfg.w_dim, img_resolution=cfg.img_resolution, img_channels=cfg.img_channels,
        mapping_kwargs=EasyDict(num_layers=cfg.mapping.num_layers),
    )  # fmt: skip
    if flat_synthesis:
        kwargs.update(synthesis, fused_modconv_default="inference_only")
    else:
        kwargs["synthesis_kwargs"] = synthesis
    return kwargs


def discriminator_init_kwargs(cfg: Any) -> dict[str, Any]:
    return dict(
        c_dim=cfg.c_dim, img_resolution=cfg.img_resolution, img_channels=cfg.img_channels, architecture=cfg.architecture,
        channel_base=cfg.channel_base, channel_max=cfg.channel_max, num_fp16_res=cfg.num_fp16_res, conv_clamp=cfg.conv_clamp,
        block_kwargs=EasyDict(), mapping_kwargs=EasyDict(), epilogue_kwargs=EasyDict(mbstd_group_size=cfg.mbstd_group_size),
    )  # fmt: skip


def torch_port_pickle(
    G: Any,
    D: Any,
    G_ema: Any,
    module_src: str,
    flat_synthesis: bool = False,
    extra: dict[str, Any] | None = None,
) -> bytes:
    data = {
        "G": persistent_module(G, "Generator", module_src, generator_init_kwargs(G.cfg, flat_synthesis)),
        "D": persistent_module(D, "Discriminator", module_src, discriminator_init_kwargs(D.cfg)),
        "G_ema": persistent_module(G_ema, "Generator", module_src, generator_init_kwargs(G_ema.cfg, flat_synthesis)),
        "augment_pipe": None,
        "training_set_kwargs": EasyDict(path="data.zip", use_labels=G.cfg.c_dim > 0, xflip=False, resolution=G.cfg.img_resolution),
        **(extra or {}),
    }
    return dumps(data, protocol=4)


# --- TensorFlow -------------------------------------------------------------------------------------
# Inverse of the documented TF layout: dense [in, out], conv [kh, kw, in, out] (upsampling convs
# spatially flipped), mod_bias without the +1, const with a batch axis, noise{i} as [1, 1, r, r].


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.float32)


def _tf_dense(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(_np(t).T)


def _tf_conv(t: torch.Tensor, flip: bool = False) -> np.ndarray:
    w = _np(t).transpose(2, 3, 1, 0)  # [out, in, kh, kw] -> [kh, kw, in, out]
    return np.ascontiguousarray(w[::-1, ::-1] if flip else w)


def _tf_network(name: str, func: str, static_kwargs: dict, variables: list, components: dict | None = None) -> Network:
    return Network(
        {
            "version": 5,
            "name": name,
            "static_kwargs": static_kwargs,
            "components": components or {},
            "build_module_src": "raise SystemExit('TF build_module_src was executed')\n",
            "build_func_name": func,
            "variables": variables,
            "input_shapes": [[None, 512], [None, 0]],
            "output_shapes": [[None, 3, 4, 4]],
            "input_names": ["latents_in", "labels_in"],
            "output_names": ["images_out"],
        }
    )


def _modconv_vars(sd: dict[str, torch.Tensor], ours: str, flip: bool = False) -> list[tuple[str, np.ndarray]]:
    out = [
        ("weight", _tf_conv(sd[f"{ours}.weight"], flip)),
        ("mod_weight", _tf_dense(sd[f"{ours}.affine.weight"])),
        ("mod_bias", _np(sd[f"{ours}.affine.bias"]) - np.float32(1)),
    ]
    if f"{ours}.noise_strength" in sd:
        out.append(("noise_strength", np.float32(_np(sd[f"{ours}.noise_strength"]))))  # TF returns 0-d as scalars
    out.append(("bias", _np(sd[f"{ours}.bias"])))
    return out


def tf_generator(G: Any, static_kwargs: dict[str, Any], name: str = "G") -> Network:
    sd = G.state_dict()
    log2 = int(math.log2(G.img_resolution))
    mapping_vars = []
    if G.c_dim:
        mapping_vars += [("LabelEmbed/weight", _tf_dense(sd["mapping.embed.weight"])), ("LabelEmbed/bias", _np(sd["mapping.embed.bias"]))]
    for i in range(G.cfg.mapping.num_layers):
        mapping_vars += [(f"Dense{i}/weight", _tf_dense(sd[f"mapping.fc{i}.weight"])), (f"Dense{i}/bias", _np(sd[f"mapping.fc{i}.bias"]))]
    synth = [(f"noise{i}", _np(sd[key])[None, None]) for i, key in enumerate(
        ["synthesis.b4.conv1.noise_const"]
        + [f"synthesis.b{2**r}.conv{j}.noise_const" for r in range(3, log2 + 1) for j in (0, 1)]
    )]  # fmt: skip
    synth.append(("4x4/Const/const", _np(sd["synthesis.b4.const"])[None]))
    synth += [(f"4x4/Conv/{k}", v) for k, v in _modconv_vars(sd, "synthesis.b4.conv1")]
    synth += [(f"4x4/ToRGB/{k}", v) for k, v in _modconv_vars(sd, "synthesis.b4.torgb")]
    for r in (2**i for i in range(3, log2 + 1)):
        synth += [(f"{r}x{r}/Conv0_up/{k}", v) for k, v in _modconv_vars(sd, f"synthesis.b{r}.conv0", flip=True)]
        synth += [(f"{r}x{r}/Conv1/{k}", v) for k, v in _modconv_vars(sd, f"synthesis.b{r}.conv1")]
        synth += [(f"{r}x{r}/ToRGB/{k}", v) for k, v in _modconv_vars(sd, f"synthesis.b{r}.torgb")]
    components = {
        "mapping": _tf_network("G_mapping", "G_mapping", dict(static_kwargs), mapping_vars),
        "synthesis": _tf_network("G_synthesis", "G_synthesis", dict(static_kwargs), synth),
    }
    return _tf_network(name, "G_main", dict(static_kwargs), [("dlatent_avg", _np(sd["mapping.w_avg"]))], components)


def tf_discriminator(D: Any, static_kwargs: dict[str, Any]) -> Network:
    sd = D.state_dict()
    log2 = int(math.log2(D.img_resolution))
    variables: list[tuple[str, np.ndarray]] = []

    def layer(scope: str, ours: str, dense: bool = False, bias: bool = True) -> None:
        variables.append((f"{scope}/weight", (_tf_dense if dense else _tf_conv)(sd[f"{ours}.weight"])))
        if bias:
            variables.append((f"{scope}/bias", _np(sd[f"{ours}.bias"])))

    if D.c_dim:
        layer("LabelEmbed", "mapping.embed", dense=True)
        for i in range(D.cfg.mapping.num_layers):
            layer(f"Mapping{i}", f"mapping.fc{i}", dense=True)
    for r in (2**i for i in range(log2, 2, -1)):
        if r == D.img_resolution:
            layer(f"{r}x{r}/FromRGB", f"b{r}.fromrgb")
        layer(f"{r}x{r}/Conv0", f"b{r}.conv0")
        layer(f"{r}x{r}/Conv1_down", f"b{r}.conv1")
        layer(f"{r}x{r}/Skip", f"b{r}.skip", bias=False)
    layer("4x4/Conv", "b4.conv")
    layer("4x4/Dense0", "b4.fc", dense=True)
    layer("Output", "b4.out", dense=True)
    return _tf_network("D", "D_main", dict(static_kwargs), variables)


def tf_pickle(G: Any, D: Any, Gs: Any, g_kwargs: dict, d_kwargs: dict) -> bytes:
    """A TF-era pickle: protocol 3 and numpy's pre-2.0 module names, as Python 3.6/3.7 wrote them."""
    data = (tf_generator(G, g_kwargs, "G"), tf_discriminator(D, d_kwargs), tf_generator(Gs, g_kwargs, "Gs"))
    raw = dumps(data, protocol=3)
    return raw.replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")


__all__ = ["EasyDict", "Network", "dumps", "marker_source", "tf_pickle", "torch_port_pickle"]
