"""How the raw data moved between the base revision and this one, for the report's "Data" section.

:func:`compare` takes both versions of the raw data (as :func:`read` reads them, the prepare
stage's way) and counts rows and columns added and removed on all rows, then measures each column's
drift on a seeded sample of at most :data:`SAMPLE_ROWS` rows per side, with the statistic of its
kind (see :data:`WASSERSTEIN`), lists category values that appeared or vanished, and shows the
target's balance before and after. :func:`section` renders the result as Markdown;
:func:`score` and :func:`drifted` serve a drift gate.

Pure but for :func:`read`; pandas, NumPy and SciPy are imported where they are used, so that
importing this module costs nothing.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from .markdown import cell, code

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

# Drift is measured on at most this many rows of each version, drawn with a seed: enough for
# distances to settle to about 0.01, and seconds on any table.
SAMPLE_ROWS = 100_000


@dataclass(frozen=True)
class Statistic:
    """A drift statistic and the value from which a column counts as drifted: at or above
    ``threshold`` for a distance, below it for a test's p-value (``p_value``)."""

    name: str
    threshold: float
    p_value: bool = False

    def beyond(self, value: float) -> bool:
        """Whether ``value`` of this statistic says the column drifted."""
        return value < self.threshold if self.p_value else value >= self.threshold

    def rule(self) -> str:
        """The threshold as the report states it, e.g. ``≥ 0.1``."""
        return f"{'<' if self.p_value else '≥'} {self.threshold:g}"


# The statistics and thresholds are Evidently's defaults (DataDriftPreset): on more than
# MANY_ROWS base rows, distances, which measure how much a distribution moved whatever the number
# of rows (on 100,000 rows a test's p-value calls the smallest difference significant); on fewer,
# two-sample tests, since a distance measured on few rows is mostly noise.
MANY_ROWS = 1000
# Numbers and dates: the earth mover's distance in units of the base's standard deviation, so
# 0.1 is a tenth of a standard deviation.
WASSERSTEIN = Statistic("Wasserstein distance (normed)", 0.1)
# Categories and yes/no: the square root of the Jensen-Shannon divergence of the two value
# shares (natural log: 0 for the same shares, 0.83 for shares with no value in common).
JENSEN_SHANNON = Statistic("Jensen-Shannon distance", 0.1)
KOLMOGOROV_SMIRNOV = Statistic("Kolmogorov-Smirnov p-value", 0.05, p_value=True)
CHI_SQUARE = Statistic("chi-square p-value", 0.05, p_value=True)
# Yet a distance between two samples of one distribution can reach 0.1 on a few thousand rows
# (Jensen-Shannon over 50 equally common values: up to 0.12 on 1,000 rows per side, 0.013 on
# 100,000): a distance beyond its threshold counts only where the test of its kind
# (Kolmogorov-Smirnov, chi-square) also finds the change beyond chance, at this p-value.
CHANCE = Statistic("p-value", 0.05, p_value=True)
# A number column with at most this many different values (codes, flags) is compared as
# categories, as Evidently does.
FEW_VALUES = 5
# Evidently's dataset drift: at least this share of the compared columns drifted.
DRIFT_SHARE = 0.5
# The most frequent new (and vanished) values listed per column.
VALUES_SHOWN = 3


@dataclass(frozen=True)
class Rows:
    """Rows of each version, and those only in one: matched by ``id_column``, or else (None) by
    their values in the columns both versions have, counted as multisets: a repeated row counts
    once per copy, and a row whose values changed is one removed and one added. ``changed``:
    rows with an id in both whose values differ (None without an id column)."""

    before: int
    after: int
    added: int
    removed: int
    changed: int | None = None
    id_column: str | None = None


