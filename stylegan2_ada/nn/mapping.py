"""Mapping network: z (and an optional label) to the intermediate latent w, with truncation."""

from __future__ import annotations

import torch
from torch import nn

from ..config import MappingConfig
from .layers import FullyConnectedLayer, normalize_2nd_moment


class MappingNetwork(nn.Module):
    def __init__(
        self,
        z_dim: int,
        c_dim: int,
        w_dim: int,
        num_ws: int | None,
        cfg: MappingConfig = MappingConfig(),
    ) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.c_dim = c_dim
        self.w_dim = w_dim
        self.num_ws = num_ws
        self.num_layers = cfg.num_layers
        self.w_avg_beta = cfg.w_avg_beta

        embed_features = w_dim if cfg.embed_features is None else cfg.embed_features
        layer_features = w_dim if cfg.layer_features is None else cfg.layer_features
        if c_dim == 0:
            embed_features = 0
        features = [z_dim + embed_features] + [layer_features] * (cfg.num_layers - 1) + [w_dim]

        if c_dim > 0:
            self.embed = FullyConnectedLayer(c_dim, embed_features)
        for idx in range(cfg.num_layers):
            layer = FullyConnectedLayer(
                features[idx],
                features[idx + 1],
                activation=cfg.activation,
                lr_multiplier=cfg.lr_multiplier,
            )
            setattr(self, f"fc{idx}", layer)
        if num_ws is not None and cfg.w_avg_beta is not None:
            self.register_buffer("w_avg", torch.zeros([w_dim]))

    def forward(
        self,
        z: torch.Tensor | None,
        c: torch.Tensor | None,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
        update_w_avg: bool | None = None,
    ) -> torch.Tensor:
        """Returns ws [N, num_ws, w_dim] (or w [N, w_dim] when num_ws is None).

        w_avg is tracked while training unless `update_w_avg` says otherwise."""
        x = None
        if self.z_dim > 0:
            assert z is not None and z.shape[1:] == (self.z_dim,), f"z must be [N, {self.z_dim}]"
            x = normalize_2nd_moment(z.to(torch.float32))
        if self.c_dim > 0:
            assert c is not None and c.shape[1:] == (self.c_dim,), (
                f"this network is conditional: c must be [N, {self.c_dim}] (one-hot class labels)"
            )
            y = normalize_2nd_moment(self.embed(c.to(torch.float32)))
            x = torch.cat([x, y], dim=1) if x is not None else y

        for idx in range(self.num_layers):
            x = getattr(self, f"fc{idx}")(x)

        if update_w_avg is None:
            update_w_avg = self.training
        if update_w_avg and self.w_avg_beta is not None and self.num_ws is not None:
            self.w_avg.copy_(x.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))

        if self.num_ws is not None:
            x = x.unsqueeze(1).repeat([1, self.num_ws, 1])

        if truncation_psi != 1:
            assert self.num_ws is not None and self.w_avg_beta is not None, "truncation needs w_avg"
            if truncation_cutoff is None:
                x = self.w_avg.lerp(x, truncation_psi)
            else:
                x = x.clone()
                x[:, :truncation_cutoff] = self.w_avg.lerp(x[:, :truncation_cutoff], truncation_psi)
        return x
