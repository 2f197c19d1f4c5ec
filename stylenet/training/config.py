"""StyleTransferModule's keyword arguments from a validated config (the feed-forward family: one style,
several, add_style, fine-tuning with init_from, distillation, the temporal regulariser). AdaIN's are
built in stylenet.adain.config), and validation of the family's own keys (model.width, model.num_res_blocks, the
light family's knobs); the keys every run has, and the data module's arguments, are in stylenet.config."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from lightning.pytorch.utilities import rank_zero_info
from omegaconf import DictConfig, ListConfig, OmegaConf

from ..config import ConfigError, number_at, style_list, value_at
from ..style_files import DEFAULT_STYLE_SIZE
from ..models.transformer import BLOCKS
from ..models.transformer import DEFAULTS as ARCH_DEFAULTS
from ..paths import find_painting, meant, resolve_path


def validate_feedforward(cfg: DictConfig) -> None:
    """The feed-forward family's model keys (stylenet.config.validate calls it for model=johnson*/light*)."""
    number_at(cfg, "model.width", 1, integer=True)
    number_at(cfg, "model.num_res_blocks", 0, integer=True)
    architecture(cfg)


def architecture(cfg: DictConfig) -> dict:
    """The light family's network knobs (conf/model/light.yaml) that differ from Johnson's network,
    validated: ``model.channels`` (3 channel counts, 2 without full-resolution layers, or null),
    ``model.block``, ``model.expansion``, ``model.outer_kernel``, ``model.full_resolution``; configs without
    them (conf/model/johnson*.yaml) mean the defaults."""
    model = cfg.model
    arch = {k: model.get(k, default) for k, default in ARCH_DEFAULTS.items()}
    if not isinstance(arch["full_resolution"], bool):
        raise ConfigError(f"model.full_resolution: expected true or false, got {arch['full_resolution']!r}")
    channels = arch["channels"]
    if channels is not None:
        channels = list(channels) if isinstance(channels, (ListConfig, list, tuple)) else channels
        count, levels = (3, "full, 1/2, 1/4 resolution") if arch["full_resolution"] else (2, "1/2, 1/4 resolution")
        if (not isinstance(channels, list) or len(channels) != count
                or not all(isinstance(c, int) and not isinstance(c, bool) and c >= 1 for c in channels)):
            raise ConfigError(f"model.channels: expected {count} channel counts [{levels}] >= 1, or null, "
                              f"got {arch['channels']!r}")
        arch["channels"] = channels
    if arch["block"] not in BLOCKS:
        raise ConfigError(f"model.block: must be one of {', '.join(BLOCKS)}, got {arch['block']!r}")
    if "expansion" in model:
        number_at(cfg, "model.expansion", 1, integer=True)
    kernel = arch["outer_kernel"]
    if isinstance(kernel, bool) or not isinstance(kernel, int) or kernel < 1 or kernel % 2 == 0:
        raise ConfigError(f"model.outer_kernel: expected an odd number >= 1, got {kernel!r}")
    return {k: v for k, v in arch.items() if v != ARCH_DEFAULTS[k]}



def _added_style(cfg: DictConfig) -> dict[str, Any]:
    """``styles``, ``train_styles``, ``init_from`` and the architecture for add_style: the trained
    model's styles (their names and settings from its metadata) plus ``style``, training only the last.
    A ``style`` the model already holds is retuned in place: its entry takes this run's ``style.weight``
    (the painting's size stays the model's: the stroke scale its shared weights learnt) and only its norm
    rows train, from where they were."""
    from ..export import ModelFileError, find_model, load_transformer

    path, _ = find_model(str(value_at(cfg, "init_from")))
    try:
        net, meta = load_transformer(path)
    except ModelFileError as exc:
        raise ConfigError(f"init_from: {exc}") from None
    old = meta.get("styles") or [{"name": meta.get("style", "style0"), "image": meta.get("style_image", ""),
                                  "size": meta.get("style_size", DEFAULT_STYLE_SIZE), "weight": 1.0}]
    new = {"name": cfg.style.name, "image": str(resolve_path(cfg.style.image).resolve()), "size": int(cfg.style.size),
           "weight": float(cfg.style.weight)}
    names = [s["name"] for s in old]
    index = names.index(new["name"]) if new["name"] in names else len(old)  # retune that one, or add one
    if index < len(old):
        if len(old) == 1:
            raise ConfigError(f"style: {new['name']!r} is {path.name}'s only style: to train it further, use "
                              f"init_from={path.stem} without add_style (every weight trains)")
        new["size"] = int(old[index].get("size") or new["size"])
        rank_zero_info(f"add_style: {new['name']!r} is one of {path.name}'s {len(old)} styles: retuning it (style.weight "
                       f"{new['weight']:g}; style.size {new['size']}, the model's); only its norms train, the other "
                       f"{len(old) - 1} stay as they are")
    styles = [*old[:index], new, *old[index + 1:]]
    return {"styles": styles, "train_styles": [index], "init_from": str(path.resolve()),
            "width": net.width, "num_res_blocks": net.num_res_blocks,
            "architecture": {k: v for k, v in net.config().items() if k in ARCH_DEFAULTS}}


