"""The image transformation network of Johnson et al. 2016 ("Perceptual Losses for Real-Time
Style Transfer and Super-Resolution", ECCV, supplementary Table 1), with the improvements that
later work made standard:

- reflection padding instead of zero padding (no dark borders),
- instance normalisation instead of batch normalisation (Ulyanov et al. 2016, "Instance
  Normalization: The Missing Ingredient for Fast Stylization"),
- nearest-neighbour upsampling followed by a convolution instead of fractionally strided
  convolutions (Odena et al. 2016, "Deconvolution and Checkerboard Artifacts").

Plain PyTorch: nothing here imports Lightning.
"""

import contextlib
from collections.abc import Iterator
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

# The two stride-2 convolutions shrink the image 4x; inputs are padded up to a multiple of this.
DOWNSAMPLE_FACTOR = 4
# Reflection padding needs pad < size in every layer: 8 px keeps the 1/4-resolution maps at 2x2.
MIN_SIDE = 8


class InstanceNorm(nn.Module):
    """Instance norm with a learned scale and shift per style: conditional instance normalisation
    (Dumoulin et al. 2017, "A Learned Representation for Artistic Style"); with one style it is the
    plain affine instance norm of Ulyanov et al.

    ``weight`` and ``bias`` are ``(num_styles, C)``. ``forward(x, style)``: ``style`` is ``(N, S)``
    mixing weights (a one-hot row selects a style; rows are used as given, so callers normalise them)
    or None for a one-style network. Mixing interpolates the scale and shift, as in the paper.

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

    def affine(self, style: Optional[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Scale and shift: ``(C,)`` for a one-style network without ``style``, else ``(N, C)``."""
        if style is None:
            if self.num_styles != 1:
                raise ValueError("this network holds several styles: pass style weights")
            return self.weight[0], self.bias[0]
        style = style.to(self.weight.dtype)
        return style @ self.weight, style @ self.bias

    def forward(self, x: torch.Tensor, style: Optional[torch.Tensor] = None) -> torch.Tensor:
        scale, shift = self.affine(style)
        if self.stats_mode != "":
            return self._fixed_stats(x, scale, shift)
        if x.dtype == torch.float32 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):
            return self._channels_last_norm(x, scale, shift)
        if scale.dim() == 1:
            return F.instance_norm(x, weight=scale, bias=shift, eps=self.eps)
        y = F.instance_norm(x, eps=self.eps)
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
        y = (x - mean) * torch.rsqrt(var + self.eps)
        c = self.num_features
        return y * scale.reshape(-1, c, 1, 1) + shift.reshape(-1, c, 1, 1)


class ConvLayer(nn.Sequential):
    """Reflection pad -> conv -> (instance norm -> ReLU)."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, norm_act: bool = True, num_styles: int = 1):
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(kernel // 2),
            nn.Conv2d(in_ch, out_ch, kernel, stride=stride),
        ]
        if norm_act:
            layers += [InstanceNorm(out_ch, num_styles), nn.ReLU(inplace=True)]
        super().__init__(*layers)

    def forward(self, x: torch.Tensor, style: Optional[torch.Tensor] = None) -> torch.Tensor:
        for layer in self:
            x = layer(x, style) if isinstance(layer, InstanceNorm) else layer(x)
        return x


class UpsampleConvLayer(nn.Sequential):
    """Nearest-neighbour 2x upsample -> ConvLayer (avoids transposed-conv checkerboards)."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, num_styles: int = 1):
        super().__init__(nn.Upsample(scale_factor=2, mode="nearest"), ConvLayer(in_ch, out_ch, kernel, num_styles=num_styles))

    def forward(self, x: torch.Tensor, style: Optional[torch.Tensor] = None) -> torch.Tensor:
        for layer in self:
            x = layer(x) if isinstance(layer, nn.Upsample) else layer(x, style)
        return x


class ResidualBlock(nn.Module):
    """Two 3x3 ConvLayers with an identity shortcut and no ReLU after the sum (Johnson et al.,
    following Gross & Wilber's "Training and investigating residual nets")."""

    def __init__(self, channels: int, num_styles: int = 1):
        super().__init__()
        self.conv1 = ConvLayer(channels, channels, 3, num_styles=num_styles)
        self.conv2 = ConvLayer(channels, channels, 3, norm_act=False)
        self.norm2 = InstanceNorm(channels, num_styles)

    def forward(self, x: torch.Tensor, style: Optional[torch.Tensor] = None) -> torch.Tensor:
        return x + self.norm2(self.conv2(self.conv1(x, style)), style)


