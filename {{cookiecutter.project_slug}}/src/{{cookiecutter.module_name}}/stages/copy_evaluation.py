"""copy_evaluation stage: copy evaluate's results into the small files that Git keeps.

evaluate's folder stays in the DVC cache, so its run-cache entry can be pushed and restored
anywhere; the copies made here are what ``dvc metrics diff``, ``dvc plots diff`` and the pull
request report read straight from Git. It imports nothing heavy, so it costs well under a second.
"""

import argparse
import shutil
from pathlib import Path

from ..errors import UserError, run

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("evaluation", type=Path, help="evaluate's output folder")
    parser.add_argument("metrics", type=Path, help="metrics JSON file to write")
    parser.add_argument("plots", type=Path, help="folder for the plot CSV files")
    args = parser.parse_args()
    written = copy_results(args.evaluation, args.metrics, args.plots)
    print(f"metrics: copied {len(written)} files")


if __name__ == "__main__":
    raise SystemExit(run(main))
