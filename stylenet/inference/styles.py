"""Choosing a style of a multi-style model: a name, or a mix of several (``starry_night=0.7,wave=0.3``
or ``{"starry_night": 0.7, "wave": 0.3}``) turned into the network's style weights.

Mixing interpolates the instance norms' scale and shift (Dumoulin et al. 2017, Sec. 4.2); weights are
normalised to sum to 1 and the label says so when they did not.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image
from torchvision.transforms.functional import pil_to_tensor

from ..paths import meant


class StyleError(ValueError):
    """An unknown style name or a malformed mix (the message lists the model's styles)."""


def style_names(metadata: Mapping[str, Any]) -> list[str]:
    """The styles a model holds, in the network's order (one for a single-style model)."""
    styles = metadata.get("styles")
    if styles:
        return [str(s["name"]) for s in styles]
    return [str(metadata.get("style", "unknown"))]


def parse_mix(spec: str | Mapping[str, float] | Sequence[str] | None) -> dict[str, float]:
    """``None``/"" -> {}; ``"wave"`` -> {"wave": 1}; ``"a=0.7,b=0.3"`` -> {"a": 0.7, "b": 0.3}; a mapping as floats;
    a list of names, ``["a", "b"]``, an even mix (as AdaIN takes a list of paintings)."""
    if spec is None or spec == "":
        return {}
    if isinstance(spec, Mapping):
        items = list(spec.items())
    elif isinstance(spec, (list, tuple)):
        if not spec or not all(isinstance(name, str) for name in spec):
            raise StyleError(f"style list {spec!r}: expected style names, e.g. ['wave', 'udnie'] (an even mix)")
        items = [(name, 1.0) for name in spec]
    else:
        items = []
        for part in str(spec).split(","):
            name, sep, value = part.strip().partition("=")
            items.append((name.strip(), value.strip() if sep else "1"))
    mix: dict[str, float] = {}
    for name, value in items:
        try:
            weight = float(value)
        except (TypeError, ValueError):
            raise StyleError(f"style mix {spec!r}: {value!r} is not a number (write e.g. starry_night=0.7,wave=0.3)") from None
        if not name:
            raise StyleError(f"style mix {spec!r}: a weight without a style name (write e.g. starry_night=0.7,wave=0.3)")
        if not math.isfinite(weight) or weight < 0:
            raise StyleError(f"style mix {spec!r}: weights must be finite and >= 0, got {name}={value}")
        if name in mix:
            raise StyleError(f"style mix {spec!r}: {name!r} given twice")
        mix[name] = weight
    return mix


@dataclass(frozen=True)
class StyleChoice:
    """``weights``: the network's style input: ``(S,)`` weights of a multi-style network (None for a
    single-style one), an AdaIN target ``(3, C)`` (:mod:`stylenet.adain.stylizer`); with ``regions``, one
    such row per region, ``(K, S)`` / ``(K, 3, C)``. ``label`` names the choice (``wave``, ``starry_night
    0.70 + wave 0.30``); ``note`` says if the weights were normalised. ``parts``: each chosen style's name
    and own input, in the order given (what a mask places: :func:`masked`); ``regions``: ``(K, h, w)``
    weights per pixel of the rows of ``weights`` (a mask's placement, summing to 1 at every pixel)."""
    weights: torch.Tensor | None
    label: str
    note: str | None = None
    parts: tuple[tuple[str, torch.Tensor], ...] = ()
    regions: torch.Tensor | None = None


def choose(spec: str | Mapping[str, float] | None, names: list[str]) -> StyleChoice:
    """The style weights for ``spec`` among the model's ``names``."""
    mix = parse_mix(spec)
    listed = ", ".join(names)
    unknown = [n for n in mix if n not in names]
    if unknown:
        raise StyleError(f"the model has no style {unknown[0]!r}{_hint(unknown[0], names)}; its styles: {listed}")
    if len(names) == 1:
        return StyleChoice(None, names[0])
    if not mix:
        raise StyleError(f"the model holds {len(names)} styles: choose one (e.g. --style {names[0]}) or a mix "
                         f"(e.g. --style {names[0]}=0.5,{names[1]}=0.5); its styles: {listed}")
    total = sum(mix.values())
    if total <= 0:
        raise StyleError(f"style mix {spec!r}: the weights sum to 0")
    weights = torch.zeros(len(names))
    for name, weight in mix.items():
        weights[names.index(name)] = weight / total
    chosen = [(n, w / total) for n, w in mix.items() if w > 0]
    label = chosen[0][0] if len(chosen) == 1 else " + ".join(f"{n} {w:.2f}" for n, w in chosen)
    note = None
    if len(chosen) > 1 and abs(total - 1.0) > 1e-6:
        note = f"style weights normalised to sum to 1 (they summed to {total:g}): {label}"
    parts = tuple((n, torch.zeros(len(names)).index_fill_(0, torch.tensor([names.index(n)]), 1.0)) for n, _ in chosen)
    return StyleChoice(weights, label, note, parts)


def mask_tensor(mask: torch.Tensor | Image.Image, size: tuple[int, int]) -> torch.Tensor:
    """A style mask (a greyscale image, or a tensor ``(H, W)`` / ``(1, H, W)`` / ``(N, 1, H, W)`` in [0, 1]) as a
    float tensor ``(1, h, w)`` / ``(N, 1, h, w)`` resized (bilinear) to ``size`` ``(h, w)``; StyleError otherwise."""
    if isinstance(mask, Image.Image):
        mask = pil_to_tensor(mask.convert("L")).float() / 255
    mask = torch.as_tensor(mask).float()
    if mask.dim() == 2:
        mask = mask[None]
    if mask.dim() not in (3, 4) or mask.shape[-3] != 1 or not 0 <= float(mask.min()) <= float(mask.max()) <= 1:
        raise StyleError(f"a style mask is one greyscale channel in [0, 1], got shape {tuple(mask.shape)}")
    if tuple(mask.shape[-2:]) != tuple(size):
        batch = mask if mask.dim() == 4 else mask[None]
        mask = F.interpolate(batch, size=size, mode="bilinear", align_corners=False).clamp(0, 1).reshape(
            *mask.shape[:-2], *size)
    return mask


def masked(choice: StyleChoice | None, mask: torch.Tensor | Image.Image, size: tuple[int, int], usage: str) -> StyleChoice:
    """Spatial control: ``choice``'s styles (its ``parts``, two or more) placed by ``mask`` (a greyscale image,
    or a tensor ``(H, W)`` / ``(1, H, W)`` in [0, 1], or ``(N, 1, H, W)``, one per image of a batch (a mask clip's
    frames); resized to ``size`` ``(h, w)``): black pixels get the
    first style given, white ones the last, and with K styles the k-th goes where the grey level is k/(K-1)
    (two: black and white; three: black, mid-grey, white); levels between blend the two nearest styles.
    The result's ``weights`` are the styles' own inputs and its ``regions`` ``(K, h, w)`` (``(N, K, h, w)``) their
    weights per pixel (summing to 1); ``usage`` is the error for fewer than two styles (it names the model's way of
    giving them)."""
    if choice is None or len(choice.parts) < 2:
        raise StyleError(usage)
    mask = mask_tensor(mask, size)
    k = len(choice.parts)
    levels = torch.arange(k, dtype=torch.float32)[:, None, None] / (k - 1)  # against (1, h, w) or (N, 1, h, w)
    regions = (1 - (mask - levels).abs() * (k - 1)).clamp(min=0)  # hat functions: 1 at its level, 0 at the next
    names, inputs = zip(*choice.parts)
    return StyleChoice(torch.stack(inputs), f"{' | '.join(names)} (masked)", parts=choice.parts, regions=regions)


def crop(choice: StyleChoice, top: int, bottom: int, left: int, right: int) -> StyleChoice:
    """The part of a masked choice over one tile (any other choice as it is)."""
    if choice.regions is None:
        return choice
    return replace(choice, regions=choice.regions[..., top:bottom, left:right])


def _hint(unknown: str, names: list[str]) -> str:
    """What a mistyped style was likely meant to be: a mix written with ``:`` (``wave:0.5``), or a near name."""
    name, sep, weight = unknown.replace(";", ":").partition(":")
    if sep and name.strip() in names and len(names) > 1:
        return f" (a mix is written with '=': {name.strip()}={weight.strip()},...)"
    close = meant(unknown, names)
    return f" (did you mean {close!r}?)" if close else ""
