"""ci-publish: publish a new model version from main, as a command anyone can run locally.

``make ci-publish`` (main only): reproduce (nothing should run), push everything to the DVC
remote, check the remote holds every output, and if the model changed since the last version, tag
the next version (GTO's ``model@vX.Y.Z``), build the bundle in dist/ and create a release with
it: on GitHub with ``gh``, on GitLab through its API (the files go to the project's generic package
registry, and the release links them).
"""

import argparse
import json
import os
import pickle
import platform
import sys
from importlib import metadata
from pathlib import Path

from ..errors import UserError
from ..model import bundle
from ..params import parse_yaml, read_yaml
from . import gate, repo
from .gitlab import GitLab

ARTIFACT = repo.MODEL_ARTIFACT
# The stage a published version whose gates pass is assigned to, and promotion starts from.
STAGING = "staging"
DIST = Path("dist")
FIRST_VERSION = "v1.0.0"
LIBRARIES = ["scikit-learn", "numpy", "pandas", "skops", "dvc", "gto"]
# Where the repository is hosted, so where releases are made (the Makefile says which).
HOSTS = ("github", "gitlab")
# Where `gh` takes a token from, besides its own login.
TOKENS = ("GH_TOKEN", "GITHUB_TOKEN")


def artifact() -> tuple[str, str]:
    """``(name, path)`` of the model dvc.yaml declares (a generated project's is ``model``)."""
    found = repo.model_artifact()
    if found is None:
        raise UserError(
            "dvc.yaml declares no model to publish: add it under `artifacts:` (a name, with the "
            "model file's `path:` and `type: model`) and run again"
        )
    return found


def model_md5(lock_text: str | None) -> str | None:
    return repo.lock_entries(lock_text).get(artifact()[1])


def versions() -> list[str]:
    """The published versions (``v1.2.0``), newest first, from GTO's tags."""
    tags = repo.quiet("git", "tag", "--list", f"{artifact()[0]}@v*", "--sort=-v:refname")
    return [tag.split("@", 1)[1] for tag in tags.splitlines()]


def latest_version() -> str | None:
    """The newest published version (``v1.2.0``); None before the first."""
    return next(iter(versions()), None)


def stage_of(tag: str) -> str:
    """The stage GTO says the version ``tag`` is in now (``''`` for none)."""
    return repo.quiet("gto", "show", tag, "--stage")


def metrics_at(tag: str) -> dict | None:
    """The metrics file's content at the version's commit."""
    text = repo.file_at(tag, repo.metrics_file())
    return json.loads(text) if text else None


def gate_failures(tag: str, metrics: dict, against: str | None) -> list[str]:
    """The gates of ``tag``'s own params.yaml on ``metrics``, against the version ``against``
    (for ``max_drop``; None: no base); one sentence per failure."""
    params = parse_yaml(repo.file_at(tag, Path("params.yaml")), f"params.yaml of {tag}")
    gates = params.get("gates") if isinstance(params, dict) else None
    if repo.generated():
        old = metrics_at(against) if against else None
        values = gate.versus(metrics, old)
    else:  # every metrics file dvc.yaml declares, each at both versions
        values = metrics_between(tag, against)
    # Both versions' bootstraps, paired when they scored the same test rows (see gate.py).
    noisy = gate.with_noise(
        values,
        repo.file_at(tag, gate.bootstrap_file()),
        repo.file_at(against, gate.bootstrap_file()) if against else None,
    )
    return gate.check(gate.directed(noisy, gates), gates, f"params.yaml of {tag}")


def metrics_between(tag: str, against: str | None) -> list[gate.Metric]:
    """The metrics of every metrics file at ``tag``, against those at ``against`` (None: no
    base), as ``dvc metrics diff`` pairs them."""
    diffs = {}
    for path in repo.metrics_files():
        new = gate.flat(repo.parse_metrics(repo.file_at(tag, path), path))
        old = gate.flat(repo.parse_metrics(repo.file_at(against, path), path)) if against else {}
        diffs[path.as_posix()] = {
            key: {"new": value, "old": old.get(key)} for key, value in new.items()
        }
    return gate.from_files(diffs, repo.generated())


