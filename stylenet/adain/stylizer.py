"""AdaINStylizer: any painting onto any photo with a trained AdaIN decoder (:mod:`stylenet.models.adain`).

The :class:`stylenet.inference.Stylizer` machinery (tiling, colour preservation, strength, devices,
precision, compile) with a style that is one or several style images instead of a name: their relu4_1
statistics are computed once per choice (``set_style``) and reused for every photo and every tile.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Union

import torch
from PIL import Image

from ..image import UNREADABLE, as_float_batch, load_image, pil_to_float
from ..inference import Stylizer
from ..inference.styles import StyleChoice, StyleError, masked, parse_mix

_log = logging.getLogger(__name__)
STYLE_SIZE = 512  # longer side of a style image (naoto0804/pytorch-AdaIN test.py --style_size 512)
StyleImage = Union[str, os.PathLike, Image.Image, torch.Tensor]


def _as_tensor(image: StyleImage, size: int) -> tuple[torch.Tensor, str]:
    """A style image as ``(3, H, W)`` in [0, 1] (longer side ``size`` for files and PIL images) and its label."""
    if isinstance(image, torch.Tensor):
        try:  # (the photos' check: uint8 divided by 255; 0..255 floats, normalised values, NaN refused)
            batch, _ = as_float_batch(image)
        except (TypeError, ValueError) as exc:
            raise StyleError(f"a style image tensor must be (3, H, W) in [0, 1]: {exc}") from None
        if batch.shape[0] != 1:
            raise StyleError(f"a style image tensor must be (3, H, W) in [0, 1], got {tuple(image.shape)} "
                             "(several paintings: a list or {painting: weight})")
        return batch[0], "tensor"
    if isinstance(image, Image.Image):
        image = image.convert("RGB")
        if size and max(image.size) > size:
            image = image.copy()
            image.thumbnail((size, size), Image.LANCZOS)
        return pil_to_float(image), "image"
    path = painting_path(image)
    try:
        tensor = load_image(path, size)
    except UNREADABLE as exc:
        raise StyleError(f"style image {str(path)!r} is not a readable image ({type(exc).__name__})") from None
    from ..style_files import enlargement_warning

    warning = enlargement_warning(path, size, "style image") if size else None
    if warning:  # (stylize.py: use --style-size); the statistics are still those of the enlarged painting
        _log.warning(warning)
    return tensor, path.stem


def painting_path(image: str | os.PathLike) -> Path:
    """The file of a style image given as a path or as a bundled painting's name (``wave``)."""
    path = Path(image)
    if not path.is_file() and not path.suffix and len(path.parts) == 1:  # a bundled painting's name: wave
        from ..style_files import ConfigError, resolve_style
        try:
            path = resolve_style(path.name)[0]
        except ConfigError:
            pass
    if path.is_dir():
        raise StyleError(f"style image {str(path)!r} is a folder: name image files (several are interpolated)")
    if not path.is_file():
        hint = ""
        if not path.suffix and len(path.parts) == 1:  # a mistyped bundled painting's name: wavez
            from ..paths import meant
            from ..style_files import bundled_styles
            names = bundled_styles()
            close = meant(path.name, names)
            hint = f" (did you mean the bundled painting {close!r}?)" if close else f" (bundled paintings: {', '.join(names)})" if names else ""
        raise StyleError(f"style image {str(path)!r} does not exist{hint}")
    return path


def style_spec(style: Any) -> list[tuple[StyleImage, float]]:
    """``(image, weight)`` pairs from: a path, PIL image or tensor; a list of them; a mapping
    ``{path: weight}``; or a string ``"a.jpg=0.7,b.jpg=0.3"`` (:func:`stylenet.inference.styles.parse_mix`)."""
    if isinstance(style, (Image.Image, torch.Tensor)):
        return [(style, 1.0)]
    if isinstance(style, (str, os.PathLike)):
        if isinstance(style, str) and "=" in style and not Path(style).is_file():
            return list(parse_mix(style).items())
        return [(style, 1.0)]
    if isinstance(style, Mapping):
        return [(k, float(v)) for k, v in style.items()]
    if isinstance(style, Sequence) and style:
        return [(s, 1.0) for s in style]
    raise StyleError(f"an AdaIN model needs a style image (a path, PIL image, tensor, list or {{path: weight}}), got {style!r}")


