"""The prepare stage's core: check the raw data against its inferred schema, then split it.

The CSV's dialect (separator, decimal comma, encoding) is detected unless params.yaml sets it;
a file compressed with gzip, bz2, zip, xz or zstd (known by its first bytes, whatever its name)
is read decompressed, and UTF-16 or UTF-32 text by its byte-order mark.
Each column's kind is inferred from its values: numbers; yes/no (true/false, yes/no); dates and
times in ISO 8601 (they become year, month, day, weekday and hour); or categories (text).
A column that is mostly of one kind with a few stray values (a typo) stops the stage with the line
to fix. Columns that would mislead the model or leak private values are left out, by name: ids
(unique whole numbers in sequence), text that differs in almost every row (names, comments), and
any column that predicts the target almost perfectly on its own; one that predicts it well on
its own stays in, with a note. ``data.categorical_columns`` forces categories,
``data.keep_columns`` keeps a column prepare would leave out. A target with one value is refused,
and a classification target with more classes than train rows per class is warned about.

Rows whose target is empty (new rows whose labels have not arrived) are set aside: checked like
the others, but neither trained nor tested on, with a note saying how many;
``prepare.unlabeled: error`` refuses such a file instead.
Other rows are never deleted: rows with the same features, and rows sharing a value of
``data.group_column``, land on the same side of the split, so no example is in both.
"""

import codecs
import csv
import io
import math
import re
import shutil
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, NamedTuple

import fsspec
import numpy as np
import pandas as pd
import pyarrow
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ..contract import PLOTS
from ..errors import UserError
from ..model.columns import BOOLEAN_PAIRS, DATE_PARTS, date_values

# The params.yaml keys this stage reads (their types: params.SETTINGS); dvc.yaml lists the same.
PARAMS = (
    "data.task",
    "data.target",
    "data.id_column",
    "data.group_column",
    "data.drop_columns",
    "data.categorical_columns",
    "data.keep_columns",
    "data.separator",
    "data.decimal",
    "data.encoding",
    "compute.engine",
    "compute.store",
    "prepare.test_size",
    "prepare.seed",
    "prepare.min_test_rows_per_class",
    "prepare.unlabeled",
)
TASKS = ("classification", "regression")
# What prepare.unlabeled may say about rows whose target is empty: set them aside, or stop.
SET_ASIDE, ERROR = "set_aside", "error"
# Where each reading setting comes from, for error messages (predict names its own options).
DIALECT_KEYS = {
    "separator": "data.separator",
    "decimal": "data.decimal",
    "encoding": "data.encoding",
}
SEPARATORS = (",", ";", "\t", "|")
SNIFF_BYTES = 1 << 16
# Compressed files, known by their first bytes (pandas goes by the file name alone).
COMPRESSIONS = {
    "gzip": rb"\x1f\x8b",
    "bz2": rb"BZh[1-9](1AY&SY|\x17rE8P\x90)",
    "zip": rb"PK\x03\x04",
    "xz": rb"\xfd7zXZ\x00",
    "zstd": rb"\x28\xb5\x2f\xfd",
}
# The text encoding a byte-order mark says (UTF-32's first: its marks begin with UTF-16's).
BOMS = {
    codecs.BOM_UTF32_LE: "utf-32",
    codecs.BOM_UTF32_BE: "utf-32",
    codecs.BOM_UTF16_LE: "utf-16",
    codecs.BOM_UTF16_BE: "utf-16",
}
DECIMAL_COMMA = re.compile(r"\s*[+-]?\d*,\d+\s*")
ISO_DATE = re.compile(
    r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?\s*(Z|[+-]\d{2}(:?\d{2})?)?"
)
# A yes/no or date column may hold this share of stray values before they are called typos
# rather than a column of another kind.
STRAY_SHARE = 0.05
# Text with at least this share of distinct values (and this many) is free text or an identifier.
NEAR_UNIQUE_SHARE, NEAR_UNIQUE_MIN = 0.5, 10
# A single column that scores this well alone (balanced accuracy or R², on held-out rows) is
# taken for a leak of the target.
LEAK_SCORE = 0.99
# A column that scores this well alone, but less, stays in with a note: it may be a leak too
# (a value known only after the outcome), or just the best feature.
DOMINANT_SCORE = 0.9
# ... on about this many rows of a larger file (see _leak_rows): the score sorts each column, and
# on all rows of ten million it would take most of the stage's time.
LEAK_ROWS = 100_000
ID_MIN_ROWS = 10


class Checked(NamedTuple):
    """What validate() found: the features and target, group keys, and lines for the user."""

    frame: pd.DataFrame
    groups: pd.Series | None  # values of data.group_column, or None
    notes: list[str]


# --- reading the CSV -----------------------------------------------------------------------------


def _codec(encoding: str | None, sample: bytes, keys: dict[str, str]) -> str:
    if encoding is None:
        # UTF-16 or UTF-32 by their byte-order mark; else UTF-8, with or without the mark
        # spreadsheets write.
        return next((name for bom, name in BOMS.items() if sample.startswith(bom)), "utf-8-sig")
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise UserError(
            f"{keys['encoding']} is {encoding!r}, which is not a known text encoding: use one "
            "such as utf-8, latin-1 or cp1252"
        ) from None
    return encoding


def _not_text(path: object, data: bytes, encoding: str, keys: dict[str, str]) -> UserError:
    """The error for ``data``, the text of ``path`` (decompressed), not in ``encoding``."""
    try:
        data.decode(encoding)
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        byte = data[error.start : error.start + 1].hex()
        shown = "UTF-8" if encoding == "utf-8-sig" else encoding
        return UserError(
            f"{path} is not {shown} text (byte 0x{byte} on line {line}): set "
            f"{keys['encoding']} to the file's encoding, such as latin-1 or cp1252, or save it "
            "as UTF-8"
        )
    return UserError(f"{path} could not be read as {encoding} text: set {keys['encoding']}")


def compression(path: object) -> str | None:
    """How the file at ``path`` (a path or URL) is compressed, by its first bytes, or None."""
    with fsspec.open(str(path), "rb") as file:
        head = file.read(16)
    return next((name for name, magic in COMPRESSIONS.items() if re.match(magic, head)), None)


def _zip_member(path: object, archive: zipfile.ZipFile) -> str:
    # The folder macOS adds to the archives it makes holds no data.
    files = [
        name
        for name in archive.namelist()
        if not name.endswith("/") and not name.startswith("__MACOSX/")
    ]
    if len(files) != 1:
        raise UserError(
            f"{path} is a zip archive of {len(files)} files, but must hold one CSV file: zip "
            "that file alone, or unzip it and read the CSV file itself"
        )
    return files[0]


