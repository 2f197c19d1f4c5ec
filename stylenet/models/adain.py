"""Arbitrary style transfer with adaptive instance normalisation (Huang & Belongie 2017, "Arbitrary Style
Transfer in Real-time with Adaptive Instance Normalization"; reference code naoto0804/pytorch-AdaIN).

A frozen VGG-19 encoder up to relu4_1 (the bundled weights, :mod:`stylenet.vgg`), the AdaIN layer, which
gives the content features the style features' per-channel mean and standard deviation, and a trained
decoder mirroring the encoder (nearest upsampling + reflection-padded 3x3 convolutions). Any painting is a
style: its relu4_1 statistics are computed once and used for every photo (and every tile of a photo).

Plain PyTorch: nothing here imports Lightning.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from ..vgg import VGGFeatures

# The encoder's output and the style loss's layers (Huang & Belongie 2017, Sec. 6.1).
ENCODER_LAYER = "relu4_1"
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
FEATURES = 512  # relu4_1 channels
DOWNSAMPLE = 8  # three 2x2 max-pools before relu4_1
MIN_SIDE = 16  # inputs are padded up to this (ONNX graphs: inputs of at least 16 px a side)
EPS = 1e-5  # added to the variance (naoto0804/pytorch-AdaIN function.py calc_mean_std)


def mean_std(features: torch.Tensor, eps: float = EPS) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample, per-channel mean and std over H and W of ``(N, C, H, W)`` features, each ``(N, C)``,
    in fp32 whatever the input's dtype (the variance of bf16 activations loses too much)."""
    x = features.float()
    var, mean = torch.var_mean(x, dim=(2, 3), unbiased=False)
    return mean, (var + eps).sqrt()


