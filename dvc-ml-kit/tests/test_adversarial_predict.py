"""predict against an adversarial user: whatever the bundle, the input or the output path, it
scores every row or refuses with one sentence, and leaves the bundle and the user's files as they
were."""

import io
import re
import shutil
import sys
import warnings
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from unittest.mock import patch

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from dvc_ml_kit.errors import UserError, run
from dvc_ml_kit.model.bundle import features, sha256, write_bundle
from dvc_ml_kit.model.columns import ColumnKinds
from dvc_ml_kit.model.predict import main, predict, unlearned_values
from registry import train

ESTIMATORS = ["linear", "hist_gradient_boosting"]
NEEDED = ["level", "spread", "kind", "member", "joined"]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Batches of a few rows score faster without a pool of threads, on a busy machine most."""
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """Training rows with a column of each kind: numbers, a category, yes/no and a date."""
    rng = np.random.default_rng(0)
    size = 120
    level, spread = rng.normal(size=size), rng.normal(size=size)
    return pd.DataFrame(
        {
            "id": range(size),
            "level": level,
            "spread": spread,
            "kind": rng.choice(["a", "b", "c"], size=size),
            "member": rng.random(size) < 0.5,
            "joined": pd.date_range("2024-01-01", periods=size, freq="D"),
            "label": np.where(level + spread > 0, "yes", "no"),
        }
    )


@pytest.fixture(scope="module")
def rows(frame) -> pd.DataFrame:
    """The training rows as a CSV gives them to predict."""
    return frame.drop(columns=["label"]).assign(
        member=np.where(frame["member"], "yes", "no"), joined=frame["joined"].dt.strftime("%F")
    )


def fit(frame, estimator="linear", task="classification", target="label"):
    return train(
        frame.drop(columns=["id"]),
        task=task,
        target=target,
        estimator=estimator,
        # Few trees: the model is saved and loaded faster.
        hyperparameters={"max_iter": 20} if estimator == "hist_gradient_boosting" else None,
        seed=0,
    )


@pytest.fixture(scope="module", params=ESTIMATORS)
def model(request, frame):
    return fit(frame, request.param)


def info_of(model) -> dict:
    return {
        "artifact": "model",
        "version": "v1.0.0",
        "task": "classification",
        "id_column": "id",
        "features": features(model),
    }


@pytest.fixture(scope="module")
def written(model, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("written") / "bundle"
    write_bundle(folder, model, info_of(model), "# card\n", {"model": {}})
    return folder


@pytest.fixture
def bundle(written, tmp_path) -> Path:
    return shutil.copytree(written, tmp_path / "bundle")


@pytest.fixture
def batch(rows, tmp_path) -> Path:
    path = tmp_path / "rows.csv"
    rows.head(20).to_csv(path, index=False)
    return path


def state(*paths: Path) -> dict[str, str]:
    """Every file of ``paths`` (folders: their files, links not followed) and its checksum."""
    files = [
        file for path in paths for file in (sorted(path.iterdir()) if path.is_dir() else [path])
    ]
    return {str(file): "link" if file.is_symlink() else sha256(file) for file in files}


def run_predict(*args) -> tuple[int, str, str]:
    """``dvc-ml-kit predict ARGS``: its exit code, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    argv = ["predict", *map(str, args)]
    with patch.object(sys, "argv", argv), redirect_stdout(out), redirect_stderr(err):
        code = run(main)
    return code, out.getvalue(), err.getvalue()


def refused(*args, match: str) -> None:
    """predict ARGS exits 1 with exactly one line: an error matching ``match``."""
    code, out, err = run_predict(*args)
    assert (code, out) == (1, ""), err
    assert len(err.splitlines()) == 1 and err.startswith("error: "), err
    assert re.search(match, err), err


# --- 1. the output may be neither the input nor anything in the bundle ------------------------


@pytest.mark.parametrize(
    "how",
    ["bundle file", "new file in bundle", "link to bundle file", "hard link to bundle file"],
)
def test_an_output_in_the_bundle_is_refused_however_it_is_named(bundle, batch, tmp_path, how):
    output = {
        "bundle file": bundle / "model.skops",
        "new file in bundle": bundle / "predictions.csv",
        "link to bundle file": tmp_path / "link.csv",
        "hard link to bundle file": tmp_path / "hard.csv",
    }[how]
    if how == "link to bundle file":
        output.symlink_to(bundle / "model.skops")
    if how == "hard link to bundle file":
        output.hardlink_to(bundle / "model.skops")
    before = state(bundle, batch)
    refused(bundle, batch, output, match="into the bundle|is the bundle's model.skops")
    assert state(bundle, batch) == before


