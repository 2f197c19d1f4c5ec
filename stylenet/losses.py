"""Perceptual losses of Johnson et al. 2016 (Sec. 3.2-3.3): feature reconstruction (content),
style reconstruction (Gram matrices) and total variation.

Plain PyTorch: nothing here imports Lightning.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .vgg import VGGFeatures


def gram_matrix(features: torch.Tensor, chunk: int | None = None) -> torch.Tensor:
    """Gram matrix of ``(N, C, H, W)`` features, normalised by C*H*W (Johnson et al., Eq. 3).

    Returns ``(N, C, C)`` in float32, also under autocast (which would run the product in bf16/fp16:
    sums over H*W products lose too many digits there).

    ``chunk``: sum over H*W in pieces of ``chunk`` positions (where it divides H*W), one matrix product
    each, then add the pieces: the same sum in another order. A C x C product over a long H*W can leave a
    GPU few output tiles to work on (at relu1_2, 64 x 64 over 65,536 positions at 256 px: one tile per
    image unless the library splits the sum itself; the Gram products took 14% of an eager bf16 training
    step on an H200, docs/BENCHMARKS.md); pieces give it N x H*W/chunk products. Not measured on a GPU yet
    (``gpu_run --focus speed``); default: one piece.
    """
    n, c, h, w = features.shape
    pieces = h * w // chunk if chunk and h * w > chunk and (h * w) % chunk == 0 else 1
    if pieces == 1:
        f = features.float().reshape(n, c, h * w)
    else:  # (N, C, S, HW/S) -> (N*S, C, HW/S): one copy, also the cast to fp32
        f = (features.reshape(n, c, pieces, chunk).transpose(1, 2)
             .to(torch.float32, memory_format=torch.contiguous_format).reshape(n * pieces, c, chunk))
    with torch.autocast(features.device.type, enabled=False):
        g = torch.bmm(f, f.transpose(1, 2))
    if pieces > 1:
        g = g.reshape(n, pieces, c, c).sum(1)
    return g / (c * h * w)


def content_loss(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Feature reconstruction loss: mean squared error of features (Eq. 2)."""
    return F.mse_loss(features.float(), target.float())


def style_loss(gram: torch.Tensor, target_gram: torch.Tensor) -> torch.Tensor:
    """Style reconstruction loss: mean squared error of Gram matrices (Eq. 4 squared, averaged
    over the C*C entries). ``target_gram`` ``(1, C, C)`` broadcasts over the batch."""
    return (gram - target_gram).pow(2).mean()


def tv_loss(image: torch.Tensor) -> torch.Tensor:
    """Total variation: mean squared difference of horizontally and vertically adjacent pixels of
    an ``(N, C, H, W)`` image (Johnson's TotalVariation regulariser, averaged instead of summed so
    the weight does not depend on image or batch size)."""
    image = image.float()
    dx = image[..., :, 1:] - image[..., :, :-1]
    dy = image[..., 1:, :] - image[..., :-1, :]
    return dx.pow(2).mean() + dy.pow(2).mean()


# The loss settings shared by conf/loss/*.yaml, exported model metadata and PerceptualLoss's arguments.
SETTINGS = ("content_layers", "style_layers", "content_weight", "style_weight", "tv_weight", "vgg_weights")


