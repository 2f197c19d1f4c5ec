"""Export a style model to other runtimes (TorchScript, ONNX) and check every export's numbers
against the PyTorch model on a real photo."""
from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .atomic import atomic_path
from .export import (FORMAT, FORMAT_VERSION, decode_metadata, encode_metadata, find_model, load_transformer, one_style,
                     save_stylizer)
from .image import load_image
from .models import TransformerNet
from .models.adain import AdaINTransfer
from .paths import resolve_path

FORMATS = ("safetensors", "torchscript", "onnx", "onnx-fp16", "onnx-int8")
SUFFIXES = {"safetensors": ".safetensors", "torchscript": ".torchscript.pt", "onnx": ".onnx",
            "onnx-fp16": ".fp16.onnx", "onnx-int8": ".int8.onnx"}
# Max abs difference (images in [0, 1]) an export may show against the fp32 PyTorch model. fp32 runtimes
# differ by float rounding only (measured ~1e-6); reduced-precision weights by their rounding (measured
# on the demo model: fp16 ~1e-3, bf16 ~1e-2).
TOLERANCE = {"fp32": 1e-4, "fp16": 5e-3, "bf16": 5e-2}
# AdaIN in fp16 runs VGG's activations (up to ~2,000 at relu4_1) in fp16 too, not only a small network.
ADAIN_FP16_TOLERANCE = 2e-2
# int8 moves single pixels a lot (max ~0.5 measured on a light model) but few of them: its bound is on
# the mean abs difference (measured 0.015 on a 512-px photo for a light starry_night model).
INT8_MEAN_TOLERANCE = 0.04
CALIBRATION_PHOTOS = 16  # the last 16 of data/sample (evaluation uses the first ones): activation ranges for int8
ONNX_OPSET = 17  # InstanceNormalization, Resize(nearest) and reflect Pad are all in opset 17


class ExportError(RuntimeError):
    """An export failed or its output differs from the PyTorch model beyond the tolerance."""


@dataclass
class ExportResult:
    format: str
    path: Path
    max_abs_diff: float
    mean_abs_diff: float | None = None


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
    input, ``style_weights`` ``(batch, S)`` (one file for all styles and mixes). An AdaIN network
    (:class:`~stylenet.models.adain.AdaINNet`) takes ``image``, ``style_image`` ``(batch, 3, Hs, Ws)`` (any
    size) and ``alpha`` ``(1,)``: encoder, AdaIN and decoder in one graph."""
    import onnx

    example = torch.rand(1, 3, 64, 64)
    axes = {0: "batch", 2: "height", 3: "width"}
    inputs, names, dynamic = (example,), ["image"], {"image": axes, "stylized": axes}
    if getattr(net, "family", None) == "adain":
        net = AdaINTransfer(net)
        inputs = (example, torch.rand(1, 3, 96, 80), torch.ones(1))
        names, dynamic["style_image"] = ["image", "style_image", "alpha"], {0: "batch", 2: "style_height", 3: "style_width"}
    elif net.num_styles > 1:
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


def onnx_session(path: str | os.PathLike | bytes, threads: int | None = None, provider: str = "CPUExecutionProvider"):
    """An onnxruntime session for an exported model, a file or its bytes (CPU unless another installed
    provider is named)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(path if isinstance(path, bytes) else str(path), options, providers=[provider])


def onnx_metadata(session) -> dict[str, Any]:
    return decode_metadata(session.get_modelmeta().custom_metadata_map)


def parity_style(net: TransformerNet) -> torch.Tensor | tuple[torch.Tensor, ...] | None:
    """Style weights for parity checks: a mix of every style with unequal weights (None for one style);
    for AdaIN, a bundled painting and alpha 0.8 (the inputs of :class:`AdaINTransfer` after the photo)."""
    if getattr(net, "family", None) == "adain":
        return load_image(resolve_path("data/styles/starry_night.jpg"), 256)[None], torch.tensor([0.8])
    if net.num_styles == 1:
        return None
    weights = torch.arange(1, net.num_styles + 1, dtype=torch.float32)
    return (weights / weights.sum())[None]


def abs_diff(reference: TransformerNet, candidate: Callable[..., torch.Tensor], photo: torch.Tensor,
             style: torch.Tensor | tuple[torch.Tensor, ...] | None = None) -> torch.Tensor:
    if getattr(reference, "family", None) == "adain":  # compared through the one-graph form
        reference = AdaINTransfer(reference)
        candidate = candidate if not getattr(candidate, "family", None) == "adain" else AdaINTransfer(candidate)
    with torch.inference_mode():
        args = (photo,) if style is None else (photo, *style) if isinstance(style, tuple) else (photo, style)
        # Compared as images, in [0, 1] (AdaIN's decoder output is not bounded; the Stylizer clamps it).
        return (reference(*args).float().clamp(0, 1) - candidate(*args).float().clamp(0, 1)).abs()


def max_abs_diff(reference: TransformerNet, candidate: Callable[..., torch.Tensor], photo: torch.Tensor,
                 style: torch.Tensor | None = None) -> float:
    return abs_diff(reference, candidate, photo, style).max().item()


