"""Training options: one frozen dataclass built from a preset (--cfg) plus command-line overrides.

The values follow NVIDIA's train.py (presets, batch-per-GPU default, run-folder description), so a
command line written for their trainer means the same here. This module is the one source of the
training flags: `TRAIN_FLAGS` names each flag, its group, help and type, and the `TrainOptions` field it
sets, whose default is the flag's default (the command line builds its parser from the table). The
options are dumped to `training_options.json` and read back when a run is continued.
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
    Preset,
    known_fields,
    network_configs,
    resolve_preset,
)
from ..device import PRECISIONS
from ..errors import UserError
from ..ops.fastpath import FAST_MODES
from .augment_presets import (
    ADA_INTERVAL,
    ADA_KIMG,
    AUG_MODES,
    DEFAULT_AUG,
    DEFAULT_PIPE,
    DEFAULT_TARGET,
    PIPES,
    TRANSFER_ADA_KIMG,
    check_augment,
)
from .evaluate import check_metric_names

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
    aug: str = DEFAULT_AUG
    augpipe: str = DEFAULT_PIPE
    p: float = 0.0
    target: float | None = DEFAULT_TARGET
    ada_kimg: float = ADA_KIMG
    ada_interval: int = ADA_INTERVAL
    # Transfer learning.
    resume: str | None = None
    freezed: int = 0
    # Performance.
    fp32: bool = False
    precision: str = "auto"  # dtype of the mixed-precision blocks: auto (fp16 on CUDA), fp16, bf16, fp32
    nhwc: bool = False
    allow_tf32: bool = False
    nobench: bool = False
    workers: int = -1  # data loader processes; -1 = 3 on CUDA, 0 elsewhere
    fast: str = "auto"  # the fast path (fused ops, channels-last, torch.compile): auto, on, compile, off
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
        """Reads to_dict()'s output; unknown keys are an error (as for network configs), not dropped."""
        d = dict(d)
        d["G"] = GeneratorConfig.from_dict(d["G"])
        d["D"] = DiscriminatorConfig.from_dict(d["D"])
        d["metrics"] = tuple(d.get("metrics", ()))
        d["grid"] = tuple(d["grid"]) if d.get("grid") else None
        # Runs saved before --fast existed trained on the reference ops: they continue on them (exactly).
        d.setdefault("fast", "off")
        return cls(**known_fields(cls, d))

    def save(self, run_dir: Path) -> None:
        from ..atomic import atomic_write

        text = json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"
        atomic_write(Path(run_dir) / OPTIONS_FILE, lambda tmp: tmp.write_text(text))

    @classmethod
    def load(cls, run_dir: Path) -> TrainOptions:
        path = Path(run_dir) / OPTIONS_FILE
        if not path.is_file():
            raise UserError(f"{run_dir} has no {OPTIONS_FILE}: it is not a training run folder")
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except (ValueError, TypeError, KeyError) as exc:
            raise UserError(f"{path}: not readable training options ({exc}); start a new run") from None

    @property
    def rounds(self) -> int:
        """Gradient-accumulation rounds per step on each process."""
        return self.batch // (self.batch_gpu * self.gpus)


DEFAULTS: dict[str, Any] = {f.name: f.default for f in dataclasses.fields(TrainOptions)}


# --- the flags -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Flag:
    """One training flag. `field` is the TrainOptions field it sets (its default is the flag's default);
    None for the network-size overrides, whose defaults come from the preset."""

    name: str
    group: str
    help: str
    field: str | None = None
    kind: str = "str"  # str, int, float, bool (True/False or 1/0), metrics (comma list), grid (WxH)
    choices: tuple[str, ...] | None = None
    default_note: str | None = None  # how the default is chosen, where the value alone would mislead
    show_default: bool = True

    @property
    def dest(self) -> str:
        return self.name.removeprefix("--").replace("-", "_")

    def default_text(self) -> str | None:
        """'(default: ...)' for the help, from the field's default (or default_note)."""
        if not self.show_default:
            return None
        if self.default_note is not None:
            return f"(default: {self.default_note})"
        if self.field is None:
            return None
        value = DEFAULTS[self.field]
        text = "none" if value in ((), None) else f"{value:g}" if isinstance(value, float) else str(value)
        return f"(default: {text})"


