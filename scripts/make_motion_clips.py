"""Clips with known motion (pan, zoom, rotate, a moving crop) from the bundled photos, with exact flows:
    python scripts/make_motion_clips.py --photos data/sample --count 4 --out outputs/motion_clips
"""
import sys

from stylenet.video.synthetic import main

if __name__ == "__main__":
    sys.exit(main())
