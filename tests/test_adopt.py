"""Slow tier: the pull request check adopted in a DVC repository dvc-ml-kit did not generate, and
run by a real Actions runner.

dvc-ml-kit's hand-written wine pipeline (``dvc-ml-kit/tests/any_repo``: stages of its own names,
nested JSON and TOML metrics, TSV, JSON and image plots) is made a Git + DVC repository whose
DVC remote is a bucket of a real S3 object store (SeaweedFS on loopback), set up as its owner
would: a virtual environment with its requirements, DVC's S3 plugin and dvc-ml-kit (the wheel
this checkout builds), then ``dvc-ml-kit init``, the gates set, main committed and pushed to a
bare origin and its results to the bucket. act then runs the workflow init wrote, as it wrote
it, for pull requests, with the runner, stand-ins and ``gh`` recorder of ``test_actions.py``.
The tests run in file order and share the repository.
"""

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

import test_actions
from conftest import TEMPLATE, TOOLS, Loop, run
from object_store import CREDENTIALS
from object_store import object_store as seaweedfs
from test_actions import Job, Runner, comment, pull_request
from test_ci_loop import stages_restored, stages_run

pytestmark = pytest.mark.slow
PROJECT = TEMPLATE / "dvc-ml-kit/tests/any_repo"
VERSION = re.search(
    r'^version = "(.+)"$', (TEMPLATE / "dvc-ml-kit/pyproject.toml").read_text(), re.M
)[1]
BUCKET = "wine-remote"
WORKFLOW = ".github/workflows/dvc-pull-request.yml"
# The uv cache the other set-ups use: the owner's and the runner's installs are warm.
uv_cache = test_actions.uv_cache
# The gates its owner sets in the section init adds (as dvc-ml-kit's test_any_repo.py does).
GATES = {
    "  max_drop: {}": "  max_drop:\n    test.acc: 0.02",
    "  minimum: {}": "  minimum:\n    model.weights_over_0_1: 1",
    "  directions: {}": "  directions:\n    model.weights_over_0_1: higher",
}


