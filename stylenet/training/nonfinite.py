"""Non-finite losses without a host-device sync per step: a device-side record of bad steps and the
``found_inf`` flag with which fused AdamW skips a poisoned update on the device (as torch.amp's
GradScaler does). StyleTransferModule reads the record back every report interval.

Plain PyTorch: nothing here imports Lightning.
"""
from __future__ import annotations

import torch


class StepHealth:
    """Device-side record of non-finite training steps: the first bad step, which loss terms were
    non-finite then, and how many optimizer steps were skipped. Updated with tensor ops only (no
    host-device sync); :meth:`read` brings it to the host."""

    def __init__(self, names: list[str], device: torch.device):
        self.names = names
        self.first_step = torch.full((), -1, dtype=torch.long, device=device)
        self.bad_terms = torch.zeros(len(names), dtype=torch.bool, device=device)
        self.bad_steps = torch.zeros((), dtype=torch.long, device=device)
        self.stopped = torch.zeros((), dtype=torch.bool, device=device)
        self._loss_bad = torch.zeros(len(names), dtype=torch.bool, device=device)
        self._one = torch.ones((), device=device)

    def record_loss(self, values: torch.Tensor) -> None:
        """``values``: this micro-batch's loss terms (accumulated until the optimizer step)."""
        self._loss_bad = self._loss_bad | ~torch.isfinite(values)

    def record_grads(self, grads: list[torch.Tensor], step: int, sticky: bool) -> torch.Tensor:
        """Record optimizer step ``step``; return the fp32 ``found_inf`` flag (1.0: skip the update)
        for fused AdamW. A Python int as a kernel argument: no host-device copy."""
        found = torch.zeros((), device=self.first_step.device)
        if grads:  # GradScaler's own fused check (multiplies by 1: grads unchanged)
            torch._amp_foreach_non_finite_check_and_unscale_(grads, found, self._one)
        bad = (found > 0) | self._loss_bad.any()
        first = bad & (self.first_step < 0)
        self.first_step = torch.where(first, step, self.first_step)
        self.bad_terms = torch.where(first, self._loss_bad, self.bad_terms)
        skip = bad | (self.stopped & sticky)
        self.stopped = self.stopped | bad
        self.bad_steps = self.bad_steps + skip.long()
        self._loss_bad = torch.zeros_like(self._loss_bad)
        return skip.float()

    def read(self) -> tuple[int, list[bool], int]:
        first, terms, bad = (t.cpu() for t in (self.first_step, self.bad_terms, self.bad_steps))
        return int(first), terms.tolist(), int(bad)
