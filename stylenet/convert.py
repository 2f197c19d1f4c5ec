"""Export a style model to other runtimes (TorchScript, ONNX: :mod:`stylenet.onnx_export`) and check every
export's numbers against the PyTorch model on a real photo."""
from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from .atomic import atomic_path
from .export import FORMAT, FORMAT_VERSION, find_model, load_transformer, one_style, save_stylizer
from .image import load_image
from .models import TransformerNet
from .models.adain import AdaINTransfer
from .onnx_export import (calibration_photos, export_onnx, export_onnx_fp16, export_onnx_int8, onnx_runner,
                          parity_style)
from .paths import parity_photo

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


class ExportError(RuntimeError):
    """An export failed or its output differs from the PyTorch model beyond the tolerance."""


@dataclass
class ExportResult:
    format: str
    path: Path
    max_abs_diff: float
    mean_abs_diff: float | None = None


def script(net: torch.nn.Module) -> torch.jit.ScriptModule:
    """``torch.jit.script(net)``, safe from a PyTorch bug: ``torch.jit._builtins`` keys its table of builtin ops
    by ``id()`` and keeps the ids of op objects it later frees (``torch._ops._refresh_packet``, when an op gains
    overloads), so a module attribute that Python happens to allocate at a freed op's address (a conv's padding
    list) is taken for that op, and scripting fails with "builtin cannot be used as a value" (seen once in the
    test suite, in a process that had done other work). Only a callable can be a builtin function."""
    import torch.jit._recursive as recursive

    find = recursive._find_builtin
    recursive._find_builtin = lambda value: find(value) if callable(value) else None
    try:
        return torch.jit.script(net)
    finally:
        recursive._find_builtin = find


def export_torchscript(net: TransformerNet, path: str | os.PathLike) -> Path:
    """Scripted (not traced) so any batch, height and width work; load with ``torch.jit.load``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchScript is deprecated upstream but still what many runtimes load
        scripted = script(net.eval())
        with atomic_path(path) as tmp:
            torch.jit.save(scripted, str(tmp))
    return Path(path)


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
    try:
        photo = parity_photo() if photo is None else Path(photo)
        calibration = calibration_photos() if "onnx-int8" in formats else []
    except FileNotFoundError as exc:
        raise ExportError(f"{exc}: give a photo for the parity check (--photo)" if photo is None else
                          f"onnx-int8 calibrates on the bundled photos: {exc}; export it from a checkout") from None
    try:
        x = load_image(photo, max_size)[None]
    except (OSError, ValueError, SyntaxError) as exc:  # missing, not an image, truncated
        reason = "does not exist" if not photo.is_file() else f"is not a readable image ({type(exc).__name__})"
        raise ExportError(f"--photo {str(photo)!r} {reason}") from None
    path, implied = find_model(model_path)
    source = path
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
    outputs = output_files(out_dir, formats, stem)
    for target in outputs.values():
        if target.resolve() == Path(source).resolve():
            raise ExportError(f"--out {target} is the model being exported: writing it would replace the source "
                              f"{'(in another precision) ' if dtype != 'fp32' else ''}with its copy; give another "
                              "folder or file")
    for fmt, path in outputs.items():
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
                export_onnx_int8(net, path, calibration, {**onnx_meta, "weights_dtype": "int8"})
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
