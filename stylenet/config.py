"""Validate a composed Hydra config and build the objects train.py needs from it.

Validation runs before anything heavy (VGG, data loaders, processes) and fails with one line that
names the key, the bad value and what is allowed. Each network family validates its own keys and builds
its module's arguments: the feed-forward one in stylenet.training.config, AdaIN in stylenet.adain.config.
"""
from __future__ import annotations

import math
import re
from numbers import Real
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, MissingMandatoryValue, OmegaConf

from .training.data import DECODERS
from .training.photos import DATA_KINDS
from .hardware import AUTO, PRECISIONS
from .hydra_callbacks import register_resolvers
from .paths import painting_name, resolve_path
from .style_files import ConfigError, bundled_styles, check_image, resolve_style  # noqa: F401 (ConfigError: every config check's error)
from .vgg import LAYER_NAMES, WEIGHT_SOURCES

register_resolvers()  # ${model_name:...} in conf/train.yaml, also for configs composed outside train.py


_ABSENT = object()


def value_at(cfg: DictConfig, key: str) -> Any:
    """``cfg``'s value at the dotted ``key``; a missing or ``???`` value is a ConfigError naming it."""
    try:
        value = OmegaConf.select(cfg, key, throw_on_missing=True, default=_ABSENT)
    except MissingMandatoryValue:
        raise ConfigError(f"{key}: missing value; set it on the command line, e.g. {key}=...") from None
    if value is _ABSENT:
        raise ConfigError(f"{key}: missing from the config")
    return value


def number_at(cfg: DictConfig, key: str, minimum: float, integer: bool = False, maximum: float | None = None,
              strict: bool = False) -> float:
    """The number at ``key``, checked: an int where ``integer``, finite, ``>= minimum`` (``>`` where
    ``strict``) and ``<= maximum``; anything else is a one-line ConfigError naming the key."""
    value = value_at(cfg, key)
    ok_type = isinstance(value, int) if integer else isinstance(value, Real)
    if isinstance(value, bool) or not ok_type or not math.isfinite(value):
        raise ConfigError(f"{key}: expected {'an integer' if integer else 'a finite number'}, got {value!r}")
    if value < minimum or (strict and value == minimum) or (maximum is not None and value > maximum):
        bound = f"> {minimum}" if strict else f">= {minimum}"
        raise ConfigError(f"{key}: must be {bound}{f' and <= {maximum}' if maximum is not None else ''}, got {value!r}")
    return value


def _layers(cfg: DictConfig, key: str) -> dict[str, float]:
    layers = value_at(cfg, key)
    if not isinstance(layers, DictConfig) or not layers:
        raise ConfigError(f"{key}: expected a non-empty mapping {{vgg_layer: weight}}, got {layers!r}")
    for name in layers:
        if name not in LAYER_NAMES:
            relus = ", ".join(n for n in LAYER_NAMES if n.startswith("relu"))
            raise ConfigError(f"{key}.{name}: not a VGG-19 layer; use one of {relus} (or conv*/pool*)")
        number_at(cfg, f"{key}.{name}", 0.0)
    return {str(k): float(v) for k, v in layers.items()}


def check_overrides(overrides: list[str]) -> None:
    """Command-line mistakes Hydra accepts silently: ``style=[a,b]`` would select only ``b``."""
    for override in overrides:
        if re.match(r"^style=\[", override):
            raise ConfigError(f"{override}: `style` takes one painting; train several in one network with "
                              f"styles={override.split('=', 1)[1]}")


def style_list(cfg: DictConfig) -> list[dict[str, Any]]:
    """The entries of ``styles`` as ``{"name", "image", "size", "weight"}`` (image resolved), or [] for a
    single-style run."""
    styles = value_at(cfg, "styles") or []
    if isinstance(styles, str) or not all(isinstance(s, str) for s in styles):
        raise ConfigError(f"styles: expected a list of conf/style names or image paths, e.g. styles=[wave,udnie], "
                          f"got {styles!r}")
    entries = []
    for style in styles:
        try:
            image, size, weight = resolve_style(style)
        except ConfigError as exc:
            known = ", ".join(bundled_styles())
            raise ConfigError(f"styles: {exc} (bundled: {known})") from None
        entries.append({"name": painting_name(style), "image": str(image.resolve()), "size": size, "weight": weight})
    size = cfg.get("styles_size")
    if size is not None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 32:
            raise ConfigError(f"styles_size: expected an integer >= 32 (or null), got {size!r}")
        for entry in entries:
            entry["size"] = size
    names = [e["name"] for e in entries]
    if len(set(names)) != len(names):
        raise ConfigError(f"styles: each style once, got {list(styles)!r}")
    return entries


