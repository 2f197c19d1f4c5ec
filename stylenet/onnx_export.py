"""ONNX files of a style network: export (fp32, fp16 weights, static 8-bit quantisation), onnxruntime sessions
and runners, and the inputs a parity check feeds them. :mod:`stylenet.convert` drives these and checks
each file against the PyTorch model."""
from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from .atomic import atomic_path
from .export import decode_metadata, encode_metadata
from .image import load_image
from .models import TransformerNet
from .models.adain import AdaINTransfer
from .paths import resolve_path, sample_photos

ONNX_OPSET = 17  # InstanceNormalization, Resize(nearest) and reflect Pad are all in opset 17
CALIBRATION_PHOTOS = 16  # the last 16 of data/sample (evaluation uses the first ones): activation ranges for int8


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


def onnx_runner(path: str | os.PathLike, threads: int | None = None) -> Callable[..., torch.Tensor]:
    """``run(image, *more)`` on an ONNX file in onnxruntime, the tensors in the graph's input order
    (``style_weights``; AdaIN's ``style_image``, ``alpha``): tensors in, tensor out."""
    session = onnx_session(path, threads)
    names = [i.name for i in session.get_inputs()]

    def run(*tensors: torch.Tensor) -> torch.Tensor:
        feeds = {name: t.float().contiguous().numpy() for name, t in zip(names, tensors)}
        return torch.from_numpy(session.run(None, feeds)[0])
    return run


def parity_style(net: TransformerNet) -> torch.Tensor | tuple[torch.Tensor, ...] | None:
    """Style weights for parity checks: a mix of every style with unequal weights (None for one style);
    for AdaIN, a bundled painting and alpha 0.8 (the inputs of :class:`AdaINTransfer` after the photo)."""
    if getattr(net, "family", None) == "adain":
        painting = resolve_path("data/styles/starry_night.jpg")
        if not painting.is_file():  # an installed package has no data/: any picture does for a numeric check
            return torch.linspace(0, 1, 3 * 96 * 80).reshape(1, 3, 96, 80).flip(-1), torch.tensor([0.8])
        return load_image(painting, 256)[None], torch.tensor([0.8])
    if net.num_styles == 1:
        return None
    weights = torch.arange(1, net.num_styles + 1, dtype=torch.float32)
    return (weights / weights.sum())[None]


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
    """The last :data:`CALIBRATION_PHOTOS` bundled photos as ``(1, 3, H, W)`` batches, longer side ``size``."""
    return [load_image(f, size)[None] for f in sample_photos()[-CALIBRATION_PHOTOS:]]
