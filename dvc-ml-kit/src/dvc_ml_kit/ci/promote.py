"""promote: move a published model version from staging to production, once it is checked.

Publishing assigns each new version to GTO's ``staging`` stage when its gates pass (see
:mod:`.publish`). ``dvc-ml-kit promote v1.2.0`` (the promotion workflow, run by hand through a
protected environment) then:

1. fetches the version's bundle (``dist/model-v1.2.0``, downloaded from its release if not here)
   and checks it is the one published: its checksums, and its digest against the one recorded in
   the version tag's message (and, with ``--provenance``, GitHub's signed build provenance of
   each file);
2. refuses a version that is not in ``staging`` now, and one whose metrics fail the gates of its
   own params.yaml against the version in production;
3. assigns ``prod`` (a ``model#prod#N`` tag, pushed to origin).

It writes ``dist/promoted.env`` (the bundle's folder, version and digest) for the step that
builds the service's image. A rerun on a version already in ``prod`` checks it again and
assigns nothing.
"""

import argparse
import json
import re
import sys
import urllib.parse
from pathlib import Path

from ..errors import UserError
from ..model import bundle
from . import repo
from .gitlab import GitLab
from .publish import ARTIFACT, DIST, HOSTS, STAGING, assign, gate_failures, recorded_digest

PROD = "prod"
VERSION = re.compile(rf"(?:{ARTIFACT}@)?(v\d+\.\d+\.\d+)")
# What the image build reads: written by every run that ends with the version in prod.
PROMOTED = DIST / "promoted.env"


def version_tag(given: str) -> str:
    """``model@v1.2.0`` from ``v1.2.0`` or ``model@v1.2.0``; anything else is refused."""
    if not given.strip():
        raise UserError(
            f"no version given: name the one to promote, such as `make promote VERSION=v1.2.0` "
            f"(`gto show {ARTIFACT}` lists the versions and their stages)"
        )
    match = VERSION.fullmatch(given.strip())
    if not match:
        raise UserError(
            f"'{given}' is not a model version: give one such as v1.2.0 or {ARTIFACT}@v1.2.0 "
            f"(`gto show {ARTIFACT}` lists them)"
        )
    return f"{ARTIFACT}@{match[1]}"


def in_stage(stage: str) -> str | None:
    """The version (``v1.2.0``) GTO says is in ``stage`` now, if any."""
    return repo.quiet("gto", "show", f"{ARTIFACT}#{stage}", "--version") or None


def download(host: str, tag: str, folder: Path) -> None:
    """The release's files of ``tag`` into ``folder``."""
    folder.mkdir(parents=True)
    if host == "github":
        repo.installed("gh")
        repo.sh("gh", "release", "download", tag, "--dir", str(folder))
        return
    api = GitLab.from_environment()
    artifact, version = tag.split("@", 1)
    base = f"/packages/generic/{artifact}/{version}"
    sums = api.download(f"{base}/{bundle.SUMS_FILE}")
    (folder / bundle.SUMS_FILE).write_bytes(sums)
    for name in bundle.checksums(folder):
        (folder / name).write_bytes(api.download(f"{base}/{urllib.parse.quote(name)}"))


def fetch(tag: str, host: str) -> Path:
    """The version's bundle, here or downloaded, checked against the digest its tag records."""
    recorded = recorded_digest(tag)
    if recorded is None:
        raise UserError(
            f"{tag} is not a published version here: `gto show {ARTIFACT}` lists them (in a "
            "clone, `git fetch --tags` first)"
        )
    folder = DIST / f"{ARTIFACT}-{tag.split('@', 1)[1]}"
    if not folder.exists():
        print(f"promote: downloading the release {tag} into {folder}")
        download(host, tag, folder)
    bundle.verify(folder)
    if bundle.digest(folder) != recorded:
        raise UserError(
            f"{folder} is not the bundle published as {tag}: its digest differs from the one the "
            "tag records, so the release was changed after publishing; it is not promoted"
        )
    print(f"promote: {folder} is the bundle {tag} records (sha256 {recorded[:12]})")
    return folder


def check_provenance(folder: Path, repository: str) -> None:
    """GitHub's signed build provenance of each file: made by this repository's workflow."""
    repo.installed("gh")
    for path in sorted(folder.iterdir()):
        if not repo.succeeds("gh", "attestation", "verify", str(path), "--repo", repository):
            raise UserError(
                f"{path.name} of {folder} has no build provenance from {repository} "
                f"(`gh attestation verify {path} --repo {repository}` failed): it is not promoted"
            )
    print(f"promote: every file of {folder} has build provenance from {repository}")


def promote(given: str, *, stage: str, host: str, dry_run: bool, provenance: str) -> int:
    repo.installed("gto")
    tag = version_tag(given)
    version = tag.split("@", 1)[1]
    folder = fetch(tag, host)
    if provenance:
        check_provenance(folder, provenance)
    live, staged = in_stage(stage), in_stage(STAGING)
    if live == version:
        print(f"promote: {tag} is already in {stage}: nothing to assign")
    elif staged != version:
        raise UserError(
            f"{tag} is not in {STAGING} (the version there: {staged or 'none'}): only the "
            f"version publishing last assigned to {STAGING} is promoted (`gto show {ARTIFACT}`)"
        )
    else:
        against = f"{ARTIFACT}@{live}" if live else None
        metrics = json.loads((folder / bundle.METRICS_FILE).read_text(encoding="utf-8"))
        failures = gate_failures(tag, metrics, against)
        if failures:
            for failure in failures:
                print(f"gate failed: {failure}")
            where = f" against {against} in {stage}" if against else ""
            raise UserError(f"{tag} fails its gates{where}: it is not promoted")
        message = (
            f"Promote {ARTIFACT} {version} to {stage}: bundle sha256 {bundle.digest(folder)} "
            f"verified, gates pass{f' against {against}' if against else ''}"
        )
        assign(version, stage, message, push=not dry_run)
        done = "assigned locally (dry run: not pushed)" if dry_run else "assigned and pushed"
        print(f"promote: {tag} {done}: {stage} (was {live or 'none'})")
    PROMOTED.write_text(
        f"BUNDLE={folder}\nVERSION={version}\nDIGEST={bundle.digest(folder)}\n", encoding="utf-8"
    )
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("version", help=f"the version to promote: v1.2.0 or {ARTIFACT}@v1.2.0")
    parser.add_argument("--stage", default=PROD, help="the stage to assign (default: prod)")
    parser.add_argument("--platform", choices=HOSTS, default="github", help="where releases are")
    parser.add_argument("--dry-run", type=int, default=0, help="1: assign locally, do not push")
    parser.add_argument(
        "--provenance",
        default="",
        help="owner/name: check GitHub's build provenance of each file (public repositories)",
    )
    args = parser.parse_args()
    if args.stage == STAGING:
        raise UserError(f"publishing assigns {STAGING}: promote to another stage, such as {PROD}")
    sys.exit(
        promote(
            args.version,
            stage=args.stage,
            host=args.platform,
            dry_run=bool(args.dry_run),
            provenance=args.provenance,
        )
    )
