"""Where the project's own files lie: the checkout's root (conf/, data/, docs/, the GPU kit's .gpu/),
found from this file, so that scripts and configs work from any working directory. One spelling of it
for the whole package."""
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CONF_DIR = PROJECT_ROOT / "conf"  # Hydra's config tree (train.py, compose_train)
DOCS_DIR = PROJECT_ROOT / "docs"