class TransformerNet(nn.Module):
    """Feed-forward style network, for one style or several (conditional instance norm).

    Args:
        width: channels of the first conv; the downsampling convs use 2x and 4x this (Johnson:
            32, so 32-64-128 with 128-channel residual blocks).
        num_res_blocks: residual blocks at 1/4 resolution (Johnson: 5).
        gradient_checkpointing: recompute every layer in the backward pass instead of storing its
            activations (saves memory, costs one extra forward of the network).
        num_styles: styles held by the network; only the instance norms' scale and shift are per
            style (3,200 of the Johnson network's 1.68 M parameters, 0.19%).

    ``forward(x, style=None)`` maps a float RGB batch ``(N, 3, H, W)`` in [0, 1] to a stylised batch
    of the same shape, values in (0, 1) (the paper's scaled tanh, written as a sigmoid). ``style``:
    ``(N, S)`` or ``(S,)`` style weights (one-hot: one style; several non-zero: a mix), required when
    the network holds several styles. Any H, W >= 1 work: the input is reflection-padded to a
    multiple of 4 (at least 8) and the output cropped back.
    """

    def __init__(self, width: int = 32, num_res_blocks: int = 5, gradient_checkpointing: bool = False,
                 num_styles: int = 1):
        super().__init__()
        if width < 1 or num_res_blocks < 0 or num_styles < 1:
            raise ValueError(f"width and num_styles must be >= 1 and num_res_blocks >= 0, got {width}, "
                             f"{num_styles}, {num_res_blocks}")
        self.width = width
        self.num_res_blocks = num_res_blocks
        self.num_styles = num_styles
        self.gradient_checkpointing = gradient_checkpointing
        self.min_side, self.factor = MIN_SIDE, DOWNSAMPLE_FACTOR  # attributes, so TorchScript sees them
        w1, w2, w3, s = width, 2 * width, 4 * width, num_styles
        self.encoder = nn.Sequential(
            ConvLayer(3, w1, 9, num_styles=s),
            ConvLayer(w1, w2, 3, stride=2, num_styles=s),
            ConvLayer(w2, w3, 3, stride=2, num_styles=s),
        )
        self.res_blocks = nn.ModuleList(ResidualBlock(w3, s) for _ in range(num_res_blocks))
        self.decoder = nn.Sequential(
            UpsampleConvLayer(w3, w2, 3, s),
            UpsampleConvLayer(w2, w1, 3, s),
            ConvLayer(w1, 3, 9, norm_act=False),
        )

    def config(self) -> dict:
        """The constructor arguments that define the architecture (stored with exported weights);
        ``num_styles`` only when it is not 1, so single-style files read as before."""
        config = {"width": self.width, "num_res_blocks": self.num_res_blocks}
        if self.num_styles != 1:
            config["num_styles"] = self.num_styles
        return config

    def norm_parameters(self) -> list[nn.Parameter]:
        """The per-style parameters: every instance norm's scale and shift, ``(num_styles, C)`` each."""
        return [p for m in self.modules() if isinstance(m, InstanceNorm) for p in (m.weight, m.bias)]

    def forward(self, x: torch.Tensor, style: Optional[torch.Tensor] = None) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError("TransformerNet expects an (N, 3, H, W) RGB batch")
        if style is not None:
            if style.dim() == 1:
                style = style.unsqueeze(0)
            if style.dim() != 2 or style.shape[1] != self.num_styles:
                raise ValueError(f"style weights must be (N, {self.num_styles}) for this network")
            style = style.expand(x.shape[0], self.num_styles)
        elif self.num_styles != 1:
            raise ValueError(f"this network holds {self.num_styles} styles: pass style weights (N, {self.num_styles})")
        h, w = x.shape[2], x.shape[3]
        if h < self.min_side or w < self.min_side:
            # Reflection needs pad < size; replicate covers tiny images (e.g. 1x1).
            x = F.pad(x, (0, max(0, self.min_side - w), 0, max(0, self.min_side - h)), mode="replicate")
        # Always padded (possibly by 0) rather than branched on, so that exported graphs
        # (TorchScript, ONNX) keep a dynamic height and width.
        x = F.pad(x, (0, (-x.shape[3]) % self.factor, 0, (-x.shape[2]) % self.factor), mode="reflect")
        if self.gradient_checkpointing and self.training and torch.is_grad_enabled():
            y = self._checkpointed(x, style)
        else:
            y = x
            for layer in self.encoder:
                y = layer(y, style)
            for block in self.res_blocks:
                y = block(y, style)
            for layer in self.decoder:
                y = layer(y, style)
        return torch.sigmoid(y)[:, :, :h, :w]

    @torch.jit.unused
    def _checkpointed(self, x: torch.Tensor, style: Optional[torch.Tensor]) -> torch.Tensor:
        """Every layer recomputed in the backward pass: only layer inputs are kept, which matters
        most for the full-resolution encoder/decoder convolutions of 512-1024 px training."""
        for layer in [*self.encoder, *self.res_blocks, *self.decoder]:
            x = checkpoint(layer, x, style, use_reentrant=False)
        return x


def one_hot(index: int | torch.Tensor, num_styles: int) -> torch.Tensor:
    """Style weights selecting style ``index`` (an int, or an ``(N,)`` tensor of indices): ``(1 or N, S)``."""
    index = torch.as_tensor(index).reshape(-1)
    return F.one_hot(index.long(), num_styles).float()


@contextlib.contextmanager
def fixed_norm_stats(net: TransformerNet, reference: torch.Tensor, style: Optional[torch.Tensor] = None) -> Iterator[None]:
    """Inside this block every InstanceNorm of ``net`` uses the statistics of ``reference``
    ``(1, 3, H, W)`` (e.g. a downscaled copy of the whole image), stylised with ``style``, instead of
    its own input's."""
    norms = [m for m in net.modules() if isinstance(m, InstanceNorm)]
    try:
        for m in norms:
            m.stats_mode = "record"
        with torch.no_grad():
            net(reference, style)
        for m in norms:
            m.stats_mode = "use"
        yield
    finally:
        for m in norms:
            m.stats_mode, m.stats = "", None