_METRICS_HELP = (
    "metrics after each snapshot, comma-separated (fid50k_full, kid50k_full, pr50k3_full, ppl2_wend, is50k, "
    "or a count such as fid10k_full), written to metric-<name>.jsonl; none"
)

TRAIN_FLAGS: tuple[Flag, ...] = (
    Flag("--outdir", "general", "where run folders are made", "outdir"),
    Flag(
        "--data",
        "general",
        "dataset zip or folder (NVIDIA format, e.g. from `stylegan2-ada prepare`)",
        "data",
        show_default=False,
    ),
    Flag("--gpus", "general", "processes/GPUs", "gpus", "int", default_note="1; torchrun sets its own"),
    Flag("--snap", "general", "snapshot every N ticks", "snap", "int"),
    Flag("--tick", "general", "kimg per tick", "kimg_per_tick", "float"),
    Flag("--keep", "general", "keep only the newest N snapshots", "keep", "int", default_note="all"),
    Flag("--nvidia-pkl", "general", "also write each snapshot as a .pkl that NVIDIA's code loads", "nvidia_pkl", "bool"),
    Flag("--metrics", "general", _METRICS_HELP, "metrics", "metrics"),
    Flag("--grid", "general", "image-grid size", "grid", "grid", default_note="~7680x4320 px"),
    Flag("--seed", "general", "random seed", "seed", "int"),
    Flag("--device", "general", "auto, cuda, cpu, mps", "device"),
    Flag("--cond", "dataset", "train a conditional model (labels from dataset.json)", "cond", "bool", show_default=False),
    Flag("--subset", "dataset", "train with only N images", "subset", "int", show_default=False),
    Flag("--mirror", "dataset", "add x-flipped copies of the images", "mirror", "bool", show_default=False),
    Flag("--mirrory", "dataset", "add vertically flipped copies (dvschultz)", "mirrory", "bool", show_default=False),
    Flag("--cfg", "base config", ", ".join(PRESETS), "cfg"),
    Flag("--gamma", "base config", "R1 weight", "gamma", "float", show_default=False),
    Flag(
        "--ema-kimg",
        "base config",
        "half-life of G_ema in kimg (short fine-tunes want a short one, e.g. 0.5 for 3 kimg)",
        "ema_kimg",
        "float",
        default_note="the preset's: auto its batch x 10/32 (10 at 32 px), stylegan2 10, paper256/512 20, paper1024 10, cifar 500",
    ),
    Flag("--kimg", "base config", "training length in thousands of real images", "total_kimg", "float", show_default=False),
    Flag("--batch", "base config", "global batch size", "batch", "int", show_default=False),
    Flag("--batch-gpu", "base config", "images per process per accumulation round", "batch_gpu", "int", show_default=False),
    Flag("--glr", "base config", "G learning rate", "glr", "float", show_default=False),
    Flag("--dlr", "base config", "D learning rate", "dlr", "float", show_default=False),
    Flag("--map-depth", "base config", "mapping network layers", kind="int"),
    Flag("--mbstd-group", "base config", "minibatch-stddev group size", kind="int"),
    Flag("--cbase", "base config", "channel base (32768 = fmaps 1)", kind="int"),
    Flag("--cmax", "base config", "max channels per layer", kind="int"),
    Flag("--aug", "augmentation", ", ".join(AUG_MODES[:-1]) + f" or {AUG_MODES[-1]}", "aug", choices=AUG_MODES),
    Flag("--p", "augmentation", "augment probability (fixed; initial value for ada)", "p", "float", show_default=False),
    Flag("--target", "augmentation", "ADA target", "target", "float"),
    Flag("--augpipe", "augmentation", "augmentation pipeline", "augpipe", choices=tuple(PIPES)),
    Flag(
        "--resume",
        "transfer learning / continuing",
        "ffhq1024|...|PKL|URL|.safetensors (transfer) or latest|RUN_DIR (continue)",
        "resume",
        show_default=False,
    ),
    Flag("--freezed", "transfer learning / continuing", "freeze the first N layers of D", "freezed", "int"),
    Flag("--fp32", "performance", "disable mixed precision", "fp32", "bool", show_default=False),
    Flag(
        "--precision",
        "performance",
        "dtype of the mixed-precision blocks",
        "precision",
        choices=PRECISIONS,
        default_note="auto = fp16 on CUDA, bf16 on the CPU fast path where the CPU has native bf16, fp32 elsewhere",
    ),
    Flag("--nhwc", "performance", "channels-last memory format in the fp16 layers", "nhwc", "bool", show_default=False),
    Flag("--allow-tf32", "performance", "allow TF32 matmuls/convolutions", "allow_tf32", "bool", show_default=False),
    Flag("--nobench", "performance", "disable cuDNN benchmarking", "nobench", "bool", show_default=False),
    Flag("--workers", "performance", "data loader processes", "workers", "int", default_note="3 on GPU, 0 on CPU"),
    Flag(
        "--fast",
        "performance",
        "fast path: on (fused ops, channels-last), compile (also torch.compile the G and D passes), off (the "
        "reference ops, bit-identical to NVIDIA's in fp32)",
        "fast",
        choices=FAST_MODES,
        default_note="auto = on for CPU (measured faster), off elsewhere until measured",
    ),
)
FLAGS_BY_DEST: dict[str, Flag] = {f.dest: f for f in TRAIN_FLAGS}

