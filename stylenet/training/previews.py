"""Training previews: a fixed set of probe photos stylised every N steps and at the end, saved as a
grid PNG in the run folder and sent to the active logger (as uint8: wandb turns float images black)."""
from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import torch
from torchvision.transforms.v2.functional import center_crop, resize
from torchvision.utils import make_grid

from ..image import find_images, float_to_pil, load_image, save_image
from .base import eager


class PreviewCallback(pl.Callback):
    """``photos``: a folder or list of files (default: the first ``count`` validation photos, else
    training photos). The grid is the module's :meth:`~stylenet.training.base.TrainingModule.preview`: the
    photos, then one row per style (a multi-style network: photos x styles; AdaIN: held-out paintings).
    Written by rank 0 only."""

    def __init__(self, out_dir: Path, every_n_steps: int = 500, photos: str | list[str] | None = None,
                 count: int = 4, size: int = 256):
        self.out_dir, self.every_n_steps, self.photos, self.count, self.size = out_dir, every_n_steps, photos, count, size
        self.probes: torch.Tensor | None = None

    def _probe_files(self, trainer: pl.Trainer) -> list[Path]:
        if isinstance(self.photos, str):
            return find_images(self.photos)[: self.count]
        if self.photos:
            return [Path(p) for p in self.photos][: self.count]
        dm = trainer.datamodule
        return list(getattr(dm, "val_files", []) or getattr(dm, "train_files", []))[: self.count]

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.is_global_zero:
            files = self._probe_files(trainer)
            if files:
                # Shorter side to `size`, then the centre square (no padding bars).
                self.probes = torch.stack([center_crop(resize(load_image(f), self.size, antialias=True), self.size)
                                           for f in files])

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step % self.every_n_steps == 0:
            self.write(trainer, pl_module)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.write(trainer, pl_module)

    @torch.no_grad()
    def write(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.probes is None or not trainer.is_global_zero:
            return
        was_training = pl_module.net.training
        pl_module.net.eval()
        with eager():
            cells, columns = pl_module.preview(self.probes.to(pl_module.device))
        pl_module.net.train(was_training)
        grid = make_grid(cells.float().cpu().clamp(0, 1), nrow=columns, padding=4, pad_value=1.0)
        save_image(grid, self.out_dir / f"step_{trainer.global_step:07d}.png")
        image = np.asarray(float_to_pil(grid))  # uint8 HWC
        for logger in trainer.loggers:
            if hasattr(logger, "log_image"):  # WandbLogger
                logger.log_image(key="previews", images=[image], step=trainer.global_step)
            elif hasattr(getattr(logger, "experiment", None), "add_image"):  # TensorBoard
                logger.experiment.add_image("previews", image, trainer.global_step, dataformats="HWC")
