"""compute.engine dask against a real cluster: a Dask scheduler and two workers (each with a
memory limit) started here on loopback from the generated project's environment and reached
through DASK_SCHEDULER_ADDRESS as on any cluster, with a real object store (SeaweedFS, S3 API)
as the DVC remote and, for the data that outgrows a disk, as the raw data's and the prepared
splits' home."""

import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import DEFAULT_SLUG, SAMPLE, TOOLS, Loop, bake, run
from object_store import CREDENTIALS, free_ports, stop
from object_store import object_store as seaweedfs

WORKERS = 2
MEMORY_LIMIT = "2GiB"
BUCKET = "dask-tests"
# The engines fit different gradient boosting (scikit-learn's, LightGBM's) on the same rows:
# how far apart their test metrics may be on the sample data.
TOLERANCE = {"balanced_accuracy": 0.05, "roc_auc": 0.03, "accuracy": 0.05}
ADDRESS = "DASK_SCHEDULER_ADDRESS"
# The pull request check runs one small test file: the project's suite runs elsewhere.
FEW_TESTS = "tests/test_pipeline.py"
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


@dataclass
class ClusterLoop(Loop):
    """The project, its origin, and what its commands get: the object store's endpoint and
    credentials, and the cluster's address once ``address`` is set."""

    store: dict[str, str] = field(default_factory=dict)
    address: str | None = None

    def environment(self) -> dict[str, str]:
        return self.store | ({ADDRESS: self.address} if self.address else {})

    def back_to_main(self) -> None:
        """Main's commit and outputs, whatever an earlier test left in the workspace."""
        self.sh("git reset -q --hard && git clean -qfd && git checkout -q main")
        self.sh("dvc checkout --quiet --force")

    def edit_params(self, old: str, new: str) -> None:
        self.edit("params.yaml", old, new)

    def metrics(self) -> dict:
        return json.loads((self.path / "metrics" / "metrics.json").read_text())["model"]

    def lock(self) -> bytes:
        return (self.path / "dvc.lock").read_bytes()

    def assert_settled(self) -> None:
        """Nothing changed: nothing runs; everything forced: the same dvc.lock, byte for byte."""
        assert stages_run(self.sh("dvc repro")) == []
        lock = self.lock()
        self.sh("dvc repro --force")
        assert self.lock() == lock

    def publish(self, branch: str, message: str) -> None:
        """Commit everything on ``branch``; push it, and the DVC outputs with the run-cache."""
        self.sh(f"git add --all && git commit -q -m '{message}'")
        self.sh(f"git push -q origin {branch} && dvc push -q --run-cache")

    def s3(self, operation: str, *paths: str) -> object:
        """An s3fs call (``mkdir``, ``put``, ``find``, ``rm``) on the object store."""
        script = (
            "import json, sys, s3fs; fs = s3fs.S3FileSystem(); "
            "print(json.dumps(getattr(fs, sys.argv[1])(*sys.argv[2:])))"
        )
        arguments = " ".join(shlex.quote(value) for value in (operation, *paths))
        return json.loads(self.sh(f"python -c {shlex.quote(script)} {arguments}").stdout)


def stages_run(result: subprocess.CompletedProcess) -> list[str]:
    return re.findall(r"Running stage '(\w+)'", result.stdout)


@pytest.fixture(scope="module")
def object_store(tmp_path_factory) -> Iterator[str]:
    with seaweedfs(tmp_path_factory.mktemp("seaweedfs")) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def loop(tmp_path_factory, object_store) -> ClusterLoop:
    """An s3-remote project, set up, with its bare Git origin and the object store."""
    root = tmp_path_factory.mktemp("dask")
    path = bake(root, dvc_remote="s3", dvc_remote_url=f"s3://{BUCKET}/{DEFAULT_SLUG}")
    origin = root / "origin.git"
    run("git", "init", "--quiet", "--bare", "--initial-branch=main", str(origin), cwd=root)
    tools = {"PATH": f"{TOOLS}{os.pathsep}{os.environ['PATH']}"}
    run("make", "setup", "setup-dask", cwd=path, env=tools)
    loop = ClusterLoop(path, origin, store=CREDENTIALS | {"AWS_ENDPOINT_URL": object_store})
    loop.sh(f"git remote add origin {origin}")
    loop.sh(f"dvc remote modify storage endpointurl {object_store}")
    loop.s3("mkdir", BUCKET)
    return loop


def start(loop: ClusterLoop, *arguments: str, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [str(loop.path / ".venv" / "bin" / "dask"), *arguments],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, **loop.store},  # the workers read the object store too
    )


