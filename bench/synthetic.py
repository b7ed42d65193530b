"""Synthetic tabular data for the scale benchmark: numeric and categorical columns, some missing.

``python synthetic.py ROWS OUT.csv`` writes ROWS rows of 20 features and a binary ``target``
that depends on some of them, so that a model has something to learn. Seeded: the same ROWS
always give the same file. Runs in a generated project's environment (NumPy, pyarrow).
"""

import argparse

import numpy as np
import pyarrow as pa
import pyarrow.csv

NUMERIC = 14
# Distinct values per categorical column: from a handful to more than the model keeps (20).
CATEGORIES = [3, 5, 8, 12, 30, 50]
MISSING = 0.05  # share of missing values in every third numeric and every other text column
CHUNK = 1_000_000  # rows generated and written at a time, so memory stays flat for 10M rows


def chunk(rows: int, rng: np.random.Generator) -> pa.Table:
    """``rows`` rows of features and a target drawn from a logistic model of some of them."""
    numbers = rng.normal(size=(rows, NUMERIC)).astype("float32")
    logit = numbers[:, :5] @ np.array([1.5, -1.0, 0.8, 0.5, -0.3]) + numbers[:, 5] * numbers[:, 6]
    columns = {}
    for index in range(NUMERIC):
        values = numbers[:, index].round(4)
        mask = rng.random(rows) < MISSING if index % 3 == 0 else None
        columns[f"num_{index:02d}"] = pa.array(values, mask=mask)
    for index, count in enumerate(CATEGORIES):
        codes = rng.integers(0, count, size=rows)
        if index < 3:  # only some categories carry signal
            logit += rng.normal(scale=0.6, size=count)[codes]
        labels = np.array([f"c{index}_{value}" for value in range(count)], dtype=object)[codes]
        mask = rng.random(rows) < MISSING if index % 2 == 0 else None
        columns[f"cat_{index}"] = pa.array(labels, type=pa.string(), mask=mask)
    positive = rng.random(rows) < 1 / (1 + np.exp(-logit))
    columns["target"] = pa.array(np.where(positive, "yes", "no"), type=pa.string())
    return pa.table(columns)


def write(rows: int, path: str, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    writer = None
    for start in range(0, rows, CHUNK):
        table = chunk(min(CHUNK, rows - start), rng)
        if writer is None:
            options = pa.csv.WriteOptions(quoting_style="needed")
            writer = pa.csv.CSVWriter(path, table.schema, write_options=options)
        writer.write_table(table)
    writer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", type=int, help="number of rows")
    parser.add_argument("out", help="CSV file to write")
    args = parser.parse_args()
    write(args.rows, args.out)


if __name__ == "__main__":
    main()
