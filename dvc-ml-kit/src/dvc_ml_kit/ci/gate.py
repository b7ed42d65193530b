"""Quality gates: is the model good enough, and no worse than on the base revision?

``make gate`` (``dvc-ml-kit gate --base origin/main``) prints one line per failing
metric and exits 1 if any gate fails. The gates are the ``gates`` section of params.yaml; which
way each metric is better comes from the output contract.

When the base and this revision scored the same test rows, each ``max_drop`` reads the paired
bootstrap of the change (evaluate's bootstrap.json, resampled alike on both): a drop fails only
when even the low end of its 95% interval is beyond ``max_drop``, so that a drop which
resampling the test rows explains (a re-seeded forest) passes, and says so.
"""

import argparse
import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from ..contract import BASELINE, BOOTSTRAP, HIGHER, LOWER, MODEL, known_direction
from ..errors import UserError
from ..params import parse_yaml, read_yaml
from . import repo


@dataclass(frozen=True)
class Metric:
    """One model metric: its value now, on the base revision, and the baseline's value now."""

    name: str
    new: float | None
    old: float | None = None
    baseline: float | None = None
    # The 95% interval of ``new`` over resamples of the test rows, and of the change against
    # the base over the same resamples when both scored the same rows (see :func:`with_noise`).
    interval: tuple[float, float] | None = None
    change_interval: tuple[float, float] | None = None
    rows: int | None = None  # the test rows both scored, when paired
    # HIGHER or LOWER as gates.directions states it; None: known by name, or not known.
    direction: str | None = None

    @property
    def better(self) -> str | None:
        """Which way is better (HIGHER or LOWER), or None when neither the gates nor the
        package's known names say."""
        return self.direction or known_direction(self.name)

    def worse_by(self) -> float | None:
        """How much worse than on the base revision (negative when better), in its own units;
        None without a base value or a known direction."""
        if self.new is None or self.old is None or self.better is None:
            return None
        change = self.new - self.old
        return change if self.better == LOWER else -change

    def worse_interval(self) -> tuple[float, float] | None:
        """The paired 95% interval of :meth:`worse_by`, or None."""
        if self.change_interval is None or self.better is None:
            return None
        low, high = self.change_interval
        # + 0.0: a drop of -0.0 reads 0.
        return (low, high) if self.better == LOWER else (-high + 0.0, -low + 0.0)


def bootstrap_file() -> Path:
    """Where evaluate's bootstrap is kept in Git: beside the metrics file."""
    return repo.metrics_file().with_name(BOOTSTRAP)


def parse_bootstrap(text: str | None) -> dict | None:
    """A bootstrap file's content, or None when there is none (or it cannot be read: the
    gates then judge the values alone)."""
    try:
        content = json.loads(text) if text else None
    except ValueError:
        return None
    return content if isinstance(content, dict) and content.get("resamples") else None


def paired(new: dict | None, old: dict | None) -> bool:
    """Whether two bootstraps resampled the same test rows alike: same rows and targets in
    the same order, same seed and number of resamples."""
    keys = ("resamples", "seed", "rows", "targets")
    return bool(new and old) and all(new.get(key) == old.get(key) for key in keys)


def with_noise(metrics: list[Metric], new_text: str | None, old_text: str | None) -> list[Metric]:
    """``metrics`` with their intervals from this revision's bootstrap file (``new_text``) and,
    when the base's (``old_text``) resampled the same rows alike, the paired interval of each
    change: the percentiles of the change on each resample."""
    from ..pipeline.bootstrap import interval

    new, old = parse_bootstrap(new_text), parse_bootstrap(old_text)
    if new is None:
        return metrics
    pair = paired(new, old)
    noisy = []
    for metric in metrics:
        own = (new.get("interval") or {}).get(metric.name)
        change = None
        if pair:
            after = new["values"].get(metric.name) or []
            before = old["values"].get(metric.name) or []
            change = interval(
                b - a
                for a, b in zip(before, after, strict=False)
                if a is not None and b is not None
            )
        noisy.append(
            replace(
                metric,
                interval=tuple(own) if own else None,
                change_interval=tuple(change) if change else None,
                rows=new["rows"] if change else None,
            )
        )
    return noisy


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


