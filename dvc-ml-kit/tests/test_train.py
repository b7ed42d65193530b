"""train stage: every estimator fits a Pipeline that scores raw rows, reproducibly."""

import pickle
from functools import cache

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from dvc_ml_kit.errors import (
    UserError,
)
from dvc_ml_kit.model.columns import (
    ColumnKinds,
)
from dvc_ml_kit.pipeline.train import chosen_hyperparameters
from registry import ESTIMATORS, train

TASKS = ["classification", "regression"]
# Small settings keep the tests fast; each must be a real setting of its estimator.
SMALL = {
    "linear": {},
    "random_forest": {"n_estimators": 20},
    "hist_gradient_boosting": {"max_iter": 20},
}
CASES = [(task, name) for task in TASKS for name in ESTIMATORS[task]]


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    """60 prepared rows: a numeric and a text feature, both with gaps; a target per task."""
    rng = np.random.default_rng(0)
    size = 60
    level = rng.normal(size=size)
    plan = rng.choice(["basic", "pro", "team"], size=size).astype(object)
    level_with_gaps = level.copy()
    level_with_gaps[[3, 17, 40]] = np.nan
    plan[[5, 22]] = None
    # As validate() returns them: numbers as floats, text as strings with gaps kept as missing.
    features = pd.DataFrame(
        {"level": level_with_gaps, "plan": pd.Series(plan).astype("str").where(pd.notna(plan))}
    )
    bonus = np.where(plan == "pro", 1.0, 0.0)
    return {
        "classification": features.assign(label=np.where(level > 0, "yes", "no")),
        "regression": features.assign(label=3 * level + bonus + rng.normal(scale=0.1, size=size)),
    }


@pytest.fixture(params=["integers", "gaps"])
def raw_rows(request) -> pd.DataFrame:
    """Rows as they arrive for scoring: an extra id column, another column order, an unseen
    category and a missing one, and numbers read as integers or with gaps."""
    level = [2, -1, -2, 1] if request.param == "integers" else [2.0, None, -2.0, 0.5]
    plan = pd.Series(["enterprise", None, "basic", "pro"], dtype=object)
    return pd.DataFrame({"customer_id": [101, 102, 103, 104], "plan": plan, "level": level})


def _train(frame, task, name, seed=0, hyperparameters=None):
    return train(
        frame,
        task=task,
        target="label",
        estimator=name,
        hyperparameters=SMALL.get(name, {}) if hyperparameters is None else hyperparameters,
        seed=seed,
    )


@pytest.fixture(scope="module")
def fitted(frames):
    """``fitted(task, name)``: that model on ``frames``, fitted once for the tests that only read
    it (a test of how models are fitted fits its own)."""
    return cache(lambda task, name: _train(frames[task], task, name))


@pytest.fixture(scope="module")
def one_thread(frames):
    """``one_thread(task, name)``: that model fitted with seed 3 on one thread, once, for the
    tests that compare it with another fit."""

    @cache
    def fit(task, name):
        with threadpool_limits(limits=1):
            return pickle.dumps(_train(frames[task], task, name, seed=3), protocol=5)

    return fit


@pytest.mark.parametrize(("task", "name"), CASES)
def test_train_returns_a_fitted_pipeline(frames, fitted, task, name):
    frame = frames[task]
    model = fitted(task, name)
    assert isinstance(model, Pipeline)
    check_is_fitted(model)
    assert isinstance(model[-1], ESTIMATORS[task][name])
    for key, value in SMALL.get(name, {}).items():
        assert model[-1].get_params()[key] == value
    if "random_state" in model[-1].get_params():
        assert model[-1].random_state == 0
    # It learned from the features: clearly better than guessing on its own training rows.
    predicted = model.predict(frame.drop(columns=["label"]))
    if task == "classification":
        assert set(model.classes_) == {"no", "yes"}
        assert (predicted == frame["label"]).mean() > 0.8
    else:
        assert np.corrcoef(predicted, frame["label"])[0, 1] > 0.8


