"""ci-publish: publish a new model version from main, as a command anyone can run locally.

``make ci-publish`` (main only): reproduce (nothing should run), push everything to the DVC
remote, check the remote holds every output, and if the model changed since the last version, tag
the next version (GTO's ``model@vX.Y.Z``), build the bundle in dist/ and create a GitHub release.
"""

import argparse
import json
import pickle
import platform
import sys
from importlib import metadata
from pathlib import Path

from ..errors import UserError, run
from ..model import bundle
from ..params import read_yaml
from . import repo

ARTIFACT = repo.MODEL_ARTIFACT
DIST = Path("dist")
FIRST_VERSION = "v1.0.0"
LIBRARIES = ["scikit-learn", "numpy", "pandas", "skops", "dvc", "gto"]


def model_md5(lock_text: str | None) -> str | None:
    return repo.lock_entries(lock_text).get(repo.artifact_path(ARTIFACT))


def latest_version() -> str | None:
    """The newest published version (``v1.2.0``), from GTO's tags; None before the first."""
    tags = repo.quiet("git", "tag", "--list", f"{ARTIFACT}@v*", "--sort=-v:refname")
    return tags.splitlines()[0].split("@", 1)[1] if tags else None


def build_bundle(version: str) -> Path:
    """Write dist/<artifact>-<version>/ from the workspace's model, params and metrics."""
    params = read_yaml(Path("params.yaml"))
    lock = Path("dvc.lock").read_text(encoding="utf-8")
    data_path = params["data"]["file"]
    with open(repo.artifact_path(ARTIFACT), "rb") as file:
        model = pickle.load(file)
    metrics = json.loads(repo.metrics_file().read_text(encoding="utf-8"))
    info = {
        "artifact": ARTIFACT,
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
    folder = DIST / f"{ARTIFACT}-{version}"
    if folder.exists():
        raise UserError(f"{folder} already exists: remove it and run again")
    bundle.write_bundle(folder, model, info, bundle.model_card(info, metrics), metrics)
    bundle.load_bundle(folder)  # what users will load must load
    return folder


def publish(*, dry_run: bool, branch: str) -> int:
    """The publish job on the default branch; returns the exit code."""
    current = repo.quiet("git", "rev-parse", "--abbrev-ref", "HEAD")
    if current != branch:
        raise UserError(f"ci-publish runs on {branch} only, and this is '{current}'")
    if repo.quiet("git", "status", "--porcelain", "--untracked-files=no"):
        raise UserError("the working tree has uncommitted changes: commit or stash them first")
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
    published = latest and repo.quiet("git", "show", f"{ARTIFACT}@{latest}:dvc.lock")
    if latest and model_md5(published) == model_md5(lock):
        tag = f"{ARTIFACT}@{latest}"
        if dry_run or repo.succeeds("gh", "release", "view", tag):
            print(f"ci-publish: the model is the same as {tag}: nothing to publish")
            return 0
        # The tag was pushed but its release failed last time: make the release now.
        print(f"ci-publish: {tag} has no GitHub release yet: creating it")
        repo.sh(*release_command(tag, build_bundle(latest)))
        return 0
    bump = ["--version", FIRST_VERSION] if latest is None else ["--bump-minor"]
    message = f"Publish {ARTIFACT} (model md5 {model_md5(lock)})"
    repo.sh("gto", "register", ARTIFACT, "HEAD", *bump, "-m", message)
    version = latest_version()
    tag = f"{ARTIFACT}@{version}"
    try:
        folder = build_bundle(version)
    except BaseException:
        repo.sh("git", "tag", "--delete", tag)  # not pushed yet: leave no version without a bundle
        raise
    release = release_command(tag, folder)
    if dry_run:
        print(f"ci-publish: dry run: created {tag} locally (not pushed) and {folder}")
        print(f"ci-publish: a real run would now run: git push origin {tag}; {' '.join(release)}")
        return 0
    repo.sh("git", "push", "origin", tag)
    repo.sh(*release)
    print(f"ci-publish: published {tag}")
    return 0


def release_command(tag: str, folder: Path) -> list[str]:
    """The ``gh`` command that creates the GitHub release of ``tag`` with the bundle's files."""
    files = sorted(str(path) for path in folder.iterdir())
    notes = str(folder / bundle.CARD_FILE)
    return ["gh", "release", "create", tag, *files, "--title", tag, "--notes-file", notes]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dry-run", type=int, default=0, help="1: tag locally only, no push and no GitHub release"
    )
    parser.add_argument("--branch", default="main", help="the branch that publishes")
    args = parser.parse_args()
    sys.exit(publish(dry_run=bool(args.dry_run), branch=args.branch))


if __name__ == "__main__":
    raise SystemExit(run(main))
