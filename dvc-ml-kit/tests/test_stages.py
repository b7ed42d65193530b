"""Each stage on the local engine, from files to files, as a project's stage modules call them;
and the Dask engine, asked for where it is not installed, is one sentence."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import dvc_ml_kit.cluster
from dvc_ml_kit import stages
from dvc_ml_kit.errors import UserError
from dvc_ml_kit.params import load_params
from dvc_ml_kit.pipeline import evaluate, prepare, train
from registry import ESTIMATORS, add_ratio

PARAMS = """\
data:
  task: classification
  file: raw.csv
  target: label
  id_column: null
  group_column: null
  drop_columns: null
  categorical_columns: null
  keep_columns: null
  separator: null
  decimal: null
  encoding: null
compute:
  engine: {engine}
  store: null
prepare:
  test_size: 0.25
  seed: 0
  min_test_rows_per_class: 2
  unlabeled: set_aside
train:
  estimator: linear
  seed: 0
  class_weight: null
  hyperparameters: null
evaluate:
  seed: 0
  importance_repeats: 2
  importance_features: 10
  max_plot_rows: 100
  resamples: 50
"""


def params(folder, stage, engine="local"):
    (folder / "params.yaml").write_text(PARAMS.format(engine=engine))
    return load_params(folder / "params.yaml", stage.PARAMS)


def test_the_stages_run_from_files_to_files(tmp_path):
    rng = np.random.default_rng(3)
    level, spread = rng.normal(size=200), rng.normal(size=200)
    frame = pd.DataFrame({"level": level, "spread": spread, "label": np.where(level > 0, "y", "n")})
    frame.to_csv(tmp_path / "raw.csv", index=False)
    split = tmp_path / "train.parquet", tmp_path / "test.parquet"

    lines = stages.prepare(str(tmp_path / "raw.csv"), *split, params(tmp_path, prepare))
    assert lines[-1] == "prepare: 150 train rows, 50 test rows, 2 features"
    model = tmp_path / "model.pkl"
    line = stages.train(split[0], model, params(tmp_path, train), ESTIMATORS, add_ratio)
    assert line == "train: fitted LogisticRegression"
    metrics, plots = tmp_path / "evaluation" / "metrics.json", tmp_path / "evaluation" / "plots"
    printed = stages.evaluate(model, *split, metrics, plots, params(tmp_path, evaluate))
    written = json.loads(metrics.read_text())
    assert json.loads(printed) == written["model"]
    assert written["model"]["balanced_accuracy"] > written["baseline"]["balanced_accuracy"]
    # Each metric's interval from 50 resamples of the 50 test rows holds the metric itself.
    resampled = json.loads((tmp_path / "evaluation" / "bootstrap.json").read_text())
    assert (resampled["rows"], resampled["resamples"]) == (50, 50)
    for name, value in written["model"].items():
        low, high = resampled["interval"][name]
        assert low <= value <= high, name
        assert len(resampled["values"][name]) == 50
    # The classes are apart (label: level > 0), so accuracy is 1 on every resample; the log
    # loss still moves.
    assert resampled["interval"]["accuracy"] == [1.0, 1.0]
    low, high = resampled["interval"]["log_loss"]
    assert low < written["model"]["log_loss"] < high
    copied = stages.copy_evaluation(tmp_path / "evaluation", tmp_path / "m.json", tmp_path / "p")
    assert copied == f"metrics: copied {2 + len(list(plots.iterdir()))} files"
    assert (tmp_path / "bootstrap.json").read_text() == (
        tmp_path / "evaluation" / "bootstrap.json"
    ).read_text()


def test_the_dask_engine_not_installed_is_one_sentence(tmp_path, monkeypatch):
    real = dvc_ml_kit.cluster.importlib.import_module

    def without_lightgbm(name, *args):
        if name == "lightgbm":
            raise ImportError(name)
        return real(name, *args)

    monkeypatch.setattr(dvc_ml_kit.cluster.importlib, "import_module", without_lightgbm)
    with pytest.raises(
        UserError,
        match=r"^compute.engine is dask, but lightgbm is not installed "
        r"here: run `make setup-dask`",
    ):
        stages.train(
            tmp_path / "t.parquet", tmp_path / "m.pkl", params(tmp_path, train, "dask"), ESTIMATORS
        )


def test_a_stage_imports_only_the_libraries_it_uses():
    """copy_evaluation copies files: importing the stages and its core loads no pandas,
    scikit-learn or SciPy (1.4 s of every pipeline run when it did)."""
    check = (
        "import sys; from dvc_ml_kit import stages; from dvc_ml_kit.pipeline import "
        "copy_evaluation; print(sorted({'pandas', 'sklearn', 'scipy', 'numpy'} & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
