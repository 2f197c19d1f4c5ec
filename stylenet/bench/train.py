"""Training benchmark: images/s and peak memory of the reference loop and of stylenet's training
computation with its switches (precision, channels_last, compile, gradient checkpointing), on a fixed
batch of real photos (compute only); and the photo loader alone (images/s per worker count)."""
from __future__ import annotations

import gc
import json
import subprocess
import sys
import time

import torch

from ..hardware import tf32_matmul
from ..models import TransformerNet
from ..paths import resolve_path
from .common import sync, time_ms
from .train_configs import CUDA_GRAPHS

STYLE_LAYERS = {"relu1_2": 0.3, "relu2_2": 1.0, "relu3_3": 0.1, "relu4_3": 5.0}  # conf/loss/johnson.yaml
CONTENT_LAYERS = {"relu2_2": 1.0}
STYLE_IMAGE = "data/styles/starry_night.jpg"


def _photos(size: int, batch: int, device: torch.device) -> torch.Tensor:
    """A fixed batch of real photos (bundled sample, repeated if needed), centre-cropped to ``size``."""
    from torchvision.transforms.v2 import CenterCrop, Resize

    from ..image import find_images, load_image

    files = find_images(resolve_path("data/sample"))
    crop = lambda p: CenterCrop(size)(Resize(size)(load_image(p)))  # noqa: E731
    return torch.stack([crop(files[i % len(files)]) for i in range(batch)]).to(device)


def _baseline_step(size: int, batch: int, device: torch.device, width: int, blocks: int):
    """The loop every reference implementation runs (pytorch/examples fast_neural_style): fp32 eager;
    VGG features of the content photo computed through all loss layers; the style image's Gram
    matrices recomputed every batch; Adam (not fused)."""
    from ..image import load_image
    from ..losses import content_loss, gram_matrix, style_loss
    from ..vgg import VGGFeatures

    net = TransformerNet(width, blocks).to(device)
    vgg = VGGFeatures([*CONTENT_LAYERS, *STYLE_LAYERS]).to(device)
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    style = load_image(resolve_path(STYLE_IMAGE), 384)[None].to(device)
    layers = [*CONTENT_LAYERS, *STYLE_LAYERS]

    def step(x: torch.Tensor) -> None:
        y = net(x)
        fy, fx, fs = vgg(y, layers), vgg(x, layers), vgg(style, layers)
        loss = sum(w * content_loss(fy[n], fx[n]) for n, w in CONTENT_LAYERS.items())
        loss = loss + sum(w * style_loss(gram_matrix(fy[n]), gram_matrix(fs[n])) for n, w in STYLE_LAYERS.items())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step


def _stylenet_step(size: int, batch: int, device: torch.device, width: int, blocks: int, precision: str = "fp32",
                   channels_last: bool = False, compile: bool = False, checkpointing: bool = False,
                   compile_scope: str = "modules", compile_mode: str | None = None, compile_backend: str = "inductor",
                   gram_chunk: int | None = None):
    """StyleTransferModule's own training computation (targets cached, content features only to
    relu2_2 without a graph, fused AdamW), with the given switches.

    ``compile``: as train.py (``model.compile``: the network and the VGG compiled apart) with
    ``compile_scope="modules"``; ``"loss"``: one graph for network, VGG passes, Gram matrices and
    reductions. ``compile_mode``: torch.compile's mode (e.g. train_configs.AUTOTUNE, CUDA_GRAPHS);
    ``compile_backend``: "eager" traces without generating code (tests, on a CPU in seconds).
    ``gram_chunk``: the Gram matrices summed in pieces (:func:`stylenet.losses.gram_matrix`)."""
    from ..training.module import StyleTransferModule

    if compile_scope not in ("modules", "loss"):
        raise ValueError(f"compile_scope must be 'modules' or 'loss', got {compile_scope!r}")
    own = compile and (compile_scope == "loss" or compile_mode is not None or compile_backend != "inductor")
    module = StyleTransferModule(style_name="bench", style_image=str(resolve_path(STYLE_IMAGE)),
                                 style_size=384, width=width, num_res_blocks=blocks, content_layers=CONTENT_LAYERS,
                                 style_layers=STYLE_LAYERS, channels_last=channels_last, compile=compile and not own,
                                 gradient_checkpointing=checkpointing, vgg_checkpointing=checkpointing)
    module.setup("fit")
    module.to(device)
    module.perceptual.gram_chunk = gram_chunk
    opt = torch.optim.AdamW(module.net.parameters(), 1e-3, fused=True)
    dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")

    def loss_of(x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device.type, dtype or torch.float32, enabled=dtype is not None):
            return module.perceptual(module.net(x), x)["total"]
    if own:
        options = {"mode": compile_mode} if compile_backend == "inductor" else {}
        if compile_scope == "loss":
            loss_of = torch.compile(loss_of, dynamic=False, backend=compile_backend, **options)
        else:
            module.net.compile(dynamic=False, backend=compile_backend, **options)
            module.perceptual.vgg.compile(dynamic=False, backend=compile_backend, **options)
    graphs = own and compile_mode in (CUDA_GRAPHS, "max-autotune")  # CUDA graph trees: mark each new step

    def step(x: torch.Tensor) -> None:
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        if graphs:
            torch.compiler.cudagraph_mark_step_begin()
        loss = loss_of(x)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
    return step


def _graph_count() -> int:
    from torch._dynamo.utils import counters

    return int(counters["stats"]["unique_graphs"])


