"""Releases: the template's release.yml, and the check of its one version.

Fast: ``make release-check`` (``.ci/release_check.py``) refuses a tag, a package version or a
template pin that disagree, in one sentence each, and release.yml has the shape trusted publishing
needs. Slow: act runs the real release.yml on a clone of this repository tagged with dvc-ml-kit's
version, against a real package index (pypiserver on loopback); a project baked from the tag then
sets up with dvc-ml-kit from that index alone, and reproduces its pipeline.
"""

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from conftest import TEMPLATE, run

SCRIPT = TEMPLATE / ".ci/release_check.py"
WORKFLOW = TEMPLATE / ".github/workflows/release.yml"
VERSION = tomllib.loads((TEMPLATE / "dvc-ml-kit/pyproject.toml").read_text())["project"]["version"]
PROJECT = "{{cookiecutter.project_slug}}"
# The files release_check.py reads, copied for each refusal to break one of them.
VERSION_FILES = [
    "dvc-ml-kit/pyproject.toml",
    f"{PROJECT}/pyproject.toml",
    f"{PROJECT}/pipeline-requirements.txt",
    *(p.relative_to(TEMPLATE).as_posix() for p in (TEMPLATE / PROJECT / "requirements").glob("*")),
]


def release_check(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--root", str(root), *args], capture_output=True, text=True
    )


def refusal(result: subprocess.CompletedProcess) -> str:
    """The one sentence a refused check printed (and nothing else)."""
    assert result.returncode == 1, result
    assert result.stdout == "" and "Traceback" not in result.stderr, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ") and line.endswith("."), line
    return line.removeprefix("error: ")


@pytest.fixture
def versions(tmp_path) -> Path:
    """A copy of the files that hold dvc-ml-kit's version and the template's pins of it."""
    for name in VERSION_FILES:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(TEMPLATE / name, tmp_path / name)
    return tmp_path


def edit(file: Path, old: str, new: str) -> None:
    text = file.read_text()
    assert old in text, f"{old!r} not in {file}"
    file.write_text(text.replace(old, new))


def test_the_tag_the_version_and_the_pins_agree_today(versions):
    result = release_check(versions, f"v{VERSION}")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        f"release-check: tag v{VERSION}, dvc-ml-kit {VERSION} and its pins in "
        f"{len(VERSION_FILES) - 1} files agree\n"
    )


def test_a_tag_that_is_not_a_version_is_refused(versions):
    for tag in ("0.2.0", "vnext", "v0.2.0; rm -rf /", ""):
        args = (tag,) if tag else ()
        sentence = refusal(release_check(versions, *args))
        assert ("no tag to check" if not tag else f"'{tag}' is not a release tag") in sentence
        if tag:
            assert sentence.endswith(f"v{VERSION} for the version in dvc-ml-kit/pyproject.toml.")


def test_a_tag_other_than_the_version_is_refused_with_both_fixes(versions):
    assert refusal(release_check(versions, "v9.9.9")) == (
        f"the tag v9.9.9 does not match dvc-ml-kit's version {VERSION} in "
        f"dvc-ml-kit/pyproject.toml: delete the tag, then either tag v{VERSION}, or bump the "
        "version (make release-bump VERSION=9.9.9), commit and tag again."
    )


def test_a_pin_of_another_version_is_refused_naming_its_files(versions):
    edit(versions / f"{PROJECT}/pyproject.toml", f"[dask]=={VERSION}", "[dask]==0.1.1")
    for name in (f"{PROJECT}/requirements/s3.txt", f"{PROJECT}/pipeline-requirements.txt"):
        edit(versions / name, f"dvc-ml-kit=={VERSION}", "dvc-ml-kit==0.1.0")
    assert refusal(release_check(versions, f"v{VERSION}")) == (
        f"the template pins dvc-ml-kit 0.1.0 and 0.1.1, not {VERSION} (dvc-ml-kit/pyproject.toml), "
        f"in {PROJECT}/pyproject.toml, {PROJECT}/requirements/s3.txt and "
        f"{PROJECT}/pipeline-requirements.txt: run make release-bump VERSION={VERSION}, commit "
        "and tag again."
    )