# What a continued run may change (flag dest -> field); every other given flag is ignored with a note.
CHANGEABLE_WHEN_CONTINUING = (
    "kimg", "snap", "keep", "nvidia_pkl", "tick", "workers", "metrics", "device", "grid", "fast"
)


# --- building the options of a new run ---------------------------------------------------------------


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise UserError(message)


def _positive(value: float, flag: str) -> float:
    _check(value > 0, f"{flag} must be positive")
    return value


def _given(raw: dict[str, Any], dest: str, fallback: Any) -> Any:
    """The command-line value of `dest`, or `fallback` (a preset's or the field's default) when not given."""
    value = raw.get(dest)
    return fallback if value is None else value


def run_description(raw: dict[str, Any], info: DatasetInfo, cfg: str, gpus: int) -> str:
    """The run folder's name after its number, as NVIDIA's train.py spells it: the dataset, then every
    option that differs from the preset, in their order."""
    parts = [info.name]
    parts += ["cond"] if raw.get("cond") else []
    parts += [f"subset{raw['subset']}"] if raw.get("subset") is not None else []
    parts += ["mirror"] if raw.get("mirror") else []
    parts += ["mirrory"] if raw.get("mirrory") else []
    parts.append(cfg + (f"{gpus}" if cfg == "auto" else ""))
    for dest, text in (("gamma", "gamma{:g}"), ("kimg", "kimg{:g}"), ("batch", "batch{}")):
        if raw.get(dest) is not None:
            parts.append(text.format(float(raw[dest]) if dest != "batch" else int(raw[dest])))
    parts += [raw["aug"]] if raw.get("aug") else []
    parts += [f"p{float(raw['p']):g}"] if raw.get("p") is not None else []
    parts += [f"target{float(raw['target']):g}"] if raw.get("target") is not None else []
    parts += [raw["augpipe"]] if raw.get("augpipe") else []
    resume = raw.get("resume")
    if resume and resume != "noresume":
        name = re.sub(r"[^A-Za-z0-9]+", "", resume) if re.fullmatch(r"[A-Za-z0-9_-]+", resume) else "custom"
        parts.append(f"resume{name}")
    parts += [f"freezed{raw['freezed']}"] if raw.get("freezed") else []
    return "-".join(parts)


