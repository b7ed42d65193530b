"""refresh on a real Git + DVC repository whose data is imported with `dvc import-url` from a
file elsewhere: nothing imported, nothing changed, and new data the pipeline refuses."""

import subprocess
import sys
from pathlib import Path

import pytest

from dvc_ml_kit.ci import refresh
from dvc_ml_kit.errors import UserError

# A stage that refuses data holding "broken", as prepare refuses data it cannot use.
STAGE = """\
import sys
text = open("data/rows.csv").read()
if "broken" in text:
    print("error: data/rows.csv holds a broken row: fix it at its source", file=sys.stderr)
    sys.exit(1)
open("count.txt", "w").write(str(len(text.splitlines())))
"""
PIPELINE = """\
stages:
  count:
    cmd: python count.py
    deps: [data/rows.csv, count.py]
    outs: [count.txt]
"""


def sh(*command: str) -> str:
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def dvc(*args: str) -> str:
    return sh(sys.executable, "-m", "dvc", *args)


@pytest.fixture
def repository(tmp_path, monkeypatch) -> Path:
    """A repository whose stage reads data/rows.csv, imported from ``source`` (returned)."""
    source = tmp_path / "source.csv"
    source.write_text("a,b\n1,2\n")
    (tmp_path / "project").mkdir()
    monkeypatch.chdir(tmp_path / "project")
    sh("git", "init", "-q", "--initial-branch=main")
    dvc("init", "-q")
    Path("data").mkdir()
    Path("count.py").write_text(STAGE)
    Path("dvc.yaml").write_text(PIPELINE)
    Path(".gitignore").write_text("/count.txt\n")
    dvc("import-url", "-q", str(source), "data/rows.csv")
    dvc("repro", "-q")
    sh("git", "add", "--all")
    sh("git", "-c", "user.name=a", "-c", "user.email=a@example.com", "commit", "-qm", "start")
    return source


def test_imported_data_that_did_not_change_is_nothing_to_do(repository, capsys):
    assert refresh.imported() == ["data/rows.csv.dvc"]
    assert refresh.refresh("HEAD", trusted=False, hand_off=None) == 0
    assert Path("refresh.md").read_text() == (
        "the imported data did not change (data/rows.csv.dvc): nothing to do\n"
    )
    assert sh("git", "status", "--porcelain", "--untracked-files=no") == ""


def test_new_data_the_pipeline_refuses_fails_and_leaves_the_workspace_as_it_was(repository):
    repository.write_text("a,b\n1,2\nbroken,row\n")
    assert refresh.refresh("HEAD", trusted=False, hand_off=None) == 1
    assert Path("refresh.md").read_text() == (
        "the new version of data/rows.csv was refused: data/rows.csv holds a broken "
        "row: fix it at its source\n"
    )
    assert sh("git", "status", "--porcelain", "--untracked-files=no") == ""
    assert Path("data/rows.csv").read_text() == "a,b\n1,2\n"


def test_a_repository_with_nothing_imported_has_nothing_to_refresh(repository):
    dvc("remove", "-q", "data/rows.csv.dvc")
    sh("git", "add", "--all")
    sh("git", "-c", "user.name=a", "-c", "user.email=a@example.com", "commit", "-qm", "none")
    assert refresh.refresh("HEAD", trusted=False, hand_off=None) == 0
    assert (
        Path("refresh.md")
        .read_text()
        .startswith(
            "no data of this project is imported (`dvc import-url` or `dvc import`): nothing"
        )
    )


def test_uncommitted_changes_stop_it_before_anything_runs(repository):
    Path("dvc.yaml").write_text(PIPELINE + "\n")
    with pytest.raises(UserError, match="^the working tree has uncommitted changes"):
        refresh.refresh("HEAD", trusted=False, hand_off=None)
    assert not Path("refresh.md").exists()


def test_a_hand_off_folder_that_holds_files_is_refused_before_anything_runs(repository, tmp_path):
    earlier = tmp_path / "results"
    earlier.mkdir()
    (earlier / "dvc.lock").write_text("an earlier refresh's\n")
    repository.write_text("a,b\n1,2\n3,4\n")
    with pytest.raises(UserError, match=f"^{earlier} is not empty: remove it"):
        refresh.refresh("HEAD", trusted=False, hand_off=earlier)
    assert not Path("refresh.md").exists()
    assert Path("data/rows.csv").read_text() == "a,b\n1,2\n"
