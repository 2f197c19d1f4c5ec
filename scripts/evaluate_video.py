"""Flicker (temporal warping error) beside style and content losses, per model, on synthetic clips made
from still photos (exact motion) and real clips (DIS optical flow):
    python scripts/evaluate_video.py --model plain.safetensors temporal.safetensors --clip ../shared/data/video/bbb_0_30s_720p.webm
"""
import sys

from stylenet.video.evaluate import main

if __name__ == "__main__":
    sys.exit(main())