def onnx_runner(path: str | os.PathLike, threads: int | None = None) -> Callable[..., torch.Tensor]:
    """``run(image, *more)`` on an ONNX file in onnxruntime, the tensors in the graph's input order
    (``style_weights``; AdaIN's ``style_image``, ``alpha``): tensors in, tensor out."""
    session = onnx_session(path, threads)
    names = [i.name for i in session.get_inputs()]

    def run(*tensors: torch.Tensor) -> torch.Tensor:
        feeds = {name: t.float().contiguous().numpy() for name, t in zip(names, tensors)}
        return torch.from_numpy(session.run(None, feeds)[0])
    return run


def export_onnx_fp16(net: TransformerNet, path: str | os.PathLike, metadata: dict[str, Any] | None = None) -> Path:
    """fp16 weights and activations (onnxruntime's float16 converter), fp32 inputs and output: half the file,
    for runtimes with fp16 kernels (GPUs, phones); CPUs mostly compute it in fp32 behind casts."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    with atomic_path(path) as tmp:
        export_onnx(net, tmp, metadata)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            onnx.save(convert_float_to_float16(onnx.load(str(tmp)), keep_io_types=True), str(tmp))
    return Path(path)


def export_onnx_int8(net: TransformerNet, path: str | os.PathLike, calibration: Sequence[torch.Tensor],
                     metadata: dict[str, Any] | None = None) -> Path:
    """Static 8-bit quantisation of every convolution (onnxruntime.quantization, QDQ, per-channel uint8
    weights, uint8 activations whose ranges come from ``calibration``: ``(1, 3, H, W)`` photos in [0, 1]);
    norms, padding and resizing stay fp32.

    Weights are uint8 (onnxruntime's "U8U8"), not its default int8: on x86 CPUs without VNNI (AVX2 or
    AVX512 alone) onnxruntime runs uint8 x int8 products with VPMADDUBSW, whose 16-bit sums saturate
    (onnxruntime's quantisation FAQ, "When to try U8U8"). Measured on an AVX2-only AMD EPYC: the bundled
    starry_night model's mean abs difference 0.043 with int8 weights (over :data:`INT8_MEAN_TOLERANCE`),
    0.015 with uint8 ones, at the same speed (earlier sessions' AVX512 Xeon measured 0.015-0.024 with int8
    weights). The saturation happens where the file runs, so uint8 weights keep it close on every CPU,
    not only on the one that exported it."""
    import tempfile

    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    style = parity_style(net)

    class Photos(CalibrationDataReader):
        def __init__(self):
            self.items = iter(calibration)

        def get_next(self):
            x = next(self.items, None)
            if x is None:
                return None
            return {"image": x.numpy()} if style is None else {"image": x.numpy(), "style_weights": style.numpy()}

    with tempfile.TemporaryDirectory() as tmp, atomic_path(path) as out, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fp32, prepared = Path(tmp) / "fp32.onnx", Path(tmp) / "prepared.onnx"
        export_onnx(net, fp32, metadata)
        quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
        quantize_static(str(prepared), str(out), Photos(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QUInt8, op_types_to_quantize=["Conv"])
    return Path(path)


def calibration_photos(size: int = 256) -> list[torch.Tensor]:
    files = sorted(resolve_path("data/sample").glob("*.jpg"))[-CALIBRATION_PHOTOS:]
    return [load_image(f, size)[None] for f in files]


FILE_SUFFIXES = {".safetensors": ("safetensors",), ".pt": ("torchscript",), ".onnx": ("onnx", "onnx-fp16", "onnx-int8")}


def output_files(out: str | os.PathLike, formats: Sequence[str] | None, stem: str) -> dict[str, Path]:
    """Where each format goes: ``<out>/<stem><suffix>`` for a folder ``out`` (default: safetensors), or ``out``
    itself where it names a model file (``wave.onnx``: a suffix of :data:`FILE_SUFFIXES`, not an existing folder),
    its suffix giving the format (the first of that suffix's; another of them, e.g. onnx-int8, by ``formats``)."""
    folder = str(out).endswith(("/", os.sep))  # "exported.v2/": a folder, whatever its suffix
    out = Path(out)
    suffix = "" if folder else out.suffix.lower()
    if suffix not in FILE_SUFFIXES and re.fullmatch(r"\.[a-z0-9]{1,12}", suffix) and not out.is_dir():
        raise ExportError(f"--out {out}: {out.suffix!r} is not a model file suffix ({', '.join(FILE_SUFFIXES)}); "
                          f"for a folder of that name, create it first")
    if suffix not in FILE_SUFFIXES or out.is_dir():
        return {fmt: out / f"{stem}{SUFFIXES[fmt]}" for fmt in formats or ("safetensors",)}
    if formats and (len(formats) > 1 or formats[0] not in FILE_SUFFIXES[suffix]):
        raise ExportError(f"--out {out} is one {suffix} file ({' or '.join(FILE_SUFFIXES[suffix])}), but --format asks "
                          f"for {' '.join(formats)}: give an output folder for several formats, or drop --format")
    return {(formats or FILE_SUFFIXES[suffix])[0]: out}


def export_model(model_path: str | os.PathLike, out_dir: str | os.PathLike, formats: Sequence[str] | None = None,
                 dtype: str = "fp32", photo: str | os.PathLike | None = None, max_size: int = 512,
                 style: str | Mapping[str, float] | None = None, alpha: float = 1.0,
                 style_size: int = 512) -> list[ExportResult]:
    """Export a ``.ckpt`` or ``.safetensors`` model (or a bundled name) to ``formats`` in ``out_dir`` (named
    after the style; default safetensors), or to the one file ``out_dir`` names (:func:`output_files`), and
    check each against the PyTorch model on ``photo`` (default: a bundled photo).
    ``style``: a style or mix of a multi-style model, exported as a one-style model (:func:`one_style`);
    a bundled model's style name as ``model_path`` (``wave``) implies it. For an AdaIN model, a painting (or a
    mix of paintings) baked in with ``alpha`` at ``style_size`` px (:func:`stylenet.adain.stylizer.fixed_style`):
    a photo-only ONNX file."""
    unknown = set(formats or ()) - set(FORMATS)
    if unknown:
        raise ExportError(f"unknown export format(s) {sorted(unknown)}; choose from {FORMATS}")
    formats = list(output_files(out_dir, formats, ""))  # (a bad --out or --photo is refused before the model is loaded)
    photo = sorted(resolve_path("data/sample").glob("*.jpg"))[0] if photo is None else Path(photo)
    try:
        x = load_image(photo, max_size)[None]
    except (OSError, ValueError, SyntaxError) as exc:  # missing, not an image, truncated
        reason = "does not exist" if not photo.is_file() else f"is not a readable image ({type(exc).__name__})"
        raise ExportError(f"--photo {str(photo)!r} {reason}") from None
    path, implied = find_model(model_path)
    net, meta = load_transformer(path)
    style = implied if style is None else style
    adain = getattr(net, "family", None) == "adain"
    allowed = ({"onnx", "onnx-fp16"} if style is not None else {"safetensors", "onnx", "onnx-fp16"}) if adain else set(FORMATS)
    if set(formats) - allowed:
        baked = "with a style baked in " if style is not None else ""
        raise ExportError(f"{model_path} is an AdaIN model: {baked}it exports to {', '.join(sorted(allowed))}, not "
                          f"{sorted(set(formats) - allowed)[0]} (--format, or --out's suffix)")
    stem = Path(path).stem if adain else str(meta.get("style", Path(path).stem))
    if style is not None and adain:  # a painting baked in: a photo-only ONNX file
        from .adain.stylizer import fixed_style

        net, meta = fixed_style(net, meta, style, alpha, style_size)
        stem = "adain_" + re.sub(r"[^\w.+-]+", "_", meta["style"]).strip("_")
    elif style is not None:
        net, meta = one_style(net, meta, style, path.name)
        stem = meta["style"]
    style = parity_style(net)  # multi-style: every style in the check, mixed
    results = []
    for fmt, path in output_files(out_dir, formats, stem).items():
        if fmt == "safetensors":
            save_stylizer(net, path, dtype=dtype, **{k: v for k, v in meta.items()
                                                      if k not in ("format", "format_version", "model", "weights_dtype")})
            copy, _ = load_transformer(path)
            diff, tol = max_abs_diff(net, copy, x, style), TOLERANCE[dtype]
        elif fmt == "torchscript":
            export_torchscript(net, path)
            diff, tol = max_abs_diff(net, torch.jit.load(str(path)), x, style), TOLERANCE["fp32"]
        else:
            onnx_meta = {**meta, "format": FORMAT, "format_version": FORMAT_VERSION, "model": net.config()}
            if fmt == "onnx":
                export_onnx(net, path, onnx_meta)
            elif fmt == "onnx-fp16":
                export_onnx_fp16(net, path, {**onnx_meta, "weights_dtype": "fp16"})
            else:
                export_onnx_int8(net, path, calibration_photos(), {**onnx_meta, "weights_dtype": "int8"})
            diffs = abs_diff(net, onnx_runner(path), x, style)
            diff, tol = diffs.max().item(), TOLERANCE["fp16" if fmt == "onnx-fp16" else "fp32"]
            if fmt == "onnx-fp16" and adain:
                tol = ADAIN_FP16_TOLERANCE
            if fmt == "onnx-int8":
                mean = diffs.mean().item()
                if not mean <= INT8_MEAN_TOLERANCE:
                    raise ExportError(f"{path}: mean abs difference {mean:.2e} to the PyTorch model exceeds "
                                      f"{INT8_MEAN_TOLERANCE}")
                results.append(ExportResult(fmt, path, diff, mean))
                continue
        if not diff <= tol:
            raise ExportError(f"{path}: max abs difference {diff:.2e} to the PyTorch model exceeds {tol:.0e}")
        results.append(ExportResult(fmt, path, diff))
    return results
