"""Fast tier: render every valid combination of answers and check the result's structure.

Each project is baked once, without Git and DVC (test_setup.py checks that set-up, slow tier),
and the checks share it.
"""

import itertools
import json
import os
import re
import tomllib
from pathlib import Path

import pytest
import yaml

from conftest import SKIP_GIT_DVC, TEMPLATE, TOOLS, bake, expected_files, files_on_disk, run

CHOICES = json.loads((TEMPLATE / "cookiecutter.json").read_text())


def combinations() -> list[dict[str, str]]:
    """Every task x remote (the options that change files), cycling the others through them;
    the CI platform alternates so that every remote and every task gets each platform once."""
    tasks, remotes, platforms = CHOICES["task"], CHOICES["dvc_remote"], CHOICES["ci_platform"]
    python = itertools.cycle(CHOICES["python_version"])
    licence = itertools.cycle(CHOICES["license"])
    return [
        {
            "task": task,
            "dvc_remote": remote,
            "python_version": next(python),
            "license": next(licence),
            "ci_platform": platforms[(tasks.index(task) + remotes.index(remote)) % len(platforms)],
        }
        for task, remote in itertools.product(tasks, remotes)
    ]


COMBINATIONS = {"-".join(answers.values()): answers for answers in combinations()}
AWKWARD = {
    "quotes": {"project_name": 'The "Best" Model', "description": 'Say "hi" \\ or not'},
    "apostrophes": {"project_name": "Mary's Model", "author_name": "O'Brien d'Arc"},
    "unicode": {"project_name": "Modèle Prévision Ünïcode", "author_name": "Zoë Ñandú 山田"},
    "long": {"project_name": "A " + "very " * 40 + "long name", "description": "x" * 500},
}


@pytest.fixture(scope="module")
def projects(tmp_path_factory) -> dict[str, Path]:
    """Every combination and every awkward set of answers, baked once, by test id."""
    root = tmp_path_factory.mktemp("bake")
    every = {**COMBINATIONS, **AWKWARD}
    return {name: bake(root / name, set_up=False, **answers) for name, answers in every.items()}


@pytest.fixture(params=list(COMBINATIONS))
def baked(request, projects) -> tuple[Path, dict[str, str]]:
    return projects[request.param], COMBINATIONS[request.param]


def test_exact_file_set(baked):
    project, answers = baked
    expected = expected_files(
        "diagnosis_model", answers["task"], set_up=False, platform=answers["ci_platform"]
    )
    assert files_on_disk(project) == expected


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


def test_ci_runs_the_answered_python(baked):
    """Every CI job that runs a make target runs it on the Python of the answers (the Dockerfile:
    test_container.py)."""
    project, answers = baked
    version, jobs = answers["python_version"], {}
    if answers["ci_platform"] == "github":
        for workflow in (project / ".github/workflows").glob("*.yml"):
            for name, job in yaml.safe_load(workflow.read_text())["jobs"].items():
                steps = job.get("steps", [])
                commands = "\n".join(step.get("run", "") for step in steps)
                pythons = [
                    step["with"]["python-version"]
                    for step in steps
                    if "python-version" in step.get("with", {})
                ]
                jobs[f"{workflow.name}: {name}"] = (commands, pythons)
    else:
        pipeline = yaml.safe_load((project / ".gitlab-ci.yml").read_text())
        image = pipeline["default"]["image"]
        for name, job in pipeline.items():
            if isinstance(job, dict) and "script" in job:
                # json: a script may hold nested lists (YAML anchors).
                jobs[name] = (json.dumps(job["script"]), [job.get("image", image)])
        version = f"python:{version}-bookworm"
    running_make = {
        name: pythons
        for name, (commands, pythons) in jobs.items()
        if re.search(r"\bmake ", commands)
    }
    assert running_make, jobs
    assert all(pythons == [version] for pythons in running_make.values()), running_make
    # No job is set up with another Python (the image that builds the service's has none).
    named = {
        python for _, pythons in jobs.values() for python in pythons if "docker:" not in python
    }
    assert named == {version}, jobs


