"""Stylise a video or a folder of frames (also: python scripts/stylize_video.py):

    python -m stylenet.video.cli --model wave --input clip.mp4 --output clip_wave.mp4
    python -m stylenet.video.cli --model zoo_light --style starry_night --input frames/ --output styled/ --compile
"""
from __future__ import annotations

import argparse
import logging
import sys

from ..export import ModelFileError
from ..inference import PRECISIONS, load_stylizer
from ..styles import choose
from .io import VIDEO_CODECS, VideoError
from .pipeline import stylize_video


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="stylize_video", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="a model file (.safetensors, .ckpt, .onnx) or a bundled model or style name")
    p.add_argument("--style", help="a multi-style model's style, or a mix: starry_night=0.7,wave=0.3")
    p.add_argument("--input", required=True, help="a video file, or a folder of frames (image files in name order)")
    p.add_argument("--output", required=True,
                   help=f"a video file ({', '.join(VIDEO_CODECS)}) or a folder for PNG frames")
    p.add_argument("--max-size", type=int, help="shrink frames so the longer side is at most this many px")
    p.add_argument("--batch-size", type=int, default=4, help="frames stylised together")
    p.add_argument("--tile", type=int, help="stylise in tiles of this size (bounded memory, e.g. 4K on a small GPU)")
    p.add_argument("--overlap", type=int, default=64, help="tile overlap in px, blended")
    p.add_argument("--preserve-color", action="store_true", help="keep the frames' colours (luminance-only transfer)")
    p.add_argument("--strength", type=float, default=1.0, help="0..1: blend of stylised and original")
    p.add_argument("--fps", type=float, default=24.0, help="frame rate of a video made from a folder of frames")
    p.add_argument("--crf", type=int, help="encoder quality (lower is better): default 18 for H.264, 31 for VP9")
    p.add_argument("--preset", default="fast", help="x264 speed preset (ultrafast ... veryslow)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, mps")
    p.add_argument("--precision", default="fp32", choices=list(PRECISIONS))
    p.add_argument("--compile", action="store_true", help="torch.compile the network (seconds once; faster per frame)")
    p.add_argument("--backend", default="torch", choices=["torch", "onnxruntime"])
    p.add_argument("--overwrite", action="store_true", help="replace an existing output video")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    if args.tile is not None and not (16 <= args.tile and 0 <= args.overlap < args.tile // 2):
        p.error("--tile must be >= 16 and --overlap in [0, tile/2)")
    if not 0 <= args.strength <= 1:
        p.error("--strength must be between 0 and 1")
    if args.max_size is not None and args.max_size < 2 or args.batch_size < 1 or args.fps <= 0:
        p.error("--max-size must be >= 2, --batch-size >= 1 and --fps > 0")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        stylizer = load_stylizer(args.model, device=args.device, backend=args.backend, precision=args.precision,
                                 style=args.style, compile=args.compile)
        if stylizer.choice is None:  # a multi-style model and no --style: say so before decoding anything
            choose(None, stylizer.style_names)
        if stylizer.choice.note:
            print(stylizer.choice.note)
        summary = stylize_video(stylizer, args.input, args.output, batch_size=args.batch_size, max_size=args.max_size,
                                fps=args.fps, crf=args.crf, preset=args.preset, overwrite=args.overwrite,
                                progress=not args.quiet, tile=args.tile, overlap=args.overlap,
                                preserve_color=args.preserve_color, strength=args.strength)
    except (ModelFileError, FileNotFoundError, VideoError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"interrupted: nothing written to {args.output} (a video is only renamed into place when complete)",
              file=sys.stderr)
        return 130
    print(summary.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
