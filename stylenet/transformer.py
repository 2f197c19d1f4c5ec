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

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

# The two stride-2 convolutions shrink the image 4x; inputs are padded up to a multiple of this.
DOWNSAMPLE_FACTOR = 4
# Reflection padding needs pad < size in every layer: 8 px keeps the 1/4-resolution maps at 2x2.
MIN_SIDE = 8


class InstanceNorm(nn.InstanceNorm2d):
    """Affine instance norm whose statistics can be recorded once and then reused.

    Tiled inference of a large image records every layer's per-channel mean and variance on a
    whole (downscaled) copy first, then runs each tile with those fixed statistics, so the tiles
    agree with each other instead of each being normalised by its own content. ``stats_mode`` is
    "" normally, "record" or "use" (batch size 1) only inside ``fixed_norm_stats``.
    """

    def __init__(self, channels: int):
        super().__init__(channels, affine=True)
        self.stats_mode = ""
        self.stats: tuple[torch.Tensor, torch.Tensor] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stats_mode != "":
            return self._fixed_stats(x)
        if x.dtype == torch.float32 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):
            return self._channels_last_norm(x)
        return F.instance_norm(x, weight=self.weight, bias=self.bias, eps=self.eps)

    def _channels_last_norm(self, x: torch.Tensor) -> torch.Tensor:
        """F.instance_norm copies a channels_last input to NCHW and back (two copies per layer, 27% of a
        channels_last forward on a CPU, measured); this reduces over H*W in place of the NHWC layout.
        One pass for E[x] and E[x^2]; fp32 only (the cancellation in E[x^2] - E[x]^2 needs it)."""
        n, c, h, w = x.shape
        flat = x.permute(0, 2, 3, 1).reshape(n, h * w, c)  # a view: the memory is already NHWC
        mean = flat.mean(1, keepdim=True)
        var = (flat * flat).mean(1, keepdim=True).sub_(mean * mean).clamp_(min=0.0)
        scale = self.weight * torch.rsqrt(var + self.eps)
        return torch.addcmul(self.bias - mean * scale, flat, scale).reshape(n, h, w, c).permute(0, 3, 1, 2)

    @torch.jit.unused
    def _fixed_stats(self, x: torch.Tensor) -> torch.Tensor:
        if self.stats_mode == "record":
            self.stats = (x.mean(dim=(2, 3), keepdim=True), x.var(dim=(2, 3), unbiased=False, keepdim=True))
        mean, var = self.stats
        y = (x - mean) * torch.rsqrt(var + self.eps)
        return y * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


class ConvLayer(nn.Sequential):
    """Reflection pad -> conv -> (instance norm -> ReLU)."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, norm_act: bool = True):
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(kernel // 2),
            nn.Conv2d(in_ch, out_ch, kernel, stride=stride),
        ]
        if norm_act:
            layers += [InstanceNorm(out_ch), nn.ReLU(inplace=True)]
        super().__init__(*layers)


class UpsampleConvLayer(nn.Sequential):
    """Nearest-neighbour 2x upsample -> ConvLayer (avoids transposed-conv checkerboards)."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int):
        super().__init__(nn.Upsample(scale_factor=2, mode="nearest"), ConvLayer(in_ch, out_ch, kernel))


