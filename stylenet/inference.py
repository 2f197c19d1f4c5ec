"""Apply an exported style model to image files."""
from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from .export import Stylizer
from .image import find_images, load_image, resize_longest, open_rgb, save_image, side_by_side, stack_rows

log = logging.getLogger(__name__)


@dataclass
class Summary:
    done: int = 0
    skipped: int = 0
    failed: list[tuple[Path, str]] = field(default_factory=list)
    seconds: float = 0.0


def expand_inputs(inputs: Iterable[str | Path]) -> list[tuple[Path, Path]]:
    """``(file, path relative to its input root)`` for files and folders (searched recursively)."""
    pairs = []
    for item in map(Path, inputs):
        if item.is_dir():
            pairs += [(f, f.relative_to(item)) for f in find_images(item)]
        elif item.is_file():
            pairs.append((item, Path(item.name)))
        else:
            raise FileNotFoundError(f"input {str(item)!r} does not exist")
    return pairs


def stylize_files(stylizer: Stylizer, inputs: Iterable[str | Path], output_dir: str | Path,
                  max_size: int | None = None, suffix: str = ".png", overwrite: bool = False,
                  progress: bool = True) -> Summary:
    """Stylise every input image into ``output_dir`` (same relative tree, extension ``suffix``).

    Existing outputs are skipped unless ``overwrite`` (so an interrupted run resumes); unreadable
    files are reported in the summary and skipped.
    """
    output_dir = Path(output_dir)
    summary = Summary()
    start = time.perf_counter()
    pairs = expand_inputs(inputs)
    for src, rel in tqdm(pairs, desc=f"stylize ({stylizer.style})", unit="img", disable=not progress):
        dst = (output_dir / rel).with_suffix(suffix)
        if dst.resolve() == src.resolve():
            summary.failed.append((src, "output would overwrite the input"))
            continue
        if dst.exists() and not overwrite:
            summary.skipped += 1
            continue
        try:
            image = load_image(src, max_size)
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
            log.warning("skipping %s: %s", src, exc)
            summary.failed.append((src, f"unreadable image ({exc})"))
            continue
        save_image(stylizer(image), dst)
        summary.done += 1
    summary.seconds = time.perf_counter() - start
    return summary


def demo_sheet(stylizer: Stylizer, style_image: str | Path, photos: Sequence[str | Path], height: int = 256,
               size: int = 384) -> Image.Image:
    """Rows of content | style | result for each photo, labelled; photos are stylised with their
    longer side at ``size`` px (texture scale follows the ratio of this to the training crops)."""
    style = resize_longest(open_rgb(style_image), 2 * height)
    rows = []
    for photo in photos:
        content = load_image(photo, size)
        with torch.inference_mode():
            result = stylizer(content)
        rows.append(side_by_side([content, style, result], [Path(photo).name, Path(style_image).stem, "stylenet"], height))
    return stack_rows(rows)
