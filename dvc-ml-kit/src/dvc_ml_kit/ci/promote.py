"""promote: move a published model version from staging to production, once it is checked.

Publishing assigns each new version to GTO's ``staging`` stage when its gates pass (see
:mod:`.publish`). ``dvc-ml-kit promote v1.2.0`` (the promotion workflow, run by hand through a
protected environment) then:

1. fetches the version's bundle (:mod:`.fetch`: ``dist/model-v1.2.0``, downloaded from its
   release if not here) and checks it is the one published: its checksums, and its digest
   against the one recorded in the version tag's message (and, with ``--provenance``, GitHub's
   signed build provenance of each file);
2. refuses a version that is not in ``staging`` now, and one whose metrics fail the gates of its
   own params.yaml against the version in production;
3. assigns ``prod`` (a ``model#prod#N`` tag, pushed to origin).

It writes ``dist/promoted.env`` (the bundle's folder, version, digest and training engine) for
the step that builds the service's image. A rerun on a version already in ``prod`` checks it
again and assigns nothing.
"""

import argparse
import json
import sys
from pathlib import Path

from ..errors import UserError
from ..model import bundle
from ..params import parse_yaml
from . import repo
from .fetch import fetch, in_stage, version_tag
from .publish import ARTIFACT, DIST, HOSTS, STAGING, assign, gate_failures

PROD = "prod"
# What the image build reads: written by every run that ends with the version in prod.
PROMOTED = DIST / "promoted.env"


def engine(tag: str) -> str:
    """The engine that trained the version (compute.engine of its params.yaml): the service's
    image needs the Dask engine's libraries to load a model trained there."""
    params = parse_yaml(repo.file_at(tag, Path("params.yaml")), f"params.yaml of {tag}")
    compute = params.get("compute") if isinstance(params, dict) else None
    return (compute or {}).get("engine") or "local"


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
        f"BUNDLE={folder}\nVERSION={version}\nDIGEST={bundle.digest(folder)}\n"
        f"ENGINE={engine(tag)}\n",
        encoding="utf-8",
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
