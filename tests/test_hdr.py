"""HDR clips (stylenet.video.hdr): HLG and PQ frames tone-mapped to the sRGB the networks know, and the output
tagged SDR BT.709. Test clips are made here from known sRGB colours by the inverse steps (BT.2100's formulas),
so an SDR colour put into an HDR clip must come back as itself (below the highlight knee)."""
import numpy as np
import pytest
import torch

from stylenet.video.hdr import (BT2020_TO_BT709, HLG, HLG_PEAK, LUMA_2020, PEAK, PQ, REFERENCE_WHITE, hdr_to_srgb,
                                roll_off)

av = pytest.importorskip("av")
# Flat patches: a skin tone, mid grey, a saturated red, sky blue, a dark green, near-white (above the knee).
COLOURS = np.array([[224, 172, 140], [128, 128, 128], [200, 30, 30], [90, 150, 220], [20, 80, 30], [250, 250, 250]],
                   np.uint8)


def _linear(srgb: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(srgb.astype(np.float64) / 255)
    return torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def _to_hdr_signal(srgb: np.ndarray, transfer: int) -> np.ndarray:
    """sRGB (..., 3) uint8 -> the BT.2020 R'G'B' signal (..., 3) uint16 that shows it on an HDR display."""
    nits = (_linear(srgb) @ torch.linalg.inv(torch.from_numpy(BT2020_TO_BT709).double()).T).clamp(min=0) * REFERENCE_WHITE
    if transfer == PQ:  # inverse EOTF (SMPTE ST 2084)
        m1, m2, c1, c2, c3 = 2610 / 16384, 2523 / 4096 * 128, 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32
        y = (nits / 10000) ** m1
        e = ((c1 + c2 * y) / (1 + c3 * y)) ** m2
    else:  # inverse OOTF (gamma 1.2 at HLG_PEAK), then the OETF
        yd = (nits @ torch.from_numpy(LUMA_2020).double() / HLG_PEAK).clamp(min=1e-12).unsqueeze(-1)
        scene = nits / HLG_PEAK * yd ** (1 / 1.2 - 1)
        a, b, c = 0.17883277, 0.28466892, 0.55991073
        e = torch.where(scene <= 1 / 12, (3 * scene).sqrt(), a * torch.log((12 * scene - b).clamp(min=1e-12)) + c)
    return (e.clamp(0, 1) * 65535).round().numpy().astype(np.uint16)


@pytest.mark.parametrize("transfer", [HLG, PQ])
def test_sdr_colours_in_an_hdr_signal_come_back(transfer):
    out = hdr_to_srgb(_to_hdr_signal(COLOURS[None], transfer), transfer)[0].astype(int)
    assert np.abs(out[:5] - COLOURS[:5]).max() <= 1  # below the knee: as they were
    assert 230 < out[5].min() < 250  # near-white is rolled off, not clipped
    y = roll_off(np.linspace(0, PEAK, 200))
    assert (np.diff(y) > 0).all() and y[-1] == pytest.approx(1) and y.max() <= 1  # monotonic, 1 at the peak


def _hdr_clip(path, transfer, frames=4, size=(64, 48)):
    """A 10-bit H.264 clip of COLOURS in stripes, tagged BT.2020 with the HDR ``transfer``."""
    stripes = np.repeat(COLOURS, -(-size[0] // len(COLOURS)), axis=0)[:size[0]]
    image = np.broadcast_to(stripes[None], (size[1], size[0], 3))
    signal = _to_hdr_signal(np.ascontiguousarray(image), transfer)
    out = av.open(str(path), "w")
    video = out.add_stream("libx264", rate=24, options={"crf": "0"})
    video.width, video.height, video.pix_fmt = *size, "yuv444p10le"
    cc = video.codec_context
    cc.colorspace, cc.color_primaries, cc.color_trc, cc.color_range = 9, 9, transfer, 1
    for _ in range(frames):
        frame = av.VideoFrame.from_ndarray(signal, format="rgb48le")
        frame = frame.reformat(format="yuv444p10le", dst_colorspace=9, src_color_range=2, dst_color_range=1)
        frame.colorspace, frame.color_primaries, frame.color_trc, frame.color_range = 9, 9, transfer, 1
        for packet in video.encode(frame):
            out.mux(packet)
    for packet in video.encode():
        out.mux(packet)
    out.close()
    return path, image


@pytest.mark.parametrize("transfer", [HLG, PQ])
def test_an_hdr_clip_is_read_in_sdr_colours_and_written_as_bt709(tmp_path, transfer, capsys):
    from stylenet.video.cli import main
    from stylenet.video.io import VideoReader, to_rgb

    clip, image = _hdr_clip(tmp_path / "hdr.mp4", transfer)
    reader = VideoReader(clip)
    assert reader.info.transfer == transfer
    rgb = to_rgb(next(reader.frames())).astype(int)
    reader.close()
    inner = np.concatenate([np.arange(i * 11 + 2, i * 11 + 9) for i in range(5)])  # inside the stripes
    error = np.abs(rgb[:, inner] - image[:, inner].astype(int))
    assert error.mean() < 2 and error.max() <= 6  # the colours as an SDR viewer saw them (10-bit steps of PQ: ~5)
    assert main(["--model", "wave", "--input", str(clip), "--output", str(tmp_path / "out.mp4"), "--quiet",
                 "--precision", "fp32", "--strength", "0"]) == 0  # strength 0: the frames as read
    assert "HDR tone-mapped to SDR (BT.709)" in capsys.readouterr().out
    with av.open(str(tmp_path / "out.mp4")) as c:
        frame = next(c.decode(video=0))
        assert (frame.colorspace, frame.color_primaries, frame.color_trc) == (1, 1, 1)
        back = to_rgb(frame).astype(int)
    assert np.abs(back[:, inner] - image[:, inner].astype(int)).mean() < 3
