"""Which photos a run trains on: a dataset's files (a flat COCO folder, optionally filtered by a COCO
annotations JSON, or any folder tree), their headers screened (unusable files skipped with a warning each), and
the deterministic held-out split. The loaders that read them: :mod:`stylenet.training.data`."""
from __future__ import annotations

import json
import logging
import random
import warnings
from pathlib import Path

from lightning.pytorch.utilities import rank_zero_only
from PIL import Image

from ..image import IMAGE_EXTENSIONS, UNREADABLE, find_images
from ..paths import CHECKOUT

log = logging.getLogger(__name__)

DATA_KINDS = ("coco", "folder")
MISSING_DATA_HELP = (  # an installed package has no data/README.md and only 8 sample photos
    "see data/README.md for where to put COCO 2014 (e.g. data/coco/train2014/), or train on the bundled "
    "100-photo sample with `data=sample`, or on your own photos: data=folder data.root=~/photos" if CHECKOUT else
    "give COCO 2014's train2014 folder as data.root=..., or train on your own photos: data=folder "
    "data.root=~/photos (any folder tree of images)"
)



class DataError(ValueError):
    """The dataset cannot be used: missing folder, no images, unreadable annotations."""


def check_image(path: Path) -> str | None:
    """Why ``path`` cannot be used as a photo (None if its header is fine). Reads the header only:
    ~0.1 ms a file, so a full COCO listing is screened in seconds."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                w, h = img.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        return f"larger than Pillow's decompression-bomb limit ({exc})"
    except UNREADABLE as exc:
        return f"not a readable image ({type(exc).__name__}: {exc})" if path.stat().st_size else "empty file"
    if w < 1 or h < 1:
        return f"has no pixels ({w}x{h})"
    return None


def screen_images(files: list[Path], max_bad_fraction: float) -> list[Path]:
    """Drop unusable files with one warning each (path and reason) and a count; stop with a
    DataError if more than ``max_bad_fraction`` of them are unusable."""
    good, bad = [], 0
    for path in files:
        reason = check_image(path)
        if reason is None:
            good.append(path)
        else:
            bad += 1
            _warn(f"skipping {path}: {reason}")
    if bad:
        _warn(f"skipped {bad} of {len(files)} files as unusable; training on {len(good)}")
    if not good or bad > max_bad_fraction * len(files):
        raise DataError(f"data.max_bad_fraction: {bad} of {len(files)} files ({bad / len(files):.0%}) are unusable, "
                        f"more than the allowed {max_bad_fraction:.0%}; fix the dataset or raise data.max_bad_fraction")
    return good


@rank_zero_only
def _warn(message: str) -> None:
    log.warning(message)


def list_images(kind: str, root: str | Path, annotations: str | Path | None = None) -> list[Path]:
    """The sorted image files of a dataset. ``kind="coco"`` with ``annotations`` takes the file
    list from the JSON's ``images[].file_name`` (files missing on disk are left out and counted)."""
    root = Path(root)
    if root.is_file():  # one photo, a zip, an annotations file: data.root takes the folder of the photos
        raise DataError(f"data.root: {str(root)!r} is a file; give the folder that holds the photos (any depth), "
                        f"e.g. data.root={str(root.parent)!r}")
    if not root.is_dir():
        raise DataError(f"data.root: dataset folder {str(root)!r} does not exist; {MISSING_DATA_HELP}")
    if kind == "coco" and annotations:
        ann_path = Path(annotations)
        try:
            names = [im["file_name"] for im in json.loads(ann_path.read_text())["images"]]
        except FileNotFoundError:
            raise DataError(f"data.annotations: {str(ann_path)!r} does not exist") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise DataError(f"data.annotations: {str(ann_path)!r} is not a COCO annotations JSON "
                            f"with images[].file_name ({exc})") from None
        files = sorted({root / n for n in names if (root / n).is_file()})
        if not files:
            raise DataError(f"data.annotations: none of the {len(names)} images listed in {str(ann_path)!r} "
                            f"exist under data.root={str(root)!r}")
        return files
    files = find_images(root)
    if not files:
        raise DataError(f"data.root: no images ({', '.join(IMAGE_EXTENSIONS)}) under {str(root)!r}; {MISSING_DATA_HELP}")
    return files


def split_files(files: list[Path], val_size: float, seed: int) -> tuple[list[Path], list[Path]]:
    """Deterministic held-out split: ``val_size`` < 1 is a fraction, >= 1 a count of images."""
    n_val = round(len(files) * val_size) if val_size < 1 else int(val_size)
    n_val = min(n_val, len(files) - 1)
    shuffled = list(files)
    random.Random(seed).shuffle(shuffled)
    return sorted(shuffled[n_val:]), sorted(shuffled[:n_val])
