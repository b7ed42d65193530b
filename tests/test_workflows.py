"""The template's own GitHub workflow passes the offline workflow checkers."""

from pathlib import Path

import pytest

from conftest import TEMPLATE, TOOLS, run

WORKFLOWS = sorted((TEMPLATE / ".github" / "workflows").glob("*.yml"))


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_passes_checkers(workflow: Path):
    run(str(TOOLS / "actionlint"), str(workflow), cwd=TEMPLATE)
    run(
        str(TOOLS / "check-jsonschema"),
        "--builtin-schema",
        "vendor.github-workflows",
        str(workflow),
        cwd=TEMPLATE,
    )
    result = run(
        str(TOOLS / "zizmor"), "--offline", "--min-severity", "medium", str(workflow), cwd=TEMPLATE
    )
    assert "No findings" in result.stdout


def test_ci_runs_the_readme_test_command():
    readme = (TEMPLATE / "README.md").read_text()
    assert "make test" in readme.split("```sh", 1)[1].split("```", 1)[0]
    assert "make test" in (TEMPLATE / ".ci" / "run").read_text()
    assert "run: make test" in (TEMPLATE / ".github" / "workflows" / "ci.yml").read_text()