def _fine_tune(cfg: DictConfig) -> dict[str, Any]:
    """``init_from`` without add_style: go on training a trained model (every weight; e.g. to add the
    temporal regulariser). The run takes the model's styles (paintings, sizes, weights) and architecture
    from its metadata, so ``style=``/``model=`` need not repeat them."""
    from ..export import ModelFileError, find_model, load_transformer

    path, _ = find_model(str(value_at(cfg, "init_from")))
    try:
        net, meta = load_transformer(path)
    except ModelFileError as exc:
        raise ConfigError(f"init_from: {exc}") from None
    arch = {"width": net.width, "num_res_blocks": net.num_res_blocks,
            "architecture": {k: v for k, v in net.config().items() if k in ARCH_DEFAULTS}, "init_from": str(path.resolve())}
    def painting(name: str) -> str:
        found = find_painting(name)
        if found is None:
            raise ConfigError(f"init_from: {path.name} was trained on the painting {name!r}, which is not here "
                              "(looked in data/styles)")
        return str(found.resolve())

    from ..hydra_callbacks import model_name

    default_name = cfg.name == model_name(cfg.style.name, cfg.styles)
    if meta.get("styles"):
        if default_name:
            raise ConfigError(f"init_from: {path.name} holds {len(meta['styles'])} styles: name the run and its "
                              f"export, e.g. name={path.stem}_temporal")
        return {**arch, "styles": [{**s, "image": painting(s["image"])} for s in meta["styles"]]}
    if meta.get("style") and meta["style"] != cfg.style.name and default_name:
        raise ConfigError(f"init_from: {path.name} holds the style {meta['style']!r}: pass style={meta['style']} "
                          "(or name= for the run)")
    return {**arch, "style_name": meta.get("style") or cfg.name,
            "style_image": painting(meta["style_image"]) if meta.get("style_image") else str(resolve_path(cfg.style.image).resolve()),
            "style_size": int(meta.get("style_size") or cfg.style.size)}


def _temporal(cfg: DictConfig) -> dict[str, Any]:
    """The temporal-consistency weights (stylenet.training.temporal); absent keys mean off."""
    return {key: float(number_at(cfg, f"loss.{key}", 0.0))
            for key in ("temporal_weight", "noise_weight", "motion_std", "motion_shift") if key in cfg.loss}


def _distill(cfg: DictConfig) -> dict[str, Any]:
    """``distill_teacher`` (resolved) and ``distill_weight``, after checking the teacher loads and holds
    every style of the run; nothing without ``distill.teacher``."""
    teacher = cfg.get("distill", {}).get("teacher")
    if not teacher:
        return {}
    weight = number_at(cfg, "distill.weight", 0.0)
    from .distill import Teacher, TeacherError

    styles = style_list(cfg) or [{"name": cfg.style.name}]
    if cfg.get("add_style"):
        raise ConfigError("distill.teacher: not used with add_style (only the new style's norms train)")
    try:
        checked = Teacher(str(teacher), [s["name"] for s in styles])
    except TeacherError as exc:
        raise ConfigError(f"distill.teacher: {exc}") from None
    return {"distill_teacher": str(Path(checked.path).resolve()), "distill_weight": float(weight)}


