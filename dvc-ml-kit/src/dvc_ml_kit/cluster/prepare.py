"""The prepare stage on a Dask cluster: the same checks, sentences and outputs as on this machine,
partition by partition, for data larger than one machine's memory.

The raw data is a CSV (read in blocks of whole lines, each by pandas as the local engine reads the
whole file; in one block if it is compressed, or UTF-16 or UTF-32 text, which cannot be cut at
line ends) or Parquet (a file or a folder); a path, or a URL such as s3://... with the
credentials the environment gives.

Decided on a SAMPLE, the file's first SAMPLE_ROWS rows (in the first partition, or the first few):
the CSV's dialect (separator, encoding, decimal comma), each column's kind (number, yes/no, date,
text), the columns left out (ids, near-unique text, near-perfect predictors, with the counts that
their notes give), and whether a classification target holds numbers or text. A column with no
value in the sample is read as text.

Decided on ALL ROWS, from each partition's findings added up: typos in a column of its kind (the
first one's line in the whole file, and their count in all), empty targets and group values, a
regression target that is not numbers, the classes (at least two, none with a single row, no
decimal numbers), repeated ids, a column empty in every row, rows whose features repeat another
row's, the number of groups, and the split's rows per class. Rows whose target is empty are
checked, then set aside as the local engine sets them aside (prepare.unlabeled).

The split needs no shuffle: a seeded hash of each row's features (of its data.group_column value
when set) is a number spread evenly over [0, 1), and the row goes to test when it is below
prepare.test_size. Rows with the same features land on the same side, or with data.group_column
the rows of a group do (repeats in two groups may not: joining them would take a pass over all
rows per join). Each side holds test_size of the rows give or take chance, and so does each class
(not exactly stratified, as the local engine's split is). Each side keeps the rows in file order
and is written as a folder of Parquet files, one per partition, with the same bytes on every run.
"""

import codecs
import io
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pyarrow
from dask.bytes import read_bytes

from ..errors import UserError
from ..pipeline.prepare import (
    SNIFF_BYTES,
    TEXT,
    Dialect,
    Found,
    Plan,
    _not_text,
    _numbers,
    _show,
    check_classes,
    check_sides,
    check_split_sizes,
    check_test_size,
    check_unlabeled,
    column_settings,
    compression,
    constant_target_error,
    convert,
    decimal_mark,
    dialect,
    empty_column_error,
    empty_file_error,
    empty_group_error,
    found_in,
    is_parquet,
    line_of,
    malformed_error,
    not_parquet_error,
    open_raw,
    plan,
    read_csv,
    remove_output,
    repeated_id_error,
    summary,
    target_not_number_error,
    unlabeled_note,
    value_error,
    with_decimal_points,
)
from . import connect
from .store import destination, input_key, record

# Bytes of CSV per partition: each is read, checked and converted by one worker task.
BLOCKSIZE = "64 MiB"
# The first rows decide the kind of each column: this many, from the first partition or more
# (a dozen rows cannot tell a leak of the target from a feature; a million take long to check).
SAMPLE_ROWS = 100_000
ENCODING_KEY = {"encoding": "data.encoding"}


class Spec(NamedTuple):
    """Everything a worker needs to turn a partition of raw rows into rows of the splits."""

    task: str
    target: str
    group_column: str | None
    id_column: str | None
    kinds: dict  # feature name -> Kind, decided on the sample
    labels: str  # how the target is read: "number", "text", or "as read" (classification)
    seed: int
    test_size: float
    unlabeled: str  # prepare.unlabeled: what rows whose target is empty do
    dtypes: dict  # the columns of the splits and their types, from the sample


class Record(NamedTuple):
    """What one partition found, in positions within the partition; the client adds them up."""

    rows: int
    unreadable: str | None  # pandas' parse error, or "encoding"
    groups_missing: Found | None
    target_missing: Found | None
    target_bad: Found | None
    float_target: bool
    target_values: tuple  # two of the target's numbers, or one if all are equal (regression)
    classes: pd.DataFrame | None  # per class: rows, first position, rows in test
    present: dict[str, int]  # non-missing values per feature
    problems: dict[str, Found]  # per feature: values that do not fit its kind
    test_rows: int  # of the rows with a target


