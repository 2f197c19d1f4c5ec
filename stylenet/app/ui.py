"""The Gradio page: a Photo tab (upload or a bundled photo; a zoo style, a mix of two, or any painting;
strength, colours, full resolution; download), a Gallery tab (every zoo style on the photo), a Video tab
and a Live tab (the webcam, stylised as it streams). Every handler turns a bad input into a message in the
page (``gr.Error``), never a stack trace."""
from __future__ import annotations

import functools
import logging
import tempfile
import time
from pathlib import Path

import gradio as gr

from ..paths import resolve_path
from .engine import (GALLERY_SIDE, LIVE_SIDE, MODES, TILE, VIDEO_SECONDS, VIDEO_SIDE, AppError, Choice, Engine,
                     open_photo, preview, save_result)

log = logging.getLogger(__name__)
SAMPLES = sorted(resolve_path("data/sample").glob("*.jpg"))[:8]  # bundled COCO photos (data/sample/CREDITS.csv)
LIVE_MINUTES = 10  # webcam streaming per start: one open page does not hold the server for ever
# System fonts only: the default theme's fonts come from Google Fonts, which an offline machine cannot reach.
THEME = gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])


def guarded(fn):
    """Run a handler; AppError becomes its message in the page, anything else a short generic one (logged
    with its traceback on the server, which goes on serving)."""
    @functools.wraps(fn)
    def wrapper(*args):
        try:
            return fn(*args)
        except AppError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        except gr.Error:
            raise
        except Exception as exc:  # noqa: BLE001 - the page gets a message, the log the details
            log.exception("request failed")
            raise gr.Error(f"Something went wrong ({type(exc).__name__}). The app is still running: try again or "
                           "another file.", print_exception=False) from None
    return wrapper


def _photo_path(upload: str | None, bundled: str | None) -> str | None:
    if upload:
        return upload
    return str(next((p for p in SAMPLES if p.name == bundled), "")) or None


def _preview(path: str | None, what: str = "photo"):
    """The preview of an upload; a file that is not an image clears it, with the reason as a warning in the
    page (Stylise then says it again)."""
    try:
        return preview(path, what)
    except AppError as exc:
        gr.Warning(str(exc))
        return None


def _painting_preview(engine: Engine, path: str | None):
    """A painting's preview, with a warning in the page when it is too small for AdaIN's style size."""
    shown = _preview(path, "painting")
    note = engine.painting_note(path) if shown is not None else None
    if note:
        gr.Warning(note)
    return shown


