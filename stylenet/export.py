"""Per-style model files: the TransformerNet weights as safetensors plus metadata (style, model
config, training settings), loadable without the training config and without pickle."""
from __future__ import annotations

import json
import os
import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file

from .atomic import atomic_path
from .image import SAVE_FORMATS
from .models import TransformerNet, build_network
from .paths import meant

FORMAT = "stylenet"
FORMAT_VERSION = "1"
WEIGHT_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
# Hyper-parameters of StyleTransferModule that are worth keeping with an exported model.
_TRAINING_KEYS = ("style_name", "style_image", "style_size", "image_size", "content_weight", "style_weight",
                  "tv_weight", "content_layers", "style_layers", "vgg_weights")


class ModelFileError(ValueError):
    """A model file is missing, unreadable, or not a stylenet model."""


_PLAIN_KEYS = ("format", "format_version")  # stored as-is; every other value is JSON


def encode_metadata(metadata: dict[str, Any]) -> dict[str, str]:
    """Metadata as the string-to-string map safetensors and ONNX store."""
    return {k: str(v) if k in _PLAIN_KEYS else json.dumps(v) for k, v in metadata.items()}


def decode_metadata(raw: dict[str, str]) -> dict[str, Any]:
    """The inverse of :func:`encode_metadata`; entries other tools added (e.g. onnxruntime's quantiser
    writes ``onnx.infer``) are kept as their strings."""
    def value(k: str, v: str) -> Any:
        if k in _PLAIN_KEYS:
            return v
        try:
            return json.loads(v)
        except ValueError:
            return v
    return {k: value(k, v) for k, v in raw.items()}


def save_stylizer(net: TransformerNet, path: str | os.PathLike, dtype: str = "fp32", **metadata: Any) -> Path:
    """Write ``net``'s weights (stored as ``dtype``: fp32, fp16 or bf16) and ``metadata``
    (JSON-encoded values) atomically to ``path``."""
    if dtype not in WEIGHT_DTYPES:
        raise ValueError(f"dtype must be one of {list(WEIGHT_DTYPES)}, got {dtype!r}")
    meta = encode_metadata({"format": FORMAT, "format_version": FORMAT_VERSION, "model": net.config(),
                            **metadata, "weights_dtype": dtype})
    state = {k: v.detach().to("cpu", WEIGHT_DTYPES[dtype]).contiguous() for k, v in net.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata=meta)
    return Path(path)


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The decoded metadata of a stylenet model file; raises ModelFileError for anything else."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    try:
        with safe_open(str(path), framework="pt") as f:
            raw = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(f"{path}: not a readable safetensors file ({exc})") from None
    if raw.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a stylenet model (metadata has no format={FORMAT!r})")
    try:
        return decode_metadata(raw)
    except ValueError as exc:
        raise ModelFileError(f"{path}: corrupt stylenet metadata ({exc})") from None


def training_metadata(hparams: Mapping[str, Any], steps: int | None) -> dict[str, Any]:
    """What an exported model keeps of StyleTransferModule's hyper-parameters: the style (name and
    image file name), the loss settings and image sizes, and the training steps."""
    meta = {k: hparams[k] for k in _TRAINING_KEYS if k in hparams}
    meta["style"] = meta.pop("style_name", "unknown")
    meta["style_image"] = Path(str(meta.get("style_image", ""))).name
    meta["steps"] = steps
    if hparams.get("distill_teacher"):
        meta["distilled_from"] = {"teacher": Path(str(hparams["distill_teacher"])).name,
                                  "weight": float(hparams.get("distill_weight", 1.0))}
    if hparams.get("init_from"):  # fine-tuned or grown (add_style) from another model
        meta["init_from"] = lineage(hparams["init_from"])
    if hparams.get("styles"):  # several styles: names and per-style settings, in the network's order
        meta["styles"] = [{"name": s["name"], "image": Path(str(s["image"])).name, "size": int(s["size"]),
                           "weight": float(s["weight"])} for s in hparams["styles"]]
        meta.pop("style_image")
        meta.pop("style_size", None)
    return meta


