"""Trainer assembly for train.py: checkpoints that survive crashes and preemption (resume: resume.py), progress."""
from __future__ import annotations

import inspect
import logging
import re
import time
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.fabric.plugins import TorchCheckpointIO
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint, RichProgressBar, TQDMProgressBar
from lightning.pytorch.utilities.imports import _RICH_AVAILABLE
from lightning.pytorch.utilities.exceptions import MisconfigurationException

from ..atomic import atomic_path
from .preemption import PreemptionCheckpoint
from .previews import PreviewCallback

log = logging.getLogger(__name__)


class AtomicCheckpointIO(TorchCheckpointIO):
    """torch.save to a temp file beside the target, then rename: a kill mid-write leaves the
    previous checkpoint intact instead of a truncated one."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        with atomic_path(path) as tmp:
            torch.save(checkpoint, tmp)


class ThroughputCallback(pl.Callback):
    """Training images per second over all ranks (smoothed), on the progress bar and in the logger.
    Measured between batch ends, so data loading counts; the first batch after a start or a
    validation pass is not timed. No device sync: on an accelerator this is the rate at which steps
    are queued, which the device's own rate caps once its queue is full."""

    def __init__(self, smoothing: float = 0.9):
        self.smoothing = smoothing
        self.rate: float | None = None
        self._last: float | None = None
        self.started: float | None = None  # the first training batch's end (after start-up and compilation)
        self.ended: float | None = None
        self.images = 0  # over all ranks, after the first batch
        self.steps = 0  # optimizer steps of this run (a resumed run's since it resumed)
        self._first_step = 0
        self._batch = 1

    def _reset(self, *args) -> None:
        self._last = None

    on_train_epoch_start = on_validation_end = _reset

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._last = self.started = None
        self.images = self.steps = 0
        self._first_step = trainer.global_step

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if torch.cuda.is_available() and pl_module.device.type == "cuda":
            torch.cuda.synchronize()  # the queued steps count
        self.ended = time.perf_counter()
        self.steps = trainer.global_step - self._first_step

    def summary(self) -> str | None:
        """e.g. ``trained 10,000 steps; 159,984 images after the first batch in 130 s: 1,231 images/s end to
        end``: this run's optimizer steps (a resumed run's since it resumed); wall time from the end of the
        first batch (start-up and compilation left out) to the end of training, validation and checkpoints
        included."""
        if self.started is None or self.ended is None or self.ended <= self.started:
            return None
        seconds = self.ended - self.started
        return (f"trained {self.steps:,} step{'' if self.steps == 1 else 's'}; {self.images:,} images after the first "
                f"batch in {seconds:.0f} s: {rate_text(self.images / seconds)} images/s end to end")

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch, batch_idx) -> None:
        now = time.perf_counter()
        images = len(batch[0] if isinstance(batch, (tuple, list)) else batch)  # AdaIN: (photos, paintings)
        self._batch = images * trainer.world_size
        if self.started is None:
            self.started = now
        else:
            self.images += self._batch
        if self._last is not None and now > self._last:
            rate = self._batch / (now - self._last)
            self.rate = rate if self.rate is None else self.smoothing * self.rate + (1 - self.smoothing) * rate
            bar = getattr(pl_module, "bar_metrics", None)
            if bar is not None:
                bar["images/s"] = self.rate
            # A float logged on an accelerator becomes a device tensor (a host-to-device copy): only
            # at the steps where the loss terms are read back anyway.
            every = pl_module.report_every() if hasattr(pl_module, "report_every") else 1
            if trainer.global_step % every == 0:
                pl_module.log("train/images_per_s", self.rate, on_step=True, on_epoch=False, batch_size=1)
        self._last = now


