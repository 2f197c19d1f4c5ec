"""A photo's EXIF carried over to its stylised version (stylenet.metadata; stylize.py --metadata): date and
camera kept, orientation upright, no thumbnail of the unstylised photo, GPS on request, the output's size."""
import io
import logging
import struct

import pytest
from PIL import ExifTags, Image

from stylenet.export import save_stylizer
from stylenet.metadata import kept_exif
from stylenet.models import TransformerNet
from stylenet.stylize import main

TAKEN = "2024:05:01 10:00:00"
GPS = {1: "N", 2: (48.0, 51.0, 24.0)}  # latitude 48 deg 51' 24" N


def _thumbnail() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 8), (1, 2, 250)).save(out, "JPEG", quality=50)
    return out.getvalue()


def _exif_with_thumbnail(width: int) -> bytes:
    """An EXIF block as a camera writes it: IFD0 (orientation 6: turn 90 degrees clockwise to view; the make;
    the Exif IFD with DateTimeOriginal and PixelXDimension; GPS), then IFD1 pointing at a JPEG thumbnail.
    Hand-packed: Pillow does not write IFD1."""
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "Canon"
    exif.get_ifd(ExifTags.IFD.Exif).update({0x9003: TAKEN, 0xA002: width})
    exif.get_ifd(ExifTags.IFD.GPSInfo).update(GPS)
    tiff = exif.tobytes()[6:]  # without "Exif\0\0"
    e = "<" if tiff[:2] == b"II" else ">"  # the byte order it says (Pillow writes big-endian)
    ifd0 = struct.unpack_from(e + "I", tiff, 4)[0]
    count = struct.unpack_from(e + "H", tiff, ifd0)[0]
    next_at = ifd0 + 2 + 12 * count  # IFD0's "next IFD" offset (0: none)
    ifd1 = len(tiff)
    thumb = _thumbnail()
    block = struct.pack(e + "H", 2) + struct.pack(e + "HHII", 0x0201, 4, 1, ifd1 + 2 + 24 + 4) \
        + struct.pack(e + "HHII", 0x0202, 4, 1, len(thumb)) + struct.pack(e + "I", 0)
    tiff = tiff[:next_at] + struct.pack(e + "I", ifd1) + tiff[next_at + 4:] + block + thumb
    return b"Exif\x00\x00" + tiff


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "camera.jpg"
    stored = Image.new("RGB", (80, 40), (200, 30, 30))  # stored sideways: shown upright it is 40 wide, 80 high
    stored.paste((30, 30, 200), (40, 0, 80, 40))
    stored.save(path, exif=_exif_with_thumbnail(80), quality=95)
    with Image.open(path) as img:  # the input is what it should be: a thumbnail Pillow reads back
        assert img.getexif().get_ifd(ExifTags.IFD.IFD1).get(0x0202) == len(_thumbnail())
    return path


def _read(path):
    img = Image.open(io.BytesIO(path.read_bytes()))  # left open: a TIFF's sub-IFDs are read when asked for
    return img.size, img.getexif()


def test_kept_exif_rewrites_what_no_longer_holds(photo):
    exif = Image.Exif()
    exif.load(kept_exif(photo, (20, 40)))
    assert exif[0x0112] == 1 and exif[0x010F] == "Canon"
    assert exif.get_ifd(ExifTags.IFD.Exif) == {0x9003: TAKEN, 0xA002: 20}  # the output's width
    assert exif.get_ifd(ExifTags.IFD.GPSInfo) == GPS
    assert _thumbnail() not in kept_exif(photo, (20, 40))  # the unstylised thumbnail is not carried over
    unplaced = Image.Exif()
    unplaced.load(kept_exif(photo, (20, 40), "no-location"))
    assert ExifTags.IFD.GPSInfo not in unplaced and unplaced.get_ifd(ExifTags.IFD.Exif)[0x9003] == TAKEN
    assert kept_exif(photo, (20, 40), "none") is None
    with pytest.raises(ValueError, match="all, no-location, none"):
        kept_exif(photo, (20, 40), "some")


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp", ".tiff"])
def test_stylize_keeps_the_photos_exif_upright(photo, tmp_path, suffix):
    model = save_stylizer(TransformerNet(width=4, num_res_blocks=1), tmp_path / "m.safetensors", style="test")
    out = tmp_path / f"out{suffix}"
    assert main(["--model", str(model), "--input", str(photo), "--output", str(out), "--quiet", "--device", "cpu",
                 "--precision", "fp32"]) == 0
    size, exif = _read(out)
    assert size == (40, 80)  # turned upright once, by the pixels; orientation 1, so no viewer turns it again
    assert exif[0x0112] == 1 and exif[0x010F] == "Canon" and exif.get_ifd(ExifTags.IFD.Exif)[0x9003] == TAKEN
    assert exif.get_ifd(ExifTags.IFD.GPSInfo) == GPS
    assert _thumbnail() not in out.read_bytes()
    if suffix == ".jpg":  # --max-size: the recorded pixel size is the output's
        small = tmp_path / "small.jpg"
        assert main(["--model", str(model), "--input", str(photo), "--output", str(small), "--quiet", "--max-size",
                     "40", "--metadata", "no-location"]) == 0
        size, exif = _read(small)
        assert size == (20, 40) and exif.get_ifd(ExifTags.IFD.Exif)[0xA002] == 20
        assert ExifTags.IFD.GPSInfo not in exif and exif.get_ifd(ExifTags.IFD.Exif)[0x9003] == TAKEN
        bare = tmp_path / "bare.jpg"
        assert main(["--model", str(model), "--input", str(photo), "--output", str(bare), "--quiet",
                     "--metadata", "none"]) == 0
        assert not len(_read(bare)[1])


