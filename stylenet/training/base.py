"""TrainingModule: what every stylenet LightningModule shares (the feed-forward networks of
:mod:`stylenet.training.module`, the AdaIN decoder of :mod:`stylenet.adain.module`): logging without host-device
syncs, non-finite loss handling, fused AdamW with warmup + cosine, checkpoints without the frozen
networks and with the RNG states."""
from __future__ import annotations

import logging
import math
import random
import warnings
from pathlib import Path

import lightning.pytorch as pl
from lightning.pytorch.utilities import rank_zero_info
import numpy as np
import torch

from ..hardware import tf32_matmul
from .finetune import trainable
from .nonfinite import StepHealth

log = logging.getLogger(__name__)
# Lightning's warnings that no stylenet user can act on, hidden from the console (at import):
QUIET_WARNINGS = (
    # the frozen VGG is in eval mode on purpose; Lightning warns about any eval-mode module at fit start
    r"Found \d+ module\(s\) in eval mode",
    # lightning 2.6's own pytree copy builds LeafSpec(), which torch 2.14 deprecates (every run;
    # lightning/pytorch/utilities/_pytree.py)
    r"`isinstance\(treespec, LeafSpec\)` is deprecated",
    # bf16-mixed keeps the weights in fp32, so the model summary's "Using 32 bits instead" is the right size:
    # "will not be accurate" is noise in every bf16 run (auto picks bf16 on GPUs and on some CPUs)
    r"Precision bf16-mixed is not supported by the model summary",
    # a mid-epoch resume: Lightning cannot see that stylenet's ResumableSampler starts the epoch where the
    # checkpoint stopped (stylenet.training.sampling; tests/test_resume.py checks the resumed run is exact)
    r"You're resuming from a checkpoint that ended before the epoch ended",
)
for _message in QUIET_WARNINGS:
    warnings.filterwarnings("ignore", message=_message)


class NonFiniteLossError(RuntimeError):
    """Training stopped because the loss became NaN or infinite (loss.on_nonfinite=stop)."""


def eager():
    """Run compiled modules eagerly inside this block (validation, previews): with model.compile the
    training step's graph is the only one compiled, so nothing recompiles after the first step."""
    return torch.compiler.set_stance("force_eager")


def warmup_cosine(step: int, total_steps: int, warmup_steps: int, min_lr_ratio: float) -> float:
    """LR multiplier: linear warmup from 1/warmup_steps to 1, then cosine decay to ``min_lr_ratio``
    at ``total_steps`` (Loshchilov & Hutter 2017, SGDR, without restarts)."""
    if warmup_steps and step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


