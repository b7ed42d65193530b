"""predict: score a CSV of raw rows with a published model bundle.

``python -m <package>.predict dist/model-v1.0.0 new_rows.csv predictions.csv`` verifies the
bundle's checksums and the types in its model before loading it, then writes one prediction per
row (and, for classification, the probability of each class).
"""

import argparse
from pathlib import Path

import pandas as pd

from ..errors import UserError, run
from ..stages.prepare import DIALECT_KEYS, read_raw
from .bundle import load_bundle


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path, help="folder of a published model bundle")
    parser.add_argument("input", type=Path, help="CSV file of raw rows to score")
    parser.add_argument("output", type=Path, help="CSV file to write the predictions to")
    parser.add_argument("--separator", help="the CSV's field separator (detected if not given)")
    parser.add_argument("--decimal", help="the CSV's decimal mark, '.' or ',' (detected too)")
    parser.add_argument("--encoding", help="the CSV's text encoding (UTF-8 if not given)")
    args = parser.parse_args()
    model, info = load_bundle(args.bundle)
    if not args.input.is_file():
        raise UserError(f"{args.input} does not exist: give the path of a CSV file to score")
    rows = read_raw(
        args.input,
        info.get("categorical_columns") or [],
        separator=args.separator,
        decimal=args.decimal,
        encoding=args.encoding,
        keys={name: f"--{name}" for name in DIALECT_KEYS},
    )
    predictions = predict(model, rows, info)
    predictions.to_csv(args.output, index=False)
    print(f"predict: scored {len(predictions)} rows with {info['artifact']} {info['version']}")


if __name__ == "__main__":
    raise SystemExit(run(main))
