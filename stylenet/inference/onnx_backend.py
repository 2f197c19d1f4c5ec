"""The Stylizer's onnxruntime backend: an exported ``.onnx`` file run on the CPU in fp32.

:class:`OnnxBackend` is called as the PyTorch network is (a batch ``(N, 3, H, W)`` float in [0, 1] and a
multi-style model's weights in, the stylised batch in [0, 1] out), and :meth:`OnnxBackend.shared_stats` is
its counterpart of :func:`stylenet.models.fixed_norm_stats`: tiles of one image normalised with the whole
image's statistics (:mod:`.onnx_tiles`).
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from ..models import MIN_SIDE


def feeds(x: torch.Tensor, weights: torch.Tensor | None = None) -> dict[str, np.ndarray]:
    """An ONNX model's inputs: ``image`` (the batch as float32), and a multi-style model's ``style_weights``
    ``(N, S)`` (or ``(N, S, h, w)`` with a mask's regions)."""
    out = {"image": x.float().cpu().contiguous().numpy()}
    if weights is not None:
        out["style_weights"] = weights.float().cpu().contiguous().numpy()
    return out


class OnnxBackend:
    """``session`` (an onnxruntime InferenceSession of a stylenet export) with the file's ``source`` (its path
    or bytes: needed only for tiles that share statistics; without it each tile keeps its own) and the graph's
    smallest input side ``min_side`` (8 px, an AdaIN file 16: smaller images are padded, then cropped)."""

    def __init__(self, session, source: str | os.PathLike | bytes | None = None, min_side: int = MIN_SIDE):
        self.session, self.min_side = session, min_side
        self._source, self._tiles, self._stats = source, None, None

    def __call__(self, x: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        h, w = x.shape[-2:]
        if h < self.min_side or w < self.min_side:  # (onnx_export.export_onnx traces at >= min_side)
            x = F.pad(x, (0, max(0, self.min_side - w), 0, max(0, self.min_side - h)), mode="replicate")
        if self._stats is not None:  # a tile, with the whole image's norm statistics (shared_stats)
            out = self._tiles.run(feeds(x, weights), self._stats)
        else:
            out = self.session.run(None, feeds(x, weights))[0]
        return torch.from_numpy(out)[..., :h, :w].clamp_(0, 1)

    def _shared_tiles(self):
        """The record/use sessions (built on the first tiled call), or None: no source given, or a graph
        without instance norms."""
        if self._tiles is None and self._source is not None:
            from .onnx_tiles import shared_stats_tiles

            self._tiles, self._source = shared_stats_tiles(self._source) or False, None
        return self._tiles or None

    @contextlib.contextmanager
    def shared_stats(self, reference: torch.Tensor, weights: torch.Tensor | None = None) -> Iterator[None]:
        """Within the block, every call normalises with ``reference``'s statistics (``(1, 3, h, w)``: the
        whole image, downscaled) where the file allows it (:meth:`_shared_tiles`)."""
        tiles = self._shared_tiles()
        self._stats = tiles.record(feeds(reference, weights)) if tiles is not None else None
        try:
            yield
        finally:
            self._stats = None
