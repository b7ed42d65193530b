"""prepare stage: check the raw CSV against its inferred schema, then split it into train and test.

The schema is inferred from the data: a column is numeric when all of its values are numbers,
categorical when most are text, and an error when most are numbers but some are not (a typo in
a numeric column). ``data.categorical_columns`` forces number-like codes to be categories.
"""

import argparse
import math
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from ..errors import UserError, run
from ..params import load_params

NONE = type(None)
# The params.yaml keys this stage reads, and their types; dvc.yaml lists the same keys.
PARAMS = {
    "data.task": str,
    "data.target": str,
    "data.id_column": (str, NONE),
    "data.drop_columns": (list, NONE),
    "data.categorical_columns": (list, NONE),
    "prepare.test_size": float,
    "prepare.seed": int,
}
TASKS = ("classification", "regression")


def read_raw(path: Path, categorical_columns: list[str] = ()) -> pd.DataFrame:
    """Read a raw CSV; ``categorical_columns`` are read as text whatever they look like."""
    try:
        return pd.read_csv(path, dtype={name: "str" for name in categorical_columns})
    except pd.errors.EmptyDataError:
        raise UserError(f"{path} is empty: give it a header line and data rows") from None
    except pd.errors.ParserError as error:
        raise UserError(f"{path} is not a well-formed CSV ({error}): fix that line") from None
    except UnicodeDecodeError:
        raise UserError(f"{path} is not UTF-8 text: save it as UTF-8 CSV") from None


def _line(rows: pd.DataFrame | pd.Series, position: int) -> int:
    """The CSV line of the row at ``position`` (line 1 is the header)."""
    return int(rows.index[position]) + 2


def _first(mask: pd.Series) -> int:
    """Position of the first True in ``mask``."""
    return int(mask.to_numpy().nonzero()[0][0])


def _show(value) -> str:
    """A value as the user wrote it: ``1`` or ``'abc'``, not ``np.int64(1)``."""
    return repr(value.item() if hasattr(value, "item") else value)


def _check_columns(frame: pd.DataFrame, named: dict[str, list[str]], source: str) -> None:
    for param, columns in named.items():
        for column in columns:
            if column not in frame.columns:
                raise UserError(
                    f"params.yaml names column '{column}' in {param}, but {source} has no such "
                    f"column (it has: {', '.join(map(str, frame.columns))})"
                )


def _check_unique_ids(frame: pd.DataFrame, id_column: str, source: str) -> None:
    repeated = frame[id_column].duplicated(keep=False)
    if repeated.any():
        first = _first(repeated)
        second = first + 1 + _first(repeated.iloc[first + 1 :])
        raise UserError(
            f"id column '{id_column}' repeats the value {_show(frame[id_column].iloc[first])} "
            f"(lines {_line(frame, first)} and {_line(frame, second)}) in {source}: "
            "ids must be unique, so remove or renumber the repeated rows"
        )


