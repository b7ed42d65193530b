"""The floor for the scale benchmark: the pipeline's essential work in one process, without DVC.

``python floor.py PACKAGE RAW.csv --params params.yaml`` reads the CSV, makes the same seeded
split, fits the project's Pipeline (dvc-ml-kit's ``build_pipeline`` with the project's
``PACKAGE.models``) and computes the test metrics with dvc-ml-kit's ``scores`` (one
``predict_proba``): no validation, no files between stages, no baseline, no plots. Runs in a
generated project's environment; prints the metrics as JSON.
"""

import argparse
import importlib
import json
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", help="the generated project's package (import name)")
    parser.add_argument("raw", type=Path, help="raw CSV file (binary classification)")
    parser.add_argument("--params", type=Path, required=True, help="params.yaml")
    args = parser.parse_args()
    from dvc_ml_kit.params import read_yaml
    from dvc_ml_kit.pipeline import evaluate, train

    params = read_yaml(args.params)
    models = importlib.import_module(f"{args.package}.models")
    target, name = params["data"]["target"], params["train"]["estimator"]

    frame = pd.read_csv(args.raw)
    train_split, test_split = train_test_split(
        frame,
        test_size=params["prepare"]["test_size"],
        random_state=params["prepare"]["seed"],
        stratify=frame[target],
    )
    features = train_split.drop(columns=[target])
    estimator = train.make_estimator(
        "classification",
        name,
        params["train"]["hyperparameters"][name],
        params["train"]["seed"],
        estimators=models.ESTIMATORS,
    )
    model = train.build_pipeline(features, estimator).fit(features, train_split[target])

    metrics = evaluate.scores(model, test_split, task="classification", target=target)
    print(json.dumps(metrics))


if __name__ == "__main__":
    main()
