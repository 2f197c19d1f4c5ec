"""The transformation networks: one :class:`TransformerNet` for Johnson et al.'s network, its smaller
widths and the light family, each for one style or several (conditional instance norm)."""

from .layers import ConvLayer, InvertedResidualBlock, ResidualBlock, SubpixelConvLayer, UpsampleConvLayer
from .norm import InstanceNorm, fixed_norm_stats
from .transformer import BLOCKS, DOWNSAMPLE_FACTOR, MIN_SIDE, TransformerNet, one_hot

__all__ = ["BLOCKS", "DOWNSAMPLE_FACTOR", "MIN_SIDE", "ConvLayer", "InstanceNorm", "InvertedResidualBlock",
           "ResidualBlock", "SubpixelConvLayer", "TransformerNet", "UpsampleConvLayer", "fixed_norm_stats", "one_hot"]