def lineage(init_from: str | os.PathLike) -> dict[str, Any]:
    """What a model trained on from another (``init_from``: a fine-tune, add_style, an AdaIN decoder trained
    further) records of it: its file name, steps and image size, and what that one was itself trained from
    (so a chain of fine-tunes stays readable). A checkpoint, or a file gone since, gives the name alone."""
    try:
        before = read_metadata(init_from) if str(init_from).endswith(".safetensors") else {}
    except (ModelFileError, OSError):
        before = {}
    return {"model": Path(str(init_from)).name, "steps": before.get("steps"), "image_size": before.get("image_size"),
            "init_from": before.get("init_from")}


def one_style(net: TransformerNet, meta: dict[str, Any], spec: str | Mapping[str, float], source: str
              ) -> tuple[TransformerNet, dict[str, Any]]:
    """``(net, metadata)`` of a one-style model cut from a multi-style one: the style or mix ``spec``
    (``"wave"``, ``"starry_night=0.7,wave=0.3"``: :func:`stylenet.inference.styles.choose`) baked into its norms
    (:meth:`TransformerNet.with_style`), the metadata of that style, and ``cut_from`` naming ``source`` and the
    weights. A one-style model comes back as it is (a ``spec`` other than its own style is a StyleError)."""
    from .inference.styles import choose, style_names

    names = style_names(meta)
    choice = choose(spec, names)
    if choice.weights is None:
        return net, meta
    picked = {n: round(float(w), 4) for n, w in zip(names, choice.weights.tolist()) if w > 0}
    out = {k: v for k, v in meta.items() if k not in ("styles", "model")}
    if len(picked) == 1:
        (style,) = [s for s in meta["styles"] if s["name"] in picked]
        out.update(style=style["name"], style_image=style["image"], style_size=style["size"],  # its training settings
                   style_weight=float(meta.get("style_weight", 1.0)) * float(style.get("weight", 1.0)))
    else:
        out["style"] = "+".join(f"{n}_{round(w * 100)}" for n, w in picked.items())
    out["cut_from"] = {"model": source, "styles": picked}
    return net.with_style(choice.weights), out


def _build(path: Path, config: dict, state: dict[str, torch.Tensor]) -> TransformerNet:
    try:
        net = build_network(config)
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: invalid model config {config!r} ({exc})") from None
    expected = net.state_dict()
    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    if missing or unexpected:
        raise ModelFileError(f"{path}: weights do not match a {type(net).__name__}{config} "
                             f"(missing keys {missing[:3]}, unexpected keys {unexpected[:3]})")
    # Single-style files from before conditional IN hold (C,) norm parameters; the network's are (1, C).
    state = {k: v.unsqueeze(0) if v.dim() == 1 and expected[k].shape == (1, *v.shape) else v for k, v in state.items()}
    wrong = [f"{k} {tuple(v.shape)} != {tuple(expected[k].shape)}" for k, v in state.items() if v.shape != expected[k].shape]
    if wrong:
        raise ModelFileError(f"{path}: weight shapes do not match a {type(net).__name__}{config}: {wrong[:3]}")
    net.load_state_dict({k: v.float() for k, v in state.items()})
    return net.eval()


def _load_checkpoint(path: Path) -> tuple[TransformerNet, dict[str, Any]]:
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)  # never executes code from the file
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ModelFileError(f"{path}: not a readable Lightning checkpoint ({str(exc).splitlines()[0]})") from None
    hp = ckpt.get("hyper_parameters") if isinstance(ckpt, dict) else None
    if hp and "decoder_width" in hp and "state_dict" in ckpt:  # an AdaINModule checkpoint (stylenet.adain)
        state = {k[len("net."):]: v for k, v in ckpt["state_dict"].items() if k.startswith("net.")}
        config = {"family": "adain", "decoder_width": hp["decoder_width"], "vgg_weights": hp.get("vgg_weights", "caffe")}
        return _build(path, config, state), {"style": "any painting (AdaIN)", "model": config,
                                             "steps": ckpt.get("global_step")}
    if not hp or "width" not in hp or "state_dict" not in ckpt:
        raise ModelFileError(f"{path}: not a stylenet checkpoint (no StyleTransferModule hyper-parameters)")
    state = {k[len("net."):]: v for k, v in ckpt["state_dict"].items() if k.startswith("net.")}
    config = {"width": hp["width"], "num_res_blocks": hp["num_res_blocks"], **(hp.get("architecture") or {})}
    if len(hp.get("styles") or ()) > 1:
        config["num_styles"] = len(hp["styles"])
    net = _build(path, config, state)
    return net, training_metadata(hp, ckpt.get("global_step"))