def test_no_gate_threshold_comes_with_the_project(baked):
    # A threshold shipped with the project would be the sample data's, not the user's.
    project, _ = baked
    gates = yaml.safe_load((project / "params.yaml").read_text())["gates"]
    assert gates["minimum"] == {} and gates["maximum"] == {}
    assert gates["max_drop"] and gates["beat_baseline"]


def test_readme_explains_every_data_setting(baked):
    project, _ = baked
    readme = (project / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Using your own data", 1)[1].split("\n## ", 1)[0]
    data = yaml.safe_load((project / "params.yaml").read_text())["data"]
    for key in data.keys() - {"task", "file", "target"}:
        assert f"`{key}`" in section or f"`data.{key}`" in section, key


def test_rendered_python_passes_ruff(projects):
    # One run over every project (each read with its own pyproject.toml): ruff starts once.
    folders = sorted(str(project) for project in projects.values())
    root = Path(os.path.commonpath(folders))
    run(str(TOOLS / "ruff"), "check", "--no-cache", *folders, cwd=root)
    run(str(TOOLS / "ruff"), "format", "--no-cache", "--check", *folders, cwd=root)


def test_the_environment_is_ignored_as_a_folder_or_a_link(projects, tmp_path):
    ignore = next(iter(projects.values())) / ".gitignore"
    repository = tmp_path / "repository"
    repository.mkdir()
    (repository / ".gitignore").write_text(ignore.read_text())
    run("git", "init", "--quiet", cwd=repository)
    (tmp_path / "shared-environment").mkdir()
    (repository / ".venv").symlink_to(tmp_path / "shared-environment")
    run("git", "check-ignore", "--quiet", ".venv", cwd=repository)


@pytest.mark.parametrize("name", AWKWARD)
def test_awkward_answers_survive(projects, name):
    project, answers = projects[name], AWKWARD[name]
    assert re.fullmatch(r"[a-z0-9-]{1,50}", project.name)
    meta = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    assert meta["description"] == answers.get("description", CHOICES["description"])
    assert meta["authors"][0]["name"] == answers.get("author_name", CHOICES["author_name"])
    stored = json.loads((project / ".cookiecutter.json").read_text())["cookiecutter"]
    assert stored["project_name"] == answers["project_name"]
    readme = (project / "README.md").read_text(encoding="utf-8")
    assert readme.startswith(f"# {answers['project_name']}\n")


def test_answers_file_replays_the_same_project(tmp_path):
    answers = {"project_name": "Replay Me", "task": "regression", "license": "BSD-3-Clause"}
    first = bake(tmp_path / "first", set_up=False, **answers)
    replay = run(
        str(TOOLS / "cookiecutter"),
        "--replay-file",
        str(first / ".cookiecutter.json"),
        "--output-dir",
        str(tmp_path / "second"),
        str(TEMPLATE),
        cwd=tmp_path,
        env={SKIP_GIT_DVC: "1"},
    )
    second = tmp_path / "second" / first.name
    assert replay.returncode == 0 and second.is_dir()
    assert files_on_disk(second) == files_on_disk(first)
    for name in ("params.yaml", "dvc.yaml", "pyproject.toml", "LICENSE", ".cookiecutter.json"):
        assert (second / name).read_text() == (first / name).read_text()


def test_the_project_pins_the_package_at_its_own_version(baked):
    project, _ = baked
    version = tomllib.loads((TEMPLATE / "dvc-ml-kit" / "pyproject.toml").read_text())["project"][
        "version"
    ]
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    assert f"dvc-ml-kit=={version}" in pyproject["dependencies"]
    assert pyproject["optional-dependencies"]["dask"] == [f"dvc-ml-kit[dask]=={version}"]
    for lock in ("requirements.txt", "pipeline-requirements.txt"):
        assert f"\ndvc-ml-kit=={version}\n" in (project / lock).read_text(), lock
    # The local engine's lock holds no Dask; the Dask engine's holds it and LightGBM.
    assert not re.search(
        r"^(dask|distributed|lightgbm)==", (project / "requirements.txt").read_text(), re.M
    )
    dask = (project / "requirements-dask.txt").read_text()
    assert re.search(r"^dask==", dask, re.M) and re.search(r"^lightgbm==", dask, re.M)
