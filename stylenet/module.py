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

from .distill import Teacher
from .export import load_transformer
from .image import load_image
from .finetune import copy_weights, train_only_styles, trainable
from .losses import PerceptualLoss
from .nonfinite import StepHealth
from .models import TransformerNet, one_hot
from .temporal import temporal_terms
from .video.motion import MOTION_STD, SHIFT, SyntheticMotion

log = logging.getLogger(__name__)
# The frozen VGG is in eval mode on purpose; Lightning warns about any eval-mode module at fit start.
warnings.filterwarnings("ignore", message=r"Found \d+ module\(s\) in eval mode")

class NonFiniteLossError(RuntimeError):
    """Training stopped because the loss became NaN or infinite (loss.on_nonfinite=stop)."""


# Prefixes of the frozen networks in state_dict() (the loss's VGG, a distillation teacher): left out of
# checkpoints, rebuilt on load.
_FROZEN_PREFIXES = ("perceptual.", "teacher.")


def eager():
    """Run compiled modules eagerly inside this block (validation, previews): with model.compile the
    training step's graph is the only one compiled, so nothing recompiles after the first step."""
    return torch.compiler.set_stance("force_eager")


def warmup_cosine(step: int, total_steps: int, warmup_steps: int, min_lr_ratio: float) -> float:
    """LR multiplier: linear warmup from 1/warmup_steps to 1, then cosine decay to ``min_lr_ratio``
    at ``total_steps`` (Loshchilov & Hutter 2017, SGDR, without restarts)."""
    if warmup_steps and step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


