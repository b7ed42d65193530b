"""The train stage's core: fit one scikit-learn Pipeline (preprocessing + estimator).

The saved Pipeline scores raw rows: its first step (``model/columns.py``) selects its feature
columns by name and turns yes/no columns and dates into numbers, then it imputes missing values
and encodes categories itself, so extra columns (an id, say) are ignored.
"""

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler
from sklearn.utils._param_validation import (
    InvalidParameterError,  # not exported publicly
)

from ..errors import UserError, check_target
from ..model.columns import ColumnKinds
from ..project import FEATURES_STEP, AddFeatures, engineered, features_step

# The params.yaml keys this stage reads (their types: params.SETTINGS); dvc.yaml lists the same.
PARAMS = (
    "data.task",
    "data.target",
    "compute.engine",
    "train.estimator",
    "train.seed",
    "train.class_weight",
    "train.hyperparameters",
)
# Values kept per categorical feature: the most frequent ones, each shared by several training
# rows (see model/features.py); the others share one value.
MAX_CATEGORIES = 20
CLASS_WEIGHTS = ("balanced",)
# The estimators params.yaml may name, per task: {task: {name: estimator class}} (the project's
# models.py).
Estimators = dict[str, dict[str, type]]
# Estimator settings the pipeline sets itself, and where they come from.
OWN_SETTINGS = {
    "random_state": "train.seed",
    "class_weight": "train.class_weight",
    "categorical_features": "the categorical columns prepare found",
}


def chosen_hyperparameters(
    task: str, name: str, hyperparameters: dict | None, estimators: Estimators
) -> dict | None:
    """The settings under ``train.hyperparameters`` for estimator ``name``, after checking that
    every block there names an estimator of ``task`` in ``estimators`` (a misspelt one would be
    ignored)."""
    choices = estimators.get(task, {})
    for block in hyperparameters or {}:
        if block not in choices:
            raise UserError(
                f"train.hyperparameters.{block} is not an estimator: name each block after "
                f"one of {', '.join(choices)}"
            )
    return (hyperparameters or {}).get(name)


def make_estimator(
    task: str,
    name: str,
    hyperparameters: dict,
    seed: int,
    class_weight: str | None = None,
    *,
    estimators: Estimators,
):
    """Build the estimator called ``name`` in ``estimators`` for ``task`` with its
    hyperparameters and seed, and ``class_weight`` (None, or "balanced": each class weighs as
    much in all as any other)."""
    if task not in estimators:
        raise UserError(f"data.task is '{task}' but must be one of: {', '.join(estimators)}")
    choices = estimators[task]
    if name not in choices:
        raise UserError(f"train.estimator is '{name}' but must be one of: {', '.join(choices)}")
    estimator_class = choices[name]
    if not isinstance(hyperparameters, dict | None):
        raise UserError(f"train.hyperparameters.{name} must be a mapping of settings to values")
    for setting, key in OWN_SETTINGS.items():
        if setting in (hyperparameters or {}):
            raise UserError(
                f"train.hyperparameters.{name}.{setting} is set by the pipeline itself "
                f"({key}): remove it from train.hyperparameters.{name}"
            )
    try:
        estimator = estimator_class(**(hyperparameters or {}))
    except TypeError as error:
        raise UserError(
            f"train.hyperparameters.{name} has a setting {estimator_class.__name__} does not "
            f"take ({error}): fix its name in params.yaml"
        ) from None
    if "random_state" in estimator.get_params():
        estimator.set_params(random_state=seed)
    if class_weight is not None:
        if class_weight not in CLASS_WEIGHTS:
            raise UserError(
                f"train.class_weight is {class_weight!r} but must be null or one of: "
                f"{', '.join(CLASS_WEIGHTS)}"
            )
        if "class_weight" not in estimator.get_params():
            raise UserError(
                f"train.class_weight is {class_weight!r}, but {estimator_class.__name__} weighs "
                "no classes (only classification estimators do): set it to null"
            )
        estimator.set_params(class_weight=class_weight)
    return estimator


