"""NVIDIA's training step, built from a stylegan2-ada-pytorch checkout at run time, for paired timing.

Nothing of NVIDIA's lives in this repository: `NvidiaTrainer` imports their networks, augment pipe and loss
from the checkout given on the command line and drives them the way their `training_loop.py` does per
step (the same phases and lazy-regularisation intervals, Adam with the mb_ratio correction, gradients
nan_to_num'd, the G_ema update, the ADA adjustment every 4 steps). Their loop itself is not called:
it hard-codes CUDA, writes snapshots and reports, and builds its data loader with a Sampler signature
that torch 2.13 rejects; the step is what is timed.

Configuration comes from one of our TrainOptions, so both codes train the same networks on the same
batches. Where our precision resolves to fp32 (CPU), NVIDIA's networks get num_fp16_res=0 with
conv_clamp kept: their code casts to fp16 whenever a block is marked fp16, on any device, while ours
computes those blocks in fp32 on a CPU; with num_fp16_res=0 the two compute the same functions.
"""

from __future__ import annotations

import copy
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

# Augment pipes as NVIDIA's train.py names them (their spec table, as published in its README).
_PIPES = {
    "blit": dict(xflip=1, rotate90=1, xint=1),
    "geom": dict(scale=1, rotate=1, aniso=1, xfrac=1),
    "color": dict(brightness=1, contrast=1, lumaflip=1, hue=1, saturation=1),
    "filter": dict(imgfilter=1),
    "noise": dict(noise=1),
    "cutout": dict(cutout=1),
}
_PIPES["bg"] = {**_PIPES["blit"], **_PIPES["geom"]}
_PIPES["bgc"] = {**_PIPES["bg"], **_PIPES["color"]}
_PIPES["bgcf"] = {**_PIPES["bgc"], **_PIPES["filter"]}
_PIPES["bgcfn"] = {**_PIPES["bgcf"], **_PIPES["noise"]}
_PIPES["bgcfnc"] = {**_PIPES["bgcfn"], **_PIPES["cutout"]}


def import_checkout(checkout: Path) -> dict[str, Any]:
    """NVIDIA's modules from `checkout` (a stylegan2-ada-pytorch clone), by name."""
    if not (checkout / "training" / "networks.py").is_file():
        raise SystemExit(
            f"--compare-nvidia={checkout}: no training/networks.py there (a stylegan2-ada-pytorch checkout?)"
        )
    sys.path.insert(0, str(checkout))
    # On torch >= 1.10 their grid_sample wrapper warns on every call and uses torch's own op.
    warnings.filterwarnings("ignore", message="grid_sample_gradfix not supported")
    from torch_utils import misc, training_stats  # type: ignore[import-not-found]
    from torch_utils.ops import bias_act, conv2d_gradfix, grid_sample_gradfix, upfirdn2d  # type: ignore[import-not-found]
    from training import augment, loss, networks  # type: ignore[import-not-found]

    return dict(
        misc=misc,
        training_stats=training_stats,
        bias_act=bias_act,
        upfirdn2d=upfirdn2d,
        conv2d_gradfix=conv2d_gradfix,
        grid_sample_gradfix=grid_sample_gradfix,
        augment=augment,
        loss=loss,
        networks=networks,
    )


