"""Stylise a video (or a folder of frames) with an exported model:
    python scripts/stylize_video.py --model wave --input clip.mp4 --output clip_wave.mp4
Run with --help for batching, --max-size, tiling, colour preservation, strength, --compile and devices.
"""
import sys

from stylenet.video.cli import main

if __name__ == "__main__":
    sys.exit(main())
