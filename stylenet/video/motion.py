"""Optical flow in pixels, warping by it, and random smooth motion for training on still photos
(Wang et al. 2020, "Consistent Video Style Transfer via Compound Regularization", AAAI: the second
"frame" is the photo warped by a random smooth flow plus a global shift, with a little noise).

Convention: ``flow`` is ``(N, 2, H, W)``, channel 0 the horizontal and 1 the vertical displacement in
pixels, defined on the grid of the frame being made: ``warp(x, flow)(p) = x(p - flow(p))``, so a
constant flow ``(dx, dy)`` moves the content right by ``dx`` and down by ``dy``. Plain PyTorch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

# ReReVST's defaults for 256-px training crops (train/train.py: data_motion_level 8, data_shift_level 10,
# data_noise_level 0.001 on ImageNet-normalised images): a per-pixel flow drawn with std 8 px on a grid
# every 100 px, blurred over 100 px, plus an integer global shift of up to 10 px; scaled here with the
# crop size. Their noise, 0.001-0.002 in normalised units, is 0.0002-0.0005 in [0, 1] units.
MOTION_STD, SHIFT, GRID, REFERENCE_SIZE = 8.0, 10.0, 100, 256
NOISE_STD = 0.00045  # upper end of ReReVST's noise (0.002 x ImageNet std 0.226), [0, 1] units


def _base_grid(n: int, h: int, w: int, device, dtype) -> torch.Tensor:
    ys, xs = torch.meshgrid(torch.arange(h, device=device, dtype=dtype), torch.arange(w, device=device, dtype=dtype),
                            indexing="ij")
    return torch.stack((xs, ys)).expand(n, 2, h, w)


def warp(x: torch.Tensor, flow: torch.Tensor, mode: str = "bilinear") -> torch.Tensor:
    """``x`` ``(N, C, H, W)`` moved by ``flow`` ``(N or 1, 2, H, W)`` (see the module's convention).
    Samples from outside the frame repeat its border; :func:`inside` says which pixels those are."""
    n, _, h, w = x.shape
    source = _base_grid(n, h, w, x.device, flow.dtype) - flow
    grid = torch.stack((2 * source[:, 0] / max(w - 1, 1) - 1, 2 * source[:, 1] / max(h - 1, 1) - 1), dim=-1)
    return F.grid_sample(x, grid.to(x.dtype), mode=mode, padding_mode="border", align_corners=True)


def inside(flow: torch.Tensor) -> torch.Tensor:
    """``(N, 1, H, W)`` float mask: 1 where ``p - flow(p)`` lies inside the frame (the warped pixel is
    real), 0 where the warp made it up from the border."""
    n, _, h, w = flow.shape
    source = _base_grid(n, h, w, flow.device, flow.dtype) - flow
    ok = (source[:, 0] >= 0) & (source[:, 0] <= w - 1) & (source[:, 1] >= 0) & (source[:, 1] <= h - 1)
    return ok.unsqueeze(1).to(flow.dtype)


def random_flow(n: int, h: int, w: int, motion_std: float = MOTION_STD, shift: float = SHIFT,
                generator: torch.Generator | None = None, device=None) -> torch.Tensor:
    """Smooth random flows ``(N, 2, H, W)`` as ReReVST draws them: Gaussian displacements (std
    ``motion_std`` px) on a coarse grid (one node per ``GRID`` px), upsampled and box-blurred over
    ``GRID`` px, plus a global integer shift in ``[-shift, shift]`` px per sample. Pixel amounts are
    for a 256-px crop and scale with ``min(h, w) / 256``."""
    scale = min(h, w) / REFERENCE_SIZE
    grid = max(2, round(GRID * scale))
    coarse = torch.randn(n, 2, max(1, h // grid) + 1, max(1, w // grid) + 1, generator=generator) * motion_std * scale
    flow = F.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=True)
    k = min(grid, h, w) | 1  # odd box, at most the frame
    flow = F.avg_pool2d(F.pad(flow, (k // 2,) * 4, mode="replicate"), k, stride=1)
    limit = int(round(shift * scale))
    shifts = torch.randint(-limit, limit + 1, (n, 2, 1, 1), generator=generator).to(flow.dtype)
    return (flow + shifts).to(device) if device is not None else flow + shifts


@dataclass
class SyntheticMotion:
    """The second frame for the temporal regulariser: ``x`` warped by a random smooth flow, plus noise."""

    motion_std: float = MOTION_STD
    shift: float = SHIFT
    noise_std: float = NOISE_STD

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` ``(N, 3, H, W)`` in [0, 1] -> (the moved frames, in [0, 1]; the flow ``(N, 2, H, W)``)."""
        n, _, h, w = x.shape
        flow = random_flow(n, h, w, self.motion_std, self.shift, generator).to(x.device, torch.float32)
        moved = warp(x.float(), flow, mode="nearest")  # nearest as ReReVST: a pure move, no resampling blur
        if self.noise_std:
            noise = torch.randn(moved.shape, generator=generator).to(x.device) * self.noise_std
            moved = moved + noise
        return moved.clamp(0, 1).to(x.dtype), flow
