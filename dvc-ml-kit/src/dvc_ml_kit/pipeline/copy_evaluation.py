"""The copy_evaluation stage's core: copy evaluate's results into the small files that Git keeps.

evaluate's folder stays in the DVC cache, so its run-cache entry can be pushed and restored
anywhere; the copies made here are what ``dvc metrics diff``, ``dvc plots diff`` and the pull
request report read straight from Git. It imports nothing heavy, so it costs well under a second.
"""

import shutil
from pathlib import Path

from ..errors import UserError

# This stage reads no parameters.
PARAMS: tuple[str, ...] = ()


def copy_results(evaluation: Path, metrics: Path, plots: Path) -> list[Path]:
    """Copy ``evaluation/metrics.json`` to ``metrics`` and each plot CSV file to ``plots``."""
    source = evaluation / "metrics.json"
    if not source.is_file():
        raise UserError(f"{source} does not exist: run `dvc repro evaluate` first")
    metrics.parent.mkdir(parents=True, exist_ok=True)
    plots.mkdir(parents=True, exist_ok=True)
    written = [Path(shutil.copyfile(source, metrics))]
    for table in sorted((evaluation / "plots").glob("*.csv")):
        written.append(Path(shutil.copyfile(table, plots / table.name)))
    return written
