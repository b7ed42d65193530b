"""train stage: fit the model's Pipeline on the training split, and save it.

The Pipeline scores raw rows: ``features.add_features`` (your engineered columns), then the
columns turned into model inputs (yes/no and dates into numbers, missing values imputed,
categories encoded), then the estimator ``train.estimator`` names in ``models.py``.
"""

import argparse
from pathlib import Path

from dvc_ml_kit import load_params, run, stages
from dvc_ml_kit.pipeline.train import PARAMS

from ..features import add_features
from ..models import ESTIMATORS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("train", type=Path, help="training split (Parquet)")
    parser.add_argument("model", type=Path, help="model file to write (pickle)")
    parser.add_argument("--params", type=Path, required=True, help="params.yaml")
    args = parser.parse_args()
    params = load_params(args.params, PARAMS)
    print(stages.train(args.train, args.model, params, ESTIMATORS, add_features))


if __name__ == "__main__":
    raise SystemExit(run(main))
