import pytest
import torch
from PIL import Image

from stylenet.image import _RGB_TO_YUV, load_image
from stylenet.inference import ImageTooLargeError, Stylizer
from stylenet.models import InstanceNorm, TransformerNet

from conftest import SAMPLE


ARCHS = {"johnson": {}, "light": {"channels": [4, 8, 12], "block": "inverted", "outer_kernel": 5},
         "light_fast": {"channels": [6, 12], "outer_kernel": 5, "full_resolution": False}}


@pytest.fixture(params=list(ARCHS))
def stylizer(request):
    torch.manual_seed(0)
    light = ARCHS[request.param]
    net = TransformerNet(width=4, num_res_blocks=1, **light)
    for m in net.modules():
        if isinstance(m, InstanceNorm):
            torch.nn.init.normal_(m.weight, 1.0, 0.5)
    return Stylizer(net, {"style": "test", "model": net.config()})


@pytest.fixture
def photo():
    return load_image(sorted(SAMPLE.glob("*.jpg"))[5], 200)


def test_tiled_matches_untiled_away_from_seams_and_seams_are_smooth(stylizer, photo):
    full = stylizer(photo)
    tiled = stylizer(photo, tile=96, overlap=32, stats_size=10_000)  # statistics of the whole image
    assert tiled.shape == full.shape == photo.shape
    diff = (tiled - full).abs()
    assert diff.mean() < 0.01
    # Tile interiors: more than the network's reach from every tile edge.
    h, w = photo.shape[-2:]
    assert diff[:, 20:40, 20:40].max() < 0.02
    # Across a seam (tiles start every 64 px), the jump is no larger than the untiled image's own.
    seam = 96 - 16
    jump_tiled = (tiled[..., seam] - tiled[..., seam - 1]).abs().mean()
    jump_full = (full[..., seam] - full[..., seam - 1]).abs().mean()
    assert jump_tiled < jump_full + 0.01


def test_a_batch_is_tiled_as_its_images_are_one_by_one(stylizer, photo):
    """Each image's tiles take that image's statistics in a batch too (a batch's tiles once used only their own:
    video frames with --tile, 0.11 apart from the same frame alone)."""
    other = photo.flip(-1) * 0.5
    batch = torch.stack([photo, other])
    tiled = stylizer(batch, tile=96, overlap=32, stats_size=10_000)
    alone = torch.stack([stylizer(photo, tile=96, overlap=32, stats_size=10_000),
                         stylizer(other, tile=96, overlap=32, stats_size=10_000)])
    torch.testing.assert_close(tiled, alone, atol=1e-5, rtol=0)
    assert (tiled - stylizer(batch)).abs().mean() < 0.01  # as the whole images


def test_tiling_with_downscaled_statistics_stays_close(stylizer, photo):
    full = stylizer(photo)
    tiled = stylizer(photo, tile=96, overlap=32, stats_size=96)
    assert (tiled - full).abs().mean() < 0.03


def test_preserve_color_keeps_the_inputs_chroma(stylizer, photo):
    out = stylizer(photo, preserve_color=True)
    yuv = lambda x: torch.einsum("ij,jhw->ihw", _RGB_TO_YUV, x)
    plain = stylizer(photo)
    inside = ((out > 0.02) & (out < 0.98)).all(0)  # where nothing was clamped
    torch.testing.assert_close(yuv(out)[1:, inside], yuv(photo)[1:, inside], atol=2e-3, rtol=0)
    torch.testing.assert_close(yuv(out)[0, inside], yuv(plain)[0, inside], atol=2e-3, rtol=0)
    assert (out - photo).abs().mean() > 0.01  # not simply the input


def test_strength(stylizer, photo):
    assert torch.equal(stylizer(photo, strength=0.0), photo)
    full, half = stylizer(photo), stylizer(photo, strength=0.5)
    torch.testing.assert_close(half, (photo + full) / 2)
    with pytest.raises(ValueError, match="strength"):
        stylizer(photo, strength=1.5)


def test_pil_in_pil_out_with_alpha_and_input_untouched(stylizer, photo):
    rgba = Image.new("RGBA", (40, 30), (10, 200, 30, 128))
    out = stylizer(rgba)
    assert out.mode == "RGBA" and out.size == (40, 30) and out.getchannel("A").getextrema() == (128, 128)
    before = photo.clone()
    stylizer(photo, tile=64, overlap=16)
    assert torch.equal(photo, before)


