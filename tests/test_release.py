"""Releases: the template's release.yml, and the check of its one version.

Fast: ``make release-check`` (``.ci/release_check.py``) refuses a tag, a package version or a
template pin that disagree, in one sentence each, and release.yml has the shape trusted publishing
needs. Slow: act runs the real release.yml on a clone of this repository tagged with dvc-ml-kit's
version, against a real package index (pypiserver on loopback); a project baked from the tag then
sets up with dvc-ml-kit from that index alone, and reproduces its pipeline.
"""

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from conftest import SKIP_GIT_DVC, TEMPLATE, TOOLS, activated, run
from object_store import stop
from test_actions import NOT_INHERITED, github_origin, run_act

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


def test_a_bump_sets_the_version_and_every_pin(versions):
    result = release_check(versions, "--bump", "0.3.0")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "release-bump: dvc-ml-kit 0.3.0 in dvc-ml-kit/pyproject.toml and its pins in "
        f"{len(VERSION_FILES) - 1} files\n"
    )
    package = tomllib.loads((versions / "dvc-ml-kit/pyproject.toml").read_text())
    assert package["project"]["version"] == "0.3.0"
    declared = (versions / PROJECT / "pyproject.toml").read_text()
    assert '"dvc-ml-kit==0.3.0"' in declared and '"dvc-ml-kit[dask]==0.3.0"' in declared
    assert all(f"dvc-ml-kit=={VERSION}" not in (versions / n).read_text() for n in VERSION_FILES)
    assert release_check(versions, "v0.3.0").returncode == 0
    assert refusal(release_check(versions, f"v{VERSION}")).startswith(f"the tag v{VERSION}")


def test_a_bump_to_no_version_or_of_a_file_without_pin_changes_nothing(versions):
    before = {name: (versions / name).read_text() for name in VERSION_FILES}
    assert refusal(release_check(versions, "--bump", "next")) == (
        "'next' is not a version: give one like 0.3.0 (VERSION=0.3.0)."
    )
    edit(versions / f"{PROJECT}/requirements/azure.txt", f"dvc-ml-kit=={VERSION}", "")
    before[f"{PROJECT}/requirements/azure.txt"] = (
        versions / f"{PROJECT}/requirements/azure.txt"
    ).read_text()
    assert refusal(release_check(versions, "--bump", "0.3.0")) == (
        f"{PROJECT}/requirements/azure.txt pins no dvc-ml-kit version: pin dvc-ml-kit==0.3.0 in it."
    )
    assert {name: (versions / name).read_text() for name in VERSION_FILES} == before


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


# The slow tier: release.yml in act, against a real package index.
STANDINS = Path(__file__).parent / "standins"
REPOSITORY = "octo/cookiecutter-dvc-cml"
# The stand-in folder that each action release.yml uses runs as.
STANDIN_ACTIONS = {
    "actions/checkout": "checkout",
    "actions/setup-python": "setup-python",
    "astral-sh/setup-uv": "setup-uv",
    "actions/upload-artifact": "upload-artifact",
    "actions/download-artifact": "download-artifact",
    "pypa/gh-action-pypi-publish": "pypi-publish",
}
# The package index and the uploader the publish stand-in runs, as real clients.
INDEX_TOOLS = ["pypiserver==2.4.2", "twine==7.0.0"]
# The fast tier the release's test job runs (make test-fast takes TESTS from the environment),
# narrowed to the checks of release.yml itself: the whole tier runs in the template's CI, and
# this suite is at its time budget.
FAST_TIER = "tests/test_release.py tests/test_workflows.py::test_template_workflow_passes_checkers"
WHEEL = f"dvc_ml_kit-{VERSION}-py3-none-any.whl"
SDIST = f"dvc_ml_kit-{VERSION}.tar.gz"
# Where packages are found besides the index: the template's Makefile exports them for its own
# tests; a project set up from a released template must not see them.
FIND_LINKS = ("UV_FIND_LINKS", "PIP_FIND_LINKS")
# The make running the tests hands its command line (TESTS among it) to every make below it.
OUTER_MAKE = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")


