"""The report's markdown, rendered from a pull request state built in memory, for both tasks."""

import re

import pytest

from dvc_ml_kit.ci.gate import (
    Metric,
)
from dvc_ml_kit.ci.render import (
    LIMIT,
    WHOLE,
    confusion_table,
    dominance_lines,
    importance_table,
    metrics_table,
    params_table,
    plots_section,
    report,
    residual_chart,
    roc_chart,
    stopped,
    within,
)
from dvc_ml_kit.ci.report import save
from dvc_ml_kit.ci.state import (
    IMPORT_UNREACHABLE,
    NO_REMOTE,
    NO_SECRETS,
    REMOTE_FAILED,
    UNREACHABLE_REMOTE,
    PullRequest,
    Run,
)
from dvc_ml_kit.contract import (
    PLOTS,
)


def rows(**columns: list) -> list[dict[str, str]]:
    """Plot rows as csv.DictReader gives them: every value a string."""
    names, values = list(columns), zip(*columns.values(), strict=True)
    return [dict(zip(names, map(str, row), strict=True)) for row in values]


IMPORTANCE = rows(feature=["age", "plan", "noise"], importance=[0.2, 0.05, 0.0])
PLOT_ROWS = {
    "classification": {
        "predictions.csv": rows(
            actual=["yes", "yes", "no", "no"], predicted=["yes", "no", "no", "no"]
        ),
        "roc.csv": rows(fpr=[0, 0, 0.5, 1], tpr=[0, 0.5, 1, 1]),
        "importance.csv": IMPORTANCE,
    },
    "regression": {
        "predictions.csv": rows(actual=[1.0, 2.0, 3.0, 4.0], predicted=[1.5, 2.0, 2.5, 4.5]),
        "residuals.csv": rows(predicted=[1.5, 2.0, 2.5, 4.5], residual=[-0.5, 0.0, 0.5, -0.5]),
        "importance.csv": IMPORTANCE,
    },
}
METRICS = {
    "classification": [
        Metric("balanced_accuracy", new=0.95, old=0.93, baseline=0.5),
        Metric("log_loss", new=0.12, old=0.1, baseline=0.66),
    ],
    "regression": [
        Metric("r2", new=0.45, old=0.4, baseline=-0.01),
        Metric("rmse", new=52.0, old=54.0, baseline=73.0),
    ],
}


def state(task: str, **changes) -> PullRequest:
    """A pull request that ran train and evaluate, with the plots unchanged against the base."""
    values = {
        "head": "abc1234",
        "base": "origin/main",
        "base_commit": "def5678",
        "run": Run(
            commit="abc1234",
            stages={"prepare": "unchanged", "train": "ran", "evaluate": "ran"},
            tests="12 passed in 3.0s",
            lint=True,
        ),
        "documentation": None,
        "results": ["dvc.lock", "metrics"],
        "stale": [],
        "data_changed": [],
        "model_changed": True,
        "metrics": METRICS[task],
        "failures": [],
        "gates_proposed": {},
        "gates_problems": [],
        "params": {"params.yaml": {"train.seed": {"old": 1, "new": 2}}},
        "plots": {name: (table, table) for name, table in PLOT_ROWS[task].items()},
    }
    return PullRequest(**{**values, **changes})


def test_plot_fixtures_follow_the_output_contract():
    for task, tables in PLOT_ROWS.items():
        assert set(tables) == set(PLOTS[task])
        for name, plot in PLOTS[task].items():
            assert set(tables[name][0]) == {plot.x, plot.y}


def test_metrics_table_shows_change_percent_and_baseline():
    table = metrics_table([Metric("log_loss", new=0.08, old=0.1, baseline=0.66)])
    assert table[2] == "| log_loss ↓ | 0.1 | 0.08 | -0.02 ✅ | -20.00 % | 0.66 |"
    table = metrics_table([Metric("r2", new=0.4, old=0.5, baseline=0.0)])
    assert table[2] == "| r2 ↑ | 0.5 | 0.4 | -0.1 🔻 | -20.00 % | 0 |"
    table = metrics_table([Metric("rmse", new=50.0, old=50.0, baseline=70.0)])
    assert table[2] == "| rmse ↓ | 50 | 50 | 0 |  | 70 |"
    assert metrics_table([Metric("mae", new=3.0)])[2] == "| mae ↓ | — | 3 |  |  |"


