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
                   channels_last: bool = False, compile: bool = False, checkpointing: bool = False):
    """StyleTransferModule's own training computation (targets cached, content features only to
    relu2_2 without a graph, fused AdamW), with the given switches."""
    from ..training.module import StyleTransferModule

    module = StyleTransferModule(style_name="bench", style_image=str(resolve_path(STYLE_IMAGE)),
                                 style_size=384, width=width, num_res_blocks=blocks, content_layers=CONTENT_LAYERS,
                                 style_layers=STYLE_LAYERS, channels_last=channels_last, compile=compile,
                                 gradient_checkpointing=checkpointing, vgg_checkpointing=checkpointing)
    module.setup("fit")
    module.to(device)
    opt = torch.optim.AdamW(module.net.parameters(), 1e-3, fused=True)
    dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")

    def step(x: torch.Tensor) -> None:
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype or torch.float32, enabled=dtype is not None):
            loss = module.perceptual(module.net(x), x)["total"]
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
    kwargs = {k: config[k] for k in ("precision", "channels_last", "compile", "checkpointing") if k in config}
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


def train_configs(steps: int, cuda: bool, compile: bool, mem_size: int, mem_batch: int, cpu_bf16: bool = False) -> list[dict]:
    """CPU: the reference loop and stylenet (+ bf16 where the CPU has it, + compile) at 256 px batch 4
    and 512 px batch 2, then gradient checkpointing on/off at ``mem_size``."""
    if cuda:
        return gpu_train_configs(steps, compile, mem_size, mem_batch)
    configs = []
    for size, batch in ((256, 4), (512, 2)):
        base = {"size": size, "batch": batch, "steps": steps}
        configs += [{**base, "path": "baseline"}, {**base, "path": "stylenet fp32"}]
        if cpu_bf16:
            configs.append({**base, "path": "stylenet bf16-mixed", "precision": "bf16"})
        if compile:
            configs.append({**base, "path": "stylenet + compile", "compile": True})
    for ckpt in (False, True):
        name = "stylenet, checkpointing" if ckpt else "stylenet, no checkpointing"
        configs.append({"size": mem_size, "batch": mem_batch, "steps": 1, "path": name, "checkpointing": ckpt,
                        **({"precision": "bf16"} if cpu_bf16 else {})})
    return configs


def gpu_train_configs(steps: int, compile: bool = True, memory: tuple[tuple[int, int], ...] = ((512, 16), (1024, 4)),
                      batches: tuple[int, ...] = (4, 16, 32), size: int = 256) -> list[dict]:
    """The GPU matrix, most important first (a time budget cuts the tail): the reference loop and
    stylenet fp32 at the first batch size (4: the paper's); bf16-mixed, then + compile, at each larger
    batch (what train.py runs by default on a GPU; the train stage sizes its schedule from these);
    gradient checkpointing on/off at each ``memory`` (size, batch); fp32 and bf16 at the other batches;
    channels_last eager and compiled at the second batch size."""
    first, rest = batches[0], batches[1:] or batches[:1]
    base = {"size": size, "steps": steps, "warmup": 3}
    bf16, fp32 = {"precision": "bf16"}, {}
    configs = [{**base, "batch": first, "path": "baseline"}, {**base, "batch": first, "path": "stylenet fp32"}]
    for batch in rest:
        configs.append({**base, "batch": batch, "path": "stylenet bf16-mixed", **bf16})
        if compile:
            configs.append({**base, "batch": batch, "path": "stylenet bf16 + compile", "compile": True, **bf16})
    for mem, batch in memory:
        for ckpt in (False, True):
            configs.append({"size": mem, "batch": batch, "steps": max(2, steps // 4), "warmup": 2, "checkpointing": ckpt,
                            "path": f"stylenet bf16, {'checkpointing' if ckpt else 'no checkpointing'}", **bf16})
    if first not in rest:
        configs.append({**base, "batch": first, "path": "stylenet bf16-mixed", **bf16})
    configs += [{**base, "batch": b, "path": "stylenet fp32", **fp32} for b in rest if b != first]
    cl = {**base, "batch": rest[0], "channels_last": True, **bf16}
    configs.append({**cl, "path": "stylenet bf16 + channels_last"})
    if compile:
        configs.append({**cl, "path": "stylenet bf16 + cl + compile", "compile": True})
    return configs


def gram_train_configs(steps: int, batches: tuple[int, ...] = (16, 32), size: int = 256) -> list[dict]:
    """The Gram matrices' fp32 products without and with TF32 (bf16-mixed, eager, each batch), then the
    default compiled step at the last batch (first compile ~50 s on a GPU)."""
    base = {"size": size, "steps": steps, "warmup": 3, "precision": "bf16"}
    configs = []
    for batch in batches:
        configs += [{**base, "batch": batch, "path": "stylenet bf16-mixed, fp32 Gram", "tf32": False},
                    {**base, "batch": batch, "path": "stylenet bf16-mixed"}]
    return configs + [{**base, "batch": batches[-1], "path": "stylenet bf16 + compile", "compile": True}]


def compiled_train_configs(steps: int, batches: tuple[int, ...] = (16, 32), size: int = 256) -> list[dict]:
    """bf16-mixed + compile, NCHW and channels_last, for each batch (first compile ~50 s each on a GPU)."""
    configs = []
    for batch in batches:
        base = {"size": size, "batch": batch, "steps": steps, "warmup": 3, "precision": "bf16", "compile": True}
        configs += [{**base, "path": "stylenet bf16 + compile"},
                    {**base, "path": "stylenet bf16 + cl + compile", "channels_last": True}]
    return configs


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
    memory where CUDA is present) over the photos under ``root``, after the first batch."""
    from ..training.data import StyleDataModule

    dm = StyleDataModule("folder", root, image_size=size, batch_size=batch, num_workers=workers, val_size=0,
                         decoder=decoder, prefetch_factor=4 if workers else 2)
    loader = dm._loader(dm.train_files, train=True)
    images, start = 0, None
    for i, x in enumerate(loader):
        if i == 0:
            start = time.perf_counter()  # worker start-up and the first batch left out
            continue
        images += x.shape[0]
        if time.perf_counter() - start > seconds:
            break
    elapsed = time.perf_counter() - start
    del loader
    return {"workers": workers, "batch": batch, "size": size, "images_per_s": images / elapsed if elapsed else 0.0,
            "photos": len(dm.train_files)}


if __name__ == "__main__":
    print(json.dumps(train_one(json.loads(sys.argv[1]))))
