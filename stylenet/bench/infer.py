"""Inference benchmark: ms per image (batch 1) of every way stylenet can run a TransformerNet, each
path's output checked against eager fp32 (max abs difference, in [0, 1] pixel units)."""
from __future__ import annotations

import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
import torch

from ..convert import script
from ..models import TransformerNet
from .common import median, sync, time_ms

Size = tuple[int, int]  # (height, width)
COMPILED = "torch.compile"  # paths whose name starts with this compile per input shape (tens of seconds)
# The compiled GPU paths, by the name after COMPILED: (weights' dtype or None for fp32, torch.compile mode).
# The full run measures the first; --focus speed all three: fp32 is what `stylize.py --compile` runs on a
# GPU (--precision auto keeps fp32 there), autotune lets inductor try Triton templates against cuDNN.
GPU_COMPILED = {"fp16 + CUDA graphs": (torch.float16, "reduce-overhead"), "fp32": (None, None),
                "fp16 + CUDA graphs + autotune": (torch.float16, "max-autotune")}


def as_size(size: int | Iterable[int]) -> Size:
    if isinstance(size, int):
        return size, size
    h, w = size
    return int(h), int(w)


def size_label(size: Size) -> str:
    h, w = size
    return f"{h} px" if h == w else f"{w}x{h}"


