"""The results of an evaluation: one :class:`Method` per column (a model on one painting, or the Gatys
baseline), and how they leave the process: a labelled contact sheet, a JSON report, CSV rows, each file
written atomically. Used by scripts/evaluate.py and scripts/calibrate.py."""
from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from ..atomic import atomic_path
from ..image import load_image, save_image
from .sheet import contact_sheet

TERMS = ("content", "style", "tv", "total")


@dataclass
class Method:
    """One column of the report: a model, the peer's any-painting network, or the Gatys baseline for one style."""
    name: str
    kind: str  # "model" | "peer" | "gatys"
    style: str
    style_image: str
    loss: dict[str, Any]
    per_image: list[dict[str, Any]] = field(default_factory=list)

    def mean(self) -> dict[str, float]:
        keys = [*TERMS, "ms"]
        return {k: sum(r[k] for r in self.per_image) / len(self.per_image) for k in keys} if self.per_image else {}


def sheet(methods: list[Method], rows: list[list[torch.Tensor]], photos: list[tuple[Path, torch.Tensor]],
          height: int = 256) -> Image.Image:
    """Contact sheet of :func:`evaluate`'s rows: per row a photo, then for each style its painting
    (before the first method of that style) and the methods' outputs, each captioned with its
    losses and time."""
    columns, captions = ["content"], [[p.name] for p, _ in photos]
    cells: list[list[torch.Tensor]] = [[row[0]] for row in rows]
    seen: set[str] = set()
    for m, method in enumerate(methods):
        if method.style_image not in seen:
            seen.add(method.style_image)
            painting = load_image(method.style_image, 512)
            columns.append(f"style: {method.style}")
            for row_cells, caption in zip(cells, captions):
                row_cells.append(painting)
                caption.append(Path(method.style_image).name)
        columns.append(method.name)
        for row_cells, row, caption, r in zip(cells, rows, captions, method.per_image):
            row_cells.append(row[1 + m])
            caption.append(f"total {r['total']:.4g}\ncontent {r['content']:.3g}  style {r['style']:.3g}\n{r['ms']:.0f} ms")
    return contact_sheet(cells, columns, captions, height)


def report(methods: list[Method], settings: dict[str, Any]) -> dict[str, Any]:
    return {"settings": settings,
            "methods": [{**{k: v for k, v in asdict(m).items() if k != "per_image"}, "mean": m.mean(),
                         "per_image": m.per_image} for m in methods]}


def write_outputs(out_dir: str | os.PathLike, data: dict[str, Any], rows: list[dict[str, Any]],
                  picture: Image.Image, stem: str) -> list[Path]:
    """``<stem>.json``, ``<stem>.csv`` (one line per row dict) and ``<stem>.png``, each written atomically."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / f"{stem}.json") as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    with atomic_path(out / f"{stem}.csv") as tmp:
        tmp.write_text(buffer.getvalue())
    save_image(picture, out / f"{stem}.png")
    return [out / f"{stem}.{ext}" for ext in ("json", "csv", "png")]


def csv_rows(methods: list[Method]) -> list[dict[str, Any]]:
    """One line per method and photo, then one ``mean`` line per method."""
    rows = []
    for m in methods:
        for r in [*m.per_image, {"photo": "mean", **m.mean()}]:
            rows.append({"method": m.name, "style_name": m.style, "photo": r["photo"],
                         **{k: f"{r[k]:.6g}" for k in (*TERMS, "ms")}})
    return rows