@contextmanager
def open_raw(path: object, packed: str | None) -> Iterator[BinaryIO]:
    """The file at ``path`` (a path or URL), decompressed from ``packed`` (a name of
    COMPRESSIONS, or None)."""
    if packed and packed not in fsspec.available_compressions():  # zstd needs a module
        raise UserError(
            f"{path} is compressed with {packed}, which needs the zstandard module: install it "
            "(pip install zstandard, or list it in the project's requirements), or decompress "
            "the file"
        )
    if packed == "zip":
        with (
            fsspec.open(str(path), "rb") as file,
            zipfile.ZipFile(file) as archive,
            archive.open(_zip_member(path, archive)) as member,
        ):
            yield member
    else:
        with fsspec.open(str(path), "rb", compression=packed) as file:
            yield file


def _rows(head: str, separator: str) -> list[list[str]]:
    """The fields of the lines of ``head`` (lines may end with \\n, \\r\\n or \\r alone)."""
    return list(csv.reader(io.StringIO(head, newline=""), delimiter=separator))


def _sniff(head: str) -> str:
    """The separator that splits the first lines into the same number of fields, most of all."""
    best, best_fields = ",", 1
    for separator in SEPARATORS:
        rows = [row for row in _rows(head, separator) if row]
        if len(rows) > 1 and not head.endswith("\n"):
            rows = rows[:-1]  # the sample may end inside a line
        counts = {len(row) for row in rows}
        if len(counts) == 1 and (fields := counts.pop()) > best_fields:
            best, best_fields = separator, fields
    return best


def _has_decimal_commas(frame: pd.DataFrame, text_columns) -> bool:
    """Whether a text column holds numbers written with a decimal comma, for the most part."""
    for name in frame.columns:
        values = frame[name]
        if name in text_columns or pd.api.types.is_numeric_dtype(values):
            continue
        distinct = pd.Series(values.dropna().unique(), dtype=object).astype(str)
        if len(distinct) and distinct.str.fullmatch(DECIMAL_COMMA).mean() > 0.5:
            return True
    return False


def _decimal_commas(frame: pd.DataFrame, text_columns) -> pd.DataFrame:
    """Numbers written with a decimal comma, in text columns, rewritten with a decimal point."""
    frame = frame.copy()
    for name in frame.columns:
        values = frame[name]
        if name in text_columns or pd.api.types.is_numeric_dtype(values):
            continue
        codes, distinct = pd.factorize(values)
        text = pd.Series(distinct, dtype=object).astype(str)
        fixed = text.where(~text.str.fullmatch(DECIMAL_COMMA), text.str.replace(",", "."))
        if not fixed.equals(text):
            column = fixed.to_numpy(dtype=object)[np.maximum(codes, 0)]
            frame[name] = pd.Series(column, index=frame.index).where(codes >= 0)
    return frame


class Dialect(NamedTuple):
    """How a CSV is written: its text encoding (a codec name), separator and decimal mark (None:
    decided once the values are read)."""

    codec: str
    separator: str
    decimal: str | None


def dialect(
    path: object,
    sample: bytes,
    *,
    separator: str | None = None,
    decimal: str | None = None,
    encoding: str | None = None,
    keys: dict[str, str] = DIALECT_KEYS,
) -> Dialect:
    """The dialect of the CSV at ``path`` whose first bytes are ``sample``: the settings given,
    the rest detected; refuses an empty file and a header that names a column twice."""
    codec = _codec(encoding, sample, keys)
    try:
        head = codecs.getincrementaldecoder(codec)().decode(sample)
    except UnicodeDecodeError:
        raise _not_text(path, sample, codec, keys) from None
    if not head.strip():
        raise empty_file_error(path)
    if separator is None:
        separator = _sniff(head)
    elif len(separator) != 1:
        raise UserError(
            f"{keys['separator']} is {separator!r}, but must be one character, such as ';'"
        )
    if decimal not in (None, ".", ","):
        raise UserError(f"{keys['decimal']} is {decimal!r}, but must be '.' or ','")

    header = _rows(head, separator)[0]
    seen: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        if name in seen and name.strip():
            raise UserError(
                f"the header of {path} names column '{name}' twice (columns {seen[name]} and "
                f"{position}): rename or remove one, so that each name means one column"
            )
        seen.setdefault(name, position)
    return Dialect(codec, separator, decimal)


def read_csv(source, found: Dialect, text_columns=(), rows: int | None = None) -> pd.DataFrame:
    """pandas' reading of CSV text (a path or a binary file) in dialect ``found``, with
    ``text_columns`` read as text whatever they look like (and the first ``rows`` rows only,
    if given); pandas' own errors."""
    return pd.read_csv(
        source,
        sep=found.separator,
        encoding=found.codec,
        dtype=dict.fromkeys(text_columns, "str"),
        nrows=rows,
    )


def empty_file_error(path: object) -> UserError:
    return UserError(f"{path} is empty: give it a header line and data rows")


def malformed_error(path: object, problem: object, keys: dict[str, str] = DIALECT_KEYS):
    """``problem``: pandas' parse error, whose text ends with a line break."""
    return UserError(
        f"{path} is not a well-formed CSV ({str(problem).strip()}): fix that line, or set "
        f"{keys['separator']} if its fields are separated by another character"
    )


def decimal_mark(frame: pd.DataFrame, found: Dialect, text_columns=()) -> str:
    """The dialect's decimal mark; when not set, a comma if the separator is not a comma and the
    text columns of ``frame`` (other than ``text_columns``) hold numbers written with one."""
    if found.decimal is not None:
        return found.decimal
    commas = found.separator != "," and _has_decimal_commas(frame, set(text_columns))
    return "," if commas else "."


def with_decimal_points(frame: pd.DataFrame, decimal: str, text_columns=()) -> pd.DataFrame:
    """``frame`` with numbers written with a decimal comma rewritten, when ``decimal`` is one."""
    return _decimal_commas(frame, set(text_columns)) if decimal == "," else frame


def is_parquet(path: object) -> bool:
    """Raw data in Parquet is a ``.parquet`` file or a folder of them; anything else is a CSV.
    Refuses a folder with no ``.parquet`` file in it."""
    path = str(path).rstrip("/")
    if not Path(path).is_dir():
        return path.endswith(".parquet")
    if not any(Path(path).rglob("*.parquet")):
        raise UserError(
            f"{path} is a folder with no Parquet file (*.parquet) in it: set data.file to a CSV "
            "file, a Parquet file or a folder of Parquet files"
        )
    return True


