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

import numpy as np
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
    # One compiled graph per input shape (static shapes): tens of seconds to compile on a CPU.
    paths["torch.compile fp32 (static shapes)"] = torch.compile(net, dynamic=False)
    paths["torch.compile + channels_last fp32"] = torch.compile(
        lambda t: net_cl(t.contiguous(memory_format=torch.channels_last)), dynamic=False)
    if device.type == "cuda":
        paths["bf16 autocast"] = lambda t: _autocast(net, t, torch.bfloat16)
        paths["fp16 autocast + channels_last"] = lambda t: _autocast(net_cl, t.contiguous(memory_format=torch.channels_last), torch.float16)
        paths["torch.compile bf16 + channels_last"] = torch.compile(
            lambda t: _autocast(net_cl, t.contiguous(memory_format=torch.channels_last), torch.bfloat16), dynamic=False)
    else:
        from .convert import export_onnx, onnx_session

        with tempfile.TemporaryDirectory() as tmp:  # both runtimes hold the model in memory once loaded
            path = Path(tmp) / "m.onnx"
            export_onnx(net, path)
            session = onnx_session(path, threads=torch.get_num_threads())
            paths["onnxruntime fp32"] = lambda t: session.run(None, {"image": t.numpy()})
            try:  # not a dependency: measured where installed (pip install openvino)
                import openvino
            except ImportError:
                pass
            else:
                request = openvino.Core().compile_model(str(path), "CPU", {"PERFORMANCE_HINT": "LATENCY"}).create_infer_request()
                paths["openvino fp32 (if installed)"] = lambda t: request.infer({0: t.numpy()})
    return paths


def _as_tensor(out) -> torch.Tensor:
    """The image a path returned (tensor, onnxruntime's list of arrays, openvino's result) as a CPU tensor."""
    if isinstance(out, torch.Tensor):
        return out.float().cpu()
    if isinstance(out, (list, tuple)):
        return _as_tensor(out[0])
    if hasattr(out, "to_tuple"):  # openvino's OVDict
        return _as_tensor(out.to_tuple()[0])
    return torch.from_numpy(np.asarray(out)).float()


