"""The project's own code that its models hold: found through entry points, never by name.

A project declares the modules a model may hold code of (its features and models) in its
``pyproject.toml``::

    [project.entry-points."dvc_ml_kit"]
    features = "my_project.features"
    models = "my_project.models"

The published bundle trusts the functions and classes those installed modules define, and
nothing else of the project: a bundle cannot widen what it is trusted with.
"""

import importlib
import inspect
from collections.abc import Callable
from importlib.metadata import entry_points

import pandas as pd
from sklearn.preprocessing import FunctionTransformer

from .errors import UserError

GROUP = "dvc_ml_kit"
FEATURES_STEP = "features"
# Engineered features: a function from raw rows (a DataFrame) to rows with new columns.
AddFeatures = Callable[[pd.DataFrame], pd.DataFrame]


def own_code() -> list[str]:
    """Dotted names of every function and class defined in the modules the installed project
    declares (entry points of group ``dvc_ml_kit``)."""
    names = []
    for point in entry_points(group=GROUP):
        module = importlib.import_module(point.value)
        names += [
            f"{module.__name__}.{name}"
            for name, value in vars(module).items()
            if (inspect.isfunction(value) or inspect.isclass(value))
            and value.__module__ == module.__name__
        ]
    return sorted(names)


def features_step(add_features: AddFeatures, raw: pd.DataFrame) -> FunctionTransformer:
    """The model's first step: ``add_features`` on raw rows, fitted on ``raw`` (their columns)."""
    return FunctionTransformer(add_features).fit(raw)


def engineered(add_features: AddFeatures, raw: pd.DataFrame) -> pd.DataFrame:
    """``add_features(raw)``, checked: a DataFrame with the raw rows, in order."""
    try:
        frame = add_features(raw.copy())
    except Exception as error:  # the user's own code: any error is theirs to fix
        raise UserError(
            f"{add_features.__module__}.{add_features.__name__} failed on the raw rows "
            f"({type(error).__name__}: {error}): fix it in features.py"
        ) from None
    if not isinstance(frame, pd.DataFrame) or not frame.index.equals(raw.index):
        raise UserError(
            f"{add_features.__module__}.{add_features.__name__} must return the rows it was given "
            "as a DataFrame (the same rows, in order), with the new columns added: fix it in "
            "features.py"
        )
    return frame
