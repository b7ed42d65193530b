"""The models: the estimators params.yaml's ``train.estimator`` may name, per task.

Add one as one entry (any scikit-learn estimator class, or your own), then set
``train.estimator`` to its name; its settings go under ``train.hyperparameters.<name>``.
train builds it with ``train.seed`` (and ``train.class_weight``, where it weighs classes).
"""

from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge

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
