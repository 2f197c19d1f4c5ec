"""Content/style balance: for one style image, optimise a few photos (Gatys, the optimum the
feed-forward network is trained towards) at a sweep of style weights and lay the results out side
by side with their losses, so ``loss.style_weight`` is picked by looking instead of guessing.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from ..style_files import DEFAULT_STYLE_SIZE
from .scoring import EvaluationError, build_loss
from .gatys import stylize_by_optimization
from ..image import load_image
from .sheet import contact_sheet
from ..device import resolve_device
from ..losses import PerceptualLoss

SWEEP_FACTORS = (0.1, 0.3, 1.0, 3.0, 10.0)  # around the configured weight, half a decade apart


def _unweighted(loss: PerceptualLoss, image: torch.Tensor, content: torch.Tensor) -> dict[str, float]:
    """Content and style losses without their weights, comparable across the sweep."""
    saved = loss.content_weight, loss.style_weight
    loss.content_weight = loss.style_weight = 1.0
    try:
        with torch.no_grad():
            terms = loss(image[None], content[None])
        return {"content": float(terms["content"]), "style": float(terms["style"])}
    finally:
        loss.content_weight, loss.style_weight = saved


def sweep_style_weights(style_image: Path, photos: list[tuple[Path, torch.Tensor]], weights: Sequence[float],
                        settings: dict[str, Any], style_size: int = DEFAULT_STYLE_SIZE, iterations: int = 50,
                        optimizer: str = "lbfgs", device: str = "auto", progress: bool = True,
                        ) -> tuple[list[dict[str, Any]], list[list[torch.Tensor]]]:
    """Gatys results for every (photo, weight). ``weights`` are values of ``style.weight`` (the
    per-painting multiplier of ``settings["style_weight"]``, as in training). Returns one row of
    numbers per result (the unweighted content and style losses, the weighted total, seconds) and
    the images as rows of ``[content, style, result per weight...]`` tensors in [0, 1]."""
    if not weights or any(not w > 0 for w in weights):
        raise EvaluationError(f"style weights must be positive numbers, got {list(weights)}")
    base = float(settings.get("style_weight", 1.0))
    dev = resolve_device(device)
    loss = build_loss(settings, style_image, style_size, dev)
    style_thumb = load_image(style_image, 512)
    numbers, images = [], []
    for path, content in photos:
        row = [content, style_thumb]
        for weight in weights:
            loss.style_weight = base * float(weight)
            result = stylize_by_optimization(content.to(dev), loss, iterations, optimizer, progress=progress)
            raw = _unweighted(loss, result.image.to(dev), content.to(dev))
            numbers.append({"photo": path.name, "style.weight": float(weight), **raw,
                            "total": result.terms["total"], "seconds": result.seconds})
            row.append(result.image)
        images.append(row)
    return numbers, images


def sweep_sheet(numbers: list[dict[str, Any]], images: list[list[torch.Tensor]], style_image: Path,
                weights: Sequence[float], height: int = 256) -> Image.Image:
    columns = ["content", f"style: {style_image.stem}", *(f"style.weight={w:g}" for w in weights)]
    captions, per_row = [], len(weights)
    for r in range(len(images)):
        cells = numbers[r * per_row:(r + 1) * per_row]
        captions.append([cells[0]["photo"], style_image.name,
                         *(f"content {c['content']:.3g}\nstyle {c['style']:.3g}" for c in cells)])
    return contact_sheet(images, columns, captions, height)
