"""report: what a change does to the model, as markdown for the pull request comment.

``make report`` (``python -m <package>.report --base origin/main``) writes report.md from the
workspace and the base revision: the quality gates first, then which stages ran, whether the data
and the model changed, the metrics and parameters against the base, and the plots as Mermaid
charts and tables that GitHub draws without any image host. The same command makes the same file
locally and in CI.
"""

import argparse
import csv
import io
import json
import re
import subprocess
from fnmatch import fnmatch
from pathlib import Path

from ruamel.yaml import YAML

from {{ cookiecutter.module_name }}.gate import (
    LOWER_IS_BETTER,
    Metric,
    check,
    merge_base,
    read_gates,
    read_metrics,
    run_dvc,
    unchanged_metrics,
)
from {{ cookiecutter.module_name }}.stage import UserError, run

PLOTS = "metrics/plots"
# Where `make ci-pr` keeps the output of `dvc repro` and of the tests, for the report.
REPRO_LOG = Path("repro.log")
TESTS_LOG = Path("pytest.log")
# First line of repro.log: the commit `make ci-pr` ran on.
LOG_HEADER = "# make ci-pr on "
# Files whose content `dvc repro` writes and Git keeps: they change together with the lock.
RESULTS = ("dvc.lock", "metrics")
# The message of the commit `make ci-pr` adds when it commits a reproduced lock (AUTO_COMMIT=1).
AUTO_COMMIT_MESSAGE = "Reproduce the pipeline: update dvc.lock and metrics"
FIX_COMMANDS = f"""\
dvc repro
git add {" ".join(RESULTS)}
git commit -m "{AUTO_COMMIT_MESSAGE}"
dvc push --run-cache
git push"""
# What `dvc repro` prints for each stage, and how the report names it.
OUTCOMES = {
    r"Running stage '([\w-]+)'": "ran",
    r"Stage '([\w-]+)' is cached - skipping run": "restored from the run-cache",
    r"Stage '([\w-]+)' didn't change, skipping": "unchanged",
}
# Documentation: no stage, test or setting reads these files (unless a stage lists one in its
# deps), so a change to them alone leaves every result and test outcome as on the base.
DOCUMENTATION = ("*.md", "*.rst", "docs/*", "LICENSE*", "licenses/*")
# Chart colours, in series order: the base revision in grey, this revision in blue.
PALETTE = "#9e9e9e, #1f77b4"


def git(*args: str) -> str | None:
    """Output of a git command, or None when it fails (a file missing at a revision)."""
    done = subprocess.run(["git", *args], capture_output=True, text=True)
    return done.stdout if done.returncode == 0 else None


def stage_outcomes(log: str) -> dict[str, str]:
    """``{stage: outcome}`` from the output of ``dvc repro``, in the order stages appear."""
    outcomes = {}
    for line in log.splitlines():
        for pattern, outcome in OUTCOMES.items():
            match = re.search(pattern, line)
            if match:
                outcomes.setdefault(match[1], outcome)
    return outcomes


def repro_errors(log: str) -> list[str]:
    """Error lines of a failed ``dvc repro`` (DVC's own and the stages' one-line errors), each
    with the two lines after it, where DVC names the files concerned."""
    lines = [line.strip() for line in log.splitlines()]
    errors = []
    for index, line in enumerate(lines):
        if re.match(r"(ERROR|error):", line):
            errors += [line, *[more for more in lines[index + 1 : index + 3] if more]]
    return list(dict.fromkeys(errors))


def lock_entries(text: str | None) -> dict[str, str]:
    """``{path: md5}`` of every dependency and output recorded in a dvc.lock text."""
    entries = {}
    document = YAML(typ="safe", pure=True).load(text) if text else None
    for stage in ((document or {}).get("stages") or {}).values():
        for item in [*(stage.get("deps") or []), *(stage.get("outs") or [])]:
            entries[item["path"]] = item.get("md5")
    return entries


def changed_files(base: str) -> list[str]:
    """Files tracked by the pipeline (deps and outputs) or by ``dvc add`` whose content differs
    from ``base``."""
    changed = set()
    old_lock = git("show", f"{base}:dvc.lock")
    if old_lock is not None:
        old = lock_entries(old_lock)
        new = lock_entries(Path("dvc.lock").read_text(encoding="utf-8"))
        changed = {path for path in new.keys() | old.keys() if old.get(path) != new.get(path)}
    # Data tracked with `dvc add` changes in its .dvc file, even when reproducing failed.
    tracked = git("diff", "--name-only", base, "--", "*.dvc") or ""
    changed.update(name.removesuffix(".dvc") for name in tracked.split())
    return sorted(changed)


