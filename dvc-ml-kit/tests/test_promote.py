"""Promotion (staging -> prod) and the staging assignment publishing makes, on a real Git
repository with GTO's tags and a bare origin they are pushed to."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dvc_ml_kit.ci import fetch as fetching
from dvc_ml_kit.ci import promote as promotion
from dvc_ml_kit.ci import publish
from dvc_ml_kit.errors import UserError

DVC_YAML = """stages:
  evaluate:
    cmd: python evaluate.py
    metrics:
      - metrics/metrics.json:
          cache: false
artifacts:
  model:
    path: models/model.pkl
    type: model
"""
PARAMS = """gates:
  minimum:
    roc_auc: 0.8
  max_drop:
    roc_auc: 0.01
  beat_baseline: [roc_auc]
"""


def git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def metrics(roc_auc: float) -> dict:
    return {"model": {"roc_auc": roc_auc}, "baseline": {"roc_auc": 0.5}}


def write_bundle(folder: Path, version: str, values: dict) -> str:
    """A bundle's files as publishing writes them (the model's bytes stand in); its digest."""
    folder.mkdir(parents=True)
    files = {
        "model.skops": f"model {version}".encode(),
        "bundle.json": json.dumps({"artifact": "model", "version": version}).encode(),
        "metrics.json": json.dumps(values).encode(),
        "model_card.md": f"# model {version}\n".encode(),
    }
    for name, content in files.items():
        (folder / name).write_bytes(content)
    sums = "".join(f"{hashlib.sha256(c).hexdigest()}  {n}\n" for n, c in sorted(files.items()))
    (folder / "SHA256SUMS").write_text(sums)
    return hashlib.sha256(sums.encode()).hexdigest()


PYPROJECT = '[project]\nname = "p"\n\n[project.entry-points.dvc_ml_kit]\nfeatures = "p.features"\n'


class Project:
    """A Git repository with dvc.yaml, params.yaml and metrics, pushed to a bare origin."""

    def __init__(self, root: Path):
        self.root, self.origin = root / "project", root / "origin.git"
        subprocess.run(["git", "init", "-q", "--bare", str(self.origin)], check=True)
        self.root.mkdir()
        git(self.root, "init", "-q", "--initial-branch=main")
        git(self.root, "remote", "add", "origin", str(self.origin))
        (self.root / "dvc.yaml").write_text(DVC_YAML)
        (self.root / "params.yaml").write_text(PARAMS)
        # A generated project's: it runs the package's stages (their output contract).
        (self.root / "pyproject.toml").write_text(PYPROJECT)
        (self.root / "metrics").mkdir()

    def publish(self, version: str, roc_auc: float, *, staged: bool = True) -> str:
        """Commit metrics, write the bundle, tag the version as publishing does; stage it."""
        values = metrics(roc_auc)
        (self.root / "metrics/metrics.json").write_text(json.dumps(values))
        git(self.root, "add", "--all")
        git(self.root, "commit", "-q", "-m", f"Model {version}")
        digest = write_bundle(self.root / f"dist/model-{version}", version, values)
        # GTO's tags, as `gto register` and `gto assign` write them.
        self.tag(f"model@{version}", f"Publish model {version}: bundle sha256 {digest}")
        if staged:
            self.tag(f"model#staging#{len(git(self.root, 'tag').split())}", "Stage")
        return digest

    def tag(self, name: str, message: str) -> None:
        git(self.root, "tag", "--annotate", name, "-m", message)
        git(self.root, "push", "-q", "origin", name)

    def gto(self, *args: str) -> str:
        gto = Path(sys.executable).with_name("gto")
        done = subprocess.run([str(gto), *args], cwd=self.root, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def origin_tags(self, pattern: str) -> list[str]:
        return git(self.origin, "tag", "--list", pattern).split()


@pytest.fixture
def project(tmp_path, monkeypatch) -> Project:
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    made = Project(tmp_path)
    monkeypatch.chdir(made.root)
    return made


def promote(version: str, **options) -> int:
    settings = {"stage": "prod", "host": "github", "dry_run": False, "provenance": ""}
    return promotion.promote(version, **{**settings, **options})


def test_a_staged_version_is_checked_and_assigned_prod_on_origin(project, capsys):
    digest = project.publish("v1.0.0", 0.9)
    assert promote("model@v1.0.0") == 0
    (tag,) = project.origin_tags("model#prod#*")
    message = git(project.origin, "tag", "--list", "--format=%(contents)", tag)
    assert message == f"Promote model v1.0.0 to prod: bundle sha256 {digest} verified, gates pass"
    assert project.gto("show", "model#prod", "--version").strip() == "v1.0.0"
    written = (project.root / "dist/promoted.env").read_text()
    assert written == f"BUNDLE=dist/model-v1.0.0\nVERSION=v1.0.0\nDIGEST={digest}\nENGINE=local\n"
    # A rerun (the image push failed after the assignment) checks again and assigns nothing.
    assert promote("v1.0.0") == 0
    assert "model@v1.0.0 is already in prod: nothing to assign" in capsys.readouterr().out
    assert project.origin_tags("model#prod#*") == [tag]


def test_the_next_version_is_held_to_its_gates_against_the_one_in_prod(project, capsys):
    project.publish("v1.0.0", 0.9)
    promote("v1.0.0")
    project.publish("v1.1.0", 0.85)  # above the minimum, but 0.05 below prod's
    with pytest.raises(
        UserError, match="model@v1.1.0 fails its gates against model@v1.0.0 in prod"
    ):
        promote("v1.1.0")
    assert "gate failed: roc_auc got worse by 0.05 against the base (0.9 to 0.85)" in (
        capsys.readouterr().out
    )
    assert project.gto("show", "model#prod", "--version").strip() == "v1.0.0"
    project.publish("v1.2.0", 0.95)
    promote("v1.2.0")
    assert project.gto("show", "model#prod", "--version").strip() == "v1.2.0"


@pytest.mark.parametrize(
    ("given", "refusal"),
    [
        ("v1.0.0", "model@v1.0.0 is not in staging (the version there: none): only the version"),
        ("v2.0.0", "model@v2.0.0 is not a published version here"),
        ("1.0", "'1.0' is not a model version: give one such as v1.2.0"),
        ("", "no version given: name the one to promote, such as `make promote VERSION=v1.2.0`"),
    ],
)
def test_a_version_never_staged_or_not_published_is_refused(project, given, refusal):
    project.publish("v1.0.0", 0.9, staged=False)
    with pytest.raises(UserError, match=refusal.replace("(", r"\(").replace(")", r"\)")):
        promote(given)
    assert project.origin_tags("model#prod#*") == []


def test_a_release_changed_after_publishing_is_refused(project):
    project.publish("v1.0.0", 0.9)
    folder = project.root / "dist/model-v1.0.0"
    # Changed with its SHA256SUMS to match: only the digest in the tag tells.
    write_bundle(project.root / "other", "v1.0.0", metrics(0.99))
    for path in (project.root / "other").iterdir():
        path.replace(folder / path.name)
    with pytest.raises(UserError, match="is not the bundle published as model@v1.0.0"):
        promote("v1.0.0")
    # Changed without it: the checksums tell.
    (folder / "model.skops").write_bytes(b"something else")
    with pytest.raises(UserError, match="does not match its checksum in SHA256SUMS"):
        promote("v1.0.0")
    assert project.origin_tags("model#prod#*") == []


def test_a_file_without_build_provenance_is_refused(project, tmp_path, monkeypatch):
    project.publish("v1.0.0", 0.9)
    # `gh attestation verify` as it answers for a file no workflow attested.
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "gh").write_text("#!/bin/sh\necho 'Error: no attestations found' >&2\nexit 1\n")
    (tools / "gh").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(UserError, match="has no build provenance from octo/model-project"):
        promote("v1.0.0", provenance="octo/model-project")
    assert project.origin_tags("model#prod#*") == []


def test_a_dry_run_assigns_locally_only(project):
    project.publish("v1.0.0", 0.9)
    promote("v1.0.0", dry_run=True)
    assert project.gto("show", "model#prod", "--version").strip() == "v1.0.0"
    assert project.origin_tags("model#prod#*") == []


def test_publishing_stages_a_version_whose_gates_pass_only(project, capsys):
    project.publish("v1.0.0", 0.9, staged=False)
    publish.stage("model@v1.0.0", dry_run=False)
    assert len(project.origin_tags("model#staging#*")) == 1
    project.publish("v1.1.0", 0.7, staged=False)  # below the minimum
    publish.stage("model@v1.1.0", dry_run=False)
    out = capsys.readouterr().out
    assert "gate failed: roc_auc is 0.7, below the minimum of 0.8" in out
    assert (
        "ci-publish: model@v1.1.0 fails its gates against model@v1.0.0, so it is not assigned to "
        "staging and cannot be promoted" in out
    )
    assert len(project.origin_tags("model#staging#*")) == 1
    assert publish.stage_of("model@v1.1.0") == ""


def test_a_stage_or_a_version_names_its_bundle_checked_against_its_tag(project):
    project.publish("v1.0.0", 0.9)
    promote("v1.0.0")
    project.publish("v1.1.0", 0.95)
    assert fetching.resolve("prod", "github") == Path("dist/model-v1.0.0")
    assert fetching.resolve("staging", "github") == Path("dist/model-v1.1.0")
    assert fetching.resolve("model@v1.1.0", "github") == Path("dist/model-v1.1.0")
    # A folder is served as it is: loading it checks it.
    assert fetching.resolve("dist/model-v1.0.0", "github") == Path("dist/model-v1.0.0")
    for given in ("canary", "v9.9.9", ""):
        with pytest.raises(UserError, match=r"is not a bundle folder|not a published|no model"):
            fetching.resolve(given, "github")


def test_a_download_that_fails_leaves_no_bundle(project, tmp_path, monkeypatch):
    project.publish("v1.0.0", 0.9)
    folder = project.root / "dist/model-v1.0.0"
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
    # `gh release download` that writes one file, then fails (a dropped connection).
    tools = tmp_path / "bin"
    tools.mkdir()
    script = '#!/bin/sh\necho half > "$5/model.skops"\necho "connection reset" >&2\nexit 1\n'
    (tools / "gh").write_text(script)
    (tools / "gh").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(UserError, match="gh release download model@v1.0.0"):
        fetching.resolve("v1.0.0", "github")
    assert not folder.exists()


def test_a_dry_run_of_publishing_stages_locally_only(project, capsys):
    project.publish("v1.0.0", 0.9, staged=False)
    publish.stage("model@v1.0.0", dry_run=True)
    assert publish.stage_of("model@v1.0.0") == "staging"
    assert project.origin_tags("model#staging#*") == []
    assert "model@v1.0.0 is in staging locally (dry run: not pushed)" in capsys.readouterr().out
