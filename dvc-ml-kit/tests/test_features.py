"""The project's engineered features are the model's first step, on both engines, and the bundle
trusts the project's own code (declared through entry points) and nothing else."""

from importlib.metadata import EntryPoint

import numpy as np
import pandas as pd
import pytest

import dvc_ml_kit.project
from dvc_ml_kit.errors import UserError
from dvc_ml_kit.model.bundle import features, load_bundle, model_card, write_bundle
from dvc_ml_kit.model.predict import predict, unlearned_values
from dvc_ml_kit.project import FEATURES_STEP, own_code
from registry import ESTIMATORS, add_ratio, card_info, train

INFO = {"artifact": "model", "version": "v1.0.0", "task": "classification"}


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    size = 120
    level, spread = rng.normal(size=size), rng.normal(size=size)
    ratio = level / (np.abs(spread) + 1)
    return pd.DataFrame(
        {"level": level, "spread": spread, "label": np.where(ratio > 0, "yes", "no")}
    )


def fit(frame, add_features=add_ratio, estimator="linear"):
    return train(
        frame,
        task="classification",
        target="label",
        estimator=estimator,
        hyperparameters=None,
        seed=0,
        add_features=add_features,
    )


@pytest.fixture
def declared(monkeypatch):
    """The test registry declared as the installed project's code, as a generated project's
    pyproject.toml declares its features and models."""
    points = [EntryPoint(name="features", value="registry", group="dvc_ml_kit")]
    monkeypatch.setattr(dvc_ml_kit.project, "entry_points", lambda group: points)


def test_the_features_are_the_first_step_and_the_model_scores_raw_rows(frame):
    model = fit(frame)
    assert model.steps[0][0] == FEATURES_STEP
    assert list(model.feature_names_in_) == ["level", "spread"]
    assert "ratio" in model.named_steps["columns"].numeric
    raw = frame.drop(columns=["label"])
    # Extra columns and another order are fine: the model takes raw rows.
    shuffled = raw[["spread", "level"]].assign(id=range(len(raw)))
    assert (model.predict(shuffled) == model.predict(raw)).all()
    assert (model.predict(raw) == frame["label"]).mean() > 0.9


def test_features_that_fail_or_lose_rows_are_one_sentence(frame):
    def broken(rows):
        return rows.assign(ratio=rows["missing_column"])

    with pytest.raises(UserError, match=r"test_features.broken failed on the raw rows \(KeyError"):
        fit(frame, broken)

    def dropping(rows):
        return rows.head(3)

    with pytest.raises(UserError, match=r"must return the rows it was given as a DataFrame"):
        fit(frame, dropping)


def test_own_code_is_what_the_declared_modules_define(declared):
    names = own_code()
    assert "registry.add_ratio" in names
    # Imported names are not the project's own: skops trusts scikit-learn's by itself.
    assert not any(name.startswith("registry.Random") for name in names)


def test_a_bundle_with_the_projects_features_loads_and_predicts(frame, declared, tmp_path):
    model = fit(frame)
    write_bundle(tmp_path / "bundle", model, INFO, "# card\n", {"model": {}})
    loaded, info = load_bundle(tmp_path / "bundle")
    raw = frame.drop(columns=["label"])
    assert (predict(loaded, raw, info)["prediction"] == model.predict(raw)).all()
    assert unlearned_values(loaded, raw) == []


def test_a_bundle_is_refused_when_the_project_does_not_declare_the_code(frame, tmp_path):
    model = fit(frame)
    write_bundle(tmp_path / "bundle", model, INFO, "# card\n", {"model": {}})
    with pytest.raises(UserError, match=r"types that a published model may not hold \(registry"):
        load_bundle(tmp_path / "bundle")


def test_the_dask_engine_trains_with_the_same_features(frame):
    dd = pytest.importorskip("dask.dataframe")
    from distributed import Client, LocalCluster

    from dvc_ml_kit.cluster.train import train_on_cluster

    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        model = train_on_cluster(
            client,
            dd.from_pandas(frame, npartitions=2),
            task="classification",
            target="label",
            estimator="hist_gradient_boosting",
            hyperparameters={"max_iter": 20},
            seed=0,
            estimators=ESTIMATORS,
            add_features=add_ratio,
        )
    assert model.steps[0][0] == FEATURES_STEP
    assert "ratio" in model.named_steps["columns"].numeric
    assert "ratio" in model[-1].feature_names_in_
    raw = frame.drop(columns=["label"])
    assert (model.predict(raw) == frame["label"]).mean() > 0.8


def test_the_model_card_lists_what_a_row_has_apart_from_what_the_features_add(frame):
    listed = features(fit(frame))
    assert listed == [
        {"column": "level", "kind": "number"},
        {"column": "spread", "kind": "number"},
        {"column": "ratio", "kind": "number", "engineered": True},
    ]
    info = card_info(listed)
    card = model_card(info, {"model": {"roc_auc": 0.9}, "baseline": {"roc_auc": 0.5}})
    reads, adds = card.split("The project's features add these")
    assert "reads these 2 columns" in reads and "| `ratio` |" not in reads
    assert "| `level` | number |" in reads and "| `ratio` | number |" in adds
