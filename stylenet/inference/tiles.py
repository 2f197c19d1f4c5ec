"""Where the tiles of a large image lie and how their overlaps are blended (:meth:`Stylizer._tiled`)."""
from __future__ import annotations

from collections.abc import Callable

import torch

from ..models import DOWNSAMPLE_FACTOR


def tile_spans(size: int, tile: int, overlap: int, factor: int = DOWNSAMPLE_FACTOR) -> list[tuple[int, int]]:
    """``(start, end)`` of the tiles along one side. Starts are multiples of ``factor`` (the network's
    downsampling factor: 4, AdaIN's 8), so every tile sees the same sampling grid as the whole image
    would; the last tile runs to the end (up to ``factor - 1`` px longer than ``tile``)."""
    if size <= tile:
        return [(0, size)]
    step = max(factor, (tile - overlap) // factor * factor)
    last = (size - tile) // factor * factor
    starts = list(range(0, last, step)) + [last]
    return [(s, min(s + tile, size)) if s != last else (s, size) for s in starts]


def ramp(n: int, overlap: int) -> torch.Tensor:
    """Blend weights along one tile side: ~0 over the outer quarter of the overlap (where the
    tile's own border padding shows), rising linearly to 1 at three quarters; never exactly zero."""
    d = torch.minimum(torch.arange(n), torch.arange(n).flip(0)).float()  # distance to the nearest end
    if overlap < 2:
        return torch.ones(n)
    return ((d + 1 - overlap / 4) / (overlap / 2)).clamp(1e-3, 1.0)


def blend_tiles(run: Callable[[int, int, int, int], torch.Tensor], shape: torch.Size, tile: int, overlap: int,
                factor: int = DOWNSAMPLE_FACTOR) -> torch.Tensor:
    """The ``(N, 3, H, W)`` image (``shape`` the input's) made of ``run(top, bottom, left, right)``, each tile's
    output ``(N, 3, bottom - top, right - left)``, blended across the overlaps (:func:`ramp`)."""
    n, _, h, w = shape
    out, weight = torch.zeros(n, 3, h, w), torch.zeros(1, 1, h, w)
    for top, bottom in tile_spans(h, tile, overlap, factor):
        for left, right in tile_spans(w, tile, overlap, factor):
            mask = ramp(bottom - top, overlap)[:, None] * ramp(right - left, overlap)[None, :]
            out[..., top:bottom, left:right] += run(top, bottom, left, right) * mask
            weight[..., top:bottom, left:right] += mask
    return out / weight
