"""Knowledge distillation for the light family: a trained network (the teacher, e.g. the bundled Johnson
network or the zoo) stylises every training batch too, and the student is also pulled towards the
teacher's output (a content loss between the two outputs at the loss's content layers, see
:meth:`stylenet.losses.PerceptualLoss.per_sample`). The teacher is frozen, never saved in checkpoints,
and must hold every style the run trains (matched by name). Plain PyTorch."""

from __future__ import annotations

import os

import torch
from torch import nn

from ..export import find_model, load_transformer
from ..models import one_hot


class TeacherError(ValueError):
    """A teacher that cannot be used for this run (missing file, or a style it lacks)."""


class Teacher(nn.Module):
    """A frozen TransformerNet and, per style of the run, the teacher's style index.

    ``forward(x, style_ids)``: ``x`` ``(N, 3, H, W)`` in [0, 1], ``style_ids`` ``(N,)`` indices into the
    run's styles (None for a one-style run) -> the teacher's output ``(N, 3, H, W)`` in (0, 1), no graph.
    """

    def __init__(self, path: str | os.PathLike, style_names: list[str]):
        super().__init__()
        file, _ = find_model(path)
        try:
            net, meta = load_transformer(file)
        except (OSError, ValueError) as exc:
            raise TeacherError(str(exc)) from None
        names = [s["name"] for s in meta.get("styles") or []] or [meta.get("style")]
        missing = [n for n in style_names if n not in names]
        if missing:
            raise TeacherError(f"{file.name} has no style {missing[0]!r} (its styles: {', '.join(map(str, names))}); "
                               "a teacher must hold every style the run trains")
        self.net = net.eval().requires_grad_(False)
        self.path, self.names = str(file), names
        self.register_buffer("index", torch.tensor([names.index(n) for n in style_names]), persistent=False)
        self.eval()

    def train(self, mode: bool = True) -> "Teacher":
        return super().train(False)  # always inference

    @torch.no_grad()
    def forward(self, x: torch.Tensor, style_ids: torch.Tensor | None = None) -> torch.Tensor:
        if self.net.num_styles == 1:
            return self.net(x)
        ids = self.index[style_ids] if style_ids is not None else self.index[:1].expand(x.shape[0])
        return self.net(x, one_hot(ids, self.net.num_styles).to(x.device))
