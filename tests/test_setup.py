"""Slow tier: the post-generation hook's Git and DVC set-up, once per kind of DVC remote.

The fast tier bakes without it (test_bake.py); here each remote is baked as a user gets it.
"""

import configparser
import itertools
import json
import os
import re

import pytest

from conftest import (
    DEFAULT_SLUG,
    SAMPLE,
    SKIP_GIT_DVC,
    TEMPLATE,
    TOOLS,
    bake,
    expected_files,
    files_on_disk,
    git_files,
    run,
)

pytestmark = pytest.mark.slow
CHOICES = json.loads((TEMPLATE / "cookiecutter.json").read_text())
# Each remote once, the tasks (whose sample data differ) cycled through them.
REMOTES = dict(zip(CHOICES["dvc_remote"], itertools.cycle(CHOICES["task"]), strict=False))


@pytest.fixture(scope="module", params=list(REMOTES))
def baked(request, tmp_path_factory):
    remote, task = request.param, REMOTES[request.param]
    answers = {"dvc_remote": remote, "task": task}
    return bake(tmp_path_factory.mktemp(remote), **answers), answers


def test_exact_committed_file_set(baked):
    project, answers = baked
    assert git_files(project) == expected_files("diagnosis_model", answers["task"], set_up=True)
    # Only the DVC-tracked sample data is on disk without being in Git.
    assert files_on_disk(project) - git_files(project) == {f"data/raw/{SAMPLE[answers['task']]}"}


def test_remote_configured(baked):
    project, answers = baked
    config = configparser.ConfigParser()
    config.read(project / ".dvc" / "config")
    remotes = [s for s in config.sections() if s.startswith("'remote")]
    requirements = (project / "requirements.txt").read_text()
    if answers["dvc_remote"] == "none":
        assert remotes == []
        return
    assert config["core"]["remote"] == "storage"
    url = config["'remote \"storage\"'"]["url"]
    if answers["dvc_remote"] == "local":
        # Stored relative to .dvc/, so the project folder can move; it points outside it.
        assert (project / ".dvc" / url).resolve() == (
            project.parent / "diagnosis-model-dvc-storage"
        )
    else:
        assert url.startswith(f"{answers['dvc_remote']}://")
        assert f"\ndvc-{answers['dvc_remote']}==" in requirements


def test_git_has_one_clean_commit(baked):
    project, _ = baked
    log = run("git", "log", "--format=%s", cwd=project).stdout.splitlines()
    assert log == ["Create project from cookiecutter-dvc-cml"]
    assert run("git", "status", "--porcelain", cwd=project).stdout == ""
    assert run("git", "branch", "--show-current", cwd=project).stdout.strip() == "main"


def test_without_git_and_dvc_the_printed_commands_finish_the_same_project(tmp_path):
    result = run(
        str(TOOLS / "cookiecutter"),
        "--no-input",
        str(TEMPLATE),
        cwd=tmp_path,
        env={SKIP_GIT_DVC: "1"},
    )
    # The project's own environment would provide DVC; the template's does here.
    finish = re.search(
        r"after `make setup` run `\. \.venv/bin/activate && ([^`]+)`\.", result.stdout
    )
    assert finish, result.stdout
    project = tmp_path / DEFAULT_SLUG
    run(
        "bash",
        "-e",
        "-c",
        finish.group(1),
        cwd=project,
        env={"PATH": f"{TOOLS}{os.pathsep}{os.environ['PATH']}"},
    )
    assert git_files(project) == expected_files("diagnosis_model", "classification", set_up=True)
    assert run("git", "status", "--porcelain", cwd=project).stdout == ""
