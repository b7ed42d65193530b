"""Slow tier: a generated project's GitHub workflows, run by a real Actions runner.

act runs the project's own ``pull-request.yml`` and ``publish.yml`` on this machine (host mode:
no Docker, no network), with the events GitHub would send. The DVC remote is a real S3 object
store (SeaweedFS on loopback), ``https://github.com/<repository>`` is a bare Git repository
(git's ``insteadOf``), and the pinned actions run as the stand-ins in ``standins/``: they do what
the actions document for the inputs the workflows give them. ``gh`` is a stand-in on PATH that
records what it would post. ``test_ci_loop.py`` checks what ``make ci-pr``
and ``make ci-publish`` do; this file checks that the workflows feed them the right settings,
secrets, refs and files, and that what they post reaches the pull request and the release.
The tests run in file order and share the project.
"""

import json
import os
import re
import resource
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from conftest import DEFAULT_SLUG, PROJECT_TEMPLATE, REFRESHED, TOOLS, Loop, bake, run
from object_store import CREDENTIALS, stop
from object_store import object_store as seaweedfs
from test_ci_loop import LEARNING_RATE, MODULE, stages_restored, stages_run

pytestmark = pytest.mark.slow
STANDINS = Path(__file__).parent / "standins"
REPOSITORY = f"octo/{DEFAULT_SLUG}"
BUCKET = "ci-remote"
S3_SECRETS = CREDENTIALS
# A token that may push and whose pushes start workflows, and the opt-in: the lock is committed
# back.
PUSH_TOKEN = {"CI_PUSH_TOKEN": "tests-push-token"}
AUTO_COMMIT = {"AUTO_COMMIT": "true"}
CREDENTIALS = " ".join(f"{name}={value}" for name, value in S3_SECRETS.items())  # for a shell
# The stand-in folder that each action the workflows use runs as.
STANDIN_ACTIONS = {
    "actions/checkout": "checkout",
    "astral-sh/setup-uv": "setup-uv",
    "actions/upload-artifact": "upload-artifact",
    "actions/download-artifact": "download-artifact",
    "actions/attest": "attest",
}
# What the runner must not inherit from the machine running the tests: the tests' Git identity
# (the workflows set their own), a surrounding CI's variables, and credentials.
NOT_INHERITED = re.compile(r"GIT_(AUTHOR|COMMITTER)_|GITHUB_|RUNNER_|ACTIONS_|AWS_|GH_|VIRTUAL_ENV")


@pytest.fixture(scope="module")
def object_store(tmp_path_factory) -> Iterator[str]:
    """A SeaweedFS server with an S3 gateway on loopback; yields its endpoint URL."""
    with seaweedfs(tmp_path_factory.mktemp("seaweedfs")) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def uv_cache() -> Path:
    """The uv cache the other tests' set-ups use, for the set-ups here and in the runner."""
    return Path(run(str(TOOLS / "uv"), "cache", "dir", cwd=STANDINS).stdout.strip())


@pytest.fixture(scope="module")
def project(tmp_path_factory, object_store, uv_cache) -> Loop:
    """An s3-remote project whose main is reproduced and pushed to S3 and to origin."""
    root = tmp_path_factory.mktemp("actions")
    path = bake(root, dvc_remote="s3", dvc_remote_url=f"s3://{BUCKET}/{DEFAULT_SLUG}")
    origin = root / "origin.git"
    run("git", "init", "--quiet", "--bare", "--initial-branch=main", str(origin), cwd=root)
    loop = Loop(path, origin)
    tools = f"{TOOLS}{os.pathsep}{os.environ['PATH']}"
    run("make", "setup", cwd=path, env={"PATH": tools, "UV_CACHE_DIR": str(uv_cache)})
    loop.sh(f"dvc remote modify storage endpointurl {object_store}")
    s3(loop, object_store, "mkdir", BUCKET)
    loop.sh("dvc repro --quiet && git add --all && git commit -q -m 'Reproduce the pipeline'")
    loop.sh(f"{CREDENTIALS} dvc push --quiet --run-cache")
    loop.sh(f"git remote add origin {origin} && git push -q origin main")
    return loop


def s3(loop: Loop, endpoint: str, operation: str, *paths: str) -> list[str]:
    """``mkdir``, ``find`` or ``put`` (a local file, then its key) on the object store, through
    the S3 client DVC uses (s3fs)."""
    script = (
        "import json, sys, s3fs; "
        "fs = s3fs.S3FileSystem(endpoint_url=sys.argv[1]); "
        "print(json.dumps(getattr(fs, sys.argv[2])(*sys.argv[3:]) or []))"
    )
    result = loop.sh(f"{CREDENTIALS} python -c '{script}' {endpoint} {operation} {' '.join(paths)}")
    return json.loads(result.stdout)


