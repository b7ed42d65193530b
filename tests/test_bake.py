"""Fast tier: render every valid combination of answers and check the result's structure."""

import configparser
import itertools
import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml

from conftest import TEMPLATE, TOOLS, bake, git_files, run

CHOICES = json.loads((TEMPLATE / "cookiecutter.json").read_text())
SAMPLE = {"classification": "breast_cancer.csv", "regression": "diabetes.csv"}
URLS = {"s3": "s3://bucket/p", "gs": "gs://bucket/p", "azure": "azure://container/p"}


def combinations() -> list[dict[str, str]]:
    """Every task x remote (the options that change files), cycling the others through them."""
    product = list(itertools.product(CHOICES["task"], CHOICES["dvc_remote"]))
    python = itertools.cycle(CHOICES["python_version"])
    licence = itertools.cycle(CHOICES["license"])
    return [
        {
            "task": task,
            "dvc_remote": remote,
            "python_version": next(python),
            "license": next(licence),
        }
        for task, remote in product
    ]


def expected_files(module: str, task: str) -> set[str]:
    """The exact set of files a baked project commits."""
    project_template = TEMPLATE / "{{cookiecutter.project_slug}}"
    tests = {f"tests/{p.name}" for p in (project_template / "tests").iterdir() if p.is_file()}
    package = TEMPLATE / "{{cookiecutter.project_slug}}" / "src" / "{{cookiecutter.module_name}}"
    modules = {f"src/{module}/{p.relative_to(package).as_posix()}" for p in package.rglob("*.py")}
    assert {"prepare.py", "train.py", "evaluate.py", "copy_evaluation.py", "report.py"} <= {
        Path(name).name for name in modules
    }
    return {
        ".cookiecutter.json",
        ".dvc/.gitignore",
        ".dvc/config",
        ".dvcignore",
        ".gitignore",
        "LICENSE",
        "Makefile",
        "README.md",
        "data/raw/.gitignore",
        f"data/raw/{SAMPLE[task]}.dvc",
        "dvc.yaml",
        "params.yaml",
        "pyproject.toml",
        "requirements.txt",
        ".github/workflows/pull-request.yml",
        ".github/workflows/publish.yml",
        *modules,
        *tests,
    }


def files_on_disk(project: Path) -> set[str]:
    """Project files, leaving out Git's and DVC's own stores."""
    skip = (".git/", ".dvc/cache/", ".dvc/tmp/")
    return {
        relative
        for path in project.rglob("*")
        if path.is_file()
        and not (relative := path.relative_to(project).as_posix()).startswith(skip)
    }


@pytest.fixture(scope="module", params=combinations(), ids=lambda a: "-".join(a.values()))
def baked(request, tmp_path_factory) -> tuple[Path, dict[str, str]]:
    answers = request.param
    out = tmp_path_factory.mktemp("bake")
    return bake(out, **answers), answers


def test_exact_file_set(baked):
    project, answers = baked
    assert git_files(project) == expected_files("churn_model", answers["task"])
    # Only the DVC-tracked sample data is on disk without being in Git.
    assert files_on_disk(project) - git_files(project) == {f"data/raw/{SAMPLE[answers['task']]}"}


def test_no_template_syntax_left(baked):
    project, _ = baked
    for name in files_on_disk(project):
        if not name.endswith(".csv"):
            text = (project / name).read_text(encoding="utf-8")
            text = re.sub(r"\$\{\{.*?\}\}", "", text)  # GitHub Actions expressions
            assert not re.search(r"\{\{|\{%|\{#", text), f"template syntax left in {name}"


def test_config_files_parse(baked):
    project, answers = baked
    parsers = {".toml": tomllib.loads, ".json": json.loads, ".yaml": yaml.safe_load}
    parsers[".yml"] = yaml.safe_load
    parsed = [name for name in files_on_disk(project) if Path(name).suffix in parsers]
    for name in parsed:
        parsers[Path(name).suffix]((project / name).read_text(encoding="utf-8"))
    assert {"pyproject.toml", ".cookiecutter.json", "dvc.yaml", "params.yaml"} <= set(parsed)
    dvc_yaml = yaml.safe_load((project / "dvc.yaml").read_text())
    params = yaml.safe_load((project / "params.yaml").read_text())
    assert list(dvc_yaml["stages"]) == ["prepare", "train", "evaluate", "copy_evaluation"]
    assert dvc_yaml["artifacts"]["model"]["path"] == "models/model.pkl"
    assert params["data"]["task"] == answers["task"]
    header = (project / params["data"]["file"]).read_text().splitlines()[0].split(",")
    assert params["data"]["target"] in header


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
        assert (project / ".dvc" / url).resolve() == (project.parent / "churn-model-dvc-storage")
    else:
        assert url.startswith(f"{answers['dvc_remote']}://")
        assert f"\ndvc-{answers['dvc_remote']}==" in requirements


def test_git_has_one_clean_commit(baked):
    project, _ = baked
    log = run("git", "log", "--format=%s", cwd=project).stdout.splitlines()
    assert log == ["Create project from cookiecutter-dvc-cml"]
    assert run("git", "status", "--porcelain", cwd=project).stdout == ""
    assert run("git", "branch", "--show-current", cwd=project).stdout.strip() == "main"


def test_rendered_python_passes_ruff(baked):
    project, _ = baked
    run(str(TOOLS / "ruff"), "check", "--no-cache", ".", cwd=project)
    run(str(TOOLS / "ruff"), "format", "--no-cache", "--check", ".", cwd=project)


AWKWARD = {
    "quotes": {"project_name": 'The "Best" Model', "description": 'Say "hi" \\ or not'},
    "apostrophes": {"project_name": "Mary's Model", "author_name": "O'Brien d'Arc"},
    "unicode": {"project_name": "Modèle Prévision Ünïcode", "author_name": "Zoë Ñandú 山田"},
    "long": {"project_name": "A " + "very " * 40 + "long name", "description": "x" * 500},
}


@pytest.mark.parametrize("answers", AWKWARD.values(), ids=AWKWARD.keys())
def test_awkward_answers_survive(tmp_path, answers):
    project = bake(tmp_path, **answers)
    assert re.fullmatch(r"[a-z0-9-]{1,50}", project.name)
    meta = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    assert meta["description"] == answers.get("description", CHOICES["description"])
    assert meta["authors"][0]["name"] == answers.get("author_name", CHOICES["author_name"])
    stored = json.loads((project / ".cookiecutter.json").read_text())["cookiecutter"]
    assert stored["project_name"] == answers["project_name"]
    readme = (project / "README.md").read_text(encoding="utf-8")
    assert readme.startswith(f"# {answers['project_name']}\n")
    run(str(TOOLS / "ruff"), "check", "--no-cache", ".", cwd=project)
    run(str(TOOLS / "ruff"), "format", "--no-cache", "--check", ".", cwd=project)


def test_answers_file_replays_the_same_project(tmp_path):
    answers = {"project_name": "Replay Me", "task": "regression", "license": "BSD-3-Clause"}
    first = bake(tmp_path / "first", **answers)
    replay = run(
        str(TOOLS / "cookiecutter"),
        "--replay-file",
        str(first / ".cookiecutter.json"),
        "--output-dir",
        str(tmp_path / "second"),
        str(TEMPLATE),
        cwd=tmp_path,
    )
    second = tmp_path / "second" / first.name
    assert replay.returncode == 0 and second.is_dir()
    assert git_files(second) == git_files(first)
    for name in ("params.yaml", "dvc.yaml", "pyproject.toml", "LICENSE", ".cookiecutter.json"):
        assert (second / name).read_text() == (first / name).read_text()