def assign(version: str, stage: str, message: str, *, push: bool) -> str:
    """Assign ``version`` to ``stage`` with GTO (a ``model#stage#N`` tag); push that tag to origin
    with git, which uses the job's credentials (GTO's own ``--push`` does not); return it."""
    pattern = f"{artifact()[0]}#{stage}#*"
    before = set(repo.quiet("git", "tag", "--list", pattern).split())
    repo.sh("gto", "assign", artifact()[0], "--version", version, "--stage", stage, "-m", message)
    (tag,) = set(repo.quiet("git", "tag", "--list", pattern).split()) - before
    if push:
        repo.sh("git", "push", "origin", tag)
    return tag


def stage(tag: str, dry_run: bool) -> None:
    """Assign the published version ``tag`` to staging, the stage promotion starts from, if its
    gates pass against the version before it; say so either way."""
    version = tag.split("@", 1)[1]
    older = versions()
    earlier = older[older.index(version) + 1 :] if version in older else []
    against = f"{artifact()[0]}@{earlier[0]}" if earlier else None
    failures = gate_failures(tag, (metrics_at(tag) if repo.generated() else None) or {}, against)
    if failures:
        for failure in failures:
            print(f"gate failed: {failure}")
        print(
            f"ci-publish: {tag} fails its gates{f' against {against}' if against else ''}, so it "
            f"is not assigned to {STAGING} and cannot be promoted: fix the model in a pull request"
        )
        return
    passed = f"gates pass{f' against {against}' if against else ''}"
    assign(version, STAGING, f"Stage {artifact()[0]} {version}: {passed}", push=not dry_run)
    where = " locally (dry run: not pushed)" if dry_run else ""
    then = f": `make promote VERSION={version}` moves it to prod" if repo.generated() else ""
    print(f"ci-publish: {tag} is in {STAGING}{where}{then}")


def next_minor(version: str) -> str:
    """The version after ``version`` (``v1.2.0`` -> ``v1.3.0``), as GTO's --bump-minor counts."""
    major, minor, _ = version.removeprefix("v").split(".")
    return f"v{major}.{int(minor) + 1}.0"


def recorded_digest(tag: str) -> str | None:
    """The bundle digest recorded in the message of the version tag ``tag``."""
    return bundle.digest_in(repo.git("tag", "--list", "--format=%(contents)", tag) or "")


def build_files(version: str) -> Path:
    """Write dist/<artifact>-<version>/ in a repository the package did not generate: the
    artifact's file as it is, every metrics file's values, a card and SHA256SUMS."""
    name, path = artifact()
    source = Path(path)
    if not source.is_file():
        raise UserError(
            f"{path}, the artifact {name} of dvc.yaml, is not a file here (a folder, or not "
            "pulled): a release holds files, so publish a file (an archive of the folder, as a "
            "stage's output)"
        )
    if source.name in (bundle.INFO_FILE, bundle.METRICS_FILE, bundle.CARD_FILE, bundle.SUMS_FILE):
        raise UserError(
            f"{path}, the artifact {name} of dvc.yaml, has the name of a file the release adds "
            "beside it: name the model file otherwise"
        )
    spec = (repo.pipeline().get("artifacts") or {}).get(name) or {}
    metrics = {metric.name: metric.new for metric in gate.unchanged_files(repo.metrics_values())}
    info = {
        "artifact": name,
        "version": version,
        "path": path,
        "description": spec.get("desc"),
        "revision": repo.quiet("git", "rev-parse", "HEAD"),
        "model_md5": model_md5(Path("dvc.lock").read_text(encoding="utf-8")),
        "python": platform.python_version(),
    }
    rows = [f"| {key} | {value} |" for key, value in sorted(metrics.items())]
    card = "\n".join(
        [
            f"# {name} {version}",
            "",
            *([str(spec["desc"]), ""] if spec.get("desc") else []),
            f"- File: `{source.name}` (`{path}` in the repository), md5 {info['model_md5']}",
            f"- Commit: {info['revision']}",
            "",
            "| Metric | Value |",
            "| --- | ---: |",
            *rows,
            "",
        ]
    )
    folder = DIST / f"{name}-{version}"
    if folder.exists():
        raise UserError(f"{folder} already exists: remove it and run again")
    files = {
        source.name: source.read_bytes(),
        bundle.INFO_FILE: (json.dumps(info, indent=2) + "\n").encode(),
        bundle.METRICS_FILE: (json.dumps(metrics, indent=2) + "\n").encode(),
        bundle.CARD_FILE: card.encode(),
    }
    bundle.write_files(folder, files)
    return folder


