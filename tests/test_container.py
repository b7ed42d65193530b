"""Fast tier: the generated project's service image (Dockerfile), linted with hadolint at warning
level for every Python version; its base image pinned by digest, its user not root, what it
copies present in the project and in the build context, and its command one that dvc-ml-kit
takes. (No Docker daemon here: the image itself is not built.)"""

import json
import re
import shlex

import pytest

from conftest import TEMPLATE, TOOLS, bake, run

VERSIONS = json.loads((TEMPLATE / "cookiecutter.json").read_text())["python_version"]


@pytest.fixture(scope="module")
def projects(tmp_path_factory):
    root = tmp_path_factory.mktemp("container")
    return {
        version: bake(root / version, set_up=False, python_version=version) for version in VERSIONS
    }


def instructions(dockerfile) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments left out."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    lines = [line.strip() for line in text.splitlines()]
    found = [line.split(None, 1) for line in lines if line and not line.startswith("#")]
    return [(parts[0].upper(), parts[1] if len(parts) > 1 else "") for parts in found]


@pytest.mark.parametrize("version", VERSIONS)
def test_hadolint_finds_nothing_at_warning_level(projects, version):
    project = projects[version]
    done = run(
        str(TOOLS / "hadolint"),
        "--no-color",
        "--failure-threshold",
        "warning",
        "Dockerfile",
        cwd=project,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("version", VERSIONS)
def test_the_base_image_is_the_project_s_python_pinned_by_digest(projects, version):
    [base] = [
        args for name, args in instructions(projects[version] / "Dockerfile") if name == "FROM"
    ]
    assert re.fullmatch(rf"python:{re.escape(version)}-slim@sha256:[0-9a-f]{{64}}", base), base


def test_the_service_runs_as_a_user_that_is_not_root(projects):
    steps = instructions(projects[VERSIONS[0]] / "Dockerfile")
    users = [args for name, args in steps if name == "USER"]
    assert users, "no USER: the service would run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    # The user is made in the image, with that id, before it is used.
    made = " ".join(args for name, args in steps if name == "RUN")
    assert re.search(rf"useradd .*--uid {user}\b", made)
    # Switched to after the last COPY: what the image holds is root's, read-only to the service.
    names = [name for name, _ in steps]
    assert names.index("USER") > max(i for i, name in enumerate(names) if name == "COPY")


def test_what_the_image_copies_is_in_the_project_and_the_build_context(projects):
    project = projects[VERSIONS[0]]
    ignore = (project / ".dockerignore").read_text().splitlines()
    assert "*" in ignore  # everything left out, then what the image needs let in
    copied = [
        source
        for name, args in instructions(project / "Dockerfile")
        if name == "COPY"
        for source in shlex.split(args)[:-1]
        if not source.startswith("$")
    ]
    assert {"requirements.txt", "pyproject.toml", "src/"} <= set(copied)
    for source in copied:
        assert (project / source).exists(), source
        assert f"!{source}" in ignore, f"{source} is left out of the build context"
    # The bundles publishing writes (dist/) are in the context; the data and .venv are not.
    assert "!dist/" in ignore and not {"!data/", "!.venv", "!.dvc/"} & set(ignore)


def test_the_command_is_one_dvc_ml_kit_takes(projects):
    steps = dict(instructions(projects[VERSIONS[0]] / "Dockerfile"))
    command = json.loads(steps["CMD"])
    assert command[:3] == ["dvc-ml-kit", "serve", "/srv/bundle"]
    # Its options are serve's: --help lists each one the image passes.
    done = run(str(TOOLS / command[0]), command[1], "--help", cwd=projects[VERSIONS[0]])
    for option in (part for part in command[3:] if part.startswith("--")):
        assert option in done.stdout
    # The health check asks the service's own /health, on the port it listens on.
    assert "/health" in steps["HEALTHCHECK"] and "PORT" in steps["HEALTHCHECK"]
    assert steps["EXPOSE"] == "8000"
