"""What every pipeline stage shares: reading its parameters and reporting user errors."""

import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import yaml


class UserError(Exception):
    """A problem the user can fix in the data or in params.yaml, reported as one sentence."""


def load_params(path: Path, keys: Iterable[str]) -> dict[str, object]:
    """Return ``{dotted key: value}`` for exactly ``keys`` of the YAML file at ``path``."""
    with open(path, encoding="utf-8") as file:
        params = yaml.safe_load(file) or {}
    values = {}
    for key in keys:
        node = params
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                raise UserError(f"{path} has no '{key}': add it to the file")
            node = node[part]
        values[key] = node
    return values


def run(main: Callable[[], None]) -> int:
    """Call a stage's ``main()``; turn a UserError into one line on stderr and exit code 1."""
    try:
        main()
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0
