"""Shared fixtures: tiny configs (32-px crops, batch 2, no logger, tmp_path outputs) over bundled photos."""
from __future__ import annotations

import contextlib
import io
import logging
import os
import runpy
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from stylenet.hydra_callbacks import compose_train as compose_config  # noqa: F401 (tests import it from here)

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
STYLES = ROOT / "data" / "styles"
SHARED_DATA = ROOT.parent / "shared" / "data"


def pytest_configure(config):
    """On a CPU with AVX512-BF16 and no AMX, ``trainer.precision=auto`` times bf16 against fp32
    (stylenet.hardware.cpu_bf16_speedup), and under the suite's load a timing can land on either side of the
    threshold: measured once here, before xdist starts its workers, every training run of the session (in
    process or not, on any worker) sees the same answer, so runs that tests compare train alike."""
    from stylenet.hardware import probe

    probe("cpu")  # measures only on such CPUs, and leaves the answer in $STYLENET_CPU_BF16_SPEEDUP


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture
def photos_dir(tmp_path: Path) -> Path:
    """Eight bundled COCO photos in a fresh folder."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for src in sorted(SAMPLE.glob("*.jpg"))[:8]:
        shutil.copy(src, folder / src.name)
    return folder


def tiny_overrides(photos: Path, run_dir: Path) -> list[str]:
    return [
        "data=folder", f"data.root={photos}", "data.image_size=32", "data.batch_size=2",
        "data.num_workers=0", "data.val_size=2", "model.width=4", "model.num_res_blocks=1",
        "style.size=64", "trainer.accelerator=cpu", "trainer.max_steps=3", "trainer.val_check_interval=2",
        "trainer.log_every_n_steps=1", "optim.warmup_steps=1", "logger=none", f"hydra.run.dir={run_dir}",
    ]


@pytest.fixture
def tiny(photos_dir: Path, tmp_path: Path) -> list[str]:
    return tiny_overrides(photos_dir, tmp_path / "run")


def run_train(overrides: list[str], timeout: int = 300) -> subprocess.CompletedProcess:
    """Run train.py in a subprocess exactly as a user would."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "WANDB_MODE": "offline"}
    return subprocess.run([sys.executable, str(ROOT / "train.py"), *overrides], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def run_here(script: str | Path, args=()) -> subprocess.CompletedProcess:
    """A script run as ``__main__`` in this process, from the checkout's root, its output captured: for
    one-line errors and other short runs, without the ~9 s a fresh interpreter spends importing torch and
    Lightning. Returns what ``subprocess.run`` does (SystemExit's code, the output);
    ``sys.argv``, the working folder, ``os.environ``, the root and ``lightning`` loggers' handlers (Hydra and
    train.py change them) and the SIGINT and SIGTERM handlers are put back. Every script keeps
    at least one test that runs it in a real subprocess, as a user would."""
    argv = [str(script), *map(str, args)]
    out, err, code = io.StringIO(), io.StringIO(), 0
    saved_argv, environ = sys.argv, dict(os.environ)
    root, lightning = logging.getLogger(), logging.getLogger("lightning")
    handlers, level, lightning_handlers = root.handlers[:], root.level, lightning.handlers[:]
    signals = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    sys.argv, cwd = argv, os.getcwd()
    os.chdir(ROOT)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            runpy.run_path(str(script), run_name="__main__")
    except SystemExit as exc:  # sys.exit(main()), or Hydra's own exit 1 (an unknown config choice)
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if isinstance(exc.code, str):  # sys.exit("error: ..."): Python prints it to stderr and exits 1
            err.write(exc.code + "\n")
    finally:
        sys.argv = saved_argv
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(environ)
        for handler in set(root.handlers) - set(handlers):  # Hydra's: the console and the run's train.log
            handler.close()
        root.handlers[:] = handlers
        root.setLevel(level)
        lightning.handlers[:] = lightning_handlers  # train.py's LogOnce takes Lightning's own console handler away
        for signum, handler in signals.items():
            signal.signal(signum, handler)
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


def train_in_process(overrides: list[str]) -> subprocess.CompletedProcess:
    """``train.py`` with these overrides in this process (``run_here``): for runs that stop at a bad config,
    and tiny runs whose process does not matter (the uninterrupted twin of a run that gets killed)."""
    return run_here(ROOT / "train.py", overrides)
