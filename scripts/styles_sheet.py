r"""Contact sheet of a multi-style model: photos x styles, and a row of two-style mixes on the first photo.
    python scripts/styles_sheet.py --model zoo --photos data/sample --count 4 --mixes starry_night+wave udnie+the_scream \
        --out docs/zoo.png
"""
import argparse
import sys

from stylenet.inference.cliargs import run_guarded
from stylenet.export import ModelFileError
from stylenet.quality.scoring import EvaluationError, load_photos
from stylenet.image import output_problem, save_image
from stylenet.inference import load_stylizer
from stylenet.quality.pictures import styles_sheet
from stylenet.inference.styles import StyleError, choose


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="a multi-style model file or bundled name (zoo)")
    p.add_argument("--photos", nargs="+", default=["data/sample"], help="files or folders")
    p.add_argument("--count", type=int, default=4)
    p.add_argument("--styles", nargs="+", help="these styles only (default: all)")
    p.add_argument("--mixes", nargs="*", default=[], help="pairs a+b mixed 50/50 on the first photo")
    p.add_argument("--size", type=int, default=384, help="longer side of the photos when stylised")
    p.add_argument("--height", type=int, default=192, help="row height in px")
    p.add_argument("--device", default="auto")
    p.add_argument("--out", required=True, help="PNG or JPEG to write")
    args = p.parse_args(argv)
    if problem := output_problem(args.out, args.photos or []):  # before the work, not after it
        p.error(problem)
    result, code = run_guarded(lambda: write_sheet(args), errors=(ModelFileError, EvaluationError, StyleError, ValueError),
                               interrupted=f"nothing was written to {args.out}")
    return code or result


def write_sheet(args: argparse.Namespace) -> int:
    stylizer = load_stylizer(args.model, device=args.device)
    mixes = [tuple(m.split("+", 1)) for m in args.mixes]
    for pair in [*mixes, *([(s, s) for s in args.styles or []])]:
        if len(pair) != 2:
            raise StyleError(f"--mixes: write pairs as a+b, got {'+'.join(pair)!r}")
        choose({pair[0]: 1, pair[1]: 1}, stylizer.style_names)  # unknown names: one line listing the styles
    photos = [path for path, _ in load_photos(args.photos, args.count, args.size)]
    save_image(styles_sheet(stylizer, photos, args.styles, mixes, args.height, args.size), args.out)
    print(f"wrote {args.out}")
    return 0

if __name__ == "__main__":
    sys.exit(main())
