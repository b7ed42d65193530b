"""copy_evaluation stage: copy evaluate's results into the small files that Git keeps.

evaluate's folder stays in the DVC cache, so its run-cache entry can be pushed and restored
anywhere; the copies made here are what ``dvc metrics diff``, ``dvc plots diff`` and the pull
request report read straight from Git. It imports nothing heavy, so it costs well under a second.
"""

import argparse
from pathlib import Path

from dvc_ml_kit import run, stages
from dvc_ml_kit.pipeline.copy_evaluation import PARAMS

__all__ = ["PARAMS", "main"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("evaluation", type=Path, help="evaluate's output folder")
    parser.add_argument("metrics", type=Path, help="metrics JSON file to write")
    parser.add_argument("plots", type=Path, help="folder for the plot CSV files")
    args = parser.parse_args()
    print(stages.copy_evaluation(args.evaluation, args.metrics, args.plots))


if __name__ == "__main__":
    raise SystemExit(run(main))
