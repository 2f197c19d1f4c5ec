"""Colour management (stylenet.colour): a file's embedded ICC profile is applied on reading, in every reader
(scripts, the app, training's torchvision.io decoder); an sRGB tag, no tag and a broken one leave the pixels.

The profile here is made by hand (ICC v2, a matrix/TRC display profile: sRGB's curve and colorants with red's and
green's exchanged), so its effect is exact and unmistakable: what a Display P3 or Adobe RGB tag does, a subtle
change of saturation, made visible."""
from __future__ import annotations

import logging
import struct

import numpy as np
import pytest
import torch
from PIL import Image, ImageCms

from stylenet.animated import read_frames
from stylenet.colour import needs_conversion
from stylenet.image import open_rgba, open_rgb
from stylenet.photo_io import load_input
from stylenet.training.data import ImageFileDataset

from conftest import SAMPLE

# sRGB's colorants adapted to D50 (the ICC's sRGB profile, rXYZ / gXYZ / bXYZ)
RED, GREEN, BLUE = (0.4360, 0.2225, 0.0139), (0.3851, 0.7169, 0.0971), (0.1431, 0.0606, 0.7141)


def _xyz(x: float, y: float, z: float) -> bytes:
    return b"XYZ " + b"\0" * 4 + b"".join(struct.pack(">i", round(v * 65536)) for v in (x, y, z))


def matrix_profile(red, green, blue, name: str) -> bytes:
    """An ICC v2 RGB display profile with these colorants (XYZ, D50) and sRGB's tone curve (a 1024-entry table)."""
    text = name.encode("ascii") + b"\0"
    desc = b"desc" + b"\0" * 4 + struct.pack(">I", len(text)) + text + b"\0" * (8 + 3 + 67)
    ramp = [i / 1023 for i in range(1024)]
    curve = [v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4 for v in ramp]
    trc = b"curv" + b"\0" * 4 + struct.pack(f">I{len(curve)}H", len(curve), *(round(v * 65535) for v in curve))
    tags = [(b"desc", desc), (b"wtpt", _xyz(0.9642, 1.0, 0.8249)), (b"rXYZ", _xyz(*red)), (b"gXYZ", _xyz(*green)),
            (b"bXYZ", _xyz(*blue)), (b"rTRC", trc), (b"gTRC", trc), (b"bTRC", trc), (b"cprt", b"text\0\0\0\0none\0")]
    start = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for sig, body in tags:
        body += b"\0" * (-len(body) % 4)
        table += sig + struct.pack(">II", start + len(data), len(body))
        data += body
    header = (struct.pack(">I", start + len(data)) + b"\0" * 4 + struct.pack(">I", 0x02100000) + b"mntrRGB XYZ "
              + b"\0" * 12 + b"acsp" + b"\0" * 28 + _xyz(0.9642, 1.0, 0.8249)[8:])
    return header + b"\0" * (128 - len(header)) + struct.pack(">I", len(tags)) + table + data


SWAPPED = matrix_profile(GREEN, RED, BLUE, "red and green exchanged")
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@pytest.fixture
def photo() -> Image.Image:
    with Image.open(sorted(SAMPLE.glob("*.jpg"))[0]) as img:
        return img.convert("RGB").resize((64, 48))


def _pixels(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("RGB"), dtype=np.int16)


@pytest.mark.parametrize("kind", ["png", "jpeg", "rgba_png", "palette_png", "tiff"])
def test_an_embedded_profile_is_applied(tmp_path, photo, kind):
    img = {"rgba_png": photo.convert("RGBA"), "palette_png": photo.quantize(64)}.get(kind, photo)
    if kind == "rgba_png":
        img.putalpha(Image.linear_gradient("L").resize(photo.size))
    path = tmp_path / f"tagged.{kind.split('_')[-1]}"
    img.save(path, icc_profile=SWAPPED, **({"quality": 95} if kind == "jpeg" else {}))
    with Image.open(path) as raw:  # the file's own numbers, the profile ignored (as stylenet read them before)
        numbers = _pixels(raw)
    rgb, alpha = open_rgba(path)
    assert np.abs(_pixels(rgb) - numbers[..., [1, 0, 2]]).max() <= 1  # red and green exchanged, as the profile says
    assert np.abs(_pixels(rgb) - numbers).mean() > 5
    if kind == "rgba_png":
        assert alpha is not None and np.array_equal(np.asarray(alpha), np.asarray(img.getchannel("A")))
    assert needs_conversion(path)