def _with_style_weights(cfg: DictConfig, kwargs: dict[str, Any]) -> dict[str, Any]:
    """``style_weights={wave:2,...}``: these styles' weights in a run with several styles, in place of their
    own (conf/style's, or the init_from model's: a fine-tune takes the styles from its metadata)."""
    chosen = value_at(cfg, "style_weights") or {}
    if not isinstance(chosen, (dict, DictConfig)):
        raise ConfigError(f"style_weights: expected a mapping {{style: weight}}, e.g. style_weights={{wave:2}}, got {chosen!r}")
    if not chosen:
        return kwargs
    if not kwargs["styles"]:
        raise ConfigError("style_weights: for runs with several styles; this run has one: use style.weight=...")
    styles = [dict(s) for s in kwargs["styles"]]
    names = [s["name"] for s in styles]
    for name in chosen:
        if name not in names:
            close = meant(str(name), names)
            raise ConfigError(f"style_weights.{name}: not a style of this run"
                              f"{f' (did you mean {close}?)' if close else ''}; its styles: {', '.join(names)}")
        styles[names.index(name)]["weight"] = float(number_at(cfg, f"style_weights.{name}", 0.0, strict=True))
    return {**kwargs, "styles": styles}


def _say_inherited_weights(cfg: DictConfig, kwargs: dict[str, Any]) -> None:
    """A multi-style fine-tune's styles keep the weights its model trained at (``_fine_tune``), which no config
    of the run shows: one line names those other than 1 that ``style_weights`` did not set."""
    chosen = value_at(cfg, "style_weights") or {}
    inherited = {s["name"]: w for s in kwargs["styles"] if s["name"] not in chosen and (w := float(s.get("weight", 1.0))) != 1.0}
    if inherited:
        rank_zero_info(f"init_from: {Path(kwargs['init_from']).name}'s styles train at the weights it trained at: "
                       + ", ".join(f"{name} {w:g}" for name, w in inherited.items())
                       + " (the others 1); style_weights={name: w} replaces any of them")


def module_kwargs(cfg: DictConfig) -> dict[str, Any]:
    """Plain keyword arguments for StyleTransferModule from a validated config."""
    styles = style_list(cfg)
    added = _added_style(cfg) if cfg.get("add_style") else _fine_tune(cfg) if cfg.get("init_from") else {}
    kwargs = {
        "style_name": cfg.name,
        "styles": styles or None,
        "style_image": str(resolve_path(cfg.style.image).resolve()),
        "style_size": cfg.style.size,
        "width": cfg.model.width,
        "num_res_blocks": cfg.model.num_res_blocks,
        "architecture": architecture(cfg),
        "gradient_checkpointing": bool(cfg.model.gradient_checkpointing),
        "channels_last": bool(cfg.model.channels_last),
        "compile": bool(cfg.model.compile),
        "content_layers": OmegaConf.to_container(cfg.loss.content_layers),
        "style_layers": OmegaConf.to_container(cfg.loss.style_layers),
        "content_weight": float(cfg.loss.content_weight),
        "style_weight": float(cfg.loss.style_weight),
        "tv_weight": float(cfg.loss.tv_weight),
        "vgg_weights": cfg.loss.vgg_weights,
        "vgg_checkpointing": bool(cfg.loss.gradient_checkpointing),
        "on_nonfinite": cfg.loss.on_nonfinite,
        "lr": float(cfg.optim.lr),
        "betas": tuple(float(b) for b in cfg.optim.betas),
        "weight_decay": float(cfg.optim.weight_decay),
        "warmup_steps": int(cfg.optim.warmup_steps),
        "min_lr_ratio": float(cfg.optim.min_lr_ratio),
        "image_size": cfg.data.image_size,
        **_distill(cfg),
        **_temporal(cfg),
        **added,  # add_style: the trained model's styles + the new one, its architecture, what trains
    }
    # Per-painting multiplier: some paintings need a stronger or weaker pull than the default. With several
    # styles (add_style's and a multi-style fine-tune's included) each entry carries its own, applied per sample.
    if not kwargs["styles"]:
        kwargs["style_weight"] *= float(cfg.style.weight)
    kwargs = _with_style_weights(cfg, kwargs)
    if "styles" in added and not cfg.get("add_style"):
        _say_inherited_weights(cfg, kwargs)
    return kwargs
