"""Which files a batch run reads and where it writes: the inputs (files, folders recursively, globs; earlier
results left out), a folder of masks (one per photo), and the output paths (a folder mirroring the input tree,
or one image file), with the mistakes that would write nothing, or the wrong thing, refused in one line."""
from __future__ import annotations

import glob
import re
from pathlib import Path
from typing import NamedTuple

from ..formats import AVIF, HEIF
from ..image import IMAGE_EXTENSIONS, SAVE_FORMATS, find_images

OUTPUT_FORMATS = {"png": ".png", "jpg": ".jpg", "webp": ".webp", "tiff": ".tif", "bmp": ".bmp", "gif": ".gif",
                  **{s[1:]: s for s in (*AVIF, *HEIF[:1])}}  # avif, heic: where this Pillow writes them
INPUT_EXTENSIONS = (*IMAGE_EXTENSIONS, ".gif")  # (training reads IMAGE_EXTENSIONS: stills only)


def expand_inputs(inputs: list[str | Path], exclude: Path | None = None) -> list[tuple[Path, Path]]:
    """``(file, path relative to its input root)`` for files, folders (recursive) and globs.
    Earlier results are left out: files under ``exclude`` (the output folder) where it lies inside an input
    folder, or among a glob's matches (a file named on its own is always taken)."""
    pairs: list[tuple[Path, Path]] = []
    ex = exclude.resolve() if exclude is not None else None

    def kept(files: list[Path]) -> list[Path]:
        return [f for f in files if ex is None or ex not in f.resolve().parents]

    for item in map(str, inputs):
        path = Path(item)
        if path.is_dir():
            files = find_images(path, INPUT_EXTENSIONS)
            if ex is not None and path.resolve() in ex.parents:  # the output folder nested in this one
                files = kept(files)
            pairs += [(f, f.relative_to(path)) for f in files]
        elif path.is_file():
            pairs.append((path, Path(path.name)))
        elif glob.has_magic(item):
            matches = sorted(Path(m) for m in glob.glob(item, recursive=True))
            pairs += [(m, Path(m.name)) for m in kept(matches) if m.is_file() and m.suffix.lower() in INPUT_EXTENSIONS]
        else:
            raise FileNotFoundError(f"input {item!r} does not exist")
    return pairs


class MaskFolder:
    """``--style-mask masks/`` for a batch: a mask per photo, the image file at the photo's path relative to its
    input root (``masks/city/a.png`` for ``photos/city/a.jpg``; any image suffix), as a greyscale image."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def open(self, rel: Path):
        """The mask for the photo at ``rel``; FileNotFoundError or Pillow's error when it is missing or unreadable."""
        from PIL import Image

        stem = self.root / rel.with_suffix("")
        found = [p for p in sorted(stem.parent.glob(glob.escape(stem.name) + ".*")) if p.suffix.lower() in IMAGE_EXTENSIONS]
        if not found:
            raise FileNotFoundError(f"no mask for it ({stem}.png or another image suffix)")
        with Image.open(found[0]) as img:
            return img.convert("L")


def inputs_for(inputs: list[str | Path], output_dir: Path, one_file: bool) -> list[tuple[Path, Path]]:
    """:func:`expand_inputs` for an output folder (earlier results inside an input folder left out), refusing
    what would write nothing without saying why: no images at all, or an input folder as the output."""
    if not one_file and any(Path(i).is_dir() and Path(i).resolve() == output_dir.resolve() for i in map(str, inputs)):
        raise ValueError(f"--output {output_dir} is an input folder: the results would land among the photos; give "
                         f"another folder (e.g. {output_dir / 'styled'})")
    found = expand_inputs(inputs)
    pairs = found if one_file else expand_inputs(inputs, exclude=output_dir)
    if not found:
        raise FileNotFoundError(f"no images in {', '.join(repr(str(i)) for i in inputs)} (looked for "
                                f"{', '.join(INPUT_EXTENSIONS)})")
    if not pairs:
        raise ValueError(f"every input image lies inside --output {output_dir} (earlier results are left out): give "
                         "another output folder")
    return pairs


def output_path(src: Path, rel: Path, output_dir: Path, fmt: str) -> Path:
    if fmt == "keep":
        suffix = src.suffix.lower() if src.suffix.lower() in SAVE_FORMATS else ".png"
    else:
        suffix = OUTPUT_FORMATS[fmt]
    return (output_dir / rel).with_suffix(suffix)


