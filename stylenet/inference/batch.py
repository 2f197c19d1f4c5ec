"""Stylise many files: inputs from files, folders and globs; outputs mirror the input tree, are
written atomically, and existing ones are skipped so an interrupted run resumes."""
from __future__ import annotations

import glob
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from ..animated import ANIMATED_FORMATS, AnimationWriteError, frame_count, stylize_animation
from ..image import (ALPHA_SUFFIXES, IMAGE_EXTENSIONS, SAVE_FORMATS, UNREADABLE, InputImage, find_images, load_input,
                    save_output)
from .styles import mask_tensor
from .stylizer import ImageTooLargeError, Stylizer

log = logging.getLogger(__name__)
OUTPUT_FORMATS = {"png": ".png", "jpg": ".jpg", "webp": ".webp", "tiff": ".tif", "bmp": ".bmp", "gif": ".gif"}
INPUT_EXTENSIONS = (*IMAGE_EXTENSIONS, ".gif")  # (training reads IMAGE_EXTENSIONS: stills only)


@dataclass
class Summary:
    done: int = 0
    skipped: int = 0
    failed: list[tuple[Path, str]] = field(default_factory=list)
    seconds: float = 0.0

    def line(self) -> str:
        rate = self.done / self.seconds if self.seconds else 0.0
        return (f"done {self.done}, skipped {self.skipped} (output exists), failed {len(self.failed)} "
                f"in {self.seconds:.1f}s ({rate:.2f} images/s)")


def expand_inputs(inputs: list[str | Path], exclude: Path | None = None) -> list[tuple[Path, Path]]:
    """``(file, path relative to its input root)`` for files, folders (recursive) and globs.
    Earlier results are left out: files under ``exclude`` (the output folder) where it lies inside an input
    folder, or among a glob's matches (a file named on its own is always taken)."""
    pairs: list[tuple[Path, Path]] = []
    ex = exclude.resolve() if exclude is not None else None

    def kept(files: list[Path]) -> list[Path]:
        return [f for f in files if ex is None or ex not in f.resolve().parents]

    for item in map(str, inputs):
        path = Path(item)
        if path.is_dir():
            files = find_images(path, INPUT_EXTENSIONS)
            if ex is not None and path.resolve() in ex.parents:  # the output folder nested in this one
                files = kept(files)
            pairs += [(f, f.relative_to(path)) for f in files]
        elif path.is_file():
            pairs.append((path, Path(path.name)))
        elif glob.has_magic(item):
            matches = sorted(Path(m) for m in glob.glob(item, recursive=True))
            pairs += [(m, Path(m.name)) for m in kept(matches) if m.is_file() and m.suffix.lower() in INPUT_EXTENSIONS]
        else:
            raise FileNotFoundError(f"input {item!r} does not exist")
    return pairs


class MaskFolder:
    """``--style-mask masks/`` for a batch: a mask per photo, the image file at the photo's path relative to its
    input root (``masks/city/a.png`` for ``photos/city/a.jpg``; any image suffix), as a greyscale image."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def open(self, rel: Path):
        """The mask for the photo at ``rel``; FileNotFoundError or Pillow's error when it is missing or unreadable."""
        from PIL import Image

        stem = self.root / rel.with_suffix("")
        found = [p for p in sorted(stem.parent.glob(glob.escape(stem.name) + ".*")) if p.suffix.lower() in IMAGE_EXTENSIONS]
        if not found:
            raise FileNotFoundError(f"no mask for it ({stem}.png or another image suffix)")
        with Image.open(found[0]) as img:
            return img.convert("L")


def _inputs_for(inputs: list[str | Path], output_dir: Path, one_file: bool) -> list[tuple[Path, Path]]:
    """:func:`expand_inputs` for an output folder (earlier results inside an input folder left out), refusing
    what would write nothing without saying why: no images at all, or an input folder as the output."""
    if not one_file and any(Path(i).is_dir() and Path(i).resolve() == output_dir.resolve() for i in map(str, inputs)):
        raise ValueError(f"--output {output_dir} is an input folder: the results would land among the photos; give "
                         f"another folder (e.g. {output_dir / 'styled'})")
    found = expand_inputs(inputs)
    pairs = found if one_file else expand_inputs(inputs, exclude=output_dir)
    if not found:
        raise FileNotFoundError(f"no images in {', '.join(repr(str(i)) for i in inputs)} (looked for "
                                f"{', '.join(INPUT_EXTENSIONS)})")
    if not pairs:
        raise ValueError(f"every input image lies inside --output {output_dir} (earlier results are left out): give "
                         "another output folder")
    return pairs


def output_path(src: Path, rel: Path, output_dir: Path, fmt: str) -> Path:
    if fmt == "keep":
        suffix = src.suffix.lower() if src.suffix.lower() in SAVE_FORMATS else ".png"
    else:
        suffix = OUTPUT_FORMATS[fmt]
    return (output_dir / rel).with_suffix(suffix)


def is_file_output(output: str | Path) -> bool:
    """``--output result.jpg``: one image file (an image suffix, and not an existing folder), not a folder."""
    return Path(output).suffix.lower() in SAVE_FORMATS and not Path(output).is_dir()


