"""Which device to run on and how much memory it has free (inference, evaluation, Gatys, calibration)."""
from __future__ import annotations

import contextlib

import torch


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` -> cuda, else mps, else cpu; an unavailable device is a clear error."""
    if str(device) == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r}: CUDA is not available on this machine (use --device cpu or auto)")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError(f"device {device!r}: MPS is not available on this machine (use --device cpu or auto)")
    return dev


def available_memory(device: torch.device) -> int | None:
    """Free bytes on ``device`` (None where unknown)."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    if device.type == "cpu":
        with contextlib.suppress(OSError, ValueError, StopIteration):
            with open("/proc/meminfo") as f:
                line = next(l for l in f if l.startswith("MemAvailable:"))
            return int(line.split()[1]) * 1024
    return None