def _batch_sizes(raw: dict[str, Any], spec: Preset, gpus: int) -> tuple[int, int]:
    """(global batch, batch per process and round): the preset's, or --batch / --batch-gpu."""
    batch, batch_gpu = spec.batch, spec.batch // spec.ref_gpus
    if raw.get("batch") is not None:
        batch = int(raw["batch"])
        _check(batch >= 1 and batch % gpus == 0, "--batch must be at least 1 and divisible by --gpus")
        batch_gpu = batch // gpus
    batch_gpu = int(_given(raw, "batch_gpu", batch_gpu))
    _check(
        batch_gpu >= 1 and batch % (batch_gpu * gpus) == 0,
        f"--batch={batch} must be a multiple of --batch-gpu={batch_gpu} times --gpus={gpus}",
    )
    return batch, batch_gpu


def _network_configs(
    raw: dict[str, Any],
    cfg: str,
    info: DatasetInfo,
    gpus: int,
    batch_gpu: int,
) -> tuple[GeneratorConfig, DiscriminatorConfig]:
    """The preset's G and D with the size overrides of NVIDIA's newer trainers (--cbase, --cmax,
    --map-depth, --mbstd-group) and the precision / freeze flags applied."""
    c_dim = info.label_dim if raw.get("cond") else 0
    g, d = network_configs(cfg, info.resolution, img_channels=info.channels, c_dim=c_dim, gpus=gpus)
    mbstd = _given(raw, "mbstd_group", d.mbstd_group_size)
    _check(
        mbstd is None or batch_gpu <= mbstd or batch_gpu % mbstd == 0,
        f"--batch-gpu={batch_gpu} must be a multiple of the minibatch-stddev group {mbstd} (set --mbstd-group)",
    )
    fp32 = bool(raw.get("fp32"))
    shared = {
        "channel_base": int(_given(raw, "cbase", g.channel_base)),
        "channel_max": int(_given(raw, "cmax", g.channel_max)),
        "num_fp16_res": 0 if fp32 else g.num_fp16_res,
        "conv_clamp": None if fp32 else g.conv_clamp,
        "fp16_channels_last": bool(raw.get("nhwc")),
    }
    map_depth = int(_given(raw, "map_depth", g.mapping.num_layers))
    g = dataclasses.replace(g, mapping=dataclasses.replace(g.mapping, num_layers=map_depth), **shared)
    freezed = int(raw.get("freezed") or 0)
    _check(freezed >= 0, "--freezed must be non-negative")
    d = dataclasses.replace(
        d,
        mbstd_group_size=mbstd,
        freeze_layers=freezed,
        mapping=MappingConfig(w_avg_beta=None),
        **shared,
    )
    return g, d


def _augmentation(raw: dict[str, Any]) -> dict[str, Any]:
    """aug, augpipe, p and target as NVIDIA's --aug/--p/--target/--augpipe (but --p may also seed p for ada)."""
    aug = raw.get("aug") or DEFAULTS["aug"]
    check_augment(aug, raw.get("augpipe"), raw.get("p"), raw.get("target"))
    _check(aug != "noaug" or raw.get("p") is None, "--p cannot be used with --aug=noaug")
    _check(aug != "noaug" or not raw.get("augpipe"), "--augpipe cannot be used with --aug=noaug")
    target = _given(raw, "target", DEFAULTS["target"]) if aug == "ada" else None
    return {
        "aug": aug,
        "augpipe": raw.get("augpipe") or DEFAULTS["augpipe"],
        "p": float(_given(raw, "p", DEFAULTS["p"])),
        "target": None if target is None else float(target),
    }


def _run_settings(raw: dict[str, Any]) -> dict[str, Any]:
    """Ticks, snapshots, pruning, seed, metrics, grid, precision and device: the fields set as given."""
    snap = int(_given(raw, "snap", DEFAULTS["snap"]))
    _check(snap >= 1, "--snap must be at least 1")
    tick = float(_given(raw, "tick", DEFAULTS["kimg_per_tick"]))
    _check(tick > 0, "--tick must be positive")
    keep = raw.get("keep")
    _check(keep is None or keep >= 1, "--keep must be at least 1")
    return {
        "outdir": str(_given(raw, "outdir", DEFAULTS["outdir"])),
        "kimg_per_tick": tick,
        "snap": snap,
        "keep": keep,
        "nvidia_pkl": bool(raw.get("nvidia_pkl")),
        "seed": int(_given(raw, "seed", DEFAULTS["seed"])),
        "metrics": check_metric_names(raw.get("metrics") or ()),
        "grid": tuple(raw["grid"]) if raw.get("grid") else None,
        "fp32": bool(raw.get("fp32")),
        "precision": str(_given(raw, "precision", DEFAULTS["precision"])),
        "nhwc": bool(raw.get("nhwc")),
        "allow_tf32": bool(raw.get("allow_tf32")),
        "nobench": bool(raw.get("nobench")),
        "workers": int(_given(raw, "workers", DEFAULTS["workers"])),
        "device": str(_given(raw, "device", DEFAULTS["device"])),
        "fast": str(_given(raw, "fast", DEFAULTS["fast"])),
    }


