"""evaluate stage: score the model and a trivial baseline on the test split, write plot data.

Metrics go to one JSON file as ``{"model": {...}, "baseline": {...}}`` so that
``dvc metrics diff`` shows both; the plot data files are those dvc.yaml's ``plots`` draw.
"""

import argparse
from pathlib import Path

from dvc_ml_kit import load_params, run, stages
from dvc_ml_kit.pipeline.evaluate import PARAMS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="trained model (pickle)")
    parser.add_argument("train", type=Path, help="training split, to fit the baseline")
    parser.add_argument("test", type=Path, help="test split")
    parser.add_argument("metrics", type=Path, help="metrics JSON file to write")
    parser.add_argument("plots", type=Path, help="folder for plot data CSV files")
    parser.add_argument("--params", type=Path, required=True, help="params.yaml")
    args = parser.parse_args()
    params = load_params(args.params, PARAMS)
    print(stages.evaluate(args.model, args.train, args.test, args.metrics, args.plots, params))


if __name__ == "__main__":
    raise SystemExit(run(main))
