import json
import shutil

import pytest
import torch

from stylenet.training.data import ImageFileDataset, StyleDataModule
from stylenet.training.photos import DataError, list_images, split_files

from conftest import SAMPLE, SHARED_DATA


def test_folder_is_searched_recursively(tmp_path, photos_dir):
    nested = tmp_path / "tree" / "a" / "b"
    nested.mkdir(parents=True)
    for f in sorted(photos_dir.iterdir())[:3]:
        shutil.copy(f, nested / f.name)
    (nested / "notes.txt").write_text("not an image")
    files = list_images("folder", tmp_path / "tree")
    assert [f.name for f in files] == sorted(f.name for f in sorted(photos_dir.iterdir())[:3])


def test_coco_annotations_choose_the_file_list(photos_dir, tmp_path):
    names = sorted(f.name for f in photos_dir.iterdir())
    ann = tmp_path / "captions.json"
    ann.write_text(json.dumps({"images": [{"file_name": n, "id": i} for i, n in enumerate(names[:5])]
                               + [{"file_name": "missing.jpg", "id": 99}]}))
    files = list_images("coco", photos_dir, ann)
    assert [f.name for f in files] == names[:5]


def test_missing_dataset_says_where_to_put_coco(tmp_path):
    with pytest.raises(DataError) as err:
        list_images("coco", tmp_path / "coco" / "train2014")
    msg = str(err.value)
    assert "data.root" in msg and "data/README.md" in msg and "data=sample" in msg
    photo = tmp_path / "one.jpg"  # a file where the folder goes: not "does not exist"
    photo.write_bytes(b"x")
    with pytest.raises(DataError, match=rf"^data.root: '{photo}' is a file; give the folder that holds the photos "
                                        rf"\(any depth\), e.g. data.root='{tmp_path}'$"):
        list_images("folder", photo)


def test_empty_folder_and_bad_annotations_are_clear_errors(tmp_path, photos_dir):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images"):
        list_images("folder", tmp_path / "empty")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(DataError, match="not a COCO annotations JSON"):
        list_images("coco", photos_dir, bad)
    none_there = tmp_path / "none.json"
    none_there.write_text(json.dumps({"images": [{"file_name": "x.jpg"}]}))
    with pytest.raises(DataError, match="none of the 1 images"):
        list_images("coco", photos_dir, none_there)


def test_split_is_deterministic_disjoint_and_complete():
    files = sorted(SAMPLE.glob("*.jpg"))
    train, val = split_files(files, 0.1, seed=0)
    assert len(val) == 10 and len(train) == 90
    assert not set(train) & set(val) and set(train) | set(val) == set(files)
    assert split_files(files, 0.1, seed=0) == (train, val)
    assert split_files(files, 0.1, seed=1)[1] != val
    assert len(split_files(files, 7, seed=0)[1]) == 7


def test_dataset_items_are_square_rgb_crops_in_unit_range(photos_dir):
    files = sorted(photos_dir.iterdir())
    for train in (True, False):
        x = ImageFileDataset(files, 48, train)[0]
        assert x.shape == (3, 48, 48) and x.dtype == torch.float32
        assert 0 <= x.min() and x.max() <= 1 and x.std() > 0.01


def test_datamodule_batches_and_batch_size_check(photos_dir):
    dm = StyleDataModule("folder", str(photos_dir), image_size=32, batch_size=2, num_workers=0, val_size=2)
    assert len(dm.train_files) == 6 and len(dm.val_files) == 2
    batch = next(iter(dm.train_dataloader()))
    assert batch.shape == (2, 3, 32, 32) and batch.dtype == torch.uint8  # 4x less to pass between processes
    as_float = dm.on_after_batch_transfer(batch, 0)  # Lightning's hook, on the device
    assert as_float.dtype == torch.float32 and 0 <= as_float.min() <= as_float.max() <= 1
    torch.testing.assert_close(as_float, batch.float() / 255)
    files = sorted(dm.train_files)
    float_item, uint8_item = ImageFileDataset(files, 32, True)[3], ImageFileDataset(files, 32, True, uint8=True)[3]
    torch.testing.assert_close(float_item, uint8_item.float() / 255)  # same crop, same pixels
    with pytest.raises(DataError, match=r"data.batch_size: 64 is larger than the 6 training images \(data.val_size=2 "):
        StyleDataModule("folder", str(photos_dir), batch_size=64, num_workers=0, val_size=2)


