"""Stylise photos with an exported model (also: python scripts/stylize.py):

    python -m stylenet.stylize --model starry_night.safetensors --input photos/ --output out/
    python -m stylenet.stylize --model zoo --style starry_night=0.7,wave=0.3 --input photos/ --output out/
"""
from __future__ import annotations

import argparse
import logging
import sys

from .batch import OUTPUT_FORMATS, stylize_paths
from .export import ModelFileError
from .inference import PRECISIONS, load_stylizer
from .styles import choose


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="stylize", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help=".safetensors, Lightning .ckpt or .onnx model, or a bundled model or "
                                                 "style name (MODELS.md: starry_night, zoo, wave, ...)")
    p.add_argument("--style", help="a multi-style model's style, or a mix: starry_night=0.7,wave=0.3 (weights normalised)")
    p.add_argument("--input", required=True, nargs="+", help="image files, folders (recursive) or globs")
    p.add_argument("--output", required=True, help="output folder; the input tree is mirrored there")
    p.add_argument("--format", default="png", choices=["keep", *OUTPUT_FORMATS], help="output format (keep: as input)")
    p.add_argument("--quality", type=int, default=92, help="JPEG/WebP quality")
    p.add_argument("--max-size", type=int, help="shrink so the longer side is at most this many px")
    p.add_argument("--scale", type=float, help="resize by this factor first (e.g. 0.5)")
    p.add_argument("--tile", type=int, help="stylise in tiles of this size (bounded memory for huge images)")
    p.add_argument("--overlap", type=int, default=64, help="tile overlap in px, blended")
    p.add_argument("--preserve-color", action="store_true", help="keep the photo's colours (luminance-only transfer)")
    p.add_argument("--strength", type=float, default=1.0, help="0..1: blend of stylised and original")
    p.add_argument("--batch-size", type=int, default=1, help="images of equal size stylised together")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, mps")
    p.add_argument("--precision", default="fp32", choices=list(PRECISIONS))
    p.add_argument("--channels-last", action="store_true", help="channels_last memory format (PyTorch backend)")
    p.add_argument("--compile", action="store_true",
                   help="torch.compile the network (PyTorch backend): the first image of each size compiles for "
                        "seconds, later ones run faster (many photos of one size, video frames)")
    p.add_argument("--backend", default="torch", choices=["torch", "onnxruntime"])
    p.add_argument("--overwrite", action="store_true", help="redo outputs that already exist")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    if args.tile is not None and not (16 <= args.tile and 0 <= args.overlap < args.tile // 2):
        p.error("--tile must be >= 16 and --overlap in [0, tile/2)")
    if not 0 <= args.strength <= 1:
        p.error("--strength must be between 0 and 1")
    if args.max_size is not None and args.max_size < 1 or args.scale is not None and args.scale <= 0:
        p.error("--max-size and --scale must be positive")
    if args.batch_size < 1:
        p.error("--batch-size must be >= 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        stylizer = load_stylizer(args.model, device=args.device, backend=args.backend, precision=args.precision,
                                 channels_last=args.channels_last, style=args.style, compile=args.compile)
        if stylizer.choice is None:  # a multi-style model and no --style: say so before any image
            choose(None, stylizer.style_names)
        if stylizer.choice.note:
            print(stylizer.choice.note)
        summary = stylize_paths(
            stylizer, args.input, args.output, fmt=args.format, quality=args.quality, max_size=args.max_size,
            scale=args.scale, overwrite=args.overwrite, batch_size=args.batch_size, progress=not args.quiet,
            tile=args.tile, overlap=args.overlap, preserve_color=args.preserve_color, strength=args.strength)
    except (ModelFileError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(summary.line())
    for path, why in summary.failed:
        print(f"  failed: {path}: {why}")
    return 1 if summary.failed else 0


if __name__ == "__main__":
    sys.exit(main())