def test_an_output_into_a_bundle_reached_through_a_folder_link_is_refused(bundle, batch, tmp_path):
    (tmp_path / "latest").symlink_to(bundle)
    before = state(bundle, batch)
    refused(tmp_path / "latest", batch, bundle / "SHA256SUMS", match="into the bundle")
    assert state(bundle, batch) == before


@pytest.mark.parametrize("link", ["symlink_to", "hardlink_to"])
def test_an_output_that_is_the_input_under_another_name_is_refused(bundle, batch, tmp_path, link):
    output = tmp_path / "other.csv"
    getattr(output, link)(batch)
    before = state(bundle, batch)
    refused(bundle, batch, output, match="is the input file")
    assert state(bundle, batch) == before


# --- 2. an output that is a folder ------------------------------------------------------------


def test_an_output_that_is_a_folder_is_one_sentence(bundle, batch, tmp_path):
    (tmp_path / "out").mkdir()
    before = state(bundle, batch)
    refused(bundle, batch, tmp_path / "out", match="out is a folder: give a file name")
    assert state(bundle, batch) == before and not any((tmp_path / "out").iterdir())


# --- 3. links inside a bundle -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["model.skops", "SHA256SUMS", "model_card.md"])
@pytest.mark.parametrize("absolute", [False, True], ids=["relative", "absolute"])
def test_a_bundle_holding_a_link_is_refused(bundle, batch, tmp_path, name, absolute):
    # The link's target has the listed content, so every checksum matches.
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.move(bundle / name, outside / name)
    (bundle / name).symlink_to(outside / name if absolute else Path("..", "outside", name))
    before = state(bundle, batch, outside)
    refused(bundle, batch, tmp_path / "scored.csv", match=rf"{name} is a link, not a file")
    assert state(bundle, batch, outside) == before


def test_a_bundle_folder_that_is_a_link_loads(bundle, batch, tmp_path):
    (tmp_path / "latest").symlink_to(bundle)
    before = state(bundle, batch)
    code, out, err = run_predict(tmp_path / "latest", batch, tmp_path / "scored.csv")
    assert (code, err) == (0, "") and "scored 20 rows" in out
    assert state(bundle, batch) == before


# --- 4. values the model never saw ------------------------------------------------------------


def scored(model, batch: pd.DataFrame, **info) -> tuple[pd.DataFrame, list[str]]:
    """predict and its warnings, checking that the user's rows are left as they were."""
    before = batch.copy()
    try:
        return predict(model, batch, info_of(model) | info), unlearned_values(model, batch)
    finally:
        pd.testing.assert_frame_equal(batch, before)


def test_rows_like_training_are_scored_without_a_warning(model, rows):
    result, lines = scored(model, rows)
    assert len(result) == len(rows) and lines == []


def test_new_categories_and_gaps_are_one_warning_per_column(model, rows):
    batch = rows.head(4).astype({"level": "float64", "kind": object})
    batch.loc[[0, 1], "kind"] = ["zz", None]
    batch.loc[2, "level"] = np.nan
    batch.loc[3, "joined"] = None
    result, lines = scored(model, batch)
    assert len(result) == 4
    trees = type(model[-1]).__name__.startswith("HistGradientBoosting")
    gap = "scored as a gap" if trees else "filled in with the training median"
    assert [line.split(":")[0] for line in lines] == [
        "column 'level'",
        "column 'joined'",
        "column 'kind'",
        "column 'kind'",
    ]
    assert f"column 'level': 1 of 4 rows have no value, {gap}" in lines[0]
    assert "column 'joined': 1 of 4 rows have no value" in lines[1]
    assert lines[3] == (
        "column 'kind': 1 of 4 rows hold values the model did not learn (such as 'zz'), "
        "scored as '(other)'"
    )


@pytest.mark.parametrize("value", [np.inf, -np.inf, "inf"])
def test_infinite_numbers_are_refused(model, rows, value):
    batch = rows.head(3).astype({"spread": object})
    batch.loc[1, "spread"] = value
    with pytest.raises(UserError, match=r"^column 'spread' holds infinite numbers in 1 of 3 rows"):
        scored(model, batch)


def test_text_in_a_number_column_is_refused(model, rows):
    batch = rows.head(3).astype({"level": object})
    batch.loc[0, "level"] = "high"
    with pytest.raises(UserError, match="the input's values do not fit the model .*'level'"):
        scored(model, batch)


