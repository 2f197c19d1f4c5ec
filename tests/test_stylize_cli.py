"""scripts/stylize.py / python -m stylenet.stylize over a folder of awkward files."""
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from stylenet.onnx_export import export_onnx
from stylenet.export import load_transformer, save_stylizer
from stylenet.stylize import main
from stylenet.models import TransformerNet

from conftest import ROOT, SAMPLE, run_here


@pytest.fixture
def model(tmp_path):
    return save_stylizer(TransformerNet(width=4, num_res_blocks=1), tmp_path / "m.safetensors", style="test")


@pytest.fixture
def corpus(tmp_path):
    d = tmp_path / "in"
    (d / "sub").mkdir(parents=True)
    photo = sorted(SAMPLE.glob("*.jpg"))[0]
    (d / "good.jpg").write_bytes(photo.read_bytes())
    (d / "truncated.jpg").write_bytes(photo.read_bytes()[:2000])
    (d / "empty.jpg").write_bytes(b"")
    (d / "notes.jpg").write_text("this is a text file with an image extension\n")
    Image.open(photo).convert("CMYK").save(d / "cmyk.jpg")
    ramp = (np.linspace(0, 65535, 48 * 64).reshape(48, 64)).astype(np.uint16)
    Image.fromarray(ramp).save(d / "sub" / "gray16.png")
    rgba = Image.open(photo).convert("RGBA").resize((64, 48))
    rgba.putalpha(Image.linear_gradient("L").resize((64, 48)))
    rgba.save(d / "sub" / "rgba.png")
    return d


def test_awkward_folder_gives_the_right_summary_and_resumes(model, corpus, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["--model", str(model), "--input", str(corpus), "--output", str(out), "--max-size", "64", "--quiet"])
    printed = capsys.readouterr().out
    assert code == 1  # something failed
    assert "done 4, skipped 0 (output exists), failed 3" in printed
    for name in ("truncated.jpg", "empty.jpg", "notes.jpg"):
        assert name in printed
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png")) == [
        "cmyk.png", "good.png", "sub/gray16.png", "sub/rgba.png"]
    rgba = Image.open(out / "sub" / "rgba.png")
    assert rgba.mode == "RGBA" and rgba.getchannel("A").getextrema()[0] < 10  # alpha re-attached
    gray = np.asarray(Image.open(out / "sub" / "gray16.png"))
    assert 20 < gray.mean() < 235  # 16-bit input scaled, not clipped to white
    assert (corpus / "good.jpg").read_bytes() == (SAMPLE / sorted(p.name for p in SAMPLE.glob("*.jpg"))[0]).read_bytes()

    code = main(["--model", str(model), "--input", str(corpus), "--output", str(out), "--max-size", "64", "--quiet"])
    assert "done 0, skipped 4 (output exists), failed 3" in capsys.readouterr().out


def test_output_inside_input_folder_is_not_restylised(model, corpus, capsys):
    out = corpus / "styled"
    main(["--model", str(model), "--input", str(corpus / "sub"), "--output", str(out), "--max-size", "32", "--quiet"])
    capsys.readouterr()
    main(["--model", str(model), "--input", str(corpus), "--output", str(out), "--max-size", "32", "--quiet",
          "--format", "jpg"])
    assert not list(out.rglob("styled"))  # nothing from the output folder came back in as input


