"""compute.engine dask against a real cluster: a Dask scheduler and two workers (each with a
memory limit) started here on loopback from the generated project's environment, reached
through DASK_SCHEDULER_ADDRESS as on any cluster."""

import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import Loop, activated, bake, run
from object_store import free_ports, stop

WORKERS = 2
MEMORY_LIMIT = "2GiB"
# The engines fit different gradient boosting (scikit-learn's, LightGBM's) on the same split:
# how far apart their test metrics may be on the sample data.
TOLERANCE = {"balanced_accuracy": 0.05, "roc_auc": 0.03, "accuracy": 0.05}
ADDRESS = "DASK_SCHEDULER_ADDRESS"
# The pull request check runs one small test file: the project's suite runs elsewhere.
FEW_TESTS = "tests/test_params.py"
# Trees to train when a worker is stopped mid-training: enough to outlast the moment it stops.
TREES = 100000
# Waits until every worker runs its share of train's LightGBM training.
TRAINING = f"""
import time
from distributed import Client
client = Client()  # at DASK_SCHEDULER_ADDRESS
while sum(
    any("_fit_part" in str(key) for key in keys) for keys in client.processing().values()
) < {WORKERS}:
    time.sleep(0.1)
"""


def start(project: Path, *arguments: str, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [str(project / ".venv" / "bin" / "dask"), *arguments],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


@pytest.fixture(scope="module")
def loop(tmp_path_factory) -> Loop:
    """A project with its bare Git origin and its local DVC remote, set up."""
    root = tmp_path_factory.mktemp("dask")
    project = bake(root)
    origin = root / "origin.git"
    run("git", "init", "--quiet", "--bare", "--initial-branch=main", str(origin), cwd=root)
    run("make", "setup", cwd=project)
    run("git", "remote", "add", "origin", str(origin), cwd=project)
    return Loop(project, origin)


@pytest.fixture(scope="module")
def project(loop) -> Path:
    return loop.path


@pytest.fixture(scope="module")
def cluster(project, tmp_path_factory):
    """A scheduler and its workers; yields ``(address, {name: process}, logs folder)``."""
    logs = tmp_path_factory.mktemp("cluster-logs")
    (port,) = free_ports(1)
    address = f"tcp://127.0.0.1:{port}"
    processes = {
        "scheduler": start(
            project,
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-dashboard",
            log=logs / "scheduler.log",
        )
    }
    try:
        for number in range(WORKERS):
            processes[f"worker-{number}"] = start(
                project,
                "worker",
                address,
                "--host",
                "127.0.0.1",
                "--nthreads",
                "1",
                "--memory-limit",
                MEMORY_LIMIT,
                "--no-dashboard",
                "--name",
                f"worker-{number}",
                log=logs / f"worker-{number}.log",
            )
        waited = activated(
            project,
            f'python -c "from distributed import Client; '
            f"Client('{address}', timeout=60).wait_for_workers({WORKERS}, timeout=120)\"",
            check=False,
        )
        assert waited.returncode == 0, waited.stderr + "".join(
            path.read_text()[-2000:] for path in logs.iterdir()
        )
        yield address, processes, logs
    finally:
        for process in processes.values():
            stop(process)


def on_cluster(project: Path, address: str, script: str, check: bool = True):
    return activated(project, script, check=check, env={ADDRESS: address})


def edit(project: Path, old: str, new: str) -> None:
    path = project / "params.yaml"
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def metrics(project: Path) -> dict:
    return json.loads((project / "metrics" / "metrics.json").read_text())["model"]


def test_main_on_the_cluster_is_published_and_a_pull_request_reruns_only_evaluate(loop, cluster):
    address, _, _ = cluster
    project = loop.path
    activated(project, "dvc repro")
    local = metrics(project)
    edit(project, "engine: local", "engine: dask")
    ran = on_cluster(project, address, "dvc repro")
    for stage in ("prepare", "train", "evaluate"):
        assert f"Running stage '{stage}'" in ran.stdout
    assert "train: fitted BoostedTrees" in ran.stdout
    remote = metrics(project)
    for name, tolerance in TOLERANCE.items():
        assert abs(remote[name] - local[name]) <= tolerance, (name, remote, local)
    # Nothing changed: nothing runs; everything forced: the same bytes.
    again = on_cluster(project, address, "dvc repro")
    assert "Running stage" not in again.stdout
    lock = (project / "dvc.lock").read_bytes()
    on_cluster(project, address, "dvc repro --force")
    assert (project / "dvc.lock").read_bytes() == lock

    # Main runs on the cluster; publishing it makes a bundle that predicts as the model does.
    loop.sh("git add --all && git commit -q -m 'Run on the Dask cluster'")
    loop.sh("git push -q origin main && dvc push -q --run-cache")
    published = on_cluster(project, address, "DRY_RUN=1 make ci-publish")
    assert "created model@v1.0.0 locally" in published.stdout, published.stdout
    bundle = project / "dist" / "model-v1.0.0"
    predicted = activated(
        project,
        f"python -m churn_model.model.predict {bundle} data/raw/breast_cancer.csv ../scored.csv"
        ' && python -c "import pickle, pandas; '
        "model = pickle.load(open('models/model.pkl', 'rb')); "
        "rows = pandas.read_csv('data/raw/breast_cancer.csv'); "
        "scored = pandas.read_csv('../scored.csv'); "
        "print((scored['prediction'] == model.predict(rows)).all())\"",
    )
    assert predicted.stdout.strip().endswith("True"), predicted.stdout

    # A pull request that changes evaluation code alone re-runs evaluate alone, on the cluster.
    loop.branch("evaluate-change")
    evaluate = "src/churn_model/stages/evaluate.py"
    path = project / evaluate
    path.write_text(path.read_text() + "\n# A change to the evaluation code.\n")
    loop.commit("Change the evaluation code")
    loop.sh("git push -q origin evaluate-change")
    checked = on_cluster(
        project,
        address,
        f"PYTEST_ADDOPTS={FEW_TESTS} make ci-pr AUTO_COMMIT=1 BRANCH=evaluate-change",
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert re.findall(r"Running stage '(\w+)'", checked.stdout) == ["evaluate"], checked.stdout
    assert "All quality gates pass" in (project / "report.md").read_text()


def test_an_unreachable_scheduler_is_one_sentence_and_changes_nothing(project, cluster):
    lock = (project / "dvc.lock").read_bytes()
    (port,) = free_ports(1)
    failed = on_cluster(project, f"tcp://127.0.0.1:{port}", "dvc repro --force train", check=False)
    assert failed.returncode != 0
    assert f"error: no Dask scheduler answered at tcp://127.0.0.1:{port}" in failed.stderr
    assert "Traceback" not in failed.stderr
    assert (project / "dvc.lock").read_bytes() == lock


def test_a_worker_lost_while_training_stops_the_stage_and_keeps_dvc_lock(project, cluster):
    address, processes, _ = cluster
    edit(project, "learning_rate: 0.1", "learning_rate: 0.001")
    edit(project, "max_iter: 200", f"max_iter: {TREES}")
    lock = (project / "dvc.lock").read_bytes()
    repro = subprocess.Popen(
        ["bash", "-c", ". .venv/bin/activate && dvc repro train"],
        cwd=project,
        env={**os.environ, ADDRESS: address},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    waiting = subprocess.Popen(
        ["bash", "-c", f". .venv/bin/activate && python -c {shlex.quote(TRAINING)}"],
        cwd=project,
        env={**os.environ, ADDRESS: address},
    )
    try:
        # Until both workers run their share of the training, or train ends first.
        while waiting.poll() is None and repro.poll() is None:
            time.sleep(0.2)
        assert repro.poll() is None, "train ended before a worker could be stopped"
        assert waiting.returncode == 0
        os.killpg(processes["worker-1"].pid, signal.SIGKILL)
        _, stderr = repro.communicate(timeout=240)
    finally:
        for process in (waiting, repro):
            with contextlib.suppress(ProcessLookupError):
                process.kill()
    assert repro.returncode != 0
    assert "left the cluster while training" in stderr, stderr[-3000:]
    assert "Traceback" not in stderr
    assert (project / "dvc.lock").read_bytes() == lock
