"""The data's drift between two versions, on real tables (scikit-learn's breast cancer and
diabetes data, read back from CSV the prepare stage's way): rows and columns added and removed,
each column's statistic against its threshold, new category values, the target's balance, and
the Markdown section."""

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes

from dvc_ml_kit.ci import drift
from dvc_ml_kit.errors import UserError

# A table of more than drift.MANY_ROWS rows: the breast cancer rows four times over.
COPIES = 4


@pytest.fixture(scope="module")
def cancer(tmp_path_factory) -> pd.DataFrame:
    """The breast cancer data as a CSV gives it: 30 numbers and a text target."""
    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = frame.columns.str.replace(" ", "_")
    frame["diagnosis"] = np.where(frame.pop("target") == 1, "benign", "malignant")
    path = tmp_path_factory.mktemp("raw") / "cancer.csv"
    frame.to_csv(path, index=False)
    return drift.read(path, {})


@pytest.fixture(scope="module")
def diabetes(tmp_path_factory) -> pd.DataFrame:
    """The diabetes data with its raw values and ``sex`` read as a category (1.0 or 2.0)."""
    frame = load_diabetes(scaled=False, as_frame=True).frame
    path = tmp_path_factory.mktemp("raw") / "diabetes.csv"
    frame.to_csv(path, index=False)
    return drift.read(path, {"data.categorical_columns": ["sex"]})


def compare_cancer(base: pd.DataFrame, new: pd.DataFrame, **options) -> drift.DataChange:
    return drift.compare(base, new, target="diagnosis", task="classification", **options)


def compare_diabetes(base: pd.DataFrame, new: pd.DataFrame, **options) -> drift.DataChange:
    return drift.compare(
        base, new, target="target", task="regression", categorical_columns=["sex"], **options
    )


def shifted(frame: pd.DataFrame, column: str, rows: int, factor: float = 1.5) -> pd.DataFrame:
    """``frame`` with ``rows`` more rows: copies of seeded picks of its own, ``column`` scaled."""
    picks = frame.sample(rows, random_state=0, replace=rows > len(frame))
    return pd.concat([frame, picks.assign(**{column: picks[column] * factor})], ignore_index=True)


def table_rows(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("|")]


def pipes(line: str) -> int:
    """The cell separators of a table row: pipes not escaped."""
    return len(re.findall(r"(?<!\\)\|", line))


def test_read_takes_parquet_too_and_refuses_what_prepare_refuses(cancer, tmp_path):
    cancer.to_parquet(tmp_path / "cancer.parquet")
    pd.testing.assert_frame_equal(drift.read(tmp_path / "cancer.parquet", {}), cancer)
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(UserError, match="could not be read as Parquet"):
        drift.read(tmp_path / "broken.parquet", {})


@pytest.mark.parametrize("copies", [1, COPIES], ids=["tests", "distances"])
def test_unchanged_data_has_no_drift_and_no_rows_changed(cancer, copies):
    base = pd.concat([cancer] * copies, ignore_index=True)
    change = compare_cancer(base, base.copy())
    assert change.rows == drift.Rows(len(base), len(base), added=0, removed=0)
    assert not change.added_columns and not change.removed_columns
    assert len(change.columns) == 30 and not change.drifted_columns
    assert not change.changed and not change.target.drift.drifted
    assert drift.score(change) == 0 and not drift.drifted(change)
    statistic = drift.WASSERSTEIN if copies > 1 else drift.KOLMOGOROV_SMIRNOV
    assert {column.statistic for column in change.columns} == {statistic}
    lines = drift.section(change)
    assert lines[:3] == [
        "### Data",
        "",
        f"The data did not change: {len(base):,} rows, no column drifted (30 columns compared).",
    ]


