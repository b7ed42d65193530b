"""The pull request report as markdown, rendered from one :class:`~.state.PullRequest`.

Pure functions, no I/O: the gates first, then what was reproduced and tested, which stages ran,
whether the data and the model changed, the metrics and parameters against the base, and the
plots as Mermaid charts and tables that GitHub and GitLab draw without any image host.
"""

from ..contract import HIGHER, LOWER
from .gate import Metric, finite
from .markdown import cell, code
from .state import (
    AUTO_COMMIT_MESSAGE,
    IMPORT_UNREACHABLE,
    NO_REMOTE,
    NO_SECRETS,
    REMOTE_FAILED,
    UNREACHABLE_REMOTE,
    Chart,
    PullRequest,
    Run,
    summary_failed,
)

# Chart colours, in series order: the base revision in grey, this revision in blue.
PALETTE = "#9e9e9e, #1f77b4"
# Where the generated README says what a pull request check verifies for each kind of remote,
# and where CI's secrets go (GitHub's repository secrets, GitLab's CI/CD variables).
README_SECTION = "README.md, section “Pull requests and releases” (“Merge requests …” on GitLab)"
# Where they are said in a repository the package did not generate.
ELSEWHERE = "the ones `dvc-ml-kit init` printed, in the environment dvc-remote on GitHub"
ENABLE_CLOUD = (
    "store DVC's data in a cloud remote (S3, Google Cloud Storage or Azure) and give CI its "
    f"credentials as secrets: {README_SECTION} says how"
)
# Why the inputs could not be had (a run's `access`), and what makes the check verify the change.
ACCESS = {
    NO_REMOTE: ("this project has no DVC remote to fetch them from", ENABLE_CLOUD),
    UNREACHABLE_REMOTE: ("the DVC remote is a folder that CI runners cannot reach", ENABLE_CLOUD),
    NO_SECRETS: (
        "this run gets no credentials for the DVC remote (a pull request from a fork or from "
        "Dependabot, or on GitLab a branch that protected variables do not reach)",
        "a maintainer can verify it: check out the branch, run `make ci-pr` with access to the "
        "DVC remote and push the results, or push the branch to this repository",
    ),
    IMPORT_UNREACHABLE: (
        "DVC fetches them from another DVC repository (`dvc import`) each time, never from "
        "this project's remote, and this run could not (see the errors in repro.log)",
        "give CI read access to that repository and to its DVC remote, or track the file with "
        "`dvc import-url` from where that repository keeps it",
    ),
    REMOTE_FAILED: (
        "the DVC remote did not provide them (see the errors in repro.log)",
        f"check the remote's credentials in CI's secrets ({README_SECTION}) and "
        "run the check again",
    ),
}


# Where the missing inputs are kept, when not in the DVC remote.
HOLDERS = {IMPORT_UNREACHABLE: "another DVC repository"}

# GitHub refuses a comment over 65,536 characters (GitLab a note over 1,000,000): the report is
# cut to fit the smaller, and the whole one is written beside it (see :func:`within`).
LIMIT = 65_536
WHOLE = "report-full.md"
# A column whose permutation importance is at least this many times the next one's dominates
# the model: the report says so (a leak is the usual cause: a value known only after the fact).
DOMINANT = 5
# A confusion matrix shows at most this many classes (the most frequent in the test split).
MAX_CLASSES = 20


def fix_commands(results: list[str]) -> str:
    """The commands that reproduce, commit and push the results of a stale dvc.lock."""
    return "\n".join(
        [
            "dvc repro",
            f"git add {' '.join(results)}",
            f'git commit -m "{AUTO_COMMIT_MESSAGE}"',
            "dvc push --run-cache",
            "git push",
        ]
    )


def shown(value: object) -> str:
    """A gate's value as the report shows it (``—`` where there is none)."""
    return "—" if value is None else code(value)


def number(value: float | None) -> str:
    """A metric's value as the report shows it: NaN or text (a broken metrics file) as it is."""
    return "—" if value is None else f"{value:.4g}" if finite(value) else code(value)


def span(interval: tuple[float, float] | None, sign: bool = False) -> str:
    """An interval as the metrics table shows it, after its value."""
    if interval is None:
        return ""

    def end(value: float) -> str:
        return "0" if value == 0 else f"{value:+.3g}" if sign else f"{value:.3g}"

    low, high = interval
    return f" ({end(low)} to {end(high)})"


