"""The AdaIN run's part of the Hydra config: validation of model=adain / loss=adain / the painting
corpus (data.paintings, data.holdout, data.scale_range), and the datamodule and module it describes."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from ..models.adain import ENCODER_LAYER, STYLE_LAYERS
from ..paths import resolve_path


def validate_adain(cfg: DictConfig) -> None:
    from ..config import ConfigError, number_at, value_at

    for key, why in (("styles", "AdaIN takes any painting at run time"), ("add_style", "AdaIN takes any painting"),
                     ("distill.teacher", "distillation is for feed-forward networks")):
        if OmegaConf.select(cfg, key):
            raise ConfigError(f"{key}: not used with model=adain: {why}")
    if OmegaConf.select(cfg, "data.paintings") is None:  # model=adain alone: the rest of the run is not set up
        raise ConfigError("data.paintings: model=adain trains on photos x paintings: run `python train.py "
                          "experiment=adain` (it also picks loss=adain and the painting corpus; override data.root, "
                          "data.paintings and the rest after it)")
    if OmegaConf.select(cfg, "init_from"):
        init_decoder(cfg)
    width = number_at(cfg, "model.decoder_width", 4, integer=True)
    if width % 4:
        raise ConfigError(f"model.decoder_width: must be a multiple of 4, got {width}")
    content = value_at(cfg, "loss.content_layers")
    if list(content) != [ENCODER_LAYER]:
        raise ConfigError(f"loss.content_layers: AdaIN's content loss is at the encoder's output; use "
                          f"{{{ENCODER_LAYER}: 1.0}}, got {OmegaConf.to_container(content)!r}")
    extra = sorted(set(value_at(cfg, "loss.style_layers")) - set(STYLE_LAYERS))
    if extra:
        raise ConfigError(f"loss.style_layers: {extra[0]} is not one of the encoder's layers ({', '.join(STYLE_LAYERS)})")
    paintings = value_at(cfg, "data.paintings")
    if isinstance(paintings, str) or not isinstance(paintings, (ListConfig, list)) or not paintings:
        raise ConfigError(f"data.paintings: expected a list of folders or images, got {paintings!r}")
    for source in paintings:
        if not resolve_path(str(source)).exists():
            raise ConfigError(f"data.paintings: {str(source)!r} does not exist (the corpus: ../shared/data/paintings "
                              "beside the checkout, or any folder of paintings)")
    holdout = number_at(cfg, "data.holdout", 0.0, strict=True)
    if holdout >= 1 and not isinstance(holdout, int):
        raise ConfigError(f"data.holdout: a fraction < 1 or a whole count, got {holdout!r}")
    scale = value_at(cfg, "data.scale_range")
    if len(scale) != 2 or not all(isinstance(s, (int, float)) and not isinstance(s, bool) for s in scale) \
            or not 0 < scale[0] <= scale[1]:
        raise ConfigError(f"data.scale_range: expected [low, high] with 0 < low <= high, got {list(scale)!r}")


def init_decoder(cfg: DictConfig) -> tuple[str, int]:
    """``init_from`` with model=adain: the trained AdaIN decoder to go on training (a file or ``adain``, the
    bundled one) as ``(resolved path, its decoder width)``; the run takes that width whatever
    ``model.decoder_width`` says. A feed-forward model or other VGG weights: a one-line error."""
    from ..config import ConfigError, value_at
    from ..export import ModelFileError, find_model, load_transformer

    try:
        path, _ = find_model(str(value_at(cfg, "init_from")))
        net, _ = load_transformer(path)
    except (ModelFileError, ValueError, OSError) as exc:
        raise ConfigError(f"init_from: {exc}") from None
    if getattr(net, "family", None) != "adain":
        raise ConfigError(f"init_from: {path.name} is a feed-forward network, not an AdaIN decoder (model=adain "
                          "goes on training AdaIN decoders, e.g. init_from=adain, the bundled one)")
    if net.vgg_weights != value_at(cfg, "loss.vgg_weights"):
        raise ConfigError(f"init_from: {path.name} was trained on the {net.vgg_weights} VGG weights, not "
                          f"loss.vgg_weights={value_at(cfg, 'loss.vgg_weights')}")
    return str(path.resolve()), net.decoder_width


def build_adain(cfg: DictConfig) -> tuple[Any, Any]:
    """``(PaintingDataModule, AdaINModule)`` for a validated config."""
    from ..config import datamodule_kwargs
    from .corpus import PaintingDataModule
    from .module import AdaINModule

    init_from, width = init_decoder(cfg) if cfg.get("init_from") else (None, int(cfg.model.decoder_width))
    held = _held_out_names(init_from) if init_from else []
    data = PaintingDataModule(**datamodule_kwargs(cfg), paintings=[str(resolve_path(str(p))) for p in cfg.data.paintings],
                              holdout=cfg.data.holdout, scale_range=tuple(cfg.data.scale_range), held_out_names=held)
    if held:
        _say_held_out(init_from, held, data)
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


def _held_out_names(init_from: str) -> list[str]:
    """The painting file names a decoder held out (its metadata's ``held_out``; none for a checkpoint)."""
    from ..export import read_metadata

    return list(read_metadata(init_from).get("held_out") or []) if init_from.endswith(".safetensors") else []


def _say_held_out(init_from: str, names: list[str], data) -> None:
    """One line on the held-out paintings of a run that goes on training a decoder: its own (found by name,
    wherever the corpus lies), a seeded split where none is in the corpus, or a warning where the run
    trains on some of them (they are then no longer unseen for the model it exports)."""
    import logging

    log, name = logging.getLogger(__name__), Path(init_from).name
    seen = sorted(set(names) & {p.name for p in data.train_paintings})
    if seen:
        log.warning("init_from: %d of the paintings %s held out (%s...) are in this run's training set: they are no "
                    "longer unseen for the model this run exports", len(seen), name, ", ".join(seen[:3]))
    elif {p.name for p in data.held_out} <= set(names):
        log.info("init_from: holding out the %d paintings %s held out (found by name in data.paintings)",
                 len(data.held_out), name)
    else:
        log.info("init_from: none of the %d paintings %s held out is in data.paintings: %d held out by data.holdout",
                 len(names), name, len(data.held_out))