@dataclass(frozen=True)
class ColumnDrift:
    """One column's drift: its kind (prepare's: number, date, boolean, category, text; ``a →
    b`` when it changed), the statistic measured and its value (None when a side has no value
    or the kind changed), whether it drifted, and the p-value of the test that decided it."""

    name: str
    kind: str
    statistic: Statistic | None
    value: float | None
    drifted: bool
    p_value: float | None = None  # the test's, where one was needed (see CHANCE)

    def severity(self) -> float:
        """How far beyond its threshold the column is, for ordering: a kind change first."""
        if self.statistic is None or self.value is None:
            return math.inf
        if self.statistic.p_value:
            return self.statistic.threshold / max(self.value, 1e-300)
        return self.value / self.statistic.threshold


@dataclass(frozen=True)
class Values:
    """Category values of one column found in only one version: the most frequent
    (VALUES_SHOWN) with their row counts, and how many different ones in all."""

    column: str
    new: tuple[tuple[str, int], ...]
    new_count: int
    vanished: tuple[tuple[str, int], ...]
    vanished_count: int


@dataclass(frozen=True)
class Balance:
    """The target's balance: per class, its share of the labeled rows before and after (None
    where absent) for classification; the mean and quartiles for regression. ``unlabeled``:
    rows whose target is empty, before and after; ``drift``: the target's own drift."""

    name: str
    task: str
    lines: tuple[tuple[str, float | None, float | None], ...]
    unlabeled: tuple[int, int]
    drift: ColumnDrift


@dataclass(frozen=True)
class DataChange:
    """What changed between two versions of the raw data (see :func:`compare`)."""

    rows: Rows
    added_columns: tuple[str, ...]
    removed_columns: tuple[str, ...]
    columns: tuple[ColumnDrift, ...]  # every compared column, in the new version's order
    skipped: tuple[tuple[str, str], ...]  # columns not compared (ids, free text), and why
    values: tuple[Values, ...]
    target: Balance | None  # None when either version lacks the target column
    sampled: tuple[int, int]  # the rows drift was measured on, per version
    seed: int

    @property
    def drifted_columns(self) -> tuple[ColumnDrift, ...]:
        """The drifted columns, the furthest beyond their threshold first."""
        return tuple(sorted((c for c in self.columns if c.drifted), key=lambda c: -c.severity()))

    @property
    def changed(self) -> bool:
        """Whether anything differs: rows, columns, drift or category values."""
        rows = self.rows
        return bool(
            rows.added
            or rows.removed
            or rows.changed
            or self.added_columns
            or self.removed_columns
            or any(c.drifted for c in self.columns)
            or self.values
            or (self.target is not None and self.target.drift.drifted)
        )


# --- reading -------------------------------------------------------------------------------------


def read(path: Path, params: Mapping[str, object]) -> "pd.DataFrame":
    """The raw data at ``path`` as the prepare stage reads it: Parquet, or a CSV with the reading
    settings of ``params`` (the keys ``data.categorical_columns``, ``data.separator``,
    ``data.decimal`` and ``data.encoding``; missing ones are detected, as null in params.yaml).
    Raises UserError with prepare's sentence when the file cannot be read."""
    import pandas as pd
    import pyarrow

    from ..pipeline.prepare import is_parquet, not_parquet_error, read_raw

    if is_parquet(path):
        try:
            return pd.read_parquet(path)
        except (OSError, pyarrow.ArrowException) as error:
            raise not_parquet_error(path, error) from None
    return read_raw(
        path,
        params.get("data.categorical_columns") or [],
        separator=params.get("data.separator"),
        decimal=params.get("data.decimal"),
        encoding=params.get("data.encoding"),
    )


# --- comparing -----------------------------------------------------------------------------------


def sample(frame: "pd.DataFrame", rows: int, seed: int) -> "pd.DataFrame":
    """At most ``rows`` rows of ``frame``, drawn without replacement with ``seed``, in order."""
    import numpy as np

    if len(frame) <= rows:
        return frame
    picked = np.random.default_rng(seed).choice(len(frame), size=rows, replace=False)
    return frame.iloc[np.sort(picked)]


