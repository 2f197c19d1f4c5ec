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


def write_clips(photos, motions, out, frames: int = 24, width: int = 256, height: int = 192, fps: float = 24.0) -> list:
    """Each photo x motion as ``<out>/<photo>_<motion>.mp4`` (H.264, crf 18) and its exact flows as
    ``<photo>_<motion>.flow.npy`` (``(T, 2, H, W)`` float32, the :mod:`.motion` convention)."""
    from fractions import Fraction
    from pathlib import Path

    import numpy as np

    from ..atomic import atomic_path
    from .io import VideoInfo, VideoWriter

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path, photo in photos:
        for kind in motions:
            views, flows = synthetic_clip(photo, kind, frames, width, height)
            target = out / f"{Path(path).stem}_{kind}.mp4"
            info = VideoInfo(width, height, Fraction(fps).limit_denominator(1001), frames, 0, 2, 2, False, "synthetic")
            with atomic_path(target) as tmp:
                writer = VideoWriter(tmp, ".mp4", info, width, height)
                try:
                    for view in views:
                        writer.write(view.mul(255).round().clamp(0, 255).byte().permute(1, 2, 0).numpy(), None, None)
                finally:
                    writer.close()
            with atomic_path(out / f"{Path(path).stem}_{kind}.flow.npy") as tmp:
                with open(tmp, "wb") as f:
                    np.save(f, flows.numpy())
            written.append(target)
    return written


def main(argv=None) -> int:
    import argparse
    import sys

    from ..quality.scoring import EvaluationError, load_photos

    p = argparse.ArgumentParser(prog="make_motion_clips", description="Clips with known motion from still photos "
                                "(pan, zoom, rotate, a moving crop), with their exact flows.")
    p.add_argument("--photos", nargs="+", default=["data/sample"])
    p.add_argument("--count", type=int, default=4)
    p.add_argument("--motions", nargs="+", default=list(MOTIONS), choices=MOTIONS)
    p.add_argument("--frames", type=int, default=24)
    p.add_argument("--size", type=int, default=256, help="width (height: 3/4 of it, even)")
    p.add_argument("--out", default="outputs/motion_clips")
    args = p.parse_args(argv)
    if args.frames < 2 or args.size < 16 or args.count < 1:
        p.error("--frames must be >= 2, --size >= 16 and --count >= 1")
    try:
        photos = load_photos(args.photos, args.count, args.size * 2)
    except EvaluationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    height = (args.size * 3 // 4) // 2 * 2
    written = write_clips(photos, args.motions, args.out, args.frames, args.size // 2 * 2, height)
    print(f"wrote {len(written)} clips and their flows to {args.out}")
    return 0
