"""The web app (stylenet.app): the engine's checks without a browser, then the real page in headless
Chromium (Debian's `chromium`, driven by Playwright) with every request off this machine blocked."""
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from io import BytesIO

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, SAMPLE, STYLES

pytest.importorskip("gradio")
from stylenet.app.engine import MAX_PIXELS, PREVIEW_SIDE, AppError, Choice, Engine, open_photo, preview  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Flags for a sandboxed root process on a machine without a network (see the env notes): no background
# connections, no first-run work.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 # Chromium's own test camera (a green frame with a turning disc), allowed without asking: the Live tab.
                 "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
PHOTO = sorted(SAMPLE.glob("*.jpg"))[0]
# One worker runs this whole module under `make test` (pytest -n 2 --dist loadgroup): one app server and one browser,
# and the server-log test reads the log of the server the browser tests used.
pytestmark = pytest.mark.xdist_group("app")


@pytest.fixture(scope="module")
def engine():
    return Engine("cpu")


def test_open_photo_refuses_bad_uploads_with_a_message(tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(AppError, match="not an image this app can read"):
        open_photo(broken)
    huge = tmp_path / "huge.png"
    Image.new("1", (8000, 6000)).save(huge)  # 48 MP, a few KB on disk
    with pytest.raises(AppError, match=f"the limit is {MAX_PIXELS / 1e6:.0f} megapixels"):
        open_photo(huge)
    with pytest.raises(AppError, match="Upload a photo"):
        open_photo(None)
    rgba = tmp_path / "alpha.png"
    Image.new("RGBA", (20, 10), (255, 0, 0, 0)).save(rgba)
    assert open_photo(rgba).getpixel((0, 0)) == (255, 255, 255)  # transparent -> white


def test_preview_shows_the_photo_as_it_will_be_stylised(tmp_path):
    assert preview(None) is None  # nothing chosen yet: an empty preview, no message
    turned = tmp_path / "turned.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # EXIF orientation: rotate 90 degrees clockwise to view
    stored = Image.new("RGB", (1000, 500), (200, 30, 30))
    stored.paste((30, 30, 200), (500, 0, 1000, 500))  # stored: red left, blue right; shown upright: red on top
    stored.save(turned, exif=exif)
    shown = preview(turned)
    assert shown.size == (PREVIEW_SIDE // 2, PREVIEW_SIDE)
    assert shown.getpixel((96, 20))[0] > 150 > shown.getpixel((96, PREVIEW_SIDE - 20))[0]
    small = tmp_path / "small.png"
    Image.new("RGB", (300, 200), (0, 90, 0)).save(small)
    assert preview(small).size == (300, 200)  # small photos are shown as they are, never enlarged
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    with pytest.raises(AppError, match="The painting broken.png is not an image"):
        preview(broken, "painting")


def test_engine_styles_mixes_and_full_resolution(engine, tmp_path):
    photo = Image.open(PHOTO).convert("RGB")
    out = engine.stylize(photo, Choice(style="wave"))
    assert out.size == photo.size
    mixed = engine.stylize(photo, Choice(mode="mix two styles", style="wave", style_b="udnie", mix=0.5))
    assert np.abs(np.asarray(mixed, float) - np.asarray(out, float)).mean() > 1
    small = engine.stylize(photo, Choice(style="wave"), max_side=100)
    assert max(small.size) == 100
    mask = tmp_path / "mask.png"
    Image.new("L", photo.size, 255).save(mask)  # all white: the second style everywhere
    placed = engine.stylize(photo, Choice(mode="mix two styles", style="wave", style_b="udnie", mask=str(mask)))
    udnie = engine.stylize(photo, Choice(style="udnie"))
    assert np.abs(np.asarray(placed, float) - np.asarray(udnie, float)).max() <= 1
    opened = engine._still_mask[1]
    engine.live_frame(photo, Choice(mode="mix two styles", style="wave", style_b="udnie", mask=str(mask)))
    assert engine._still_mask[1] is opened  # the same upload: not opened again for every webcam frame
    (tmp_path / "notes.png").write_text("not a mask")
    with pytest.raises(AppError, match="mask notes.png is not an image"):
        engine.stylize(photo, Choice(mode="mix two styles", style="wave", style_b="udnie", mask=str(tmp_path / "notes.png")))
    shelf = engine.gallery(photo, Choice(strength=0.5))
    assert [name for _, name in shelf] == engine.styles and all(max(im.size) <= 512 for im, _ in shelf)
    with pytest.raises(AppError, match="Choose a style"):
        engine.stylize(photo, Choice(style="nope"))
    with pytest.raises(AppError, match="painting"):
        engine.stylize(photo, Choice(mode="any painting"))
    not_video = tmp_path / "clip.mp4"
    not_video.write_bytes(b"nothing")
    with pytest.raises(AppError, match="Cannot read this video"):
        engine.video(not_video, Choice(style="wave"))


def test_engine_live_frames_use_the_light_zoo_and_never_wait(engine):
    from stylenet import load_stylizer
    from stylenet.app.engine import LIVE_SIDE
    from stylenet.image import float_to_pil, pil_to_float

    frame = Image.open(PHOTO).convert("RGB")
    out = engine.live_frame(frame, Choice(style="wave"))
    assert max(out.size) == LIVE_SIDE and engine.live.metadata["model"]["full_resolution"] is False  # zoo_fast
    small = frame.copy()
    small.thumbnail((LIVE_SIDE, LIVE_SIDE), Image.LANCZOS)
    expected = float_to_pil(load_stylizer("zoo_fast", style="wave")(pil_to_float(small)))
    assert np.abs(np.asarray(out, float) - np.asarray(expected, float)).max() <= 1
    assert engine.live_frame(None, Choice(style="wave")) is None  # the camera has not sent a frame yet
    with engine._lock:  # a photo or a video is being stylised: the frame is dropped, not queued
        assert engine.live_frame(frame, Choice(style="wave")) is None
    with pytest.raises(AppError, match="Choose a style"):
        engine.live_frame(frame, Choice(style="nope"))


def test_a_painting_too_small_for_adain_gets_a_note_for_the_page(engine, tmp_path):
    if engine.adain is None:
        pytest.skip("no bundled AdaIN model")
    Image.open(STYLES / "wave.jpg").convert("RGB").resize((60, 40)).save(tmp_path / "tiny.png")
    assert engine.painting_note(str(tmp_path / "tiny.png")) == (
        f"The painting is only 60x40 px: it is enlarged {engine.adain.style_size / 60:.1f}x to "
        f"{engine.adain.style_size} px, so its brushwork turns to blur. A scan of at least "
        f"{engine.adain.style_size // 2} px gives its real strokes.")
    (tmp_path / "broken.png").write_bytes(b"no")
    assert engine.painting_note(str(STYLES / "wave.jpg")) is None and engine.painting_note(None) is None
    assert engine.painting_note(str(tmp_path / "broken.png")) is None  # (the preview says what is wrong)


def test_engine_encodes_a_painting_once_and_a_new_upload_again(engine, tmp_path):
    if engine.adain is None:
        pytest.skip("no bundled AdaIN model")
    photo = Image.open(PHOTO).convert("RGB")
    scream, wave = STYLES / "the_scream.jpg", tmp_path / "wave.jpg"
    wave.write_bytes((STYLES / "wave.jpg").read_bytes())
    first = engine.live_frame(photo, Choice(mode="any painting", painting=str(scream)))
    target = engine._painting[1]
    again = engine.live_frame(photo, Choice(mode="any painting", painting=str(scream), alpha=0.5))
    assert engine._painting[1] is target  # the same upload: its statistics are not computed again
    other = engine.live_frame(photo, Choice(mode="any painting", painting=str(wave)))
    assert engine._painting[1] is not target
    arr = lambda im: np.asarray(im, float)
    assert np.abs(arr(first) - arr(again)).mean() > 1 and np.abs(arr(first) - arr(other)).mean() > 5
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a painting")
    with pytest.raises(AppError, match="painting broken.jpg is not an image"):
        engine.live_frame(photo, Choice(mode="any painting", painting=str(broken)))
    # A second painting: mixed evenly, or placed by a mask (all white: the second painting everywhere).
    mask = tmp_path / "mask.png"
    Image.new("L", (8, 8), 255).save(mask)
    both = dict(mode="any painting", painting=str(scream), painting_b=str(wave))
    placed = engine.stylize(photo, Choice(**both, mask=str(mask)), max_side=160)
    alone = engine.stylize(photo, Choice(mode="any painting", painting=str(wave)), max_side=160)
    mixed = engine.stylize(photo, Choice(**both), max_side=160)
    assert np.abs(arr(placed) - arr(alone)).max() <= 1 and np.abs(arr(mixed) - arr(alone)).mean() > 1
    # The mix slider weighs the second painting (was: always half and half), without encoding either again.
    scream_alone = engine.stylize(photo, Choice(mode="any painting", painting=str(scream)), max_side=160)
    first_only = engine.stylize(photo, Choice(**both, mix=0.0), max_side=160)
    encoded = engine._painting[1]
    second_only = engine.stylize(photo, Choice(**both, mix=1.0), max_side=160)
    mostly_second = engine.stylize(photo, Choice(**both, mix=0.8), max_side=160)
    assert np.abs(arr(first_only) - arr(scream_alone)).max() <= 1 and np.abs(arr(second_only) - arr(alone)).max() <= 1
    assert np.abs(arr(mostly_second) - arr(alone)).mean() < np.abs(arr(mixed) - arr(alone)).mean()
    engine.stylize(photo, Choice(**both, mix=0.3), max_side=160)
    assert engine._painting[1] is encoded
    with pytest.raises(AppError, match="second painting for the mask"):
        engine.stylize(photo, Choice(mode="any painting", painting=str(scream), mask=str(mask)))
    with pytest.raises(AppError, match="second painting broken.jpg is not an image"):
        engine.stylize(photo, Choice(mode="any painting", painting=str(scream), painting_b=str(broken)))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    if CHROMIUM is None:
        pytest.skip("no chromium on this machine (CI installs Debian's chromium package: .ci/run)")
    pytest.importorskip("playwright")
    port = _free_port()
    log = tmp_path_factory.mktemp("app") / "app.log"
    # The server's network is blocked too: every outside HTTP(S) request goes to a dead proxy and fails.
    dead = "http://127.0.0.1:9"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "HTTP_PROXY": dead, "HTTPS_PROXY": dead, "http_proxy": dead,
           "https_proxy": dead, "ALL_PROXY": dead, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "stylenet.app", "--port", str(port), "--device", "cpu"],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 120
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            assert proc.poll() is None and time.time() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
    yield url, log
    proc.terminate()
    proc.wait(timeout=30)
    _no_outside_requests(log)  # after every test this worker ran against this server (whatever xdist's grouping)


@pytest.fixture(scope="module")
def page(app):
    from playwright.sync_api import sync_playwright

    external: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, permissions=["camera"])

        def offline(route):  # the network is blocked: anything not on this machine is refused, and noted
            if route.request.url.startswith(("http://127.0.0.1", "http://localhost", "data:", "blob:")):
                route.continue_()
            else:
                external.append(route.request.url)
                route.abort()

        context.route("**/*", offline)
        tab = context.new_page()
        tab.goto(app[0])
        tab.wait_for_selector("#stylise", timeout=60_000)
        tab.external = external
        yield tab
        browser.close()


