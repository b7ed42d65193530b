"""Baking helpers shared by the template's tests."""

import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parents[1]
PROJECT_TEMPLATE = TEMPLATE / "{{cookiecutter.project_slug}}"
# The template's own tools (ruff, dvc, uv) sit beside the Python running the tests.
TOOLS = Path(sys.executable).parent
DEFAULT_SLUG = "churn-model"
SAMPLE = {"classification": "breast_cancer.csv", "regression": "diabetes.csv"}
# Set to 1, the post-generation hook leaves Git and DVC out (the README's Tests section).
SKIP_GIT_DVC = "COOKIECUTTER_DVC_CML_SKIP_GIT_DVC"


def bake(output_dir: Path, *, set_up: bool = True, **answers: str) -> Path:
    """Generate a project from this checkout with ``answers``; return its folder.

    With ``set_up=False`` the hook skips Git and DVC, most of a bake's time: for checks of the
    files alone.
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    # Explicit either way, so that a variable exported in the shell changes no test.
    with mock.patch.dict(os.environ, {SKIP_GIT_DVC: "0" if set_up else "1"}):
        folder = cookiecutter(
            str(TEMPLATE), no_input=True, extra_context=answers, output_dir=str(output_dir)
        )
    return Path(folder)


def run(
    *command: str, cwd: Path, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run a command, capturing its output; on an unexpected exit code show what it printed."""
    result = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, env={**os.environ, **(env or {})}
    )
    if check and result.returncode != 0:
        pytest.fail(
            f"{' '.join(command)} exited {result.returncode}\n"
            f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        )
    return result


def git_files(project: Path) -> set[str]:
    """Files committed in the project's Git repository."""
    return set(run("git", "ls-files", cwd=project).stdout.split())


def files_on_disk(project: Path) -> set[str]:
    """Project files, leaving out Git's and DVC's own stores."""
    skip = (".git/", ".dvc/cache/", ".dvc/tmp/")
    return {
        relative
        for path in project.rglob("*")
        if path.is_file()
        and not (relative := path.relative_to(project).as_posix()).startswith(skip)
    }


def rendered_files(folder: str, module: str, pattern: str = "*") -> set[str]:
    """Files of the project template's ``folder`` at any depth, named as in a baked project."""
    return {
        path.relative_to(PROJECT_TEMPLATE)
        .as_posix()
        .replace("{{cookiecutter.module_name}}", module)
        for path in (PROJECT_TEMPLATE / folder).rglob(pattern)
        if path.is_file() and "__pycache__" not in path.parts
    }


# The CI files each platform's projects get (the hook deletes the other platform's).
CI_FILES = {
    "github": {".github/workflows/pull-request.yml", ".github/workflows/publish.yml"},
    "gitlab": {".gitlab-ci.yml"},
}


def expected_files(module: str, task: str, *, set_up: bool, platform: str = "github") -> set[str]:
    """The exact set of a baked project's files: those it commits after the hook's full set-up,
    or those on disk after a bake without Git and DVC (no DVC files; the sample data itself)."""
    package = rendered_files("src", module, "*.py")
    assert {"prepare.py", "train.py", "evaluate.py", "copy_evaluation.py", "report.py"} <= {
        Path(name).name for name in package
    }
    sample = f"data/raw/{SAMPLE[task]}"
    files = {
        ".cookiecutter.json",
        ".gitignore",
        "LICENSE",
        "Makefile",
        "README.md",
        "data/raw/.gitignore",
        "dvc.yaml",
        "params.yaml",
        "pyproject.toml",
        "requirements.txt",
        *CI_FILES[platform],
        *package,
        *rendered_files("tests", module),
    }
    if set_up:
        return files | {".dvc/.gitignore", ".dvc/config", ".dvcignore", f"{sample}.dvc"}
    return files | {sample}


@pytest.fixture(autouse=True, scope="session")
def _environment() -> None:
    # DVC's usage analytics would try the network from every command.
    os.environ["DVC_NO_ANALYTICS"] = "1"
    # Tests commit in baked projects; a machine without a Git identity must not stop them.
    for role in ("AUTHOR", "COMMITTER"):
        os.environ.setdefault(f"GIT_{role}_NAME", "Template Tests")
        os.environ.setdefault(f"GIT_{role}_EMAIL", "tests@example.com")
