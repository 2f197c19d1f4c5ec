"""The GPU run's measuring stages: env, bench-train, bench-infer and profile (see stylenet.bench.gpu_run;
the train stage is stylenet.bench.train_stage)."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from pathlib import Path

from .runner import ROOT, Run


def stage_env(run: Run, deadline: float) -> dict:
    import torch

    info: dict = {"python": platform.python_version(), "torch": torch.__version__, "cuda": torch.version.cuda,
                  "cpus": os.cpu_count(), "cuda_available": torch.cuda.is_available()}
    for name in ("torchvision", "lightning", "hydra", "omegaconf", "onnxruntime", "safetensors"):
        try:
            info[name] = __import__(name).__version__
        except Exception as exc:  # noqa: BLE001 - report what is there
            info[name] = f"missing ({type(exc).__name__})"
    try:
        import onnxruntime

        info["onnxruntime_providers"] = onnxruntime.get_available_providers()
    except Exception:  # noqa: BLE001
        pass
    from .common import machine

    info["machine"] = machine()
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info.update(gpu=props.name, gpu_memory_gib=round(props.total_memory / 2**30, 1),
                    capability=f"{props.major}.{props.minor}", multiprocessors=props.multi_processor_count,
                    bf16=torch.cuda.is_bf16_supported(), cudnn=torch.backends.cudnn.version())
        smi = subprocess.run(["nvidia-smi", "--query-gpu=driver_version,clocks.max.sm,power.limit", "--format=csv,noheader"],
                             capture_output=True, text=True)
        info["nvidia_smi"] = smi.stdout.strip() or smi.stderr.strip()[:200]
        try:
            info.update(_ceilings(torch))
        except Exception as exc:  # noqa: BLE001 - the ceilings are context, not a reason to stop
            info["ceilings_error"] = f"{type(exc).__name__}: {str(exc)[:200]}"
    run.say("env: " + json.dumps(info))
    return info


def _ceilings(torch) -> dict:
    """The two ceilings worth knowing (METHOD.md): a bf16 matrix product's TFLOP/s and a device copy's GB/s."""
    from .common import time_ms

    a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    ms = time_ms(lambda: a @ a, repeats=10, warmup=3)
    src = torch.randn(2**30 // 4, device="cuda")
    dst = torch.empty_like(src)
    copy_ms = time_ms(lambda: dst.copy_(src), repeats=10, warmup=2)
    return {"bf16_matmul_tflops": round(2 * 8192**3 / ms / 1e9, 1), "copy_gb_per_s": round(2 * 2**30 / copy_ms / 1e6, 1)}


def stage_bench_train(run: Run, deadline: float) -> dict:
    import torch

    from .train import bench_loader, run_isolated, train_one
    from .train_configs import AUTOTUNE, compiled_train_configs, gpu_train_configs, gram_train_configs, speed_train_configs

    cuda = torch.cuda.is_available()
    out: dict = {"loader": [], "rows": []}
    run.results["stages"]["bench-train"] = out
    photos = _photo_root()
    for workers in (() if run.focus else (0,) if run.tiny else (1, 8, 14)):
        if photos is None or time.monotonic() > deadline - 10:
            break
        row = bench_loader(str(photos), workers, batch=4 if run.tiny else 32, size=32 if run.tiny else 256,
                           seconds=1 if run.tiny else 3)
        out["loader"].append(row)
        run.say(f"loader: {workers} workers {row['images_per_s']:.0f} images/s")
        run.save()
    if run.focus == "gram":
        configs = gram_train_configs(steps=1, batches=(2,), size=32) if run.tiny else gram_train_configs(20)
    elif run.focus == "speed":
        configs = speed_train_configs(steps=1, batch=2, size=32) if run.tiny else speed_train_configs(20)
    elif run.focus == "compile":
        configs = compiled_train_configs(steps=1, batches=(2,), size=32) if run.tiny else compiled_train_configs(20, (16, 32))
    elif run.tiny:
        # Sizes where bf16 stays cheap on CPUs without bf16 units too (AVX2 EPYC: 64 px x1 took 9-15 s a row,
        # 48 px x1 3-6 s), one checkpointing pair: the rows check the paths, not the numbers.
        configs = gpu_train_configs(steps=1, compile=False, memory=((40, 1),), batches=(2,), size=32)
    else:
        configs = gpu_train_configs(steps=20, compile=cuda)
    if run.tiny:
        configs = [{**c, "width": 4, "blocks": 1, "warmup": 1} for c in configs]
    for config in configs:
        # seconds (compile: ~40 s measured in train.py on an H200; autotuning benchmarks kernels: a guess)
        estimate = (180 if config.get("compile_mode") == AUTOTUNE else 50) if config.get("compile") else 8
        if time.monotonic() + estimate > deadline:
            run.say(f"bench-train: skipped {config['path']} at {config['size']} px x{config['batch']}: "
                    f"~{estimate} s needed, {deadline - time.monotonic():.0f} s left")
            out.setdefault("skipped_configs", []).append(config)
            continue
        try:
            # In one process on CUDA (peak statistics reset per row) and with --tiny; a CPU's peak RSS needs its own.
            row = train_one(config) if cuda or run.tiny else run_isolated(config)
        except Exception as exc:  # noqa: BLE001 - an OOM or a broken path must not cost the other rows
            row = {**config, "error": f"{type(exc).__name__}: {str(exc)[:300]}"}
            if cuda:
                torch.cuda.empty_cache()
        out["rows"].append(row)
        run.say("bench-train: " + (f"{row['path']} {row['size']} px x{row['batch']}: {row['images_per_s']:.1f} images/s, "
                                   f"peak {row['peak_mib']:.0f} MiB, warm-up {row['warmup_s']:.1f} s, "
                                   f"{row['recompiles_after_warmup']} recompiles after warm-up"
                                   if "error" not in row else f"{row['path']} failed: {row['error']}"))
        run.save()
    return out


def stage_bench_infer(run: Run, deadline: float) -> dict:
    import torch

    from .infer import GPU_COMPILED, bench_inference

    out: dict = {"rows": []}
    run.results["stages"]["bench-infer"] = out
    compiled, later = ("fp16 + CUDA graphs",), ()
    if run.focus == "adain":
        sizes, width, blocks = [], 32, 5  # only the AdaIN rows, with all of the stage
    elif run.focus == "speed":  # issue #10's 1024x1024 target: every compiled path (GPU_COMPILED), autotuning
        sizes, width, blocks = ([(32, 32)], 4, 1) if run.tiny else ([(1024, 1024)], 32, 5)  # last, in a pass
        compiled, later = tuple(GPU_COMPILED)[:2], tuple(GPU_COMPILED)[2:]  # of its own (its compile is long)
    elif run.tiny:
        sizes, width, blocks = [(32, 32), (24, 40)], 4, 1
    elif run.focus == "compile":
        sizes, width, blocks = [(2160, 3840), (1080, 1920)], 32, 5
    else:
        sizes, width, blocks = [(512, 512), (1024, 1024), (1080, 1920), (2160, 3840)], 32, 5
    # torch.compile compiles per shape (two compiled paths, ~20-40 s each): only for the target sizes, only with time.
    targets = ((1024, 1024), (2160, 3840), (1080, 1920)) if run.focus else ((1024, 1024), (2160, 3840))
    # AdaIN (issue #14: 1024x1024 in <= 10 ms) gets the last quarter of the stage (none in the compile focus,
    # all of it in the adain focus).
    adain_s = {"compile": 0.0, "speed": 0.0, "adain": 1.0}.get(run.focus, 0.25) * (deadline - time.monotonic())
    johnson_deadline = deadline - adain_s
    compile_ok = lambda size: (torch.cuda.is_available() and size in targets  # noqa: E731
                               and johnson_deadline - time.monotonic() > 45)
    # The speed focus: eager fp32 and the compiled paths only (the other eager paths were measured on two dates).
    for row in bench_inference(sizes, width, blocks, compile=compile_ok, deadline=johnson_deadline - 5, compiled=compiled,
                               compiled_only=run.focus == "speed" and not run.tiny, baseline=True):
        out["rows"].append(row)
        run.save()
    if run.focus == "speed":  # the fastest shipped network (zoo_fast's layout, one style) compiled, at the same size
        fast = _fast_network()
        for row in bench_inference(sizes, compile=compile_ok, deadline=johnson_deadline - 5, compiled=compiled[:1],
                                   compiled_only=True, model=fast):
            out["rows"].append(row)
            run.save()
    if later and torch.cuda.is_available() and johnson_deadline - time.monotonic() > 60:
        for row in bench_inference(sizes, width, blocks, compile=True, deadline=johnson_deadline - 5,
                                   compiled=later, compiled_only=True):
            out["rows"].append(row)
            run.save()
    elif later:
        run.say(f"bench-infer: skipped {', '.join(later)}: needs CUDA and ~60 s, "
                f"{johnson_deadline - time.monotonic():.0f} s left")
    if adain_s:
        from .adain import bench_adain_inference

        out["adain_rows"] = []
        adain_sizes = [(32, 32)] if run.tiny else [(1024, 1024), (512, 512), (1080, 1920)]
        compiled = ((1024, 1024), (1080, 1920)) if run.focus else ((1024, 1024),)
        compile_adain = lambda size: (torch.cuda.is_available() and size in compiled  # noqa: E731
                                      and deadline - time.monotonic() > 40)
        for row in bench_adain_inference(adain_sizes, 8 if run.tiny else 256, compile=compile_adain,
                                         deadline=deadline - 3):
            out["adain_rows"].append(row)
            run.save()
    run.say(f"bench-infer: {len(out['rows'])} rows" + (f", AdaIN {len(out['adain_rows'])}" if "adain_rows" in out else ""))
    return out


def stage_profile(run: Run, deadline: float) -> dict:
    """Operator profiles of the training step (batch 16, bf16, eager) and of inference (1024 px, fp32)."""
    from .profile import profile_inference, profile_training

    out: dict = {}
    run.results["stages"]["profile"] = out
    if run.tiny:
        jobs = {"training": lambda: profile_training(32, 2, "fp32", 4, 1, steps=2, top=8),
                "inference": lambda: profile_inference(32, 4, 1, calls=2, top=8)}
    else:
        jobs = {"training": profile_training, "inference": profile_inference}
    for name, job in jobs.items():
        if time.monotonic() > deadline - (1 if run.tiny else 5):
            run.say(f"profile: {name} skipped, the time budget is spent")
            continue
        out[name] = job()
        top = out[name]["rows"][0]
        run.say(f"profile: {name}: top operator {top['op']} {top['ms_per_step']:.3f} ms/step ({top['share']:.0%})")
        run.save()
    return out


def _fast_network() -> tuple[str, dict]:
    """``("zoo_fast network", kwargs)``: the bundled zoo_fast's architecture with one style (the fastest
    network stylenet ships: model=light_fast's layout, MODELS.md)."""
    from ..export import load_transformer

    net, _ = load_transformer("zoo_fast")
    return "zoo_fast network", {**net.config(), "num_styles": 1}


def _photo_root() -> Path | None:
    for candidate in (ROOT / ".gpu" / "photos", ROOT / "data" / "sample"):
        if candidate.is_dir():
            return candidate
    return None

