"""GitHub workflows pass the offline checkers: the template's own, and a generated project's for
every kind of DVC remote."""

import json
import os
import re
from pathlib import Path

import pytest
import yaml

from conftest import REMOTE_SECRETS, REMOTES, TEMPLATE, TOOLS, bake, bake_per_remote, run


def check(workflows: list[Path], cwd: Path) -> None:
    """actionlint, the workflow JSON schema, and zizmor (auditor) with no finding of medium or
    higher.

    Each checker runs once over all ``workflows``: starting it takes longer than checking a file.
    """
    files = [str(workflow) for workflow in workflows]
    run(str(TOOLS / "actionlint"), *files, cwd=cwd)
    run(
        str(TOOLS / "check-jsonschema"),
        "--builtin-schema",
        "vendor.github-workflows",
        *files,
        cwd=cwd,
    )
    # The auditor persona reports what the default one leaves out (secrets outside an
    # environment, among others).
    zizmor = [str(TOOLS / "zizmor"), "--offline", "--persona=auditor", "--min-severity", "medium"]
    result = run(*zizmor, *files, cwd=cwd)
    assert "No findings" in result.stdout


@pytest.mark.parametrize(
    "workflow", sorted((TEMPLATE / ".github/workflows").glob("*.yml")), ids=lambda p: p.name
)
def test_template_workflow_passes_checkers(workflow: Path):
    check([workflow], TEMPLATE)


@pytest.fixture(scope="module")
def projects(tmp_path_factory) -> dict[str, Path]:
    """A GitHub project for every kind of remote, baked without Git and DVC, by remote."""
    root = tmp_path_factory.mktemp("workflows")
    return bake_per_remote(root)


def test_generated_workflows_pass_checkers(projects, tmp_path):
    # Every option combination: the other task too, for every remote.
    others = [
        bake(tmp_path / remote, set_up=False, dvc_remote=remote, task="regression")
        for remote in REMOTES
    ]
    folders = [*projects.values(), *others]
    workflows = [
        path for folder in folders for path in (folder / ".github/workflows").glob("*.yml")
    ]
    names = {path.name for path in workflows}
    assert names == {"pull-request.yml", "publish.yml", "promote.yml", "refresh.yml"}, names
    check(workflows, Path(os.path.commonpath(folders)))


@pytest.fixture(params=REMOTES)
def generated(request, projects) -> tuple[Path, str]:
    return projects[request.param], request.param


# What a step of a job that must run none of the branch's code may not call.
BRANCH_CODE = re.compile(r"(?:^|&&|\|\||;|\|)\s*(make|python3?|pip|uv|npm|npx|pytest|dvc)\b", re.M)


def test_generated_workflows_only_prepare_the_runner_and_call_make(generated):
    project, remote = generated
    pr = yaml.safe_load((project / ".github/workflows/pull-request.yml").read_text())
    publish = yaml.safe_load((project / ".github/workflows/publish.yml").read_text())
    assert pr[True] == {"pull_request": None}  # PyYAML reads the key `on` as True
    assert publish[True] == {"push": {"branches": ["main"]}}
    assert "pull_request_target" not in json.dumps(pr)
    assert list(pr["jobs"]) == ["check", "commit", "comment"]
    for workflow, job, make in (
        (pr, "check", "make ci-pr"),
        (publish, "publish", "make ci-publish"),
    ):
        assert workflow["permissions"] == {}
        runs = [step["run"] for step in workflow["jobs"][job]["steps"] if "run" in step]
        assert sum(make in script for script in runs) == 1
    for job in [*pr["jobs"].values(), *publish["jobs"].values()]:
        for step in job["steps"]:
            if "uses" in step:
                assert len(step["uses"].split("@")[1]) == 40  # pinned to a full commit SHA
            if str(step.get("uses", "")).startswith("actions/checkout"):
                assert step["with"]["persist-credentials"] is False
    assert pr["concurrency"]["cancel-in-progress"] is True
    assert publish["concurrency"]["cancel-in-progress"] is False
    text = (project / ".github/workflows/pull-request.yml").read_text()
    text += (project / ".github/workflows/publish.yml").read_text()
    for secret in REMOTE_SECRETS[remote]:
        assert f"secrets.{secret}" in text
    readme = (project / "README.md").read_text()
    environments = ["ci-push", "dvc-remote"] if REMOTE_SECRETS[remote] else ["ci-push"]
    for name in [*REMOTE_SECRETS[remote], "CI_PUSH_TOKEN", *environments]:
        assert name in readme


