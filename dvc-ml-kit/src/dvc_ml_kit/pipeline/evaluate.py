"""The evaluate stage's core: score the model and a baseline on the test split; plot data.

Metrics go to one JSON file as ``{"model": {...}, "baseline": {...}}`` so that
``dvc metrics diff`` shows both. Which metrics and plot files, with which columns, is stated once
in ``contract.py``; dvc.yaml's ``plots`` draw the files.
"""

import math

import numpy as np
import pandas as pd
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
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

from ..contract import MAIN_METRIC, METRICS
from ..errors import UserError

# The functions of the contract's main metrics (MAIN_METRIC), of the actual and the predicted
# values: permutation importance measures their drops.
SCORES = {"balanced_accuracy": balanced_accuracy_score, "r2": r2_score}
# The params.yaml keys this stage reads (their types: params.SETTINGS); dvc.yaml lists the same.
PARAMS = (
    "data.task",
    "data.target",
    "compute.engine",
    "evaluate.seed",
    "evaluate.importance_repeats",
    "evaluate.importance_features",
    "evaluate.max_plot_rows",
    "evaluate.resamples",
)
DIGITS = 6  # metrics are rounded so that tiny float noise never changes metrics.json


def fit_baseline(train: pd.DataFrame, *, task: str, target: str):
    """The trivial model to beat: class frequencies for classification, the mean for regression."""
    baseline = DummyClassifier(strategy="prior") if task == "classification" else DummyRegressor()
    return baseline.fit(train.drop(columns=[target]), train[target])


def predictions(
    model, test: pd.DataFrame, *, task: str, target: str
) -> tuple[pd.Series, np.ndarray]:
    """The test split's targets and ``model``'s predictions of them: numbers for regression,
    for classification the probability of each of ``model.classes_``."""
    features, actual = test.drop(columns=[target]), test[target]
    if task == "regression":
        return actual, model.predict(features)
    return actual, model.predict_proba(features)


def scores(model, test: pd.DataFrame, *, task: str, target: str) -> dict[str, float]:
    """Test-set metrics of ``model`` for ``task``."""
    actual, predicted = predictions(model, test, task=task, target=target)
    classes = getattr(model, "classes_", None) if task == "classification" else None
    return metric_values(actual, predicted, task=task, target=target, classes=classes)


def metric_values(
    actual: pd.Series, predicted: np.ndarray, *, task: str, target: str, classes=None
) -> dict[str, float]:
    """The task's metrics of ``predicted``: numbers for regression, for classification the
    probabilities of ``classes`` (one column each, in that order)."""
    if task == "regression":
        # Errors too large to square become inf, refused below with a sentence, not a warning.
        with np.errstate(over="ignore", invalid="ignore"):
            values = {
                "rmse": root_mean_squared_error(actual, predicted),
                "mae": mean_absolute_error(actual, predicted),
                "r2": r2_score(actual, predicted),
            }
    else:
        probabilities = predicted
        # Metrics of class positions equal those of the labels and are many times faster for
        # text; the predicted class is the most probable one, as predict() would compute again.
        labels = np.arange(len(classes))
        truth = pd.Index(classes).get_indexer(actual)
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
            # Precision-recall area: of the positive class (binary), or the mean over classes.
            "average_precision": (
                average_precision_score(truth == 1, probabilities[:, 1])
                if len(labels) == 2
                else average_precision_score(
                    label_binarize(truth, classes=labels), probabilities, average="macro"
                )
            ),
            "log_loss": log_loss(truth, probabilities, labels=labels),
        }
    # In the contract's order and names: a contract metric not computed above fails here.
    metrics = {name: round(float(values[name]), DIGITS) for name in METRICS[task]}
    for name, value in metrics.items():
        if not math.isfinite(value):
            raise UserError(
                f"{name} is {value}, a number metrics.json cannot hold (the target's values are "
                f"too large to square): rescale data.target '{target}' (other units, its logarithm)"
            )
    return metrics


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


def input_sources(model) -> list[str]:
    """The raw column behind each input of the Pipeline's estimator (train.build_pipeline's
    layout: raw columns to model inputs, preprocessing, estimator)."""
    columns, preprocess = model.named_steps["columns"], model.named_steps.get("preprocess")
    if preprocess is None:
        return columns.sources()  # LightGBM (compute.engine dask) takes the inputs as they are
    source = dict(zip(columns.get_feature_names_out(), columns.sources(), strict=True))
    sources = []
    for name, transformer, selected in preprocess.transformers_:
        if name == "remainder" or len(selected) == 0:
            continue
        produced = preprocess.output_indices_[name]
        if produced.stop - produced.start == len(selected):
            sources += [source[column] for column in selected]
        else:
            # One-hot encoding: a column per category of each column.
            encoder = transformer[-1] if hasattr(transformer, "steps") else transformer
            widths = [len(categories) for categories in encoder.categories_]
            sources += [
                source[column]
                for column, width in zip(selected, widths, strict=True)
                for _ in range(width)
            ]
    return sources