def _check_file_output(output: Path, pairs: list[tuple[Path, Path]], fmt: str | None) -> None:
    """One input image for one output file, whose suffix is the format (a different ``fmt`` is refused)."""
    if len(pairs) != 1:
        raise ValueError(f"--output {output} is one image file, but the input has {len(pairs)} images: give an output "
                         "folder (the input tree is mirrored there)")
    same = {".jpeg": ".jpg", ".tiff": ".tif"}
    suffix = same.get(output.suffix.lower(), output.suffix.lower())
    wanted = None if fmt is None else same.get(pairs[0][0].suffix.lower(), pairs[0][0].suffix.lower()) \
        if fmt == "keep" else OUTPUT_FORMATS[fmt]
    if wanted is not None and wanted != suffix:
        raise ValueError(f"--format {fmt} asks for {wanted}, but --output {output} is a {suffix} file: drop --format "
                         "(the file's suffix sets it) or change one of them")


def stylize_paths(stylizer: Stylizer, inputs: list[str | Path], output: str | Path, *, fmt: str | None = None,
                  quality: int = 92, max_size: int | None = None, scale: float | None = None, overwrite: bool = False,
                  batch_size: int = 1, progress: bool = True, **options: Any) -> Summary:
    """Stylise every input into the folder ``output``, mirroring the input tree, in format ``fmt`` (default png;
    ``keep``: as the input); or, where ``output`` is an image file's path (:func:`is_file_output`), the one input
    into that file, in its suffix's format. Same-size images are batched (``batch_size``);
    unreadable files are logged, counted in the summary and skipped; the run goes on. ``mask`` (in ``options``)
    may be a :class:`MaskFolder`: each photo gets its own (a photo without one fails, with the reason)."""
    output_dir = Path(output)
    one_file = is_file_output(output_dir)
    summary = Summary()
    start = time.perf_counter()
    pairs = _inputs_for(inputs, output_dir, one_file)
    if one_file:
        _check_file_output(output_dir, pairs, fmt)
    fmt = fmt or "png"
    tile = options.get("tile")
    masks = options.pop("mask") if isinstance(options.get("mask"), MaskFolder) else None
    pending: dict[tuple, list[tuple[Path, Path, InputImage, Any]]] = defaultdict(list)
    bar = tqdm(total=len(pairs), desc=f"stylize {stylizer.style}", unit="img", disable=not progress)

    def flush(key: tuple) -> None:
        group = pending.pop(key, [])
        if not group:
            return
        per_photo = {} if masks is None else {"mask": torch.stack([mask for *_, mask in group])}  # (N, 1, H, W)
        try:
            outputs = stylizer(torch.stack([item.image for _, _, item, _ in group]), **options, **per_photo)
        except ImageTooLargeError as exc:
            summary.failed += [(src, str(exc)) for src, *_ in group]
            bar.update(len(group))
            return
        for (src, dst, item, _), out in zip(group, outputs):
            try:
                save_output(out, item.alpha, dst, quality)
                summary.done += 1
            except OSError as exc:
                summary.failed.append((src, f"cannot write {dst}: {exc}"))
        bar.update(len(group))

    for src, rel in pairs:
        dst = output_dir if one_file else output_path(src, rel, output_dir, fmt)
        if dst.resolve() == src.resolve():
            summary.failed.append((src, "output would overwrite the input"))
            bar.update(1)
            continue
        if dst.exists() and not overwrite:
            summary.skipped += 1
            bar.update(1)
            continue
        mask = None
        if masks is not None:
            try:
                mask = masks.open(rel)
            except (FileNotFoundError, *UNREADABLE) as exc:
                summary.failed.append((src, str(exc) if isinstance(exc, FileNotFoundError) else f"unreadable mask: {exc}"))
                bar.update(1)
                continue
        if src.suffix.lower() in ANIMATED_FORMATS and _animated(src):  # (its mask, if any, on every frame)
            _one_animation(lambda x: stylizer(x, **options, **({} if mask is None else {"mask": mask})), src, dst,
                           summary, quality=quality, max_size=max_size, scale=scale, batch_size=batch_size)
            bar.update(1)
            continue
        try:
            item = load_input(src, max_size, scale, keep_alpha=dst.suffix.lower() in ALPHA_SUFFIXES)
        except UNREADABLE as exc:
            log.warning("skipping %s: %s", src, exc)
            summary.failed.append((src, f"unreadable image: {exc}"))
            bar.update(1)
            continue
        h, w = item.image.shape[-2:]
        key = (h, w, item.alpha is not None)
        if mask is not None:  # (1, h, w) at the photo's size, to stack with the batch's others
            mask = mask_tensor(mask, (h, w))
        pending[key].append((src, dst, item, mask))
        if len(pending[key]) >= batch_size or (tile and max(h, w) > tile):
            flush(key)
    for key in list(pending):
        flush(key)
    bar.close()
    summary.seconds = time.perf_counter() - start
    return summary


def _animated(src: Path) -> bool:
    try:
        return frame_count(src) > 1
    except UNREADABLE:
        return False  # load_input reports it


def _one_animation(stylize: Callable[[torch.Tensor], torch.Tensor], src: Path, dst: Path, summary: Summary,
                   **kwargs: Any) -> None:
    """:func:`stylenet.animated.stylize_animation` for one file of a batch run: done, or failed with the reason."""
    if dst.suffix.lower() not in ANIMATED_FORMATS:
        summary.failed.append((src, f"animated ({frame_count(src)} frames), but {dst.suffix} holds one frame: use "
                                    "--format gif, webp or png (APNG), or keep"))
        return
    try:
        frames = stylize_animation(stylize, src, dst, **kwargs)
    except AnimationWriteError as exc:
        summary.failed.append((src, str(exc)))
    except UNREADABLE as exc:
        log.warning("skipping %s: %s", src, exc)
        summary.failed.append((src, f"unreadable frame: {exc}"))
    except ImageTooLargeError as exc:
        summary.failed.append((src, str(exc)))
    else:
        log.info("%s: %d frames -> %s", src, frames, dst)
        summary.done += 1
