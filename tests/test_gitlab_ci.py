"""Fast tier: a GitLab project's .gitlab-ci.yml for every kind of DVC remote: its stages and
rules, jobs that only prepare the runner and call make targets, secrets that no line prints, and
shell that parses. (test_gitlab_pipeline.py runs it in gitlab-ci-local, slow tier.)"""

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import REMOTE_SECRETS, REMOTES, TEMPLATE, bake_per_remote

TOKENS = ["GITLAB_TOKEN", "CI_PUSH_TOKEN"]
MERGE_REQUEST = '$CI_PIPELINE_SOURCE == "merge_request_event"'
DEFAULT_BRANCH = '$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH && $CI_PIPELINE_SOURCE == "push"'
# The one place a token is written out: git's credential helper, single-quoted so that only git
# runs it, when it pushes, and prints it to git alone.
CREDENTIAL_HELPER = re.compile(r"git config credential\.helper '[^']*\$CI_PUSH_TOKEN[^']*'")


@pytest.fixture(scope="module")
def projects(tmp_path_factory) -> dict[str, Path]:
    """A GitLab project for every kind of remote, baked without Git and DVC, by remote."""
    root = tmp_path_factory.mktemp("gitlab")
    return bake_per_remote(root, ci_platform="gitlab", python_version="3.12")


@pytest.fixture(params=REMOTES)
def generated(request, projects) -> tuple[Path, str, dict]:
    project = projects[request.param]
    return project, request.param, yaml.safe_load((project / ".gitlab-ci.yml").read_text())


def script(job: dict) -> list[str]:
    """The job's before_script (the default one if it has none) and script, anchors flattened."""

    def flat(lines: list) -> list[str]:
        nested = (flat(item) if isinstance(item, list) else [item] for item in lines)
        return [line for items in nested for line in items]

    return flat(job.get("before_script", [])) + flat(job["script"])


def test_stages_and_rules(generated):
    project, remote, pipeline = generated
    assert pipeline["stages"] == ["check", "publish", "promote", "refresh"]
    jobs = {name: job for name, job in pipeline.items() if "script" in (job or {})}
    assert set(jobs) == {"check", "publish", "promote", "service-image", "refresh"}
    assert jobs["check"]["stage"] == "check" and jobs["publish"]["stage"] == "publish"
    assert jobs["check"]["rules"] == [{"if": MERGE_REQUEST}]
    (publish_rule,) = jobs["publish"]["rules"]
    if remote in ("local", "none"):  # out of the runners' reach: publishing is opt-in
        assert publish_rule == {"if": f'{DEFAULT_BRANCH} && $PUBLISH == "true"'}
    else:
        assert publish_rule == {"if": DEFAULT_BRANCH}
    assert jobs["check"]["interruptible"] is True
    assert jobs["publish"]["resource_group"] == "publish" and "cache" not in jobs["publish"]
    assert pipeline["variables"]["GIT_DEPTH"] == "0"  # the merge-base and earlier versions' tags
    assert jobs["check"]["artifacts"]["when"] == "always"
    assert set(jobs["check"]["artifacts"]["paths"]) == {
        "report.md",
        "report-full.md",
        "repro.log",
        "pytest.log",
    }
    assert not (project / ".github").exists()
    assert "CI_PLATFORM ?= gitlab" in (project / "Makefile").read_text()


def test_promotion_runs_by_hand_in_the_protected_environment(generated):
    _, _, pipeline = generated
    by_hand = '$CI_PIPELINE_SOURCE == "web" && $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH && $VERSION'
    for name in ("promote", "service-image"):
        job = pipeline[name]
        assert job["stage"] == "promote" and job["rules"] == [{"if": by_hand}]
        assert job["environment"]["name"] == "production" and job["resource_group"] == "promote"
    assert pipeline["service-image"]["needs"] == ["promote"]
    assert "dist/" in pipeline["promote"]["artifacts"]["paths"]
    # The image that builds the service's image, and its Docker engine, pinned by digest.
    images = [pipeline["service-image"]["image"], pipeline["service-image"]["services"][0]["name"]]
    assert all(re.fullmatch(r"docker:[\w.-]+@sha256:[0-9a-f]{64}", image) for image in images)
    assert script(pipeline["promote"])[-1] == "make promote"


