"""The copy_evaluation stage's core: copy evaluate's results into the small files that Git keeps.

evaluate's folder stays in the DVC cache, so its run-cache entry can be pushed and restored
anywhere; the copies made here are what ``dvc metrics diff``, ``dvc plots diff`` and the pull
request report read straight from Git. It imports nothing heavy, so it costs well under a second.
"""

import shutil
from pathlib import Path

from ..contract import BOOTSTRAP
from ..errors import UserError

# This stage reads no parameters.
PARAMS: tuple[str, ...] = ()


def copy_results(evaluation: Path, metrics: Path, plots: Path) -> list[Path]:
    """Copy ``evaluation/metrics.json`` to ``metrics``, the bootstrap beside it, and each plot
    CSV file to ``plots``."""
    sources = [evaluation / "metrics.json", evaluation / BOOTSTRAP]
    for source in sources:
        if not source.is_file():
            raise UserError(f"{source} does not exist: run `dvc repro evaluate` first")
    metrics.parent.mkdir(parents=True, exist_ok=True)
    plots.mkdir(parents=True, exist_ok=True)
    written = [
        Path(shutil.copyfile(sources[0], metrics)),
        Path(shutil.copyfile(sources[1], metrics.with_name(BOOTSTRAP))),
    ]
    for table in sorted((evaluation / "plots").glob("*.csv")):
        written.append(Path(shutil.copyfile(table, plots / table.name)))
    return written
