"""Export a style model to other runtimes (TorchScript, ONNX) and check every export's numbers
against the PyTorch model on a real photo."""
from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .atomic import atomic_path
from .export import FORMAT, FORMAT_VERSION, decode_metadata, encode_metadata, load_transformer, save_stylizer
from .image import load_image
from .models import TransformerNet

FORMATS = ("safetensors", "torchscript", "onnx")
SUFFIXES = {"safetensors": ".safetensors", "torchscript": ".torchscript.pt", "onnx": ".onnx"}
# Max abs difference (images in [0, 1]) an export may show against the fp32 PyTorch model. fp32 runtimes
# differ by float rounding only (measured ~1e-6); reduced-precision weights by their rounding (measured
# on the demo model: fp16 ~1e-3, bf16 ~1e-2).
TOLERANCE = {"fp32": 1e-4, "fp16": 5e-3, "bf16": 5e-2}
ONNX_OPSET = 17  # InstanceNormalization, Resize(nearest) and reflect Pad are all in opset 17


class ExportError(RuntimeError):
    """An export failed or its output differs from the PyTorch model beyond the tolerance."""


@dataclass
class ExportResult:
    format: str
    path: Path
    max_abs_diff: float


def export_torchscript(net: TransformerNet, path: str | os.PathLike) -> Path:
    """Scripted (not traced) so any batch, height and width work; load with ``torch.jit.load``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchScript is deprecated upstream but still what many runtimes load
        scripted = torch.jit.script(net.eval())
        with atomic_path(path) as tmp:
            torch.jit.save(scripted, str(tmp))
    return Path(path)


def export_onnx(net: TransformerNet, path: str | os.PathLike, metadata: dict[str, Any] | None = None) -> Path:
    """ONNX with dynamic batch, height and width (inputs of at least 8 px a side); the stylenet
    metadata is kept in the model's metadata_props as JSON strings. A multi-style network takes a second
    input, ``style_weights`` ``(batch, S)`` (one file for all styles and mixes)."""
    import onnx

    example = torch.rand(1, 3, 64, 64)
    axes = {0: "batch", 2: "height", 3: "width"}
    inputs, names, dynamic = (example,), ["image"], {"image": axes, "stylized": axes}
    if net.num_styles > 1:
        inputs = (example, torch.full((1, net.num_styles), 1.0 / net.num_styles))
        names, dynamic["style_weights"] = ["image", "style_weights"], {0: "batch"}
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # The TorchScript-based exporter keeps the shape arithmetic of the padding dynamic.
        torch.onnx.export(net.eval(), inputs, str(tmp), input_names=names, output_names=["stylized"],
                          dynamic_axes=dynamic, opset_version=ONNX_OPSET, dynamo=False)
        model = onnx.load(str(tmp))
        for key, value in encode_metadata(metadata or {}).items():  # same encoding as the safetensors file
            model.metadata_props.add(key=key, value=value)
        onnx.checker.check_model(model)
        onnx.save(model, str(tmp))
    return Path(path)


def onnx_session(path: str | os.PathLike, threads: int | None = None, provider: str = "CPUExecutionProvider"):
    """An onnxruntime session for an exported model (CPU unless another installed provider is named)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=[provider])


def onnx_metadata(session) -> dict[str, Any]:
    return decode_metadata(session.get_modelmeta().custom_metadata_map)


def parity_style(net: TransformerNet) -> torch.Tensor | None:
    """Style weights for parity checks: a mix of every style with unequal weights (None for one style)."""
    if net.num_styles == 1:
        return None
    weights = torch.arange(1, net.num_styles + 1, dtype=torch.float32)
    return (weights / weights.sum())[None]


def max_abs_diff(reference: TransformerNet, candidate: Callable[..., torch.Tensor], photo: torch.Tensor,
                 style: torch.Tensor | None = None) -> float:
    with torch.inference_mode():
        if style is None:
            return (reference(photo).float() - candidate(photo).float()).abs().max().item()
        return (reference(photo, style).float() - candidate(photo, style).float()).abs().max().item()


def export_model(model_path: str | os.PathLike, out_dir: str | os.PathLike, formats: Sequence[str] = ("safetensors",),
                 dtype: str = "fp32", photo: str | os.PathLike | None = None, max_size: int = 512) -> list[ExportResult]:
    """Export a ``.ckpt`` or ``.safetensors`` model to ``formats`` in ``out_dir`` (named after the
    style) and check each against the PyTorch model on ``photo`` (default: a bundled photo)."""
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise ExportError(f"unknown export format(s) {sorted(unknown)}; choose from {FORMATS}")
    net, meta = load_transformer(model_path)
    if photo is None:
        from .config import resolve_path
        photo = sorted(resolve_path("data/sample").glob("*.jpg"))[0]
    x = load_image(photo, max_size)[None]
    out_dir = Path(out_dir)
    stem = str(meta.get("style", Path(model_path).stem))
    style = parity_style(net)  # multi-style: every style in the check, mixed
    results = []
    for fmt in formats:
        path = out_dir / f"{stem}{SUFFIXES[fmt]}"
        if fmt == "safetensors":
            save_stylizer(net, path, dtype=dtype, **{k: v for k, v in meta.items()
                                                      if k not in ("format", "format_version", "model", "weights_dtype")})
            copy, _ = load_transformer(path)
            diff, tol = max_abs_diff(net, copy, x, style), TOLERANCE[dtype]
        elif fmt == "torchscript":
            export_torchscript(net, path)
            diff, tol = max_abs_diff(net, torch.jit.load(str(path)), x, style), TOLERANCE["fp32"]
        else:
            export_onnx(net, path, {**meta, "format": FORMAT, "format_version": FORMAT_VERSION, "model": net.config()})
            session = onnx_session(path)

            def run(t: torch.Tensor, s: torch.Tensor | None = None) -> torch.Tensor:
                feeds = {"image": t.numpy()} if s is None else {"image": t.numpy(), "style_weights": s.numpy()}
                return torch.from_numpy(session.run(None, feeds)[0])
            diff = max_abs_diff(net, run, x, style)
            tol = TOLERANCE["fp32"]
        if not diff <= tol:
            raise ExportError(f"{path}: max abs difference {diff:.2e} to the PyTorch model exceeds {tol:.0e}")
        results.append(ExportResult(fmt, path, diff))
    return results
