"""The networks: one :class:`TransformerNet` for Johnson et al.'s network, its smaller widths and the
light family, each for one style or several (conditional instance norm); and :class:`AdaINNet`, any
painting as a style (:mod:`.adain`)."""

from .layers import ConvLayer, InvertedResidualBlock, ResidualBlock, SubpixelConvLayer, UpsampleConvLayer
from .norm import InstanceNorm, fixed_norm_stats
from .transformer import BLOCKS, DOWNSAMPLE_FACTOR, MIN_SIDE, TransformerNet, one_hot
from .adain import AdaINNet


def build_network(config: dict):
    """The network a model file's config describes: ``family: adain`` -> AdaINNet, else TransformerNet."""
    config = dict(config)
    if config.pop("family", None) == "adain":
        return AdaINNet(**config)
    return TransformerNet(**config)

__all__ = ["AdaINNet", "BLOCKS", "DOWNSAMPLE_FACTOR", "MIN_SIDE", "ConvLayer", "InstanceNorm", "InvertedResidualBlock",
           "ResidualBlock", "SubpixelConvLayer", "TransformerNet", "UpsampleConvLayer", "build_network", "fixed_norm_stats", "one_hot"]
