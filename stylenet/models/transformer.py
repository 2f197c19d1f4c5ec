"""The image transformation network of Johnson et al. 2016 ("Perceptual Losses for Real-Time
Style Transfer and Super-Resolution", ECCV, supplementary Table 1), with the improvements that
later work made standard:

- reflection padding instead of zero padding (no dark borders),
- instance normalisation instead of batch normalisation (Ulyanov et al. 2016, "Instance
  Normalization: The Missing Ingredient for Fast Stylization"),
- nearest-neighbour upsampling followed by a convolution instead of fractionally strided
  convolutions (Odena et al. 2016, "Deconvolution and Checkerboard Artifacts"),

and the knobs of the light family (conf/model/light.yaml): channels per resolution, the residual block
type (MobileNetV2's inverted bottleneck), the size of the full-resolution first and last kernels, or no
full-resolution layer at all (a stride-2 first convolution and a sub-pixel last one).

Plain PyTorch: nothing here imports Lightning.
"""

import copy
from collections.abc import Sequence
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from .layers import ConvLayer, InvertedResidualBlock, ResidualBlock, SubpixelConvLayer, UpsampleConvLayer
from .norm import InstanceNorm

# The two stride-2 convolutions shrink the image 4x; inputs are padded up to a multiple of this.
DOWNSAMPLE_FACTOR = 4
# Reflection padding needs pad < size in every layer: 8 px keeps the 1/4-resolution maps at 2x2.
MIN_SIDE = 8
BLOCKS = ("basic", "inverted")
# The defaults: Johnson et al.'s network; config() stores only what differs from them.
DEFAULTS = {"channels": None, "block": "basic", "expansion": 2, "outer_kernel": 9, "full_resolution": True}


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
        channels: ``(c1, c2, c3)`` channels at full, 1/2 and 1/4 resolution instead of ``width``'s
            ``(w, 2w, 4w)``.
        block: "basic" (two 3x3 convolutions, Johnson) or "inverted" (:class:`InvertedResidualBlock`
            with ``expansion``).
        outer_kernel: kernel of the first and last (full-resolution) convolutions (Johnson: 9).
        full_resolution: False: no layer runs at full resolution: the first convolution (``outer_kernel``)
            has stride 2 and the last is a 3x3 sub-pixel convolution (:class:`SubpixelConvLayer`) from
            1/2 resolution; ``channels`` is then ``(c2, c3)``, the 1/2 and 1/4 resolution widths
            (default ``(2w, 4w)``). On a CPU the full-resolution layers are most of a light network's time.

    ``forward(x, style=None)`` maps a float RGB batch ``(N, 3, H, W)`` in [0, 1] to a stylised batch
    of the same shape, values in (0, 1) (the paper's scaled tanh, written as a sigmoid). ``style``:
    ``(N, S)`` or ``(S,)`` style weights (one-hot: one style; several non-zero: a mix), or a map ``(N, S,
    H, W)`` of them per pixel (spatial control), required when the network holds several styles. Any H, W
    >= 1 work: the input is reflection-padded to a multiple of 4 (at least 8) and the output cropped back.
    """

    def __init__(self, width: int = 32, num_res_blocks: int = 5, gradient_checkpointing: bool = False,
                 num_styles: int = 1, channels: Optional[Sequence[int]] = None, block: str = "basic",
                 expansion: int = 2, outer_kernel: int = 9, full_resolution: bool = True):
        super().__init__()
        default = (width, 2 * width, 4 * width) if full_resolution else (2 * width, 4 * width)
        channels = tuple(int(c) for c in channels) if channels else default
        if (min(width, num_styles, expansion) < 1 or num_res_blocks < 0 or len(channels) != len(default)
                or min(channels) < 1):
            raise ValueError(f"width, num_styles, expansion and {len(default)} channels must be >= 1 and "
                             f"num_res_blocks >= 0, got "
                             f"width={width}, num_styles={num_styles}, expansion={expansion}, channels={channels}, "
                             f"num_res_blocks={num_res_blocks}")
        if block not in BLOCKS:
            raise ValueError(f"block must be one of {', '.join(BLOCKS)}, got {block!r}")
        if outer_kernel < 1 or outer_kernel % 2 == 0:
            raise ValueError(f"outer_kernel must be an odd number >= 1, got {outer_kernel}")
        self.width = width
        self.num_res_blocks = num_res_blocks
        self.num_styles = num_styles
        self.arch = {"channels": None if channels == default else list(channels), "block": block,
                     "expansion": expansion, "outer_kernel": outer_kernel, "full_resolution": bool(full_resolution)}
        self.gradient_checkpointing = gradient_checkpointing
        self.min_side, self.factor = MIN_SIDE, DOWNSAMPLE_FACTOR  # attributes, so TorchScript sees them
        s, k = num_styles, outer_kernel
        if full_resolution:
            w1, w2, w3 = channels
            encoder = [ConvLayer(3, w1, k, num_styles=s), ConvLayer(w1, w2, 3, stride=2, num_styles=s)]
            decoder = [UpsampleConvLayer(w3, w2, 3, s), UpsampleConvLayer(w2, w1, 3, s), ConvLayer(w1, 3, k, norm_act=False)]
        else:
            w2, w3 = channels
            encoder = [ConvLayer(3, w2, k, stride=2, num_styles=s)]
            decoder = [UpsampleConvLayer(w3, w2, 3, s), SubpixelConvLayer(w2, 3, 3)]
        self.encoder = nn.Sequential(*encoder, ConvLayer(w2, w3, 3, stride=2, num_styles=s))
        self.res_blocks = nn.ModuleList(
            ResidualBlock(w3, s) if block == "basic" else InvertedResidualBlock(w3, expansion, s)
            for _ in range(num_res_blocks))
        self.decoder = nn.Sequential(*decoder)

    def config(self) -> dict:
        """The constructor arguments that define the architecture (stored with exported weights);
        ``num_styles`` and the light family's knobs only where they differ from the defaults, so the
        files of Johnson networks read as before."""
        config = {"width": self.width, "num_res_blocks": self.num_res_blocks}
        if self.num_styles != 1:
            config["num_styles"] = self.num_styles
        config.update({k: v for k, v in self.arch.items() if v != DEFAULTS[k]
                       and not (k == "expansion" and self.arch["block"] == "basic")})
        return config

    def norm_parameters(self) -> list[nn.Parameter]:
        """The per-style parameters: every instance norm's scale and shift, ``(num_styles, C)`` each."""
        return [p for m in self.modules() if isinstance(m, InstanceNorm) for p in (m.weight, m.bias)]

    def with_style(self, weights: torch.Tensor) -> "TransformerNet":
        """A one-style copy of this network for the style weights ``(S,)`` (one style, or a mix summing to 1):
        mixing is linear in the norms' scale and shift (Dumoulin et al. 2017, Sec. 4.2), so the copy computes
        exactly ``self(x, weights)`` with one input. This network is left as it is."""
        if weights.shape != (self.num_styles,):
            raise ValueError(f"style weights must be ({self.num_styles},) for this network, got {tuple(weights.shape)}")
        net = copy.deepcopy(self)
        net.num_styles = 1
        for m in net.modules():
            if isinstance(m, InstanceNorm):
                w = weights.to(m.weight)
                m.weight, m.bias = nn.Parameter((w @ m.weight.detach())[None]), nn.Parameter((w @ m.bias.detach())[None])
                m.num_styles = 1
        return net

    def forward(self, x: torch.Tensor, style: Optional[torch.Tensor] = None) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError("TransformerNet expects an (N, 3, H, W) RGB batch")
        h, w = x.shape[2], x.shape[3]
        if style is not None:
            if style.dim() == 1:
                style = style.unsqueeze(0)
            if style.dim() == 4:  # a style map: weights per pixel (see InstanceNorm)
                if style.shape[1] != self.num_styles or style.shape[2] != h or style.shape[3] != w:
                    raise ValueError(f"a style map must be (N, {self.num_styles}, {h}, {w}) for this network and input")
                style = style.expand(x.shape[0], self.num_styles, h, w)
            elif style.dim() != 2 or style.shape[1] != self.num_styles:
                raise ValueError(f"style weights must be (N, {self.num_styles}) for this network")
            else:
                style = style.expand(x.shape[0], self.num_styles)
        elif self.num_styles != 1:
            raise ValueError(f"this network holds {self.num_styles} styles: pass style weights (N, {self.num_styles})")
        x = self._pad(x)
        if style is not None and style.dim() == 4:
            style = self._pad(style)  # padded as the image is, so the map stays on its pixels
        if self.gradient_checkpointing and self.training and torch.is_grad_enabled():
            y = self._checkpointed(x, style)
        else:
            y = x
            for layer in self.encoder:
                y = layer(y, style)
            block_style = style
            if style is not None and style.dim() == 4:  # a map averaged down once for every block (one resolution)
                block_style = F.adaptive_avg_pool2d(style, [y.shape[2], y.shape[3]])
            for block in self.res_blocks:
                y = block(y, block_style)
            for layer in self.decoder:
                y = layer(y, style)
        return torch.sigmoid(y)[:, :, :h, :w]

    def _pad(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[2], x.shape[3]
        if h < self.min_side or w < self.min_side:
            # Reflection needs pad < size; replicate covers tiny images (e.g. 1x1).
            x = F.pad(x, (0, max(0, self.min_side - w), 0, max(0, self.min_side - h)), mode="replicate")
        # Always padded (possibly by 0) rather than branched on, so that exported graphs
        # (TorchScript, ONNX) keep a dynamic height and width.
        return F.pad(x, (0, (-x.shape[3]) % self.factor, 0, (-x.shape[2]) % self.factor), mode="reflect")

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


