"""The AdaIN run's part of the Hydra config: validation of model=adain / loss=adain / the painting
corpus (data.paintings, data.holdout, data.scale_range), and the datamodule and module it describes."""
from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from ..models.adain import ENCODER_LAYER, STYLE_LAYERS


def validate_adain(cfg: DictConfig) -> None:
    from ..config import ConfigError, _get, _number, resolve_path

    for key, why in (("styles", "AdaIN takes any painting at run time"), ("add_style", "AdaIN takes any painting"),
                     ("init_from", "not supported for model=adain (resume=<ckpt> continues a run)"),
                     ("distill.teacher", "distillation is for feed-forward networks")):
        if OmegaConf.select(cfg, key):
            raise ConfigError(f"{key}: not used with model=adain: {why}")
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


def build_adain(cfg: DictConfig) -> tuple[Any, Any]:
    """``(PaintingDataModule, AdaINModule)`` for a validated config."""
    from ..config import datamodule_kwargs, resolve_path
    from .corpus import PaintingDataModule
    from .module import AdaINModule

    data = PaintingDataModule(**datamodule_kwargs(cfg), paintings=[str(resolve_path(str(p))) for p in cfg.data.paintings],
                              holdout=cfg.data.holdout, scale_range=tuple(cfg.data.scale_range))
    module = AdaINModule(
        decoder_width=int(cfg.model.decoder_width),
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