class TrainingModule(pl.LightningModule):
    """Subclasses hold the trained network as ``self.net``, save ``lr``, ``betas``, ``weight_decay``,
    ``warmup_steps``, ``min_lr_ratio`` and ``on_nonfinite`` as hyper-parameters, call :meth:`record_step`
    from ``training_step``, and implement :meth:`preview` and :meth:`export`."""

    # Prefixes of frozen networks in state_dict(): left out of checkpoints, rebuilt on load.
    FROZEN_PREFIXES: tuple[str, ...] = ()

    def __init__(self):
        super().__init__()
        self.nonfinite_message: str | None = None
        self._skipped_seen = 0
        self._health: StepHealth | None = None  # device-side record of non-finite steps
        # Host floats for the progress bar (stylenet.training.trainer.progress_bar), refreshed without a
        # per-step host-device sync: every step on a CPU, every log_every_n_steps on an accelerator.
        self.bar_metrics: dict[str, float] = {}

    def preview(self, probes: torch.Tensor) -> tuple[torch.Tensor, int]:
        """Preview grid cells for probe photos ``(P, 3, S, S)`` in [0, 1]: ``(cells (K, 3, S, S), columns)``,
        row by row, the photos' own row first."""
        raise NotImplementedError

    def export(self, path: Path, steps: int) -> Path:
        """Write the trained network as a stylenet model file (safetensors + metadata)."""
        raise NotImplementedError

    def record_step(self, terms: dict[str, torch.Tensor], batch_size: int) -> None:
        """Log a training step's loss terms and record them for the non-finite check (no host sync)."""
        values = torch.stack([v.detach().float() for v in terms.values()])
        if self._health is None:
            self._health = StepHealth(list(terms), values.device)
        self._health.record_loss(values)
        self._log(terms, "train", batch_size)
        if self.global_step % self.report_every() == 0:
            self.bar_metrics.update(zip(terms, values.tolist()))

    def _log(self, terms: dict[str, torch.Tensor], prefix: str, batch_size: int) -> None:
        training = prefix == "train"
        for name, value in terms.items():
            # Tensors go to the logger, which converts them only when it writes (every log_every_n_steps);
            # the progress bar gets host floats (bar_metrics), since Lightning converts its bar values with
            # .item() every step, a host-device sync.
            self.log(f"{prefix}/{name}", value, prog_bar=not training and name == "total", on_step=training,
                     on_epoch=not training, sync_dist=not training, batch_size=batch_size)

    def report_every(self) -> int:
        """Steps between host reads of device values (bar, non-finite check): 1 on a CPU (free), else
        the trainer's log_every_n_steps (each read waits for the device to finish its queue)."""
        return 1 if self.device.type == "cpu" else max(1, self.trainer.log_every_n_steps)

    def on_fit_start(self) -> None:
        tf32_matmul(self.device)  # the Gram matrices' fp32 products on tensor cores (stylenet.hardware)

    def on_before_optimizer_step(self, optimizer) -> None:
        # Non-finite gradients (from a NaN/inf loss here or, under DDP, on any rank: gradients are
        # all-reduced, so every rank sees the same) skip the fused AdamW update on the device, as
        # GradScaler does. With on_nonfinite=stop every later step is skipped too, so the weights stay
        # the last good ones until the host notices and stops.
        if self._health is None:
            return
        grads = [p.grad for p in self.net.parameters() if p.grad is not None]
        skip = self._health.record_grads(grads, self.global_step, sticky=self.hparams.on_nonfinite == "stop")
        if getattr(self.trainer.precision_plugin, "scaler", None) is None:  # fp16's scaler sets its own
            getattr(optimizer, "_optimizer", optimizer).found_inf = skip

    def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None) -> None:
        """``trainer.gradient_clip_val`` with the fused AdamW: Lightning refuses to clip under mixed precision
        for any optimizer that unscales fp16 gradients in its own step (Lightning-AI/pytorch-lightning#21435,
        a RuntimeError at the first step, bf16-mixed included, which has no scaler). So: fp16's scaler unscales
        first (torch.amp's GradScaler then steps the fused optimizer without unscaling again), and the
        gradients are clipped as Lightning clips them (by norm, or ``gradient_clip_algorithm=value``), on the
        device: no host-device sync."""
        if not gradient_clip_val:
            return
        inner = getattr(optimizer, "_optimizer", optimizer)
        scaler = getattr(self.trainer.precision_plugin, "scaler", None)
        if scaler is not None:
            scaler.unscale_(inner)
        params = [p for group in inner.param_groups for p in group["params"] if p.grad is not None]
        if gradient_clip_algorithm == "value":
            torch.nn.utils.clip_grad_value_(params, gradient_clip_val)
        else:
            torch.nn.utils.clip_grad_norm_(params, gradient_clip_val)

    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        if self.global_step % self.report_every() == 0:
            self._check_health()

    def on_train_end(self) -> None:
        self._check_health()

    def _check_health(self) -> None:
        """Host read of the device-side record (one sync): stop, or report skipped batches."""
        if self._health is None:
            return
        first_step, bad_terms, bad_steps = self._health.read()
        any_bad = first_step >= 0
        if self.trainer.world_size > 1:  # every rank takes the same decision
            any_bad = self.trainer.strategy.reduce_boolean_decision(any_bad, all=False)
        if not any_bad:
            return
        names = [n for n, bad in zip(self._health.names, bad_terms) if bad and n != "total"] or ["on another rank"]
        message = f"non-finite loss at step {first_step} ({', '.join(names)})"
        if self.hparams.on_nonfinite == "skip":
            if bad_steps > self._skipped_seen:
                log.warning("%s: %d batch(es) skipped so far", message, bad_steps)
                self._skipped_seen = bad_steps
        elif self.nonfinite_message is None:
            self.nonfinite_message = message
            self.trainer.should_stop = True

    @property
    def skipped_batches(self) -> int:
        """Optimizer steps skipped for non-finite losses or gradients so far (a host read)."""
        return self._health.read()[2] if self._health is not None else 0

    def raise_if_nonfinite(self, checkpoint: Path) -> None:
        if self.nonfinite_message:  # set by _check_health, at the latest in on_train_end
            raise NonFiniteLossError(f"{self.nonfinite_message}; stopped with the last good weights in {checkpoint} "
                                     "(loss.on_nonfinite=skip skips such batches instead)")

    def configure_optimizers(self):
        hp = self.hparams
        # Fused: one kernel for all parameters (CUDA and CPU), and it can skip a step on the device
        # (found_inf, see on_before_optimizer_step) without a host-device sync.
        optimizer = torch.optim.AdamW(trainable(self.net), lr=hp.lr, betas=tuple(hp.betas),
                                      weight_decay=hp.weight_decay, fused=True)
        total = int(self.trainer.estimated_stepping_batches)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: warmup_cosine(step, total, hp.warmup_steps, hp.min_lr_ratio))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    def on_train_start(self) -> None:
        """A resumed run goes on with this run's optimiser settings: Lightning restores the checkpoint's
        learning rate, betas and weight decay into the optimiser and its base LR into the schedule, so
        ``optim.lr=...`` on a resume was silently ignored (the schedule's shape, from this run's
        ``trainer.max_steps`` and ``optim.warmup_steps``, already took effect). Unchanged settings change
        nothing (exact resume); a changed learning rate at this step is said in one line."""
        if self.global_step == 0:
            return
        hp = self.hparams
        for config in self.trainer.lr_scheduler_configs:
            schedule, optimizer = config.scheduler, config.scheduler.optimizer
            was = [group["lr"] for group in optimizer.param_groups]
            schedule.base_lrs = [float(hp.lr)] * len(schedule.base_lrs)
            now = [base * rule(schedule.last_epoch) for base, rule in zip(schedule.base_lrs, schedule.lr_lambdas)]
            for group, lr in zip(optimizer.param_groups, now):
                group.update(lr=lr, initial_lr=float(hp.lr), betas=tuple(hp.betas), weight_decay=float(hp.weight_decay))
            schedule._last_lr = now
            if any(not math.isclose(a, b, rel_tol=1e-6) for a, b in zip(was, now)):
                rank_zero_info(f"resume at step {self.global_step}: learning rate {now[0]:.3g} from this run's settings "
                               f"(optim.lr={float(hp.lr):g}, trainer.max_steps={self.trainer.max_steps}, warmup "
                               f"{hp.warmup_steps}); the checkpoint's schedule was at {was[0]:.3g}")

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        state = checkpoint["state_dict"]
        for key in [k for k in state if k.startswith(self.FROZEN_PREFIXES)]:
            del state[key]
        # Data order and crops do not depend on global RNGs (see ResumableSampler), but anything a
        # user adds might: keep them, as plain tensors and ints (loadable with weights_only=True).
        np_state = np.random.get_state()
        checkpoint["rng_states"] = {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "python": random.getstate(),
            "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]],
        }
        checkpoint["precision"] = str(self.trainer.precision)  # a resume with precision=auto keeps it

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        # Put the freshly built frozen VGG back so strict loading still checks the network's keys.
        state = checkpoint["state_dict"]
        for key, value in self.state_dict().items():
            if key.startswith(self.FROZEN_PREFIXES):
                state.setdefault(key, value)
        rng = checkpoint.get("rng_states")
        if rng:
            torch.set_rng_state(rng["torch"])
            if rng["cuda"] and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(rng["cuda"])
            version, *rest = rng["python"]
            random.setstate((version, tuple(rest[0]), *rest[1:]))
            kind, keys, *more = rng["numpy"]
            np.random.set_state((kind, keys.numpy().astype(np.uint32), *more))
