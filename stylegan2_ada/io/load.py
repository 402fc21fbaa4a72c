"""One entry point for every kind of network file: ours, NVIDIA's PyTorch or TF pickles, names, URLs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..errors import UserError
from ..nn import Generator
from .file_kind import EXPECTED, PICKLE, SAFETENSORS, TORCH_ZIP, first_words, sniff
from .nvidia_tf import convert_tf, is_tf_pickle
from .nvidia_torch import convert_torch_port, is_torch_port_pickle
from .pretrained import resolve
from .restricted_unpickler import PickleFormatError, UnsafePickleError, load_pickle
from .snapshot import Snapshot, load_snapshot


def _with_path(exc: UserError, path: Path) -> UserError:
    """The same error with the file named first (once)."""
    text = str(exc)
    return exc if text.startswith(str(path)) else type(exc)(f"{path}: {text}")


def load_nvidia_pickle(path: str | Path) -> tuple[dict[str, torch.nn.Module], dict[str, Any]]:
    """Our networks and metadata from an NVIDIA network pickle (PyTorch port or TF), running none of its code.

    The restricted unpickler reads data only, within bounds set by the file's size; the configs and weight
    shapes are checked before any network is built."""
    path = Path(path)
    kind = sniff(path)
    if kind.kind == TORCH_ZIP:
        raise UserError(
            f"{path}: a torch.save/zip archive, not an NVIDIA network pickle; pass the .pkl written by NVIDIA's "
            "training (network-snapshot-*.pkl) or one of our .safetensors snapshots"
        )
    if kind.kind != PICKLE:
        raise UserError(f"{path}: {kind.description}, not a network file; {EXPECTED}")
    file_bytes = path.stat().st_size
    try:
        data = load_pickle(path)
        if is_torch_port_pickle(data):
            networks, metadata = convert_torch_port(data, file_bytes)
            metadata["source_kind"] = "nvidia-pytorch-pickle"
        elif is_tf_pickle(data):
            networks, metadata = convert_tf(data, file_bytes)
            metadata["source_kind"] = "nvidia-tf-pickle"
        else:
            raise UserError(
                "a pickle, but not a StyleGAN2 network pickle (expected dict(G, D, G_ema, ...) of the "
                "PyTorch port or a TF (G, D, Gs) tuple)"
            )
    except PickleFormatError as exc:
        raise type(exc)(f"{exc}; {first_words(path)}; {EXPECTED}") from None
    except UnsafePickleError as exc:
        raise _with_path(UnsafePickleError(f"{exc}{_our_source_beside(path)}"), path) from None
    except UserError as exc:
        raise _with_path(exc, path) from None
    return networks, metadata


def _our_source_beside(path: Path) -> str:
    """For a pickle `convert --dest=X.pkl` or `train --nvidia-pkl` wrote: the .safetensors beside it, if any."""
    sibling = path.with_suffix(".safetensors")
    return f" (here: use {sibling})" if sibling.is_file() else ""


def load_networks(
    source: str | Path,
    device: torch.device | str = "cpu",
    cache_dir: str | Path | None = None,
) -> Snapshot:
    """Networks from our .safetensors snapshot, an NVIDIA .pkl (PyTorch port or TF), a known name
    (ffhq256, stylegan2-ffhq-1024x1024, ...) or a URL (downloaded once into the cache).

    The file's kind is decided by its first bytes, not its name. The networks come back in eval mode on
    `device`; metadata records where they came from."""
    path, origin = resolve(source, cache_dir)
    if sniff(path).kind == SAFETENSORS:
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
