"""GitHub workflows pass the offline checkers: the template's own, and a generated project's for
every kind of DVC remote."""

import json
import os
import re
from pathlib import Path

import pytest
import yaml

from conftest import TEMPLATE, TOOLS, bake, run

REMOTES = json.loads((TEMPLATE / "cookiecutter.json").read_text())["dvc_remote"]
URLS = {"s3": "s3://bucket/p", "gs": "gs://bucket/p", "azure": "azure://container/p"}
# Secrets each remote's workflows hand to DVC; the README tells users to set these.
SECRETS = {
    "local": [],
    "none": [],
    "s3": ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"],
    "gs": ["GCP_CREDENTIALS"],
    "azure": ["AZURE_STORAGE_CONNECTION_STRING"],
}


def check(workflows: list[Path], cwd: Path) -> None:
    """actionlint, the workflow JSON schema, and zizmor with no finding of medium or higher.

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
    result = run(str(TOOLS / "zizmor"), "--offline", "--min-severity", "medium", *files, cwd=cwd)
    assert "No findings" in result.stdout


@pytest.mark.parametrize(
    "workflow", sorted((TEMPLATE / ".github/workflows").glob("*.yml")), ids=lambda p: p.name
)
def test_template_workflow_passes_checkers(workflow: Path):
    check([workflow], TEMPLATE)


@pytest.fixture(scope="module")
def projects(tmp_path_factory) -> dict[str, Path]:
    """A project for every kind of remote, baked without Git and DVC, by remote."""
    root = tmp_path_factory.mktemp("workflows")
    projects = {}
    for remote in REMOTES:
        url = {"dvc_remote_url": URLS[remote]} if remote in URLS else {}
        projects[remote] = bake(root / remote, set_up=False, dvc_remote=remote, **url)
    return projects


def test_generated_workflows_pass_checkers(projects):
    names = ("pull-request.yml", "publish.yml")
    workflows = [
        project / ".github/workflows" / name for project in projects.values() for name in names
    ]
    check(workflows, Path(os.path.commonpath(list(projects.values()))))


@pytest.fixture(params=REMOTES)
def generated(request, projects) -> tuple[Path, str]:
    return projects[request.param], request.param


def test_generated_workflows_only_prepare_the_runner_and_call_make(generated):
    project, remote = generated
    pr = yaml.safe_load((project / ".github/workflows/pull-request.yml").read_text())
    publish = yaml.safe_load((project / ".github/workflows/publish.yml").read_text())
    assert pr[True] == {"pull_request": None}  # PyYAML reads the key `on` as True
    assert publish[True] == {"push": {"branches": ["main"]}}
    assert "pull_request_target" not in json.dumps(pr)
    for workflow, make in ((pr, "make ci-pr"), (publish, "make ci-publish")):
        assert workflow["permissions"] == {}
        (job,) = workflow["jobs"].values()
        runs = [step["run"] for step in job["steps"] if "run" in step]
        assert sum(make in script for script in runs) == 1
        for step in job["steps"]:
            if "uses" in step:
                assert len(step["uses"].split("@")[1]) == 40  # pinned to a full commit SHA
            if str(step.get("uses", "")).startswith("actions/checkout"):
                assert step["with"]["persist-credentials"] is False
                assert step["with"]["fetch-depth"] == 0  # main reachable for the diff
    assert pr["concurrency"]["cancel-in-progress"] is True
    assert publish["concurrency"]["cancel-in-progress"] is False
    text = (project / ".github/workflows/pull-request.yml").read_text()
    text += (project / ".github/workflows/publish.yml").read_text()
    for secret in SECRETS[remote]:
        assert f"secrets.{secret}" in text
    readme = (project / "README.md").read_text()
    for secret in [*SECRETS[remote], "CI_PUSH_TOKEN"]:
        assert secret in readme


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
