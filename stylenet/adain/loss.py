"""The AdaIN training loss (Huang & Belongie 2017, Sec. 3.4 / 6.1): content = MSE between the relu4_1
features of the output and the AdaIN target ``t``; style = MSE between the output's and the painting's
per-channel means and stds at relu1_1, relu2_1, relu3_1 and relu4_1. Plain PyTorch.

The paper's encoder is Gatys et al.'s *normalised* VGG-19 (every filter's mean activation over ImageNet
scaled to 1), where the four layers weigh alike. The bundled Caffe weights are not normalised: their
mean activations grow with depth (measured on 8 photos at 256 px: relu1_1 20.9, relu2_1 108, relu3_1
113, relu4_1 437), so the squared terms differ by up to 440x. The default per-layer weights
(conf/loss/adain.yaml) are ``(437 / mean activation)^2``, i.e. the paper's equal weights in normalised
units relative to relu4_1, where the content term lives; ``style_weight`` 10 is the paper's lambda.
"""
from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from ..models.adain import ENCODER_LAYER, STYLE_LAYERS, AdaIN, make_target, mean_std
from ..vgg import VGGFeatures


class AdaINLoss(nn.Module):
    """``forward(output, target, style_stats)``: ``output`` the decoder's ``(N, 3, H, W)``; ``target``
    the AdaIN features ``(N, 512, H/8, W/8)``; ``style_stats`` ``{layer: (mean, std)}`` of the paintings,
    each ``(N, C)`` (:meth:`style_stats`). Returns ``{"content", "style", "total"}`` (weighted, fp32 scalars)
    and every sample's weighted style loss ``(N,)``."""

    def __init__(self, encoder: VGGFeatures, style_layers: Mapping[str, float], content_weight: float = 1.0,
                 style_weight: float = 10.0):
        super().__init__()
        object.__setattr__(self, "encoder", encoder)  # shared with the network, not a second copy
        self.style_layers = dict(style_layers)
        self.content_weight, self.style_weight = content_weight, style_weight
        self.layers = sorted({*self.style_layers, ENCODER_LAYER}, key=lambda n: int(n[4]) * 10 + int(n[6]))

    @torch.no_grad()
    def style_stats(self, paintings: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """``{layer: (mean, std)}`` of the paintings at the style layers and at relu4_1 (the AdaIN target's
        statistics), from one encoder pass."""
        feats = self.encoder(paintings, self.layers)
        return {name: mean_std(f) for name, f in feats.items()}

    def forward(self, output: torch.Tensor, target: torch.Tensor,
                style_stats: Mapping[str, tuple[torch.Tensor, torch.Tensor]]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        feats = self.encoder(output, self.layers)
        content = F.mse_loss(feats[ENCODER_LAYER].float(), target.float()) * self.content_weight
        per_sample = torch.zeros(output.shape[0], device=output.device)
        for name, weight in self.style_layers.items():
            mean, std = mean_std(feats[name])
            mean_s, std_s = style_stats[name]
            per_sample = per_sample + weight * ((mean - mean_s).pow(2).mean(1) + (std - std_s).pow(2).mean(1))
        per_sample = per_sample * self.style_weight
        style = per_sample.mean()
        return {"content": content, "style": style, "total": content + style}, per_sample.detach()


class AdaINObjective(nn.Module):
    """The AdaIN training objective as a scorer with :class:`stylenet.losses.PerceptualLoss`'s interface
    (``set_style``, ``content_targets``, ``forward(output, content | content_features=)`` returning
    ``{"content", "style", "tv", "total"}``), so that ``scripts/evaluate.py`` scores an AdaIN decoder with
    the loss it was trained on and :mod:`stylenet.quality.gatys` optimises the same loss per photo: the paper's
    evaluation (Huang & Belongie 2017, Sec. 7.1: content and style loss of Eq. 11-12 for AdaIN and for
    Gatys et al. optimising them). The content target of a photo is AdaIN(photo's relu4_1, painting's
    relu4_1 statistics), alpha 1. ``settings``: ``style_layers``, ``content_weight``, ``style_weight``,
    ``vgg_weights`` (an AdaIN model's metadata, or conf/loss/adain.yaml)."""

    def __init__(self, settings: Mapping):
        super().__init__()
        self.encoder = VGGFeatures(STYLE_LAYERS, settings.get("vgg_weights", "caffe"))
        self.terms = AdaINLoss(self.encoder, settings["style_layers"], float(settings.get("content_weight", 1.0)),
                               float(settings.get("style_weight", 10.0)))
        self.adain = AdaIN()
        self.stats: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def set_style(self, style_image: torch.Tensor) -> None:
        """``style_image``: ``(1, 3, H, W)`` in [0, 1], any size."""
        self.stats = self.terms.style_stats(style_image.float())

    @torch.no_grad()
    def content_targets(self, content: torch.Tensor) -> dict[str, torch.Tensor]:
        if not self.stats:
            raise RuntimeError("set_style() first")
        features = self.encoder(content.float(), [ENCODER_LAYER])[ENCODER_LAYER]
        mean, std = self.stats[ENCODER_LAYER]
        return {ENCODER_LAYER: self.adain(features, make_target(mean.expand(len(content), -1), std.expand(len(content), -1)))}

    def forward(self, output: torch.Tensor, content: torch.Tensor | None = None, *,
                content_features: Mapping[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        if content_features is None:
            if content is None:
                raise ValueError("give the content photo or its content_features")
            content_features = self.content_targets(content)
        n = output.shape[0]
        stats = {k: (m.expand(n, -1), s.expand(n, -1)) for k, (m, s) in self.stats.items()}
        terms, _ = self.terms(output, content_features[ENCODER_LAYER], stats)
        return {"content": terms["content"], "style": terms["style"], "tv": torch.zeros_like(terms["total"]),
                "total": terms["total"]}
