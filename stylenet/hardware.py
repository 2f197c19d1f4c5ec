"""What the hardware can do fast, and the `auto` values of the speed switches (training; stylising: bf16 or fp32).

``trainer.precision``, ``model.channels_last`` and ``model.compile`` default to ``auto``;
:func:`resolve_auto` turns them into concrete values from a :class:`Hardware` probe, with the reason,
so ``python train.py style=wave`` takes the fast path on any machine without the user knowing the
switches. The probe is a plain dataclass so tests can fake any machine.

Measured reasons for the choices (docs/BENCHMARKS.md):
- bf16-mixed on CUDA GPUs with bf16 (Ampere and newer): tensor cores, fp32 range, no loss scaling.
- 16-mixed on older CUDA GPUs (fp16 tensor cores, with Lightning's gradient scaler).
- On CPUs, bf16-mixed with AMX (Intel's tile units for bf16 matrix products; 1.9-2.1x fp32 on a 2-vCPU Xeon
  with AMX, 2026-12-06: 2.09 vs 1.09 images/s for the Johnson network, 2.41 vs 1.16 for johnson_small),
  and with AVX512-BF16 alone only where a short probe measures it faster (:func:`cpu_bf16_speedup`): the
  flag does not decide it. On a 2-vCPU Xeon with avx512_bf16 and no AMX, bf16-mixed trained slower than
  fp32 (2026-11-27, 256 px, batch 4, alternating runs: 0.61 vs 0.80 images/s for the Johnson network, 1.02
  vs 1.27 for johnson_small); on a 2-vCPU AMD EPYC (Zen 4) with avx512_bf16 and no AMX, faster (2026-12-04,
  same method: 1.59 vs 0.72 and 1.92 vs 1.01; the probe there 1.5-1.9x). On an AVX2-only CPU one bf16
  convolution ran ~160x slower than fp32.
- channels_last on CPUs with AMX only: on a 2-vCPU Xeon with AMX (2026-12-06, bf16-mixed, alternating runs)
  NHWC trained 1.24x faster (Johnson network, 256 px, batch 4: 2.09 vs 1.69 images/s), 1.34x (johnson_small,
  256 px), 1.17x (johnson_small at `make demo`'s 128 px, batch 2), and end to end 1.2x (light, light_fast) and
  1.5x (the AdaIN decoder, 128 px, batch 8: 12-13 vs 8 pairs/s); in fp32 level (0.87 vs 0.85 images/s). Not on
  other CPUs (measured slower for training there), nor on an H200 (2026-11-27): 436 vs 454 images/s
  (bf16-mixed, batch 16, eager) and 602 vs 617 (compiled); instance norm dominates there, and it prefers NCHW.
- fp32 matrix products (the Gram matrices, which stay fp32 under autocast) in TF32 on CUDA: on an H200
  (2026-11-28) their fp32 `bmm` ran on CUDA cores and took 14% of a bf16 training step (profile in
  docs/BENCHMARKS.md); TF32 keeps fp32 range and accumulation (as cuDNN's convolutions already do).
- compile on CUDA only: 617 vs 454 images/s (bf16-mixed, batch 16, H200, ~50 s to compile); on a CPU the
  first step compiles for minutes and gained ~1.2x at best.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import torch

AUTO = "auto"
# Lightning's precision names (lightning.fabric.connector._PRECISION_INPUT_STR) plus stylenet's auto.
PRECISIONS = (AUTO, "32-true", "bf16-mixed", "16-mixed", "bf16-true", "16-true", "64-true",
              "transformer-engine", "transformer-engine-float16", "32", "16", "bf16", "64")
# CPU flags (as in /proc/cpuinfo) for bf16 arithmetic; AMX makes auto pick bf16, AVX512-BF16 a probe (see above).
CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
CPU_FAST_BF16_FLAGS = ("amx_bf16",)
# bf16-mixed on an AVX512-BF16 CPU when the probe measures it at least this much faster than fp32: a margin
# over the probe's run-to-run spread (1.5-1.9x on the Zen 4 above, where whole steps ran 1.6-2.2x).
BF16_MIN_SPEEDUP = 1.2
# The probe's result, handed to the processes Lightning launches (DDP ranks re-run train.py) so that every
# rank picks the same precision (each node of a multi-node CPU run measures its own: set trainer.precision
# there); set it by hand (e.g. 1.0) to skip the probe.
BF16_SPEEDUP_ENV = "STYLENET_CPU_BF16_SPEEDUP"


@dataclass(frozen=True)
class Hardware:
    """The device a run will use: ``kind`` "cuda", "cpu" or "mps"; ``name`` for messages."""
    kind: str
    name: str
    cuda_bf16: bool = False
    cpu_flags: frozenset[str] = field(default_factory=frozenset)
    bf16_speedup: float | None = None  # fp32 time / bf16 time of cpu_bf16_speedup's probe; None: not measured


def cpu_flags() -> frozenset[str]:
    try:
        with open("/proc/cpuinfo") as f:
            line = next((l for l in f if l.startswith("flags")), "")
    except OSError:
        return frozenset()
    return frozenset(line.split(":", 1)[-1].split())


def cpu_has_amx(flags: frozenset[str]) -> bool:
    """Whether a CPU with ``flags`` has AMX's bf16 tile units (auto picks bf16 there without measuring)."""
    return any(f in flags for f in CPU_FAST_BF16_FLAGS)


