"""The command-line options every stylising script shares (scripts/stylize.py for photos,
scripts/stylize_video.py for video): the model and its style, tiling, colour preservation, strength,
device, precision, channels_last, compile and backend, and an AdaIN model's style images and alpha; their
checks; the Stylizer they describe; and the run of a script's job (any script's: :func:`run_guarded`), a user's
mistake or Ctrl+C one line."""
from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from typing import Any

from ..export import ModelFileError, check_model_file, find_model, read_metadata
from ..metadata import POLICIES
from .load import auto_precision, load_stylizer
from .stylizer import PRECISIONS, Stylizer


def add_stylizer_args(p: argparse.ArgumentParser, what: str = "photo", mask_clips: bool = False,
                      mask_folders: bool = False) -> None:
    """The shared options; ``what`` names an input (photo, frame); ``mask_clips`` / ``mask_folders``: --style-mask
    takes a clip (video) / a folder of masks, one per photo (stylize.py), too."""
    p.add_argument("--model", required=True, help=".safetensors, Lightning .ckpt or .onnx model, or a bundled model or "
                                                 "style name (MODELS.md: starry_night, zoo, wave, ...)")
    p.add_argument("--style", help="a multi-style model's style, or a mix: starry_night=0.7,wave=0.3 (weights normalised)")
    p.add_argument("--style-mask", metavar="MASK",
                   help=f"a greyscale image placing styles (--style first,second of a multi-style model, or AdaIN's "
                        f"--style-image first.jpg second.jpg): the first where it is black, the second where white, "
                        f"mixed where grey; three or more go at evenly spaced grey levels, black the first, white the "
                        f"last (resized to each {what})"
                        + ("; or a video or folder of frames: a mask per frame, in step" if mask_clips else "")
                        + ("; or a folder: a mask per photo, at its path relative to the input (any image suffix)"
                           if mask_folders else ""))
    p.add_argument("--style-image", nargs="+", metavar="IMAGE",
                   help="AdaIN models (--model adain): any painting(s) as the style; several are interpolated")
    p.add_argument("--style-weights", nargs="+", type=float, metavar="W",
                   help="one weight per --style-image (normalised to sum to 1)")
    p.add_argument("--alpha", type=float, help="AdaIN: 0..1 content-style trade-off in feature space (default 1)")
    p.add_argument("--style-size", type=int, default=512, help="AdaIN: longer side of the style images in px")
    p.add_argument("--tile", type=int, help="stylise in tiles of this size (bounded memory for huge images, e.g. 4K)")
    p.add_argument("--overlap", type=int, default=64, help="tile overlap in px, blended")
    p.add_argument("--preserve-color", action="store_true", help=f"keep the {what}'s colours (luminance-only transfer)")
    p.add_argument("--strength", type=float, default=1.0, help="0..1: blend of stylised and original")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, mps")
    p.add_argument("--precision", default="auto", choices=["auto", *PRECISIONS],
                   help="auto: bf16 on CPUs where it measures faster (AMX, or AVX512-BF16 and a 0.6-s probe), else "
                        "fp32 (printed at start); fp16: GPUs; bf16: GPUs and CPUs with AVX512-BF16 or AMX (elsewhere "
                        "~100x slower than fp32)")
    p.add_argument("--channels-last", action="store_true", help="channels_last memory format (PyTorch backend)")
    p.add_argument("--compile", action="store_true",
                   help="torch.compile the network (PyTorch backend): the first image of each size compiles for "
                        "seconds, later ones run faster (many photos of one size, video frames)")
    p.add_argument("--backend", default="torch", choices=["torch", "onnxruntime"])
    p.add_argument("--metadata", choices=POLICIES, default="all",
                   help=("the photo's EXIF kept in JPEG/PNG/WebP/TIFF/AVIF/HEIC outputs: all (date taken, camera, GPS...; "
                         "orientation upright, no thumbnail)" if what == "photo" else
                         "the clip's tags kept in a video output: all (the date it was shot, title, location, "
                         "languages)") + ", no-location (all but GPS / location), none")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def check_stylizer_args(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.tile is not None and not (16 <= args.tile and 0 <= args.overlap < args.tile // 2):
        p.error("--tile must be >= 16 and --overlap in [0, tile/2)")
    if not 0 <= args.strength <= 1:
        p.error("--strength must be between 0 and 1")
    if args.alpha is not None and not 0 <= args.alpha <= 1:
        p.error("--alpha must be between 0 and 1")
    if args.style_weights is not None and len(args.style_weights) != len(args.style_image or ()):
        p.error("--style-weights needs one weight per --style-image")
    if args.style_weights is not None and args.style_mask:
        p.error("--style-weights mixes style images; --style-mask places them: give one or the other")
    if args.style_weights is not None and (min(args.style_weights) < 0 or sum(args.style_weights) <= 0):
        p.error("--style-weights must be >= 0 and not all 0")
    if args.style_size < 16:
        p.error("--style-size must be >= 16")


def open_stylizer(args: argparse.Namespace, open_mask: Callable[[str], Any] | None = None) -> Stylizer:
    """The Stylizer the options describe; a multi-style model without ``--style`` is refused (one line,
    a ValueError) before any input is read, and a mix's note is printed. ``--style-mask`` is opened as an
    image, or by ``open_mask`` (the video script's: a mask clip too) into ``args.mask_image``."""
    from ..adain.stylizer import AdaINStylizer

    images = args.style_image
    path = check_model_file(find_model(args.model)[0])  # a mistyped name: one line before the precision probe
    known = _family(path)  # the options are checked against the file's own family before the probe where it says
    if known is not None:
        _check_style_options(args, known == "adain")
    if args.precision == "auto":
        onnx = str(args.model).lower().endswith(".onnx")  # an .onnx file runs with onnxruntime, in fp32
        args.precision, why = auto_precision(args.device, "onnxruntime" if onnx else args.backend)
        print(f"precision: {args.precision} (auto: {why})")
    stylizer = load_stylizer(args.model, device=args.device, backend=args.backend, precision=args.precision,
                             channels_last=args.channels_last, compile=args.compile,
                             alpha=1.0 if args.alpha is None else args.alpha, style_size=args.style_size)
    _check_style_options(args, isinstance(stylizer, AdaINStylizer))
    if args.style:
        stylizer.set_style(args.style)
    if images:
        stylizer.set_style(dict(zip(images, args.style_weights or [1.0] * len(images))) if len(images) > 1 else images[0])
    if stylizer.choice is None:
        stylizer._choose(None)
    if args.style_mask:
        args.mask_image = _style_mask(args, stylizer, open_mask or open_mask_image)
    elif stylizer.choice.note:
        print(stylizer.choice.note)
    return stylizer


def _family(path) -> str | None:
    """A .safetensors model's network family from its header ("adain" or "transformer"); None for a .ckpt or
    .onnx file or a header that does not read (loading says why)."""
    if path.suffix.lower() != ".safetensors":
        return None
    try:
        return read_metadata(path).get("model", {}).get("family") or "transformer"
    except (ModelFileError, OSError):
        return None


def _check_style_options(args: argparse.Namespace, adain: bool) -> None:
    """--style-image / --alpha only with an AdaIN model, --style only without one (ValueError, one line)."""
    if (args.style_image or args.alpha is not None) and not adain:
        raise ValueError(f"--style-image and --alpha are for AdaIN models (--model adain); {args.model} is not one "
                         "(use --style and --strength)")
    if adain and args.style:
        raise ValueError("an AdaIN model takes its style as --style-image painting.jpg, not --style")
    if adain and not args.style_image:
        raise ValueError("an AdaIN model needs a style image: --style-image painting.jpg")


def open_mask_image(path: str):
    """A ``--style-mask`` image as greyscale (one line for a missing or unreadable file)."""
    from PIL import Image

    from ..image import UNREADABLE

    try:
        with Image.open(path) as img:
            return img.convert("L")
    except FileNotFoundError:
        raise FileNotFoundError(f"--style-mask {path}: no such file") from None
    except UNREADABLE as exc:
        raise ValueError(f"--style-mask {path}: not a readable image ({type(exc).__name__})") from None


def _style_mask(args: argparse.Namespace, stylizer: Stylizer, open_mask: Callable[[str], Any]):
    """The ``--style-mask``, checked against the model and ``--style`` before any input is read."""
    import torch

    path = args.style_mask
    if stylizer.net is None:
        raise ValueError("--style-mask places the styles of a multi-style or AdaIN model (.safetensors, e.g. --model zoo; "
                         f"not an ONNX one): {args.model}"
                         f"{' with --backend ' + args.backend if args.backend != 'torch' else ''} cannot take one")
    # Two or more styles given? (one line if not); the progress bar then names the placement, not a mix.
    stylizer.style = stylizer.masked(stylizer.choice, torch.zeros(1, 1), (1, 1)).label
    return open_mask(path)


def stylizer_options(args: argparse.Namespace) -> dict:
    """The per-call options of the Stylizer (tiling, colour preservation, strength)."""
    options = {"tile": args.tile, "overlap": args.overlap, "preserve_color": args.preserve_color, "strength": args.strength}
    if getattr(args, "mask_image", None) is not None:  # set by open_stylizer for --style-mask
        options["mask"] = args.mask_image
    return options


def run_guarded(job: Callable[[], Any], *, interrupted: str, errors: tuple[type, ...]) -> tuple[Any, int]:
    """``(job(), 0)``, or for a user's mistake (one of ``errors``) the one line ``error: ...`` and ``(None, 2)``,
    or for Ctrl+C the line ``interrupted: <interrupted>`` (what was kept) and ``(None, 130)``: no traceback
    either way. The stylising scripts, export.py, evaluate.py, gatys.py and calibrate.py run their job through this;
    callers return the exit code when it is not 0."""
    try:
        return job(), 0
    except errors as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None, 2
    except KeyboardInterrupt:
        print(f"interrupted: {interrupted}", file=sys.stderr)
        return None, 130


def run_stylizer(args: argparse.Namespace, job: Callable[[Stylizer], Any], *, interrupted: str,
                 errors: tuple[type, ...] = (), open_mask: Callable[[str], Any] | None = None,
                 check: Callable[[], Any] | None = None) -> tuple[Any, int]:
    """:func:`run_guarded` for ``job`` run with the Stylizer the options describe (``open_mask``: see
    :func:`open_stylizer`); a bad model file, a missing input, a bad value or one of ``errors`` is a user's mistake.
    ``check``: the script's input and output checks, run first (a mistyped path is one line before the model
    loads and the precision probe runs)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")

    def run() -> Any:
        if check is not None:
            check()
        return job(open_stylizer(args, open_mask))

    return run_guarded(run, interrupted=interrupted, errors=(ModelFileError, FileNotFoundError, ValueError, *errors))