def test_params_table_lists_changed_keys():
    diff = {"params.yaml": {"train.seed": {"old": 1, "new": 2}}}
    assert params_table(diff)[2] == "| `train.seed` | 1 | 2 |"
    assert params_table({}) == ["No parameter changed."]


def test_roc_chart_is_a_mermaid_chart_with_one_line_per_revision():
    roc = PLOT_ROWS["classification"]["roc.csv"]
    chart = roc_chart(roc, roc)
    assert chart[0] == "```mermaid" and chart[-1] == "```"
    lines = [line.strip() for line in chart if line.strip().startswith("line [")]
    assert len(lines) == 2
    assert lines[0] == "line [" + ", ".join(["0.500"] * 10 + ["1.000"] * 11) + "]"
    # Without a base (a new plot), one line in this branch's colour.
    assert sum(line.strip().startswith("line [") for line in roc_chart([], roc)) == 1
    assert '      plotColorPalette: "#1f77b4"' in roc_chart([], roc)


def test_confusion_table_counts_actual_by_predicted_with_the_base_where_it_differs():
    new = PLOT_ROWS["classification"]["predictions.csv"]
    old = rows(actual=["yes", "yes", "no", "no"], predicted=["yes", "yes", "no", "no"])
    assert confusion_table(old, new) == [
        "| actual ╲ predicted | `no` | `yes` |",
        "| --- | ---: | ---: |",
        "| `no` | 2 | 0 |",
        "| `yes` | 1 (0) | 1 (2) |",
    ]


def test_confusion_table_of_other_classes_than_the_base_has_no_brackets():
    # The pull request that switches to other data: its classes are not the sample's.
    new = PLOT_ROWS["classification"]["predictions.csv"]
    old = rows(actual=["benign", "malignant"], predicted=["benign", "benign"])
    assert confusion_table(old, new) == confusion_table([], new)
    assert "benign" not in "".join(confusion_table(old, new))


def test_residual_chart_shares_sum_to_one_per_series():
    residuals = PLOT_ROWS["regression"]["residuals.csv"]
    chart = residual_chart(residuals, residuals)
    series = [line.strip() for line in chart if re.match(r"\s+(bar|line) \[", line)]
    # This branch's bars first, the base's line drawn over them, each in its colour.
    assert [line.split()[0] for line in series] == ["bar", "line"]
    assert '      plotColorPalette: "#1f77b4, #9e9e9e"' in chart
    for line in series:
        shares = [float(value) for value in re.findall(r"[\d.]+", line)]
        assert len(shares) == 10 and sum(shares) == pytest.approx(1.0, abs=0.01)
    assert '      plotColorPalette: "#1f77b4"' in residual_chart([], residuals)


def test_residual_chart_axes_read_plainly():
    # Residuals in the thousands: plain labels, no exponent; the bars' heights from 0.
    residuals = rows(residual=[-1500.0, -20.0, 0.0, 10.0, 2500.0])
    chart = residual_chart([], residuals)
    (x_axis,) = [line for line in chart if line.startswith("  x-axis")]
    assert x_axis == (
        '  x-axis "residual (middle of each range)" '
        '["-1300", "-900", "-500", "-100", "300", "700", "1100", "1500", "1900", "2300"]'
    )
    assert '  y-axis "share of rows" 0 --> 0.6' in chart  # the tallest bar: 3 rows of 5
    small = residual_chart([], rows(residual=[-0.04, 0.0, 0.06]))
    assert '"-0.035", "-0.025", "-0.015", "-0.005", "0.005"' in "".join(small)


