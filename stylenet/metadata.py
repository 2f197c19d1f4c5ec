"""A photo's EXIF metadata carried over to its stylised version: when it was taken (what photo libraries sort
and group by), the camera and lens, exposure, author and copyright, and, unless asked not to, where it was
taken (GPS). What no longer describes the output is rewritten or left out:

- the orientation is 1 (upright): the pixels were turned upright on reading (EXIF orientation applied), and
  a kept tag 6 would turn the result a second time in every viewer;
- the embedded thumbnail is dropped (it is the unstylised photo: file browsers would show that);
- PixelXDimension / PixelYDimension are the output's size (``--max-size``, ``--scale``);
- the colour profile tag is dropped (outputs are sRGB, :mod:`stylenet.colour`), and so are a TIFF's own
  layout tags (strips, compression, bit depths) and its XMP packet (which may hold its own orientation).

Pillow reads and writes EXIF in JPEG, PNG (eXIf), WebP, TIFF, AVIF and HEIF; BMP and GIF hold none. A block that Pillow
cannot write back (malformed vendor data) is left out with a logged warning: the image is still written.

A video's tags (FFmpeg's container metadata: creation_time, title, location, ...; a stream's language and
title) go the same way through :func:`kept_tags`, without those the muxer and encoder write for themselves."""
from __future__ import annotations

import logging
import os
import struct

from collections.abc import Mapping

from PIL import ExifTags, Image

log = logging.getLogger(__name__)

POLICIES = ("all", "no-location", "none")  # stylize.py --metadata
FORMATS = ("JPEG", "PNG", "WEBP", "TIFF", "AVIF", "HEIF")  # Pillow formats whose writers take exif= (stylenet.formats)
ORIENTATION = 0x0112
PIXEL_SIZE = (0xA002, 0xA003)  # PixelXDimension, PixelYDimension (Exif IFD)
# TIFF layout tags that describe a file's own pixel storage, not the photo (TIFF spec 6.0, sections 3-8), the ICC
# profile (34675, InterColorProfile), XMP (700) and the thumbnail's offset and length in IFD0 (0x0201, 0x0202).
DROPPED = {254, 255, 256, 257, 258, 259, 262, 266, 273, 277, 278, 279, 284, 317, 322, 323, 324, 325, 338, 339, 340,
           341, 0x0201, 0x0202, 530, 531, 532, 700, 34675}
# FFmpeg's own tags: the MP4 brands, the muxer's and encoder's names, Matroska's duration, a stream's handler.
OWN_TAGS = {"major_brand", "minor_version", "compatible_brands", "encoder", "duration", "handler_name", "vendor_id"}


def _check(policy: str) -> None:
    if policy not in POLICIES:
        raise ValueError(f"metadata policy must be one of {', '.join(POLICIES)}, not {policy!r}")


def kept_exif(path: str | os.PathLike, size: tuple[int, int], policy: str = "all") -> bytes | None:
    """The EXIF block to write with the stylised version of the image at ``path``, whose output is ``size``
    (width, height) px; None when it has none, for ``policy="none"``, or when it cannot be written back.
    ``no-location`` leaves out the GPS block."""
    _check(policy)
    if policy == "none":
        return None
    try:
        with Image.open(path) as img:
            if img.format == "PNG" and "exif" not in img.info:  # none before the pixels: Pillow would decode them
                return None                                     # all to look for one after (PNG 1.2 ext.: rare)
            exif = img.getexif()
            if not len(exif):
                return None
            for tag in DROPPED & set(exif):
                del exif[tag]
            exif[ORIENTATION] = 1
            if policy == "no-location":
                exif.get_ifd(ExifTags.IFD.GPSInfo).clear()  # (Pillow writes back every IFD it has read)
                exif.pop(ExifTags.IFD.GPSInfo, None)
            if ExifTags.IFD.Exif in exif:
                sub = exif.get_ifd(ExifTags.IFD.Exif)
                for tag, value in zip(PIXEL_SIZE, size):
                    if tag in sub:
                        sub[tag] = value
            # IFD1 (the thumbnail) is never read here, so Pillow does not write it back.
            return exif.tobytes()
    except (OSError, ValueError, SyntaxError, struct.error, KeyError, TypeError) as exc:
        log.warning("%s: its EXIF metadata is not kept (it cannot be written back: %s)", path, exc)
        return None


def kept_tags(tags: Mapping[str, str], policy: str = "all") -> dict[str, str]:
    """A video's (or stream's) FFmpeg tags to write into its stylised version: all but :data:`OWN_TAGS`;
    ``no-location`` also leaves out every location tag (MP4's ``location``, QuickTime's
    ``com.apple.quicktime.location.ISO6709``), ``none`` everything."""
    _check(policy)
    if policy == "none":
        return {}
    return {key: value for key, value in tags.items() if key.lower() not in OWN_TAGS
            and not (policy == "no-location" and "location" in key.lower())}
