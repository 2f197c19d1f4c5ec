"""Flicker and style together (``scripts/evaluate_video.py``): every model stylises the same clips frame
by frame; each gets the temporal warping error (:mod:`.metric`) on synthetic clips (exact motion, from
still photos) and on real clips (DIS flow), beside its content and style losses on those frames
(scripts/evaluate.py's scoring), so stability is never bought by washing the style out. The input clips'
own warping error is the floor (resampling and, for real clips, flow errors)."""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..atomic import atomic_path
from ..quality.evaluate import evaluate
from ..quality.scoring import EvaluationError, load_photos
from ..export import ModelFileError
from ..inference import load_stylizer
from .io import VideoError, VideoReader, frame_folder, read_frame, to_rgb
from .metric import dis_flows, warping_error
from .synthetic import MOTIONS, synthetic_clip


@dataclass
class Clip:
    name: str
    kind: str  # "synthetic" or "real"
    frames: torch.Tensor  # (T, 3, H, W) in [0, 1]
    flows: torch.Tensor  # (T, 2, H, W)
    masks: torch.Tensor | None  # (T, 1, H, W); None: the pixels whose source is in the frame


def synthetic_clips(photos: Sequence[tuple[Path, torch.Tensor]], motions: Sequence[str], frames: int,
                    width: int, height: int) -> list[Clip]:
    return [Clip(f"{path.stem}:{kind}", "synthetic", *synthetic_clip(photo, kind, frames, width, height), None)
            for path, photo in photos for kind in motions]


def real_clip(path: str | os.PathLike, frames: int, max_size: int, start: int = 0) -> Clip:
    """``frames`` frames of a video from frame ``start`` (or the first of a folder of frames), longer side
    ``max_size``, with DIS flows and masks."""
    got = []
    if Path(path).is_dir():
        got = [torch.from_numpy(read_frame(f).copy()).permute(2, 0, 1).float() / 255 for f in frame_folder(path)[:frames]]
    else:
        reader = VideoReader(path)
        try:
            got = [torch.from_numpy(to_rgb(f)).permute(2, 0, 1).float() / 255
                   for f in itertools.islice(reader.frames(), start, start + frames)]
        finally:
            reader.close()
    if len(got) < 2:
        raise VideoError(f"{path}: fewer than 2 frames")
    x = torch.stack(got)
    scale = max_size / max(x.shape[-2:])
    if scale < 1:
        x = F.interpolate(x, scale_factor=scale, mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)
    return Clip(Path(path).name, "real", x, *dis_flows(x))


def stylise(stylizer, frames: torch.Tensor, batch: int = 4) -> torch.Tensor:
    with torch.inference_mode():
        return torch.cat([stylizer(frames[i:i + batch]).cpu() for i in range(0, len(frames), batch)])


def evaluate_video(models: Sequence[str], clips: Sequence[Clip], every: int = 3, device: str = "auto",
                   style: str | None = None) -> list[dict]:
    """One row per model (and a first row for the input clips): mean warping error per clip kind, and
    content/style losses on every ``every``-th frame of every clip."""
    kinds = sorted({c.kind for c in clips}, reverse=True)
    rows = [{"model": "input (the floor)", **{k: float(np.mean([warping_error(c.frames, c.flows, c.masks)
                                                                for c in clips if c.kind == k])) for k in kinds}}]
    scored = [(Path(f"{c.name}@{t}"), c.frames[t]) for c in clips for t in range(0, len(c.frames), every)]
    for model in models:
        stylizer = load_stylizer(model, device=device)
        if stylizer.choice is None:
            stylizer.set_style(style or stylizer.style_names[0])
        errors = {k: float(np.mean([warping_error(stylise(stylizer, c.frames), c.flows, c.masks)
                                    for c in clips if c.kind == k])) for k in kinds}
        methods, _ = evaluate([model], scored, device=device, progress=False,
                              model_styles=[stylizer.choice.label] if len(stylizer.style_names) > 1 else None)
        m = methods[0]
        losses = {k: float(np.mean([p[k] for p in m.per_image])) for k in ("content", "style", "total")}
        rows.append({"model": str(model), "painting": m.style, **errors, **losses})
    return rows


def table(rows: Sequence[dict]) -> str:
    kinds = [k for k in ("synthetic", "real") if k in rows[0]]
    base = rows[1] if len(rows) > 1 else None
    head = "| model | " + " | ".join(f"warping error, {k} (x1e-3)" for k in kinds) + " | content | style | total |"
    lines = [head, "|---|" + "---|" * (len(kinds) + 3)]
    for r in rows:
        cells = []
        for k in kinds:
            rel = f" ({r[k] / base[k]:.0%})" if base is not None and r is not rows[0] and r is not base else ""
            cells.append(f"{1e3 * r[k]:.3f}{rel}")
        losses = [f"{r[k]:,.0f}" if k in r else "-" for k in ("content", "style", "total")]
        if base is not None and r is not rows[0] and r is not base:
            losses[1] += f" ({r['style'] / base['style'] - 1:+.1%})"
        lines.append(f"| {r['model']} | " + " | ".join(cells + losses) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="evaluate_video", description=__doc__)
    p.add_argument("--model", nargs="+", required=True, help="models to compare (the first is the baseline for the %% columns)")
    p.add_argument("--photos", nargs="*", default=["data/sample"], help="stills for the synthetic clips")
    p.add_argument("--count", type=int, default=2, help="photos used")
    p.add_argument("--motions", nargs="+", default=list(MOTIONS), choices=MOTIONS)
    p.add_argument("--frames", type=int, default=10, help="frames per synthetic clip")
    p.add_argument("--size", type=int, default=256, help="synthetic clip width (height 3/4 of it)")
    p.add_argument("--clip", nargs="*", default=[], help="real clips or folders of frames (flow estimated with DIS)")
    p.add_argument("--clip-frames", type=int, default=16, help="frames of each real clip")
    p.add_argument("--clip-size", type=int, default=320, help="longer side of the real clips' frames")
    p.add_argument("--clip-start", type=int, default=0,
                   help="skip this many frames of each video file (e.g. a fade-in; folders of frames start at their first)")
    p.add_argument("--style", help="for multi-style models: the style to stylise with")
    p.add_argument("--device", default="auto")
    p.add_argument("--out", default="outputs/eval_video", help="folder for evaluation.json and evaluation.md")
    args = p.parse_args(argv)
    try:
        photos = load_photos(args.photos, args.count, max(args.size * 2, 320)) if args.photos and args.count else []
        clips = synthetic_clips(photos, args.motions, args.frames, args.size, args.size * 3 // 4)
        clips += [real_clip(c, args.clip_frames, args.clip_size, args.clip_start) for c in args.clip]
        if not clips:
            raise EvaluationError("no clips: give --photos/--count or --clip")
        rows = evaluate_video(args.model, clips, device=args.device, style=args.style)
    except (EvaluationError, ModelFileError, VideoError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    text = table(rows)
    print(text)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    settings = {k: v for k, v in vars(args).items() if k != "out"}
    for name, content in (("evaluation.json", json.dumps({"settings": settings, "rows": rows}, indent=1)),
                          ("evaluation.md", text + "\n")):
        with atomic_path(out / name) as tmp:
            tmp.write_text(content)
    print(f"wrote {out / 'evaluation.json'}, {out / 'evaluation.md'}")
    return 0