def comparable(left: "pd.Series", right: "pd.Series") -> tuple["pd.Series", "pd.Series"]:
    """One column of each version, of one type: as read when the types agree, else as floats
    when both are numbers (whole numbers are read as floats once a value is missing, and 1 and
    1.0 are one value), else as text."""
    import pandas as pd

    if left.dtype == right.dtype:
        return left, right

    def number(values: pd.Series) -> bool:
        return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)

    common = "float64" if number(left) and number(right) else str
    return left.astype(common), right.astype(common)


def _hashes(base: "pd.DataFrame", new: "pd.DataFrame", columns: list) -> tuple:
    """A 64-bit hash of each row's values in ``columns``, per version (see comparable)."""
    import pandas as pd

    pairs = [comparable(base[name], new[name]) for name in columns]
    # By position: the rows' labels (which may repeat) play no part.
    left = pd.DataFrame({i: old.reset_index(drop=True) for i, (old, _) in enumerate(pairs)})
    right = pd.DataFrame({i: now.reset_index(drop=True) for i, (_, now) in enumerate(pairs)})
    left.index, right.index = range(len(base)), range(len(new))
    return (
        pd.util.hash_pandas_object(left, index=False),
        pd.util.hash_pandas_object(right, index=False),
    )


def count_rows(base: "pd.DataFrame", new: "pd.DataFrame", id_column: str | None = None) -> Rows:
    """Rows added and removed from ``base`` to ``new``, by ``id_column`` when both have it (and
    rows changed: same id, other values), else as multisets of whole rows on the columns both
    versions have."""
    import pandas as pd

    both = [c for c in new.columns if c in base.columns and c != id_column]
    if id_column and id_column in base.columns and id_column in new.columns:
        left, right = comparable(base[id_column], new[id_column])
        old_hashes, new_hashes = _hashes(base, new, both)
        old_rows = pd.Series(old_hashes.to_numpy(), index=left.to_numpy()).groupby(level=0).first()
        new_rows = pd.Series(new_hashes.to_numpy(), index=right.to_numpy()).groupby(level=0).first()
        shared = old_rows.index.intersection(new_rows.index)
        changed = int((old_rows[shared] != new_rows[shared]).sum())
        return Rows(
            len(base),
            len(new),
            added=int((~right.isin(left)).sum()),
            removed=int((~left.isin(right)).sum()),
            changed=changed,
            id_column=id_column,
        )
    old_hashes, new_hashes = _hashes(base, new, both)
    counts = pd.concat(
        [old_hashes.value_counts().rename("base"), new_hashes.value_counts().rename("new")],
        axis=1,
    ).fillna(0)
    gained = counts["new"] - counts["base"]
    return Rows(
        len(base),
        len(new),
        added=int(gained.clip(lower=0).sum()),
        removed=int((-gained).clip(lower=0).sum()),
    )


def _as_numbers(values: "pd.Series") -> "np.ndarray":
    """A number or date column's values as floats (dates: seconds), missing ones dropped."""
    import numpy as np
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(values):
        present = values.dropna()
        return present.to_numpy("datetime64[ns]").view("int64") / 1e9
    array = values.to_numpy("float64", na_value=np.nan)
    return array[np.isfinite(array)]


def _shares(base: "pd.Series", new: "pd.Series") -> tuple["np.ndarray", "np.ndarray"]:
    """Row counts per value of each side, aligned; a missing value counts as one value."""
    import numpy as np
    import pandas as pd

    codes, distinct = pd.factorize(pd.concat([base, new], ignore_index=True), use_na_sentinel=False)
    size = len(distinct)
    return (
        np.bincount(codes[: len(base)], minlength=size).astype("float64"),
        np.bincount(codes[len(base) :], minlength=size).astype("float64"),
    )


