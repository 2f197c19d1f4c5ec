"""Stylise a video or a folder of frames (also: python scripts/stylize_video.py):

    python -m stylenet.video.cli --model wave --input clip.mp4 --output clip_wave.mp4
    python -m stylenet.video.cli --model zoo_light --style starry_night --input frames/ --output styled/ --compile
    python -m stylenet.video.cli --model zoo --style wave,udnie --style-mask matte.mp4 --input clip.mp4 --output out.mp4
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..inference.batch_paths import INPUT_EXTENSIONS
from ..inference.cliargs import add_stylizer_args, check_stylizer_args, open_mask_image, run_stylizer, stylizer_options
from .animation import ANIMATED_SUFFIXES
from .io import CRF_RANGES, VIDEO_CODECS, X264_PRESETS, VideoError
from .masks import MaskClip
from .outputs import check_video_paths
from .pipeline import stylize_video


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="stylize_video", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_stylizer_args(p, "frame", mask_clips=True)
    p.add_argument("--input", required=True, help="a video file, or a folder of frames (image files in name order)")
    p.add_argument("--output", required=True,
                   help=f"a video file ({', '.join(VIDEO_CODECS)}), an animated .gif (256 colours a frame) or "
                        ".webp (no sound in either) or a folder for PNG frames")
    p.add_argument("--max-size", type=int, help="shrink frames so the longer side is at most this many px")
    p.add_argument("--batch-size", type=int, help="frames stylised together (default: 1 on a CPU, measured fastest "
                                                   "there; 4 on a GPU)")
    p.add_argument("--fps", type=float, default=24.0, help="frame rate of a video made from a folder of frames")
    p.add_argument("--crf", type=int, help="encoder quality (lower is better): default 18 for H.264, 31 for VP9")
    p.add_argument("--preset", default="fast", choices=X264_PRESETS, metavar="PRESET",
                   help="x264 speed preset: ultrafast ... veryslow (default fast)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output video, or the frames already in "
                                                             "an output folder")
    args = p.parse_args(argv)
    check_stylizer_args(p, args)
    if (args.max_size is not None and args.max_size < 2 or args.batch_size is not None and args.batch_size < 1
            or args.fps <= 0):
        p.error("--max-size must be >= 2, --batch-size >= 1 and --fps > 0")
    codec = VIDEO_CODECS.get(Path(args.output).suffix.lower())
    if Path(args.output).suffix.lower() in ANIMATED_SUFFIXES and args.crf is not None:
        p.error(f"--crf sets the H.264/VP9 encoder's quality: a {Path(args.output).suffix} has none")
    if codec and args.crf is not None and not CRF_RANGES[codec][0] <= args.crf <= CRF_RANGES[codec][1]:
        p.error(f"--crf must be between {CRF_RANGES[codec][0]} and {CRF_RANGES[codec][1]} for {codec}")
    return args


def open_mask(path: str):
    """``--style-mask``: an image (one mask for every frame), or a video or a folder of frames (a mask per frame)."""
    if Path(path).suffix.lower() in INPUT_EXTENSIONS:
        return open_mask_image(path)
    return MaskClip(path)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        summary, code = run_stylizer(args, lambda stylizer: stylize_video(
            stylizer, args.input, args.output, batch_size=args.batch_size, max_size=args.max_size, fps=args.fps,
            crf=args.crf, preset=args.preset, overwrite=args.overwrite, progress=not args.quiet,
            metadata=args.metadata, **stylizer_options(args)), errors=(VideoError,), open_mask=open_mask,
            check=lambda: check_video_paths(args.input, args.output, args.overwrite),
            interrupted=f"nothing written to {args.output} (a video is only renamed into place when complete)")
    finally:
        if isinstance(getattr(args, "mask_image", None), MaskClip):
            args.mask_image.close()
    if code:
        return code
    print(summary.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