def not_parquet_error(path: object, error: Exception) -> UserError:
    """``error``: pyarrow's, reading ``path`` (its last line says why, under Dask's words)."""
    problem = str(error).strip().splitlines()[-1].removeprefix("Original Message: ")
    return UserError(
        f"{path} could not be read as Parquet ({problem}): set data.file to a CSV file, a "
        "Parquet file or a folder of Parquet files only"
    )


def read_raw(
    path: Path,
    categorical_columns: list[str] = (),
    *,
    separator: str | None = None,
    decimal: str | None = None,
    encoding: str | None = None,
    keys: dict[str, str] = DIALECT_KEYS,
) -> pd.DataFrame:
    """Read a raw CSV; ``categorical_columns`` are read as text whatever they look like.

    ``separator``, ``decimal`` and ``encoding`` are detected when None: the separator among
    ``, ; tab |``, a decimal comma when the separator is not a comma, UTF-8 with or without a
    byte-order mark, or UTF-16 or UTF-32 with one. A file compressed with gzip, bz2, zip, xz or
    zstd is read decompressed. ``keys`` names the settings in error messages.
    """
    packed = compression(path)
    with open_raw(path, packed) as file:
        sample = file.read(SNIFF_BYTES)
    found = dialect(
        path, sample, separator=separator, decimal=decimal, encoding=encoding, keys=keys
    )
    try:
        with open_raw(path, packed) as file:
            frame = read_csv(file, found, categorical_columns)
    except pd.errors.EmptyDataError:
        raise empty_file_error(path) from None
    except pd.errors.ParserError as error:
        raise malformed_error(path, error, keys) from None
    except UnicodeDecodeError:
        with open_raw(path, packed) as file:
            raise _not_text(path, file.read(), found.codec, keys) from None
    mark = decimal_mark(frame, found, categorical_columns)
    return with_decimal_points(frame, mark, categorical_columns)


# --- checking the columns ------------------------------------------------------------------------


class Found(NamedTuple):
    """Rows with a problem: the first one's position in the data and its value, and how many."""

    position: int
    value: object
    count: int


def line_of(position: int) -> int:
    """The CSV line of the row at ``position`` of the whole data (line 1 is the header)."""
    return position + 2


def _line(rows: pd.DataFrame | pd.Series, position: int) -> int:
    """The CSV line of the row at ``position`` of ``rows`` (labelled by their row number)."""
    return line_of(int(rows.index[position]))


def _first(mask) -> int:
    """Position of the first True in ``mask``."""
    return int(np.asarray(mask).nonzero()[0][0])


def found_in(values: pd.Series, bad) -> Found | None:
    """The rows of ``values`` marked ``bad``, or None if none is."""
    bad = np.asarray(bad, dtype=bool)
    if not bad.any():
        return None
    position = _first(bad)
    return Found(position, values.iloc[position], int(bad.sum()))


def _show(value) -> str:
    """A value as the user wrote it: ``1`` or ``'abc'``, not ``np.int64(1)``."""
    return repr(value.item() if hasattr(value, "item") else value)


