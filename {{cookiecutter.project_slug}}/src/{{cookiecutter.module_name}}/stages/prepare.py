"""prepare stage: check the raw data against its inferred schema, then split it into train and test.

How the data is read, checked and split is dvc-ml-kit's (``dvc_ml_kit.pipeline.prepare``); what
to read and how to split it is set in params.yaml's ``data`` and ``prepare`` sections.
"""

import argparse
from pathlib import Path

from dvc_ml_kit import load_params, run, stages
from dvc_ml_kit.pipeline.prepare import PARAMS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # Text, not a Path: the dask engine also reads URLs (s3://...), which a Path would mangle.
    parser.add_argument("raw", help="raw data: a CSV file, or Parquet (a file or a folder)")
    parser.add_argument("train", type=Path, help="training split to write (Parquet)")
    parser.add_argument("test", type=Path, help="test split to write (Parquet)")
    parser.add_argument("--params", type=Path, required=True, help="params.yaml")
    args = parser.parse_args()
    params = load_params(args.params, PARAMS)
    for line in stages.prepare(args.raw, args.train, args.test, params):
        print(line)


if __name__ == "__main__":
    raise SystemExit(run(main))
