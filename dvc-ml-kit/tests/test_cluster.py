"""compute.engine dask, without a cluster: train's settings in LightGBM's names, and the model
it saves (LightGBM's text behind scikit-learn's interface). The template's own tests run the
stages on a real Dask cluster."""

import pickle

import lightgbm
import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from dvc_ml_kit.cluster.train import (
    lightgbm_settings,
    without_network,
)
from dvc_ml_kit.errors import (
    UserError,
)
from dvc_ml_kit.model.boosted import (
    BoostedTrees,
    inputs,
)
from dvc_ml_kit.model.columns import (
    OTHER,
    ColumnKinds,
)
from registry import ESTIMATORS

ESTIMATOR = "hist_gradient_boosting"


def test_settings_take_lightgbm_names():
    settings = lightgbm_settings(
        "classification",
        ESTIMATOR,
        {"learning_rate": 0.05, "max_iter": 7, "max_leaf_nodes": 15, "max_depth": None},
        3,
        None,
        ESTIMATORS,
    )
    assert settings["learning_rate"] == 0.05
    assert settings["num_iterations"] == 7
    assert settings["num_leaves"] == 15
    assert settings["max_depth"] == -1
    assert settings["seed"] == 3
    assert settings["deterministic"] is True


def test_other_estimators_are_refused():
    with pytest.raises(UserError, match="compute.engine dask trains gradient boosting"):
        lightgbm_settings("classification", "random_forest", None, 0, None, ESTIMATORS)


def test_a_setting_with_no_lightgbm_counterpart_is_refused():
    with pytest.raises(UserError, match=r"max_features has no LightGBM counterpart"):
        lightgbm_settings("regression", ESTIMATOR, {"max_features": 0.5}, 0, None, ESTIMATORS)


def test_values_scikit_learn_refuses_are_refused():
    with pytest.raises(UserError, match=r"hist_gradient_boosting: The 'learning_rate' parameter"):
        lightgbm_settings("regression", ESTIMATOR, {"learning_rate": -1.0}, 0, None, ESTIMATORS)


def test_the_saved_text_leaves_out_the_run_network_settings():
    text = "tree\nversion=v4\n\nparameters:\n[machines: 127.0.0.1:1234]\nend of parameters\n\nx"
    saved = without_network(text)
    assert "machines" not in saved and "parameters" not in saved
    assert saved.startswith("tree\nversion=v4\n") and saved.endswith("\nx")


@pytest.fixture(scope="module")
def rows():
    rng = np.random.default_rng(0)
    size = 300
    frame = pd.DataFrame(
        {
            "amount": rng.normal(size=size),
            "zone": rng.choice(["north", "south", "east"], size=size),
        }
    )
    frame.loc[::7, "amount"] = np.nan
    signal = frame["amount"].fillna(0) + (frame["zone"] == "north")
    frame["label"] = np.where(signal > 0.5, "y", "n")
    return frame


def fitted(rows: pd.DataFrame) -> Pipeline:
    """A model as cluster/train.py builds it, trained here by LightGBM alone."""
    columns = ColumnKinds(numeric=["amount"], categorical=["zone"]).fit(rows)
    categories = {"zone": [*columns.categories_["zone"], OTHER]}
    features = inputs(columns.transform(rows), categories)
    label = (rows["label"] == "y").astype(int)
    settings = {"objective": "binary", "num_iterations": 20, "verbosity": -1, "seed": 0}
    booster = lightgbm.train(settings, lightgbm.Dataset(features, label=label))
    model = BoostedTrees(booster.model_to_string(), categories=categories, classes=["n", "y"])
    return Pipeline([("columns", columns), ("model", model)])


def test_the_model_scores_raw_rows_like_a_classifier(rows):
    model = fitted(rows)
    probabilities = model.predict_proba(rows.drop(columns=["label"]))
    assert probabilities.shape == (len(rows), 2)
    assert np.allclose(probabilities.sum(axis=1), 1)
    predicted = model.predict(rows.drop(columns=["label"]))
    assert set(predicted) <= {"n", "y"}
    assert (predicted == rows["label"]).mean() > 0.8
    # A value never seen in training is scored as the others were, not refused.
    unseen = rows.drop(columns=["label"]).head(3).assign(zone="west")
    assert model.predict_proba(unseen).shape == (3, 2)


def test_the_saved_model_holds_text_not_the_parsed_booster(rows):
    model = fitted(rows)
    before = pickle.dumps(model, protocol=5)
    model.predict(rows.head())  # parses the booster, a cache
    assert pickle.dumps(model, protocol=5) == before
    restored = pickle.loads(before)
    assert (restored.predict(rows) == model.predict(rows)).all()