class _HostMetrics:
    """Progress-bar mixin: also shows ``pl_module.bar_metrics``, floats the module refreshes without
    a host-device sync per step (Lightning's own bar values are device tensors read every step), and the
    run's own progress: ``step`` (done/max_steps) and ``eta`` (h:mm:ss left at the pace since this start's
    first step, validation and checkpoints included). Lightning's bar counts one epoch's batches, and
    stylenet's runs are step-scheduled (40,000 steps: two COCO epochs; 300 on data/sample: twelve)."""

    _start: tuple[float, int] | None = None

    def get_metrics(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> dict:
        items = super().get_metrics(trainer, pl_module)
        items.update(getattr(pl_module, "bar_metrics", {}))
        step, total = trainer.global_step, trainer.max_steps
        if total and total > 0:
            items["step"] = f"{step}/{total}"
            now = time.monotonic()
            if self._start is None or step < self._start[1]:
                self._start = (now, step)  # after the first step: start-up and compilation left out
            elif step > self._start[1]:
                left = (now - self._start[0]) / (step - self._start[1]) * max(total - step, 0)
                minutes, seconds = divmod(round(left), 60)
                items["eta"] = f"{minutes // 60}:{minutes % 60:02d}:{seconds:02d}"
        return items


class RichBar(_HostMetrics, RichProgressBar):
    def _get_train_description(self, current_epoch: int) -> str:
        """``Epoch N``: Lightning's says ``Epoch N/-2`` for a run bounded by steps (max_epochs=-1)."""
        description = f"Epoch {current_epoch}"
        if self.trainer.max_epochs is not None and self.trainer.max_epochs > 0:
            description += f"/{self.trainer.max_epochs - 1}"
        return f"{description:{len(self.validation_description)}}"


class TQDMBar(_HostMetrics, TQDMProgressBar):
    pass


def progress_bar() -> pl.Callback:
    """Lightning's choice of bar (Rich where installed, else tqdm), showing the module's host metrics."""
    return RichBar() if _RICH_AVAILABLE else TQDMBar()


def rate_text(rate: float) -> str:
    """A rate as the summary line says it: whole numbers from 100 up (``1,231``), three significant figures
    below (``3.52``, not ``4``: a 2-core CPU's rate rounded to a whole number is off by up to 14%)."""
    return f"{rate:,.0f}" if rate >= 99.95 else f"{rate:.3g}"


def parse_summary(text: str) -> dict | None:
    """The numbers of the last :meth:`ThroughputCallback.summary` line in ``text`` (a run's output), e.g.
    ``{"steps": 600, "images": 5990, "seconds": 2022, "images_per_s": 2.96}``; None where there is none."""
    found = re.findall(r"trained ([\d,]+) steps?; ([\d,]+) images after the first batch in (\d+) s: ([\d,.]+) images/s", text)
    if not found:
        return None
    numbers = [v.replace(",", "") for v in found[-1]]
    return dict(zip(("steps", "images", "seconds", "images_per_s"), (float(v) if "." in v else int(v) for v in numbers)))


def throughput_summary(trainer: pl.Trainer) -> str | None:
    callback = next((c for c in trainer.callbacks if isinstance(c, ThroughputCallback)), None)
    return callback.summary() if callback else None


# Trainer arguments build_trainer sets itself, and where a user sets what they hold.
_SET_HERE = {"default_root_dir": "the run folder is hydra.run.dir=<folder>", "logger": "choose logger=csv, "
             "tensorboard, wandb or none", "callbacks": "stylenet sets them (checkpoint.*, preview.*)",
             "plugins": "stylenet sets them (atomic checkpoint writes)",
             "use_distributed_sampler": "StyleDataModule shards the photos itself"}


def check_trainer_args(cfg: Any) -> None:
    """Raise ConfigError naming ``trainer.<key>`` for a key ``lightning.pytorch.Trainer`` does not take
    (``+trainer.max_step=5``: a TypeError deep in Lightning otherwise), one stylenet sets itself, or a value
    Lightning takes without a word and then fails on (a ZeroDivisionError, a TypeError) or, worse, uses:
    ``gradient_clip_val=-1`` would flip every gradient's sign. Lightning checks the rest with its own message."""
    from ..config import ConfigError, number_at, value_at
    from ..paths import meant

    trainer_kwargs: Mapping[str, Any] = value_at(cfg, "trainer")
    known = set(inspect.signature(pl.Trainer.__init__).parameters) - {"self"}
    for key in trainer_kwargs:
        if key in _SET_HERE:
            raise ConfigError(f"trainer.{key}: not settable here ({_SET_HERE[key]})")
        if key not in known:
            close = meant(str(key), sorted(known))
            hint = f" (did you mean trainer.{close}?)" if close else ""
            raise ConfigError(f"trainer.{key}: not an argument of lightning.pytorch.Trainer{hint}")
    number_at(cfg, "trainer.accumulate_grad_batches", 1, integer=True)
    number_at(cfg, "trainer.max_epochs", -1, integer=True)
    for key in ("val_check_interval", "gradient_clip_val"):  # (a duration string: Lightning's to check)
        value = trainer_kwargs.get(key)
        if value is not None and not isinstance(value, str):
            number_at(cfg, f"trainer.{key}", 0.0, strict=key == "val_check_interval")


def build_trainer(trainer_kwargs: dict[str, Any], out_dir: Path, logger, every_n_steps: int,
                  preview: dict[str, Any] | None = None, every_minutes: float | None = None) -> pl.Trainer:
    ckpt_dir = out_dir / "checkpoints"
    callbacks: list[pl.Callback] = [
        # last.ckpt every `every_n_steps` steps (for resume), and the best by validation loss. No version
        # counter: a last.ckpt this callback did not write (end of run, signal) is overwritten, not kept
        # beside a last-v1.ckpt that resume=auto would never read.
        ModelCheckpoint(dirpath=ckpt_dir, every_n_train_steps=every_n_steps, save_last=True, save_top_k=0,
                        enable_version_counter=False),
        ModelCheckpoint(dirpath=ckpt_dir, monitor="val/total", mode="min", save_top_k=1, filename="best-{step}"),
        PreemptionCheckpoint(ckpt_dir / "last.ckpt"),
        ThroughputCallback(),
    ]
    if every_minutes:
        # last.ckpt also every `every_minutes` of training, so that a kill that no handler sees (SIGKILL, power
        # loss) costs at most that: on a CPU 1,000 steps of the Johnson network at 256 px are ~20 minutes
        # (3.5 images/s, batch 4). Lightning's clock: under DDP it broadcasts rank 0's decision at each step
        # (one bool), so every rank writes its part of the same step's checkpoint.
        callbacks.append(ModelCheckpoint(dirpath=ckpt_dir, train_time_interval=timedelta(minutes=every_minutes),
                                         save_last=True, save_top_k=0, enable_version_counter=False))
    if logger:
        callbacks.append(LearningRateMonitor(logging_interval="step"))
    if trainer_kwargs.get("enable_progress_bar", True):
        callbacks.append(progress_bar())
    if preview and preview.get("every_n_steps"):
        callbacks.append(PreviewCallback(out_dir / "previews", **preview))
    try:
        return pl.Trainer(**trainer_kwargs, default_root_dir=out_dir, logger=logger, callbacks=callbacks,
                          plugins=[AtomicCheckpointIO()],
                          use_distributed_sampler=False)  # StyleDataModule shards (and resumes) itself
    except (MisconfigurationException, ValueError, ModuleNotFoundError) as exc:  # trainer.*: no GPU, a strategy or
        # accelerator name Lightning does not know or whose package is missing, too many devices, ...
        from ..config import ConfigError

        hint = ""
        if str(trainer_kwargs.get("accelerator")) in ("gpu", "cuda") and not torch.cuda.is_available():
            hint = " (no CUDA GPU is visible to PyTorch here: use trainer.accelerator=auto or cpu)"
        raise ConfigError(f"trainer: {exc}{hint}") from None