def contract_shaped(diff: dict[str, dict]) -> bool:
    """Whether a metrics file's diff has the output contract's shape: the model's metrics under
    ``model`` and, optionally, the trivial baseline's under ``baseline``."""
    prefixes = {key.split(".", 1)[0] for key in diff}
    return MODEL in prefixes and prefixes <= {MODEL, BASELINE}


def from_files(diffs: dict[str, dict], contract: bool = False) -> list[Metric]:
    """Metrics from ``dvc metrics diff --all`` of every metrics file (``{file: {key: {"old": ...,
    "new": ...}}}``). ``contract``: the repository runs the package's stages, so a file of the
    output contract's shape is read as :func:`from_diff` reads it. In any other file, each
    number under its key (nested keys joined with dots, as DVC shows them), which is
    ``file:key`` when two files have that key."""
    shaped = [diff for diff in diffs.values() if contract and diff and contract_shaped(diff)]
    if shaped:
        return from_diff(shaped[0])
    keys = [key for diff in diffs.values() for key in diff]
    metrics = [
        Metric(
            name=key if keys.count(key) == 1 else f"{path}:{key}",
            new=values.get("new"),
            old=values.get("old"),
        )
        for path, diff in diffs.items()
        for key, values in diff.items()
        if any(
            isinstance(values.get(side), int | float) and not isinstance(values.get(side), bool)
            for side in ("old", "new")
        )
    ]
    if not metrics:
        files = ", ".join(diffs) or ", ".join(path.as_posix() for path in repo.metrics_files())
        raise UserError(f"{files} has no metrics: run `dvc repro` first")
    return sorted(metrics, key=lambda metric: metric.name)


def flat(content: object, prefix: str = "") -> dict[str, object]:
    """A metrics file's content with nested keys joined by dots (``{"test.acc": 0.9}``)."""
    if not isinstance(content, dict):
        return {}
    found: dict[str, object] = {}
    for key, value in content.items():
        name = f"{prefix}{key}"
        found |= flat(value, f"{name}.") if isinstance(value, dict) else {name: value}
    return found


def unchanged_files(values: dict[str, dict | None], contract: bool = False) -> list[Metric]:
    """Metrics from every metrics file's content, equal on the base revision: for a change that
    touches nothing they depend on, read without asking DVC for a diff."""
    present = {path: content for path, content in values.items() if content is not None}
    if not present:
        raise UserError(f"{repo.metrics_file()} does not exist: run `dvc repro` first")
    return from_files(
        {
            path: {key: {"old": value, "new": value} for key, value in flat(content).items()}
            for path, content in present.items()
        },
        contract,
    )


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


def versus(values: dict, old: dict | None) -> list[Metric]:
    """Metrics from a metrics file's content (a published version's), against ``old``: another
    version's (None: no base, so no ``max_drop``)."""
    model, baseline = values.get(MODEL) or {}, values.get(BASELINE) or {}
    before = (old or {}).get(MODEL) or {}
    return [
        Metric(name=name, new=value, old=before.get(name), baseline=baseline.get(name))
        for name, value in sorted(model.items())
    ]


THRESHOLDS = ("minimum", "maximum", "max_drop")
GATES = (*THRESHOLDS, "beat_baseline", "max_drift", "directions")


