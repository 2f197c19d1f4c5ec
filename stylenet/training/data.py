"""COCO-style photo datasets: the photos of :mod:`stylenet.training.photos` (a flat COCO folder, optionally
filtered by an annotations JSON, or any folder tree) decoded, resized and cropped by loader workers; batches
are float RGB ``(N, 3, S, S)`` in [0, 1] on the device."""
from __future__ import annotations

import functools
import logging
import signal
from pathlib import Path

import lightning.pytorch as pl
from lightning.pytorch.utilities import rank_zero_info
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2

from ..colour import needs_conversion
from ..image import UNREADABLE, open_rgb, pil_to_float
from .photos import DATA_KINDS, DataError, list_images, screen_images, split_files
from .sampling import ResumableSampler

DECODERS = ("pil", "torchvision")

log = logging.getLogger(__name__)


# Whether a photo's colour profile needs Pillow, read once per file and process (every epoch reads every file).
_needs_conversion = functools.lru_cache(maxsize=None)(needs_conversion)


@functools.lru_cache(maxsize=None)
def _large_jpeg(path: Path, image_size: int) -> bool:
    """A JPEG whose shorter side is at least twice ``image_size`` (a phone photo for 256-px crops): Pillow
    decodes it at 1/2-1/8 scale (open_rgb's ``min_side``) faster than torchvision.io decodes it whole."""
    try:
        with Image.open(path) as img:
            return img.format == "JPEG" and min(img.size) >= 2 * image_size
    except UNREADABLE:
        return False  # (the decoders say why)


def _decode_torchvision(path: Path) -> torch.Tensor:
    """uint8 RGB (3, H, W) with EXIF orientation, decoded by torchvision.io (libjpeg-turbo/libpng)."""
    from torchvision.io import ImageReadMode, decode_image, read_file

    return decode_image(read_file(str(path)), mode=ImageReadMode.RGB, apply_exif_orientation=True)


class ImageFileDataset(Dataset):
    """Photos resized so the shorter side is ``image_size``, then cropped to a square: a random crop
    and horizontal flip when ``train``, the centre crop otherwise. Items are ``(3, S, S)`` in [0, 1].

    Items are addressed by key (see ResumableSampler): ``key % len`` picks the photo and, when
    ``train``, the key and ``seed`` seed the crop, so the same key always gives the same crop.
    ``decoder``: "torchvision" (torchvision.io straight to a tensor, falling back to Pillow for what it
    cannot decode) or "pil". ``uint8``: items stay uint8 in [0, 255] (4x less to pass from loader
    workers and to copy to the device; StyleDataModule converts batches on the device)."""

    def __init__(self, files: list[Path], image_size: int, train: bool, decoder: str = "torchvision", seed: int = 0,
                 uint8: bool = False):
        if decoder not in DECODERS:
            raise DataError(f"data.decoder: {decoder!r} is not one of {DECODERS}")
        self.files, self.decoder, self.image_size, self.train, self.seed = list(files), decoder, image_size, train, seed
        self.uint8 = uint8
        self._warned: set[Path] = set()

    def _short_side(self, size: tuple[int, int]) -> tuple[int, int]:
        """The size ``_crop``'s resize gives (torchvision's rule: the shorter side ``image_size``, the longer
        truncated), for open_rgb to decode a large JPEG at a reduced scale and resize it once."""
        w, h = size
        short = self.image_size
        return (short, int(short * h / w)) if w <= h else (int(short * w / h), short)

    def _crop(self, image, key: int):
        image = v2.functional.resize(image, self.image_size, antialias=True)
        if not self.train:
            return v2.functional.center_crop(image, self.image_size)
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + key)
        h, w = v2.functional.get_size(image)
        top = int(torch.randint(0, h - self.image_size + 1, (1,), generator=g))
        left = int(torch.randint(0, w - self.image_size + 1, (1,), generator=g))
        image = v2.functional.crop(image, top, left, self.image_size, self.image_size)
        return v2.functional.horizontal_flip(image) if torch.rand(1, generator=g) < 0.5 else image

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, key: int) -> torch.Tensor:
        return self._item(key % len(self.files), key)

    def _item(self, index: int, key: int) -> torch.Tensor:
        # A file that passed the header check can still fail to decode (e.g. truncated): warn once and
        # use the next file instead, so every rank still gets the same number of full batches.
        for offset in range(len(self.files)):
            path = self.files[(index + offset) % len(self.files)]
            try:
                return self._load(path, key)
            except UNREADABLE as exc:
                if path not in self._warned:
                    self._warned.add(path)
                    log.warning("skipping %s: cannot decode (%s: %s)", path, type(exc).__name__, exc)
        raise DataError("no image in the dataset could be decoded")

    def _load(self, path: Path, key: int) -> torch.Tensor:
        if (self.decoder == "torchvision" and not _needs_conversion(path)  # torchvision.io ignores colour profiles
                and not _large_jpeg(path, self.image_size)):
            try:
                image = _decode_torchvision(path)
                if image.dtype == torch.uint8:
                    image = self._crop(image, key)
                    return image if self.uint8 else image.float().div_(255.0)
            except RuntimeError:
                pass  # formats torchvision.io cannot decode (e.g. TIFF, BMP) go through Pillow
        image = self._crop(open_rgb(path, self._short_side), key)
        return v2.functional.pil_to_tensor(image) if self.uint8 else pil_to_float(image)


