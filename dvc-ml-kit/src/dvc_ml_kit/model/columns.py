"""The model's first step: raw columns, as a CSV gives them, turned into numbers and categories.

Every saved model starts with ``ColumnKinds``, so it scores raw rows the way it was trained:
numbers, yes/no columns (as 1/0), dates (as year, month, day, weekday and hour) and categories.
It keeps a category value only if at least ``min_category_rows`` training rows share it: a value
of a single row (a name, a comment) never enters the model, and so is never published with it.
"""

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

# Tokens of yes/no columns (compared in lower case); anything else in such a column is an error.
TRUE_TOKENS = ("true", "yes", "y", "t")
FALSE_TOKENS = ("false", "no", "n", "f")
BOOLEAN_PAIRS = tuple(zip(TRUE_TOKENS, FALSE_TOKENS, strict=True))
DATE_PARTS = ("year", "month", "day", "weekday", "hour")
# Category values that fewer training rows share, and all beyond the most frequent ones, are
# replaced by this one value.
OTHER = "(other)"


def boolean_values(values: pd.Series) -> pd.Series:
    """``values`` as 1.0/0.0 (missing stays missing); raises ValueError on any other value."""
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        numbers = values.astype("float64")
        if not numbers.dropna().isin([0.0, 1.0]).all():
            raise ValueError(f"column '{values.name}' holds numbers other than 0 and 1")
        return numbers
    codes, distinct = pd.factorize(values)
    tokens = pd.Series(distinct, dtype=object).astype(str).str.strip().str.lower()
    mapped = tokens.map({**dict.fromkeys(TRUE_TOKENS, 1.0), **dict.fromkeys(FALSE_TOKENS, 0.0)})
    if mapped.isna().any():
        unknown = distinct[int(mapped.isna().to_numpy().nonzero()[0][0])]
        raise ValueError(f"column '{values.name}' has {unknown!r}, which is not a yes/no value")
    # A gap's code is -1: it takes the NaN appended last (a column of gaps has no other value).
    numbers = np.append(mapped.to_numpy("float64"), np.nan)[codes]
    return pd.Series(numbers, index=values.index, name=values.name)


def date_values(values: pd.Series) -> pd.Series:
    """``values`` as UTC times without a time zone (missing stays missing); ISO 8601 text, or
    times already; raises ValueError on anything else."""
    if pd.api.types.is_datetime64_any_dtype(values):
        if values.dt.tz is not None:
            values = values.dt.tz_convert("UTC").dt.tz_localize(None)
        return values
    # Distinct values only: a date column repeats its values, and parsing is the slow part.
    codes, distinct = pd.factorize(values)
    # As text: pandas reads numbers given a format as times since 1970 (and warns of it today).
    text = pd.Series(distinct, dtype=object).astype(str)
    parsed = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
    if parsed.isna().any():
        bad = text[parsed.isna()].iloc[0]
        raise ValueError(f"column '{values.name}' has {bad!r}, which is not an ISO 8601 date")
    times = parsed.dt.tz_localize(None).to_numpy()
    if not len(times):
        times = np.array(["NaT"], dtype="datetime64[ns]")
    taken = np.where(codes < 0, np.datetime64("NaT"), times[np.maximum(codes, 0)])
    return pd.Series(taken, index=values.index, name=values.name)


def date_parts(values: pd.Series) -> dict[str, pd.Series]:
    """The numeric features of a date column, named ``<column>_<part>``."""
    times = date_values(values).dt
    parts = {
        "year": times.year,
        "month": times.month,
        "day": times.day,
        "weekday": times.day_of_week,
        "hour": times.hour,
    }
    return {f"{values.name}_{part}": parts[part].astype("float64") for part in DATE_PARTS}


class ColumnKinds(TransformerMixin, BaseEstimator):
    """Turn raw columns into model inputs: numbers, yes/no (1/0) and date parts as floats, then
    categories as text, in that order; columns not named are ignored."""

    def __init__(
        self,
        *,
        numeric=(),
        booleans=(),
        dates=(),
        categorical=(),
        min_category_rows: int = 5,
        max_categories: int = 20,
    ):
        self.numeric = numeric
        self.booleans = booleans
        self.dates = dates
        self.categorical = categorical
        self.min_category_rows = min_category_rows
        self.max_categories = max_categories

    def fit(self, X: pd.DataFrame, y=None):
        counts = {name: X[name].dropna().astype(str).value_counts() for name in self.categorical}
        return self.fit_counts(X.columns, counts)

    def fit_counts(self, columns, counts: dict[str, pd.Series]):
        """Fit from the raw ``columns`` and each category column's value counts (as text), which
        a cluster computes without bringing the rows here."""
        names = [*self.numeric, *self.booleans, *self.dates, *self.categorical]
        missing = [name for name in names if name not in columns]
        if missing:
            raise ValueError(f"the rows lack the columns {missing}")
        self.feature_names_in_ = np.asarray(names, dtype=object)
        self.n_features_in_ = len(names)
        # Per category column: the values kept, most frequent first (ties by value), each shared
        # by at least min_category_rows rows.
        self.categories_ = {}
        for name in self.categorical:
            kept = counts[name][counts[name] >= self.min_category_rows]
            ranked = sorted(kept.items(), key=lambda item: (-item[1], item[0]))
            self.categories_[name] = [value for value, _ in ranked[: self.max_categories]]
        return self

    def numeric_names(self) -> list[str]:
        """The numeric outputs: numbers, yes/no columns, then each date column's parts."""
        parts = [f"{name}_{part}" for name in self.dates for part in DATE_PARTS]
        return [*self.numeric, *self.booleans, *parts]

    def get_feature_names_out(self, input_features=None):
        return np.asarray([*self.numeric_names(), *self.categorical], dtype=object)

    def sources(self) -> list[str]:
        """The raw column each output comes from, in the order of ``get_feature_names_out``."""
        parts = [name for name in self.dates for _ in DATE_PARTS]
        return [*self.numeric, *self.booleans, *parts, *self.categorical]

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        numeric = X[list(self.numeric)]
        if all(pd.api.types.is_numeric_dtype(kind) for kind in numeric.dtypes):
            # One block: wide tables have thousands of numeric columns.
            block = numeric.to_numpy(dtype="float64", na_value=np.nan)
            outputs = [pd.DataFrame(block, index=X.index, columns=list(self.numeric))]
        else:
            converted = {}
            for name in self.numeric:
                try:
                    converted[name] = pd.to_numeric(X[name]).astype("float64")
                except (ValueError, TypeError) as error:
                    raise ValueError(f"column '{name}' must hold numbers ({error})") from None
            outputs = [pd.DataFrame(converted, index=X.index, columns=list(self.numeric))]
        columns = {name: boolean_values(X[name]) for name in self.booleans}
        for name in self.dates:
            columns.update(date_parts(X[name]))
        for name in self.categorical:
            kept = self.categories_[name]
            text = X[name].astype(str).where(X[name].notna())
            values = text.where(text.isin(kept) | text.isna(), OTHER)
            columns[name] = values.astype(object)
        outputs.append(pd.DataFrame(columns, index=X.index))
        return pd.concat(outputs, axis=1)
