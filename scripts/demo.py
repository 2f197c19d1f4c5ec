"""Write the demo picture (content | style | result rows) for an exported model and, below it, the
bundled zoo's styles on the first photo (MODELS.md; left out where no zoo is bundled):
    python scripts/demo.py --model outputs/demo/starry_night.safetensors --out outputs/demo/demo.png
"""
import argparse
import sys
from pathlib import Path

from stylenet.inference.cliargs import run_guarded
from stylenet.export import ModelFileError, pretrained_names
from stylenet.inference import load_stylizer
from stylenet.paths import resolve_path
from stylenet.quality.pictures import demo_sheet, stack, styles_sheet
from stylenet.image import output_problem, find_images, save_image

# Bundled sample photos (data/sample/CREDITS.csv): a baseball play, a riverbank under a bridge, a batter.
DEFAULT_PHOTOS = ["000000000872.jpg", "000000001268.jpg", "000000002153.jpg"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True)
    p.add_argument("--out", required=True, help="PNG to write")
    p.add_argument("--photos", nargs="*", default=None, help="content photos (default: three bundled samples)")
    p.add_argument("--height", type=int, default=256, help="row height in px")
    p.add_argument("--style-image", default=None,
                   help="the painting shown beside the results (default: the model's, from data/styles)")
    p.add_argument("--no-zoo", action="store_true", help="leave out the bundled zoo's row")
    p.add_argument("--size", type=int, default=384,
                   help="longer side of the photos when stylised (3x the demo's 128-px training crops)")
    args = p.parse_args(argv)
    if problem := output_problem(args.out, args.photos or []):  # before the work, not after it
        p.error(problem)
    result, code = run_guarded(lambda: write_demo(args), errors=(ModelFileError,),
                               interrupted=f"nothing was written to {args.out}")
    return code or result


def write_demo(args: argparse.Namespace) -> int:
    stylizer = load_stylizer(args.model)
    photos = args.photos or [p for p in (resolve_path(Path("data/sample") / n) for n in DEFAULT_PHOTOS) if p.is_file()]
    photos = photos or find_images(resolve_path("data/sample"))[:3]
    if len(stylizer.style_names) > 1:  # a multi-style model: its styles on the photos, and one mix
        first, second = stylizer.style_names[:2]
        save_image(styles_sheet(stylizer, photos, mixes=[(first, second)], height=args.height * 2 // 3,
                                size=args.size), args.out)
        print(f"wrote {args.out}")
        return 0
    named = stylizer.metadata.get("style_image", "")  # a file name only (stylenet.export keeps no folders)
    style_image = Path(args.style_image).expanduser() if args.style_image else resolve_path(Path("data/styles") / named)
    if not style_image.is_file():
        print(f"error: style image {style_image} not found"
              f"{'' if args.style_image else f' (the model was trained on {named!r}: give it with --style-image)'}",
              file=sys.stderr)
        return 2
    picture = demo_sheet(stylizer, style_image, photos, args.height, args.size)
    if "zoo" in pretrained_names() and not args.no_zoo:  # what the bundled multi-style model does, no training
        zoo = load_stylizer("zoo")
        picture = stack([picture, styles_sheet(zoo, photos[:1], height=args.height * 2 // 3, size=args.size)])
    save_image(picture, args.out)
    print(f"wrote {args.out}")
    return 0

if __name__ == "__main__":
    sys.exit(main())