def test_importance_table_is_largest_first_with_the_base():
    old = rows(feature=["age", "plan"], importance=[0.1, 0.05])
    table = importance_table(old, IMPORTANCE, top=2)
    assert table[2:] == ["| `age` | 0.1 | 0.2 |", "| `plan` | 0.05 | 0.05 |"]
    assert importance_table([], IMPORTANCE)[4] == "| `noise` | — | 0 |"


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_plots_section_per_task(task):
    text = "\n".join(plots_section(state(task).plots))
    assert "**Permutation importance**" in text
    if task == "classification":
        assert 'title "ROC curve (test split)"' in text and "**Confusion matrix**" in text
        assert "Residuals" not in text
    else:
        assert 'title "Residuals, actual minus predicted (test split)"' in text
        assert "ROC" not in text and "Confusion" not in text


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_report_of_a_passing_change(task):
    text = report(state(task))
    assert text.startswith("## Model report for `abc1234` against `origin/main` (`def5678`)\n")
    first = [line for line in text.splitlines() if line][1]
    assert first == "✅ **All quality gates pass.**"
    assert "Checked: ✅ tests (12 passed in 3.0s), ✅ lint" in text
    assert "- Stages ran: `train`, `evaluate`" in text
    assert "- Stages unchanged: `prepare`" in text
    assert "- Model: changed" in text and "- Data: unchanged" in text
    assert f"| {METRICS[task][0].name} ↑ |" in text
    assert "| `train.seed` | 1 | 2 |" in text
    assert text.endswith("the same command gives this file.</sub>\n")


def test_failing_gates_come_first_and_name_the_metric():
    failures = ["balanced_accuracy is 0.5, below the minimum of 0.9"]
    text = report(state("classification", failures=failures))
    lines = [line for line in text.splitlines() if line]
    assert lines[1] == "❌ **1 quality gate(s) failed:**"
    assert lines[2] == f"- {failures[0]}"


def test_a_failed_repro_is_said_first_and_the_gates_are_not_checked():
    error = "error: data/raw/x.csv has no column 'y'"
    run = Run(commit="abc1234", errors=[error], tests="1 passed")
    failures = ["r2 is 0.1, below the minimum of 0.3"]
    text = report(state("regression", run=run, failures=failures))
    lines = [line for line in text.splitlines() if line]
    assert lines[1].startswith("❌ **`dvc repro` failed**")
    assert lines[2] == "    error: data/raw/x.csv has no column 'y'"
    assert lines[3].startswith("⚠️ **Quality gates not checked**")
    # Neither a pass nor a failure is claimed on metrics this commit did not reproduce.
    assert "gates pass" not in text and failures[0] not in text
    assert "### Metrics (as committed, not reproduced for this commit)" in text


@pytest.mark.parametrize(
    "access, reason, fix",
    [
        (NO_REMOTE, "this project has no DVC remote", "store DVC's data in a cloud remote"),
        (UNREACHABLE_REMOTE, "is a folder that CI runners cannot", "store DVC's data in a cloud"),
        (NO_SECRETS, "a pull request from a fork", "a maintainer can verify it"),
        (REMOTE_FAILED, "did not provide them", "check the remote's credentials"),
        (IMPORT_UNREACHABLE, "from another DVC repository (`dvc import`)", "give CI read access"),
    ],
)
def test_a_change_that_could_not_be_reproduced_says_what_was_and_was_not_verified(
    access, reason, fix
):
    run = Run(
        commit="abc1234",
        stages={"prepare": "unchanged"},
        errors=["ERROR: failed to reproduce 'train'"],
        tests="12 passed in 3.0s",
        lint=True,
        access=access,
        not_run=["train", "evaluate"],
        missing=["data/prepared/train.parquet"],
    )
    text = report(state("classification", run=run))
    lines = [line for line in text.splitlines() if line]
    assert lines[1].startswith(
        "❌ **Not verified: the pipeline changed, but this run could not reproduce it.** "
        "Stages `train`, `evaluate` need inputs that only "
        + ("another DVC repository" if access == IMPORT_UNREACHABLE else "the DVC remote")
        + " holds (`data/prepared/train.parquet`), and "
    )
    assert reason in lines[1]
    assert lines[2] == "- Verified: ✅ tests (12 passed in 3.0s); ✅ lint"
    assert lines[3].startswith("- Not verified: those stages, and so the quality gates.")
    assert lines[4].startswith("- To verify it: ") and fix in lines[4]
    assert "gates pass" not in text and "ERROR: failed" not in text  # no DVC traceback
    assert "Checked:" not in text  # said once, in the first lines


