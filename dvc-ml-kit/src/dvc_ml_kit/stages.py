"""Each stage of a project's pipeline, run on the engine ``compute.engine`` names.

A project's stage module (``python -m <project>.stages.<stage>``) reads its arguments and params
and calls the function of the same name here, which runs the stage's core (``pipeline/``) on this
machine or on a Dask cluster (``cluster/``, imported only then), writes its outputs and returns
what the stage prints. Each function imports the core it runs: a stage pays for the libraries it
uses only (copy_evaluation, which copies files, starts in a tenth of a second, not in 1.4 s).
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import TYPE_CHECKING

from .contract import BASELINE, BOOTSTRAP, MODEL
from .errors import check_target

if TYPE_CHECKING:
    from .pipeline.train import Estimators
    from .project import AddFeatures


def prepare(raw: str, train_path: Path, test_path: Path, params: dict) -> list[str]:
    """The prepare stage: check the raw data at ``raw`` (a path, or a URL for the Dask engine)
    with ``params`` (the keys of pipeline.prepare.PARAMS), write the train and test splits on
    the engine ``compute.engine`` names, and return the lines the stage prints."""
    from .ci.repo import plot_files
    from .pipeline import prepare as core_prepare

    # dvc.yaml (where DVC runs the stage) is read only to refuse a task it was not written for:
    # the splits do not depend on it, so it is not among the stage's deps.
    if Path("dvc.yaml").is_file():
        core_prepare.check_task(params["data.task"], plot_files())
    if params["compute.engine"] == "dask":
        # Imported here: the local engine runs without Dask.
        from .cluster import require

        require()
        from .cluster.prepare import prepare_on_cluster

        lines = prepare_on_cluster(raw, train_path, test_path, params)
    else:
        checked, repeated, train, test = core_prepare.prepare(Path(raw), params)
        for part, path in ((train, train_path), (test, test_path)):
            core_prepare.remove_output(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            part.to_parquet(path, index=False)
        groups = None if checked.groups is None else checked.groups.nunique()
        features = checked.frame.shape[1] - 1
        target = params["data.target"]
        classification = params["data.task"] == "classification"
        lines = core_prepare.summary(
            checked.notes,
            repeated,
            groups,
            len(train),
            len(test),
            features,
            target=target,
            classes=checked.frame[target].nunique() if classification else 0,
        )
    return [f"prepare: {line}" for line in lines]


def train(
    train_path: Path,
    model_path: Path,
    params: dict,
    estimators: Estimators,
    add_features: AddFeatures | None = None,
) -> str:
    """The train stage: fit on the split at ``train_path`` with ``params`` (the keys of
    pipeline.train.PARAMS), the project's ``estimators`` and engineered features
    (``add_features``), on the engine ``compute.engine`` names; write the model to
    ``model_path`` (a pickle) and return the line the stage prints."""
    import pandas as pd

    from .pipeline import train as core_train

    name = params["train.estimator"]
    settings = {
        "task": params["data.task"],
        "target": params["data.target"],
        "estimator": name,
        "hyperparameters": core_train.chosen_hyperparameters(
            params["data.task"], name, params["train.hyperparameters"], estimators
        ),
        "seed": params["train.seed"],
        "class_weight": params["train.class_weight"],
        "estimators": estimators,
        "add_features": add_features,
    }
    if params["compute.engine"] == "dask":
        from .cluster import connect, require

        require()
        from .cluster.store import read_split
        from .cluster.train import train_on_cluster

        with connect() as client:
            model = train_on_cluster(client, read_split(train_path), **settings)
    else:
        model = core_train.train(pd.read_parquet(train_path), **settings)
    model_path.parent.mkdir(parents=True, exist_ok=True)
    # A seeded pickle is byte-identical run to run, so `dvc repro -f` leaves dvc.lock unchanged.
    with open(model_path, "wb") as file:
        pickle.dump(model, file, protocol=5)
    return f"train: fitted {type(model[-1]).__name__}"


def classes_of(model, task: str):
    """The classes whose probabilities ``model`` predicts, in order (None for regression)."""
    return model.classes_ if task == "classification" else None


def evaluate(
    model_path: Path, train_path: Path, test_path: Path, metrics_path: Path, plots: Path, params
) -> str:
    """The evaluate stage: score the model at ``model_path`` and a baseline fitted on the train
    split on the test split, with ``params`` (the keys of pipeline.evaluate.PARAMS) on the engine
    ``compute.engine`` names; write the metrics (JSON) and the plot data (CSV files in
    ``plots``); return the line the stage prints: the model's metrics."""
    import pandas as pd

    from .pipeline import evaluate as core_evaluate
    from .pipeline.bootstrap import bootstrap

    task, target = params["data.task"], params["data.target"]
    with open(model_path, "rb") as file:
        model = pickle.load(file)
    rows, seed = params["evaluate.max_plot_rows"], params["evaluate.seed"]
    if params["compute.engine"] == "dask":
        from .cluster import connect, require

        require()
        from .cluster.evaluate import evaluate_on_cluster

        with connect() as client:
            metrics, sample, (actual, predicted) = evaluate_on_cluster(
                client, model, train_path, test_path, task=task, target=target, rows=rows, seed=seed
            )
    else:
        test, train = pd.read_parquet(test_path), pd.read_parquet(train_path)
        for path, split in ((test_path, test), (train_path, train)):
            check_target(split.columns, target, path)
        baseline = core_evaluate.fit_baseline(train, task=task, target=target)
        actual, predicted = core_evaluate.predictions(model, test, task=task, target=target)
        metrics = {
            MODEL: core_evaluate.metric_values(
                actual, predicted, task=task, target=target, classes=classes_of(model, task)
            ),
            BASELINE: core_evaluate.scores(baseline, test, task=task, target=target),
        }
        # Plot files hold at most max_plot_rows test rows (a seeded sample), to stay small in Git.
        sample = test.sample(n=min(len(test), rows), random_state=seed).reset_index(drop=True)
    metrics_path.parent.mkdir(parents=True, exist_ok=True)
    # allow_nan=False: a metric that is not a number must stop the stage, not corrupt the file.
    metrics_path.write_text(json.dumps(metrics, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    # How much each metric moves when the test rows are resampled: its interval, and the
    # resampled values that the gates pair with the base's.
    resampled = bootstrap(
        actual,
        predicted,
        task=task,
        classes=classes_of(model, task),
        resamples=params["evaluate.resamples"],
        seed=seed,
    )
    text = json.dumps(resampled, separators=(",", ":"), allow_nan=False)
    metrics_path.with_name(BOOTSTRAP).write_text(text + "\n", encoding="utf-8")

    plots.mkdir(parents=True, exist_ok=True)
    tables = core_evaluate.plot_data(
        model,
        sample,
        task=task,
        target=target,
        repeats=params["evaluate.importance_repeats"],
        seed=seed,
        max_features=params["evaluate.importance_features"],
    )
    for name, table in tables.items():
        table.to_csv(plots / name, index=False)
    return json.dumps(metrics[MODEL])


def copy_evaluation(evaluation: Path, metrics: Path, plots: Path) -> str:
    """The copy_evaluation stage: copy evaluate's metrics to ``metrics`` and its plot data into
    ``plots``, the small files Git keeps; return the line the stage prints."""
    from .pipeline import copy_evaluation as core_copy

    written = core_copy.copy_results(evaluation, metrics, plots)
    return f"metrics: copied {len(written)} files"