def _chi_square(old_counts: "np.ndarray", new_counts: "np.ndarray") -> float:
    """The p-value of the chi-square test that both sides share one distribution of values."""
    import numpy as np
    from scipy import stats

    if len(old_counts) < 2:
        return 1.0  # one value on both sides: nothing to test
    return float(stats.chi2_contingency(np.array([old_counts, new_counts])).pvalue)


def column_drift(name: str, kind: str, base: "pd.Series", new: "pd.Series") -> ColumnDrift:
    """The drift of one column of ``kind`` from ``base`` to ``new`` (both converted to it), by
    the statistic of its kind (see WASSERSTEIN) for the number of ``base`` rows; a distance
    beyond its threshold counts only if the test of its kind finds it beyond chance (see
    CHANCE)."""
    import numpy as np
    import pandas as pd
    from scipy import stats
    from scipy.spatial.distance import jensenshannon

    many = len(base) > MANY_ROWS
    numeric = kind in ("number", "date")
    if numeric:
        old, now = _as_numbers(base), _as_numbers(new)
        numeric = len(pd.unique(np.concatenate([old, now]))) > FEW_VALUES
    if numeric:
        statistic = WASSERSTEIN if many else KOLMOGOROV_SMIRNOV
        if not len(old) or not len(now):
            return ColumnDrift(name, kind, statistic, None, bool(len(old) or len(now)))

        def test() -> float:
            return float(stats.ks_2samp(old, now).pvalue)

        if many:
            scale = old.std() or np.concatenate([old, now]).std()
            distance = stats.wasserstein_distance(old, now)
            value = float(distance / scale) if scale else 0.0
    else:
        statistic = JENSEN_SHANNON if many else CHI_SQUARE
        old_counts, new_counts = _shares(base, new)
        if not len(base) or not len(new):  # no rows on a side: no shares to compare
            return ColumnDrift(name, kind, statistic, None, bool(len(base) or len(new)))

        def test() -> float:
            return _chi_square(old_counts, new_counts)

        if many:
            value = float(jensenshannon(old_counts, new_counts))
    if not many:
        value = test()
        return ColumnDrift(name, kind, statistic, value, statistic.beyond(value), value)
    if not statistic.beyond(value):
        return ColumnDrift(name, kind, statistic, value, False)
    p_value = test()
    return ColumnDrift(name, kind, statistic, value, CHANCE.beyond(p_value), p_value)


def _value_counts(values: "pd.Series") -> "pd.Series":
    """Rows per value of a category column, its values as text (as prepare converts them)."""
    counts = values.value_counts(dropna=True)
    counts.index = counts.index.astype(str)
    return counts.groupby(level=0).sum()


def _listed(counts: "pd.Series") -> tuple[tuple[str, int], ...]:
    top = counts.sort_values(ascending=False, kind="stable").head(VALUES_SHOWN)
    return tuple((str(value), int(count)) for value, count in top.items())


def category_values(name: str, base: "pd.Series", new: "pd.Series") -> Values | None:
    """The values of a category column in only one version (all rows), or None if none."""
    old, now = _value_counts(base), _value_counts(new)
    added, gone = now[~now.index.isin(old.index)], old[~old.index.isin(now.index)]
    if added.empty and gone.empty:
        return None
    return Values(name, _listed(added), len(added), _listed(gone), len(gone))


def _label(value: object) -> str:
    """A class as the report shows it: a whole number read as a float (1.0) as a whole one."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def labels(values: "pd.Series") -> "pd.Series":
    """A classification target's values as classes (text, see _label); missing stays missing."""
    import numpy as np
    import pandas as pd

    codes, distinct = pd.factorize(values)
    names = np.array([_label(value) for value in distinct] + [None], dtype=object)
    return pd.Series(names[codes], index=values.index, name=values.name)