def build_bundle(version: str) -> Path:
    """Write dist/<artifact>-<version>/ from the workspace's model, params and metrics."""
    if not repo.generated():
        return build_files(version)
    params = read_yaml(Path("params.yaml"))
    lock = Path("dvc.lock").read_text(encoding="utf-8")
    data_path = params["data"]["file"]
    with open(artifact()[1], "rb") as file:
        model = pickle.load(file)
    metrics = json.loads(repo.metrics_file().read_text(encoding="utf-8"))
    info = {
        "artifact": artifact()[0],
        "version": version,
        "task": params["data"]["task"],
        "target": params["data"]["target"],
        "id_column": params["data"]["id_column"],
        "categorical_columns": params["data"]["categorical_columns"] or [],
        "features": bundle.features(model),
        "revision": repo.quiet("git", "rev-parse", "HEAD"),
        "data": {"path": data_path, "md5": repo.lock_entries(lock).get(data_path)},
        "model_md5": model_md5(lock),
        "params": {key: params[key] for key in ("prepare", "train")},
        "python": platform.python_version(),
        "libraries": {name: metadata.version(name) for name in LIBRARIES},
    }
    folder = DIST / f"{artifact()[0]}-{version}"
    if folder.exists():
        raise UserError(f"{folder} already exists: remove it and run again")
    bundle.write_bundle(folder, model, info, bundle.model_card(info, metrics), metrics)
    bundle.load_bundle(folder)  # what users will load must load
    return folder


def check_prerequisites(host: str, dry_run: bool) -> None:
    """Stop before anything is pushed if publishing could not go through to the release: the
    tools, the release host's token, origin. (A run stopped after pushing its tag anyway is
    finished by the next run: see :func:`publish`.)"""
    repo.installed("dvc", "gto", *(["gh"] if host == "github" and not dry_run else []))
    repo.check_remote_folder()
    if dry_run:
        return
    if host == "gitlab":
        GitLab.from_environment()
    elif not (any(map(os.environ.get, TOKENS)) or repo.succeeds("gh", "auth", "token")):
        raise UserError(
            "`gh` has no token to create the release with: set GH_TOKEN (CI: the job's "
            "github.token) or log in with `gh auth login`, and run again"
        )
    if repo.git("ls-remote", "origin", "HEAD") is None:
        raise UserError(
            "origin is not reachable (`git ls-remote origin` failed), so the version tag could "
            "not be pushed: check the remote and the connection, and run again"
        )


