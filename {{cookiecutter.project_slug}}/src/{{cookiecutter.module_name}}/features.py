"""Features: the columns the model computes from the raw columns, before anything else.

``add_features`` is the first step of the model: training, evaluation, the published bundle,
``predict`` and the Dask engine all call this one function on raw rows, so a column added here is
computed the same way everywhere. Add a column, run ``dvc repro``; for example::

    return rows.assign(area_ratio=rows["worst_area"] / rows["mean_area"])

It gets the columns prepare kept (ids and left-out columns are not among them), as prepare wrote
them: numbers, yes/no and dates already parsed, categories as text.
"""

import pandas as pd


def add_features(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with the engineered columns added (none yet): the same rows, in order."""
    return rows
