"""Video in and out with PyAV (FFmpeg inside its wheel; no system ffmpeg), and folders of frames.

Frames cross this module's boundary as ``(H, W, 3)`` uint8 RGB numpy arrays in display range (full
range, 0-255); the YUV <-> RGB conversion honours the clip's colour range (limited/"MPEG" or
full/"JPEG") and colour matrix, and the output is tagged with the input's (an HDR clip is tone-mapped to
SDR and tagged BT.709: :mod:`.hdr`). Rotation is kept as the container's display matrix (the frames are
processed as stored, and players rotate them as before). Animated GIF/WebP outputs: :mod:`.animation`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..image import find_images, open_rgb
from ..metadata import kept_tags
from .hdr import hdr_to_srgb, is_hdr

# Output containers and the encoders used for them (all in PyAV's wheel). H.264 (libx264) at crf 18 is
# "visually lossless" per x264's documentation; VP9 for WebM (constant quality, crf 31 as YouTube-style
# defaults in FFmpeg's VP9 guide).
VIDEO_CODECS = {".mp4": "libx264", ".mov": "libx264", ".m4v": "libx264", ".mkv": "libx264", ".webm": "libvpx-vp9"}
CRF_RANGES = {"libx264": (0, 51), "libvpx-vp9": (0, 63)}  # x264's --crf (8-bit) and libvpx's --cq-level
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo")
AUDIO_FALLBACK = {".mp4": "aac", ".mov": "aac", ".m4v": "aac", ".mkv": "aac", ".webm": "libopus"}
# Audio codecs each container takes as they are (copied without re-encoding); others are re-encoded.
AUDIO_COPY = {".mp4": {"aac", "mp3", "ac3", "eac3", "alac", "opus", "flac"}, ".m4v": {"aac", "mp3", "ac3", "eac3", "alac"},
              ".mov": {"aac", "mp3", "ac3", "eac3", "alac", "pcm_s16le"}, ".webm": {"opus", "vorbis"}, ".mkv": None}


class VideoError(ValueError):
    """An unreadable or unsupported video, said in one line."""


@dataclass
class VideoInfo:
    width: int
    height: int
    fps: Fraction  # average frame rate
    frames: int  # from the container (0: unknown until decoded)
    rotation: int  # degrees counter-clockwise that players apply (display matrix), 0 if none
    color_range: int  # av ColorRange: 1 limited (MPEG), 2 full (JPEG), 0 unspecified
    colorspace: int  # av Colorspace (the YUV matrix), 2 = unspecified
    has_audio: bool
    codec: str
    tags: dict = field(default_factory=dict)  # the container's metadata (creation_time, title, location, ...)
    stream_tags: dict = field(default_factory=dict)  # the video stream's (language, title, ...)
    transfer: int = 0  # av color_trc of the first frame: 16 PQ, 18 HLG (HDR: tone-mapped, stylenet.video.hdr)


def _open(path: Path):
    import av

    if not path.is_file():
        raise VideoError(f"{path}: no such file")
    try:
        container = av.open(str(path))
    except (av.FFmpegError, UnicodeDecodeError) as exc:
        raise VideoError(f"{path}: not a readable video ({exc})") from None
    if not container.streams.video:
        container.close()
        raise VideoError(f"{path}: has no video stream")
    return container


class VideoReader:
    """Decode a clip in order: :meth:`items` (frames and audio packets) or :meth:`frames`. ``info`` is read
    at open (the rotation and colour range from the first frame, which is decoded then and kept)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.container = _open(self.path)
        self.stream = self.container.streams.video[0]
        self.stream.thread_type = "AUTO"  # frame and slice threads: decoding keeps up with 2 cores
        self.audio = self.container.streams.audio[0] if self.container.streams.audio else None
        self._packets = self.container.demux(*[s for s in (self.stream, self.audio) if s is not None])
        self._pending: list = []  # ("frame", av.VideoFrame) and ("audio", av.Packet), in file order
        while not any(kind == "frame" for kind, _ in self._pending):
            if not self._read():
                self.close()
                raise VideoError(f"{self.path}: no decodable video frame")
        first = next(item for kind, item in self._pending if kind == "frame")
        rate = self.stream.average_rate or self.stream.guessed_rate or Fraction(25)
        self.info = VideoInfo(first.width, first.height, Fraction(rate), self.stream.frames or 0,
                              int(round(first.rotation or 0)), int(first.color_range), int(first.colorspace),
                              self.audio is not None, self.stream.codec_context.name, dict(self.container.metadata),
                              dict(self.stream.metadata), int(first.color_trc or 0))

    def _read(self) -> bool:
        """Demux one packet into ``_pending`` (decoded, for video); False at the end of the file."""
        import av

        packet = next(self._packets, None)
        if packet is None:
            return False
        if packet.stream is self.audio:
            if packet.dts is not None:  # not the demuxer's end-of-stream marker
                self._pending.append(("audio", packet))
            return True
        try:
            self._pending += [("frame", f) for f in packet.decode()]
        except av.FFmpegError as exc:
            raise VideoError(f"{self.path}: corrupt video data ({exc})") from None
        return True

    def items(self) -> Iterator[tuple[str, object]]:
        """``("frame", av.VideoFrame)`` and ``("audio", av.Packet)`` in file order (audio for copying)."""
        while self._pending or self._read():
            while self._pending:
                yield self._pending.pop(0)

    def frames(self) -> Iterator:
        """The ``av.VideoFrame`` s alone, in order."""
        return (item for kind, item in self.items() if kind == "frame")

    def close(self) -> None:
        self.container.close()


