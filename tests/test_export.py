import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from stylenet import load_stylizer
from stylenet.inference.batch import stylize_paths
from stylenet.export import ModelFileError, load_transformer, read_metadata, save_stylizer, training_metadata
from stylenet.image import load_image
from stylenet.models import TransformerNet

from conftest import SAMPLE


@pytest.fixture
def model_file(tmp_path):
    net = TransformerNet(width=8, num_res_blocks=2).eval()
    path = save_stylizer(net, tmp_path / "starry_night.safetensors", style="starry_night", steps=3, image_size=32,
                         content_weight=1.0, style_weight=5.0)
    return net, path


def test_round_trip_gives_identical_output(model_file):
    net, path = model_file
    stylizer = load_stylizer(path)
    photo = load_image(sorted(SAMPLE.glob("*.jpg"))[0], 96)
    with torch.no_grad():
        expected = net(photo[None])[0]
    assert torch.equal(stylizer(photo), expected)
    assert stylizer(photo[None]).shape == (1, *photo.shape)


def test_metadata_is_readable_without_config(model_file):
    _, path = model_file
    meta = read_metadata(path)
    assert meta["style"] == "starry_night" and meta["steps"] == 3 and meta["image_size"] == 32
    assert meta["model"] == {"width": 8, "num_res_blocks": 2}
    assert meta["content_weight"] == 1.0 and meta["style_weight"] == 5.0


def test_a_fine_tuned_model_records_what_it_was_trained_from(tmp_path):
    net = TransformerNet(4, 1)
    hp = {"style_name": "wave", "style_image": "/x/wave.jpg", "image_size": 256}
    first = save_stylizer(net, tmp_path / "first.safetensors", style="wave", steps=2000, image_size=128)
    second = save_stylizer(net, tmp_path / "second.safetensors", **training_metadata({**hp, "init_from": str(first)}, 450))
    meta = read_metadata(second)
    assert meta["steps"] == 450 and meta["image_size"] == 256
    assert meta["init_from"] == {"model": "first.safetensors", "steps": 2000, "image_size": 128, "init_from": None}
    third = training_metadata({**hp, "init_from": str(second)}, 10)["init_from"]  # a chain stays readable
    assert third["steps"] == 450 and third["init_from"]["model"] == "first.safetensors"
    gone = training_metadata({**hp, "init_from": str(tmp_path / "gone.safetensors")}, 1)["init_from"]
    assert gone == {"model": "gone.safetensors", "steps": None, "image_size": None, "init_from": None}
    assert "init_from" not in training_metadata(hp, 1)


def test_bad_model_files_are_clear_errors(tmp_path, model_file):
    with pytest.raises(ModelFileError, match="no such model file"):
        load_stylizer(tmp_path / "missing.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(ModelFileError, match="not a readable safetensors"):
        load_stylizer(junk)
    # Weights of a width-4 network under metadata that claims width 8: wrong architecture.
    wrong = tmp_path / "wrong.safetensors"
    state = {k: v.contiguous() for k, v in TransformerNet(width=4, num_res_blocks=1).state_dict().items()}
    save_file(state, wrong, metadata={"format": "stylenet", "model": '{"width": 8, "num_res_blocks": 1}'})
    with pytest.raises(ModelFileError, match="shapes do not match"):
        load_transformer(wrong)
    fewer_blocks = tmp_path / "fewer.safetensors"
    save_file(state, fewer_blocks, metadata={"format": "stylenet", "model": '{"width": 4, "num_res_blocks": 2}'})
    with pytest.raises(ModelFileError, match="missing keys"):
        load_transformer(fewer_blocks)
    other = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, other)
    with pytest.raises(ModelFileError, match="not a stylenet model"):
        load_stylizer(other)
    _, good = model_file
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ModelFileError):
        load_stylizer(truncated)


def test_stylize_files_mirrors_tree_and_resumes(tmp_path, model_file, photos_dir):
    _, path = model_file
    (photos_dir / "sub").mkdir()
    first = sorted(photos_dir.glob("*.jpg"))[0]
    (photos_dir / "sub" / first.name).write_bytes(first.read_bytes())
    (photos_dir / "broken.jpg").write_bytes(b"not a jpeg")
    out = tmp_path / "out"
    s = stylize_paths(load_stylizer(path), [photos_dir], out, max_size=40, progress=False)
    assert s.done == 9 and s.skipped == 0 and [p.name for p, _ in s.failed] == ["broken.jpg"]
    result = Image.open(out / "sub" / first.with_suffix(".png").name)
    assert max(result.size) == 40
    again = stylize_paths(load_stylizer(path), [photos_dir], out, max_size=40, progress=False)
    assert again.done == 0 and again.skipped == 9


def test_writes_are_atomic_and_keep_earlier_outputs(tmp_path, model_file, monkeypatch):
    import stylenet.export as export

    net, path = model_file
    before = path.read_bytes()
    assert oct(path.stat().st_mode & 0o777) != oct(0o600)  # not mkstemp's private mode

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export, "save_file", full_disk)
    with pytest.raises(OSError, match="No space"):
        save_stylizer(net, path, style="x")
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temp file left


def test_corrupt_lightning_checkpoints_are_clear_errors(tmp_path):
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"\x80\x04garbage")
    with pytest.raises(ModelFileError, match="not a readable Lightning checkpoint"):
        load_transformer(junk)
    other = tmp_path / "other.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {"lr": 1}}, other)
    with pytest.raises(ModelFileError, match="not a stylenet checkpoint"):
        load_transformer(other)
    hostile = tmp_path / "hostile.ckpt"
    torch.save({"payload": Image.new("RGB", (1, 1))}, hostile)  # arbitrary pickled objects are refused
    with pytest.raises(ModelFileError, match="not a readable Lightning checkpoint"):
        load_transformer(hostile)