def _href(page) -> str | None:
    link = page.locator("#download a")
    return link.first.get_attribute("href") if link.count() else None


def _upload_photo(page) -> None:
    """Put PHOTO in the photo box (clearing what it holds: the box takes one file)."""
    clear = page.locator("#photo").get_by_role("button", name="Clear")
    if clear.count():
        clear.click()
    page.set_input_files("#photo input[type=file]", str(PHOTO))


def _preview(page, selector: str, old: str | None = None) -> Image.Image:
    """The image a preview shows (once its source is not ``old``)."""
    img = page.locator(f"{selector} img")
    deadline = time.time() + 60
    while not img.count() or img.first.get_attribute("src") in (None, old):
        assert time.time() < deadline, f"no preview in {selector} within 60 s"
        page.wait_for_timeout(200)
    return Image.open(BytesIO(page.request.get(img.first.get_attribute("src")).body()))


def _stylise(page) -> Image.Image:
    """Click Stylise and return the new result file (the download link's target once it changes)."""
    before = _href(page)
    page.click("#stylise")
    deadline = time.time() + 120
    while _href(page) in (None, before):
        assert time.time() < deadline, "no result within 120 s"
        page.wait_for_timeout(200)
    return Image.open(BytesIO(page.request.get(_href(page)).body()))