ARROWS = {HIGHER: " ↑", LOWER: " ↓", None: ""}


def metrics_table(metrics: list[Metric]) -> list[str]:
    """Each metric at the base and now, with its change and, where the metrics have one, the
    trivial baseline's value."""
    scaled = any(metric.baseline is not None for metric in metrics)
    lines = [
        "| Metric | Base | This branch | Change | Change % |" + (" Baseline |" if scaled else ""),
        "| --- | ---: | ---: | ---: | ---: |" + (" ---: |" if scaled else ""),
    ]
    for metric in metrics:
        change = percent = ""
        if finite(metric.new) and finite(metric.old):
            delta = metric.new - metric.old
            better = -metric.worse_by() if metric.worse_by() else 0
            mark = " ✅" if better > 0 else " 🔻" if better < 0 else ""
            change = f"{delta:+.4g}{mark}" if delta else "0"
            if metric.change_interval != (0, 0):  # the same model: no interval to show
                change += span(metric.change_interval, sign=True)
            percent = f"{100 * delta / abs(metric.old):+.2f} %" if metric.old and delta else ""
        lines.append(
            f"| {cell(metric.name)}{ARROWS[metric.better]} | {number(metric.old)} "
            f"| {number(metric.new)}{span(metric.interval)} | {change} | {percent} |"
            + (f" {number(metric.baseline)} |" if scaled else "")
        )
    return lines


def metrics_legend(metrics: list[Metric]) -> list[str]:
    """What the arrows and the baseline column mean."""
    line = "↑ higher is better, ↓ lower is better."
    unknown = [code(metric.name) for metric in metrics if metric.better is None]
    if unknown:
        line += (
            f" Not known for {', '.join(unknown)}: state it in `gates.directions` to gate it or "
            "see its change judged."
        )
    if any(metric.baseline is not None for metric in metrics):
        line += " Baseline: a trivial model, for scale."
    return [line, ""]


def noise_lines(pr: PullRequest) -> list[str]:
    """What the intervals in the metrics table are, and whether the changes are paired."""
    if pr.resampling is None:
        return []
    resamples, rows = pr.resampling
    paired = any(metric.change_interval for metric in pr.metrics)
    line = f"In brackets: 95% intervals from {resamples} seeded resamples of the {rows} test rows"
    if paired:
        line += "; a change's interval pairs both revisions on the same resamples."
    elif any(metric.old is not None and metric.old != metric.new for metric in pr.metrics):
        line += "; the base scored other test rows, so a change has no paired interval."
    else:
        line += "."
    return [line, ""]


def params_table(diff: dict) -> list[str]:
    changes = {key: value for values in diff.values() for key, value in values.items()}
    if not changes:
        return ["No parameter changed."]
    lines = ["| Parameter | Base | This branch |", "| --- | --- | --- |"]
    for key, value in sorted(changes.items()):
        lines.append(f"| {code(key)} | {cell(value.get('old'))} | {cell(value.get('new'))} |")
    return lines


def mermaid_chart(title: str, x_axis: str, y_axis: str, series: list[tuple[str, str]]) -> list[str]:
    """A Mermaid xychart: GitHub and GitLab draw it in the comment, no image needed. Each of
    ``series`` is a colour and a plot (``line [...]`` or ``bar [...]``); Mermaid draws them in
    order, each over the ones before. xychart has no legend: the text under it says which is
    which."""
    return [
        "```mermaid",
        "---",
        "config:",
        "  themeVariables:",
        "    xyChart:",
        f'      plotColorPalette: "{", ".join(colour for colour, _ in series)}"',
        "---",
        "xychart-beta",
        f'  title "{title}"',
        f"  x-axis {x_axis}",
        f"  y-axis {y_axis}",
        *[f"  {plot}" for _, plot in series],
        "```",
    ]


