"""Benchmarks; numbers are printed and recorded in docs/BENCHMARKS.md:
    python scripts/benchmark.py infer [--sizes 256 512 1024] [--model johnson|johnson_small]
"""
import argparse
import sys

from stylenet.benchmark import bench_inference, inference_table, record

MODELS = {"johnson": (32, 5), "johnson_small": (16, 5)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    infer = sub.add_parser("infer", help="ms per image of the transformation network, batch 1")
    infer.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    infer.add_argument("--model", choices=list(MODELS), default="johnson")
    infer.add_argument("--no-record", action="store_true", help="print only, leave docs/BENCHMARKS.md alone")
    args = p.parse_args(argv)
    width, blocks = MODELS[args.model]
    rows = bench_inference(args.sizes, width, blocks)
    table = inference_table(rows)
    print(table)
    if not args.no_record:
        command = "python scripts/benchmark.py infer " + " ".join(sys.argv[2:] if argv is None else argv[1:])
        record(f"Inference ({args.model})", command.strip(), table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
