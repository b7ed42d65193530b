"""predict: score a CSV of raw rows with a published model bundle.

``dvc-ml-kit predict dist/model-v1.0.0 new_rows.csv predictions.csv`` verifies the
bundle's checksums and the types in its model before loading it, then writes one prediction per
row (and, for classification, the probability of each class).
"""

import argparse
import subprocess
import sys
from pathlib import Path

import pandas as pd

from ..errors import UserError
from ..pipeline.prepare import DIALECT_KEYS, read_raw
from ..project import FEATURES_STEP
from .bundle import SUMS_FILE, digest, digest_in, load_bundle
from .columns import OTHER


def predict(model, rows: pd.DataFrame, info: dict) -> pd.DataFrame:
    """Predictions for raw ``rows`` (extra columns, the target included, are ignored)."""
    missing = [column for column in model.feature_names_in_ if column not in rows.columns]
    if missing:
        raise UserError(f"the input lacks columns the model needs: {', '.join(missing)}")
    if rows.empty:
        raise UserError("the input has no rows to score")
    features = rows[list(model.feature_names_in_)]
    result = pd.DataFrame(index=rows.index)
    if info.get("id_column") in rows.columns:
        result[info["id_column"]] = rows[info["id_column"]]
    try:
        result["prediction"] = model.predict(features)
        if info["task"] == "classification":
            for label, column in zip(model.classes_, model.predict_proba(features).T, strict=True):
                result[f"probability_{label}"] = column.round(6)
    except (ValueError, TypeError) as error:
        # Typically text in a column the model saw as numbers.
        raise UserError(f"the input's values do not fit the model ({error})") from None
    return result


def unlearned_values(model, rows: pd.DataFrame) -> list[str]:
    """One line per category column of ``rows`` with values the model did not learn: it scores
    them as one "(other)" value, which can give a confident prediction for something new."""
    lines = []
    if FEATURES_STEP in model.named_steps:  # engineered category columns are checked too
        rows = model.named_steps[FEATURES_STEP].transform(rows[list(model.feature_names_in_)])
    for name, kept in model.named_steps["columns"].categories_.items():
        values = rows[name].dropna().astype(str)
        new = values[~values.isin(kept)]
        if len(new):
            lines.append(
                f"column '{name}': {len(new)} of {len(rows)} rows hold values the model did not "
                f"learn (such as {new.iloc[0]!r}), scored as {OTHER!r}"
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
        raise UserError(f"{args.input} does not exist: give the path of a CSV file to score")
    if args.output.resolve() == args.input.resolve():
        raise UserError(f"{args.output} is the input file: give another file for the predictions")
    if not args.output.parent.is_dir():
        raise UserError(f"{args.output.parent} does not exist: create it or write elsewhere")
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
    predictions = predict(model, rows, info)
    for line in unlearned_values(model, rows):
        print(f"warning: {line}", file=sys.stderr)
    predictions.to_csv(args.output, index=False)
    print(f"predict: scored {len(predictions)} rows with {info['artifact']} {info['version']}")