def test_srgb_an_unknown_or_a_broken_profile_leaves_the_pixels(tmp_path, photo, caplog):
    for name, icc in [("srgb.png", SRGB), ("none.png", None), ("broken.png", b"not a profile" * 20)]:
        path = tmp_path / name
        photo.save(path, **({"icc_profile": icc} if icc else {}))
        with caplog.at_level(logging.WARNING, logger="stylenet.colour"):
            assert np.array_equal(_pixels(open_rgb(path)), _pixels(photo)), name
        assert not needs_conversion(path)
    assert "broken.png: its colour profile cannot be read" in caplog.text and "srgb.png" not in caplog.text
    grey = tmp_path / "grey.jpg"  # an RGB profile on greyscale pixels: the numbers are taken as they are
    photo.convert("L").save(grey, icc_profile=SWAPPED)
    assert np.array_equal(_pixels(open_rgb(grey)), _pixels(Image.open(grey)))


def test_every_reader_applies_it(tmp_path, photo):
    """The stylize scripts (load_input), the web app (open_photo) and training (torchvision.io, which ignores
    profiles, hands a tagged file to Pillow) read a tagged photo the same way."""
    path, plain = tmp_path / "tagged.jpg", tmp_path / "plain.jpg"
    photo.save(path, icc_profile=SWAPPED, quality=95)
    photo.save(plain, quality=95)
    expected = torch.from_numpy(_pixels(open_rgb(path))).permute(2, 0, 1).float() / 255
    assert torch.allclose(load_input(path).image, expected, atol=1e-6)
    items = {decoder: ImageFileDataset([path], 48, train=False, decoder=decoder)[0] for decoder in ("torchvision", "pil")}
    assert torch.allclose(items["torchvision"], items["pil"], atol=1 / 255)
    untagged = ImageFileDataset([plain], 48, train=False)[0]
    assert (items["torchvision"] - untagged).abs().mean() > 0.02
    animation = tmp_path / "tagged.webp"  # animated images, frame by frame
    photo.save(animation, save_all=True, append_images=[photo.rotate(180)], duration=[50, 50], lossless=True,
               icc_profile=SWAPPED)
    frames = [frame for frame, _ in read_frames(animation)]
    assert len(frames) == 2 and torch.allclose(frames[0], torch.from_numpy(_pixels(photo)[..., [1, 0, 2]]).permute(2, 0, 1)
                                               .float() / 255, atol=1.5 / 255)
    pytest.importorskip("gradio")  # the app's module imports it
    from stylenet.app.engine import open_photo

    assert np.array_equal(_pixels(open_photo(str(path))), _pixels(open_rgb(path)))


def test_without_little_cms_profiles_are_ignored_with_one_warning(tmp_path, photo, monkeypatch, caplog):
    """A Pillow built without Little CMS (PyPI's wheels have it) still reads every image, as sRGB, and says so once."""
    import stylenet.colour as colour

    monkeypatch.setattr(colour, "ImageCms", None)
    colour._warn_once.cache_clear()
    path = tmp_path / "tagged.png"
    photo.save(path, icc_profile=SWAPPED)
    with caplog.at_level(logging.WARNING, logger="stylenet.colour"):
        for _ in range(2):
            assert np.array_equal(_pixels(open_rgb(path)), _pixels(photo))
    assert caplog.text.count("this Pillow has no Little CMS") == 1 and not needs_conversion(path)
