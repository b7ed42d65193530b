#!/usr/bin/env python3
"""Test stand-in for the `gh` and `docker` commands (links to this file).

Appends one JSON line per call to the file named by $STANDIN_CALLS: the command, its arguments,
which tokens it was given, the text it would post (a comment, release notes), the SHA-256 of
the files it would upload, and whether it was given a secret on standard input (`docker login
--password-stdin`; never the secret itself).
As GitHub does, `gh release create TAG FILES` keeps the files as the release's assets (in the
folder $STANDIN_RELEASES), `gh release view TAG` and `gh release download TAG --dir DIR` answer
"release not found" for a release no call created, and `gh attestation verify FILE` succeeds only
for a file whose SHA-256 an `actions/attest` stand-in recorded, and `gh pr list --head BRANCH`
counts the pull requests `gh pr create --head BRANCH` opened. Every other call exits 0.
"""

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

TOKENS = ("GH_TOKEN", "GITHUB_TOKEN", "CI_PUSH_TOKEN")


def calls(record: Path) -> list[dict]:
    if not record.exists():
        return []
    return [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines()]


def body(args: list[str]) -> str | None:
    """The text the command would post: `gh pr comment` reads its --body-file, `gh release
    create` its --notes-file."""
    for option in ("--body-file", "--notes-file"):
        if option in args:
            return Path(args[args.index(option) + 1]).read_text(encoding="utf-8")
    return None


def main() -> int:
    tool = Path(sys.argv[0]).name
    args = sys.argv[1:]
    record = Path(os.environ["STANDIN_CALLS"])
    released = {
        call["args"][2]
        for call in calls(record)
        if call["tool"] == "gh" and call["args"][:2] == ["release", "create"]
    }
    call = {
        "tool": tool,
        "args": args,
        "tokens": sorted(name for name in TOKENS if os.environ.get(name)),
        "body": body(args),
        # The files it would upload, by their SHA-256.
        "digests": {
            arg: hashlib.sha256(Path(arg).read_bytes()).hexdigest()
            for arg in args
            if Path(arg).is_file()
        },
    }
    if "--password-stdin" in args:
        call["stdin"] = bool(sys.stdin.read())
    with record.open("a", encoding="utf-8") as file:
        file.write(json.dumps(call) + "\n")
    if tool != "gh":
        return 0
    assets = Path(os.environ.get("STANDIN_RELEASES", record.parent / "releases"))
    if args[:2] == ["release", "create"]:
        end = next((i for i, arg in enumerate(args) if i > 2 and arg.startswith("-")), len(args))
        files = [Path(arg) for arg in args[3:end]]
        (assets / args[2]).mkdir(parents=True, exist_ok=True)
        for path in files:
            shutil.copyfile(path, assets / args[2] / path.name)
    if args[:2] in (["release", "view"], ["release", "download"]) and args[2] not in released:
        print("release not found", file=sys.stderr)
        return 1
    if args[:2] == ["release", "download"]:
        folder = Path(args[args.index("--dir") + 1]) if "--dir" in args else Path()
        folder.mkdir(parents=True, exist_ok=True)
        for path in sorted((assets / args[2]).iterdir()):
            shutil.copyfile(path, folder / path.name)
    if args[:2] == ["pr", "list"]:
        # The open pull requests from --head: those a `gh pr create` call opened (none is closed).
        head = args[args.index("--head") + 1]
        opened = [
            earlier
            for earlier in calls(record)
            if earlier["tool"] == "gh"
            and earlier["args"][:2] == ["pr", "create"]
            and earlier["args"][earlier["args"].index("--head") + 1] == head
        ]
        print(len(opened) if "--jq" in args else json.dumps([{"number": 1}] * len(opened)))
    if args[:2] == ["attestation", "verify"]:
        attested = {
            digest
            for earlier in calls(record)
            if earlier["tool"] == "attest"
            for digest in earlier["digests"].values()
        }
        if hashlib.sha256(Path(args[2]).read_bytes()).hexdigest() not in attested:
            print(f"Error: no attestation found for {args[2]}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
