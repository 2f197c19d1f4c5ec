"""Pick a style weight by looking: optimise a few photos (Gatys) at a sweep of style.weight values
and write a contact sheet with their content and style losses:

    python scripts/calibrate.py --style starry_night --out outputs/calibrate/starry_night

Then train with the chosen value: python train.py style=starry_night style.weight=<value>
"""
import argparse
import logging
import sys

from stylenet.inference.cliargs import run_guarded
from stylenet.quality.calibrate import SWEEP_FACTORS, sweep_sheet, sweep_style_weights
from stylenet.style_files import ConfigError, load_loss_settings, resolve_style
from stylenet.quality.scoring import EvaluationError, load_photos
from stylenet.quality.report import write_outputs
from stylenet.quality.gatys import OPTIMIZERS, GatysError


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--style", required=True, help="a conf/style name (e.g. starry_night) or an image file")
    p.add_argument("--weights", type=float, nargs="+",
                   help=f"style.weight values (default: the style's weight x {' '.join(map(str, SWEEP_FACTORS))})")
    p.add_argument("--loss", default="conf/loss/johnson.yaml", help="loss config with the layers and loss.style_weight")
    p.add_argument("--photos", nargs="+", default=["data/sample"], help="content photos: files or folders")
    p.add_argument("--count", type=int, default=3, help="use the first N photos")
    p.add_argument("--size", type=int, default=256, help="longer side of the photos in px (the training crop size)")
    p.add_argument("--iterations", type=int, default=50, help="Gatys iterations per result")
    p.add_argument("--optimizer", default="lbfgs", choices=OPTIMIZERS)
    p.add_argument("--device", default="auto")
    p.add_argument("--height", type=int, default=256, help="contact sheet row height in px")
    p.add_argument("--out", required=True, help="output folder")
    args = p.parse_args(argv)
    if args.size < 16 or args.count < 1 or args.iterations < 1:
        p.error("--size must be >= 16, --count and --iterations >= 1")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")

    def job():
        style_image, style_size, style_weight = resolve_style(args.style)
        weights = args.weights or [round(style_weight * f, 6) for f in SWEEP_FACTORS]
        settings = load_loss_settings(args.loss)
        photos = load_photos(args.photos, args.count, args.size)
        return style_image, weights, settings, *sweep_style_weights(
            style_image, photos, weights, settings, style_size, args.iterations, args.optimizer, args.device)

    result, code = run_guarded(job, errors=(ConfigError, EvaluationError, GatysError, ValueError),
                               interrupted=f"nothing was written (the sheet goes to {args.out} at the end)")
    if code:
        return code
    style_image, weights, settings, numbers, images = result
    data = {"style": str(style_image), "loss": settings, "weights": weights, "size": args.size,
            "iterations": args.iterations, "optimizer": args.optimizer, "results": numbers}
    paths = write_outputs(args.out, data, numbers, sweep_sheet(numbers, images, style_image, weights, args.height),
                          "calibration")
    for w in weights:
        cells = [n for n in numbers if n["style.weight"] == w]
        print(f"style.weight={w:<8g} content {sum(c['content'] for c in cells) / len(cells):.4g}  "
              f"style {sum(c['style'] for c in cells) / len(cells):.4g}  (means over {len(cells)} photos)")
    print("wrote " + ", ".join(map(str, paths)))
    print(f"train with the weight you like: python train.py style={args.style if '/' not in args.style else '<name>'} "
          "style.weight=<value>")
    return 0


if __name__ == "__main__":
    sys.exit(main())