@pytest.fixture(scope="module")
def uv_cache() -> Path:
    """The uv cache the other tests' set-ups use, for the set-ups here and in the runner."""
    return Path(run(str(TOOLS / "uv"), "cache", "dir", cwd=STANDINS).stdout.strip())


@dataclass
class Index:
    """A pypiserver on loopback that takes uploads without credentials."""

    url: str
    log: Path

    def files(self) -> dict[str, str]:
        """dvc-ml-kit's files the index lists, with the SHA-256 it gives for each."""
        try:
            with urllib.request.urlopen(f"{self.url}/simple/dvc-ml-kit/", timeout=10) as page:
                html = page.read().decode()
        except urllib.error.HTTPError as error:
            assert error.code == 404, error
            return {}
        return dict(re.findall(r'href="/packages/([^"#]+)#sha256=([0-9a-f]{64})"', html))

    def downloads(self) -> list[str]:
        """The package files served, in the order they were asked for."""
        return re.findall(r'"GET /packages/([^ ]+) HTTP/[\d.]+" 200', self.log.read_text())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def index(tmp_path_factory, uv_cache) -> Iterator[Index]:
    """pypiserver (and twine, for the publish stand-in) installed into a folder of their own,
    serving an empty package folder on a free loopback port; stopped by its process id."""
    root = tmp_path_factory.mktemp("index")
    uv = str(TOOLS / "uv")
    cache = {"UV_CACHE_DIR": str(uv_cache)}
    run(uv, "venv", "--quiet", str(root / "tools"), cwd=root, env=cache)
    python = str(root / "tools/bin/python")
    run(uv, "pip", "install", "--quiet", "--python", python, *INDEX_TOOLS, cwd=root, env=cache)
    (root / "packages").mkdir()
    port, log = free_port(), root / "access.log"
    # -a . -P .: no authentication, for uploads too; no redirect to PyPI for other packages.
    server = [str(root / "tools/bin/pypi-server"), "run", "-i", "127.0.0.1", "-p", str(port)]
    server += ["-a", ".", "-P", ".", "--disable-fallback", "-v", "--log-file", str(log)]
    with open(root / "server.out", "w") as out:
        process = subprocess.Popen(
            [*server, "--log-stream", "none", str(root / "packages")],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{url}/health", timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, (root / "server.out").read_text()
                time.sleep(0.2)
        else:
            pytest.fail(f"pypiserver did not answer on {url}")
        yield Index(url, log)
    finally:
        stop(process)


@dataclass
class Release:
    """A clone of this repository, tagged, behind a bare origin that stands in for GitHub."""

    root: Path
    work: Path
    origin: Path

    def sha(self, tag: str) -> str:
        return run("git", "rev-parse", f"{tag}^{{commit}}", cwd=self.work).stdout.strip()


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Release:
    """This repository as the other tests bake it (the working tree, committed on a clone),
    tagged v<version> and v9.9.9, pushed to a bare origin."""
    root = tmp_path_factory.mktemp("release")
    work, origin = root / "work", root / "origin.git"
    run("git", "clone", "--quiet", str(TEMPLATE), str(work), cwd=root)
    listed = ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    files = {f for f in run(*listed, cwd=TEMPLATE).stdout.split("\0") if f}
    for name in set(run(*listed, cwd=work).stdout.split("\0")) - files - {""}:
        (work / name).unlink()
    for name in files:
        if (TEMPLATE / name).is_file():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(TEMPLATE / name, work / name)
    run("git", "add", "--all", cwd=work)
    run("git", "commit", "--quiet", "--allow-empty", "-m", "The template as tested", cwd=work)
    for tag in (f"v{VERSION}", "v9.9.9"):
        run("git", "tag", tag, cwd=work)
    run("git", "init", "--quiet", "--bare", str(origin), cwd=root)
    run("git", "push", "--quiet", "--tags", str(origin), "HEAD:refs/heads/main", cwd=work)
    for folder in ("empty", "runs"):
        (root / folder).mkdir()
    return Release(root, work, origin)


@dataclass
class Run:
    results: dict[str, str]  # act's result of each job that ran
    stdout: str  # what the steps printed
    artifacts: Path  # one folder per uploaded artifact


def act(release: Release, tag: str, index: Index, uv_cache: Path) -> Run:
    """release.yml, run by act for the push of ``tag``, publishing to ``index``."""
    folder = release.root / "runs" / tag
    artifacts = folder / "artifacts"
    artifacts.mkdir(parents=True)
    owner, name = REPOSITORY.split("/")
    event = {
        "ref": f"refs/tags/{tag}",
        "before": "0" * 40,
        "after": release.sha(tag),
        "created": True,
        "deleted": False,
        "repository": {"full_name": REPOSITORY, "name": name, "owner": {"login": owner}},
    }
    (folder / "event.json").write_text(json.dumps(event))
    workflow = release.work / ".github/workflows/release.yml"
    steps = [
        s for job in yaml.safe_load(workflow.read_text())["jobs"].values() for s in job["steps"]
    ]
    uses = sorted({step["uses"] for step in steps if "uses" in step})
    command = [
        str(TOOLS / "act"),
        "push",
        "--json",
        "--platform=ubuntu-latest=-self-hosted",
        f"--workflows={workflow}",
        f"--eventpath={folder / 'event.json'}",
        f"--env=GITHUB_REPOSITORY={REPOSITORY}",
        f"--env=TESTS={FAST_TIER}",
        "--secret=GITHUB_TOKEN=tests-github-token",
        # The repository variable that points the publish step at another index than PyPI.
        f"--var=PYPI_REPOSITORY_URL={index.url}/",
        "--no-skip-checkout",
        *(f"--local-repository={u}={STANDINS / STANDIN_ACTIONS[u.split('@')[0]]}" for u in uses),
        f"--action-cache-path={release.root / 'action-cache'}",
        "--cache-server-addr=127.0.0.1",
        f"--cache-server-path={release.root / 'cache-server'}",
        "--artifact-server-addr=127.0.0.1",
        f"--directory={release.root / 'empty'}",  # the runner gets the code from checkout only
    ]
    # Nothing of the test run reaches the runner: not its find-links, its make's command line,
    # its tools' PATH or pytest's own variables (the runner runs make and pytest too).
    inherited = {
        key: value
        for key, value in os.environ.items()
        if not NOT_INHERITED.match(key)
        and key not in (*FIND_LINKS, *OUTER_MAKE)
        and not key.startswith("PYTEST")
    }
    path = [p for p in os.environ["PATH"].split(os.pathsep) if Path(p) != TOOLS]
    environment = {
        **inherited,
        "PATH": os.pathsep.join(path),
        "STANDIN_UV": str(TOOLS / "uv"),
        "STANDIN_PYTHONS": str(Path(sys.base_prefix).parent),
        "STANDIN_TWINE": str(index.log.parent / "tools/bin/twine"),
        "STANDIN_ARTIFACTS": str(artifacts),
        "UV_CACHE_DIR": str(uv_cache),
        "UV_PYTHON_DOWNLOADS": "never",
        **github_origin(release.origin, REPOSITORY),
    }
    results, stdout, _ = run_act(
        command, environment, folder, release.root / "action-cache", f"release {tag}"
    )
    return Run(results, stdout, artifacts)


@pytest.mark.slow
def test_a_tag_other_than_the_version_fails_the_check_and_publishes_nothing(
    release, index, uv_cache
):
    job = act(release, "v9.9.9", index, uv_cache)
    assert job.results == {"check": "failure"}, job.stdout
    assert (
        f"error: the tag v9.9.9 does not match dvc-ml-kit's version {VERSION} in "
        "dvc-ml-kit/pyproject.toml: delete the tag"
    ) in job.stdout
    assert index.files() == {}
    assert not any(job.artifacts.iterdir())


@pytest.mark.slow
def test_b_the_version_tag_publishes_the_wheel_and_sdist_it_built(release, index, uv_cache):
    job = act(release, f"v{VERSION}", index, uv_cache)
    assert job.results == dict.fromkeys(["check", "test", "build", "publish"], "success"), (
        job.stdout[-5000:]
    )
    assert f"release-check: tag v{VERSION}, dvc-ml-kit {VERSION} and its pins" in job.stdout
    # The fast tier ran, narrowed to FAST_TIER (TESTS, through act's --env).
    assert f'pytest -m "not slow" {FAST_TIER}' in job.stdout, job.stdout[-5000:]
    # pytest's last line; it adds the time as h:mm:ss to a run longer than a minute.
    output = re.sub(r"\x1b\[[\d;]*m", "", job.stdout)
    summaries = re.findall(r"=+ (\S.* in [\d.]+s(?: \([\d:]+\))?) =+", output)
    assert len(summaries) == 1, output[-5000:]
    assert re.fullmatch(r"[1-9]\d* passed in [\d.]+s( \([\d:]+\))?", summaries[0]), summaries
    built = job.artifacts / "dist"
    # uv build also writes a .gitignore there; the action uploads dist/* (no hidden file).
    assert sorted(p.name for p in built.glob("[!.]*")) == sorted([WHEEL, SDIST])
    # The index holds exactly what the build job built, byte for byte.
    assert index.files() == {
        name: hashlib.sha256((built / name).read_bytes()).hexdigest() for name in (WHEEL, SDIST)
    }


@pytest.mark.slow
def test_c_a_project_baked_from_the_tag_sets_up_from_the_index_and_reproduces(
    release, index, uv_cache, tmp_path
):
    """The index is the only place dvc-ml-kit can come from: no find-links, and the other pins
    from the usual index."""
    assert index.files(), "test_b published nothing"
    config = tmp_path / "cookiecutter.yaml"
    config.write_text(
        f"cookiecutters_dir: {tmp_path / 'templates'}\nreplay_dir: {tmp_path / 'replay'}\n"
    )
    environment = {k: v for k, v in os.environ.items() if k not in (*FIND_LINKS, *OUTER_MAKE)}
    environment |= {
        "PATH": f"{TOOLS}{os.pathsep}{os.environ['PATH']}",
        "COOKIECUTTER_CONFIG": str(config),
        SKIP_GIT_DVC: "0",
        "UV_CACHE_DIR": str(uv_cache),
        # uv (the project's set-up uses it when present) asks this index first, pip as well.
        "UV_INDEX": f"{index.url}/simple/",
        "PIP_EXTRA_INDEX_URL": f"{index.url}/simple/",
    }
    bake = [str(TOOLS / "cookiecutter"), "--no-input", "--checkout", f"v{VERSION}"]
    bake += ["--output-dir", str(tmp_path / "out"), f"git+file://{release.origin}"]
    for command, cwd in ((bake, tmp_path), (["make", "setup"], tmp_path / "out/diagnosis-model")):
        result = subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True)
        assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    project = tmp_path / "out/diagnosis-model"
    assert index.downloads() == [WHEEL]
    # What the project installed is the published wheel's code, file for file.
    (site,) = (project / ".venv/lib").glob("python3.*/site-packages")
    with zipfile.ZipFile(release.root / f"runs/v{VERSION}/artifacts/dist/{WHEEL}") as wheel:
        code = [n for n in wheel.namelist() if n.startswith("dvc_ml_kit/")]
        assert code and all((site / n).read_bytes() == wheel.read(n) for n in code)
    shown = activated(project, "uv pip show dvc-ml-kit").stdout
    assert f"Version: {VERSION}" in shown
    repro = activated(project, "dvc repro")
    for stage in ("prepare", "train", "evaluate"):
        assert f"Running stage '{stage}'" in repro.stdout, repro.stdout
    assert (project / "metrics/metrics.json").is_file()