def finite(value: object) -> bool:
    """Whether ``value`` is a number a gate can compare and show: not a bool, not NaN, not
    infinite, and small enough for a float."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    return number and abs(value) <= sys.float_info.max


def valid(section: str, limit: object) -> bool:
    """Whether ``limit`` can be a threshold of ``section``: a finite number (not negative for a
    drop). .nan compares false with every value, and .inf lets every value pass: both would
    switch the gate off."""
    return finite(limit) and (section != "max_drop" or limit >= 0)


def directed(metrics: list[Metric], *sections: object) -> list[Metric]:
    """``metrics`` with the direction that the first of the gates ``sections`` stating one
    gives them in ``directions`` (a valid one: :func:`problems` names the others)."""
    stated: dict[str, str] = {}
    for gates in reversed(sections):
        values = gates.get("directions") if isinstance(gates, dict) else None
        if isinstance(values, dict):
            stated |= {name: value for name, value in values.items() if value in (HIGHER, LOWER)}
    return [
        replace(metric, direction=stated.get(metric.name, metric.direction)) for metric in metrics
    ]


def problems(gates: object, metrics: list[Metric] | list[str], where: str) -> list[str]:
    """One sentence per thing wrong in a ``gates`` section: a missing section, an unknown key,
    a value of the wrong type, a metric that does not exist, a gate on a metric whose better
    direction is neither known nor stated in ``directions``."""
    if gates is None:
        return [
            f"{where} has no 'gates' section: add one (a generated project's README.md, Quality "
            "gates; in any other DVC repository, `dvc-ml-kit init` writes one)"
        ]
    if not isinstance(gates, dict):
        return [f"gates in {where} is {gates!r}, but must be a mapping: {', '.join(GATES)}"]
    better = {
        metric.name: metric.better
        for metric in directed(
            [Metric(m, None) if isinstance(m, str) else m for m in metrics], gates
        )
    }
    found = []
    for key, value in gates.items():
        if key == "directions":
            if value is not None and not isinstance(value, dict):
                found.append(
                    f"gates.directions in {where} is {value!r}, but must map metrics to "
                    f"{HIGHER} or {LOWER}"
                )
            for name, direction in (value if isinstance(value, dict) else {}).items():
                if name not in better:
                    found.append(
                        f"gates.directions in {where} names '{name}', which is not a metric: "
                        f"use one of {', '.join(sorted(better))}"
                    )
                elif direction not in (HIGHER, LOWER):
                    found.append(
                        f"gates.directions.{name} in {where} is {direction!r}, but must be "
                        f"{HIGHER} or {LOWER} (which values are better)"
                    )
            continue
        named = value if key == "beat_baseline" and isinstance(value, list) else []
        named += list(value) if key in THRESHOLDS and isinstance(value, dict) else []
        found += [
            f"gates.{key} in {where} gates '{name}', whose better direction is not known: "
            f"state it in gates.directions (`{name}: {HIGHER}`, or `{LOWER}`)"
            for name in named
            if isinstance(name, str) and name in better and better[name] is None
        ]
        if key == "beat_baseline":
            # true for every metric, or a list of the metrics that must beat the baseline.
            if isinstance(value, list):
                found += [
                    f"gates.beat_baseline in {where} names '{name}', which is not a metric: "
                    f"use one of {', '.join(sorted(better))}"
                    for name in value
                    if not isinstance(name, str) or name not in better
                ]
            elif not isinstance(value, bool):
                found.append(
                    f"gates.beat_baseline in {where} is {value!r}, but must be true, false or a "
                    "list of metrics"
                )
        elif key == "max_drift":
            # The share of compared columns whose drift fails the gate (null: off).
            if value is not None and not (finite(value) and 0 < value <= 1):
                found.append(
                    f"gates.max_drift in {where} is {value!r}, but must be a share of the "
                    "columns above 0 and at most 1, or null (off)"
                )
        elif key not in THRESHOLDS:
            found.append(f"gates.{key} in {where} is not a gate: use {', '.join(GATES)}")
        elif value is not None and not isinstance(value, dict):
            found.append(f"gates.{key} in {where} is {value!r}, but must map metrics to numbers")
        else:
            for name, limit in (value or {}).items():
                if name not in better:
                    found.append(
                        f"gates.{key} in {where} names '{name}', which is not a metric: "
                        f"use one of {', '.join(sorted(better))}"
                    )
                elif not valid(key, limit):
                    kind = "a finite number" + (" of 0 or more" if key == "max_drop" else "")
                    found.append(f"gates.{key}.{name} in {where} is {limit!r}, but must be {kind}")
    return found


def limits(gates: object, section: str) -> dict[str, float]:
    """The valid thresholds of one section (:func:`problems` names the others)."""
    values = gates.get(section) if isinstance(gates, dict) else None
    if not isinstance(values, dict):
        return {}
    return {name: limit for name, limit in values.items() if valid(section, limit)}


def check(
    metrics: list[Metric], gates: object, where: str = "params.yaml", *, other_data: bool = False
) -> list[str]:
    """Return one sentence per failing gate, and per problem in the gates themselves; an empty
    list means every gate passes. ``other_data``: the base's metrics were measured on other
    data, so ``max_drop``, a change of the model's, is not judged."""
    failures = problems(gates, metrics, where)
    minimums, maximums, drops = (limits(gates, section) for section in THRESHOLDS)
    if other_data:
        drops = {}
    beat = gates.get("beat_baseline") if isinstance(gates, dict) else None
    beaten = {metric.name for metric in metrics} if beat is True else set()
    beaten |= {name for name in beat if isinstance(name, str)} if isinstance(beat, list) else set()
    for metric in metrics:
        if metric.new is None:
            failures.append(f"{metric.name} has no value in this revision's metrics")
            continue
        # A metric that is not a number (NaN) compares false with every threshold: it fails.
        sides = {"": metric.new, " on the base": metric.old, " of the baseline": metric.baseline}
        odd = {
            side: value for side, value in sides.items() if value is not None and not finite(value)
        }
        if odd:
            side, value = next(iter(odd.items()))
            failures.append(
                f"{metric.name}{side} is {value!r}, not a number a gate can compare: run "
                "`dvc repro` to write the metrics again"
            )
            continue
        minimum, maximum = minimums.get(metric.name), maximums.get(metric.name)
        if minimum is not None and metric.new < minimum:
            failures.append(f"{metric.name} is {metric.new:g}, below the minimum of {minimum:g}")
        if maximum is not None and metric.new > maximum:
            failures.append(f"{metric.name} is {metric.new:g}, above the maximum of {maximum:g}")
        allowed, worse = drops.get(metric.name), metric.worse_by()
        noise = metric.worse_interval()
        if allowed is not None and worse is not None and worse > allowed + 1e-12:
            if noise is None:
                failures.append(
                    f"{metric.name} got worse by {worse:g} against the base ({metric.old:g} to "
                    f"{metric.new:g}), more than the {allowed:g} allowed"
                )
            elif noise[0] > allowed + 1e-12:
                failures.append(
                    f"{metric.name} got worse by {worse:g} against the base ({metric.old:g} to "
                    f"{metric.new:g}), more than the {allowed:g} allowed, beyond chance: "
                    f"{drop_range(metric)}"
                )
        if metric.name in beaten and metric.baseline is None:
            failures.append(
                f"{metric.name} has no baseline value to beat in the metrics: run `dvc repro`, or "
                "leave it out of gates.beat_baseline"
            )
        elif metric.name in beaten and metric.better is not None:
            lower = metric.better == LOWER
            if metric.new >= metric.baseline if lower else metric.new <= metric.baseline:
                failures.append(
                    f"{metric.name} is {metric.new:g}, no better than the baseline's "
                    f"{metric.baseline:g}"
                )
    return failures