def test_browser_bad_upload_shows_a_message_then_a_photo_is_stylised(page, app, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 definitely not a photo")
    page.set_input_files("#photo input[type=file]", str(broken))
    message = page.get_by_text("is not an image this app can read")
    message.first.wait_for(timeout=60_000)  # at once, from the preview
    assert page.locator("#photo-preview img").count() == 0
    page.click("#stylise")
    deadline = time.time() + 60
    while message.count() < 2:  # ... and again from Stylise, which has nothing to stylise
        assert time.time() < deadline, "Stylise gave no message for a broken upload"
        page.wait_for_timeout(200)
    for close in page.locator(".toast-close").all():  # dismiss the message (the screenshot below shows a result)
        close.click()
    # The server goes on serving: the next request works.
    _upload_photo(page)
    page.locator("#style input").click()
    page.get_by_role("option", name="wave", exact=True).click()
    result = _stylise(page).convert("RGB")
    original = Image.open(PHOTO).convert("RGB")
    shown = _preview(page, "#photo-preview")  # the photo as it will be stylised, beside the controls
    assert max(shown.size) == min(PREVIEW_SIDE, max(original.size))
    small = original.resize(shown.size, Image.LANCZOS)
    assert np.abs(np.asarray(shown.convert("RGB"), float) - np.asarray(small, float)).mean() < 3
    assert result.size == original.size  # full resolution
    assert np.abs(np.asarray(result, float) - np.asarray(original, float)).mean() > 10  # stylised, not a copy
    page.get_by_text(f"{original.width}x{original.height} px").first.wait_for(timeout=10_000)
    shot = tmp_path / "app.jpg"
    page.screenshot(path=str(shot), full_page=True, type="jpeg", quality=85)
    if os.environ.get("STYLENET_SCREENSHOT"):  # refresh the README's screenshot: STYLENET_SCREENSHOT=1 make test
        shutil.copy(shot, ROOT / "docs" / "app.jpg")
    assert page.external == [], page.external  # nothing off this machine was asked for: works offline
    assert "Traceback" not in page.content()


def test_browser_the_latest_photo_choice_wins_and_is_shown(page):
    portrait = next(p for p in sorted(SAMPLE.glob("*.jpg"))[:8] if Image.open(p).height > Image.open(p).width)
    _upload_photo(page)
    landscape = _preview(page, "#photo-preview")
    assert landscape.width > landscape.height
    page.locator("#style input").click()
    page.get_by_role("option", name="wave", exact=True).click()
    page.locator("#bundled input").click()
    page.get_by_role("option", name=portrait.name, exact=True).click()  # picked after the upload: this one is used
    shown = _preview(page, "#photo-preview", old=page.locator("#photo-preview img").first.get_attribute("src"))
    assert shown.height > shown.width
    page.get_by_text(PHOTO.name).wait_for(state="detached", timeout=30_000)  # the upload is taken away
    assert _stylise(page).size == Image.open(portrait).size
    _upload_photo(page)  # and an upload after it replaces the bundled photo
    assert _preview(page, "#photo-preview", old=page.locator("#photo-preview img").first.get_attribute("src")).width \
        > shown.width
    assert page.locator("#bundled input").input_value() == ""
    assert _stylise(page).size == Image.open(PHOTO).size
    assert page.external == []


def test_browser_any_painting_mode(page, tmp_path):
    if not (ROOT / "stylenet" / "pretrained" / "adain.safetensors").is_file():
        pytest.skip("no bundled AdaIN model")
    from stylenet import load_stylizer

    _upload_photo(page)  # the page is shared by this module's tests; this one does not rely on an earlier upload
    page.get_by_label("any painting").check()
    page.set_input_files("#painting input[type=file]", str(STYLES / "the_scream.jpg"))
    scream = Image.open(STYLES / "the_scream.jpg")
    shown = _preview(page, "#painting-preview")  # the painting is shown beside the controls
    assert max(shown.size) == PREVIEW_SIDE and shown.size[0] / shown.size[1] == pytest.approx(scream.width / scream.height, 0.01)
    result = _stylise(page)
    assert result.size == Image.open(PHOTO).size
    # A second painting placed by an all-white mask: the second painting everywhere (the fields are wired).
    Image.new("L", (8, 8), 255).save(tmp_path / "white.png")
    page.set_input_files("#painting-b input[type=file]", str(STYLES / "wave.jpg"))
    assert page.locator("#mix").is_visible()  # the second painting's weight
    page.set_input_files("#mask input[type=file]", str(tmp_path / "white.png"))
    placed = np.asarray(_stylise(page).convert("RGB"), float)
    wave = np.asarray(load_stylizer("adain", style=str(STYLES / "wave.jpg"))(Image.open(PHOTO).convert("RGB")), float)
    assert np.abs(placed - wave).mean() < 1 < np.abs(placed - np.asarray(result.convert("RGB"), float)).mean()
    # A painting too small for the style size: shown, with a warning in the page.
    Image.open(STYLES / "wave.jpg").convert("RGB").resize((60, 40)).save(tmp_path / "tiny.png")
    page.locator("#painting button[aria-label='Clear']").click()  # (a File field holding a file has no input)
    page.set_input_files("#painting input[type=file]", str(tmp_path / "tiny.png"))
    page.get_by_text("The painting is only 60x40 px").first.wait_for(timeout=30_000)
    for close in page.locator(".toast-close").all():
        close.click()
    assert page.external == []


def test_browser_live_tab_stylises_the_webcam_as_it_streams(page):
    from stylenet.app.engine import LIVE_SIDE

    page.get_by_label("zoo style").check()
    page.get_by_role("tab", name="Live").click()
    page.get_by_text("Click to Access Webcam").click()
    page.locator("#camera button", has_text="Record").click()
    seen: list[str] = []
    deadline = time.time() + 120
    while len(seen) < 3:  # the stream goes on: new frames keep coming
        assert time.time() < deadline, f"{len(seen)} live frames within 120 s"
        src = page.locator("#live-out img").first.get_attribute("src") if page.locator("#live-out img").count() else None
        if src and src not in seen:
            seen.append(src)
        page.wait_for_timeout(100)
    page.locator("#camera button", has_text="Stop").click()
    frame = np.asarray(Image.open(BytesIO(page.request.get(seen[-1]).body())).convert("RGB"), float)
    assert max(frame.shape[:2]) == LIVE_SIDE  # the test camera's 640x480, at 320 px
    # The test camera is all green (the background 0,128,0 and a brighter disc): a stylised frame is not.
    assert frame[..., 0].mean() > 40 and frame[..., 2].mean() > 40, frame.mean((0, 1))
    assert page.external == []


def _no_outside_requests(log) -> None:
    lines = [line for line in log.read_text().splitlines() if "HTTP Request:" in line]
    assert all("127.0.0.1" in line or "localhost" in line for line in lines), lines


def test_the_server_made_no_outside_requests(app):
    _no_outside_requests(app[1])  # so far; the fixture checks again once the browser tests are done


def test_engine_stylises_the_start_of_a_video(engine, tmp_path):
    from test_video import make_clip

    from stylenet.video.io import VideoReader

    clip = make_clip(tmp_path / "clip.mp4", frames=12, fps=12, audio=False)
    out = engine.video(clip, Choice(style="udnie", strength=0.8), tmp_path / "out")
    reader = VideoReader(out)
    assert (reader.info.width, reader.info.height) == (64, 48)
    assert sum(1 for _ in reader.frames()) == 12
    reader.close()
    mask = tmp_path / "mask.png"
    Image.new("L", (8, 8), 255).save(mask)  # any size (resized to the frames); white: the second style, udnie
    masked = engine.video(clip, Choice(mode="mix two styles", style="wave", style_b="udnie", mask=str(mask),
                                       strength=0.8), tmp_path / "masked")
    first = lambda path: next(iter(VideoReader(path).frames())).to_ndarray(format="rgb24").astype(float)
    assert np.abs(first(masked) - first(out)).mean() < 1  # as udnie alone: the mask reached the frames
    # A mask video: a mask per frame (here black, then white: wave, then udnie).
    from test_video import av

    mask_clip = tmp_path / "mask.mp4"
    with av.open(str(mask_clip), "w") as container:
        stream = container.add_stream("libx264", rate=12)
        stream.width, stream.height, stream.pix_fmt = 16, 16, "yuv420p"
        for level in [0] * 6 + [255] * 6:
            frame = av.VideoFrame.from_ndarray(np.full((16, 16, 3), level, np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    per_frame = engine.video(clip, Choice(mode="mix two styles", style="wave", style_b="udnie", mask=str(mask_clip),
                                          strength=0.8), tmp_path / "per_frame")
    wave = engine.video(clip, Choice(style="wave", strength=0.8), tmp_path / "wave")
    frames = lambda path: [f.to_ndarray(format="rgb24").astype(float) for f in VideoReader(path).frames()]
    got, as_wave, as_udnie = frames(per_frame), frames(wave), frames(out)
    near = lambda i, a, b: np.abs(got[i] - a[i]).mean() * 3 < np.abs(got[i] - b[i]).mean()  # (up to the codec)
    assert near(1, as_wave, as_udnie) and near(9, as_udnie, as_wave), [
        np.abs(got[i] - a[i]).mean() for i in (1, 9) for a in (as_wave, as_udnie)]  # black: wave; white: udnie
    with pytest.raises(AppError, match="a mask video works in the Video tab"):
        engine.stylize(Image.open(PHOTO).convert("RGB"), Choice(mode="mix two styles", style="wave", style_b="udnie",
                                                                 mask=str(mask_clip)))
    if engine.adain is not None:  # a painting's alpha reaches the frames (it was lost once: the cached style won)
        painting = dict(mode="any painting", painting=str(STYLES / "wave.jpg"))
        full, weak = (engine.video(clip, Choice(**painting, alpha=a), tmp_path / f"alpha{a}") for a in (1.0, 0.2))
        assert np.abs(first(full) - first(weak)).mean() > 5


def test_a_port_in_use_is_one_line_before_the_models_load(capsys):
    from stylenet.app.__main__ import main

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot serve on 127.0.0.1:{port}: ") and "another --port" in err and err.count("\n") == 1


def test_the_app_stylises_in_the_precision_it_was_given_and_auto_says_which(monkeypatch, capsys):
    import stylenet.app.__main__ as app_main
    import stylenet.app.engine as engine_module
    import stylenet.app.ui as ui
    import stylenet.hardware as hardware

    engine = Engine("cpu", precision="bf16")  # every model of the app (bf16: built, not run, on any CPU)
    assert engine.zoo.precision == engine.live.precision == engine.adain.precision == "bf16"

    # python -m stylenet.app on a (faked) Zen 4: auto takes bf16 and says so; stopped before the server starts.
    class Launched(Exception):
        pass

    def build(engine):
        raise Launched

    made = {}
    fake = hardware.Hardware("cpu", "CPU", cpu_flags=frozenset({"avx512_bf16"}), bf16_speedup=1.6)
    monkeypatch.setattr(hardware, "probe", lambda kind, measure_bf16=True: fake)
    monkeypatch.setattr(engine_module, "Engine", lambda device, precision: made.update(precision=precision) or engine)
    monkeypatch.setattr(ui, "build", build)
    monkeypatch.setattr(app_main, "port_problem", lambda host, port: None)
    with pytest.raises(Launched):
        app_main.main(["--device", "cpu"])
    assert made["precision"] == "bf16"
    assert "models on cpu in bf16 (auto: CPU with AVX512-BF16, bf16 measured 1.60x" in capsys.readouterr().out