def test_a_requirements_file_without_the_pin_is_refused(versions):
    edit(versions / f"{PROJECT}/requirements/gs.txt", f"dvc-ml-kit=={VERSION}", "")
    assert refusal(release_check(versions, f"v{VERSION}")) == (
        f"{PROJECT}/requirements/gs.txt pins no dvc-ml-kit version: pin "
        f"dvc-ml-kit=={VERSION} in {PROJECT}/pyproject.toml and re-pin with make lock before "
        "tagging."
    )


def test_an_unreadable_package_version_is_refused(versions):
    edit(versions / "dvc-ml-kit/pyproject.toml", f'version = "{VERSION}"', "version = ")
    sentence = refusal(release_check(versions, f"v{VERSION}"))
    assert sentence.startswith("dvc-ml-kit/pyproject.toml holds no readable [project] version")


def test_a_bump_sets_the_version_and_the_declared_pins_then_the_lock_is_due(versions):
    result = release_check(versions, "--bump", "0.3.0")
    assert result.returncode == 0, result.stderr
    package = tomllib.loads((versions / "dvc-ml-kit/pyproject.toml").read_text())
    assert package["project"]["version"] == "0.3.0"
    declared = (versions / PROJECT / "pyproject.toml").read_text()
    assert '"dvc-ml-kit==0.3.0"' in declared and '"dvc-ml-kit[dask]==0.3.0"' in declared
    assert f"=={VERSION}" not in declared
    # The files make lock writes still pin the old version: tagging now is refused.
    sentence = refusal(release_check(versions, "v0.3.0"))
    assert sentence.startswith(f"the template pins dvc-ml-kit {VERSION}, not 0.3.0"), sentence
    assert f"{PROJECT}/pyproject.toml" not in sentence
    assert refusal(release_check(versions, "--bump", "next")) == (
        "'next' is not a version: give one like 0.3.0 (VERSION=0.3.0)."
    )


def test_make_release_check_runs_the_script_on_tag():
    result = run("make", "-s", "release-check", "TAG=v0.0.0", cwd=TEMPLATE, check=False)
    assert result.returncode != 0
    assert result.stderr.splitlines()[0].startswith("error: the tag v0.0.0 does not match")


def test_the_release_workflow_publishes_by_trusted_publishing_alone():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert workflow[True] == {"push": {"tags": ["v*"]}}  # PyYAML reads the key `on` as True
    assert workflow["permissions"] == {}
    jobs = workflow["jobs"]
    assert {name: job.get("needs") for name, job in jobs.items()} == {
        "check": None,
        "test": "check",
        "build": "check",
        "publish": ["test", "build"],
    }
    for name in ("check", "test", "build"):
        assert jobs[name]["permissions"] == {"contents": "read"}
        assert "environment" not in jobs[name]
    publish = jobs["publish"]
    assert publish["permissions"] == {"id-token": "write"}
    assert publish["environment"]["name"] == "pypi"
    (step,) = [s for s in publish["steps"] if s["uses"].startswith("pypa/gh-action-pypi-publish")]
    assert set(step["with"]) == {"repository-url"}  # no user, no password: trusted publishing
    assert "secrets." not in WORKFLOW.read_text()
    # Every action pinned to a full commit SHA, its release named beside it.
    uses = re.findall(r"uses: ([\w./-]+)@(\S+) # (\S+)", WORKFLOW.read_text())
    assert len(uses) == WORKFLOW.read_text().count("uses:")
    assert all(re.fullmatch(r"[0-9a-f]{40}", sha) and tag.startswith("v") for _, sha, tag in uses)
    runs = {name: [s["run"] for s in job["steps"] if "run" in s] for name, job in jobs.items()}
    assert runs["check"] == ["make release-check"]
    assert jobs["check"]["steps"][-1]["env"] == {"TAG": "${{ github.ref_name }}"}
    assert runs["test"] == ["make test-fast"]
    assert runs["build"] == ["uv build --out-dir dist dvc-ml-kit"]