def build_options(
    raw: dict[str, Any],
    info: DatasetInfo,
) -> TrainOptions:
    """Options for a new run. `raw` holds the command-line values by flag dest, None where the flag was
    not given (so preset values apply, as in NVIDIA's train.py)."""
    gpus = int(raw.get("gpus") or DEFAULTS["gpus"])
    _check(gpus >= 1, "--gpus must be at least 1")
    cfg = raw.get("cfg") or DEFAULTS["cfg"]
    _check(cfg in PRESETS, f"unknown --cfg {cfg!r}: choose one of {', '.join(PRESETS)}")
    cond = bool(raw.get("cond"))
    _check(not cond or info.label_dim > 0, "--cond=True needs labels in the dataset's dataset.json")
    subset = raw.get("subset")
    _check(subset is None or 1 <= subset <= info.size, f"--subset must be between 1 and {info.size}")
    _check(raw.get("gamma") is None or raw["gamma"] >= 0, "--gamma must be non-negative")
    _check(raw.get("kimg") is None or raw["kimg"] > 0, "--kimg must be positive")

    spec = resolve_preset(cfg, info.resolution, gpus)
    batch, batch_gpu = _batch_sizes(raw, spec, gpus)
    gcfg, dcfg = _network_configs(raw, cfg, info, gpus, batch_gpu)
    augmentation = _augmentation(raw)
    # Transfer learning: faster ADA and no EMA ramp-up, as NVIDIA.
    resume = raw.get("resume") if raw.get("resume") not in (None, "", "noresume") else None
    lrate = spec.lrate
    return TrainOptions(
        data=str(info.path),
        dataset_name=info.name,
        resolution=info.resolution,
        cond=cond,
        mirror=bool(raw.get("mirror")),
        mirrory=bool(raw.get("mirrory")),
        subset=subset,
        desc=run_description(raw, info, cfg, gpus),
        cfg=cfg,
        gpus=gpus,
        batch=batch,
        batch_gpu=batch_gpu,
        total_kimg=float(_given(raw, "kimg", spec.kimg)),
        glr=float(_given(raw, "glr", lrate)),
        dlr=float(_given(raw, "dlr", lrate)),
        gamma=float(_given(raw, "gamma", spec.gamma)),
        ema_kimg=_positive(float(_given(raw, "ema_kimg", spec.ema_kimg)), "--ema-kimg"),
        ema_rampup=None if resume else spec.ema_rampup,
        style_mixing_prob=0.0 if cfg == "cifar" else DEFAULTS["style_mixing_prob"],
        pl_weight=0.0 if cfg == "cifar" else DEFAULTS["pl_weight"],
        ada_kimg=TRANSFER_ADA_KIMG if resume else ADA_KIMG,
        resume=resume,
        freezed=int(raw.get("freezed") or 0),
        G=gcfg,
        D=dcfg,
        **augmentation,
        **_run_settings(raw),
    )


def next_run_dir(outdir: str | Path, desc: str) -> Path:
    """`<outdir>/<NNNNN>-<desc>` with the next free index, as NVIDIA numbers its runs."""
    outdir = Path(outdir)
    ids = [int(m.group()) for p in (outdir.iterdir() if outdir.is_dir() else []) if (m := re.match(r"^\d+", p.name))]
    return outdir / f"{max(ids, default=-1) + 1:05d}-{desc}"
