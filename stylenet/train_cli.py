"""Training from the command line: ``python train.py style=starry_night trainer.devices=4`` in a checkout,
``stylenet-train`` (or ``python -m stylenet.train_cli``) wherever the package is installed: the same command.

Hydra composes conf/train.yaml (a checkout's conf/, else the copy an installed package carries); Lightning runs
it (DDP re-runs the command in every rank, so nothing happens at import and nothing prompts). Outputs land in
hydra.run.dir (``outputs/<name>/<time>`` under the current folder). A user's mistake is one line and exit code
2 (3: the loss became NaN; 143: stopped by a signal after saving last.ckpt).
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from .paths import CONF_DIR

log = logging.getLogger(__name__)


def main(cfg: DictConfig) -> None:
    """One training run of the composed config; a user's mistake is one line on stderr and exit code 2."""
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    from hydra.core.hydra_config import HydraConfig

    from .config import ConfigError, check_overrides, validate
    from .training.photos import DataError
    from .training.base import NonFiniteLossError
    from .training.resume import ResumeError

    try:
        check_overrides(list(HydraConfig.get().overrides.task))
        validate(cfg)
        run(cfg)
    except (ConfigError, DataError, FileNotFoundError, NonFiniteLossError, ResumeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(3 if isinstance(exc, NonFiniteLossError) else 2)
    except SIGTERMException:
        sys.exit(143)  # stopped by a signal after saving last.ckpt (see PreemptionCheckpoint)


def run(cfg: DictConfig) -> None:
    """Build, (resume,) fit, save the final checkpoint and export the model."""
    import lightning.pytorch as pl
    from hydra.core.hydra_config import HydraConfig
    from hydra.utils import instantiate
    from lightning.pytorch.utilities import rank_zero_info, rank_zero_only

    from .config import build, painting_warnings, preview_kwargs
    from .hardware import describe, resolve_auto, slow_choices
    from .training.resume import (check_resume, checkpoint_precision, clear_earlier_run, find_resume_checkpoint,
                                          read_checkpoint)
    from .training.trainer import build_trainer, throughput_summary

    out_dir = Path(HydraConfig.get().runtime.output_dir)
    ckpt_path = find_resume_checkpoint(cfg.resume, out_dir)
    checkpoint = read_checkpoint(ckpt_path) if ckpt_path else None  # (memory-mapped; Lightning loads it itself)
    # trainer.precision / model.channels_last / model.compile: auto (a resumed run keeps its precision)
    for line in describe(resolve_auto(cfg, resumed_precision=checkpoint_precision(checkpoint))):
        rank_zero_info(line)
    for line in slow_choices(cfg) + painting_warnings(cfg):  # (a log line: the console and train.log)
        rank_zero_only(log.warning)(line)
    pl.seed_everything(cfg.seed, workers=True)
    datamodule, module = build(cfg)  # the datamodule lists and screens files: bad paths fail here
    check_resume(checkpoint, ckpt_path, module)  # the same network, trained on the same paintings
    del checkpoint  # its memory map: the run replaces that file
    if cfg.get("overwrite") and not ckpt_path:  # starting over there: the earlier run's files go (rank 0)
        rank_zero_only(clear_earlier_run)(out_dir)
    logger = instantiate(cfg.logger) if cfg.get("logger") else False
    if logger:  # the whole resolved config beside the module's own hyper-parameters
        logger.log_hyperparams({"config": OmegaConf.to_container(cfg, resolve=True)})
    trainer = build_trainer(cfg.trainer, out_dir, logger, cfg.checkpoint.every_n_steps, preview_kwargs(cfg),
                            cfg.checkpoint.get("every_minutes"))
    trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)
    summary = throughput_summary(trainer)
    if summary:
        rank_zero_info(summary)
    if not trainer.fast_dev_run:  # the final step, also off the every_n_steps grid (all ranks call, rank 0 writes)
        trainer.save_checkpoint(out_dir / "checkpoints" / "last.ckpt", weights_only=False)  # all of it: resumable
    module.raise_if_nonfinite(out_dir / "checkpoints" / "last.ckpt")

    if cfg.export.enabled and trainer.is_global_zero:
        path = module.export(out_dir / f"{cfg.name}.safetensors", trainer.global_step)
        print(f"exported {path}")


def cli(argv: list[str] | None = None) -> None:
    """The command: ``style=<your painting's file>`` rewritten first (Hydra only knows conf/style names),
    other config groups' options checked, then Hydra and :func:`main`. ``argv``: the overrides (default: the
    command line's); Hydra reads them from ``sys.argv``, where they are put, as DDP's ranks re-run the command
    with them."""
    from .hydra_callbacks import register_resolvers
    from .train_args import check_groups, own_painting

    register_resolvers()  # also for what Hydra resolves before a job: --cfg job --resolve, --info
    try:  # style=<your painting's file>: style.image and style.name
        sys.argv[1:] = own_painting(sys.argv[1:] if argv is None else list(argv))
        check_groups(sys.argv[1:])  # model=nosuch: one line, not Hydra's listing; experiment=nosuch: not ignored
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="train")(main)()


if __name__ == "__main__":
    cli()
