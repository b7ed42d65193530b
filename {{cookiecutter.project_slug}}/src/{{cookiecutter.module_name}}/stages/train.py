"""train stage: fit one scikit-learn Pipeline (preprocessing + the estimator) on the training split.

The estimator is the one ``train.estimator`` names in ``models.py``. The saved Pipeline scores
raw rows: its first step selects its feature columns by name and turns yes/no columns and dates
into numbers, then it imputes missing values and encodes categories itself.
"""

import argparse
from pathlib import Path

from dvc_ml_kit import load_params, run
from dvc_ml_kit.pipeline.train import PARAMS, train_stage

from ..models import ESTIMATORS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("train", type=Path, help="training split (Parquet)")
    parser.add_argument("model", type=Path, help="model file to write (pickle)")
    parser.add_argument("--params", type=Path, required=True, help="params.yaml")
    args = parser.parse_args()
    params = load_params(args.params, PARAMS)
    print(train_stage(args.train, args.model, params, ESTIMATORS))


if __name__ == "__main__":
    raise SystemExit(run(main))