def cpu_has_bf16(flags: frozenset[str] | None = None) -> bool:
    """Whether this CPU (or one with ``flags``) has bf16 instructions at all (AVX512-BF16 or AMX); without
    them bf16 is emulated, ~100x slower than fp32 (see the module docstring)."""
    return any(f in (cpu_flags() if flags is None else flags) for f in CPU_BF16_FLAGS)


def cpu_bf16_speedup(size: int = 48, batch: int = 2, rounds: int = 7) -> float:
    """How much faster a training step's kind of work runs under bf16 autocast than in fp32 on this CPU
    (fp32 time / bf16 time, the fastest of ``rounds`` alternating rounds after a warm-up of each: other load on
    the cores only adds time; with the median, a busy machine read 0.9-1.9x on the Zen 4): forward and
    backward through reflection padding, convolutions, instance norm, nearest upsampling and VGG-like 3x3
    convolutions on ``(batch, 3, size, size)`` random images, about 0.6 s on 2 cores. Measured once per
    process tree: the result goes into ``$STYLENET_CPU_BF16_SPEEDUP``, which later calls (and the DDP ranks
    Lightning launches) read instead of measuring again."""
    try:
        known = float(os.environ.get(BF16_SPEEDUP_ENV, ""))
    except ValueError:  # not measured yet (or not a number: measure)
        known = 0.0
    if 0 < known < float("inf"):
        return known
    # fork_rng: the layers' initialisation leaves the caller's random state alone.
    with torch.random.fork_rng(devices=[]), torch.enable_grad():
        torch.manual_seed(0)
        speedup = _bf16_probe(size, batch, rounds)
    os.environ[BF16_SPEEDUP_ENV] = f"{speedup:.3f}"
    return speedup


def _bf16_probe(size: int, batch: int, rounds: int) -> float:
    import time

    from torch import nn

    net = nn.Sequential(
        nn.ReflectionPad2d(1), nn.Conv2d(3, 32, 3), nn.InstanceNorm2d(32, affine=True), nn.ReLU(),
        nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.InstanceNorm2d(64, affine=True), nn.ReLU(),
        nn.Upsample(scale_factor=2, mode="nearest"), nn.ReflectionPad2d(1), nn.Conv2d(64, 64, 3), nn.ReLU(),
        nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.Conv2d(128, 128, 3, padding=1))
    x = torch.rand(batch, 3, size, size)

    def seconds(bf16: bool) -> float:
        start = time.perf_counter()
        with torch.autocast("cpu", torch.bfloat16, enabled=bf16):
            y = net(x)
        y.float().square().mean().backward()
        return time.perf_counter() - start

    seconds(False), seconds(True)  # warm-up: oneDNN picks and caches its kernels
    times = {False: [], True: []}
    for _ in range(rounds):
        for bf16 in times:
            times[bf16].append(seconds(bf16))
    return min(times[False]) / min(times[True])


def probe(accelerator: str = AUTO, measure_bf16: bool = True) -> Hardware:
    """The hardware that Lightning's ``trainer.accelerator`` (auto, cpu, gpu, cuda, mps) selects here. On a
    CPU with AVX512-BF16 and no AMX, ``measure_bf16`` times bf16 against fp32 (:func:`cpu_bf16_speedup`)."""
    accelerator = str(accelerator).lower()
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available():
        return Hardware("cuda", torch.cuda.get_device_name(), cuda_bf16=torch.cuda.is_bf16_supported())
    if accelerator in ("auto", "gpu", "mps") and mps:
        return Hardware("mps", "Apple GPU (MPS)")
    flags = cpu_flags()
    measure = measure_bf16 and "avx512_bf16" in flags and not cpu_has_amx(flags)
    return Hardware("cpu", "CPU", cpu_flags=flags, bf16_speedup=cpu_bf16_speedup() if measure else None)


