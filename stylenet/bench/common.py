"""Shared by the benchmarks: timing, the machine's description and docs/BENCHMARKS.md sections."""
from __future__ import annotations

import datetime
import platform
import re
import time
from collections.abc import Callable
from pathlib import Path

import torch

from ..paths import DOCS_DIR

BENCHMARKS_MD = DOCS_DIR / "BENCHMARKS.md"


def cpu_name() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return cpu


def machine() -> str:
    """e.g. ``NVIDIA H100 80GB HBM3; torch 2.11.0+cu130`` or ``AMD EPYC ..., 2 threads (avx512_bf16); torch ...``."""
    from ..hardware import CPU_BF16_FLAGS, cpu_flags

    if torch.cuda.is_available():
        dev = torch.cuda.get_device_name()
    else:
        bf16 = [f for f in CPU_BF16_FLAGS if f in cpu_flags()]
        dev = f"{cpu_name()}, {torch.get_num_threads()} threads ({'/'.join(bf16) or 'no AVX512-BF16/AMX'})"
    return f"{dev}; torch {torch.__version__}"


def sync(device: torch.device | str | None = None) -> None:
    if torch.cuda.is_available() and (device is None or torch.device(device).type == "cuda"):
        torch.cuda.synchronize()


def time_ms(fn: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """Median wall time of ``fn`` in milliseconds (CUDA synchronised before and after each call)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - start) * 1000)
    return sorted(times)[len(times) // 2]


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def record(section: str, command: str, body: str, path: Path = BENCHMARKS_MD, machine_line: str | None = None,
           date: str | None = None) -> None:
    """Replace (or add) ``## section`` in docs/BENCHMARKS.md with the command, machine, date and body.
    ``machine_line``/``date`` default to this machine and today (a GPU node's results give theirs)."""
    text = path.read_text() if path.exists() else "# Benchmarks\n\nWritten by scripts/benchmark.py; rerun to update.\n"
    block = (f"## {section}\n\nCommand: `{command}`  \nMachine: {machine_line or machine()}  \n"
             f"Date: {date or datetime.date.today().isoformat()}\n\n{body}\n")
    pattern = re.compile(rf"^## {re.escape(section)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(lambda _: block + "\n", text) if pattern.search(text) else text.rstrip() + "\n\n" + block
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