def check_distinct_outputs(pairs: list[tuple[Path, Path]], dsts: list[Path], fmt: str) -> None:
    """Two inputs that would be written to one output (``dsts``, one per pair: ``photo.jpg`` and ``photo.heic``
    as ``photo.png``, or ``x.jpg`` of two input folders) are refused before anything is written: the second
    would silently replace the first's result, or be skipped as already done."""
    seen: dict[Path, Path] = {}
    for (src, _), dst in zip(pairs, dsts):
        first = seen.setdefault(dst, src)
        if first != src:
            hint = ("--format keep (each keeps its own format) or " if first.suffix.lower() != src.suffix.lower()
                    and fmt != "keep" else "")
            raise ValueError(f"{first} and {src} would both be written to {dst}: use {hint}an output folder for each")


def is_file_output(output: str | Path) -> bool:
    """``--output result.jpg``: one image file (an image suffix, and not an existing folder), not a folder."""
    return Path(output).suffix.lower() in SAVE_FORMATS and not Path(output).is_dir()


def check_file_output(output: Path, pairs: list[tuple[Path, Path]], fmt: str | None) -> None:
    """One input image for one output file, whose suffix is the format (a different ``fmt`` is refused)."""
    if len(pairs) != 1:
        raise ValueError(f"--output {output} is one image file, but the input has {len(pairs)} images: give an output "
                         "folder (the input tree is mirrored there)")
    if output.resolve() == pairs[0][0].resolve():
        raise ValueError(f"--output {output} is the input photo: the result would replace it; give another file "
                         f"(e.g. {output.with_name(output.stem + '_styled' + output.suffix)})")
    same = {".jpeg": ".jpg", ".tiff": ".tif"}
    suffix = same.get(output.suffix.lower(), output.suffix.lower())
    wanted = None if fmt is None else same.get(pairs[0][0].suffix.lower(), pairs[0][0].suffix.lower()) \
        if fmt == "keep" else OUTPUT_FORMATS[fmt]
    if wanted is not None and wanted != suffix:
        raise ValueError(f"--format {fmt} asks for {wanted}, but --output {output} is a {suffix} file: drop --format "
                         "(the file's suffix sets it) or change one of them")


# Where a photo's --output names a video by mistake (the containers of stylenet.video.io, and .avi).
VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi")


def check_folder_output(output: Path, inputs: list[str | Path]) -> None:
    """``--output photo.xyz`` for one image file: a mistyped or unsupported file suffix, which would otherwise
    become a new folder ``photo.xyz/`` holding ``photo.png``. An existing folder, or several inputs, are folders."""
    suffix = output.suffix.lower()
    if (output.exists() or len(inputs) != 1 or not Path(inputs[0]).is_file()
            or not re.fullmatch(r"\.[a-z][a-z0-9]{1,4}", suffix)):
        return
    video = "; a video goes through stylize_video.py (stylenet-video)" if suffix in VIDEO_SUFFIXES else ""
    raise ValueError(f"--output {output}: {suffix} is not an image format stylize writes ({', '.join(SAVE_FORMATS)})"
                     f"{video}; for a folder, name one without a suffix (or an existing one)")


class OutputPlan(NamedTuple):
    """What a batch run reads and writes: the ``(file, path relative to its input)`` pairs, one output each
    (``dsts``), whether the output is one image file, and the format (``keep`` or a key of OUTPUT_FORMATS)."""
    pairs: list[tuple[Path, Path]]
    dsts: list[Path]
    one_file: bool
    fmt: str


def plan_outputs(inputs: list[str | Path], output: str | Path, fmt: str | None = None) -> OutputPlan:
    """The inputs and their outputs (:func:`inputs_for`, :func:`output_path`), every check above made: a run
    that would write nothing, or the wrong thing, is refused here (one line) before any model is loaded."""
    output = Path(output)
    one_file = is_file_output(output)
    pairs = inputs_for(inputs, output, one_file)
    if one_file:
        check_file_output(output, pairs, fmt)
    else:
        check_folder_output(output, inputs)
    fmt = fmt or "png"
    dsts = [output if one_file else output_path(src, rel, output, fmt) for src, rel in pairs]
    check_distinct_outputs(pairs, dsts, fmt)
    return OutputPlan(pairs, dsts, one_file, fmt)
