"""The floor for the scale benchmark: the pipeline's essential work in one process, without DVC.

``python floor.py PACKAGE RAW.csv --params params.yaml`` reads the CSV, makes the same seeded
split, fits the project's own Pipeline (``PACKAGE.train``) and computes the test metrics from one
``predict_proba``: no validation, no files between stages, no baseline, no plots. Runs in a
generated project's environment; prints the metrics as JSON.
"""

import argparse
import importlib
import json
from pathlib import Path

import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    f1_score,
    log_loss,
    roc_auc_score,
)
from sklearn.model_selection import train_test_split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", help="the generated project's package (import name)")
    parser.add_argument("raw", type=Path, help="raw CSV file (binary classification)")
    parser.add_argument("--params", type=Path, required=True, help="params.yaml")
    args = parser.parse_args()
    stage = importlib.import_module(f"{args.package}.stage")
    train = importlib.import_module(f"{args.package}.train")
    params = stage.read_yaml(args.params)
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
        "classification", name, params["train"]["hyperparameters"][name], params["train"]["seed"]
    )
    model = train.build_pipeline(features, estimator).fit(features, train_split[target])

    probabilities = model.predict_proba(test_split.drop(columns=[target]))
    truth = pd.Index(model.classes_).get_indexer(test_split[target])
    predicted = probabilities.argmax(axis=1)
    metrics = {
        "accuracy": accuracy_score(truth, predicted),
        "balanced_accuracy": balanced_accuracy_score(truth, predicted),
        "f1_macro": f1_score(truth, predicted, average="macro"),
        "roc_auc": roc_auc_score(truth == 1, probabilities[:, 1]),
        "log_loss": log_loss(truth, probabilities),
    }
    print(json.dumps({key: round(float(value), 6) for key, value in metrics.items()}))


if __name__ == "__main__":
    main()
