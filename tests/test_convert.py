import sys

import onnx
import onnx.version_converter
import pytest
import torch
from torchvision.transforms.functional import to_pil_image

from stylenet import load_stylizer
from stylenet.convert import ExportError, export_model
from stylenet.export import load_transformer, read_metadata, save_stylizer
from stylenet.image import load_image
from stylenet.models import InstanceNorm, TransformerNet

from conftest import ROOT, SAMPLE


# Johnson's network and the light family's other knobs (channels, inverted blocks, 5x5 outer kernels).
ARCHITECTURES = {"johnson": {"width": 8, "num_res_blocks": 2},
                 "light": {"width": 8, "num_res_blocks": 2, "channels": [6, 12, 20], "block": "inverted",
                           "expansion": 3, "outer_kernel": 5},
                 "light_fast": {"width": 8, "num_res_blocks": 2, "channels": [6, 12], "outer_kernel": 5,
                                "full_resolution": False}}


@pytest.fixture(params=list(ARCHITECTURES))
def model_file(request, tmp_path):
    torch.manual_seed(1)
    net = TransformerNet(**ARCHITECTURES[request.param]).eval()
    # Non-trivial affine norm parameters so every layer matters for parity.
    for m in net.modules():
        if isinstance(m, InstanceNorm):
            torch.nn.init.normal_(m.weight, 1.0, 0.3)
            torch.nn.init.normal_(m.bias, 0.0, 0.3)
    return net, save_stylizer(net, tmp_path / "src.safetensors", style="wave", steps=7)


def test_every_format_matches_pytorch_on_a_real_photo(model_file, tmp_path):
    net, path = model_file
    results = export_model(path, tmp_path / "out", ["safetensors", "torchscript", "onnx"], max_size=96)
    assert [r.format for r in results] == ["safetensors", "torchscript", "onnx"]
    assert all(r.max_abs_diff <= 1e-4 for r in results)
    photo = load_image(sorted(SAMPLE.glob("*.jpg"))[3], 75)[None]  # odd size, not the export's check photo
    with torch.no_grad():
        expected = net(photo)
    scripted = torch.jit.load(str(tmp_path / "out" / "wave.torchscript.pt"))
    torch.testing.assert_close(scripted(photo), expected, atol=1e-5, rtol=0)
    onnx_stylizer = load_stylizer(tmp_path / "out" / "wave.onnx")
    assert onnx_stylizer.style == "wave" and onnx_stylizer.metadata["steps"] == 7
    torch.testing.assert_close(onnx_stylizer(photo), expected, atol=1e-4, rtol=0)