@pytest.fixture(scope="module")
def cluster(loop, tmp_path_factory) -> Iterator[dict[str, subprocess.Popen]]:
    """A scheduler and its workers, each worker with a memory limit; sets ``loop.address`` and
    yields the processes by name."""
    logs = tmp_path_factory.mktemp("cluster-logs")
    (port,) = free_ports(1)
    address = f"tcp://127.0.0.1:{port}"
    scheduler = ["scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"]
    processes = {"scheduler": start(loop, *scheduler, log=logs / "scheduler.log")}
    try:
        for number in range(WORKERS):
            name = f"worker-{number}"
            worker = ["worker", address, "--host", "127.0.0.1", "--nthreads", "1"]
            worker += ["--memory-limit", MEMORY_LIMIT, "--no-dashboard", "--name", name]
            processes[name] = start(loop, *worker, log=logs / f"{name}.log")
        loop.address = address
        waited = loop.sh(
            "python -c 'from distributed import Client; "
            f"Client(timeout=60).wait_for_workers({WORKERS}, timeout=120)'",
            check=False,
        )
        assert waited.returncode == 0, waited.stderr + "".join(
            path.read_text()[-2000:] for path in logs.iterdir()
        )
        yield processes
    finally:
        loop.address = None
        for process in processes.values():
            stop(process)


def check_an_evaluation_change(loop: ClusterLoop, branch: str) -> None:
    """Commit and push a change to evaluation code on ``branch``, then check it as a new runner
    would (an empty DVC cache, no outputs in the workspace): evaluate alone runs, on the cluster,
    on what the remote restores, and the gates pass."""
    loop.edit(
        "src/diagnosis_model/stages/evaluate.py",
        'if __name__ == "__main__":',
        '# A change to the evaluation code.\nif __name__ == "__main__":',
    )
    loop.commit("Change the evaluation code")
    loop.sh(f"git push -q origin {branch} && rm -rf data/prepared models")
    loop.sh(f"dvc cache dir --local {loop.path.parent / f'{branch}-cache'}")
    try:
        checked = loop.sh(
            f"PYTEST_ADDOPTS={FEW_TESTS} make ci-pr AUTO_COMMIT=1 BRANCH={branch}", check=False
        )
    finally:
        loop.sh("dvc config --local --unset cache.dir")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert stages_run(checked) == ["evaluate"], checked.stdout
    assert "All quality gates pass" in (loop.path / "report.md").read_text()


def test_main_on_the_cluster_is_published_and_a_pull_request_reruns_only_evaluate(loop, cluster):
    address, loop.address = loop.address, None
    loop.sh("dvc repro")  # the local engine, on this machine
    local = loop.metrics()
    loop.edit_params("engine: local", "engine: dask")
    loop.address = address
    ran = loop.sh("dvc repro")
    assert stages_run(ran) == ["prepare", "train", "evaluate", "copy_evaluation"]
    assert "train: fitted BoostedTrees" in ran.stdout
    remote = loop.metrics()
    for name, tolerance in TOLERANCE.items():
        assert abs(remote[name] - local[name]) <= tolerance, (name, remote, local)
    # Nothing changed, nothing runs; a forced run's bytes on the cluster are checked once, with
    # the data in the object store (the next test): a forced run of every stage takes 25 s here.
    assert stages_run(loop.sh("dvc repro")) == []

    # Main runs on the cluster; publishing it makes a bundle that predicts as the model does.
    loop.publish("main", "Run on the Dask cluster")
    published = loop.sh("DRY_RUN=1 make ci-publish")
    assert "created model@v1.0.0 locally" in published.stdout, published.stdout
    raw = f"data/raw/{SAMPLE['classification']}"
    predicted = loop.sh(
        f"dvc-ml-kit predict dist/model-v1.0.0 {raw} ../scored.csv && "
        'python -c "import pickle, pandas; '
        "model = pickle.load(open('models/model.pkl', 'rb')); "
        f"rows = pandas.read_csv('{raw}'); scored = pandas.read_csv('../scored.csv'); "
        "print((scored['prediction'] == model.predict(rows)).all())\""
    )
    assert predicted.stdout.strip().endswith("True"), predicted.stdout

    # A pull request that changes evaluation code alone re-runs evaluate alone, on the cluster.
    loop.branch("evaluate-change")
    check_an_evaluation_change(loop, "evaluate-change")


