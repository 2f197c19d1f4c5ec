"""The AdaIN run's part of the Hydra config: validation of model=adain / loss=adain / the painting
corpus (data.paintings, data.holdout, data.scale_range), and the datamodule and module it describes."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from ..models.adain import ENCODER_LAYER, STYLE_LAYERS


def validate_adain(cfg: DictConfig) -> None:
    from ..config import ConfigError, _get, _number, resolve_path

    for key, why in (("styles", "AdaIN takes any painting at run time"), ("add_style", "AdaIN takes any painting"),
                     ("distill.teacher", "distillation is for feed-forward networks")):
        if OmegaConf.select(cfg, key):
            raise ConfigError(f"{key}: not used with model=adain: {why}")
    if OmegaConf.select(cfg, "init_from"):
        init_decoder(cfg)
    width = _number(cfg, "model.decoder_width", 4, integer=True)
    if width % 4:
        raise ConfigError(f"model.decoder_width: must be a multiple of 4, got {width}")
    content = _get(cfg, "loss.content_layers")
    if list(content) != [ENCODER_LAYER]:
        raise ConfigError(f"loss.content_layers: AdaIN's content loss is at the encoder's output; use "
                          f"{{{ENCODER_LAYER}: 1.0}}, got {OmegaConf.to_container(content)!r}")
    extra = sorted(set(_get(cfg, "loss.style_layers")) - set(STYLE_LAYERS))
    if extra:
        raise ConfigError(f"loss.style_layers: {extra[0]} is not one of the encoder's layers ({', '.join(STYLE_LAYERS)})")
    paintings = _get(cfg, "data.paintings")
    if isinstance(paintings, str) or not isinstance(paintings, (ListConfig, list)) or not paintings:
        raise ConfigError(f"data.paintings: expected a list of folders or images, got {paintings!r}")
    for source in paintings:
        if not resolve_path(str(source)).exists():
            raise ConfigError(f"data.paintings: {str(source)!r} does not exist (the corpus: ../shared/data/paintings "
                              "beside the checkout, or any folder of paintings)")
    holdout = _number(cfg, "data.holdout", 0.0, strict=True)
    if holdout >= 1 and not isinstance(holdout, int):
        raise ConfigError(f"data.holdout: a fraction < 1 or a whole count, got {holdout!r}")
    scale = _get(cfg, "data.scale_range")
    if len(scale) != 2 or not all(isinstance(s, (int, float)) and not isinstance(s, bool) for s in scale) \
            or not 0 < scale[0] <= scale[1]:
        raise ConfigError(f"data.scale_range: expected [low, high] with 0 < low <= high, got {list(scale)!r}")


def init_decoder(cfg: DictConfig) -> tuple[str, int]:
    """``init_from`` with model=adain: the trained AdaIN decoder to go on training (a file or ``adain``, the
    bundled one) as ``(resolved path, its decoder width)``; the run takes that width whatever
    ``model.decoder_width`` says. A feed-forward model or other VGG weights: a one-line error."""
    from ..config import ConfigError, _get
    from ..export import ModelFileError, find_model, load_transformer

    try:
        path, _ = find_model(str(_get(cfg, "init_from")))
        net, _ = load_transformer(path)
    except (ModelFileError, ValueError, OSError) as exc:
        raise ConfigError(f"init_from: {exc}") from None
    if getattr(net, "family", None) != "adain":
        raise ConfigError(f"init_from: {path.name} is a feed-forward network, not an AdaIN decoder (model=adain "
                          "goes on training AdaIN decoders, e.g. init_from=adain, the bundled one)")
    if net.vgg_weights != _get(cfg, "loss.vgg_weights"):
        raise ConfigError(f"init_from: {path.name} was trained on the {net.vgg_weights} VGG weights, not "
                          f"loss.vgg_weights={_get(cfg, 'loss.vgg_weights')}")
    return str(path.resolve()), net.decoder_width


def build_adain(cfg: DictConfig) -> tuple[Any, Any]:
    """``(PaintingDataModule, AdaINModule)`` for a validated config."""
    from ..config import datamodule_kwargs, resolve_path
    from .corpus import PaintingDataModule
    from .module import AdaINModule

    data = PaintingDataModule(**datamodule_kwargs(cfg), paintings=[str(resolve_path(str(p))) for p in cfg.data.paintings],
                              holdout=cfg.data.holdout, scale_range=tuple(cfg.data.scale_range))
    init_from, width = init_decoder(cfg) if cfg.get("init_from") else (None, int(cfg.model.decoder_width))
    if init_from:
        _warn_held_out(init_from, data.train_paintings)
    module = AdaINModule(
        decoder_width=width,
        init_from=init_from,
        vgg_weights=cfg.loss.vgg_weights,
        style_layers={str(k): float(v) for k, v in cfg.loss.style_layers.items()},
        content_weight=float(cfg.loss.content_weight),
        style_weight=float(cfg.loss.style_weight),
        channels_last=bool(cfg.model.channels_last),
        compile=bool(cfg.model.compile),
        on_nonfinite=cfg.loss.on_nonfinite,
        lr=float(cfg.optim.lr),
        betas=tuple(float(b) for b in cfg.optim.betas),
        weight_decay=float(cfg.optim.weight_decay),
        warmup_steps=int(cfg.optim.warmup_steps),
        min_lr_ratio=float(cfg.optim.min_lr_ratio),
        image_size=int(cfg.data.image_size),
        paintings=len(data.train_paintings),
        held_out=[p.name for p in data.held_out],
    )
    return data, module


def _warn_held_out(init_from: str, train_paintings) -> None:
    """A decoder that goes on training on paintings its first run held out no longer has them as unseen:
    say so (they are listed in its metadata's ``held_out``)."""
    import logging

    from ..export import read_metadata

    held = set(read_metadata(init_from).get("held_out", [])) if init_from.endswith(".safetensors") else set()
    seen = sorted(held & {p.name for p in train_paintings})
    if seen:
        logging.getLogger(__name__).warning(
            "init_from: %d of the paintings %s held out (%s...) are in this run's training set: they are no longer "
            "unseen for the model this run exports (keep data.paintings, data.holdout and seed as they were)",
            len(seen), Path(init_from).name, ", ".join(seen[:3]))