def test_too_large_without_tiling_is_a_clear_error(stylizer, monkeypatch):
    import stylenet.inference.stylizer as inference

    monkeypatch.setattr(inference, "available_memory", lambda device: 1_000_000)
    with pytest.raises(ImageTooLargeError, match="--tile"):
        stylizer(torch.rand(3, 400, 600))
    assert stylizer(torch.rand(3, 400, 600), tile=128, overlap=16).shape == (3, 400, 600)


def test_bad_options_are_clear_errors():
    net = TransformerNet(4, 1)
    with pytest.raises(ValueError, match="fp16 needs a GPU"):
        Stylizer(net, precision="fp16")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            Stylizer(net, device="cuda")


def test_inputs_that_are_not_float_rgb_in_unit_range_are_refused_not_stylised(photo):
    torch.manual_seed(0)
    s = Stylizer(TransformerNet(4, 1), {"style": "test"})
    expected = s(photo)
    as_uint8 = (photo * 255).round().to(torch.uint8)  # torchvision.io's images: taken as 0..255
    torch.testing.assert_close(s(as_uint8), s(as_uint8.float() / 255))
    assert (s(as_uint8) - expected).abs().max() < 0.05
    for image, error, message in [(photo * 255, ValueError, r"got \[0(\.\d+)?, 25\d\]: divide a 0..255 image by 255"),
                                  ((photo - 0.45) / 0.225, ValueError, "undo any mean/std normalisation"),
                                  (photo.permute(1, 2, 0), ValueError, r"expected an RGB image \(3, H, W\) .*, got "
                                   r"\(133, 200, 3\): channels last\? image.permute\(2, 0, 1\)"),
                                  (str(SAMPLE / "x.jpg"), TypeError, r"got str; for a file: stylizer.stylize_file"),
                                  (photo.permute(1, 2, 0).numpy(), TypeError,
                                   r"got ndarray; for a NumPy \(H, W, 3\) array: torch.from_numpy"),
                                  (torch.full((3, 8, 8), float("nan")), ValueError, "NaN or infinite"),
                                  (photo.to(torch.int32), TypeError, "got torch.int32"),
                                  (photo.tolist(), TypeError, "got list"),
                                  (photo[:, :0], ValueError, r"the image is empty: shape \(3, 0, 200\)"),
                                  (photo[None, :, :0], ValueError, r"empty: shape \(1, 3, 0, 200\)")]:
        with pytest.raises(error, match=message):
            s(image)
    slightly_over = (photo * 1.1 - 0.05)  # a resampled image's overshoot is not a mistake
    assert s(slightly_over).shape == photo.shape and torch.equal(photo, load_image(sorted(SAMPLE.glob("*.jpg"))[5], 200))


def test_a_bundled_model_loads_by_name_and_an_unknown_name_lists_them():
    import pytest
    from stylenet import load_stylizer
    from stylenet.export import ModelFileError, pretrained_names

    assert "starry_night" in pretrained_names()
    stylizer = load_stylizer("starry_night")
    assert stylizer.style == "starry_night" and stylizer.metadata["weights_dtype"] == "fp16"
    x = torch.rand(3, 40, 56)
    y = stylizer(x)
    assert y.shape == x.shape and 0 <= y.min() <= y.max() <= 1 and (y - x).abs().mean() > 0.05  # it does stylise
    with pytest.raises(ModelFileError, match=r"no such model file \(bundled models and styles: .*starry_night"):
        load_stylizer("no_such_style")
    with pytest.raises(ModelFileError, match=r"Starry-Night: no such model file \(did you mean 'starry_night'\?\)$"):
        load_stylizer("Starry-Night")
    for wrong, message in [("", r"^no model given: a .safetensors, .ckpt or .onnx file, or a bundled .*\(adain, .*zoo"),
                           (SAMPLE, r"sample is a folder; give a model file"),
                           (sorted(SAMPLE.glob("*.jpg"))[0], r"\.jpg is an image, not a model .*the photos to stylise are")]:
        with pytest.raises(ModelFileError, match=message):
            load_stylizer(wrong)