def publish(*, dry_run: bool, branch: str, host: str = "github") -> int:
    """The publish job on the default branch; returns the exit code."""
    current = repo.quiet("git", "rev-parse", "--abbrev-ref", "HEAD")
    if current != branch:
        raise UserError(f"ci-publish runs on {branch} only, and this is '{current}'")
    repo.check_dvc_locks()
    if repo.quiet("git", "status", "--porcelain", "--untracked-files=no"):
        raise UserError("the working tree has uncommitted changes: commit or stash them first")
    check_prerequisites(host, dry_run)
    # Fetch every output; whatever the remote lacks (a fork's pull request could not push) is
    # recomputed by repro, and the lock must not change: main's lock matches its code.
    repo.sh("dvc", "pull", "--allow-missing")
    repo.sh("dvc", "repro")
    if repo.uncommitted_results():
        raise UserError(
            f"reproducing {branch} changed {', '.join(repo.uncommitted_results())}: its dvc.lock "
            "does not match its code and parameters; fix that in a pull request (`make ci-pr`)"
        )
    repo.sh("dvc", "push", "--run-cache")
    missing = json.loads(repo.quiet("dvc", "status", "--cloud", "--json") or "{}")
    if missing:
        raise UserError(f"the DVC remote still lacks {', '.join(sorted(missing))} after the push")
    print("ci-publish: the DVC remote holds every output of dvc.lock")

    latest = latest_version()
    lock = Path("dvc.lock").read_text(encoding="utf-8")
    published = latest and repo.quiet("git", "show", f"{artifact()[0]}@{latest}:dvc.lock")
    if latest and model_md5(published) == model_md5(lock):
        tag = f"{artifact()[0]}@{latest}"
        if dry_run or release_exists(host, tag):
            print(f"ci-publish: the model is the same as {tag}: nothing to publish")
            if not dry_run and not stage_of(tag):
                stage(tag, dry_run)  # a run stopped after its release, or gates since fixed
            return 0
        # The tag exists without its release: a failed earlier run, or a local dry run whose
        # tag never reached origin. Push the tag if origin lacks it, then make the release with
        # the bundle the tag records: the one that run left in dist/, or one built again.
        print(f"ci-publish: {tag} has no release yet: creating it")
        folder = DIST / f"{artifact()[0]}-{latest}"
        if not folder.exists():
            build_bundle(latest)
        bundle.verify(folder)
        if recorded_digest(tag) != bundle.digest(folder):
            raise UserError(
                f"{folder} is not the bundle {tag} records, which is not here to release: "
                f"delete the tag (`git tag --delete {tag}`, and `git push origin "
                f":refs/tags/{tag}` if origin has it) and run again, to publish {latest} anew"
            )
        if not repo.git("ls-remote", "--exit-code", "--tags", "origin", f"refs/tags/{tag}"):
            repo.sh("git", "push", "origin", tag)
        release(host, tag, folder)
        stage(tag, dry_run)
        return 0
    version = FIRST_VERSION if latest is None else next_minor(latest)
    tag = f"{artifact()[0]}@{version}"
    # The bundle first: its digest goes into the tag's message, in Git, where a release
    # cannot rewrite it; `predict --version` checks a downloaded bundle against it.
    folder = build_bundle(version)
    message = (
        f"Publish {artifact()[0]} {version}: model md5 {model_md5(lock)}, "
        f"bundle sha256 {bundle.digest(folder)}"
    )
    repo.sh("gto", "register", artifact()[0], "HEAD", "--version", version, "-m", message)
    if dry_run:
        print(f"ci-publish: dry run: created {tag} locally (not pushed) and {folder}")
        print(
            f"ci-publish: a real run would now run: git push origin {tag}; "
            f"{release_plan(host, tag, folder)}"
        )
        stage(tag, dry_run)
        return 0
    repo.sh("git", "push", "origin", tag)
    release(host, tag, folder)
    print(f"ci-publish: published {tag}")
    stage(tag, dry_run)
    return 0


def release_command(tag: str, folder: Path) -> list[str]:
    """The ``gh`` command that creates the GitHub release of ``tag`` with the bundle's files."""
    files = sorted(str(path) for path in folder.iterdir())
    notes = str(folder / bundle.CARD_FILE)
    return ["gh", "release", "create", tag, *files, "--title", tag, "--notes-file", notes]


def release_exists(host: str, tag: str) -> bool:
    if host == "gitlab":
        return GitLab.from_environment().release_exists(tag)
    return repo.succeeds("gh", "release", "view", tag)


def release_plan(host: str, tag: str, folder: Path) -> str:
    """What :func:`release` would do, in one line."""
    if host == "gitlab":
        names = ", ".join(sorted(path.name for path in folder.iterdir()))
        return f"upload {names} to the package registry and create the GitLab release {tag}"
    return " ".join(release_command(tag, folder))


def release(host: str, tag: str, folder: Path) -> None:
    """The release of the pushed ``tag``, with the bundle's files and the model card as notes."""
    if host != "gitlab":
        repo.sh(*release_command(tag, folder))
        return
    api = GitLab.from_environment()
    artifact, version = tag.split("@", 1)
    links = {}
    for path in sorted(folder.iterdir()):
        print(f"ci-publish: uploading {path.name} to the package registry ({artifact} {version})")
        links[path.name] = api.upload(artifact, version, path)
    api.create_release(tag, (folder / bundle.CARD_FILE).read_text(encoding="utf-8"), links)
    print(f"ci-publish: created the GitLab release {tag}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dry-run", type=int, default=0, help="1: tag locally only, no push and no release"
    )
    parser.add_argument("--branch", default="main", help="the branch that publishes")
    parser.add_argument(
        "--platform", choices=HOSTS, default="github", help="where releases are made"
    )
    args = parser.parse_args()
    sys.exit(publish(dry_run=bool(args.dry_run), branch=args.branch, host=args.platform))
