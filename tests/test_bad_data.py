"""A bad-input corpus made with Pillow at test time: training data must survive all of it."""
import logging
import os
import struct
import zlib
from io import BytesIO

import numpy as np
import pytest
import torch
from PIL import Image

from stylenet.training.data import ImageFileDataset, StyleDataModule
from stylenet.training.photos import DataError, check_image, screen_images
from stylenet.image import find_images

from conftest import SAMPLE, run_train, tiny_overrides


def _png_with_size(width: int, height: int) -> bytes:
    """A 1x1 PNG whose header claims width x height (a decompression bomb for Pillow's check)."""
    buf = BytesIO()
    Image.new("L", (1, 1)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    ihdr = 8 + 8  # signature, then length + "IHDR"
    data[ihdr:ihdr + 8] = struct.pack(">II", width, height)
    data[ihdr + 13:ihdr + 17] = struct.pack(">I", zlib.crc32(bytes(data[ihdr - 4:ihdr + 13])))
    return bytes(data)


def make_case(folder, case: str) -> tuple[str, bool]:
    """Write one awkward file into ``folder``; returns (file name, usable?)."""
    photo = Image.open(sorted(SAMPLE.glob("*.jpg"))[0])
    if case == "truncated_jpeg":
        raw = BytesIO()
        photo.save(raw, "JPEG")
        (folder / "truncated.jpg").write_bytes(raw.getvalue()[:3000])
        return "truncated.jpg", False
    if case == "zero_byte":
        (folder / "empty.jpg").write_bytes(b"")
        return "empty.jpg", False
    if case == "text_as_jpg":
        (folder / "readme.jpg").write_text("not an image\n")
        return "readme.jpg", False
    if case == "decompression_bomb":
        (folder / "bomb.png").write_bytes(_png_with_size(40000, 40000))
        return "bomb.png", False
    if case == "cmyk_jpeg":
        photo.convert("CMYK").save(folder / "cmyk.jpg")
        return "cmyk.jpg", True
    if case == "png_16bit":
        Image.fromarray((np.linspace(0, 65535, 64 * 80).reshape(64, 80)).astype(np.uint16)).save(folder / "deep.png")
        return "deep.png", True
    if case == "palette_transparency":
        pal = photo.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
        pal.info["transparency"] = 0
        pal.save(folder / "palette.png", transparency=0)
        return "palette.png", True
    if case == "grayscale":
        photo.convert("L").save(folder / "gray.jpg")
        return "gray.jpg", True
    if case == "one_pixel":
        Image.new("RGB", (1, 1), (200, 10, 10)).save(folder / "dot.png")
        return "dot.png", True
    if case == "smaller_than_crop":
        photo.resize((12, 9)).save(folder / "small.jpg")
        return "small.jpg", True
    if case == "exif_rotated":
        exif = Image.Exif()
        exif[0x0112] = 6  # Orientation: rotate 90 CW to display
        photo.resize((80, 40)).save(folder / "rotated.jpg", exif=exif)
        return "rotated.jpg", True
    if case == "symlink_loop":
        os.symlink(folder, folder / "loop")
        return "loop", False
    raise ValueError(case)


CASES = ["truncated_jpeg", "zero_byte", "text_as_jpg", "decompression_bomb", "cmyk_jpeg", "png_16bit",
         "palette_transparency", "grayscale", "one_pixel", "smaller_than_crop", "exif_rotated", "symlink_loop"]


@pytest.mark.parametrize("case", CASES)
def test_each_bad_input_is_skipped_or_converted(case, photos_dir, caplog):
    name, usable = make_case(photos_dir, case)
    files = find_images(photos_dir)  # the symlink loop must not make this recurse forever
    with caplog.at_level(logging.WARNING):
        dm = StyleDataModule("folder", str(photos_dir), image_size=32, batch_size=2, num_workers=0, val_size=0,
                             max_bad_fraction=0.5)
        items = [ImageFileDataset(dm.train_files, 32, train=True)[i] for i in range(len(dm.train_files))]
    assert all(x.shape == (3, 32, 32) and torch.isfinite(x).all() and 0 <= x.min() <= x.max() <= 1 for x in items)
    if case == "symlink_loop":
        assert len(files) == 8
    elif usable:
        assert any(f.name == name for f in dm.train_files) and name not in caplog.text
    else:
        assert name in caplog.text  # one warning naming the file and why
        decoded_ok = [f for f in dm.train_files if f.name == name]
        assert not decoded_ok or case == "truncated_jpeg"  # a truncated file is caught when decoded


def test_rotated_photo_is_upright(photos_dir):
    make_case(photos_dir, "exif_rotated")
    x = ImageFileDataset([photos_dir / "rotated.jpg"], 40, train=False, decoder="pil")
    from stylenet.image import open_rgb
    assert open_rgb(photos_dir / "rotated.jpg").size == (40, 80)  # 80x40 stored, shown portrait
    assert x[0].shape == (3, 40, 40)


def test_too_many_bad_files_is_one_clear_error(tmp_path):
    for i in range(3):
        (tmp_path / f"bad{i}.jpg").write_bytes(b"")
    Image.open(sorted(SAMPLE.glob("*.jpg"))[0]).save(tmp_path / "good.jpg")
    with pytest.raises(DataError, match=r"data.max_bad_fraction: 3 of 4 files \(75%\) are unusable"):
        screen_images(find_images(tmp_path), 0.05)


def test_check_image_reasons(tmp_path):
    (tmp_path / "e.jpg").write_bytes(b"")
    (tmp_path / "b.png").write_bytes(_png_with_size(40000, 40000))
    assert check_image(tmp_path / "e.jpg") == "empty file"
    assert "decompression-bomb" in check_image(tmp_path / "b.png")
    assert check_image(sorted(SAMPLE.glob("*.jpg"))[0]) is None


def test_training_completes_on_the_whole_bad_corpus(photos_dir, tmp_path):
    for case in CASES:
        make_case(photos_dir, case)
    run = tmp_path / "run"
    overrides = [o for o in tiny_overrides(photos_dir, run)] + ["data.max_bad_fraction=0.3", "trainer.max_steps=6",
                                                               "data.num_workers=1"]
    proc = run_train(overrides)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    assert "skipped 3 of 19 files as unusable" in log  # empty, text, bomb: found by the header check
    assert "truncated.jpg: cannot decode" in log  # found when decoded, replaced by another photo
    assert (run / "starry_night.safetensors").is_file()
