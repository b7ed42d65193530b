"""`make bench`'s serve part, on a bundle written here (no project to bake): requests per second
and latency of dvc-ml-kit serve for single rows and batches, and dvc-ml-kit predict on the same
rows, in its JSON and its table."""

import json
import sys

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from conftest import TEMPLATE, run
from dvc_ml_kit.model.bundle import features, write_bundle
from dvc_ml_kit.pipeline.train import train


def test_the_serve_part_measures_serve_and_predict_on_the_same_rows(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "level": rng.normal(size=300),
            "kind": rng.choice(["a", "b", "c"], size=300),
            "label": rng.choice(["no", "yes"], size=300),
        }
    )
    model = train(
        frame,
        task="classification",
        target="label",
        estimator="linear",
        hyperparameters=None,
        seed=0,
        estimators={"classification": {"linear": LogisticRegression}},
    )
    info = {"artifact": "model", "version": "v1.0.0", "task": "classification"}
    write_bundle(tmp_path / "bundle", model, info | {"features": features(model)}, "#\n", {})
    frame.to_csv(tmp_path / "rows.csv", index=False)
    out = tmp_path / "results.json"
    command = [sys.executable, str(TEMPLATE / "bench/bench.py"), "--parts", "serve", "--runs", "1"]
    served = ["--serve-bundle", "bundle", "--serve-data", "rows.csv", "--serve-requests", "40"]
    done = run(*command, *served, "--out", str(out), cwd=tmp_path)

    serve = json.loads(out.read_text())["serve"]
    assert serve["bundle"] == "bundle" and serve["batch_rows"] == 1000
    for kind, requests, at_once, rows in (
        ("single_row", 40, 1, 1),
        ("single_row_parallel", 40, 4, 1),
        ("batch", 2, 1, 1000),
    ):
        measured = serve[kind]
        assert (measured["requests"], measured["concurrency"]) == (requests, at_once)
        # Counted in the service's answers: as many predictions as rows sent.
        assert measured["rows_per_request"] == rows
        assert 0 < measured["p50_ms"] <= measured["p99_ms"]
        assert measured["requests_per_second"] == requests / measured["seconds"]
    # Which is faster is the benchmark's to say, not a test's: on a busy machine a single row's
    # answer took as long as a batch's (23.3 ms against 23.0 ms).
    assert len(serve["predict_cli"]["seconds"]) == 1 and serve["predict_cli"]["median_seconds"] > 0
    table = done.stdout
    assert "| `serve`, batches of 1,000 rows | 2 | 1 |" in table
    assert "| `predict`, a CSV of 1,000 rows | 1 | 1 |" in table
