"""Export a trained style model (Lightning .ckpt or .safetensors) to safetensors, TorchScript and/or ONNX,
checking each against the PyTorch model on a real photo (also: python scripts/export.py,
python -m stylenet.export_cli):
    stylenet-export --model outputs/demo/checkpoints/last.ckpt --format safetensors onnx --out exported/
    stylenet-export --model light.safetensors --format onnx-fp16 onnx-int8 --out exported/   # smaller files
    stylenet-export --model wave --format onnx --out exported/   # one style of the bundled zoo, on its own
    stylenet-export --model wave --out wave.onnx   # one file: its suffix sets the format
    stylenet-export --model zoo --style starry_night=0.7,wave=0.3 --out exported/   # a mix, baked in
    stylenet-export --model adain --style painting.jpg --alpha 0.8 --format onnx --out exported/   # any painting
"""
from __future__ import annotations

import argparse
import sys

from .convert import FORMATS, ExportError, export_model
from .export import WEIGHT_DTYPES, ModelFileError
from .inference.cliargs import run_guarded
from .inference.styles import StyleError


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="export", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="Lightning .ckpt, exported .safetensors, or a bundled model or style "
                                                 "name (MODELS.md)")
    p.add_argument("--style", help="a multi-style model's style or mix (starry_night=0.7,wave=0.3), or for an AdaIN "
                                   "model a painting (or a.jpg=0.7,b.jpg=0.3): baked in, the file takes only the photo")
    p.add_argument("--alpha", type=float, default=1.0, help="AdaIN with --style: 0..1 content-style trade-off")
    p.add_argument("--style-size", type=int, default=512, help="AdaIN with --style: longer side of the painting in px")
    p.add_argument("--format", nargs="+", choices=FORMATS,
                   help="one or more (default safetensors; for an output file, its suffix's format)")
    p.add_argument("--out", required=True, help="output folder (files named after the style), or one model file's "
                                               "path: wave.onnx, wave.safetensors, wave.pt (TorchScript)")
    p.add_argument("--dtype", default="fp32", choices=list(WEIGHT_DTYPES), help="weight precision of the safetensors file")
    p.add_argument("--photo", help="photo for the parity check (default: a bundled sample photo)")
    args = p.parse_args(argv)
    if not 0 <= args.alpha <= 1 or args.style_size < 16:
        p.error("--alpha must be between 0 and 1 and --style-size >= 16")
    results, code = run_guarded(lambda: export_model(args.model, args.out, args.format, args.dtype, args.photo,
                                                     style=args.style, alpha=args.alpha, style_size=args.style_size),
                                errors=(ModelFileError, ExportError, StyleError, FileNotFoundError),
                                interrupted=f"each file already in {args.out} is complete (written atomically); "
                                            "a rerun writes them all again")
    if code:
        return code
    for r in results:
        mean = f", mean {r.mean_abs_diff:.2e}" if r.mean_abs_diff is not None else ""
        print(f"{r.format:12s} {r.path}  ({r.path.stat().st_size / 1e6:.2f} MB, max abs diff {r.max_abs_diff:.2e}{mean})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
