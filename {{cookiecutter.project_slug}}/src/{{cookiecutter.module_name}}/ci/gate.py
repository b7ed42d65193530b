"""Quality gates: is the model good enough, and no worse than on the base revision?

``make gate`` (``python -m <package>.ci.gate --base origin/main``) prints one line per failing
metric and exits 1 if any gate fails. The gates are the ``gates`` section of params.yaml; which
way each metric is better comes from the output contract.
"""

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from ..contract import BASELINE, MODEL, lower_is_better
from ..errors import UserError, run
from ..params import read_yaml
from . import repo


@dataclass(frozen=True)
class Metric:
    """One model metric: its value now, on the base revision, and the baseline's value now."""

    name: str
    new: float | None
    old: float | None = None
    baseline: float | None = None

    def worse_by(self) -> float | None:
        """How much worse than on the base revision (negative when better), in its own units."""
        if self.new is None or self.old is None:
            return None
        change = self.new - self.old
        return change if lower_is_better(self.name) else -change


def from_diff(diff: dict[str, dict]) -> list[Metric]:
    """Metrics from ``dvc metrics diff --all`` of the metrics file (``{"model.x": {...}}``)."""
    if not diff:
        raise UserError(f"{repo.metrics_file()} has no metrics: run `dvc repro` first")
    names = sorted({key.split(".", 1)[1] for key in diff if key.startswith(f"{MODEL}.")})
    return [
        Metric(
            name=name,
            new=diff[f"{MODEL}.{name}"].get("new"),
            old=diff[f"{MODEL}.{name}"].get("old"),
            baseline=diff.get(f"{BASELINE}.{name}", {}).get("new"),
        )
        for name in names
    ]


def unchanged(values: dict | None) -> list[Metric]:
    """Metrics from a metrics file's content, equal on the base revision: for a change that
    touches nothing they depend on, read without asking DVC for a diff."""
    if values is None:
        raise UserError(f"{repo.metrics_file()} does not exist: run `dvc repro` first")
    model, baseline = values.get(MODEL) or {}, values.get(BASELINE) or {}
    return [
        Metric(name=name, new=value, old=value, baseline=baseline.get(name))
        for name, value in sorted(model.items())
    ]


def check(metrics: list[Metric], gates: dict) -> list[str]:
    """Return one sentence per failing gate; an empty list means every gate passes."""
    by_name = {metric.name: metric for metric in metrics}
    failures = []
    # beat_baseline: true for every metric, or a list of the metrics that must beat it.
    beat = gates.get("beat_baseline")
    beaten = set(by_name) if beat is True else set(beat or [])
    for section in ("minimum", "maximum", "max_drop", "beat_baseline"):
        named = gates.get(section) if section != "beat_baseline" or isinstance(beat, list) else {}
        for name in named or {}:
            if name not in by_name:
                known = ", ".join(sorted(by_name))
                failures.append(
                    f"gates.{section} in params.yaml names '{name}', which is not a metric: "
                    f"use one of {known}"
                )
    for metric in metrics:
        if metric.new is None:
            failures.append(f"{metric.name} has no value in this revision's metrics")
            continue
        minimum = (gates.get("minimum") or {}).get(metric.name)
        if minimum is not None and metric.new < minimum:
            failures.append(f"{metric.name} is {metric.new:g}, below the minimum of {minimum:g}")
        maximum = (gates.get("maximum") or {}).get(metric.name)
        if maximum is not None and metric.new > maximum:
            failures.append(f"{metric.name} is {metric.new:g}, above the maximum of {maximum:g}")
        allowed = (gates.get("max_drop") or {}).get(metric.name)
        worse = metric.worse_by()
        if allowed is not None and worse is not None and worse > allowed + 1e-12:
            failures.append(
                f"{metric.name} got worse by {worse:g} against the base ({metric.old:g} to "
                f"{metric.new:g}), more than the {allowed:g} allowed"
            )
        if metric.name in beaten and metric.baseline is not None:
            lower = lower_is_better(metric.name)
            if metric.new >= metric.baseline if lower else metric.new <= metric.baseline:
                failures.append(
                    f"{metric.name} is {metric.new:g}, no better than the baseline's "
                    f"{metric.baseline:g}"
                )
    return failures


def read_gates(params: Path) -> dict:
    """The ``gates`` section of params.yaml."""
    gates = (read_yaml(params) or {}).get("gates")
    if not isinstance(gates, dict):
        raise UserError(f"{params} has no 'gates' section: add one (see README.md, Quality gates)")
    return gates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default=repo.DEFAULT_BASE, help="revision to compare against")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"), help="params.yaml")
    args = parser.parse_args()
    repo.require_revision(args.base)
    metrics = from_diff(repo.metrics_diff(repo.merge_base(args.base)))
    failures = check(metrics, read_gates(args.params))
    for failure in failures:
        print(f"gate failed: {failure}")
    if failures:
        sys.exit(1)
    print("gates: all pass")


if __name__ == "__main__":
    raise SystemExit(run(main))
