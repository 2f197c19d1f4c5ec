"""Resuming a run: which checkpoint (``resume=auto`` or a path), what it was trained in, and whether it is
this run's at all. A checkpoint of another network (``model.width`` changed) failed inside Lightning with a
screen of ``size mismatch`` lines; one of another painting went on silently, training the first painting's
weights towards the second under the first's schedule. Both are now one line before the data loaders and
the trainer start (train.py prints it)."""
from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any

import torch

log = logging.getLogger(__name__)


class ResumeError(ValueError):
    """The checkpoint to resume from cannot be read or is not this run's (train.py prints it in one line)."""


def clear_earlier_run(out_dir: Path) -> int:
    """``overwrite=true`` (a fresh run in a folder that holds an earlier one, as ``make demo`` reruns): that
    run's checkpoints and previews removed, so none is taken for this run's (a ``best-step=900.ckpt`` of the
    earlier run stayed beside this one's, and its previews among these). Returns how many files went."""
    stale = [*(out_dir / "checkpoints").glob("*.ckpt"), *(out_dir / "previews").glob("step_*.png")]
    for path in stale:
        path.unlink(missing_ok=True)
    if stale:
        log.info("overwrite=true: removed the earlier run's %d checkpoints and previews in %s", len(stale), out_dir)
    return len(stale)


def find_resume_checkpoint(resume: str | None, out_dir: Path) -> str | None:
    """``resume``: None (fresh run), a checkpoint path, or "auto": this run folder's last.ckpt, else the
    newest last.ckpt of a sibling run folder (outputs/<style>/*), else a fresh run."""
    if not resume:
        return None
    if resume != "auto":
        if not Path(resume).is_file():
            raise FileNotFoundError(f"resume: checkpoint {resume!r} does not exist")
        return str(resume)
    mine = out_dir / "checkpoints" / "last.ckpt"
    if mine.is_file():  # the folder holds this run's own checkpoints: Lightning's warning that it is not empty is noise
        warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty")
        return str(mine)
    siblings = sorted(out_dir.parent.glob("*/checkpoints/last.ckpt"), key=os.path.getmtime)
    if siblings:
        return str(siblings[-1])
    log.warning("resume=auto: no last.ckpt in %s or beside it; starting a fresh run", out_dir)
    return None


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """A checkpoint's contents (memory-mapped, tensors only: no code runs); ResumeError naming the file for
    one that cannot be read."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:  # truncated, not a checkpoint, unsafe pickle: say which file, not a traceback
        raise ResumeError(f"resume: {path} is not a readable checkpoint ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("state_dict"), dict):
        raise ResumeError(f"resume: {path} is not a Lightning checkpoint (no state_dict)")
    return checkpoint


def checkpoint_precision(checkpoint: dict[str, Any] | None) -> str | None:
    """The Lightning precision a checkpoint (:func:`read_checkpoint`) was trained in (written by
    TrainingModule.on_save_checkpoint), so that ``trainer.precision=auto`` resumes in it: a probe that chose
    otherwise would change the run's numbers (exact resume). None without a checkpoint, or for checkpoints
    from before 2026-12-04."""
    precision = checkpoint.get("precision") if checkpoint else None
    return str(precision) if precision else None


def _paintings(hparams: dict[str, Any]) -> list[tuple[str, str]] | None:
    """What a feed-forward run trains on: its styles' names and painting files (file names: a moved checkout
    is the same run); None for modules without styles (AdaIN: any painting)."""
    if hparams.get("styles"):
        return [(str(s.get("name")), Path(str(s.get("image", ""))).name) for s in hparams["styles"]]
    if hparams.get("style_image"):
        return [(str(hparams.get("style_name")), Path(str(hparams["style_image"])).name)]
    return None


def _differences(then: dict[str, Any], now: dict[str, Any], limit: int = 4) -> str:
    keys = [k for k in now if k in then and then[k] != now[k] and k not in ("init_from", "style_image", "styles")]
    shown = [f"{k} {then[k]!r} -> {now[k]!r}" for k in keys[:limit]]
    return ", ".join(shown + ([f"{len(keys) - limit} more"] if len(keys) > limit else []))


def check_resume(checkpoint: dict[str, Any] | None, path: str | os.PathLike | None, module: torch.nn.Module) -> None:
    """ResumeError unless ``checkpoint`` (:func:`read_checkpoint` of ``path``) holds ``module``'s network (every
    trained tensor, by name and shape) trained on the same paintings. Other settings (the schedule, loss
    weights, the data) may change on a resume, as extending ``trainer.max_steps`` needs."""
    if not checkpoint:
        return
    frozen = tuple(getattr(module, "FROZEN_PREFIXES", ()))
    saved = {k: tuple(v.shape) for k, v in checkpoint["state_dict"].items() if not k.startswith(frozen)}
    built = {k: tuple(v.shape) for k, v in module.state_dict().items() if not k.startswith(frozen)}
    then, now = dict(checkpoint.get("hyper_parameters") or {}), dict(getattr(module, "hparams", {}))
    odd = next((k for k in sorted(saved.keys() | built.keys()) if saved.get(k) != built.get(k)), None)
    if odd is not None:
        where = f"{odd}: {saved.get(odd) or 'absent'} there, {built.get(odd) or 'absent'} here"
        differ = _differences(then, now)
        raise ResumeError(f"resume: {path} holds another network than this run builds ({where}"
                          f"{'; settings that differ: ' + differ if differ else ''}): resume with the settings it "
                          "was trained with (its run folder's .hydra/config.yaml), or start a new run")
    before, after = _paintings(then), _paintings(now)
    if before is not None and after is not None and before != after:
        names = lambda styles: ", ".join(f"{n} ({f})" for n, f in styles)  # noqa: E731
        raise ResumeError(f"resume: {path} was trained on {names(before)}, this run on {names(after)}: resume with "
                          "its painting, or train this one in a new run (without resume)")
