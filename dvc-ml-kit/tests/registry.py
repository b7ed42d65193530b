"""The estimators the package's tests train, as a project's models.py would name them."""

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
