"""Instance normalisation with a scale and shift per style (conditional instance norm), and fixed
statistics for tiled inference. Plain PyTorch."""

import contextlib
from collections.abc import Iterator
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn


class InstanceNorm(nn.Module):
    """Instance norm with a learned scale and shift per style: conditional instance normalisation
    (Dumoulin et al. 2017, "A Learned Representation for Artistic Style"); with one style it is the
    plain affine instance norm of Ulyanov et al.

    ``weight`` and ``bias`` are ``(num_styles, C)``. ``forward(x, style)``: ``style`` is ``(N, S)``
    mixing weights (a one-hot row selects a style; rows are used as given, so callers normalise them)
    or None for a one-style network. Mixing interpolates the scale and shift, as in the paper. ``style``
    may also be a map ``(N, S, H, W)`` of weights per pixel at the network's input resolution (spatial
    control: one style here, another there, blended across a mask's edges), averaged down to each layer's
    resolution.

    Statistics can be recorded once and reused: tiled inference of a large image records every
    layer's per-channel mean and variance on a whole (downscaled) copy first, then runs each tile with
    those fixed statistics, so the tiles agree with each other. ``stats_mode`` is "" normally,
    "record" or "use" (batch size 1) only inside ``fixed_norm_stats``.
    """

    def __init__(self, channels: int, num_styles: int = 1, eps: float = 1e-5):
        super().__init__()
        self.num_features, self.num_styles, self.eps = channels, num_styles, eps
        self.weight = nn.Parameter(torch.ones(num_styles, channels))
        self.bias = nn.Parameter(torch.zeros(num_styles, channels))
        self.stats_mode = ""
        self.stats: tuple[torch.Tensor, torch.Tensor] | None = None

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        for name in ("weight", "bias"):  # single-style files before conditional IN stored (C,)
            key = prefix + name
            if key in state_dict and state_dict[key].dim() == 1:
                state_dict[key] = state_dict[key].unsqueeze(0)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def affine(self, style: Optional[torch.Tensor], size: Optional[list[int]] = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Scale and shift: ``(C,)`` for a one-style network without ``style``, ``(N, C)`` for style weights,
        ``(N, C, h, w)`` for a style map (averaged down to ``size`` ``[h, w]``)."""
        if style is None:
            if self.num_styles != 1:
                raise ValueError("this network holds several styles: pass style weights")
            return self.weight[0], self.bias[0]
        style = style.to(self.weight.dtype)
        if style.dim() == 4:
            if size is not None and (style.shape[2] != size[0] or style.shape[3] != size[1]):
                style = F.adaptive_avg_pool2d(style, size)
            return (torch.einsum("nshw,sc->nchw", style, self.weight),
                    torch.einsum("nshw,sc->nchw", style, self.bias))
        return style @ self.weight, style @ self.bias

    def forward(self, x: torch.Tensor, style: Optional[torch.Tensor] = None) -> torch.Tensor:
        scale, shift = self.affine(style, [x.shape[2], x.shape[3]])
        if self.stats_mode != "":
            return self._fixed_stats(x, scale, shift)
        if (x.dtype == torch.float32 and scale.dim() < 4 and not x.is_contiguous()
                and x.is_contiguous(memory_format=torch.channels_last)):
            return self._channels_last_norm(x, scale, shift)
        if scale.dim() == 1:
            return F.instance_norm(x, weight=scale, bias=shift, eps=self.eps)
        if scale.dim() == 2 and scale.shape[0] == 1 and not torch.jit.is_tracing():
            # one style (or mix) for the batch: the fused affine norm, two passes over x fewer than below (a
            # 1280x720 frame, medians of 3 interleaved runs, 2 vCPUs, AMD EPYC, 2026-12-06: zoo fp32 1.37 -> 1.27 s,
            # bf16 0.75 -> 0.62 s; zoo_fast fp32 195 -> 183 ms, bf16 level at 114 ms). Not when traced (the ONNX
            # export): a traced graph would keep this branch for a batch with a style per image.
            return F.instance_norm(x, weight=scale[0], bias=shift[0], eps=self.eps)
        y = F.instance_norm(x, eps=self.eps)
        if scale.dim() == 4:
            return y * scale.to(y.dtype) + shift.to(y.dtype)
        return y * scale[:, :, None, None].to(y.dtype) + shift[:, :, None, None].to(y.dtype)

    def _channels_last_norm(self, x: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
        """F.instance_norm copies a channels_last input to NCHW and back (two copies per layer, 27% of a
        channels_last forward on a CPU, measured); this reduces over H*W in place of the NHWC layout.
        One pass for E[x] and E[x^2]; fp32 only (the cancellation in E[x^2] - E[x]^2 needs it)."""
        n, c, h, w = x.shape
        flat = x.permute(0, 2, 3, 1).reshape(n, h * w, c)  # a view: the memory is already NHWC
        mean = flat.mean(1, keepdim=True)
        var = (flat * flat).mean(1, keepdim=True).sub_(mean * mean).clamp_(min=0.0)
        scale = scale.reshape(-1, 1, c) * torch.rsqrt(var + self.eps)
        return torch.addcmul(shift.reshape(-1, 1, c) - mean * scale, flat, scale).reshape(n, h, w, c).permute(0, 3, 1, 2)

    @torch.jit.unused
    def _fixed_stats(self, x: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
        if self.stats_mode == "record":
            self.stats = (x.mean(dim=(2, 3), keepdim=True), x.var(dim=(2, 3), unbiased=False, keepdim=True))
        mean, var = self.stats
        if scale.dim() == 4:  # a style map: a scale and shift per pixel
            return torch.addcmul(shift, (x - mean) * torch.rsqrt(var + self.eps), scale)
        # one pass over x (a tile is large): x * s + (shift - mean * s), s = scale / std, where
        # ((x - mean) / std) * scale + shift took four: 227 vs 60 ms on a (1, 32, 1024, 1024) tile, 2 vCPUs (AMD
        # EPYC, fp32), max difference 1e-6; the Johnson network's 1024-px tiles of a 2048x1536 photo 31.1 -> 25.7 s
        c = self.num_features
        s = torch.rsqrt(var + self.eps) * scale.reshape(-1, c, 1, 1)
        return torch.addcmul(shift.reshape(-1, c, 1, 1) - mean * s, x, s)


@contextlib.contextmanager
def fixed_norm_stats(net: nn.Module, reference: torch.Tensor, *inputs: Optional[torch.Tensor]) -> Iterator[None]:
    """Inside this block every InstanceNorm (and AdaIN layer) of ``net`` uses the statistics of ``reference``
    ``(1, 3, H, W)`` (e.g. a downscaled copy of the whole image), stylised with the network's other
    ``inputs`` (a style, or an AdaIN target and regions), instead of its own input's."""
    norms = [m for m in net.modules() if hasattr(m, "stats_mode")]  # InstanceNorm, and AdaIN (models.adain)
    try:
        for m in norms:
            m.stats_mode = "record"
        with torch.no_grad():
            net(reference, *inputs)
        for m in norms:
            m.stats_mode = "use"
        yield
    finally:
        for m in norms:
            m.stats_mode, m.stats = "", None
