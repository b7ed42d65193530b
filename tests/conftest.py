"""Baking helpers shared by the template's tests."""

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import pytest
from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parents[1]
PROJECT_TEMPLATE = TEMPLATE / "{{cookiecutter.project_slug}}"
# The template's own tools (ruff, dvc, uv) sit beside the Python running the tests.
TOOLS = Path(sys.executable).parent
DEFAULT_SLUG = "diagnosis-model"
SAMPLE = {"classification": "breast_cancer.csv", "regression": "diabetes.csv"}
# What a scheduled refresh of the classification project's imported data/raw/diagnoses.csv
# commits to the branch data-refresh: the .dvc file and the results, nothing else.
REFRESHED = {
    "data/raw/diagnoses.csv.dvc",
    "dvc.lock",
    "metrics/bootstrap.json",
    "metrics/metrics.json",
    *(f"metrics/plots/{name}" for name in ("importance.csv", "predictions.csv", "roc.csv")),
}
# Set to 1, the post-generation hook leaves Git and DVC out (the README's Tests section).
SKIP_GIT_DVC = "COOKIECUTTER_DVC_CML_SKIP_GIT_DVC"
REMOTES = json.loads((TEMPLATE / "cookiecutter.json").read_text())["dvc_remote"]
REMOTE_URLS = {"s3": "s3://bucket/p", "gs": "gs://bucket/p", "azure": "azure://container/p"}
# The DVC remote's credentials per remote, as CI secrets; the README tells users to set them.
REMOTE_SECRETS = {
    "local": [],
    "none": [],
    "s3": ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"],
    "gs": ["GCP_CREDENTIALS"],
    "azure": ["AZURE_STORAGE_CONNECTION_STRING"],
}


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


def activated(
    project: Path, script: str, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run ``script`` with bash in a generated project, its environment activated, as its
    developer would (with the template's tools, uv among them, on PATH)."""
    return run(
        "bash",
        "-c",
        f". .venv/bin/activate && {script}",
        cwd=project,
        check=check,
        env={"PATH": f"{TOOLS}{os.pathsep}{os.environ['PATH']}", **(env or {})},
    )


def bake_per_remote(root: Path, **answers: str) -> dict[str, Path]:
    """A project for every kind of DVC remote, baked without Git and DVC, by remote."""
    return {
        remote: bake(
            root / remote,
            set_up=False,
            dvc_remote=remote,
            **({"dvc_remote_url": REMOTE_URLS[remote]} if remote in REMOTE_URLS else {}),
            **answers,
        )
        for remote in REMOTES
    }


@dataclass
class Loop:
    """A generated project and its bare Git ``origin``, driven as its developer would."""

    path: Path
    origin: Path

    def environment(self) -> dict[str, str]:
        """Variables the project's commands get beside the activated environment."""
        return {}

    def sh(self, script: str, check: bool = True, cwd: Path | None = None):
        """Run ``script`` with bash in the project (or ``cwd``), its environment activated."""
        return activated(cwd or self.path, script, check, self.environment())

    def branch(self, name: str) -> None:
        """A new branch from origin/main, in a clean workspace."""
        self.sh("git reset -q --hard && git clean -qfd && git checkout -q main")
        self.sh(f"git fetch -q origin && git checkout -q -B {name} origin/main")
        self.sh("dvc checkout --quiet --force --allow-missing")

    def edit(self, path: str, old: str, new: str) -> None:
        file = self.path / path
        text = file.read_text()
        assert old in text, f"{old!r} not in {path}"
        file.write_text(text.replace(old, new, 1))

    def commit(self, message: str) -> None:
        self.sh(f"git commit -q -am '{message}'")


def reproduced_on_origin(root: Path, kind: type[Loop] = Loop) -> Loop:
    """A project baked into ``root`` and set up, its pipeline reproduced and committed, and main
    pushed to a bare ``origin`` beside it: the start of every CI loop."""
    project = bake(root)
    origin = root / "origin.git"
    run("git", "init", "--quiet", "--bare", "--initial-branch=main", str(origin), cwd=root)
    loop = kind(project, origin)
    run("make", "setup", cwd=project, env={"PATH": f"{TOOLS}{os.pathsep}{os.environ['PATH']}"})
    loop.sh("dvc repro --quiet && git add --all && git commit -q -m 'Reproduce the pipeline'")
    loop.sh(f"git remote add origin {origin} && git push -q origin main")
    return loop


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
    "github": {
        ".github/workflows/pull-request.yml",
        ".github/workflows/publish.yml",
        ".github/workflows/promote.yml",
        ".github/workflows/refresh.yml",
    },
    "gitlab": {".gitlab-ci.yml"},
}


def expected_files(module: str, task: str, *, set_up: bool, platform: str = "github") -> set[str]:
    """The exact set of a baked project's files: those it commits after the hook's full set-up,
    or those on disk after a bake without Git and DVC (no DVC files; the sample data itself)."""
    package = rendered_files("src", module, "*.py")
    assert {"prepare.py", "train.py", "evaluate.py", "copy_evaluation.py", "models.py"} <= {
        Path(name).name for name in package
    }
    sample = f"data/raw/{SAMPLE[task]}"
    files = {
        ".cookiecutter.json",
        ".dockerignore",
        ".gitignore",
        "Dockerfile",
        "LICENSE",
        "Makefile",
        "README.md",
        "data/raw/.gitignore",
        "dvc.yaml",
        "params.yaml",
        "pipeline-requirements.txt",
        "pyproject.toml",
        "requirements.txt",
        "requirements-dask.txt",
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
    # Each generated project's `make setup` skips compiling every installed module (about 40 s
    # of CPU each, and the suite sets up dozens), and Python writes the bytecode of what it
    # imports instead, once per environment. test_project.py sets one project up as users do.
    os.environ["UV_COMPILE_BYTECODE"] = "0"
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    # Two test workers share two cores, each often running a generated pipeline: OpenMP threads
    # of one (gradient boosting) spinning against the other's made one evaluate stage take 286 s
    # instead of 5. One thread per process; results do not depend on it (the project's tests
    # check the model bytes across thread counts).
    os.environ["OMP_NUM_THREADS"] = "1"
    # Tests commit in baked projects; a machine without a Git identity must not stop them.
    for role in ("AUTHOR", "COMMITTER"):
        os.environ.setdefault(f"GIT_{role}_NAME", "Template Tests")
        os.environ.setdefault(f"GIT_{role}_EMAIL", "tests@example.com")


# The files whose tests take longest, roughly in seconds on 2 cores: run first, so that the two
# workers (pytest.ini: whole files each, in collection order) end together rather than one
# starting a five-minute file when the other has nothing left. A file not listed runs after.
LONGEST_FILES = {
    "test_actions.py": 480,
    "test_datasets.py": 330,
    "test_gitlab_pipeline.py": 260,
    "test_project.py": 250,
    "test_bench.py": 170,
    "test_dask.py": 170,
    "test_adversarial_project.py": 150,
    "test_ci_loop.py": 150,
    "test_release.py": 130,
    "test_worked_example.py": 115,
    "test_adopt.py": 95,
    "test_python_versions.py": 85,
    "test_update.py": 60,
    "test_serve.py": 50,
    "test_any_repo.py": 35,
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest files first, each file's tests in their own order."""
    items.sort(key=lambda item: -LONGEST_FILES.get(item.path.name, 0))
