"""prepare on the Dask engine: the local engine's sentences for the same file read in several
partitions, a split that keeps repeats and groups together, and the local engine's columns."""

from pathlib import Path

import dask
import fsspec
import numpy as np
import pandas as pd
import pytest

from dvc_ml_kit.cluster import (
    prepare as cluster_prepare,
)
from dvc_ml_kit.cluster.prepare import (
    prepare_dask,
)
from dvc_ml_kit.errors import (
    UserError,
)
from dvc_ml_kit.pipeline.prepare import (
    prepare,
    remove_output,
    summary,
)
from registry import prepare_settings

ROWS = 240
# About 10 kB of CSV in blocks of 3 kB: four partitions, the problems below in the last ones.
BLOCKSIZE = 3000
LATE = 180


@pytest.fixture(scope="module")
def client():
    """Dask's synchronous scheduler: the same tasks in this process, without a cluster's start-up
    and messages (the template's own tests run the stage on a real cluster)."""
    with dask.config.set(scheduler="synchronous"):
        yield


@pytest.fixture
def small_sample(monkeypatch):
    """Kinds decided on the first 60 rows, in the first partition: the problems lie beyond."""
    monkeypatch.setattr(cluster_prepare, "SAMPLE_ROWS", 60)


def settings(**changes) -> dict[str, object]:
    """The stage's params for the frames of ``raw()``; ``changes`` by the key after the dot."""
    defaults = {"target": "churned", "engine": "dask", "min_test_rows_per_class": 5}
    return prepare_settings(**{**defaults, **changes})


