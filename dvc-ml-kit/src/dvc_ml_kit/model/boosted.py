"""The estimator of a model trained on a Dask cluster: LightGBM gradient boosting, kept as
LightGBM's own text model format (parsing it runs no code), behind scikit-learn's interface so
that evaluate, the bundle and predict treat it like any other Pipeline's last step."""

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from ..errors import UserError


def inputs(X: pd.DataFrame, categories: dict | None) -> pd.DataFrame:
    """The model inputs (the first step's output) as LightGBM takes them: numbers as floats,
    each categorical input as categories in the order of the codes it was trained with."""
    frame = X.astype({name: "float64" for name in X.columns if name not in (categories or {})})
    for name, values in (categories or {}).items():
        frame[name] = pd.Categorical(X[name], categories=values)
    return frame


class BoostedTrees(BaseEstimator):
    """Predict with a LightGBM model given as text. ``categories``: per categorical input, the
    values it was trained on, in the order of their codes; ``classes``: the class labels, in the
    order of the model's outputs (None for regression)."""

    def __init__(self, text: str = "", categories: dict | None = None, classes: list | None = None):
        self.text = text
        self.categories = categories
        self.classes = classes

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.estimator_type = "regressor" if self.classes is None else "classifier"
        return tags

    def __getstate__(self):
        # The parsed booster is a cache, rebuilt from the text: it never goes into a file.
        return {key: value for key, value in self.__dict__.items() if key != "_booster"}

    def fit(self, X, y=None):
        raise TypeError("BoostedTrees is fitted on a Dask cluster by cluster/train.py")

    def __sklearn_is_fitted__(self) -> bool:
        return bool(self.text)

    @property
    def classes_(self) -> np.ndarray:
        return np.asarray(self.classes)

    def booster(self):
        if getattr(self, "_booster", None) is None:
            try:
                import lightgbm
            except ImportError:
                raise UserError(
                    "this model was trained on the Dask engine (LightGBM), which is not installed "
                    "here: run `make setup-dask` (or install dvc-ml-kit[dask])"
                ) from None

            self._booster = lightgbm.Booster(model_str=self.text)
        return self._booster

    @property
    def feature_names_in_(self) -> np.ndarray:
        return np.asarray(self.booster().feature_name(), dtype=object)

    @property
    def feature_importances_(self) -> np.ndarray:
        """Total gain of the splits on each input."""
        return self.booster().feature_importance(importance_type="gain")

    def raw(self, X: pd.DataFrame) -> np.ndarray:
        return self.booster().predict(inputs(X, self.categories), num_threads=1)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        scores = self.raw(X)
        return np.column_stack([1 - scores, scores]) if scores.ndim == 1 else scores

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        if self.classes is None:
            return self.raw(X)
        return self.classes_[self.predict_proba(X).argmax(axis=1)]
