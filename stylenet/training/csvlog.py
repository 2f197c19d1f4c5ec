"""The CSV logger of conf/logger/csv.yaml: Lightning's CSVLogger, except that a resumed run keeps the
metrics its folder already holds. Lightning's deletes ``metrics.csv`` when a run starts in a folder that
has one, so ``resume=auto`` lost every row before the resume. Its rewrites of the file (a new column,
e.g. the first validation) replace it in one step: Lightning truncates and rewrites it in place, so a
kill at that moment left an empty ``metrics.csv``."""

from __future__ import annotations

import csv

from lightning.fabric.loggers.logger import rank_zero_experiment
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter

from ..atomic import atomic_path


class _KeepingWriter(ExperimentWriter):
    """Appends to an existing ``metrics.csv``; at the first row it logs, the rows of earlier runs at or
    after that row's step are dropped (a killed run logged them after its last checkpoint, and the
    resumed run logs those steps again)."""

    def __init__(self, log_dir: str) -> None:
        super().__init__(log_dir)
        self._first = True

    def _check_log_dir_exists(self) -> None:  # Lightning's deletes metrics.csv here
        pass

    def log_metrics(self, metrics_dict: dict[str, float], step: int | None = None) -> None:
        if self._first:
            self._first = False
            self._keep_before(step)
        super().log_metrics(metrics_dict, step)

    def _keep_before(self, step: int | None) -> None:
        if step is None or not self._fs.isfile(self.metrics_file_path):
            return
        with self._fs.open(self.metrics_file_path, "r", newline="") as file:
            reader = csv.DictReader(file)
            header, rows = list(reader.fieldnames or []), list(reader)
        kept = [r for r in rows if str(r.get("step", "")).isdigit() and int(r["step"]) < step]
        self._write_all(header, kept)

    def _rewrite_with_new_header(self, fieldnames: list[str]) -> None:
        with self._fs.open(self.metrics_file_path, "r", newline="") as file:
            rows = list(csv.DictReader(file))
        self._write_all(fieldnames, rows)

    def _write_all(self, header: list[str], rows: list[dict]) -> None:
        """Replace ``metrics.csv`` atomically with ``header`` and ``rows``."""
        with atomic_path(self.metrics_file_path) as tmp, open(tmp, "w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=header)
            writer.writeheader()
            writer.writerows(rows)
        self.metrics_keys = sorted(header)


class ResumableCSVLogger(CSVLogger):
    """``lightning.pytorch.loggers.CSVLogger`` whose ``metrics.csv`` survives a resume (see the module)."""

    @property
    @rank_zero_experiment
    def experiment(self) -> _KeepingWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _KeepingWriter(log_dir=self.log_dir)
        return self._experiment
