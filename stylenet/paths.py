"""Where the project's own files lie: the checkout's root (conf/, data/, docs/, the GPU kit's .gpu/),
found from this file, so that scripts and configs work from any working directory; in an installed package
(a wheel: no conf/, no data/) the bundled paintings and the app's sample photos under ``stylenet/assets/``. One spelling of it
for the whole package; how a relative path a user or a config gives is found from any folder; and
which known name a mistyped one meant; the name a painting's file gives its style."""
from __future__ import annotations

import difflib
import os
import re
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DOCS_DIR = PROJECT_ROOT / "docs"
# A wheel maps data/styles, 8 of data/sample and conf/ here (pyproject.toml [tool.setuptools.package-dir]); a
# checkout has no such folder and reads data/ and conf/ itself.
ASSETS_DIR = Path(__file__).resolve().parent / "assets"
# Hydra's config tree (train.py / stylenet-train, compose_train): the checkout's, else the installed copy.
CHECKOUT = (PROJECT_ROOT / "conf" / "train.yaml").is_file()  # False in an installed package (no conf/, no data/)
CONF_DIR = PROJECT_ROOT / "conf" if CHECKOUT else ASSETS_DIR / "conf"


def resolve_path(path: str | Path) -> Path:
    """A relative path is taken from the current folder, else from the project root (so
    ``data/styles/...`` works from anywhere), else, for ``data/...`` in an installed package, from
    :data:`ASSETS_DIR`; a path found nowhere comes back as given."""
    p = Path(path).expanduser()
    if p.is_absolute() or p.exists():
        return p
    if (PROJECT_ROOT / p).exists():
        return PROJECT_ROOT / p
    if p.parts[:1] == ("data",) and len(p.parts) > 1 and ASSETS_DIR.joinpath(*p.parts[1:]).exists():
        return ASSETS_DIR.joinpath(*p.parts[1:])
    return p


def sample_photos(installed: bool = False) -> list[Path]:
    """The bundled photos, ``data/sample/*.jpg`` sorted (parity checks, int8 calibration, benchmarks). A checkout
    has all 101; an installed package only the app's 8, used only with ``installed`` (the export's parity check:
    int8 calibration takes the last 16): FileNotFoundError saying so."""
    folder = resolve_path("data/sample")
    files = [] if folder.is_relative_to(ASSETS_DIR) and not installed else sorted(folder.glob("*.jpg"))
    if not files:
        raise FileNotFoundError(f"the bundled photos (data/sample) are not here ({PROJECT_ROOT}): they come with a "
                                "checkout of stylenet, not with an installed package")
    return files


def parity_photo() -> Path:
    """The photo an export is checked on by default: the first bundled one, a checkout's or, in an installed
    package, the first of the app's 8 (so ``stylenet-export`` works without a checkout); FileNotFoundError
    where neither is."""
    return sample_photos(installed=True)[0]


def find_painting(name: str, styles_dir: str | os.PathLike = "data/styles") -> Path | None:
    """A painting named in model metadata (a file name) or given by the user (a path): the path as given,
    else the file of that name in ``styles_dir``; None if neither exists."""
    for candidate in (resolve_path(name), resolve_path(Path(styles_dir) / Path(name).name)):
        if candidate.is_file():
            return candidate
    return None


def meant(name: str, known: list[str]) -> str | None:
    """The one of ``known`` a mistyped ``name`` most likely meant (``Starry-Night``: ``starry_night``), or None."""
    close = difflib.get_close_matches(str(name).replace("-", "_").replace(" ", "_").lower(), known, n=1, cutoff=0.75)
    return close[0] if close else None


def painting_name(image: str | Path) -> str:
    """A style's name from its painting's file: the file name without its extension, every run of characters
    other than letters, digits, '_', '-' and '.' made one '_' (``my painting (1).jpg`` -> ``my_painting_1``):
    the run folder's and the exported model's name. conf/style/*.yaml name their style this way
    (``${painting_name:${.image}}``), so that ``style.image=<another painting>`` renames the run."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(str(image)).stem).strip("_.") or "style"
