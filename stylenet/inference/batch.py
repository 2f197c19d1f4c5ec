"""Stylise many files: inputs from files, folders and globs; outputs mirror the input tree (which files and
where: :mod:`stylenet.inference.batch_paths`), are written atomically, and existing ones are skipped so an
interrupted run resumes."""
from __future__ import annotations

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
from ..formats import ALPHA_SUFFIXES
from ..image import UNREADABLE
from ..photo_io import InputImage, load_input, save_output
from .batch_paths import MaskFolder, OutputPlan, plan_outputs
from .styles import mask_tensor
from .stylizer import ImageTooLargeError, Stylizer

log = logging.getLogger(__name__)


@dataclass
class Summary:
    done: int = 0
    skipped: int = 0
    failed: list[tuple[Path, str]] = field(default_factory=list)
    seconds: float = 0.0

    def line(self) -> str:
        rate = self.done / self.seconds if self.seconds else 0.0
        pace = (f"{rate:.2f} images/s" if rate >= 1 or not self.done else f"{self.seconds / self.done:.1f} s an image")
        return (f"done {self.done}, skipped {self.skipped} (output exists), failed {len(self.failed)} "
                f"in {self.seconds:.1f}s ({pace})")


AUTO_TILE = 1024  # the tile an image too large to stylise whole falls back to (the app's, and the hint's)


def _in_tiles(stylizer: Stylizer, src: Path, image: torch.Tensor, options: dict, per_photo: dict,
              why: ImageTooLargeError, summary: Summary) -> torch.Tensor | None:
    """``image`` stylised in :data:`AUTO_TILE`-px tiles (smaller ones for an image of up to twice that), where it
    did not fit whole and no ``--tile`` was given
    (the tiles share the whole image's instance-norm statistics, taken at 1024 px: 1.5 levels of 255 from the
    untiled result on average, measured on a 1100x800 photo), with a logged line; None, counted as failed,
    where even that does not fit."""
    tile = min(AUTO_TILE, max(256, max(image.shape[-2:]) // 2))  # a smaller image still in several tiles
    log.warning("%s: too large to stylise whole (%s); in %d-px tiles", src, str(why).split(";")[0], tile)
    try:
        return stylizer(image[None], **{**options, "tile": tile}, **per_photo)[0]
    except ImageTooLargeError as exc:
        summary.failed.append((src, str(exc)))
        return None


def stylize_paths(stylizer: Stylizer, inputs: list[str | Path], output: str | Path, *, fmt: str | None = None,
                  quality: int = 92, max_size: int | None = None, scale: float | None = None, overwrite: bool = False,
                  batch_size: int = 1, progress: bool = True, metadata: str = "all", plan: OutputPlan | None = None,
                  **options: Any) -> Summary:
    """Stylise every input into the folder ``output``, mirroring the input tree, in format ``fmt`` (default png;
    ``keep``: as the input); or, where ``output`` is an image file's path (:func:`is_file_output`), the one input
    into that file, in its suffix's format. Same-size images are batched (``batch_size``);
    unreadable files are logged, counted in the summary and skipped; the run goes on. ``mask`` (in ``options``)
    may be a :class:`MaskFolder`: each photo gets its own (a photo without one fails, with the reason).
    ``metadata``: the EXIF each still output keeps (:data:`stylenet.metadata.POLICIES`; animations keep none).
    ``plan``: :func:`~.batch_paths.plan_outputs` of these inputs, output and ``fmt``, where the caller checked the
    paths already (stylize.py, before it loads the model); made here when None. Raises ValueError or
    FileNotFoundError (one line) for a run that would write nothing or the wrong thing."""
    summary = Summary()
    start = time.perf_counter()
    pairs, dsts, _, fmt = plan or plan_outputs(inputs, output, fmt)
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
            if options.get("tile") is not None:  # tiles of the user's size did not fit either
                summary.failed += [(src, str(exc)) for src, *_ in group]
                bar.update(len(group))
                return
            outputs = [_in_tiles(stylizer, src, item.image, options, {k: v[i:i + 1] for k, v in per_photo.items()}, exc,
                                 summary) for i, (src, _, item, _) in enumerate(group)]
        for (src, dst, item, _), out in zip(group, outputs):
            if out is None:  # too large even in tiles (counted)
                continue
            try:
                save_output(out, item.alpha, dst, quality, item.exif)
                summary.done += 1
            except OSError as exc:
                summary.failed.append((src, f"cannot write {dst}: {exc}"))
        bar.update(len(group))

    for (src, rel), dst in zip(pairs, dsts):
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
            item = load_input(src, max_size, scale, keep_alpha=dst.suffix.lower() in ALPHA_SUFFIXES, metadata=metadata)
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