def test_numbers_beyond_every_training_value_are_a_warning_where_the_model_scales_them(frame):
    model = fit(frame, "linear")
    batch = frame.drop(columns=["label"]).head(3)
    batch.loc[0, "level"] = 1e6
    result, lines = scored(model, batch)
    assert list(result["prediction"])[0] == "yes"
    assert lines == [
        "column 'level': 1 of 3 rows hold numbers beyond every training value (such as "
        "1000000.0), scored by extending what the model learned"
    ]


def test_numbers_too_large_to_score_are_refused(frame):
    amounts = frame.assign(label=1000 * frame["level"])
    model = fit(amounts, task="regression")
    batch = frame.drop(columns=["label"]).head(3)
    batch.loc[2, "level"] = 1e308
    with pytest.raises(UserError, match=r"no finite score for 1 of 3 rows \(the first is row 3"):
        scored(model, batch, task="regression")


def test_a_cli_batch_with_new_values_warns_and_scores(bundle, rows, tmp_path):
    batch = tmp_path / "rows.csv"
    rows.head(3).assign(kind=["a", "new", ""]).to_csv(batch, index=False)
    before = state(bundle, batch)
    code, out, err = run_predict(bundle, batch, tmp_path / "scored.csv")
    assert code == 0 and "scored 3 rows" in out
    assert [line.split(":")[:2] for line in err.splitlines()] == [
        ["warning", " column 'kind'"],
        ["warning", " column 'kind'"],
    ]
    assert len(pd.read_csv(tmp_path / "scored.csv")) == 3
    assert state(bundle, batch) == before


# --- 5. a loadable model of the wrong shape, its checksums rewritten -----------------------------


@pytest.mark.parametrize(
    "case", ["bare estimator", "unfitted", "regressor", "other columns", "unknown task"]
)
def test_a_model_of_the_wrong_shape_is_refused(frame, batch, tmp_path, case):
    good = fit(frame)
    info = info_of(good)
    rng = np.random.default_rng(0)
    model = {
        "bare estimator": lambda: LogisticRegression().fit(
            rng.normal(size=(9, 2)), [0, 1] * 4 + [0]
        ),
        "unfitted": lambda: Pipeline(
            [("columns", ColumnKinds(numeric=["level"])), ("model", LogisticRegression())]
        ),
        "regressor": lambda: fit(frame.assign(label=frame["level"]), task="regression"),
        "other columns": lambda: fit(frame.rename(columns={"level": "height"})),
        "unknown task": lambda: good,
    }[case]()
    if case == "unknown task":
        info["task"] = "clustering"
    # Checksums that match the model, as one who swapped it would write them.
    folder = tmp_path / "bundle"
    write_bundle(folder, model, info, "# card\n", {"model": {}})
    before = state(folder, batch)
    refused(
        folder,
        batch,
        tmp_path / "scored.csv",
        match={
            "bare estimator": "is not a model this package trained",
            "unfitted": "is not a model this package trained",
            "regressor": "is not a classification model, which bundle.json says it is",
            "other columns": r"reads other columns \(height, spread, member, joined, kind\)",
            "unknown task": "gives the task 'clustering', which is neither",
        }[case],
    )
    assert state(folder, batch) == before and not (tmp_path / "scored.csv").exists()


# --- 6. properties: any batch is scored row for row, or refused in one sentence ---------------

