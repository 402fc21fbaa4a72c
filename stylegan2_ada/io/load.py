"""One entry point for every kind of network file: ours, NVIDIA's PyTorch or TF pickles, names, URLs."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import torch

from ..errors import UserError
from ..nn import Generator
from .nvidia_tf import convert_tf, is_tf_pickle
from .nvidia_torch import convert_torch_port, is_torch_port_pickle
from .pretrained import resolve
from .restricted_unpickler import load_pickle
from .snapshot import Snapshot, load_snapshot

_SAFETENSORS_MAGIC_MAX_HEADER = 100_000_000


def _looks_like_safetensors(path: Path) -> bool:
    # safetensors: 8-byte little-endian header length, then a JSON header starting with '{'.
    with open(path, "rb") as f:
        head = f.read(9)
    if len(head) < 9:
        return False
    return 0 < int.from_bytes(head[:8], "little") < _SAFETENSORS_MAGIC_MAX_HEADER and head[8:9] == b"{"


def load_nvidia_pickle(path: str | Path) -> tuple[dict[str, torch.nn.Module], dict[str, Any]]:
    """Our networks and metadata from an NVIDIA network pickle (PyTorch port or TF), running none of its code."""
    if zipfile.is_zipfile(path):
        raise UserError(
            f"{path}: a torch.save/zip archive, not an NVIDIA network pickle; pass the .pkl written by NVIDIA's "
            "training (network-snapshot-*.pkl) or one of our .safetensors snapshots"
        )
    data = load_pickle(path)
    if is_torch_port_pickle(data):
        networks, metadata = convert_torch_port(data)
        metadata["source_kind"] = "nvidia-pytorch-pickle"
    elif is_tf_pickle(data):
        networks, metadata = convert_tf(data)
        metadata["source_kind"] = "nvidia-tf-pickle"
    else:
        raise UserError(
            f"{path}: a pickle, but not a StyleGAN2 network pickle (expected dict(G, D, G_ema, ...) of the "
            "PyTorch port or a TF (G, D, Gs) tuple)"
        )
    return networks, metadata


def load_networks(
    source: str | Path,
    device: torch.device | str = "cpu",
    cache_dir: str | Path | None = None,
) -> Snapshot:
    """Networks from our .safetensors snapshot, an NVIDIA .pkl (PyTorch port or TF), a known name
    (ffhq256, stylegan2-ffhq-1024x1024, ...) or a URL (downloaded once into the cache).

    The networks come back in eval mode on `device`; metadata records where they came from."""
    path, origin = resolve(source, cache_dir)
    if _looks_like_safetensors(path):
        snapshot = load_snapshot(path, device)
        snapshot.metadata.setdefault("source", origin)
        snapshot.metadata.setdefault("source_kind", "stylegan2_ada-snapshot")
        return snapshot
    networks, metadata = load_nvidia_pickle(path)
    metadata["source"] = origin
    networks = {name: net.eval().requires_grad_(False).to(device) for name, net in networks.items()}
    return Snapshot(networks=networks, metadata=metadata)


def load_generator(
    source: str | Path,
    device: torch.device | str = "cpu",
    cache_dir: str | Path | None = None,
) -> Generator:
    """The generator to make images with (G_ema when present, as NVIDIA's tools use)."""
    return load_networks(source, device, cache_dir).generator
