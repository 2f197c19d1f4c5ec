"""AdaIN inference benchmark (the GPU target of issue #14: 1024x1024 in <= 10 ms on an H100): ms per photo
(batch 1) of the ways stylenet can run an :class:`~stylenet.models.adain.AdaINNet`, the painting's statistics
computed once beforehand as :class:`~stylenet.adain.stylizer.AdaINStylizer` does, each path checked
against eager fp32. The decoder's weights are random: the time does not depend on them, and the
differences between paths stay in [0, 1] pixel units because the output is clamped like a stylised photo."""
from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator

import torch

from ..models.adain import AdaINNet
from .infer import COMPILED, Size, _autocast, _cl, bench_paths, cuda_graph

DECODER_WIDTH = 256  # conf/model/adain.yaml (naoto0804/pytorch-AdaIN); the bundled CPU-budget decoder has 128


def adain_paths(net: AdaINNet, target: torch.Tensor, size: Size, device: torch.device,
                compile: bool = True) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    """The ways to run ``net`` with the AdaIN ``target`` (``(1, 3, 512)``, :meth:`AdaINNet.target`) on a
    batch of one ``size`` photo, by name; ``compile=False`` leaves out torch.compile (once per shape)."""
    from ..hardware import cpu_has_bf16

    def clamp(fn: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
        return lambda t: fn(t).clamp(0, 1)

    net_cl = copy.deepcopy(net).to(memory_format=torch.channels_last)
    paths = {"AdaIN eager fp32 (baseline)": clamp(lambda t: net(t, target)),
             "AdaIN channels_last fp32": clamp(lambda t: net_cl(_cl(t), target))}
    if device.type == "cuda":
        half = copy.deepcopy(net).half().to(memory_format=torch.channels_last)
        paths["AdaIN bf16 autocast + channels_last"] = clamp(lambda t: _autocast(lambda u: net_cl(u, target), _cl(t),
                                                                                  torch.bfloat16))
        paths["AdaIN fp16 weights + channels_last"] = clamp(lambda t: half(_cl(t.half()), target))
        try:
            paths["AdaIN CUDA graph fp16 + channels_last"] = cuda_graph(clamp(lambda t: half(_cl(t.half()), target)),
                                                                        torch.rand(1, 3, *size, device=device))
        except Exception as exc:  # noqa: BLE001 - report and go on without this row
            print(f"AdaIN CUDA graph capture failed ({type(exc).__name__}: {str(exc)[:200]}): row left out", flush=True)
        if compile:
            paths[f"{COMPILED} AdaIN fp16 + CUDA graphs"] = torch.compile(
                clamp(lambda t: half(_cl(t.half()), target)), mode="reduce-overhead", dynamic=False)
    else:
        if cpu_has_bf16():
            paths["AdaIN bf16 autocast (AVX512-BF16/AMX)"] = clamp(lambda t: _autocast(lambda u: net(u, target), t,
                                                                                      torch.bfloat16))
        if compile:
            paths[f"{COMPILED} AdaIN fp32 (static shapes)"] = torch.compile(clamp(lambda t: net(t, target)), dynamic=False)
    return paths


def bench_adain_inference(sizes: Iterable[int | Size] = (512, 1024), decoder_width: int = DECODER_WIDTH,
                          repeats: int = 5, compile: bool | Callable[[Size], bool] = True,
                          deadline: float | None = None) -> Iterator[dict]:
    """Yield ``{"size", "path", "ms", "max_abs_diff"}`` rows size by size (:func:`stylenet.bench.infer.bench_paths`)."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    net = AdaINNet(decoder_width).to(device).eval()
    with torch.inference_mode():
        target = net.target([torch.rand(3, 256, 256)])  # a painting's statistics, once (as the Stylizer does)
        yield from bench_paths(sizes, lambda size, with_compile: adain_paths(net, target, size, device, with_compile),
                               lambda x: net(x, target).clamp(0, 1), device, repeats, compile, deadline)
