"""A mask clip for spatial control of a video: one greyscale mask per frame, read in step with the clip
(``scripts/stylize_video.py --style-mask mask_clip.mp4``, e.g. a matte from a segmentation tool; a still
image is one mask for every frame). See :func:`stylenet.inference.styles.masked` for what a mask does."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .io import VideoError, VideoReader, frame_folder, read_frame, to_rgb

LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601 luma, as Pillow's convert("L") (a colour mask clip counts by brightness)


class MaskClip:
    """``MaskClip(path)``: a video file or a folder of frames (image files in name order); :meth:`take` gives the
    next ``n`` masks. A clip shorter than the video it places styles on is an error when it runs out."""

    def __init__(self, path: str | os.PathLike):
        self.path, self.taken = Path(path), 0
        self._reader = None
        if self.path.is_dir():
            self._frames = (read_frame(p) for p in frame_folder(self.path))
        else:
            self._reader = VideoReader(self.path)
            self._frames = (to_rgb(frame) for frame in self._reader.frames())
        self._size: tuple[int, int] | None = None

    def take(self, n: int) -> torch.Tensor:
        """The next ``n`` masks as ``(n, 1, H, W)`` in [0, 1], at the clip's first frame's size (a folder's
        frames of other sizes are resized to it)."""
        masks = []
        for _ in range(n):
            rgb = next(self._frames, None)
            if rgb is None:
                raise VideoError(f"{self.path}: the mask clip ends after {self.taken} frames and the video goes on; "
                                 "give a mask per frame (or a still image for all)")
            grey = torch.from_numpy(np.asarray(rgb, np.float32) @ np.asarray(LUMA, np.float32) / 255)[None, None]
            self._size = self._size or tuple(grey.shape[-2:])
            if tuple(grey.shape[-2:]) != self._size:
                grey = F.interpolate(grey, size=self._size, mode="bilinear", align_corners=False)
            masks.append(grey.clamp_(0, 1))
            self.taken += 1
        return torch.cat(masks)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
