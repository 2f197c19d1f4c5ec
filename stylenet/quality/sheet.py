"""The labelled grid every picture of stylenet.quality is drawn on (evaluation sheets, the weight sweep,
the demo and styles sheets): images in rows and columns on white, headers and captions fitted to each
column."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from PIL import Image, ImageDraw, ImageFont

from ..image import float_to_pil


def _fit_text(draw: ImageDraw.ImageDraw, text: str, width: int, font) -> str:
    """``text`` shortened with an ellipsis to fit ``width`` px."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def contact_sheet(cells: Sequence[Sequence[torch.Tensor | Image.Image | None]], columns: Sequence[str] = (),
                  captions: Sequence[Sequence[str]] | None = None, height: int = 256, gap: int = 8,
                  font_size: int = 16) -> Image.Image:
    """A labelled grid on white: ``cells[r][c]`` is a float RGB tensor ``(3, H, W)`` in [0, 1], a PIL
    image, or None (left blank), scaled to ``height`` px tall; ``columns`` are headers over the
    columns and ``captions[r][c]`` text under each cell (lines split on newlines), both shortened to
    the column's width."""
    font = ImageFont.load_default(font_size)
    line = font_size + 4
    rows = [[None if im is None else (im if isinstance(im, Image.Image) else float_to_pil(im)) for im in row]
            for row in cells]
    rows = [[None if im is None else im.resize((max(1, round(im.width * height / im.height)), height),
                                                Image.Resampling.LANCZOS) for im in row] for row in rows]
    n_cols = max([len(columns), *(len(r) for r in rows)])
    widths = [max([height // 2, *(r[c].width for r in rows if c < len(r) and r[c] is not None)]) for c in range(n_cols)]
    caption_lines = [max([0, *(len(t.split("\n")) for t in (captions[i] if captions else ()))]) for i in range(len(rows))]
    header = line + gap if columns else 0
    row_heights = [height + n * line + gap for n in caption_lines]
    sheet = Image.new("RGB", (sum(widths) + gap * (n_cols + 1), gap + header + sum(row_heights)), "white")
    draw = ImageDraw.Draw(sheet)
    xs = [gap + sum(widths[:c]) + gap * c for c in range(n_cols)]
    for c, label in enumerate(columns):
        draw.text((xs[c], gap), _fit_text(draw, label, widths[c], font), fill="black", font=font)
    y = gap + header
    for r, row in enumerate(rows):
        for c, im in enumerate(row):
            if im is not None:
                sheet.paste(im, (xs[c], y))
            text = captions[r][c] if captions and c < len(captions[r]) else ""
            for k, part in enumerate(text.split("\n") if text else ()):
                draw.text((xs[c], y + height + 2 + k * line), _fit_text(draw, part, widths[c], font), fill="black", font=font)
        y += row_heights[r]
    return sheet
