"""Where the time goes: torch.profiler over a few training steps and inference calls, summed by
operator (the device's time on a GPU, the CPU's elsewhere), so the next optimisation is chosen from a
measurement. Eager mode: operator names stay readable (a compiled step shows fused Triton kernels)."""
from __future__ import annotations

import torch

from .common import sync


def _top(prof, device: torch.device, steps: int, top: int) -> list[dict]:
    """The ``top`` operators by self time per step. On a GPU the profiler lists each kernel twice, as
    itself and within the self device time of the operator that launched it: the rows are the operators,
    their shares of the kernels' total (the GPU run of 2026-11-28 summed both: every share was halved)."""
    attr = "self_device_time_total" if device.type == "cuda" else "self_cpu_time_total"
    events = [e for e in prof.key_averages() if getattr(e, attr, 0) > 0]
    if device.type == "cuda":
        from torch.autograd import DeviceType

        kernels = [e for e in events if e.device_type != DeviceType.CPU]
        events = [e for e in events if e.device_type == DeviceType.CPU] or kernels
        total = sum(getattr(e, attr) for e in kernels or events) or 1.0
    else:
        total = sum(getattr(e, attr) for e in events) or 1.0
    events.sort(key=lambda e: getattr(e, attr), reverse=True)
    return [{"op": e.key, "ms_per_step": getattr(e, attr) / 1000 / steps, "share": getattr(e, attr) / total,
             "calls_per_step": e.count / steps} for e in events[:top]]


def profile_training(size: int = 256, batch: int = 16, precision: str = "bf16", width: int = 32, blocks: int = 5,
                     steps: int = 5, top: int = 15) -> dict:
    """The top operators of stylenet's training step (bench.train._stylenet_step), per step."""
    from torch.profiler import ProfilerActivity, profile

    from .train import _photos, _stylenet_step

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cudnn.benchmark = True
    step = _stylenet_step(size, batch, device, width, blocks, precision=precision)
    x = _photos(size, batch, device)
    for _ in range(3):
        step(x)  # warm-up: cuDNN autotuning, allocator
    sync()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        for _ in range(steps):
            step(x)
        sync()
    return {"what": f"training step, {size} px, batch {batch}, {precision}, eager", "steps": steps,
            "rows": _top(prof, device, steps, top)}


def profile_inference(size: int = 1024, width: int = 32, blocks: int = 5, calls: int = 5, top: int = 15) -> dict:
    """The top operators of one eager fp32 forward of the transformation network at ``size``."""
    from torch.profiler import ProfilerActivity, profile

    from ..models import TransformerNet

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    net = TransformerNet(width, blocks).to(device).eval()
    x = torch.rand(1, 3, size, size, device=device)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with torch.inference_mode():
        for _ in range(3):
            net(x)
        sync()
        with profile(activities=activities) as prof:
            for _ in range(calls):
                net(x)
            sync()
    return {"what": f"inference, {size}x{size}, fp32, eager", "steps": calls, "rows": _top(prof, device, calls, top)}


def profile_table(result: dict) -> str:
    lines = [f"{result['what']} (per step, {result['steps']} steps profiled):", "",
             "| operator | ms / step | share | calls / step |", "|---|---|---|---|"]
    for r in result["rows"]:
        lines.append(f"| `{r['op']}` | {r['ms_per_step']:.3f} | {r['share']:.0%} | {r['calls_per_step']:.0f} |")
    return "\n".join(lines)