@dataclass
class Repository:
    """The adopted repository (a ``Loop`` for the runner), its tools and what init printed."""

    loop: Loop
    bin: Path  # the owner's virtual environment's scripts
    init: subprocess.CompletedProcess | None = None  # `dvc-ml-kit init`

    @property
    def path(self) -> Path:
        return self.loop.path

    def sh(self, script: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run ``script`` with bash in the repository, the owner's environment first on PATH and
        the S3 credentials set."""
        environment = {
            **os.environ,
            **CREDENTIALS,
            "PATH": f"{self.bin}{os.pathsep}{os.environ['PATH']}",
            "VIRTUAL_ENV": str(self.bin.parent),
        }
        done = subprocess.run(
            ["bash", "-c", script], cwd=self.path, capture_output=True, text=True, env=environment
        )
        if check and done.returncode != 0:
            pytest.fail(f"{script} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
        return done

    def branch(self, name: str) -> None:
        """A new branch from main (the branches commit edits only: no output to check out)."""
        self.sh(f"git checkout -q -b {name} main")


@pytest.fixture(scope="module")
def object_store(tmp_path_factory) -> Iterator[str]:
    """A SeaweedFS server with an S3 gateway on loopback; yields its endpoint URL."""
    with seaweedfs(tmp_path_factory.mktemp("seaweedfs")) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def adopted(tmp_path_factory, object_store, uv_cache) -> Repository:
    """The wine pipeline with its DVC remote in the bucket, reproduced, the check adopted with
    ``dvc-ml-kit init`` and the gates set, main pushed to origin and its results to the bucket."""
    root = tmp_path_factory.mktemp("adopt")
    path = root / "wine"
    shutil.copytree(PROJECT, path, ignore=shutil.ignore_patterns("__pycache__"))
    origin = root / "origin.git"
    run("git", "init", "-q", "--bare", "--initial-branch=main", str(origin), cwd=root)
    # The owner's environment: the pipeline's requirements, DVC for their remote, and
    # dvc-ml-kit, which the package index does not hold: the wheel `make test` built, through
    # UV_FIND_LINKS, as in the runner.
    venv = root / "venv"
    uv = str(TOOLS / "uv")
    settings = {"UV_CACHE_DIR": str(uv_cache), "UV_PYTHON_DOWNLOADS": "never"}
    run(uv, "venv", "--quiet", "--python", "3.11", str(venv), cwd=root, env=settings)
    requirements = ["-r", "requirements.txt", "dvc[s3]", f"dvc-ml-kit=={VERSION}"]
    run(uv, "pip", "install", "--quiet", "--python", str(venv / "bin/python"), *requirements,
        cwd=path, env=settings)  # fmt: skip
    repository = Repository(Loop(path, origin), venv / "bin")
    repository.sh("git init -q --initial-branch=main && dvc init -q")
    repository.sh(f"dvc remote add --default storage s3://{BUCKET}/wine")
    repository.sh(f"dvc remote modify storage endpointurl {object_store}")
    make_bucket = f"import s3fs; s3fs.S3FileSystem(endpoint_url='{object_store}').mkdir('{BUCKET}')"
    repository.sh(f'python -c "{make_bucket}"')
    repository.sh("dvc repro --quiet && git add --all && git commit -qm 'A wine classifier'")
    repository.init = repository.sh("dvc-ml-kit init")
    for old, new in GATES.items():
        repository.loop.edit("params.yaml", old, new)
    # The command init printed last, as the owner would copy it.
    last = repository.init.stdout.splitlines()[-1]
    repository.sh(re.sub(r"^init: commit \w+: ", "", last))
    repository.sh("dvc push --quiet --run-cache")
    repository.sh(f"git remote add origin {origin} && git push -q origin main")
    return repository


@pytest.fixture(scope="module")
def actions_runner(adopted, tmp_path_factory, uv_cache) -> Runner:
    return Runner(adopted.loop, tmp_path_factory.mktemp("act-adopt"), uv_cache)


def open_pull_request(
    repository: Repository, runner: Runner, number: int, branch: str, secrets: bool = True
) -> Job:
    """Push ``branch`` and run the workflow init wrote for its pull request into main, with the
    S3 secrets init said to set (unless ``secrets`` is false: not set yet)."""
    repository.sh(f"git push -q origin {branch}")
    event = pull_request(repository.loop, number, branch)
    given = CREDENTIALS if secrets else {}
    return runner.run(branch, Path(WORKFLOW).name, "pull_request", event, **given)


def propose(
    repository: Repository,
    runner: Runner,
    number: int,
    branch: str,
    edit: tuple[str, str, str],
    secrets: bool = True,
) -> Job:
    """A branch from main with one edit (file, old text, new text), committed, and the check of
    its pull request."""
    repository.branch(branch)
    repository.loop.edit(*edit)
    repository.sh(f"git commit -qam 'Change {edit[0]}'")
    return open_pull_request(repository, runner, number, branch, secrets)


def test_init_writes_the_workflow_and_gates_and_says_what_to_set(adopted):
    said = adopted.init.stdout.splitlines()
    assert adopted.init.stderr == "" and all(line.startswith("init: ") for line in said), said
    assert said[0] == f"init: wrote {WORKFLOW}"
    assert "init: added a gates section to params.yaml (no gate set yet: set them there)" in said
    assert (
        "init: set the DVC remote's credentials as secrets of a GitHub environment named "
        "dvc-remote (Settings → Environments): AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY"
    ) in said
    assert any("own token: nothing else to set" in line for line in said), said
    commit = rf"init: commit \w+: git add {re.escape(WORKFLOW)} .*params\.yaml && git commit .*"
    assert re.fullmatch(commit, said[-1]), said[-1]
    # The commit the printed command made holds the files init says it wrote, and params.yaml.
    committed = adopted.sh("git show --name-only --format= HEAD").stdout.split()
    wrote = [line.removeprefix("init: wrote ") for line in said if line.startswith("init: wrote ")]
    assert sorted(committed) == sorted([*wrote, "params.yaml"])
    workflow = yaml.safe_load((adopted.path / WORKFLOW).read_text())
    steps = workflow["jobs"]["check"]["steps"]
    (install,) = [step["run"] for step in steps if "uv pip install" in step.get("run", "")]
    assert f'"${{requirements[@]}}" "dvc-ml-kit=={VERSION}" "dvc[s3]"' in install
    assert workflow["jobs"]["check"]["env"]["AWS_SECRET_ACCESS_KEY"] == (
        "${{ secrets.AWS_SECRET_ACCESS_KEY }}"
    )
    params = yaml.safe_load((adopted.path / "params.yaml").read_text())
    assert params["gates"]["max_drop"] == {"test.acc": 0.02}
    assert params["fit"] == {"C": 1.0, "max_iter": 2000}  # the owner's own, kept


def test_a_param_change_fails_its_gate_and_the_report_is_posted(adopted, actions_runner):
    edit = ("params.yaml", "C: 1.0", "C: 0.001")
    job = propose(adopted, actions_runner, 1, "weaker", edit)
    assert job.results == {"check": "failure", "comment": "success"}, job.stdout
    # Trusted (the branch is the repository's own): featurize's output comes from the bucket,
    # the changed stages run, and their results and run-cache go to the bucket.
    assert "$ dvc repro --allow-missing --pull\n" in job.stdout
    assert stages_run(job) == ["fit", "score"], job.stdout
    assert "$ dvc push --run-cache" in job.stdout
    assert "gate failed: test.acc got worse by 0.277778 against the base" in job.stdout
    # The author did not commit the results: the check says so beside the gates.
    assert "error: dvc.lock is out of date" in job.stdout
    body = comment(job)
    assert (job.artifacts / "report/report.md").read_text() == body == job.summary
    assert "- Stages ran: `fit`, `score`" in body
    assert "- Stages unchanged: `featurize`" in body
    assert "| `fit.C` | 1.0 | 0.001 |" in body
    assert "| test.acc ↑ | 0.963 | 0.6852 | -0.2778 🔻 | -28.85 % |" in body
    assert (
        "- test.acc got worse by 0.277778 against the base (0.962963 to 0.685185), more than "
        "the 0.02 allowed"
    ) in body
    assert "- model.weights_over_0_1 is 0, below the minimum of 1" in body
    # The plots dvc.yaml declares: TSV and JSON data drawn, the image listed.
    assert 'title "Accuracy by confidence: accuracy"' in body
    assert 'title "Calibration: observed"' in body
    assert "- `results/eval/classes.png`: an image" in body
    assert "git add dvc.lock results/eval/scores.json results/size.toml" in body


def test_b_a_documentation_change_runs_nothing_and_passes(adopted, actions_runner):
    edit = ("README.md", "scores it.", "scores it on the test rows.")
    job = propose(adopted, actions_runner, 2, "docs", edit)
    assert job.results == {"check": "success", "comment": "success"}, job.stdout
    assert "ci-pr: only documentation changed (README.md)" in job.stdout
    assert "$ dvc" not in job.stdout  # neither reproduced nor pushed
    body = comment(job)
    assert "- Nothing in the pipeline changed: no stage ran." in body
    assert "✅ **All quality gates pass.**" in body


def test_c_a_result_computed_before_is_restored_from_the_run_cache(adopted, actions_runner):
    # The parameter of pull request 1, whose run pushed its run-cache to the bucket.
    edit = ("params.yaml", "C: 1.0", "C: 0.001")
    job = propose(adopted, actions_runner, 3, "weaker-again", edit)
    assert job.results == {"check": "failure", "comment": "success"}, job.stdout
    # fit is restored; score, whose outputs are all Git's (cache: false), is never run-cached.
    assert stages_restored(job) == ["fit"] and stages_run(job) == ["score"], job.stdout
    body = comment(job)
    assert "- Stages restored from the run-cache: `fit`" in body
    assert "| test.acc ↑ | 0.963 | 0.6852 | -0.2778 🔻 | -28.85 % |" in body


def test_d_before_the_secrets_are_set_the_check_verifies_nothing_and_says_which(
    adopted, actions_runner
):
    # Right after init, the secrets not set yet: DVC cannot fetch featurize's output, and stops
    # before any stage runs.
    edit = ("params.yaml", "C: 1.0", "C: 0.5")
    job = propose(adopted, actions_runner, 4, "no-secrets", edit, secrets=False)
    assert job.results == {"check": "failure", "comment": "success"}, job.stdout
    assert stages_run(job) == [], job.stdout
    lines = comment(job).splitlines()
    assert lines[2] == (
        "❌ **Not verified: the pipeline changed, but this run could not reproduce it.** Stages "
        "`featurize`, `fit`, `score` need inputs that only the DVC remote holds "
        "(`work/features.csv`), and the DVC remote did not provide them (see the errors in "
        "repro.log)."
    ), lines
    assert lines[6] == (
        "- To verify it: check the remote's credentials in CI's secrets (the ones `dvc-ml-kit "
        "init` printed, in the environment dvc-remote on GitHub) and run the check again."
    )


def test_e_a_merge_publishes_the_model_dvc_yaml_declares(adopted, actions_runner):
    # The first merge since init: the model, never published, gets its first version.
    adopted.sh("git checkout -q main")
    before = adopted.sh("git rev-parse main").stdout.strip()
    adopted.sh("git merge -q --no-ff -m 'Merge docs' docs")
    adopted.sh("git push -q origin main")
    after = adopted.sh("git rev-parse main").stdout.strip()
    event = {"ref": "refs/heads/main", "before": before, "after": after, "deleted": False}
    job = actions_runner.run("publish", "dvc-publish.yml", "push", event, **CREDENTIALS)
    assert job.result == "success", job.stdout
    assert stages_run(job) == []  # main's results, pushed with it
    origin = adopted.loop.origin
    assert run("git", "tag", "--list", "wine-classifier@*", cwd=origin).stdout.split() == [
        "wine-classifier@v1.0.0"
    ]
    (release,) = job.called("gh", "release", "create", "wine-classifier@v1.0.0")
    files = {Path(arg).name for arg in release["args"][3 : release["args"].index("--title")]}
    assert files == {"SHA256SUMS", "bundle.json", "classifier.pkl", "metrics.json", "model_card.md"}
    assert release["body"].startswith("# wine-classifier v1.0.0\n\nWine cultivar")
    # Its gates pass (test.acc against no earlier version, the minimum): staging.
    staged = run("git", "tag", "--list", "wine-classifier#staging#*", cwd=origin).stdout.split()
    assert len(staged) == 1, job.stdout
    (attest,) = job.called("attest")
    assert {Path(path).name for path in attest["digests"]} == files