def documentation_only(base: str) -> list[str] | None:
    """The files that differ from ``base`` (committed or not) if all of them are documentation
    that no stage depends on, else None."""
    committed = git("diff", "--name-only", "-z", base)
    untracked = git("ls-files", "--others", "--exclude-standard", "-z")
    if committed is None or untracked is None:
        return None
    changed = sorted(set(filter(None, (committed + untracked).split("\0"))))
    read_by_stages = lock_entries(read(Path("dvc.lock")))
    for name in changed:
        documentation = any(fnmatch(name, pattern) for pattern in DOCUMENTATION)
        if not documentation or any(
            name == path or name.startswith(path.rstrip("/") + "/") for path in read_by_stages
        ):
            return None
    return changed


def uncommitted_results() -> list[str]:
    """Reproduced files that differ from the commit: the committed dvc.lock was stale."""
    status = git("status", "--porcelain", "--untracked-files=all", "--", *RESULTS) or ""
    return sorted(line[3:] for line in status.splitlines())


def read_csv(text: str | None) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text))) if text else []


def plot_tables(base: str) -> dict[str, tuple[list[dict], list[dict]]]:
    """``{file name: (rows at base, rows now)}`` for each plot CSV file."""
    tables = {}
    for path in sorted(Path(PLOTS).glob("*.csv")):
        old = read_csv(git("show", f"{base}:{path.as_posix()}"))
        tables[path.name] = (old, read_csv(path.read_text(encoding="utf-8")))
    return tables