def column_kinds(features: pd.DataFrame) -> ColumnKinds:
    """The model's first step for the columns of ``features``, by their types as prepare wrote
    them: yes/no (booleans), dates, numbers, and anything else as categories."""
    kinds = {"numeric": [], "booleans": [], "dates": [], "categorical": []}
    for name, values in features.items():
        if pd.api.types.is_bool_dtype(values):
            kinds["booleans"].append(name)
        elif pd.api.types.is_datetime64_any_dtype(values):
            kinds["dates"].append(name)
        elif pd.api.types.is_numeric_dtype(values):
            kinds["numeric"].append(name)
        else:
            kinds["categorical"].append(name)
    return ColumnKinds(**kinds, max_categories=MAX_CATEGORIES)


def build_pipeline(features: pd.DataFrame, estimator) -> Pipeline:
    """Raw columns to model inputs (``ColumnKinds``), preprocessing, then ``estimator``."""
    columns = column_kinds(features)
    numeric, categorical = columns.numeric_names(), list(columns.categorical)
    if isinstance(estimator, HistGradientBoostingClassifier | HistGradientBoostingRegressor):
        # It bins numbers itself, learns where gaps go and splits on categories directly:
        # fitting 20 columns instead of their one-hot expansion is several times faster.
        preprocess = ColumnTransformer(
            [
                ("numeric", "passthrough", numeric),
                (
                    "categorical",
                    OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan),
                    categorical,
                ),
            ],
            remainder="drop",
            verbose_feature_names_out=False,
        )
        positions = list(range(len(numeric), len(numeric) + len(categorical)))
        estimator.set_params(categorical_features=positions or None)
        return Pipeline([("columns", columns), ("preprocess", preprocess), ("model", estimator)])
    preprocess = ColumnTransformer(
        [
            (
                "numeric",
                # keep_empty_features: a column empty in training still has its one input.
                make_pipeline(
                    SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler()
                ),
                numeric,
            ),
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="missing"),
                    OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                ),
                categorical,
            ),
        ],
        remainder="drop",
        verbose_feature_names_out=False,
    )
    return Pipeline([("columns", columns), ("preprocess", preprocess), ("model", estimator)])


def train(
    frame: pd.DataFrame,
    *,
    task: str,
    target: str,
    estimator: str,
    hyperparameters: dict,
    seed: int,
    class_weight: str | None = None,
    estimators: Estimators,
    add_features: AddFeatures | None = None,
) -> Pipeline:
    """Fit the Pipeline for ``estimator`` (a name in ``estimators``) on ``frame`` (features and
    the ``target`` column); ``add_features``, the project's engineered features, is its first
    step, so the model scores raw rows."""
    check_target(frame.columns, target, "the training split")
    raw, labels = frame.drop(columns=[target]), frame[target]
    features = raw if add_features is None else engineered(add_features, raw)
    model = make_estimator(
        task, estimator, hyperparameters, seed, class_weight, estimators=estimators
    )
    try:
        pipeline = build_pipeline(features, model).fit(features, labels)
    except InvalidParameterError as error:
        # scikit-learn checks hyperparameter values when fitting; its message names the value.
        raise UserError(f"train.hyperparameters.{estimator}: {error}") from None
    except ValueError as error:
        # Settings that are valid alone but not together (penalty l1 with the default solver).
        keys = ", ".join(hyperparameters or {}) or "none set"
        raise UserError(
            f"{type(model).__name__} refused the settings of train.hyperparameters.{estimator} "
            f"({keys}): {str(error).rstrip('.')}: change them in params.yaml"
        ) from None
    # Histogram gradient boosting keeps the thread count it was fitted with, which would make
    # the saved bytes depend on the machine's cores; the fitted model itself does not.
    binner = getattr(pipeline[-1], "_bin_mapper", None)
    if binner is not None:
        binner.n_threads = None
    if add_features is None:
        return pipeline
    return Pipeline([(FEATURES_STEP, features_step(add_features, raw)), *pipeline.steps])
