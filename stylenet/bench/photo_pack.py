"""Re-encoded copies of a photo (or painting) folder that fit a byte budget: the GPU kit's training photos
(``.gpu/photos``) and AdaIN paintings (``.gpu/paintings``), see :mod:`stylenet.bench.kit`.

The highest JPEG quality in QUALITIES whose total fits is chosen from a sample, then checked; below the
floor quality an evenly spaced subset is kept (spread over the folder, not a prefix of it).
"""
from __future__ import annotations

import json
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

PHOTO_SIDE = 256  # shorter side: the training crop (conf/data/*.yaml image_size)
QUALITIES = (92, 88, 85, 80, 75, 70, 65, 60, 55, 50)  # 50: the floor; below it 8x8 blocking shows at 256 px
BLOCK = 4096  # bytes: what the device tool counts a file as, at least (a kit of 62.1 MiB by bytes, 2,760 small
# files, was refused as over its 64 MiB on 2026-11-28: it counts disk blocks, not bytes)


def carried_bytes(nbytes: int) -> int:
    """A file of ``nbytes`` as the device tool's working-tree limit counts it: whole 4 KiB blocks."""
    return -(-nbytes // BLOCK) * BLOCK


def encode(job: tuple) -> int:
    """Re-encode one image (shorter side ``side``, PHOTO_SIDE by default; Lanczos, EXIF orientation applied);
    its bytes as carried (:func:`carried_bytes`)."""
    from PIL import Image, ImageOps

    src, dst, quality, *rest = job
    side = rest[0] if rest else PHOTO_SIDE
    with Image.open(src) as img:
        img = ImageOps.exif_transpose(img).convert("RGB")
        scale = side / min(img.size)
        if scale < 1:
            img = img.resize((max(side, round(img.width * scale)), max(side, round(img.height * scale))),
                             Image.LANCZOS)
        Path(dst).parent.mkdir(parents=True, exist_ok=True)
        img.save(dst, "JPEG", quality=quality, optimize=True)
    return carried_bytes(Path(dst).stat().st_size)


def photo_list(source: Path, exclude: set[str]) -> list[Path]:
    from ..image import find_images

    return [p for p in find_images(source) if p.name not in exclude]


def build_photo_pack(source: Path, dest: Path, budget: int, exclude: set[str], workers: int = 2,
                     side: int = PHOTO_SIDE) -> dict:
    """Re-encode every photo under ``source`` (except names in ``exclude``) into ``dest`` (shorter side
    ``side``) at the highest quality in QUALITIES whose total fits ``budget`` bytes (estimated on a sample,
    then checked); if even the lowest does not fit, an evenly spaced subset that does is packed, with a
    warning."""
    photos = photo_list(source, exclude)
    if not photos:
        raise SystemExit(f"error: no photos under {source}")
    manifest = dest / "pack.json"
    if manifest.is_file():
        old = json.loads(manifest.read_text())
        if old.get("count") == len(photos) and old.get("bytes", budget + 1) <= budget and old.get("side") == side:
            return old  # already built with these photos and it fits
    sample = photos[:: max(1, len(photos) // 100)]
    tmp = dest.parent / (dest.name + ".sample")
    chosen, estimate = QUALITIES[-1], None
    with ProcessPoolExecutor(workers) as pool:
        for quality in QUALITIES:
            sizes = list(pool.map(encode, [(str(p), str(tmp / f"{i}.jpg"), quality, side) for i, p in enumerate(sample)]))
            estimate = sum(sizes) / len(sizes) * len(photos)
            if estimate <= 0.97 * budget:
                chosen = quality
                break
        shutil.rmtree(tmp, ignore_errors=True)
        if estimate > 0.97 * budget:  # even the floor quality is too big: keep an evenly spaced subset that fits
            keep = max(16, int(len(photos) * 0.97 * budget / estimate))
            print(f"warning: {len(photos)} photos do not fit {budget / 2**20:.1f} MiB even at JPEG quality {chosen}; "
                  f"packing {keep} of them (a smaller checkout leaves room for more)", file=sys.stderr)
            photos = [photos[i * len(photos) // keep] for i in range(keep)]
        shutil.rmtree(dest, ignore_errors=True)
        jobs = [(str(p), str(dest / p.relative_to(source).with_suffix(".jpg")), chosen, side) for p in photos]
        sizes = list(pool.map(encode, jobs, chunksize=16))
    total = sum(sizes)
    if total > budget and len(jobs) > 16:  # the sample's estimate fell short: drop evenly spaced photos until it fits
        kept = fit_evenly(sizes, budget)
        gone = set(range(len(jobs))) - set(kept)
        for i in gone:
            Path(jobs[i][1]).unlink()
        photos = [photos[i] for i in kept]
        total = sum(sizes[i] for i in kept)
        print(f"warning: the pack came out over its {budget / 2**20:.1f} MiB budget; dropped {len(gone)} evenly spaced "
              f"photos, {len(photos)} remain", file=sys.stderr)
    for name in ("SOURCES.md", "COCO_ATTRIBUTION.csv"):
        for found in source.rglob(name):
            target = dest / found.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(found, target)
    info = {"count": len(photos), "bytes": total, "quality": chosen, "side": side, "source": str(source),
            "excluded": sorted(exclude)}
    manifest.write_text(json.dumps(info, indent=1))
    if total > budget:
        raise SystemExit(f"error: the photo pack is {total / 2**20:.1f} MiB, over its {budget / 2**20:.1f} MiB budget")
    return info


def fit_evenly(sizes: list[int], budget: int, minimum: int = 16) -> list[int]:
    """Indices of ``sizes`` to keep, in order: evenly spaced ones are dropped, round after round (the dropped
    ones may be smaller than the average), until the kept total fits ``budget`` or ``minimum`` remain."""
    kept = list(range(len(sizes)))
    total = sum(sizes)
    while total > budget and len(kept) > minimum:
        drop = min(len(kept) - minimum, int((total - budget) / (total / len(kept)) * 1.05) + 1)
        gone = {kept[int(k * len(kept) / drop)] for k in range(drop)}
        kept = [i for i in kept if i not in gone]
        total = sum(sizes[i] for i in kept)
    return kept