def target_balance(
    name: str, task: str, base: "pd.Series", new: "pd.Series", moved: ColumnDrift
) -> Balance:
    """The target's class shares (classification) or mean and quartiles (regression), before
    and after, over the rows that have one; ``moved``: its drift."""
    import pandas as pd

    unlabeled = (int(base.isna().sum()), int(new.isna().sum()))
    if task == "classification":
        old = labels(base).value_counts(normalize=True)
        now = labels(new).value_counts(normalize=True)
        shares = pd.concat([old.rename("base"), now.rename("new")], axis=1)
        shares = shares.sort_values(["base", "new"], ascending=False, kind="stable")
        lines = tuple(
            (str(label), _maybe(row["base"]), _maybe(row["new"]))
            for label, row in shares.iterrows()
        )
    else:
        old = pd.to_numeric(base, errors="coerce").dropna()
        now = pd.to_numeric(new, errors="coerce").dropna()
        parts = {"mean": "mean", "25 %": 0.25, "median": 0.5, "75 %": 0.75}
        lines = tuple(
            (label, _summary(old, how), _summary(now, how)) for label, how in parts.items()
        )
    return Balance(name, task, lines, unlabeled, moved)


def _maybe(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def _summary(values: "pd.Series", how: str | float) -> float | None:
    if values.empty:
        return None
    return float(values.mean() if how == "mean" else values.quantile(how))


def compare(
    base: "pd.DataFrame",
    new: "pd.DataFrame",
    *,
    target: str,
    task: str,
    id_column: str | None = None,
    categorical_columns: Sequence[str] = (),
    keep_columns: Sequence[str] = (),
    sample_rows: int = SAMPLE_ROWS,
    seed: int = 0,
) -> DataChange:
    """What changed from the ``base`` version of the raw data to ``new`` (both as :func:`read`
    gives them), for a ``task`` ("classification" or "regression") predicting ``target``.

    Rows, columns, category values and the target's balance are counted on all rows; drift is
    measured on at most ``sample_rows`` rows per side drawn with ``seed``. Each column's kind
    is prepare's (``categorical_columns`` and ``keep_columns`` as in params.yaml), inferred in
    each version; a column prepare leaves out (an id, free text) is not compared, and one whose
    kind changed counts as drifted."""
    import pandas as pd

    from ..pipeline.prepare import infer_column

    rows = count_rows(base, new, id_column)
    added = tuple(str(c) for c in new.columns if c not in base.columns)
    removed = tuple(str(c) for c in base.columns if c not in new.columns)
    old_rows, new_rows = sample(base, sample_rows, seed), sample(new, sample_rows, seed)
    explicit = set(categorical_columns) | set(keep_columns)
    columns, skipped, values = [], [], []
    for name in new.columns:
        if name not in base.columns or name in (target, id_column):
            continue
        settings = {"category": name in categorical_columns, "explicit": name in explicit}
        old_kind, old_values, _ = infer_column(old_rows[name], **settings)
        new_kind, new_values, _ = infer_column(new_rows[name], **settings)
        if isinstance(new_kind, str) or isinstance(old_kind, str):
            skipped.append((str(name), new_kind if isinstance(new_kind, str) else old_kind))
            continue
        kind = new_kind.name
        if old_kind.name != kind:
            columns.append(ColumnDrift(str(name), f"{old_kind.name} → {kind}", None, None, True))
            continue
        columns.append(column_drift(str(name), kind, old_values, new_values))
        if kind in ("category", "text"):
            found = category_values(str(name), base[name], new[name])
            if found:
                values.append(found)
    balance = None
    if target in base.columns and target in new.columns:
        if task == "classification":
            kind, convert = "category", labels
        else:
            kind, convert = "number", partial(pd.to_numeric, errors="coerce")
        moved = column_drift(
            str(target), kind, convert(old_rows[target]), convert(new_rows[target])
        )
        balance = target_balance(str(target), task, base[target], new[target], moved)
    return DataChange(
        rows,
        added,
        removed,
        tuple(columns),
        tuple(skipped),
        tuple(values),
        balance,
        (len(old_rows), len(new_rows)),
        seed,
    )


# --- the drift gate ------------------------------------------------------------------------------


def score(change: DataChange) -> float:
    """The share of the compared columns that drifted (0 when none was compared)."""
    if not change.columns:
        return 0.0
    return sum(c.drifted for c in change.columns) / len(change.columns)


def drifted(change: DataChange, share: float = DRIFT_SHARE) -> bool:
    """Whether the data drifted as a whole: at least ``share`` of its compared columns did
    (Evidently's dataset drift, at its default share of 0.5)."""
    return bool(change.columns) and score(change) >= share


# --- Markdown ------------------------------------------------------------------------------------


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.3g}"


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def _names(names: Sequence[str], top: int) -> str:
    """``names`` as inline code, at most ``top`` of them, saying how many more."""
    shown = ", ".join(code(name) for name in names[:top])
    more = len(names) - top
    return shown + (f" and {more} more" if more > 0 else "")