def is_adain(cfg: DictConfig) -> bool:
    """model=adain (an arbitrary-style decoder, :mod:`stylenet.adain`) rather than a feed-forward network."""
    return cfg.get("model", {}).get("family") == "adain"


def painting_warnings(cfg: DictConfig) -> list[str]:
    """Lines for the paintings of a validated feed-forward config that are enlarged far beyond their scan to
    ``style.size`` / ``styles_size`` (:func:`stylenet.style_files.enlargement_warning`); none for AdaIN, whose
    corpus is read at its own crop sizes."""
    from .style_files import enlargement_warning

    if is_adain(cfg):
        return []
    entries = style_list(cfg) or [{"image": str(resolve_path(cfg.style.image)), "size": int(cfg.style.size)}]
    key = "styles" if cfg.get("styles") else "style.image"
    lines = (enlargement_warning(Path(e["image"]), int(e["size"]), key) for e in entries)
    return [line for line in lines if line]


def build(cfg: DictConfig) -> tuple[Any, Any]:
    """``(datamodule, module)`` for a validated config: photos and StyleTransferModule, or (model=adain)
    photo-painting pairs and AdaINModule."""
    if is_adain(cfg):
        from .adain.config import build_adain
        return build_adain(cfg)
    from .training.data import StyleDataModule
    from .training.module import StyleTransferModule
    from .training.config import module_kwargs
    return StyleDataModule(**datamodule_kwargs(cfg)), StyleTransferModule(**module_kwargs(cfg))


