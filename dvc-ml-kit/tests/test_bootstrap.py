"""The bootstrap of the test split: its metrics are scikit-learn's on each resample, resamples
pair across revisions, and the max_drop gate it informs passes noise and fails a regression."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    f1_score,
    log_loss,
    mean_absolute_error,
    r2_score,
    roc_auc_score,
    root_mean_squared_error,
)
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler, label_binarize

from dvc_ml_kit import stages
from dvc_ml_kit.ci import gate
from dvc_ml_kit.params import load_params
from dvc_ml_kit.pipeline import bootstrap, evaluate, prepare, train
from registry import ESTIMATORS


def reference(task: str, weights: np.ndarray, actual: np.ndarray, predicted: np.ndarray):
    """scikit-learn's metrics of one resample, with its counts as sample weights."""
    w = weights
    if task == "regression":
        return {
            "rmse": root_mean_squared_error(actual, predicted, sample_weight=w),
            "mae": mean_absolute_error(actual, predicted, sample_weight=w),
            "r2": r2_score(actual, predicted, sample_weight=w),
        }
    labels = np.arange(predicted.shape[1])
    chosen = predicted.argmax(axis=1)
    binary = len(labels) == 2
    return {
        "accuracy": accuracy_score(actual, chosen, sample_weight=w),
        "balanced_accuracy": balanced_accuracy_score(actual, chosen, sample_weight=w),
        "f1_macro": f1_score(actual, chosen, average="macro", sample_weight=w),
        "roc_auc": roc_auc_score(actual == 1, predicted[:, 1], sample_weight=w)
        if binary
        else roc_auc_score(actual, predicted, multi_class="ovr", labels=labels, sample_weight=w),
        "average_precision": average_precision_score(actual == 1, predicted[:, 1], sample_weight=w)
        if binary
        else average_precision_score(
            label_binarize(actual, classes=labels), predicted, average="macro", sample_weight=w
        ),
        "log_loss": log_loss(actual, predicted, labels=labels, sample_weight=w),
    }