def test_the_data_refresh_runs_on_a_schedule_or_by_hand_and_withholds_the_tokens(generated):
    _, remote, pipeline = generated
    job = pipeline["refresh"]
    on_default_branch = "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"
    assert job["stage"] == "refresh" and job["rules"] == [
        {"if": f'$CI_PIPELINE_SOURCE == "schedule" && {on_default_branch}'},
        {"if": f'$CI_PIPELINE_SOURCE == "web" && {on_default_branch} && $REFRESH == "true"'},
    ]
    # No other job's rule lets a schedule in; a run by hand needs VERSION for promotion.
    for name, other in pipeline.items():
        if name != "refresh" and "rules" in (other or {}):
            assert all("schedule" not in rule["if"] for rule in other["rules"]), name
            assert all("REFRESH" not in rule["if"] for rule in other["rules"]), name
    assert job["resource_group"] == "refresh" and "cache" not in job
    assert job["variables"]["HAND_OFF"] == "refresh-results"
    lines = script(job)
    # The pipeline's code runs without either token; the step that pushes runs none of it.
    assert lines[-2:] == ["env -u GITLAB_TOKEN -u CI_PUSH_TOKEN make refresh", "make refresh-mr"]
    assert ("export TRUSTED=0" in lines) == (remote in ("local", "none"))
    assert set(job["artifacts"]["paths"]) == {"refresh.md", "report.md", "refresh-results/"}


def test_jobs_only_prepare_the_runner_and_call_make(generated):
    _, remote, pipeline = generated
    before = pipeline["default"]["before_script"]
    assert pipeline["default"]["image"] == "python:3.12-bookworm"
    pinned = re.search(r"^uv==\S+$", (TEMPLATE / "requirements-dev.txt").read_text(), re.M)
    assert f'"{pinned[0]}"' in before[0]  # the uv the template's own tools use
    check, publish = script(pipeline["check"]), script(pipeline["publish"])
    makes = [re.findall(r"\bmake [\w-]+", line) for line in check + publish]
    assert [make for found in makes for make in found] == [
        "make ci-pr",
        "make comment",
        "make ci-publish",
    ]
    assert pipeline["check"]["variables"]["BASE"] == "origin/$CI_MERGE_REQUEST_TARGET_BRANCH_NAME"
    assert pipeline["check"]["variables"]["BRANCH"] == "$CI_MERGE_REQUEST_SOURCE_BRANCH_NAME"
    fetch = f"refs/remotes/origin/$CI_MERGE_REQUEST_TARGET_BRANCH_NAME{chr(34)}"
    assert any(line.startswith("git fetch") and line.endswith(fetch) for line in check)
    # Trusted only in this project's branches, with the remote's credentials.
    trusted = [line for line in check if "TRUSTED=" in line]
    if remote in ("local", "none"):
        assert trusted == ["export TRUSTED=0"]
    else:
        (line,) = trusted
        assert (
            f'[ -n "${{{REMOTE_SECRETS[remote][-1]}:-}}" ]' in line
            and '"$SAME_PROJECT" = 1' in line
        )
    # The check's own code runs without the API token; the note is posted even when it fails.
    (ci_pr,) = [line for line in check if "make ci-pr" in line]
    assert "env -u GITLAB_TOKEN make ci-pr || status=$?" in ci_pr
    assert check[-1] == 'exit "$status"'


def test_no_line_prints_a_secret(generated):
    project, remote, pipeline = generated
    text = (project / ".gitlab-ci.yml").read_text()
    assert "set -x" not in text and "CI_DEBUG_TRACE" not in text
    lines = [line for job in ("check", "publish", "refresh") for line in script(pipeline[job])]
    helpers = [line for line in lines if CREDENTIAL_HELPER.fullmatch(line)]
    assert len(helpers) == 3  # the check's, the publish job's and the refresh's
    for line in lines:
        for secret in [*TOKENS, *REMOTE_SECRETS[remote]]:
            for use in re.finditer(rf"\$\{{?{secret}\b", CREDENTIAL_HELPER.sub("", line)):
                before = line[: use.start()]
                assert not re.search(r"\b(echo|printf|cat|tee)\b[^;|&]*$", before), line
    readme = (project / "README.md").read_text()
    assert "## Merge requests and releases" in readme
    for variable in [*TOKENS, *REMOTE_SECRETS[remote]]:
        assert f"`{variable}`" in readme


def test_scripts_are_valid_shell(projects):
    for project in projects.values():
        pipeline = yaml.safe_load((project / ".gitlab-ci.yml").read_text())
        for job in ("check", "publish", "refresh"):
            lines = script({**pipeline["default"], **pipeline[job]})
            result = subprocess.run(["bash", "-n"], input="\n".join(lines), text=True)
            assert result.returncode == 0, f"{job} in {project}"
