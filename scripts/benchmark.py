"""Benchmarks; numbers are printed and recorded in docs/BENCHMARKS.md:
    python scripts/benchmark.py infer [--sizes 256 512 1024] [--model johnson|johnson_small]
    python scripts/benchmark.py train [--steps 5] [--compile] [--mem-size 1024 --mem-batch 4]
"""
import argparse
import sys

import torch

from stylenet.benchmark import bench_inference, inference_table, record, run_isolated, train_configs, train_table

MODELS = {"johnson": (32, 5), "johnson_small": (16, 5)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    infer = sub.add_parser("infer", help="ms per image of the transformation network, batch 1")
    infer.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    infer.add_argument("--model", choices=list(MODELS), default="johnson")
    train = sub.add_parser("train", help="training images/s and peak memory: reference loop vs stylenet")
    train.add_argument("--steps", type=int, default=5, help="timed steps per configuration (after one warm-up)")
    train.add_argument("--compile", action="store_true", help="also time model.compile=true (slow to compile on CPU)")
    train.add_argument("--mem-size", type=int, default=1024, help="image size of the checkpointing memory test")
    train.add_argument("--mem-batch", type=int, default=4 if torch.cuda.is_available() else 1)
    for sp in (infer, train):
        sp.add_argument("--no-record", action="store_true", help="print only, leave docs/BENCHMARKS.md alone")
    args = p.parse_args(argv)
    command = ("python scripts/benchmark.py " + " ".join(sys.argv[1:] if argv is None else argv)).strip()
    if args.what == "train":
        rows = []
        for config in train_configs(args.steps, torch.cuda.is_available(), args.compile, args.mem_size, args.mem_batch):
            rows.append(run_isolated(config))
            r = rows[-1]
            print(f"{r['path']:32s} {r['size']:5d} px x{r['batch']}  {r['images_per_s']:8.2f} images/s  "
                  f"peak {r['peak_mib']:8.0f} MiB (step {r['step_mib']:.0f})", flush=True)
        table = train_table(rows)
        print(table)
        if not args.no_record:
            record("Training (johnson)", command, table)
        return 0
    width, blocks = MODELS[args.model]
    rows = bench_inference(args.sizes, width, blocks)
    table = inference_table(rows)
    print(table)
    if not args.no_record:
        record(f"Inference ({args.model})", command, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