def test_export_to_one_named_file_takes_its_format_from_the_suffix(tmp_path):
    from stylenet.export import ModelFileError

    path = save_stylizer(TransformerNet(width=4, num_res_blocks=1).eval(), tmp_path / "src.safetensors", style="wave")

    for name, formats, fmt in [("w.onnx", None, "onnx"), ("w.safetensors", None, "safetensors"), ("w.pt", None, "torchscript"),
                               ("w8.onnx", ["onnx-int8"], "onnx-int8")]:
        (result,) = export_model(path, tmp_path / name, formats, max_size=64)
        assert result.format == fmt and result.path == tmp_path / name and result.path.is_file(), name
    assert load_stylizer(tmp_path / "w.onnx").style == "wave"
    with pytest.raises(ModelFileError, match="w.pt is a TorchScript export"):  # not read as a broken safetensors file
        load_stylizer(tmp_path / "w.pt")
    for name, formats, message in [("x.onnx", ["safetensors"], "one .onnx file .* asks for safetensors"),
                                   ("x.safetensors", ["safetensors", "onnx"], "give an output folder for several")]:
        with pytest.raises(ExportError, match=message):
            export_model(path, tmp_path / name, formats, max_size=64)
        assert not (tmp_path / name).exists()
    (tmp_path / "folder.onnx").mkdir()  # an existing folder stays a folder
    assert export_model(path, tmp_path / "folder.onnx", max_size=64)[0].path == tmp_path / "folder.onnx" / "wave.safetensors"
    for name in ("w.pth", "w.ckpt", "w.xyz"):  # an unknown file suffix is refused, not made a folder of that name
        with pytest.raises(ExportError, match=rf"^--out .*w{name[1:]}: '\.{name[2:]}' is not a model file suffix "
                                              r"\(\.safetensors, \.pt, \.onnx\); for a folder of that name, create it first$"):
            export_model(path, tmp_path / name, max_size=64)
        assert not (tmp_path / name).exists()
    dotted = export_model(path, f"{tmp_path / 'exported.v2'}/", max_size=64)  # a trailing slash: a folder
    assert dotted[0].path == tmp_path / "exported.v2" / "wave.safetensors"
    source = dotted[0].path
    before = source.read_bytes()
    for out, dtype in [(source, "fp16"), (source.parent, "fp32")]:  # the file itself, or its folder: never replaced
        with pytest.raises(ExportError, match=r"^--out .*wave.safetensors is the model being exported: writing it "
                                              r"would replace the source .*give another folder or file$"):
            export_model(source, out, dtype=dtype, max_size=64)
    assert source.read_bytes() == before


def test_export_refuses_an_unreadable_parity_photo(tmp_path):
    path = save_stylizer(TransformerNet(width=4, num_res_blocks=1).eval(), tmp_path / "src.safetensors", style="wave")
    junk = tmp_path / "junk.jpg"
    junk.write_text("not an image")
    for photo, reason in [(junk, r"is not a readable image \(UnidentifiedImageError\)"),
                          (tmp_path / "missing.jpg", "does not exist")]:
        with pytest.raises(ExportError, match=rf"^--photo '.*{photo.name}' {reason}$"):
            export_model(path, tmp_path / "out", ["onnx"], photo=photo, max_size=64)
    assert not (tmp_path / "out").exists()


def test_onnx_has_dynamic_batch_height_width(model_file, tmp_path):
    _, path = model_file
    export_model(path, tmp_path, ["onnx"], max_size=64)
    stylizer = load_stylizer(tmp_path / "wave.onnx")
    for shape in [(1, 3, 64, 64), (3, 3, 37, 50), (2, 3, 5, 3)]:
        assert stylizer(torch.rand(shape)).shape == shape


def test_onnx_tiles_share_the_whole_images_statistics_as_pytorch_tiles_do(model_file, tmp_path):
    from stylenet.onnx_export import onnx_session
    from stylenet.inference import Stylizer

    net, path = model_file
    export_model(path, tmp_path, ["onnx", "onnx-fp16"], max_size=64)
    photo = load_image(sorted(SAMPLE.glob("*.jpg"))[3], 150)
    tiles = {"tile": 64, "overlap": 16, "stats_size": 96}
    expected = load_stylizer(path)(photo, **tiles)  # PyTorch: every norm uses the downscaled whole image's statistics
    for stylizer, tol in ((load_stylizer(tmp_path / "wave.onnx"), 1e-4), (load_stylizer(tmp_path / "wave.fp16.onnx"), 5e-3),
                          (load_stylizer(path, backend="onnxruntime"), 1e-4)):
        torch.testing.assert_close(stylizer(photo, **tiles), expected, atol=tol, rtol=0)
    # A session without its source (a Stylizer built by hand) falls back to each tile's own statistics: not the same.
    own = Stylizer(None, read_metadata(path), session=onnx_session(tmp_path / "wave.onnx"))(photo, **tiles)
    assert (own - expected).abs().max() > 1e-2


