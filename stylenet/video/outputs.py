"""Where a video run writes, checked before any frame is read: an output suffix it can write, not the input,
no existing video or frames replaced without ``overwrite``; and the output frame size (``max_size``, even
sides for 4:2:0 video)."""
from __future__ import annotations

import os
from pathlib import Path

from .animation import ANIMATED_SUFFIXES
from .io import VIDEO_CODECS, VideoError


def output_size(width: int, height: int, max_size: int | None, even: bool) -> tuple[int, int]:
    """The output frame size: the input's, or shrunk so the longer side is at most ``max_size`` (aspect
    kept); ``even`` rounds a shrunk size to even sides (4:2:0 video)."""
    if max_size is None or max(width, height) <= max_size:
        return width, height
    scale = max_size / max(width, height)
    w, h = max(1, round(width * scale)), max(1, round(height * scale))
    if even:
        w, h = max(2, w - w % 2), max(2, h - h % 2)
    return w, h


def check_video_paths(src: str | os.PathLike, dst: str | os.PathLike, overwrite: bool = False) -> None:
    """The checks of :func:`.pipeline.stylize_video` that read no frame: an unsupported output suffix, the input as the
    output, a missing input, an existing output video without ``overwrite`` (VideoError, one line; the script
    makes them before it loads the model)."""
    src, dst = Path(src), Path(dst)
    video_out = dst.suffix.lower() in VIDEO_CODECS or dst.suffix.lower() in ANIMATED_SUFFIXES
    if dst.suffix and not video_out and not dst.is_dir():
        raise VideoError(f"{dst}: unsupported output; use one of {', '.join((*VIDEO_CODECS, *ANIMATED_SUFFIXES))} "
                         "or a folder for PNG frames")
    if dst.resolve() == src.resolve():
        raise VideoError(f"{dst}: is the input; the stylised {'frames' if src.is_dir() else 'clip'} would replace it: "
                         "give another output")
    if not src.exists():  # before the output's checks: what to fix first
        raise VideoError(f"{src}: no such file")
    if video_out and dst.exists() and not overwrite:
        raise VideoError(f"{dst}: exists; pass --overwrite to replace it")


def check_frames_free(dst: Path, names: list[str]) -> None:
    """VideoError unless the frames ``names`` would be new files in the folder ``dst`` (a rerun, or an earlier
    clip's frames, is not replaced without --overwrite)."""
    taken = [name for name in names if (dst / name).exists()]
    if taken:
        raise VideoError(f"{dst}: already holds {taken[0]}" + (f" and {len(taken) - 1} more frames" if len(taken) > 1
                         else "") + "; pass --overwrite to replace them, or give another folder")
