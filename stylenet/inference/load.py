"""load_stylizer: a Stylizer (or an AdaIN one) for an exported model file, an ONNX file or a bundled name."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from .stylizer import Stylizer


def auto_precision(device: str = "auto", backend: str = "torch") -> tuple[str, str]:
    """``(precision, why)`` for stylising on ``device`` with ``backend`` (``--precision auto`` of the scripts
    and the app): bf16 or fp32, :func:`stylenet.hardware.auto_inference_precision`. A bad device name gets fp32
    here; load_stylizer then says what is wrong with it in one line."""
    from ..device import resolve_device
    from ..hardware import auto_inference_precision, probe

    try:
        kind = resolve_device(device).type
    except (ValueError, RuntimeError):
        return "fp32", f"device {device!r}"
    return auto_inference_precision(probe(kind, measure_bf16=backend == "torch"), backend)


def load_stylizer(path: str | os.PathLike, device: str = "cpu", backend: str = "torch", precision: str = "fp32",
                  channels_last: bool = False, style: Any = None, compile: bool = False, alpha: float = 1.0,
                  style_size: int | None = None) -> Stylizer:
    """A Stylizer for an exported model: ``.safetensors`` or Lightning ``.ckpt`` (PyTorch backend, or
    ``backend="onnxruntime"`` through a temporary ONNX export), an ``.onnx`` file (onnxruntime), or the
    name of a bundled model or of a style a bundled model holds (``"starry_night"``, ``"zoo"``,
    ``"wave"``, ``"adain"``; see MODELS.md). ``style``: a style or mix of a multi-style model
    (``"wave"``, ``"wave=0.7,udnie=0.3"``, ``{"wave": 0.7, "udnie": 0.3}``, or ``["wave", "udnie"]``: an even mix;
    :mod:`stylenet.inference.styles`); for an AdaIN model (``"adain"``) one or several style images (paths, PIL
    images, tensors, ``{path: weight}``) with ``alpha`` and ``style_size`` (:mod:`stylenet.adain.stylizer`)."""
    from ..onnx_export import export_onnx, onnx_metadata, onnx_session
    from ..export import ModelFileError, find_model, load_transformer

    path, implied = find_model(path)
    if implied is not None and style is None:
        style = implied
    if backend not in ("torch", "onnxruntime"):
        raise ValueError(f"backend must be torch or onnxruntime, got {backend!r}")
    if path.suffix == ".onnx":
        if not path.is_file():
            raise ModelFileError(f"{path}: no such model file")
        try:
            session = onnx_session(path)
        except Exception as exc:  # onnxruntime raises its own exception types for bad files
            raise ModelFileError(f"{path}: not a loadable ONNX model ({str(exc).splitlines()[0]})") from None
        if "style_image" in [i.name for i in session.get_inputs()]:
            raise ModelFileError(f"{path.name} is an AdaIN export that takes the painting as an input (for your own "
                                 "onnxruntime code): stylise with the .safetensors model (--model adain --style-image "
                                 "...), or bake a painting into a photo-only file: scripts/export.py --model adain "
                                 "--style painting.jpg --format onnx")
        return Stylizer(None, onnx_metadata(session), precision=precision, session=session, style=style, onnx_source=path)
    if path.suffix == ".pt" and path.is_file():
        raise ModelFileError(f"{path.name} is a TorchScript export (for torch.jit.load, e.g. from C++): stylise with the "
                             ".safetensors, .ckpt or .onnx model instead")
    net, meta = load_transformer(path)
    if getattr(net, "family", None) == "adain":
        from ..adain.stylizer import STYLE_SIZE, AdaINStylizer

        if backend != "torch":
            raise ValueError(f"{path.name} is an AdaIN model: it runs with the torch backend (its ONNX export, "
                             "scripts/export.py, takes the photo and the style image as inputs)")
        return AdaINStylizer(net, meta, device=device, precision=precision, channels_last=channels_last, style=style,
                             compile=compile, alpha=alpha, style_size=style_size or STYLE_SIZE)
    if backend == "onnxruntime":
        with tempfile.TemporaryDirectory(prefix="stylenet-onnx-") as tmp:  # the session holds the model in memory
            onnx_file = Path(tmp) / "model.onnx"
            export_onnx(net, onnx_file, {**meta, "model": net.config()})
            session, source = onnx_session(onnx_file), onnx_file.read_bytes()
        return Stylizer(None, meta, precision=precision, session=session, style=style, onnx_source=source)
    return Stylizer(net, meta, device=device, precision=precision, channels_last=channels_last, style=style,
                    compile=compile)