def test_onnx_tile_graphs_record_the_norms_statistics(model_file, tmp_path):
    from stylenet.onnx_export import onnx_session
    from stylenet.inference.onnx_tiles import SharedStatsTiles, norm_count
    from stylenet.models import fixed_norm_stats

    net, path = model_file
    export_model(path, tmp_path, ["onnx"], max_size=64)
    model = onnx.load(str(tmp_path / "wave.onnx"))
    norms = [m for m in net.modules() if isinstance(m, InstanceNorm)]
    assert norm_count(model) == len(norms)
    tiles = SharedStatsTiles(model, onnx_session)
    reference, tile = torch.rand(1, 3, 40, 56), torch.rand(1, 3, 24, 32)
    stats = tiles.record({"image": reference.numpy()})
    assert list(stats) == tiles.stat_names and len(stats) == 2 * len(norms)
    with torch.no_grad(), fixed_norm_stats(net, reference):
        recorded = [t for m in norms for t in m.stats]  # mean, var of each norm, in the network's order
        expected = net(tile)
    for got, want in zip(stats.values(), recorded):
        torch.testing.assert_close(torch.from_numpy(got), want, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(torch.from_numpy(tiles.run({"image": tile.numpy()}, stats)), expected, atol=1e-4, rtol=0)
    # From opset 18 ReduceMean takes its axes as an input: a file of another exporter's opset works too.
    newer = SharedStatsTiles(onnx.version_converter.convert_version(model, 18), onnx_session)
    stats18 = newer.record({"image": reference.numpy()})
    torch.testing.assert_close(torch.from_numpy(newer.run({"image": tile.numpy()}, stats18)), expected, atol=1e-4, rtol=0)


@pytest.mark.parametrize("dtype, tol", [("fp16", 5e-3), ("bf16", 5e-2)])
def test_reduced_precision_weights_are_smaller_and_close(model_file, tmp_path, dtype, tol):
    _, path = model_file
    (result,) = export_model(path, tmp_path / dtype, ["safetensors"], dtype=dtype, max_size=96)
    assert result.path.stat().st_size < 0.6 * path.stat().st_size
    assert result.max_abs_diff <= tol
    assert read_metadata(result.path)["weights_dtype"] == dtype
    assert next(load_transformer(result.path)[0].parameters()).dtype == torch.float32


def test_export_from_lightning_checkpoint_and_unknown_format(tmp_path, photos_dir):
    from test_module import small_module, trainer

    from stylenet.training.data import StyleDataModule

    module = small_module(width=4)
    t = trainer(tmp_path, max_steps=1)
    t.fit(module, datamodule=StyleDataModule("folder", str(photos_dir), image_size=32, batch_size=2,
                                             num_workers=0, val_size=0))
    t.save_checkpoint(tmp_path / "run.ckpt")
    (result,) = export_model(tmp_path / "run.ckpt", tmp_path / "out", ["safetensors"], max_size=64)
    meta = read_metadata(result.path)
    assert result.path.name == "starry_night.safetensors" and meta["steps"] == 1 and meta["model"]["width"] == 4
    with pytest.raises(ExportError, match="unknown export format"):
        export_model(tmp_path / "run.ckpt", tmp_path, ["coreml"])


def test_torch_hub_local_load(model_file):
    _, path = model_file
    stylizer = torch.hub.load(str(ROOT), "stylizer", model_path=str(path), source="local", trust_repo=True)
    assert stylizer(torch.rand(3, 16, 16)).shape == (3, 16, 16)
    sys.modules.pop("hubconf", None)


def test_fp16_and_int8_onnx_are_smaller_and_within_their_stated_bounds(model_file, tmp_path):
    from stylenet.convert import INT8_MEAN_TOLERANCE, TOLERANCE

    net, path = model_file
    results = {r.format: r for r in export_model(path, tmp_path, ["onnx", "onnx-fp16", "onnx-int8"], max_size=96)}
    size = {fmt: r.path.stat().st_size for fmt, r in results.items()}
    assert size["onnx-int8"] < size["onnx"] and size["onnx-fp16"] < size["onnx"]  # tiny nets: mostly graph, not weights
    assert results["onnx-fp16"].max_abs_diff <= TOLERANCE["fp16"]
    assert 0 < results["onnx-int8"].mean_abs_diff <= INT8_MEAN_TOLERANCE  # quantised: close, not equal
    # uint8 weights (U8U8): int8 ones saturate on x86 CPUs without VNNI (measured 0.043 mean abs difference on
    # an AVX2 EPYC), which the parity check above cannot see on a CPU with VNNI.
    graph = onnx.load(str(results["onnx-int8"].path)).graph
    weights = {t.name: t.data_type for t in graph.initializer}
    conv_weights = [weights[n.input[0]] for n in graph.node
                    if n.op_type == "DequantizeLinear" and n.input[0] in weights and n.input[0].endswith("weight_quantized")]
    assert conv_weights and set(conv_weights) == {onnx.TensorProto.UINT8}
    photo = load_image(sorted(SAMPLE.glob("*.jpg"))[3], 75)[None]
    with torch.no_grad():
        expected = net(photo)
    for fmt, bound in (("onnx-fp16", TOLERANCE["fp16"]), ("onnx-int8", INT8_MEAN_TOLERANCE)):
        stylizer = load_stylizer(results[fmt].path)
        assert stylizer.metadata["weights_dtype"] == fmt[-4:] and stylizer.style == "wave"
        assert (stylizer(photo) - expected).abs().mean() <= bound


def test_export_outside_a_checkout_needs_a_photo_and_says_so(tmp_path, monkeypatch):
    """An installed package has no data/ (the bundled photos and paintings): the parity check takes one of the
    app's photos it carries (or --photo, where even those are missing), AdaIN's check any picture, and int8
    (calibrated on a checkout's bundled photos) says why it cannot run."""
    import stylenet.paths

    path = save_stylizer(TransformerNet(width=4, num_res_blocks=1).eval(), tmp_path / "src.safetensors", style="wave")
    photo = tmp_path / "photo.png"
    to_pil_image(torch.rand(3, 40, 48)).save(photo)
    elsewhere = tmp_path / "site-packages"
    elsewhere.mkdir()
    monkeypatch.setattr(stylenet.paths, "PROJECT_ROOT", elsewhere)
    monkeypatch.chdir(elsewhere)
    with pytest.raises(ExportError, match=r"^the bundled photos \(data/sample\) are not here .*give a photo for the "
                                          r"parity check \(--photo\)$"):
        export_model(path, tmp_path / "a", ["onnx"], max_size=64)
    with pytest.raises(ExportError, match=r"^onnx-int8 calibrates on the bundled photos: .*export it from a checkout$"):
        export_model(path, tmp_path / "b", ["onnx-int8"], photo=photo, max_size=64)
    (result,) = export_model(path, tmp_path / "c", ["onnx"], photo=photo, max_size=64)
    assert result.max_abs_diff < 1e-4
    (adain,) = export_model("adain", tmp_path / "d", ["onnx"], photo=photo, max_size=64)  # no bundled painting: any
    assert adain.max_abs_diff < 1e-4
    assets = tmp_path / "assets"  # a wheel's stylenet/assets: the app's sample photos, the parity check's default
    (assets / "sample").mkdir(parents=True)
    to_pil_image(torch.rand(3, 40, 48)).save(assets / "sample" / "000000000030.jpg")
    monkeypatch.setattr(stylenet.paths, "ASSETS_DIR", assets)
    (result,) = export_model(path, tmp_path / "e", ["onnx"], max_size=64)
    assert result.max_abs_diff < 1e-4
    with pytest.raises(ExportError, match=r"^onnx-int8 calibrates on the bundled photos: .*export it from a checkout$"):
        export_model(path, tmp_path / "f", ["onnx-int8"], max_size=64)  # (16 photos: a checkout's)
