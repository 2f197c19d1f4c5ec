"""Stopping cleanly on a signal: SIGTERM (preemption) or a first Ctrl+C finishes the step, writes a resumable
last.ckpt and stops (train.py exits 143), on one process or on every rank of a DDP run at the same step."""
from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.utilities.exceptions import SIGTERMException

log = logging.getLogger(__name__)


class PreemptionCheckpoint(pl.Callback):
    """SIGTERM (preemption, `kill`) or a first Ctrl+C: finish the current step, write last.ckpt and
    stop. A second Ctrl+C aborts at once. The Ctrl+C handler lives from the training's start to its end
    (the caller's own is put back: a notebook or a test running ``fit`` keeps its Ctrl+C).

    Under DDP every rank must stop at the same step, and a signal can reach any of them, at any moment:
    SLURM's preemption and ``scancel``, ``timeout`` or a terminal's Ctrl+C signal every process of the job,
    Kubernetes only the first. Lightning's own SIGTERM handler broadcasts from inside the signal handler
    (Lightning 2.6; see Lightning-AI/pytorch-lightning#20806): when every rank is signalled, the ranks run
    different numbers of collectives and hang. So under DDP a signal only sets a flag here, and at each
    step's end the ranks agree on it (one all-reduce of one number, beside Lightning's own per-step
    broadcast of rank 0's flag): all stop after the same step, and all take part in writing the checkpoint."""

    def __init__(self, path: Path):
        self.path = path
        self._previous: dict[int, Any] = {}
        self._handlers: dict[int, Any] = {}
        self._requested = False

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        distributed = trainer.world_size > 1
        self._requested = False

        def request() -> None:
            if distributed:
                self._requested = True  # agreed on at the step's end (on_train_batch_end)
            else:
                trainer._signal_connector.received_sigterm = True  # Lightning's own graceful stop

        def on_sigint(signum, frame):
            log.warning("interrupted: saving a checkpoint after this step (Ctrl+C again to abort)")
            request()
            signal.signal(signal.SIGINT, self._previous.get(signal.SIGINT) or signal.default_int_handler)

        def on_sigterm(signum, frame):
            log.info("rank %d: SIGTERM: saving a checkpoint after this step", trainer.global_rank)
            request()

        self._handlers = {signal.SIGINT: on_sigint, **({signal.SIGTERM: on_sigterm} if distributed else {})}
        self._previous = {signum: signal.signal(signum, handler) for signum, handler in self._handlers.items()}

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        if trainer.world_size > 1 and torch.distributed.is_available() and torch.distributed.is_initialized():
            flag = torch.tensor([1.0 if self._requested else 0.0], device=trainer.strategy.root_device)
            torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
            if flag.item() > 0:  # some rank was signalled: every rank stops after this step
                trainer._signal_connector.received_sigterm = True

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if threading.current_thread() is threading.main_thread():
            for signum, handler in self._handlers.items():  # put back what was there, unless already replaced
                if signal.getsignal(signum) is handler:
                    signal.signal(signum, self._previous[signum])
        self._handlers, self._previous = {}, {}

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        if isinstance(exception, SIGTERMException):
            trainer.save_checkpoint(self.path, weights_only=False)  # resumable: optimizer, loops, RNG
            if trainer.is_global_zero:
                log.warning("stopped at step %d; checkpoint saved to %s (resume with resume=auto)", trainer.global_step,
                            self.path)