def network_kwargs(opts: Any, half_precision: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """NVIDIA's G and D constructor arguments for our options (as their train.py builds them)."""
    g, d = opts.G, opts.D
    fp16_res = g.num_fp16_res if half_precision else 0
    common = dict(c_dim=g.c_dim, img_resolution=g.img_resolution, img_channels=g.img_channels)
    G_kwargs = dict(
        z_dim=g.z_dim,
        w_dim=g.w_dim,
        mapping_kwargs=dict(num_layers=g.mapping.num_layers),
        synthesis_kwargs=dict(
            channel_base=g.channel_base,
            channel_max=g.channel_max,
            num_fp16_res=fp16_res,
            conv_clamp=g.conv_clamp,
        ),
        **common,
    )
    D_kwargs = dict(
        channel_base=d.channel_base,
        channel_max=d.channel_max,
        num_fp16_res=fp16_res,
        conv_clamp=d.conv_clamp,
        block_kwargs=dict(freeze_layers=d.freeze_layers),
        mapping_kwargs={},
        epilogue_kwargs=dict(mbstd_group_size=d.mbstd_group_size),
        **common,
    )
    return G_kwargs, D_kwargs


class NvidiaTrainer:
    """One of NVIDIA's training runs, stepped like their training_loop (one process, one round per phase
    unless batch_gpu < batch)."""

    def __init__(
        self,
        checkout: Path,
        opts: Any,
        dataset: torch.utils.data.Dataset,
        device: torch.device,
        half_precision: bool,
        seed: int = 0,
    ) -> None:
        nv = import_checkout(checkout)
        self.nv = nv
        self.opts = opts
        self.device = device
        torch.manual_seed(seed)
        np.random.seed(seed)
        # Their loop's global switches.
        torch.backends.cudnn.benchmark = True
        nv["conv2d_gradfix"].enabled = True
        nv["grid_sample_gradfix"].enabled = True
        G_kwargs, D_kwargs = network_kwargs(opts, half_precision)
        self.G = nv["networks"].Generator(**G_kwargs).train().requires_grad_(False).to(device)
        self.D = nv["networks"].Discriminator(**D_kwargs).train().requires_grad_(False).to(device)
        self.G_ema = copy.deepcopy(self.G).eval()
        self.augment_pipe = None
        self.ada_stats = None
        if opts.aug != "noaug":
            pipe = nv["augment"].AugmentPipe(**_PIPES[opts.augpipe]).train().requires_grad_(False).to(device)
            pipe.p.copy_(torch.as_tensor(opts.p))
            self.augment_pipe = pipe
            if opts.target is not None:
                self.ada_stats = nv["training_stats"].Collector(regex="Loss/signs/real")
        self.loss = nv["loss"].StyleGAN2Loss(
            device=device,
            G_mapping=self.G.mapping,
            G_synthesis=self.G.synthesis,
            D=self.D,
            augment_pipe=self.augment_pipe,
            style_mixing_prob=opts.style_mixing_prob,
            r1_gamma=opts.gamma,
            pl_weight=opts.pl_weight,
        )
        self.phases = []
        for name, module, lr, interval in (
            ("G", self.G, opts.glr, opts.g_reg_interval),
            ("D", self.D, opts.dlr, opts.d_reg_interval),
        ):
            ratio = interval / (interval + 1)
            opt = torch.optim.Adam(module.parameters(), lr=lr * ratio, betas=(0.0, 0.99**ratio), eps=1e-8)
            self.phases.append(dict(name=name + "main", module=module, opt=opt, interval=1))
            self.phases.append(dict(name=name + "reg", module=module, opt=opt, interval=interval))
        sampler = torch.utils.data.RandomSampler(dataset, replacement=True, num_samples=1 << 30)
        loader = torch.utils.data.DataLoader(dataset, sampler=sampler, batch_size=opts.batch)
        self.batches: Iterator[tuple[torch.Tensor, torch.Tensor]] = iter(loader)
        self.dataset = dataset
        self.batch_idx = 0
        self.cur_nimg = 0

    def custom_ops_loaded(self) -> str:
        """Whether NVIDIA's CUDA kernels (bias_act, upfirdn2d) are in use: after the first step."""
        if self.device.type != "cuda":
            return "n/a (CPU: their reference ops)"
        ok = self.nv["bias_act"]._plugin is not None and self.nv["upfirdn2d"]._plugin is not None
        return "loaded" if ok else "NOT loaded (their slow reference fallback)"

    def step(self) -> None:
        opts, dev, batch, bgpu = self.opts, self.device, self.opts.batch, self.opts.batch_gpu
        misc = self.nv["misc"]
        real_img, real_c = next(self.batches)
        real_img = (real_img.to(dev).to(torch.float32) / 127.5 - 1).split(bgpu)
        real_c = real_c.to(dev).split(bgpu)
        all_z = torch.randn([len(self.phases) * batch, self.G.z_dim], device=dev)
        all_z = [z.split(bgpu) for z in all_z.split(batch)]
        labels = [self.dataset.get_label(np.random.randint(len(self.dataset))) for _ in range(len(self.phases) * batch)]
        all_c = (
            torch.from_numpy(np.stack(labels)).pin_memory()
            if dev.type == "cuda"
            else torch.from_numpy(np.stack(labels))
        )
        all_c = [c.split(bgpu) for c in all_c.to(dev).split(batch)]
        for phase, zs, cs in zip(self.phases, all_z, all_c):
            if self.batch_idx % phase["interval"] != 0:
                continue
            phase["opt"].zero_grad(set_to_none=True)
            phase["module"].requires_grad_(True)
            for img, c, z, gc in zip(real_img, real_c, zs, cs):
                self.loss.accumulate_gradients(
                    phase=phase["name"], real_img=img, real_c=c, gen_z=z, gen_c=gc, sync=True, gain=phase["interval"]
                )
            phase["module"].requires_grad_(False)
            for param in phase["module"].parameters():
                if param.grad is not None:
                    misc.nan_to_num(param.grad, nan=0, posinf=1e5, neginf=-1e5, out=param.grad)
            phase["opt"].step()
        ema_nimg = opts.ema_kimg * 1000
        if opts.ema_rampup is not None:
            ema_nimg = min(ema_nimg, self.cur_nimg * opts.ema_rampup)
        beta = 0.5 ** (batch / max(ema_nimg, 1e-8))
        with torch.no_grad():
            for p_ema, p in zip(self.G_ema.parameters(), self.G.parameters()):
                p_ema.copy_(p.lerp(p_ema, beta))
            for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers()):
                b_ema.copy_(b)
        self.cur_nimg += batch
        self.batch_idx += 1
        if self.ada_stats is not None and self.batch_idx % opts.ada_interval == 0:
            self.ada_stats.update()
            adjust = (
                np.sign(self.ada_stats["Loss/signs/real"] - opts.target)
                * (batch * opts.ada_interval)
                / (opts.ada_kimg * 1000)
            )
            self.augment_pipe.p.copy_((self.augment_pipe.p + adjust).max(misc.constant(0, device=dev)))