def _numbers(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """``values`` as floats, and a mask of the values that are not finite numbers."""
    if pd.api.types.is_numeric_dtype(values):
        numbers = values.astype("float64")
    else:
        # Converting text is slow and text columns repeat few distinct values: convert each once.
        codes, distinct = pd.factorize(values)
        converted = pd.to_numeric(pd.Series(distinct, dtype=object), errors="coerce")
        numbers = np.where(codes < 0, np.nan, converted.to_numpy("float64")[codes])
        numbers = pd.Series(numbers, index=values.index, name=values.name)
    return numbers, values.notna() & ~np.isfinite(numbers)


def _as_number(values: pd.Series, name: str, source: str) -> pd.Series | None:
    """Return ``values`` as floats if they are numbers, None if they are categories.

    Raises UserError when most values are numbers but some are not (text or infinity).
    """
    numbers, bad = _numbers(values)
    if not bad.any():
        return numbers
    if np.isfinite(numbers).sum() > bad.sum():
        position = _first(bad)
        raise UserError(
            f"column '{name}' in {source} holds numbers but line {_line(values, position)} has "
            f"{_show(values.iloc[position])} ({int(bad.sum())} non-numeric values in all): fix "
            f"those values, or list '{name}' in data.categorical_columns to treat it as categories"
        )
    return None


def _check_target(target: pd.Series, task: str, source: str) -> pd.Series:
    name = target.name
    missing = target.isna()
    if missing.any():
        raise UserError(
            f"target '{name}' is empty on {int(missing.sum())} rows of {source} (first on line "
            f"{_line(target, _first(missing))}): fill in those values or remove the rows"
        )
    if task == "regression":
        numbers, bad = _numbers(target)
        if bad.any():
            position = _first(bad)
            raise UserError(
                f"target '{name}' in {source} must be numbers for regression, but line "
                f"{_line(target, position)} has {_show(target.iloc[position])} ({int(bad.sum())} "
                "such values in all): fix them, or choose a numeric column in data.target"
            )
        return numbers
    counts = target.value_counts()
    if len(counts) < 2:
        raise UserError(
            f"target '{name}' in {source} has a single class ({_show(counts.index[0])}): "
            "classification needs at least two classes"
        )
    if counts.iloc[-1] < 2:
        raise UserError(
            f"class {_show(counts.index[-1])} of target '{name}' has only one row in {source}: "
            "a stratified train/test split needs at least two rows per class, so add rows or "
            "remove that class"
        )
    if pd.api.types.is_float_dtype(target) and (target % 1 != 0).any():
        raise UserError(
            f"target '{name}' in {source} holds decimal numbers ({len(counts)} distinct values), "
            "which classification cannot predict: choose a categorical target column in "
            "data.target, or generate a regression project"
        )
    return target


def validate(
    frame: pd.DataFrame,
    *,
    task: str,
    target: str,
    id_column: str | None = None,
    drop_columns: list[str] = (),
    categorical_columns: list[str] = (),
    source: str = "the data",
) -> pd.DataFrame:
    """Check a raw frame and return its features (floats or text) and target, ready to split.

    Raises UserError, naming the problem and what to do, for anything that would make a
    misleading model: missing columns, typos in numeric columns, empty columns, an unusable
    target, repeated ids, or duplicate rows (which would land in both train and test).
    """
    if task not in TASKS:
        raise UserError(f"data.task is '{task}' but must be one of: {', '.join(TASKS)}")
    if frame.empty:
        raise UserError(f"{source} has a header but no data rows: add rows")
    _check_columns(
        frame,
        {
            "data.target": [target],
            "data.id_column": [id_column] if id_column else [],
            "data.drop_columns": list(drop_columns),
            "data.categorical_columns": list(categorical_columns),
        },
        source,
    )
    for param, columns in (
        ("data.id_column", [id_column]),
        ("data.drop_columns", drop_columns),
        ("data.categorical_columns", categorical_columns),
    ):
        if target in columns:
            raise UserError(f"the target '{target}' is also listed in {param}: remove it there")
    if id_column:
        _check_unique_ids(frame, id_column, source)
    frame = frame.drop(columns=[c for c in [id_column, *drop_columns] if c])

    features = {}
    for name in frame.columns.drop(target):
        values = frame[name]
        if values.isna().all():
            raise UserError(
                f"column '{name}' is empty in every row of {source}: fill it in or list it "
                "in data.drop_columns"
            )
        numbers = None if name in categorical_columns else _as_number(values, name, source)
        features[name] = values.astype("str").where(values.notna()) if numbers is None else numbers
    if not features:
        raise UserError(
            f"no feature columns are left in {source} once the target, id and dropped columns "
            "are set aside: keep at least one column out of data.drop_columns"
        )
    clean = pd.DataFrame(features, index=frame.index)
    clean[target] = _check_target(frame[target], task, source)

    repeats = clean.duplicated()
    if repeats.any():
        row = clean.groupby(list(clean.columns), dropna=False, sort=False).ngroup()
        later = _first(repeats)
        first = _first(row == row.iloc[later])
        raise UserError(
            f"{source} has {int(repeats.sum())} duplicate rows (line {_line(clean, later)} "
            f"repeats line {_line(clean, first)}), which would put the same row in both train "
            "and test: remove the duplicates"
        )
    return clean


def split(
    frame: pd.DataFrame, *, task: str, target: str, test_size: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split into train and test, seeded, and stratified by the target for classification."""
    if not 0 < test_size < 1:
        raise UserError(f"prepare.test_size is {test_size} but must be a fraction between 0 and 1")
    classification = task == "classification"
    test_rows = math.ceil(test_size * len(frame))
    needed = max(frame[target].nunique(), 2) if classification else 2
    if min(test_rows, len(frame) - test_rows) < needed:
        raise UserError(
            f"prepare.test_size {test_size} leaves fewer than {needed} of the {len(frame)} rows "
            f"in the train or the test split{' (one per class)' if classification else ''}: "
            "change prepare.test_size or add rows"
        )
    train, test = train_test_split(
        frame,
        test_size=test_size,
        random_state=seed,
        stratify=frame[target] if classification else None,
    )
    if classification:
        classes = frame[target].unique()
        for part, name in ((train, "train"), (test, "test")):
            present = set(part[target].unique())
            missing = [value for value in classes if value not in present]
            if missing:
                raise UserError(
                    f"class {_show(missing[0])} of target '{target}' has too few rows to "
                    f"appear in the {name} split with prepare.test_size {test_size}: add rows of "
                    "that class, change prepare.test_size, or remove the class"
                )
    return train.reset_index(drop=True), test.reset_index(drop=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw", type=Path, help="raw CSV file")
    parser.add_argument("train", type=Path, help="training split to write (Parquet)")
    parser.add_argument("test", type=Path, help="test split to write (Parquet)")
    parser.add_argument("--params", type=Path, required=True, help="params.yaml")
    args = parser.parse_args()
    params = load_params(args.params, PARAMS)

    raw = read_raw(args.raw, params["data.categorical_columns"] or [])
    frame = validate(
        raw,
        task=params["data.task"],
        target=params["data.target"],
        id_column=params["data.id_column"],
        drop_columns=params["data.drop_columns"] or [],
        categorical_columns=params["data.categorical_columns"] or [],
        source=str(args.raw),
    )
    train, test = split(
        frame,
        task=params["data.task"],
        target=params["data.target"],
        test_size=params["prepare.test_size"],
        seed=params["prepare.seed"],
    )
    for part, path in ((train, args.train), (test, args.test)):
        path.parent.mkdir(parents=True, exist_ok=True)
        part.to_parquet(path, index=False)
    print(f"prepare: {len(train)} train rows, {len(test)} test rows, {frame.shape[1] - 1} features")


if __name__ == "__main__":
    raise SystemExit(run(main))
