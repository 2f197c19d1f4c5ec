"""Phone formats (stylenet.formats): HEIC/HEIF (the iPhone camera's default, through pillow-heif) and AVIF
(Pillow's own) read wherever photos are read, written by --format keep / a .heic or .avif output; and two
inputs that would share one output are refused before anything is written."""
import pytest
from PIL import ExifTags, Image

from conftest import SAMPLE
from stylenet.export import save_stylizer
from stylenet.formats import AVIF, HEIF
from stylenet.models import TransformerNet
from stylenet.stylize import main

PHOTO = sorted(SAMPLE.glob("*.jpg"))[0]
TAKEN = "2024:05:01 10:00:00"


@pytest.fixture
def model(tmp_path):
    return save_stylizer(TransformerNet(width=4, num_res_blocks=1), tmp_path / "m.safetensors", style="test")


def _phone(path, suffix):
    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.Exif)[0x9003] = TAKEN
    Image.open(PHOTO).convert("RGB").resize((64, 40)).save(path.with_suffix(suffix), quality=90, exif=exif.tobytes())
    return path.with_suffix(suffix)


@pytest.mark.parametrize("suffix", [".heic", ".avif"])
def test_phone_formats_are_read_stylised_and_kept(model, tmp_path, suffix):
    if suffix not in HEIF + AVIF:
        pytest.skip(f"this Pillow reads no {suffix} (pillow-heif / libavif)")
    from stylenet.app.engine import open_photo
    from stylenet.training.data import ImageFileDataset

    (tmp_path / "in").mkdir()
    src = _phone(tmp_path / "in" / "IMG_0001", suffix)
    args = ["--model", str(model), "--input", str(tmp_path / "in"), "--quiet", "--precision", "fp32"]
    assert main([*args, "--output", str(tmp_path / "keep"), "--format", "keep"]) == 0  # found in a folder
    out = tmp_path / "keep" / src.name
    with Image.open(out) as img:  # in its own format, with its date
        assert img.format == Image.open(src).format and img.size == (64, 40)
        assert img.getexif().get_ifd(ExifTags.IFD.Exif)[0x9003] == TAKEN
    assert main([*args, "--output", str(tmp_path / "png")]) == 0
    assert Image.open(tmp_path / "png" / "IMG_0001.png").size == (64, 40)
    assert main(["--model", str(model), "--input", str(PHOTO), "--output", str(tmp_path / f"one{suffix}"),
                 "--quiet"]) == 0  # an output file of that suffix
    assert Image.open(tmp_path / f"one{suffix}").format == Image.open(src).format
    assert open_photo(src).size == (64, 40)  # the web app
    assert ImageFileDataset([src], 32, train=False)[0].shape == (3, 32, 32)  # and training


def test_two_inputs_for_one_output_are_refused_before_anything_is_written(model, tmp_path, capsys):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "photo.jpg").write_bytes(PHOTO.read_bytes())
    Image.open(PHOTO).save(tmp_path / "in" / "photo.png")
    out = tmp_path / "out"
    args = ["--model", str(model), "--input", str(tmp_path / "in"), "--output", str(out), "--quiet", "--max-size", "32"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "photo.jpg and " in err and "photo.png would both be written to" in err and "--format keep" in err
    assert not out.exists() or not any(out.iterdir())
    assert main([*args, "--format", "keep"]) == 0  # each in its own format: two results
    assert sorted(p.name for p in out.iterdir()) == ["photo.jpg", "photo.png"]
    (tmp_path / "more").mkdir()  # the same name in two input folders
    (tmp_path / "more" / "photo.jpg").write_bytes(PHOTO.read_bytes())
    assert main([*args[:3], str(tmp_path / "more"), *args[3:], "--format", "jpg", "--overwrite"]) == 2
    assert "an output folder for each" in capsys.readouterr().err