def test_a_check_that_stopped_says_why_first():
    run = Run(commit="abc1234", tests="1 failed, 2 passed in 1.0s")
    text = stopped("abc1234", "origin/main", "params.yaml is not valid YAML at line 3", run)
    assert text.splitlines()[2] == (
        "❌ **The check stopped: params.yaml is not valid YAML at line 3.** "
        "Nothing after that was checked."
    )
    assert "Checked: ❌ tests (1 failed, 2 passed in 1.0s)" in text


def test_without_a_check_on_this_commit_the_gates_say_which_metrics_they_read():
    text = report(state("classification", run=None))
    assert "✅ **All quality gates pass on the workspace's metrics.**" in text


def test_a_stale_lock_gives_the_commands_that_fix_it():
    text = report(state("classification", stale=["dvc.lock", "metrics/metrics.json"]))
    assert "⚠️ **dvc.lock is out of date**" in text
    assert "dvc repro\ngit add dvc.lock metrics\n" in text
    committed = Run(commit="abc1234", stages={"train": "ran"}, committed=True)
    assert "this run committed the reproduced results" in report(state("regression", run=committed))
    handed = Run(commit="abc1234", stages={"train": "ran"}, handed_off=True)
    text = report(state("regression", run=handed))
    assert "the workflow's next job commits the reproduced results" in text
    assert "out of date**" not in text


def test_a_documentation_only_change_says_nothing_ran():
    text = report(state("regression", run=None, documentation=["README.md"], params={}))
    assert "- Changed: `README.md`, documentation only." in text
    nothing = report(state("regression", run=None, documentation=[], params={}))
    assert "- Changed: no file against the base. Nothing a stage or a test reads" in nothing
    assert "- Nothing in the pipeline changed: no stage ran." in text
    assert "Tests:" not in text
    assert "No parameter changed." in text


def test_results_reproduced_before_the_run_are_not_called_unchanged():
    settled = Run(commit="abc1234", stages={"prepare": "unchanged", "train": "unchanged"})
    text = report(state("classification", run=settled))  # the model differs from the base's
    assert "- No stage had to run: dvc.lock already holds this commit's results." in text
    assert "Nothing in the pipeline changed" not in text
    same = [Metric(metric.name, new=metric.new, old=metric.new) for metric in METRICS["regression"]]
    text = report(state("regression", run=settled, model_changed=False, metrics=same))
    assert "- Nothing in the pipeline changed: no stage ran." in text


def test_proposed_gate_changes_are_shown_as_applying_once_merged():
    proposed = {"beat_baseline": (True, False), "minimum.roc_auc": (0.95, None)}
    problems = ["gates.minimun in params.yaml of this branch is not a gate: use minimum"]
    text = report(state("classification", gates_proposed=proposed, gates_problems=problems))
    assert "ℹ️ **This pull request changes the quality gates.** They apply once it is merged" in text
    assert "- `gates.beat_baseline`: `True` → `False`" in text
    assert "- `gates.minimum.roc_auc`: `0.95` → —" in text
    # Gates the branch sets wrong fail the check, and the report says so first.
    first = [line for line in text.splitlines() if line][1]
    assert first.startswith("❌ **The quality gates this pull request sets are not valid**")
    assert f"- {problems[0]}" in text


def cells(line: str) -> list[str]:
    """A markdown table row's cells, as GitHub splits them: at pipes not escaped."""
    return re.split(r"(?<!\\)\|", line.strip().strip("|"))


ODD_NAMES = ["a|b", "x`y", "`edge`", "two\nlines", "  ", "x``|``y"]


