"""AdaINModule: Lightning wiring of the AdaIN decoder (:class:`stylenet.models.adain.AdaINNet`) and its
loss (:class:`stylenet.adain.loss.AdaINLoss`), trained on (photo, painting) pairs
(:class:`stylenet.adain.corpus.PaintingDataModule`) by the same machinery as every stylenet model:
train.py, DDP, exact resume, non-finite handling, previews, loggers."""
from __future__ import annotations

from pathlib import Path

import torch

from ..export import save_stylizer
from ..image import load_image
from ..models.adain import ENCODER_LAYER, STYLE_LAYERS, AdaINNet, make_target
from ..training.base import TrainingModule, eager
from .loss import AdaINLoss

# conf/loss/adain.yaml's per-layer weights: (437 / mean activation)^2 (see stylenet.adain.loss).
DEFAULT_STYLE_LAYERS = {"relu1_1": 437.0, "relu2_1": 16.3, "relu3_1": 15.0, "relu4_1": 1.0}
PREVIEW_PAINTINGS = 4  # held-out paintings shown in the previews, one row each


class AdaINModule(TrainingModule):
    """Trains the decoder only (the VGG encoder is frozen and rebuilt from the bundled weights, never
    checkpointed). Batches are ``(photos, paintings)``, float RGB ``(N, 3, S, S)`` in [0, 1]."""

    def __init__(
        self,
        decoder_width: int = 256,
        vgg_weights: str = "caffe",
        style_layers: dict[str, float] | None = None,
        content_weight: float = 1.0,
        style_weight: float = 10.0,
        channels_last: bool = False,
        compile: bool = False,
        on_nonfinite: str = "stop",
        lr: float = 1e-4,
        betas: tuple[float, float] = (0.9, 0.999),
        weight_decay: float = 0.0,
        warmup_steps: int = 0,
        min_lr_ratio: float = 0.0,
        image_size: int = 256,
        paintings: int = 0,
        held_out: list[str] | None = None,
        init_from: str | None = None,
    ):
        super().__init__()
        self.save_hyperparameters()
        self.net = AdaINNet(decoder_width, vgg_weights)
        if init_from:  # go on training a trained decoder (a resumed run then loads its checkpoint over it)
            from ..export import load_transformer

            self.net.decoder.load_state_dict(load_transformer(init_from)[0].decoder.state_dict())
        layers = style_layers or DEFAULT_STYLE_LAYERS
        unknown = sorted(set(layers) - set(STYLE_LAYERS) - {"relu5_1"})
        if unknown:
            raise ValueError(f"loss.style_layers: {unknown} are deeper than AdaIN's encoder (up to {ENCODER_LAYER}) "
                             f"or not VGG relu layers; use {', '.join(STYLE_LAYERS)}")
        self.loss = AdaINLoss(self.net.encoder, layers, content_weight, style_weight)
        self.preview_paintings: torch.Tensor | None = None
        self._compiled = False

    def forward(self, photos: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.net(photos, target)

    def setup(self, stage: str) -> None:
        if self.hparams.channels_last:
            self.net.to(memory_format=torch.channels_last)
        if self.hparams.compile and not self._compiled:
            self.net.decoder.compile(dynamic=False)
            self.net.encoder.compile(dynamic=False)
            self._compiled = True
        held = getattr(getattr(self, "_trainer", None) and self.trainer.datamodule, "held_out", None) or []
        size = self.hparams.image_size
        if held:  # shorter side 2 x crop: the scale validation uses (stylenet.adain.corpus)
            from torchvision.transforms.v2.functional import center_crop, resize
            self.preview_paintings = torch.stack([center_crop(resize(load_image(f), 2 * size, antialias=True), 2 * size)
                                                  for f in held[:PREVIEW_PAINTINGS]])

    def _terms(self, photos: torch.Tensor, paintings: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        if self.hparams.channels_last:
            photos = photos.contiguous(memory_format=torch.channels_last)
            paintings = paintings.contiguous(memory_format=torch.channels_last)
        with torch.no_grad():
            content = self.net.encode(photos)[ENCODER_LAYER]
            stats = self.loss.style_stats(paintings)
            target = self.net.adain(content, make_target(*stats[ENCODER_LAYER]))
        output = self.net.decoder(target)
        return self.loss(output, target, stats)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        photos, paintings = batch
        terms, _ = self._terms(photos, paintings)
        self.record_step(terms, photos.shape[0])
        return terms["total"]

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        with eager():
            terms, _ = self._terms(*batch)
        self._log(terms, "val", batch[0].shape[0])

    def preview(self, probes: torch.Tensor) -> tuple[torch.Tensor, int]:
        """A header row (blank, the photos), then per held-out painting: the painting, its outputs."""
        blank = torch.ones_like(probes[:1]).cpu()
        cells = [blank, probes.cpu()]
        size = probes.shape[-1]
        for painting in (self.preview_paintings if self.preview_paintings is not None else []):
            target = self.net.target([painting.to(probes.device)])
            thumb = torch.nn.functional.interpolate(painting[None], size=(size, size), mode="area")
            cells += [thumb, self.net(probes, target).float().cpu().clamp(0, 1)]
        return torch.cat(cells), len(probes) + 1

    def export(self, path: Path, steps: int) -> Path:
        hp = self.hparams
        meta = {key: hp[key] for key in ("content_weight", "style_weight", "image_size", "vgg_weights")}
        meta.update(style="any painting (AdaIN)", style_layers=dict(self.loss.style_layers), steps=steps,
                    paintings=hp.paintings, held_out=list(hp.held_out or []))
        if hp.get("init_from"):  # what it went on from, and that one's own steps
            from ..export import lineage

            meta["init_from"] = lineage(hp.init_from)
        return save_stylizer(self.net, path, **meta)