def roc_chart(old: list[dict], new: list[dict]) -> list[str]:
    """The ROC curves, read at false positive rates 0, 0.05, ..., 1: the base's in grey, this
    branch's in blue over it."""
    grid = [step / 20 for step in range(21)]

    def tpr_at(rows: list[dict]) -> str:
        points = [(float(row["fpr"]), float(row["tpr"])) for row in rows]
        values = [max((t for f, t in points if f <= x + 1e-9), default=0.0) for x in grid]
        return "line [" + ", ".join(f"{value:.3f}" for value in values) + "]"

    colours = PALETTE.split(", ")  # the base's, this branch's
    series = [
        (colour, tpr_at(rows)) for colour, rows in zip(colours, (old, new), strict=True) if rows
    ]
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
    if not {row["actual"] for row in new} & {row["actual"] for row in old}:
        old, before = [], {}  # no class in common (other data): nothing to compare
    classes = sorted({label for pair in now.keys() | before.keys() for label in pair})
    if len(classes) > MAX_CLASSES:  # the most frequent: a 500-class table fits no comment
        frequency = {label: 0 for label in classes}
        for row in new:
            frequency[row["actual"]] += 1
        kept = sorted(classes, key=lambda label: -frequency[label])[:MAX_CLASSES]
        classes = [label for label in classes if label in kept]
    lines = [
        "| actual ╲ predicted | " + " | ".join(code(label) for label in classes) + " |",
        "| --- |" + " ---: |" * len(classes),
    ]
    for actual in classes:
        cells = []
        for predicted in classes:
            value, was = now.get((actual, predicted), 0), before.get((actual, predicted), 0)
            cells.append(f"{value}" + (f" ({was})" if old and was != value else ""))
        lines.append(f"| {code(actual)} | " + " | ".join(cells) + " |")
    return lines


def residual_chart(old: list[dict], new: list[dict]) -> list[str]:
    """Share of test rows per residual range: bars for this branch (blue), and the base as a
    grey line drawn over them, so that neither hides the other."""
    values = [[float(row["residual"]) for row in rows] for rows in (old, new)]
    everything = values[0] + values[1]
    low, high = min(everything), max(everything)
    width = (high - low) / 10 or 1.0
    # Each range by its middle, to the width's second significant digit: "-98" and "1230",
    # not "-98.2" and "1.23e+03". Adding 0.0 turns a rounded -0.0 into 0.
    digits = max(0, 1 - int(f"{width:e}".split("e")[1]))
    middles = [round(low + width * (index + 0.5), digits) + 0.0 for index in range(10)]

    def shares(residuals: list[float]) -> list[float]:
        counts = [0] * 10
        for value in residuals:
            counts[min(int((value - low) / width), 9)] += 1
        return [count / len(residuals) for count in counts]

    def plot(kind: str, values: list[float]) -> str:
        return f"{kind} [" + ", ".join(f"{value:.3f}" for value in values) + "]"

    base, branch = [shares(residuals) if residuals else [] for residuals in values]
    base_colour, branch_colour = PALETTE.split(", ")
    series = [(branch_colour, plot("bar", branch))]
    series += [(base_colour, plot("line", base))] if base else []
    # From 0, so that a bar's height is its share, to the next 0.05 above the tallest.
    top = next(step / 20 for step in range(1, 21) if step / 20 >= max(base + branch))
    return mermaid_chart(
        "Residuals, actual minus predicted (test split)",
        '"residual (middle of each range)" ['
        + ", ".join(f'"{middle:.{digits}f}"' for middle in middles)
        + "]",
        f'"share of rows" 0 --> {top:g}',
        series,
    )


def importance_table(old: list[dict], new: list[dict], top: int = 10) -> list[str]:
    before = {row["feature"]: float(row["importance"]) for row in old}
    rows = sorted(new, key=lambda row: float(row["importance"]), reverse=True)[:top]
    lines = ["| Feature | Base | This branch |", "| --- | ---: | ---: |"]
    for row in rows:
        lines.append(
            f"| {code(row['feature'])} | {number(before.get(row['feature']))} "
            f"| {number(float(row['importance']))} |"
        )
    return lines


def dominance_lines(importance: list[dict]) -> list[str]:
    """A warning when one column carries the model (:data:`DOMINANT` times the next one)."""
    ranked = sorted(importance, key=lambda row: float(row["importance"]), reverse=True)
    if len(ranked) < 2 or float(ranked[0]["importance"]) <= 0:
        return []
    top, next_ = (float(row["importance"]) for row in ranked[:2])
    if top < DOMINANT * max(next_, 0):
        return []
    than = f"{top / next_:.0f} times the next column's ({number(next_)})" if next_ > 0 else ""
    return [
        f"⚠️ **One column carries the model**: {code(ranked[0]['feature'])} has a permutation "
        f"importance of {number(top)}, {than or 'and no other column has any'}. If its "
        "value is known only after the outcome (a leak), the metrics overstate what the model "
        "can do: leave it out with `data.drop_columns`.",
        "",
    ]