def _count(number: int, noun: str) -> str:
    """``1 row``, ``2 rows``."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _names(columns) -> str:
    return ", ".join(f"'{name}'" for name in columns)


# The sentences of the problems found in rows. Each engine finds them its own way (on the whole
# frame, or per partition and then added up) and both say them with these functions.


def repeated_id_error(id_column: str, value, lines: tuple[int, int], source: str) -> UserError:
    return UserError(
        f"id column '{id_column}' repeats the value {_show(value)} (lines {lines[0]} and "
        f"{lines[1]}) in {source}: ids must be unique, so if rows sharing a value belong together "
        f"(several records of one customer), set data.group_column to '{id_column}' instead of "
        "data.id_column"
    )


def empty_group_error(group_column: str, found: Found, source: str) -> UserError:
    return UserError(
        f"group column '{group_column}' is empty on {_count(found.count, 'row')} of {source} "
        f"(first on line {line_of(found.position)}): fill them in"
    )


def empty_target_error(name: str, found: Found, source: str) -> UserError:
    return UserError(
        f"target '{name}' is empty on {_count(found.count, 'row')} of {source} (first on line "
        f"{line_of(found.position)}): fill in those values or remove the rows"
    )


def unlabeled_note(name: str, unlabeled: int, rows: int, source: str) -> str:
    """The line saying that ``unlabeled`` of the ``rows`` rows have an empty target."""
    return (
        f"note: target '{name}' is empty on {unlabeled:,} of {rows:,} rows of {source}: they are "
        "set aside, neither trained nor tested on, until their labels arrive (set "
        "prepare.unlabeled to error to refuse such data instead)"
    )


def no_labels_error(name: str, source: str) -> UserError:
    return UserError(
        f"target '{name}' is empty on every row of {source}, so there is nothing to train or "
        "test on: fill in its values, or choose another column in data.target"
    )


def check_unlabeled(name: str, found: Found | None, rows: int, unlabeled: str, source: str):
    """Refuse the rows of ``rows`` whose target ``name`` is empty (``found``) unless
    ``unlabeled`` (prepare.unlabeled) sets them aside, and refuse data with no target at all."""
    if found and unlabeled != SET_ASIDE:
        raise empty_target_error(name, found, source)
    if found and found.count == rows:
        raise no_labels_error(name, source)


def target_not_number_error(name: str, found: Found, source: str) -> UserError:
    return UserError(
        f"target '{name}' in {source} must be numbers for regression, but line "
        f"{line_of(found.position)} has {_show(found.value)} ({_count(found.count, 'such value')} "
        "in all): fix them, or choose a numeric column in data.target"
    )


def constant_target_error(name: str, value, source: str, set_aside: bool = False) -> UserError:
    """``set_aside``: rows without a target were set aside (they have no value)."""
    return UserError(
        f"target '{name}' in {source} has the same value, {_show(value)}, in every "
        f"{'labeled ' if set_aside else ''}row: there is nothing to learn, so choose a column "
        "whose values vary in data.target"
    )


def check_classes(name: str, counts: pd.Series, decimals: bool, source: str) -> None:
    """Refuse a classification target by its rows per class (``counts``, most first, ties in
    order of first appearance) and whether its values are decimal numbers (``decimals``)."""
    if len(counts) < 2:
        raise UserError(
            f"target '{name}' in {source} has a single class ({_show(counts.index[0])}): "
            "classification needs at least two classes"
        )
    if counts.iloc[-1] < 2:
        raise UserError(
            f"class {_show(counts.index[-1])} of target '{name}' has only one row in {source}: "
            "a stratified train/test split needs at least two rows per class, so add rows or "
            "remove that class"
        )
    if decimals:
        raise UserError(
            f"target '{name}' in {source} holds decimal numbers ({len(counts)} distinct values), "
            "which classification cannot predict: choose a categorical target column in "
            "data.target, or generate a regression project"
        )


def empty_column_error(name: str, source: str) -> UserError:
    return UserError(
        f"column '{name}' is empty in every row of {source}: fill it in or list it in "
        "data.drop_columns"
    )


def value_error(name: str, kind: "Kind", found: Found, source: str) -> UserError:
    """A column of ``kind`` with values that do not fit (typos)."""
    what = {"number": "numbers", "boolean": "yes/no values", "date": "dates"}[kind.name]
    such = "non-numeric" if kind.name == "number" else "such"
    return UserError(
        f"column '{name}' in {source} holds {what} but line {line_of(found.position)} has "
        f"{_show(found.value)} ({_count(found.count, f'{such} value')} in all): fix those values, "
        f"or list '{name}' in data.categorical_columns to treat it as categories"
    )


def _check_columns(frame: pd.DataFrame, named: dict[str, list[str]], source: str) -> None:
    for param, columns in named.items():
        for column in columns:
            if column in frame.columns:
                continue
            missing = f"params.yaml names column '{column}' in {param}, but {source} has no such"
            # The name inside a header field that holds a separator: split at another character.
            unsplit = [
                str(name)
                for name in frame.columns
                if column in str(name) and any(mark in str(name) for mark in SEPARATORS)
            ]
            if unsplit:
                field = unsplit[0] if len(unsplit[0]) <= 60 else f"{unsplit[0][:57]}..."
                raise UserError(
                    f"{missing} column, only '{field}', a field its separator did not split: set "
                    "data.separator to the character between the fields"
                )
            raise UserError(f"{missing} column (it has: {', '.join(map(str, frame.columns))})")


def _check_unique_ids(frame: pd.DataFrame, id_column: str, source: str) -> None:
    repeated = frame[id_column].duplicated(keep=False)
    if repeated.any():
        first = _first(repeated)
        second = first + 1 + _first(repeated.iloc[first + 1 :])
        lines = (_line(frame, first), _line(frame, second))
        raise repeated_id_error(id_column, frame[id_column].iloc[first], lines, source)


def _numbers(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """``values`` as floats, and a mask of the values that are not finite numbers."""
    if pd.api.types.is_numeric_dtype(values):
        # NumPy, not pandas, per column: wide tables have thousands of columns.
        array = values.to_numpy("float64", na_value=np.nan)
        return pd.Series(array, index=values.index, name=values.name), np.isinf(array)
    else:
        # Converting text is slow and text columns repeat few distinct values: convert each once.
        codes, distinct = pd.factorize(values)
        converted = pd.to_numeric(pd.Series(distinct, dtype=object), errors="coerce")
        numbers = np.where(codes < 0, np.nan, converted.to_numpy("float64")[codes])
        numbers = pd.Series(numbers, index=values.index, name=values.name)
    return numbers, (values.notna() & ~np.isfinite(numbers)).to_numpy()


# --- each column's kind -------------------------------------------------------------------------


class Kind(NamedTuple):
    """What a feature column holds: ``category`` (listed in data.categorical_columns), ``text``,
    ``number``, ``date``, or ``boolean`` with its true and false tokens (lower case)."""

    name: str
    true: str | None = None
    false: str | None = None


CATEGORY, TEXT, NUMBER, DATE = Kind("category"), Kind("text"), Kind("number"), Kind("date")
# A yes/no column that pandas read as True/False already.
BOOLEAN = Kind("boolean", "true", "false")


def _boolean_kind(values: pd.Series) -> Kind | None:
    """The yes/no kind of ``values`` if they are yes/no values, with at most a few strays."""
    if pd.api.types.is_bool_dtype(values):
        return BOOLEAN
    if pd.api.types.is_numeric_dtype(values):
        return None  # 1 and 0 are numbers; list them in categorical_columns to make categories
    codes, distinct = pd.factorize(values)
    if not 1 < len(distinct) <= 20:
        return None
    tokens = pd.Series(distinct, dtype=object).astype(str).str.strip().str.lower()
    counts = np.bincount(codes[codes >= 0], minlength=len(distinct))
    for true, false in BOOLEAN_PAIRS:
        is_true, is_false = (tokens == true).to_numpy(), (tokens == false).to_numpy()
        if not (is_true.any() and is_false.any()):
            continue
        fits = is_true | is_false
        if fits.all() or counts[~fits].sum() <= STRAY_SHARE * counts.sum():
            return Kind("boolean", true, false)
    return None


def _date_fits(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``values``: whether it is missing or an ISO 8601 date or time; per distinct
    value: whether it is a date."""
    codes, distinct = pd.factorize(values)
    text = pd.Series(distinct, dtype=object).astype(str)
    iso = text.where(text.str.fullmatch(ISO_DATE))
    fits = pd.to_datetime(iso, format="ISO8601", utc=True, errors="coerce").notna().to_numpy()
    return fits[np.maximum(codes, 0)] | (codes < 0), fits


def _is_date(values: pd.Series) -> bool:
    """Whether ``values`` are ISO 8601 dates or times, but for a few strays."""
    row_fits, fits = _date_fits(values)
    stray = int((~row_fits).sum())
    return bool(fits.any()) and stray <= STRAY_SHARE * int(values.notna().sum())


def convert(values: pd.Series, kind: Kind) -> tuple[pd.Series, Found | None]:
    """``values`` as a column of ``kind`` (floats, pandas' nullable booleans, times or text),
    and the values that do not fit (typos), which the column holds as missing."""
    if kind.name in ("category", "text"):
        return values.astype("str").where(values.notna()), None
    if kind.name == "number":
        numbers, bad = _numbers(values)
        return numbers.where(~bad), found_in(values, bad)
    if kind.name == "date":
        row_fits, _ = _date_fits(values)
        return date_values(values.where(row_fits)), found_in(values, ~row_fits)
    if pd.api.types.is_bool_dtype(values):
        return values.astype("boolean"), None
    codes, distinct = pd.factorize(values)
    tokens = pd.Series(distinct, dtype=object).astype(str).str.strip().str.lower()
    is_true, is_false = (tokens == kind.true).to_numpy(), (tokens == kind.false).to_numpy()
    present = codes >= 0
    flags = np.where(present & is_true[np.maximum(codes, 0)], True, pd.NA)
    flags = np.where(present & is_false[np.maximum(codes, 0)], False, flags)
    stray = present & ~(is_true | is_false)[np.maximum(codes, 0)]
    return pd.Series(flags, index=values.index, name=values.name, dtype="boolean"), found_in(
        values, stray
    )


