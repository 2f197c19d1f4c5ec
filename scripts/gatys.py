"""Gatys et al. (2015) optimisation-based style transfer with stylenet's VGG and loss definitions:

    python scripts/gatys.py --content photo.jpg --style starry_night --out starry_photo.png
    python scripts/gatys.py --content photo.jpg --style my_painting.jpg --size 1024 --scales 256 512 --out big.png

--style is a conf/style name or an image file; layers and weights come from --loss (conf/loss/johnson.yaml).
"""
import argparse
import logging
import sys

from stylenet.inference.cliargs import run_guarded
from stylenet.style_files import ConfigError, load_loss_settings, resolve_style
from stylenet.quality.scoring import EvaluationError, build_loss, load_photos
from stylenet.quality.gatys import INITS, OPTIMIZERS, GatysError, stylize_by_optimization
from stylenet.image import output_problem, save_image
from stylenet.device import resolve_device


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--content", required=True, help="the photo")
    p.add_argument("--style", required=True, help="a conf/style name (e.g. starry_night) or an image file")
    p.add_argument("--out", required=True, help="output image (format from its suffix)")
    p.add_argument("--size", type=int, default=512, help="longer side of the result in px")
    p.add_argument("--style-size", type=int, help="longer side of the style image (default: the style config's size)")
    p.add_argument("--iterations", type=int, default=300, help="iterations per scale")
    p.add_argument("--optimizer", default="lbfgs", choices=OPTIMIZERS)
    p.add_argument("--lr", type=float, help="step size (default: 1 for L-BFGS, 10/255 for Adam)")
    p.add_argument("--init", default="content", choices=INITS)
    p.add_argument("--scales", type=int, nargs="*", default=[],
                   help="longer sides of coarser passes run first, each below --size (e.g. 256 for --size 512)")
    p.add_argument("--loss", default="conf/loss/johnson.yaml", help="loss config (layers and weights)")
    p.add_argument("--content-weight", type=float)
    p.add_argument("--style-weight", type=float, help="default: loss style_weight x the style config's weight")
    p.add_argument("--tv-weight", type=float)
    p.add_argument("--seed", type=int, default=0, help="noise seed for --init noise")
    p.add_argument("--device", default="auto")
    args = p.parse_args(argv)
    if problem := output_problem(args.out, [args.content, args.style]):  # before the work, not after it
        p.error(problem)
    if args.size < 16 or args.iterations < 1 or (args.style_size is not None and args.style_size < 16):
        p.error("--size and --style-size must be >= 16, --iterations >= 1")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")

    def job():
        style_image, style_size, style_weight = resolve_style(args.style)
        settings = load_loss_settings(args.loss)
        settings["style_weight"] = float(settings.get("style_weight", 1.0)) * style_weight
        for key in ("content_weight", "style_weight", "tv_weight"):
            if getattr(args, key) is not None:
                settings[key] = getattr(args, key)
        device = resolve_device(args.device)
        (_, content), = load_photos([args.content], 1, args.size)
        loss = build_loss(settings, style_image, args.style_size or style_size, device)
        return stylize_by_optimization(content.to(device), loss, args.iterations, args.optimizer, args.init,
                                       args.scales, args.lr, args.seed)

    result, code = run_guarded(job, errors=(ConfigError, EvaluationError, GatysError, FloatingPointError, ValueError),
                               interrupted=f"nothing was written ({args.out} is written when the optimisation ends)")
    if code:
        return code
    save_image(result.image, args.out)
    terms = "  ".join(f"{k} {v:.4g}" for k, v in result.terms.items())
    print(f"{terms}  ({result.iterations} iterations, {result.evaluations} evaluations, {result.seconds:.1f} s)")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