class ResidualBlock(nn.Module):
    """Two 3x3 ConvLayers with an identity shortcut and no ReLU after the sum (Johnson et al.,
    following Gross & Wilber's "Training and investigating residual nets")."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = ConvLayer(channels, channels, 3)
        self.conv2 = ConvLayer(channels, channels, 3, norm_act=False)
        self.norm2 = InstanceNorm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.norm2(self.conv2(self.conv1(x)))


class TransformerNet(nn.Module):
    """Feed-forward style network.

    Args:
        width: channels of the first conv; the downsampling convs use 2x and 4x this (Johnson:
            32, so 32-64-128 with 128-channel residual blocks).
        num_res_blocks: residual blocks at 1/4 resolution (Johnson: 5).
        gradient_checkpointing: recompute every layer in the backward pass instead of storing its
            activations (saves memory, costs one extra forward of the network).

    ``forward`` maps a float RGB batch ``(N, 3, H, W)`` in [0, 1] to a stylised batch of the same
    shape, values in (0, 1) (the paper's scaled tanh, written as a sigmoid). Any H, W >= 1 work:
    the input is reflection-padded to a multiple of 4 (at least 8) and the output cropped back.
    """

    def __init__(self, width: int = 32, num_res_blocks: int = 5, gradient_checkpointing: bool = False):
        super().__init__()
        if width < 1 or num_res_blocks < 0:
            raise ValueError(f"width must be >= 1 and num_res_blocks >= 0, got {width}, {num_res_blocks}")
        self.width = width
        self.num_res_blocks = num_res_blocks
        self.gradient_checkpointing = gradient_checkpointing
        self.min_side, self.factor = MIN_SIDE, DOWNSAMPLE_FACTOR  # attributes, so TorchScript sees them
        w1, w2, w3 = width, 2 * width, 4 * width
        self.encoder = nn.Sequential(
            ConvLayer(3, w1, 9),
            ConvLayer(w1, w2, 3, stride=2),
            ConvLayer(w2, w3, 3, stride=2),
        )
        self.res_blocks = nn.ModuleList(ResidualBlock(w3) for _ in range(num_res_blocks))
        self.decoder = nn.Sequential(
            UpsampleConvLayer(w3, w2, 3),
            UpsampleConvLayer(w2, w1, 3),
            ConvLayer(w1, 3, 9, norm_act=False),
        )

    def config(self) -> dict:
        """The constructor arguments that define the architecture (stored with exported weights)."""
        return {"width": self.width, "num_res_blocks": self.num_res_blocks}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError("TransformerNet expects an (N, 3, H, W) RGB batch")
        h, w = x.shape[2], x.shape[3]
        if h < self.min_side or w < self.min_side:
            # Reflection needs pad < size; replicate covers tiny images (e.g. 1x1).
            x = F.pad(x, (0, max(0, self.min_side - w), 0, max(0, self.min_side - h)), mode="replicate")
        # Always padded (possibly by 0) rather than branched on, so that exported graphs
        # (TorchScript, ONNX) keep a dynamic height and width.
        x = F.pad(x, (0, (-x.shape[3]) % self.factor, 0, (-x.shape[2]) % self.factor), mode="reflect")
        if self.gradient_checkpointing and self.training and torch.is_grad_enabled():
            y = self._checkpointed(x)
        else:
            y = self.encoder(x)
            for block in self.res_blocks:
                y = block(y)
            y = self.decoder(y)
        return torch.sigmoid(y)[:, :, :h, :w]

    @torch.jit.unused
    def _checkpointed(self, x: torch.Tensor) -> torch.Tensor:
        """Every layer recomputed in the backward pass: only layer inputs are kept, which matters
        most for the full-resolution encoder/decoder convolutions of 512-1024 px training."""
        for layer in [*self.encoder, *self.res_blocks, *self.decoder]:
            x = checkpoint(layer, x, use_reentrant=False)
        return x


@contextlib.contextmanager
def fixed_norm_stats(net: TransformerNet, reference: torch.Tensor) -> Iterator[None]:
    """Inside this block every InstanceNorm of ``net`` uses the statistics of ``reference``
    ``(1, 3, H, W)`` (e.g. a downscaled copy of the whole image) instead of its own input's."""
    norms = [m for m in net.modules() if isinstance(m, InstanceNorm)]
    try:
        for m in norms:
            m.stats_mode = "record"
        with torch.no_grad():
            net(reference)
        for m in norms:
            m.stats_mode = "use"
        yield
    finally:
        for m in norms:
            m.stats_mode, m.stats = "", None
