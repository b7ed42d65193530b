"""prepare stage: validate() names each data problem in a UserError; split() is sound."""

import math

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.module_name }}.errors import (
    UserError,
)
from {{ cookiecutter.module_name }}.stages.prepare import (
    read_raw,
    split,
    validate,
)


@pytest.fixture
def raw() -> pd.DataFrame:
    """A small raw frame: an id, numbers, text with gaps, free text and a text target."""
    return pd.DataFrame(
        {
            "customer_id": [1, 2, 3, 4, 5, 6, 7, 8],
            "tenure": [1, 5, 12, 3, 40, 7, 22, 9],
            "charges": [10.5, np.nan, 30.0, 45.25, 12.0, 80.0, 5.5, 61.0],
            "plan": ["basic", "pro", None, "basic", "pro", "basic", None, "pro"],
            "notes": ["a", "b", "c", "d", "e", "f", "g", "h"],
            "churned": ["yes", "no", "no", "yes", "no", "yes", "no", "yes"],
        }
    )


def write_csv(folder, text: str):
    path = folder / "raw.csv"
    path.write_text(text, encoding="utf-8")
    return path


# --- bad data: each problem is a UserError that names it -----------------------------------------


def test_missing_target_column(raw):
    with pytest.raises(UserError, match=r"'target_typo' in data\.target.*no such column"):
        validate(raw, task="classification", target="target_typo")


@pytest.mark.parametrize("param", ["id_column", "drop_columns", "categorical_columns"])
def test_missing_listed_column(raw, param):
    listed = {
        "id_column": "ghost",
        "drop_columns": ["tenure", "ghost"],
        "categorical_columns": ["ghost"],
    }
    with pytest.raises(UserError, match=rf"'ghost' in data\.{param}.*no such column"):
        validate(raw, task="classification", target="churned", **{param: listed[param]})


@pytest.fixture
def typo_csv(tmp_path):
    """A CSV whose numeric column 'tenure' has one typo, 'abc', on line 5."""
    rows = [f"{value},{'ab'[value % 2]}" for value in range(10)]
    rows[3] = "abc,b"
    return write_csv(tmp_path, "\n".join(["tenure,churned", *rows, ""]))


def test_text_in_numeric_column(typo_csv):
    with pytest.raises(UserError, match=r"column 'tenure'.*line 5 has 'abc'.*categorical_columns"):
        validate(read_raw(typo_csv), task="classification", target="churned")


def test_text_in_numeric_column_listed_as_categorical_is_categories(typo_csv):
    clean = validate(
        read_raw(typo_csv, ["tenure"]),
        task="classification",
        target="churned",
        categorical_columns=["tenure"],
    )
    assert not pd.api.types.is_numeric_dtype(clean["tenure"])
    assert list(clean["tenure"]) == ["0", "1", "2", "abc", "4", "5", "6", "7", "8", "9"]


def test_single_class_target(raw):
    with pytest.raises(UserError, match=r"target 'churned'.*single class \('yes'\)"):
        validate(raw.assign(churned="yes"), task="classification", target="churned")


def test_class_with_one_row(raw):
    labels = ["yes", "no", "no", "yes", "maybe", "yes", "no", "yes"]
    with pytest.raises(UserError, match=r"class 'maybe' of target 'churned' has only one row"):
        validate(raw.assign(churned=labels), task="classification", target="churned")


def test_empty_file(tmp_path):
    path = tmp_path / "raw.csv"
    path.write_bytes(b"")
    with pytest.raises(UserError, match=r"raw\.csv is empty"):
        read_raw(path)


def test_header_only(tmp_path):
    path = write_csv(tmp_path, "tenure,plan,churned\n")
    frame = read_raw(path)
    assert frame.empty
    with pytest.raises(UserError, match=r"header but no data rows"):
        validate(frame, task="classification", target="churned", source=str(path))


def test_all_empty_column(raw):
    with pytest.raises(UserError, match=r"column 'comment' is empty in every row"):
        validate(raw.assign(comment=np.nan), task="classification", target="churned")


def test_repeated_ids(raw):
    ids = [1, 2, 3, 4, 2, 6, 7, 8]
    with pytest.raises(UserError, match=r"id column 'customer_id' repeats .*lines 3 and 6"):
        validate(
            raw.assign(customer_id=ids),
            task="classification",
            target="churned",
            id_column="customer_id",
        )


