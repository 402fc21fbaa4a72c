"""`stylegan2-ada train` and scripts/train.py: NVIDIA's and dvschultz's training flags.

Booleans take NVIDIA's `--mirror=1` and dvschultz's `--mirror=True` (or a bare `--mirror`);
`--metrics=fid50k_full,kid50k_full` computes those metrics after every snapshot (`none`/`None`, the
default, computes none). `--resume` takes a pretrained name, file or URL (transfer learning:
a new run starting from those weights), or `latest` / a run folder (continue that run exactly).
The flags themselves, with their defaults, are the table `train.options.TRAIN_FLAGS`.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..train.options import TRAIN_FLAGS, Flag, TrainOptions

INTERRUPTED = "interrupted: continue from the last snapshot with --resume=latest"

TRUE = ("1", "true", "yes", "y", "on")
FALSE = ("0", "false", "no", "n", "off")


def parse_bool(text: str | bool) -> bool:
    if isinstance(text, bool):
        return text
    if text.lower() in TRUE:
        return True
    if text.lower() in FALSE:
        return False
    raise argparse.ArgumentTypeError(f"expected True/False (or 1/0), got {text!r}")


def parse_metrics(text: str) -> list[str]:
    if text is None or text.strip().lower() in ("", "none"):
        return []
    return [m.strip() for m in text.split(",") if m.strip()]


def parse_grid(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WxH such as 8x4, got {text!r}") from None
    if w < 1 or h < 1:
        raise argparse.ArgumentTypeError("grid sides must be at least 1")
    return w, h


_TYPES = {"str": None, "int": int, "float": float, "metrics": parse_metrics, "grid": parse_grid}


def _add_flag(group: argparse._ArgumentGroup, flag: Flag) -> None:
    help_text = " ".join(t for t in (flag.help, flag.default_text()) if t)
    # Every default is None: "not given", so the preset (or the field's default) applies in build_options.
    if flag.kind == "bool":
        group.add_argument(
            flag.name, type=parse_bool, nargs="?", const=True, default=None, metavar="BOOL", help=help_text
        )
        return
    extra: dict[str, Any] = {"metavar": "WxH"} if flag.kind == "grid" else {}
    group.add_argument(
        flag.name, type=_TYPES[flag.kind], choices=flag.choices, default=None, help=help_text, **extra
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    groups: dict[str, argparse._ArgumentGroup] = {}
    for flag in TRAIN_FLAGS:
        if flag.group not in groups:
            groups[flag.group] = parser.add_argument_group(flag.group)
        _add_flag(groups[flag.group], flag)
        if flag.name == "--seed":
            groups["general"].add_argument("-n", "--dry-run", action="store_true", help="print the options and exit")


def run(args: argparse.Namespace) -> int:
    from ..distributed import DistEnv, init_from_env, launched_by_torchrun, shutdown
    from ..train.launch import plan_on_every_process, spawn_training, train_here
    from .common import command_device

    raw = {k: v for k, v in vars(args).items() if k != "command"}
    torchrun = launched_by_torchrun()
    env = init_from_env(command_device(raw.get("device")).type) if torchrun else None
    try:
        plan = plan_on_every_process(raw, env)
        preamble = "".join(f"{note}\n" for note in plan.notes) + plan_text(plan.opts, plan.run_dir, plan.continue_from)
        if env is None or env.is_main:
            print(preamble, end="")
        if args.dry_run:
            if env is None or env.is_main:
                print(json.dumps(plan.opts.to_dict(), indent=2))
                print("Dry run: nothing trained, no folder made.")
            return 0
        if env is not None:
            train_here(plan, env, preamble)
        elif plan.opts.gpus > 1:
            spawn_training(plan)
        else:
            train_here(plan, DistEnv(), preamble)
    finally:
        if torchrun:
            shutdown()
    return 0


def plan_text(opts: TrainOptions, run_dir: Any, continue_from: Any) -> str:
    """The "Training options" block printed before a run (and written at the top of its log.txt)."""
    lines = [""]
    lines.append("Training options:")
    if continue_from is not None:
        lines.append(f"  continuing run:    {run_dir} from network-snapshot-{continue_from.key}")
    else:
        lines.append(f"  output directory:  {run_dir}")
    lines.append(f"  dataset:           {opts.data} ({opts.resolution}x{opts.resolution})")
    lines.append(
        f"  cfg:               {opts.cfg} (batch {opts.batch}, batch-gpu {opts.batch_gpu}, gamma {opts.gamma:g}, "
        f"lr G {opts.glr:g} D {opts.dlr:g}, map {opts.G.mapping.num_layers}, cbase {opts.G.channel_base})"
    )
    lines.append(
        f"  length:            {opts.total_kimg:g} kimg, ticks of {opts.kimg_per_tick:g} kimg, snapshot every {opts.snap}"
    )
    aug = (
        "none"
        if opts.aug == "noaug"
        else f"{opts.aug} {opts.augpipe} p={opts.p:g}" + (f" target={opts.target:g}" if opts.target is not None else "")
    )
    lines.append(f"  augmentation:      {aug}; mirror x {opts.mirror}, y {opts.mirrory}")
    resume = "continuing (the run's own snapshot above)" if continue_from is not None else (opts.resume or "none")
    lines.append(f"  resume:            {resume}; freezed {opts.freezed}")
    lines.append(f"  processes:         {opts.gpus}")
    if opts.metrics:
        lines.append(f"  metrics:           {','.join(opts.metrics)} after every snapshot (metric-<name>.jsonl)")
    else:
        lines.append("  metrics:           none")
    lines.append("")
    return "\n".join(lines) + "\n"
