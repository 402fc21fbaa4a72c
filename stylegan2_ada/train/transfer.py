"""Transfer learning: start a new run from a pretrained network (--resume=ffhq1024|PATH|URL).

Tensors are copied by name where the shapes agree (NVIDIA's copy-by-name, but tolerant of a different
resolution: resuming a 1024 network into a 512 dataset keeps every block both networks share and
starts the rest fresh), and the report says what was and was not copied. A source trained with another
preset (channel base, mapping depth) is refused before training with the --cfg that fits it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..config import GeneratorConfig, network_configs
from ..errors import UserError
from ..io.snapshot import Snapshot, load_snapshot

_LOADED: dict[str, Snapshot] = {}  # the check before training and the loop share one load


def load_source(
    resume: str,
    device: torch.device | str = "cpu",
) -> Snapshot:
    """Networks of a pretrained source (on the CPU): our .safetensors, NVIDIA pickles, names, URLs."""
    if resume not in _LOADED:
        _LOADED[resume] = _load(resume, device)
    return _LOADED[resume]


def forget_sources() -> None:
    _LOADED.clear()


def preflight(resume: str, target: GeneratorConfig, cfg: str) -> None:
    """Loads the source and checks it fits the options, before any folder is made or step taken."""
    source = load_source(resume)
    src_g = source.networks.get("G") or source.networks.get("G_ema")
    if src_g is None:
        raise UserError(f"--resume={resume}: the source holds no generator")
    check_compatible(src_g.cfg, target, cfg, resume)


def _load(resume: str, device: torch.device | str) -> Snapshot:
    path = Path(resume)
    if path.suffix == ".safetensors" and path.is_file():
        return load_snapshot(path, device=device)
    try:
        from ..io.load import (
            load_networks,  # written with the pretrained/NVIDIA-pickle issue
        )
    except ImportError:
        raise UserError(
            f"--resume={resume}: loading pretrained names, URLs and NVIDIA pickles needs stylegan2_ada.io.load, "
            "which this build lacks; pass one of our .safetensors snapshots instead"
        ) from None
    return load_networks(resume, device)


def _arch(cfg: GeneratorConfig) -> dict[str, int]:
    return {
        "channel_base": cfg.channel_base,
        "channel_max": cfg.channel_max,
        "mapping layers": cfg.mapping.num_layers,
        "z_dim": cfg.z_dim,
        "w_dim": cfg.w_dim,
    }


def suggest_cfg(src: GeneratorConfig, resolution: int) -> str:
    """The --cfg (or explicit flags) that builds a network shaped like `src` at `resolution`."""
    for name in ("stylegan2", "paper256", "paper512", "paper1024", "cifar", "auto"):
        g, _ = network_configs(name, resolution)
        if _arch(g) == _arch(src):
            return f"--cfg={name}"
    return f"--cbase={src.channel_base} --cmax={src.channel_max} --map-depth={src.mapping.num_layers}"


def check_compatible(
    src: GeneratorConfig,
    dst: GeneratorConfig,
    cfg: str,
    resume: str,
) -> None:
    """Refuses a source whose layer widths or mapping depth differ from what the options build."""
    a, b = _arch(src), _arch(dst)
    diffs = [f"{k} {a[k]} vs {b[k]}" for k in a if a[k] != b[k]]
    if diffs:
        raise UserError(
            f"--resume={resume} was trained with another architecture than --cfg={cfg} builds "
            f"({', '.join(diffs)}): use {suggest_cfg(src, dst.img_resolution)}"
        )


@dataclass
class CopyReport:
    name: str
    copied: list[str] = field(default_factory=list)
    shape_mismatch: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)
    not_in_source: list[str] = field(default_factory=list)
    unused_source: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        total = len(self.copied) + len(self.shape_mismatch) + len(self.not_in_source)
        out = [f"{self.name}: copied {len(self.copied)} of {total} tensors"]
        if self.shape_mismatch:
            shown = ", ".join(f"{k} {list(s)}->{list(d)}" for k, s, d in self.shape_mismatch[:8])
            more = f" (+{len(self.shape_mismatch) - 8} more)" if len(self.shape_mismatch) > 8 else ""
            out.append(f"  kept fresh, shape differs: {shown}{more}")
        if self.not_in_source:
            out.append(f"  kept fresh, not in source: {_by_block(self.not_in_source)}")
        if self.unused_source:
            out.append(f"  source tensors not used: {_by_block(self.unused_source)}")
        return out


def _by_block(names: list[str]) -> str:
    """'synthesis.b1024.* (19), b512.fromrgb.* (3)': many tensor names, summarised by layer, and by
    block where most of a block is listed."""
    layers: dict[str, list[str]] = defaultdict(list)
    for n in names:
        parts = n.split(".")
        depth = 3 if parts[0] in ("synthesis", "mapping") else 2  # G: synthesis.b512.conv0, D: b512.conv0
        layers[".".join(parts[:depth]) if len(parts) > depth else n].append(n)
    blocks: dict[str, dict[str, list[str]]] = defaultdict(dict)
    for layer, members in layers.items():
        blocks[layer.rsplit(".", 1)[0] if "." in layer else layer][layer] = members
    out = []
    for block, group in blocks.items():
        items = group.items() if len(group) < 3 else [(block, [m for ms in group.values() for m in ms])]
        out += [f"{k}.* ({len(v)})" if len(v) > 1 or v[0] != k else k for k, v in items]
    return ", ".join(out)


@torch.no_grad()
def copy_matching(
    src: torch.nn.Module,
    dst: torch.nn.Module,
    name: str,
) -> CopyReport:
    """Copies every parameter and buffer of `src` into `dst` whose name and shape agree."""
    report = CopyReport(name)
    src_tensors = dict(src.named_parameters()) | dict(src.named_buffers())
    dst_tensors = dict(dst.named_parameters()) | dict(dst.named_buffers())
    for key, tensor in dst_tensors.items():
        if key not in src_tensors:
            report.not_in_source.append(key)
        elif src_tensors[key].shape != tensor.shape:
            report.shape_mismatch.append((key, tuple(src_tensors[key].shape), tuple(tensor.shape)))
        else:
            tensor.copy_(src_tensors[key].detach().to(tensor.device, tensor.dtype))
            report.copied.append(key)
    mismatched = {k for k, _, _ in report.shape_mismatch}
    report.unused_source = [k for k in src_tensors if k not in dst_tensors or k in mismatched]
    return report


def apply_transfer(
    source: Snapshot,
    targets: dict[str, torch.nn.Module],
    cfg: str,
    resume: str,
) -> list[CopyReport]:
    """Checks the source against the target G, then copies G, G_ema and D by name."""
    src_g = source.networks.get("G") or source.networks.get("G_ema")
    if src_g is None:
        raise UserError(f"--resume={resume}: the source holds no generator")
    dst_cfg = targets["G"].cfg
    check_compatible(src_g.cfg, dst_cfg, cfg, resume)
    reports = []
    for name, module in targets.items():
        src = source.networks.get(name)
        if src is None and name == "G":
            src = source.networks.get("G_ema")
        if src is None and name == "G_ema":
            src = source.networks.get("G")
        if src is None:
            reports.append(CopyReport(name, not_in_source=["(no such network in the source: trained from scratch)"]))
            continue
        reports.append(copy_matching(src, module, name))
    return reports
