"""Training options: one frozen dataclass built from a preset (--cfg) plus command-line overrides.

The values follow NVIDIA's train.py (presets, batch-per-GPU default, run-folder description), so a
command line written for their trainer means the same here. The options are dumped to
`training_options.json` and read back when a run is continued.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import (
    PRESETS,
    DiscriminatorConfig,
    GeneratorConfig,
    MappingConfig,
    network_configs,
    resolve_preset,
)
from ..errors import UserError
from .evaluate import check_metric_names

AUG_MODES = ("ada", "fixed", "noaug")
AUGPIPES = ("blit", "geom", "color", "filter", "noise", "cutout", "bg", "bgc", "bgcf", "bgcfn", "bgcfnc")
OPTIONS_FILE = "training_options.json"


@dataclass(frozen=True)
class DatasetInfo:
    """What the options need to know about the dataset (read once before training)."""

    path: str
    name: str
    resolution: int
    channels: int
    label_dim: int
    size: int  # images before mirroring


@dataclass(frozen=True)
class TrainOptions:
    # Data.
    data: str
    dataset_name: str
    resolution: int
    cond: bool = False
    mirror: bool = False
    mirrory: bool = False
    subset: int | None = None
    # Run.
    outdir: str = "results"
    desc: str = ""
    cfg: str = "auto"
    gpus: int = 1
    batch: int = 32
    batch_gpu: int = 4
    total_kimg: float = 25000
    kimg_per_tick: float = 4
    snap: int = 50
    keep: int | None = None
    nvidia_pkl: bool = False  # also write network-snapshot-NNNNNN.pkl for NVIDIA's code
    seed: int = 0
    metrics: tuple[str, ...] = ()
    grid: tuple[int, int] | None = None  # image-grid columns x rows (None = NVIDIA's ~7680x4320 px)
    # Optimisation and loss.
    glr: float = 0.002
    dlr: float = 0.002
    gamma: float = 10.0
    ema_kimg: float = 10.0
    ema_rampup: float | None = None
    style_mixing_prob: float = 0.9
    pl_weight: float = 2.0
    g_reg_interval: int = 4
    d_reg_interval: int = 16
    # Augmentation.
    aug: str = "ada"
    augpipe: str = "bgc"
    p: float = 0.0
    target: float | None = 0.6
    ada_kimg: float = 500
    ada_interval: int = 4
    # Transfer learning.
    resume: str | None = None
    freezed: int = 0
    # Performance.
    fp32: bool = False
    precision: str = "auto"  # dtype of the mixed-precision blocks: auto (fp16 on CUDA), fp16, bf16, fp32
    nhwc: bool = False
    allow_tf32: bool = False
    nobench: bool = False
    workers: int = 0
    device: str = "auto"
    # Networks.
    G: GeneratorConfig = field(default_factory=GeneratorConfig)
    D: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["metrics"] = list(self.metrics)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainOptions:
        d = dict(d)
        d["G"] = GeneratorConfig.from_dict(d["G"])
        d["D"] = DiscriminatorConfig.from_dict(d["D"])
        d["metrics"] = tuple(d.get("metrics", ()))
        d["grid"] = tuple(d["grid"]) if d.get("grid") else None
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def save(self, run_dir: Path) -> None:
        from ..atomic import atomic_write

        text = json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"
        atomic_write(Path(run_dir) / OPTIONS_FILE, lambda tmp: tmp.write_text(text))

    @classmethod
    def load(cls, run_dir: Path) -> TrainOptions:
        path = Path(run_dir) / OPTIONS_FILE
        if not path.is_file():
            raise UserError(f"{run_dir} has no {OPTIONS_FILE}: it is not a training run folder")
        return cls.from_dict(json.loads(path.read_text()))

    @property
    def rounds(self) -> int:
        """Gradient-accumulation rounds per step on each process."""
        return self.batch // (self.batch_gpu * self.gpus)


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise UserError(message)


def build_options(
    raw: dict[str, Any],
    info: DatasetInfo,
) -> TrainOptions:
    """Options for a new run. `raw` holds the command-line values, None where the flag was not given
    (so preset values apply, as in NVIDIA's train.py)."""
    gpus = int(raw.get("gpus") or 1)
    _check(gpus >= 1, "--gpus must be at least 1")
    cfg = raw.get("cfg") or "auto"
    _check(cfg in PRESETS, f"unknown --cfg {cfg!r}: choose one of {', '.join(PRESETS)}")
    res = info.resolution
    spec = resolve_preset(cfg, res, gpus)

    desc = info.name
    cond = bool(raw.get("cond"))
    _check(not cond or info.label_dim > 0, "--cond=True needs labels in the dataset's dataset.json")
    if cond:
        desc += "-cond"
    subset = raw.get("subset")
    if subset is not None:
        _check(1 <= subset <= info.size, f"--subset must be between 1 and {info.size}")
        desc += f"-subset{subset}"
    mirror = bool(raw.get("mirror"))
    mirrory = bool(raw.get("mirrory"))
    if mirror:
        desc += "-mirror"
    if mirrory:
        desc += "-mirrory"
    desc += f"-{cfg}" + (f"{gpus}" if cfg == "auto" else "")

    gcfg, dcfg = network_configs(cfg, res, img_channels=info.channels, c_dim=info.label_dim if cond else 0, gpus=gpus)
    gamma, total_kimg = spec.gamma, float(spec.kimg)
    batch, batch_gpu = spec.batch, spec.batch // spec.ref_gpus
    if raw.get("gamma") is not None:
        _check(raw["gamma"] >= 0, "--gamma must be non-negative")
        gamma = float(raw["gamma"])
        desc += f"-gamma{gamma:g}"
    if raw.get("kimg") is not None:
        _check(raw["kimg"] > 0, "--kimg must be positive")
        total_kimg = float(raw["kimg"])
        desc += f"-kimg{total_kimg:g}"
    if raw.get("batch") is not None:
        batch = int(raw["batch"])
        _check(batch >= 1 and batch % gpus == 0, "--batch must be at least 1 and divisible by --gpus")
        batch_gpu = batch // gpus
        desc += f"-batch{batch}"
    if raw.get("batch_gpu") is not None:
        batch_gpu = int(raw["batch_gpu"])
    _check(
        batch_gpu >= 1 and batch % (batch_gpu * gpus) == 0,
        f"--batch={batch} must be a multiple of --batch-gpu={batch_gpu} times --gpus={gpus}",
    )

    # Network overrides (the names of the newer NVIDIA trainers).
    mbstd = raw.get("mbstd_group") if raw.get("mbstd_group") is not None else dcfg.mbstd_group_size
    _check(
        mbstd is None or batch_gpu <= mbstd or batch_gpu % mbstd == 0,
        f"--batch-gpu={batch_gpu} must be a multiple of the minibatch-stddev group {mbstd} (set --mbstd-group)",
    )
    cbase = raw.get("cbase") if raw.get("cbase") is not None else gcfg.channel_base
    cmax = raw.get("cmax") if raw.get("cmax") is not None else gcfg.channel_max
    map_depth = raw.get("map_depth") if raw.get("map_depth") is not None else gcfg.mapping.num_layers
    fp32 = bool(raw.get("fp32"))
    nhwc = bool(raw.get("nhwc"))
    freezed = int(raw.get("freezed") or 0)
    _check(freezed >= 0, "--freezed must be non-negative")
    gcfg = dataclasses.replace(
        gcfg,
        channel_base=int(cbase),
        channel_max=int(cmax),
        mapping=dataclasses.replace(gcfg.mapping, num_layers=int(map_depth)),
        num_fp16_res=0 if fp32 else gcfg.num_fp16_res,
        conv_clamp=None if fp32 else gcfg.conv_clamp,
        fp16_channels_last=nhwc,
    )
    dcfg = dataclasses.replace(
        dcfg,
        channel_base=int(cbase),
        channel_max=int(cmax),
        mbstd_group_size=mbstd,
        num_fp16_res=0 if fp32 else dcfg.num_fp16_res,
        conv_clamp=None if fp32 else dcfg.conv_clamp,
        fp16_channels_last=nhwc,
        freeze_layers=freezed,
        mapping=MappingConfig(w_avg_beta=None),
    )

    # Augmentation, as NVIDIA's --aug/--p/--target/--augpipe (but --p may also seed p for ada).
    aug = raw.get("aug") or "ada"
    _check(aug in AUG_MODES, f"--aug={aug} is not supported: use ada, fixed or noaug")
    if raw.get("aug"):
        desc += f"-{aug}"
    target: float | None = 0.6 if aug == "ada" else None
    p = 0.0
    if raw.get("p") is not None:
        p = float(raw["p"])
        _check(0 <= p <= 1, "--p must be between 0 and 1")
        _check(aug != "noaug", "--p cannot be used with --aug=noaug")
        desc += f"-p{p:g}"
    _check(aug != "fixed" or raw.get("p") is not None, "--aug=fixed needs --p")
    if raw.get("target") is not None:
        _check(aug == "ada", "--target can only be used with --aug=ada")
        target = float(raw["target"])
        _check(0 <= target <= 1, "--target must be between 0 and 1")
        desc += f"-target{target:g}"
    augpipe = raw.get("augpipe") or "bgc"
    _check(augpipe in AUGPIPES, f"unknown --augpipe {augpipe!r}: choose one of {', '.join(AUGPIPES)}")
    if raw.get("augpipe"):
        _check(aug != "noaug", "--augpipe cannot be used with --aug=noaug")
        desc += f"-{augpipe}"

    # Transfer learning: faster ADA and no EMA ramp-up, as NVIDIA.
    resume = raw.get("resume")
    ada_kimg, ema_rampup = 500.0, spec.ema_rampup
    if resume and resume != "noresume":
        name = re.sub(r"[^A-Za-z0-9]+", "", resume) if re.fullmatch(r"[A-Za-z0-9_-]+", resume) else "custom"
        desc += f"-resume{name}"
        ada_kimg, ema_rampup = 100.0, None
    else:
        resume = None
    if freezed:
        desc += f"-freezed{freezed}"

    snap = int(raw.get("snap") or 50)
    _check(snap >= 1, "--snap must be at least 1")
    tick = float(raw.get("tick") or 4)
    _check(tick > 0, "--tick must be positive")
    keep = raw.get("keep")
    _check(keep is None or keep >= 1, "--keep must be at least 1")
    workers = raw.get("workers")
    glr = float(raw["glr"]) if raw.get("glr") is not None else spec.lrate
    dlr = float(raw["dlr"]) if raw.get("dlr") is not None else spec.lrate
    return TrainOptions(
        data=str(info.path),
        dataset_name=info.name,
        resolution=res,
        cond=cond,
        mirror=mirror,
        mirrory=mirrory,
        subset=subset,
        outdir=str(raw.get("outdir") or "results"),
        desc=desc,
        cfg=cfg,
        gpus=gpus,
        batch=batch,
        batch_gpu=batch_gpu,
        total_kimg=total_kimg,
        kimg_per_tick=tick,
        snap=snap,
        keep=keep,
        nvidia_pkl=bool(raw.get("nvidia_pkl")),
        seed=int(raw.get("seed") or 0),
        metrics=check_metric_names(raw.get("metrics") or ()),
        grid=tuple(raw["grid"]) if raw.get("grid") else None,
        glr=glr,
        dlr=dlr,
        gamma=gamma,
        ema_kimg=spec.ema_kimg,
        ema_rampup=ema_rampup,
        style_mixing_prob=0.0 if cfg == "cifar" else 0.9,
        pl_weight=0.0 if cfg == "cifar" else 2.0,
        aug=aug,
        augpipe=augpipe,
        p=p,
        target=target,
        ada_kimg=ada_kimg,
        resume=resume,
        freezed=freezed,
        fp32=fp32,
        precision=str(raw.get("precision") or "auto"),
        nhwc=nhwc,
        allow_tf32=bool(raw.get("allow_tf32")),
        nobench=bool(raw.get("nobench")),
        workers=int(workers) if workers is not None else -1,
        device=str(raw.get("device") or "auto"),
        G=gcfg,
        D=dcfg,
    )


def next_run_dir(outdir: str | Path, desc: str) -> Path:
    """`<outdir>/<NNNNN>-<desc>` with the next free index, as NVIDIA numbers its runs."""
    outdir = Path(outdir)
    ids = [int(m.group()) for p in (outdir.iterdir() if outdir.is_dir() else []) if (m := re.match(r"^\d+", p.name))]
    return outdir / f"{max(ids, default=-1) + 1:05d}-{desc}"
