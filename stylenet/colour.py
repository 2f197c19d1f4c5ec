"""Colour management: images that carry an ICC profile other than sRGB (a phone's Display P3, a scan's or
a museum download's Adobe RGB, a print file's CMYK) converted to sRGB when they are read, the space the
networks were trained in and every output is taken to be in (outputs carry no profile: sRGB by the web's
and the viewers' convention). Reading such a file's numbers as sRGB instead gives washed-out or shifted
colours, in the photo and, through the Gram or mean/std targets, in the style learnt from a painting.

Conversion is lcms's (Pillow's ImageCms): relative colorimetric with black-point compensation, what
photo editors use for display profiles; a profile that names itself sRGB (the usual camera tag) is left
alone, so most photos are untouched."""
from __future__ import annotations

import functools
import io
import logging
import os

from PIL import Image

try:
    from PIL import ImageCms
except ImportError:  # a Pillow built without Little CMS (PyPI's wheels have it): profiles are then ignored
    ImageCms = None

log = logging.getLogger(__name__)

_SRGB = ImageCms.createProfile("sRGB") if ImageCms else None  # lcms's built-in sRGB (IEC 61966-2-1)
_ERRORS = (OSError, ValueError, *((ImageCms.PyCMSError,) if ImageCms else ()))  # what a bad profile raises
MODES = ("RGB", "RGBA", "CMYK")  # the modes a profile is applied to (greyscale is taken as it is)


@functools.lru_cache(maxsize=16)
def _transform(icc: bytes, mode: str) -> ImageCms.ImageCmsTransform | None:
    """lcms's transform from an embedded profile to sRGB for a ``mode`` image (one of :data:`MODES`); None
    when the profile is sRGB already or does not describe the image's colours (an RGB profile on CMYK
    pixels: a broken file, whose numbers are then read as they are)."""
    profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    space = profile.profile.xcolor_space.strip()
    if space != ("CMYK" if mode == "CMYK" else "RGB") or ImageCms.getProfileDescription(profile).lower().startswith("srgb"):
        return None
    return ImageCms.buildTransform(profile, _SRGB, mode, "RGB" if mode == "CMYK" else mode,
                                   renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
                                   flags=ImageCms.Flags.BLACKPOINTCOMPENSATION)


def _conversion(img: Image.Image, path: str | os.PathLike) -> ImageCms.ImageCmsTransform | None:
    icc = img.info.get("icc_profile")
    mode = ("RGBA" if "transparency" in img.info else "RGB") if img.mode == "P" else img.mode
    if not icc or mode not in MODES:
        return None
    if ImageCms is None:
        _warn_once("this Pillow has no Little CMS (PIL.ImageCms): colour profiles are ignored, colours taken as sRGB")
        return None
    try:
        return _transform(bytes(icc), mode)
    except _ERRORS as exc:
        log.warning("%s: its colour profile cannot be read (%s); its colours are taken as sRGB", path, exc)
        return None


@functools.lru_cache(maxsize=None)
def _warn_once(message: str) -> None:
    log.warning(message)


def to_srgb(img: Image.Image, path: str | os.PathLike = "image") -> Image.Image:
    """``img`` (an opened file, its ``info`` intact) in sRGB: converted by its embedded profile, or as it is
    when it has none, an sRGB one, or one that cannot be used (logged, with ``path``). A palette image
    comes back as RGB or RGBA."""
    transform = _conversion(img, path)
    if transform is None:
        return img
    if img.mode == "P":
        img = img.convert(transform.input_mode)
    return ImageCms.applyTransform(img, transform)


def needs_conversion(path: str | os.PathLike) -> bool:
    """Whether the file at ``path`` carries a profile :func:`to_srgb` would apply (its header only: ~0.1 ms),
    for decoders that ignore profiles (torchvision.io) to hand such files to Pillow."""
    try:
        with Image.open(path) as img:
            return _conversion(img, path) is not None
    except (OSError, ValueError, SyntaxError):
        return False  # the decoder says what is wrong with it