def plots_section(tables: dict[str, tuple[list[dict], list[dict]]]) -> list[str]:
    """The output contract's plots, each drawn as it is best read."""
    lines = []
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
        old, new = tables["predictions.csv"]
        classes = len({row["actual"] for row in new} | {row["predicted"] for row in new})
        few = (
            f", the {MAX_CLASSES} most frequent of {classes} classes"
            if classes > MAX_CLASSES
            else ""
        )
        lines += [f"**Confusion matrix** (test split{few}; base in brackets where it differs)", ""]
        lines += [*confusion_table(old, new), ""]
    if "importance.csv" in tables:
        lines += ["**Permutation importance** (test split, top 10)", ""]
        lines += [*importance_table(*tables["importance.csv"]), ""]
    return lines


def numbers(rows: list[dict], column: str) -> list[float] | None:
    """A column's values as numbers, or None if one is not a number."""
    try:
        return [float(row[column]) for row in rows]
    except (KeyError, TypeError, ValueError):
        return None


def chart_lines(chart: Chart) -> list[str]:
    """One plot that dvc.yaml declares: each of its y columns along x (numbers: read at 21
    even steps between the smallest and largest x; names: the first MAX_CLASSES rows), the
    base's in grey, this branch's in blue over it."""
    changed = "changed" if chart.changed else "unchanged"
    if chart.image:
        return [
            f"- {code(chart.path)}: an image, {changed} against the base (open it from the "
            "branch or the run's artifacts).",
            "",
        ]
    lines = []
    for column in chart.y:
        sides = []
        for rows in (chart.old, chart.new):
            xs = numbers(rows, chart.x) if chart.x else [float(i) for i in range(len(rows))]
            sides.append((xs, numbers(rows, column)) if rows else None)
        drawn = [side for side in sides if side and side[0] is not None and side[1] is not None]
        if not drawn:
            lines.append(f"- {code(chart.path)}: `{column}` is not a column of numbers here.")
            continue
        low = min(min(xs) for xs, _ in drawn if xs)
        high = max(max(xs) for xs, _ in drawn if xs)
        grid = [low + (high - low) * step / 20 for step in range(21)]
        colours = PALETTE.split(", ")
        series = [
            (colour, "line [" + ", ".join(f"{value:.4g}" for value in along(*side, grid)) + "]")
            for colour, side in zip(colours, sides, strict=True)
            if side in drawn and side[0]
        ]
        axis = cell(chart.x or "row")
        lines += mermaid_chart(
            cell(f"{chart.title}: {column}").replace('"', "'"),
            f'"{axis}" {low:.4g} --> {high:.4g}'.replace("|", "/"),
            f'"{cell(column)}"',
            series,
        )
        lines += ["", f"{code(chart.path)}, {changed}. Grey: base, blue: this branch.", ""]
    return lines


def along(xs: list[float], ys: list[float], grid: list[float]) -> list[float]:
    """``ys`` read at each point of ``grid`` along ``xs``: linearly between the nearest points
    on either side, the end's value beyond an end."""
    points = sorted(zip(xs, ys, strict=True))
    values = []
    for x in grid:
        before = [point for point in points if point[0] <= x] or points[:1]
        after = [point for point in points if point[0] >= x] or points[-1:]
        (x0, y0), (x1, y1) = before[-1], after[0]
        values.append(y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0))
    return values


def charts_section(charts: list[Chart]) -> list[str]:
    """The plots of a repository that the package did not generate."""
    return [line for chart in charts for line in chart_lines(chart)]