def validate(cfg: DictConfig) -> None:
    """Raise ConfigError (one line, naming the key) for the first invalid value in ``cfg``."""
    name = value_at(cfg, "style.name")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise ConfigError(f"style.name: use letters, digits, '_', '-' or '.' (it names the exported file), got {name!r}")
    for style in style_list(cfg):
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", style["name"]):
            raise ConfigError(f"styles: {style['name']!r}: use letters, digits, '_', '-' or '.' in style names")
        check_image(Path(style["image"]), "styles")
    if cfg.get("add_style"):
        if cfg.get("styles"):
            raise ConfigError("styles: add_style adds the one painting in `style`; leave styles empty")
        if not value_at(cfg, "init_from"):
            raise ConfigError("init_from: add_style needs the trained model to extend (a file or a bundled name)")
        if float(value_at(cfg, "optim.weight_decay")) != 0:
            raise ConfigError("optim.weight_decay: must be 0 with add_style (decay would move the frozen weights)")
    name = value_at(cfg, "name")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.+-]+", name):
        raise ConfigError(f"name: use letters, digits, '_', '-', '+' or '.' (it names the exported file), got {name!r}")
    image = resolve_path(str(value_at(cfg, "style.image")))
    if not image.is_file():
        raise ConfigError(f"style.image: file {str(image)!r} does not exist")
    check_image(image, "style.image")
    number_at(cfg, "style.size", 32, integer=True)
    number_at(cfg, "style.weight", 0.0)

    if value_at(cfg, "data.kind") not in DATA_KINDS:
        raise ConfigError(f"data.kind: must be one of {DATA_KINDS}, got {cfg.data.kind!r}")
    value_at(cfg, "data.root")
    number_at(cfg, "data.image_size", 32, integer=True)
    number_at(cfg, "data.batch_size", 1, integer=True)
    number_at(cfg, "data.num_workers", 0, integer=True)
    number_at(cfg, "data.val_size", 0.0)

    if is_adain(cfg):  # the family's own keys (model.*, its data and loss), beside each family's module arguments
        from .adain.config import validate_adain
        validate_adain(cfg)
    else:
        from .training.config import validate_feedforward
        validate_feedforward(cfg)
    for key in ("model.gradient_checkpointing", "loss.gradient_checkpointing"):
        if not isinstance(value_at(cfg, key), bool):
            raise ConfigError(f"{key}: expected true or false, got {value_at(cfg, key)!r}")
    for key in ("model.channels_last", "model.compile"):
        if not isinstance(value_at(cfg, key), bool) and value_at(cfg, key) != AUTO:
            raise ConfigError(f"{key}: expected true, false or auto, got {value_at(cfg, key)!r}")
    from .training.trainer import check_trainer_args
    check_trainer_args(cfg)
    precision = str(value_at(cfg, "trainer.precision"))
    if precision not in PRECISIONS:
        raise ConfigError(f"trainer.precision: must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if value_at(cfg, "data.decoder") not in DECODERS:
        raise ConfigError(f"data.decoder: must be one of {DECODERS}, got {cfg.data.decoder!r}")
    number_at(cfg, "data.prefetch_factor", 1, integer=True)
    number_at(cfg, "data.max_bad_fraction", 0.0, maximum=1.0)

    _layers(cfg, "loss.content_layers")
    _layers(cfg, "loss.style_layers")
    for key in ("loss.content_weight", "loss.style_weight", "loss.tv_weight"):
        number_at(cfg, key, 0.0)
    if value_at(cfg, "loss.on_nonfinite") not in ("stop", "skip"):
        raise ConfigError(f"loss.on_nonfinite: must be stop or skip, got {cfg.loss.on_nonfinite!r}")
    if not isinstance(cfg.get("overwrite", False), bool):
        raise ConfigError(f"overwrite: expected true or false, got {cfg.get('overwrite')!r}")
    resume = value_at(cfg, "resume")
    if resume is not None and resume != "auto" and not Path(str(resume)).is_file():
        raise ConfigError(f"resume: must be auto or an existing checkpoint file, got {resume!r}")
    if value_at(cfg, "loss.vgg_weights") not in WEIGHT_SOURCES:
        raise ConfigError(f"loss.vgg_weights: must be one of {WEIGHT_SOURCES}, got {cfg.loss.vgg_weights!r}")

    number_at(cfg, "optim.lr", 0.0, strict=True)
    number_at(cfg, "optim.weight_decay", 0.0)
    number_at(cfg, "optim.warmup_steps", 0, integer=True)
    number_at(cfg, "optim.min_lr_ratio", 0.0, maximum=1.0)
    betas = value_at(cfg, "optim.betas")
    if len(betas) != 2 or not all(isinstance(b, Real) and 0 <= b < 1 for b in betas):
        raise ConfigError(f"optim.betas: expected two numbers in [0, 1), got {list(betas)!r}")
    number_at(cfg, "checkpoint.every_n_steps", 1, integer=True)
    if cfg.checkpoint.get("every_minutes") is not None:
        number_at(cfg, "checkpoint.every_minutes", 0.0, strict=True)
    number_at(cfg, "preview.every_n_steps", 0, integer=True)
    number_at(cfg, "preview.count", 1, integer=True)
    number_at(cfg, "preview.size", 32, integer=True)
    photos = value_at(cfg, "preview.photos")
    if photos is not None and not resolve_path(str(photos)).is_dir():
        raise ConfigError(f"preview.photos: folder {str(photos)!r} does not exist")
    max_steps = value_at(cfg, "trainer.max_steps")
    if not isinstance(max_steps, int) or (max_steps < 1 and max_steps != -1):
        raise ConfigError(f"trainer.max_steps: expected a positive integer (or -1 to use max_epochs), got {max_steps!r}")


def datamodule_kwargs(cfg: DictConfig) -> dict[str, Any]:
    d = cfg.data
    annotations = d.get("annotations")
    return {
        "kind": d.kind,
        "root": str(resolve_path(d.root)),
        "annotations": str(resolve_path(annotations)) if annotations else None,
        "image_size": d.image_size,
        "batch_size": d.batch_size,
        "num_workers": d.num_workers,
        "decoder": d.decoder,
        "prefetch_factor": d.prefetch_factor,
        "max_bad_fraction": d.max_bad_fraction,
        "val_size": d.val_size,
        "seed": cfg.seed,
    }


def preview_kwargs(cfg: DictConfig) -> dict[str, Any]:
    p = cfg.preview
    return {"every_n_steps": p.every_n_steps, "count": p.count, "size": p.size,
            "photos": str(resolve_path(p.photos)) if p.photos else None}
