"""train stage: every estimator fits a Pipeline that scores raw rows, reproducibly."""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from {{ cookiecutter.module_name }}.errors import (
    UserError,
)
from {{ cookiecutter.module_name }}.stages.train import (
    ESTIMATORS,
    train,
)

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


@pytest.mark.parametrize(("task", "name"), CASES)
def test_train_returns_a_fitted_pipeline(frames, task, name):
    frame = frames[task]
    model = _train(frame, task, name)
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
def test_model_scores_raw_rows(frames, raw_rows, task, name):
    model = _train(frames[task], task, name)
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
def test_same_seed_same_bytes(frames, task, name):
    first = pickle.dumps(_train(frames[task], task, name, seed=3), protocol=5)
    second = pickle.dumps(_train(frames[task], task, name, seed=3), protocol=5)
    assert first == second


@pytest.mark.parametrize("task", TASKS)
def test_invalid_hyperparameter_value(frames, task):
    with pytest.raises(UserError, match=r"train\.hyperparameters\.random_forest: .*n_estimators"):
        _train(frames[task], task, "random_forest", hyperparameters={"n_estimators": 0})


def test_unknown_task(frames):
    with pytest.raises(UserError, match=r"data\.task is 'clustering'"):
        _train(frames["regression"], "clustering", "linear")


@pytest.mark.parametrize(("task", "name"), CASES)
def test_saved_bytes_do_not_depend_on_thread_count(frames, task, name):
    with threadpool_limits(limits=1):
        one = pickle.dumps(_train(frames[task], task, name, seed=3), protocol=5)
    with threadpool_limits(limits=2):
        two = pickle.dumps(_train(frames[task], task, name, seed=3), protocol=5)
    assert one == two
