"""Stylise photos with an exported model:
    python scripts/stylize.py --model outputs/demo/starry_night.safetensors --input photos/ --output out/
Run with --help for tiling, colour preservation, strength, devices, precision and backends.
"""
import sys

from stylenet.stylize import main

if __name__ == "__main__":
    sys.exit(main())
