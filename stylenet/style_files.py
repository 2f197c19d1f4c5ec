"""The files that configs and scripts name: a style (a conf/style/<name>.yaml name, or an image path), a
painting that must decode before anything is built, and a loss config's settings; with ConfigError, the
one-line error of every config check (stylenet.config validates the rest of a config)."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from .losses import SETTINGS
from .paths import CONF_DIR, resolve_path


class ConfigError(ValueError):
    """A config value is invalid; the message names the key."""


# Longer side of a style image given as a bare path: conf/style/*.yaml's size (fast-neural-style's 384
# for 256-px training crops).
DEFAULT_STYLE_SIZE = 384


def bundled_styles() -> list[str]:
    """The bundled paintings' names, sorted: conf/style/*.yaml (as Hydra reads them), or in an installed package,
    which has no conf/, the paintings the wheel carries (``data/styles/*.jpg``)."""
    configs = CONF_DIR / "style"
    if configs.is_dir():
        return sorted(p.stem for p in configs.glob("*.yaml"))
    return sorted(p.stem for p in resolve_path("data/styles").glob("*.jpg"))


def resolve_style(style: str) -> tuple[Path, int, float]:
    """``(image, size, weight)`` of a style config name (conf/style/<name>.yaml), or of an image path
    (size :data:`DEFAULT_STYLE_SIZE`, weight 1). An installed package has no conf/: a bundled painting's name
    is then its file (``data/styles/<name>.jpg``, shipped in the wheel) at the default size."""
    config = resolve_path(Path("conf/style") / f"{style}.yaml")
    if "/" not in style and config.is_file():
        cfg = OmegaConf.load(config)
        return resolve_path(cfg.image), int(cfg.size), float(cfg.get("weight", 1.0))
    bundled = resolve_path(Path("data/styles") / f"{style}.jpg")
    if "/" not in style and not config.parent.is_dir() and bundled.is_file():
        return bundled, DEFAULT_STYLE_SIZE, 1.0
    path = resolve_path(style)
    if not path.is_file():
        raise ConfigError(f"style {style!r} is neither a conf/style/*.yaml name nor an image file")
    return path, DEFAULT_STYLE_SIZE, 1.0


def check_image(path: Path, what: str) -> None:
    """Raise ConfigError ``"<what>: '<path>' is not a readable image (<reason>)"`` unless ``path`` decodes
    (fully: a truncated file passes a header check), so that a bad painting stops the run before VGG and
    the data loaders are built, not in the module's setup with a traceback."""
    from .image import open_rgb

    try:
        open_rgb(path)
    except (OSError, ValueError, SyntaxError) as exc:  # PIL: UnidentifiedImageError (OSError), truncated data
        raise ConfigError(f"{what}: {str(path)!r} is not a readable image ({type(exc).__name__})") from None


# A painting enlarged more than this to its style size gives Gram targets of interpolation blur, not brushwork.
MAX_ENLARGEMENT = 2.0


def enlargement(path: Path, size: int) -> tuple[int, int, float, int] | None:
    """``(width, height, factor, scan)`` when the painting at ``path`` (already checked readable) is enlarged
    ``factor`` > :data:`MAX_ENLARGEMENT` times to its style size ``size`` (longer side, px), ``scan`` being the
    longer side that would do; else None. The header alone is read."""
    from PIL import Image

    with Image.open(path) as img:
        width, height = img.size
    if size <= MAX_ENLARGEMENT * max(width, height):
        return None
    return width, height, size / max(width, height), math.ceil(size / MAX_ENLARGEMENT)


def enlargement_warning(path: Path, size: int, what: str) -> str | None:
    """:func:`enlargement` as one line naming ``what`` and the file, else None."""
    found = enlargement(path, size)
    if found is None:
        return None
    width, height, factor, scan = found
    return (f"{what}: {str(path)!r} is {width}x{height} px, enlarged {factor:.1f}x to its style size "
            f"{size} px: the style targets see the enlargement's blur, not the brushwork (use a scan of at least "
            f"{scan} px, or a smaller style size)")


def load_loss_settings(path: str | Path = "conf/loss/johnson.yaml") -> dict[str, Any]:
    """The PerceptualLoss settings of a loss config file (conf/loss/*.yaml)."""
    file = resolve_path(path)
    if not file.is_file():
        raise ConfigError(f"loss config {str(path)!r} does not exist")
    cfg = OmegaConf.to_container(OmegaConf.load(file))
    return {k: cfg[k] for k in SETTINGS if k in cfg}