def drift_failures(gates: object, share: float | None, *, compared: bool) -> list[str]:
    """The data drift gate (``gates.max_drift``, off unless set) on the data that changed:
    ``share`` of its compared columns drifted; ``compared``: whether the data could be read."""
    limit = gates.get("max_drift") if isinstance(gates, dict) else None
    if limit is None or not (finite(limit) and 0 < limit <= 1):
        return []
    if not compared or share is None:
        return ["gates.max_drift could not be checked: the data could not be compared (see Data)"]
    if share >= limit:
        return [
            f"the data drifted: {share:.0%} of its compared columns, at or above the "
            f"{limit:g} that gates.max_drift allows"
        ]
    return []


def drop_range(metric: Metric) -> str:
    """The paired interval of a metric's drop, in words."""
    low, high = metric.worse_interval()
    return (
        f"resampling the same {metric.rows} test rows puts the drop between {low:g} and "
        f"{high:g} (95%)"
    )


def within_noise(metrics: list[Metric], gates: object) -> list[str]:
    """One sentence per ``max_drop`` that the drop exceeds but chance explains: the paired
    interval of the drop reaches down to what is allowed, so the gate passes."""
    drops = limits(gates, "max_drop")
    found = []
    for metric in metrics:
        allowed, worse, noise = drops.get(metric.name), metric.worse_by(), metric.worse_interval()
        if None in (allowed, worse, noise) or not finite(worse) or worse <= allowed + 1e-12:
            continue
        if noise[0] <= allowed + 1e-12:
            found.append(
                f"{metric.name} got worse by {worse:g} ({metric.old:g} to {metric.new:g}), more "
                f"than the {allowed:g} max_drop allows, but within chance: "
                f"{drop_range(metric)}, so the gate passes"
            )
    return found


