"""evaluate on a Dask cluster: the model predicts each test partition where it lies; only the
targets and predictions (a number, or a probability per class, per row) and a seeded sample of
rows for the plots come back here, and the metrics come from the same code as on this machine."""

from pathlib import Path

import numpy as np
import pandas as pd

from ..contract import BASELINE, MODEL
from ..errors import check_target
from ..pipeline.evaluate import fit_baseline, metric_values
from .store import read_split

# Rows sampled per plot row wanted, so that the seeded sample rarely falls short of it.
OVERSAMPLE = 2


def _predict_part(part: pd.DataFrame, model, *, task: str, target: str) -> pd.DataFrame:
    features = part.drop(columns=[target])
    if task == "regression":
        predicted = model.predict(features)[:, None]
    else:
        predicted = model.predict_proba(features)
    columns = {f"p{index}": predicted[:, index] for index in range(predicted.shape[1])}
    return pd.DataFrame({"actual": part[target].to_numpy(), **columns})


def evaluate_on_cluster(
    client, model, train: Path, test: Path, *, task: str, target: str, rows: int, seed: int
) -> tuple[dict, pd.DataFrame, tuple[pd.Series, np.ndarray]]:
    """The metrics of ``model`` and of the baseline on the ``test`` split, a seeded sample of
    at most ``rows`` test rows for the plot data, and the test targets with the model's
    predictions (for the bootstrap)."""
    import dask

    test_split, train_split = read_split(test), read_split(train)
    for path, split in ((test, test_split), (train, train_split)):
        check_target(split.columns, target, path)
    outputs = 1 if task == "regression" else len(model.classes_)
    meta = pd.DataFrame(
        {"actual": test_split._meta[target]}
        | {f"p{i}": pd.Series(dtype="float64") for i in range(outputs)}
    )
    predicted = test_split.map_partitions(_predict_part, model, task=task, target=target, meta=meta)
    count = len(test_split)
    fraction = min(1.0, OVERSAMPLE * rows / max(count, 1))
    sampled = test_split.sample(frac=fraction, random_state=seed)
    predicted, targets, sampled = dask.compute(predicted, train_split[[target]], sampled)
    scores = predicted.drop(columns=["actual"]).to_numpy()
    if task == "regression":
        scores = scores[:, 0]
    baseline = fit_baseline(targets, task=task, target=target)
    nothing = pd.DataFrame(index=predicted.index)  # the baseline reads no feature
    baseline_scores = (
        baseline.predict(nothing) if task == "regression" else baseline.predict_proba(nothing)
    )
    classes = getattr(model, "classes_", None)
    metrics = {
        MODEL: metric_values(
            predicted["actual"], scores, task=task, target=target, classes=classes
        ),
        BASELINE: metric_values(
            predicted["actual"],
            baseline_scores,
            task=task,
            target=target,
            classes=getattr(baseline, "classes_", None),
        ),
    }
    sample = sampled.reset_index(drop=True)
    sample = sample.sample(n=min(rows, len(sample)), random_state=seed).reset_index(drop=True)
    return metrics, sample, (predicted["actual"], scores)