def own_importance(model) -> pd.Series | None:
    """The estimator's own importance of each raw column (impurity or gain of tree splits,
    size of linear coefficients on scaled inputs), or None if it has none."""
    estimator = model[-1]
    if hasattr(estimator, "feature_importances_"):
        weights = estimator.feature_importances_
    elif hasattr(estimator, "coef_"):
        weights = np.abs(np.atleast_2d(estimator.coef_)).sum(axis=0)
    elif hasattr(estimator, "_predictors"):
        # Histogram gradient boosting exposes no importances: add up the gain of its splits.
        weights = np.zeros(estimator.n_features_in_)
        for trees in estimator._predictors:
            for tree in trees:
                splits = tree.nodes[~tree.nodes["is_leaf"].astype(bool)]
                np.add.at(weights, splits["feature_idx"], splits["gain"])
    else:
        return None
    return pd.Series(weights, dtype="float64").groupby(input_sources(model)).sum()


def balanced_accuracies(actual: np.ndarray, predicted: np.ndarray, blocks: int) -> np.ndarray:
    """``balanced_accuracy_score(actual, block)`` for each of ``blocks`` equal blocks of
    ``predicted``: the same numbers (each class's recall, their mean over the classes of
    ``actual``, in the same order), without scikit-learn's checks of each call (4 ms each, most
    of the sample's importance)."""
    classes, truth = np.unique(actual, return_inverse=True)
    counts = np.bincount(truth, minlength=len(classes))
    hits = predicted.reshape(blocks, len(actual)) == actual
    return np.array(
        [np.mean(np.bincount(truth[hit], minlength=len(classes)) / counts) for hit in hits]
    )


def importance(
    model,
    test: pd.DataFrame,
    *,
    task: str,
    target: str,
    repeats: int,
    seed: int,
    max_features: int,
) -> pd.DataFrame:
    """Permutation importance on the test split: how much the task's main metric drops when a
    column's values are shuffled, largest first.

    Wide tables would take a predict per column and shuffle: with more than ``max_features``
    columns, only those the model itself ranks highest are shuffled.
    """
    features, actual = test.drop(columns=[target]), test[target]
    columns = list(features.columns)
    if len(columns) > max_features:
        ranking = own_importance(model)
        if ranking is not None:
            ranking = ranking.reindex(columns, fill_value=0.0)
            position = {name: index for index, name in enumerate(columns)}
            columns = sorted(columns, key=lambda name: (-ranking[name], position[name]))
            columns = columns[:max_features]
    score = SCORES[MAIN_METRIC[task]]
    scores_of = balanced_accuracies if score is balanced_accuracy_score else None
    reference = score(actual, model.predict(features))
    rng = np.random.default_rng(seed)
    drops = []
    for name in columns:
        values, rows = features[name].to_numpy(), len(features)
        # The repeats' shuffles of one column are predicted in one call: a predict per shuffle
        # costs the model's fixed overhead each time (2 s of the sample's 3 s evaluate).
        shuffled = pd.concat(
            [features.assign(**{name: values[rng.permutation(rows)]}) for _ in range(repeats)],
            ignore_index=True,
        )
        predicted = model.predict(shuffled)
        if scores_of is not None:
            scores = scores_of(actual.to_numpy(), predicted, repeats)
        else:
            scores = [score(actual, predicted[i * rows : (i + 1) * rows]) for i in range(repeats)]
        drops.append(reference - np.mean(scores))
    table = pd.DataFrame({"feature": columns, "importance": drops})
    return table.round(DIGITS).sort_values(["importance", "feature"], ascending=[False, True])


def plot_data(
    model,
    test: pd.DataFrame,
    *,
    task: str,
    target: str,
    repeats: int,
    seed: int,
    max_features: int = 30,
) -> dict[str, pd.DataFrame]:
    """Plot tables by file name, as dvc.yaml declares them: predictions and importance, then
    the ROC curve for classification or the residuals for regression."""
    predicted = model.predict(test.drop(columns=[target]))
    predictions = pd.DataFrame({"actual": test[target].to_numpy(), "predicted": predicted})
    tables = {
        "predictions.csv": predictions.round(DIGITS),
        "importance.csv": importance(
            model,
            test,
            task=task,
            target=target,
            repeats=repeats,
            seed=seed,
            max_features=max_features,
        ),
    }
    if task == "classification":
        tables["roc.csv"] = roc_points(model, test, target=target)
    else:
        residuals = predictions.assign(residual=predictions["actual"] - predictions["predicted"])
        tables["residuals.csv"] = residuals[["predicted", "residual"]].round(DIGITS)
    return tables
