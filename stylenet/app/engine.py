"""What the web app does, free of web code: open and check uploads, stylise a photo with a zoo style, a
mix of two or any painting (AdaIN), a gallery of every zoo style, a short video, webcam frames. Every bad
input raises :class:`AppError` with a message fit to show in the page; one job runs at a time (the models are
shared).
"""
from __future__ import annotations

import tempfile
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from ..image import UNREADABLE, float_to_pil, open_rgb, pil_to_float, save_image
from ..photo_io import input_size
from ..inference import ImageTooLargeError, load_stylizer
from ..inference.batch_paths import INPUT_EXTENSIONS
from ..metadata import kept_exif

MAX_PIXELS = 40_000_000  # uploads above 40 MP are refused: minutes of tiled work on a 2-core CPU
TILE = 1024  # photos with a longer side above this are stylised in tiles (bounded memory, full resolution)
GALLERY_SIDE = 512  # the gallery's images: every style on a preview of the photo
VIDEO_SECONDS = 10  # the first 10 s of an uploaded video are stylised
VIDEO_SIDE = 720  # ... at most 720 px on the longer side
PREVIEW_SIDE = 384  # the chosen photo's and paintings' previews beside the controls (the page shows them ~180 px high)
LIVE_SIDE = 320  # webcam frames are stylised at most 320 px on the longer side (zoo_fast: real time on 2 CPU cores)
MODES = ("zoo style", "mix two styles", "any painting")


class AppError(ValueError):
    """A request the app cannot serve; the message is shown in the page."""


@dataclass
class Choice:
    """What the user picked: ``mode`` one of MODES; ``style``/``style_b``/``mix`` (the weight of
    ``style_b``) for the zoo; ``painting`` (a file) and ``alpha`` for AdaIN, and ``painting_b`` a second one
    (mixed with the first, ``mix`` its weight); ``strength`` and ``preserve_color`` for every mode; ``mask`` (a
    file) places the two styles (or paintings) instead of mixing them."""
    mode: str = MODES[0]
    style: str | None = None
    style_b: str | None = None
    mix: float = 0.5
    painting: str | None = None
    alpha: float = 1.0
    strength: float = 1.0
    preserve_color: bool = False
    mask: str | None = None
    painting_b: str | None = None


def open_photo(path: str | Path | None, what: str = "photo", max_side: int | None = None) -> Image.Image:
    """An uploaded image as RGB (EXIF orientation applied, transparency on white), shrunk to ``max_side`` px
    at most (a large JPEG decoded at a reduced scale: :func:`stylenet.image.open_rgba`), or AppError."""
    if not path:
        raise AppError(f"Upload a {what} first.")
    name = Path(path).name
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                w, h = img.size
            if w * h > MAX_PIXELS:
                raise AppError(f"The {what} {name} is {w}x{h} ({w * h / 1e6:.0f} megapixels); the limit is "
                               f"{MAX_PIXELS / 1e6:.0f} megapixels. Please shrink it first.")
            # as the scripts read it: EXIF orientation, sRGB, 16-bit, alpha on white
            rgb = open_rgb(path, (lambda size: input_size(size, max_side)) if max_side else None)
    except AppError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise AppError(f"The {what} {name} is too large to open safely (over Pillow's decompression-bomb limit).") from None
    except UNREADABLE as exc:
        raise AppError(f"The {what} {name} is not an image this app can read ({type(exc).__name__}). "
                       "Upload a JPEG, PNG, WebP, HEIC, AVIF, BMP or TIFF file.") from None
    return rgb


def preview(path: str | Path | None, what: str = "photo") -> Image.Image | None:
    """What an upload will be stylised from (or with), shrunk to PREVIEW_SIDE px at most: orientation and
    colours as :func:`open_photo` reads them; None for no file, AppError for one that is not an image."""
    if not path:
        return None
    return open_photo(path, what, PREVIEW_SIDE)  # (a 12-MP JPEG: ~30 ms, not ~230 decoded whole)