class StyleDataModule(pl.LightningDataModule):
    """Train/validation loaders over a photo collection. ``batch_size`` is per device: the global
    batch is batch_size x devices x num_nodes (x accumulate_grad_batches). Training batches come from
    a ResumableSampler (each rank its own share of every epoch; exact mid-epoch resume), so the
    Trainer runs with ``use_distributed_sampler=False``."""

    def __init__(self, kind: str, root: str, image_size: int = 256, batch_size: int = 4, num_workers: int = 4,
                 val_size: float = 0.01, seed: int = 0, annotations: str | None = None, decoder: str = "torchvision",
                 prefetch_factor: int = 2, max_bad_fraction: float = 0.05):
        super().__init__()
        if kind not in DATA_KINDS:
            raise DataError(f"data.kind: {kind!r} is not one of {DATA_KINDS}")
        self.image_size, self.batch_size, self.num_workers = image_size, batch_size, num_workers
        self.decoder, self.prefetch_factor, self.seed = decoder, prefetch_factor, seed
        self._resumed_batch: int | None = None  # the checkpoint's batch size on a resume (load_state_dict)
        # Listing is cheap and done here so that a bad path fails before any model is built.
        files = screen_images(list_images(kind, root, annotations), max_bad_fraction)
        self.train_files, self.val_files = split_files(files, val_size, seed)
        held_out = f"data.val_size={val_size:g} holds out {len(self.val_files)} of the {len(files)} images under {root!r}"
        if len(self.val_files) > len(self.train_files):  # e.g. data=coco's 512 on a small folder of one's own
            raise DataError(f"{held_out} for validation, leaving {len(self.train_files)} to train on; lower it (a "
                            "count, or a fraction below 1 such as data.val_size=0.01)")
        if len(self.train_files) < batch_size:
            raise DataError(f"data.batch_size: {batch_size} is larger than the {len(self.train_files)} training "
                            f"images ({held_out} for validation)")

    @staticmethod
    def _worker_init(worker_id: int) -> None:
        """A loader worker leaves SIGTERM to the main process (stylenet.training.preemption), which shuts it
        down: SLURM or ``timeout`` signalling the whole group killed the workers first, and the run with them."""
        signal.signal(signal.SIGTERM, signal.SIG_IGN)

    def _loader(self, files: list[Path], train: bool) -> DataLoader:
        sampler = None
        if train:  # constant batch shapes (no recompiles), equal steps on every rank, exact resume
            trainer = self.trainer
            rank, world = (trainer.global_rank, trainer.world_size) if trainer else (0, 1)
            sampler = ResumableSampler(len(files), self.batch_size, self.seed, rank, world)
            if trainer is not None:  # resuming mid-epoch: continue where the checkpoint left off
                # `processed` counts batches whose step finished, also for checkpoints written in
                # on_train_batch_end (where `completed` still lags by one); a finished epoch skips nothing.
                done = trainer.fit_loop.epoch_loop.batch_progress.current.processed
                before, self._resumed_batch = self._resumed_batch or self.batch_size, None
                if done and before != self.batch_size:  # data.batch_size changed on a resume: the same photos
                    seen, done = done * before, done * before // self.batch_size  # (whole batches of the new size)
                    rank_zero_info(f"resume: data.batch_size {before} -> {self.batch_size}: the epoch goes on after "
                                   f"its first {done * self.batch_size} photos of this rank ({seen} were seen)")
                sampler.skip_batches = done if done < len(sampler) // self.batch_size else 0
        return DataLoader(
            self.dataset(files, train),
            batch_size=self.batch_size,
            sampler=sampler,
            drop_last=train,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            worker_init_fn=self._worker_init if self.num_workers > 0 else None,
            prefetch_factor=self.prefetch_factor if self.num_workers > 0 else None,
            pin_memory=torch.cuda.is_available(),
        )

    def state_dict(self) -> dict:
        """Kept in checkpoints (Lightning): the batch size per device, so that a resume with another
        ``data.batch_size`` goes on after the photos already seen (the checkpoint counts batches)."""
        return {"batch_size": int(self.batch_size)}

    def load_state_dict(self, state: dict) -> None:
        self._resumed_batch = int(state.get("batch_size") or self.batch_size)

    def dataset(self, files: list[Path], train: bool) -> Dataset:
        """The items of a loader over ``files``: uint8 photos (subclasses pair them with more)."""
        return ImageFileDataset(files, self.image_size, train, self.decoder, self.seed, uint8=True)

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        """uint8 batches (or tuples of them) from the loader become float RGB in [0, 1] on the device
        (new tensors)."""
        if isinstance(batch, (tuple, list)):
            return type(batch)(self.on_after_batch_transfer(b, dataloader_idx) for b in batch)
        return batch.float().div_(255.0) if batch.dtype == torch.uint8 else batch

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_files, train=True)

    def val_dataloader(self) -> DataLoader | list:
        return self._loader(self.val_files, train=False) if self.val_files else []