def test_compiled_stylizer_matches_eager_and_tiles_run_the_plain_network(photo):
    torch.manual_seed(0)
    net = TransformerNet(width=4, num_res_blocks=1, outer_kernel=5, full_resolution=False)
    eager = Stylizer(net, {"style": "test", "model": net.config()})
    compiled = Stylizer(net, {"style": "test", "model": net.config()}, compile=True)
    x = photo[:, :60, :80]
    torch.testing.assert_close(compiled(x), eager(x), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(compiled(x, tile=32, overlap=8), eager(x, tile=32, overlap=8), atol=1e-5, rtol=1e-4)
    assert not compiled._plain  # back to the compiled graph after tiling
    assert list(compiled.state_dict()) == list(eager.state_dict())  # the compiled twin is not a submodule
    with pytest.raises(ValueError, match="PyTorch backend only"):
        Stylizer(None, {}, session=object(), compile=True)


def test_a_failing_compile_falls_back_to_the_eager_network_with_a_warning(caplog):
    net = TransformerNet(width=4, num_res_blocks=1)
    stylizer = Stylizer(net, {"style": "test", "model": net.config()}, compile=True)

    def broken(*args):
        raise RuntimeError("InductorError: no C++ compiler found\nmore details")
    object.__setattr__(stylizer, "_compiled", broken)
    x = torch.rand(3, 20, 24)
    with caplog.at_level("WARNING"):
        y = stylizer(x)
    torch.testing.assert_close(y, Stylizer(net, {"style": "test", "model": net.config()})(x))
    assert "torch.compile failed (InductorError: no C++ compiler found); running the network uncompiled" in caplog.text
    assert stylizer._compiled is None  # said once, not per call


@pytest.mark.parametrize("flags, warned", [(frozenset({"avx2", "fma"}), True), (frozenset({"avx2", "avx512_bf16"}), False),
                                           (frozenset({"amx_bf16"}), False)])
def test_bf16_on_a_cpu_without_bf16_units_warns(flags, warned, monkeypatch, caplog):
    import stylenet.hardware

    monkeypatch.setattr(stylenet.hardware, "cpu_flags", lambda: flags)
    net = TransformerNet(4, 1)
    Stylizer(net, precision="fp32")
    assert not caplog.records  # fp32 is never warned about
    Stylizer(net, precision="bf16")
    messages = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert messages == (["bf16 on this CPU (no AVX512-BF16 or AMX) runs ~100x slower than fp32: use --precision fp32"]
                        if warned else [])


def test_load_input_shrinks_a_large_jpeg_while_decoding_to_the_same_size_and_picture(tmp_path):
    """--max-size / --scale on a phone photo: decoded at a reduced scale, then resized once, to the size the
    photo decoded whole gives (upright: EXIF orientation 6 turns 1280x960 into 960x1280), nearly the same pixels."""
    from PIL import Image

    from stylenet.image import open_rgb, pil_to_float
    from stylenet.photo_io import input_size, load_input, resize_input

    photo = Image.open(sorted(SAMPLE.glob("*.jpg"))[4]).convert("RGB").resize((1280, 960), Image.BICUBIC)
    exif = Image.Exif()
    exif[0x0112] = 6
    photo.save(tmp_path / "turned.jpg", quality=95, exif=exif)
    photo.save(tmp_path / "flat.jpg", quality=95)
    for name in ("turned.jpg", "flat.jpg"):
        whole = open_rgb(tmp_path / name)  # upright, decoded whole
        for max_size, scale in [(300, None), (None, 0.2), (500, 0.5), (2000, None), (None, 1.5)]:
            expected = input_size(whole.size, max_size, scale)
            item = load_input(tmp_path / name, max_size, scale)
            assert tuple(item.image.shape[1:]) == expected[::-1], (name, max_size, scale)
            reference = pil_to_float(resize_input(whole, max_size, scale))
            assert (item.image - reference).abs().mean() < 0.01, (name, max_size, scale)
    assert input_size((1280, 960), 300) == (300, 225) and input_size((1280, 960), None, 0.001) == (1, 1)


def test_a_training_run_folder_is_its_exported_model(tmp_path):
    """``--model outputs/wave/<time>``: the run's one exported model (was: 'is a folder'); a run that has
    exported none yet, or a folder of several, says which file to give."""
    from stylenet import load_stylizer
    from stylenet.export import ModelFileError, save_stylizer

    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "last.ckpt").write_bytes(b"")
    with pytest.raises(ModelFileError, match=rf"run is a folder: a run that has exported no model yet, give its "
                                             rf"checkpoint \({run / 'checkpoints' / 'last.ckpt'}\)$"):
        load_stylizer(run)
    save_stylizer(TransformerNet(width=4, num_res_blocks=1), run / "wave.safetensors", style="wave")
    assert load_stylizer(run).style == "wave"
    save_stylizer(TransformerNet(width=4, num_res_blocks=1), run / "udnie.safetensors", style="udnie")
    with pytest.raises(ModelFileError, match=r"run is a folder: it holds several models, give one of them "
                                             r"\(udnie.safetensors, wave.safetensors\)$"):
        load_stylizer(run)