def test_data_in_the_object_store_is_tracked_and_read_there(loop, cluster):
    loop.branch("data-in-the-store")
    raw = f"s3://{BUCKET}/raw/{SAMPLE['classification']}"
    loop.s3("put", str(loop.path / "data" / "raw" / SAMPLE["classification"]), raw)
    loop.edit_params(f"file: data/raw/{SAMPLE['classification']}", f"file: {raw}")
    loop.edit_params("store: null", f"store: s3://{BUCKET}/store")
    ran = loop.sh("dvc repro")
    # The same rows from another place: the same results (copy_evaluation has nothing new).
    assert stages_run(ran)[:3] == ["prepare", "train", "evaluate"], ran.stdout
    # DVC tracks the raw data in the store by its ETag, and each split by its manifest.
    lock = loop.lock().decode()
    assert f"path: {raw}" in lock and "etag:" in lock
    manifests = {}
    for split in ("train", "test"):
        folder = loop.path / "data" / "prepared" / f"{split}.parquet"
        assert [path.name for path in folder.iterdir()] == ["manifest.json"]
        manifest = manifests[split] = json.loads((folder / "manifest.json").read_text())
        assert manifest["url"].startswith(f"s3://{BUCKET}/store/prepared/")
        stored = loop.s3("find", manifest["url"])
        assert sorted(name.rsplit("/", 1)[1] for name in stored) == sorted(manifest["files"])
    loop.assert_settled()

    # A pull request from here that changes evaluation code alone: evaluate reads the splits that
    # the manifests from the remote point at.
    loop.publish("data-in-the-store", "Keep the data in the object store")
    loop.sh("git checkout -q -b store-evaluate-change")
    check_an_evaluation_change(loop, "store-evaluate-change")
    restored = loop.path / "data" / "prepared" / "test.parquet" / "manifest.json"
    assert json.loads(restored.read_text()) == manifests["test"]

    # New raw data in the store re-runs the pipeline.
    fewer = f"import pandas; pandas.read_csv('{raw}').head(500).to_csv('../less.csv', index=False)"
    loop.sh(f"python -c {shlex.quote(fewer)}")
    loop.s3("put", str(loop.path.parent / "less.csv"), raw)
    assert stages_run(loop.sh("dvc repro"))[:2] == ["prepare", "train"]
    # A split's file replaced in the store is refused, not read.
    manifest = json.loads((loop.path / "data/prepared/train.parquet/manifest.json").read_text())
    part = f"{manifest['url']}/{sorted(manifest['files'])[0]}"
    loop.s3("put", str(loop.path.parent / "less.csv"), part)
    lock = loop.lock()
    failed = loop.sh("dvc repro --force --single-item train", check=False)
    assert failed.returncode != 0
    assert "is missing from the store or was replaced" in failed.stderr, failed.stderr
    assert "Traceback" not in failed.stderr
    assert loop.lock() == lock


def test_bad_data_gets_the_local_engines_sentence_on_the_cluster(loop, cluster):
    loop.branch("bad-data")
    sample = loop.path / "data" / "raw" / SAMPLE["classification"]
    lines = sample.read_text().splitlines()
    header, row = lines[0].split(","), lines[400].split(",")
    row[header.index("mean_radius")] = "12.3.4"
    lines[400] = ",".join(row)
    (loop.path / "data" / "raw" / "bad.csv").write_text("\n".join(lines) + "\n")
    loop.edit_params(f"file: data/raw/{SAMPLE['classification']}", "file: data/raw/bad.csv")
    lock = loop.lock()
    sentences = {}
    for engine in ("dask", "local"):
        loop.sh(f"sed -i 's/  engine: .*/  engine: {engine}/' params.yaml")
        failed = loop.sh("dvc repro prepare", check=False)
        assert failed.returncode != 0
        assert "Traceback" not in failed.stderr
        sentences[engine] = [line for line in failed.stderr.splitlines() if "error: " in line]
        assert loop.lock() == lock
    assert sentences["dask"] == sentences["local"]
    assert (
        "column 'mean_radius' in data/raw/bad.csv holds numbers but line 401 has"
        in (sentences["dask"][0])
    )


def test_an_unreachable_scheduler_is_one_sentence_and_changes_nothing(loop, cluster):
    loop.back_to_main()
    lock = loop.lock()
    (port,) = free_ports(1)
    failed = loop.sh(
        f"{ADDRESS}=tcp://127.0.0.1:{port} dvc repro --force --single-item train", check=False
    )
    assert failed.returncode != 0
    assert f"error: no Dask scheduler answered at tcp://127.0.0.1:{port}" in failed.stderr
    assert "Traceback" not in failed.stderr
    assert loop.lock() == lock


def test_a_worker_lost_while_training_stops_the_stage_and_keeps_dvc_lock(loop, cluster):
    loop.back_to_main()
    loop.edit_params("learning_rate: 0.1", "learning_rate: 0.001")
    loop.edit_params("max_iter: 200", f"max_iter: {TREES}")
    lock = loop.lock()
    environment = {**os.environ, "PATH": f"{TOOLS}{os.pathsep}{os.environ['PATH']}"}
    environment |= loop.environment()

    def background(script: str) -> subprocess.Popen:
        command = ["bash", "-c", f". .venv/bin/activate && {script}"]
        return subprocess.Popen(
            command, cwd=loop.path, env=environment, stderr=subprocess.PIPE, text=True
        )

    repro = background("dvc repro train >/dev/null")
    waiting = background(f"python -c {shlex.quote(TRAINING)}")
    try:
        # Until both workers run their share of the training, or train ends first.
        while waiting.poll() is None and repro.poll() is None:
            time.sleep(0.2)
        assert repro.poll() is None, "train ended before a worker could be stopped"
        assert waiting.returncode == 0
        os.killpg(cluster["worker-1"].pid, signal.SIGKILL)
        _, stderr = repro.communicate(timeout=240)
    finally:
        for process in (waiting, repro):
            with contextlib.suppress(ProcessLookupError):
                process.kill()
    assert repro.returncode != 0
    assert "left the cluster while training" in stderr, stderr[-3000:]
    assert "Traceback" not in stderr
    assert loop.lock() == lock
