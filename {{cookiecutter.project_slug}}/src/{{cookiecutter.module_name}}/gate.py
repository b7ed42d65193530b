"""Quality gates: is the model good enough, and no worse than on the base revision?

``make gate`` (``python -m <package>.gate --base origin/main``) prints one line per failing
metric and exits 1 if any gate fails. The gates are the ``gates`` section of params.yaml.
"""

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from {{ cookiecutter.module_name }}.stage import UserError, read_yaml, run

METRICS_FILE = "metrics/metrics.json"
# Metrics where a smaller value is better; for all others a larger value is better.
LOWER_IS_BETTER = {"log_loss", "rmse", "mae"}


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
        return change if self.name in LOWER_IS_BETTER else -change


def run_dvc(*args: str) -> dict:
    """Run a ``dvc ... --json`` command and return its parsed output."""
    done = subprocess.run(["dvc", *args, "--json"], capture_output=True, text=True)
    if done.returncode != 0:
        message = done.stderr.strip().splitlines()
        raise UserError(f"`dvc {' '.join(args)}` failed: {message[-1] if message else 'no output'}")
    return json.loads(done.stdout or "{}")


def merge_base(base: str) -> str:
    """The commit this branch forked from ``base`` at (as GitHub diffs a pull request), so that
    changes made on ``base`` since then are not shown as this branch's; ``base`` if unrelated."""
    done = subprocess.run(["git", "merge-base", base, "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else base


def read_metrics(base: str) -> list[Metric]:
    """The model's metrics in the workspace against ``base``, as ``dvc metrics diff`` sees them."""
    diff = run_dvc("metrics", "diff", base, "--all", "--targets", METRICS_FILE)
    values = next(iter(diff.values()), {})
    if not values:
        raise UserError(f"{METRICS_FILE} has no metrics: run `dvc repro` first")
    names = sorted({key.split(".", 1)[1] for key in values if key.startswith("model.")})
    return [
        Metric(
            name=name,
            new=values[f"model.{name}"].get("new"),
            old=values[f"model.{name}"].get("old"),
            baseline=values.get(f"baseline.{name}", {}).get("new"),
        )
        for name in names
    ]


def unchanged_metrics(path: Path = Path(METRICS_FILE)) -> list[Metric]:
    """The model's metrics in ``path``, equal on the base revision: for a change that touches
    nothing they depend on, read without asking DVC for a diff."""
    if not path.is_file():
        raise UserError(f"{path} does not exist: run `dvc repro` first")
    values = json.loads(path.read_text(encoding="utf-8"))
    model, baseline = values.get("model") or {}, values.get("baseline") or {}
    return [
        Metric(name=name, new=value, old=value, baseline=baseline.get(name))
        for name, value in sorted(model.items())
    ]


def check(metrics: list[Metric], gates: dict) -> list[str]:
    """Return one sentence per failing gate; an empty list means every gate passes."""
    by_name = {metric.name: metric for metric in metrics}
    failures = []
    for section in ("minimum", "maximum", "max_drop"):
        for name in gates.get(section) or {}:
            if name not in by_name:
                known = ", ".join(sorted(by_name))
                failures.append(
                    f"gates.{section} in params.yaml names '{name}', which is not a metric: "
                    f"use one of {known}"
                )
    for metric in metrics:
        if metric.new is None:
            failures.append(f"{metric.name} is missing from {METRICS_FILE}")
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
        if gates.get("beat_baseline") and metric.baseline is not None:
            lower = metric.name in LOWER_IS_BETTER
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
    parser.add_argument("--base", default="origin/main", help="revision to compare against")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"), help="params.yaml")
    args = parser.parse_args()
    failures = check(read_metrics(merge_base(args.base)), read_gates(args.params))
    for failure in failures:
        print(f"gate failed: {failure}")
    if failures:
        sys.exit(1)
    print("gates: all pass")


if __name__ == "__main__":
    raise SystemExit(run(main))
