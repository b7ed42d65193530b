"""The pull request report: stage outcomes from DVC's output, the lock, the tables and charts."""

from {{ cookiecutter.module_name }}.gate import Metric
from {{ cookiecutter.module_name }}.report import (
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
