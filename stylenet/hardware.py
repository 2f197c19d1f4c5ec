"""What the training hardware can do fast, and the `auto` values of the speed switches.

``trainer.precision``, ``model.channels_last`` and ``model.compile`` default to ``auto``;
:func:`resolve_auto` turns them into concrete values from a :class:`Hardware` probe, with the reason,
so ``python train.py style=wave`` takes the fast path on any machine without the user knowing the
switches. The probe is a plain dataclass so tests can fake any machine.

Measured reasons for the choices (docs/BENCHMARKS.md):
- bf16-mixed on CUDA GPUs with bf16 (Ampere and newer): tensor cores, fp32 range, no loss scaling.
- 16-mixed on older CUDA GPUs (fp16 tensor cores, with Lightning's gradient scaler).
- On CPUs, bf16-mixed only with AMX (Intel's tile units for bf16 matrix products; not measured in this
  project). AVX512-BF16 alone is not enough: on a 2-vCPU Xeon with avx512_bf16 and no AMX, bf16-mixed
  trained slower than fp32 (2026-11-27, 256 px, batch 4, alternating runs: 0.61 vs 0.80 images/s for the
  Johnson network, 1.02 vs 1.27 for johnson_small). On an AVX2-only CPU one bf16 convolution ran ~160x
  slower than fp32.
- channels_last nowhere: measured slower for training on CPUs, and on an H200 (2026-11-27) too: 436 vs 454
  images/s (bf16-mixed, batch 16, eager) and 602 vs 617 (compiled); instance norm dominates there, and it
  prefers NCHW.
- fp32 matrix products (the Gram matrices, which stay fp32 under autocast) in TF32 on CUDA: on an H200
  (2026-11-28) their fp32 `bmm` ran on CUDA cores and took 14% of a bf16 training step (profile in
  docs/BENCHMARKS.md); TF32 keeps fp32 range and accumulation (as cuDNN's convolutions already do).
- compile on CUDA only: 617 vs 454 images/s (bf16-mixed, batch 16, H200, ~50 s to compile); on a CPU the
  first step compiles for minutes and gained ~1.2x at best.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

AUTO = "auto"
# Lightning's precision names (lightning.fabric.connector._PRECISION_INPUT_STR) plus stylenet's auto.
PRECISIONS = (AUTO, "32-true", "bf16-mixed", "16-mixed", "bf16-true", "16-true", "64-true",
              "transformer-engine", "transformer-engine-float16", "32", "16", "bf16", "64")
# CPU flags (as in /proc/cpuinfo) for bf16 arithmetic; only AMX made auto pick bf16 (see above).
CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
CPU_FAST_BF16_FLAGS = ("amx_bf16",)


@dataclass(frozen=True)
class Hardware:
    """The device a run will use: ``kind`` "cuda", "cpu" or "mps"; ``name`` for messages."""
    kind: str
    name: str
    cuda_bf16: bool = False
    cpu_flags: frozenset[str] = field(default_factory=frozenset)

    @property
    def cpu_bf16(self) -> bool:
        """bf16 training measured (or documented) faster than fp32 on this CPU."""
        return any(f in self.cpu_flags for f in CPU_FAST_BF16_FLAGS)


def cpu_flags() -> frozenset[str]:
    try:
        with open("/proc/cpuinfo") as f:
            line = next((l for l in f if l.startswith("flags")), "")
    except OSError:
        return frozenset()
    return frozenset(line.split(":", 1)[-1].split())


def cpu_has_bf16(flags: frozenset[str] | None = None) -> bool:
    """Whether this CPU (or one with ``flags``) has bf16 instructions at all (AVX512-BF16 or AMX); without
    them bf16 is emulated, ~100x slower than fp32 (see the module docstring)."""
    return any(f in (cpu_flags() if flags is None else flags) for f in CPU_BF16_FLAGS)


def probe(accelerator: str = AUTO) -> Hardware:
    """The hardware that Lightning's ``trainer.accelerator`` (auto, cpu, gpu, cuda, mps) selects here."""
    accelerator = str(accelerator).lower()
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available():
        return Hardware("cuda", torch.cuda.get_device_name(), cuda_bf16=torch.cuda.is_bf16_supported())
    if accelerator in ("auto", "gpu", "mps") and mps:
        return Hardware("mps", "Apple GPU (MPS)")
    return Hardware("cpu", "CPU", cpu_flags=cpu_flags())


