"""train stage: fit one scikit-learn Pipeline (preprocessing + estimator) on the training split.

The saved Pipeline scores raw rows: it selects its feature columns by name, imputes missing
values and encodes categories itself, so extra columns (an id, say) are ignored.
"""

import argparse
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler
from sklearn.utils._param_validation import (
    InvalidParameterError,  # not exported publicly
)

from ..errors import UserError, run
from ..params import load_params

# The params.yaml keys this stage reads, and their types; dvc.yaml lists the same keys.
PARAMS = {
    "data.task": str,
    "data.target": str,
    "train.estimator": str,
    "train.seed": int,
    "train.hyperparameters": (dict, type(None)),
}
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
# Categories kept per categorical feature; rarer ones share one "infrequent" category.
MAX_CATEGORIES = 20


def make_estimator(task: str, name: str, hyperparameters: dict, seed: int):
    """Build the estimator called ``name`` for ``task`` with its hyperparameters and seed."""
    if task not in ESTIMATORS:
        raise UserError(f"data.task is '{task}' but must be one of: {', '.join(ESTIMATORS)}")
    choices = ESTIMATORS[task]
    if name not in choices:
        raise UserError(f"train.estimator is '{name}' but must be one of: {', '.join(choices)}")
    estimator_class = choices[name]
    if not isinstance(hyperparameters, dict | None):
        raise UserError(f"train.hyperparameters.{name} must be a mapping of settings to values")
    try:
        estimator = estimator_class(**(hyperparameters or {}))
    except TypeError as error:
        raise UserError(
            f"train.hyperparameters.{name} has a setting {estimator_class.__name__} does not "
            f"take ({error}): fix its name in params.yaml"
        ) from None
    if "random_state" in estimator.get_params():
        estimator.set_params(random_state=seed)
    return estimator


def build_pipeline(features: pd.DataFrame, estimator) -> Pipeline:
    """Preprocessing for the columns of ``features`` (numeric or text), then ``estimator``."""
    numeric = [name for name in features.columns if pd.api.types.is_numeric_dtype(features[name])]
    categorical = [name for name in features.columns if name not in numeric]
    if isinstance(estimator, HistGradientBoostingClassifier | HistGradientBoostingRegressor):
        # It bins numbers itself, learns where gaps go and splits on categories directly:
        # fitting 20 columns instead of their one-hot expansion is several times faster.
        preprocess = ColumnTransformer(
            [
                ("numeric", "passthrough", numeric),
                (
                    "categorical",
                    OrdinalEncoder(
                        handle_unknown="use_encoded_value",
                        unknown_value=np.nan,
                        max_categories=MAX_CATEGORIES,
                    ),
                    categorical,
                ),
            ],
            remainder="drop",
            verbose_feature_names_out=False,
        )
        positions = list(range(len(numeric), len(numeric) + len(categorical)))
        estimator.set_params(categorical_features=positions or None)
        return Pipeline([("preprocess", preprocess), ("model", estimator)])
    preprocess = ColumnTransformer(
        [
            ("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="missing"),
                    OneHotEncoder(
                        handle_unknown="infrequent_if_exist",
                        max_categories=MAX_CATEGORIES,
                        sparse_output=False,
                    ),
                ),
                categorical,
            ),
        ],
        remainder="drop",
        verbose_feature_names_out=False,
    )
    return Pipeline([("preprocess", preprocess), ("model", estimator)])


def train(
    frame: pd.DataFrame,
    *,
    task: str,
    target: str,
    estimator: str,
    hyperparameters: dict,
    seed: int,
) -> Pipeline:
    """Fit the Pipeline for ``estimator`` on ``frame`` (features and the ``target`` column)."""
    features, labels = frame.drop(columns=[target]), frame[target]
    model = make_estimator(task, estimator, hyperparameters, seed)
    try:
        pipeline = build_pipeline(features, model).fit(features, labels)
    except InvalidParameterError as error:
        # scikit-learn checks hyperparameter values when fitting; its message names the value.
        raise UserError(f"train.hyperparameters.{estimator}: {error}") from None
    # Histogram gradient boosting keeps the thread count it was fitted with, which would make
    # the saved bytes depend on the machine's cores; the fitted model itself does not.
    binner = getattr(pipeline[-1], "_bin_mapper", None)
    if binner is not None:
        binner.n_threads = None
    return pipeline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("train", type=Path, help="training split (Parquet)")
    parser.add_argument("model", type=Path, help="model file to write (pickle)")
    parser.add_argument("--params", type=Path, required=True, help="params.yaml")
    args = parser.parse_args()
    params = load_params(args.params, PARAMS)

    name = params["train.estimator"]
    model = train(
        pd.read_parquet(args.train),
        task=params["data.task"],
        target=params["data.target"],
        estimator=name,
        hyperparameters=(params["train.hyperparameters"] or {}).get(name),
        seed=params["train.seed"],
    )
    args.model.parent.mkdir(parents=True, exist_ok=True)
    # A seeded pickle is byte-identical run to run, so `dvc repro -f` leaves dvc.lock unchanged.
    with open(args.model, "wb") as file:
        pickle.dump(model, file, protocol=5)
    print(f"train: fitted {type(model[-1]).__name__}")


if __name__ == "__main__":
    raise SystemExit(run(main))
