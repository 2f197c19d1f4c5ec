"""The painting corpus an AdaIN decoder trains on, and the (photo, painting) pairs of its batches.

Paintings: every image under ``data.paintings`` (folders and files; by default ../shared/data/paintings,
300 public-domain paintings, plus the 10 bundled styles). A fixed share is held out (never trained on)
and used for validation, previews and evaluation, so generalisation to unseen paintings is visible.

Augmentation of the paintings (the photos get StyleDataModule's random crop and flip):
- *scale*: the shorter side is resized to ``crop x s``, ``s`` log-uniform in ``scale_range`` (default
  [1, 3]), then a random ``crop``-px square. The paper resizes to 512 and crops 256 (one scale, s = 2);
  users apply a painting at any size relative to their photo, so the decoder sees brush strokes at
  several scales around the paper's.
- *horizontal flip* (p = 0.5): the style statistics do not depend on left and right; twice the crops.
- nothing on colour: the colours are the style.

Each painting pick and crop is drawn from a generator seeded by the sample's key (ResumableSampler),
so a resumed run sees exactly the same pairs, on any number of ranks.
"""
from __future__ import annotations

import math
from pathlib import Path

import torch
from torch.utils.data import Dataset
from torchvision.transforms import v2

from ..training.data import ImageFileDataset, StyleDataModule
from ..training.photos import DataError, screen_images, split_files
from ..image import find_images

_SALT = 7_919  # paintings draw from another stream than the photos' crops of the same key


def list_paintings(sources: list[str | Path]) -> list[Path]:
    """Every image under the ``sources`` (folders, searched recursively, or files), sorted, each once."""
    files: set[Path] = set()
    for source in sources:
        path = Path(source)
        if path.is_dir():
            files.update(find_images(path))
        elif path.is_file():
            files.add(path)
        else:
            raise DataError(f"data.paintings: {str(path)!r} is neither a folder nor an image file")
    if not files:
        raise DataError(f"data.paintings: no images under {', '.join(map(str, sources))}")
    return sorted(files)


class PaintingDataset(ImageFileDataset):
    """uint8 painting crops ``(3, S, S)``. ``train``: key -> a painting drawn uniformly, at a random scale
    (``scale_range``), random crop and flip; else key -> painting ``key % len``, shorter side ``2 S``
    (the paper's 512 for 256-px crops), centre crop."""

    def __init__(self, files: list[Path], image_size: int, train: bool, decoder: str = "torchvision", seed: int = 0,
                 scale_range: tuple[float, float] = (1.0, 3.0)):
        super().__init__(files, image_size, train, decoder, seed, uint8=True)
        self.scale_range = scale_range

    def _generator(self, key: int) -> torch.Generator:
        return torch.Generator().manual_seed((self.seed * 1_000_003 + key) * 2 + _SALT)

    def __getitem__(self, key: int) -> torch.Tensor:
        if not self.train:
            return self._item(key % len(self.files), key)
        index = int(torch.randint(len(self.files), (1,), generator=self._generator(key)))
        return self._item(index, key)

    def _crop(self, image, key: int):
        size = self.image_size
        if not self.train:
            return v2.functional.center_crop(v2.functional.resize(image, 2 * size, antialias=True), size)
        g = self._generator(key)
        torch.rand(1, generator=g)  # the draw __getitem__ used for the painting
        low, high = (math.log(s) for s in self.scale_range)
        short = round(size * math.exp(low + (high - low) * float(torch.rand(1, generator=g))))
        image = v2.functional.resize(image, max(size, short), antialias=True)
        h, w = v2.functional.get_size(image)
        top = int(torch.randint(0, h - size + 1, (1,), generator=g))
        left = int(torch.randint(0, w - size + 1, (1,), generator=g))
        image = v2.functional.crop(image, top, left, size, size)
        return v2.functional.horizontal_flip(image) if torch.rand(1, generator=g) < 0.5 else image


class PairDataset(Dataset):
    """Item ``key``: ``(photo, painting)``, both uint8 ``(3, S, S)``."""

    def __init__(self, photos: ImageFileDataset, paintings: PaintingDataset):
        self.photos, self.paintings = photos, paintings

    def __len__(self) -> int:
        return len(self.photos)

    def __getitem__(self, key: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.photos[key], self.paintings[key]


class PaintingDataModule(StyleDataModule):
    """StyleDataModule's photos, each paired with a painting: training pairs draw from the training
    paintings, validation pairs photo ``i`` with held-out painting ``i mod H``. ``holdout``: a fraction
    (< 1) or a count of paintings kept out of training, drawn with ``seed`` from the paintings in file-name
    order, so the same files give the same split wherever they lie (sorted paths would put data/styles
    before a GPU node's .gpu/paintings and after ../shared/data/paintings). ``held_out_names``: hold out
    the paintings of these file names instead (a decoder trained on goes on holding out its own, whatever
    split chose them); the seeded split where none of them is in the corpus."""

    def __init__(self, *args, paintings: list[str], holdout: float = 0.1, scale_range: tuple[float, float] = (1.0, 3.0),
                 held_out_names: list[str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        files = screen_images(list_paintings(paintings), kwargs.get("max_bad_fraction", 0.05))
        if len(files) < 2:
            raise DataError(f"data.paintings: need at least 2 paintings (one to train on, one held out), found {len(files)}")
        names = set(held_out_names or ())
        named = [f for f in files if f.name in names]
        if named and len(named) < len(files):
            self.train_paintings, self.held_out = [f for f in files if f.name not in names], named
        else:
            by_name = sorted(files, key=lambda f: (f.name, str(f)))
            self.train_paintings, self.held_out = split_files(by_name, holdout, self.seed) if holdout else (files, [])
        if not self.held_out:
            raise DataError("data.holdout: holds out no painting; use a fraction (e.g. 0.1) or a count >= 1")
        low, high = scale_range
        if not 0 < low <= high:
            raise DataError(f"data.scale_range: expected [low, high] with 0 < low <= high, got {list(scale_range)}")
        self.scale_range = (float(low), float(high))

    def dataset(self, files: list[Path], train: bool) -> Dataset:
        paintings = PaintingDataset(self.train_paintings if train else self.held_out, self.image_size, train,
                                    self.decoder, self.seed, self.scale_range)
        return PairDataset(super().dataset(files, train), paintings)
