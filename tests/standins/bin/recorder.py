#!/usr/bin/env python3
"""Test stand-in for the `gh` command (a link to this file).

Appends one JSON line per call to the file named by $STANDIN_CALLS: the command, its arguments,
which tokens it was given, the text it would post (a comment, release notes) and the SHA-256 of
the files it would upload.
Exits 0, except `gh release view TAG`, which answers "release not found" unless an earlier call
created that release.
"""

import hashlib
import json
import os
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
    with record.open("a", encoding="utf-8") as file:
        file.write(json.dumps(call) + "\n")
    if tool == "gh" and args[:2] == ["release", "view"] and args[2] not in released:
        print("release not found", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
