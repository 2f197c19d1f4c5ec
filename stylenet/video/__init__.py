"""Video: reading and writing clips and folders of frames (:mod:`.io`) and stylising them
(:mod:`.pipeline`, ``scripts/stylize_video.py``). PyAV is imported only when a clip is opened."""

from .io import VIDEO_CODECS, VideoError, VideoInfo, VideoReader, VideoWriter
from .pipeline import VideoSummary, default_batch_size, stylize_video

__all__ = ["VIDEO_CODECS", "VideoError", "VideoInfo", "VideoReader", "VideoSummary", "VideoWriter", "default_batch_size",
           "stylize_video"]