# Cells of every kind predict may meet: numbers of any size, text of any script, gaps.
CELLS = st.one_of(
    st.floats(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.text(max_size=4),
    st.sampled_from(["a", "yes", "2024-02-29", "1e400", "inf", "NaN", "", " "]),
    st.booleans(),
    st.none(),
)
# Cells each column of the model scores (some with a warning: a gap, a new category, a number far
# beyond the training ones).
NUMBERS = st.one_of(st.floats(-3, 3), st.floats(allow_infinity=False), st.none())
SCORED = {
    "level": NUMBERS,
    "spread": NUMBERS,
    "kind": st.one_of(st.sampled_from(["a", "b", "c"]), st.text(max_size=3), st.none()),
    "member": st.sampled_from(["yes", "no", "True", "F", True, None]),
    "joined": st.one_of(st.dates().map(str), st.datetimes(), st.none()),
    "id": st.one_of(st.integers(), st.text(max_size=2)),
}
NAMES = st.one_of(st.text(max_size=6), st.sampled_from([*NEEDED, "Level", " kind", "id", 0]))


@st.composite
def batches(draw) -> pd.DataFrame:
    """Rows with the model's columns, some of them holding anything, and columns missing,
    renamed, repeated or added, under any row labels."""
    size = draw(st.integers(0, 5))
    names = [*NEEDED, "id"]
    columns = [
        draw(
            st.lists(
                CELLS if draw(st.integers(0, 5)) == 0 else SCORED[name],
                min_size=size,
                max_size=size,
            )
        )
        for name in names
    ]
    for change in draw(st.lists(st.sampled_from(["drop", "rename", "repeat", "add"]), max_size=2)):
        at = draw(st.integers(0, len(names) - 1)) if names else 0
        if change == "drop" and names:
            del names[at], columns[at]
        elif change == "rename" and names:
            names[at] = draw(NAMES)
        elif change == "repeat" and names:
            names.append(names[at])
            columns.append(draw(st.lists(CELLS, min_size=size, max_size=size)))
        elif change == "add":
            names.append(draw(NAMES))
            columns.append(draw(st.lists(CELLS, min_size=size, max_size=size)))
    labels = draw(
        st.one_of(st.just(range(size)), st.lists(st.integers(0, 2), min_size=size, max_size=size))
    )
    batch = pd.DataFrame(dict(enumerate(columns)), index=labels)
    batch.columns = names
    return batch.infer_objects() if draw(st.booleans()) else batch


def refusal(message: str) -> str:
    """A refusal without its names and numbers, to count the examples refused by kind."""
    return "refused: " + re.sub(r"'.*?'|\d+|/\S+", "_", message)[:70]


PROPERTY = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def models(frame) -> dict:
    return {estimator: fit(frame, estimator) for estimator in ESTIMATORS}


@pytest.mark.parametrize("estimator", ESTIMATORS)
@PROPERTY
@given(batch=batches())
def test_any_rows_are_scored_row_for_row_or_refused_in_one_sentence(models, estimator, batch):
    try:
        result, lines = scored(models[estimator], batch)
    except UserError as error:
        assert str(error) and "\n" not in str(error)
        event(refusal(str(error)))
    else:
        assert len(result) == len(batch)
        assert all("\n" not in line for line in lines)
        event(f"scored, {len(lines)} warnings")


@pytest.fixture(scope="module")
def linear_bundle(models, tmp_path_factory) -> Path:
    """A bundle to read CSV files with (reading them is the same whatever the estimator)."""
    folder = tmp_path_factory.mktemp("linear") / "bundle"
    write_bundle(folder, models["linear"], info_of(models["linear"]), "# card\n", {"model": {}})
    return folder


@settings(PROPERTY, max_examples=100)
@given(batch=batches())
def test_any_csv_is_scored_row_for_row_or_refused_in_one_line(
    linear_bundle, tmp_path_factory, batch
):
    written, folder = linear_bundle, tmp_path_factory.mktemp("csv")
    batch.to_csv(folder / "rows.csv", index=False)
    before = state(written, folder / "rows.csv")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, out, err = run_predict(written, folder / "rows.csv", folder / "scored.csv")
    assert [str(warning.message) for warning in caught] == []
    if code == 0:
        assert f"scored {len(batch)} rows" in out
        assert len(pd.read_csv(folder / "scored.csv")) == len(batch)
        assert all(line.startswith("warning: column ") for line in err.splitlines()), err
        event("scored")
    else:
        assert len(err.splitlines()) == 1 and err.startswith("error: "), err
        event(refusal(err))
    assert state(written, folder / "rows.csv") == before


def test_rows_to_score_naming_a_column_twice_are_refused_without_training_s_reason(
    bundle, rows, tmp_path
):
    named_twice = tmp_path / "twice.csv"
    rows.head(3).rename(columns={"spread": "level"}).to_csv(named_twice, index=False)
    refused(
        bundle,
        named_twice,
        tmp_path / "out.csv",
        match=r"names column 'level' twice \(columns 2 and 3\): rename or remove one, so that "
        r"each name means one column$",
    )


def odd_features(rows: pd.DataFrame):
    """A project's features that give a list instead of rows for an input they did not expect."""
    return rows.to_numpy().tolist() if (rows["kind"] == "z").any() else rows


def test_features_that_give_back_no_rows_are_one_sentence(frame, rows):
    model = train(
        frame.drop(columns=["id", "joined"]),
        task="classification",
        target="label",
        estimator="linear",
        hyperparameters=None,
        seed=0,
        add_features=odd_features,
    )
    given = rows.drop(columns=["joined"]).head(3).assign(kind="z")
    with pytest.raises(UserError) as refusal:
        predict(model, given, info_of(model))
    assert str(refusal.value) == (
        "the project's features gave back something else than the input's rows as a DataFrame "
        "(list): fix features.py, then train and publish again"
    )