@pytest.mark.parametrize("new_id", [2, 99], ids=["same-id", "other-id"])
def test_duplicate_rows(raw, new_id):
    # Row 1 (CSV line 3) repeated at the end (line 10); the id is not a feature, so a repeat
    # with another id is still the same example in train and test.
    repeated = pd.concat([raw, raw.iloc[[1]].assign(customer_id=new_id)], ignore_index=True)
    id_column = "customer_id" if new_id != 2 else None
    drop = [] if id_column else ["customer_id"]
    with pytest.raises(UserError, match=r"line 10 repeats line 3\).*both train and test"):
        validate(
            repeated,
            task="classification",
            target="churned",
            id_column=id_column,
            drop_columns=drop,
        )


def test_regression_text_target(raw):
    with pytest.raises(UserError, match=r"target 'churned'.*must be numbers for regression"):
        validate(raw, task="regression", target="churned")


def test_classification_decimal_target(raw):
    amounts = [0.5, 1.5, 2.25, 0.5, 1.5, 2.25, 0.5, 1.5]
    with pytest.raises(UserError, match=r"target 'amount'.*decimal numbers"):
        validate(raw.assign(amount=amounts), task="classification", target="amount")


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_missing_target_values(raw, task):
    frame = raw.assign(spend=[1.0, 2.0, np.nan, 4.0, 1.0, np.nan, 4.0, 2.0])
    with pytest.raises(UserError, match=r"target 'spend' is empty on 2 rows.*first on line 4"):
        validate(frame, task=task, target="spend")


def test_unknown_task(raw):
    with pytest.raises(UserError, match=r"data\.task is 'clustering'.*classification, regression"):
        validate(raw, task="clustering", target="churned")


# --- good data: the frame validate() returns ------------------------------------------------------


def test_numeric_columns_become_float(tmp_path):
    path = write_csv(tmp_path, "count,price,churned\n1,2.5,a\n2,,b\n3,4,a\n4,1e3,b\n")
    clean = validate(read_raw(path), task="classification", target="churned")
    assert clean["count"].dtype == "float64"
    assert clean["price"].dtype == "float64"
    assert clean["price"].isna().tolist() == [False, True, False, False]
    assert clean["price"].iloc[3] == 1000.0


def test_text_columns_stay_text_with_missing_kept(raw):
    clean = validate(raw, task="classification", target="churned", id_column="customer_id")
    plan = clean["plan"]
    assert not pd.api.types.is_numeric_dtype(plan)
    assert plan.isna().tolist() == raw["plan"].isna().tolist()
    assert set(plan.dropna()) == {"basic", "pro"}


def test_number_codes_listed_as_categorical_stay_text(tmp_path):
    path = write_csv(tmp_path, "zip,churned\n01234,a\n02345,b\n01234,b\n03456,a\n")
    clean = validate(
        read_raw(path, ["zip"]),
        task="classification",
        target="churned",
        categorical_columns=["zip"],
    )
    assert list(clean["zip"]) == ["01234", "02345", "01234", "03456"]


def test_id_and_drop_columns_are_removed(raw):
    clean = validate(
        raw,
        task="classification",
        target="churned",
        id_column="customer_id",
        drop_columns=["notes"],
    )
    assert list(clean.columns) == ["tenure", "charges", "plan", "churned"]
    assert len(clean) == len(raw)


# --- split ----------------------------------------------------------------------------------------


@pytest.fixture
def labelled() -> pd.DataFrame:
    """100 distinct rows, unbalanced classes 60/30/10, and a numeric target for regression."""
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "key": np.arange(100, dtype="float64"),
            "noise": rng.normal(size=100),
            "label": ["a"] * 60 + ["b"] * 30 + ["c"] * 10,
            "amount": rng.normal(size=100),
        }
    )


def _split(frame, task, seed, test_size=0.25):
    target = "label" if task == "classification" else "amount"
    return split(frame, task=task, target=target, test_size=test_size, seed=seed)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_split_is_deterministic(labelled, task):
    train, test = _split(labelled, task, seed=7)
    again_train, again_test = _split(labelled, task, seed=7)
    pd.testing.assert_frame_equal(train, again_train)
    pd.testing.assert_frame_equal(test, again_test)
    _, other_test = _split(labelled, task, seed=8)
    assert set(other_test["key"]) != set(test["key"])


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("test_size", [0.2, 0.33])
def test_split_sizes(labelled, task, test_size):
    train, test = _split(labelled, task, seed=0, test_size=test_size)
    assert len(test) == math.ceil(test_size * len(labelled))
    assert len(train) == len(labelled) - len(test)
    assert list(train.columns) == list(labelled.columns)