@pytest.mark.parametrize(("task", "name"), CASES)
def test_model_scores_raw_rows(fitted, raw_rows, task, name):
    model = fitted(task, name)
    predicted = model.predict(raw_rows)
    assert len(predicted) == len(raw_rows)
    if task == "classification":
        assert set(predicted) <= {"no", "yes"}
        probabilities = model.predict_proba(raw_rows)
        assert probabilities.shape == (len(raw_rows), 2)
        np.testing.assert_allclose(probabilities.sum(axis=1), 1)
    else:
        assert np.isfinite(predicted).all()
    # The extra id column is ignored: changing it does not change any prediction.
    renumbered = raw_rows.assign(customer_id=[9, 8, 7, 6])
    np.testing.assert_array_equal(model.predict(renumbered), predicted)


@pytest.mark.parametrize("task", TASKS)
def test_unknown_estimator(frames, task):
    with pytest.raises(UserError, match=r"train\.estimator is 'xgboost'") as error:
        _train(frames[task], task, "xgboost", hyperparameters={})
    for name in ESTIMATORS[task]:
        assert name in str(error.value)


@pytest.mark.parametrize(("task", "name"), CASES)
def test_unknown_hyperparameter(frames, task, name):
    with pytest.raises(UserError, match=rf"train\.hyperparameters\.{name} .*'n_trees'"):
        _train(frames[task], task, name, hyperparameters={"n_trees": 5})


@pytest.mark.parametrize(("task", "name"), CASES)
def test_same_seed_same_bytes(frames, one_thread, task, name):
    with threadpool_limits(limits=1):
        again = pickle.dumps(_train(frames[task], task, name, seed=3), protocol=5)
    assert again == one_thread(task, name)


@pytest.mark.parametrize("task", TASKS)
def test_invalid_hyperparameter_value(frames, task):
    with pytest.raises(UserError, match=r"train\.hyperparameters\.random_forest: .*n_estimators"):
        _train(frames[task], task, "random_forest", hyperparameters={"n_estimators": 0})


@pytest.mark.parametrize(
    ("task", "name", "hyperparameters", "keys"),
    [
        ("classification", "linear", {"penalty": "l1"}, "penalty"),
        ("classification", "random_forest", {"bootstrap": False, "max_samples": 0.5}, "bootstrap"),
        ("regression", "random_forest", {"bootstrap": False, "max_samples": 0.5}, "max_samples"),
    ],
)
def test_settings_scikit_learn_refuses_together_are_one_sentence(
    frames, task, name, hyperparameters, keys
):
    with pytest.raises(
        UserError, match=rf"refused the settings of train\.hyperparameters\.{name} \(.*{keys}"
    ) as error:
        _train(frames[task], task, name, hyperparameters=hyperparameters)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("setting", ["random_state", "class_weight", "categorical_features"])
def test_settings_the_pipeline_sets_itself_are_refused(frames, setting):
    with pytest.raises(UserError, match=rf"hist_gradient_boosting\.{setting} is set by the pipe"):
        _train(
            frames["classification"],
            "classification",
            "hist_gradient_boosting",
            hyperparameters={setting: None},
        )


@pytest.mark.parametrize("task", TASKS)
def test_a_misspelt_estimator_block_is_refused(task):
    blocks = {"hist_gradient_boostin": {"max_iter": 3}, "linear": {}}
    with pytest.raises(UserError, match=r"hyperparameters\.hist_gradient_boostin is not an est"):
        chosen_hyperparameters(task, "hist_gradient_boosting", blocks, ESTIMATORS)
    assert chosen_hyperparameters(task, "linear", {"linear": {"tol": 1.0}}, ESTIMATORS) == {
        "tol": 1.0
    }
    assert chosen_hyperparameters(task, "linear", None, ESTIMATORS) is None


def test_a_split_prepared_for_another_target_is_refused(frames):
    with pytest.raises(UserError, match=r"data\.target 'churn' is not a column .* `dvc repro`"):
        train(
            frames["regression"],
            task="regression",
            target="churn",
            estimator="linear",
            hyperparameters={},
            seed=0,
        )


def test_unknown_task(frames):
    with pytest.raises(UserError, match=r"data\.task is 'clustering'"):
        _train(frames["regression"], "clustering", "linear")


