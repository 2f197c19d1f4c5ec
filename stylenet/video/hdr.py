"""HDR video (a phone's HLG, the iPhone's default since the 12; PQ / HDR10 from cameras and streaming masters)
tone-mapped to the SDR sRGB / BT.709 frames the networks were trained on. Read as if SDR, such a clip comes out
washed out and dim (BT.2020 primaries taken for BT.709, an HDR curve for a gamma one); FFmpeg's own tone
mapping needs zimg, which PyAV's wheels do not carry. The steps, in linear light:

1. the decoded R'G'B' (16-bit, full range, BT.2020) to display light in cd/m2: PQ's EOTF (SMPTE ST 2084), or
   HLG's inverse OETF and its OOTF for a 1,000-cd/m2 display (ITU-R BT.2100, system gamma 1.2);
2. BT.2020 to BT.709 primaries (ITU-R BT.2087's matrix), out-of-gamut negatives clipped;
3. HDR reference white (203 cd/m2, ITU-R BT.2408: HLG's 75% signal) to SDR white, linear below a knee at 75%
   of it and a smooth roll-off above (slope 1 at the knee, 1,000 cd/m2 to 1.0, brighter clipped), on each
   pixel's largest channel so hues are kept;
4. sRGB's curve (IEC 61966-2-1), 8-bit.

The per-channel curves are 65,536-entry tables (NumPy, float32): 75-98 ms a 1080p frame on a Zen 4 EPYC core
(measured 2026-12-07), beside 0.2-1 s of stylising it on 2 cores.

Outputs of an HDR clip are SDR, tagged BT.709."""
from __future__ import annotations

import functools

import numpy as np

PQ, HLG = 16, 18  # AVColorTransferCharacteristic: SMPTE ST 2084, ARIB STD-B67
NAMES = {PQ: "PQ (HDR10)", HLG: "HLG"}
REFERENCE_WHITE = 203.0  # cd/m2: HDR's diffuse white, mapped to SDR white (ITU-R BT.2408)
HLG_PEAK = 1000.0  # cd/m2: the nominal HLG display (ITU-R BT.2100 Table 5: system gamma 1.2 there)
KNEE = 0.75  # of SDR white: tones below are kept as they are, highlights above rolled off
PEAK = HLG_PEAK / REFERENCE_WHITE  # the brightest light kept apart (1,000 cd/m2: HLG's display, HDR10's usual master)
BT2020_TO_BT709 = np.array([[1.6605, -0.5876, -0.0728],  # ITU-R BT.2087-0, linear RGB
                            [-0.1246, 1.1329, -0.0083],
                            [-0.0182, -0.1006, 1.1187]], np.float32)
LUMA_2020 = np.array([0.2627, 0.6780, 0.0593], np.float32)  # ITU-R BT.2100 luminance weights
HLG_ABC = (0.17883277, 0.28466892, 0.55991073)  # ITU-R BT.2100 Table 5


def is_hdr(transfer: int | None) -> bool:
    """Whether a clip's transfer characteristic (PyAV's ``frame.color_trc``) is an HDR one this module maps."""
    return transfer in NAMES


def pq_to_nits(e: np.ndarray) -> np.ndarray:
    """SMPTE ST 2084 EOTF: signal in [0, 1] -> display light in cd/m2 (0..10,000)."""
    m1, m2 = 2610 / 16384, 2523 / 4096 * 128
    c1, c2, c3 = 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32
    p = np.clip(e, 0, 1) ** (1 / m2)
    return 10000.0 * (np.maximum(p - c1, 0) / (c2 - c3 * p)) ** (1 / m1)


def hlg_to_scene(e: np.ndarray) -> np.ndarray:
    """ARIB STD-B67 / BT.2100 HLG inverse OETF: signal in [0, 1] -> scene light in [0, 1]."""
    a, b, c = HLG_ABC
    e = np.clip(e, 0, 1)
    return np.where(e <= 0.5, e * e / 3, (np.exp((e - c) / a) + b) / 12)


def roll_off(x: np.ndarray) -> np.ndarray:
    """Relative light (1 = SDR white) -> [0, 1]: ``x`` below KNEE; above it extended Reinhard,
    ``k + (1-k) t (1 + t/T^2) / (1 + t)`` with ``t = (x-k)/(1-k)``, which has slope 1 at the knee and reaches 1
    at the peak, ``T`` for PEAK (brighter light clips)."""
    t = np.maximum(x - KNEE, 0) / np.float32(1 - KNEE)
    peak = np.float32((PEAK - KNEE) / (1 - KNEE))
    return np.where(x <= KNEE, x, np.minimum(KNEE + np.float32(1 - KNEE) * t * (1 + t / peak ** 2) / (1 + t), 1))


def srgb_encode(linear: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1: linear [0, 1] -> sRGB signal [0, 1]."""
    x = np.clip(linear, 0, 1)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.maximum(x, 0.0031308) ** (1 / 2.4) - 0.055)


@functools.lru_cache(maxsize=None)
def _signal_lut(transfer: int) -> np.ndarray:
    """Each 16-bit code value's light: PQ's display light relative to REFERENCE_WHITE, or HLG's scene light
    in [0, 1] (its OOTF, which mixes the channels, follows per pixel)."""
    e = np.arange(65536) / 65535
    return (pq_to_nits(e) / REFERENCE_WHITE if transfer == PQ else hlg_to_scene(e)).astype(np.float32)


@functools.lru_cache(maxsize=None)
def _srgb_lut() -> np.ndarray:
    """sRGB's curve on 65,536 linear steps in [0, 1], as 8-bit values."""
    return np.round(srgb_encode(np.arange(65536) / 65535) * 255).astype(np.uint8)


def hdr_to_srgb(rgb16: np.ndarray, transfer: int) -> np.ndarray:
    """A decoded HDR frame, ``(H, W, 3)`` uint16 full-range BT.2020 R'G'B' with the ``transfer`` curve (PQ or
    HLG), as ``(H, W, 3)`` uint8 sRGB."""
    light = _signal_lut(transfer)[rgb16]  # (H, W, 3) float32
    if transfer == HLG:  # the OOTF, HLG_PEAK * Ys ** 0.2 * E, in units of REFERENCE_WHITE
        ys = np.maximum(light @ LUMA_2020, 1e-12)
        light *= (ys ** np.float32(0.2) * np.float32(HLG_PEAK / REFERENCE_WHITE))[..., None]
    linear = np.maximum(light @ BT2020_TO_BT709.T, 0)
    peak = np.maximum(np.maximum(linear[..., 0], linear[..., 1]), linear[..., 2])  # (.max(-1): 10x slower)
    linear *= (roll_off(peak) / np.maximum(peak, 1e-12))[..., None]  # 1 below the knee; hue kept
    codes = (np.minimum(linear, 1) * np.float32(65535) + np.float32(0.5)).astype(np.uint16)
    return _srgb_lut()[codes]