# --- reading ------------------------------------------------------------------------------------


def _whole(path: str, packed: str | None) -> bytes:
    with open_raw(path, packed) as file:
        return file.read()


def _read_block(block: bytes, header: bytes, found: Dialect, decimal: str, categorical, text):
    """A CSV block as pandas reads it (``text`` columns as text), with decimal commas rewritten;
    or, if pandas cannot read it, its error (``encoding`` for undecodable bytes)."""
    try:
        frame = read_csv(io.BytesIO(header + block), found, text)
    except pd.errors.ParserError as error:
        return str(error)
    except UnicodeDecodeError:
        return "encoding"
    return with_decimal_points(frame, decimal, categorical)


def _target_labels(target: pd.Series, spec: Spec) -> tuple[pd.Series, pd.Series, Found | None]:
    """The target's values as read (numbers as floats), as the splits hold them, and the values
    that are not numbers where numbers are expected (a regression target, or a classification
    target whose first partition holds numbers)."""
    if spec.labels == "text":
        text = target.astype("str").where(target.notna())  # pandas' text type, from any source
        return text, text, None
    if spec.labels == "as read":
        return target, target, None
    numbers, bad = _numbers(target)
    found = found_in(target, bad)
    if spec.task == "regression":
        return numbers, numbers, found
    # Whole numbers read as floats are class codes; other values stop the stage.
    return numbers, numbers.fillna(0).round().astype("int64"), found


def _classes(labels: pd.Series, test: np.ndarray) -> pd.DataFrame:
    """Rows per class of ``labels``, the first row's position, and the rows in test."""
    codes, classes = pd.factorize(labels)
    known = codes >= 0
    _, first = np.unique(codes, return_index=True)
    first = first[codes[first] >= 0]
    return pd.DataFrame(
        {
            "rows": np.bincount(codes[known], minlength=len(classes)),
            "first": first,
            "test": np.bincount(codes[known & test], minlength=len(classes)),
        },
        index=pd.Index(classes, name="class"),
    )


def hash_key(seed: int) -> str:
    """pandas' hash key (16 characters) for a seed: another seed, another split."""
    return f"{seed:016d}"


def row_hashes(keys: pd.DataFrame | pd.Series, seed: int) -> np.ndarray:
    """A seeded hash per row, the same for the same values of ``keys`` whatever the row or
    the partition (their types are the same in every partition)."""
    return pd.util.hash_pandas_object(keys, index=False, hash_key=hash_key(seed)).to_numpy()


def uniform(hashes: np.ndarray) -> np.ndarray:
    """Hashes as numbers spread evenly over [0, 1)."""
    return (hashes >> np.uint64(11)).astype("float64") * 2.0**-53


def id_keys(ids: pd.Series) -> pd.Series:
    """Ids as text, the same for the same id in any partition (numbers as floats: pandas reads
    a partition with a gap in a column of whole numbers as floats)."""
    numbers = pd.api.types.is_numeric_dtype(ids) and not pd.api.types.is_bool_dtype(ids)
    return (ids.astype("float64") if numbers else ids).astype("str")