@pytest.mark.parametrize(("task", "name"), CASES)
def test_saved_bytes_do_not_depend_on_thread_count(frames, one_thread, task, name):
    with threadpool_limits(limits=2):
        two = pickle.dumps(_train(frames[task], task, name, seed=3), protocol=5)
    assert two == one_thread(task, name)


@pytest.mark.parametrize("name", ESTIMATORS["classification"])
def test_class_weight_balanced(frames, fitted, name):
    model = train(
        frames["classification"],
        task="classification",
        target="label",
        estimator=name,
        hyperparameters=SMALL[name],
        seed=0,
        class_weight="balanced",
    )
    assert model[-1].class_weight == "balanced"
    assert fitted("classification", name)[-1].class_weight is None


@pytest.mark.parametrize(
    ("task", "weight", "message"),
    [
        (
            "regression",
            "balanced",
            r"train\.class_weight is 'balanced', but Ridge weighs no classes",
        ),
        ("classification", "inverse", r"train\.class_weight is 'inverse' but must be null or"),
    ],
)
def test_class_weight_errors(frames, task, weight, message):
    with pytest.raises(UserError, match=message):
        train(
            frames[task],
            task=task,
            target="label",
            estimator="linear",
            hyperparameters={},
            seed=0,
            class_weight=weight,
        )


@pytest.fixture(scope="module")
def kinds() -> pd.DataFrame:
    """Prepared columns of every kind, as prepare writes them, and a target that follows them."""
    rng = np.random.default_rng(1)
    size = 120
    member = rng.random(size) < 0.5
    joined = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 700, size), unit="D")
    return pd.DataFrame(
        {
            "member": pd.array(member, dtype="boolean"),
            "joined": joined,
            "name": [f"Person {number}" for number in range(size)],  # listed in keep_columns
            "label": np.where(member ^ (joined.month > 6), "yes", "no"),
        }
    )


@pytest.mark.parametrize(("task", "name"), CASES)
def test_yes_no_and_dates_score_from_raw_text(kinds, task, name):
    frame = kinds if task == "classification" else kinds.assign(label=kinds["member"] * 2.0)
    model = _train(frame, task, name)
    assert isinstance(model[0], ColumnKinds)
    assert list(model[0].booleans) == ["member"]
    assert list(model[0].dates) == ["joined"]
    raw = pd.DataFrame(
        {
            "joined": ["2024-02-03", "2024-09-30T12:00:00Z", None],
            "member": ["yes", "No", None],
            "name": ["Someone new", "Person 1", None],
        }
    )
    assert len(model.predict(raw)) == 3
    with pytest.raises(ValueError, match=r"column 'member' has 'maybe', which is not a yes/no"):
        model.predict(raw.assign(member=["yes", "maybe", "no"]))
    with pytest.raises(ValueError, match=r"column 'joined' has 'soon', which is not an ISO 8601"):
        model.predict(raw.assign(joined=["soon", None, "2024-01-01"]))


@pytest.mark.parametrize(("task", "name"), CASES)
def test_no_rare_text_value_is_saved_with_the_model(kinds, task, name):
    frame = kinds if task == "classification" else kinds.assign(label=kinds["member"] * 2.0)
    frame = frame.assign(plan=["basic", "pro", "team"] * 40)
    saved = pickle.dumps(_train(frame, task, name), protocol=5)
    assert b"Person 7" not in saved  # each name is on one row: none enters the model
    assert b"basic" in saved and b"team" in saved  # a category of many rows does


def test_categories_kept_are_frequent_and_few():
    values = ["a"] * 30 + ["b"] * 5 + ["c"] * 4 + [f"rare {i}" for i in range(20)] + [None] * 3
    step = ColumnKinds(categorical=["c"], min_category_rows=5, max_categories=1)
    out = step.fit(pd.DataFrame({"c": values})).transform(pd.DataFrame({"c": values}))
    assert step.categories_ == {"c": ["a"]}
    assert out["c"].value_counts(dropna=False).to_dict() == {"a": 30, "(other)": 29, np.nan: 3}
    step = ColumnKinds(categorical=["c"], min_category_rows=5).fit(pd.DataFrame({"c": values}))
    assert step.categories_ == {"c": ["a", "b"]}
