"""Clips made from still photos with known motion: pans, zooms, rotations and a moving crop, each frame
a view of the photo through an affine map, so the flow between consecutive frames is known exactly
(the flicker metric's ground truth; :mod:`stylenet.video.metric`). Plain PyTorch.

Frame ``t`` at pixel ``p`` (x, y) shows the photo at ``A_t p`` (``A_t``: 2x3, frame pixels -> photo
pixels), so frame ``t`` is frame ``t-1`` moved by ``flow_t(p) = p - A_{t-1}^{-1} A_t p`` (the
:func:`~stylenet.video.motion.warp` convention).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

MOTIONS = ("pan", "zoom", "rotate", "crop")


def _affine(kind: str, t: float, width: int, height: int, photo_w: int, photo_h: int) -> torch.Tensor:
    """``A`` (3x3, homogeneous) for motion ``kind`` at progress ``t`` in [0, 1]: a ``width`` x ``height``
    view inside a ``photo_w`` x ``photo_h`` photo (the view fits at every ``t``)."""
    cx, cy = photo_w / 2, photo_h / 2
    fit = min(photo_w / width, photo_h / height)  # photo px per frame px at scale 1, view filling the photo
    scale, angle, ox, oy = 0.75 * fit, 0.0, 0.0, 0.0
    if kind == "pan":  # left to right across the spare width
        ox = (t - 0.5) * (photo_w - scale * width) * 0.9
    elif kind == "zoom":  # in by 25%
        scale *= 1.0 - 0.25 * t
    elif kind == "rotate":  # 8 degrees about the centre
        angle = math.radians(8.0 * t)
        scale *= 0.8  # room for the corners
    elif kind == "crop":  # a window moving diagonally while it shrinks by 15%
        scale *= 1.0 - 0.15 * t
        ox, oy = (t - 0.5) * 0.2 * photo_w * 0.5, (t - 0.5) * 0.2 * photo_h * 0.5
    else:
        raise ValueError(f"motion must be one of {', '.join(MOTIONS)}, got {kind!r}")
    c, s = math.cos(angle) * scale, math.sin(angle) * scale
    # p (frame px) -> centred -> rotate/scale -> photo centre + offset
    return torch.tensor([[c, -s, cx + ox - c * (width - 1) / 2 + s * (height - 1) / 2],
                         [s, c, cy + oy - s * (width - 1) / 2 - c * (height - 1) / 2],
                         [0.0, 0.0, 1.0]], dtype=torch.float64)


def _grid(a: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """Pixel grid ``(H, W, 2)`` mapped by ``a`` (3x3)."""
    ys, xs = torch.meshgrid(torch.arange(height, dtype=torch.float64), torch.arange(width, dtype=torch.float64),
                            indexing="ij")
    points = torch.stack((xs, ys, torch.ones_like(xs)), dim=-1) @ a.T
    return points[..., :2]


def synthetic_clip(photo: torch.Tensor, kind: str, frames: int = 12, width: int = 256, height: int = 192
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """``photo`` ``(3, H, W)`` in [0, 1] -> (frames ``(T, 3, height, width)`` in [0, 1], flows ``(T, 2,
    height, width)``; ``flows[t]`` moves frame ``t-1`` onto frame ``t``, ``flows[0]`` is zero)."""
    _, ph, pw = photo.shape
    maps = [_affine(kind, i / max(frames - 1, 1), width, height, pw, ph) for i in range(frames)]
    views, flows = [], [torch.zeros(2, height, width)]
    for i, a in enumerate(maps):
        src = _grid(a, width, height)
        norm = torch.stack((2 * src[..., 0] / (pw - 1) - 1, 2 * src[..., 1] / (ph - 1) - 1), dim=-1)
        views.append(F.grid_sample(photo[None].double(), norm[None], mode="bicubic", padding_mode="border",
                                   align_corners=True)[0].clamp(0, 1).float())
        if i:
            back = _grid(torch.linalg.inv(maps[i - 1]) @ a, width, height)  # frame t pixel -> frame t-1 pixel
            base = _grid(torch.eye(3, dtype=torch.float64), width, height)
            flows.append((base - back).permute(2, 0, 1).float())
    return torch.stack(views), torch.stack(flows)
