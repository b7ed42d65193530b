"""evaluate stage: the metrics per task, the baseline to beat, and the plot data files."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    f1_score,
    get_scorer,
    log_loss,
    roc_auc_score,
)
from sklearn.preprocessing import label_binarize

from dvc_ml_kit.contract import (
    MAIN_METRIC,
    METRICS,
    PLOTS,
)
from dvc_ml_kit.errors import (
    UserError,
)
from dvc_ml_kit.pipeline.evaluate import (
    balanced_accuracies,
    fit_baseline,
    importance,
    input_sources,
    own_importance,
    plot_data,
    scores,
)
from registry import train

FEATURES = ["signal", "noise", "plan"]
# Small models: the metrics are what is tested, not the fit.
SMALL = {
    "linear": {},
    "random_forest": {"n_estimators": 10},
    "hist_gradient_boosting": {"max_iter": 20},
}


def _frame(kind: str, size: int, seed: int) -> pd.DataFrame:
    """Prepared rows whose target follows ``signal``: separable classes, or a linear number."""
    rng = np.random.default_rng(seed)
    signal = rng.uniform(-3, 3, size=size)
    frame = pd.DataFrame(
        {
            "signal": signal,
            "noise": rng.normal(size=size),
            "plan": pd.Series(rng.choice(["basic", "pro"], size=size)).astype("str"),
        }
    )
    if kind == "binary":
        frame["target"] = np.where(signal > 0, "yes", "no")
    elif kind == "multiclass":
        frame["target"] = np.select([signal < -1, signal < 1], ["low", "mid"], "high")
    else:
        frame["target"] = 2 * signal + rng.normal(scale=0.2, size=size)
    return frame


@pytest.fixture(scope="module", params=["binary", "multiclass", "regression"])
def case(request):
    """(task, train split, test split, fitted model) for each kind of target."""
    kind = request.param
    task = "regression" if kind == "regression" else "classification"
    train_split, test_split = _frame(kind, 120, seed=1), _frame(kind, 60, seed=2)
    model = train(
        train_split, task=task, target="target", estimator="linear", hyperparameters={}, seed=0
    )
    return kind, task, train_split, test_split, model


def test_scores_names_exactly_the_task_metrics(case):
    kind, task, _, test_split, model = case
    values = scores(model, test_split, task=task, target="target")
    assert list(values) == list(METRICS[task])  # the output contract's names, in its order
    assert all(isinstance(value, float) and np.isfinite(value) for value in values.values())
    if task == "classification":
        assert len(model.classes_) == (3 if kind == "multiclass" else 2)
        for name in ("accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "average_precision"):
            assert 0 <= values[name] <= 1
        assert values["log_loss"] >= 0
    else:
        assert values["rmse"] >= values["mae"] >= 0
        assert values["r2"] <= 1


@pytest.mark.parametrize("estimator", ["linear", "random_forest", "hist_gradient_boosting"])
@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_classification_scores_equal_those_of_the_labels(kind, estimator):
    train_split, test_split = _frame(kind, 120, seed=1), _frame(kind, 60, seed=2)
    # Some noise in the labels, so that the models make mistakes for the metrics to count.
    test_split["target"] = test_split["target"].sample(frac=1, random_state=0).to_numpy()
    model = train(
        train_split,
        task="classification",
        target="target",
        estimator=estimator,
        hyperparameters=SMALL[estimator],
        seed=0,
    )
    features, actual = test_split.drop(columns=["target"]), test_split["target"]
    predicted, probabilities = model.predict(features), model.predict_proba(features)
    classes = model.classes_
    expected = {
        "accuracy": accuracy_score(actual, predicted),
        "balanced_accuracy": balanced_accuracy_score(actual, predicted),
        "f1_macro": f1_score(actual, predicted, average="macro"),
        "roc_auc": (
            roc_auc_score(actual == classes[1], probabilities[:, 1])
            if len(classes) == 2
            else roc_auc_score(actual, probabilities, multi_class="ovr", labels=classes)
        ),
        "average_precision": (
            average_precision_score(actual == classes[1], probabilities[:, 1])
            if len(classes) == 2
            else average_precision_score(
                label_binarize(actual, classes=classes), probabilities, average="macro"
            )
        ),
        "log_loss": log_loss(actual, probabilities, labels=classes),
    }
    values = scores(model, test_split, task="classification", target="target")
    assert values == pytest.approx(expected, abs=1e-6)


def test_a_class_the_model_never_saw_is_a_user_error():
    train_split, test_split = _frame("binary", 120, seed=1), _frame("multiclass", 60, seed=2)
    model = train(
        train_split,
        task="classification",
        target="target",
        estimator="linear",
        hyperparameters={},
        seed=0,
    )
    with pytest.raises(UserError, match="the test split has class '.+', which the model never saw"):
        scores(model, test_split, task="classification", target="target")


def test_a_target_too_large_for_metrics_is_a_user_error():
    frame = _frame("regression", 60, seed=1)
    frame["target"] = frame["target"] * 1e160
    model = train(
        frame, task="regression", target="target", estimator="linear", hyperparameters={}, seed=0
    )
    with pytest.raises(UserError, match=r"rmse is inf, .*: rescale data\.target 'target'"):
        scores(model, frame, task="regression", target="target")


def test_baseline_is_worse_than_the_model(case):
    _, task, train_split, test_split, model = case
    baseline = fit_baseline(train_split, task=task, target="target")
    model_scores = scores(model, test_split, task=task, target="target")
    baseline_scores = scores(baseline, test_split, task=task, target="target")
    assert list(baseline_scores) == list(METRICS[task])
    if task == "classification":
        assert model_scores["balanced_accuracy"] > baseline_scores["balanced_accuracy"] + 0.2
        assert model_scores["roc_auc"] > baseline_scores["roc_auc"]
        assert model_scores["log_loss"] < baseline_scores["log_loss"]
        # The baseline predicts class frequencies whatever the features say: its precision is
        # the share of each class, whatever the threshold.
        assert baseline_scores["roc_auc"] == pytest.approx(0.5)
        shares = test_split["target"].value_counts(normalize=True)
        positive = shares[model.classes_[1]] if len(model.classes_) == 2 else shares.mean()
        assert baseline_scores["average_precision"] == pytest.approx(positive, abs=1e-6)
    else:
        assert model_scores["rmse"] < baseline_scores["rmse"] / 2
        assert model_scores["r2"] > 0.9
        assert baseline_scores["r2"] <= 0


def test_baseline_predicts_class_frequencies_or_the_mean(case):
    _, task, train_split, test_split, _ = case
    baseline = fit_baseline(train_split, task=task, target="target")
    features = test_split.drop(columns=["target"])
    if task == "classification":
        shares = train_split["target"].value_counts(normalize=True)
        expected = np.tile(shares[baseline.classes_].to_numpy(), (len(features), 1))
        np.testing.assert_allclose(baseline.predict_proba(features), expected)
    else:
        expected = np.full(len(features), train_split["target"].mean())
        np.testing.assert_allclose(baseline.predict(features), expected)


def test_plot_data(case):
    _, task, _, test_split, model = case
    tables = plot_data(model, test_split, task=task, target="target", repeats=2, seed=0)
    # Exactly the contract's files, each with exactly its two columns.
    assert set(tables) == set(PLOTS[task])
    for name, plot in PLOTS[task].items():
        assert set(tables[name].columns) == {plot.x, plot.y}, name

    predictions = tables["predictions.csv"]
    assert len(predictions) == len(test_split)
    if task == "regression":
        np.testing.assert_allclose(predictions["actual"], test_split["target"], atol=1e-6)
        assert list(predictions.columns) == ["actual", "predicted"]
        residuals = tables["residuals.csv"]
        assert list(residuals.columns) == ["predicted", "residual"]
        residual = predictions["actual"] - predictions["predicted"]
        np.testing.assert_allclose(residuals["residual"], residual, atol=1e-5)
    else:
        assert list(predictions["actual"]) == list(test_split["target"])
        assert list(predictions.columns) == ["actual", "predicted"]
        assert set(predictions["predicted"]) <= set(model.classes_)

    importance = tables["importance.csv"]
    assert list(importance.columns) == ["feature", "importance"]
    assert sorted(importance["feature"]) == sorted(FEATURES)
    assert importance["importance"].is_monotonic_decreasing
    assert importance["feature"].iloc[0] == "signal"

    if task == "classification":
        roc = tables["roc.csv"]
        assert list(roc.columns) == ["fpr", "tpr"]
        for column in ("fpr", "tpr"):
            assert roc[column].iloc[0] == 0
            assert roc[column].iloc[-1] == 1
            assert roc[column].is_monotonic_increasing
            assert roc[column].between(0, 1).all()


def _wide(columns: int, size: int = 200, seed: int = 0) -> pd.DataFrame:
    """``columns`` numeric columns of noise, of which 'x3' and 'x7' carry the target."""
    rng = np.random.default_rng(seed)
    names = [f"x{i}" for i in range(columns)]
    frame = pd.DataFrame(rng.normal(size=(size, columns)), columns=names)
    frame["target"] = np.where(frame["x3"] - frame["x7"] > 0, "yes", "no")
    return frame


@pytest.mark.parametrize("estimator", ["linear", "random_forest", "hist_gradient_boosting"])
def test_wide_tables_shuffle_only_the_features_the_model_ranks_highest(estimator):
    train_split, test_split = _wide(60), _wide(60, size=80, seed=1)
    model = train(
        train_split,
        task="classification",
        target="target",
        estimator=estimator,
        hyperparameters=SMALL[estimator],
        seed=0,
    )
    ranking = own_importance(model)
    assert set(ranking.index) == {f"x{i}" for i in range(60)}
    assert set(ranking.nlargest(2).index) == {"x3", "x7"}
    table = importance(
        model,
        test_split,
        task="classification",
        target="target",
        repeats=2,
        seed=0,
        max_features=5,
    )
    assert len(table) == 5
    assert set(table["feature"].iloc[:2]) == {"x3", "x7"}
    assert set(table["feature"]) == set(ranking.nlargest(5).index)


def test_each_model_input_is_traced_to_its_raw_column():
    frame = _frame("binary", 120, seed=1).assign(
        member=pd.array([True, False, None] * 40, dtype="boolean"),
        joined=pd.date_range("2024-01-01", periods=120, freq="D"),
        unmeasured=np.nan,  # empty in training, but filled in where the model is used
    )
    model = train(
        frame,
        task="classification",
        target="target",
        estimator="linear",
        hyperparameters={},
        seed=0,
    )
    sources = input_sources(model)
    assert len(sources) == model[-1].n_features_in_
    assert sources.count("joined") == 5  # year, month, day, weekday, hour
    assert sources.count("plan") == 2  # one-hot: basic, pro
    assert {"signal", "noise", "member", "unmeasured"} <= set(sources)


def test_importance_equals_the_main_metric_scored_once_per_shuffle(case):
    """The repeats of a column are predicted in one call; each is scored as scikit-learn's
    scorer of the contract's main metric scores one shuffle, in the same order of shuffles."""
    _, task, _, test_split, model = case
    table = importance(
        model, test_split, task=task, target="target", repeats=3, seed=7, max_features=30
    )
    features, actual = test_split.drop(columns=["target"]), test_split["target"]
    scorer = get_scorer(MAIN_METRIC[task])
    rng = np.random.default_rng(7)
    expected = {}
    for name in features.columns:
        values = features[name].to_numpy()
        shuffled = [
            scorer(model, features.assign(**{name: values[rng.permutation(len(values))]}), actual)
            for _ in range(3)
        ]
        expected[name] = round(scorer(model, features, actual) - np.mean(shuffled), 6)
    assert table.set_index("feature")["importance"].to_dict() == expected


