"""A photo to stylise and its output file: read at the chosen size (``--max-size``/``--scale``) with its alpha
and EXIF metadata apart (:class:`InputImage`), written in its output's format with them (:func:`save_output`).
Images are float RGB ``(3, H, W)`` in [0, 1]; reading and converting is :mod:`stylenet.image`'s."""
from __future__ import annotations

import logging
import struct
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from .atomic import atomic_path
from .formats import ALPHA_SUFFIXES, QUALITY_FORMATS, SAVE_FORMATS
from .image import Size, composite_on_white, float_to_pil, open_rgba, pil_to_float
from .metadata import FORMATS as EXIF_FORMATS
from .metadata import kept_exif

log = logging.getLogger(__name__)


@dataclass
class InputImage:
    image: torch.Tensor  # (3, H, W) in [0, 1]
    alpha: Image.Image | None
    exif: bytes | None = None  # the EXIF block its output carries (stylenet.metadata)


def input_size(size: Size, max_size: int | None = None, scale: float | None = None) -> Size:
    """An input's size scaled by ``scale`` and/or shrunk to at most ``max_size`` px a side (stylize.py's --scale
    and --max-size; at least 1 px a side)."""
    w, h = size
    if scale:
        w, h = max(1, round(w * scale)), max(1, round(h * scale))
    if max_size and max(w, h) > max_size:
        fit = max_size / max(w, h)
        w, h = max(1, round(w * fit)), max(1, round(h * fit))
    return w, h


def resize_input(rgb: Image.Image, max_size: int | None = None, scale: float | None = None) -> Image.Image:
    """An input image at :func:`input_size` (Lanczos, in one pass), for stills and animation frames alike."""
    size = input_size(rgb.size, max_size, scale)
    return rgb if size == rgb.size else rgb.resize(size, Image.Resampling.LANCZOS)


def load_input(path: Path, max_size: int | None = None, scale: float | None = None, keep_alpha: bool = False,
               metadata: str = "none") -> InputImage:
    """One image file to stylise: RGB in [0, 1] scaled by ``scale`` and/or to at most ``max_size`` px a side;
    its alpha kept apart when ``keep_alpha`` (for an output format with alpha), else composited on white; its
    EXIF metadata for the output by ``metadata`` (:data:`stylenet.metadata.POLICIES`: all, no-location, none).
    Raises one of :data:`stylenet.image.UNREADABLE` for a file that is not a usable image."""
    rgb, alpha = open_rgba(path, (lambda size: input_size(size, max_size, scale)) if max_size or scale else None)
    if not keep_alpha:  # no alpha in the output: composite on white
        rgb, alpha = composite_on_white(rgb, alpha), None
    return InputImage(pil_to_float(rgb), alpha, kept_exif(path, rgb.size, metadata))


def gif_palette(rgb: Image.Image) -> Image.Image:
    """An RGB image in GIF's 256 colours: its own palette (fast octree) with Floyd-Steinberg dithering, so a
    stylised image's gradients do not band (timings beside other methods: :class:`stylenet.animated.AnimationWriter`)."""
    return rgb.quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.FLOYDSTEINBERG)


def save_output(image: torch.Tensor, alpha: Image.Image | None, dst: Path, quality: int = 92,
                exif: bytes | None = None) -> Path:
    """Write ``image`` ``(3, H, W)`` in [0, 1] to ``dst`` atomically (format from its suffix, PNG for an unknown
    one), with ``alpha`` where the format has it; ``quality`` for the lossy ones; ``exif`` (an EXIF block,
    :func:`stylenet.metadata.kept_exif`) in JPEG, PNG, WebP, TIFF, AVIF and HEIF."""
    out = float_to_pil(image)
    suffix = dst.suffix.lower()
    if alpha is not None and suffix in ALPHA_SUFFIXES:
        out.putalpha(alpha)
    if suffix == ".gif":
        out = gif_palette(out)
    fmt = SAVE_FORMATS.get(suffix, "PNG")
    kwargs = {"quality": quality} if fmt in QUALITY_FORMATS else {}
    if exif and fmt in EXIF_FORMATS:
        try:
            with atomic_path(dst) as tmp:
                out.save(tmp, format=fmt, exif=exif, **kwargs)
            return dst
        except (RuntimeError, ValueError, TypeError, struct.error) as exc:  # a writer refusing odd tags (libtiff)
            log.warning("%s: written without its EXIF metadata (%s: %s)", dst, type(exc).__name__, exc)
    with atomic_path(dst) as tmp:
        out.save(tmp, format=fmt, **kwargs)
    return dst
