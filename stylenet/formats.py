"""The image formats stylenet reads and writes, by file suffix. Pillow reads and writes JPEG, PNG, WebP,
BMP, TIFF, GIF and, in its PyPI wheels (libavif, Pillow >= 11.3), AVIF; HEIC/HEIF, the iPhone camera's
default since iOS 11, through pillow-heif's plugin (libheif), registered here where it is installed. A
format this Pillow cannot handle is simply not listed: its files are left out of folders and refused as
outputs in one line, as any other unknown suffix."""
from __future__ import annotations

from PIL import features

try:  # registers HEIF with Pillow: Image.open then reads .heic/.heif, Image.save writes "HEIF"
    from pillow_heif import register_heif_opener
except ImportError:  # pillow-heif is a dependency of the package; a bare Pillow reads no HEIC
    HEIF: tuple[str, ...] = ()
else:
    register_heif_opener()
    HEIF = (".heic", ".heif")
AVIF: tuple[str, ...] = (".avif",) if features.check("avif") else ()

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", *AVIF, *HEIF)  # stills read
SAVE_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP", ".tif": "TIFF", ".tiff": "TIFF",
                ".bmp": "BMP", ".gif": "GIF", **{s: "AVIF" for s in AVIF}, **{s: "HEIF" for s in HEIF}}
ALPHA_SUFFIXES = (".png", ".webp", ".tif", ".tiff", *AVIF, *HEIF)  # output formats that keep an input's alpha
QUALITY_FORMATS = ("JPEG", "WEBP", "AVIF", "HEIF")  # the lossy ones: --quality