def test_a_block_pillow_cannot_write_back_is_left_out_with_a_warning(photo, tmp_path, monkeypatch, caplog):
    def broken(self, offset=8):
        raise struct.error("argument out of range")

    monkeypatch.setattr(Image.Exif, "tobytes", broken)
    with caplog.at_level(logging.WARNING, "stylenet.metadata"):
        assert kept_exif(photo, (40, 80)) is None
    assert "EXIF metadata is not kept (it cannot be written back: argument out of range)" in caplog.text


def test_a_writer_refusing_the_block_writes_the_image_without_it(photo, tmp_path, monkeypatch, caplog):
    import stylenet.photo_io
    from stylenet.photo_io import load_input, save_output

    item = load_input(photo, metadata="all")
    save = Image.Image.save

    def picky(self, fp, format=None, **params):  # as libtiff does with tags it cannot set
        if "exif" in params:
            raise RuntimeError("Error setting from dictionary")
        return save(self, fp, format, **params)

    monkeypatch.setattr(Image.Image, "save", picky)
    with caplog.at_level(logging.WARNING, stylenet.photo_io.__name__):
        out = save_output(item.image, None, tmp_path / "out.tiff", exif=item.exif)
    assert "written without its EXIF metadata (RuntimeError: Error setting from dictionary)" in caplog.text
    assert _read(out)[0] == (40, 80) and [p.name for p in tmp_path.iterdir() if p.name.startswith("out")] == ["out.tiff"]


def test_the_web_apps_download_keeps_the_photos_exif(photo, tmp_path):
    from stylenet.app.engine import open_photo, save_result

    upright = open_photo(photo)
    size, exif = _read(save_result(upright, tmp_path, "result", source=photo))
    assert size == (40, 80) and exif[0x0112] == 1 and exif.get_ifd(ExifTags.IFD.Exif)[0x9003] == TAKEN
    assert not len(_read(save_result(upright, tmp_path, "plain"))[1])


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_stylize_video_keeps_the_clips_tags(tmp_path, suffix):
    av = pytest.importorskip("av")
    from test_video import make_clip

    from stylenet.video.cli import main as video_main

    shot = {"creation_time": "2024-05-01T10:00:00.000000Z", "title": "Holiday", "location": "+48.8566+002.3522/"}
    clip = make_clip(tmp_path / "phone.mp4", frames=6, tags=shot)
    model = save_stylizer(TransformerNet(width=4, num_res_blocks=1), tmp_path / "m.safetensors", style="test")

    def tags(policy):
        out = tmp_path / f"{policy}{suffix}"
        assert video_main(["--model", str(model), "--input", str(clip), "--output", str(out), "--quiet",
                           "--metadata", policy]) == 0
        with av.open(str(out)) as c:
            return ({k.lower(): v for k, v in c.metadata.items()},
                    c.streams.audio[0].metadata.get("language"))

    kept, language = tags("all")
    assert kept["creation_time"].startswith("2024-05-01T10:00:00") and kept["title"] == "Holiday"
    assert kept["location"] == shot["location"] and language == "fra"
    kept, _ = tags("no-location")
    assert "location" not in kept and kept["title"] == "Holiday"
    kept, language = tags("none")
    assert "title" not in kept and "location" not in kept and language in (None, "und")
