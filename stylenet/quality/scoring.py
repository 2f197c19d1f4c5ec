"""What an evaluation scores with: the photos (:func:`load_photos`), the painting (:func:`find_style_image`)
and the loss a model trained with (:func:`build_loss`: the perceptual Gram loss, or AdaIN's own objective),
one stylised image at a time (:func:`score`). Shared by :mod:`.evaluate`, :mod:`.calibrate`, the Gatys
script and the benchmark's comparison (:mod:`stylenet.bench.compare`).
"""
from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from ..style_files import load_loss_settings
from ..image import UNREADABLE, load_image
from ..inference.batch_paths import expand_inputs
from ..losses import PerceptualLoss
from ..paths import find_painting, resolve_path

log = logging.getLogger(__name__)


class EvaluationError(ValueError):
    """Bad input to an evaluation (the message names it)."""


def load_photos(inputs: Sequence[str | os.PathLike], count: int | None, size: int) -> list[tuple[Path, torch.Tensor]]:
    """The first ``count`` readable images of ``inputs`` (files, folders, globs), longer side ``size``
    px; unreadable files are logged and skipped."""
    try:
        files = [f for f, _ in expand_inputs([resolve_path(item) for item in inputs])]
    except FileNotFoundError as exc:
        raise EvaluationError(str(exc)) from None
    photos = []
    for f in files:
        if count is not None and len(photos) >= count:
            break
        try:
            photos.append((f, load_image(f, size)))
        except UNREADABLE as exc:
            log.warning("skipping unreadable photo %s (%s)", f, exc)
    if not photos:
        raise EvaluationError(f"no readable photos in {', '.join(map(str, inputs))}")
    return photos


def find_style_image(name: str, styles_dir: str | os.PathLike = "data/styles") -> Path:
    """A style image named in model metadata (a file name) or given by the user (a path, or a bundled style's
    name such as ``the_scream``: its conf/style/*.yaml image, as AdaIN's ``--style-image`` takes it)."""
    found = find_painting(name, styles_dir)
    if found is not None:
        return found
    from ..adain.stylizer import painting_path
    from ..inference.styles import StyleError

    try:
        return painting_path(name)
    except StyleError:
        raise EvaluationError(f"style image {name!r} not found (looked in {styles_dir}); pass it with --style") from None


ADAIN_LOSSES = ("own", "johnson")


def build_loss(settings: dict[str, Any], style_image: Path, style_size: int, device: torch.device) -> PerceptualLoss:
    """The scorer for ``settings``: the perceptual (Gram) loss, or with ``"objective": "adain"`` the AdaIN
    training objective (:class:`stylenet.adain.loss.AdaINObjective`, same interface)."""
    if settings.get("objective") == "adain":
        from ..adain.loss import AdaINObjective

        loss = AdaINObjective(settings).to(device)
    else:
        loss = PerceptualLoss.from_settings(settings).to(device)
    try:
        painting = load_image(style_image, style_size)
    except UNREADABLE as exc:
        raise EvaluationError(f"style image {str(style_image)!r} is not a readable image ({exc})") from None
    loss.set_style(painting[None].to(device))
    return loss


def sync(device: torch.device) -> None:
    """Wait for a GPU's queued work (timing); nothing on a CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def score(loss: PerceptualLoss, output: torch.Tensor, content: torch.Tensor) -> dict[str, float]:
    """``loss``'s terms (content, style, tv, total) for one stylised image ``(3, H, W)`` of ``content``."""
    with torch.no_grad():
        return {k: float(v) for k, v in loss(output[None], content[None]).items()}


def adain_settings(meta: dict[str, Any]) -> dict[str, Any]:
    """An AdaIN model's training objective: its metadata's weights over conf/loss/adain.yaml's."""
    return {**load_loss_settings("conf/loss/adain.yaml"),
            **{k: meta[k] for k in ("style_layers", "content_weight", "style_weight") if k in meta},
            "vgg_weights": meta.get("model", {}).get("vgg_weights", "caffe"), "objective": "adain"}