def _values(found: Sequence[tuple[str, int]], total: int) -> str:
    shown = ", ".join(f"{code(value)} ({count:,})" for value, count in found)
    more = total - len(found)
    return shown + (f" and {more} more" if more > 0 else "")


def summary_line(change: DataChange) -> str:
    """The section's first line: whether the data changed, and how, in one sentence."""
    rows = change.rows
    if not change.changed:
        return (
            f"The data did not change: {rows.after:,} rows, no column drifted "
            f"({_count(len(change.columns), 'column')} compared)."
        )
    parts = [
        f"{rows.before:,} → {rows.after:,} rows ({rows.added:,} added, {rows.removed:,} removed"
    ]
    parts[0] += f", {rows.changed:,} changed)" if rows.changed else ")"
    added, removed = len(change.added_columns), len(change.removed_columns)
    if added and removed:
        parts.append(f"{_count(added, 'column')} added, {removed:,} removed")
    elif added or removed:
        parts.append(f"{_count(added or removed, 'column')} {'added' if added else 'removed'}")
    drifted_count = len(change.drifted_columns)
    parts.append(f"{drifted_count:,} of {_count(len(change.columns), 'column')} drifted")
    if change.values:
        parts.append(f"category values new or gone in {_count(len(change.values), 'column')}")
    if change.target is not None:
        what = "balance" if change.target.task == "classification" else "distribution"
        moved = "drifted" if change.target.drift.drifted else "did not drift"
        parts.append(f"the target's {what} {moved}")
    return f"**The data changed:** {'; '.join(parts)}."


def drift_table(change: DataChange, top: int) -> list[str]:
    """The drifted columns, at most ``top`` of them, and a line for the rest."""
    drifted_columns = change.drifted_columns
    lines = []
    if drifted_columns:
        lines += [
            "| Drifted column | Kind | Statistic | Value | Drift at |",
            "| --- | --- | --- | ---: | --- |",
        ]
        for column in drifted_columns[:top]:
            statistic = column.statistic
            lines.append(
                f"| {code(column.name)} | {cell(column.kind)} "
                f"| {'kind changed' if statistic is None else statistic.name} "
                f"| {_number(column.value)} | {'—' if statistic is None else statistic.rule()} |"
            )
        if len(drifted_columns) > top:
            more = len(drifted_columns) - top
            lines += ["", f"{_count(more, 'more drifted column')} not listed."]
    others = len(change.columns) - len(drifted_columns)
    if others:
        other = "other " if drifted_columns else ""
        lines += ["", f"No drift in the {other}{_count(others, 'column')}."]
    return lines[1:] if lines[:1] == [""] else lines


