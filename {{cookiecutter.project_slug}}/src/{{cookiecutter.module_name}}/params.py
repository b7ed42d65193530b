"""Reading params.yaml (and other YAML files) as DVC reads them, with each value's type checked."""

from collections.abc import Mapping
from pathlib import Path

from ruamel.yaml import YAML, YAMLError

from .errors import UserError


def parse_yaml(text: str, where: object):
    """Parse YAML text by the rules DVC uses (YAML 1.2: ``1e-3`` is a number); ``where`` names
    the file in the error."""
    try:
        return YAML(typ="safe", pure=True).load(text)
    except YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise UserError(f"{where} is not valid YAML{at} ({problem}): fix it") from None


def read_yaml(path: Path):
    """Parse a YAML file by the rules DVC uses."""
    return parse_yaml(path.read_text(encoding="utf-8"), path)


def load_params(path: Path, keys: Mapping[str, type | tuple[type, ...]]) -> dict[str, object]:
    """Return ``{dotted key: value}`` for exactly ``keys`` of the params file at ``path``.

    ``keys`` maps each dotted key to the type(s) its value must have.
    """
    params = read_yaml(path) or {}
    values = {}
    for key, expected in keys.items():
        node = params
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                raise UserError(f"{path} has no '{key}': add it to the file")
            node = node[part]
        if not isinstance(node, expected):
            kinds = expected if isinstance(expected, tuple) else (expected,)
            names = " or ".join("null" if kind is type(None) else kind.__name__ for kind in kinds)
            raise UserError(f"{key} in {path} is {node!r}, but must be a {names}")
        values[key] = node
    return values
