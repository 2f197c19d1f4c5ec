"""Stylizer: apply a trained style network to tensors, PIL images and files, at any size.

One implementation serves the Python API, ``scripts/stylize.py`` / ``python -m stylenet.stylize``
and ``hubconf.py``; :func:`stylenet.inference.load_stylizer` builds one from a model file or name.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from .. import hardware
from ..animated import ANIMATED_FORMATS, frame_count, stylize_animation
from ..device import available_memory, resolve_device
from ..formats import ALPHA_SUFFIXES
from ..image import as_float_batch, float_to_pil, pil_to_float, preserve_colors
from ..photo_io import load_input, save_output
from ..models import DOWNSAMPLE_FACTOR, MIN_SIDE, TransformerNet, fixed_norm_stats
from ..models.adain import DOWNSAMPLE as ADAIN_DOWNSAMPLE, MIN_SIDE as ADAIN_MIN_SIDE
from .onnx_backend import OnnxBackend
from .styles import StyleChoice, StyleError, choose, crop, masked, style_names
from .tiles import blend_tiles

_log = logging.getLogger(__name__)

PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
# Peak bytes per pixel of an untiled forward, per unit of network width (measured: the decoder's last
# upsample holds ~5 maps of `width` fp32 channels at full resolution; 6 leaves a margin).
_BYTES_PER_PIXEL_PER_WIDTH = 6 * 4


class ImageTooLargeError(MemoryError):
    """An image would not fit in memory without tiling."""


class Stylizer(nn.Module):
    """A trained style network ready for inference.

    ``stylizer(image)`` takes a PIL image (returns a PIL image, alpha kept) or a float RGB tensor
    ``(3, H, W)`` / ``(N, 3, H, W)`` in [0, 1] (returns the same shape in [0, 1], on the input's device).
    Options: ``tile``/``overlap`` (tiled inference: bounded memory for huge images, seams blended,
    instance-norm statistics shared across tiles), ``preserve_color`` (keep the photo's colours),
    ``strength`` in [0, 1] (blend with the original).

    Backends: PyTorch (``net``; ``device``, ``precision``, ``channels_last``, ``compile``) or an
    onnxruntime ``session`` (CPU, fp32; with ``onnx_source``, the file's path or bytes, tiles share the
    image's statistics as well; without, each its own: :mod:`.onnx_backend`). ``compile``: untiled calls
    run through ``torch.compile``: the first call at each image size compiles (seconds on a CPU; after
    ``torch._dynamo.config.recompile_limit`` sizes, 8 by default, torch warns and runs eager), so it pays
    for many images of one size, e.g. video frames (docs/BENCHMARKS.md: model=light_fast at 1280x720 on 2
    CPU cores, compiled vs eager channels_last vs onnxruntime).

    Multi-style models: ``style`` picks one of ``style_names`` or a mix (``"starry_night=0.7,wave=0.3"``
    or a dict; weights normalised, see :mod:`stylenet.styles`), for every call or per call
    (``stylizer(image, style="wave")``); with ``mask`` (a greyscale image or ``(H, W)`` tensor in [0, 1], or
    ``(N, 1, H, W)``, one per image) the styles given go where it is black, white, and grey levels between
    (``stylizer(image, style="wave,udnie", mask=m)``, :func:`.styles.masked`).
    """

    def __init__(self, net: TransformerNet | None, metadata: dict[str, Any] | None = None, device: str = "cpu",
                 precision: str = "fp32", channels_last: bool = False, session=None,
                 style: str | Mapping[str, float] | None = None, compile: bool = False,
                 onnx_source: str | os.PathLike | bytes | None = None):
        super().__init__()
        if (net is None) == (session is None):
            raise ValueError("Stylizer needs exactly one of a TransformerNet or an onnxruntime session")
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {list(PRECISIONS)}, got {precision!r}")
        self.device = resolve_device(device) if net is not None else torch.device("cpu")
        if precision == "fp16" and self.device.type == "cpu":
            raise ValueError("precision fp16 needs a GPU; on a CPU use fp32 or bf16")
        if session is not None and precision != "fp32":
            raise ValueError("the onnxruntime backend runs fp32 only")
        if precision == "bf16" and self.device.type == "cpu" and not hardware.cpu_has_bf16():
            # Measured on an AVX2-only AMD EPYC: the bundled starry_night at 256x256 in 66.8 s vs 0.38 s in fp32.
            _log.warning("bf16 on this CPU (no AVX512-BF16 or AMX) runs ~100x slower than fp32: use --precision fp32")
        self.precision, self.channels_last, self.session = precision, channels_last, session
        self.net = net.eval().to(self.device) if net is not None else None
        if self.net is not None and channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)
        if compile and session is not None:
            raise ValueError("compile applies to the PyTorch backend only")
        # Tiles run the plain network: their sizes vary and they use fixed norm statistics (see _tiled).
        # Not a submodule (object.__setattr__): the Stylizer's modules and state_dict stay the network's.
        # dynamic=False: one graph per image size (dynamic shapes failed to compile the padding arithmetic
        # in torch 2.14: "TensorReferenceAnalysis has no attribute python_mod").
        object.__setattr__(self, "_compiled", torch.compile(self.net, dynamic=False) if compile else None)
        self._plain = False
        self.metadata = dict(metadata or {})
        self.width = int(self.metadata.get("model", {}).get("width", 32))
        # The network's downsampling (tile alignment) and smallest input; an ONNX session has no network to ask,
        # and an AdaIN model's photo-only export (a painting baked in) differs from a Johnson network's.
        adain_file = net is None and self.metadata.get("model", {}).get("family") == "adain"
        if adain_file:
            self.width = 64  # VGG's 64 channels at full resolution (AdaINStylizer's memory estimate)
        self.downsample = getattr(net, "downsample", ADAIN_DOWNSAMPLE if adain_file else DOWNSAMPLE_FACTOR)
        self.min_side = ADAIN_MIN_SIDE if adain_file else MIN_SIDE  # (a network pads small inputs itself)
        self._onnx = OnnxBackend(session, onnx_source, self.min_side) if session is not None else None
        self.style_names = style_names(self.metadata)
        self.set_style(style)

    def set_style(self, style: str | Mapping[str, float] | None) -> StyleChoice | None:
        """Choose the style (or mix) for the following calls; ``self.style`` names it. A multi-style
        model without a choice needs ``style=`` in every call."""
        if style is None and len(self.style_names) > 1:
            self.choice, self.style = None, f"{len(self.style_names)} styles"
            return None
        self.choice = self._choose(style)
        self.style = self.choice.label
        return self.choice

    def _choose(self, style) -> StyleChoice:
        """A call's style argument as the network's style input (:mod:`stylenet.styles`)."""
        return style if isinstance(style, StyleChoice) else choose(style, self.style_names)

    def masked(self, choice: StyleChoice | None, mask: torch.Tensor | Image.Image, size: tuple[int, int]) -> StyleChoice:
        """``choice``'s styles placed by ``mask`` over an image of ``size`` ``(h, w)`` (:func:`.styles.masked`)."""
        names = self.style_names
        if len(names) < 2:
            raise StyleError(f"a style mask places two styles, and this model holds one ({names[0]}): use a multi-style "
                             "model (e.g. --model zoo)")
        return masked(choice, mask, size, "a style mask places two or more styles of a multi-style model (e.g. --style "
                      f"{names[0]},{names[-1]}: the first where the mask is black, the last where it is white)")

    def _net_inputs(self, choice: StyleChoice, n: int) -> tuple[torch.Tensor | None, ...]:
        """The network's inputs after the image, for a batch of ``n``: a multi-style network's weights ``(n, S)``,
        or with a mask's regions the map ``(n, S, h, w)`` they make (its instance norms take maps)."""
        weights = choice.weights
        if weights is not None and choice.regions is not None:
            weights = torch.einsum("ks,...khw->...shw", weights, choice.regions)
            return (weights if weights.dim() == 4 else weights.expand(n, *weights.shape),)  # a mask per image: (n, ...)
        return (None if weights is None else weights.expand(n, *weights.shape),)

    # -- the network on one batch -----------------------------------------------------------
    def _network(self, x: torch.Tensor, choice: StyleChoice) -> torch.Tensor:
        inputs = self._net_inputs(choice, x.shape[0])
        if self._onnx is not None:
            return self._onnx(x, *inputs)
        x = x.to(self.device, torch.float32)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        dtype = PRECISIONS[self.precision]
        inputs = tuple(None if t is None else t.to(self.device) for t in inputs)
        with torch.inference_mode(), torch.autocast(self.device.type, dtype, enabled=dtype != torch.float32):
            if self._compiled is not None and not self._plain:
                try:
                    return self._compiled(x, *inputs).float().clamp_(0, 1)
                except Exception as exc:  # noqa: BLE001 - e.g. no C++ compiler for inductor: eager still works
                    _log.warning("torch.compile failed (%s); running the network uncompiled",
                                 str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
                    object.__setattr__(self, "_compiled", None)
            return self.net(x, *inputs).float().clamp_(0, 1)

    def check_fits(self, height: int, width: int, batch: int = 1) -> None:
        """Raise ImageTooLargeError if an untiled forward would not fit in free memory."""
        need = batch * height * width * self.width * _BYTES_PER_PIXEL_PER_WIDTH
        free = available_memory(self.device)
        if free is not None and need > free:
            raise ImageTooLargeError(
                f"a {width}x{height} image needs about {need / 2**30:.1f} GiB untiled but only "
                f"{free / 2**30:.1f} GiB is free on {self.device}; use tiling (--tile 1024)")

    def _tiled(self, x: torch.Tensor, tile: int, overlap: int, stats_size: int, choice: StyleChoice) -> torch.Tensor:
        n, _, h, w = x.shape
        if n > 1:  # one image at a time: each tile with its own image's statistics (a batch's tiles had only their own)
            regions = choice.regions if choice.regions is not None and choice.regions.dim() == 4 else None  # per image
            return torch.cat([self._tiled(x[i:i + 1], tile, overlap, stats_size, choice if regions is None else
                                          replace(choice, regions=regions[min(i, len(regions) - 1)])) for i in range(n)])
        scale = min(1.0, stats_size / max(h, w))
        reference = F.interpolate(x, scale_factor=scale, mode="area") if scale < 1 else x
        whole = choice
        if choice.regions is not None:  # a mask's regions, downscaled as the image is
            regions = choice.regions if choice.regions.dim() == 4 else choice.regions[None]
            whole = replace(choice, regions=F.interpolate(regions[:1], size=reference.shape[-2:], mode="area")[0])
        inputs = self._net_inputs(whole, 1)
        if self.net is not None:  # every tile normalised with the whole image's statistics
            stats = fixed_norm_stats(self.net, reference.to(self.device),
                                     *(None if t is None else t.to(self.device) for t in inputs))
        else:
            stats = self._onnx.shared_stats(reference, *inputs)
        self._plain = True
        try:
            with stats:  # each tile with its part of a mask's regions (styles.crop)
                return blend_tiles(lambda t, b, l, r: self._network(x[..., t:b, l:r], crop(choice, t, b, l, r)).cpu(),
                                   x.shape, tile, overlap, self.downsample)
        finally:
            self._plain = False

    # -- public API ----------------------------------------------------------------------------
    def forward(self, image: torch.Tensor | Image.Image, tile: int | None = None, overlap: int = 64,
                preserve_color: bool = False, strength: float = 1.0, stats_size: int = 1024,
                style: str | Mapping[str, float] | None = None, mask: torch.Tensor | Image.Image | None = None):
        choice = self._choose(style) if style is not None or self.choice is None else self.choice
        if not 0.0 <= strength <= 1.0:
            raise ValueError(f"strength must be in [0, 1], got {strength}")
        if tile is not None and not 0 <= overlap < tile // 2:
            raise ValueError(f"overlap must be in [0, tile/2), got overlap={overlap}, tile={tile}")
        if isinstance(image, Image.Image):
            alpha = image.getchannel("A") if image.mode == "RGBA" else None
            y = self(pil_to_float(image.convert("RGB")), tile, overlap, preserve_color, strength, stats_size, style,
                     mask)
            result = float_to_pil(y)
            if alpha is not None:
                result.putalpha(alpha)
            return result
        x, single = as_float_batch(image)  # (float32 in [0, 1]; uint8 divided by 255; mistakes refused)
        src_device = x.device
        x = x.cpu()
        h, w = x.shape[-2:]
        if mask is not None:  # spatial control: the choice's styles placed by the mask (styles.masked)
            if self.net is None:
                raise StyleError("a style mask needs the PyTorch model (.safetensors): an ONNX file takes style "
                                 "weights")
            if isinstance(mask, torch.Tensor) and mask.dim() == 4 and mask.shape[0] != x.shape[0]:
                if mask.shape[0] != 1:
                    raise StyleError(f"{mask.shape[0]} masks for {x.shape[0]} images: give one mask, or one per image")
                mask = mask[0]  # one mask for every image
            choice = self.masked(choice, mask, (h, w))
        if strength == 0.0:
            y = x.clone()
        elif tile and max(h, w) > tile:
            y = self._tiled(x, tile, overlap, stats_size, choice)
        else:
            self.check_fits(h, w, x.shape[0])
            try:
                y = self._network(x, choice).cpu()
            except (torch.OutOfMemoryError, MemoryError) as exc:
                raise ImageTooLargeError(f"a {w}x{h} image did not fit in memory ({exc}); use tiling (--tile 1024)") from None
        if preserve_color:
            y = preserve_colors(y, x)
        if strength < 1.0:
            y = torch.lerp(x, y, strength)
        y = y.to(src_device)
        return y[0] if single else y

    def stylize_file(self, src: str | os.PathLike, dst: str | os.PathLike, max_size: int | None = None,
                     scale: float | None = None, quality: int = 92, metadata: str = "all", **options: Any) -> Path:
        """Stylise one image file into ``dst`` (format from its suffix; alpha kept where the format
        has it; its EXIF by ``metadata``, :mod:`stylenet.metadata`), written atomically; an animated GIF,
        WebP or PNG into an animated ``dst`` (.gif, .webp, .png), frame by frame. See
        :func:`stylenet.inference.batch.stylize_paths` for folders."""
        if Path(src).suffix.lower() in ANIMATED_FORMATS and (frames := frame_count(src)) > 1:
            if Path(dst).suffix.lower() not in ANIMATED_FORMATS:
                raise ValueError(f"{src} is animated ({frames} frames) but {Path(dst).suffix or dst} holds one frame: "
                                 f"write {', '.join(ANIMATED_FORMATS)}")
            stylize_animation(lambda x: self(x, **options), src, dst, quality=quality, max_size=max_size, scale=scale)
            return Path(dst)
        item = load_input(Path(src), max_size, scale, keep_alpha=Path(dst).suffix.lower() in ALPHA_SUFFIXES,
                          metadata=metadata)
        return save_output(self(item.image[None], **options)[0], item.alpha, Path(dst), quality, item.exif)

