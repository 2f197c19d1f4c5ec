"""Video in and out (stylenet/video): clips and folders of frames round trip with their frame rate,
size, audio, rotation and colour range; outputs appear only when complete; bad inputs are one line."""
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
import torch

av = pytest.importorskip("av")

from stylenet.export import save_stylizer  # noqa: E402
from stylenet.inference import Stylizer  # noqa: E402
from stylenet.models import InstanceNorm, TransformerNet  # noqa: E402
from stylenet.video import VideoError, VideoReader, stylize_video  # noqa: E402
from stylenet.video.io import to_rgb  # noqa: E402

from conftest import ROOT, run_here  # noqa: E402


def moving_frames(n: int, width: int, height: int) -> list[np.ndarray]:
    """A horizontal gradient sliding right 5 levels a frame, over vertical stripes: smooth enough for a
    lossy codec to keep within a few levels."""
    xs, ys = np.arange(width), np.arange(height)[:, None]
    frames = []
    for i in range(n):
        img = np.empty((height, width, 3), np.uint8)
        img[..., 0] = (xs * 3 + i * 5) % 200 + 20
        img[..., 1] = 120
        img[..., 2] = (ys * 4) % 200 + 20
        frames.append(img)
    return frames


def make_clip(path, frames=48, fps=24, size=(64, 48), audio=True, rotation=0, color_range=None, tags=None):
    out = av.open(str(path), "w")
    out.metadata.update(tags or {})  # e.g. a phone's creation_time and location
    video = out.add_stream("libx264", rate=fps, options={"crf": "10"})
    video.width, video.height, video.pix_fmt = *size, "yuv420p"
    if color_range is not None:
        video.codec_context.color_range = color_range
    if rotation:
        video.set_display_rotation(rotation)
    sound = out.add_stream("aac", rate=44100, layout="mono") if audio else None
    if sound is not None:
        sound.metadata["language"] = "fra"
    for img in moving_frames(frames, *size):
        frame = av.VideoFrame.from_ndarray(img, format="rgb24")
        if color_range is not None:
            frame = frame.reformat(format="yuv420p", src_color_range="JPEG", dst_color_range=color_range)
        for packet in video.encode(frame):
            out.mux(packet)
    if sound is not None:
        samples = (0.3 * np.sin(2 * np.pi * 440 * np.arange(44100 * frames // fps) / 44100)).astype(np.float32)[None]
        for start in range(0, samples.shape[1], 1024):
            chunk = av.AudioFrame.from_ndarray(samples[:, start:start + 1024], format="fltp", layout="mono")
            chunk.sample_rate, chunk.pts = 44100, start
            for packet in sound.encode(chunk):
                out.mux(packet)
    for stream in [video] + ([sound] if sound else []):
        for packet in stream.encode():
            out.mux(packet)
    out.close()
    return path


def decode(path):
    reader = VideoReader(path)
    frames = [to_rgb(f) for kind, f in reader.items() if kind == "frame"]
    info = reader.info
    reader.close()
    with av.open(str(path)) as c:
        streams = {s.type: (s.codec_context.name, float(s.duration * s.time_base) if s.duration else None)
                   for s in c.streams}
    return info, frames, streams


def identity(x, **options):
    return x


@pytest.fixture
def clip(tmp_path):
    return make_clip(tmp_path / "clip.mp4")


@pytest.fixture
def stylizer():
    torch.manual_seed(0)
    net = TransformerNet(4, 1, outer_kernel=5, full_resolution=False)
    return Stylizer(net, {"style": "test", "model": net.config()})


def test_a_two_second_clip_round_trips_with_frame_rate_size_and_audio(clip, tmp_path, stylizer):
    summary = stylize_video(stylizer, clip, tmp_path / "out.mp4", batch_size=5, progress=False)
    info, frames, streams = decode(tmp_path / "out.mp4")
    assert summary.frames == len(frames) == 48 and info.fps == Fraction(24) and (info.width, info.height) == (64, 48)
    assert streams["video"][0] == "h264" and streams["audio"][0] == "aac" and abs(streams["audio"][1] - 2.0) < 0.1
    assert summary.audio == "copied (aac)" and "48 frames 64x48" in summary.line() and "frames/s" in summary.line()
    # The frames are the network's output on the decoded input (up to the codec's loss), in order.
    _, source, _ = decode(clip)
    expected = stylizer(torch.from_numpy(np.stack(source[:3])).permute(0, 3, 1, 2).float() / 255)
    got = torch.from_numpy(np.stack(frames[:3])).permute(0, 3, 1, 2).float() / 255
    assert (got - expected).abs().mean() < 0.03
    assert (got - torch.from_numpy(np.stack(source[:3])).permute(0, 3, 1, 2) / 255).abs().mean() > 0.05  # stylised


def test_identity_keeps_frames_and_webm_reencodes_the_audio(clip, tmp_path):
    stylize_video(identity, clip, tmp_path / "same.mp4", progress=False)
    _, source, _ = decode(clip)
    _, frames, _ = decode(tmp_path / "same.mp4")
    assert max(np.abs(a.astype(int) - b.astype(int)).mean() for a, b in zip(source, frames)) < 2.0
    summary = stylize_video(identity, clip, tmp_path / "same.webm", progress=False)
    info, frames, streams = decode(tmp_path / "same.webm")
    assert len(frames) == 48 and streams["video"][0] == "vp9" and streams["audio"][0] == "opus"
    assert summary.audio == "re-encoded aac to libopus"


def test_rotation_and_full_colour_range_are_kept(tmp_path):
    src = make_clip(tmp_path / "phone.mp4", frames=6, audio=False, rotation=90, color_range=2)
    stylize_video(identity, src, tmp_path / "out.mp4", progress=False)
    before, source, _ = decode(src)
    after, frames, streams = decode(tmp_path / "out.mp4")
    assert (before.rotation, before.color_range) == (90, 2) and (after.rotation, after.color_range) == (90, 2)
    assert "audio" not in streams
    assert np.abs(source[0].astype(int) - frames[0].astype(int)).mean() < 2.0  # no range squeeze or stretch


def test_max_size_shrinks_to_even_sides(clip, tmp_path, monkeypatch):
    import stylenet.video.pipeline as pipeline

    def interpolate(*args, **kwargs):  # a clip's frames arrive at the output size: scaled while converted
        raise AssertionError("a clip's frame was resized as a float tensor")

    monkeypatch.setattr(pipeline.F, "interpolate", interpolate)
    seen = []
    summary = stylize_video(lambda x, **o: seen.append(tuple(x.shape[-2:])) or x, clip, tmp_path / "small.mp4",
                            max_size=33, progress=False)
    info, frames, _ = decode(tmp_path / "small.mp4")
    assert summary.size == (info.width, info.height) == (32, 24) and len(frames) == 48 and set(seen) == {(24, 32)}
    # The scaled conversion is the picture shrunk (swscale's area averaging), not a crop or another frame.
    reader = VideoReader(clip)
    frame = next(reader.frames())
    whole, small = to_rgb(frame).astype(float), to_rgb(frame, (32, 24)).astype(float)
    reader.close()
    assert small.shape == (24, 32, 3) and np.abs(small - whole.reshape(24, 2, 32, 2, 3).mean((1, 3))).mean() < 4
    assert np.abs(frames[0].astype(float) - small).mean() < 6  # through x264 at crf 10
    # A folder of frames likewise: each read at its output size (Pillow), into a folder (odd sides allowed).
    from PIL import Image

    folder = tmp_path / "frames"
    folder.mkdir()
    for i, rgb in enumerate(moving_frames(3, 64, 48)):
        Image.fromarray(rgb).save(folder / f"{i:03d}.png")
    seen.clear()
    summary = stylize_video(lambda x, **o: seen.append(tuple(x.shape[-2:])) or x, folder, tmp_path / "out",
                            max_size=33, progress=False)
    assert summary.size == (33, 25) and set(seen) == {(25, 33)} and len(list((tmp_path / "out").glob("*.png"))) == 3


def test_folder_of_frames_in_and_out(tmp_path, stylizer):
    from PIL import Image
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, img in enumerate(moving_frames(5, 40, 30)):
        Image.fromarray(img).save(folder / f"f{i:03d}.png")
    summary = stylize_video(stylizer, folder, tmp_path / "styled", batch_size=2, progress=False)
    outs = sorted((tmp_path / "styled").iterdir())
    assert summary.frames == 5 and [p.name for p in outs] == [f"f{i:03d}.png" for i in range(5)]
    first = torch.from_numpy(np.array(Image.open(outs[0]))).permute(2, 0, 1).float() / 255
    source = torch.from_numpy(np.array(Image.open(folder / "f000.png"))).permute(2, 0, 1).float() / 255
    assert (first - stylizer(source)).abs().max() <= 1 / 255 + 1e-6  # lossless PNG: only rounding
    stylize_video(identity, folder, tmp_path / "made.mp4", fps=10, progress=False)  # frames -> a clip
    info, frames, _ = decode(tmp_path / "made.mp4")
    assert len(frames) == 5 and info.fps == 10
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    for dst, message in [(folder, "is the input; the stylised frames would replace it"),  # same names: never
                         (tmp_path / "styled", r"already holds f000.png and 4 more frames; pass --overwrite")]:
        with pytest.raises(VideoError, match=message):
            stylize_video(stylizer, folder, dst, progress=False)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert stylize_video(stylizer, folder, tmp_path / "styled", overwrite=True, progress=False).frames == 5


def test_frames_go_one_at_a_time_on_a_cpu_unless_told(clip, tmp_path, stylizer):
    from types import SimpleNamespace

    from stylenet.video import default_batch_size

    calls = []

    def record(x, **options):
        calls.append(len(x))
        return x

    stylize_video(record, clip, tmp_path / "out.mp4", max_frames=6, progress=False)
    assert calls == [1] * 6  # measured fastest on a CPU (docs/BENCHMARKS.md)
    assert default_batch_size(stylizer) == 1 and default_batch_size(SimpleNamespace(device=torch.device("cuda"))) == 4
    calls.clear()
    stylize_video(record, clip, tmp_path / "out.mp4", max_frames=6, batch_size=4, overwrite=True, progress=False)
    assert calls == [4, 2]


@pytest.mark.parametrize("threaded", [False, True])  # True: the writer on its own thread, as on a GPU
def test_an_interrupted_run_leaves_no_file_under_the_final_name(clip, tmp_path, threaded):
    calls = []

    def dies(x, **options):
        calls.append(len(x))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return x

    with pytest.raises(KeyboardInterrupt):
        stylize_video(dies, clip, tmp_path / "out.mp4", batch_size=4, progress=False, writer_thread=threaded)
    assert not (tmp_path / "out.mp4").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]  # no temporary left behind
    assert not _writer_threads()  # the writer's thread stopped too


def _writer_threads() -> list:
    import threading

    return [t for t in threading.enumerate() if t.name == "stylenet-writer"]


def test_the_writer_runs_beside_the_stylising_in_order_and_its_errors_reach_the_caller(clip, tmp_path, stylizer,
                                                                                       monkeypatch):
    """Writing (encoding, muxing, a frame's PNG) overlaps the stylising on a thread of its own for eager PyTorch
    and on accelerators, not for compiled networks or onnxruntime on a CPU (stylenet.video.writer_thread); every
    call in order; an error there (a full disk) stops the run with that error, nothing under the final name; no
    thread is left."""
    import threading

    from stylenet.video.io import VideoWriter
    from stylenet.video.writer_thread import WriterThread, overlaps

    assert overlaps(stylizer) and overlaps(identity)  # eager PyTorch (or a plain function) on a CPU
    assert not overlaps(type("Compiled", (), {"device": torch.device("cpu"), "_compiled": object()})())
    assert not overlaps(type("Onnx", (), {"device": torch.device("cpu"), "session": object()})())
    assert overlaps(type("Gpu", (), {"device": torch.device("cuda"), "_compiled": object()})())
    seen, where = [], []
    writer = WriterThread(threaded=True, depth=2)
    for i in range(20):
        writer.submit(lambda i: (seen.append(i), where.append(threading.current_thread().name)), i)
    writer.close()
    assert seen == list(range(20)) and set(where) == {"stylenet-writer"}
    inline = WriterThread(threaded=False)
    inline.submit(where.append, "caller")
    assert where[-1] == "caller" and inline.thread is None

    writes = []
    real = VideoWriter.write

    def write(self, rgb, pts, time_base):
        writes.append(threading.current_thread().name)
        if len(writes) == 5:
            raise OSError(28, "No space left on device")
        return real(self, rgb, pts, time_base)

    monkeypatch.setattr(VideoWriter, "write", write)
    with pytest.raises(OSError, match="No space left on device"):
        stylize_video(stylizer, clip, tmp_path / "out.mp4", progress=False, writer_thread=True)
    assert set(writes) == {"stylenet-writer"} and len(writes) == 5  # nothing written after the error
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"] and not _writer_threads()
    monkeypatch.setattr(VideoWriter, "write", real)
    summary = stylize_video(stylizer, clip, tmp_path / "frames", progress=False, writer_thread=True)  # PNG frames
    assert summary.frames == 48 and len(list((tmp_path / "frames").glob("frame_*.png"))) == 48
    assert not _writer_threads()


def test_ctrl_c_in_the_script_is_one_line_and_exit_130(clip, tmp_path, monkeypatch, capsys):
    import stylenet.video.cli as cli

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "stylize_video", interrupted)
    model = save_stylizer(TransformerNet(4, 1), tmp_path / "tiny.safetensors", style="wave")
    assert cli.main(["--model", str(model), "--input", str(clip), "--output", str(tmp_path / "o.mp4"), "--quiet"]) == 130
    err = capsys.readouterr().err
    assert err.startswith("interrupted: nothing written to") and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("output, extra, message", [("o.mp4", ["--crf", "52"], "--crf must be between 0 and 51 for libx264"),
                                                    ("o.webm", ["--crf", "64"], "between 0 and 63 for libvpx-vp9"),
                                                    ("o.mp4", ["--preset", "quick"], "invalid choice: 'quick'"),
                                                    ("o.gif", ["--crf", "20"], "a .gif has none"),
                                                    ("o.mp4", ["--batch-size", "0"], "--batch-size >= 1")])
def test_bad_encoder_options_are_usage_errors_before_any_work(output, extra, message, tmp_path, capsys):
    import stylenet.video.cli as cli

    with pytest.raises(SystemExit) as exit_:
        cli.main(["--model", "wave", "--input", str(tmp_path / "missing.mp4"), "--output", str(tmp_path / output), *extra])
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_bad_inputs_are_one_line(tmp_path, clip):
    (tmp_path / "notes.mp4").write_text("not a video")
    (tmp_path / "empty").mkdir()
    cases = [(tmp_path / "notes.mp4", tmp_path / "o.mp4", "not a readable video"),
             (tmp_path / "missing.mp4", tmp_path / "o.mp4", "no such file"),
             (tmp_path / "empty", tmp_path / "o.mp4", "no image files"),
             (clip, tmp_path / "o.avi", "unsupported output; use one of .mp4.*, .gif, .webp or a folder")]
    for src, dst, message in cases:
        with pytest.raises(VideoError, match=message):
            stylize_video(identity, src, dst, progress=False)
    (tmp_path / "exists.mp4").write_bytes(b"keep me")
    with pytest.raises(VideoError, match="exists; pass --overwrite"):
        stylize_video(identity, clip, tmp_path / "exists.mp4", progress=False)
    with pytest.raises(VideoError, match="missing.mp4: no such file"):  # the input is named first
        stylize_video(identity, tmp_path / "missing.mp4", tmp_path / "exists.mp4", progress=False)
    assert (tmp_path / "exists.mp4").read_bytes() == b"keep me"
    with pytest.raises(VideoError, match="is the input; the stylised clip would replace it"):  # even with --overwrite
        stylize_video(identity, clip, clip.parent / "." / clip.name, overwrite=True, progress=False)
    stylize_video(identity, clip, tmp_path / "frames", max_frames=2, progress=False)  # a clip's frames, then again
    with pytest.raises(VideoError, match="frames: already holds frame_000001.png; pass --overwrite"):
        stylize_video(identity, clip, tmp_path / "frames", max_frames=2, progress=False)


def test_the_script_end_to_end_and_its_errors(tmp_path, clip):
    torch.manual_seed(0)
    model = save_stylizer(TransformerNet(4, 1), tmp_path / "tiny.safetensors", style="wave")
    run = lambda *args: subprocess.run([sys.executable, "scripts/stylize_video.py", "--model", str(model), *args],  # noqa: E731
                                       cwd=ROOT, capture_output=True, text=True)
    ok = run("--input", str(clip), "--output", str(tmp_path / "out.mp4"), "--quiet", "--preserve-color", "--strength", "0.5")
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert "48 frames 64x48" in ok.stdout and "audio: copied (aac)" in ok.stdout
    (tmp_path / "bad.mp4").write_text("nope")
    bad = run_here(ROOT / "scripts" / "stylize_video.py", ["--model", model, "--input", tmp_path / "bad.mp4",
                                                           "--output", tmp_path / "o.mp4", "--quiet"])
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_evaluate_video_scores_flicker_and_losses_and_motion_clips_are_written(tmp_path, clip):
    import json
    from stylenet.video.evaluate import main as evaluate_main
    from stylenet.video.synthetic import main as clips_main
    torch.manual_seed(0)
    model = save_stylizer(TransformerNet(4, 1), tmp_path / "tiny.safetensors", style="wave", style_image="wave.jpg",
                          style_size=64)
    code = evaluate_main(["--model", str(model), "--count", "1", "--motions", "pan", "--frames", "3", "--size", "48",
                          "--clip", str(clip), "--clip-frames", "4", "--clip-size", "48", "--clip-start", "40", "--out", str(tmp_path / "ev"),
                          "--device", "cpu"])
    assert code == 0
    rows = json.loads((tmp_path / "ev" / "evaluation.json").read_text())["rows"]
    assert rows[0]["model"] == "input (the floor)" and rows[1]["painting"] == "wave"
    assert all(r["synthetic"] > 0 and r["real"] > 0 for r in rows) and rows[1]["style"] > 0 and rows[1]["content"] > 0
    assert "warping error, synthetic" in (tmp_path / "ev" / "evaluation.md").read_text()
    assert evaluate_main(["--model", str(tmp_path / "nope.safetensors"), "--count", "1", "--frames", "2",
                          "--size", "32", "--out", str(tmp_path / "ev2")]) == 2
    assert clips_main(["--count", "1", "--motions", "zoom", "--frames", "5", "--size", "40", "--out", str(tmp_path / "mc")]) == 0
    info, frames, _ = decode(next((tmp_path / "mc").glob("*_zoom.mp4")))
    flows = np.load(next((tmp_path / "mc").glob("*_zoom.flow.npy")))
    assert len(frames) == 5 and (info.width, info.height) == (40, 30) and flows.shape == (5, 2, 30, 40)


def test_real_clip_starts_where_asked_and_needs_two_frames(clip):
    from stylenet.video.evaluate import real_clip
    late = real_clip(clip, 4, 64, start=44)
    early = real_clip(clip, 4, 64)
    assert late.frames.shape == (4, 3, 48, 64) and not torch.allclose(late.frames[0], early.frames[0])
    with pytest.raises(VideoError, match="fewer than 2 frames"):
        real_clip(clip, 4, 64, start=47)


def _two_style_stylizer():
    torch.manual_seed(0)
    net = TransformerNet(4, 1, num_styles=2)
    for m in net.modules():
        if isinstance(m, InstanceNorm):  # the two styles differ
            torch.nn.init.normal_(m.weight, 1.0, 0.5)
    meta = {"styles": [{"name": "wave", "image": "wave.jpg", "size": 64, "weight": 1.0},
                       {"name": "udnie", "image": "udnie.jpg", "size": 64, "weight": 1.0}], "model": net.config()}
    return Stylizer(net, meta)


def test_tiles_and_a_style_mix_of_a_multi_style_model(clip, tmp_path):
    stylizer = _two_style_stylizer()
    summary = stylize_video(stylizer, clip, tmp_path / "mix.mp4", max_frames=8, progress=False, tile=32, overlap=8,
                            style="wave=0.5,udnie=0.5")
    _, frames, _ = decode(tmp_path / "mix.mp4")
    assert summary.frames == len(frames) == 8
    _, source, _ = decode(clip)
    x = torch.from_numpy(np.stack(source[:2])).permute(0, 3, 1, 2).float() / 255
    expected = stylizer(x, tile=32, overlap=8, style="wave=0.5,udnie=0.5")
    got = torch.from_numpy(np.stack(frames[:2])).permute(0, 3, 1, 2).float() / 255
    assert (got - expected).abs().mean() < 0.03  # the mix, tiled, up to the codec
    with pytest.raises(ValueError):  # a multi-style model needs a style: one line from the stylizer
        stylize_video(stylizer, clip, tmp_path / "none.mp4", max_frames=4, progress=False)
    assert not (tmp_path / "none.mp4").exists()


def test_a_mask_clip_places_the_styles_frame_by_frame(clip, tmp_path, capsys):
    from PIL import Image

    from stylenet.video.cli import main
    from stylenet.video.masks import MaskClip

    stylizer = _two_style_stylizer()
    masks = tmp_path / "masks"
    masks.mkdir()
    levels = [0, 255, 255, 0, 255, 0]  # black: wave, white: udnie; frame by frame
    for i, level in enumerate(levels):
        Image.new("L", (16, 12) if i else (32, 24), level).save(masks / f"m{i:02d}.png")  # any sizes: resized
    mask = MaskClip(masks)
    stylize_video(stylizer, clip, tmp_path / "out", max_frames=6, progress=False, batch_size=4, style="wave,udnie",
                  mask=mask)  # batches of 4 and 2: the masks stay in step
    mask.close()
    _, source, _ = decode(clip)
    got = [np.asarray(Image.open(p), float) for p in sorted((tmp_path / "out").glob("*.png"))]
    for frame, level, out in zip(source, levels, got):
        x = torch.from_numpy(frame).permute(2, 0, 1).float() / 255
        near = {name: np.abs(stylizer(x, style=name).permute(1, 2, 0).numpy() * 255 - out).mean() for name in ("wave", "udnie")}
        assert near["udnie" if level else "wave"] < 1 < near["wave" if level else "udnie"], near
    short = MaskClip(masks)  # 6 masks for an 8-frame run: one line, and no video
    with pytest.raises(VideoError, match="the mask clip ends after 6 frames"):
        stylize_video(stylizer, clip, tmp_path / "short.mp4", max_frames=8, progress=False, style="wave,udnie", mask=short)
    short.close()
    assert not (tmp_path / "short.mp4").exists()
    with pytest.raises(ValueError, match="3 masks for 2 images"):
        stylizer(torch.rand(2, 3, 16, 16), style="wave,udnie", mask=torch.zeros(3, 1, 16, 16))
    pair = torch.rand(2, 3, 16, 16)  # one (1, 1, H, W) mask serves a whole batch
    torch.testing.assert_close(stylizer(pair, style="wave,udnie", mask=torch.ones(1, 1, 16, 16)), stylizer(pair, style="udnie"),
                               atol=1e-5, rtol=0)
    # The script: a mask video (here the clip itself, by brightness) is read in step; a broken one is one line.
    saved = save_stylizer(stylizer.net, tmp_path / "two.safetensors", styles=stylizer.metadata["styles"])
    args = ["--model", str(saved), "--style", "wave,udnie", "--input", str(clip), "--quiet"]
    assert main([*args, "--style-mask", str(clip), "--output", str(tmp_path / "masked.mp4")]) == 0
    assert len(decode(tmp_path / "masked.mp4")[1]) == 48
    (tmp_path / "broken.mp4").write_bytes(b"not a video")
    assert main([*args, "--style-mask", str(tmp_path / "broken.mp4"), "--output", str(tmp_path / "bad.mp4")]) == 2
    assert "broken.mp4" in capsys.readouterr().err and not (tmp_path / "bad.mp4").exists()


def test_a_folder_of_mixed_sizes_keeps_each_frames_size(tmp_path, stylizer):
    from PIL import Image
    folder = tmp_path / "mixed"
    folder.mkdir()
    sizes = [(40, 30), (40, 30), (24, 36), (40, 30)]
    for i, (w, h) in enumerate(sizes):
        Image.fromarray(moving_frames(1, w, h)[0]).save(folder / f"f{i}.png")
    summary = stylize_video(stylizer, folder, tmp_path / "out", batch_size=3, progress=False)
    assert summary.frames == 4
    for i, (w, h) in enumerate(sizes):
        got = torch.from_numpy(np.array(Image.open(tmp_path / "out" / f"f{i}.png"))).permute(2, 0, 1).float() / 255
        source = torch.from_numpy(np.array(Image.open(folder / f"f{i}.png"))).permute(2, 0, 1).float() / 255
        assert got.shape == (3, h, w) and (got - stylizer(source)).abs().max() <= 1 / 255 + 1e-6


def test_a_clip_to_an_animated_gif_keeps_its_frames_and_timing(clip, tmp_path, stylizer):
    from PIL import Image, ImageSequence

    summary = stylize_video(stylizer, clip, tmp_path / "clip.gif", batch_size=5, progress=False)
    with Image.open(tmp_path / "clip.gif") as gif:
        frames = [(np.asarray(f.convert("RGB")), f.info["duration"]) for f in ImageSequence.Iterator(gif)]
        assert gif.info["loop"] == 0 and gif.size == (64, 48)
    durations = [d for _, d in frames]
    # 24 frames/s in GIF's 10-ms steps: 40 and 50 ms, 2.0 s in all (each frame's end rounded, not its length)
    assert len(frames) == summary.frames == 48 and set(durations) <= {40, 50} and sum(durations) == 2000
    assert summary.audio == "dropped (a GIF has no sound)"
    stylize_video(stylizer, clip, tmp_path / "clip.webp", batch_size=5, progress=False)  # animated WebP: the same timing
    with Image.open(tmp_path / "clip.webp") as webp:
        assert webp.n_frames == 48 and webp.size == (64, 48)
        webp.seek(47)
        webp.load()
        assert webp.info["timestamp"] + webp.info["duration"] == 2000
    _, source, _ = decode(clip)
    expected = (stylizer(torch.from_numpy(source[7]).permute(2, 0, 1).float() / 255) * 255).permute(1, 2, 0).numpy()
    assert np.abs(frames[7][0].astype(float) - expected).mean() < 8  # 256 colours, dithered, of frame 7's stylisation
    # Over 50 frames/s, frames under 20 ms after the last kept one are dropped (browsers slow them to 100 ms).
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, img in enumerate(moving_frames(10, 40, 30)):
        Image.fromarray(img).save(folder / f"f{i:03d}.png")
    stylize_video(identity, folder, tmp_path / "fast.gif", fps=100, progress=False)
    with Image.open(tmp_path / "fast.gif") as gif:
        assert [f.info["duration"] for f in ImageSequence.Iterator(gif)] == [20] * 5


def test_the_video_benchmark_has_a_row_per_precision_with_its_batch(clip, tmp_path):
    from stylenet.bench.video import bench_video, video_table

    model = save_stylizer(TransformerNet(width=4, num_res_blocks=1), tmp_path / "m.safetensors", style="test")
    rows = bench_video(str(clip), [str(model)], compile_modes=(False,), max_frames=6, precisions=("fp32",))
    assert [(r["precision"], r["batch"], r["frames"], r["compiled"]) for r in rows] == [("fp32", 1, 6, False)]
    assert rows[0]["fps"] > 0 and rows[0]["size"] == "64x48"
    rows += bench_video(str(clip), [str(model)], compile_modes=(False,), max_frames=6, batch_size=4)
    table = video_table(rows).splitlines()
    assert table[0].startswith("| model | network | precision | batch |") and len(table) == 4
    assert "| eager | fp32 | 1 | 6 | 64x48 |" in table[2] and "| eager | fp32 | 4 | 6 | 64x48 |" in table[3]
    assert "writer" not in table[0]  # one writer (a thread: eager on a CPU), no column for it
    rows = bench_video(str(clip), [str(model)], compile_modes=(False,), max_frames=6, writers=(False, True, None))
    assert [r["writer"] for r in rows] == ["inline", "thread", "thread"] and all(r["frames"] == 6 for r in rows)
    table = video_table(rows).splitlines()
    assert table[0].startswith("| model | network | precision | batch | writer | frames |") and "| thread | 6 |" in table[3]