def build(engine: Engine) -> gr.Blocks:
    styles = engine.styles
    work = Path(tempfile.mkdtemp(prefix="stylenet-app-"))

    def choice(mode, style, style_b, mix, mask, painting, painting_b, alpha, strength, preserve) -> Choice:
        return Choice(mode, style, style_b, float(mix), painting, float(alpha), float(strength), bool(preserve), mask,
                      painting_b)

    @guarded
    def stylise(upload, bundled, full, *picked):
        path = _photo_path(upload, bundled)
        photo = open_photo(path, max_side=None if full else TILE)  # (read at that size: a large JPEG decodes faster)
        start = time.perf_counter()
        out = engine.stylize(photo, choice(*picked), None if full else TILE)
        seconds = time.perf_counter() - start
        file = save_result(out, work / f"{int(time.time() * 1000)}", Path(path).stem + "_stylised", path)
        note = f"{out.width}x{out.height} px in {seconds:.1f} s on {engine.device}"
        return out, str(file), note

    @guarded
    def gallery(upload, bundled, *picked):
        photo = open_photo(_photo_path(upload, bundled), max_side=GALLERY_SIDE)
        return engine.gallery(photo, choice(*picked))

    @guarded
    def video(upload, *picked):
        return str(engine.video(upload, choice(*picked), work / f"{int(time.time() * 1000)}"))

    @guarded
    def live(frame, *picked):
        out = engine.live_frame(frame, choice(*picked))
        return gr.skip() if out is None else out

    @guarded
    def show_photo(upload, bundled):
        return _preview(_photo_path(upload, bundled))

    @guarded
    def pick_bundled(bundled):  # the latest choice wins: picking a bundled photo takes the upload away
        if not bundled:
            return gr.skip(), gr.skip()
        return None, _preview(_photo_path(None, bundled))

    def show_mode(mode):
        mix, paint = mode == MODES[1], mode == MODES[2]
        return (gr.update(visible=not paint), gr.update(visible=mix), gr.update(visible=mix or paint),
                gr.update(visible=mix or paint), gr.update(visible=paint), gr.update(visible=paint), gr.update(visible=paint),
                gr.update(visible=paint))

    with gr.Blocks(title="stylenet", analytics_enabled=False) as page:
        gr.Markdown("## stylenet: neural style transfer\nUpload a photo (or pick a bundled one), choose a style of the "
                    "zoo, mix two, or upload any painting, then **Stylise** (or open **Live** for your webcam).")
        with gr.Row():
            with gr.Column():
                upload = gr.File(label="Photo", type="filepath", elem_id="photo")
                bundled = gr.Dropdown([p.name for p in SAMPLES], value=None, label="...or a bundled photo",
                                      elem_id="bundled")
                shown = gr.Image(label="The photo", type="pil", interactive=False, height=180, buttons=["fullscreen"],
                                 elem_id="photo-preview")
                mode = gr.Radio(list(MODES), value=MODES[0], label="Style from", elem_id="mode")
                style = gr.Dropdown(styles, value=styles[0], label="Style", elem_id="style")
                style_b = gr.Dropdown(styles, value=styles[min(1, len(styles) - 1)], label="Second style",
                                      visible=False, elem_id="style-b")
                mix = gr.Slider(0, 1, 0.5, step=0.05, label="Mix (weight of the second style or painting)",
                                visible=False, elem_id="mix")
                painting = gr.File(label="Painting (any image)", type="filepath", visible=False, elem_id="painting")
                painting_b = gr.File(label="Second painting (optional): mixed by the Mix slider, or placed by a mask",
                                     type="filepath", visible=False, elem_id="painting-b")
                with gr.Row(visible=False) as paintings_shown:
                    painting_shown = gr.Image(label="The painting", type="pil", interactive=False, height=180,
                                              buttons=["fullscreen"], elem_id="painting-preview")
                    painting_b_shown = gr.Image(label="The second painting", type="pil", interactive=False, height=180,
                                                buttons=["fullscreen"], elem_id="painting-b-preview")
                mask = gr.File(label="Mask (optional): the first style where black, the second where white "
                                     "(for a video, a mask video too: a mask per frame)",
                               type="filepath", visible=False, elem_id="mask")
                alpha = gr.Slider(0, 1, 1.0, step=0.05, label="Alpha (painting: content-style trade-off)",
                                  visible=False, elem_id="alpha")
                strength = gr.Slider(0, 1, 1.0, step=0.05, label="Strength (blend with the photo)", elem_id="strength")
                preserve = gr.Checkbox(False, label="Keep the photo's colours", elem_id="preserve")
                full = gr.Checkbox(True, label=f"Full resolution (tiles above {TILE} px)", elem_id="full")
            with gr.Column():
                with gr.Tab("Photo"):
                    go = gr.Button("Stylise", variant="primary", elem_id="stylise")
                    result = gr.Image(label="Result", type="pil", format="png", interactive=False, elem_id="result",
                                      buttons=["download", "fullscreen"])
                    download = gr.File(label="Download (PNG, full size)", interactive=False, elem_id="download")
                    note = gr.Markdown(elem_id="note")
                with gr.Tab("Gallery"):
                    show_all = gr.Button("Every zoo style on this photo", elem_id="gallery-go")
                    shelf = gr.Gallery(label="The zoo", columns=5, elem_id="gallery")
                with gr.Tab("Video"):
                    clip = gr.File(label=f"Video (the first {VIDEO_SECONDS} s, at most {VIDEO_SIDE} px)",
                                   type="filepath", elem_id="clip")
                    go_video = gr.Button("Stylise the video", elem_id="video-go")
                    out_video = gr.Video(label="Stylised video", interactive=False, elem_id="video-out")
                with gr.Tab("Live"):
                    camera = gr.Image(sources=["webcam"], streaming=True, type="pil", label="Webcam (start it below)",
                                      elem_id="camera")
                    live_out = gr.Image(label=f"Live ({LIVE_SIDE} px)", type="pil", interactive=False, elem_id="live-out")
        picked = [mode, style, style_b, mix, mask, painting, painting_b, alpha, strength, preserve]
        mode.change(show_mode, mode, [style, style_b, mix, mask, painting, painting_b, alpha, paintings_shown])
        upload.upload(lambda _: None, upload, bundled)  # an upload replaces a bundled photo picked before
        upload.change(show_photo, [upload, bundled], shown)
        bundled.input(pick_bundled, bundled, [upload, shown])
        painting.change(guarded(lambda path: _painting_preview(engine, path)), painting, painting_shown)
        painting_b.change(guarded(lambda path: _painting_preview(engine, path)), painting_b, painting_b_shown)
        go.click(stylise, [upload, bundled, full, *picked], [result, download, note], concurrency_limit=1)
        show_all.click(gallery, [upload, bundled, *picked], shelf, concurrency_limit=1)
        go_video.click(video, [clip, *picked], out_video, concurrency_limit=1)
        # The page sends a frame every 0.1 s unless the last one is still on its way (Gradio's webcam waits: no
        # backlog, no growing lag), for LIVE_MINUTES per start.
        camera.stream(live, [camera, *picked], live_out, stream_every=0.1, time_limit=LIVE_MINUTES * 60,
                      concurrency_limit=1)
    return page