def test_names_that_are_markdown_do_not_break_a_table():
    predictions = rows(actual=ODD_NAMES * 2, predicted=ODD_NAMES[::-1] * 2)
    importance = rows(feature=ODD_NAMES, importance=[0.1] * len(ODD_NAMES))
    params = {"params.yaml": {f"train.{name}": {"old": name, "new": 2} for name in ODD_NAMES}}
    plots = {"predictions.csv": (predictions, predictions), "importance.csv": (importance, [])}
    plots["roc.csv"] = PLOT_ROWS["classification"]["roc.csv"], []
    metrics = [Metric(name, new=1.0, old=0.5) for name in ODD_NAMES]
    text = report(state("classification", plots=plots, params=params, metrics=metrics))
    tables = re.findall(r"(?:^\|.*\n)+", text, flags=re.MULTILINE)
    assert len(tables) == 4  # metrics, parameters, confusion matrix, importance
    for table in tables:
        widths = {len(cells(line)) for line in table.splitlines()}
        assert len(widths) == 1, table
    # Each name is one code span that holds it whole (its pipes escaped, as GFM reads them).
    assert "| ``x`y`` |" in text and "`` `edge` ``" in text and "`two lines`" in text
    assert "```x``\\|``y```" in text and "(blank)" in text


def test_a_confusion_matrix_of_many_classes_shows_the_most_frequent():
    labels = [f"c{index}" for index in range(500)]
    actual = labels + ["c7"] * 30 + ["c9"] * 20
    predictions = rows(actual=actual, predicted=actual)
    table = confusion_table(predictions, predictions)
    assert len(table) == 2 + 20 and len(cells(table[0])) == 21
    assert table[2].startswith("| `c7` |") or "`c7`" in table[0]
    text = "\n".join(
        plots_section({"predictions.csv": (predictions, predictions), "roc.csv": ([], [])})
    )
    assert "**Confusion matrix** (test split, the 20 most frequent of 500 classes;" in text


def test_a_report_longer_than_a_comment_is_cut_at_sections_saying_what_and_where():
    huge = {
        "params.yaml": {
            f"train.hyperparameters.k{n}": {"old": n, "new": n + 1} for n in range(4000)
        }
    }
    text = report(state("classification", params=huge))
    assert len(text) > LIMIT
    post = within(text)
    assert len(post) <= LIMIT
    # The gates, what ran and the metrics are kept, from the start; the parameters are not.
    assert post.startswith(text.split("### Parameters")[0].rstrip())
    assert "### Metrics" in post and "k1`" not in post
    assert post.rstrip().endswith(
        f"left out Parameters changed, Plots. The whole report is `{WHOLE}`: in the job summary "
        "and the run's artifacts, and beside report.md where `make report` ran."
    )
    assert within(report(state("classification"))) == report(state("classification"))


def test_a_first_section_longer_than_a_comment_is_cut_too():
    errors = [f"ERROR: failed to reproduce 'train': line {n}" for n in range(5000)]
    run = Run(commit="abc1234", stages={}, errors=errors)
    post = within(report(state("classification", run=run)))
    assert len(post) <= LIMIT and "left out the rest of the first section, Pipeline," in post


def test_save_writes_the_whole_report_beside_a_cut_one(tmp_path):
    out = tmp_path / "report.md"
    save("## Short\n", out)
    assert out.read_text() == "## Short\n" and not (tmp_path / WHOLE).exists()
    long = "## Long\n\n### A\n" + "x\n" * LIMIT
    save(long, out)
    assert (tmp_path / WHOLE).read_text() == long and len(out.read_text()) <= LIMIT
    save("## Short\n", out)  # a later report that fits leaves no stale whole one behind
    assert not (tmp_path / WHOLE).exists()