class StyleTransferModule(pl.LightningModule):
    """Trains a TransformerNet for one style image, or for several (``styles``: a list of ``{"name",
    "image", "size", "weight"}``; conditional instance norm, one network). Takes plain values only
    (see conf/), so ``StyleTransferModule.load_from_checkpoint(path)`` rebuilds everything on its own;
    the frozen VGG comes from the bundled weights, not the checkpoint.

    Several styles: every sample of a batch gets a style, in turn by its position in the run (sample
    ``k`` of the whole run, over all ranks, gets style ``k mod S``), so each batch mixes styles and each
    style gets the same share of the photos; a step's gradient then pulls the shared convolutions
    towards all styles at once instead of one style per step (and positions make it exact on resume).

    Distillation: ``distill_teacher`` (a trained model holding every style of the run) adds a ``distill``
    term, ``distill_weight`` x the content loss between the network's and the teacher's outputs.

    Adding styles to a trained network: ``init_from`` (its exported file or checkpoint) and
    ``train_styles`` (the indices of the new entries of ``styles``): only those styles' norm parameters
    train, everything else is copied and frozen (:mod:`stylenet.finetune`).
    """

    def __init__(
        self,
        style_name: str,
        style_image: str,
        style_size: int = 512,
        width: int = 32,
        num_res_blocks: int = 5,
        architecture: dict | None = None,
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
        styles: list[dict] | None = None,
        train_styles: list[int] | None = None,
        init_from: str | None = None,
        distill_teacher: str | None = None,
        distill_weight: float = 1.0,
        temporal_weight: float = 0.0,
        noise_weight: float = 0.0,
        motion_std: float = MOTION_STD,
        motion_shift: float = SHIFT,
    ):
        super().__init__()
        self.save_hyperparameters()
        # One entry per style; a single-style run's weight is already in style_weight.
        self.styles = [dict(s) for s in styles] if styles else [
            {"name": style_name, "image": style_image, "size": style_size, "weight": 1.0}]
        self.trained = list(train_styles) if train_styles is not None else list(range(len(self.styles)))
        # Loss style k (the k-th trained style) is network style trained[k]: a device-side lookup.
        self.register_buffer("_trained_index", torch.tensor(self.trained, dtype=torch.long), persistent=False)
        self.net = TransformerNet(width, num_res_blocks, gradient_checkpointing, num_styles=len(self.styles),
                                  **(architecture or {}))
        if init_from:
            copy_weights(self.net, load_transformer(init_from)[0])
        if len(self.trained) < len(self.styles):
            train_only_styles(self.net, self.trained)
        self.perceptual = PerceptualLoss(
            content_layers or {"relu2_2": 1.0},
            style_layers or {"relu1_2": 1.0, "relu2_2": 1.0, "relu3_4": 1.0, "relu4_4": 1.0},
            content_weight, style_weight, tv_weight, vgg_weights, vgg_checkpointing,
        )
        # Distillation (stylenet.distill): a frozen trained network whose outputs the student also matches.
        self.teacher = Teacher(distill_teacher, [self.styles[i]["name"] for i in self.trained]) if distill_teacher else None
        # Temporal consistency (stylenet.temporal): the synthetic second frame's motion.
        self.motion = SyntheticMotion(motion_std, motion_shift)
        self._compiled = False
        self.nonfinite_message: str | None = None
        self._skipped_seen = 0
        self._health: StepHealth | None = None  # device-side record of non-finite steps
        # Host floats for the progress bar (stylenet.training.progress_bar), refreshed without a
        # per-step host-device sync: every step on a CPU, every log_every_n_steps on an accelerator.
        self.bar_metrics: dict[str, float] = {}

    @property
    def num_styles(self) -> int:
        return len(self.styles)

    def style_weights(self, style_ids: torch.Tensor) -> torch.Tensor | None:
        """One-hot ``(N, S)`` network weights for loss-style indices (None for a one-style network)."""
        return one_hot(self._trained_index[style_ids], self.num_styles) if self.num_styles > 1 else None

    def forward(self, x: torch.Tensor, style: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(x, style)

    def setup(self, stage: str) -> None:
        # Once per run, on every rank from the same files, so the targets are identical everywhere.
        images = []
        for style in (self.styles[i] for i in self.trained):  # only the styles this run trains
            path = Path(style["image"])
            if not path.is_file():
                raise FileNotFoundError(f"style.image: {str(path)!r} does not exist")
            images.append(load_image(path, style["size"])[None])
        self.perceptual.set_styles(images, [self.styles[i]["weight"] for i in self.trained])
        if self.hparams.channels_last:
            self.net.to(memory_format=torch.channels_last)
            self.perceptual.to(memory_format=torch.channels_last)
        if self.hparams.compile and not self._compiled:
            # In-place Module.compile keeps state_dict keys (checkpoints and exports stay plain);
            # batch shapes are constant (drop_last, fixed crops), so no recompiles after the first step.
            self.net.compile(dynamic=False)
            self.perceptual.vgg.compile(dynamic=False)
            self._compiled = True

    def _style_ids(self, batch_size: int, position: int) -> tuple[torch.Tensor | None, list[int]]:
        """Style index of every sample of this rank's ``position``-th batch, ``(N,)`` made on the device
        (a kernel with scalar arguments: no host-to-device copy), and the styles present (host ints).
        None for a one-style network."""
        if self.num_styles == 1:
            return None, [0]
        world, rank = (self.trainer.world_size, self.trainer.global_rank) if self._trainer else (1, 0)
        first, count = (position * world + rank) * batch_size, len(self.trained)
        present = sorted({(first + i) % count for i in range(batch_size)})
        return (torch.arange(batch_size, device=self.device) + first) % count, present

    def _terms(self, batch: torch.Tensor, style_ids: torch.Tensor | None = None,
               generator: torch.Generator | None = None) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Loss terms, and every sample's weighted style loss ``(N,)``. ``generator``: the random motion
        and noise of the temporal terms (validation passes a seeded one: the same numbers every time)."""
        if self.hparams.channels_last:
            batch = batch.contiguous(memory_format=torch.channels_last)
        style = self.style_weights(style_ids) if style_ids is not None else None
        teacher = self.teacher(batch, style_ids) if self.teacher is not None else None
        output = self.net(batch, style)
        terms, per_sample = self.perceptual.per_sample(output, batch, style_ids=style_ids, teacher_output=teacher,
                                                       teacher_weight=self.hparams.distill_weight)
        if self.hparams.temporal_weight or self.hparams.noise_weight:
            extra = temporal_terms(lambda x: self.net(x, style), batch, output, motion=self.motion, generator=generator,
                                   temporal_weight=self.hparams.temporal_weight, noise_weight=self.hparams.noise_weight)
            total = terms.pop("total") + sum(extra.values())
            terms = {**terms, **extra, "total": total}
        return terms, per_sample

    def _log_per_style(self, per_sample: torch.Tensor, style_ids: torch.Tensor | None, present: list[int],
                       prefix: str) -> None:
        """``<prefix>/style/<name>``: each present style's mean weighted style loss over its samples."""
        if style_ids is None:
            return
        count = len(self.trained)
        sums = torch.zeros(count, device=per_sample.device).index_add_(0, style_ids, per_sample)
        counts = torch.zeros(count, device=per_sample.device).index_add_(0, style_ids, torch.ones_like(per_sample))
        means = sums / counts.clamp(min=1)
        training = prefix == "train"
        for i in present:
            self.log(f"{prefix}/style/{self.styles[self.trained[i]]['name']}", means[i], on_step=training,
                     on_epoch=not training, sync_dist=not training, batch_size=max(1, len(per_sample) // count))

    def _log(self, terms: dict[str, torch.Tensor], prefix: str, batch_size: int) -> None:
        training = prefix == "train"
        for name, value in terms.items():
            # Tensors go to the logger, which converts them only when it writes (every log_every_n_steps);
            # the progress bar gets host floats (bar_metrics), since Lightning converts its bar values with
            # .item() every step, a host-device sync.
            self.log(f"{prefix}/{name}", value, prog_bar=not training and name == "total", on_step=training,
                     on_epoch=not training, sync_dist=not training, batch_size=batch_size)

    def report_every(self) -> int:
        """Steps between host reads of device values (bar, non-finite check): 1 on a CPU (free), else
        the trainer's log_every_n_steps (each read waits for the device to finish its queue)."""
        return 1 if self.device.type == "cpu" else max(1, self.trainer.log_every_n_steps)

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        # No host-device sync here: a non-finite loss is recorded on the device, the optimizer step it
        # would poison is skipped on the device (on_before_optimizer_step), and both are read back
        # every report_every() steps (_check_health).
        accumulate = self.trainer.accumulate_grad_batches if self._trainer else 1
        style_ids, present = self._style_ids(batch.shape[0], self.global_step * accumulate + batch_idx % accumulate)
        terms, per_sample = self._terms(batch, style_ids)
        self._log_per_style(per_sample, style_ids, present, "train")
        values = torch.stack([v.detach().float() for v in terms.values()])
        if self._health is None:
            self._health = StepHealth(list(terms), values.device)
        self._health.record_loss(values)
        self._log(terms, "train", batch.shape[0])
        if self.global_step % self.report_every() == 0:
            self.bar_metrics.update(zip(terms, values.tolist()))
        return terms["total"]

    def on_before_optimizer_step(self, optimizer) -> None:
        # Non-finite gradients (from a NaN/inf loss here or, under DDP, on any rank: gradients are
        # all-reduced, so every rank sees the same) skip the fused AdamW update on the device, as
        # GradScaler does. With on_nonfinite=stop every later step is skipped too, so the weights stay
        # the last good ones until the host notices and stops.
        if self._health is None:
            return
        grads = [p.grad for p in self.net.parameters() if p.grad is not None]
        skip = self._health.record_grads(grads, self.global_step, sticky=self.hparams.on_nonfinite == "stop")
        if getattr(self.trainer.precision_plugin, "scaler", None) is None:  # fp16's scaler sets its own
            getattr(optimizer, "_optimizer", optimizer).found_inf = skip

    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        if self.global_step % self.report_every() == 0:
            self._check_health()

    def on_train_end(self) -> None:
        self._check_health()

    def _check_health(self) -> None:
        """Host read of the device-side record (one sync): stop, or report skipped batches."""
        if self._health is None:
            return
        first_step, bad_terms, bad_steps = self._health.read()
        any_bad = first_step >= 0
        if self.trainer.world_size > 1:  # every rank takes the same decision
            any_bad = self.trainer.strategy.reduce_boolean_decision(any_bad, all=False)
        if not any_bad:
            return
        names = [n for n, bad in zip(self._health.names, bad_terms) if bad and n != "total"] or ["on another rank"]
        message = f"non-finite loss at step {first_step} ({', '.join(names)})"
        if self.hparams.on_nonfinite == "skip":
            if bad_steps > self._skipped_seen:
                log.warning("%s: %d batch(es) skipped so far", message, bad_steps)
                self._skipped_seen = bad_steps
        elif self.nonfinite_message is None:
            self.nonfinite_message = message
            self.trainer.should_stop = True

    @property
    def skipped_batches(self) -> int:
        """Optimizer steps skipped for non-finite losses or gradients so far (a host read)."""
        return self._health.read()[2] if self._health is not None else 0

    def validation_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        style_ids, present = self._style_ids(batch.shape[0], batch_idx)
        with eager():  # a compiled net would recompile for eval mode and the last, smaller batch
            terms, per_sample = self._terms(batch, style_ids, generator=torch.Generator().manual_seed(batch_idx))
        self._log(terms, "val", batch.shape[0])
        self._log_per_style(per_sample, style_ids, present, "val")

    def raise_if_nonfinite(self, checkpoint: Path) -> None:
        if self.nonfinite_message:  # set by _check_health, at the latest in on_train_end
            raise NonFiniteLossError(f"{self.nonfinite_message}; stopped with the last good weights in {checkpoint} "
                                     "(loss.on_nonfinite=skip skips such batches instead)")

    def configure_optimizers(self):
        hp = self.hparams
        # Fused: one kernel for all parameters (CUDA and CPU), and it can skip a step on the device
        # (found_inf, see on_before_optimizer_step) without a host-device sync.
        optimizer = torch.optim.AdamW(trainable(self.net), lr=hp.lr, betas=tuple(hp.betas),
                                      weight_decay=hp.weight_decay, fused=True)
        total = int(self.trainer.estimated_stepping_batches)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: warmup_cosine(step, total, hp.warmup_steps, hp.min_lr_ratio))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        state = checkpoint["state_dict"]
        for key in [k for k in state if k.startswith(_FROZEN_PREFIXES)]:
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
            if key.startswith(_FROZEN_PREFIXES):
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
