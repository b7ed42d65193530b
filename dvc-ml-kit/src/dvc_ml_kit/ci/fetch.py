"""fetch: a published model version's bundle, here, checked against the digest its tag records.

``dvc-ml-kit fetch prod`` (a stage), ``fetch v1.2.0`` (a version) or ``fetch dist/model-v1.2.0``
(a folder) prints the folder of that bundle: ``dist/model-<version>``, downloaded from the
version's release (GitHub) or package (GitLab) if it is not here yet, its checksums and its
digest checked against the one in the version tag's message, which a release cannot rewrite.
``make serve`` serves what it prints; promotion checks a version the same way.
"""

import argparse
import re
import shutil
import sys
import urllib.parse
from pathlib import Path

from ..errors import UserError
from ..model import bundle
from . import repo
from .gitlab import GitLab
from .publish import ARTIFACT, DIST, HOSTS, recorded_digest

VERSION = re.compile(rf"(?:{ARTIFACT}@)?(v\d+\.\d+\.\d+)")


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
        print(f"fetch: downloading the release {tag} into {folder}", file=sys.stderr)
        # Into a folder of its own first: a download that fails half-way leaves no bundle.
        partial = folder.with_name(f".{folder.name}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        download(host, tag, partial)
        partial.rename(folder)
    bundle.verify(folder)
    if bundle.digest(folder) != recorded:
        raise UserError(
            f"{folder} is not the bundle published as {tag}: its digest differs from the one the "
            "tag records, so the release was changed after publishing: it is not used"
        )
    print(f"fetch: {folder} is the bundle {tag} records (sha256 {recorded[:12]})", file=sys.stderr)
    return folder


def resolve(given: str, host: str) -> Path:
    """The bundle folder ``given`` names: a folder as it is (loading it checks it), else a
    version or a stage's version, fetched and checked against its tag."""
    if not given.strip():
        raise UserError(
            "no model named: give a stage (prod), a version (v1.2.0) or a bundle folder, such as "
            "`make serve MODEL=prod`"
        )
    if Path(given).is_dir():
        return Path(given)
    if VERSION.fullmatch(given.strip()):
        return fetch(version_tag(given), host)
    repo.installed("gto")
    version = in_stage(given) if re.fullmatch(r"[\w-]+", given) else None
    if version is None:
        raise UserError(
            f"'{given}' is not a bundle folder, a version (v1.2.0) or a stage that holds a "
            f"version (`gto show {ARTIFACT}` lists them): name one of those"
        )
    return fetch(f"{ARTIFACT}@{version}", host)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a stage (prod), a version (v1.2.0) or a bundle folder")
    parser.add_argument("--platform", choices=HOSTS, default="github", help="where releases are")
    args = parser.parse_args()
    print(resolve(args.model, args.platform))
