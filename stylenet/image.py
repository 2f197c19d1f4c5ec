"""Image I/O: every tensor that leaves here is float RGB in [0, 1], shape (3, H, W) or (N, 3, H, W)."""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torchvision.transforms.functional import pil_to_tensor, to_pil_image

from .atomic import atomic_path
from .colour import to_srgb
from .formats import IMAGE_EXTENSIONS, SAVE_FORMATS

# Errors Pillow raises for files that are not usable images (truncated, empty, not an image, bombs).
UNREADABLE = (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError)
RANGE_SLACK = 0.5  # how far outside [0, 1] an input may stray (bicubic overshoot) before it is called a mistake


def _to_8bit(img: Image.Image) -> Image.Image:
    """16-bit and float greyscale modes ("I;16", "I", "F") scaled to 8-bit "L" (a plain convert clips them)."""
    if img.mode.startswith("I;16") or img.mode == "I":
        img = img.convert("I")
        scale = 1 / 257 if img.getextrema()[1] > 255 else 1.0  # 16-bit range, or 8-bit values stored as I
        return img.point(lambda v: v * scale).convert("L")
    if img.mode == "F":
        scale = 255.0 if img.getextrema()[1] <= 1.0 else 1.0
        return img.point(lambda v: v * scale).convert("L")
    return img


Size = tuple[int, int]  # (width, height) in px
_SWAPPED = (5, 6, 7, 8)  # EXIF orientations that turn the stored image a quarter (width and height trade places)


def open_rgba(path: str | os.PathLike, size_for: Callable[[Size], Size] | None = None
              ) -> tuple[Image.Image, Image.Image | None]:
    """Open an image with its EXIF orientation applied and its colour profile converted to sRGB
    (:mod:`stylenet.colour`), as 8-bit RGB plus its alpha channel ("L", or None when it has none).
    Greyscale, palette, CMYK and 16-bit images are converted. ``size_for``: the size to return it at (Lanczos)
    from its upright size, so that a JPEG at least twice as large is decoded at 1/2, 1/4 or 1/8 scale first
    (libjpeg's DCT scaling, Pillow's ``draft``; never below that size): a 12-MP phone photo for 256-px
    training crops decodes in ~12 ms instead of ~45 (docs/BENCHMARKS.md)."""
    with Image.open(path) as img:
        size = None
        if size_for is not None:
            swapped = img.getexif().get(0x0112) in _SWAPPED  # (the header: nothing is decoded yet)
            size = size_for(img.size[::-1] if swapped else img.size)
            stored = size[::-1] if swapped else size
            if img.format == "JPEG" and 2 * stored[0] <= img.width and 2 * stored[1] <= img.height:
                img.draft(img.mode, stored)
        img = to_srgb(_to_8bit(ImageOps.exif_transpose(img)), path)
        transparent = img.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (img.mode == "P" and "transparency" in img.info)
        img = img.convert("RGBA" if transparent else "RGB")
    if size is not None and img.size != size:  # (RGBA: Pillow resamples it premultiplied, so no dark fringes)
        img = img.resize(size, Image.Resampling.LANCZOS)
    return (img.convert("RGB"), img.getchannel("A")) if transparent else (img, None)


def open_rgb(path: str | os.PathLike, size_for: Callable[[Size], Size] | None = None) -> Image.Image:
    """Open an image as 8-bit RGB with its EXIF orientation applied; transparent pixels are
    composited on white (black behind them would read as content). ``size_for``: see :func:`open_rgba`."""
    return composite_on_white(*open_rgba(path, size_for))


def composite_on_white(rgb: Image.Image, alpha: Image.Image | None) -> Image.Image:
    """RGB with transparent pixels replaced by white (unchanged when ``alpha`` is None)."""
    if alpha is None:
        return rgb
    return Image.composite(rgb, Image.new("RGB", rgb.size, (255, 255, 255)), alpha)


def pil_to_float(img: Image.Image) -> torch.Tensor:
    """PIL RGB image -> float tensor (3, H, W) in [0, 1]."""
    return pil_to_tensor(img.convert("RGB")).float().div_(255.0)


def float_to_pil(x: torch.Tensor) -> Image.Image:
    """Float tensor (3, H, W) in [0, 1] (clamped) -> PIL RGB image; the input is not modified."""
    if x.ndim == 4 and x.shape[0] == 1:
        x = x[0]
    return to_pil_image(x.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8).cpu())


def resize_longest(img: Image.Image, size: int | None) -> Image.Image:
    """Resize so the longer side is ``size`` px, keeping the aspect ratio (no-op for None)."""
    if not size:
        return img
    w, h = img.size
    scale = size / max(w, h)
    new = (max(1, round(w * scale)), max(1, round(h * scale)))
    return img if new == img.size else img.resize(new, Image.Resampling.LANCZOS)


def load_image(path: str | os.PathLike, max_size: int | None = None) -> torch.Tensor:
    """Read an image file -> float RGB (3, H, W) in [0, 1], longer side resized to ``max_size``."""
    return pil_to_float(resize_longest(open_rgb(path), max_size))


