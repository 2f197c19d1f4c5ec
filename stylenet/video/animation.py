"""A clip written as an animated GIF or WebP (``stylize_video.py --output clip.gif``), behind
:class:`.io.VideoWriter`'s interface."""
from __future__ import annotations

import os
from fractions import Fraction

import numpy as np

from .io import VideoInfo

ANIMATED_SUFFIXES = (".gif", ".webp")  # animated images a clip can become (stylenet.animated)


class AnimatedWriter:
    """:class:`VideoWriter`'s interface writing an animated GIF or WebP (:class:`stylenet.animated.AnimationWriter`,
    by the path's suffix): each frame lasts until the next one's timestamp (the last as long as the one before,
    or 1/fps). No sound; browsers slow GIF frames under 20 ms to 100 ms: from a clip over 50 frames/s, a frame
    that comes less than 20 ms after the last kept one is dropped (in WebP too, to keep one rule)."""

    MIN_FRAME_S = 0.02
    audio_in = audio_out = None
    copy_audio = False

    def __init__(self, path: str | os.PathLike, info: VideoInfo, quality: int = 92):
        from ..animated import AnimationWriter

        self.writer = AnimationWriter(path, loop=0, quality=quality)
        self.frame_s = 1 / float(info.fps) if info.fps else 1 / 24
        self.pending: tuple[np.ndarray, float] | None = None
        self.last_s, self.frames = self.frame_s, 0

    def write(self, rgb: np.ndarray, pts: int | None, time_base: Fraction | None) -> None:
        t = float(pts * time_base) if pts is not None and time_base is not None else self.frames * self.frame_s
        self.frames += 1
        if self.pending is not None:
            if t - self.pending[1] < self.MIN_FRAME_S - 1e-6:  # (float timestamps: 0.06 - 0.04 < 0.02)
                return
            self.last_s = t - self.pending[1]
            self.writer.add(self.pending[0], self.last_s * 1000)
        self.pending = (rgb, t)

    def write_audio(self, packet) -> None:  # no sound in a GIF or WebP
        pass

    def close(self) -> None:
        if self.pending is not None:
            self.writer.add(self.pending[0], self.last_s * 1000)
        self.writer.close()