def pipeline_lines(pr: PullRequest) -> list[str]:
    """Which stages ran, and whether the data and the model changed against the base."""
    lines = []
    if pr.documentation is not None:
        names = ", ".join(map(code, pr.documentation))
        changed = f"{names}, documentation only" if names else "no file against the base"
        lines += [
            f"- Changed: {changed}. Nothing a stage or a test reads differs from the base, so "
            "the results and test outcomes are the base's: none re-ran.",
            "- Nothing in the pipeline changed: no stage ran.",
        ]
    elif pr.run is not None:
        for outcome in ("ran", "restored from the run-cache", "unchanged"):
            stages = [code(stage) for stage, done in pr.run.stages.items() if done == outcome]
            lines.append(f"- Stages {outcome}: {', '.join(stages) or 'none'}")
        if all(done == "unchanged" for done in pr.run.stages.values()) and not pr.run.errors:
            results = pr.data_changed or pr.model_changed
            if results or any(metric.new != metric.old for metric in pr.metrics):
                # Reproduced before this run (locally, or by an earlier run's commit).
                lines.append("- No stage had to run: dvc.lock already holds this commit's results.")
            else:
                lines.append("- Nothing in the pipeline changed: no stage ran.")
    data = ", ".join(map(code, pr.data_changed))
    if pr.data_dropped:
        dropped = ", ".join(map(code, pr.data_dropped))
        lines.append(f"- Data: {data or 'other data'}, instead of the base's {dropped}")
    else:
        lines.append(f"- Data: {'changed (' + data + ')' if data else 'unchanged'}")
    lines.append(f"- Model: {'changed' if pr.model_changed else 'unchanged'}")
    return lines


def checks(run: Run) -> list[str]:
    """The checks this run made besides reproducing, each with its outcome."""
    done = []
    if run.tests is not None:
        done.append(f"{'❌' if summary_failed(run.tests) else '✅'} tests ({run.tests})")
    if run.lint is not None:
        done.append(f"{'✅' if run.lint else '❌'} lint")
    return done


def unverified_lines(run: Run, generated: bool = True) -> list[str]:
    """The first lines when the pipeline changed but this run could not have its inputs."""
    reason, fix = ACCESS[run.access]
    if not generated:  # no generated README: the secrets are those `dvc-ml-kit init` named
        fix = fix.replace(README_SECTION, ELSEWHERE)
    stages = ", ".join(map(code, run.not_run))
    missing = ", ".join(map(code, run.missing))
    return [
        "❌ **Not verified: the pipeline changed, but this run could not reproduce it.** "
        f"Stages {stages} need inputs that only {HOLDERS.get(run.access, 'the DVC remote')} "
        f"holds ({missing}), and {reason}.",
        "",
        f"- Verified: {'; '.join(checks(run)) or 'nothing'}",
        "- Not verified: those stages, and so the quality gates. The metrics below are the "
        "committed ones, not this commit's.",
        f"- To verify it: {fix}.",
        "",
    ]


def other_data(pr: PullRequest) -> bool:
    """Whether the base's metrics come from other raw data than this revision's."""
    return pr.documentation is None and bool(pr.data_changed or pr.data_dropped)


def gate_lines(pr: PullRequest) -> list[str]:
    """The gates' verdict, or why there is none."""
    if pr.run is not None and not pr.run.reproduced:
        if pr.run.access:
            return unverified_lines(pr.run, pr.generated)
        return [
            "❌ **`dvc repro` failed**, so nothing below was reproduced for this commit:",
            "",
            *[f"    {error}" for error in pr.run.errors],
            "",
            "⚠️ **Quality gates not checked**: they apply to metrics reproduced for this commit.",
            "",
        ]
    # Without a run of `make ci-pr` on this commit, the gates read the workspace's metrics.
    where = " on the workspace's metrics" if pr.run is None and pr.documentation is None else ""
    chance = [f"- {sentence}" for sentence in pr.within_noise]
    chance = ["ℹ️ **Within chance:**", "", *chance, ""] if chance else []
    if other_data(pr):
        chance += [
            "ℹ️ The data changed, so the base's metrics were measured on other data: `max_drop`",
            "is not judged against them; the minimum, maximum and baseline gates are.",
            "",
        ]
    if pr.failures:
        lines = [f"❌ **{len(pr.failures)} quality gate(s) failed{where}:**", ""]
        return lines + [f"- {failure}" for failure in pr.failures] + [""] + chance
    return [f"✅ **All quality gates pass{where}.**", "", *chance]


