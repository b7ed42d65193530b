"""Where the Dask engine keeps the prepared splits: the workspace, or an object store behind a
manifest (an in-memory fsspec store here; the template's own tests use a real S3 store)."""

import json

import dask
import dask.dataframe as dd
import fsspec
import pandas as pd
import pytest

from dvc_ml_kit.cluster.store import (
    MANIFEST,
    destination,
    input_key,
    read_split,
    record,
)
from dvc_ml_kit.errors import (
    UserError,
)

STORE = "memory://store"


@pytest.fixture(autouse=True)
def synchronous():
    """Dask's tasks in this process, and an empty in-memory store for each test."""
    with dask.config.set(scheduler="synchronous"):
        yield
    memory = fsspec.filesystem("memory")
    if memory.exists("/store"):
        memory.rm("/store", recursive=True)


def frame() -> dd.DataFrame:
    rows = pd.DataFrame({"amount": [1.0, 2.5, None, 4.0], "zone": ["a", "b", "a", None]})
    return dd.from_pandas(rows, npartitions=2)


def write(path, store=None, key="k1"):
    url = destination(path, store=store, key=key)
    frame().to_parquet(url, write_index=False, write_metadata_file=False)
    record(path, url, partitions=2)
    return url


def test_a_workspace_split_is_parquet_files_here(tmp_path):
    path = tmp_path / "train.parquet"
    write(path)
    assert sorted(file.name for file in path.iterdir()) == ["part.0.parquet", "part.1.parquet"]
    assert read_split(path).compute().reset_index(drop=True).equals(frame().compute())


def test_a_store_split_is_a_manifest_here_and_files_there(tmp_path):
    path = tmp_path / "train.parquet"
    url = write(path, STORE)
    assert url == f"{STORE}/prepared/k1/train"
    assert [file.name for file in path.iterdir()] == [MANIFEST]
    manifest = json.loads((path / MANIFEST).read_text())
    assert manifest["url"] == url
    assert sorted(manifest["files"]) == ["part.0.parquet", "part.1.parquet"]
    assert read_split(path).compute().reset_index(drop=True).equals(frame().compute())


def test_a_replaced_or_missing_file_in_the_store_is_refused(tmp_path):
    path = tmp_path / "test.parquet"
    url = write(path, STORE)
    with fsspec.open(f"{url}/part.1.parquet", "wb") as file:
        file.write(b"other bytes")
    with pytest.raises(UserError, match=r"part.1.parquet, which .* is missing from the store or"):
        read_split(path)
    fsspec.filesystem("memory").rm(f"{url.removeprefix('memory://')}", recursive=True)
    with pytest.raises(UserError, match=r"run `dvc repro --force prepare`"):
        read_split(path)


def test_the_key_follows_the_raw_data_and_the_params(tmp_path):
    raw = tmp_path / "raw.csv"
    raw.write_text("a,b\n1,2\n")
    params = {"prepare.seed": 1}
    key = input_key(str(raw), params)
    assert input_key(str(raw), dict(params)) == key
    assert input_key(str(raw), {"prepare.seed": 2}) != key
    raw.write_text("a,b\n1,3\n")
    assert input_key(str(raw), params) != key
    # Where the project lives does not matter, only what the file holds.
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    (moved / "raw.csv").write_text("a,b\n1,3\n")
    assert input_key(str(moved / "raw.csv"), params) == input_key(str(raw), params)
