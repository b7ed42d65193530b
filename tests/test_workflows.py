"""GitHub workflows pass the offline checkers: the template's own, and a generated project's for
every kind of DVC remote."""

import json
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


def check(workflow: Path, cwd: Path) -> None:
    """actionlint, the workflow JSON schema, and zizmor with no finding of medium or higher."""
    run(str(TOOLS / "actionlint"), str(workflow), cwd=cwd)
    run(
        str(TOOLS / "check-jsonschema"),
        "--builtin-schema",
        "vendor.github-workflows",
        str(workflow),
        cwd=cwd,
    )
    result = run(
        str(TOOLS / "zizmor"), "--offline", "--min-severity", "medium", str(workflow), cwd=cwd
    )
    assert "No findings" in result.stdout


@pytest.mark.parametrize(
    "workflow", sorted((TEMPLATE / ".github/workflows").glob("*.yml")), ids=lambda p: p.name
)
def test_template_workflow_passes_checkers(workflow: Path):
    check(workflow, TEMPLATE)


@pytest.fixture(scope="module", params=REMOTES)
def generated(request, tmp_path_factory) -> tuple[Path, str]:
    remote = request.param
    url = {"dvc_remote_url": URLS[remote]} if remote in URLS else {}
    return bake(tmp_path_factory.mktemp(remote), dvc_remote=remote, **url), remote


@pytest.mark.parametrize("name", ["pull-request.yml", "publish.yml"])
def test_generated_workflows_pass_checkers(generated, name):
    project, _ = generated
    check(project / ".github/workflows" / name, project)


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
