"""Adding a style to a trained network (Dumoulin et al. 2017, Sec. 4.3): the new network holds the old
styles plus new ones; everything but the new styles' instance-norm scale and shift is copied and frozen,
so the old styles stay exactly as they were.

Plain PyTorch: nothing here imports Lightning.
"""
from __future__ import annotations

import torch
from torch import nn

from ..models import TransformerNet


def extend_from(net: TransformerNet, trained: TransformerNet) -> None:
    """Copy ``trained`` (``S`` styles) into ``net`` (``S + k`` styles, same width and depth): shared
    weights as they are, norm rows ``0..S-1`` as they are, each new row the mean of the trained ones
    (a neutral start between the known styles)."""
    shape = lambda n: {k: v for k, v in n.config().items() if k != "num_styles"}  # noqa: E731
    if shape(net) != shape(trained):
        raise ValueError(f"cannot extend a TransformerNet{trained.config()} into a TransformerNet{net.config()}: "
                         "the architectures must match")
    if net.num_styles <= trained.num_styles:
        raise ValueError(f"the new network must hold more styles than the trained one's {trained.num_styles}")
    old = trained.state_dict()
    with torch.no_grad():
        for name, value in net.state_dict().items():
            source = old[name]
            if value.shape == source.shape:
                value.copy_(source)
            else:  # a norm table (S + k, C) from (S, C)
                value[: source.shape[0]] = source
                value[source.shape[0]:] = source.mean(0, keepdim=True)


def copy_weights(net: TransformerNet, trained: TransformerNet) -> None:
    """Start ``net`` from ``trained``: the same network (fine-tuning, e.g. with the temporal regulariser)
    copies every weight; one with more styles is :func:`extend_from` it."""
    if net.config() == trained.config():
        net.load_state_dict(trained.state_dict())
    else:
        extend_from(net, trained)


def train_only_styles(net: TransformerNet, indices: list[int]) -> list[torch.utils.hooks.RemovableHandle]:
    """Freeze ``net`` except the norm rows of the styles ``indices``: every other parameter stops
    requiring gradients, and the norm tables' gradients are zeroed outside those rows (with Adam and no
    weight decay a zero gradient leaves a parameter exactly where it was)."""
    mask = torch.zeros(net.num_styles, 1)
    mask[indices] = 1.0
    norms = {id(p) for p in net.norm_parameters()}
    for p in net.parameters():
        p.requires_grad_(id(p) in norms)
    return [p.register_hook(lambda g: g * mask.to(g.device, g.dtype)) for p in net.norm_parameters()]


def trainable(module: nn.Module) -> list[nn.Parameter]:
    return [p for p in module.parameters() if p.requires_grad]