def auto_precision(hw: Hardware) -> tuple[str, str]:
    """``(Lightning precision, why)``."""
    if hw.kind == "cuda":
        if hw.cuda_bf16:
            return "bf16-mixed", f"CUDA device with bf16 ({hw.name})"
        return "16-mixed", f"CUDA device without bf16 ({hw.name}): fp16 with loss scaling"
    if hw.kind == "cpu":
        if cpu_has_amx(hw.cpu_flags):
            return "bf16-mixed", "CPU with AMX (amx_bf16)"
        if hw.bf16_speedup is not None:  # AVX512-BF16 without AMX: faster on some such CPUs, slower on others
            faster = hw.bf16_speedup >= BF16_MIN_SPEEDUP
            return ("bf16-mixed" if faster else "32-true",
                    f"CPU with AVX512-BF16, bf16 measured {hw.bf16_speedup:.2f}x the speed of fp32 here; "
                    f"bf16 from {BF16_MIN_SPEEDUP}x")
        if "avx512_bf16" in hw.cpu_flags:
            return "32-true", "CPU with AVX512-BF16 but no AMX, bf16 not measured (it ran 0.76-0.8x of fp32 on one such CPU)"
        return "32-true", "CPU without AMX or AVX512-BF16 (bf16 is far slower than fp32 there)"
    return "32-true", f"{hw.name}: fp32"


def auto_inference_precision(hw: Hardware, backend: str = "torch") -> tuple[str, str]:
    """``(stylising precision, why)`` for ``--precision auto`` (scripts/stylize.py, scripts/stylize_video.py):
    bf16 where training would take bf16-mixed on this CPU (AMX, or the probe's 1.2x: on the Zen 4 above bf16
    autocast stylised 1.67x / 1.57x faster at 512 / 1024 px, max abs diff 1.3e-2 of [0,1] pixels), else fp32.
    fp32 on GPUs: eager fp16 / bf16 ran 0.66-0.91x of fp32 on an H200 at 1024 px (2026-11-27/28; the fast GPU
    path is ``--compile``), and with onnxruntime, whose models take fp32."""
    if backend != "torch":
        return "fp32", f"{backend} backend"
    if hw.kind != "cpu":
        return "fp32", f"{hw.name}: eager fp16 / bf16 measured slower than fp32 on a GPU"
    precision, why = auto_precision(hw)
    return ("bf16" if precision == "bf16-mixed" else "fp32"), why


def auto_channels_last(hw: Hardware) -> tuple[bool, str]:
    if hw.kind == "cuda":
        return False, "CUDA device (NHWC measured 2-4% slower there: instance norm prefers NCHW)"
    if hw.kind == "cpu" and cpu_has_amx(hw.cpu_flags):
        return True, "CPU with AMX (NHWC trained 1.17-1.5x faster there in bf16-mixed, level in fp32)"
    return False, f"{hw.kind.upper()} (NHWC training measured slower on CPUs without AMX)"


def auto_compile(hw: Hardware) -> tuple[bool, str]:
    if hw.kind == "cuda":
        return True, "CUDA device (inductor fuses norms, pads and activations: 1.36x measured, ~50 s to compile)"
    return False, f"{hw.kind.upper()} (compiling takes minutes there for a small gain)"


_RESOLVERS = {
    "trainer.precision": auto_precision,
    "model.channels_last": auto_channels_last,
    "model.compile": auto_compile,
}


def resolve_auto(cfg: Any, hw: Hardware | None = None,
                 resumed_precision: str | None = None) -> dict[str, tuple[Any, str]]:
    """Replace every ``auto`` among the switches of ``cfg`` (an OmegaConf DictConfig, changed in
    place) by its value for ``hw`` (probed from ``trainer.accelerator`` when not given). A run resumed
    from a checkpoint trained in ``resumed_precision`` keeps that precision (the same numbers as a run
    never stopped; a probe near its threshold could choose otherwise). Returns ``{key: (value, why)}``
    for the keys it resolved (see :func:`describe`)."""
    from omegaconf import OmegaConf, open_dict

    resolved = {}
    for key, resolver in _RESOLVERS.items():  # precision first: once it is resolved, nothing probes bf16
        if OmegaConf.select(cfg, key) != AUTO:
            continue
        if key == "trainer.precision" and resumed_precision:
            value, why = resumed_precision, "as the checkpoint being resumed"
        else:
            hw = hw or probe(OmegaConf.select(cfg, "trainer.accelerator", default=AUTO),
                             measure_bf16=OmegaConf.select(cfg, "trainer.precision") == AUTO)
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
    hw = hw or probe(OmegaConf.select(cfg, "trainer.accelerator", default=AUTO), measure_bf16=False)
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
