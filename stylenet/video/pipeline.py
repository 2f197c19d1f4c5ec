"""Stylise a clip or a folder of frames: decode -> batch -> stylise -> encode, with a progress bar in
frames/s and the time of each stage (``scripts/stylize_video.py``).

Inputs: a video file (anything FFmpeg reads) or a folder of frames (image files in name order).
Outputs: a video file (``.mp4``, ``.mov``, ``.m4v``, ``.mkv``: H.264; ``.webm``: VP9) or an animated ``.gif``
or ``.webp``, written under a temporary name and renamed at the end (an interrupted run leaves nothing under
the final name), or a folder of PNG frames (each written atomically). The frame rate, timing, size (unless ``max_size``),
colour range and matrix, rotation and audio (copied, or re-encoded where the container cannot hold it)
of a clip are kept.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..atomic import atomic_path
from ..image import save_image
from .animation import ANIMATED_SUFFIXES, AnimatedWriter
from .hdr import NAMES as HDR_NAMES
from .io import VIDEO_CODECS, VideoError, VideoInfo, VideoReader, VideoWriter, frame_folder, read_frame, to_rgb
from .masks import MaskClip
from .outputs import check_frames_free, check_video_paths, output_size
from .writer_thread import WriterThread, overlaps


@dataclass
class VideoSummary:
    frames: int = 0
    seconds: float = 0.0
    # seconds in each stage on the main thread; "encode": writing, or with the writer on its own thread
    # (writer "thread", beside the stylising) waiting for it
    stages: dict[str, float] = field(default_factory=lambda: {"decode": 0.0, "stylise": 0.0, "encode": 0.0})
    writer: str = "inline"  # "thread" or "inline" (stylenet.video.writer_thread)
    size: tuple[int, int] = (0, 0)  # output (width, height)
    audio: str = "none"
    output: Path | None = None
    hdr: str | None = None  # the input's HDR curve ("HLG", "PQ (HDR10)"), tone-mapped to SDR; None for SDR

    def line(self) -> str:
        rate = self.frames / self.seconds if self.seconds else 0.0
        where = ", ".join(f"{k} {v:.1f}s ({100 * v / self.seconds:.0f}%)" for k, v in self.stages.items()) if self.seconds else ""
        return (f"{self.frames} frames {self.size[0]}x{self.size[1]} in {self.seconds:.1f}s ({rate:.2f} frames/s; "
                f"{where}); audio: {self.audio}; {f'{self.hdr} HDR tone-mapped to SDR (BT.709); ' if self.hdr else ''}"
                f"wrote {self.output}")


class _Batcher:
    """Collects frames, stylises them ``batch_size`` at a time, hands the results to ``sink``."""

    def __init__(self, stylizer, batch_size: int, size, sink, summary: VideoSummary, options: dict):
        """``size(width, height)``: the output size of a frame of that size."""
        self.stylizer, self.batch_size, self.size, self.sink = stylizer, batch_size, size, sink
        self.summary, self.options, self.rgb, self.tags = summary, options, [], []

    def add(self, rgb: np.ndarray, tag) -> None:
        if self.rgb and self.rgb[0].shape != rgb.shape:  # a folder of mixed sizes: a batch holds one size
            self.flush()
        self.rgb.append(rgb)
        self.tags.append(tag)
        if len(self.rgb) == self.batch_size:
            self.flush()

    def flush(self) -> None:
        if not self.rgb:
            return
        start = time.perf_counter()
        x = torch.from_numpy(np.stack(self.rgb)).permute(0, 3, 1, 2).float().div_(255)
        w, h = self.size(x.shape[3], x.shape[2])
        if (x.shape[3], x.shape[2]) != (w, h):
            x = F.interpolate(x, size=(h, w), mode="bilinear", antialias=True, align_corners=False).clamp_(0, 1)
        options = self.options
        if isinstance(options.get("mask"), MaskClip):  # a mask per frame, in step with the clip
            options = {**options, "mask": options["mask"].take(x.shape[0])}
        y = self.stylizer(x, **options)
        out = list(y.mul(255).round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy())
        self.summary.stages["stylise"] += time.perf_counter() - start
        start = time.perf_counter()
        for rgb, tag in zip(out, self.tags):
            self.sink(rgb, tag)
        self.summary.stages["encode"] += time.perf_counter() - start
        self.summary.frames += len(out)
        self.rgb, self.tags = [], []


def default_batch_size(stylizer) -> int:
    """Frames stylised together when not given: 1 on a CPU, 4 on a GPU. On a 2-vCPU Zen 4 EPYC (2026-12-04,
    1280x720) one frame at a time was the fastest everywhere: zoo_fast 4.3-4.6 vs 2.8-3.2 frames/s at batch 4
    (eager fp32), 8.8-9.9 vs 5.6-5.8 (eager bf16), 15.8-16.9 vs 11.6-11.7 (compiled bf16), 4.8-4.9 vs 3.3-3.7
    end to end; the Johnson network 0.42-0.43 vs 0.38-0.42 (docs/BENCHMARKS.md). 4 on a GPU, as before
    (batch 1 not measured there)."""
    return 1 if getattr(getattr(stylizer, "device", None), "type", "cpu") == "cpu" else 4  # (a plain function: CPU)


def stylize_video(stylizer, src: str | os.PathLike, dst: str | os.PathLike, *, batch_size: int | None = None,
                  max_size: int | None = None, fps: float = 24.0, crf: int | None = None, preset: str = "fast",
                  overwrite: bool = False, progress: bool = True, max_frames: int | None = None,
                  writer_thread: bool | None = None, metadata: str = "all", **options) -> VideoSummary:
    """Stylise ``src`` (a clip or a folder of frames) into ``dst`` (a video file by its suffix, else a
    folder of PNG frames). ``options`` go to the stylizer per batch (``tile``, ``overlap``,
    ``preserve_color``, ``strength``, ``style``, ``mask``: an image for every frame, or a :class:`.masks.MaskClip`,
    a mask per frame). ``fps``: the frame rate of a video made from a folder.
    ``max_frames``: stop after that many frames (a preview, or a benchmark). ``batch_size``: frames stylised
    together (None: :func:`default_batch_size`). ``writer_thread``: write beside the stylising (None: on an
    accelerator and for eager PyTorch on a CPU, :func:`.writer_thread.overlaps`). ``metadata``: the clip's tags
    a video output keeps (the date it was shot, title, location, languages: :func:`stylenet.metadata.kept_tags`).
    Raises :class:`VideoError` (one line) for unreadable inputs and unsupported outputs."""
    src, dst = Path(src), Path(dst)
    check_video_paths(src, dst, overwrite)
    animated = dst.suffix.lower() in ANIMATED_SUFFIXES
    video_out = dst.suffix.lower() in VIDEO_CODECS or animated
    batch_size = default_batch_size(stylizer) if batch_size is None else batch_size
    if batch_size < 1:
        raise VideoError(f"batch size must be >= 1, got {batch_size}")
    threaded = overlaps(stylizer) if writer_thread is None else writer_thread
    summary = VideoSummary(output=dst, writer="thread" if threaded else "inline")
    began = time.perf_counter()
    frames, reader = None, None
    if src.is_dir():
        frames = frame_folder(src)
        if not video_out and not overwrite:
            check_frames_free(dst, [f.with_suffix(".png").name for f in frames])
        first = read_frame(frames[0])
        info = VideoInfo(first.shape[1], first.shape[0], Fraction(fps).limit_denominator(1001), len(frames), 0, 2, 2,
                         False, "frames")
    else:
        if not video_out and not overwrite:
            check_frames_free(dst, sorted(p.name for p in dst.glob("frame_[0-9]*.png"))[:1])
        reader = VideoReader(src)
        info = reader.info
        summary.hdr = HDR_NAMES.get(info.transfer)
    summary.size = output_size(info.width, info.height, max_size, even=video_out and not animated)
    bar = tqdm(total=info.frames or None, unit="frame", disable=not progress, dynamic_ncols=True,
               desc=f"{src.name} -> {dst.name}")
    try:
        if video_out:
            with atomic_path(dst) as tmp:
                writer = AnimatedWriter(tmp, info) if animated else VideoWriter(
                    tmp, dst.suffix.lower(), info, *summary.size, audio_template=reader.audio if reader else None,
                    crf=crf, preset=preset, metadata=metadata)
                silent = animated and reader and reader.audio
                summary.audio = (f"dropped (a {dst.suffix[1:].upper()} has no sound)" if silent else
                                 "none" if writer.audio_in is None else
                                 f"copied ({writer.audio_in.codec_context.name})" if writer.copy_audio else
                                 f"re-encoded {writer.audio_in.codec_context.name} to {writer.audio_out.codec_context.name}")
                try:
                    def encode(rgb, tag):  # tag: (pts, time_base) of a clip's frame, a Path for a folder's
                        writer.write(rgb, *(tag if isinstance(tag, tuple) else (None, None)))
                        bar.update()

                    with WriterThread(threaded) as encoder:
                        size = lambda w, h: summary.size  # noqa: E731 - the writer's size, whatever the frame's
                        batcher = _Batcher(stylizer, batch_size, size, lambda rgb, tag: encoder.submit(encode, rgb, tag),
                                           summary, options)
                        _feed(_decoded(reader, frames, lambda packet: encoder.submit(writer.write_audio, packet),
                                       size), batcher, summary, max_frames)
                        start = time.perf_counter()  # (leaving the block waits for the writer)
                finally:
                    writer.close()
                summary.stages["encode"] += time.perf_counter() - start
        else:
            dst.mkdir(parents=True, exist_ok=True)
            names = iter(range(1, 10**9))

            def save(rgb, name):
                save_image(torch.from_numpy(rgb).permute(2, 0, 1).float().div_(255), dst / name)
                bar.update()

            def submit(rgb, tag):  # the name in order here, the PNG written on the encoder's thread
                encoder.submit(save, rgb, tag.with_suffix(".png").name if isinstance(tag, Path) else
                               f"frame_{next(names):06d}.png")

            with WriterThread(threaded) as encoder:
                size = lambda w, h: output_size(w, h, max_size, even=False)  # noqa: E731 - each frame its own
                batcher = _Batcher(stylizer, batch_size, size, submit, summary, options)
                _feed(_decoded(reader, frames, None, size), batcher, summary, max_frames)
                start = time.perf_counter()  # (leaving the block waits for the writer)
            summary.stages["encode"] += time.perf_counter() - start
    finally:
        bar.close()
        if reader is not None:
            reader.close()
    summary.seconds = time.perf_counter() - began
    return summary


def _decoded(reader: VideoReader | None, frames: list[Path] | None, audio,
             size: Callable[[int, int], tuple[int, int]] | None = None) -> Iterator[tuple]:
    """``(rgb, tag)`` per frame: a clip's frames tagged ``(pts, time_base)``, a folder's tagged with their
    path, each at ``size(width, height)`` (the batcher's: scaled as it is converted, :func:`.io.to_rgb`, or
    read, :func:`.io.read_frame`). A clip's audio packets go straight to ``audio(packet)`` (dropped where it is
    None)."""
    if reader is None:
        for path in frames:
            yield read_frame(path, size), path
        return
    time_base = reader.stream.time_base
    for kind, item in reader.items():
        if kind == "frame":
            yield to_rgb(item, size and size(item.width, item.height)), (item.pts, item.time_base or time_base)
        elif audio is not None:
            audio(item)


def _feed(decoded: Iterator[tuple], batcher: _Batcher, summary: VideoSummary, max_frames: int | None = None) -> None:
    """Hand every decoded frame (up to ``max_frames``) to the batcher, timing the decoding."""
    start = time.perf_counter()
    for rgb, tag in itertools.islice(decoded, max_frames):
        summary.stages["decode"] += time.perf_counter() - start
        batcher.add(rgb, tag)
        start = time.perf_counter()
    batcher.flush()