@pytest.mark.parametrize(
    "labels",
    [
        np.array([0, 1]),
        np.array([False, True]),
        np.array(["Adelie", "Chinstrap", "Gentoo"], object),
    ],
    ids=["binary", "yes/no", "three classes"],
)
@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
def test_balanced_accuracies_are_scikit_learn_s_bit_for_bit(labels):
    """Each block's score is balanced_accuracy_score's, to the last bit, also when a block
    predicts a class the actual values lack (scikit-learn leaves its recall out) or misses one."""
    rng = np.random.default_rng(3)
    actual = labels[rng.integers(0, len(labels) - 1, 97)]  # the last label is never actual
    actual[: len(labels) - 1] = labels[:-1]  # every other label is
    predicted = labels[rng.integers(0, len(labels), 97 * 5)]
    predicted[:97] = actual[0]  # a block that predicts one class for every row
    expected = [balanced_accuracy_score(actual, block) for block in predicted.reshape(5, 97)]
    assert balanced_accuracies(actual, predicted, 5).tolist() == expected


def test_importance_is_the_drop_of_the_main_metric(case):
    _, task, _, test_split, model = case
    table = importance(
        model, test_split, task=task, target="target", repeats=3, seed=0, max_features=30
    )
    assert table["feature"].iloc[0] == "signal"
    assert table["importance"].iloc[0] > 0.2  # balanced accuracy or R² fall far without it
    assert table.set_index("feature")["importance"]["noise"] < 0.05