def region_mean_std(features: torch.Tensor, regions: torch.Tensor, eps: float = EPS) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-region :func:`mean_std`: ``regions`` ``(N, K, H, W)`` weights per pixel (a mask's regions at the
    features' resolution); each ``(N, K, C)``, the weighted mean and std of ``features`` over each region
    (Huang & Belongie Sec. 7.3: the content statistics of each region). Two passes, in fp32; a region of no
    weight gets mean 0 and std sqrt(eps) (its pixels are weighted 0 anyway)."""
    x, r = features.float(), regions.float()
    total = r.sum(dim=(2, 3)).clamp_min(1e-8)[..., None]  # (N, K, 1)
    mean = torch.einsum("nkhw,nchw->nkc", r, x) / total
    var = torch.stack([torch.einsum("nhw,nchw->nc", r[:, k], (x - mean[:, k, :, None, None]).square())
                       for k in range(r.shape[1])], dim=1) / total
    return mean, (var + eps).sqrt()


def make_target(mean: torch.Tensor, std: torch.Tensor, alpha: float | torch.Tensor = 1.0) -> torch.Tensor:
    """The AdaIN target ``(N, 3, C)`` from style means and stds ``(N, C)`` and alpha (a number, or a tensor
    broadcast to ``(N, C)``): the rows :class:`AdaIN` reads."""
    alpha = alpha.float().reshape(1, 1).expand_as(mean) if isinstance(alpha, torch.Tensor) else torch.full_like(mean, alpha)
    return torch.stack([mean, std, alpha], dim=1)


class AdaIN(nn.Module):
    """``forward(content, target)``: ``content`` ``(N, C, H, W)`` features; ``target`` ``(N, 3, C)`` rows
    style mean, style std and alpha (one value repeated over C): ``alpha * (std_s * (x - mean_c) / std_c +
    mean_s) + (1 - alpha) * x`` (Huang & Belongie Eq. 8 and Sec. 7.2, content-style trade-off).

    ``forward(content, target, regions)``: spatial control (Sec. 7.3): ``target`` ``(N, K, 3, C)``, one per
    region, ``regions`` ``(N, K, H, W)`` weights per pixel summing to 1; each region is normalised with its
    own content statistics (:func:`region_mean_std`) and given its style's, and the K results are blended
    by the weights (a binary mask: AdaIN per region, as xunhuang1995/AdaIN-style test.lua ``-mask``).

    Tiled inference records the content statistics of a whole (downscaled) image once and reuses them
    for every tile (``stats_mode`` "record"/"use", see :func:`stylenet.models.norm.fixed_norm_stats`)."""

    def __init__(self, eps: float = EPS):
        super().__init__()
        self.eps = eps
        self.stats_mode = ""
        self.stats: Optional[tuple[torch.Tensor, torch.Tensor]] = None

    def forward(self, content: torch.Tensor, target: torch.Tensor, regions: Optional[torch.Tensor] = None) -> torch.Tensor:
        if regions is not None:
            return self._regions(content, target.float(), regions.float())
        target = target.float()
        mean_s, std_s, alpha = target[:, 0], target[:, 1], target[:, 2]
        x = content.float()
        if self.stats_mode == "record":
            self.stats = mean_std(content, self.eps)
        if self.stats_mode != "" and self.stats is not None:
            mean_c, std_c = self.stats
            normed = (x - mean_c[..., None, None]) / std_c[..., None, None]
        else:
            # (x - mean_c) / std_c as an instance norm: the same numbers, and an ONNX export gets an
            # InstanceNormalization node, whose statistics tiles can share (stylenet.inference.onnx_tiles).
            normed = F.instance_norm(x, eps=self.eps)
        styled = normed * std_s[..., None, None] + mean_s[..., None, None]
        alpha = alpha[..., None, None]
        return (alpha * styled + (1 - alpha) * x).to(content.dtype)

    def _regions(self, content: torch.Tensor, target: torch.Tensor, regions: torch.Tensor) -> torch.Tensor:
        x = content.float()
        if self.stats_mode == "record":
            self.stats = region_mean_std(content, regions, self.eps)
        mean_c, std_c = self.stats if self.stats_mode != "" and self.stats is not None else region_mean_std(x, regions, self.eps)
        out = torch.zeros_like(x)
        for k in range(regions.shape[1]):
            mean_s, std_s, alpha = (target[:, k, i, :, None, None] for i in range(3))
            styled = (x - mean_c[:, k, :, None, None]) / std_c[:, k, :, None, None] * std_s + mean_s
            out += regions[:, k, None] * (alpha * styled + (1 - alpha) * x)
        return out.to(content.dtype)


def _conv(cin: int, cout: int, relu: bool = True) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.ReflectionPad2d(1), nn.Conv2d(cin, cout, 3)]
    return layers + [nn.ReLU()] if relu else layers


class Decoder(nn.Sequential):
    """relu4_1 features ``(N, 512, H/8, W/8)`` -> RGB ``(N, 3, H, W)`` (about [0, 1]; not clamped, so the
    loss sees the true output). The mirror of VGG-19 up to relu4_1: naoto0804/pytorch-AdaIN net.py's
    decoder, with ``width`` channels at 1/8 resolution, ``width/2`` at 1/4 and ``width/4`` at 1/2 and full
    resolution (256 there: VGG's own widths)."""

    def __init__(self, width: int = 256):
        if width < 4 or width % 4:
            raise ValueError(f"decoder width must be a multiple of 4, >= 4, got {width}")
        w1, w2, w4 = width, width // 2, width // 4
        up = lambda: nn.Upsample(scale_factor=2, mode="nearest")  # noqa: E731
        super().__init__(
            *_conv(FEATURES, w1), up(),
            *_conv(w1, w1), *_conv(w1, w1), *_conv(w1, w1), *_conv(w1, w2), up(),
            *_conv(w2, w2), *_conv(w2, w4), up(),
            *_conv(w4, w4), *_conv(w4, 3, relu=False),
        )
        self.width = width


def _pad(image: torch.Tensor) -> torch.Tensor:
    """``image`` (or a map of its size) padded, replicating its edges, to at least MIN_SIDE a side (the decoder's
    reflection padding needs 2x2 maps at 1/8 resolution) and to a multiple of DOWNSAMPLE."""
    h, w = image.shape[2], image.shape[3]
    if h < MIN_SIDE or w < MIN_SIDE:
        image = F.pad(image, (0, max(0, MIN_SIDE - w), 0, max(0, MIN_SIDE - h)), mode="replicate")
    # Always padded (possibly by 0), not branched on, so an exported graph keeps a dynamic height and width.
    return F.pad(image, (0, (-image.shape[3]) % DOWNSAMPLE, 0, (-image.shape[2]) % DOWNSAMPLE), mode="replicate")


class AdaINNet(nn.Module):
    """Encoder (frozen VGG-19 to relu4_1), AdaIN, decoder. ``forward(image, target)``: ``image`` float RGB
    ``(N, 3, H, W)`` in [0, 1], any H and W (padded to a multiple of 8 inside, cropped back);
    ``target`` ``(N, 3, 512)`` from :meth:`target` (style statistics and alpha). Returns ``(N, 3, H, W)``.
    Spatial control: ``forward(image, targets, regions)`` with ``targets`` ``(N, K, 3, 512)`` and ``regions``
    ``(N, K, H, W)`` (a mask's regions at the image's resolution, summing to 1 per pixel; see :class:`AdaIN`).

    Only the decoder is a submodule: ``state_dict()`` and ``parameters()`` hold the decoder alone (a few
    MB to ship and train); the encoder is rebuilt from the bundled VGG weights and follows the network
    in ``.to()``/``.half()``."""

    family = "adain"
    num_styles = 1
    downsample = DOWNSAMPLE

    def __init__(self, decoder_width: int = 256, vgg_weights: str = "caffe"):
        super().__init__()
        self.decoder_width, self.vgg_weights = decoder_width, vgg_weights
        object.__setattr__(self, "encoder", VGGFeatures(STYLE_LAYERS, vgg_weights))
        self.adain = AdaIN()
        self.decoder = Decoder(decoder_width)

    def config(self) -> dict:
        return {"family": self.family, "decoder_width": self.decoder_width, "vgg_weights": self.vgg_weights}

    def _apply(self, fn, recurse: bool = True):
        super()._apply(fn, recurse)
        self.encoder._apply(fn, recurse)
        return self

    def encode(self, image: torch.Tensor, layers: Sequence[str] = (ENCODER_LAYER,)) -> dict[str, torch.Tensor]:
        return self.encoder(image, layers)

    @torch.no_grad()
    def target(self, styles: Sequence[torch.Tensor], weights: Sequence[float] | None = None,
               alpha: float = 1.0) -> torch.Tensor:
        """``(1, 3, 512)`` AdaIN target for one or several style images (each ``(3, H, W)`` or ``(1, 3, H, W)``
        in [0, 1], any size): the weighted mean of their relu4_1 means and stds, which is exactly the
        paper's interpolation of the AdaIN outputs (Sec. 7.2: sum_k w_k AdaIN(x, s_k) = AdaIN with the
        w-averaged statistics), and ``alpha`` in [0, 1]. Weights are normalised to sum to 1."""
        if not styles:
            raise ValueError("no style image given")
        weights = [1.0] * len(styles) if weights is None else [float(w) for w in weights]
        if len(weights) != len(styles) or min(weights) < 0 or sum(weights) <= 0:
            raise ValueError(f"need one weight >= 0 per style image (not all 0), got {weights} for {len(styles)}")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        device = next(self.decoder.parameters()).device
        total = sum(weights)
        mean = std = 0.0
        for image, w in zip(styles, weights):
            image = image[None] if image.dim() == 3 else image
            m, s = mean_std(self.encode(image.to(device, torch.float32))[ENCODER_LAYER])
            mean, std = mean + m * (w / total), std + s * (w / total)
        return make_target(mean, std, alpha)

    def forward(self, image: torch.Tensor, target: torch.Tensor, regions: Optional[torch.Tensor] = None) -> torch.Tensor:
        h, w = image.shape[2], image.shape[3]
        image = _pad(image)
        features = self.encode(image)[ENCODER_LAYER]
        if regions is None:
            out = self.decoder(self.adain(features, target.expand(image.shape[0], -1, -1)))
        else:
            if regions.shape[-2:] != (h, w):
                raise ValueError(f"regions must be (N, K, {h}, {w}) like the image, got {tuple(regions.shape)}")
            regions = F.adaptive_avg_pool2d(_pad(regions.to(features.dtype)), features.shape[-2:])
            out = self.decoder(self.adain(features, target.expand(image.shape[0], -1, -1, -1), regions))
        return out[..., :h, :w]


class AdaINTransfer(nn.Module):
    """``forward(image, style_image, alpha)`` -> ``(N, 3, H, W)``: the whole transfer as one graph with the
    style image as an input (ONNX export, parity checks). ``style_image`` ``(N, 3, Hs, Ws)`` in [0, 1] (one
    painting per photo), ``alpha`` ``(1,)``."""

    def __init__(self, net: AdaINNet):
        super().__init__()
        self.net = net
        self.encoder = net.encoder  # registered here, so an export holds its weights once, as parameters

    def forward(self, image: torch.Tensor, style_image: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        mean, std = mean_std(self.net.encode(style_image)[ENCODER_LAYER])
        return self.net(image, make_target(mean, std, alpha))


class AdaINFixedStyle(nn.Module):
    """``forward(image)`` -> ``(N, 3, H, W)``: ``net`` with one AdaIN ``target`` ``(1, 3, 512)`` (a painting's, or
    a mix's, statistics and alpha: :meth:`AdaINNet.target`) held as a constant, so the exported graph takes the
    photo alone (``scripts/export.py --model adain --style painting.jpg``). No ``family``: it exports and
    runs like a one-style network."""

    num_styles = 1
    downsample = DOWNSAMPLE

    def __init__(self, net: AdaINNet, target: torch.Tensor):
        super().__init__()
        self.net = net
        self.encoder = net.encoder  # registered here, so an export holds its weights (as AdaINTransfer does)
        self.register_buffer("target", target.reshape(1, 3, -1).float())

    def config(self) -> dict:
        return self.net.config()

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.net(image, self.target)