def test_a_column_that_carries_the_model_is_said_under_the_metrics():
    # As on a public dataset with a spending column that is above zero exactly when the
    # target is yes: permutation importance 0.43 against 0.04 for the next column.
    leak = rows(feature=["spend", "age", "plan"], importance=[0.43, 0.04, 0.01])
    text = report(state("classification", plots={"importance.csv": ([], leak)}))
    warning = next(line for line in text.splitlines() if line.startswith("⚠️ **One column"))
    assert warning.startswith(
        "⚠️ **One column carries the model**: `spend` has a permutation importance of 0.43, "
        "11 times the next column's (0.04)."
    )
    assert text.index("### Metrics") < text.index(warning) < text.index("### Parameters")
    alone = rows(feature=["spend", "age"], importance=[0.3, 0.0])
    assert "and no other column has any." in "".join(dominance_lines(alone))
    # Importance spread over columns, or nothing learnt at all: no warning.
    assert dominance_lines(IMPORTANCE) == [] == dominance_lines(rows(feature=["a"], importance=[1]))
    assert dominance_lines(rows(feature=["a", "b"], importance=[0.0, 0.0])) == []
    assert "One column" not in report(state("classification"))


def test_metrics_that_are_not_finite_numbers_are_shown_as_they_are():
    metrics = [Metric("roc_auc", new=float("nan"), old=0.9), Metric("r2", new=0.5, old="0.4")]
    table = metrics_table(metrics)
    assert table[2] == "| roc_auc ↑ | 0.9 | `nan` |  |  |"
    assert table[3] == "| r2 ↑ | `0.4` | 0.5 |  |  |"


def test_data_that_replaces_the_base_s_is_not_called_a_change_of_the_base_s():
    replaced = state(
        "classification", data_changed=["data/raw/mine.csv"], data_dropped=["data/raw/old.csv"]
    )
    text = report(replaced)
    assert "- Data: `data/raw/mine.csv`, instead of the base's `data/raw/old.csv`" in text
    edited = report(state("classification", data_changed=["data/raw/old.csv"]))
    assert "- Data: changed (`data/raw/old.csv`)" in edited


def test_intervals_follow_the_values_and_a_change_within_chance_is_said():
    metric = Metric(
        "roc_auc",
        new=0.97,
        old=0.99,
        interval=(0.94, 0.995),
        change_interval=(-0.04, 0.001),
        rows=114,
    )
    assert metrics_table([metric])[2] == (
        "| roc_auc ↑ | 0.99 | 0.97 (0.94 to 0.995) | -0.02 🔻 (-0.04 to +0.001) | -2.02 % |"
    )
    ends = Metric("roc_auc", new=0.98, old=0.99, interval=(0.9, 1.0), change_interval=(-0.04, 0.0))
    assert "| 0.98 (0.9 to 1) | -0.01 🔻 (-0.04 to 0) |" in metrics_table([ends])[2]
    text = report(
        state(
            "classification",
            metrics=[metric],
            within_noise=["roc_auc got worse by 0.02 ..., but within chance: ..."],
            resampling=(200, 114),
        )
    )
    assert "✅ **All quality gates pass.**\n\nℹ️ **Within chance:**\n\n- roc_auc got worse" in text
    assert (
        "In brackets: 95% intervals from 200 seeded resamples of the 114 test rows; a change's "
        "interval pairs both revisions on the same resamples." in text
    )
    unpaired = Metric("roc_auc", new=0.97, old=0.99, interval=(0.94, 0.995))
    text = report(state("classification", metrics=[unpaired], resampling=(200, 120)))
    assert "the base scored other test rows, so a change has no paired interval" in text
    assert "In brackets" not in report(state("classification", metrics=[unpaired]))


def test_changed_data_comes_before_the_metrics_and_max_drop_is_said_not_judged():
    section = ["### Data", "", "**The data changed:** 400 → 569 rows.", ""]
    text = report(state("classification", data_changed=["data/raw/x.csv"], data_section=section))
    assert text.index("### Data") < text.index("### Metrics (test split; the base's on different")
    assert (
        "`max_drop`\nis not judged against them; the minimum, maximum and baseline gates are"
        in (text)
    )
    same = report(state("classification"))
    assert "### Data" not in same and "on different data" not in same and "not judged" not in same
