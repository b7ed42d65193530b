"""predict: score a CSV of raw rows with a published model bundle.

``dvc-ml-kit predict dist/model-v1.0.0 new_rows.csv predictions.csv`` verifies the
bundle's checksums and the types in its model before loading it, then writes one prediction per
row (and, for classification, the probability of each class).
"""

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from ..errors import UserError
from ..pipeline.prepare import DIALECT_KEYS, read_raw
from .bundle import SUMS_FILE, digest, digest_in, load_bundle
from .columns import OTHER


def one_line(error: Exception) -> str:
    """An error's message on one line (a library's or the project's may span several)."""
    return " ".join(str(error).split())


def input_error(error: Exception) -> UserError:
    """Values the model refuses: typically text in a column it saw as numbers, or numbers so
    large that scaling them overflows."""
    return UserError(
        f"the input's values do not fit the model ({one_line(error)}): fix those values or leave "
        "them empty"
    )


def model_inputs(model, rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``rows`` as the model's first step takes them (after the project's features, if any) and
    as it gives them (numbers and categories), or a UserError naming the value that does not fit.
    """
    position = list(model.named_steps).index("columns")
    if position:
        given = rows.index
        try:
            rows = model[:position].transform(rows)
        except Exception as error:  # the project's own code: what it raises is about the rows
            raise UserError(
                f"the project's features failed on the input ({type(error).__name__}: "
                f"{one_line(error)}): check the input's values"
            ) from None
        if not isinstance(rows, pd.DataFrame) or not rows.index.equals(given):
            raise UserError(
                "the project's features gave back something else than the input's rows as a "
                f"DataFrame ({type(rows).__name__}): fix features.py, then train and publish again"
            )
    try:
        return rows, model.named_steps["columns"].transform(rows)
    except (ValueError, TypeError) as error:
        raise input_error(error) from None


def predict(model, rows: pd.DataFrame, info: dict) -> pd.DataFrame:
    """Predictions for raw ``rows`` (extra columns, the target included, are ignored); rows the
    model cannot score meaningfully are refused, not scored."""
    return _predict(model, rows, info)[0]


def scored(model, rows: pd.DataFrame, info: dict) -> tuple[pd.DataFrame, list[str]]:
    """``predict``'s predictions and ``unlearned_values``' lines for ``rows``, from one pass of
    the rows through the model's first step (a batch of a few rows spends most of its time
    there)."""
    result, raw, inputs = _predict(model, rows, info)
    return result, unlearned(model, raw, inputs)


def _predict(model, rows: pd.DataFrame, info: dict):
    """``predict``'s result, and the rows as the model's first step took and gave them."""
    needed = list(model.feature_names_in_)
    missing = [column for column in needed if column not in rows.columns]
    if missing:
        raise UserError(f"the input lacks columns the model needs: {', '.join(missing)}")
    id_column = info.get("id_column")
    used = [*needed, id_column]
    repeated = [name for name in rows.columns[rows.columns.duplicated()] if name in used]
    if repeated:
        raise UserError(f"the input has several columns named '{repeated[0]}': keep one")
    if rows.empty:
        raise UserError("the input has no rows to score")
    raw, inputs = model_inputs(model, rows[needed])
    columns = model.named_steps["columns"]
    infinite = np.isinf(inputs[columns.numeric_names()].to_numpy("float64"))
    if infinite.any():
        where = int(infinite.any(axis=0).argmax())
        name, count = columns.sources()[where], infinite[:, where].sum()
        example = raw[name].to_numpy()[infinite[:, where]].tolist()[0]
        raise UserError(
            f"column '{name}' holds infinite numbers in {count} of {len(rows)} rows (such as "
            f"{example!r}), and the model learned from finite numbers only: fix those values or "
            "leave them empty"
        )
    scorer = model[list(model.named_steps).index("columns") + 1 :]
    classification = info["task"] == "classification"
    # The steps before the estimator once, for both predict and predict_proba (the Pipeline's
    # own methods would run them once each).
    steps, estimator = scorer[:-1] if len(scorer) > 1 else None, scorer[-1]
    try:
        # Huge numbers overflow in a linear model: its scores are checked below instead.
        with np.errstate(all="ignore"):
            prepared = inputs if steps is None else steps.transform(inputs)
            predictions = estimator.predict(prepared)
            probabilities = estimator.predict_proba(prepared) if classification else None
    except (ValueError, TypeError) as error:
        raise input_error(error) from None
    scores = np.asarray(predictions if probabilities is None else probabilities, "float64")
    unscored = ~np.isfinite(scores.reshape(len(rows), -1)).all(axis=1)
    if unscored.any():
        raise UserError(
            f"the model gives no finite score for {unscored.sum()} of {len(rows)} rows (the first "
            f"is row {unscored.argmax() + 1}): their numbers are too far beyond those it was "
            "trained on; fix them or leave them empty"
        )
    result = pd.DataFrame(index=rows.index)
    if id_column in rows.columns:
        result[id_column] = rows[id_column].to_numpy()
    result["prediction"] = predictions
    if classification:
        for label, column in zip(scorer.classes_, probabilities.T, strict=True):
            result[f"probability_{label}"] = column.round(6)
    return result, raw, inputs


def stand_ins(model) -> dict[str, str]:
    """How the model scores a gap in a number (yes/no and dates too) and in a category: its
    imputers fill gaps in; trees (gradient boosting) take them as they are."""
    preprocess = model.named_steps.get("preprocess")
    steps = getattr(preprocess, "named_transformers_", {})
    trees = "scored as a gap, sent by each tree where training gaps went or down its larger branch"
    found = {"numeric": trees, "categorical": trees}
    for part, step in steps.items():
        imputer = step[0] if isinstance(step, Pipeline) else None
        if isinstance(imputer, SimpleImputer) and part in found:
            found[part] = (
                f"scored as {imputer.fill_value!r}"
                if imputer.strategy == "constant"
                else f"filled in with the training {imputer.strategy}"
            )
    return found


def training_bounds(model) -> pd.DataFrame:
    """Per number the model scales: bounds that every training value lies within (Samuelson's
    inequality: no value of n lies more than sqrt(n - 1) standard deviations from their mean);
    the model records no range, and trees score any number beyond it as the last one they saw."""
    preprocess = model.named_steps.get("preprocess")
    numeric = getattr(preprocess, "named_transformers_", {}).get("numeric")
    scaler = numeric[-1] if isinstance(numeric, Pipeline) else None
    if not isinstance(scaler, StandardScaler) or not hasattr(scaler, "scale_"):  # no numbers
        return pd.DataFrame(columns=["low", "high"], dtype="float64")
    reach = scaler.scale_ * np.sqrt(np.max(scaler.n_samples_seen_) - 1) * (1 + 1e-9)
    names = numeric[0].feature_names_in_
    return pd.DataFrame({"low": scaler.mean_ - reach, "high": scaler.mean_ + reach}, index=names)


def unlearned_values(model, rows: pd.DataFrame) -> list[str]:
    """One line per column of ``rows`` and kind of value the model did not learn, saying what it
    does with them: a new category is scored as one "(other)" value and a number beyond every
    training value by extending what the model learned, either of which can give a confident
    prediction for something new; a gap is scored as a stand-in."""
    return unlearned(model, *model_inputs(model, rows[list(model.feature_names_in_)]))


def unlearned(model, raw: pd.DataFrame, inputs: pd.DataFrame) -> list[str]:
    """``unlearned_values`` for the rows the model's first step took (``raw``) and gave
    (``inputs``)."""
    count = len(raw)
    columns = model.named_steps["columns"]
    sources = columns.sources()
    gaps, bounds = stand_ins(model), training_bounds(model)
    # The numeric outputs (numbers, yes/no, date parts) come first: all checked at once, as one
    # array (a batch of a few rows would spend milliseconds per column in pandas).
    numeric = columns.numeric_names()
    values = inputs[numeric].to_numpy("float64", na_value=np.nan)
    limits = bounds.reindex(numeric)
    gap = np.isnan(values)
    outside = (values < limits["low"].to_numpy()) | (values > limits["high"].to_numpy())
    lines = []
    for name in dict.fromkeys(sources):
        kind = "categorical" if name in columns.categorical else "numeric"
        if kind == "categorical":
            empty = inputs[name].isna().to_numpy()
        else:
            where = np.array([source == name for source in sources[: len(numeric)]], dtype=bool)
            empty = gap[:, where].any(axis=1)
        if empty.any():
            lines.append(
                f"column '{name}': {empty.sum()} of {count} rows have no value, {gaps[kind]}"
            )
        if kind == "categorical":
            text = raw[name].astype(str)
            new = (raw[name].notna() & ~text.isin(columns.categories_[name])).to_numpy()
            if new.any():
                lines.append(
                    f"column '{name}': {new.sum()} of {count} rows hold values the model did "
                    f"not learn (such as {text.to_numpy()[new][0]!r}), scored as {OTHER!r}"
                )
            continue
        beyond = outside[:, where].any(axis=1)
        if beyond.any():
            lines.append(
                f"column '{name}': {beyond.sum()} of {count} rows hold numbers beyond every "
                f"training value (such as {raw[name].to_numpy()[beyond].tolist()[0]!r}), scored by "
                "extending what the model learned"
            )
    return lines


def verify_version(folder: Path, tag: str) -> None:
    """Check that the bundle in ``folder`` is the one the version tag ``tag`` records in Git
    (its digest is in the annotated tag's message, which a release cannot rewrite)."""
    done = subprocess.run(
        ["git", "tag", "--list", "--format=%(contents)", tag], capture_output=True, text=True
    )
    recorded = digest_in(done.stdout) if done.returncode == 0 else None
    if recorded is None:
        raise UserError(
            f"{tag} is not a version tag with a recorded bundle digest here: run this in the "
            "project's repository after `git fetch --tags`"
        )
    if not (folder / SUMS_FILE).is_file() or digest(folder) != recorded:
        raise UserError(f"{folder} is not the bundle published as {tag}: it is not loaded")


def check_output(output: Path, input: Path, bundle: Path) -> None:
    """Refuse an output that would overwrite the input or anything in the bundle, whatever its
    name: through a link (symbolic or hard) another name can be the same file."""
    folder, target = bundle.resolve(), output.resolve()
    if target == folder or folder in target.parents:
        raise UserError(
            f"{output} would be written into the bundle {bundle}: write the predictions outside it"
        )
    if output.exists():
        if output.samefile(input):
            raise UserError(f"{output} is the input file: give another file for the predictions")
        for path in bundle.iterdir():
            if output.samefile(path):
                raise UserError(
                    f"{output} is the bundle's {path.name} under another name: write the "
                    "predictions elsewhere"
                )
    if output.is_dir():
        raise UserError(f"{output} is a folder: give a file name for the predictions")
    if not output.parent.is_dir():
        raise UserError(f"{output.parent} does not exist: create it or write elsewhere")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path, help="folder of a published model bundle")
    parser.add_argument("input", type=Path, help="CSV file of raw rows to score")
    parser.add_argument("output", type=Path, help="CSV file to write the predictions to")
    parser.add_argument("--separator", help="the CSV's field separator (detected if not given)")
    parser.add_argument("--decimal", help="the CSV's decimal mark, '.' or ',' (detected too)")
    parser.add_argument("--encoding", help="the CSV's text encoding (UTF-8 if not given)")
    parser.add_argument(
        "--version",
        help="a published version (model@v1.2.0): the bundle must be the one its tag records",
    )
    args = parser.parse_args()
    if args.version:
        verify_version(args.bundle, args.version)
    model, info = load_bundle(args.bundle)
    if not args.input.is_file():
        raise UserError(f"{args.input} is not a file: give the path of a CSV file to score")
    check_output(args.output, args.input, args.bundle)
    # The model's category columns are read as text, as in training, even when a batch holds
    # only number-like values there (a code 7 must stay '7', not become 7.0).
    raw = set(model.feature_names_in_)
    categorical = [
        *(info.get("categorical_columns") or []),
        *(name for name in model.named_steps["columns"].categorical if name in raw),
    ]
    rows = read_raw(
        args.input,
        list(dict.fromkeys(categorical)),
        separator=args.separator,
        decimal=args.decimal,
        encoding=args.encoding,
        keys={name: f"--{name}" for name in DIALECT_KEYS},
    )
    predictions, warnings = scored(model, rows, info)
    for line in warnings:
        print(f"warning: {line}", file=sys.stderr)
    try:
        predictions.to_csv(args.output, index=False)
    except OSError as error:
        raise UserError(
            f"{args.output} cannot be written ({error.strerror}): write the predictions elsewhere"
        ) from None
    print(f"predict: scored {len(predictions)} rows with {info['artifact']} {info['version']}")