def _check_date_part_names(columns: pd.Index, name: str) -> None:
    for part in DATE_PARTS:
        if f"{name}_{part}" in columns:
            raise UserError(
                f"column '{name}_{part}' has the name of the {part} feature of date column "
                f"'{name}': rename it, or list one of them in data.drop_columns"
            )


def _is_id(numbers: pd.Series) -> bool:
    """Whole numbers, all different, in sequence (consecutive, or rising or falling by row)."""
    array = numbers.to_numpy("float64")
    if len(array) < ID_MIN_ROWS or np.isnan(array).any() or (array % 1 != 0).any():
        return False
    steps = np.diff(array)
    if (steps > 0).all() or (steps < 0).all():
        return True
    distinct = np.unique(array)
    return len(distinct) == len(array) and distinct[-1] - distinct[0] == len(array) - 1


def _guess_by_value(keys: np.ndarray, truth: np.ndarray, fit: np.ndarray, classification: bool):
    """The majority class (or mean) of the fitted rows with the same key, for the other rows."""
    count, held = int(keys.max()) + 1, ~fit
    if classification:
        classes = int(truth.max()) + 1
        table = np.bincount(keys[fit] * classes + truth[fit], minlength=count * classes)
        table = table.reshape(count, classes)
        fallback = np.bincount(truth[fit], minlength=classes).argmax()
        return np.where(table.sum(axis=1) > 0, table.argmax(axis=1), fallback)[keys[held]]
    counts = np.bincount(keys[fit], minlength=count)
    sums = np.bincount(keys[fit], weights=truth[fit], minlength=count)
    return np.where(counts > 0, sums / np.maximum(counts, 1), truth[fit].mean())[keys[held]]


def _guess_by_nearest(numbers: np.ndarray, truth: np.ndarray, fit: np.ndarray, fallback):
    """The target of the fitted row with the nearest number, for the other rows."""
    known = fit & ~np.isnan(numbers)
    if not known.any():
        return np.full((~fit).sum(), fallback)
    order = np.argsort(numbers[known], kind="stable")
    sorted_numbers, sorted_truth = numbers[known][order], truth[known][order]
    wanted = numbers[~fit]
    right = np.clip(np.searchsorted(sorted_numbers, wanted), 0, len(order) - 1)
    left = np.clip(right - 1, 0, len(order) - 1)
    nearer = np.where(
        np.abs(sorted_numbers[left] - wanted) <= np.abs(sorted_numbers[right] - wanted), left, right
    )
    return np.where(np.isnan(wanted), fallback, sorted_truth[nearer])