def auto_precision(hw: Hardware) -> tuple[str, str]:
    """``(Lightning precision, why)``."""
    if hw.kind == "cuda":
        if hw.cuda_bf16:
            return "bf16-mixed", f"CUDA device with bf16 ({hw.name})"
        return "16-mixed", f"CUDA device without bf16 ({hw.name}): fp16 with loss scaling"
    if hw.kind == "cpu":
        if hw.cpu_bf16:
            return "bf16-mixed", "CPU with AMX (amx_bf16)"
        if "avx512_bf16" in hw.cpu_flags:
            return "32-true", "CPU with AVX512-BF16 but no AMX (bf16 measured 0.76-0.8x of fp32 on such a CPU)"
        return "32-true", "CPU without AMX or AVX512-BF16 (bf16 is far slower than fp32 there)"
    return "32-true", f"{hw.name}: fp32"


def auto_channels_last(hw: Hardware) -> tuple[bool, str]:
    if hw.kind == "cuda":
        return False, "CUDA device (NHWC measured 2-4% slower there: instance norm prefers NCHW)"
    return False, f"{hw.kind.upper()} (NHWC training measured slower on CPUs)"


def auto_compile(hw: Hardware) -> tuple[bool, str]:
    if hw.kind == "cuda":
        return True, "CUDA device (inductor fuses norms, pads and activations: 1.36x measured, ~50 s to compile)"
    return False, f"{hw.kind.upper()} (compiling takes minutes there for a small gain)"


_RESOLVERS = {
    "trainer.precision": auto_precision,
    "model.channels_last": auto_channels_last,
    "model.compile": auto_compile,
}


def resolve_auto(cfg: Any, hw: Hardware | None = None) -> dict[str, tuple[Any, str]]:
    """Replace every ``auto`` among the switches of ``cfg`` (an OmegaConf DictConfig, changed in
    place) by its value for ``hw`` (probed from ``trainer.accelerator`` when not given). Returns
    ``{key: (value, why)}`` for the keys it resolved (see :func:`describe`)."""
    from omegaconf import OmegaConf, open_dict

    resolved = {}
    for key, resolver in _RESOLVERS.items():
        if OmegaConf.select(cfg, key) != AUTO:
            continue
        hw = hw or probe(OmegaConf.select(cfg, "trainer.accelerator", default=AUTO))
        value, why = resolver(hw)
        with open_dict(cfg):
            OmegaConf.update(cfg, key, value, merge=False)
        resolved[key] = (value, why)
    return resolved


def slow_choices(cfg: Any, hw: Hardware | None = None) -> list[str]:
    """Warnings for switches set by hand to a value measured far slower on ``hw`` than ``auto``'s: bf16
    precision on a CPU without bf16 instructions (an AVX2-only EPYC ran one bf16 convolution ~160x slower)."""
    from omegaconf import OmegaConf

    precision = str(OmegaConf.select(cfg, "trainer.precision"))
    if "bf16" not in precision:
        return []
    hw = hw or probe(OmegaConf.select(cfg, "trainer.accelerator", default=AUTO))
    if hw.kind != "cpu" or cpu_has_bf16(hw.cpu_flags):
        return []
    return [f"trainer.precision={precision} on a CPU without AVX512-BF16 or AMX: bf16 is emulated there, ~100x "
            "slower than fp32 (trainer.precision=auto picks 32-true)"]


def describe(resolved: dict[str, tuple[Any, str]]) -> list[str]:
    """One line per resolved switch, e.g. ``precision: bf16-mixed (auto: CUDA device with bf16 (NVIDIA H100))``."""
    return [f"{key.split('.')[-1]}: {str(value).lower()} (auto: {why})" for key, (value, why) in resolved.items()]


def tf32_matmul(device: torch.device | str) -> bool:
    """On a CUDA device, let fp32 matrix products use TF32 tensor cores (``torch.set_float32_matmul_precision
    ("high")``, what Lightning advises at start): inputs rounded to a 10-bit mantissa, sums in fp32. Elsewhere
    nothing changes (a CPU's fp32 products stay exact). Returns whether it was switched on."""
    if torch.device(device).type != "cuda":
        return False
    torch.set_float32_matmul_precision("high")
    return True
