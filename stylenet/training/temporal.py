"""Temporal-consistency regularisers for training on still photos (Wang et al. 2020, "Consistent Video
Style Transfer via Compound Regularization", AAAI; their code: daooshee/ReReVST-Code).

- ``temporal``: stylising a moved photo should give the moved stylisation: ``|F(W(x) + n) - W(F(x))|``,
  L1 over the pixels the warp did not invent (W: a random smooth flow, n: a little noise; see
  :class:`stylenet.video.motion.SyntheticMotion`). This is what stops a feed-forward network from
  amplifying the small changes between video frames into flicker.
- ``noise``: stylising a photo with codec-like noise should give the same stylisation:
  ``|F(x + n) - F(x)|`` (n: Gaussian, ``noise_std``, as much as an H.264 round trip moves pixels).

Both are mean absolute differences of outputs in [0, 1], times their weights (``loss.temporal_weight``,
``loss.noise_weight``); the network runs once more per term. Plain PyTorch.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..video.motion import SyntheticMotion, inside, warp

# Codec noise for the noise term: an H.264 round trip (crf 18, scripts/stylize_video.py's default) of the
# first 48 frames of ../shared/data/video/bbb_vfi_test_480p.mp4 changed pixels by 2.2 levels on average,
# the differences' standard deviation 2.9 levels (measured 2026-11-27): noise of std 3/255.
CODEC_NOISE_STD = 3.0 / 255


def temporal_terms(net: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, y: torch.Tensor, *,
                   temporal_weight: float = 0.0, noise_weight: float = 0.0, motion: SyntheticMotion | None = None,
                   noise_std: float = CODEC_NOISE_STD, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """The weighted terms (only those with a non-zero weight) for photos ``x`` ``(N, 3, H, W)`` in [0, 1]
    and their stylisation ``y = net(x)``; ``net`` maps a batch to its stylisation (style already bound)."""
    terms: dict[str, torch.Tensor] = {}
    if temporal_weight:
        moved, flow = (motion or SyntheticMotion())(x, generator)
        mask = inside(flow).to(y.dtype)
        # Nearest-neighbour warps (as ReReVST): moving pixels without resampling them, so a network that
        # commutes with moves (e.g. any per-pixel colour map) pays exactly 0.
        diff = (net(moved) - warp(y, flow.to(y.dtype), mode="nearest")).abs() * mask
        terms["temporal"] = temporal_weight * diff.sum() / (mask.sum() * y.shape[1]).clamp(min=1)
    if noise_weight:
        noise = torch.randn(x.shape, generator=generator).to(x.device, x.dtype) * noise_std
        terms["noise"] = noise_weight * (net((x + noise).clamp(0, 1)) - y).abs().mean()
    return terms