def to_rgb(frame, size: tuple[int, int] | None = None) -> np.ndarray:
    """An ``av.VideoFrame`` as ``(H, W, 3)`` uint8 full-range RGB, converted with the frame's own colour
    range and matrix; an HDR frame (PQ, HLG) decoded at 16 bits and tone-mapped to sRGB (:mod:`.hdr`).
    ``size`` ``(width, height)``: scaled in the same conversion (FFmpeg's swscale; area averaging to shrink):
    a 4K frame to 1280x720 in ~7 ms, where converting it whole and resizing a float tensor took ~80
    (docs/BENCHMARKS.md)."""
    hdr = is_hdr(frame.color_trc)
    scale = {}
    if size is not None and tuple(size) != (frame.width, frame.height):
        shrink = size[0] <= frame.width and size[1] <= frame.height
        scale = {"width": size[0], "height": size[1], "interpolation": "AREA" if shrink else "BICUBIC"}
    rgb = frame.reformat(format="rgb48le" if hdr else "rgb24", src_color_range=frame.color_range or None,
                         dst_color_range="JPEG", **scale).to_ndarray()
    return hdr_to_srgb(rgb, int(frame.color_trc)) if hdr else rgb


class VideoWriter:
    """Encode RGB frames into ``path`` (the caller gives a temporary name and renames it when done; see
    :func:`stylenet.atomic.atomic_path`), with the input's frame rate, timing, colour tags and rotation,
    and its audio copied (or re-encoded where the container cannot hold its codec)."""

    def __init__(self, path: str | os.PathLike, suffix: str, info: VideoInfo, width: int, height: int,
                 audio_template=None, crf: int | None = None, preset: str = "fast", metadata: str = "all"):
        import av

        codec = VIDEO_CODECS[suffix]
        self.container = av.open(str(path), mode="w", format={".mkv": "matroska", ".webm": "webm"}.get(suffix, suffix[1:]))
        options = {"crf": str(18 if crf is None else crf), "preset": preset} if codec == "libx264" else \
                  {"crf": str(31 if crf is None else crf), "b": "0", "deadline": "realtime", "cpu-used": "8", "row-mt": "1"}
        self.container.metadata.update(kept_tags(info.tags, metadata))  # the date it was shot, title, place
        self.stream = self.container.add_stream(codec, rate=info.fps, options=options)
        self.stream.metadata.update(kept_tags(info.stream_tags, metadata))
        self.stream.width, self.stream.height = width, height
        # 4:2:0 needs even sides; odd-sized frames keep every pixel in 4:4:4 (fewer players take it).
        self.pix_fmt = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
        self.stream.pix_fmt = self.pix_fmt
        self.range = info.color_range if info.color_range in (1, 2) else 1  # limited unless the input says full
        self.colorspace = info.colorspace if info.colorspace not in (0, 2) else None
        if is_hdr(info.transfer):  # its frames were tone-mapped to sRGB: SDR out, said so in every tag
            self.colorspace = 1  # BT.709 (AVColorSpace, AVColorPrimaries and AVColorTransferCharacteristic alike)
            self.stream.codec_context.color_primaries = self.stream.codec_context.color_trc = 1
        self.stream.codec_context.color_range = self.range
        if self.colorspace is not None:
            self.stream.codec_context.colorspace = self.colorspace
        if info.rotation:
            self.stream.set_display_rotation(info.rotation)
        self.audio_out, self.audio_in, self.copy_audio = None, audio_template, False
        if audio_template is not None:
            allowed = AUDIO_COPY[suffix]
            self.copy_audio = allowed is None or audio_template.codec_context.name in allowed
            if self.copy_audio:
                self.audio_out = self.container.add_stream_from_template(audio_template)
            else:
                layout = audio_template.codec_context.layout.name
                rate = 48000 if suffix == ".webm" else audio_template.codec_context.sample_rate  # Opus: 48 kHz
                self.audio_out = self.container.add_stream(AUDIO_FALLBACK[suffix], rate=rate, layout=layout)
            self.audio_out.metadata.update(kept_tags(audio_template.metadata, metadata))  # its language
        self.frames = 0

    def write(self, rgb: np.ndarray, pts: int | None, time_base: Fraction | None) -> None:
        import av

        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame = frame.reformat(format=self.pix_fmt, src_color_range="JPEG", dst_color_range=self.range,
                               dst_colorspace=self.colorspace)
        if pts is not None and time_base is not None:
            frame.pts, frame.time_base = pts, time_base
        else:  # a folder of frames or missing timestamps: one frame per 1/fps
            frame.pts, frame.time_base = self.frames, 1 / Fraction(self.stream.codec_context.framerate)
        for packet in self.stream.encode(frame):
            self.container.mux(packet)
        self.frames += 1

    def write_audio(self, packet) -> None:
        if self.audio_out is None:
            return
        if self.copy_audio:
            packet.stream = self.audio_out
            self.container.mux(packet)
            return
        for frame in packet.decode():
            frame.pts = None  # the encoder re-times the resampled samples
            for out in self.audio_out.encode(frame):
                self.container.mux(out)

    def close(self) -> None:
        for packet in self.stream.encode():
            self.container.mux(packet)
        if self.audio_out is not None and not self.copy_audio:
            for packet in self.audio_out.encode():
                self.container.mux(packet)
        self.container.close()


def frame_folder(path: str | os.PathLike) -> list[Path]:
    """The image files of a folder of frames, in name order; one line if there are none."""
    frames = find_images(path)
    if not frames:
        raise VideoError(f"{path}: no image files (png, jpg, ...) in this folder")
    return frames


def read_frame(path: Path, size=None) -> np.ndarray:
    """One frame file as ``(H, W, 3)`` uint8 RGB; ``size(width, height)``: the size to read it at (Lanczos, a
    large JPEG decoded at a reduced scale: :func:`stylenet.image.open_rgba`)."""
    return np.asarray(open_rgb(path, None if size is None else lambda upright: size(*upright)))