def save_image(image: torch.Tensor | Image.Image, path: str | os.PathLike, **save_kwargs) -> Path:
    """Write atomically (temp file in the same folder, then rename): a crash never leaves half a file."""
    img = image if isinstance(image, Image.Image) else float_to_pil(image)
    with atomic_path(path) as tmp:
        img.save(tmp, **save_kwargs)
    return Path(path)


def as_float_batch(image: torch.Tensor) -> tuple[torch.Tensor, bool]:
    """``(x, single)``: ``image`` (an RGB ``(3, H, W)`` or ``(N, 3, H, W)`` tensor) as a float32 batch in [0, 1],
    and whether it was one image. A uint8 image (torchvision.io's) is divided by 255; anything that is
    not float RGB in [0, 1] (a 0..255 float image, ImageNet-normalised values, NaN) is refused, never stylised
    into a silently wrong picture. ``x`` may share the caller's memory: never write into it."""
    if not isinstance(image, torch.Tensor):
        hint = ("; for a file: stylizer.stylize_file(path, 'out.png'), or stylenet.image.load_image(path)"
                if isinstance(image, (str, os.PathLike)) else
                "; for a NumPy (H, W, 3) array: torch.from_numpy(a).permute(2, 0, 1)"
                if type(image).__module__ == "numpy" else "")
        raise TypeError(f"expected an image tensor (3, H, W) or (N, 3, H, W) in [0, 1] or a PIL image, got "
                        f"{type(image).__name__}{hint}")
    single = image.ndim == 3
    x = image[None] if single else image
    if x.ndim != 4 or x.shape[1] != 3:
        hint = (": channels last? image.permute(2, 0, 1) (a batch: permute(0, 3, 1, 2))"
                if x.ndim == 4 and x.shape[-1] == 3 else "")
        raise ValueError(f"expected an RGB image (3, H, W) or batch (N, 3, H, W), got {tuple(image.shape)}{hint}")
    if x.numel() == 0:
        raise ValueError(f"the image is empty: shape {tuple(image.shape)}")
    if x.dtype == torch.uint8:
        return x.float() / 255, single
    if not x.is_floating_point():
        raise TypeError(f"expected float RGB in [0, 1] (or uint8 in 0..255), got {x.dtype}")
    x = x.float()
    low, high = torch.aminmax(x)
    if not (torch.isfinite(low) and torch.isfinite(high)):
        raise ValueError("the image holds NaN or infinite values")
    if low < -RANGE_SLACK or high > 1 + RANGE_SLACK:  # (a resampled image overshoots [0, 1] a little: allowed)
        hint = ("divide a 0..255 image by 255" if high > 20 else "undo any mean/std normalisation" if low < 0
                else "rescale it to [0, 1]")
        raise ValueError(f"expected RGB values in [0, 1], got [{float(low):.3g}, {float(high):.3g}]: {hint}")
    return x, single


def output_problem(path: str | os.PathLike, inputs: Sequence[str | os.PathLike] = ()) -> str | None:
    """Why an image could not be written to ``path`` (checked before hours of work, not after): an unknown
    suffix, one of the ``inputs`` it would overwrite, or a folder that cannot be made or written to; None
    when it can."""
    path = Path(path)
    for source in inputs:
        if Path(source).is_file() and path.resolve() == Path(source).resolve():
            return f"{path} is an input: writing it would overwrite it; give another output file"
    if path.suffix.lower() not in SAVE_FORMATS:
        return f"{path}: the suffix sets the image format; use one of {', '.join(SAVE_FORMATS)}"
    if path.is_dir():
        return f"{path} is a folder; give an image file's path"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"cannot make the folder {path.parent}: {exc.strerror or exc}"
    try:  # (a real file: permissions, read-only mounts and pseudo file systems all show here)
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError as exc:
        return f"cannot write into {path.parent}: {exc.strerror or exc}"
    return None


# ITU-R BT.601 RGB -> YUV (rows: Y, U, V); luminance-only transfer keeps the photo's U and V.
_RGB_TO_YUV = torch.tensor([[0.299, 0.587, 0.114], [-0.14713, -0.28886, 0.436], [0.615, -0.51499, -0.10001]])


def preserve_colors(stylized: torch.Tensor, original: torch.Tensor) -> torch.Tensor:
    """Luminance of ``stylized`` with the chroma (YUV U, V) of ``original``; (N, 3, H, W) in [0, 1]."""
    m = _RGB_TO_YUV.to(stylized.device, stylized.dtype)
    y = torch.einsum("ij,njhw->nihw", m[:1], stylized)
    uv = torch.einsum("ij,njhw->nihw", m[1:], original)
    return torch.einsum("ij,njhw->nihw", torch.linalg.inv(m), torch.cat([y, uv], 1)).clamp(0, 1)


def find_images(root: str | os.PathLike, extensions: Sequence[str] = IMAGE_EXTENSIONS) -> list[Path]:
    """All image files under ``root`` (recursive, symlinked folders not followed), sorted."""
    root = Path(root)
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found += [Path(dirpath) / f for f in filenames
                  if f.lower().endswith(tuple(extensions)) and not f.startswith(".")]
    return sorted(found)
