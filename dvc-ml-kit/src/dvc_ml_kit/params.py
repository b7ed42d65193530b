"""params.yaml: every setting a stage reads, what its value may be, and reading it as DVC does."""

import math
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from ruamel.yaml import YAML, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, SequenceNode

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
    "prepare.unlabeled": Choice(("set_aside", "error")),
    "train.estimator": str,
    "train.seed": SEED,
    "train.class_weight": (str, NONE),
    "train.hyperparameters": (dict, NONE),
    "evaluate.seed": SEED,
    "evaluate.importance_repeats": Number(int, 1),
    "evaluate.importance_features": Number(int, 1),
    "evaluate.max_plot_rows": Number(int, 1),
    "evaluate.resamples": Number(int, 0),
}
# The sections of params.yaml: those of SETTINGS, and the quality gates, which ci/gate.py reads
# and checks. Any other is refused as a typo: `trian:` beside `train:` is read by nothing.
SECTIONS = (*dict.fromkeys(key.split(".")[0] for key in SETTINGS), "gates")
# The values YAML aliases (*name) may add to a file by repeating its lists and mappings: far more
# than hand-written files share, far fewer than a "billion laughs" file, whose million values
# take DVC minutes and gigabytes to expand.
MAX_REPEATED = 10_000


def parse_yaml(text: str, where: object):
    """Parse YAML text by the rules DVC uses (YAML 1.2: ``1e-3`` is a number); ``where`` names
    the file in the error."""
    yaml = YAML(typ="safe", pure=True)
    try:
        node = yaml.compose(text)  # an alias is a reference here: nothing is expanded yet
        if node is None:
            return None
        if _repeated(node) > MAX_REPEATED:
            raise UserError(
                f"{where} repeats more than {MAX_REPEATED} values through YAML aliases (*name), "
                "which DVC expands too: write the values out without aliases"
            )
        return yaml.constructor.construct_document(node)
    except YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise UserError(f"{where} is not valid YAML{at} ({problem}): fix it") from None
    except RecursionError:
        raise UserError(f"{where} nests lists or mappings too deeply to read: flatten it") from None


def _repeated(node: Node) -> float:
    """How many values (keys too) YAML aliases and merge keys add to a composed document by
    repeating a list or mapping written once; infinitely many when one holds itself."""
    expanded: dict[int, float] = {}  # a list or mapping's values, aliases expanded
    written = 0

    def size(node: Node) -> float:
        nonlocal written
        if not isinstance(node, MappingNode | SequenceNode):
            return 1
        if id(node) not in expanded:
            expanded[id(node)] = math.inf  # until it is counted: so if it holds itself
            pairs = isinstance(node, MappingNode)
            children = [child for pair in node.value for child in pair] if pairs else node.value
            written += len(children)
            expanded[id(node)] = 1 + sum(size(child) for child in children)
        return expanded[id(node)]

    return size(node) - 1 - written


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
        # .nan compares false with every bound, and .inf is no setting either.
        nan_or_inf = isinstance(value, float) and not math.isfinite(value)
        if isinstance(value, bool) or not isinstance(value, kinds) or nan_or_inf:
            return f"must be {'a number' if expected.kind is float else 'a whole number'} {within}"
        too_high = expected.high is not None and value > expected.high
        return f"must be {within}" if value < expected.low or too_high else None
    kinds = expected if isinstance(expected, tuple) else (expected,)
    if isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds):
        return None
    return f"must be a {' or '.join('null' if kind is NONE else kind.__name__ for kind in kinds)}"


def load_params(path: Path, keys: Iterable[str]) -> dict[str, object]:
    """Return ``{dotted key: value}`` for exactly ``keys`` (keys of ``SETTINGS``) of the params
    file at ``path``, each checked against ``SETTINGS``, after checking that the file holds no
    section, and the sections they belong to no key, that nothing reads. Every stage refuses an
    unknown section, which no stage would otherwise: `trian.seed` is a seed train never sees."""
    foreign = [key for key in keys if key not in SETTINGS]
    if foreign:
        raise UserError(
            f"'{foreign[0]}' is not a setting dvc-ml-kit reads (dvc_ml_kit.params.SETTINGS): a "
            "stage asks load_params for those only"
        )
    params = read_yaml(path) or {}
    unknown = [name for name in params if name not in SECTIONS] if isinstance(params, dict) else []
    if unknown:
        raise UserError(
            f"{unknown[0]} in {path} is not a section the pipeline or its gates read: fix its "
            f"name (the sections are: {', '.join(SECTIONS)})"
        )
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