def flatten(gates: object) -> dict[str, object]:
    """``{"minimum.roc_auc": 0.95, "beat_baseline": True, ...}`` of a gates section."""
    if not isinstance(gates, dict):
        return {} if gates is None else {"gates": gates}
    flat = {}
    for key, value in gates.items():
        if isinstance(value, dict):
            flat.update({f"{key}.{name}": limit for name, limit in value.items()})
        else:
            flat[str(key)] = value  # a key YAML reads as a number too, sorted with the others
    return flat


@dataclass(frozen=True)
class Gates:
    """The gates a pull request is held to: the base revision's, so that a pull request cannot
    lower its own; what the branch changes in them applies once it is merged."""

    applied: object  # the gates section in force
    where: str  # where it comes from, for the sentences
    proposed: dict[str, tuple[object, object]]  # key: (base value, branch value)
    branch: object  # the branch's own gates section

    def branch_problems(self, metrics: list[Metric] | list[str]) -> list[str]:
        """What is wrong in the gates the branch changes: wrong now, and once merged."""
        return problems(self.branch, metrics, "params.yaml of this branch") if self.proposed else []


def gates_for(branch_params: object, base_params: object | None, base: str) -> Gates:
    """The gates in force for a branch whose params.yaml is ``branch_params``, against a base
    whose params.yaml is ``base_params`` (None when the base has none)."""
    now = (branch_params or {}).get("gates") if isinstance(branch_params, dict) else None
    if not isinstance(base_params, dict) or base_params.get("gates") is None:
        return Gates(now, "params.yaml", {}, now)  # nothing to hold the branch to yet
    old = base_params["gates"]
    before, after = flatten(old), flatten(now)
    proposed = {
        key: (before.get(key), after.get(key))
        for key in sorted(before.keys() | after.keys())
        if before.get(key) != after.get(key)
    }
    return Gates(old, f"params.yaml on {base}", proposed, now)


def read_gates(params: Path, base: str, shown: str) -> Gates:
    """The gates in force for the workspace's ``params`` against the revision ``base``, which
    the sentences call ``shown``."""
    old = repo.file_at(base, params)
    base_params = parse_yaml(old, f"{params} on {shown}") if old is not None else None
    return gates_for(read_yaml(params), base_params, shown)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default=repo.DEFAULT_BASE, help="revision to compare against")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"), help="params.yaml")
    args = parser.parse_args()
    repo.require_revision(args.base)
    since = repo.merge_base(args.base)
    metrics = from_files(repo.diffs(since, params=False)[0], repo.generated())
    metrics = with_noise(
        metrics, repo.read(bootstrap_file()), repo.file_at(since, bootstrap_file())
    )
    gates = read_gates(args.params, since, args.base)
    metrics = directed(metrics, gates.applied, gates.branch)
    other_data = bool(repo.tracked_data(repo.changed_files(since)))
    failures = check(metrics, gates.applied, gates.where, other_data=other_data)
    if other_data:
        print("gates: the data changed, so max_drop is not judged against the base's metrics")
        if isinstance(gates.applied, dict) and gates.applied.get("max_drift") is not None:
            from .data import compared

            section = compared(since, args.params)
            share = section.drift_share if section else None
            failures += drift_failures(gates.applied, share, compared=share is not None)
    failures += gates.branch_problems(metrics)
    for passed in [] if other_data else within_noise(metrics, gates.applied):
        print(f"gates: {passed}")
    if gates.proposed:
        changed = ", ".join(f"gates.{key}" for key in gates.proposed)
        print(f"gates: this branch changes {changed}; until it is merged, {gates.where}'s apply")
    for failure in failures:
        print(f"gate failed: {failure}")
    if failures:
        sys.exit(1)
    print("gates: all pass")