def _autocast(net: Callable, x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    with torch.autocast(x.device.type, dtype):
        return net(x)


def _cl(t: torch.Tensor) -> torch.Tensor:
    return t.contiguous(memory_format=torch.channels_last)


def cuda_graph(fn: Callable[[torch.Tensor], torch.Tensor], example: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """``fn`` captured once as a CUDA graph for inputs shaped like ``example``; a call copies its input
    into the graph's static buffer and replays it (the launch overhead of ~60 kernels disappears)."""
    static_in = example.clone()
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):  # warm-up outside the graph (cuDNN picks its algorithms)
            fn(static_in)
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        static_out = fn(static_in)

    def run(x: torch.Tensor) -> torch.Tensor:
        static_in.copy_(x)
        graph.replay()
        return static_out
    return run


def _copy(net: TransformerNet, device: torch.device, channels_last: bool = False, dtype=None) -> TransformerNet:
    twin = TransformerNet(**net.config()).to(device).eval()
    twin.load_state_dict(net.state_dict())
    if dtype is not None:
        twin = twin.to(dtype)
    return twin.to(memory_format=torch.channels_last) if channels_last else twin


def inference_paths(net: TransformerNet, size: Size, device: torch.device, compile: bool = True,
                    tmp: str | None = None, compiled: tuple[str, ...] = ("fp16 + CUDA graphs",),
                    ) -> dict[str, Callable[[torch.Tensor], object]]:
    """The ways stylenet can run ``net`` on a batch of one ``size`` image, by name. ``compile=False``
    leaves out the torch.compile paths (each compiles per input shape); ``compiled``: which of
    :data:`GPU_COMPILED` a GPU gets. ``tmp``: a folder that lives as long as the paths (ONNX files)."""
    from ..hardware import cpu_has_bf16

    example = torch.rand(1, 3, *size, device=device)
    net_cl = _copy(net, device, channels_last=True)
    paths: dict[str, Callable[[torch.Tensor], object]] = {"eager fp32 (baseline)": net}
    paths["channels_last fp32"] = lambda t: net_cl(_cl(t))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frozen = torch.jit.optimize_for_inference(torch.jit.freeze(script(net)))
    paths["TorchScript frozen fp32"] = frozen
    if device.type == "cuda":
        half_cl = _copy(net, device, channels_last=True, dtype=torch.float16)
        paths["bf16 autocast + channels_last"] = lambda t: _autocast(net_cl, _cl(t), torch.bfloat16)
        paths["fp16 autocast + channels_last"] = lambda t: _autocast(net_cl, _cl(t), torch.float16)
        paths["fp16 weights + channels_last"] = lambda t: half_cl(_cl(t.half()))
        try:  # captured here, once per shape
            paths["CUDA graph fp16 weights + channels_last"] = cuda_graph(lambda t: half_cl(_cl(t.half())), example)
        except Exception as exc:  # noqa: BLE001 - report and go on without this row
            print(f"CUDA graph capture failed ({type(exc).__name__}: {str(exc)[:200]}): row left out", flush=True)
        if compile:
            paths.update(compiled_paths(net, device, compiled))
    else:
        if cpu_has_bf16():
            paths["bf16 autocast (AVX512-BF16/AMX)"] = lambda t: _autocast(net, t, torch.bfloat16)
        if compile:
            paths[f"{COMPILED} fp32 (static shapes)"] = torch.compile(net, dynamic=False)
            paths[f"{COMPILED} + channels_last fp32"] = torch.compile(lambda t: net_cl(_cl(t)), dynamic=False)
    try:
        paths.update(_onnx_paths(net, device, tmp))
    except Exception as exc:  # noqa: BLE001 - e.g. an onnxruntime that cannot load its CUDA libraries
        print(f"onnxruntime rows left out ({type(exc).__name__}: {str(exc)[:200]})", flush=True)
    return paths


def compiled_paths(net: TransformerNet, device: torch.device, names: Iterable[str],
                   backend: str = "inductor") -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    """The :data:`GPU_COMPILED` paths ``names``, each a compiled twin of ``net`` (inductor's fusions, and CUDA
    graphs where the mode has them; one compilation per shape and path). channels_last: the same time on
    an H200 (2026-11-27), so left out. ``backend="eager"`` traces without generating code (tests)."""
    paths = {}
    for name in names:
        dtype, mode = GPU_COMPILED[name]
        twin = _copy(net, device, dtype=dtype)
        fn = (lambda t, twin=twin, dtype=dtype: twin(t.to(dtype))) if dtype else twin
        options = {"mode": mode} if backend == "inductor" else {}
        paths[f"{COMPILED} {name}"] = torch.compile(fn, dynamic=False, backend=backend, **options)
    return paths


def _onnx_paths(net: TransformerNet, device: torch.device, tmp: str | None) -> dict[str, Callable]:
    """onnxruntime (CUDA provider on a GPU where the installed onnxruntime has it; CPU otherwise) and,
    on a CPU, OpenVINO where installed (not a dependency)."""
    import onnxruntime as ort

    from ..onnx_export import export_onnx, onnx_session

    providers = ort.get_available_providers()
    if device.type == "cuda" and "CUDAExecutionProvider" not in providers:
        print(f"onnxruntime: no CUDAExecutionProvider in this onnxruntime ({', '.join(providers)}): row left out", flush=True)
        return {}
    with tempfile.TemporaryDirectory(dir=tmp) as folder:  # runtimes hold the model in memory once loaded
        path = Path(folder) / "m.onnx"
        export_onnx(_copy(net, torch.device("cpu")), path)
        paths: dict[str, Callable] = {}
        if device.type == "cuda":
            session = onnx_session(path, provider="CUDAExecutionProvider")
            paths["onnxruntime CUDA fp32"] = lambda t: session.run(None, {"image": t.cpu().numpy()})
        else:
            session = onnx_session(path, threads=torch.get_num_threads())
            paths["onnxruntime fp32"] = lambda t: session.run(None, {"image": t.numpy()})
            try:
                import openvino
            except ImportError:
                pass
            else:
                request = openvino.Core().compile_model(str(path), "CPU", {"PERFORMANCE_HINT": "LATENCY"}).create_infer_request()
                paths["openvino fp32 (if installed)"] = lambda t: request.infer({0: t.numpy()})
    return paths


def _as_tensor(out) -> torch.Tensor:
    """The image a path returned (tensor, onnxruntime's list of arrays, openvino's result) as a CPU fp32 tensor."""
    if isinstance(out, torch.Tensor):
        return out.float().cpu()
    if isinstance(out, (list, tuple)):
        return _as_tensor(out[0])
    if hasattr(out, "to_tuple"):  # openvino's OVDict
        return _as_tensor(out.to_tuple()[0])
    return torch.from_numpy(np.asarray(out)).float()


def bench_inference(sizes: Iterable[int | Size] = (256, 512, 1024), width: int = 32, blocks: int = 5,
                    repeats: int = 5, compile: bool | Callable[[Size], bool] = True,
                    deadline: float | None = None, compiled: tuple[str, ...] = ("fp16 + CUDA graphs",),
                    compiled_only: bool = False, model: tuple[str, dict] | None = None,
                    baseline: bool = False) -> Iterator[dict]:
    """Yield ``{"size", "path", "ms", "max_abs_diff"}`` rows for a ``TransformerNet(width, blocks)``, size by
    size (so a caller can save partial results); see :func:`bench_paths` (``compiled``: :func:`inference_paths`;
    ``compiled_only``: only those, e.g. a long compilation in a pass of its own, after the others' rows;
    ``baseline``: with them, eager fp32 too, the rows' yardstick).
    ``model``: ``(name, TransformerNet kwargs)`` of another network: its rows' paths start with the name and
    carry it as ``"model"`` (the issue's targets are judged on the default network's rows only)."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    net = TransformerNet(**model[1] if model else {"width": width, "num_res_blocks": blocks}).to(device).eval()
    with torch.inference_mode(), tempfile.TemporaryDirectory() as tmp:
        def build(size: Size, with_compile: bool) -> dict[str, Callable]:
            if compiled_only:
                paths = compiled_paths(net, device, compiled) if with_compile else {}
                return {"eager fp32 (baseline)": net, **paths} if baseline and paths else paths
            return inference_paths(net, size, device, with_compile, tmp, compiled)
        for row in bench_paths(sizes, build, net, device, repeats, compile, deadline):
            yield {**row, "path": f"{model[0]}: {row['path']}", "model": model[0]} if model else row


def bench_paths(sizes: Iterable[int | Size], build: Callable[[Size, bool], dict[str, Callable]],
                reference: Callable[[torch.Tensor], torch.Tensor], device: torch.device, repeats: int = 5,
                compile: bool | Callable[[Size], bool] = True, deadline: float | None = None) -> Iterator[dict]:
    """Time the paths ``build(size, with_compile)`` returns (name -> function of a ``(1, 3, H, W)`` batch)
    at each size, each checked against ``reference`` (eager fp32) as the max abs difference in [0, 1]
    pixel units. Paths take turns (round-robin medians) so a noisy neighbour slows them all alike.
    ``compile``: include the torch.compile paths (or a function of the size deciding it). ``deadline``
    (time.monotonic()): a size that starts after it is skipped with a line saying so."""
    for size in map(as_size, sizes):
        if deadline is not None and time.monotonic() > deadline:
            print(f"{size_label(size)}: skipped, the time budget is spent", flush=True)
            continue
        x = torch.rand(1, 3, *size, device=device)
        try:
            paths = build(size, compile(size) if callable(compile) else compile)
        except RuntimeError as exc:  # e.g. out of memory at 4K: report, go on with the next size
            print(f"{size_label(size)}: cannot build the paths ({type(exc).__name__}: {str(exc)[:200]})", flush=True)
            continue
        expected = reference(x).float().cpu()
        diffs, failed = {}, []
        for name, fn in paths.items():  # warm-up (and compilation), then the check against eager fp32
            if deadline is not None and time.monotonic() > deadline and diffs:
                print(f"{size_label(size)} {name}: skipped, the time budget is spent", flush=True)
                failed.append(name)
                continue
            try:
                time_ms(lambda: fn(x), repeats=1, warmup=1)
                diffs[name] = float((_as_tensor(fn(x)) - expected).abs().max())
            except Exception as exc:  # one broken path must not cost the others' numbers
                print(f"{size_label(size)} {name}: failed ({type(exc).__name__}: {str(exc)[:300]})", flush=True)
                failed.append(name)
        paths = {k: v for k, v in paths.items() if k not in failed}
        pixels = size[0] * size[1]
        # CPU: `repeats` rounds at 256x256, more for smaller images (at most 50: a median of 50 is steady enough)
        reps = (min(50, max(3, repeats * 256 * 256 // pixels)) if device.type == "cpu"
                else max(10, min(50, int(2e9 / pixels / 10))))
        times: dict[str, list[float]] = {name: [] for name in paths}
        for rep in range(reps):
            if rep and deadline is not None and time.monotonic() > deadline:
                break  # fewer rounds rather than a stage past its budget
            for name, fn in paths.items():
                times[name].append(time_ms(lambda: fn(x), repeats=1, warmup=0))
        for name, values in times.items():
            row = {"size": list(size), "path": name, "ms": median(values), "max_abs_diff": diffs[name]}
            print(f"{size_label(size):>10s}  {name:48s} {row['ms']:9.2f} ms/image  (max abs diff {diffs[name]:.1e})",
                  flush=True)
            yield row
        del paths
        sync()
        if device.type == "cuda":
            torch.cuda.empty_cache()


def inference_table(rows: list[dict]) -> str:
    sizes = list(dict.fromkeys(tuple(r["size"]) if isinstance(r["size"], (list, tuple)) else as_size(r["size"])
                               for r in rows))
    key = lambda r: as_size(r["size"]) if isinstance(r["size"], int) else tuple(r["size"])  # noqa: E731
    names = list(dict.fromkeys(r["path"] for r in rows))
    ms = {(key(r), r["path"]): r["ms"] for r in rows}
    diff = {name: max(r["max_abs_diff"] for r in rows if r["path"] == name) for name in names}
    lines = ["| path | " + " | ".join(f"{size_label(s)} ms (speed-up)" for s in sizes) + " | max abs diff vs eager |",
             "|---|" + "---|" * (len(sizes) + 1)]
    for name in names:
        cells = []
        for s in sizes:
            base, value = ms.get((s, names[0])), ms.get((s, name))
            cells.append(f"{value:.2f} ({base / value:.2f}x)" if value and base else (f"{value:.2f}" if value else "-"))
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {diff[name]:.1e} |")
    return "\n".join(lines)
