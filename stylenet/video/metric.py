"""The flicker metric: temporal warping error between consecutive stylised frames (Lai et al. 2018,
"Learning Blind Video Temporal Consistency", ECCV, Eq. 10):

    E = 1/(T-1) sum_t  sum_p M_t(p) |O_t(p) - warp(O_{t-1}, flow_t)(p)|^2 / (3 sum_p M_t(p))

with ``O`` the stylised frames in [0, 1], ``flow_t`` the motion from frame ``t-1`` to ``t`` taken from the
*input* clip, and ``M_t`` the pixels that are visible in both frames. Flows are exact for synthetic clips
(:mod:`stylenet.video.synthetic`) and estimated for real footage with OpenCV's DIS optical flow (Kroeger
et al. 2016), with occlusions masked by the forward-backward check of Ruder et al. 2016 ("Artistic style
transfer for videos", Eq. 7-8).
"""

from __future__ import annotations

import numpy as np
import torch

from .motion import inside, warp


def warping_error(frames: torch.Tensor, flows: torch.Tensor, masks: torch.Tensor | None = None) -> float:
    """``frames`` ``(T, 3, H, W)`` in [0, 1]; ``flows`` ``(T, 2, H, W)`` (``flows[t]``: frame ``t-1`` ->
    ``t``; ``flows[0]`` unused); ``masks`` ``(T, 1, H, W)`` (default: the pixels whose source is in the
    frame). The mean squared difference per pixel and channel."""
    if frames.shape[0] < 2:
        raise ValueError("the warping error needs at least 2 frames")
    prev, cur, flow = frames[:-1].float(), frames[1:].float(), flows[1:].float()
    mask = (masks[1:] if masks is not None else inside(flow)).float()
    diff = (cur - warp(prev, flow)).pow(2) * mask
    per_pair = diff.sum(dim=(1, 2, 3)) / (3 * mask.sum(dim=(1, 2, 3))).clamp(min=1)
    return float(per_pair.mean())


def _gray(frame: torch.Tensor) -> np.ndarray:
    return (frame.float().mul(255).clamp(0, 255).permute(1, 2, 0).numpy() @ np.array([0.299, 0.587, 0.114])).astype(np.uint8)


def dis_flows(frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Estimated flows and visibility masks for real footage ``(T, 3, H, W)`` in [0, 1] (the input clip):
    DIS optical flow (OpenCV, the MEDIUM preset) both ways between consecutive frames; a pixel counts
    when its motion is forward-backward consistent and its source lies in the frame."""
    import cv2

    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    t, _, h, w = frames.shape
    flows, masks = [torch.zeros(2, h, w)], [torch.zeros(1, h, w)]
    grays = [_gray(f) for f in frames]
    for i in range(1, t):
        back = dis.calc(grays[i], grays[i - 1], None)  # on frame t's grid: I_t(p) ~ I_{t-1}(p + back(p))
        fwd = dis.calc(grays[i - 1], grays[i], None)   # on frame t-1's grid
        flow = torch.from_numpy(-back).permute(2, 0, 1)  # stylenet's convention: frame t = warp(frame t-1, flow)
        # Forward-backward check (Ruder et al. 2016, Eq. 7): following back then fwd should return home.
        fwd_t = torch.from_numpy(fwd).permute(2, 0, 1)[None]
        fwd_at = warp(fwd_t, flow[None])[0]  # fwd sampled at p + back(p) = p - flow(p)
        b = torch.from_numpy(back).permute(2, 0, 1)
        loop = (b + fwd_at).pow(2).sum(0)
        ok = loop <= 0.01 * (b.pow(2).sum(0) + fwd_at.pow(2).sum(0)) + 0.5
        flows.append(flow)
        masks.append((ok[None].float() * inside(flow[None])[0]))
    return torch.stack(flows), torch.stack(masks)
