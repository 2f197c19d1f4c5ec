"""The optimisation baseline of Gatys et al. 2015 ("A Neural Algorithm of Artistic Style"): the
pixels of one image are optimised directly against the same PerceptualLoss the feed-forward
network is trained with. Slow (hundreds of VGG passes per image) but the quality reference that
a feed-forward model is measured against, and a tool of its own for one-off high-quality images.

Plain PyTorch: nothing here imports Lightning.
"""
from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..losses import PerceptualLoss

OPTIMIZERS = ("lbfgs", "adam")
INITS = ("content", "noise")
# Adam's step in [0, 1] pixel units: jcjohnson/neural-style's default -learning_rate 1e1 on 0..255 pixels.
ADAM_LR = 10 / 255
MIN_SIZE = 16  # VGG's four poolings before relu4_3/relu5_1 need at least this many pixels per side


class GatysError(ValueError):
    """Bad arguments to the optimisation (the message names the argument)."""


@dataclass
class GatysResult:
    image: torch.Tensor  # (3, H, W) float RGB in [0, 1], on the CPU
    terms: dict[str, float]  # the loss terms of the final image (content, style, tv, total)
    seconds: float
    iterations: int  # optimizer iterations over all scales (L-BFGS may stop early once converged)
    evaluations: int  # loss + gradient evaluations (an L-BFGS iteration may take several)
    history: list[float] = field(default_factory=list)  # total loss at each evaluation


def _resize(image: torch.Tensor, longest: int) -> torch.Tensor:
    """``(3, H, W)`` resized so the longer side is ``longest`` px (antialiased)."""
    h, w = image.shape[-2:]
    size = (max(1, round(h * longest / max(h, w))), max(1, round(w * longest / max(h, w))))
    return F.interpolate(image[None], size=size, mode="bilinear", antialias=True, align_corners=False)[0]


def _check(content: torch.Tensor, iterations: int, optimizer: str, init: str, coarse_sizes: Sequence[int]) -> None:
    if content.ndim != 3 or content.shape[0] != 3:
        raise GatysError(f"content must be an RGB image (3, H, W), got {tuple(content.shape)}")
    if min(content.shape[-2:]) < MIN_SIZE:
        raise GatysError(f"content is {tuple(content.shape[-2:])} px; each side needs at least {MIN_SIZE}")
    if iterations < 1:
        raise GatysError(f"iterations must be >= 1, got {iterations}")
    if optimizer not in OPTIMIZERS:
        raise GatysError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    if init not in INITS:
        raise GatysError(f"init must be one of {INITS}, got {init!r}")
    longest = max(content.shape[-2:])
    sizes = list(coarse_sizes)
    if sizes != sorted(set(sizes)) or any(s < MIN_SIZE or s >= longest for s in sizes):
        raise GatysError(f"coarse sizes must increase, each in [{MIN_SIZE}, {longest}) (the image's longer "
                         f"side), got {sizes}")


def _initial(content: torch.Tensor, init: str, seed: int) -> torch.Tensor:
    if init == "content":
        return content.clone()
    generator = torch.Generator().manual_seed(seed)  # white noise (Gatys et al. 2015, Sec. 2)
    return torch.rand(content.shape, generator=generator).to(content.device)


def stylize_by_optimization(
    content: torch.Tensor,
    loss: PerceptualLoss,
    iterations: int = 300,  # the PyTorch neural-style tutorial's budget (jcjohnson/neural-style: 1000)
    optimizer: str = "lbfgs",
    init: str = "content",
    coarse_sizes: Sequence[int] = (),
    lr: float | None = None,
    seed: int = 0,
    progress: bool = True,
) -> GatysResult:
    """Optimise an image so its VGG features match ``content`` and its Gram matrices match the style
    ``loss`` was given (:meth:`PerceptualLoss.set_style`).

    Args:
        content: ``(3, H, W)`` float RGB in [0, 1], on the loss's device.
        iterations: optimizer iterations per scale (L-BFGS: at most 1.25x as many evaluations).
        optimizer: ``lbfgs`` (Gatys et al.; strong-Wolfe line search) or ``adam`` (``lr`` in [0, 1]
            pixel units, default :data:`ADAM_LR`).
        init: start from the ``content`` photo or from white ``noise`` (seeded by ``seed``).
        coarse_sizes: longer sides of coarser passes run first (e.g. ``(256,)`` for a 512-px image):
            each result is upsampled to start the next, finishing at the content's own size; large
            structures settle cheaply at low resolution.
    Returns a :class:`GatysResult`; pixels end in [0, 1] (Adam: clamped after every step).
    """
    _check(content, iterations, optimizer, init, coarse_sizes)
    longest = max(content.shape[-2:])
    scales = [*coarse_sizes, longest]
    start, iterations_done, history = time.perf_counter(), 0, []
    image: torch.Tensor | None = None
    bar = tqdm(total=iterations * len(scales), desc="gatys", unit="it", disable=not progress, dynamic_ncols=True)
    try:
        for size in scales:
            target = content if size == longest else _resize(content, size)
            if image is None:
                image = _initial(target, init, seed)
            else:
                image = F.interpolate(image[None], size=target.shape[-2:], mode="bilinear", align_corners=False)[0]
            # Contiguous: L-BFGS flattens grads with view(), and decoded photos come in HWC strides.
            x = image[None].detach().clone(memory_format=torch.contiguous_format).clamp_(0, 1).requires_grad_(True)
            feats = loss.content_targets(target[None])
            done_before = bar.n
            if optimizer == "lbfgs":
                # One step() runs all iterations: L-BFGS's line search misbehaves when step() is called
                # once per iteration.
                opt = torch.optim.LBFGS([x], lr=lr or 1.0, max_iter=iterations, line_search_fn="strong_wolfe")
            else:
                opt = torch.optim.Adam([x], lr=lr or ADAM_LR)

            def closure() -> torch.Tensor:
                opt.zero_grad(set_to_none=True)
                # Scored as clamped, so the image returned is the one whose loss was minimised.
                terms = loss(x.clamp(0, 1), content_features=feats)
                total = float(terms["total"].detach())
                if not math.isfinite(total):
                    raise FloatingPointError(f"the loss became {total} after {len(history)} evaluations; "
                                             "try --optimizer adam or a smaller --lr")
                terms["total"].backward()
                history.append(total)
                if optimizer == "lbfgs":
                    bar.n = done_before + opt.state[x].get("n_iter", 0)
                bar.set_postfix({k: f"{float(v.detach()):.3g}" for k, v in terms.items()}, refresh=False)
                bar.update(0)
                return terms["total"]

            if optimizer == "lbfgs":
                opt.step(closure)
                iterations_done += opt.state[x].get("n_iter", 0)
            else:
                for _ in range(iterations):
                    opt.step(closure)
                    with torch.no_grad():
                        x.clamp_(0, 1)
                    bar.update(1)
                iterations_done += iterations
            with torch.no_grad():
                x.clamp_(0, 1)
            image = x.detach()[0]
            bar.n = done_before + iterations  # L-BFGS may have converged early
            bar.refresh()
    finally:
        bar.close()
    with torch.no_grad():
        # the last scale is the content's own size, so its features are the content targets
        final = {k: float(v) for k, v in loss(image[None], content_features=feats).items()}
    return GatysResult(image.cpu(), final, time.perf_counter() - start, iterations_done, len(history), history)