@dataclass
class Job:
    """One act run of a workflow."""

    results: dict[str, str]  # act's result of each job that ran: success or failure
    stdout: str  # what the steps printed
    summary: str  # what the steps wrote to the job summary
    calls: list[dict]  # the gh calls (and attestations), with what they would post
    artifacts: Path  # one folder per uploaded artifact

    @property
    def result(self) -> str:
        """The workflow run's result: success if every job that ran succeeded."""
        failed = any(result != "success" for result in self.results.values())
        return "failure" if failed else "success"

    def called(self, tool: str, *args: str) -> list[dict]:
        """The calls of ``tool`` whose arguments start with ``args``."""
        return [
            call
            for call in self.calls
            if call["tool"] == tool and call["args"][: len(args)] == list(args)
        ]


@dataclass
class Runner:
    """act, set up to run a project's workflows against its bare origin and the object store."""

    project: Loop
    root: Path
    uv_cache: Path
    jobs: dict[str, Job] = field(default_factory=dict)  # by name, in the order they ran

    def __post_init__(self) -> None:
        (self.root / "empty").mkdir()
        (self.root / "empty.ini").touch()
        (self.root / "calls.jsonl").touch()  # one for the module: `gh release view` reads it

    def run(
        self,
        name: str,
        workflow: str,
        event_name: str,
        event: dict,
        variables: dict | None = None,
        **secrets: str,
    ) -> Job:
        """Run ``workflow``'s jobs for the event, with the repository ``variables`` and
        ``secrets``; ``name`` the run (its folder, its log line)."""
        folder = self.root / f"{len(self.jobs) + 1}-{name}"
        artifacts = folder / "artifacts"
        artifacts.mkdir(parents=True)
        event_file = folder / "event.json"
        event_file.write_text(json.dumps({"repository": repository_payload(), **event}))
        workflow_file = self.project.path / ".github/workflows" / workflow
        calls = self.root / "calls.jsonl"
        calls_before = len(calls.read_text().splitlines())
        secrets = {"GITHUB_TOKEN": "tests-github-token", **secrets}
        command = [
            str(TOOLS / "act"),
            event_name,
            "--json",
            "--platform=ubuntu-latest=-self-hosted",
            f"--workflows={workflow_file}",
            f"--eventpath={event_file}",
            f"--env=GITHUB_REPOSITORY={REPOSITORY}",
            *(f"--secret={name}={value}" for name, value in secrets.items()),
            *(f"--var={name}={value}" for name, value in (variables or {}).items()),
            "--no-skip-checkout",
            *(f"--local-repository={uses}={standin}" for uses, standin in actions(workflow_file)),
            f"--action-cache-path={self.root / 'action-cache'}",
            "--cache-server-addr=127.0.0.1",
            f"--cache-server-path={self.root / 'cache-server'}",
            "--artifact-server-addr=127.0.0.1",
            f"--directory={self.root / 'empty'}",  # the runner gets the code from checkout only
        ]
        inherited = {k: v for k, v in os.environ.items() if not NOT_INHERITED.match(k)}
        path = [p for p in os.environ["PATH"].split(os.pathsep) if Path(p) != TOOLS]
        environment = {
            **inherited,
            "PATH": os.pathsep.join([str(STANDINS / "bin"), *path]),
            "STANDIN_UV": str(TOOLS / "uv"),
            "STANDIN_CALLS": str(calls),
            "STANDIN_ARTIFACTS": str(artifacts),
            "UV_CACHE_DIR": str(self.uv_cache),
            "UV_PYTHON_DOWNLOADS": "never",
            # The S3 secrets are the only credentials: no AWS files, no instance metadata.
            "AWS_CONFIG_FILE": str(self.root / "empty.ini"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.root / "empty.ini"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "XDG_CACHE_HOME": str(self.root / "xdg-cache"),
            **github_origin(self.project.origin),
        }
        results, stdout, summary = run_act(
            command, environment, folder, self.root / "action-cache", f"{name} ({workflow})"
        )
        new_calls = [json.loads(line) for line in calls.read_text().splitlines()[calls_before:]]
        self.jobs[name] = Job(results, stdout, summary, new_calls, artifacts)
        return self.jobs[name]


def committing_run(runner: Runner, name: str, event: dict) -> Job:
    """pull-request.yml for ``event`` with the S3 secrets and auto-commit turned on (the
    repository variable AUTO_COMMIT and the secret CI_PUSH_TOKEN)."""
    return runner.run(
        name, "pull-request.yml", "pull_request", event, AUTO_COMMIT, **PUSH_TOKEN, **S3_SECRETS
    )


def run_act(
    command: list[str], environment: dict[str, str], folder: Path, cache: Path, name: str
) -> tuple[dict[str, str], str, str]:
    """Run act's ``command`` with ``environment``, its output kept in ``folder``; return each
    job's result, the steps' output and the job summary. Fails the test if no job ran."""
    start, cpu = time.monotonic(), children_cpu()
    with open(folder / "act.jsonl", "w") as log, open(folder / "act.stderr", "w") as errors:
        process = subprocess.Popen(
            command, stdout=log, stderr=errors, env=environment, start_new_session=True
        )
        try:
            process.wait(timeout=900)
        finally:
            stop(process)
    seconds, cpu = time.monotonic() - start, children_cpu() - cpu
    # A failed run leaves its workspace (hundreds of MB) in the action cache.
    for workspace in cache.glob("*"):
        shutil.rmtree(workspace)
    results, stdout, summary = parse(folder / "act.jsonl")
    print(f"act {name}: {results} in {seconds:.0f} s, {cpu:.0f} s CPU")
    if not results:
        pytest.fail(f"act ran no job:\n{(folder / 'act.stderr').read_text()[-3000:]}")
    return results, stdout, summary


def github_origin(origin: Path, repository: str = REPOSITORY) -> dict[str, str]:
    """Git settings, as environment variables, under which https://github.com/``repository``
    is the bare repository ``origin``, and no user or system git configuration is read."""
    return {
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": f"url.{origin}.insteadOf",
        "GIT_CONFIG_VALUE_0": f"https://github.com/{repository}",
    }


def children_cpu() -> float:
    """CPU seconds of the processes this one has waited for: a measure the machine's load
    does not inflate."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def repository_payload() -> dict:
    owner, name = REPOSITORY.split("/")
    return {"full_name": REPOSITORY, "name": name, "owner": {"login": owner}}


def actions(workflow: Path) -> list[tuple[str, Path]]:
    """Each pinned ``uses:`` of the workflow (owner/name@sha) and the stand-in it runs as."""
    jobs = yaml.safe_load(workflow.read_text())["jobs"].values()
    steps = [step for job in jobs for step in job["steps"]]
    pinned = sorted({step["uses"] for step in steps if "uses" in step})
    unknown = [uses for uses in pinned if uses.split("@")[0] not in STANDIN_ACTIONS]
    assert not unknown, f"no stand-in for {unknown}: add one to tests/standins"
    return [(uses, STANDINS / STANDIN_ACTIONS[uses.split("@")[0]]) for uses in pinned]


def parse(log: Path) -> tuple[dict[str, str], str, str]:
    """Each job's result, what the steps printed and the summaries, from act's JSON log."""
    results, output, summary = {}, [], []
    for line in log.read_text().splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if "jobResult" in entry:
            results[entry["jobID"]] = entry["jobResult"]
        elif entry.get("raw_output"):
            output.append(entry["msg"])
        elif entry.get("command") == "summary":
            summary.append(entry["content"])
    return results, "".join(output), "".join(summary)


@pytest.fixture(scope="module")
def actions_runner(project, tmp_path_factory, uv_cache) -> Runner:
    return Runner(project, tmp_path_factory.mktemp("act"), uv_cache)


def pull_request(
    project: Loop,
    number: int,
    branch: str,
    *,
    base: str = "main",
    head_repository: str = REPOSITORY,
) -> dict:
    """The event of pull request ``number`` from ``branch`` (HEAD, pushed) into ``base``."""

    def sha(ref: str) -> str:
        return run("git", "rev-parse", ref, cwd=project.path).stdout.strip()

    head = sha("HEAD")
    run("git", "fetch", "-q", "origin", cwd=project.path)
    return {
        "action": "synchronize",
        "number": number,
        "pull_request": {
            "number": number,
            "head": {"ref": branch, "sha": head, "repo": {"full_name": head_repository}},
            "base": {"ref": base, "sha": sha(f"origin/{base}"), "repo": repository_payload()},
        },
    }


def push_to_main(project: Loop, before: str) -> dict:
    """The event of a push of the local main to origin."""
    project.sh("git push -q origin main")
    after = project.sh("git rev-parse main").stdout.strip()
    return {"ref": "refs/heads/main", "before": before, "after": after, "deleted": False}


def origin_head(project: Loop, branch: str) -> str:
    refs = run("git", "ls-remote", str(project.origin), f"refs/heads/{branch}", cwd=project.path)
    return refs.stdout.split()[0]


# A test in a pull request's branch: the check runs it with the workflow's environment.
NO_PUSH_TOKEN = """import os


def test_the_branch_code_holds_no_token_that_can_push():
    assert not {"CI_PUSH_TOKEN", "GH_TOKEN"} & set(os.environ)
    assert "GITHUB_TOKEN" not in os.environ
"""


def comment(job: Job) -> str:
    """The body of the one report comment the run posted (a new one, or its last one edited)."""
    (call,) = job.called("gh", "pr", "comment")
    assert {"--edit-last", "--create-if-none"} <= set(call["args"]), call["args"]
    assert call["args"][call["args"].index("--repo") + 1] == REPOSITORY
    assert call["tokens"] == ["GH_TOKEN"]
    return call["body"]


def test_a_readme_only_pull_request_comments_that_nothing_changed(project, actions_runner):
    project.branch("docs")
    project.edit("README.md", "\n", "\nMore about the project.\n")
    project.commit("Document more")
    project.sh("git push -q origin docs")
    # Into a branch other than main: the base comes from the event, not from a default.
    project.sh("git push -q origin main:refs/heads/develop")
    event = pull_request(project, 1, "docs", base="develop")
    job = actions_runner.run("readme", "pull-request.yml", "pull_request", event)
    assert job.result == "success", job.stdout
    assert "ci-pr: only documentation changed (README.md)" in job.stdout
    body = comment(job)
    assert body.startswith(
        f"## Model report for `{event['pull_request']['head']['sha'][:7]}` against `origin/develop`"
    ), body
    assert "Nothing in the pipeline changed: no stage ran." in body
    assert "✅ **All quality gates pass.**" in body
    # Nothing to commit: the commit job does not run.
    assert job.results == {"check": "success", "comment": "success"}
    assert job.summary == body
    assert (job.artifacts / "report/report.md").read_text() == body


def test_b_train_param_change_is_committed_back_and_its_run_cache_pushed(
    project, actions_runner, object_store
):
    run_cache = f"{BUCKET}/{DEFAULT_SLUG}/runs"
    cached_before = set(s3(project, object_store, "find", run_cache))
    project.branch("learning-rate")
    project.edit("params.yaml", LEARNING_RATE, "learning_rate: 0.05")
    # The branch's own code runs in the check: it must find no token that can push.
    (project.path / "tests/test_no_push_token.py").write_text(NO_PUSH_TOKEN)
    project.sh("git add tests")
    project.commit("Lower the learning rate")
    project.sh("git push -q origin learning-rate")
    pushed = origin_head(project, "learning-rate")
    event = pull_request(project, 2, "learning-rate")
    job = committing_run(actions_runner, "learning-rate", event)
    assert job.results == {"check": "success", "commit": "success", "comment": "success"}
    assert stages_run(job) == ["train", "evaluate", "copy_evaluation"]
    # The check passed, so the branch's test found no push token (it would fail otherwise).
    assert "test_no_push_token.py" in (job.artifacts / "report/pytest.log").read_text()
    assert "the workflow's next job commits the reproduced results" in comment(job)
    # The check handed over dvc.lock and the metrics folder, nothing else.
    handed = {
        p.relative_to(job.artifacts / "results").parts[0]
        for p in (job.artifacts / "results").rglob("*")
        if p.is_file()
    }
    assert handed == {"dvc.lock", "metrics"}
    # The reproduced lock went to the pull request's branch on origin, by the workflow's bot.
    head = origin_head(project, "learning-rate")
    assert head != pushed
    message = run("git", "log", "-1", "--format=%an|%P|%s", head, cwd=project.origin).stdout
    assert message.strip() == (
        f"github-actions[bot]|{pushed}|Reproduce the pipeline: update dvc.lock and metrics"
    )
    (setup_git,) = job.called("gh", "auth", "setup-git")
    assert setup_git["tokens"] == ["GH_TOKEN"]
    # The object store got the new results' run-cache, and every output of the new lock.
    assert set(s3(project, object_store, "find", run_cache)) > cached_before
    project.sh(f"git fetch -q origin && git checkout -q {head}")
    project.sh(f"{CREDENTIALS} dvc pull --quiet")
    assert project.sh("dvc status --json").stdout.strip() == "{}"


def test_c_the_committed_lock_starts_a_run_that_reproduces_nothing(project, actions_runner):
    # The bot's commit starts a new run (its token is not GITHUB_TOKEN), on the new head.
    head = origin_head(project, "learning-rate")
    project.sh(f"git fetch -q origin && git checkout -q {head}")
    event = pull_request(project, 2, "learning-rate")
    job = committing_run(actions_runner, "learning-rate-again", event)
    assert job.results == {"check": "success", "comment": "success"}, job.stdout
    assert "$ dvc repro" in job.stdout
    assert stages_run(job) == [] and stages_restored(job) == [], job.stdout
    assert origin_head(project, "learning-rate") == head  # nothing more to commit
    assert "- Stages ran: none" in comment(job)


def test_d_a_run_that_committed_nothing_does_not_say_it_did(actions_runner):
    body = comment(actions_runner.jobs["learning-rate-again"])
    assert "commits the reproduced results" not in body and "this run committed" not in body


def test_e_a_gate_failure_fails_the_job_and_the_comment_names_the_metric(project, actions_runner):
    project.branch("one-round")
    project.edit("params.yaml", "max_iter: 200", "max_iter: 1")
    project.commit("One boosting round")
    project.sh("git push -q origin one-round")
    event = pull_request(project, 3, "one-round")
    job = actions_runner.run("gate", "pull-request.yml", "pull_request", event, **S3_SECRETS)
    assert job.results == {"check": "failure", "comment": "success"}
    assert "gate failed: balanced_accuracy" in job.stdout
    body = comment(job)
    assert "quality gate(s) failed" in body
    assert re.search(r"- balanced_accuracy got worse by [\d.]+ against the base", body), body
    # The report and the logs it was made from are kept with the run.
    assert {p.name for p in (job.artifacts / "report").iterdir()} == {
        "pytest.log",
        "repro.log",
        "report.md",
    }


def test_e_evaluation_code_with_a_stale_lock_fails_with_the_fix(project, actions_runner):
    project.branch("evaluation")
    project.edit(
        f"src/{MODULE}/stages/evaluate.py",
        'if __name__ == "__main__":',
        '# A change to the evaluation code.\nif __name__ == "__main__":',
    )
    project.commit("Touch evaluate")
    project.sh("git push -q origin evaluation")
    pushed = origin_head(project, "evaluation")
    event = pull_request(project, 5, "evaluation")
    # No AUTO_COMMIT: the check fails with the commands that fix it, and nothing is pushed.
    job = actions_runner.run("evaluation", "pull-request.yml", "pull_request", event, **S3_SECRETS)
    assert job.results == {"check": "failure", "comment": "success"}, job.stdout
    assert stages_run(job) == ["evaluate"]
    body = comment(job)
    assert "dvc.lock is out of date" in body
    assert "dvc repro\ngit add dvc.lock metrics\ngit commit" in body
    assert origin_head(project, "evaluation") == pushed


def test_e_a_change_reproduced_and_pushed_locally_runs_nothing(project, actions_runner):
    project.branch("faster")
    project.edit("params.yaml", LEARNING_RATE, "learning_rate: 0.2")
    project.sh("dvc repro --quiet && git add --all && git commit -q -m 'Faster learning'")
    project.sh(f"{CREDENTIALS} dvc push --quiet --run-cache && git push -q origin faster")
    event = pull_request(project, 6, "faster")
    job = actions_runner.run("faster", "pull-request.yml", "pull_request", event, **S3_SECRETS)
    assert job.results == {"check": "success", "comment": "success"}, job.stdout
    assert stages_run(job) == [] and stages_restored(job) == [], job.stdout
    body = comment(job)
    assert "| `train.hyperparameters.hist_gradient_boosting.learning_rate` | 0.1 | 0.2 |" in body
    assert "- Model: changed" in body


def test_e_a_result_computed_elsewhere_is_restored_from_the_run_cache(project, actions_runner):
    # Computed and pushed with `--run-cache` from this workspace, but only the parameter is
    # committed: the runner, with an empty cache, must restore train and evaluate, not re-run.
    project.branch("elsewhere")
    project.edit("params.yaml", LEARNING_RATE, "learning_rate: 0.3")
    project.sh(f"dvc repro --quiet && {CREDENTIALS} dvc push --quiet --run-cache")
    project.sh(
        "git checkout -q -- dvc.lock metrics && git commit -q -m 'Learning rate 0.3' params.yaml"
    )
    project.sh("git push -q origin elsewhere")
    event = pull_request(project, 7, "elsewhere")
    job = committing_run(actions_runner, "elsewhere", event)
    assert job.results == {"check": "success", "commit": "success", "comment": "success"}
    assert stages_restored(job)[:2] == ["train", "evaluate"], job.stdout
    assert "train" not in stages_run(job) and "evaluate" not in stages_run(job)
    assert "Stages restored from the run-cache: `train`, `evaluate`" in comment(job)


def test_f_a_fork_pull_request_reports_in_the_summary_without_secrets(project, actions_runner):
    project.branch("fork")
    test = "def test_sum():\n    assert sum([1, 2]) == 3\n"
    (project.path / "tests/test_fork.py").write_text(test)
    project.sh("git add tests && git commit -q -m 'A test from a fork'")
    # A fork's commits reach the repository only as the pull request's ref.
    project.sh("git push -q origin HEAD:refs/pull/4/head")
    event = pull_request(project, 4, "fork", head_repository="someone/diagnosis-model")
    # GitHub gives a fork's run no secrets.
    job = actions_runner.run("fork", "pull-request.yml", "pull_request", event)
    assert job.result == "success", job.stdout
    assert "--trusted 0 --auto-commit 0" in job.stdout
    assert "$ pytest" in job.stdout and "$ dvc push" not in job.stdout
    assert job.calls == []  # no comment
    assert job.results == {"check": "success"}
    assert "Nothing in the pipeline changed: no stage ran." in job.summary
    assert (job.artifacts / "report/report.md").read_text() == job.summary


def test_g_merges_publish_a_new_model_and_then_nothing(project, actions_runner):
    project.branch("merges")
    project.sh("git checkout -q main && git merge -q --ff-only origin/main")
    before = project.sh("git rev-parse main").stdout.strip()
    project.sh("git fetch -q origin learning-rate")
    project.sh("git merge -q --no-ff -m 'Merge learning-rate' FETCH_HEAD")
    event = push_to_main(project, before)
    job = actions_runner.run("publish", "publish.yml", "push", event, **S3_SECRETS)
    assert job.result == "success", job.stdout
    assert stages_run(job) == []  # the pull request reproduced and pushed it
    tags = run("git", "tag", "--list", "model@*", cwd=project.origin).stdout.split()
    assert tags == ["model@v1.0.0"]
    (release,) = job.called("gh", "release", "create", "model@v1.0.0")
    files = {Path(arg).name for arg in release["args"][3 : release["args"].index("--title")]}
    assert files == {"SHA256SUMS", "bundle.json", "metrics.json", "model.skops", "model_card.md"}
    assert release["body"].startswith("# model v1.0.0")
    assert release["tokens"] == ["GH_TOKEN"]
    # Its gates pass, so publishing assigned it to staging, where promotion starts from.
    staged = run("git", "tag", "--list", "model#staging#*", cwd=project.origin).stdout.split()
    assert len(staged) == 1, staged
    assert "ci-publish: model@v1.0.0 is in staging" in job.stdout
    # Each released file gets signed build provenance, for the bytes that were released.
    (attest,) = job.called("attest")
    attested = {Path(path).name: digest for path, digest in attest["digests"].items()}
    released = {Path(path).name: digest for path, digest in release["digests"].items()}
    assert attested == {name: released[name] for name in files}

    before = project.sh("git rev-parse main").stdout.strip()
    project.sh("git fetch -q origin docs && git merge -q --no-ff -m 'Merge docs' FETCH_HEAD")
    event = push_to_main(project, before)
    job = actions_runner.run("publish-docs", "publish.yml", "push", event, **S3_SECRETS)
    assert job.result == "success", job.stdout
    assert "the model is the same as model@v1.0.0: nothing to publish" in job.stdout
    assert job.called("gh", "release", "create") == [] and job.called("attest") == []
    assert run("git", "tag", "--list", "model@*", cwd=project.origin).stdout.split() == tags


@pytest.fixture(scope="module")
def default_project(tmp_path_factory) -> Loop:
    """A project with the default answers (a local DVC remote), set up and reproduced as its
    README says, committed and pushed to its own origin."""
    root = tmp_path_factory.mktemp("default")
    path = bake(root)
    origin = root / "origin.git"
    run("git", "init", "--quiet", "--bare", "--initial-branch=main", str(origin), cwd=root)
    run("make", "setup", cwd=path, env={"PATH": f"{TOOLS}{os.pathsep}{os.environ['PATH']}"})
    loop = Loop(path, origin)
    loop.sh("dvc repro --quiet && dvc push --quiet && git add --all && git commit -qm Reproduce")
    loop.sh(f"git remote add origin {origin} && git push -q origin main")
    return loop


def test_h_the_default_projects_pipeline_change_is_not_verified_and_says_why(
    default_project, tmp_path_factory, uv_cache
):
    """The default project, reproduced as its README says and pushed to GitHub: its first
    pipeline-changing pull request."""
    default_project.sh("git checkout -q -b slower")
    default_project.edit("params.yaml", LEARNING_RATE, "learning_rate: 0.05")
    default_project.commit("Slower learning")
    default_project.sh("git push -q origin slower")
    event = pull_request(default_project, 8, "slower")
    runner = Runner(default_project, tmp_path_factory.mktemp("act-default"), uv_cache)
    job = runner.run("default-slower", "pull-request.yml", "pull_request", event)
    assert job.results == {"check": "failure", "comment": "success"}, job.stdout
    assert "Traceback" not in job.stdout
    first = [line for line in comment(job).splitlines() if line][1]
    assert first.startswith("❌ **Not verified: the pipeline changed"), first
    assert "a folder that CI runners cannot reach" in first
    assert "gates pass" not in comment(job)


def tags(project: Loop, pattern: str) -> list[str]:
    return run("git", "tag", "--list", pattern, cwd=project.origin).stdout.split()


def promote(runner: Runner, version: str) -> Job:
    """promote.yml, run by hand with ``version``."""
    event = {"inputs": {"version": version}, "ref": "refs/heads/main"}
    return runner.run(f"promote-{version}", "promote.yml", "workflow_dispatch", event)


def test_i_a_release_changed_after_publishing_is_not_promoted(project, actions_runner):
    # Someone who may edit releases replaces a file, and SHA256SUMS to match it.
    assets = actions_runner.root / "releases/model@v1.0.0"
    kept = shutil.copytree(assets, actions_runner.root / "releases-kept")
    (assets / "model_card.md").write_text("# model v1.0.0\n\nA better model.\n")
    sums = run("bash", "-c", "sha256sum $(ls | grep -v SHA256SUMS)", cwd=assets).stdout
    (assets / "SHA256SUMS").write_text(sums)
    try:
        job = promote(actions_runner, "v1.0.0")
    finally:
        shutil.rmtree(assets)
        kept.rename(assets)
    assert job.result == "failure"
    assert "is not the bundle published as model@v1.0.0" in job.stdout, job.stdout
    assert "Traceback" not in job.stdout
    assert tags(project, "model#prod#*") == []
    assert job.called("docker") == []


def test_i_promotion_assigns_prod_and_pushes_the_service_image(project, actions_runner):
    job = promote(actions_runner, "v1.0.0")
    assert job.result == "success", job.stdout
    (prod,) = tags(project, "model#prod#*")
    message = run("git", "tag", "--list", "--format=%(contents)", prod, cwd=project.origin).stdout
    assert message.startswith("Promote model v1.0.0 to prod: bundle sha256 "), message
    (download,) = job.called("gh", "release", "download", "model@v1.0.0")
    assert download["tokens"] == ["GH_TOKEN"]
    # Each file's build provenance, attested by the publish run, was checked.
    verified = job.called("gh", "attestation", "verify")
    files = {"SHA256SUMS", "bundle.json", "metrics.json", "model.skops", "model_card.md"}
    assert {Path(call["args"][2]).name for call in verified} == files
    assert all(call["args"][3:] == ["--repo", REPOSITORY] for call in verified)
    image = f"ghcr.io/{REPOSITORY}"
    (build,) = job.called("docker", "build")
    assert "BUNDLE=dist/model-v1.0.0" in build["args"]
    assert {f"{image}:v1.0.0", f"{image}:prod"} <= set(build["args"])
    (login,) = job.called("docker", "login", "ghcr.io")
    assert login["stdin"] is True and login["tokens"] == ["GH_TOKEN"]
    pushed = [call["args"][1] for call in job.called("docker", "push")]
    assert pushed == [f"{image}:v1.0.0", f"{image}:prod"]
    assert "Promoted model v1.0.0 to prod" in job.summary


def test_j_data_imported_from_the_object_store_is_reproduced_and_updated(project, object_store):
    """The generated README's `dvc import-url` of an object in a bucket: the pipeline runs on
    it, with the rows whose labels have not arrived set aside; the object is replaced, `dvc
    update` takes it, `dvc repro` re-runs prepare, and the report names the data that changed."""
    sample = (PROJECT_TEMPLATE / "data/raw/breast_cancer.csv").read_text().splitlines()
    unlabeled = [
        ",".join(line.split(",")[:-1] + [""]) if 100 <= i < 120 else line
        for i, line in enumerate(sample)
    ]
    source, key = project.path.parent / "diagnoses.csv", "raw-data/cancer/diagnoses.csv"
    source.write_text("\n".join(unlabeled) + "\n")
    s3(project, object_store, "put", str(source), key)  # s3fs makes the bucket
    project.branch("imported-data")
    project.sh(
        f"{CREDENTIALS} dvc import-url --quiet s3://{key} data/raw/diagnoses.csv "
        f"--fs-config endpointurl={object_store}"
    )
    project.edit("params.yaml", "file: data/raw/breast_cancer.csv", "file: data/raw/diagnoses.csv")
    first = project.sh("dvc repro")
    assert stages_run(first)[:3] == ["prepare", "train", "evaluate"], first.stdout
    assert (
        "prepare: note: target 'diagnosis' is empty on 20 of 569 rows of data/raw/diagnoses.csv: "
        "they are set aside, neither trained nor tested on, until their labels arrive"
    ) in first.stdout
    split = re.search(r"prepare: (\d+) train rows, (\d+) test rows", first.stdout)
    assert int(split[1]) + int(split[2]) == 549
    project.sh("git add --all && git commit -q -m 'Diagnoses from the bucket'")
    # DVC copies the imported file to the project's remote: CI needs no access to its source.
    project.sh(f"{CREDENTIALS} dvc push --quiet")
    [out] = yaml.safe_load((project.path / "data/raw/diagnoses.csv.dvc").read_text())["outs"]
    md5 = out["md5"]
    pushed = s3(project, object_store, "find", f"{BUCKET}/{DEFAULT_SLUG}/files/md5/{md5[:2]}")
    assert f"{BUCKET}/{DEFAULT_SLUG}/files/md5/{md5[:2]}/{md5[2:]}" in pushed

    # The labels arrive: the object is replaced, and the project takes it as the README says.
    source.write_text("\n".join(sample) + "\n")
    s3(project, object_store, "put", str(source), key)
    project.sh("git checkout -q -b labels-arrived")
    assert project.sh("dvc repro").stdout.count("Running stage") == 0  # an import stays as it was
    project.sh(f"{CREDENTIALS} dvc update --quiet data/raw/diagnoses.csv.dvc")
    second = project.sh(f"{CREDENTIALS} dvc repro --pull")
    # prepare runs; train and evaluate, on the sample's rows again, come from the run-cache.
    assert stages_run(second)[0] == "prepare", second.stdout
    assert stages_restored(second) == ["train", "evaluate"], second.stdout
    assert "prepare: note:" not in second.stdout
    assert "prepare: 455 train rows, 114 test rows" in second.stdout
    project.sh("git add --all && git commit -q -m 'The labels arrived'")
    project.sh("make report BASE=imported-data")
    report = (project.path / "report.md").read_text()
    assert "- Data: changed (`data/raw/diagnoses.csv`)" in report, report
    # The Data section: the same rows, the 20 that had no label now labeled.
    assert "Rows without a target: 20 → 0." in report, report


def refresh_run(runner: Runner, name: str) -> Job:
    """refresh.yml, run by hand (as its schedule runs it), with the S3 secrets and the token
    that may push and open pull requests."""
    event = {"inputs": {}, "ref": "refs/heads/main"}
    return runner.run(name, "refresh.yml", "workflow_dispatch", event, **PUSH_TOKEN, **S3_SECRETS)


def test_k_a_scheduled_refresh_opens_one_pull_request_for_new_data_and_none_for_bad_data(
    project, actions_runner, object_store
):
    """main's data comes from the bucket (test_j's import). The object is replaced: the refresh
    reproduces on it, pushes to the DVC remote and opens one pull request from data-refresh. Run
    again on the same data: nothing pushed, no second pull request. A broken file: the run fails
    with prepare's sentence, and the branch and pull request stay as they were."""
    key = "raw-data/cancer/diagnoses.csv"
    sample = (PROJECT_TEMPLATE / "data/raw/breast_cancer.csv").read_text().splitlines()
    source = project.path.parent / "diagnoses.csv"
    project.sh("git checkout -q main && git merge -q --ff-only origin/main")
    project.sh("git checkout -q labels-arrived -- data/raw/diagnoses.csv.dvc data/raw/.gitignore")
    project.edit("params.yaml", "file: data/raw/breast_cancer.csv", "file: data/raw/diagnoses.csv")
    project.sh(f"{CREDENTIALS} dvc repro --quiet --pull")
    project.sh("git add --all && git commit -q -m 'Data from the bucket'")
    project.sh(f"{CREDENTIALS} dvc push --quiet --run-cache && git push -q origin main")

    # A new version of the object: its source kept the first 400 rows of 569.
    source.write_text("\n".join(sample[:401]) + "\n")
    s3(project, object_store, "put", str(source), key)
    job = refresh_run(actions_runner, "refresh-new-data")
    assert job.result == "success", job.stdout
    assert stages_run(job)[:3] == ["prepare", "train", "evaluate"], job.stdout
    assert "data/raw/diagnoses.csv changed: the pipeline is reproduced on it" in job.summary
    (opened,) = job.called("gh", "pr", "create")
    assert opened["tokens"] == ["GH_TOKEN"]
    assert opened["args"][opened["args"].index("--head") + 1] == "data-refresh"
    assert "**The data changed:** 569 → 400 rows (0 added, 169 removed)" in opened["body"]
    branch = origin_head(project, "data-refresh")
    project.sh("git fetch -q origin data-refresh")
    changed = project.sh("git diff --name-only origin/main FETCH_HEAD").stdout.split()
    assert set(changed) == REFRESHED, changed
    # The refreshed data and every output are on the DVC remote, and dvc.lock holds them: a
    # checkout of the branch pulls them all, and nothing is left to run.
    project.sh("git checkout -q FETCH_HEAD && rm -r data/raw/diagnoses.csv data/prepared models")
    project.sh(f"{CREDENTIALS} dvc pull --quiet")
    assert project.sh("dvc repro").stdout.count("Running stage") == 0
    project.sh("git checkout -q main")

    # The same data again: reproduced from the run-cache, the branch already holds it.
    job = refresh_run(actions_runner, "refresh-same-data")
    assert job.result == "success", job.stdout
    assert "The data-refresh pull request already holds this data: nothing to push." in (
        job.summary
    )
    assert job.called("gh", "pr", "create") == []
    assert origin_head(project, "data-refresh") == branch

    # A broken file: prepare refuses it, the run fails with its sentence, nothing else moves.
    source.write_text("\n".join(line.split(",")[0] for line in sample) + "\n")
    s3(project, object_store, "put", str(source), key)
    job = refresh_run(actions_runner, "refresh-broken-data")
    assert job.results.get("refresh") == "failure" and "open" not in job.results, job.results
    assert (
        "the new version of data/raw/diagnoses.csv was refused: params.yaml names column "
        "'diagnosis' in data.target, but data/raw/diagnoses.csv has no such column"
    ) in job.summary, job.summary
    assert job.called("gh", "pr", "create") == []
    assert origin_head(project, "data-refresh") == branch