def _leak_rows(truth: np.ndarray, classification: bool) -> np.ndarray:
    """The positions of the rows a leak is looked for on: all of them up to LEAK_ROWS, else rows
    spread evenly over the data, about LEAK_ROWS in all; for classification, an even share of
    that per class, and every row of a class with fewer (a sample without a rare class would
    let any column predict the rest perfectly)."""
    if len(truth) <= LEAK_ROWS:
        return np.arange(len(truth))
    if not classification:
        return np.arange(0, len(truth), -(-len(truth) // LEAK_ROWS))
    counts = np.bincount(truth)
    every = -(-counts // max(1, LEAK_ROWS // len(counts)))  # per class
    rank = pd.Series(truth).groupby(truth).cumcount().to_numpy()  # the row's place in its class
    return np.flatnonzero(rank % every[truth] == 0)


def _score_alone(values: pd.Series, truth: np.ndarray, classification: bool) -> float:
    """How well ``values`` alone predict the target (``truth``: class numbers, or numbers for
    regression) on held-out rows: each half of the rows (alternate rows) is predicted from the
    other, by the nearest number for a number with many values, else by the majority or mean
    per value. The worse half's balanced accuracy for classification, R² for regression.
    Only a column that determines the target scores near 1: real features are noisier."""
    if pd.api.types.is_datetime64_any_dtype(values):
        ticks = values.to_numpy("datetime64[ns]").view("int64").astype("float64")
        values = pd.Series(np.where(values.isna(), np.nan, ticks), index=values.index)
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    numbers = values.to_numpy("float64", na_value=np.nan) if numeric else None
    many = numeric and len(np.unique(numbers[~np.isnan(numbers)])) > 20
    keys = None if many else pd.factorize(values, use_na_sentinel=False)[0]
    even = np.arange(len(values)) % 2 == 0
    scores = []
    for fit in (even, ~even):
        held = ~fit
        if keys is not None:
            guess = _guess_by_value(keys, truth, fit, classification)
        else:
            fallback = np.bincount(truth[fit]).argmax() if classification else truth[fit].mean()
            guess = _guess_by_nearest(numbers, truth, fit, fallback)
        if classification:
            totals = np.bincount(truth[held])
            hits = np.bincount(truth[held], weights=guess == truth[held], minlength=len(totals))
            scores.append(float((hits[totals > 0] / totals[totals > 0]).mean()))
        else:
            total = ((truth[held] - truth[held].mean()) ** 2).sum()
            errors = ((truth[held] - guess) ** 2).sum()
            scores.append(1 - errors / total if total else 0.0)
    return min(scores)


def infer_column(
    values: pd.Series, *, category: bool = False, explicit: bool = False
) -> tuple[Kind | str, pd.Series | None, Found | None]:
    """The kind of a column that has values (or, as text, why it is left out), the column
    converted to it, and the values that do not fit that kind (typos, for the user to fix).

    ``category``: listed in data.categorical_columns; ``explicit``: there or in
    data.keep_columns, so never left out."""
    if category:
        return CATEGORY, *convert(values, CATEGORY)
    kind = _boolean_kind(values)
    if kind is not None:
        return kind, *convert(values, kind)
    numbers, bad = _numbers(values)
    if not bad.any():
        if not explicit and _is_id(numbers):
            return "an id: whole numbers, all different, in sequence", None, None
        return NUMBER, numbers, None
    if np.isfinite(numbers).sum() > bad.sum():
        return NUMBER, numbers.where(~bad), found_in(values, bad)
    if _is_date(values):
        return DATE, *convert(values, DATE)
    non_missing, distinct = int(values.notna().sum()), values.nunique()
    if not explicit and distinct >= max(NEAR_UNIQUE_MIN, NEAR_UNIQUE_SHARE * non_missing):
        return f"text with {distinct} different values in {non_missing} rows", None, None
    return TEXT, *convert(values, TEXT)


class Plan(NamedTuple):
    """What validate decided about the feature columns: each one's kind, in order, and the lines
    saying what was inferred or left out."""

    kinds: dict[str, Kind]
    notes: list[str]


def _roles(id_column, group_column, drop_columns, categorical_columns, keep_columns):
    return {
        "data.id_column": [id_column] if id_column else [],
        "data.group_column": [group_column] if group_column else [],
        "data.drop_columns": list(drop_columns),
        "data.categorical_columns": list(categorical_columns),
        "data.keep_columns": list(keep_columns),
    }


def set_aside(id_column, group_column, drop_columns) -> list[str]:
    """The columns that are never features: the id, the group and the dropped columns."""
    return list(dict.fromkeys(c for c in [id_column, group_column, *drop_columns] if c))


def _check_setup(frame: pd.DataFrame, task: str, target: str, roles: dict, source: str) -> None:
    """The checks of the settings against the header: known task, rows, columns that exist."""
    if task not in TASKS:
        raise UserError(f"data.task is '{task}' but must be one of: {', '.join(TASKS)}")
    if frame.empty:
        raise UserError(f"{source} has a header but no data rows: add rows")
    _check_columns(frame, {"data.target": [target], **roles}, source)
    for param, columns in roles.items():
        if target in columns:
            raise UserError(f"the target '{target}' is also listed in {param}: remove it there")


def _at_rows(values: pd.Series, found: Found | None) -> Found | None:
    """``found`` with its position in the whole data: ``values``' row number there."""
    return found and found._replace(position=int(values.index[found.position]))


def _features(
    frame: pd.DataFrame,
    target: str,
    truth: np.ndarray | None,
    *,
    task: str,
    categorical_columns,
    keep_columns,
    source: str,
    strict: bool = True,
    scored: np.ndarray | None = None,
) -> tuple[dict[str, pd.Series], Plan]:
    """Each column of ``frame`` but the target as a feature of its kind, or left out; ``truth``
    (class numbers, or numbers for regression; None: no check) finds near-perfect predictors.
    ``strict``: typos and empty columns stop here; else they are for the caller to count (an
    empty column is read as text). ``scored``: the rows ``truth`` is the target of (a mask;
    None: all), which alone are scored for leaks."""
    explicit = set(categorical_columns) | set(keep_columns)
    features, kinds, left_out, dates = {}, {}, {}, []
    for name in frame.columns.drop(target):
        values = frame[name]
        if not values.notna().any():
            if strict:
                raise empty_column_error(name, source)
            kind, column, found = TEXT, *convert(values, TEXT)
        else:
            kind, column, found = infer_column(
                values, category=name in categorical_columns, explicit=name in explicit
            )
        if isinstance(kind, str):
            left_out[name] = kind
            continue
        if found and strict:
            raise value_error(name, kind, _at_rows(values, found), source)
        if kind == DATE:
            dates.append(name)
            _check_date_part_names(frame.columns, name)
        features[name], kinds[name] = column, kind
    classification = task == "classification"
    metric = "balanced accuracy" if classification else "R²"
    rows = None if truth is None else _leak_rows(truth, classification)
    dominant = {}
    for name, column in list(features.items()):
        if truth is None:
            break
        values = column if scored is None else column[scored]
        score = _score_alone(values.iloc[rows], truth[rows], classification)
        if score >= LEAK_SCORE and name not in explicit:
            left_out[name] = (
                f"predicts '{target}' almost perfectly on its own ({metric} ≥ {LEAK_SCORE})"
            )
            del features[name], kinds[name]
            if name in dates:
                dates.remove(name)
        elif score >= DOMINANT_SCORE:
            dominant[name] = math.floor(score * 1000) / 1000  # shown as is: never rounded up
    if not features:
        raise UserError(
            f"no feature columns are left in {source} once the target, id, group, dropped and "
            "left-out columns are set aside: keep at least one column out of data.drop_columns, "
            "or list a left-out one in data.keep_columns"
        )
    notes = []
    if dates:
        notes.append(
            f"date columns become year, month, day, weekday and hour: {_names(dates)} "
            "(list one in data.drop_columns to leave it out)"
        )
    if left_out:
        reasons = "; ".join(f"'{name}' ({why})" for name, why in left_out.items())
        notes.append(
            f"left out of the model: {reasons}; list a column in data.keep_columns to use it"
        )
    if dominant:
        (first, score), *others = sorted(dominant.items(), key=lambda item: -item[1])
        also = "".join(f" and '{name}' with {other}" for name, other in others)
        notes.append(
            f"note: on its own, '{first}' predicts '{target}' with {metric} {score}{also} on "
            f"held-out rows (noted from {DOMINANT_SCORE}, left out as a leak from {LEAK_SCORE}): "
            "a column known only after the outcome is a leak, so list it in data.drop_columns"
        )
    return features, Plan(kinds, notes)


def _check_target(target: pd.Series, task: str, source: str, set_aside: bool) -> pd.Series:
    """``target``'s values (none empty) checked for ``task``; ``set_aside``: rows without a
    value were set aside."""
    name = target.name
    if task == "regression":
        numbers, bad = _numbers(target)
        found = found_in(target, bad)
        if found:
            raise target_not_number_error(name, _at_rows(target, found), source)
        if numbers.nunique() < 2:
            raise constant_target_error(name, numbers.iloc[0], source, set_aside)
        return numbers
    decimal = pd.api.types.is_float_dtype(target)
    check_classes(name, target.value_counts(), decimal and bool((target % 1 != 0).any()), source)
    if decimal:
        return target.astype("int64")  # whole numbers read as floats are class codes
    return target


def validate(
    frame: pd.DataFrame,
    *,
    task: str,
    target: str,
    id_column: str | None = None,
    group_column: str | None = None,
    drop_columns: list[str] = (),
    categorical_columns: list[str] = (),
    keep_columns: list[str] = (),
    unlabeled: str = ERROR,
    source: str = "the data",
) -> Checked:
    """Check a raw frame; return its features (floats, yes/no, times or text) and target, ready
    to split, with the group column's values and lines saying what was inferred or left out.
    Rows whose target is empty are left out if ``unlabeled`` is SET_ASIDE (and said so), after
    the checks that need no target: every row is checked for typos, repeated ids and groups.

    Raises UserError, naming the problem and what to do, for anything that would make a
    misleading model: missing columns, typos in numeric, yes/no or date columns, empty columns,
    an unusable target (empty, unless set aside), repeated ids.
    """
    roles = _roles(id_column, group_column, drop_columns, categorical_columns, keep_columns)
    _check_setup(frame, task, target, roles, source)
    if id_column:
        _check_unique_ids(frame, id_column, source)
    groups = None
    if group_column:
        groups = frame[group_column]
        found = found_in(groups, groups.isna())
        if found:
            raise empty_group_error(group_column, _at_rows(groups, found), source)
    frame = frame.drop(columns=set_aside(id_column, group_column, drop_columns))
    empty = frame[target].isna().to_numpy()
    found = _at_rows(frame[target], found_in(frame[target], empty))
    check_unlabeled(target, found, len(frame), unlabeled, source)
    labeled = ~empty
    labels = _check_target(frame[target][labeled], task, source, set_aside=bool(found))
    classification = task == "classification"
    truth = pd.factorize(labels)[0] if classification else labels.to_numpy("float64")
    features, plan = _features(
        frame,
        target,
        truth,
        task=task,
        categorical_columns=categorical_columns,
        keep_columns=keep_columns,
        source=source,
        scored=labeled,
    )
    clean = pd.DataFrame(features, index=frame.index)[labeled]
    clean[target] = labels
    notes = [unlabeled_note(target, found.count, len(frame), source)] if found else []
    groups = None if groups is None else groups[labeled]
    return Checked(clean, groups, [*notes, *plan.notes])


def plan(
    sample: pd.DataFrame,
    *,
    task: str,
    target: str,
    id_column: str | None = None,
    group_column: str | None = None,
    drop_columns: list[str] = (),
    categorical_columns: list[str] = (),
    keep_columns: list[str] = (),
    source: str = "the data",
) -> Plan:
    """validate's decisions about the feature columns, made on ``sample`` (the first rows of
    data too large to check at once), to convert the other rows alike. Only what the sample
    settles stops here (settings, header); the checks of values are the caller's, on all rows."""
    roles = _roles(id_column, group_column, drop_columns, categorical_columns, keep_columns)
    _check_setup(sample, task, target, roles, source)
    frame = sample.drop(columns=set_aside(id_column, group_column, drop_columns))
    labels = frame[target]
    if task == "classification":
        usable = labels.notna().to_numpy()
        truth = pd.factorize(labels[usable])[0]
        if truth.max(initial=0) < 1:
            usable = np.zeros_like(usable)  # one class predicts itself: no column is a leak
    else:
        numbers, _ = _numbers(labels)
        usable = np.isfinite(numbers.to_numpy())
        truth = numbers.to_numpy()[usable]
    # Kinds are decided on every row, as validate decides them; leaks on the usable rows.
    _, found = _features(
        frame,
        target,
        truth if usable.any() else None,
        task=task,
        categorical_columns=categorical_columns,
        keep_columns=keep_columns,
        source=source,
        strict=False,
        scored=usable,
    )
    return found


# --- splitting ----------------------------------------------------------------------------------


def row_groups(
    features: pd.DataFrame, group_values: pd.Series | None = None
) -> tuple[np.ndarray, int]:
    """A group number per row, and how many rows repeat the features of an earlier row.

    Rows with the same ``features`` share a group whatever their targets (split apart, a model
    would be tested on rows it was trained on, or taught the opposite answer for them), and so do
    rows with the same ``group_values``, transitively.
    """
    hashes = pd.util.hash_pandas_object(features, index=False).to_numpy()
    rows = pd.factorize(hashes)[0]
    repeated = len(features) - (int(rows.max()) + 1 if len(features) else 0)
    if group_values is None:
        return rows, repeated
    groups = pd.factorize(group_values.to_numpy())[0]
    size = int(rows.max()) + int(groups.max()) + 2
    # A graph of row keys and group keys, one edge per row: each connected part is one group.
    ones = np.ones(len(features), dtype=np.int64)
    graph = coo_matrix((ones, (rows, rows.max() + 1 + groups)), shape=(size, size))
    _, parts = connected_components(graph, directed=False)
    return pd.factorize(parts[rows])[0], repeated


def _quotas(counts: np.ndarray, total: int) -> np.ndarray:
    """``total`` split in proportion to ``counts`` (largest remainders), each below its count."""
    shares = counts * total / counts.sum()
    quotas = np.floor(shares).astype(int)
    order = np.argsort(-(shares - quotas), kind="stable")
    quotas[order[: total - quotas.sum()]] += 1
    return np.minimum(quotas, counts - 1)


def _take(order: np.ndarray, sizes: np.ndarray, quota: int) -> list[int]:
    """Groups from ``order`` whose rows add up to ``quota`` or just under: a prefix, then any
    later groups small enough to fill the gap."""
    ends = np.cumsum(sizes[order])
    prefix = int(np.searchsorted(ends, quota, side="right"))
    taken, gap = list(order[:prefix]), quota - (int(ends[prefix - 1]) if prefix else 0)
    for group in order[prefix:]:
        if gap <= 0:
            break
        if sizes[group] <= gap:
            taken.append(group)
            gap -= sizes[group]
    return taken


def check_test_size(test_size: float) -> None:
    if not 0 < test_size < 1:
        raise UserError(f"prepare.test_size is {test_size} but must be a fraction between 0 and 1")


def check_split_sizes(
    test_size: float,
    needed: int,
    rows: int,
    test_rows: int,
    classification: bool,
    set_aside: bool = False,
) -> None:
    """Refuse a split of ``rows`` with ``test_rows`` in test that leaves fewer than ``needed``
    rows on a side; ``set_aside``: rows without a target were set aside, and ``rows`` are the
    others."""
    if min(test_rows, rows - test_rows) < needed:
        rows_named = "labeled rows" if set_aside else "rows"
        raise UserError(
            f"prepare.test_size {test_size} leaves fewer than {needed} of the {rows} "
            f"{rows_named} in the train or the test split"
            f"{' (one per class)' if classification else ''}: change prepare.test_size or add "
            f"{rows_named}"
        )


def check_sides(
    target: str,
    classes: list,
    in_train: list[int],
    in_test: list[int],
    test_size: float,
    min_test_rows_per_class: int,
) -> None:
    """Refuse a split with a class absent from train, or with fewer test rows than
    ``min_test_rows_per_class`` (``in_train`` and ``in_test``: rows per class of ``classes``)."""
    least = max(min_test_rows_per_class, 1)
    for label, train_rows, test_rows in zip(classes, in_train, in_test, strict=True):
        if not train_rows:
            raise UserError(
                f"class {_show(label)} of target '{target}' has too few rows to appear in the "
                f"train split with prepare.test_size {test_size}: add rows of that class, "
                "change prepare.test_size, or remove the class"
            )
        if test_rows < least:
            raise UserError(
                f"class {_show(label)} of target '{target}' has too few rows for the test "
                f"split: {test_rows} of its {train_rows + test_rows} rows land there with "
                f"prepare.test_size {test_size}, and metrics on fewer than {least} "
                "(prepare.min_test_rows_per_class) mean little: add rows of that class, raise "
                "prepare.test_size, or remove the class"
            )


def split(
    frame: pd.DataFrame,
    *,
    task: str,
    target: str,
    test_size: float,
    seed: int,
    groups: np.ndarray | None = None,
    min_test_rows_per_class: int = 1,
    set_aside: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split into train and test, seeded; ``groups`` (a number per row) keeps rows of a group on
    one side. Stratified by the target for classification: each class's groups fill its share
    of the test split in a seeded random order. ``set_aside``: rows without a target were left
    out of ``frame`` (its errors say labeled rows)."""
    check_test_size(test_size)
    classification = task == "classification"
    test_rows = math.ceil(test_size * len(frame))
    needed = max(frame[target].nunique(), 2) if classification else 2
    check_split_sizes(test_size, needed, len(frame), test_rows, classification, set_aside)
    groups = np.arange(len(frame)) if groups is None else np.asarray(groups)
    count = int(groups.max()) + 1
    labels, classes = (
        pd.factorize(frame[target]) if classification else (np.zeros(len(frame), int), [None])
    )
    # Each group counts for the class most of its rows have.
    table = np.zeros((count, len(classes)), dtype=np.int64)
    np.add.at(table, (groups, labels), 1)
    sizes, group_class = table.sum(axis=1), table.argmax(axis=1)
    rng = np.random.default_rng(seed)
    order = rng.permutation(count)
    class_rows = np.bincount(group_class, weights=sizes, minlength=len(classes)).astype(int)
    quotas = _quotas(class_rows, test_rows) if classification else [test_rows]
    in_test = np.zeros(count, dtype=bool)
    for label, quota in enumerate(quotas):
        in_test[_take(order[group_class[order] == label], sizes, int(quota))] = True
    test_mask = in_test[groups]
    train = frame.iloc[rng.permutation(np.flatnonzero(~test_mask))]
    test = frame.iloc[rng.permutation(np.flatnonzero(test_mask))]
    if classification:
        check_sides(
            target,
            list(classes),
            [int((train[target] == label).sum()) for label in classes],
            [int((test[target] == label).sum()) for label in classes],
            test_size,
            min_test_rows_per_class,
        )
    return train.reset_index(drop=True), test.reset_index(drop=True)


def prepare(
    raw_path: Path, params: dict[str, object]
) -> tuple[Checked, int, pd.DataFrame, pd.DataFrame]:
    """The stage without its files: read ``raw_path``, check it and split it with ``params``
    (the keys of PARAMS); return the checked data, the count of rows that repeat another's
    features, and the train and test splits."""
    categorical = params["data.categorical_columns"] or []
    if is_parquet(raw_path):
        try:
            raw = pd.read_parquet(raw_path)
        except (OSError, pyarrow.ArrowException) as error:
            raise not_parquet_error(raw_path, error) from None
    else:
        raw = read_raw(
            raw_path,
            categorical,
            separator=params["data.separator"],
            decimal=params["data.decimal"],
            encoding=params["data.encoding"],
        )
    target = params["data.target"]
    checked = validate(
        raw,
        **column_settings(params),
        unlabeled=params["prepare.unlabeled"],
        source=str(raw_path),
    )
    groups, repeated = row_groups(checked.frame.drop(columns=[target]), checked.groups)
    train, test = split(
        checked.frame,
        task=params["data.task"],
        target=target,
        test_size=params["prepare.test_size"],
        seed=params["prepare.seed"],
        groups=groups,
        min_test_rows_per_class=params["prepare.min_test_rows_per_class"],
        set_aside=len(checked.frame) < len(raw),
    )
    return checked, repeated, train, test


def check_task(task: str, plot_files: list[str]) -> None:
    """Refuse ``task`` when dvc.yaml draws ``plot_files`` and one of them is a plot evaluate
    writes for another task only: a project's plots (and gates) are made for one task, and the
    stages would run for minutes before DVC finds that plot missing."""
    if task not in PLOTS:
        return  # validate names the task that does not exist
    for other in PLOTS.keys() - {task}:
        theirs = set(PLOTS[other]) - set(PLOTS[task])
        drawn = [str(path) for path in plot_files if Path(path).name in theirs]
        if drawn:
            raise UserError(
                f"data.task is '{task}', but this project was made for {other}: dvc.yaml draws "
                f"{drawn[0]}, which evaluate writes for {other} only, so set data.task back to "
                f"'{other}', or generate a {task} project from the template and bring your data "
                "there"
            )


def column_settings(params: dict[str, object]) -> dict[str, object]:
    """The keywords of ``validate`` and ``plan`` that params.yaml sets, from the stage's params."""
    return {
        "task": params["data.task"],
        "target": params["data.target"],
        "id_column": params["data.id_column"],
        "group_column": params["data.group_column"],
        "drop_columns": params["data.drop_columns"] or [],
        "categorical_columns": params["data.categorical_columns"] or [],
        "keep_columns": params["data.keep_columns"] or [],
    }


def remove_output(path: Path) -> None:
    """Remove an output before writing it: a folder (the Dask engine's) or a file (this one's)."""
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def summary(
    notes: list[str],
    repeated: int,
    groups: int | None,
    train_rows: int,
    test_rows: int,
    features: int,
    *,
    repeats_across_groups: bool = False,
    target: str = "",
    classes: int = 0,
) -> list[str]:
    """What the stage tells the user: ``notes``, rows repeating another's features, the number
    of groups of data.group_column (None: not set), and the sizes of the splits; a warning if
    the ``classes`` of a classification ``target`` outnumber the train rows of each.
    ``repeats_across_groups``: a split by groups alone, which may part repeats in two groups."""
    lines = list(notes)
    if repeated:
        where = "within a group " if groups is not None and repeats_across_groups else ""
        lines.append(
            f"{repeated} rows repeat the features of another row once ids and left-out columns "
            f"are set aside; rows with the same features {where}stay on one side of the split"
        )
    if groups is not None:
        lines.append(
            f"{groups} groups of data.group_column; each group stays on one side of the split"
        )
    lines.append(f"{train_rows} train rows, {test_rows} test rows, {features} features")
    # A class is learnt from its own rows against every other class: with fewer rows per class
    # than classes, models end near chance, and training takes longer with each class.
    if classes and train_rows < classes * classes:
        lines.append(
            f"warning: target '{target}' has {classes} classes and the train split "
            f"{train_rows // classes} rows per class on average, fewer than there are classes: "
            "a model rarely tells that many classes apart from so few rows (expect results near "
            "chance), and training takes longer with each class; add rows, or merge classes"
        )
    return lines