def number(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def metrics_table(metrics: list[Metric]) -> list[str]:
    lines = [
        "| Metric | Base | This branch | Change | Change % | Baseline |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for metric in metrics:
        change = percent = ""
        if metric.new is not None and metric.old is not None:
            delta = metric.new - metric.old
            better = -metric.worse_by() if metric.worse_by() else 0
            mark = " ✅" if better > 0 else " 🔻" if better < 0 else ""
            change = f"{delta:+.4g}{mark}" if delta else "0"
            percent = f"{100 * delta / abs(metric.old):+.2f} %" if metric.old and delta else ""
        arrow = "↓" if metric.name in LOWER_IS_BETTER else "↑"
        lines.append(
            f"| {metric.name} {arrow} | {number(metric.old)} | {number(metric.new)} | {change} "
            f"| {percent} | {number(metric.baseline)} |"
        )
    return lines


def params_table(diff: dict) -> list[str]:
    changes = {key: value for values in diff.values() for key, value in values.items()}
    if not changes:
        return ["No parameter changed."]
    lines = ["| Parameter | Base | This branch |", "| --- | --- | --- |"]
    for key, value in sorted(changes.items()):
        lines.append(f"| `{key}` | {value.get('old')} | {value.get('new')} |")
    return lines


def mermaid_chart(title: str, x_axis: str, y_axis: str, series: list[str]) -> list[str]:
    """A Mermaid xychart: GitHub draws it in the comment, no image needed. With two series the
    first (the base) is grey; a single series is this branch's, in blue."""
    palette = PALETTE if len(series) > 1 else PALETTE.split(", ")[-1]
    return [
        "```mermaid",
        "---",
        "config:",
        "  themeVariables:",
        "    xyChart:",
        f'      plotColorPalette: "{palette}"',
        "---",
        "xychart-beta",
        f'  title "{title}"',
        f"  x-axis {x_axis}",
        f"  y-axis {y_axis}",
        *[f"  {line}" for line in series],
        "```",
    ]


def roc_chart(old: list[dict], new: list[dict]) -> list[str]:
    """The ROC curves, read at false positive rates 0, 0.05, ..., 1."""
    grid = [step / 20 for step in range(21)]

    def tpr_at(rows: list[dict]) -> str:
        points = [(float(row["fpr"]), float(row["tpr"])) for row in rows]
        values = [max((t for f, t in points if f <= x + 1e-9), default=0.0) for x in grid]
        return "line [" + ", ".join(f"{value:.3f}" for value in values) + "]"

    series = [tpr_at(rows) for rows in (old, new) if rows]
    return mermaid_chart(
        "ROC curve (test split)",
        '"false positive rate" 0 --> 1',
        '"true positive rate" 0 --> 1',
        series,
    )


def confusion_table(old: list[dict], new: list[dict]) -> list[str]:
    """Counts of actual (rows) by predicted (columns) class; the base's count in brackets."""

    def counts(rows: list[dict]) -> dict[tuple[str, str], int]:
        result: dict[tuple[str, str], int] = {}
        for row in rows:
            key = (row["actual"], row["predicted"])
            result[key] = result.get(key, 0) + 1
        return result

    now, before = counts(new), counts(old)
    classes = sorted({label for pair in now.keys() | before.keys() for label in pair})
    lines = [
        "| actual ╲ predicted | " + " | ".join(f"`{label}`" for label in classes) + " |",
        "| --- |" + " ---: |" * len(classes),
    ]
    for actual in classes:
        cells = []
        for predicted in classes:
            value, was = now.get((actual, predicted), 0), before.get((actual, predicted), 0)
            cells.append(f"{value}" + (f" ({was})" if old and was != value else ""))
        lines.append(f"| `{actual}` | " + " | ".join(cells) + " |")
    return lines


def residual_chart(old: list[dict], new: list[dict]) -> list[str]:
    """Share of test rows per residual range: bars for this branch, a line for the base."""
    values = [[float(row["residual"]) for row in rows] for rows in (old, new)]
    everything = values[0] + values[1]
    low, high = min(everything), max(everything)
    width = (high - low) / 10 or 1.0
    labels = [f"{low + width * (index + 0.5):.3g}" for index in range(10)]

    def shares(residuals: list[float]) -> str:
        counts = [0] * 10
        for value in residuals:
            counts[min(int((value - low) / width), 9)] += 1
        return ", ".join(f"{count / len(residuals):.3f}" for count in counts)

    series = ([f"line [{shares(values[0])}]"] if values[0] else []) + [f"bar [{shares(values[1])}]"]
    return mermaid_chart(
        "Residuals, actual minus predicted (test split)",
        "[" + ", ".join(f'"{label}"' for label in labels) + "]",
        '"share of rows"',
        series,
    )


def importance_table(old: list[dict], new: list[dict], top: int = 10) -> list[str]:
    before = {row["feature"]: float(row["importance"]) for row in old}
    rows = sorted(new, key=lambda row: float(row["importance"]), reverse=True)[:top]
    lines = ["| Feature | Base | This branch |", "| --- | ---: | ---: |"]
    for row in rows:
        lines.append(
            f"| `{row['feature']}` | {number(before.get(row['feature']))} "
            f"| {number(float(row['importance']))} |"
        )
    return lines


def plots_section(tables: dict[str, tuple[list[dict], list[dict]]]) -> list[str]:
    lines = ["### Plots", ""]
    if "roc.csv" in tables:
        lines += [*roc_chart(*tables["roc.csv"]), "", "Grey: base, blue: this branch.", ""]
    if "residuals.csv" in tables:
        lines += [
            *residual_chart(*tables["residuals.csv"]),
            "",
            "Grey: base, blue: this branch.",
            "",
        ]
    if "predictions.csv" in tables and "roc.csv" in tables:
        lines += ["**Confusion matrix** (test split; base in brackets where it differs)", ""]
        lines += [*confusion_table(*tables["predictions.csv"]), ""]
    if "importance.csv" in tables:
        lines += ["**Permutation importance** (test split, top 10)", ""]
        lines += [*importance_table(*tables["importance.csv"]), ""]
    return lines


def plot_images(base: str, folder: Path) -> list[str]:
    """Opt-in: DVC's plots of both revisions as PNG files in ``folder``, linked in markdown for
    ``cml comment update --publish`` to upload. Needs the vl-convert-python package."""
    try:
        import vl_convert
    except ImportError:
        raise UserError(
            "images of the plots need vl-convert-python: `uv pip install vl-convert-python`"
        ) from None
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for path, entries in run_dvc("plots", "diff", base)["data"].items():
        for entry in entries:
            image = folder / f"{Path(path).stem}.png"
            image.write_bytes(vl_convert.vegalite_to_png(json.dumps(entry["content"])))
            lines += [f"![{Path(path).stem}]({image.as_posix()})", ""]
    return lines


def pipeline_lines(base: str, log: str | None, documentation: list[str] | None) -> list[str]:
    """Which stages ran, and whether the data and the model changed against ``base``."""
    lines = []
    if documentation is not None:
        names = ", ".join(f"`{name}`" for name in documentation) or "no file"
        lines += [
            f"- Changed: {names}, documentation only. Nothing a stage or a test reads differs "
            "from the base, so the results and test outcomes are the base's: none re-ran.",
            "- Nothing in the pipeline changed: no stage ran.",
        ]
    elif log is not None:
        outcomes = stage_outcomes(log)
        for outcome in ("ran", "restored from the run-cache", "unchanged"):
            stages = [f"`{stage}`" for stage, done in outcomes.items() if done == outcome]
            lines.append(f"- Stages {outcome}: {', '.join(stages) or 'none'}")
        if not any(done != "unchanged" for done in outcomes.values()) and not repro_errors(log):
            lines.append("- Nothing in the pipeline changed: no stage ran.")
    changed = changed_files(base)
    data_files = [path for path in changed if path.startswith("data/raw/")]
    lines.append(
        f"- Data: {'changed (' + ', '.join(data_files) + ')' if data_files else 'unchanged'}"
    )
    model = "changed" if any(path.startswith("models/") for path in changed) else "unchanged"
    lines.append(f"- Model: {model}")
    return lines


def read(path: Path) -> str | None:
    """The text of ``path``, or None if there is no such file."""
    return path.read_text(encoding="utf-8") if path.is_file() else None


def logs_of_this_commit() -> tuple[str | None, str | None]:
    """The logs of `make ci-pr`, if it ran on this commit (or made it, to commit the lock)."""
    log = read(REPRO_LOG)
    if not log or not log.startswith(LOG_HEADER):
        return None, None
    ran_on = log.splitlines()[0].removeprefix(LOG_HEADER)
    head = (git("rev-parse", "HEAD") or "").strip()
    parent = (git("rev-parse", "--quiet", "--verify", "HEAD^") or "").strip()
    subject = (git("log", "-1", "--format=%s") or "").strip()
    if ran_on == head or (ran_on == parent and subject == AUTO_COMMIT_MESSAGE):
        return log, read(TESTS_LOG)
    return None, None


def summarize_tests(tests: str) -> str:
    """pytest's summary line (``12 passed in 3.1s``), with a mark for pass or fail."""
    summary = [line.strip("= ") for line in tests.splitlines() if line.startswith("=")]
    text = summary[-1] if summary else "no summary"
    failed = re.search(r"\b(failed|error|errors)\b", text) or "passed" not in text
    return f"{'❌' if failed else '✅'} Tests: {text}"


def build(
    base: str,
    log: str | None = None,
    tests: str | None = None,
    params: Path = Path("params.yaml"),
    images: Path | None = None,
) -> tuple[str, list[str]]:
    """The whole report as markdown, and the failing gates."""
    head = (git("rev-parse", "--short", "HEAD") or "workspace").strip()
    name, base = base, merge_base(base)
    base_commit = (git("rev-parse", "--short", base) or "?").strip()
    documentation = documentation_only(base)
    metrics = read_metrics(base) if documentation is None else unchanged_metrics()
    failures = check(metrics, read_gates(params))
    errors = repro_errors(log) if log else []
    stale = uncommitted_results()

    lines = [f"## Model report for `{head}` against `{name}` (`{base_commit}`)", ""]
    if errors:
        lines += ["❌ **`dvc repro` failed**, so the results below are the committed ones:", ""]
        lines += [f"    {error}" for error in errors] + [""]
    checked = " on the committed metrics" if errors else ""
    if failures:
        lines += [f"❌ **{len(failures)} quality gate(s) failed{checked}:**", ""]
        lines += [f"- {failure}" for failure in failures] + [""]
    else:
        lines += [f"{'⚠️' if errors else '✅'} **All quality gates pass{checked}.**", ""]
    if stale:
        lines += [
            "⚠️ **dvc.lock is out of date**: the committed results do not match the code and",
            f"parameters (reproducing changed {', '.join(f'`{p}`' for p in stale)}).",
            "Reproduce, commit and push them:",
            "",
            "```sh",
            FIX_COMMANDS,
            "```",
            "",
        ]
    elif log is not None and (git("log", "-1", "--format=%s") or "").strip() == AUTO_COMMIT_MESSAGE:
        lines += ["ℹ️ dvc.lock was out of date: this run committed the reproduced results.", ""]
    if tests is not None:
        lines += [summarize_tests(tests), ""]
    lines += ["### Pipeline", "", *pipeline_lines(base, log, documentation), ""]
    lines += ["### Metrics (test split)", "", *metrics_table(metrics), ""]
    lines += ["↑ higher is better, ↓ lower is better. Baseline: a trivial model, for scale.", ""]
    params_diff = run_dvc("params", "diff", base) if documentation is None else {}
    lines += ["### Parameters changed", "", *params_table(params_diff), ""]
    lines += plots_section(plot_tables(base))
    if images is not None:
        lines += plot_images(base, images)
    lines += [f"<sub>Made by `make report BASE={name}`; the same command gives this file.</sub>"]
    return "\n".join(lines) + "\n", failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="origin/main", help="revision to compare against")
    parser.add_argument("--out", type=Path, default=Path("report.md"), help="file to write")
    parser.add_argument("--images", type=Path, help="also draw the plots as PNG files here")
    args = parser.parse_args()
    # The logs of `make ci-pr` on this commit, if any, say which stages ran and how tests went.
    text, _ = build(args.base, *logs_of_this_commit(), images=args.images)
    args.out.write_text(text, encoding="utf-8")
    print(f"report: wrote {args.out}")


if __name__ == "__main__":
    raise SystemExit(run(main))
