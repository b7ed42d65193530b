"""The estimators the package's tests train, as a project's models.py would name them, and the
settings prepare reads, as params.yaml gives them, and a bundle.json for a model card."""

from functools import partial

from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge

from dvc_ml_kit.pipeline import train as train_module

ESTIMATORS = {
    "classification": {
        "linear": LogisticRegression,
        "random_forest": RandomForestClassifier,
        "hist_gradient_boosting": HistGradientBoostingClassifier,
    },
    "regression": {
        "linear": Ridge,
        "random_forest": RandomForestRegressor,
        "hist_gradient_boosting": HistGradientBoostingRegressor,
    },
}
# train() with these estimators.
train = partial(train_module.train, estimators=ESTIMATORS)


def add_ratio(rows):
    """Engineered features as a project's features.py writes them: one ratio of two columns."""
    return rows.assign(ratio=rows["level"] / (rows["spread"].abs() + 1))


def prepare_settings(**changes) -> dict[str, object]:
    """prepare's params (every key of its PARAMS); ``changes`` by the key after the dot."""
    params = {
        "data.task": "classification",
        "data.target": "y",
        "data.id_column": None,
        "data.group_column": None,
        "data.drop_columns": [],
        "data.categorical_columns": [],
        "data.keep_columns": [],
        "data.separator": None,
        "data.decimal": None,
        "data.encoding": None,
        "compute.engine": "local",
        "compute.store": None,
        "prepare.test_size": 0.2,
        "prepare.seed": 42,
        "prepare.min_test_rows_per_class": 1,
        "prepare.unlabeled": "set_aside",
    }
    for name, value in changes.items():
        [key] = [key for key in params if key.endswith(f".{name}")]
        params[key] = value
    return params


def card_info(listed: list[dict], **changes) -> dict:
    """A bundle.json as publishing writes it, for a model of the columns ``listed``."""
    return {
        "artifact": "model",
        "version": "v1.0.0",
        "task": "classification",
        "target": "label",
        "revision": "abc",
        "data": {"path": "data/raw/x.csv", "md5": "0"},
        "model_md5": "1",
        "python": "3.11",
        "libraries": {},
        "params": {},
        "features": listed,
        **changes,
    }