def prepare_partition(raw, spec: Spec):
    """One partition of raw rows (or its read error) as rows of train and test (rows whose
    target is empty in neither), the keys the client counts over all rows (feature hashes,
    group values, ids; and whether the row has a target), and what it found."""
    if isinstance(raw, str):
        empty = pd.DataFrame({name: pd.Series(dtype=kind) for name, kind in spec.dtypes.items()})
        record = Record(0, raw, None, None, None, False, (), None, {}, {}, 0)
        return empty, empty, _keys_meta(spec), record
    target = raw[spec.target]
    values, labels, target_bad = _target_labels(target, spec)
    columns, problems = {}, {}
    for name, kind in spec.kinds.items():
        columns[name], found = convert(raw[name], kind)
        if found:
            problems[name] = found
    frame = pd.DataFrame(columns, index=raw.index).assign(**{spec.target: labels})
    frame = frame.astype(spec.dtypes).reset_index(drop=True)
    # Hashed in the types of every partition: the same values, the same hash.
    keys = pd.DataFrame({"row": row_hashes(frame.drop(columns=[spec.target]), spec.seed)})
    hashes = keys["row"].to_numpy()
    groups_missing = None
    if spec.group_column:
        groups = raw[spec.group_column]
        groups_missing = found_in(groups, groups.isna())
        keys["group"] = groups.astype("str").to_numpy()
        hashes = row_hashes(keys["group"], spec.seed)
    if spec.id_column:
        keys["id"] = id_keys(raw[spec.id_column]).to_numpy()
    labeled = target.notna().to_numpy()
    keys["labeled"] = labeled
    test = uniform(hashes) < spec.test_size
    record = Record(
        rows=len(raw),
        unreadable=None,
        groups_missing=groups_missing,
        target_missing=found_in(target, target.isna()),
        target_bad=target_bad,
        float_target=pd.api.types.is_float_dtype(target),
        target_values=tuple(values.dropna().unique()[:2]) if spec.task == "regression" else (),
        classes=_classes(values, test) if spec.task == "classification" else None,
        present={name: int(values.notna().sum()) for name, values in raw[list(spec.kinds)].items()},
        problems=problems,
        test_rows=int((test & labeled).sum()),
    )
    train, test = frame[~test & labeled], frame[test & labeled]
    return train.reset_index(drop=True), test.reset_index(drop=True), keys, record


class Source(NamedTuple):
    """The raw data: its first partition, and its partitions as delayed raw frames (or read
    errors) with the given columns read as text."""

    sample: pd.DataFrame
    parts: Callable[[list[str]], list]
    newlines: list  # delayed newline counts of the CSV blocks (empty for Parquet)
    codec: str | None
    notes: list[str]  # lines for the user about how it is read


def _sample(source, path: str, packed: str | None, found: Dialect, categorical) -> pd.DataFrame:
    """The first SAMPLE_ROWS rows of ``source`` (CSV text, or a binary file of it)."""
    try:
        return read_csv(source, found, categorical, rows=SAMPLE_ROWS)
    except pd.errors.EmptyDataError:
        raise empty_file_error(path) from None
    except pd.errors.ParserError as error:
        raise malformed_error(path, error) from None
    except UnicodeDecodeError:
        raise _not_text(path, _whole(path, packed), found.codec, ENCODING_KEY) from None


def _csv_source(path: str, params: dict, blocksize) -> Source:
    categorical = params["data.categorical_columns"] or []
    packed = compression(path)
    with open_raw(path, packed) as file:
        head = file.read(SNIFF_BYTES)
    found = dialect(
        path,
        head,
        separator=params["data.separator"],
        decimal=params["data.decimal"],
        encoding=params["data.encoding"],
    )
    note = None
    # Compressed data cannot be cut into blocks, nor UTF-16 or UTF-32 text at each byte b"\n".
    if packed or codecs.lookup(found.codec).name.startswith(("utf-16", "utf-32")):
        blocks, header = [dask.delayed(_whole, pure=True)(path, packed)], b""
        with open_raw(path, packed) as file:
            sample = _sample(file, path, packed, found, categorical)
        note = (
            f"the dask engine reads {path} in one partition, since "
            f"{f'{packed} compression' if packed else f'{found.codec} text'} cannot be split: "
            f"{'decompress it' if packed else 'save it as UTF-8'} or convert it to Parquet if "
            "it is larger than a worker's memory"
        )
    else:
        _, [blocks] = read_bytes(path, delimiter=b"\n", blocksize=blocksize, sample=False)
        data = b""
        for block in blocks:  # the first blocks, up to SAMPLE_ROWS rows
            data += dask.compute(block, scheduler="sync")[0]
            if data.count(b"\n") > SAMPLE_ROWS:
                break
        sample = _sample(io.BytesIO(data), path, packed, found, categorical)
        header = data[: data.index(b"\n") + 1] if b"\n" in data else data
    mark = decimal_mark(sample, found, categorical)
    read = dask.delayed(_read_block, pure=True)

    def parts(text: list[str]) -> list:
        return [
            read(block, b"" if index == 0 else header, found, mark, categorical, text)
            for index, block in enumerate(blocks)
        ]

    count = dask.delayed(bytes.count, pure=True)
    newlines = [count(block, b"\n") for block in blocks]
    sample = with_decimal_points(sample, mark, categorical)
    return Source(sample, parts, newlines, found.codec, [note] if note else [])