def train_one(config: dict) -> dict:
    """images/s and peak memory of one configuration. On CUDA it can share a process with others
    (peak statistics are reset); on a CPU run it in its own process (:func:`run_isolated`)."""
    import resource

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    size, batch, steps = config["size"], config["batch"], config["steps"]
    kwargs = {k: config[k] for k in ("precision", "channels_last", "compile", "checkpointing", "compile_scope",
                                      "compile_mode", "compile_backend", "gram_chunk") if k in config}
    if device.type == "cuda":
        gc.collect()
        torch.cuda.empty_cache()
        if config.get("compile"):
            torch._dynamo.reset()
    # cuDNN autotuning for fixed shapes (train.py: trainer.benchmark=true) and TF32 matrix products on CUDA
    # (stylenet.hardware.tf32_matmul, as train.py's modules set at fit start; "tf32": False measures without);
    # the reference loop runs with PyTorch's defaults, as pytorch/examples does.
    torch.backends.cudnn.benchmark = config["path"] != "baseline"
    torch.set_float32_matmul_precision("highest")
    if config["path"] != "baseline" and config.get("tf32", True):
        tf32_matmul(device)
    maker = _baseline_step if config["path"] == "baseline" else _stylenet_step
    step = maker(size, batch, device, config.get("width", 32), config.get("blocks", 5), **kwargs)
    x = _photos(size, batch, device)
    if device.type == "cuda":
        sync()
        before = torch.cuda.memory_allocated() / 2**20
        torch.cuda.reset_peak_memory_stats()
    else:
        with open("/proc/self/statm") as f:
            before = int(f.read().split()[1]) * resource.getpagesize() / 2**20  # resident set now
    start = time.perf_counter()
    for _ in range(config.get("warmup", 1)):
        step(x)  # warm-up (and compilation)
    sync()
    warmup_s = time.perf_counter() - start
    graphs = _graph_count()
    seconds = time_ms(lambda: [step(x) for _ in range(steps)], repeats=1, warmup=0) / 1000
    recompiles = _graph_count() - graphs
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux -> MiB
    del step, x
    # peak_mib: the whole process (CPU: max RSS, CUDA: max allocated); step_mib: what the training step
    # adds on top of the models, optimizer and data already in memory.
    return {**config, "images_per_s": steps * batch / seconds, "peak_mib": peak, "step_mib": peak - before,
            "warmup_s": warmup_s, "recompiles_after_warmup": recompiles}


def run_isolated(config: dict) -> dict:
    """``train_one`` in a fresh process, so peak memory is this configuration's alone."""
    proc = subprocess.run([sys.executable, "-m", "stylenet.bench.train", json.dumps(config)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark {config} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def train_table(rows: list[dict]) -> str:
    base = {r["size"]: r["images_per_s"] for r in rows if r["path"] == "baseline" and r.get("images_per_s")}
    lines = ["| path | size | batch | images/s | vs baseline | peak memory (MiB) | of which the step (MiB) |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['path']} | {r['size']} | {r['batch']} | failed: {r['error'][:80]} | - | - | - |")
            continue
        ref = base.get(r["size"])
        speed = f"{r['images_per_s'] / ref:.2f}x" if ref else "-"
        lines.append(f"| {r['path']} | {r['size']} | {r['batch']} | {r['images_per_s']:.2f} | {speed} | "
                     f"{r['peak_mib']:.0f} | {r['step_mib']:.0f} |")
    return "\n".join(lines)


def loader_table(rows: list[dict]) -> str:
    """The Markdown table of :func:`bench_loader`'s rows, one per worker count."""
    lines = ["| workers | batch | size | images/s | per worker |", "|---|---|---|---|---|"]
    for r in rows:
        per = r["images_per_s"] / max(1, r["workers"])
        lines.append(f"| {r['workers']} | {r['batch']} | {r['size']} | {r['images_per_s']:.0f} | {per:.0f} |")
    return "\n".join(lines)


def bench_loader(root: str, workers: int, batch: int = 32, size: int = 256, seconds: float = 5.0,
                 decoder: str = "torchvision") -> dict:
    """Images/s of the training DataLoader alone (decode, resize, random crop, flip, collate, pinned
    memory where CUDA is present) over the photos under ``root`` (epoch after epoch), after the first batch."""
    from ..training.data import StyleDataModule

    dm = StyleDataModule("folder", root, image_size=size, batch_size=batch, num_workers=workers, val_size=0,
                         decoder=decoder, prefetch_factor=4 if workers else 2)
    loader = dm._loader(dm.train_files, train=True)
    images, start, epoch = 0, None, 0
    while start is None or time.perf_counter() - start <= seconds:  # epoch after epoch: a few photos are enough
        loader.sampler.set_epoch(epoch)
        if epoch == 1 and start is None:  # (StyleDataModule refuses fewer photos than a batch: never here)
            raise ValueError("the loader gave no batch")
        for x in loader:
            if start is None:
                start = time.perf_counter()  # worker start-up and the first batch left out
                continue
            images += x.shape[0]
            if time.perf_counter() - start > seconds:
                break
        epoch += 1
    elapsed = time.perf_counter() - start
    del loader
    return {"workers": workers, "batch": batch, "size": size, "images_per_s": images / elapsed if elapsed else 0.0,
            "photos": len(dm.train_files)}


if __name__ == "__main__":
    print(json.dumps(train_one(json.loads(sys.argv[1]))))
