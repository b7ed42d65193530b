"""The pull request state: stage outcomes and errors from DVC's output, test summaries, the
record of a check, the lock, and what counts as a documentation-only change."""

import subprocess
import sys
from pathlib import Path

import pytest

from dvc_ml_kit.ci.repo import (
    documentation_only,
    lock_entries,
    remote_url,
    require_revision,
    run,
)
from dvc_ml_kit.ci.state import (
    Run,
    pytest_summary,
    repro_errors,
    stage_outcomes,
    summary_failed,
)
from dvc_ml_kit.errors import UserError

# Lines as `dvc repro --pull --allow-missing` prints them.
LOG = """\
'data/raw/sample.csv.dvc' didn't change, skipping
Stage 'prepare' didn't change, skipping
Stage 'train' is cached - skipping run, checking out outputs
Updating lock file 'dvc.lock'
Running stage 'evaluate':
> python -m package.evaluate models/model.pkl
Running stage 'copy_evaluation':
"""


def test_stage_outcomes_from_the_repro_output():
    assert stage_outcomes(LOG) == {
        "prepare": "unchanged",
        "train": "restored from the run-cache",
        "evaluate": "ran",
        "copy_evaluation": "ran",
    }


def test_errors_of_a_failed_repro():
    log = LOG + "error: data/raw/sample.csv has no column 'churned'\nERROR: failed to reproduce\n"
    assert repro_errors(log) == [
        "error: data/raw/sample.csv has no column 'churned'",
        "ERROR: failed to reproduce",
    ]
    assert repro_errors(LOG) == []


def test_lock_entries_are_every_dep_and_out():
    lock = """\
schema: '2.0'
stages:
  train:
    cmd: python -m package.train
    deps:
    - path: data/prepared/train.parquet
      md5: aaa
    outs:
    - path: models/model.pkl
      md5: bbb
"""
    assert lock_entries(lock) == {"data/prepared/train.parquet": "aaa", "models/model.pkl": "bbb"}
    assert lock_entries(None) == {}


def test_pytest_summary_and_outcome():
    assert pytest_summary("..\n== 3 passed in 1.0s ==\n") == "3 passed in 1.0s"
    assert not summary_failed("3 passed in 1.0s")
    assert summary_failed("1 failed, 2 passed in 1.0s")
    assert summary_failed(pytest_summary("collection crashed\n"))  # "no summary"


def test_a_run_is_read_back_only_on_its_own_commit(tmp_path):
    path = tmp_path / "ci-pr.json"
    run = Run(commit="abc", stages={"train": "ran"}, tests="3 passed in 1.0s", committed=True)
    run.save(path)
    assert Run.of_commit("abc", path) == run
    assert Run.of_commit("def", path) is None
    assert Run.of_commit("abc", tmp_path / "none.json") is None


@pytest.fixture
def repository(tmp_path, monkeypatch) -> Path:
    """A Git repository with one commit: code, params, a README and a lock whose stage reads
    docs/schema.md."""
    monkeypatch.chdir(tmp_path)
    files = {
        "README.md": "# Project\n",
        "params.yaml": "seed: 1\n",
        "src/stage.py": "print(1)\n",
        "docs/schema.md": "columns\n",
        "dvc.lock": "schema: '2.0'\nstages:\n  check:\n    deps:\n    - path: docs/schema.md\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    for command in (
        "git init --quiet --initial-branch=main",
        "git add --all",
        "git -c user.name=a -c user.email=a@example.com commit --quiet -m start",
    ):
        subprocess.run(command.split(), check=True)
    return tmp_path


def test_documentation_only_lists_changed_documentation(repository):
    assert documentation_only("HEAD") == []
    (repository / "README.md").write_text("# Project\n\nMore.\n")
    (repository / "docs/guide.md").write_text("How to\n")  # untracked files count too
    assert documentation_only("HEAD") == ["README.md", "docs/guide.md"]