def test_split_is_stratified_for_classification():
    # Unbalanced classes and several seeds: an unstratified split would miss by more than a row.
    frame = pd.DataFrame({"key": np.arange(500.0), "label": ["a"] * 300 + ["b"] * 150 + ["c"] * 50})
    overall = frame["label"].value_counts()
    for seed in range(10):
        train, test = split(frame, task="classification", target="label", test_size=0.3, seed=seed)
        for part in (train, test):
            counts = part["label"].value_counts()
            for label, total in overall.items():
                expected = total * len(part) / len(frame)
                assert abs(counts.get(label, 0) - expected) <= 1, (seed, label, counts.to_dict())


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_split_shares_no_rows(labelled, task):
    train, test = _split(labelled, task, seed=3)
    assert set(train["key"]).isdisjoint(test["key"])
    assert sorted([*train["key"], *test["key"]]) == list(labelled["key"])
    # Each row keeps its own values (no shuffling of cells between rows).
    merged = pd.concat([train, test]).sort_values("key").reset_index(drop=True)
    pd.testing.assert_frame_equal(merged, labelled)


@pytest.mark.parametrize("param", ["id_column", "drop_columns", "categorical_columns"])
def test_target_listed_as_another_role(raw, param):
    listed = {"id_column": "churned"} if param == "id_column" else {param: ["churned"]}
    with pytest.raises(UserError, match=rf"target 'churned' is also listed in data\.{param}"):
        validate(raw, task="classification", target="churned", **listed)


def test_messages_show_values_as_written(raw):
    single = raw.assign(churned=1)
    with pytest.raises(UserError, match=r"single class \(1\)"):
        validate(single, task="classification", target="churned")


def test_infinity_in_a_numeric_column(raw):
    infinite = raw.assign(charges=[1.0, 2.0, np.inf, 4.0, 5.0, 6.0, 7.0, 8.0])
    with pytest.raises(UserError, match=r"column 'charges'.*line 4 has inf"):
        validate(infinite, task="classification", target="churned")


def test_split_too_small_for_every_class():
    frame = pd.DataFrame({"a": range(10), "y": [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]})
    with pytest.raises(UserError, match=r"fewer than 5 of the 10 rows .*one per class"):
        split(frame, task="classification", target="y", test_size=0.2, seed=0)


@pytest.mark.parametrize("test_size", [0, 1, 1.5])
def test_split_size_out_of_range(test_size):
    frame = pd.DataFrame({"a": range(10), "y": range(10)})
    with pytest.raises(UserError, match=r"prepare\.test_size .* between 0 and 1"):
        split(frame, task="regression", target="y", test_size=test_size, seed=0)


def test_malformed_csv(tmp_path):
    path = write_csv(tmp_path, "a,b\n1,2\n3,4,5\n")
    with pytest.raises(UserError, match=r"is not a well-formed CSV .*line 3"):
        read_raw(path)


def test_csv_not_utf8(tmp_path):
    path = tmp_path / "raw.csv"
    path.write_bytes("city,y\nZürich,1\n".encode("latin-1"))
    with pytest.raises(UserError, match=r"is not UTF-8 text"):
        read_raw(path)


def test_no_feature_left(raw):
    dropped = ["customer_id", "tenure", "charges", "plan", "notes"]
    with pytest.raises(UserError, match=r"no feature columns are left"):
        validate(raw, task="classification", target="churned", drop_columns=dropped)


def test_class_too_small_for_the_test_split():
    frame = pd.DataFrame({"a": range(40), "y": ["big"] * 38 + ["rare"] * 2})
    with pytest.raises(
        UserError, match=r"class 'rare' of target 'y' has too few rows .* test split"
    ):
        split(frame, task="classification", target="y", test_size=0.2, seed=0)


def test_regression_split_needs_two_test_rows():
    frame = pd.DataFrame({"a": range(5), "y": range(5)})
    with pytest.raises(UserError, match=r"fewer than 2 of the 5 rows"):
        split(frame, task="regression", target="y", test_size=0.2, seed=0)
