"""train on a Dask cluster: LightGBM gradient boosting, data-parallel, one LightGBM process per
worker, each on the partitions the cluster holds for it.

The same hist_gradient_boosting settings as on this machine, under LightGBM's names. The model is
byte-stable: partition ``i`` trains on the ``i mod n``-th worker in address order, which is also
its LightGBM rank, so the same data on a cluster of the same size gives the same trees (the
network settings, which change every run, are left out of the saved text). lightgbm.dask ranks
workers in the order of a Python set, which changed the trees from one run to the next.
"""

import re
import time

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import InvalidParameterError

from ..errors import UserError, check_target
from ..model.boosted import BoostedTrees, inputs
from ..model.columns import OTHER
from ..pipeline.train import column_kinds, make_estimator
from ..project import FEATURES_STEP, engineered, features_step
from . import workers

ESTIMATOR = "hist_gradient_boosting"
# hist_gradient_boosting's settings and LightGBM's names for them.
SETTINGS = {
    "learning_rate": "learning_rate",
    "max_iter": "num_iterations",
    "max_leaf_nodes": "num_leaves",
    "min_samples_leaf": "min_data_in_leaf",
    "l2_regularization": "lambda_l2",
    "max_depth": "max_depth",
    "max_bins": "max_bin",
}
# scikit-learn's defaults where LightGBM's differ (100 trees either way).
DEFAULTS = {"num_iterations": 100, "num_leaves": 31, "min_data_in_leaf": 20}
# Minutes a LightGBM process waits for the others before giving up (a worker lost mid-training).
NETWORK_MINUTES = 5


def lightgbm_settings(
    task: str, name: str, hyperparameters: dict | None, seed: int, class_weight, estimators
):
    """LightGBM's parameters for train's settings, refusing what has no LightGBM counterpart."""
    estimator = make_estimator(
        task, name, hyperparameters, seed, class_weight, estimators=estimators
    )
    if name != ESTIMATOR:
        raise UserError(
            f"train.estimator is '{name}', but compute.engine dask trains gradient boosting "
            f"(LightGBM): set train.estimator to {ESTIMATOR}, or compute.engine to local"
        )
    try:
        estimator._validate_params()  # the values scikit-learn would refuse when fitting
    except InvalidParameterError as error:
        raise UserError(f"train.hyperparameters.{name}: {error}") from None
    settings = dict(DEFAULTS)
    for key, value in (hyperparameters or {}).items():
        if key not in SETTINGS:
            raise UserError(
                f"train.hyperparameters.{name}.{key} has no LightGBM counterpart, so "
                f"compute.engine dask cannot use it (it can: {', '.join(SETTINGS)}): remove it, "
                "or set compute.engine to local"
            )
        settings[SETTINGS[key]] = -1 if key == "max_depth" and value is None else value
    return settings | {
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "verbosity": -1,
    }


def _free_port() -> int:
    """A port free on this worker's host now, for its LightGBM process to listen on."""
    import socket

    with socket.socket() as listener:
        listener.bind(("", 0))
        return listener.getsockname()[1]


def _fit_part(*parts, columns, categories, target, classes, weights, settings, rank):
    """On one worker: its partitions (in order) as LightGBM inputs, then its share of the
    training; the model text from rank 0."""
    import lightgbm

    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    if classes is None:
        label, weight = frame[target].to_numpy("float64"), None
    else:
        label = pd.Index(classes).get_indexer(frame[target])
        weight = None if weights is None else np.asarray(weights)[label]
    features = inputs(columns.transform(frame), categories)
    booster = lightgbm.train(settings, lightgbm.Dataset(features, label=label, weight=weight))
    return booster.model_to_string() if rank == 0 else None


def _gather(client, futures, used: list[str]) -> list:
    """Wait for ``futures``; stop with a sentence if a worker they run on leaves the cluster."""
    while not all(future.done() for future in futures):
        lost = sorted(set(used) - set(workers(client)))
        if lost:
            client.cancel(futures)
            raise UserError(
                f"Dask worker {lost[0]} left the cluster while training ({len(lost)} of the "
                f"{len(used)} training workers lost): nothing was saved; give the workers the "
                "memory they need (dask worker --memory-limit) and run `dvc repro` again"
            )
        time.sleep(0.2)
    return client.gather(futures)


def without_network(text: str) -> str:
    """The model text without its parameters block, which holds the run's ports and hosts."""
    return re.sub(r"\nparameters:\n.*?\nend of parameters\n", "\n", text, flags=re.S)


def _with_features(part: pd.DataFrame, add_features, target: str) -> pd.DataFrame:
    """A partition's engineered features, and its target."""
    features = engineered(add_features, part.drop(columns=[target]))
    return features.assign(**{target: part[target]})


def train_on_cluster(
    client,
    train,
    *,
    task,
    target,
    estimator,
    hyperparameters,
    seed,
    class_weight=None,
    estimators,
    add_features=None,
) -> Pipeline:
    """Fit the Pipeline (the project's engineered features, raw columns to model inputs, then
    LightGBM) on the Dask DataFrame ``train``."""
    import dask

    check_target(train.columns, target, "the training split")
    raw = train._meta.drop(columns=[target])
    if add_features is not None:
        meta = _with_features(train._meta, add_features, target)
        train = train.map_partitions(_with_features, add_features, target, meta=meta)
    settings = lightgbm_settings(task, estimator, hyperparameters, seed, class_weight, estimators)
    settings["objective"] = "regression"
    columns = column_kinds(train._meta.drop(columns=[target]))
    counts = {name: train[name].dropna().astype(str).value_counts() for name in columns.categorical}
    labels = train[target].value_counts()
    counts, labels = dask.compute(counts, labels)
    columns.fit_counts(train.columns, counts)
    categories = {name: [*kept, OTHER] for name, kept in columns.categories_.items()}
    classes, weights = None, None
    if task == "classification":
        labels = labels.sort_index()
        classes = labels.index.tolist()
        if len(classes) == 2:
            settings["objective"] = "binary"
        else:
            settings |= {"objective": "multiclass", "num_class": len(classes)}
        if class_weight == "balanced":
            weights = (labels.sum() / (len(labels) * labels)).tolist()

    addresses = workers(client)
    if train.npartitions < len(addresses):
        train = train.repartition(npartitions=len(addresses))  # every worker takes a share
    parts = client.compute(train.to_delayed())
    used = addresses[: min(len(addresses), len(parts))]
    if len(used) > 1:
        ports = client.run(_free_port, workers=used)
        settings |= {
            "tree_learner": "data",
            "num_machines": len(used),
            "machines": ",".join(f"{_host(address)}:{ports[address]}" for address in used),
            "time_out": NETWORK_MINUTES,
        }
    threads = client.ncores()
    futures = [
        client.submit(
            _fit_part,
            *parts[rank :: len(used)],
            columns=columns,
            categories=categories,
            target=target,
            classes=classes,
            weights=weights,
            settings=settings
            | {"num_threads": threads[address]}
            | ({"local_listen_port": ports[address]} if len(used) > 1 else {}),
            rank=rank,
            workers=[address],
            allow_other_workers=False,
            pure=False,
            retries=0,
        )
        for rank, address in enumerate(used)
    ]
    text = _gather(client, futures, used)[0]
    model = BoostedTrees(without_network(text), categories=categories, classes=classes)
    steps = [("columns", columns), ("model", model)]
    if add_features is not None:
        steps.insert(0, (FEATURES_STEP, features_step(add_features, raw)))
    return Pipeline(steps)


def _host(address: str) -> str:
    from urllib.parse import urlparse

    return urlparse(address).hostname
