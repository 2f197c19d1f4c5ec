"""The GPU run's clock, output folder and subprocesses (stylenet.bench.gpu_run): results saved after
every stage and row, so a command killed at its limit still brings numbers back."""
from __future__ import annotations

import datetime
import json
import math
import os
import selectors
import subprocess
import tempfile
import time
from pathlib import Path

from ..atomic import atomic_path
from ..paths import PROJECT_ROOT as ROOT
from .common import machine
from .report import render_markdown

EVAL_RESERVE_S = 30  # after training: evaluate.py + demo picture + packing (GPU; measured on CPU with --tiny)
# AdaIN also runs Gatys (300 L-BFGS iterations) on 2 photos x 4 held-out paintings at 256 px, issue #14's
# quality target: 8 optimisations of ~375 VGG passes at 256 px (80 s each on 2 CPU cores; a few s on a GPU).
GATYS_RESERVE_S = 60
MAX_FILES = 8  # that come back from the node


def size_max_steps(budget_s: float, images_per_s: float, batch: int, overhead_s: float, safety: float = 0.85,
                   minimum: int = 1, maximum: int | None = None) -> int:
    """Steps whose whole cosine schedule fits ``budget_s``: ``(budget - overhead) x safety x rate / batch``,
    clamped to [minimum, maximum]. ``overhead_s``: start-up, compilation, validation and export."""
    if images_per_s <= 0 or batch <= 0:
        raise ValueError(f"need a positive rate and batch, got {images_per_s} images/s and batch {batch}")
    steps = math.floor(max(0.0, budget_s - overhead_s) * safety * images_per_s / batch)
    steps = max(minimum, steps)
    return min(steps, maximum) if maximum else steps


class Run:
    """The output folder, the budget clock, and results saved after every stage (and row)."""

    def __init__(self, out: Path, budget_s: float, tiny: bool, command: str, focus: str = ""):
        self.out, self.budget_s, self.tiny, self.focus = out, budget_s, tiny, focus
        self.start = time.monotonic()
        self.deadline = self.start + budget_s
        self.work = Path(tempfile.mkdtemp(prefix="stylenet-gpu-"))  # outside the output folder: only results come back
        # The machine goes in even without the env stage (a train-only run), for results.md and the merge.
        self.results: dict = {"command": command, "date": datetime.date.today().isoformat(), "machine": machine(),
                              "budget_s": budget_s, "tiny": tiny, "stages": {}}
        self._log = open(out / "log.txt", "a", buffering=1)

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def say(self, line: str) -> None:
        stamp = f"[{time.monotonic() - self.start:6.1f}s] "
        print(stamp + line, flush=True)
        self._log.write(stamp + line + "\n")

    def save(self) -> None:
        self.results["elapsed_s"] = round(time.monotonic() - self.start, 1)
        with atomic_path(self.out / "results.json") as tmp:
            tmp.write_text(json.dumps(self.results, indent=1))
        with atomic_path(self.out / "results.md") as tmp:
            tmp.write_text(render_markdown(self.results))


def run_logged(run: Run, argv: list[str], timeout: float) -> tuple[int, str]:
    """Run a subprocess with its output in log.txt; at ``timeout`` it gets SIGTERM (train.py then saves a
    checkpoint and exits 143), 30 s later SIGKILL. Returns the exit code and the output's last 20 kB."""
    run.say("$ " + " ".join(argv))
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "WANDB_MODE": "disabled"}
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    tail, stop_at = "", time.monotonic() + max(1.0, timeout)
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    while True:
        if time.monotonic() > stop_at and proc.poll() is None:
            run.say(f"time budget reached: stopping {Path(argv[1]).name} (SIGTERM)")
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        if sel.select(timeout=1.0):
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
            if line:
                run._log.write(line)
                tail = (tail + line)[-20000:]
        elif proc.poll() is not None:
            break
    rest = proc.stdout.read()
    run._log.write(rest)
    return proc.wait(), (tail + rest)[-20000:]