@pytest.mark.parametrize("name", ["src/stage.py", "params.yaml", "docs/schema.md", "notes.txt"])
def test_anything_but_documentation_no_stage_reads_is_not_documentation_only(repository, name):
    (repository / "README.md").write_text("# Project\n\nMore.\n")
    with open(repository / name, "a") as file:
        file.write("changed\n")
    assert documentation_only("HEAD") is None


def test_a_command_runs_with_the_variables_given_and_its_output_is_kept(tmp_path):
    show = "import os; print(os.environ['OMP_WAIT_POLICY'], os.environ['PATH'] != '')"
    log = tmp_path / "out.log"
    done = run(sys.executable, "-c", show, log=log, env={"OMP_WAIT_POLICY": "passive"})
    assert done.returncode == 0
    assert done.stdout == log.read_text() == "passive True\n"  # the rest of the environment too


def test_the_remote_url_is_the_default_remote_s_with_local_settings_first(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for level in ("DVC_SYSTEM_CONFIG_DIR", "DVC_GLOBAL_CONFIG_DIR"):  # none of this machine's
        monkeypatch.setenv(level, str(tmp_path / level))
    (tmp_path / ".dvc").mkdir()
    (tmp_path / ".dvc/config").write_text("['remote \"storage\"']\n    url = s3://bucket/path\n")
    assert remote_url() is None  # a remote, but no default one
    with open(tmp_path / ".dvc/config", "a") as config:
        config.write("[core]\n    remote = storage\n")
    assert remote_url() == "s3://bucket/path"
    (tmp_path / ".dvc/config.local").write_text("['remote \"storage\"']\n    url = /mnt/dvc\n")
    assert remote_url() == "/mnt/dvc"


def test_an_unknown_base_is_one_sentence_with_the_fix(repository):
    require_revision("HEAD")  # known: nothing to say
    with pytest.raises(UserError, match=r"has no remote 'origin': .* as BASE=main$"):
        require_revision("origin/main")
    subprocess.run(["git", "remote", "add", "origin", str(repository)], check=True)
    with pytest.raises(UserError, match=r"not known here: fetch it \(`git fetch origin main`\)"):
        require_revision("origin/main")


def test_inputs_imported_from_another_repository_are_told_apart(tmp_path, monkeypatch):
    """A file of `dvc import` (its .dvc dependency names a repository) is fetched from that
    repository, never from this one's remote: a run that lacks it says so, not "the remote"."""
    from dvc_ml_kit.ci import pr, repo
    from dvc_ml_kit.ci.state import IMPORT_UNREACHABLE, REMOTE_FAILED

    monkeypatch.chdir(tmp_path)
    Path("data").mkdir()
    Path("data/other.csv.dvc").write_text(
        "deps:\n- path: tables/other.csv\n  repo:\n    url: https://example.com/registry\n"
        "outs:\n- path: other.csv\n"
    )
    Path("data/bucket.csv.dvc").write_text(
        "deps:\n- path: s3://bucket/bucket.csv\nouts:\n- path: bucket.csv\n"
    )
    Path("data/added.csv.dvc").write_text("outs:\n- path: added.csv\n")
    Path("data/broken.csv.dvc").write_text("deps: [\n")
    listed = ["data/other.csv", "data/bucket.csv", "data/added.csv", "data/broken.csv", "x"]
    assert repo.repository_imports(listed) == ["data/other.csv"]

    log = "ERROR: failed to reproduce 'prepare': Checkout failed for data/other.csv\n"
    for missing, access in ((["data/other.csv"], IMPORT_UNREACHABLE), (["x"], REMOTE_FAILED)):
        monkeypatch.setattr(repo, "stage_names", lambda: ["prepare"])
        monkeypatch.setattr(repo, "missing_inputs", lambda stages, found=missing: found)
        done = Run(commit="abc")
        pr.explain_failure(done, log, trusted=True, remote="s3://bucket/cache")
        assert done.access == access and done.missing == missing
