"""The layers of the transformation networks: padded convolutions with (conditional) instance norm,
upsampling, and the two residual block types. Every layer takes ``(x, style)``; ``style`` is ``(N, S)``
style weights or None (see :class:`~stylenet.models.norm.InstanceNorm`). Plain PyTorch."""

from typing import Optional

import torch
from torch import nn

from .norm import InstanceNorm


class ConvLayer(nn.Sequential):
    """Reflection pad -> conv -> (instance norm -> ReLU). ``groups=in_ch``: a depthwise convolution."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, norm_act: bool = True, num_styles: int = 1,
                 groups: int = 1):
        layers: list[nn.Module] = [nn.ReflectionPad2d(kernel // 2)] if kernel > 1 else []
        layers.append(nn.Conv2d(in_ch, out_ch, kernel, stride=stride, groups=groups))
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


class SubpixelConvLayer(nn.Sequential):
    """Reflection pad -> conv to ``out_ch * scale**2`` channels -> PixelShuffle(scale): a convolution whose
    output has ``scale`` x the input's resolution, computed at the input's (sub-pixel convolution, Shi et
    al. 2016, "Real-Time Single Image and Video Super-Resolution Using an Efficient Sub-Pixel Convolutional
    Neural Network"). The weights start ICNR-initialised (Aitken et al. 2017, "Checkerboard artifact free
    sub-pixel convolution"): the ``scale**2`` sub-pixels of every output channel share one kernel, so the
    untrained layer equals nearest-neighbour upsampling after a convolution and starts free of checkerboards.
    No norm or activation: a last layer."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, scale: int = 2):
        conv = nn.Conv2d(in_ch, out_ch * scale * scale, kernel)
        with torch.no_grad():
            one = nn.Conv2d(in_ch, out_ch, kernel)  # PyTorch's default init, for one sub-pixel
            conv.weight.copy_(one.weight.repeat_interleave(scale * scale, dim=0))
            conv.bias.copy_(one.bias.repeat_interleave(scale * scale))
        layers: list[nn.Module] = [nn.ReflectionPad2d(kernel // 2)] if kernel > 1 else []
        super().__init__(*layers, conv, nn.PixelShuffle(scale))

    def forward(self, x: torch.Tensor, style: Optional[torch.Tensor] = None) -> torch.Tensor:
        for layer in self:
            x = layer(x)
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


class InvertedResidualBlock(nn.Module):
    """The inverted bottleneck of MobileNetV2 (Sandler et al. 2018) with instance norms: 1x1 expand to
    ``expansion`` x the channels -> 3x3 depthwise -> 1x1 project back, an identity shortcut and, like
    :class:`ResidualBlock`, no ReLU after the sum. Per pixel it costs ``C*C*2e + 9*C*e`` multiply-adds
    against the basic block's ``18*C*C`` (at C=32, e=2: 2,624 vs 18,432), which is what a CPU pays for."""

    def __init__(self, channels: int, expansion: int = 2, num_styles: int = 1):
        super().__init__()
        hidden = channels * expansion
        self.expand = ConvLayer(channels, hidden, 1, num_styles=num_styles)
        self.depthwise = ConvLayer(hidden, hidden, 3, num_styles=num_styles, groups=hidden)
        self.project = ConvLayer(hidden, channels, 1, norm_act=False)
        self.norm = InstanceNorm(channels, num_styles)

    def forward(self, x: torch.Tensor, style: Optional[torch.Tensor] = None) -> torch.Tensor:
        return x + self.norm(self.project(self.depthwise(self.expand(x, style), style)), style)