def report(pr: PullRequest) -> str:
    """The whole report as markdown."""
    lines = [
        f"## Model report for {code(pr.head)} against {code(pr.base)} ({code(pr.base_commit)})",
        "",
    ]
    if pr.gates_problems:
        lines += [
            "❌ **The quality gates this pull request sets are not valid**: fix them in "
            "params.yaml.",
            "",
            *[f"- {problem}" for problem in pr.gates_problems],
            "",
        ]
    lines += gate_lines(pr)
    if pr.gates_proposed:
        lines += [
            "ℹ️ **This pull request changes the quality gates.** They apply once it is merged; "
            "until then the base's gates judge it:",
            "",
            *[
                f"- `gates.{key}`: {shown(old)} → {shown(new)}"
                for key, (old, new) in pr.gates_proposed.items()
            ],
            "",
        ]
    if pr.stale:
        lines += [
            "⚠️ **dvc.lock is out of date**: the committed results do not match the code and",
            f"parameters (reproducing changed {', '.join(map(code, pr.stale))}).",
            "Reproduce, commit and push them:",
            "",
            "```sh",
            fix_commands(pr.results),
            "```",
            "",
        ]
    elif pr.run is not None and pr.run.committed:
        lines += ["ℹ️ dvc.lock was out of date: this run committed the reproduced results.", ""]
    elif pr.run is not None and pr.run.handed_off:
        lines += [
            "ℹ️ dvc.lock was out of date: the workflow's next job commits the reproduced results",
            f"({', '.join(map(code, pr.results))}) to this branch; that push starts a new",
            "check.",
            "",
        ]
    if pr.run is not None and checks(pr.run) and not pr.run.access:  # else said above
        lines += [f"Checked: {', '.join(checks(pr.run))}", ""]
    lines += ["### Pipeline", "", *pipeline_lines(pr), ""]
    committed = pr.run is not None and not pr.run.reproduced
    scaled = any(metric.baseline is not None for metric in pr.metrics)  # the contract's
    about = ["as committed, not reproduced for this commit"] if committed else []
    about += ["test split"] if scaled and not committed else []
    about += ["the base's on different data"] if other_data(pr) else []
    lines += pr.data_section
    heading = f"### Metrics ({'; '.join(about)})" if about else "### Metrics"
    lines += [heading, "", *metrics_table(pr.metrics), ""]
    lines += metrics_legend(pr.metrics)
    lines += noise_lines(pr)
    lines += dominance_lines(pr.plots.get("importance.csv", ([], []))[1])
    lines += ["### Parameters changed", "", *params_table(pr.params), ""]
    plots = plots_section(pr.plots) + charts_section(pr.charts)
    lines += ["### Plots", "", *plots] if plots else []
    command = (
        f"make report BASE={pr.base}" if pr.generated else f"dvc-ml-kit report --base {pr.base}"
    )
    lines += [f"<sub>Made by `{command}`; the same command gives this file.</sub>"]
    return "\n".join(lines) + "\n"


def stopped(head: str, base: str, error: str, run: Run | None) -> str:
    """The report of a check that stopped before it could gather the pull request's state."""
    lines = [f"## Model report for {code(head)} against {code(base)}", ""]
    lines += [f"❌ **The check stopped: {error}.** Nothing after that was checked.", ""]
    if run is not None and checks(run):
        lines += [f"Checked: {', '.join(checks(run))}", ""]
    return "\n".join(lines) + "\n"


def within(text: str, limit: int = LIMIT) -> str:
    """``text`` if it fits in ``limit`` characters; else its sections (``### ``) from the first,
    as many as fit, then a line naming those left out and where the whole report is."""
    if len(text) <= limit:
        return text
    sections = text.split("\n<sub>")[0].split("\n### ")  # the footer line would say "the same"
    kept, cut = sections[:1], [section.split("\n", 1)[0] for section in sections[1:]]

    def note() -> str:
        return (
            f"✂️ **Cut to fit a comment** (GitHub takes at most {LIMIT:,} characters): left out "
            f"{', '.join(cut)}. The whole report is `{WHOLE}`: in the job summary and the run's "
            "artifacts, and beside report.md where `make report` ran.\n"
        )

    room = limit - 400  # the note's own length, with any names it lists, is under this
    for section in sections[1:]:
        if len("\n### ".join([*kept, section])) > room - len(note()):
            break
        kept.append(section)
        cut.pop(0)
    head = "\n### ".join(kept)
    if len(head) > room - len(note()):  # the first section alone is too long (repro's errors)
        cut.insert(0, "the rest of the first section")
        head = head[: head.rfind("\n", 0, room - len(note()))] + "\n\n…"
    return f"{head.rstrip()}\n\n{note()}"
