"""How much each metric moves by chance: a seeded bootstrap of the test split.

Each resample draws as many test rows as the split holds, with replacement; a metric's values
over the resamples give its 95% interval. The draws depend only on the seed and the number of
rows, so two revisions scored on the same test rows are resampled alike, and the difference of
their metrics on each resample is a *paired* bootstrap of the change: the quality gates read it
(``ci/gate.py``) to tell a drop that resampling explains from one it does not.

A resample is a count per row (how often it was drawn), so every metric is a weighted sum over
rows, and all resamples of a chunk are computed at once with NumPy. scikit-learn's metric
functions, called once per resample, take 23 ms on the sample's 114 rows (their input checks)
and 1.1 s on a million: 200 resamples would cost evaluate 5 s and 4 minutes. The definitions are
scikit-learn's with ``sample_weight`` (ties, clipping, macro averages); a test holds them equal.
"""

import hashlib
from collections.abc import Iterator

import numpy as np

from ..contract import METRICS

CONFIDENCE = 0.95
# Counts held in memory at once (resamples x rows), 8 bytes each.
CELLS = 8_000_000
DIGITS = 6


def counts(rows: int, resamples: int, seed: int) -> Iterator[np.ndarray]:
    """The resamples of ``rows`` test rows, a chunk at a time: an array (resamples in the
    chunk, rows) of how often each row was drawn, as small integers (exact sums, less memory
    to move)."""
    rng = np.random.default_rng(seed)
    size = max(1, CELLS // max(rows, 1))
    for start in range(0, resamples, size):
        chunk = min(size, resamples - start)
        drawn = rng.integers(0, rows, size=(chunk, rows)) + rows * np.arange(chunk)[:, None]
        drawn = np.bincount(drawn.ravel(), minlength=chunk * rows).reshape(chunk, rows)
        yield drawn.astype(np.min_scalar_type(drawn.max(initial=0)))


def _share(weights: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per resample: the sum of ``values`` (a mask, or a number per row) over its rows."""
    return (weights * values).sum(axis=1)


def _ratio(top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    """``top / bottom``, NaN where ``bottom`` is 0 (the metric is undefined on that resample)."""
    out = np.full(np.broadcast(top, bottom).shape, np.nan)
    return np.divide(top, bottom, out=out, where=bottom != 0)


class Ranked:
    """One score column sorted once for every resample: the order that sorts it, where each
    run of equal scores starts, and which rows are positive."""

    def __init__(self, score: np.ndarray, positive: np.ndarray) -> None:
        self.order = np.argsort(score, kind="stable")
        ordered = score[self.order]
        self.starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        self.ties = len(self.starts) < len(score)
        self.positive = positive[self.order]

    def areas(self, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per resample: the weighted area under the ROC curve (the chance that a positive row
        outscores a negative one, ties counting half: what the trapezoids of scikit-learn's
        curve add up to) and the average precision (precision at each distinct score, highest
        first, weighted by the recall it adds)."""
        every = weights[:, self.order].astype(np.int32)
        positive = every * self.positive
        if self.ties:  # one threshold per distinct score
            positive = np.add.reduceat(positive, self.starts, axis=1)
            every = np.add.reduceat(every, self.starts, axis=1)
        # Counts are integers: every sum below is exact, whatever the order of adding.
        positive_below = np.cumsum(positive, axis=1) - positive
        every_below = np.cumsum(every, axis=1) - every
        positives = positive_below[:, -1] + positive[:, -1]
        total = every_below[:, -1] + every[:, -1]
        negative, negative_below = every - positive, every_below - positive_below
        twice = (positive.astype(np.int64) * (2 * negative_below + negative)).sum(axis=1)
        area = twice / 2
        # Scoring at least this group's score flags the rows above it: a precision per group.
        flagged = total[:, None] - every_below
        precise = np.divide(
            positives[:, None] - positive_below,
            flagged,
            out=np.zeros(flagged.shape),
            where=flagged != 0,
        )
        precision = (positive * precise).sum(axis=1)
        pairs = positives.astype(np.int64) * (total - positives)
        return _ratio(area, pairs), _ratio(precision, positives)


class Scored:
    """A task's test targets and predictions, with what every resample reads computed once:
    ``actual`` holds the targets (class positions for classification), ``predicted`` the
    numbers or the class probabilities (one column per class)."""

    def __init__(self, actual: np.ndarray, predicted: np.ndarray, *, task: str) -> None:
        self.task = task
        if task == "regression":
            self.actual, self.error = actual.astype(float), actual - predicted.astype(float)
            return
        probabilities = predicted.astype(float)
        self.truth, self.predicted = actual, probabilities.argmax(axis=1)
        self.classes = probabilities.shape[1]
        eps = np.finfo(probabilities.dtype).eps
        self.loss = -np.log(np.clip(probabilities[np.arange(len(actual)), actual], eps, 1 - eps))
        # Binary: the positive class's scores; else each class against the rest.
        columns = [1] if self.classes == 2 else range(self.classes)
        self.ranked = [Ranked(probabilities[:, c], actual == c) for c in columns]

    def metrics(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """Each metric of the task on each resample (a row of ``weights``)."""
        values = self._regression(weights) if self.task == "regression" else self._classes(weights)
        return {name: values[name] for name in METRICS[self.task]}

    def _classes(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        total = weights.sum(axis=1)
        correct = self.predicted == self.truth
        per_class = range(self.classes)
        support = np.stack([_share(weights, self.truth == c) for c in per_class], axis=1)
        flagged = np.stack([_share(weights, self.predicted == c) for c in per_class], axis=1)
        hits = np.stack([_share(weights, correct & (self.truth == c)) for c in per_class], axis=1)
        # Macro averages are over the classes a resample holds (scikit-learn's labels).
        present = support + flagged > 0
        f1 = np.divide(2 * hits, support + flagged, out=np.zeros(hits.shape), where=present)
        areas = [ranked.areas(weights) for ranked in self.ranked]
        return {
            "accuracy": _share(weights, correct) / total,
            "balanced_accuracy": np.nanmean(_ratio(hits, support), axis=1),
            "f1_macro": (f1 * present).sum(axis=1) / present.sum(axis=1),
            "roc_auc": np.mean([auc for auc, _ in areas], axis=0),
            "average_precision": np.mean([precision for _, precision in areas], axis=0),
            "log_loss": _share(weights, self.loss) / total,
        }

    def _regression(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        total = weights.sum(axis=1)
        squared = _share(weights, self.error**2)
        mean = _share(weights, self.actual) / total
        spread = (weights * (self.actual[None, :] - mean[:, None]) ** 2).sum(axis=1)
        return {
            "rmse": np.sqrt(squared / total),
            "mae": _share(weights, np.abs(self.error)) / total,
            "r2": 1 - _ratio(squared, spread),
        }


def fingerprint(actual) -> str:
    """What identifies the test rows a bootstrap resampled: the targets (a pandas Series), in
    order."""
    import pandas as pd  # here only: the gates read intervals without pandas

    hashed = pd.util.hash_pandas_object(actual.reset_index(drop=True), index=False)
    return hashlib.sha256(hashed.to_numpy().tobytes()).hexdigest()


def bootstrap(
    actual,
    predicted: np.ndarray,
    *,
    task: str,
    classes=None,
    resamples: int,
    seed: int,
) -> dict:
    """The bootstrap file's content: each metric's value on each of ``resamples`` seeded
    resamples of the test rows (``actual``, a pandas Series of targets) and its 95% interval,
    with what identifies those rows."""
    import pandas as pd

    if classes is not None:
        actual_values = pd.Index(classes).get_indexer(actual)
    else:
        actual_values = actual.to_numpy()
    scored = Scored(actual_values, predicted, task=task)
    chunks = [scored.metrics(weights) for weights in counts(len(actual), resamples, seed)]
    values = {
        name: np.concatenate([chunk[name] for chunk in chunks]) if chunks else np.array([])
        for name in METRICS[task]
    }
    return {
        "resamples": resamples,
        "seed": seed,
        "confidence": CONFIDENCE,
        "rows": len(actual),
        "targets": fingerprint(actual),
        "interval": {name: interval(series) for name, series in values.items()},
        "values": {
            name: [None if np.isnan(v) else round(float(v), DIGITS) for v in series]
            for name, series in values.items()
        },
    }


def interval(values, confidence: float = CONFIDENCE) -> list[float] | None:
    """The central ``confidence`` interval of ``values`` (NaN and None left out), or None."""
    kept = np.array([v for v in values if v is not None], dtype=float)
    kept = kept[~np.isnan(kept)]
    if not len(kept):
        return None
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(kept, [tail, 100 - tail])
    return [round(float(low), DIGITS), round(float(high), DIGITS)]