def test_appended_and_removed_rows_are_counted_as_multisets(cancer):
    # Repeats of existing rows are rows too: the first 40 rows again, and 25 rows fewer.
    new = pd.concat([cancer.iloc[25:], cancer.iloc[:40]], ignore_index=True)
    change = compare_cancer(cancer, new)
    assert change.rows == drift.Rows(569, 584, added=15, removed=0)
    new = pd.concat([cancer.iloc[25:], cancer.iloc[100:140]], ignore_index=True)
    assert compare_cancer(cancer, new).rows == drift.Rows(569, 584, added=40, removed=25)
    assert drift.section(compare_cancer(cancer, new))[2].startswith(
        "**The data changed:** 569 → 584 rows (40 added, 25 removed); 0 of 30 columns drifted"
    )


def test_rows_are_matched_by_the_id_column(diabetes):
    base = diabetes.assign(patient=np.arange(len(diabetes)))
    new = base.iloc[10:].copy()  # 10 removed
    new.loc[new.index[:5], "bmi"] += 1  # 5 changed
    extra = base.iloc[:3].assign(patient=[1000, 1001, 1002])  # 3 added
    new = pd.concat([new, extra], ignore_index=True)
    change = compare_diabetes(base, new, id_column="patient")
    assert change.rows == drift.Rows(442, 435, 3, 10, changed=5, id_column="patient")
    assert "patient" not in {column.name for column in change.columns}
    # An id column read as numbers in one version and text in the other still matches.
    change = compare_diabetes(
        base, new.assign(patient=new["patient"].astype(str)), id_column="patient"
    )
    assert (change.rows.added, change.rows.removed) == (3, 10)


