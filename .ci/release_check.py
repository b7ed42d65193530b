"""The one version of a release: a tag, dvc-ml-kit's version and the template's pins of it agree.

    python3 .ci/release_check.py v0.2.0        # make release-check TAG=v0.2.0 (release workflow)
    python3 .ci/release_check.py --bump 0.3.0  # make release-bump VERSION=0.3.0 (and make lock)

dvc-ml-kit's version lives in dvc-ml-kit/pyproject.toml alone (``dvc_ml_kit.__version__`` reads the
installed package's metadata). A generated project pins that exact version in its pyproject.toml
and in the files ``make lock`` writes from it: the template's requirements/*.txt (one per kind of
DVC remote) and pipeline-requirements.txt. A disagreement is one sentence naming the files and the
command that fixes it; nothing is printed as a traceback.
"""

import argparse
import re
import sys
import tomllib
from pathlib import Path

PACKAGE = "dvc-ml-kit/pyproject.toml"
PROJECT = "{{cookiecutter.project_slug}}"
# The project's own pins, then those make lock writes from them; --bump sets them all.
DECLARED = f"{PROJECT}/pyproject.toml"
LOCKED = [f"{PROJECT}/requirements/*.txt", f"{PROJECT}/pipeline-requirements.txt"]
# `dvc-ml-kit==X` and `dvc-ml-kit[dask]==X`, in requirements files and TOML strings alike.
PIN = re.compile(r"(?<![\w.-])(dvc-ml-kit(?:\[[^\]]*\])?==)([^\s\";,\]]+)")
# PEP 440 release versions, as make release-bump accepts them (1.2.3, 1.2.3rc1, 1.2.3.post1).
VERSION = re.compile(r"\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?")


class Refused(Exception):
    """What disagrees, and what to do, in one sentence."""


def package_version(root: Path) -> str:
    """dvc-ml-kit's version, from its pyproject.toml."""
    try:
        version = tomllib.loads((root / PACKAGE).read_text())["project"]["version"]
    except (OSError, tomllib.TOMLDecodeError, KeyError) as error:
        raise Refused(
            f"{PACKAGE} holds no readable [project] version ({error}): fix that file."
        ) from None
    return version


def pin_files(root: Path) -> list[Path]:
    """Every file that must pin dvc-ml-kit, in a stable order."""
    files = [root / DECLARED]
    for pattern in LOCKED:
        files += sorted(root.glob(pattern))
    return files


def pins(root: Path) -> dict[str, set[str]]:
    """The versions of dvc-ml-kit each file pins, by path relative to ``root``."""
    return {
        file.relative_to(root).as_posix(): {match[2] for match in PIN.finditer(file.read_text())}
        for file in pin_files(root)
    }


def listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def check(root: Path, tag: str) -> str:
    """The line a release prints when ``tag``, the package's version and the pins agree;
    otherwise :class:`Refused`."""
    version = package_version(root)
    if not tag.startswith("v") or not VERSION.fullmatch(tag[1:]):
        raise Refused(
            f"{tag!r} is not a release tag: releases are tagged v<version>, "
            f"v{version} for the version in {PACKAGE}."
        )
    if tag[1:] != version:
        raise Refused(
            f"the tag {tag} does not match dvc-ml-kit's version {version} in {PACKAGE}: delete "
            f"the tag, then either tag v{version}, or bump the version "
            f"(make release-bump VERSION={tag[1:]}), commit and tag again."
        )
    found = pins(root)
    missing = [name for name, versions in found.items() if not versions]
    if missing:
        raise Refused(
            f"{listed(missing)} pin{'s' if len(missing) == 1 else ''} no dvc-ml-kit version: "
            f"pin dvc-ml-kit=={version} in {DECLARED} and re-pin with make lock before tagging."
        )
    wrong = {name: versions - {version} for name, versions in found.items()}
    wrong = {name: others for name, others in wrong.items() if others}
    if wrong:
        pinned = listed(sorted(set().union(*wrong.values())))
        raise Refused(
            f"the template pins dvc-ml-kit {pinned}, not {version} ({PACKAGE}), in "
            f"{listed(list(wrong))}: run make release-bump VERSION={version}, commit and tag again."
        )
    return (
        f"release-check: tag {tag}, dvc-ml-kit {version} and its pins in {len(found)} files agree"
    )


def bump(root: Path, version: str) -> str:
    """Set dvc-ml-kit's version, and every pin of it in the template, to ``version``.

    The pins in the files ``make lock`` writes change too: the template's own set-up installs
    dvc-ml-kit with them as constraints, so it could not set up for ``make lock`` otherwise.
    ``make lock`` then re-pins whatever else the new version needs."""
    if not VERSION.fullmatch(version):
        raise Refused(f"{version!r} is not a version: give one like 0.3.0 (VERSION=0.3.0).")
    package_version(root)  # readable before anything is written
    package = root / PACKAGE
    text, count = re.subn(
        r'(?m)^version = "[^"]*"$', f'version = "{version}"', package.read_text(), count=1
    )
    if not count:
        raise Refused(f'{PACKAGE} has no line version = "...": fix that file.')
    edits = {package: text}
    for file in pin_files(root):
        edits[file], pinned = PIN.subn(rf"\g<1>{version}", file.read_text())
        if not pinned:
            name = file.relative_to(root).as_posix()
            raise Refused(f"{name} pins no dvc-ml-kit version: pin dvc-ml-kit=={version} in it.")
    for file, text in edits.items():
        file.write_text(text)
    return f"release-bump: dvc-ml-kit {version} in {PACKAGE} and its pins in {len(edits) - 1} files"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("tag", nargs="?", help="the release tag to check, v<version>")
    parser.add_argument("--bump", metavar="VERSION", help="set the version instead of checking")
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    args = parser.parse_args(argv)
    try:
        if args.bump is not None:
            print(bump(args.root, args.bump))
        elif not args.tag:
            raise Refused("no tag to check: give the release tag, as in TAG=v<version>.")
        else:
            print(check(args.root, args.tag))
    except Refused as refusal:
        print(f"error: {refusal}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
