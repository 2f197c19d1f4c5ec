"""Stylise photos with an exported model (also: python scripts/stylize.py):

    python -m stylenet.stylize --model starry_night.safetensors --input photos/ --output out/
    python -m stylenet.stylize --model wave --input photo.jpg --output photo_wave.jpg   # one photo, one file
    python -m stylenet.stylize --model zoo --style starry_night=0.7,wave=0.3 --input photos/ --output out/
    python -m stylenet.stylize --model zoo --style wave,starry_night --style-mask sky.png --input photo.jpg --output out/
    python -m stylenet.stylize --model adain --style-image a.jpg b.jpg --style-mask sky.png --input photo.jpg --output out/
    python -m stylenet.stylize --model zoo --style wave,udnie --style-mask masks/ --input photos/ --output out/  # a mask each
    python -m stylenet.stylize --model zoo_fast --style udnie --input cat.gif --output out/ --format gif   # stays animated
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .inference.batch import stylize_paths
from .inference.batch_paths import OUTPUT_FORMATS, MaskFolder, plan_outputs
from .inference.cliargs import add_stylizer_args, check_stylizer_args, open_mask_image, run_stylizer, stylizer_options


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="stylize", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_stylizer_args(p, "photo", mask_folders=True)
    p.add_argument("--input", required=True, nargs="+", help="image files, folders (recursive) or globs")
    p.add_argument("--output", required=True, help="output folder; the input tree is mirrored there (or, for one "
                   "input image, an image file's path: result.jpg)")
    p.add_argument("--format", choices=["keep", *OUTPUT_FORMATS],
                   help="output format in a folder (default png; keep: as input); an output file's suffix sets its own")
    p.add_argument("--quality", type=int, default=92, help="JPEG/WebP quality")
    p.add_argument("--max-size", type=int, help="shrink so the longer side is at most this many px")
    p.add_argument("--scale", type=float, help="resize by this factor first (e.g. 0.5)")
    p.add_argument("--batch-size", type=int, default=1, help="images of equal size stylised together")
    p.add_argument("--overwrite", action="store_true", help="redo outputs that already exist")
    args = p.parse_args(argv)
    check_stylizer_args(p, args)
    if args.max_size is not None and args.max_size < 1 or args.scale is not None and args.scale <= 0:
        p.error("--max-size and --scale must be positive")
    if args.batch_size < 1:
        p.error("--batch-size must be >= 1")
    if not 1 <= args.quality <= 100:
        p.error("--quality must be between 1 and 100 (JPEG/WebP; 92 by default)")
    return args


def open_mask(path: str):
    """``--style-mask``: an image (one mask for every photo), or a folder of masks (one per photo, by its path)."""
    return MaskFolder(path) if Path(path).is_dir() else open_mask_image(path)


def main(argv=None) -> int:
    args = parse_args(argv)
    plan = []  # the paths, checked before the model loads (a mistyped input or output is one line at once)
    summary, code = run_stylizer(args, lambda stylizer: stylize_paths(
        stylizer, args.input, args.output, fmt=args.format, quality=args.quality, max_size=args.max_size,
        scale=args.scale, overwrite=args.overwrite, batch_size=args.batch_size, progress=not args.quiet,
        metadata=args.metadata, plan=plan[0], **stylizer_options(args)), open_mask=open_mask,
        check=lambda: plan.append(plan_outputs(args.input, args.output, args.format)),
        interrupted=f"the images already in {args.output} are complete (each is renamed into place when written); run "
                    "again to do the rest (they are skipped)")
    if code:
        return code
    print(summary.line())
    for path, why in summary.failed:
        print(f"  failed: {path}: {why}")
    return 1 if summary.failed else 0


if __name__ == "__main__":
    sys.exit(main())