def fitted(loader, model, *, round_to=None):
    """Test targets and predictions of ``model`` on a real dataset; rounding the predictions
    makes ties, which the ranking metrics must count as scikit-learn does."""
    features, target = loader(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(features, target, random_state=0)
    model.fit(x_train, y_train)
    if hasattr(model, "predict_proba"):
        predicted = model.predict_proba(x_test)
    else:
        predicted = model.predict(x_test)
    if round_to is not None:
        predicted = predicted.round(round_to)
        if predicted.ndim == 2:
            predicted = predicted / predicted.sum(axis=1, keepdims=True)
    return y_test, predicted


CASES = {
    "binary, with ties": (
        "classification",
        load_breast_cancer,
        lambda: make_pipeline(StandardScaler(), LogisticRegression()),
        1,
    ),
    "three classes, with ties": (
        "classification",
        load_wine,
        lambda: RandomForestClassifier(n_estimators=20, random_state=0),
        None,
    ),
    "regression": ("regression", load_diabetes, Ridge, None),
}


@pytest.mark.parametrize("case", CASES)
def test_each_resample_s_metrics_are_scikit_learn_s_with_its_counts_as_weights(case):
    task, loader, model, round_to = CASES[case]
    actual, predicted = fitted(loader, model(), round_to=round_to)
    scored = bootstrap.Scored(actual, predicted, task=task)
    (weights,) = bootstrap.counts(len(actual), 40, seed=3)
    values = scored.metrics(weights)
    assert list(values) == list(evaluate.METRICS[task])
    for k in range(40):
        expected = reference(task, weights[k], actual, predicted)
        for name, value in expected.items():
            assert values[name][k] == pytest.approx(value, abs=1e-12), (name, k)
    # Every row once: the metrics evaluate writes.
    once = scored.metrics(np.ones((1, len(actual)), dtype=np.uint8))
    classes = np.arange(predicted.shape[1]) if task == "classification" else None
    written = evaluate.metric_values(
        pd.Series(actual), predicted, task=task, target="y", classes=classes
    )
    assert {name: round(float(v[0]), 6) for name, v in once.items()} == written


def test_resamples_depend_on_the_seed_and_the_rows_alone(monkeypatch):
    whole = np.concatenate(list(bootstrap.counts(300, 50, seed=1)))
    monkeypatch.setattr(bootstrap, "CELLS", 300 * 7)  # chunks of 7 resamples
    chunked = list(bootstrap.counts(300, 50, seed=1))
    assert len(chunked) == 8
    assert np.array_equal(np.concatenate(chunked), whole)
    assert (whole.sum(axis=1) == 300).all()
    assert not np.array_equal(whole, np.concatenate(list(bootstrap.counts(300, 50, seed=2))))


def test_the_bootstrap_file_is_the_same_on_every_run():
    linear = make_pipeline(StandardScaler(), LogisticRegression())
    actual, predicted = fitted(load_breast_cancer, linear)
    made = [
        json.dumps(
            bootstrap.bootstrap(
                pd.Series(actual),
                predicted,
                task="classification",
                classes=[0, 1],
                resamples=100,
                seed=42,
            )
        )
        for _ in range(2)
    ]
    assert made[0] == made[1]
    content = json.loads(made[0])
    assert content["rows"] == len(actual) and len(content["values"]["roc_auc"]) == 100
    assert bootstrap.bootstrap(
        pd.Series(actual), predicted, task="classification", classes=[0, 1], resamples=0, seed=1
    )["interval"] == dict.fromkeys(evaluate.METRICS["classification"])


# The sample data's pipeline, as the template's params.yaml sets it; train's settings vary.
PARAMS = """\
data: {{task: classification, file: sample.csv, target: diagnosis, id_column: null,
  group_column: null, drop_columns: [], categorical_columns: [], keep_columns: [],
  separator: null, decimal: null, encoding: null}}
compute: {{engine: local, store: null}}
prepare: {{test_size: 0.2, seed: 42, min_test_rows_per_class: 5, unlabeled: set_aside}}
train: {{estimator: {estimator}, seed: {seed}, class_weight: null,
  hyperparameters: {hyperparameters}}}
evaluate: {{seed: 42, importance_repeats: 1, importance_features: 1, max_plot_rows: 10,
  resamples: 200}}
"""
# The template's max_drop gates for classification.
GATES = {"max_drop": {"balanced_accuracy": 0.02, "roc_auc": 0.01, "average_precision": 0.02}}


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """The sample data (scikit-learn's breast cancer table, as the template ships it), split
    by the prepare stage: 455 train rows, 114 test rows."""
    folder = tmp_path_factory.mktemp("sample")
    frame, target = load_breast_cancer(return_X_y=True, as_frame=True)
    frame["diagnosis"] = np.where(target == 0, "malignant", "benign")
    frame.to_csv(folder / "sample.csv", index=False)
    split = folder / "train.parquet", folder / "test.parquet"
    settings = PARAMS.format(estimator="linear", seed=0, hyperparameters="null")
    (folder / "params.yaml").write_text(settings)
    stages.prepare(
        str(folder / "sample.csv"), *split, load_params(folder / "params.yaml", prepare.PARAMS)
    )
    return folder


def run(sample, name: str, **train_settings) -> tuple[list[gate.Metric], str]:
    """Train and evaluate with ``train_settings``: the metrics and the bootstrap file."""
    folder = sample / name
    folder.mkdir()
    (folder / "params.yaml").write_text(PARAMS.format(**train_settings))
    split = sample / "train.parquet", sample / "test.parquet"
    model = folder / "model.pkl"
    stages.train(split[0], model, load_params(folder / "params.yaml", train.PARAMS), ESTIMATORS)
    metrics = folder / "evaluation" / "metrics.json"
    settings = load_params(folder / "params.yaml", evaluate.PARAMS)
    stages.evaluate(model, *split, metrics, folder / "plots", settings)
    values = json.loads(metrics.read_text())
    return values, metrics.with_name("bootstrap.json").read_text()


def judged(base, branch) -> tuple[list[str], list[str], list[gate.Metric]]:
    """The failures and the within-chance notes of ``branch`` against ``base``."""
    metrics = gate.with_noise(gate.versus(branch[0], base[0]), branch[1], base[1])
    return gate.check(metrics, GATES), gate.within_noise(metrics, GATES), metrics


def test_max_drop_passes_what_chance_explains_and_fails_a_real_regression(sample):
    forest = {"estimator": "random_forest", "hyperparameters": "{random_forest: {}}"}
    base = run(sample, "base", seed=42, **forest)
    for seed in (1, 2, 3):  # pure noise: the forest re-seeded
        failures, _, metrics = judged(base, run(sample, f"seed{seed}", seed=seed, **forest))
        assert failures == [], seed
        assert all(metric.change_interval for metric in metrics)

    # The template's default model against a forest: judged on the values alone, roc_auc drops
    # beyond max_drop; paired on the same resamples, chance explains it, and the report says so.
    boosted = run(
        sample, "boosted", estimator="hist_gradient_boosting", seed=42, hyperparameters="null"
    )
    assert any(
        f.startswith("roc_auc got worse")
        for f in gate.check(gate.versus(base[0], boosted[0]), GATES)
    )
    failures, chance, _ = judged(boosted, base)
    assert failures == []
    assert any(
        line.startswith("roc_auc got worse by")
        and "but within chance: resampling the same 114 test rows puts the drop between" in line
        for line in chance
    ), chance

    weak = run(sample, "weak", estimator="linear", seed=42, hyperparameters="{linear: {C: 0.0001}}")
    failures, _, _ = judged(base, weak)
    assert any(
        failure.startswith("balanced_accuracy got worse by") and "beyond chance" in failure
        for failure in failures
    ), failures
