"""Stylise photos with an exported model:
    python scripts/stylize.py --model outputs/demo/starry_night.safetensors --input photos/ --output out/
"""
import argparse
import sys

from stylenet.export import ModelFileError, load_stylizer
from stylenet.inference import stylize_files


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="exported .safetensors style model")
    p.add_argument("--input", required=True, nargs="+", help="image files and/or folders (recursive)")
    p.add_argument("--output", required=True, help="output folder (input tree is mirrored)")
    p.add_argument("--max-size", type=int, default=None, help="resize so the longer side is at most this")
    p.add_argument("--format", default="png", choices=["png", "jpg", "webp"], help="output format")
    p.add_argument("--overwrite", action="store_true", help="redo outputs that already exist")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    args = p.parse_args(argv)
    try:
        stylizer = load_stylizer(args.model, args.device)
        s = stylize_files(stylizer, args.input, args.output, args.max_size, suffix=f".{args.format}",
                          overwrite=args.overwrite)
    except (ModelFileError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"done {s.done}, skipped {s.skipped} (already there), failed {len(s.failed)} in {s.seconds:.1f}s")
    for path, why in s.failed:
        print(f"  failed: {path}: {why}")
    return 1 if s.failed else 0


if __name__ == "__main__":
    sys.exit(main())
