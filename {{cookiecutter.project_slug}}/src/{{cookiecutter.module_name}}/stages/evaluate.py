"""evaluate stage: score the model and a trivial baseline on the test split, write plot data.

Metrics go to one JSON file as ``{"model": {...}, "baseline": {...}}`` so that
``dvc metrics diff`` shows both. Which metrics and plot files, with which columns, is stated once
in ``contract.py``; dvc.yaml's ``plots`` draw the files.
"""

import argparse
import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.inspection import permutation_importance
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    f1_score,
    log_loss,
    mean_absolute_error,
    r2_score,
    roc_auc_score,
    roc_curve,
    root_mean_squared_error,
)
from sklearn.preprocessing import label_binarize

from ..contract import BASELINE, METRICS, MODEL
from ..errors import UserError, run
from ..params import load_params

# The params.yaml keys this stage reads, and their types; dvc.yaml lists the same keys.
PARAMS = {
    "data.task": str,
    "data.target": str,
    "evaluate.seed": int,
    "evaluate.importance_repeats": int,
    "evaluate.max_plot_rows": int,
}
DIGITS = 6  # metrics are rounded so that tiny float noise never changes metrics.json


def fit_baseline(train: pd.DataFrame, *, task: str, target: str):
    """The trivial model to beat: class frequencies for classification, the mean for regression."""
    baseline = DummyClassifier(strategy="prior") if task == "classification" else DummyRegressor()
    return baseline.fit(train.drop(columns=[target]), train[target])


def scores(model, test: pd.DataFrame, *, task: str, target: str) -> dict[str, float]:
    """Test-set metrics of ``model`` for ``task``."""
    features, actual = test.drop(columns=[target]), test[target]
    if task == "regression":
        predicted = model.predict(features)
        values = {
            "rmse": root_mean_squared_error(actual, predicted),
            "mae": mean_absolute_error(actual, predicted),
            "r2": r2_score(actual, predicted),
        }
    else:
        probabilities = model.predict_proba(features)
        # Metrics of class positions equal those of the labels and are many times faster for
        # text; the predicted class is the most probable one, as predict() would compute again.
        labels = np.arange(len(model.classes_))
        truth = pd.Index(model.classes_).get_indexer(actual)
        if (truth < 0).any():
            unseen = actual[truth < 0].iloc[0]
            raise UserError(
                f"the test split has class {unseen!r}, which the model never saw: run "
                "`dvc repro` so that prepare and train see the same data"
            )
        predicted = probabilities.argmax(axis=1)
        values = {
            "accuracy": accuracy_score(truth, predicted),
            "balanced_accuracy": balanced_accuracy_score(truth, predicted),
            "f1_macro": f1_score(truth, predicted, average="macro"),
            "roc_auc": (
                roc_auc_score(truth == 1, probabilities[:, 1])
                if len(labels) == 2
                else roc_auc_score(truth, probabilities, multi_class="ovr", labels=labels)
            ),
            "log_loss": log_loss(truth, probabilities, labels=labels),
        }
    # In the contract's order and names: a contract metric not computed above fails here.
    return {name: round(float(values[name]), DIGITS) for name in METRICS[task]}


def roc_points(model, test: pd.DataFrame, *, target: str) -> pd.DataFrame:
    """ROC curve of the positive class (binary) or micro-averaged over classes (multiclass)."""
    probabilities = model.predict_proba(test.drop(columns=[target]))
    classes = model.classes_
    if len(classes) == 2:
        truth, score = test[target] == classes[1], probabilities[:, 1]
    else:
        truth = label_binarize(test[target], classes=classes).ravel()
        score = probabilities.ravel()
    fpr, tpr, _ = roc_curve(truth, score)
    return pd.DataFrame({"fpr": fpr, "tpr": tpr}).round(DIGITS)


def importance(model, test: pd.DataFrame, *, target: str, repeats: int, seed: int) -> pd.DataFrame:
    """Permutation importance of each raw input column on the test split, largest first."""
    features = test.drop(columns=[target])
    result = permutation_importance(
        model, features, test[target], n_repeats=repeats, random_state=seed
    )
    table = pd.DataFrame({"feature": features.columns, "importance": result.importances_mean})
    return table.round(DIGITS).sort_values(["importance", "feature"], ascending=[False, True])


def plot_data(
    model, test: pd.DataFrame, *, task: str, target: str, repeats: int, seed: int
) -> dict[str, pd.DataFrame]:
    """Plot tables by file name, as dvc.yaml declares them: predictions and importance, then
    the ROC curve for classification or the residuals for regression."""
    predicted = model.predict(test.drop(columns=[target]))
    predictions = pd.DataFrame({"actual": test[target].to_numpy(), "predicted": predicted})
    tables = {
        "predictions.csv": predictions.round(DIGITS),
        "importance.csv": importance(model, test, target=target, repeats=repeats, seed=seed),
    }
    if task == "classification":
        tables["roc.csv"] = roc_points(model, test, target=target)
    else:
        residuals = predictions.assign(residual=predictions["actual"] - predictions["predicted"])
        tables["residuals.csv"] = residuals[["predicted", "residual"]].round(DIGITS)
    return tables


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
    task, target = params["data.task"], params["data.target"]

    with open(args.model, "rb") as file:
        model = pickle.load(file)
    test = pd.read_parquet(args.test)
    baseline = fit_baseline(pd.read_parquet(args.train), task=task, target=target)
    metrics = {
        MODEL: scores(model, test, task=task, target=target),
        BASELINE: scores(baseline, test, task=task, target=target),
    }
    args.metrics.parent.mkdir(parents=True, exist_ok=True)
    # allow_nan=False: a metric that is not a number must stop the stage, not corrupt the file.
    args.metrics.write_text(json.dumps(metrics, indent=2, allow_nan=False) + "\n", encoding="utf-8")

    # Plot files hold at most max_plot_rows test rows (a seeded sample), to stay small in Git.
    rows = min(len(test), params["evaluate.max_plot_rows"])
    sample = test.sample(n=rows, random_state=params["evaluate.seed"]).reset_index(drop=True)
    args.plots.mkdir(parents=True, exist_ok=True)
    tables = plot_data(
        model,
        sample,
        task=task,
        target=target,
        repeats=params["evaluate.importance_repeats"],
        seed=params["evaluate.seed"],
    )
    for name, table in tables.items():
        table.to_csv(args.plots / name, index=False)
    print(json.dumps(metrics[MODEL]))


if __name__ == "__main__":
    raise SystemExit(run(main))