def _autocast(net: TransformerNet, x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    with torch.autocast(x.device.type, dtype):
        return net(x)


def bench_inference(sizes=(256, 512, 1024), width: int = 32, blocks: int = 5, repeats: int = 5) -> list[dict]:
    """Median ms per image of every path; the paths take turns (round-robin) so that a noisy
    neighbour on a shared machine slows them all alike."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    net = TransformerNet(width, blocks).to(device).eval()
    rows = []
    with torch.inference_mode():
        for size in sizes:
            x = torch.rand(1, 3, size, size, device=device)
            reps = max(3, repeats * 256 // size) if device.type == "cpu" else 50
            paths = inference_paths(net, size, device)
            reference = net(x).float().cpu()
            diffs = {}  # a faster path must compute the same image
            for name, fn in paths.items():
                time_ms(lambda: fn(x), repeats=1, warmup=1)  # warm-up (and compilation)
                diffs[name] = float((_as_tensor(fn(x)) - reference).abs().max())
            times: dict[str, list[float]] = {name: [] for name in paths}
            for _ in range(reps):
                for name, fn in paths.items():
                    times[name].append(time_ms(lambda: fn(x), repeats=1, warmup=0))
            for name, values in times.items():
                ms = sorted(values)[len(values) // 2]
                rows.append({"size": size, "path": name, "ms": ms, "max_abs_diff": diffs[name]})
                print(f"{size:5d} px  {name:36s} {ms:9.1f} ms/image  (max abs diff {diffs[name]:.1e})", flush=True)
    return rows


def inference_table(rows: list[dict]) -> str:
    sizes = sorted({r["size"] for r in rows})
    names = list(dict.fromkeys(r["path"] for r in rows))
    ms = {(r["size"], r["path"]): r["ms"] for r in rows}
    diff = {name: max(r["max_abs_diff"] for r in rows if r["path"] == name) for name in names}
    lines = ["| path | " + " | ".join(f"{s} px ms (speed-up)" for s in sizes) + " | max abs diff vs eager |",
             "|---|" + "---|" * (len(sizes) + 1)]
    for name in names:
        cells = []
        for s in sizes:
            base, value = ms.get((s, names[0])), ms.get((s, name))
            cells.append(f"{value:.1f} ({base / value:.2f}x)" if value else "-")
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {diff[name]:.1e} |")
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


# -- training ---------------------------------------------------------------------------------------
STYLE_LAYERS = {"relu1_2": 0.3, "relu2_2": 1.0, "relu3_3": 0.1, "relu4_3": 5.0}  # conf/loss/johnson.yaml
CONTENT_LAYERS = {"relu2_2": 1.0}


def _photos(size: int, batch: int, device: torch.device) -> torch.Tensor:
    """A fixed batch of real photos (bundled sample), centre-cropped to ``size``: compute only, no I/O."""
    from torchvision.transforms.v2 import CenterCrop, Resize

    from .config import resolve_path
    from .image import find_images, load_image

    files = find_images(resolve_path("data/sample"))[:batch]
    crop = lambda p: CenterCrop(size)(Resize(size)(load_image(p)))  # noqa: E731
    return torch.stack([crop(p) for p in files]).to(device)


def _baseline_step(size: int, batch: int, device: torch.device, width: int, blocks: int):
    """The loop every reference implementation runs: fp32 eager; VGG features of the content photo
    computed through all loss layers; the style image's Gram matrices recomputed every batch."""
    from .image import load_image
    from .losses import content_loss, gram_matrix, style_loss
    from .vgg import VGGFeatures

    from .config import resolve_path

    net = TransformerNet(width, blocks).to(device)
    vgg = VGGFeatures([*CONTENT_LAYERS, *STYLE_LAYERS]).to(device)
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    style = load_image(resolve_path("data/styles/starry_night.jpg"), 384)[None].to(device)
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
    relu2_2 without a graph), with the given switches."""
    from .config import resolve_path
    from .module import StyleTransferModule

    module = StyleTransferModule(style_name="bench", style_image=str(resolve_path("data/styles/starry_night.jpg")),
                                 style_size=384, width=width, num_res_blocks=blocks, content_layers=CONTENT_LAYERS,
                                 style_layers=STYLE_LAYERS, channels_last=channels_last, compile=compile,
                                 gradient_checkpointing=checkpointing, vgg_checkpointing=checkpointing)
    module.setup("fit")
    module.to(device)
    opt = torch.optim.AdamW(module.net.parameters(), 1e-3, fused=device.type == "cuda")
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


def train_one(config: dict) -> dict:
    """images/s and peak memory of one training configuration (run in its own process)."""
    import resource

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    size, batch, steps = config["size"], config["batch"], config["steps"]
    kwargs = {k: config[k] for k in ("precision", "channels_last", "compile", "checkpointing") if k in config}
    maker = _baseline_step if config["path"] == "baseline" else _stylenet_step
    step = maker(size, batch, device, config.get("width", 32), config.get("blocks", 5), **kwargs)
    x = _photos(size, batch, device)
    if device.type == "cuda":
        torch.cuda.synchronize()
        before = torch.cuda.memory_allocated() / 2**20
        torch.cuda.reset_peak_memory_stats()
    else:
        with open("/proc/self/statm") as f:
            before = int(f.read().split()[1]) * resource.getpagesize() / 2**20  # resident set now
    step(x)  # warm-up (and compilation)
    seconds = time_ms(lambda: [step(x) for _ in range(steps)], repeats=1, warmup=0) / 1000
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux -> MiB
    # peak_mib: the whole process (CPU: max RSS, CUDA: max allocated); step_mib: what the training step
    # adds on top of the models, optimizer and data already in memory.
    return {**config, "images_per_s": steps * batch / seconds, "peak_mib": peak, "step_mib": peak - before}


def run_isolated(config: dict) -> dict:
    """``train_one`` in a fresh process, so peak memory is this configuration's alone."""
    import json
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "stylenet.benchmark", json.dumps(config)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark {config} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def train_configs(steps: int, cuda: bool, compile: bool, mem_size: int, mem_batch: int) -> list[dict]:
    fast = {"precision": "bf16", "channels_last": True} if cuda else {}
    configs = []
    for size, batch in ((256, 4), (512, 2)):
        base = {"size": size, "batch": batch, "steps": steps}
        configs += [{**base, "path": "baseline"}, {**base, "path": "stylenet fp32"}]
        if cuda:
            configs.append({**base, "path": "stylenet bf16 + channels_last", **fast})
        if compile:
            configs.append({**base, "path": "stylenet + compile", "compile": True, **fast})
    for ckpt in (False, True):
        name = "stylenet, checkpointing" if ckpt else "stylenet, no checkpointing"
        configs.append({"size": mem_size, "batch": mem_batch, "steps": 1, "path": name, "checkpointing": ckpt, **fast})
    return configs


def train_table(rows: list[dict]) -> str:
    base = {(r["size"], r["batch"]): r["images_per_s"] for r in rows if r["path"] == "baseline"}
    lines = ["| path | size | batch | images/s | vs baseline | peak memory (MiB) | of which the step (MiB) |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        ref = base.get((r["size"], r["batch"]))
        speed = f"{r['images_per_s'] / ref:.2f}x" if ref else "-"
        lines.append(f"| {r['path']} | {r['size']} | {r['batch']} | {r['images_per_s']:.2f} | {speed} | "
                     f"{r['peak_mib']:.0f} | {r['step_mib']:.0f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(train_one(json.loads(sys.argv[1]))))