def test_validation_split_larger_than_training_is_refused(photos_dir):
    # data=coco's val_size (512) on a folder of one's own would leave one photo to train on
    with pytest.raises(DataError, match="data.val_size=512 holds out 7 of the 8 images .* leaving 1 to train on"):
        StyleDataModule("folder", str(photos_dir), batch_size=1, num_workers=0, val_size=512)
    dm = StyleDataModule("folder", str(photos_dir), batch_size=1, num_workers=0, val_size=4)  # half: allowed
    assert len(dm.train_files) == len(dm.val_files) == 4


@pytest.mark.skipif(not (SHARED_DATA / "coco_mini").is_dir(), reason="../shared/data/coco_mini not present")
def test_real_coco_layout_from_shared():
    root = SHARED_DATA / "coco_mini"
    files = list_images("coco", root / "train2014", root / "annotations" / "captions_train2014.json")
    assert len(files) == 200


def test_a_large_jpeg_is_decoded_at_a_reduced_scale_never_below_the_crop(tmp_path, monkeypatch):
    """A phone photo for small crops: libjpeg decodes it at 1/2-1/8 scale (Pillow's draft), where torchvision.io
    decoded all 12 MP to throw most away (48.5 -> 11.8 ms an item at 256 px, docs/BENCHMARKS.md)."""
    from PIL import Image

    from PIL.JpegImagePlugin import JpegImageFile

    from stylenet.image import open_rgb

    photo = Image.open(sorted(SAMPLE.glob("*.jpg"))[0]).convert("RGB").resize((1280, 960), Image.BICUBIC)
    photo.save(tmp_path / "big.jpg", quality=95)
    photo.save(tmp_path / "big.png")
    decoded = []
    real_draft = JpegImageFile.draft

    def draft(self, mode, size):  # the scale libjpeg decodes at
        result = real_draft(self, mode, size)
        decoded.append(self.size)
        return result

    monkeypatch.setattr(JpegImageFile, "draft", draft)
    for size, scaled in [((100, 75), (160, 120)), ((300, 225), (320, 240)), ((640, 480), (640, 480))]:
        decoded.clear()
        assert open_rgb(tmp_path / "big.jpg", lambda upright: size).size == size
        assert decoded == [scaled], size  # 1/8, 1/4, 1/2: the smallest scale at least the size asked for
    for name, size in [("big.jpg", (700, 525)), ("big.png", (100, 75))]:  # not half the size, not a JPEG: whole
        decoded.clear()
        assert open_rgb(tmp_path / name, lambda upright: size).size == size and decoded == []
    import stylenet.training.data as data

    whole_decode = data._decode_torchvision

    def decode(path):  # torchvision.io decodes the PNG whole; the large JPEG must not come here
        assert path.suffix == ".png", path
        return whole_decode(path)

    monkeypatch.setattr(data, "_decode_torchvision", decode)
    for train in (False, True):
        for decoder in ("torchvision", "pil"):
            fast = ImageFileDataset([tmp_path / "big.jpg"], 100, train, decoder, uint8=True)[7]
            whole = ImageFileDataset([tmp_path / "big.png"], 100, train, decoder, uint8=True)[7]
            assert fast.shape == whole.shape == (3, 100, 100)
            assert (fast.float() - whole.float()).abs().mean() < 2.5, (train, decoder)  # (and JPEG's own loss)


def test_a_resume_with_another_batch_size_goes_on_after_the_photos_already_seen(photos_dir):
    """The checkpoint counts batches: 3 batches of 2 photos done, resumed at batch 3, skip 2 batches (6 photos),
    not 3 (9 photos: 3 never seen this epoch). The batch size travels in the checkpoint (Lightning's
    datamodule state_dict)."""
    from types import SimpleNamespace

    for i in range(8):  # 16 photos: 14 to train on, a whole number of batches of 2 and of 3 left mid-epoch
        shutil.copy2(sorted(photos_dir.glob("*.jpg"))[i], photos_dir / f"copy_{i}.jpg")
    progress = SimpleNamespace(current=SimpleNamespace(processed=3))
    trainer = SimpleNamespace(global_rank=0, world_size=1,
                              fit_loop=SimpleNamespace(epoch_loop=SimpleNamespace(batch_progress=progress)))
    first = StyleDataModule("folder", photos_dir, image_size=32, batch_size=2, num_workers=0, val_size=2)
    state = first.state_dict()
    assert state == {"batch_size": 2}
    for batch, skipped in [(2, 3), (3, 2), (1, 6)]:
        resumed = StyleDataModule("folder", photos_dir, image_size=32, batch_size=batch, num_workers=0, val_size=2)
        resumed.load_state_dict(state)
        resumed.trainer = trainer
        assert resumed.train_dataloader().sampler.skip_batches == skipped, batch
