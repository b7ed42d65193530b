"""The pipeline's output contract: the metrics and plot data evaluate writes, per task.

evaluate computes exactly these metrics and plot files; the gates and the report read them by
these names and directions; tests check dvc.yaml's plots and metrics.json against them. It
imports nothing, so the CI tools that read it start at no cost.
"""

from typing import NamedTuple

HIGHER, LOWER = "higher", "lower"

# Each task's metrics in the order evaluate writes them, with the direction that is better.
METRICS = {
    "classification": {
        "accuracy": HIGHER,
        "balanced_accuracy": HIGHER,
        "f1_macro": HIGHER,
        "roc_auc": HIGHER,
        # Area under the precision-recall curve: the positive class's, or the mean over classes.
        "average_precision": HIGHER,
        "log_loss": LOWER,
    },
    "regression": {"rmse": LOWER, "mae": LOWER, "r2": HIGHER},
}
# The metric that says first whether a model is useful.
MAIN_METRIC = {"classification": "balanced_accuracy", "regression": "r2"}
# metrics.json holds the model's metrics and, for scale, those of a trivial baseline.
MODEL, BASELINE = "model", "baseline"
# Beside it, a seeded bootstrap of the test split: each metric's interval, and its value on each
# resample (pipeline/bootstrap.py), which the gates pair with the base's.
BOOTSTRAP = "bootstrap.json"


class Plot(NamedTuple):
    """A plot data file: a CSV table with exactly the columns ``x`` and ``y``."""

    x: str
    y: str


# Each task's plot data files, as dvc.yaml draws them.
PLOTS = {
    "classification": {
        "predictions.csv": Plot(x="predicted", y="actual"),  # confusion matrix
        "roc.csv": Plot(x="fpr", y="tpr"),
        "importance.csv": Plot(x="importance", y="feature"),
    },
    "regression": {
        "predictions.csv": Plot(x="actual", y="predicted"),
        "residuals.csv": Plot(x="predicted", y="residual"),
        "importance.csv": Plot(x="importance", y="feature"),
    },
}


# Which way is better for metrics of these names in any DVC repository, besides the contract's:
# the last part of a name counts, as DVCLive nests them (``test.acc``, ``train.loss``). Any
# other metric's direction is stated in the gates (``gates.directions``) to be gated.
KNOWN = {
    **{name: better for metrics in METRICS.values() for name, better in metrics.items()},
    **dict.fromkeys(("acc", "auc", "avg_prec", "precision", "recall", "f1"), HIGHER),
    **dict.fromkeys(("loss", "mse", "error"), LOWER),
}


def known_direction(metric: str) -> str | None:
    """HIGHER or LOWER for a metric the package knows by the last part of its name (after a
    file's ``path:`` and any nesting), else None."""
    return KNOWN.get(metric.rpartition(":")[2].rpartition(".")[2].lower())


def lower_is_better(metric: str) -> bool:
    """Whether a smaller value of ``metric`` is better (a loss or an error)."""
    return known_direction(metric) == LOWER
