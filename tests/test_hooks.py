"""Invalid answers stop cookiecutter with one clear line and leave no folder behind."""

import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from conftest import TEMPLATE, TOOLS, git_files, run

INVALID = {
    "module named src": ({"module_name": "src"}, "module_name 'src'"),
    "module not an identifier": ({"project_name": "2 Fast"}, "not a Python identifier"),
    "module a keyword": ({"module_name": "class"}, "not a Python identifier"),
    "slug with a space": ({"project_slug": "my project"}, "not a usable folder name"),
    "s3 with a gs url": ({"dvc_remote": "s3", "dvc_remote_url": "gs://b/p"}, "start with s3://"),
    "gs with a path": ({"dvc_remote": "gs", "dvc_remote_url": "/data/store"}, "start with gs://"),
    "azure without url": ({"dvc_remote": "azure", "dvc_remote_url": ""}, "dvc_remote_url is empty"),
    "local with a url": ({"dvc_remote": "local", "dvc_remote_url": "s3://b"}, "a folder path"),
    "none with a url": ({"dvc_remote": "none", "dvc_remote_url": "../x"}, "leave the URL empty"),
    "e-mail": ({"author_email": "nobody"}, "not an e-mail address"),
}


def cookiecutter_cli(output: Path, answers: dict[str, str]):
    pairs = [f"{key}={value}" for key, value in answers.items()]
    return run(
        sys.executable,
        "-m",
        "cookiecutter",
        "--no-input",
        "--output-dir",
        str(output),
        str(TEMPLATE),
        *pairs,
        cwd=output,
        check=False,
    )


@pytest.mark.parametrize(("answers", "message"), INVALID.values(), ids=INVALID.keys())
def test_invalid_answer_is_refused_cleanly(tmp_path, answers, message):
    result = cookiecutter_cli(tmp_path, answers)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and message in errors[0], result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="session")
def python_without_dvc(tmp_path_factory) -> Path:
    """A Python that has cookiecutter but not DVC, as after `pipx install cookiecutter`."""
    venv = tmp_path_factory.mktemp("no-dvc") / "venv"
    uv = str(TOOLS / "uv")
    run(uv, "venv", "--quiet", "--python", sys.executable, str(venv), cwd=venv.parent)
    python = venv / "bin" / "python"
    run(
        uv,
        "pip",
        "install",
        "--quiet",
        "--python",
        str(python),
        "cookiecutter==2.7.1",
        cwd=venv.parent,
    )
    return python


def path_without(*directories: Path) -> str:
    keep = [p for p in os.environ["PATH"].split(os.pathsep) if Path(p) not in directories]
    return os.pathsep.join(keep)


def finish_by_hand(project: Path, printed: str) -> None:
    """Run the commands the hook printed, after `make setup`, as the message says."""
    finish = re.search(r"after `make setup` run `([^`]+)`\.", printed)
    assert finish, printed
    env = {"PATH": f"{TOOLS}{os.pathsep}{os.environ['PATH']}"}
    run("make", "setup", cwd=project, env=env)
    run("bash", "-c", finish.group(1), cwd=project, env=env)
    assert "data/raw/breast_cancer.csv.dvc" in git_files(project)
    assert run("git", "status", "--porcelain", cwd=project).stdout == ""


@pytest.mark.slow
def test_without_dvc_the_project_is_valid_and_says_how_to_finish(tmp_path, python_without_dvc):
    path = path_without(TOOLS)
    if shutil.which("dvc", path=path):
        pytest.skip("dvc is installed system-wide")
    result = run(
        str(python_without_dvc),
        "-m",
        "cookiecutter",
        "--no-input",
        str(TEMPLATE),
        cwd=tmp_path,
        env={"PATH": path},
    )
    project = tmp_path / "churn-model"
    assert "DVC not found" in result.stdout
    assert not (project / ".dvc").exists()
    assert git_files(project) >= {"dvc.yaml", "params.yaml", "data/raw/.gitignore"}
    assert (project / "data/raw/breast_cancer.csv").is_file()
    finish_by_hand(project, result.stdout)


@pytest.mark.slow
def test_without_git_the_files_are_all_there(tmp_path, python_without_dvc):
    empty = tmp_path / "empty-path"
    empty.mkdir()
    result = run(
        str(python_without_dvc),
        "-m",
        "cookiecutter",
        "--no-input",
        "--output-dir",
        str(tmp_path),
        str(TEMPLATE),
        cwd=tmp_path,
        env={"PATH": str(empty)},
    )
    project = tmp_path / "churn-model"
    assert "Git and DVC not found" in result.stdout
    assert not (project / ".git").exists()
    for name in ("dvc.yaml", "params.yaml", "Makefile", "data/raw/breast_cancer.csv", "LICENSE"):
        assert (project / name).is_file()
    finish_by_hand(project, result.stdout)
