"""The training loop: four phases (Gmain, Greg, Dmain, Dreg) per step, EMA generator, ADA, ticks.

Randomness is arranged so that a run can be continued exactly and does not depend on how the batch is
split: data order, latents and labels come from a generator shared by all processes (its state is
saved), and every slice of the batch (one accumulation round on one process) reseeds torch's global RNG
from (step seed, phase, slice), which drives synthesis noise, style mixing, augmentation and
path-length noise.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..device import half_dtype_for, pick_device
from ..distributed import (
    DistEnv,
    all_reduce_mean,
    all_reduce_sum,
    broadcast_module,
    rank_device,
    reduce_gradients,
)
from ..io.nvidia_export import dataset_kwargs_for_nvidia, save_nvidia_pickle
from ..nn import Discriminator, Generator
from .evaluate import evaluate_snapshot
from .loss import PHASES, StyleGAN2Loss
from .options import TrainOptions
from .outputs import (
    StatsWriter,
    cpu_mem_gb,
    format_time,
    grid_indices,
    grid_shape,
    plot_progress,
    save_grid,
)
from .sampler import GlobalBatchSampler
from .state import (
    capture_rng,
    load_training_state,
    prune_snapshots,
    restore_rng,
    save_training_state,
    snapshot_path,
)


@dataclass
class Phase:
    name: str
    module: torch.nn.Module
    opt: torch.optim.Optimizer
    interval: int


def open_dataset(opts: TrainOptions) -> Any:
    from ..data.dataset import DatasetError, ImageDataset
    from ..errors import UserError

    try:
        ds = ImageDataset(
            opts.data,
            resolution=opts.resolution,
            use_labels=opts.cond,
            xflip=opts.mirror,
            max_size=opts.subset,
            random_seed=opts.seed,
        )
    except DatasetError as exc:
        raise UserError(f"--data: {exc}") from None
    if opts.mirrory:
        from .views import YFlipView

        ds = YFlipView(ds)
    return ds


def make_phases(opts: TrainOptions, G: Generator, D: Discriminator) -> list[Phase]:
    """Adam per network; lazy regularisation scales lr and betas by mb_ratio = I / (I + 1)."""
    phases = []
    for net, module, lr, interval in (("G", G, opts.glr, opts.g_reg_interval), ("D", D, opts.dlr, opts.d_reg_interval)):
        ratio = interval / (interval + 1)
        opt = torch.optim.Adam(module.parameters(), lr=lr * ratio, betas=(0.0, 0.99**ratio), eps=1e-8)
        phases += [Phase(f"{net}main", module, opt, 1), Phase(f"{net}reg", module, opt, interval)]
    return phases


def make_augment(opts: TrainOptions, device: torch.device) -> tuple[torch.nn.Module | None, Any]:
    if opts.aug == "noaug":
        return None, None
    from .ada import make_augment as make

    return make(
        opts.aug,
        opts.augpipe,
        p=opts.p,
        target=opts.target if opts.aug == "ada" else None,
        batch_size=opts.batch,
        ada_kimg=opts.ada_kimg,
        ada_interval=opts.ada_interval,
        device=device,
    )


def round_seed(step_seed: int, phase_idx: int, slot: int) -> int:
    return int(np.random.SeedSequence([step_seed, phase_idx, slot]).generate_state(2, np.uint64)[0] >> 1)


@torch.no_grad()
def update_ema(G_ema: Generator, G: Generator, opts: TrainOptions, cur_nimg: int) -> None:
    """beta = 0.5 ** (batch / ema_nimg), with the ramp-up ema_nimg = min(ema_kimg*1000, cur_nimg*ramp)."""
    ema_nimg = opts.ema_kimg * 1000
    if opts.ema_rampup is not None:
        ema_nimg = min(ema_nimg, cur_nimg * opts.ema_rampup)
    beta = 0.5 ** (opts.batch / max(ema_nimg, 1e-8))
    for p_ema, p in zip(G_ema.parameters(), G.parameters()):
        p_ema.copy_(p.lerp(p_ema, beta))
    for b_ema, b in zip(G_ema.buffers(), G.buffers()):
        b_ema.copy_(b)


def training_loop(
    opts: TrainOptions,
    run_dir: Path,
    env: DistEnv | None = None,
    continue_kimg: int | None = None,
    dataset: Any | None = None,
) -> dict[str, Any]:
    """Trains until opts.total_kimg; returns the final counters. Rank 0 writes all files.
    `dataset` replaces opts.data (benchmarks feed random images)."""
    start_time = time.time()
    env = env or DistEnv()
    device = rank_device(pick_device(opts.device), env)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = not opts.nobench
        torch.backends.cuda.matmul.allow_tf32 = opts.allow_tf32
        torch.backends.cudnn.allow_tf32 = opts.allow_tf32
    half_dtype = None if opts.fp32 else half_dtype_for(device, opts.precision)
    say = print if env.is_main else (lambda *a, **k: None)
    torch.manual_seed(opts.seed)
    np.random.seed(opts.seed)

    dataset = open_dataset(opts) if dataset is None else dataset
    say(
        f"Dataset: {opts.data} ({len(dataset)} images incl. mirrors, {opts.resolution}x{opts.resolution}, "
        f"labels {dataset.label_dim if opts.cond else 0})"
    )
    G = Generator(opts.G).train().requires_grad_(False).to(device)
    D = Discriminator(opts.D).train().requires_grad_(False).to(device)
    G_ema = copy.deepcopy(G).eval()
    augment_pipe, ada = make_augment(opts, device)
    phases = make_phases(opts, G, D)
    loss = StyleGAN2Loss(
        G,
        D,
        augment_pipe,
        r1_gamma=opts.gamma,
        style_mixing_prob=opts.style_mixing_prob,
        pl_weight=opts.pl_weight,
        half_dtype=half_dtype,
        on_real_logits=ada.accumulate if ada is not None else None,
    )
    shared = torch.Generator().manual_seed(opts.seed)  # same stream on every process
    cur_nimg = cur_tick = batch_idx = 0

    if continue_kimg is not None:
        nets, state = load_training_state(run_dir, continue_kimg, device="cpu")
        for name, module in (("G", G), ("G_ema", G_ema), ("D", D)):
            module.load_state_dict(nets[name].state_dict())
        phases[0].opt.load_state_dict(state["G_opt"])
        phases[2].opt.load_state_dict(state["D_opt"])
        loss.pl_mean.copy_(state["pl_mean"])
        if augment_pipe is not None and state.get("augment_p") is not None:
            augment_pipe.p.copy_(state["augment_p"])
        if ada is not None and state.get("ada") is not None:
            ada.load_state_dict(state["ada"])
        shared.set_state(state["shared_rng"])
        restore_rng(state["rng"])
        cur_nimg, cur_tick, batch_idx = state["cur_nimg"], state["cur_tick"] + 1, state["batch_idx"]
        say(
            f"Continuing {run_dir} at kimg {cur_nimg / 1000:g}, tick {cur_tick}, "
            f"augment p {float(augment_pipe.p) if augment_pipe is not None else 0:.3f}"
        )
        if cur_nimg >= opts.total_kimg * 1000:
            say(
                f"This run has already reached --kimg={opts.total_kimg:g}: nothing left to train. "
                "Give a larger --kimg to train longer."
            )
    elif opts.resume and env.is_main:
        from .transfer import apply_transfer, forget_sources, load_source

        say(
            f"Resuming from {opts.resume!r} (transfer learning: weights only, counters start at 0; "
            "to continue a run of ours use --resume=latest or its folder)"
        )
        targets = {"G": G, "G_ema": G_ema, "D": D}
        for report in apply_transfer(load_source(opts.resume, "cpu"), targets, opts.cfg, opts.resume):
            for line in report.lines():
                say(line)
        forget_sources()  # free the source's memory
    for module in (G, G_ema, D):
        broadcast_module(module, env.world)

    # Fixed grids: the same reals and latents in every image snapshot of the run.
    gw, gh = opts.grid or grid_shape(opts.resolution)
    grid_idx = grid_indices(dataset, gw, gh, seed=0)
    grid_z = torch.from_numpy(np.random.RandomState(opts.seed).randn(gw * gh, G.z_dim)).float().to(device)
    grid_c = torch.from_numpy(np.stack([dataset.get_label(i) for i in grid_idx])).float().to(device)
    if opts.G.c_dim == 0:
        grid_c = torch.zeros([gw * gh, 0], device=device)

    chunk = max(opts.batch_gpu, 32 if opts.resolution <= 256 else 4)

    def fakes(path: Path) -> None:
        with torch.no_grad():
            imgs = [
                G_ema(z, c, noise_mode="const", half_dtype=half_dtype).float().cpu()
                for z, c in zip(grid_z.split(chunk), grid_c.split(chunk))
            ]
        save_grid(torch.cat(imgs), path, (-1, 1), (gw, gh))

    writer = None
    if env.is_main:
        if not (run_dir / "reals.png").exists():
            save_grid(np.stack([dataset[i][0] for i in grid_idx]), run_dir / "reals.png", (0, 255), (gw, gh))
        if continue_kimg is None:
            fakes(run_dir / "fakes_init.png")
        writer = StatsWriter(run_dir)

    rounds = opts.rounds
    workers = opts.workers if opts.workers >= 0 else (3 if device.type == "cuda" else 0)
    sampler = GlobalBatchSampler(len(dataset), opts.batch, opts.seed, env.rank, env.world, start_step=batch_idx)
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_sampler=sampler,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        prefetch_factor=2 if workers > 0 else None,
    )
    data_iter = iter(loader)
    per_rank = opts.batch // env.world
    z_dim, c_dim = G.z_dim, opts.G.c_dim
    precision_name = str(half_dtype).replace("torch.", "") if half_dtype else "fp32"
    say(
        f"Training for {opts.total_kimg:g} kimg: batch {opts.batch} = {env.world} process(es) x "
        f"{rounds} round(s) x {opts.batch_gpu}, {precision_name} on {device}\n"
    )

    tick_start_nimg, tick_start_time = cur_nimg, time.time()
    maintenance_time = tick_start_time - start_time
    done = cur_nimg >= opts.total_kimg * 1000
    while not done:
        # Step inputs: global draws from the shared stream, this process's slice of them.
        real_img, real_c = next(data_iter)
        real_img = (real_img.to(device).float() / 127.5 - 1).split(opts.batch_gpu)
        real_c = real_c.to(device).float().split(opts.batch_gpu)
        step_seed = int(torch.randint(0, 2**62, [], generator=shared))
        all_z = torch.randn([len(PHASES), opts.batch, z_dim], generator=shared)
        all_z = all_z[:, env.rank * per_rank : (env.rank + 1) * per_rank].to(device)
        if c_dim > 0:
            idx = torch.randint(len(dataset), [len(PHASES), opts.batch], generator=shared)
            idx = idx[:, env.rank * per_rank : (env.rank + 1) * per_rank]
            all_c = (
                torch.from_numpy(np.stack([[dataset.get_label(int(i)) for i in row] for row in idx])).float().to(device)
            )
        else:
            all_c = torch.zeros([len(PHASES), per_rank, 0], device=device)

        for phase_idx, phase in enumerate(phases):
            if batch_idx % phase.interval != 0:
                continue
            phase.opt.zero_grad(set_to_none=True)
            phase.module.requires_grad_(True)
            zs, cs = all_z[phase_idx].split(opts.batch_gpu), all_c[phase_idx].split(opts.batch_gpu)
            for r in range(rounds):
                torch.manual_seed(round_seed(step_seed, phase_idx, env.rank * rounds + r))
                loss.accumulate_gradients(
                    phase.name, real_img[r], real_c[r], zs[r], cs[r], gain=phase.interval / rounds
                )
            phase.module.requires_grad_(False)
            reduce_gradients(list(phase.module.parameters()), env.world)
            phase.opt.step()
            loss.end_phase(phase.name, lambda t: all_reduce_mean(t, env.world))

        update_ema(G_ema, G, opts, cur_nimg)
        cur_nimg += opts.batch
        batch_idx += 1
        if ada is not None:
            ada.step()  # every ada_interval steps: p += sign(E[sign(D(real))] - target) * step

        done = cur_nimg >= opts.total_kimg * 1000
        if not done and cur_tick != 0 and cur_nimg < tick_start_nimg + opts.kimg_per_tick * 1000:
            continue

        # ---- maintenance, once per tick ----
        tick_end_time = time.time()
        sec_per_kimg = (tick_end_time - tick_start_time) / max(cur_nimg - tick_start_nimg, 1) * 1e3
        gpu_mem = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else 0.0
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        p_now = float(augment_pipe.p) if augment_pipe is not None else 0.0
        stats = loss.stats.summary(lambda t: all_reduce_sum(t, env.world))
        loss.stats.reset()
        progress = {
            "Progress/tick": cur_tick,
            "Progress/kimg": cur_nimg / 1e3,
            "Progress/augment": p_now,
            "Timing/total_sec": tick_end_time - start_time,
            "Timing/sec_per_tick": tick_end_time - tick_start_time,
            "Timing/sec_per_kimg": sec_per_kimg,
            "Timing/maintenance_sec": maintenance_time,
            "Resources/cpu_mem_gb": cpu_mem_gb(),
            "Resources/peak_gpu_mem_gb": gpu_mem,
        }
        say(
            f"tick {cur_tick:<5d} kimg {cur_nimg / 1e3:<8.1f} time {format_time(tick_end_time - start_time):<12s} "
            f"sec/tick {tick_end_time - tick_start_time:<7.1f} sec/kimg {sec_per_kimg:<7.2f} "
            f"maintenance {maintenance_time:<6.1f} cpumem {progress['Resources/cpu_mem_gb']:<6.2f} "
            f"gpumem {gpu_mem:<6.2f} augment {p_now:.3f}"
        )
        kimg = cur_nimg // 1000
        snapshot_due = done or cur_tick % opts.snap == 0
        if env.is_main and snapshot_due:
            fakes(run_dir / f"fakes{kimg:06d}.png")
            state = {
                "cur_nimg": cur_nimg,
                "cur_tick": cur_tick,
                "batch_idx": batch_idx,
                "batch": opts.batch,
                "G_opt": phases[0].opt.state_dict(),
                "D_opt": phases[2].opt.state_dict(),
                "pl_mean": loss.pl_mean.detach().cpu(),
                "augment_p": augment_pipe.p.detach().cpu() if augment_pipe is not None else None,
                "ada": ada.state_dict() if ada is not None else None,
                "shared_rng": shared.get_state(),
                "rng": capture_rng(),
            }
            meta = {
                "kimg": cur_nimg / 1e3,
                "tick": cur_tick,
                "augment_p": p_now,
                "dataset": opts.dataset_name,
                "cfg": opts.cfg,
                "run": run_dir.name,
            }
            save_training_state(run_dir, kimg, {"G": G, "G_ema": G_ema, "D": D}, state, meta)
            if opts.nvidia_pkl:
                save_nvidia_pickle(
                    snapshot_path(run_dir, kimg).with_suffix(".pkl"),
                    {"G": G, "D": D, "G_ema": G_ema},
                    training_set_kwargs=dataset_kwargs_for_nvidia(
                        opts.data, opts.resolution, opts.cond, opts.mirror, opts.subset
                    ),
                    metadata=meta,
                )
            if opts.keep:
                prune_snapshots(run_dir, opts.keep)
        metric_stats: dict[str, dict[str, float]] = {}
        if snapshot_due and opts.metrics:
            # Every process takes part; counted as maintenance time, as in NVIDIA's trainer.
            say("Evaluating metrics...")
            values = evaluate_snapshot(
                opts, G_ema, device, env.rank, env.world, run_dir, snapshot_path(run_dir, kimg)
            )
            metric_stats = {f"Metrics/{k}": {"num": 1, "mean": v, "std": 0.0} for k, v in values.items()}
        if env.is_main:
            assert writer is not None
            writer.write(
                {
                    **stats,
                    **{k: {"num": 1, "mean": v, "std": 0.0} for k, v in progress.items()},
                    **metric_stats,
                },
                kimg=cur_nimg / 1e3,
                walltime=tick_end_time - start_time,
                timestamp=time.time(),
            )
            plot_progress(run_dir)
        cur_tick += 1
        tick_start_nimg, tick_start_time = cur_nimg, time.time()
        maintenance_time = tick_start_time - tick_end_time

    if writer is not None:
        writer.close()
    say("\nExiting...")
    return {"cur_nimg": cur_nimg, "cur_tick": cur_tick, "batch_idx": batch_idx, "G": G, "G_ema": G_ema, "D": D}