class AdaINStylizer(Stylizer):
    """``AdaINStylizer(net, metadata, style=..., alpha=1.0, style_size=512, ...)``; ``stylizer(photo,
    style=..., alpha=..., mask=...)`` as :class:`~stylenet.inference.Stylizer`. ``style``: see :func:`style_spec`
    (several images with weights interpolate their statistics, Huang & Belongie Sec. 7.2); ``alpha`` in
    [0, 1] trades content for style in feature space (Sec. 7.2; ``strength`` blends pixels instead);
    ``mask`` places the style images instead (Sec. 7.3: black the first, white the last, :meth:`masked`).
    The onnxruntime backend is not offered for AdaIN (export ONNX with scripts/export.py)."""

    def __init__(self, net, metadata: dict[str, Any] | None = None, *, alpha: float = 1.0,
                 style_size: int = STYLE_SIZE, **kwargs: Any):
        self.alpha, self.style_size = float(alpha), int(style_size)
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        super().__init__(net, metadata, **kwargs)
        self.width = 64  # VGG's 64 channels at full resolution: the memory estimate (check_fits)

    def set_style(self, style: Any) -> StyleChoice | None:
        if style is None:
            self.choice, self.style = None, "no style image"
            return None
        return super().set_style(style)

    def _choose(self, style: Any) -> StyleChoice:
        if isinstance(style, StyleChoice):
            return style
        if style is None:
            raise StyleError("an AdaIN model needs a style image: --style-image painting.jpg (or style=...)")
        pairs = style_spec(style)
        images, labels = zip(*(_as_tensor(image, self.style_size) for image, _ in pairs))
        weights = [w for _, w in pairs]
        if any(not w >= 0 for w in weights) or sum(weights) <= 0:  # (before the images are encoded)
            raise StyleError(f"style image weights must be >= 0 and not all 0, got {weights}")
        # Each image's own target (what a mask places), and their interpolation (reweighted).
        targets = [self.net.target([image], alpha=self.alpha)[0].cpu() for image in images]
        return self.reweighted(StyleChoice(targets[0], labels[0], parts=tuple(zip(labels, targets))), weights)

    def reweighted(self, choice: StyleChoice, weights: Sequence[float]) -> StyleChoice:
        """``choice``'s style images (its ``parts``) interpolated with ``weights``, one each (normalised to sum
        to 1), without encoding them again: the weighted mean of their statistics (AdaINNet.target; alpha
        the same in every row). The web app's mix slider for two paintings."""
        if len(weights) != len(choice.parts):
            raise StyleError(f"{len(weights)} weights for {len(choice.parts)} style images")
        if any(not w >= 0 for w in weights) or sum(weights) <= 0:
            raise StyleError(f"style image weights must be >= 0 and not all 0, got {list(weights)}")
        labels, targets = zip(*choice.parts)
        total = sum(weights)
        target = _with_alpha(sum(t * (w / total) for t, w in zip(targets, weights)), self.alpha)
        label = " + ".join(f"{name} {w / total:.2f}" for name, w in zip(labels, weights)) if len(labels) > 1 else labels[0]
        note = f"style weights normalised to sum to 1: {label}" if len(labels) > 1 and abs(total - 1) > 1e-6 else None
        return StyleChoice(target, label, note, choice.parts)

    def masked(self, choice: StyleChoice | None, mask, size: tuple[int, int]) -> StyleChoice:
        """Style images placed by ``mask`` (:func:`~stylenet.inference.styles.masked`: the first where it is black,
        the last where white), each region normalised with its own content statistics (Huang & Belongie Sec. 7.3;
        :class:`~stylenet.models.adain.AdaIN`)."""
        return masked(choice, mask, size, "a style mask places two or more style images (--style-image first.jpg "
                      "second.jpg: the first where the mask is black, the last where it is white)")

    def _net_inputs(self, choice: StyleChoice, n: int) -> tuple[torch.Tensor, ...]:
        """The AdaIN target ``(n, 3, 512)``, or with a mask's K regions their targets ``(n, K, 3, 512)`` and the
        regions ``(n, K, h, w)``."""
        if choice.regions is None:
            return (choice.weights.expand(n, *choice.weights.shape),)
        regions = choice.regions if choice.regions.dim() == 4 else choice.regions.expand(n, *choice.regions.shape)
        return choice.weights.expand(n, *choice.weights.shape), regions

    def forward(self, image, tile: int | None = None, overlap: int = 64, preserve_color: bool = False,
                strength: float = 1.0, stats_size: int = 1024, style: Any = None, mask=None,
                alpha: float | None = None):  # the base class's order, then alpha (its PIL path calls back by position)
        choice = self._choose(style) if style is not None else self.choice
        if alpha is not None:
            if not 0.0 <= alpha <= 1.0:
                raise ValueError(f"alpha must be in [0, 1], got {alpha}")
            if choice is None:
                choice = self._choose(None)
            choice = replace(choice, weights=_with_alpha(choice.weights, alpha),
                             parts=tuple((name, _with_alpha(t, alpha)) for name, t in choice.parts))
        return super().forward(image, tile, overlap, preserve_color, strength, stats_size, choice, mask)


def _with_alpha(target: torch.Tensor, alpha: float) -> torch.Tensor:
    """An AdaIN target ``(..., 3, C)`` with its alpha row set to ``alpha``."""
    target = target.clone()
    target[..., 2, :] = alpha
    return target


def fixed_style(net, metadata: dict[str, Any], style: Any, alpha: float = 1.0, style_size: int = STYLE_SIZE):
    """``(AdaINFixedStyle, metadata)``: the AdaIN network with ``style`` (as :func:`style_spec`: a painting, a
    bundled painting's name, ``"a.jpg=0.7,b.jpg=0.3"``) and ``alpha`` baked in, for a photo-only export; the
    target is the one :class:`AdaINStylizer` computes, so the export matches ``stylize.py --style-image``."""
    from ..models.adain import AdaINFixedStyle

    choice = AdaINStylizer(net, metadata, style=style, alpha=alpha, style_size=style_size).choice
    meta = {**metadata, "style": choice.label, "fixed_style": {"alpha": float(alpha), "style_size": int(style_size)}}
    (first, _), *more = style_spec(style)
    if not more and isinstance(first, (str, os.PathLike)):  # one painting file: evaluate.py scores against it
        meta["style_image"] = painting_path(first).name
    return AdaINFixedStyle(net, choice.weights), meta