# Models that ship with the package (see MODELS.md): ``load_stylizer("starry_night")``.
PRETRAINED = Path(__file__).resolve().parent / "pretrained"


def pretrained_names() -> list[str]:
    return sorted(p.stem for p in PRETRAINED.glob("*.safetensors"))


def resolve_model(path: str | os.PathLike) -> Path:
    """A model file path, the name of a bundled model (no folder, no suffix, e.g. ``starry_night``), or a
    training run's folder (``outputs/wave/2026-12-07_10-00-00``) holding one exported model: that model."""
    if str(path).strip() == "":
        raise ModelFileError("no model given: a .safetensors, .ckpt or .onnx file, or a bundled model or style name "
                             f"({', '.join(bundled_styles())})")
    p = Path(path).expanduser()
    if not p.exists() and not p.suffix and len(p.parts) == 1 and (PRETRAINED / f"{p.name}.safetensors").is_file():
        return PRETRAINED / f"{p.name}.safetensors"
    if p.is_dir() and len(exported := sorted(p.glob("*.safetensors"))) == 1:
        return exported[0]
    return p


def find_model(path: str | os.PathLike) -> tuple[Path, str | None]:
    """``(model file, style)``: a path or bundled model name as :func:`resolve_model` (style None), or
    the name of a style that a bundled multi-style model holds (``wave`` -> the zoo, style ``wave``)."""
    p = resolve_model(path)
    if p.exists() or p.suffix or len(p.parts) != 1:
        return p, None
    for file in sorted(PRETRAINED.glob("*.safetensors")):
        styles = read_metadata(file).get("styles") or []
        if any(s.get("name") == p.name for s in styles):
            return file, p.name
    return p, None


def bundled_styles() -> list[str]:
    """Every name ``load_stylizer`` takes without a path: bundled models and their styles."""
    names = set(pretrained_names())
    for file in PRETRAINED.glob("*.safetensors"):
        names.update(s["name"] for s in read_metadata(file).get("styles") or [])
    return sorted(names)


def check_model_file(path: str | os.PathLike) -> Path:
    """The model file a path or bundled name means (:func:`resolve_model`), or ModelFileError for one that
    is missing (with the bundled name meant, or their list), a folder or an image: the checks that read
    nothing, so scripts make them before slower work (the precision probe)."""
    path = resolve_model(path)
    if path.is_dir():
        models = sorted(p.name for p in path.iterdir() if p.suffix.lower() in (".safetensors", ".onnx"))
        checkpoint = path / "checkpoints" / "last.ckpt"
        hint = (f": it holds several models, give one of them ({', '.join(models)})" if len(models) > 1 else
                f": a run that has exported no model yet, give its checkpoint ({checkpoint})" if checkpoint.is_file()
                else "; give a model file (.safetensors, .ckpt or .onnx) or a bundled name")
        raise ModelFileError(f"{path} is a folder{hint}")
    if path.suffix.lower() in SAVE_FORMATS:
        raise ModelFileError(f"{path} is an image, not a model (a .safetensors, .ckpt or .onnx file, or a bundled "
                             f"name): the photos to stylise are the input")
    if not path.is_file():
        hint = ""
        if not path.suffix and len(path.parts) == 1:
            holder, style = find_model(path.name)
            close = meant(path.name, bundled_styles())
            hint = (f" ({style} is a style of the bundled {holder.stem} model: give {holder.stem} and choose {style})"
                    if style else f" (did you mean {close!r}?)" if close else
                    f" (bundled models and styles: {', '.join(bundled_styles())})")
        raise ModelFileError(f"{path}: no such model file{hint}")
    return path


def load_transformer(path: str | os.PathLike) -> tuple[TransformerNet, dict[str, Any]]:
    """``(TransformerNet in eval mode, metadata)`` from an exported ``.safetensors`` model, a
    Lightning ``.ckpt`` of StyleTransferModule, or a bundled model's name (:func:`pretrained_names`).
    Raises ModelFileError naming the file and the problem."""
    path = check_model_file(path)
    if path.suffix == ".ckpt":
        return _load_checkpoint(path)
    meta = read_metadata(path)
    try:
        state = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(f"{path}: unreadable weights ({exc})") from None
    if not isinstance(meta.get("model"), dict):
        raise ModelFileError(f"{path}: metadata has no model config")
    return _build(path, meta["model"], state), meta
