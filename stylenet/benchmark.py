"""Benchmarks that print numbers and record them in docs/BENCHMARKS.md (never timed assertions)."""
from __future__ import annotations

import datetime
import platform
import re
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch

from .transformer import TransformerNet

BENCHMARKS_MD = Path(__file__).resolve().parents[1] / "docs" / "BENCHMARKS.md"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    dev = torch.cuda.get_device_name() if torch.cuda.is_available() else f"{cpu}, {torch.get_num_threads()} threads"
    return f"{dev}; torch {torch.__version__}"


def time_ms(fn: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """Median wall time of ``fn`` in milliseconds (CUDA synchronised)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1000)
    return sorted(times)[len(times) // 2]


def inference_paths(net: TransformerNet, size: int, device: torch.device) -> dict[str, Callable[[torch.Tensor], object]]:
    """The ways stylenet can run ``net`` on a ``size`` x ``size`` batch of one, by name."""
    x = torch.rand(1, 3, size, size, device=device)
    paths: dict[str, Callable[[torch.Tensor], object]] = {"eager fp32 (baseline)": net}
    net_cl = TransformerNet(**net.config()).to(device).eval()
    net_cl.load_state_dict(net.state_dict())
    net_cl = net_cl.to(memory_format=torch.channels_last)
    paths["channels_last fp32"] = lambda t: net_cl(t.contiguous(memory_format=torch.channels_last))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frozen = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.script(net)))
    paths["TorchScript frozen fp32"] = frozen
    if device.type == "cuda":
        paths["bf16 autocast"] = lambda t: _autocast(net, t, torch.bfloat16)
        paths["fp16 autocast + channels_last"] = lambda t: _autocast(net_cl, t.contiguous(memory_format=torch.channels_last), torch.float16)
    else:
        from .convert import export_onnx, onnx_session

        path = Path(tempfile.mkdtemp()) / "m.onnx"
        export_onnx(net, path)
        session = onnx_session(path, threads=torch.get_num_threads())
        paths["onnxruntime fp32"] = lambda t: session.run(None, {"image": t.numpy()})
    return paths


def _autocast(net: TransformerNet, x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    with torch.autocast(x.device.type, dtype):
        return net(x)


def bench_inference(sizes=(256, 512, 1024), width: int = 32, blocks: int = 5, repeats: int = 5) -> list[dict]:
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    net = TransformerNet(width, blocks).to(device).eval()
    rows = []
    with torch.inference_mode():
        for size in sizes:
            x = torch.rand(1, 3, size, size, device=device)
            reps = max(2, repeats * 256 // size) if device.type == "cpu" else 50
            for name, fn in inference_paths(net, size, device).items():
                ms = time_ms(lambda: fn(x), reps)
                rows.append({"size": size, "path": name, "ms": ms})
                print(f"{size:5d} px  {name:32s} {ms:9.1f} ms/image", flush=True)
    return rows


def inference_table(rows: list[dict]) -> str:
    sizes = sorted({r["size"] for r in rows})
    names = list(dict.fromkeys(r["path"] for r in rows))
    ms = {(r["size"], r["path"]): r["ms"] for r in rows}
    lines = ["| path | " + " | ".join(f"{s} px ms (speed-up)" for s in sizes) + " |",
             "|---|" + "---|" * len(sizes)]
    for name in names:
        cells = []
        for s in sizes:
            base, value = ms.get((s, names[0])), ms.get((s, name))
            cells.append(f"{value:.1f} ({base / value:.2f}x)" if value else "-")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def record(section: str, command: str, body: str, path: Path = BENCHMARKS_MD) -> None:
    """Replace (or add) ``## section`` in docs/BENCHMARKS.md with the command, machine, date and body."""
    text = path.read_text() if path.exists() else "# Benchmarks\n\nWritten by scripts/benchmark.py; rerun to update.\n"
    block = (f"## {section}\n\nCommand: `{command}`  \nMachine: {machine()}  \n"
             f"Date: {datetime.date.today().isoformat()}\n\n{body}\n")
    pattern = re.compile(rf"^## {re.escape(section)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(lambda _: block + "\n", text) if pattern.search(text) else text.rstrip() + "\n\n" + block
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
