"""StyleTransferModule: Lightning wiring of TransformerNet + PerceptualLoss."""
from __future__ import annotations

import logging
import math
import random
import warnings
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import torch

from .image import load_image
from .losses import PerceptualLoss
from .transformer import TransformerNet

log = logging.getLogger(__name__)
# The frozen VGG is in eval mode on purpose; Lightning warns about any eval-mode module at fit start.
warnings.filterwarnings("ignore", message=r"Found \d+ module\(s\) in eval mode")

class NonFiniteLossError(RuntimeError):
    """Training stopped because the loss became NaN or infinite (loss.on_nonfinite=stop)."""


# Prefix of the frozen loss network in state_dict(): left out of checkpoints, rebuilt on load.
_LOSS_PREFIX = "perceptual."


def warmup_cosine(step: int, total_steps: int, warmup_steps: int, min_lr_ratio: float) -> float:
    """LR multiplier: linear warmup from 1/warmup_steps to 1, then cosine decay to ``min_lr_ratio``
    at ``total_steps`` (Loshchilov & Hutter 2017, SGDR, without restarts)."""
    if warmup_steps and step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


class StyleTransferModule(pl.LightningModule):
    """Trains a TransformerNet for one style image. Takes plain values only (see conf/), so
    ``StyleTransferModule.load_from_checkpoint(path)`` rebuilds everything on its own; the frozen
    VGG comes from the bundled weights, not the checkpoint."""

    def __init__(
        self,
        style_name: str,
        style_image: str,
        style_size: int = 512,
        width: int = 32,
        num_res_blocks: int = 5,
        gradient_checkpointing: bool = False,
        channels_last: bool = False,
        compile: bool = False,
        content_layers: dict[str, float] | None = None,
        style_layers: dict[str, float] | None = None,
        content_weight: float = 1.0,
        style_weight: float = 5.0,
        tv_weight: float = 0.0,
        vgg_weights: str = "caffe",
        vgg_checkpointing: bool = False,
        on_nonfinite: str = "stop",
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        weight_decay: float = 0.0,
        warmup_steps: int = 0,
        min_lr_ratio: float = 0.0,
        image_size: int = 256,
    ):
        super().__init__()
        self.save_hyperparameters()
        self.net = TransformerNet(width, num_res_blocks, gradient_checkpointing)
        self.perceptual = PerceptualLoss(
            content_layers or {"relu2_2": 1.0},
            style_layers or {"relu1_2": 1.0, "relu2_2": 1.0, "relu3_4": 1.0, "relu4_4": 1.0},
            content_weight, style_weight, tv_weight, vgg_weights, vgg_checkpointing,
        )
        self._compiled = False
        self.nonfinite_message: str | None = None
        self.skipped_batches = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def setup(self, stage: str) -> None:
        # Once per run, on every rank from the same file, so the targets are identical everywhere.
        path = Path(self.hparams.style_image)
        if not path.is_file():
            raise FileNotFoundError(f"style.image: {str(path)!r} does not exist")
        self.perceptual.set_style(load_image(path, self.hparams.style_size)[None])
        if self.hparams.channels_last:
            self.net.to(memory_format=torch.channels_last)
            self.perceptual.to(memory_format=torch.channels_last)
        if self.hparams.compile and not self._compiled:
            # In-place Module.compile keeps state_dict keys (checkpoints and exports stay plain);
            # batch shapes are constant (drop_last, fixed crops), so no recompiles after the first step.
            self.net.compile(dynamic=False)
            self.perceptual.vgg.compile(dynamic=False)
            self._compiled = True

    def _terms(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.hparams.channels_last:
            batch = batch.contiguous(memory_format=torch.channels_last)
        return self.perceptual(self.net(batch), batch)

    def _log(self, terms: dict[str, torch.Tensor], prefix: str, batch_size: int) -> None:
        training = prefix == "train"
        for name, value in terms.items():
            # Every training term on the progress bar: the balance of content and style is what to watch.
            self.log(f"{prefix}/{name}", value, prog_bar=training or name == "total", on_step=training, on_epoch=not training,
                     sync_dist=not training, batch_size=batch_size)

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor | None:
        terms = self._terms(batch)
        # One host sync per step, the price of stopping at the step that went wrong; every rank
        # takes the same decision, so DDP never waits for a rank that skipped.
        finite = self.trainer.strategy.reduce_boolean_decision(bool(torch.isfinite(terms["total"])), all=True)
        if not finite:
            bad = [n for n, v in terms.items() if n != "total" and not torch.isfinite(v)] or ["on another rank"]
            message = f"non-finite loss at step {self.global_step} ({', '.join(bad)})"
            if self.hparams.on_nonfinite == "skip":
                self.skipped_batches += 1
                log.warning("%s: batch skipped (%d so far)", message, self.skipped_batches)
            else:
                self.nonfinite_message = message
                self.trainer.should_stop = True
            return None  # no backward, no optimizer step: the weights stay as they were
        self._log(terms, "train", batch.shape[0])
        return terms["total"]

    def validation_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        self._log(self._terms(batch), "val", batch.shape[0])

    def raise_if_nonfinite(self, checkpoint: Path) -> None:
        if self.nonfinite_message:
            raise NonFiniteLossError(f"{self.nonfinite_message}; stopped with the last good weights in {checkpoint} "
                                     "(loss.on_nonfinite=skip skips such batches instead)")

    def configure_optimizers(self):
        hp = self.hparams
        optimizer = torch.optim.AdamW(self.net.parameters(), lr=hp.lr, betas=tuple(hp.betas),
                                      weight_decay=hp.weight_decay, fused=self.device.type == "cuda")
        total = int(self.trainer.estimated_stepping_batches)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: warmup_cosine(step, total, hp.warmup_steps, hp.min_lr_ratio))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        state = checkpoint["state_dict"]
        for key in [k for k in state if k.startswith(_LOSS_PREFIX)]:
            del state[key]
        # Data order and crops do not depend on global RNGs (see ResumableSampler), but anything a
        # user adds might: keep them, as plain tensors and ints (loadable with weights_only=True).
        np_state = np.random.get_state()
        checkpoint["rng_states"] = {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "python": random.getstate(),
            "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]],
        }

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        # Put the freshly built frozen VGG back so strict loading still checks the network's keys.
        state = checkpoint["state_dict"]
        for key, value in self.state_dict().items():
            if key.startswith(_LOSS_PREFIX):
                state.setdefault(key, value)
        rng = checkpoint.get("rng_states")
        if rng:
            torch.set_rng_state(rng["torch"])
            if rng["cuda"] and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(rng["cuda"])
            version, *rest = rng["python"]
            random.setstate((version, tuple(rest[0]), *rest[1:]))
            kind, keys, *more = rng["numpy"]
            np.random.set_state((kind, keys.numpy().astype(np.uint32), *more))
