"""Invalid answers stop cookiecutter with one clear line and leave no folder behind."""

import os
import re
import shutil
import sys
from importlib import metadata
from pathlib import Path

import pytest
from click.testing import CliRunner
from cookiecutter.cli import main as cookiecutter_main
from packaging.requirements import Requirement

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
    "module shadowing a package": (
        {"module_name": "pandas"},
        "module_name 'pandas' is also a module of a package the project installs, so",
    ),
    "module shadowing the standard library": (
        {"project_name": "Json"},
        "module_name 'json' is also a module of Python's standard library, so",
    ),
}


def cookiecutter_cli(output: Path, answers: dict[str, str], capfd) -> tuple[int, str]:
    """Cookiecutter's command line with ``answers``: its exit code and all it printed to stderr.

    Run in this process (starting Python and importing cookiecutter took most of the time);
    the hooks still run as child processes, so their output is read from file descriptor 2.
    """
    pairs = [f"{key}={value}" for key, value in answers.items()]
    args = ["--no-input", "--output-dir", str(output), str(TEMPLATE), *pairs]
    result = CliRunner().invoke(cookiecutter_main, args)
    # The command exits by itself, as it does for a user; anything else would print a traceback.
    assert isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stderr + capfd.readouterr().err


@pytest.mark.parametrize(("answers", "message"), INVALID.values(), ids=INVALID.keys())
def test_invalid_answer_is_refused_cleanly(tmp_path, capfd, answers, message):
    code, stderr = cookiecutter_cli(tmp_path, answers, capfd)
    assert code != 0
    errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and message in errors[0], stderr
    assert "Traceback" not in stderr  # cookiecutter's own, of its hook runner, says nothing more
    assert list(tmp_path.iterdir()) == []


def top_level_modules(distribution: metadata.Distribution) -> set[str]:
    """What `import <name>` finds of an installed distribution: its top-level packages and
    modules (top_level.txt where it has one, else its files)."""
    listed, files = distribution.read_text("top_level.txt"), distribution.files or []
    names = set(listed.split()) if listed else {file.parts[0] for file in files if file.parts[1:]}
    names |= {file.stem for file in files if len(file.parts) == 1 and file.suffix == ".py"}
    # Private names (_yaml) are not what a project is called.
    return {name for name in names if name.isidentifier() and not name.startswith("_")}


def test_the_hook_knows_every_module_the_project_installs():
    """The hook's list against the packages the lock files pin, as installed beside the tests
    (the Dask engine's too); the cloud remotes' plugins are not installed here."""
    hook = (TEMPLATE / "hooks/pre_gen_project.py").read_text()
    listed = set(re.search(r'INSTALLED_MODULES = set\(\s*"""(.*?)"""', hook, re.S)[1].split())
    project = TEMPLATE / "{{cookiecutter.project_slug}}"
    pinned = (project / "requirements/base.txt").read_text()
    pinned += (project / "requirements-dask.txt").read_text()
    modules = set()
    for line in pinned.splitlines():
        if line and not line.startswith((" ", "#")):
            requirement = Requirement(line)  # those for another platform (pywin32) are left out
            if requirement.marker is None or requirement.marker.evaluate():
                modules |= top_level_modules(metadata.distribution(requirement.name))
    assert modules - listed == set()
    assert {"sklearn", "dvc_ml_kit", "lightgbm", "yaml"} <= listed


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
    project = tmp_path / "diagnosis-model"
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
    project = tmp_path / "diagnosis-model"
    assert "Git and DVC not found" in result.stdout
    assert not (project / ".git").exists()
    for name in ("dvc.yaml", "params.yaml", "Makefile", "data/raw/breast_cancer.csv", "LICENSE"):
        assert (project / name).is_file()
    finish_by_hand(project, result.stdout)


@pytest.mark.slow
def test_dvc_from_path_sets_up_the_repository_when_cookiecutter_s_python_has_none(
    tmp_path, python_without_dvc
):
    """The hook runs DVC in its own process when cookiecutter's Python has it (every other
    bake here), else the `dvc` on PATH, as after `pipx install cookiecutter` and `pipx install
    dvc`."""
    path = f"{TOOLS}{os.pathsep}{os.environ['PATH']}"
    assert shutil.which("dvc", path=path)
    result = run(
        str(python_without_dvc), "-m", "cookiecutter", "--no-input", str(TEMPLATE),
        cwd=tmp_path, env={"PATH": path},
    )  # fmt: skip
    assert "DVC initialised; data/raw/breast_cancer.csv tracked by DVC" in result.stdout
    project = tmp_path / "diagnosis-model"
    assert "data/raw/breast_cancer.csv.dvc" in git_files(project)
    config = (project / ".dvc/config").read_text()
    assert "remote = storage" in config and "diagnosis-model-dvc-storage" in config
    assert run("git", "status", "--porcelain", cwd=project).stdout == ""
