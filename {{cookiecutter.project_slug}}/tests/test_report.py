"""The pull request report: stage outcomes from DVC's output, the lock, the tables and charts."""

import subprocess
from pathlib import Path

import pytest

from {{ cookiecutter.module_name }}.gate import Metric
from {{ cookiecutter.module_name }}.report import (
    documentation_only,
    lock_entries,
    metrics_table,
    params_table,
    repro_errors,
    roc_chart,
    stage_outcomes,
    summarize_tests,
)

# Lines as `dvc repro --pull --allow-missing` prints them.
LOG = """\
'data/raw/sample.csv.dvc' didn't change, skipping
Stage 'prepare' didn't change, skipping
Stage 'train' is cached - skipping run, checking out outputs
Updating lock file 'dvc.lock'
Running stage 'evaluate':
> python -m package.evaluate models/model.pkl
Running stage 'metrics':
"""


def test_stage_outcomes_from_the_repro_output():
    assert stage_outcomes(LOG) == {
        "prepare": "unchanged",
        "train": "restored from the run-cache",
        "evaluate": "ran",
        "metrics": "ran",
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


def test_metrics_table_shows_change_percent_and_baseline():
    table = metrics_table([Metric("log_loss", new=0.08, old=0.1, baseline=0.66)])
    assert table[2] == "| log_loss ↓ | 0.1 | 0.08 | -0.02 ✅ | -20.00 % | 0.66 |"
    table = metrics_table([Metric("r2", new=0.4, old=0.5, baseline=0.0)])
    assert table[2] == "| r2 ↑ | 0.5 | 0.4 | -0.1 🔻 | -20.00 % | 0 |"


def test_params_table_lists_changed_keys():
    diff = {"params.yaml": {"train.seed": {"old": 1, "new": 2}}}
    assert params_table(diff)[2] == "| `train.seed` | 1 | 2 |"
    assert params_table({}) == ["No parameter changed."]


def test_roc_chart_is_a_mermaid_chart_with_one_line_per_revision():
    rows = [{"fpr": "0", "tpr": "0"}, {"fpr": "0", "tpr": "0.8"}, {"fpr": "1", "tpr": "1"}]
    chart = roc_chart(rows, rows)
    assert chart[0] == "```mermaid" and chart[-1] == "```"
    lines = [line.strip() for line in chart if line.strip().startswith("line [")]
    assert len(lines) == 2
    assert lines[0].startswith("line [0.800, 0.800") and lines[0].endswith("1.000]")


def test_tests_summary_marks_pass_and_fail():
    assert summarize_tests("== 3 passed in 1.0s ==\n") == "✅ Tests: 3 passed in 1.0s"
    assert summarize_tests("== 1 failed, 2 passed in 1.0s ==\n").startswith("❌")


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
