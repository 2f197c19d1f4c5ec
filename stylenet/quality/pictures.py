"""Pictures of what a model does: the demo sheet (photo | painting | result) and the styles sheet of a
multi-style model (photos x styles, and a row of two-style mixes), both labelled contact sheets."""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from ..image import load_image, open_rgb, resize_longest
from .sheet import contact_sheet
from ..inference import Stylizer


def demo_sheet(stylizer: Stylizer, style_image: str | os.PathLike, photos: list, height: int = 256,
               size: int = 384) -> Image.Image:
    """Rows of content | style | result for each photo, labelled; photos are stylised with their
    longer side at ``size`` px (texture scale follows the ratio of this to the training crops)."""
    style = resize_longest(open_rgb(style_image), 2 * height)
    cells = [[content, style, stylizer(content)] for content in (load_image(photo, size) for photo in photos)]
    captions = [[Path(photo).name, Path(style_image).stem, stylizer.style] for photo in photos]
    return contact_sheet(cells, ["content", "style", "stylenet"], captions, height)


def styles_sheet(stylizer: Stylizer, photos: Sequence[str | os.PathLike], styles: Sequence[str] | None = None,
                 mixes: Sequence[tuple[str, str]] = (), height: int = 192, size: int = 384) -> Image.Image:
    """Rows: one per photo (longer side ``size`` px), a column per style (default: all of the model's);
    then, with ``mixes``, a row of 50/50 mixes of those pairs of styles on the first photo."""
    styles = list(styles or stylizer.style_names)
    images = [load_image(p, size) for p in photos]
    cells = [[stylizer(x, style=s) for s in styles] for x in images]
    captions = [[Path(p).name if c == 0 else "" for c in range(len(styles))] for p in photos]  # styles head the columns
    if mixes:
        cells.append([stylizer(images[0], style={a: 0.5, b: 0.5}) for a, b in mixes])
        captions.append([f"mix 50/50: {a}\n+ {b}" for a, b in mixes])
    return contact_sheet(cells, styles, captions, height)


def stack(pictures: Sequence[Image.Image], gap: int = 8) -> Image.Image:
    """Pictures one under the other on white."""
    width = max(p.width for p in pictures)
    out = Image.new("RGB", (width, sum(p.height for p in pictures) + gap * (len(pictures) - 1)), "white")
    y = 0
    for p in pictures:
        out.paste(p, (0, y))
        y += p.height + gap
    return out