class PerceptualLoss(nn.Module):
    """Weighted content + style + TV loss against one style image.

    Args:
        content_layers / style_layers: ``{vgg_layer_name: per-layer weight}``.
        content_weight, style_weight, tv_weight: the lambdas of Johnson et al. Eq. 5-6.
        vgg_weights: ``"caffe"`` (bundled, default) or ``"torchvision"`` (only if cached).
        gradient_checkpointing: recompute VGG blocks in the backward pass (less memory).
        gram_chunk: the output's Gram matrices summed in pieces of this many positions (:func:`gram_matrix`).

    Call :meth:`set_style` once with the style image (or :meth:`set_styles` with several, for a
    multi-style network); the Gram matrices are kept as buffers (not saved in state dicts) and reused
    for every batch. ``forward(output, content, style_ids=None)`` takes two RGB batches ``(N, 3, H, W)``
    in [0, 1] (and, with several styles, each sample's style index ``(N,)``) and returns ``{"content",
    "style", "tv", "total"}``, the first three already multiplied by their weights.
    """

    def __init__(
        self,
        content_layers: Mapping[str, float],
        style_layers: Mapping[str, float],
        content_weight: float = 1.0,
        style_weight: float = 1.0,
        tv_weight: float = 0.0,
        vgg_weights: str = "caffe",
        gradient_checkpointing: bool = False,
        gram_chunk: int | None = None,
    ):
        super().__init__()
        self.gram_chunk = gram_chunk
        self.content_layers = {str(k): float(v) for k, v in content_layers.items()}
        self.style_layers = {str(k): float(v) for k, v in style_layers.items()}
        self.content_weight, self.style_weight, self.tv_weight = content_weight, style_weight, tv_weight
        self.vgg = VGGFeatures([*self.content_layers, *self.style_layers], weights=vgg_weights,
                               gradient_checkpointing=gradient_checkpointing)
        self._style_names: list[str] = []

    @classmethod
    def from_settings(cls, settings: Mapping, **overrides) -> "PerceptualLoss":
        """Build from a mapping with the keys of conf/loss/*.yaml, which an exported model's metadata
        also holds (:data:`SETTINGS`); ``overrides`` win, absent keys take this class's defaults."""
        chosen = {k: settings[k] for k in SETTINGS if settings.get(k) is not None}
        chosen.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**{k: dict(v) if k.endswith("_layers") else v for k, v in chosen.items()})

    @torch.no_grad()
    def set_style(self, style_image: torch.Tensor) -> None:
        """Compute the target Gram matrices from a ``(1, 3, H, W)`` RGB image in [0, 1]."""
        self.set_styles([style_image])

    @torch.no_grad()
    def set_styles(self, style_images: Sequence[torch.Tensor], weights: Sequence[float] | None = None) -> None:
        """Targets for several styles: one ``(1, 3, H, W)`` image each (any sizes), computed once and
        stacked ``(S, C, C)`` per layer; ``weights`` multiply each style's loss (its config's
        ``style.weight``; default 1)."""
        if not style_images:
            raise ValueError("set_styles needs at least one style image")
        grams: dict[str, list[torch.Tensor]] = {name: [] for name in self.style_layers}
        for image in style_images:
            if image.ndim != 4 or image.shape[:2] != (1, 3):
                raise ValueError(f"style image must be (1, 3, H, W), got {tuple(image.shape)}")
            feats = self.vgg(image.float(), self.style_layers)
            for name in self.style_layers:
                grams[name].append(gram_matrix(feats[name]))
        for name in self.style_layers:
            self.register_buffer(f"gram_{name}", torch.cat(grams[name]), persistent=False)
        weights = torch.ones(len(style_images)) if weights is None else torch.tensor([float(w) for w in weights])
        if weights.shape != (len(style_images),):
            raise ValueError(f"{len(style_images)} style images but {len(weights)} weights")
        self.register_buffer("style_multipliers", weights.to(self.vgg.mean.device), persistent=False)
        self._style_names = list(self.style_layers)

    @property
    def num_styles(self) -> int:
        return len(self.style_multipliers) if self._style_names else 0

    def style_targets(self) -> dict[str, torch.Tensor]:
        """``{layer: (S, C, C)}`` Gram targets, one row per style."""
        if not self._style_names:
            raise RuntimeError("PerceptualLoss.set_style() must be called before computing the loss")
        return {name: getattr(self, f"gram_{name}") for name in self._style_names}

    @torch.no_grad()
    def content_targets(self, content: torch.Tensor) -> dict[str, torch.Tensor]:
        """Features of the photo at the content layers: a fixed target, so no graph, and the VGG
        runs only as deep as the deepest content layer."""
        return self.vgg(content, self.content_layers)

    def forward(self, output: torch.Tensor, content: torch.Tensor | None = None, *,
                content_features: dict[str, torch.Tensor] | None = None,
                style_ids: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """``content``: the photo batch, or its precomputed :meth:`content_targets` (``content_features``,
        for callers that score many outputs of one photo, such as the Gatys optimisation).
        ``style_ids``: ``(N,)`` style index of every sample (default: style 0 for all)."""
        terms, _ = self.per_sample(output, content, content_features=content_features, style_ids=style_ids)
        return terms

    def per_sample(self, output: torch.Tensor, content: torch.Tensor | None = None, *,
                   content_features: dict[str, torch.Tensor] | None = None,
                   style_ids: torch.Tensor | None = None, teacher_output: torch.Tensor | None = None,
                   teacher_weight: float = 1.0) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """As :meth:`forward`, plus the weighted style loss of every sample ``(N,)`` (per-style logging).

        ``teacher_output`` ``(N, 3, H, W)``, a trained network's stylisation of the same photos
        (distillation): adds a ``distill`` term, ``teacher_weight`` x the content loss between the output's
        and the teacher output's features at the content layers (the same units as ``content``)."""
        targets = self.style_targets()
        if content_features is None:
            content_features = self.content_targets(content)
        out_feats = self.vgg(output, {**self.content_layers, **self.style_layers})
        c_loss = sum(w * content_loss(out_feats[n], content_features[n]) for n, w in self.content_layers.items())
        if style_ids is None:
            style_ids = torch.zeros(output.shape[0], dtype=torch.long, device=output.device)
        # Every sample against its own style's targets: mean over the C x C entries of each Gram (Eq. 4).
        per_sample = sum(w * (gram_matrix(out_feats[n], self.gram_chunk) - targets[n][style_ids]).pow(2).mean(dim=(1, 2))
                         for n, w in self.style_layers.items())
        per_sample = self.style_weight * self.style_multipliers[style_ids] * per_sample
        t_loss = tv_loss(output) if self.tv_weight else output.new_zeros(())
        terms = {
            "content": self.content_weight * c_loss,
            "style": per_sample.mean(),
            "tv": self.tv_weight * t_loss,
        }
        if teacher_output is not None:
            with torch.no_grad():
                teacher_feats = self.vgg(teacher_output, self.content_layers)
            terms["distill"] = teacher_weight * sum(w * content_loss(out_feats[n], teacher_feats[n])
                                                    for n, w in self.content_layers.items())
        terms["total"] = sum(terms.values())
        return terms, per_sample.detach()