def test_no_job_that_runs_the_branch_code_can_push(generated):
    project, remote = generated
    jobs = yaml.safe_load((project / ".github/workflows/pull-request.yml").read_text())["jobs"]
    check, commit, comment = jobs["check"], jobs["commit"], jobs["comment"]
    # The check runs the branch's code: a read-only token, no push token, only the DVC
    # remote's keys, bound to an environment.
    assert check["permissions"] == {"contents": "read"}
    assert "CI_PUSH_TOKEN" not in json.dumps(check) and "GH_TOKEN" not in json.dumps(check)
    assert check.get("environment") == ("dvc-remote" if REMOTE_SECRETS[remote] else None)
    assert check["steps"][0]["with"]["fetch-depth"] == 0  # main reachable for the diff
    # The jobs that hold write access run nothing of the branch: git, gh and shell only.
    assert commit["permissions"] == {} and commit["environment"] == "ci-push"
    assert comment["permissions"] == {"pull-requests": "write"}
    for job in (commit, comment):
        for step in job["steps"]:
            assert not BRANCH_CODE.search(step.get("run", "")), step["run"]
            assert not any(secret in json.dumps(step) for secret in REMOTE_SECRETS[remote])
    assert "secrets.CI_PUSH_TOKEN" in json.dumps(commit)
    # The commit job takes dvc.lock and the metrics from the check, and refuses anything else.
    script = commit["steps"][-1]["run"]
    dvc_yaml = yaml.safe_load((project / "dvc.yaml").read_text())
    metrics = [
        next(iter(e)) for stage in dvc_yaml["stages"].values() for e in stage.get("metrics", [])
    ]
    assert [Path(path).parent.as_posix() for path in metrics] == ["metrics"]
    assert "! -path ./dvc.lock ! -path './metrics/*'" in script
    assert "git add --all -- dvc.lock metrics" in script


def test_workflows_pin_the_uv_the_template_tests_with(generated):
    """setup-uv without `version:` downloads the latest uv on every run; the pin is the one in
    requirements-dev.txt, which the workflow tests put on the runner's PATH."""
    project, _ = generated
    requirements = (TEMPLATE / "requirements-dev.txt").read_text()
    pinned = re.search(r"^uv==(\S+)$", requirements, re.M)[1]
    workflows = [*(project / ".github/workflows").glob("*.yml")]
    workflows += (TEMPLATE / ".github/workflows").glob("*.yml")
    versions = [
        step.get("with", {}).get("version")
        for workflow in workflows
        for job in yaml.safe_load(workflow.read_text())["jobs"].values()
        for step in job["steps"]
        if str(step.get("uses", "")).startswith("astral-sh/setup-uv@")
    ]
    assert len(versions) >= 2  # one in each generated workflow
    assert versions == [pinned] * len(versions)


def test_ci_runs_the_readme_test_command():
    readme = (TEMPLATE / "README.md").read_text()
    assert "make test" in readme.split("```sh", 1)[1].split("```", 1)[0]
    assert "make test" in (TEMPLATE / ".ci" / "run").read_text()
    assert "run: make test" in (TEMPLATE / ".github" / "workflows" / "ci.yml").read_text()


USES = re.compile(r"uses: ([\w./-]+@[0-9a-f]{40}) # (v[\d.]+)")


def test_the_workflows_init_writes_pin_the_actions_the_generated_ones_pin():
    """`dvc-ml-kit init` writes its workflows from text in the package: each action it uses is
    pinned to the commit the template's workflows pin, so that both are updated together."""
    adopted = TEMPLATE / "dvc-ml-kit/src/dvc_ml_kit/adopt"
    generated = TEMPLATE / "{{cookiecutter.project_slug}}/.github/workflows"
    found: dict[str, set] = {"adopted": set(), "generated": set()}
    for name, folder in (("adopted", adopted), ("generated", generated)):
        for path in folder.glob("*.yml"):
            found[name] |= set(USES.findall(path.read_text()))
    assert found["adopted"], "no pinned action in the package's workflows"
    assert found["adopted"] <= found["generated"]
