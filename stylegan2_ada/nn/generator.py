"""Generator = mapping network + synthesis network, built from a GeneratorConfig."""

from __future__ import annotations

import torch
from torch import nn

from ..config import GeneratorConfig
from .mapping import MappingNetwork
from .synthesis import SynthesisNetwork


class Generator(nn.Module):
    def __init__(self, cfg: GeneratorConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.z_dim = cfg.z_dim
        self.c_dim = cfg.c_dim
        self.w_dim = cfg.w_dim
        self.img_resolution = cfg.img_resolution
        self.img_channels = cfg.img_channels
        self.synthesis = SynthesisNetwork(
            w_dim=cfg.w_dim,
            img_resolution=cfg.img_resolution,
            img_channels=cfg.img_channels,
            channel_base=cfg.channel_base,
            channel_max=cfg.channel_max,
            num_fp16_res=cfg.num_fp16_res,
            architecture=cfg.architecture,
            resample_filter=cfg.resample_filter,
            conv_clamp=cfg.conv_clamp,
            fp16_channels_last=cfg.fp16_channels_last,
            use_noise=cfg.use_noise,
        )
        self.num_ws = self.synthesis.num_ws
        assert self.num_ws == cfg.num_ws
        self.mapping = MappingNetwork(cfg.z_dim, cfg.c_dim, cfg.w_dim, num_ws=self.num_ws, cfg=cfg.mapping)

    def forward(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
        noise_mode: str = "random",
        half_dtype: torch.dtype | None | str = "auto",
        fused_modconv: bool | None = None,
    ) -> torch.Tensor:
        """Images [N, C, H, W] in [-1, 1] (float32) from latents z [N, z_dim] and labels c [N, c_dim]."""
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)
        return self.synthesis(ws, noise_mode=noise_mode, half_dtype=half_dtype, fused_modconv=fused_modconv)
