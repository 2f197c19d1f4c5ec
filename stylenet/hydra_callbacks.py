"""Hydra callbacks (configured under hydra.callbacks in conf/train.yaml) and the config's resolvers."""
from __future__ import annotations

import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from .paths import CONF_DIR, painting_name


def model_name(style_name: str, styles) -> str:
    """``${model_name:${style.name},${styles}}``: the run's and the exported model's name: the style's,
    or for several styles their names joined by '+' (up to 3; else ``<N>_styles``)."""
    names = [painting_name(s) for s in (styles or [])]
    if not names:
        return str(style_name)
    return "+".join(names) if len(names) <= 3 else f"{len(names)}_styles"


def register_resolvers() -> None:
    OmegaConf.register_new_resolver("model_name", model_name, replace=True)
    OmegaConf.register_new_resolver("painting_name", painting_name, replace=True)  # conf/style/*.yaml's name


register_resolvers()  # Hydra imports this module (hydra.callbacks) before it resolves hydra.run.dir


def compose_train(overrides=()) -> DictConfig:
    """The train config as train.py would see it, without running Hydra's job (for the GPU run's train
    stage and the tests). ``hydra.*`` overrides are dropped: they only matter to a job."""
    from hydra import compose, initialize_config_dir

    register_resolvers()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose("train", overrides=[o for o in overrides if not o.startswith("hydra.")])


class CheckOutputDir(Callback):
    """Before Hydra creates the run folder: stop with one line if it cannot be created or written
    (instead of Hydra's traceback), so no run starts that could not save its work, or if it holds an earlier
    run's checkpoints and this is a fresh run (no ``resume``, no ``overwrite=true``), which would overwrite them."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        path = Path(config.hydra.run.dir)
        try:
            path.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=path):
                pass
        except OSError as exc:
            print(f"error: hydra.run.dir: cannot write to {str(path)!r} ({exc.strerror or exc})", file=sys.stderr)
            sys.exit(2)
        if not os.access(path, os.W_OK):
            print(f"error: hydra.run.dir: {str(path)!r} is not writable", file=sys.stderr)
            sys.exit(2)
        earlier = sorted((path / "checkpoints").glob("*.ckpt"))
        fresh = not config.get("resume") and config.get("overwrite") is not True
        # (DDP's other ranks start inside the parent's fit, which checked; a config mistake is said first, by train.py)
        if earlier and fresh and os.environ.get("LOCAL_RANK", "0") == "0" and _valid(config):
            print(f"error: hydra.run.dir: {str(path)!r} holds a run already ({earlier[-1].relative_to(path)}); a fresh "
                  "run would overwrite its checkpoints and model: resume=auto continues it, overwrite=true starts "
                  "over there, or give another folder", file=sys.stderr)
            sys.exit(2)


def _valid(config: DictConfig) -> bool:
    """Whether train.py's checks (stylenet.config) pass, so that a run folder's problem is not said before a
    mistake in the config, which train.py names."""
    from .config import check_overrides, validate

    try:
        check_overrides(list(config.hydra.overrides.task))
        validate(config)
    except Exception:  # noqa: BLE001 - train.py reports it, whatever it is
        return False
    return True


def _not_an_advert(record: logging.LogRecord) -> bool:
    """Lightning 2.6 logs a tip for its cloud logger (litlogger) at every start; stylenet runs offline."""
    return not str(record.msg).startswith("💡 Tip: For seamless cloud logging")


class LogOnce(Callback):
    """Lightning's messages once, in Hydra's format, on the console and in the run's train.log. The
    ``lightning`` package gives its logger a console handler of its own and lets it propagate, so under
    Hydra's root handlers every line (``Trainer.fit stopped``, the auto switches...) was printed twice.
    Also drops Lightning's advert for its cloud logger."""

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:  # after Hydra configured logging
        if logging.getLogger().handlers:
            import lightning  # noqa: F401 - its import adds the handler (train.py imports it next anyway)

            own = logging.getLogger("lightning")
            for handler in [h for h in own.handlers if type(h) is logging.StreamHandler]:
                own.removeHandler(handler)
        rank_zero = logging.getLogger("lightning.pytorch.utilities.rank_zero")
        if _not_an_advert not in rank_zero.filters:
            rank_zero.addFilter(_not_an_advert)


class SaveResolved(Callback):
    """``.hydra/resolved.yaml`` beside Hydra's ``config.yaml``: the run's config with its interpolations
    resolved, so the file says ``name: my_painting`` where ``config.yaml`` keeps ``${painting_name:${.image}}``
    (readable with plain OmegaConf, no stylenet resolvers). The ``auto`` switches stay ``auto``: train.py prints
    what each took. A config that does not resolve is left to train.py to name."""

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        from hydra.core.hydra_config import HydraConfig

        from .atomic import atomic_path

        if os.environ.get("LOCAL_RANK", "0") != "0":
            return
        try:
            runtime = HydraConfig.get()
            task = OmegaConf.masked_copy(config, [key for key in config if key != "hydra"])  # (Hydra's own: saved)
            values = OmegaConf.to_container(task, resolve=True, throw_on_missing=False)
        except Exception:  # noqa: BLE001 - a bad interpolation is a config mistake: train.py reports it
            return
        if runtime.output_subdir is None:  # hydra.output_subdir=null: no .hydra folder asked for
            return
        with atomic_path(Path(runtime.runtime.output_dir) / runtime.output_subdir / "resolved.yaml") as tmp:
            Path(tmp).write_text(OmegaConf.to_yaml(OmegaConf.create(values)))