def _parquet_source(path: str) -> Source:
    try:
        parts = dd.read_parquet(path).to_delayed()
        sample = dask.compute(parts[0], scheduler="sync")[0]
    except (OSError, pyarrow.ArrowException) as error:
        raise not_parquet_error(path, error) from None
    for part in parts[1:]:
        if len(sample) >= SAMPLE_ROWS:
            break
        sample = pd.concat([sample, *dask.compute(part, scheduler="sync")], ignore_index=True)
    sample = sample.head(SAMPLE_ROWS)
    return Source(sample, lambda text: parts, [], None, [])


# --- checking all rows ----------------------------------------------------------------------------


def _global(found: Found | None, offset: int) -> Found | None:
    return found and found._replace(position=found.position + offset)


def first_found(records: list[Record], offsets: list[int], pick) -> Found | None:
    """The rows ``pick`` finds in each partition's record, over all partitions: the first one's
    position in the whole data, and their count in all."""
    founds = [
        _global(pick(record), offset) for record, offset in zip(records, offsets, strict=True)
    ]
    founds = [found for found in founds if found]
    if not founds:
        return None
    return founds[0]._replace(count=sum(found.count for found in founds))


def _unreadable(records, newlines, path: str, codec: str | None) -> None:
    """Stop on the first partition pandas could not read, as the local engine would."""
    index = next((i for i, record in enumerate(records) if record.unreadable), None)
    if index is None:
        return
    if records[index].unreadable == "encoding":
        raise _not_text(path, _whole(path, compression(path)), codec, ENCODING_KEY)
    # pandas counts the lines of a block from its own first (the header, after the first block).
    before = sum(dask.compute(*newlines[:index])) - (1 if index else 0)
    problem = re.sub(
        r"line (\d+)", lambda at: f"line {int(at[1]) + before}", records[index].unreadable
    )
    raise malformed_error(path, problem)


def _class_table(records, offsets) -> pd.DataFrame:
    """Rows per class over all partitions (most first, ties in order of first appearance), the
    first row's position, and the rows in test."""
    tables = [
        record.classes.assign(first=record.classes["first"] + offset)
        for record, offset in zip(records, offsets, strict=True)
        if record.classes is not None and len(record.classes)
    ]
    table = (
        pd.concat(tables)
        .groupby(level=0, sort=False)
        .agg({"rows": "sum", "first": "min", "test": "sum"})
    )
    return table.sort_values("first", kind="stable").sort_values(
        "rows", ascending=False, kind="stable"
    )


def _repeated_ids(raws: list, spec: Spec, repeated: pd.Index, offsets) -> tuple[object, tuple]:
    """The first repeated id and the lines of the first two rows with a repeated id (a second
    pass: only when ids repeat)."""

    def first_two(raw, offset):
        if isinstance(raw, str):
            return []
        ids = raw[spec.id_column]
        positions = np.flatnonzero(id_keys(ids).isin(repeated).to_numpy())[:2]
        return [(int(p) + offset, ids.iloc[p]) for p in positions]

    find = dask.delayed(first_two, pure=True)
    hits = dask.compute(*[find(part, offset) for part, offset in zip(raws, offsets, strict=True)])
    (first, value), (second, _) = [hit for part in hits for hit in part][:2]
    return value, (line_of(first), line_of(second))


