"""Per-style model files: the TransformerNet weights as safetensors plus metadata (style, model
config, training settings), loadable without the training config and without pickle."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file
from torch import nn

from .atomic import atomic_path
from .transformer import TransformerNet

FORMAT = "stylenet"
FORMAT_VERSION = "1"


class ModelFileError(ValueError):
    """A model file is missing, unreadable, or not a stylenet model."""


def save_stylizer(net: TransformerNet, path: str | os.PathLike, **metadata: Any) -> Path:
    """Write ``net``'s weights and ``metadata`` (JSON-encoded values) atomically to ``path``."""
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "model": json.dumps(net.config())}
    meta.update({k: json.dumps(v) for k, v in metadata.items()})
    state = {k: v.detach().float().cpu().contiguous() for k, v in net.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata=meta)
    return Path(path)


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The decoded metadata of a stylenet model file; raises ModelFileError for anything else."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    try:
        with safe_open(str(path), framework="pt") as f:
            raw = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(f"{path}: not a readable safetensors file ({exc})") from None
    if raw.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a stylenet model (metadata has no format={FORMAT!r})")
    return {k: (v if k in ("format", "format_version") else json.loads(v)) for k, v in raw.items()}


class Stylizer(nn.Module):
    """A trained TransformerNet for inference. ``forward`` takes RGB ``(N, 3, H, W)`` or
    ``(3, H, W)`` in [0, 1] and returns the stylised image(s), same shape, clamped to [0, 1]."""

    def __init__(self, net: TransformerNet, metadata: dict[str, Any] | None = None):
        super().__init__()
        self.net = net.eval()
        self.metadata = dict(metadata or {})
        self.style = self.metadata.get("style", "unknown")

    @torch.inference_mode()
    def forward(self, image: torch.Tensor) -> torch.Tensor:
        single = image.ndim == 3
        x = image[None] if single else image
        param = next(self.net.parameters())
        y = self.net(x.to(param.device, param.dtype)).clamp_(0, 1)
        return y[0] if single else y


def load_stylizer(path: str | os.PathLike, device: str | torch.device = "cpu") -> Stylizer:
    """Load an exported ``.safetensors`` style model (see :func:`save_stylizer`)."""
    meta = read_metadata(path)
    net = TransformerNet(**meta["model"])
    state = load_file(str(path), device="cpu")
    missing, unexpected = set(net.state_dict()) - set(state), set(state) - set(net.state_dict())
    if missing or unexpected:
        raise ModelFileError(f"{path}: weights do not match the model in its metadata "
                             f"(missing {sorted(missing)[:3]}, unexpected {sorted(unexpected)[:3]})")
    try:
        net.load_state_dict(state)
    except RuntimeError as exc:
        raise ModelFileError(f"{path}: weight shapes do not match the model in its metadata ({exc})") from None
    return Stylizer(net, meta).to(device)
