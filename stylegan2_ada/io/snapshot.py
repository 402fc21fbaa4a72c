"""Our network snapshot format: safetensors weights with the architecture config inside, safe to load.

One file holds every network of a snapshot under a prefix ("G_ema.synthesis.b4.const", "D.b4.fc.weight").
The safetensors header metadata carries the JSON config of each network and free-form training metadata,
so the file alone rebuilds the networks; a readable copy of that JSON is written beside it. Loading parses
JSON and raw tensors only: no pickle, no code. Before any network is built or tensor read, the header's size
is bounded, its configs are checked (config_check), their weight count is compared with the file's size and
every tensor's name, dtype and shape with what the configs build.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import safe_open, save_file

from ..atomic import atomic_write
from ..config import DiscriminatorConfig, GeneratorConfig
from ..config_check import check_fits, short, snapshot_config
from ..errors import UserError
from ..network_shapes import shape_mismatch, state_shapes
from ..nn import Discriminator, Generator
from .data_limits import nesting_problem

FORMAT = "stylegan2_ada.snapshot/1"
GENERATOR_NAMES = ("G", "G_ema")
DISCRIMINATOR_NAMES = ("D",)

# Bounds for what a header may declare (ours: a few ten kB, a few hundred tensors, three networks).
MAX_HEADER_BYTES = 8 << 20
MAX_TENSORS = 100_000
MAX_NETWORKS = 16
MAX_JSON_DEPTH = 64
_WEIGHT_DTYPES = ("F32", "F16", "BF16", "F64")
_NETWORK_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


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
    weights_dtype: torch.dtype = torch.float32,
) -> Path:
    """Writes `networks` (name -> Generator/Discriminator) to a .safetensors file plus a .json beside it.

    weights_dtype: float32 (snapshots) or float16 (half the size, for networks shipped in the package; floating
    buffers follow, integer ones stay as they are). Loading turns every weight back into float32."""
    if weights_dtype not in (torch.float32, torch.float16, torch.bfloat16):
        raise ValueError(f"weights_dtype must be float32, float16 or bfloat16, not {weights_dtype}")
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
            dtype = weights_dtype if value.is_floating_point() else torch.float32
            tensors[f"{name}.{key}"] = value.detach().to("cpu", dtype, copy=True).contiguous()
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


@dataclass
class _Contents:
    """What a snapshot's header says, read without loading a tensor."""

    networks: dict[str, Any]
    metadata: dict[str, Any]
    tensors: dict[str, tuple[str, tuple[int, ...]]]  # name -> (dtype, shape)
    data_bytes: int


def _unreadable(path: Path, why: str) -> SnapshotError:
    return SnapshotError(f"{path}: not a readable safetensors file ({why}); re-save or re-convert it")