def check_all_rows(records, offsets, spec: Spec, source: str) -> tuple[pd.DataFrame | None, int]:
    """The local engine's checks of values, in its order, on the partitions' totals; returns
    the class table (classification) and the number of rows set aside (their target empty)."""
    target = spec.target
    if spec.group_column:
        found = first_found(records, offsets, lambda record: record.groups_missing)
        if found:
            raise empty_group_error(spec.group_column, found, source)
    found = first_found(records, offsets, lambda record: record.target_missing)
    rows = sum(record.rows for record in records)
    check_unlabeled(target, found, rows, spec.unlabeled, source)
    unlabeled = found.count if found else 0
    found = first_found(records, offsets, lambda record: record.target_bad)
    if found and spec.task == "regression":
        raise target_not_number_error(target, found, source)
    if found:
        raise UserError(
            f"target '{target}' in {source} holds numbers in its first rows, but line "
            f"{line_of(found.position)} has {_show(found.value)} ({found.count} such values in "
            "all): the dask engine takes the target's type from the first rows, so write every "
            "class as text (or every class as a number), or use compute.engine local"
        )
    if spec.task == "regression":
        values = {value for record in records for value in record.target_values}
        if len(values) == 1:
            raise constant_target_error(target, values.pop(), source, bool(unlabeled))
    table = None
    if spec.task == "classification":
        table = _class_table(records, offsets)
        counts = table["rows"]
        if spec.labels == "number":
            as_float = any(record.float_target for record in records)
            counts.index = counts.index.astype("float64" if as_float else "int64")
            decimals = as_float and bool((counts.index % 1 != 0).any())
        else:
            decimals = False
        check_classes(target, counts, decimals, source)
    for name, kind in spec.kinds.items():
        if not sum(record.present.get(name, 0) for record in records):
            raise empty_column_error(name, source)
        found = first_found(records, offsets, lambda record, name=name: record.problems.get(name))
        if found:
            raise value_error(name, kind, found, source)
    return table, unlabeled


def _label_kind(sample: pd.Series, task: str) -> str:
    if task == "regression":
        return "number"
    if not sample.notna().any():
        # No label among the first rows (new rows first, their labels not yet in) to tell
        # numbers from text: classes are read as written (codes as text, '0' and '1').
        return "text"
    if pd.api.types.is_bool_dtype(sample):
        return "as read"
    return "number" if pd.api.types.is_numeric_dtype(sample) else "text"


def _spec(sample: pd.DataFrame, found: Plan, params: dict) -> Spec:
    task, target = params["data.task"], params["data.target"]
    return Spec(
        task=task,
        target=target,
        group_column=params["data.group_column"],
        id_column=params["data.id_column"],
        kinds=found.kinds,
        labels=_label_kind(sample[target], task),
        seed=params["prepare.seed"],
        test_size=params["prepare.test_size"],
        unlabeled=params["prepare.unlabeled"],
        dtypes={},
    )


