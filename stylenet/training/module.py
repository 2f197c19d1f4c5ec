"""StyleTransferModule: Lightning wiring of TransformerNet + PerceptualLoss."""
from __future__ import annotations

from pathlib import Path

import torch

from .distill import Teacher
from ..export import load_transformer, save_stylizer, training_metadata
from ..image import load_image
from .finetune import copy_weights, train_only_styles
from ..losses import PerceptualLoss
from ..models import TransformerNet, one_hot
from .base import NonFiniteLossError, TrainingModule, eager, warmup_cosine  # noqa: F401 (re-exported)
from .temporal import temporal_terms
from ..video.motion import MOTION_STD, SHIFT, SyntheticMotion


class StyleTransferModule(TrainingModule):
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
    train, everything else is copied and frozen (:mod:`stylenet.training.finetune`).
    """

    FROZEN_PREFIXES = ("perceptual.", "teacher.")  # the loss's VGG, a distillation teacher

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
        # Distillation (stylenet.training.distill): a frozen trained network whose outputs the student also matches.
        self.teacher = Teacher(distill_teacher, [self.styles[i]["name"] for i in self.trained]) if distill_teacher else None
        # Temporal consistency (stylenet.training.temporal): the synthetic second frame's motion.
        self.motion = SyntheticMotion(motion_std, motion_shift)
        self._compiled = False

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

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        # No host-device sync here: a non-finite loss is recorded on the device, the optimizer step it
        # would poison is skipped on the device (on_before_optimizer_step), and both are read back
        # every report_every() steps (_check_health).
        accumulate = self.trainer.accumulate_grad_batches if self._trainer else 1
        style_ids, present = self._style_ids(batch.shape[0], self.global_step * accumulate + batch_idx % accumulate)
        terms, per_sample = self._terms(batch, style_ids)
        self._log_per_style(per_sample, style_ids, present, "train")
        self.record_step(terms, batch.shape[0])
        return terms["total"]

    def validation_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        style_ids, present = self._style_ids(batch.shape[0], batch_idx)
        with eager():  # a compiled net would recompile for eval mode and the last, smaller batch
            terms, per_sample = self._terms(batch, style_ids, generator=torch.Generator().manual_seed(batch_idx))
        self._log(terms, "val", batch.shape[0])
        self._log_per_style(per_sample, style_ids, present, "val")

    def preview(self, probes: torch.Tensor) -> tuple[torch.Tensor, int]:
        """The photos, then a row per style."""
        if self.num_styles == 1:
            styled = self.net(probes)
        else:
            styled = torch.cat([self.net(probes, one_hot(s, self.num_styles).to(probes.device))
                                for s in range(self.num_styles)])
        return torch.cat([probes.cpu(), styled.float().cpu().clamp(0, 1)]), len(probes)

    def export(self, path: Path, steps: int) -> Path:
        return save_stylizer(self.net, path, **training_metadata(self.hparams, steps))