def _header_length(path: Path) -> tuple[int, int]:
    """(declared header length, file size), refused before safetensors parses a header that cannot be real."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
    if len(head) < 8:
        raise _unreadable(path, f"only {size} bytes")
    n = int.from_bytes(head, "little")
    if n > MAX_HEADER_BYTES:
        raise _unreadable(path, f"it declares a {n:,}-byte header; a snapshot's is at most {MAX_HEADER_BYTES:,}")
    if 8 + n > size:
        raise _unreadable(path, f"it declares a {n:,}-byte header but has {size:,} bytes: truncated?")
    return n, size


def _json_entry(header: dict[str, str], key: str, path: Path) -> Any:
    text = header.get(key)
    if not isinstance(text, str):
        raise SnapshotError(f"{path}: the safetensors header has no {key!r} entry; the file is damaged or not ours")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise SnapshotError(
            f"{path}: the header's {key!r} entry is not valid JSON ({type(exc).__name__}); the file is damaged"
        ) from None
    problem = nesting_problem(value, max_depth=MAX_JSON_DEPTH)
    if problem:
        raise SnapshotError(f"{path}: the header's {key!r} entry holds {problem}")
    return value


def _read(path: Path) -> _Contents:
    n, size = _header_length(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
            names = list(f.keys())
            if len(names) > MAX_TENSORS:
                raise _unreadable(path, f"{len(names):,} tensors; a snapshot has a few hundred")
            tensors = {}
            for name in names:
                view = f.get_slice(name)
                tensors[name] = (view.get_dtype(), tuple(view.get_shape()))
    except (SafetensorError, OSError, ValueError) as exc:
        raise _unreadable(path, str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__) from None
    if header.get("format") != FORMAT:
        raise SnapshotError(
            f"{path}: safetensors file without a stylegan2_ada config; convert NVIDIA pickles with "
            "`stylegan2-ada convert`"
        )
    networks = _json_entry(header, "networks", path)
    metadata = _json_entry(header, "metadata", path)
    if not isinstance(networks, dict) or not networks or len(networks) > MAX_NETWORKS:
        raise SnapshotError(f"{path}: the header's 'networks' entry is not 1..{MAX_NETWORKS} named network configs")
    if not isinstance(metadata, dict):
        raise SnapshotError(f"{path}: the header's 'metadata' entry is a {type(metadata).__name__}, not an object")
    return _Contents(networks, metadata, tensors, size - 8 - n)


def read_header(path: str | Path) -> dict[str, Any]:
    """The configs and metadata of a snapshot without loading its tensors."""
    contents = _read(Path(path))
    return {"networks": contents.networks, "metadata": contents.metadata}


def _checked_configs(contents: _Contents, path: Path) -> dict[str, GeneratorConfig | DiscriminatorConfig]:
    configs = {}
    for name, entry in contents.networks.items():
        if not _NETWORK_NAME.fullmatch(name):
            raise SnapshotError(f"{path}: network name {short(name)} is not a plain name like G, G_ema or D")
        configs[name] = snapshot_config(entry, f"{path}: {name}")
    check_fits(configs, contents.data_bytes, str(path))
    return configs


def _check_tensors(contents: _Contents, configs: dict[str, Any], path: Path) -> None:
    """Every tensor belongs to a network, holds floating-point values and has the shape its config builds."""
    found: dict[str, dict[str, tuple[int, ...]]] = {name: {} for name in configs}
    for key, (dtype, shape) in contents.tensors.items():
        network, _, rest = key.partition(".")
        if network not in found:
            raise SnapshotError(f"{path}: tensor {short(key)} belongs to no network of the header; the file is damaged")
        if dtype not in _WEIGHT_DTYPES:
            raise SnapshotError(
                f"{path}: tensor {short(key)} holds {dtype} values; weights are {', '.join(_WEIGHT_DTYPES)}"
            )
        found[network][rest] = shape
    for name, cfg in configs.items():
        problem = shape_mismatch(state_shapes(cfg), found[name])
        if problem:
            raise SnapshotError(
                f"{path}: weights of {name} do not match its config ({problem}); the file is damaged or from "
                "another version"
            )


def build_network(config: dict[str, Any]) -> torch.nn.Module:
    cfg = snapshot_config(config, "snapshot config")
    return Generator(cfg) if isinstance(cfg, GeneratorConfig) else Discriminator(cfg)


def load_snapshot(
    path: str | Path,
    device: torch.device | str = "cpu",
    names: tuple[str, ...] | None = None,
) -> Snapshot:
    """Rebuilds the networks of a snapshot (all, or only `names`) in eval mode on `device`."""
    path = Path(path)
    if not path.is_file():
        raise SnapshotError(f"{path}: no such snapshot file")
    contents = _read(path)
    configs = _checked_configs(contents, path)
    _check_tensors(contents, configs, path)
    networks: dict[str, torch.nn.Module] = {}
    try:
        with safe_open(str(path), framework="pt") as f:
            for name, cfg in configs.items():
                if names is not None and name not in names:
                    continue
                module = Generator(cfg) if isinstance(cfg, GeneratorConfig) else Discriminator(cfg)
                prefix = f"{name}."
                state = {key[len(prefix) :]: f.get_tensor(key) for key in contents.tensors if key.startswith(prefix)}
                module.load_state_dict(state, strict=True)
                networks[name] = module.eval().requires_grad_(False).to(device)
    except (SafetensorError, OSError) as exc:
        raise _unreadable(path, str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__) from None
    return Snapshot(networks=networks, metadata=contents.metadata)
