"""End-to-end video throughput: ``scripts/benchmark.py video`` (decode + stylise + encode, and where the
time goes), through the same :func:`stylenet.video.stylize_video` as ``scripts/stylize_video.py``."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from ..inference import load_stylizer
from ..video import default_batch_size, stylize_video


def bench_video(clip: str, models: Sequence[str], compile_modes: Sequence[bool] = (False, True), batch_size: int | None = None,
                max_frames: int | None = None, max_size: int | None = None, style: str = "starry_night",
                precisions: Sequence[str] = ("fp32",), writers: Sequence[bool | None] = (None,)) -> list[dict]:
    """One row per model, precision, compile mode and writer: frames/s end to end and seconds per stage. A
    compiled run first stylises a batch once outside the timing (the compile). Multi-style models run ``style``;
    ``batch_size`` None: stylize_video's default; ``writers``: stylize_video's ``writer_thread`` (None: its
    default), the rows of one configuration taken one after the other."""
    rows = []
    for spec, precision, compiled in ((m, p, c) for m in models for p in precisions for c in compile_modes):
        stylizer = load_stylizer(spec, compile=compiled, precision=precision)
        if stylizer.choice is None:
            stylizer.set_style(style)
        batch = default_batch_size(stylizer) if batch_size is None else batch_size
        for number, writer in enumerate(writers):
            with tempfile.TemporaryDirectory() as tmp:
                if compiled and number == 0:  # compile outside the timed run, at the clip's batch shape
                    stylize_video(stylizer, clip, Path(tmp) / "warm.mp4", batch_size=batch, max_size=max_size,
                                  max_frames=batch, progress=False)
                s = stylize_video(stylizer, clip, Path(tmp) / "out.mp4", batch_size=batch, max_size=max_size,
                                  max_frames=max_frames, progress=False, writer_thread=writer)
            row = {"model": spec, "compiled": compiled, "precision": precision, "batch": batch, "frames": s.frames,
                   "size": f"{s.size[0]}x{s.size[1]}", "fps": s.frames / s.seconds, "seconds": s.seconds,
                   "writer": s.writer, **s.stages}
            print(f"{spec} {precision} {'compiled' if compiled else 'eager'}, writer {row['writer']}: {s.line()}",
                  flush=True)
            rows.append(row)
    return rows


def video_table(rows: Sequence[dict]) -> str:
    """The rows as a markdown table; a ``writer`` column where the rows differ in it."""
    writers = len({r.get("writer") for r in rows}) > 1
    lines = ["| model | network | precision | batch |" + (" writer |" if writers else "") +
             " frames | size | frames/s | decode s | stylise s | encode s | total s |",
             "|---|---|---|---|" + ("---|" if writers else "") + "---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {'torch.compile' if r['compiled'] else 'eager'} | {r['precision']} | {r['batch']} | "
                     + (f"{r['writer']} | " if writers else "") + f"{r['frames']} | {r['size']} | "
                     f"**{r['fps']:.2f}** | {r['decode']:.1f} | {r['stylise']:.1f} | {r['encode']:.1f} | {r['seconds']:.1f} |")
    return "\n".join(lines)