def prepare_dask(
    raw: object, train_path: Path, test_path: Path, params: dict, *, blocksize=BLOCKSIZE
) -> list[str]:
    """The stage on the current Dask scheduler: read ``raw`` (a CSV or Parquet path or URL),
    check all rows, write the splits as Parquet folders; return the lines for the user."""
    check_test_size(params["prepare.test_size"])
    path = str(raw)
    target = params["data.target"]
    categorical = params["data.categorical_columns"] or []
    source = _parquet_source(path) if is_parquet(path) else _csv_source(path, params, blocksize)
    found = plan(source.sample, **column_settings(params), source=path)
    spec = _spec(source.sample, found, params)
    meta, _, _, _ = prepare_partition(source.sample, spec)
    spec = spec._replace(dtypes=meta.dtypes.to_dict())
    # Text stays text in every partition, as pandas reads it from the whole file.
    text = [name for name, kind in spec.kinds.items() if kind == TEXT]
    text += [target] if spec.labels == "text" else []
    text += [spec.group_column] if spec.group_column else []
    raws = source.parts([*categorical, *text])

    step = dask.delayed(prepare_partition, nout=4, pure=True)
    trains, tests, keys, records = zip(*(step(part, spec) for part in raws), strict=True)
    keys = dd.from_delayed(list(keys), meta=_keys_meta(spec), verify_meta=False)
    store = params["compute.store"]
    key = input_key(path, params) if store else ""
    writes, urls = [], []
    for side, out in ((trains, train_path), (tests, test_path)):
        remove_output(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        frame = dd.from_delayed(list(side), meta=meta.iloc[:0], verify_meta=False)
        urls.append(destination(out, store=store, key=key))
        writes.append(
            frame.to_parquet(urls[-1], write_index=False, write_metadata_file=False, compute=False)
        )
    # Tree reductions (split_out=1): a few values per row, no shuffle. Ids are counted over
    # every row; repeats and groups over the rows that are split.
    labeled = keys[keys["labeled"]]
    counts = {"rows": labeled["row"].nunique(split_out=1)}
    if spec.group_column:
        counts["groups"] = labeled["group"].nunique(split_out=1)
    if spec.id_column:
        ids = keys["id"].value_counts(dropna=False, split_out=1)
        counts["repeated_ids"] = ids[ids > 1]
    try:
        with warnings.catch_warnings():
            # One computation for the checks, the counts and both splits, so each partition is
            # read once; dask warns that it mixes delayed tasks with dataframes, as it must.
            warnings.filterwarnings("ignore", "Computing mixed collections", UserWarning)
            records, _, counts = dask.compute(list(records), writes, counts)
        notes = [*found.notes, *source.notes]
        lines = _check_totals(records, counts, spec, source, raws, params, notes, path)
        for out, url in zip((train_path, test_path), urls, strict=True):
            record(out, url, len(raws))
        return lines
    except BaseException:
        remove_output(train_path)
        remove_output(test_path)
        raise


def _check_totals(records, counts, spec, source, raws, params, notes, path: str) -> list[str]:
    """Stop on any problem the partitions found, as the local engine would on the whole file;
    else return the lines for the user."""
    _unreadable(records, source.newlines, path, source.codec)
    offsets = [0, *np.cumsum([record.rows for record in records])[:-1].tolist()]
    if spec.id_column and len(counts["repeated_ids"]):
        value, lines = _repeated_ids(raws, spec, counts["repeated_ids"].index, offsets)
        raise repeated_id_error(spec.id_column, value, lines, path)
    table, unlabeled = check_all_rows(records, offsets, spec, path)
    rows = sum(record.rows for record in records)
    if unlabeled:
        notes = [unlabeled_note(spec.target, unlabeled, rows, path), *notes]
    rows -= unlabeled  # the rows split
    test_rows = sum(record.test_rows for record in records)
    classification = spec.task == "classification"
    needed = max(len(table), 2) if classification else 2
    check_split_sizes(spec.test_size, needed, rows, test_rows, classification, bool(unlabeled))
    if classification:
        table = table.sort_values("first")  # classes in order of first appearance
        check_sides(
            spec.target,
            list(table.index.astype("int64") if spec.labels == "number" else table.index),
            (table["rows"] - table["test"]).tolist(),
            table["test"].tolist(),
            spec.test_size,
            params["prepare.min_test_rows_per_class"],
        )
    groups = int(counts["groups"]) if spec.group_column else None
    repeated = rows - int(counts["rows"])
    train_rows, features = rows - test_rows, len(spec.kinds)
    return summary(
        notes,
        repeated,
        groups,
        train_rows,
        test_rows,
        features,
        repeats_across_groups=True,
        target=spec.target,
        classes=len(table) if classification else 0,
    )


def _keys_meta(spec: Spec) -> pd.DataFrame:
    meta = {"row": pd.Series(dtype="uint64")}
    if spec.group_column:
        meta["group"] = pd.Series(dtype="str")
    if spec.id_column:
        meta["id"] = pd.Series(dtype="str")
    meta["labeled"] = pd.Series(dtype="bool")
    return pd.DataFrame(meta)


def prepare_on_cluster(raw: Path, train_path: Path, test_path: Path, params: dict) -> list[str]:
    """The stage on the cluster of ``connect()``."""
    with connect():
        return prepare_dask(raw, train_path, test_path, params)
