"""params.yaml: every setting a stage reads, what its value may be, and reading it as DVC does."""

from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from ruamel.yaml import YAML, YAMLError

from .errors import UserError


class Number(NamedTuple):
    """A setting that is a number of ``kind`` (int or float) between ``low`` and ``high``."""

    kind: type
    low: float
    high: float | None = None


class Choice(NamedTuple):
    """A setting that is one of ``values``."""

    values: tuple[str, ...]


NONE = type(None)
# scikit-learn and NumPy take seeds from 0 to 2**32 - 1.
SEED = Number(int, 0, 2**32 - 1)
# Every setting of the sections below that the pipeline reads, and the types (or the range) its
# value may have. Each stage's PARAMS lists the keys it reads, and dvc.yaml lists the same; a
# key of these sections that is not here is read by nothing, so it is refused as a typo. The
# values a stage checks itself (a column name, a separator) say so in its own errors.
SETTINGS: dict[str, type | tuple[type, ...] | Number | Choice] = {
    "data.task": str,
    "data.file": str,  # read by dvc.yaml itself: ${data.file}
    "data.target": str,
    "data.id_column": (str, NONE),
    "data.group_column": (str, NONE),
    "data.drop_columns": (list, NONE),
    "data.categorical_columns": (list, NONE),
    "data.keep_columns": (list, NONE),
    "data.separator": (str, NONE),
    "data.decimal": (str, NONE),
    "data.encoding": (str, NONE),
    "compute.engine": Choice(("local", "dask")),
    "compute.store": (str, NONE),
    "prepare.test_size": Number(float, 0, 1),
    "prepare.seed": SEED,
    "prepare.min_test_rows_per_class": Number(int, 1),
    "train.estimator": str,
    "train.seed": SEED,
    "train.class_weight": (str, NONE),
    "train.hyperparameters": (dict, NONE),
    "evaluate.seed": SEED,
    "evaluate.importance_repeats": Number(int, 1),
    "evaluate.importance_features": Number(int, 1),
    "evaluate.max_plot_rows": Number(int, 1),
}


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


def _problem(value: object, expected: type | tuple[type, ...] | Number | Choice) -> str | None:
    """What is wrong with ``value`` for a setting of type ``expected``, or None."""
    if isinstance(expected, Choice):
        return None if value in expected.values else f"must be one of: {', '.join(expected.values)}"
    if isinstance(expected, Number):
        within = f"from {expected.low}" + (
            f" to {expected.high}" if expected.high is not None else " up"
        )
        kinds = (int, float) if expected.kind is float else (int,)
        if isinstance(value, bool) or not isinstance(value, kinds):
            return f"must be {'a number' if expected.kind is float else 'a whole number'} {within}"
        too_high = expected.high is not None and value > expected.high
        return f"must be {within}" if value < expected.low or too_high else None
    kinds = expected if isinstance(expected, tuple) else (expected,)
    if isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds):
        return None
    return f"must be a {' or '.join('null' if kind is NONE else kind.__name__ for kind in kinds)}"


def load_params(path: Path, keys: Iterable[str]) -> dict[str, object]:
    """Return ``{dotted key: value}`` for exactly ``keys`` (keys of ``SETTINGS``) of the params
    file at ``path``, each checked against ``SETTINGS``, after checking that the sections they
    belong to hold no key that nothing reads."""
    params = read_yaml(path) or {}
    values = {}
    for section in dict.fromkeys(key.split(".")[0] for key in keys):
        if not isinstance(params, dict) or not isinstance(params.get(section), dict | None):
            raise UserError(f"{section} in {path} must be a mapping of settings to values")
        known = [key.split(".", 1)[1] for key in SETTINGS if key.split(".")[0] == section]
        settings = params.get(section)
        unknown = [name for name in settings or {} if name not in known]
        if unknown:
            raise UserError(
                f"{section}.{unknown[0]} in {path} is not a setting the pipeline reads: fix its "
                f"name (the {section} settings are: {', '.join(known)})"
            )
    for key in keys:
        node = params
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                raise UserError(f"{path} has no '{key}': add it to the file")
            node = node[part]
        problem = _problem(node, SETTINGS[key])
        if problem:
            raise UserError(f"{key} in {path} is {node!r}, but {problem}")
        values[key] = node
    return values
