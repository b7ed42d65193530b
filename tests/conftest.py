"""Baking helpers shared by the template's tests."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parents[1]
# The template's own tools (ruff, dvc, uv) sit beside the Python running the tests.
TOOLS = Path(sys.executable).parent
DEFAULT_SLUG = "churn-model"


def bake(output_dir: Path, **answers: str) -> Path:
    """Generate a project from this checkout with ``answers``; return its folder."""
    output_dir.mkdir(parents=True, exist_ok=True)
    return Path(
        cookiecutter(
            str(TEMPLATE), no_input=True, extra_context=answers, output_dir=str(output_dir)
        )
    )


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


@pytest.fixture(autouse=True, scope="session")
def _environment() -> None:
    # DVC's usage analytics would try the network from every command.
    os.environ["DVC_NO_ANALYTICS"] = "1"
    # Tests commit in baked projects; a machine without a Git identity must not stop them.
    for role in ("AUTHOR", "COMMITTER"):
        os.environ.setdefault(f"GIT_{role}_NAME", "Template Tests")
        os.environ.setdefault(f"GIT_{role}_EMAIL", "tests@example.com")