def raw(rows: int = ROWS, seed: int = 0) -> pd.DataFrame:
    """Raw rows of every kind: a sequential id, numbers with gaps, yes/no, dates, categories."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer": np.arange(1, rows + 1),
            "age": rng.integers(18, 90, rows).astype(str),
            "income": np.where(rng.random(rows) < 0.1, "", rng.normal(50, 10, rows).round(2)),
            "member": rng.choice(["yes", "no"], rows),
            "signup": pd.Series(pd.date_range("2020-01-01", periods=rows, freq="D")).astype(str),
            "plan": rng.choice(["basic", "pro", "team"], rows),
            "churned": rng.choice(["yes", "no"], rows, p=[0.3, 0.7]),
        }
    )


def write(frame: pd.DataFrame, folder: Path) -> Path:
    path = folder / "raw.csv"
    frame.to_csv(path, index=False)
    return path


def local_error(path: Path, params: dict) -> str:
    with pytest.raises(UserError) as error:
        prepare(path, params)
    return str(error.value)


def dask_run(path: Path | str, params: dict, folder: Path) -> list[str]:
    return prepare_dask(
        path, folder / "train.parquet", folder / "test.parquet", params, blocksize=BLOCKSIZE
    )


def dask_error(path: Path, params: dict, folder: Path) -> str:
    with pytest.raises(UserError) as error:
        dask_run(path, params, folder)
    assert not (folder / "train.parquet").exists(), "a failed run leaves no split behind"
    return str(error.value)


def _set(frame: pd.DataFrame, column: str, rows, value) -> pd.DataFrame:
    frame = frame.copy()
    frame[column] = frame[column].astype(object)
    frame.loc[rows, column] = value
    return frame


# Problems in the later partitions; each engine must say the same sentence about them.
BAD = {
    "typos in a number column": (lambda f: _set(f, "age", [LATE, LATE + 50], "abc"), {}),
    "a stray yes/no value": (lambda f: _set(f, "member", [LATE + 20], "maybe"), {}),
    "a stray date": (lambda f: _set(f, "signup", [LATE + 5, 230], "soon"), {}),
    "empty target values": (
        lambda f: _set(f, "churned", [LATE, 239], None),
        {"unlabeled": "error"},
    ),
    "a class of one row": (lambda f: _set(f, "churned", [LATE + 7], "perhaps"), {}),
    "a single class": (lambda f: f.assign(churned="yes"), {}),
    "a decimal target": (
        lambda f: f.assign(churned=np.arange(len(f)) % 3).pipe(_set, "churned", [LATE], 1.5),
        {},
    ),
    "text in a regression target": (
        lambda f: f.assign(churned=np.arange(len(f)) * 0.5).pipe(_set, "churned", [LATE], "n.a."),
        {"task": "regression"},
    ),
    "repeated ids": (lambda f: _set(f, "customer", [LATE], 3), {"id_column": "customer"}),
    "empty group values": (
        lambda f: _set(f.assign(team=np.arange(len(f)) // 4), "team", [LATE + 1, 220], None),
        {"group_column": "team"},
    ),
    "a column empty in every row": (lambda f: f.assign(notes=""), {}),
    "a typo in a column read as numbers": (lambda f: _set(f, "income", [LATE], "n.a."), {}),
    "a regression target with one value": (lambda f: f.assign(churned=2.5), {"task": "regression"}),
}


@pytest.mark.parametrize("problem", sorted(BAD))
def test_dask_says_what_local_says(client, small_sample, tmp_path, problem):
    change, params = BAD[problem]
    path = write(change(raw()), tmp_path)
    params = settings(**params)
    assert dask_error(path, params, tmp_path) == local_error(path, params)


def test_a_regression_target_constant_in_one_partition_only_is_taken(client, tmp_path):
    frame = raw().assign(churned=np.where(np.arange(ROWS) < LATE, 1.0, 2.0))
    assert dask_run(write(frame, tmp_path), settings(task="regression"), tmp_path)


def test_a_folder_without_parquet_files_is_the_local_sentence(client, tmp_path):
    folder = tmp_path / "raw"
    folder.mkdir()
    write(raw(), folder)
    assert dask_error(folder, settings(), tmp_path) == local_error(folder, settings())


@pytest.mark.parametrize("packed", ["gzip", "zip", "utf-16"])
def test_compressed_or_utf16_is_read_in_one_partition(client, tmp_path, packed):
    path = write(raw(), tmp_path)
    lines = dask_run(path, settings(), tmp_path / "plain")
    named = tmp_path / {"gzip": "raw.csv.gz", "zip": "raw.zip", "utf-16": "utf16.csv"}[packed]
    if packed == "utf-16":
        named.write_bytes(path.read_text().encode("utf-16"))
    else:
        with fsspec.open(str(named), "wb", compression=packed) as file:
            file.write(path.read_bytes())
    note = (
        f"the dask engine reads {named} in one partition, since "
        f"{'utf-16 text' if packed == 'utf-16' else f'{packed} compression'} cannot be split: "
        f"{'save it as UTF-8' if packed == 'utf-16' else 'decompress it'} or convert it to "
        "Parquet if it is larger than a worker's memory"
    )
    read = dask_run(named, settings(), tmp_path / packed)
    assert note in read
    assert [line for line in read if line != note] == lines
    for side in ("train", "test"):
        pd.testing.assert_frame_equal(
            pd.read_parquet(tmp_path / "plain" / f"{side}.parquet"),
            pd.read_parquet(tmp_path / packed / f"{side}.parquet"),
        )


def test_more_classes_than_rows_per_class_is_warned(client, tmp_path):
    frame = raw(1400).assign(churned=[f"c{i % 40}" for i in range(1400)])
    lines = dask_run(write(frame, tmp_path), settings(min_test_rows_per_class=1), tmp_path)
    assert lines[-1].startswith("warning: target 'churned' has 40 classes and the train split ")


def test_a_malformed_line_is_placed_in_the_whole_file(client, small_sample, tmp_path):
    path = write(raw(), tmp_path)
    lines = path.read_text().splitlines()
    lines[LATE] += ",extra"
    path.write_text("\n".join(lines) + "\n")
    params = settings()
    assert dask_error(path, params, tmp_path) == local_error(path, params)


def test_too_few_test_rows_of_a_class(client, tmp_path):
    path = write(raw(), tmp_path)
    message = dask_error(path, settings(min_test_rows_per_class=500), tmp_path)
    assert "has too few rows for the test split" in message
    assert "(prepare.min_test_rows_per_class)" in message


def _sides(folder: Path) -> pd.DataFrame:
    train = pd.read_parquet(folder / "train.parquet")
    return pd.concat([train.assign(side="train"), pd.read_parquet(folder / "test.parquet")])


def test_repeated_rows_stay_on_one_side(client, tmp_path):
    frame = raw(600).assign(x=np.arange(600) + 0.5)  # x: a feature that tells rows apart
    frame = pd.concat([frame, frame.iloc[:100]], ignore_index=True)
    frame["customer"] = np.arange(len(frame))  # left out as an id: the repeats differ only there
    lines = dask_run(write(frame, tmp_path), settings(), tmp_path)
    sides = _sides(tmp_path).fillna({"side": "test"})
    assert len(sides) == len(frame)
    assert 0.14 < (sides["side"] == "test").mean() < 0.26
    assert (sides.groupby("x")["side"].nunique() == 1).all()
    assert "100 rows repeat the features of another row" in lines[-2]


def test_groups_stay_on_one_side(client, tmp_path):
    frame = raw(600).assign(x=np.arange(600) + 0.5, team=np.arange(600) % 150)
    lines = dask_run(write(frame, tmp_path), settings(group_column="team"), tmp_path)
    sides = _sides(tmp_path).fillna({"side": "test"})
    sides["team"] = ((sides["x"] - 0.5) % 150).astype(int)
    assert (sides.groupby("team")["side"].nunique() == 1).all()
    assert 0.1 < (sides["side"] == "test").mean() < 0.3  # 150 groups: a coarser share
    assert lines[-2].startswith("150 groups of data.group_column")


def test_split_is_deterministic_and_seeded(client, tmp_path):
    path = write(raw(), tmp_path)
    outputs = []
    for run, seed in ((1, 42), (2, 42), (3, 7)):
        folder = tmp_path / str(run)
        dask_run(path, settings(seed=seed), folder)
        files = sorted((folder / "test.parquet").iterdir())
        outputs.append([(file.name, file.read_bytes()) for file in files])
    assert outputs[0] == outputs[1]
    assert outputs[0] != outputs[2]


def test_columns_and_lines_are_the_local_engines(client, tmp_path):
    path = write(raw().assign(note=[f"free text {i}" for i in range(ROWS)]), tmp_path)
    params = settings()
    lines = dask_run(path, params, tmp_path)
    train = pd.read_parquet(tmp_path / "train.parquet")
    checked, repeated, local_train, local_test = prepare(path, params)
    assert train.dtypes.to_dict() == local_train.dtypes.to_dict()
    assert list(train.columns) == list(local_train.columns)
    # The notes (an id, free text, a date column) and the count of features are the same.
    features = checked.frame.shape[1] - 1
    expected = summary(checked.notes, repeated, None, len(local_train), len(local_test), features)
    assert lines[:-1] == expected[:-1]
    assert lines[-1].endswith(f" {features} features")


def test_parquet_input_splits_as_its_csv(client, tmp_path):
    frame = raw()
    path = write(frame, tmp_path)
    dask_run(path, settings(), tmp_path / "csv")
    folder = tmp_path / "raw.parquet"
    pd.read_csv(path).to_parquet(folder)
    dask_run(folder, settings(), tmp_path / "parquet")
    from_csv = pd.read_parquet(tmp_path / "csv" / "test.parquet")
    from_parquet = pd.read_parquet(tmp_path / "parquet" / "test.parquet")
    pd.testing.assert_frame_equal(from_csv, from_parquet)
    # The local engine reads Parquet too.
    local_csv, local_parquet = prepare(path, settings()), prepare(folder, settings())
    pd.testing.assert_frame_equal(local_csv[2], local_parquet[2])


def test_a_url_is_read_through_fsspec(client, tmp_path):
    path = write(raw(), tmp_path)
    dask_run(path, settings(), tmp_path / "file")
    with fsspec.open("memory://raw.csv", "wb") as file:  # as s3://... would be, in memory
        file.write(path.read_bytes())
    dask_run("memory://raw.csv", settings(), tmp_path / "url")
    for side in ("train", "test"):
        from_file = pd.read_parquet(tmp_path / "file" / f"{side}.parquet")
        pd.testing.assert_frame_equal(
            from_file, pd.read_parquet(tmp_path / "url" / f"{side}.parquet")
        )


def test_a_target_of_numbers_then_text_is_refused(client, small_sample, tmp_path):
    frame = raw().assign(churned=np.arange(ROWS) % 2).pipe(_set, "churned", [LATE, LATE + 9], "x")
    message = dask_error(write(frame, tmp_path), settings(), tmp_path)
    assert f"holds numbers in its first rows, but line {LATE + 2} has 'x' (2 such" in message


def test_either_engine_writes_over_the_others_output(tmp_path):
    """A folder of parts (this engine's) or one file (the local engine's): switching engines
    replaces one with the other."""
    folder = tmp_path / "train.parquet"
    folder.mkdir()
    (folder / "part.0.parquet").write_bytes(b"parts")
    remove_output(folder)
    assert not folder.exists()
    folder.write_bytes(b"one file")
    remove_output(folder)
    assert not folder.exists()
    remove_output(folder)  # nothing there: nothing to do


def _parts(folder: Path) -> dict[str, pd.DataFrame]:
    """Each split the stage wrote, its partitions in order as one frame."""
    return {
        side: pd.read_parquet(folder / f"{side}.parquet").reset_index(drop=True)
        for side in ("train", "test")
    }


@pytest.mark.parametrize(
    ("task", "column"), [("classification", "customer"), ("regression", "team")]
)
def test_rows_without_a_target_are_set_aside_as_the_local_engine_does(
    client, small_sample, tmp_path, task, column
):
    frame = raw().assign(team=np.arange(ROWS) // 4)
    if task == "regression":
        frame["churned"] = np.arange(ROWS) * 0.5
    empty = [3, 40, LATE, LATE + 1, 239]  # in the sample, and in later partitions
    unlabeled = _set(frame, "churned", empty, None)
    role = {"customer": {"id_column": "customer"}, "team": {"group_column": "team"}}[column]
    params = settings(task=task, **role)
    path = write(unlabeled, tmp_path)
    lines = dask_run(path, params, tmp_path / "set aside")
    alone = tmp_path / "labeled.csv"
    frame.drop(index=empty).to_csv(alone, index=False)
    expected = dask_run(alone, params, tmp_path / "alone")
    # The same rows on the same sides as without them, and the lines the local engine says;
    # the same bytes when run again.
    set_aside, without = _parts(tmp_path / "set aside"), _parts(tmp_path / "alone")
    for side in ("train", "test"):
        pd.testing.assert_frame_equal(set_aside[side], without[side])
    assert dask_run(path, params, tmp_path / "again") == lines
    for side in ("train", "test"):
        parts = sorted((tmp_path / "set aside" / f"{side}.parquet").iterdir())
        again = sorted((tmp_path / "again" / f"{side}.parquet").iterdir())
        assert [part.read_bytes() for part in parts] == [part.read_bytes() for part in again]
    note = prepare(path, params)[0].notes[0]
    assert note == (
        f"note: target 'churned' is empty on 5 of {ROWS} rows of {path}: they are set aside, "
        "neither trained nor tested on, until their labels arrive (set prepare.unlabeled to "
        "error to refuse such data instead)"
    )
    assert lines == [note, *expected]


@pytest.mark.parametrize("unlabeled", ["set_aside", "error"])
def test_a_target_empty_on_every_row_is_the_local_sentence(
    client, small_sample, tmp_path, unlabeled
):
    path = write(raw().assign(churned=None), tmp_path)
    params = settings(unlabeled=unlabeled)
    assert dask_error(path, params, tmp_path) == local_error(path, params)


def test_too_few_labeled_rows_for_the_split_says_labeled_rows(client, tmp_path):
    frame = _set(raw(), "churned", range(4, ROWS), None).pipe(_set, "churned", [0, 1], "yes")
    frame = _set(frame, "churned", [2, 3], "no")
    message = dask_error(write(frame, tmp_path), settings(test_size=0.1), tmp_path)
    assert message.startswith("prepare.test_size 0.1 leaves fewer than 2 of the 4 labeled rows ")
    assert message.endswith(": change prepare.test_size or add labeled rows")


@pytest.mark.parametrize("codes", [False, True])
def test_a_sample_without_a_single_label_reads_the_classes_as_written(
    client, small_sample, tmp_path, codes
):
    # The newest rows first, their labels not in yet: the first partition holds none.
    frame = raw().assign(churned=np.arange(ROWS) % 2) if codes else raw()
    path = write(_set(frame, "churned", range(70), None), tmp_path)
    lines = dask_run(path, settings(), tmp_path)
    assert lines[0] == prepare(path, settings())[0].notes[0]
    sides = _sides(tmp_path)
    assert len(sides) == ROWS - 70 and sides["churned"].notna().all()
    assert sorted(sides["churned"].unique()) == (["0", "1"] if codes else ["no", "yes"])