class Engine:
    """The bundled zoo (10 styles) and AdaIN (any painting) models on ``device``, one job at a time; webcam
    frames go through ``live`` (the fastest network holding the zoo's styles, else the zoo itself)."""

    def __init__(self, device: str = "auto", zoo: str = "zoo", adain: str | None = "adain",
                 live: str | None = "zoo_fast", precision: str = "fp32"):
        self.zoo = load_stylizer(zoo, device=device, precision=precision)
        try:
            self.live = load_stylizer(live, device=device, precision=precision) if live else self.zoo
        except ValueError:  # no such model: the zoo serves the webcam too
            self.live = self.zoo
        if list(self.live.style_names) != list(self.zoo.style_names):
            self.live = self.zoo
        self.adain = None
        if adain:
            try:
                self.adain = load_stylizer(adain, device=device, precision=precision)
            except ValueError:  # no bundled AdaIN model: the painting mode says so
                self.adain = None
        self.styles = list(self.zoo.style_names)
        self.device = str(self.zoo.device)
        self._lock = threading.Lock()
        self._painting: tuple[tuple, object] = ((), None)  # the last paintings and their AdaIN choice
        self._still_mask: tuple[str | None, Image.Image | None] = (None, None)  # the last mask image, opened once

    def painting_note(self, path: str | None) -> str | None:
        """A sentence for the page when an uploaded painting is so small that AdaIN enlarges it more than
        2x to its style size (its statistics are then those of the enlargement's blur), else None."""
        if not path or self.adain is None:
            return None
        from ..style_files import enlargement

        try:
            found = enlargement(Path(path), self.adain.style_size)
        except (OSError, ValueError):  # not an image: the preview says so
            return None
        if found is None:
            return None
        width, height, factor, scan = found
        return (f"The painting is only {width}x{height} px: it is enlarged {factor:.1f}x to {self.adain.style_size} px, "
                f"so its brushwork turns to blur. A scan of at least {scan} px gives its real strokes.")

    def _stylizer(self, choice: Choice, live: bool = False, clip: bool = False):
        """The stylizer and per-call style for a choice (AppError for an incomplete one); ``clip``: for a video,
        whose mask may be a mask clip (a mask per frame)."""
        zoo = self.live if live else self.zoo
        if choice.mode == "any painting":
            if self.adain is None:
                raise AppError("No AdaIN model is installed, so any-painting mode is off.")
            if not choice.painting:
                raise AppError("Upload a painting to use as the style.")
            paintings = tuple(p for p in (choice.painting, choice.painting_b) if p)
            if choice.mask and len(paintings) < 2:
                raise AppError("Upload a second painting for the mask to place (or remove the mask).")
            if self._painting[0] != paintings:  # their statistics once per upload, not once per webcam frame
                for painting, what in zip(paintings, ("painting", "second painting")):
                    open_photo(painting, what)  # a clear message for a bad painting
                self._painting = (paintings, self.adain._choose(list(paintings)))
            painted = self._painting[1]
            if len(paintings) == 2 and not choice.mask:  # the mix slider: the second painting's weight
                painted = self.adain.reweighted(painted, [1.0 - float(choice.mix), float(choice.mix)])
            style = {"style": painted, "alpha": float(choice.alpha)}
            if choice.mask:  # spatial control: each painting on its region (Huang & Belongie Sec. 7.3)
                style["mask"] = self._mask(choice.mask, clip)
            return self.adain, style
        if choice.style not in self.styles:
            raise AppError(f"Choose a style ({', '.join(self.styles)}).")
        if choice.mode == "mix two styles":
            if choice.style_b not in self.styles:
                raise AppError("Choose the second style of the mix.")
            if choice.style_b == choice.style:
                return zoo, {"style": choice.style}
            if choice.mask:  # spatial control: the mask places the two styles (stylenet.inference.styles.masked)
                return zoo, {"style": f"{choice.style},{choice.style_b}", "mask": self._mask(choice.mask, clip)}
            return zoo, {"style": {choice.style: 1.0 - float(choice.mix), choice.style_b: float(choice.mix)}}
        return zoo, {"style": choice.style}

    def _mask(self, path: str, clip: bool):
        """An uploaded mask: an image (opened once per upload, not per webcam frame), or for a video a video
        file too (a mask per frame: MaskClip)."""
        if Path(path).suffix.lower() in INPUT_EXTENSIONS or not Path(path).suffix:
            if self._still_mask[0] != path:
                self._still_mask = (path, open_photo(path, "mask"))
            return self._still_mask[1]
        if not clip:
            raise AppError(f"The mask {Path(path).name} is not an image (a mask video works in the Video tab).")
        from ..video.io import VideoError
        from ..video.masks import MaskClip

        try:
            return MaskClip(path)
        except VideoError as exc:
            raise AppError(f"Cannot read the mask video: {str(exc).split(': ', 1)[-1]}.") from None

    def stylize(self, photo: Image.Image, choice: Choice, max_side: int | None = None) -> Image.Image:
        """``photo`` stylised at its full resolution (tiles above TILE px), or with the longer side
        ``max_side`` at most."""
        return self._run(photo, choice, max_side, live=False)

    def live_frame(self, frame: Image.Image | None, choice: Choice) -> Image.Image | None:
        """A webcam frame stylised at LIVE_SIDE px at most with the live network; None (the frame is dropped,
        the page keeps the last one) when there is no frame yet or another job is running."""
        return None if frame is None else self._run(frame.convert("RGB"), choice, LIVE_SIDE, live=True)

    def _run(self, photo: Image.Image, choice: Choice, max_side: int | None, live: bool) -> Image.Image | None:
        stylizer, style = self._stylizer(choice, live)
        if max_side and max(photo.size) > max_side:
            photo = photo.copy()
            photo.thumbnail((max_side, max_side), Image.LANCZOS)
        x = pil_to_float(photo)
        tile = TILE if max(x.shape[-2:]) > TILE else None
        if not self._lock.acquire(blocking=not live):  # a live frame never waits for a photo or a video
            return None
        try:
            y = stylizer(x, tile=tile, strength=float(choice.strength), preserve_color=bool(choice.preserve_color),
                         **style)
        except (ImageTooLargeError, MemoryError, torch.OutOfMemoryError):
            raise AppError("This image does not fit in memory here; try a smaller one.") from None
        finally:
            self._lock.release()
        return float_to_pil(y)

    def gallery(self, photo: Image.Image, choice: Choice) -> list[tuple[Image.Image, str]]:
        """Every zoo style on the photo (longer side GALLERY_SIDE), with strength and colour settings."""
        return [(self.stylize(photo, Choice(style=name, strength=choice.strength, preserve_color=choice.preserve_color),
                              GALLERY_SIDE), name) for name in self.styles]

    def video(self, path: str | Path | None, choice: Choice, out_dir: str | Path | None = None) -> Path:
        """The first VIDEO_SECONDS of a clip stylised (longer side VIDEO_SIDE at most) into an MP4; a mask may be
        a video (a mask per frame)."""
        if not path:
            raise AppError("Upload a video first.")
        stylizer, style = self._stylizer(choice, clip=True)
        try:
            return self._video(path, stylizer, style, choice, out_dir)
        finally:
            if hasattr(style.get("mask"), "close"):  # a mask clip
                style["mask"].close()

    def _video(self, path, stylizer, style: dict, choice: Choice, out_dir) -> Path:
        from ..video.io import VideoError, VideoReader
        from ..video.pipeline import stylize_video

        try:
            reader = VideoReader(path)
            fps = float(reader.info.fps or 25)
            reader.close()
        except VideoError as exc:  # its message starts with the (temporary) path: keep the reason
            raise AppError(f"Cannot read this video: {str(exc).split(': ', 1)[-1]}.") from None
        out = Path(out_dir or tempfile.mkdtemp(prefix="stylenet-app-")) / f"{Path(path).stem}_stylised.mp4"
        options = {"strength": float(choice.strength), "preserve_color": bool(choice.preserve_color)}
        options.update(style)  # the style (AdaIN: the paintings' statistics, computed once), alpha, a mask
        with self._lock:
            try:
                stylize_video(stylizer, path, out, max_size=VIDEO_SIDE, max_frames=max(1, round(fps * VIDEO_SECONDS)),
                              overwrite=True, progress=False, **options)
            except VideoError as exc:
                raise AppError(f"Cannot stylise this video: {exc}") from None
        return out


def save_result(image: Image.Image, folder: str | Path, stem: str = "stylised", source: str | Path | None = None) -> Path:
    """A result as a PNG file to download (written atomically), with the EXIF metadata of the photo it was
    made from, ``source`` (date taken, camera...; upright, no thumbnail: :mod:`stylenet.metadata`)."""
    exif = kept_exif(source, image.size) if source else None
    return save_image(image, Path(folder) / f"{stem}.png", **({"exif": exif} if exif else {}))