def test_output_folder_mistakes_are_one_line_errors_and_an_input_inside_the_output_is_taken(model, tmp_path, capsys):
    photos = tmp_path / "out" / "photos"
    photos.mkdir(parents=True)
    (photos / "a.jpg").write_bytes(sorted(SAMPLE.glob("*.jpg"))[0].read_bytes())
    (tmp_path / "empty").mkdir()
    for argv, message in [(["--input", str(photos), "--output", f"{photos}/"], f"--output {photos} is an input folder: "
                           "the results would land among the photos; give another folder"),
                          (["--input", str(tmp_path / "empty"), "--output", str(tmp_path / "o")],
                           f"no images in '{tmp_path / 'empty'}' (looked for .jpg, .jpeg, .png"),
                          (["--input", str(photos / "*.png"), "--output", str(tmp_path / "o")], "no images in '")]:
        assert main(["--model", str(model), *argv, "--max-size", "32", "--quiet"]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {message}") and "\n" not in err.strip() and "Traceback" not in err
    assert sorted(p.name for p in photos.iterdir()) == ["a.jpg"] and not (tmp_path / "o").exists()
    # the photos inside the output folder are inputs, not earlier results (those are left out only from an input
    # folder that holds the output folder)
    assert main(["--model", str(model), "--input", str(photos), "--output", str(tmp_path / "out"), "--max-size", "32",
                 "--quiet"]) == 0
    assert "done 1," in capsys.readouterr().out and (tmp_path / "out" / "a.png").is_file()


def test_one_photo_into_one_output_file(model, tmp_path, capsys):
    photo = sorted(SAMPLE.glob("*.jpg"))[0]
    args = ["--model", str(model), "--input", str(photo), "--max-size", "48", "--quiet"]
    assert main([*args, "--output", str(tmp_path / "result.jpeg")]) == 0  # a file, not a folder named result.jpeg
    out = Image.open(tmp_path / "result.jpeg")
    assert out.format == "JPEG" and max(out.size) == 48 and (tmp_path / "result.jpeg").is_file()
    assert main([*args, "--output", str(tmp_path / "r.png"), "--format", "png"]) == 0
    assert Image.open(tmp_path / "r.png").format == "PNG"
    capsys.readouterr()
    for extra, message in [(["--output", str(tmp_path / "x.png"), "--format", "jpg"], "--format jpg asks for .jpg, but"),
                           (["--output", str(tmp_path / "x.png"), "--format", "keep"], "--format keep asks for .jpg"),
                           (["--input", str(SAMPLE / "*.jpg"), "--output", str(tmp_path / "x.png")],
                            "is one image file, but the input has 100 images")]:
        assert main([*args, *extra]) == 2, extra
        assert message in capsys.readouterr().err
        assert not (tmp_path / "x.png").exists()
    # A suffix that is no image format, for one photo: a typo (or a video), not a new folder named result.jpj/
    for name, message in [("result.jpj", ".jpj is not an image format stylize writes (.jpg, .jpeg, .png"),
                          ("clip.mp4", "a video goes through stylize_video.py")]:
        assert main([*args, "--output", str(tmp_path / name)]) == 2, name
        assert message in capsys.readouterr().err
        assert not (tmp_path / name).exists()
    (tmp_path / "folder.png").mkdir()  # an existing folder with an image suffix stays a folder
    assert main([*args, "--output", str(tmp_path / "folder.png")]) == 0
    assert (tmp_path / "folder.png" / photo.with_suffix(".png").name).is_file()
    (tmp_path / "run.v2").mkdir()  # so does an existing one with another suffix
    assert main([*args, "--output", str(tmp_path / "run.v2")]) == 0
    assert (tmp_path / "run.v2" / photo.with_suffix(".png").name).is_file()
    assert main(["--model", str(model), "--input", str(SAMPLE / "00000000003*.jpg"), "--max-size", "32", "--quiet",
                 "--output", str(tmp_path / "batch.v3")]) == 0  # several photos: a folder, whatever its name
    assert (tmp_path / "batch.v3" / "000000000030.png").is_file()


def test_batching_tiling_options_and_glob(model, tmp_path, capsys):
    d = tmp_path / "same"
    d.mkdir()
    for i, src in enumerate(sorted(SAMPLE.glob("*.jpg"))[:3]):
        Image.open(src).resize((80, 60)).save(d / f"p{i}.jpg")
    out = tmp_path / "o"
    code = main(["--model", str(model), "--input", str(d / "*.jpg"), "--output", str(out), "--batch-size", "3",
                 "--tile", "32", "--overlap", "8", "--preserve-color", "--strength", "0.7", "--format", "webp",
                 "--quiet"])
    assert code == 0 and "done 3" in capsys.readouterr().out
    assert Image.open(out / "p0.webp").size == (80, 60)


def test_an_image_too_large_to_stylise_whole_is_done_in_tiles(model, tmp_path, capsys, monkeypatch, caplog):
    """Without --tile, a photo that would not fit in memory whole was a failure saying "use tiling (--tile 1024)":
    it is stylised in tiles instead (1024 px, smaller for a photo of up to 2048), with a logged line."""
    import stylenet.inference.stylizer as stylizer_module

    d = tmp_path / "big"
    d.mkdir()
    for i, src in enumerate(sorted(SAMPLE.glob("*.jpg"))[:2]):
        Image.open(src).resize((1100, 800)).save(d / f"p{i}.png")
    whole = tmp_path / "whole"
    assert main(["--model", str(model), "--input", str(d), "--output", str(whole), "--quiet"]) == 0
    monkeypatch.setattr(stylizer_module, "available_memory", lambda device: 2**20)  # 1 MiB free: nothing fits whole
    capsys.readouterr()
    tiled = tmp_path / "tiled"
    with caplog.at_level("WARNING", logger="stylenet.inference.batch"):
        code = main(["--model", str(model), "--input", str(d), "--output", str(tiled), "--batch-size", "2", "--quiet"])
    assert code == 0 and "done 2, skipped 0 (output exists), failed 0" in capsys.readouterr().out
    assert caplog.text.count("too large to stylise whole") == 2 and "in 550-px tiles" in caplog.text  # (2 a side)
    for name in ("p0.png", "p1.png"):
        a, b = (np.asarray(Image.open(folder / name), dtype=np.float32) for folder in (whole, tiled))
        assert a.shape == b.shape == (800, 1100, 3) and np.abs(a - b).mean() < 3.0  # the untiled result (measured
        # 1.5 levels of 255: the tiles' shared statistics come from the photo shrunk to 1024 px)
    small = tmp_path / "small"  # a smaller photo goes in smaller tiles
    small.mkdir()
    Image.open(d / "p0.png").resize((600, 450)).save(small / "s.png")
    caplog.clear()
    with caplog.at_level("WARNING", logger="stylenet.inference.batch"):
        assert main(["--model", str(model), "--input", str(small), "--output", str(tmp_path / "o"), "--quiet"]) == 0
    assert "in 300-px tiles" in caplog.text

    def no_room(*args, **kwargs):  # where even the tiles do not fit: a failure with the reason, the run goes on
        raise stylizer_module.ImageTooLargeError("a 300x300 tile did not fit in memory")

    monkeypatch.setattr(stylizer_module.Stylizer, "_tiled", no_room)
    capsys.readouterr()
    assert main(["--model", str(model), "--input", str(small), "--output", str(tmp_path / "o2"), "--quiet"]) == 1
    assert "failed: " in capsys.readouterr().out and not (tmp_path / "o2" / "s.png").exists()


@pytest.mark.parametrize("speedup, precision", [(1.6, "bf16"), (0.8, "fp32")])
def test_precision_auto_is_the_default_and_says_what_it_took(model, tmp_path, capsys, monkeypatch, speedup, precision):
    import stylenet.hardware as hardware

    fake = hardware.Hardware("cpu", "CPU", cpu_flags=frozenset({"avx512_bf16"}), bf16_speedup=speedup)
    monkeypatch.setattr(hardware, "probe", lambda kind, measure_bf16=True: fake)  # a Zen 4 / a Xeon, faked
    photo = tmp_path / "photo.png"
    Image.open(sorted(SAMPLE.glob("*.jpg"))[0]).resize((40, 30)).save(photo)
    assert main(["--model", str(model), "--input", str(photo), "--output", str(tmp_path / "auto"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"precision: {precision} (auto: CPU with AVX512-BF16, bf16 measured {speedup:.2f}x" in out
    assert main(["--model", str(model), "--input", str(photo), "--output", str(tmp_path / "set"), "--quiet",
                 "--precision", precision, "--device", "cpu"]) == 0
    assert "precision:" not in capsys.readouterr().out  # set by hand: no probe, no line
    auto, chosen = (np.asarray(Image.open(tmp_path / d / "photo.png"), int) for d in ("auto", "set"))
    assert np.array_equal(auto, chosen)  # auto ran what it said
    export_onnx(load_transformer(model)[0], tmp_path / "m.onnx", {"style": "test"})  # onnxruntime: fp32 only
    assert main(["--model", str(tmp_path / "m.onnx"), "--input", str(photo), "--output", str(tmp_path / "onnx"),
                 "--quiet"]) == 0
    assert "precision: fp32 (auto: onnxruntime backend)" in capsys.readouterr().out


def test_path_and_style_option_mistakes_are_said_before_the_model_loads(model, tmp_path, capsys, monkeypatch):
    import stylenet.hardware as hardware
    import stylenet.video.cli as video_cli

    def probe(*_, **__):  # the 0.6-s precision probe, and the model's loading after it, must not be reached
        raise AssertionError("probed before the mistake was said")

    monkeypatch.setattr(hardware, "probe", probe)
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(sorted(SAMPLE.glob("*.jpg"))[0].read_bytes())
    before = photo.read_bytes()
    for argv, message in [
        (["--model", str(model), "--input", str(photo), "--output", str(photo)],
         f"--output {photo} is the input photo: the result would replace it; give another file "
         f"(e.g. {tmp_path / 'photo_styled.jpg'})"),  # was: "failed 1" after the probe, exit 1
        (["--model", str(model), "--input", str(tmp_path / "nope.jpg"), "--output", str(tmp_path / "o")],
         f"input '{tmp_path / 'nope.jpg'}' does not exist"),
        (["--model", str(model), "--input", str(photo), "--output", str(tmp_path / "o.txt")],
         f"--output {tmp_path / 'o.txt'}: .txt is not an image format"),
        (["--model", str(model), "--alpha", "0.5", "--input", str(photo), "--output", str(tmp_path / "o")],
         "--style-image and --alpha are for AdaIN models"),
        (["--model", "adain", "--input", str(photo), "--output", str(tmp_path / "o")],
         "an AdaIN model needs a style image: --style-image painting.jpg"),
        (["--model", "adain", "--style-image", str(photo), "--style", "wave", "--input", str(photo), "--output",
          str(tmp_path / "o")], "an AdaIN model takes its style as --style-image"),
    ]:
        assert main([*argv, "--quiet"]) == 2, argv
        out, err = capsys.readouterr()
        assert err.startswith(f"error: {message}") and err.count("\n") == 1 and "precision:" not in out, argv
    assert video_cli.main(["--model", str(model), "--input", str(tmp_path / "nope.mp4"), "--output",
                           str(tmp_path / "o.mp4")]) == 2
    out, err = capsys.readouterr()
    assert err == f"error: {tmp_path / 'nope.mp4'}: no such file\n" and "precision:" not in out
    assert photo.read_bytes() == before and not (tmp_path / "o").exists()


def test_onnxruntime_backend_matches_torch(model, tmp_path):
    photo = sorted(SAMPLE.glob("*.jpg"))[0]
    for backend in ("torch", "onnxruntime"):
        assert main(["--model", str(model), "--input", str(photo), "--output", str(tmp_path / backend),
                     "--backend", backend, "--max-size", "64", "--quiet", "--precision", "fp32"]) == 0
    a = np.asarray(Image.open(tmp_path / "torch" / f"{photo.stem}.png"), dtype=int)
    b = np.asarray(Image.open(tmp_path / "onnxruntime" / f"{photo.stem}.png"), dtype=int)
    assert np.abs(a - b).max() <= 1


def test_script_and_module_entry_points(model, tmp_path):
    photo = sorted(SAMPLE.glob("*.jpg"))[0]
    for cmd in ([sys.executable, str(ROOT / "scripts" / "stylize.py")], [sys.executable, "-m", "stylenet.stylize"]):
        proc = subprocess.run([*cmd, "--model", str(model), "--input", str(photo), "--output", str(tmp_path / "x"),
                               "--max-size", "32", "--quiet", "--overwrite"], capture_output=True, text=True, cwd=ROOT)
        assert proc.returncode == 0, proc.stderr
    proc = run_here(ROOT / "scripts" / "stylize.py", ["--model", tmp_path / "nope.safetensors", "--input", photo,
                                                      "--output", tmp_path / "x"])
    assert proc.returncode == 2 and "no such model file" in proc.stderr and "Traceback" not in proc.stderr
    assert "precision:" not in proc.stdout  # said before the precision probe (--precision auto) spends its 0.6 s


def test_ctrl_c_keeps_the_finished_images_and_a_rerun_does_the_rest(model, tmp_path, monkeypatch, capsys):
    import stylenet.inference.batch

    photos = tmp_path / "photos"
    photos.mkdir()
    for i, photo in enumerate(sorted(SAMPLE.glob("*.jpg"))[:3]):
        (photos / f"{i}.jpg").write_bytes(photo.read_bytes())
    out, save, calls = tmp_path / "out", stylenet.inference.batch.save_output, []

    def interrupt_the_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return save(*args, **kwargs)

    monkeypatch.setattr(stylenet.inference.batch, "save_output", interrupt_the_second)
    argv = ["--model", str(model), "--input", str(photos), "--output", str(out), "--max-size", "32", "--quiet"]
    assert main(argv) == 130
    err = capsys.readouterr().err
    assert err.startswith(f"interrupted: the images already in {out} are complete") and "Traceback" not in err
    assert [p.name for p in out.iterdir()] == ["0.png"] and Image.open(out / "0.png").size[0] == 32
    monkeypatch.setattr(stylenet.inference.batch, "save_output", save)
    assert main(argv) == 0 and "done 2, skipped 1" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["0.png", "1.png", "2.png"]


@pytest.mark.parametrize("case", ["truncated_jpeg", "zero_byte", "text_as_jpg", "decompression_bomb", "cmyk_jpeg",
                                  "png_16bit", "palette_transparency", "grayscale", "one_pixel", "exif_rotated",
                                  "symlink_loop"])
def test_each_awkward_inference_input(case, model, tmp_path, capsys):
    from test_bad_data import make_case

    folder = tmp_path / "in"
    folder.mkdir()
    name, usable = make_case(folder, case)
    code = main(["--model", str(model), "--input", str(folder), "--output", str(tmp_path / "out"), "--max-size", "48",
                 "--quiet"])
    printed, err = capsys.readouterr()
    if case == "symlink_loop":  # no image to read: said, not a silent "done 0"
        assert code == 2 and err.startswith(f"error: no images in '{folder}'")
    elif usable:
        assert code == 0 and "done 1," in printed
        out = Image.open(next((tmp_path / "out").rglob("*.png")))
        src_size = Image.open(folder / name).size
        if case == "exif_rotated":
            src_size = src_size[::-1]  # shown upright
        assert out.size[0] / out.size[1] == pytest.approx(src_size[0] / src_size[1], rel=0.1)
    else:
        assert code == 1 and "failed 1" in printed and name in printed


@pytest.mark.parametrize("extra, message", [(["--quality", "500"], "--quality must be between 1 and 100"),
                                            (["--batch-size", "0"], "--batch-size must be >= 1"),
                                            (["--tile", "8"], "--tile must be >= 16"),
                                            (["--strength", "2"], "--strength must be between 0 and 1")])
def test_bad_options_are_one_line_usage_errors(extra, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--model", "wave", "--input", str(SAMPLE), "--output", str(tmp_path / "out"), *extra])
    assert exit_.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def _animation(path, frames=5, size=(48, 36), durations=(80, 120, 80, 120, 100), **save):
    photos = sorted(SAMPLE.glob("*.jpg"))[:frames]
    images = [Image.open(p).convert("RGB").resize(size) for p in photos]
    images[0].save(path, save_all=True, append_images=images[1:], duration=list(durations[:frames]), loop=3, **save)
    return images


def test_animated_gif_and_webp_stay_animated_with_their_timing(model, tmp_path, capsys):
    from stylenet import load_stylizer
    from stylenet.image import float_to_pil, pil_to_float

    src = tmp_path / "in"
    src.mkdir()
    _animation(src / "anim.gif")
    _animation(src / "anim.webp", lossless=True)
    Image.open(sorted(SAMPLE.glob("*.jpg"))[0]).resize((40, 30)).save(src / "still.gif")  # found in a folder too
    assert main(["--model", str(model), "--input", str(src), "--output", str(tmp_path / "out"), "--format", "keep",
                 "--batch-size", "2", "--quiet"]) == 0
    assert main(["--model", str(model), "--input", str(src / "anim.gif"), "--output", str(tmp_path / "apng"),
                 "--quiet", "--precision", "fp32"]) == 0  # the default, png: an animated PNG (fp32, as the API below)
    for name in ("out/anim.gif", "out/anim.webp", "apng/anim.png"):
        with Image.open(tmp_path / name) as im:
            durations = []
            for i in range(im.n_frames):
                im.seek(i)
                im.load()
                durations.append(im.info["duration"])
            assert im.n_frames == 5 and durations == [80, 120, 80, 120, 100] and im.info["loop"] == 3, name
    stylizer = load_stylizer(model)
    with Image.open(tmp_path / "out" / "still.gif") as still, Image.open(src / "still.gif") as original:
        expected = np.asarray(float_to_pil(stylizer(pil_to_float(original.convert("RGB")))), float)
        assert still.mode == "P" and np.abs(np.asarray(still.convert("RGB"), float) - expected).mean() < 8  # 256 colours
    # Each frame of the lossless APNG is the model's output on that frame of the GIF (up to 8-bit rounding).
    with Image.open(src / "anim.gif") as gif, Image.open(tmp_path / "apng" / "anim.png") as apng:
        for i in (0, 3):
            gif.seek(i)
            apng.seek(i)
            expected = stylizer(pil_to_float(gif.convert("RGB")))
            assert (pil_to_float(apng.convert("RGB")) - expected).abs().max() <= 1 / 255 + 1e-6
    # The Python API does the same, and refuses a one-frame format in one line.
    stylizer.stylize_file(src / "anim.webp", tmp_path / "api.gif")
    with Image.open(tmp_path / "api.gif") as im:
        assert im.n_frames == 5
    with pytest.raises(ValueError, match=r"is animated \(5 frames\) but .jpg holds one frame"):
        stylizer.stylize_file(src / "anim.gif", tmp_path / "api.jpg")


def test_an_animation_into_a_one_frame_format_or_a_broken_one_is_a_failure_not_a_first_frame(model, tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    _animation(src / "anim.gif")
    data = (src / "anim.gif").read_bytes()
    (src / "cut.gif").write_bytes(data[: len(data) * 2 // 3])  # frames missing at the end
    assert main(["--model", str(model), "--input", str(src), "--output", str(tmp_path / "out"), "--format", "jpg",
                 "--quiet"]) == 1
    err = capsys.readouterr().out
    assert "anim.gif: animated (5 frames), but .jpg holds one frame: use --format gif, webp or png" in err
    assert not (tmp_path / "out" / "anim.jpg").exists()
    assert main(["--model", str(model), "--input", str(src / "cut.gif"), "--output", str(tmp_path / "gif"),
                 "--format", "gif", "--quiet"]) == 1
    assert "cut.gif" in capsys.readouterr().out and not list((tmp_path / "gif").glob("*"))  # nothing half-written


def test_the_summary_gives_seconds_an_image_where_under_one_image_a_second():
    """A huge photo (minutes on a CPU) read "0.00 images/s"."""
    from stylenet.inference.batch import Summary

    assert Summary(done=1, seconds=225.8).line().endswith("in 225.8s (225.8 s an image)")
    assert Summary(done=10, seconds=2.0).line().endswith("in 2.0s (5.00 images/s)")
    assert Summary(done=0, skipped=3, seconds=0.1).line().endswith("(0.00 images/s)")
