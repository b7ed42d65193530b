"""Slow tier: a default project on each Python version the answers offer, set up with that
version's interpreter as its README tells a user, reproduced and tested; the results are the same
on every version.
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import TEMPLATE, TOOLS, activated, bake, run

pytestmark = pytest.mark.slow
VERSIONS = json.loads((TEMPLATE / "cookiecutter.json").read_text())["python_version"]
# The outputs whose bytes differ between these versions, by path in dvc.lock (none).
DIFFERENT_ON_SOME_VERSION: set[str] = set()


def runs_here(version: str, cwd: Path) -> bool:
    """Whether ``python<version>`` on PATH starts in ``cwd`` (a pyenv shim of an installed but
    inactive version is on PATH and exits 127)."""
    found = shutil.which(f"python{version}")
    starts = subprocess.run([found or "false", "-c", ""], cwd=cwd, capture_output=True)
    return starts.returncode == 0


def set_up(project: Path, version: str) -> None:
    """``make setup`` as the README says: with pyenv, its ``pyenv local`` command first when
    ``python<version>`` is not active."""
    if not runs_here(version, project):
        if not shutil.which("pyenv"):
            pytest.fail(f"Python {version} is not installed: python{version} is not on PATH")
        readme = (project / "README.md").read_text()
        command = re.search(r"`(pyenv local [^`]+)`", readme)[1]
        assert command == f"pyenv local {version}"
        run(*command.split(), cwd=project)
        assert runs_here(version, project)
    # The uv cache the other tests' set-ups use (uv's default); uv from the template's tools.
    run("make", "setup", cwd=project, env={"PATH": f"{TOOLS}{os.pathsep}{os.environ['PATH']}"})


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory) -> dict[str, Path]:
    """A default project per Python version, set up and its pipeline reproduced, by version: on
    a new project `dvc repro` runs every stage, as `dvc repro --force` would."""
    projects = {}
    # Only the README's way selects the version: nothing from the shell running the tests.
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("PYENV_VERSION", raising=False)
        patch.delenv("UV_PYTHON", raising=False)
        for version in VERSIONS:
            project = bake(tmp_path_factory.mktemp(f"python{version}"), python_version=version)
            set_up(project, version)
            output = activated(project, "dvc repro").stdout
            assert output.count("Running stage") == 4, output
            projects[version] = project
        yield projects


@pytest.mark.parametrize("version", VERSIONS)
def test_the_environment_runs_the_version_and_the_project_s_tests_pass(reproduced, version):
    project = reproduced[version]
    python = activated(project, "python -c 'import sys; print(*sys.version_info[:2], sep=\".\")'")
    assert python.stdout.strip() == version
    tests = run("make", "test", cwd=project)
    assert " passed" in tests.stdout and " failed" not in tests.stdout


def test_dvc_lock_is_the_same_on_every_version(reproduced):
    locks = {
        version: yaml.safe_load((project / "dvc.lock").read_text())
        for version, project in reproduced.items()
    }
    first, *others = VERSIONS
    different = set()
    for version in others:
        for name, stage in locks[first]["stages"].items():
            other = locks[version]["stages"][name]
            assert other["cmd"] == stage["cmd"] and other.get("params") == stage.get("params")
            for kind in ("deps", "outs"):
                hashes = {entry["path"]: entry.get("md5") for entry in other[kind]}
                assert hashes.keys() == {entry["path"] for entry in stage[kind]}, (name, kind)
                different |= {e["path"] for e in stage[kind] if hashes[e["path"]] != e.get("md5")}
    assert different == DIFFERENT_ON_SOME_VERSION, f"differ between versions: {sorted(different)}"
    if not DIFFERENT_ON_SOME_VERSION:
        texts = {(project / "dvc.lock").read_text() for project in reproduced.values()}
        assert len(texts) == 1


def test_the_readme_names_the_libraries_pinned_per_version(reproduced):
    """The README says which computing libraries differ between versions (and that the results
    do not): those ``pipeline-requirements.txt`` pins per Python version."""
    project = reproduced[VERSIONS[0]]
    pins = (project / "pipeline-requirements.txt").read_text().splitlines()
    per_version = {line.split("==")[0] for line in pins if "python_full_version" in line}
    assert per_version == {"numpy", "scipy"}
    readme = " ".join((project / "README.md").read_text().split())
    assert "3.13 give the same results, byte for byte," in readme
    assert "pins newer NumPy and SciPy" in readme
