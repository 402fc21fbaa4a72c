"""Our network snapshot format: safetensors weights with the architecture config inside, safe to load.

One file holds every network of a snapshot under a prefix ("G_ema.synthesis.b4.const", "D.b4.fc.weight").
The safetensors header metadata carries the JSON config of each network and free-form training metadata,
so the file alone rebuilds the networks; a readable copy of that JSON is written beside it. Loading parses
JSON and raw tensors only: no pickle, no code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file

from ..atomic import atomic_write
from ..config import DiscriminatorConfig, GeneratorConfig
from ..errors import UserError
from ..nn import Discriminator, Generator

FORMAT = "stylegan2_ada.snapshot/1"
GENERATOR_NAMES = ("G", "G_ema")
DISCRIMINATOR_NAMES = ("D",)


class SnapshotError(UserError):
    """A snapshot file that cannot be used; the message says why and what to do."""


@dataclass
class Snapshot:
    networks: dict[str, torch.nn.Module]
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def generator(self) -> Generator:
        """The network to generate with: G_ema when present (as NVIDIA's tools use), else G."""
        for name in ("G_ema", "G"):
            if name in self.networks:
                return self.networks[name]  # type: ignore[return-value]
        raise SnapshotError("this snapshot holds no generator (G_ema or G)")


def _config_of(module: torch.nn.Module) -> dict[str, Any]:
    cfg = getattr(module, "cfg", None)
    if not isinstance(cfg, (GeneratorConfig, DiscriminatorConfig)):
        raise TypeError(f"{type(module).__name__} has no network config; only Generator/Discriminator are saved")
    return {"class": type(cfg).__name__, **cfg.to_dict()}


def save_snapshot(
    path: str | Path,
    networks: dict[str, torch.nn.Module],
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Writes `networks` (name -> Generator/Discriminator) to a .safetensors file plus a .json beside it."""
    path = Path(path)
    if path.suffix != ".safetensors":
        path = path.with_suffix(".safetensors")
    tensors: dict[str, torch.Tensor] = {}
    configs: dict[str, Any] = {}
    for name, module in networks.items():
        if "." in name:
            raise ValueError(f"network name {name!r} must not contain '.'")
        configs[name] = _config_of(module)
        for key, value in module.state_dict().items():
            # A copy, so that networks sharing tensors (G_ema is G) still save: safetensors refuses aliases.
            tensors[f"{name}.{key}"] = value.detach().to("cpu", torch.float32, copy=True).contiguous()
    header = {
        "format": FORMAT,
        "networks": json.dumps(configs),
        "metadata": json.dumps(metadata or {}),
    }
    atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata=header))
    sidecar = {"format": FORMAT, "networks": configs, "metadata": metadata or {}}
    atomic_write(
        path.with_suffix(".json"),
        lambda tmp: tmp.write_text(json.dumps(sidecar, indent=2, sort_keys=True) + "\n"),
    )
    return path


def read_header(path: str | Path) -> dict[str, Any]:
    """The configs and metadata of a snapshot without loading its tensors."""
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise SnapshotError(f"{path}: not a readable safetensors file ({exc}); re-save or re-convert it") from exc
    if header.get("format") != FORMAT:
        raise SnapshotError(
            f"{path}: safetensors file without a stylegan2_ada config; convert NVIDIA pickles with "
            "`stylegan2-ada convert`"
        )
    return {"networks": json.loads(header["networks"]), "metadata": json.loads(header["metadata"])}


def build_network(config: dict[str, Any]) -> torch.nn.Module:
    config = dict(config)
    kind = config.pop("class", None)
    if kind == "GeneratorConfig":
        return Generator(GeneratorConfig.from_dict(config))
    if kind == "DiscriminatorConfig":
        return Discriminator(DiscriminatorConfig.from_dict(config))
    raise SnapshotError(f"unknown network class {kind!r} in snapshot config")


def load_snapshot(
    path: str | Path,
    device: torch.device | str = "cpu",
    names: tuple[str, ...] | None = None,
) -> Snapshot:
    """Rebuilds the networks of a snapshot (all, or only `names`) in eval mode on `device`."""
    path = Path(path)
    if not path.is_file():
        raise SnapshotError(f"{path}: no such snapshot file")
    header = read_header(path)
    tensors = load_file(str(path), device="cpu")
    networks: dict[str, torch.nn.Module] = {}
    for name, config in header["networks"].items():
        if names is not None and name not in names:
            continue
        module = build_network(config)
        prefix = f"{name}."
        state = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        missing, unexpected = module.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise SnapshotError(
                f"{path}: weights of {name} do not match its config (missing {missing[:3]}, "
                f"unexpected {unexpected[:3]}); the file is damaged or from another version"
            )
        networks[name] = module.eval().requires_grad_(False).to(device)
    return Snapshot(networks=networks, metadata=header["metadata"])
