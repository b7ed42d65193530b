"""Slow tier: bake a project per task and run it for real, as its README tells a user to."""

import csv
import io
import os
import random
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from conftest import TEMPLATE, TOOLS, activated, bake, run
from mermaid_charts import Mermaid, blocks, renderer

pytestmark = pytest.mark.slow
ESTIMATORS = ("linear", "random_forest", "hist_gradient_boosting")
MAIN_METRIC = {"classification": "balanced_accuracy", "regression": "r2"}


@dataclass
class Project:
    path: Path
    task: str
    first_run: str  # what the README's commands printed

    def sh(self, script: str, check: bool = True):
        """Run ``script`` in bash inside the project with its environment activated."""
        return activated(self.path, script, check)

    def metrics(self) -> dict:
        return yaml.safe_load((self.path / "metrics/metrics.json").read_text())

    def params(self) -> dict:
        return yaml.safe_load((self.path / "params.yaml").read_text())

    def set_data_params(self, **values) -> None:
        params = self.params()
        params["data"].update(values)
        (self.path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    def reset(self) -> None:
        """Back to the committed state: Git files, then DVC outputs from the cache."""
        run("git", "reset", "--quiet", "--hard", cwd=self.path)
        run("git", "clean", "--quiet", "-fd", cwd=self.path)
        self.sh("dvc checkout --quiet --force")


def readme_commands(readme: str) -> str:
    """The first shell block of a README: the commands a new user types first."""
    return re.search(r"```sh\n(.*?)```", readme, re.DOTALL).group(1)


_BAKED: dict[str, Project] = {}


def baked(task: str, tmp_path_factory) -> Project:
    """A project baked for ``task`` after its README's two commands, results committed.

    Baked once per session and shared: tests that change it reset it afterwards.
    """
    if task not in _BAKED:
        path = bake(tmp_path_factory.mktemp(task), task=task)
        commands = readme_commands((path / "README.md").read_text())
        env = {"PATH": f"{TOOLS}{os.pathsep}{os.environ['PATH']}"}
        # The classification project is set up exactly as a user's: with the Makefile's own
        # default for compiling bytecode (the other tests skip it; see conftest.py).
        default = ["env", "-u", "UV_COMPILE_BYTECODE"] if task == "classification" else []
        result = run(*default, "bash", "-e", "-c", commands, cwd=path, env=env)
        run("git", "add", "--all", cwd=path)
        run("git", "commit", "--quiet", "-m", "Reproduce the pipeline", cwd=path)
        _BAKED[task] = Project(path, task, result.stdout + result.stderr)
    return _BAKED[task]


@pytest.fixture(params=list(MAIN_METRIC))
def project(request, tmp_path_factory) -> Project:
    return baked(request.param, tmp_path_factory)


@pytest.fixture
def clean(project):
    """The project, reset to its committed state after the test."""
    yield project
    project.reset()


@pytest.fixture
def classification(tmp_path_factory):
    """The classification project, reset after the test."""
    project = baked("classification", tmp_path_factory)
    yield project
    project.reset()


@pytest.fixture
def regression(tmp_path_factory):
    """The regression project, reset after the test."""
    project = baked("regression", tmp_path_factory)
    yield project
    project.reset()


def test_readme_commands_train_and_evaluate(project):
    for stage in ("prepare", "train", "evaluate", "copy_evaluation"):
        assert f"Running stage '{stage}'" in project.first_run
    metrics = project.metrics()
    assert set(metrics) == {"model", "baseline"}
    assert (project.path / "models/model.pkl").stat().st_size > 0
    plots = {p.name for p in (project.path / "metrics/plots").iterdir()}
    extra = "roc.csv" if project.task == "classification" else "residuals.csv"
    assert plots == {"predictions.csv", "importance.csv", extra}


def test_model_beats_baseline_on_sample_data(project):
    metrics, name = project.metrics(), MAIN_METRIC[project.task]
    assert metrics["model"][name] > metrics["baseline"][name] + 0.2


def test_second_repro_runs_nothing(project):
    output = project.sh("dvc repro").stdout
    assert "Running stage" not in output
    assert "up to date" in project.sh("dvc status").stdout


def test_forced_repro_is_byte_identical(clean):
    lock = (clean.path / "dvc.lock").read_bytes()
    output = clean.sh("dvc repro --force").stdout
    assert output.count("Running stage") == 4
    assert (clean.path / "dvc.lock").read_bytes() == lock
    # The Git-tracked results (metrics and plot data) are unchanged too.
    assert run("git", "status", "--porcelain", cwd=clean.path).stdout == ""


# Thresholds a user sets once they know what their data allows (the sample's model meets them).
OWN_GATES = {
    "classification": {"minimum": {"roc_auc": 0.9}, "maximum": {"log_loss": 1.0}},
    "regression": {"minimum": {"r2": 0.1}, "maximum": {"mae": 100.0}},
}


def test_project_tests_and_lint_pass_with_a_users_own_gates_and_readme(clean):
    # As the README invites: thresholds of one's own, a gate dropped by removing its line, and a
    # README rewritten. The project's tests check the project's code, not the template's text.
    params = clean.params()
    params["gates"].update(OWN_GATES[clean.task])
    del params["gates"]["beat_baseline"]
    (clean.path / "README.md").write_text("# Our model\n\nWhat it predicts, for whom.\n")
    # The tests never read the data (large, or not pulled in CI): theirs to check is the code.
    data = clean.path / params["data"]["file"]
    data.unlink()  # not written through: the file may share its bytes with the DVC cache
    data.write_text("not,the,data\n")
    first = clean.sh("git rev-parse HEAD").stdout.strip()
    try:
        # Committed: the gates in force are those of the base (here HEAD), as in a pull request.
        commit_params(clean, params)
        clean.sh("make test")
        clean.sh("make lint")
        assert "gates: all pass" in clean.sh("make gate BASE=HEAD").stdout
        main = MAIN_METRIC[clean.task]
        params["gates"]["minimum"] = {main: 1.01}  # out of reach: proof the thresholds are read
        commit_params(clean, params)
        gate = clean.sh("make gate BASE=HEAD", check=False)
        assert gate.returncode != 0 and f"gate failed: {main} is" in gate.stdout
    finally:
        clean.sh(f"git reset --quiet --hard {first}")


def commit_params(project: Project, params: dict) -> None:
    (project.path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    project.sh("git commit --quiet --all -m 'Our own gates and README'")


def test_plots_render(project):
    project.sh("dvc plots show")
    page = (project.path / "dvc_plots/index.html").read_text()
    titles = {
        "classification": ["Confusion matrix", "ROC curve"],
        "regression": ["Predicted vs actual", "Residuals"],
    }
    for title in [*titles[project.task], "Permutation importance"]:
        assert f"{title} (test split)" in page


def test_every_estimator_runs_as_an_experiment(clean):
    for name in ESTIMATORS:
        clean.sh(f"dvc exp run --quiet -S train.estimator={name}")
    table = list(csv.DictReader(io.StringIO(clean.sh("dvc exp show --csv").stdout)))
    experiments = [row for row in table if row["Experiment"]]
    metric = f"model.{MAIN_METRIC[clean.task]}"
    assert {row["train.estimator"] for row in experiments} == set(ESTIMATORS)
    for row in experiments:
        assert float(row[metric]) > float(row[metric.replace("model", "baseline")])


def edit_csv(path: Path, change) -> None:
    """Rewrite a CSV through ``change(header, rows)``, which returns the new header and rows."""
    with open(path, newline="") as file:
        header, *rows = list(csv.reader(file))
    header, rows = change(header, rows)
    with open(path, "w", newline="") as file:
        csv.writer(file).writerows([header, *rows])


def set_column(name, value):
    def change(header, rows):
        index = header.index(name)
        return header, [
            [*r[:index], value(i, r[index]), *r[index + 1 :]] for i, r in enumerate(rows)
        ]

    return change


def add_column(name, value):
    """A change that appends column ``name`` with ``value(row number)`` in each row."""

    def change(header, rows):
        return [*header, name], [[*row, value(i)] for i, row in enumerate(rows)]

    return change


def latin1(path: Path) -> None:
    """Save the CSV as a Latin-1 spreadsheet export would, with an accent in the header."""
    path.write_bytes(
        path.read_text().replace("mean_texture", "mean_texture_é", 1).encode("latin-1")
    )


BAD_DATA = {
    "target column missing": (
        lambda h, r: ([*h[:-1], "label"], r),
        "names column 'diagnosis' in data.target",
    ),
    "text in a numeric column": (
        set_column("mean_radius", lambda i, v: "abc" if i == 9 else v),
        "column 'mean_radius' in data/raw/breast_cancer.csv holds numbers but line 11 has 'abc'",
    ),
    "single class": (set_column("diagnosis", lambda i, v: "benign"), "has a single class"),
    "empty file": (None, "data/raw/breast_cancer.csv is empty"),
    "all-empty column": (
        set_column("mean_texture", lambda i, v: ""),
        "column 'mean_texture' is empty in every row",
    ),
    "target column twice": (
        lambda h, r: ([*h, "diagnosis"], [[*row, row[-1]] for row in r]),
        "names column 'diagnosis' twice (columns 31 and 32)",
    ),
    "garbage in a date column": (
        add_column("visit", lambda i: "soon" if i == 9 else f"2024-01-{i % 28 + 1:02d}"),
        "column 'visit' in data/raw/breast_cancer.csv holds dates but line 11 has 'soon'",
    ),
    "a third value in a yes/no column": (
        add_column("smoker", lambda i: "maybe" if i == 9 else ("yes", "no")[i % 2]),
        "column 'smoker' in data/raw/breast_cancer.csv holds yes/no values but line 11 has 'maybe'",
    ),
    "a class with two test rows": (
        set_column("diagnosis", lambda i, v: "unclear" if i < 10 else v),
        "class 'unclear' of target 'diagnosis' has too few rows for the test split: 2 of its 10",
    ),
    "not UTF-8": (latin1, "is not UTF-8 text (byte 0xe9 on line 1): set data.encoding"),
}


@pytest.mark.parametrize(("change", "message"), BAD_DATA.values(), ids=BAD_DATA.keys())
def test_bad_data_stops_prepare_and_keeps_committed_state(classification, change, message):
    data = classification.path / "data/raw/breast_cancer.csv"
    lock = (classification.path / "dvc.lock").read_bytes()
    if change is None:
        data.write_text("")
    elif change is latin1:
        latin1(data)
    else:
        edit_csv(data, change)
    result = classification.sh("dvc repro", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    errors = [line for line in output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and message in errors[0], output
    assert "Traceback" not in output
    assert "Running stage 'train'" not in output
    assert (classification.path / "dvc.lock").read_bytes() == lock
    # Nothing committed changed; DVC only recorded the new data in its .dvc file, as `dvc add`.
    changed = run("git", "status", "--porcelain", cwd=classification.path).stdout.splitlines()
    assert set(changed) <= {" M data/raw/breast_cancer.csv.dvc"}
    # The last good outputs are still in the cache: going back to the committed data restores
    # every output without running anything.
    run("git", "checkout", "--", ".", cwd=classification.path)
    classification.sh("dvc checkout --quiet --force")
    assert "up to date" in classification.sh("dvc status").stdout


def test_repeated_rows_are_kept_and_grouped(classification):
    data = classification.path / "data/raw/breast_cancer.csv"
    edit_csv(data, lambda h, r: (h, [*r, r[3], r[3]]))
    output = classification.sh("dvc repro").stdout
    assert "prepare: 2 rows repeat the features of another row" in output
    # Nothing deleted: the 569 rows and the two repeats are all in a split.
    split = re.search(r"prepare: (\d+) train rows, (\d+) test rows", output)
    assert int(split[1]) + int(split[2]) == 571


def test_listed_column_missing_is_named(classification):
    classification.set_data_params(drop_columns=["no_such_column"])
    result = classification.sh("dvc repro", check=False)
    assert result.returncode != 0
    assert "names column 'no_such_column' in data.drop_columns" in result.stderr


def customers_csv(rows: int = 600, seed: int = 7) -> str:
    """A churn table with an id, numeric and text columns, missing values and a yes/no target."""
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["customer_id", "age", "plan", "region", "monthly_fee", "notes", "churned"])
    for i in range(rows):
        plan = rng.choice(["basic", "plus", "pro"])
        fee = {"basic": 10, "plus": 25, "pro": 60}[plan] + rng.gauss(0, 3)
        age = rng.randint(18, 80)
        risk = (plan == "basic") * 1.5 + (age < 30) * 1.0 + rng.gauss(0, 0.7)
        writer.writerow(
            [
                f"C{i:05d}",
                "" if rng.random() < 0.1 else age,
                "" if rng.random() < 0.1 else plan,
                rng.choice(["north", "south", "east", "west"]),
                f"{fee:.2f}",
                rng.choice(["called twice", "", "asked about price", "happy"]),
                "yes" if risk > 1.2 else "no",
            ]
        )
    return out.getvalue()


def test_user_csv_with_categories_and_missing_values(classification):
    (classification.path / "data/raw/customers.csv").write_text(customers_csv())
    classification.sh("dvc add --quiet data/raw/customers.csv")
    classification.set_data_params(
        file="data/raw/customers.csv",
        target="churned",
        id_column="customer_id",
        drop_columns=["notes"],
    )
    classification.sh("dvc repro")
    metrics = classification.metrics()
    assert metrics["model"]["balanced_accuracy"] > metrics["baseline"]["balanced_accuracy"] + 0.2
    features = (classification.path / "metrics/plots/importance.csv").read_text()
    assert {row.split(",")[0] for row in features.splitlines()[1:]} == {
        "age",
        "plan",
        "region",
        "monthly_fee",
    }
    # The saved model scores raw rows, id and dropped columns included, missing values and all.
    scored = classification.sh(
        "python -c \"import pickle, pandas as pd; m = pickle.load(open('models/model.pkl', 'rb'));"
        " print(sorted(set(m.predict(pd.read_csv('data/raw/customers.csv')))))\""
    ).stdout
    assert scored.strip() == "['no', 'yes']"


def test_multiclass_target(classification):
    classification.sh(
        'python -c "from sklearn.datasets import load_iris; f = load_iris(as_frame=True).frame;'
        " f['species'] = f.pop('target').map(dict(enumerate(load_iris().target_names)));"
        " f.to_csv('data/raw/iris.csv', index=False)\""
    )
    classification.sh("dvc add --quiet data/raw/iris.csv")
    classification.set_data_params(file="data/raw/iris.csv", target="species")
    classification.sh("dvc repro")
    metrics = classification.metrics()
    assert metrics["model"]["accuracy"] > 0.8 > metrics["baseline"]["accuracy"]
    assert 0.9 < metrics["model"]["roc_auc"] <= 1
    predictions = (classification.path / "metrics/plots/predictions.csv").read_text()
    assert {line.split(",")[0] for line in predictions.splitlines()[1:]} == {
        "setosa",
        "versicolor",
        "virginica",
    }


def test_regression_rejects_text_target(regression):
    edit_csv(
        regression.path / "data/raw/diabetes.csv",
        set_column("progression", lambda i, v: "high" if float(v) > 150 else "low"),
    )
    result = regression.sh("dvc repro", check=False)
    assert result.returncode != 0
    assert "target 'progression' in data/raw/diabetes.csv must be numbers" in result.stderr


_PULL_REQUESTS: dict[str, tuple[subprocess.CompletedProcess, str]] = {}


def slower_learning(project: Project) -> tuple[subprocess.CompletedProcess, str]:
    """`make ci-pr` on a branch that halves the learning rate: what it printed and its report.

    Run once per task in a session and shared by the tests that read it; main is checked out
    again afterwards."""
    if project.task not in _PULL_REQUESTS:
        project.sh("git checkout -q -b slower-learning")
        try:
            params = project.path / "params.yaml"
            params.write_text(
                params.read_text().replace("learning_rate: 0.1", "learning_rate: 0.05")
            )
            project.sh("git commit -q -am 'Slower learning'")
            # The whole suite ran in test_project_tests_and_lint_pass: one small file is enough.
            result = project.sh(
                "PYTEST_ADDOPTS=tests/test_pipeline.py make ci-pr BASE=main TRUSTED=0", check=False
            )
            _PULL_REQUESTS[project.task] = result, (project.path / "report.md").read_text()
        finally:
            project.sh("git checkout -q -f main && git branch -q -D slower-learning")
    return _PULL_REQUESTS[project.task]


def test_regression_pull_request_report(regression):
    """`make ci-pr` on a regression project's branch: its report draws the residuals and reads
    each metric the right way up (the CI loop's own project is a classification one)."""
    result, report = slower_learning(regression)
    assert result.returncode != 0  # the reproduced lock is not committed
    assert "- Stages ran: `train`, `evaluate`, `copy_evaluation`" in report
    number = r"[-+]?[\d.]+(?:e[-+]\d+)?"
    for name in ("r2 ↑", "rmse ↓"):  # each value with its 95% interval
        assert re.search(rf"\| {name} \| {number} \| {number} \({number} to {number}\) \|", report)
    assert 'title "Residuals, actual minus predicted (test split)"' in report
    assert "ROC" not in report and "Confusion matrix" not in report
    key = "train.hyperparameters.hist_gradient_boosting.learning_rate"
    assert f"| `{key}` | 0.1 | 0.05 |" in report


def report_on_main(project: Project) -> str:
    """`make report` on the committed main against itself: both revisions' charts, the same."""
    project.sh("make report BASE=main")
    return (project.path / "report.md").read_text()


def other_data(project: Project) -> str:
    """`make report` on a branch whose data file is another one (the sample's first 300 rows),
    reproduced: a Data section, and the base's curve beside one from other rows."""
    project.sh("git checkout -q -b other-data")
    try:
        project.sh("head -301 data/raw/breast_cancer.csv > data/raw/first.csv")
        params = project.path / "params.yaml"
        text = params.read_text()
        params.write_text(
            text.replace("file: data/raw/breast_cancer.csv", "file: data/raw/first.csv")
        )
        project.sh("dvc add -q data/raw/first.csv && dvc repro -q && git add --all")
        project.sh("git commit -qm 'Other data' && make report BASE=main")
        report = (project.path / "report.md").read_text()
        assert "### Data\n\n**The data changed:** 569 → 300 rows" in report, report
        return report
    finally:
        project.sh("git checkout -q -f main && git branch -q -D other-data")


# The reports whose Mermaid charts must render, each made by a real run of a baked project (the
# project's task, how the report is made) and the chart titles it must hold. Another kind of
# report is one more entry.
REPORTS = {
    "classification": ("classification", report_on_main, ["ROC curve (test split)"]),
    "regression": (
        "regression",
        lambda project: slower_learning(project)[1],
        ["Residuals, actual minus predicted (test split)"],
    ),
    "data change": ("classification", other_data, ["ROC curve (test split)"]),
}


@pytest.fixture(scope="module")
def mermaid(tmp_path_factory) -> Mermaid:
    """Mermaid (npm, pinned) in headless Chromium; its pages show the charts it drew."""
    return renderer(tmp_path_factory.mktemp("mermaid"))


def report_of(case: str, tmp_path_factory) -> str:
    """The report of ``case`` (see REPORTS), its project reset afterwards."""
    task, make, _ = REPORTS[case]
    project = baked(task, tmp_path_factory)
    try:
        return make(project)
    finally:
        project.reset()


@pytest.mark.parametrize("case", list(REPORTS))
def test_report_charts_render_in_mermaid(case, mermaid, tmp_path_factory):
    """Every Mermaid block of the report is drawn by Mermaid itself, as GitHub and GitLab draw
    it: no parse or render error, no error logged, one plot per series, the expected titles."""
    texts = blocks(report_of(case, tmp_path_factory))
    titles = [re.search(r'^\s*title "(.*)"$', text, re.M)[1] for text in texts]
    assert titles == REPORTS[case][2]
    for chart in mermaid.render(texts, case):
        said = chart.error or "\n".join(chart.logged)
        assert not said, f"Mermaid: {said}\n{chart.block}(page: {mermaid.folder / case}.html)"
        assert chart.type == "xychart"
        series = re.findall(r"^\s*(line|bar) \[", chart.block, re.M)
        plots = re.findall(r'class="(line|bar)-plot-\d+"', chart.svg)
        assert plots == series and series, chart.block


def test_a_broken_chart_is_a_mermaid_error(mermaid, tmp_path_factory):
    """The check above can fail: a real report's chart with one series cut short is refused by
    Mermaid's parser, and that alone."""
    texts = blocks(report_of("classification", tmp_path_factory))
    broken = re.sub(r"\]$", "", texts[0], count=1, flags=re.M)
    assert broken != texts[0]
    first, *rest = mermaid.render([broken, *texts], "broken")
    assert "Parse error" in first.error and first.logged, first
    assert not any(chart.error or chart.logged for chart in rest)


def test_make_demo(tmp_path):
    """The template README's first command, into a build folder of its own."""
    result = run("make", "--no-print-directory", "demo", f"BUILD={tmp_path}", cwd=TEMPLATE)
    assert "Running stage 'evaluate'" in result.stdout
    assert "model.balanced_accuracy" in result.stdout  # `dvc metrics show` ends the demo


def test_setup_compiles_the_bytecode_of_every_installed_module(classification):
    packages = next((classification.path / ".venv/lib").glob("python3*/site-packages"))
    for package in ("sklearn", "dvc", "pandas"):
        sources = list((packages / package).rglob("*.py"))
        compiled = list((packages / package).rglob("__pycache__/*.pyc"))
        # Not only what the pipeline imported (Python writes that itself): all of it.
        assert len(compiled) > 0.9 * len(sources), package
