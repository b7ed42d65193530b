"""The report's Data section on a real Git + DVC repository: the base's raw data comes from DVC
at the base revision, each side read with its own params.yaml; data DVC cannot give is said."""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

from dvc_ml_kit.ci import data

PARAMS = """\
data:
  task: classification
  file: {file}
  target: diagnosis
  id_column: null
  categorical_columns: []
  keep_columns: []
  separator: {separator}
  decimal: null
  encoding: null
prepare:
  seed: 42
"""


def sh(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True)


def commit(message: str) -> str:
    sh("git", "add", "--all")
    sh("git", "-c", "user.name=a", "-c", "user.email=a@example.com", "commit", "-qm", message)
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def repository(tmp_path, monkeypatch):
    """A Git + DVC repository whose first commit tracks the breast cancer table with
    ``dvc add``; returns that commit."""
    monkeypatch.chdir(tmp_path)
    sh("git", "init", "-q", "--initial-branch=main")
    sh(sys.executable, "-m", "dvc", "init", "-q")
    frame, target = load_breast_cancer(return_X_y=True, as_frame=True)
    frame["diagnosis"] = np.where(target == 0, "malignant", "benign")
    Path("data").mkdir()
    frame.iloc[:400].to_csv("data/cancer.csv", index=False)
    Path("params.yaml").write_text(PARAMS.format(file="data/cancer.csv", separator="null"))
    sh(sys.executable, "-m", "dvc", "add", "-q", "data/cancer.csv")
    return commit("Track the data"), frame


def test_new_rows_with_a_shifted_column_are_the_data_section(repository):
    base, frame = repository
    newer = frame.copy()
    newer["mean radius"] = newer["mean radius"] * 1.5  # every row: the column drifts
    # The branch renames the file and writes it with semicolons: each side its own settings.
    newer.to_csv("data/cancer-2.csv", index=False, sep=";")
    Path("params.yaml").write_text(PARAMS.format(file="data/cancer-2.csv", separator="';'"))
    sh(sys.executable, "-m", "dvc", "add", "-q", "data/cancer-2.csv")
    commit("New data")

    section = data.compared(base)
    assert section.lines[:2] == ["### Data", ""]
    summary = section.lines[2]
    assert summary.startswith("**The data changed:** 400 → 569 rows (569 added, 400 removed)")
    assert "1 of 30 columns drifted" in summary
    assert any(line.startswith("| `mean radius` |") for line in section.lines)
    assert section.drift_share == pytest.approx(1 / 30)


def test_base_data_dvc_cannot_give_is_said_in_one_sentence(repository):
    base, frame = repository
    frame.to_csv("data/cancer.csv", index=False)
    sh(sys.executable, "-m", "dvc", "add", "-q", "data/cancer.csv")
    commit("More rows")
    shutil.rmtree(".dvc/cache")  # the base's version is in no cache, and there is no remote
    section = data.compared(base)
    assert section.drift_share is None
    (sentence,) = [line for line in section.lines if line.startswith("⚠️")]
    assert sentence.startswith(
        "⚠️ The base's `data/cancer.csv` could not be read to compare it (DVC: "
    )
    assert sentence.endswith("`dvc pull` it here, or give CI the DVC remote's credentials.")


def test_a_repository_whose_params_name_no_data_file_has_no_section(repository):
    base, _ = repository
    Path("params.yaml").write_text("train:\n  seed: 1\n")
    commit("Other params")
    assert data.compared(base) is None