def balance_table(balance: Balance, top: int) -> list[str]:
    """The target's class shares or quartiles before and after, at most ``top`` classes."""
    classification = balance.task == "classification"
    what = "class shares" if classification else "distribution"
    drift = balance.drift
    verdict = "drifted" if drift.drifted else "no drift"
    lines = [
        f"Target {code(balance.name)}, {what} ({verdict}: {drift.statistic.name} "
        f"{_number(drift.value)}, drift at {drift.statistic.rule()}):",
        "",
        f"| {'Class' if classification else 'Statistic'} | Base | This branch |",
        "| --- | ---: | ---: |",
    ]

    def shown(value: float | None) -> str:
        if value is None:
            return "—"
        return f"{100 * value:.1f} %" if classification else _number(value)

    for label, before, after in balance.lines[:top]:
        name = code(label) if classification else label
        lines.append(f"| {name} | {shown(before)} | {shown(after)} |")
    if len(balance.lines) > top:
        lines += ["", f"{_count(len(balance.lines) - top, 'more class')} not listed."]
    old, new = balance.unlabeled
    if old or new:
        lines += ["", f"Rows without a target: {old:,} → {new:,}."]
    return lines


def values_table(values: Sequence[Values], top: int) -> list[str]:
    """The category values new and vanished, per column, at most ``top`` columns."""
    lines = [
        "| Column | New values (rows) | Vanished values (base rows) |",
        "| --- | --- | --- |",
    ]
    for found in values[:top]:
        new = _values(found.new, found.new_count) or "—"
        gone = _values(found.vanished, found.vanished_count) or "—"
        lines.append(f"| {code(found.column)} | {new} | {gone} |")
    if len(values) > top:
        lines += ["", f"{_count(len(values) - top, 'more column')} with new or vanished values."]
    return lines


def method_line(change: DataChange) -> str:
    """How rows were matched and drift measured, in one line for the section's foot."""
    many = change.sampled[0] > MANY_ROWS
    numeric, categorical = (
        (WASSERSTEIN, JENSEN_SHANNON) if many else (KOLMOGOROV_SMIRNOV, CHI_SQUARE)
    )
    rule = (
        f"drift at {numeric.rule()} (Evidently's defaults above {MANY_ROWS:,} rows) where a "
        f"Kolmogorov-Smirnov or chi-square test also gives p {CHANCE.rule()}"
        if many
        else f"drift at p {numeric.rule()} (Evidently's defaults up to {MANY_ROWS:,} rows)"
    )
    rows = change.rows
    matched = (
        f"by {code(rows.id_column)}"
        if rows.id_column
        else "whole: a row whose values changed counts as one removed and one added"
    )
    return (
        f"<sub>Drift on {change.sampled[0]:,} base and {change.sampled[1]:,} new rows (at most "
        f"{SAMPLE_ROWS:,} per side, sampled with seed {change.seed}): numbers and dates by "
        f"{numeric.name}, categories and yes/no by {categorical.name}, {rule}. "
        f"Rows matched {matched}.</sub>"
    )


def section(change: DataChange, *, top: int = 10, heading: str = "### Data") -> list[str]:
    """The report's "Data" section as Markdown lines: ``heading``, a one-line summary, the
    drifted columns (at most ``top``), columns added and removed, category values new and
    vanished, the target's balance and how drift was measured. Every table row stays one line
    whatever the column names and values hold."""
    lines = [heading, "", summary_line(change), ""]
    if not change.changed:
        return lines
    table = drift_table(change, top)
    if table:
        lines += [*table, ""]
    if change.added_columns:
        lines += [f"Columns added: {_names(change.added_columns, top)}.", ""]
    if change.removed_columns:
        lines += [f"Columns removed: {_names(change.removed_columns, top)}.", ""]
    if change.skipped:
        names = [name for name, _ in change.skipped]
        lines += [f"Not compared (ids or free text): {_names(names, top)}.", ""]
    if change.values:
        lines += [*values_table(change.values, top), ""]
    if change.target is not None:
        lines += [*balance_table(change.target, top), ""]
    lines += [method_line(change), ""]
    return lines