@pytest.mark.parametrize("copies", [1, COPIES], ids=["tests", "distances"])
def test_a_shifted_column_is_flagged_with_its_statistic(cancer, copies):
    base = pd.concat([cancer] * copies, ignore_index=True)
    new = shifted(base, "mean_radius", rows=len(base) // 2)
    change = compare_cancer(base, new)
    (column,) = change.drifted_columns
    assert (column.name, column.kind) == ("mean_radius", "number")
    if copies > 1:
        assert column.statistic == drift.WASSERSTEIN and column.value >= 0.1
    else:
        assert column.statistic == drift.KOLMOGOROV_SMIRNOV and column.value < 0.05
    assert change.rows.added == len(base) // 2
    lines = drift.section(change)
    row = next(line for line in lines if line.startswith("| `mean_radius`"))
    statistic, value = column.statistic, f"{column.value:.3g}"
    assert row == f"| `mean_radius` | number | {statistic.name} | {value} | {statistic.rule()} |"
    assert "No drift in the other 29 columns." in lines
    # Scaling most columns drifts the data as a whole (Evidently's share of 0.5).
    for name in base.columns[:20]:
        new[name] = new[name] * 1.5
    change = compare_cancer(base, new)
    assert drift.score(change) == pytest.approx(20 / 30)
    assert drift.drifted(change) and not drift.drifted(change, share=0.9)


def test_dates_and_yes_no_columns_drift_by_their_own_statistics(diabetes, tmp_path):
    """A date column (ISO 8601 text) moved a year on, and a yes/no column whose share moved."""
    frame = pd.concat([diabetes] * 3, ignore_index=True)  # more than drift.MANY_ROWS rows
    visit = pd.Timestamp("2024-01-01") + pd.to_timedelta(frame["age"] * 5, unit="D")
    frame["visit"] = visit.dt.strftime("%Y-%m-%d")
    frame["obese"] = np.where(frame["bmi"] >= 30, "yes", "no")
    frame.to_csv(tmp_path / "base.csv", index=False)
    later = frame.assign(visit=(visit + pd.Timedelta(days=365)).dt.strftime("%Y-%m-%d"))
    later["obese"] = np.where(later["bmi"] >= 25, "yes", "no")
    later.to_csv(tmp_path / "new.csv", index=False)
    settings = {"data.categorical_columns": ["sex"]}
    base, new = (drift.read(tmp_path / f"{name}.csv", settings) for name in ("base", "new"))
    change = compare_diabetes(base, new)
    found = {column.name: column for column in change.drifted_columns}
    assert set(found) == {"visit", "obese"}
    assert (found["visit"].kind, found["visit"].statistic) == ("date", drift.WASSERSTEIN)
    assert found["visit"].value == pytest.approx(365 / (frame["age"] * 5).std(ddof=0), rel=1e-6)
    assert (found["obese"].kind, found["obese"].statistic) == ("boolean", drift.JENSEN_SHANNON)
    assert found["obese"].value >= 0.1
    assert change.rows == drift.Rows(1326, 1326, added=1326, removed=1326)


def test_a_distance_reached_by_chance_is_not_drift(diabetes):
    """Two draws of one distribution of 80 clinics over 1,326 rows: their Jensen-Shannon
    distance passes 0.1 by chance alone, and the chi-square test says so."""
    frame = pd.concat([diabetes] * 3, ignore_index=True)
    clinics = [np.random.default_rng(seed).integers(0, 80, len(frame)) for seed in (0, 1)]
    base, new = (frame.assign(clinic=[f"c{i}" for i in draw]) for draw in clinics)
    (clinic,) = [
        column for column in compare_diabetes(base, new).columns if column.name == "clinic"
    ]
    assert clinic.statistic == drift.JENSEN_SHANNON and clinic.value >= 0.1
    assert clinic.p_value >= 0.05 and not clinic.drifted


def test_a_new_category_value_is_listed_with_its_count(diabetes):
    new = diabetes.copy()
    new.loc[new.index[:7], "sex"] = "3.0"
    change = compare_diabetes(diabetes, new)
    (values,) = change.values
    assert values == drift.Values("sex", (("3.0", 7),), 1, (), 0)
    sex = next(column for column in change.columns if column.name == "sex")
    assert sex.kind == "category" and sex.statistic == drift.CHI_SQUARE
    lines = drift.section(change)
    assert "| Column | New values (rows) | Vanished values (base rows) |" in lines
    assert "| `sex` | `3.0` (7) | — |" in lines
    assert "; category values new or gone in 1 column;" in lines[2]
    # A value that is gone is listed too, with its rows in the base.
    new = diabetes.assign(sex=diabetes["sex"].replace("2.0", "1.0"))
    change = compare_diabetes(diabetes, new)
    (values,) = change.values
    women = int((diabetes["sex"] == "2.0").sum())
    assert values.vanished == (("2.0", women),) and not values.new
    assert f"| `sex` | — | `2.0` ({women}) |" in drift.section(change)


def test_dropped_and_added_columns_are_listed(cancer):
    new = cancer.drop(columns=["worst_area", "mean_texture"]).assign(site="north")
    change = compare_cancer(cancer, new)
    assert change.removed_columns == ("mean_texture", "worst_area")
    assert change.added_columns == ("site",)
    assert change.rows == drift.Rows(569, 569, 0, 0)  # compared on the columns both have
    lines = drift.section(change)
    assert "Columns removed: `mean_texture`, `worst_area`." in lines
    assert "Columns added: `site`." in lines
    assert "; 1 column added, 2 removed;" in lines[2]
    only_removed = drift.section(compare_cancer(cancer, cancer.drop(columns=["worst_area"])))
    assert "; 1 column removed;" in only_removed[2]


def test_a_kind_change_counts_as_drift(diabetes):
    new = diabetes.assign(bp=np.where(diabetes["bp"] > 90, "high", "normal"))
    (column,) = compare_diabetes(diabetes, new).drifted_columns
    assert (column.name, column.kind, column.statistic, column.drifted) == (
        "bp",
        "number → text",
        None,
        True,
    )
    row = next(line for line in drift.section(compare_diabetes(diabetes, new)) if "`bp`" in line)
    assert row == "| `bp` | number → text | kind changed | — | — |"


def test_the_target_balance_before_and_after_is_shown(cancer, diabetes):
    malignant = cancer.index[cancer["diagnosis"] == "malignant"]
    new = cancer.drop(index=malignant[:150])
    balance = compare_cancer(cancer, new).target
    assert [line[0] for line in balance.lines] == ["benign", "malignant"]
    assert balance.lines[0][1:] == pytest.approx((357 / 569, 357 / 419))
    assert balance.drift.drifted and balance.drift.statistic == drift.CHI_SQUARE
    lines = drift.section(compare_cancer(cancer, new))
    assert "| `benign` | 62.7 % | 85.2 % |" in lines
    assert "| `malignant` | 37.3 % | 14.8 % |" in lines
    assert "the target's balance drifted" in lines[2]
    # Regression: the mean and quartiles; rows without a target are counted apart.
    new = diabetes.assign(target=diabetes["target"] * 1.2)
    new.loc[new.index[:4], "target"] = np.nan
    balance = compare_diabetes(diabetes, new).target
    assert balance.lines[0][0] == "mean" and balance.unlabeled == (0, 4)
    assert balance.lines[0][2] == pytest.approx(new["target"].mean())
    lines = drift.section(compare_diabetes(diabetes, new))
    assert "| mean | 152 | 183 |" in lines and "Rows without a target: 0 → 4." in lines
    assert lines[2].endswith("; the target's distribution drifted.")


def test_a_seeded_sample_gives_the_same_result_twice(cancer):
    base = pd.concat([cancer] * COPIES, ignore_index=True)
    new = shifted(base, "worst_radius", rows=500)
    first = compare_cancer(base, new, sample_rows=1500, seed=3)
    assert first.sampled == (1500, 1500)
    assert compare_cancer(base, new, sample_rows=1500, seed=3) == first
    assert drift.section(compare_cancer(base, new, sample_rows=1500, seed=3)) == drift.section(
        first
    )
    other = compare_cancer(base, new, sample_rows=1500, seed=4)
    assert [c.value for c in other.columns] != [c.value for c in first.columns]


def test_awkward_names_keep_each_table_row_on_one_line(cancer):
    awkward = ["a|b", "tick`s", "line\nbreak", "  ", "pipe |` end"]
    renamed = dict(zip(cancer.columns[:5], awkward, strict=True))
    base = cancer.rename(columns=renamed)
    new = shifted(base, awkward[0], rows=300)
    for name in awkward[1:]:
        new[name] = new[name] * 2
    new["diagnosis"] = new["diagnosis"].replace("benign", "be|nign\n`x`")
    change = compare_cancer(base, new)
    assert {column.name for column in change.drifted_columns} == set(awkward)
    lines = drift.section(change)
    rows = table_rows(lines)
    assert len(rows) == 2 + len(awkward) + 2 + 3  # drift table, target table: header, rows
    assert {pipes(line) for line in rows[: 2 + len(awkward)]} == {6}
    assert {pipes(line) for line in rows[2 + len(awkward) :]} == {4}
    assert all("\n" not in line for line in lines)


def test_long_lists_are_cut_and_say_how_many_were_left_out(cancer):
    base = pd.concat([cancer] * COPIES, ignore_index=True)
    new = base.copy()
    for name in base.columns[:25]:
        new[name] = new[name] * 2
    new = new.drop(columns=base.columns[25:30])
    change = compare_cancer(base, new)
    lines = drift.section(change, top=4)
    assert len(table_rows(lines)) == 2 + 4 + 4  # four drifted columns, then the target's table
    assert "21 more drifted columns not listed." in lines
    assert any(
        line.startswith("Columns removed: ") and line.endswith(" and 1 more.") for line in lines
    )
    assert lines[-2] == drift.method_line(change)
    assert (
        "numbers and dates by Wasserstein distance (normed), categories and yes/no by "
        "Jensen-Shannon distance, drift at ≥ 0.1 (Evidently's defaults above 1,000 rows) where a "
        "Kolmogorov-Smirnov or chi-square test also gives p < 0.05. Rows matched whole"
    ) in lines[-2]
