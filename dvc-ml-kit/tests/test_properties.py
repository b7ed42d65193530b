"""Properties of params.yaml as users write it by hand: a setting that load_params returns is
what SETTINGS allows, else one sentence names what is wrong; a gate that is set is never off."""

import io
import math
import string
import sys
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from dvc_ml_kit.ci.gate import GATES, THRESHOLDS, Metric, check, gates_for, problems
from dvc_ml_kit.contract import METRICS, lower_is_better
from dvc_ml_kit.errors import UserError
from dvc_ml_kit.params import (
    MAX_REPEATED,
    NONE,
    SECTIONS,
    SETTINGS,
    Choice,
    Number,
    load_params,
    parse_yaml,
)

EXAMPLES = settings(max_examples=200, deadline=None)

# Names as people type them (no line breaks): real ones, near misses, and anything else.
NAMES = st.text(string.ascii_letters + string.digits + "_.- ", min_size=1, max_size=12)
KEYS = st.one_of(
    st.sampled_from(["trian", "Train", "seed", "gate", "gates", "train", "minimun", "roc_aus"]),
    NAMES,
    st.integers(-3, 3),
    st.none(),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),  # .nan, .inf and -.inf too
    st.sampled_from([0.2, -1, 2**32, 10**400, math.nan, math.inf, -math.inf, "0.2", "local"]),
    NAMES,
)
VALUES = st.one_of(
    SCALARS, st.lists(SCALARS, max_size=3), st.dictionaries(NAMES, SCALARS, max_size=3)
)
OF_TYPE = {
    str: NAMES,
    NONE: st.none(),
    list: st.lists(NAMES, max_size=3),
    dict: st.dictionaries(NAMES, st.integers(0, 9), max_size=2),
}
EDITS = ["value", "remove", "top", "inner", "move", "section", "alias", "document"]


def valid_value(expected):
    """A value SETTINGS allows for a setting of type ``expected``."""
    if isinstance(expected, Choice):
        return st.sampled_from(expected.values)
    if isinstance(expected, Number):
        if expected.kind is float:
            return st.floats(expected.low, expected.high)
        return st.integers(int(expected.low), int(expected.high or 10**6))
    kinds = expected if isinstance(expected, tuple) else (expected,)
    return st.one_of([OF_TYPE[kind] for kind in kinds])


@st.composite
def documents(draw):
    """A valid params.yaml as a value, then up to three edits a hand might make."""
    document = {"gates": {}}
    for key, expected in SETTINGS.items():
        section, name = key.split(".")
        document.setdefault(section, {})[name] = draw(valid_value(expected))
    for _ in range(draw(st.integers(0, 3))):
        edit, key = draw(st.sampled_from(EDITS)), draw(st.sampled_from(list(SETTINGS)))
        section, name = key.split(".")
        settings_ = document.get(section)
        if not isinstance(settings_, dict) or name not in settings_:
            continue
        if edit == "value":
            settings_[name] = draw(VALUES)
        elif edit == "remove":
            del settings_[name]
        elif edit == "top":
            document[draw(KEYS)] = draw(VALUES)
        elif edit == "inner":
            settings_[draw(KEYS)] = draw(VALUES)
        elif edit == "move":  # wrong nesting: to the top, or into another section
            into = draw(
                st.sampled_from([document, *[v for v in document.values() if isinstance(v, dict)]])
            )
            into[name] = settings_.pop(name)
        elif edit == "section":
            document[section] = draw(VALUES)
        elif edit == "alias":  # one list or mapping twice: written as &id001 and *id001
            shared = draw(st.one_of(OF_TYPE[list], OF_TYPE[dict]))
            other, other_name = draw(st.sampled_from(list(SETTINGS))).split(".")
            settings_[name] = shared
            if isinstance(document.get(other), dict):
                document[other][other_name] = shared
        else:
            return draw(VALUES)
    return document


def dump(value) -> str:
    text = io.StringIO()
    YAML(typ="safe", pure=True).dump(value, text)
    return text.getvalue()


def satisfies(value, expected) -> bool:
    """Whether ``value`` is what SETTINGS allows, checked without params.py's own code."""
    if isinstance(expected, Choice):
        return value in expected.values
    if isinstance(expected, Number):
        kinds = (int, float) if expected.kind is float else (int,)
        high = math.inf if expected.high is None else expected.high
        return type(value) in kinds and expected.low <= value <= high and value != math.inf
    return type(value) in (expected if isinstance(expected, tuple) else (expected,))


def wrong(document, keys) -> list[str]:
    """The names a sentence about ``document`` may name: everything wrong for a reader of
    ``keys`` (empty: nothing is)."""
    sections = list(dict.fromkeys(key.split(".")[0] for key in keys))
    if not isinstance(document, dict):
        return sections
    found = [str(name) for name in document if name not in SECTIONS]
    for section in sections:
        if not isinstance(document.get(section), dict | None):
            found.append(section)
        else:
            known = {key.split(".")[1] for key in SETTINGS if key.startswith(f"{section}.")}
            found += [f"{section}.{n}" for n in document.get(section) or {} if n not in known]
    for key in keys:
        section, name = key.split(".")
        settings_ = document.get(section)
        missing = not isinstance(settings_, dict) or name not in settings_
        if missing or not satisfies(settings_[name], SETTINGS[key]):
            found.append(key)
    return found


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("properties")


@EXAMPLES
@given(
    document=documents(),
    keys=st.one_of(
        st.just(list(SETTINGS)), st.lists(st.sampled_from(list(SETTINGS)), min_size=1, unique=True)
    ),
)
def test_settings_are_what_settings_allows_or_one_sentence_names_the_key(folder, document, keys):
    path = folder / "params.yaml"
    path.write_text(dump(document), encoding="utf-8")
    read = parse_yaml(path.read_text(encoding="utf-8"), path) or {}  # as DVC reads it
    expected = wrong(read, keys)
    try:
        values = load_params(path, keys)
    except UserError as error:
        assert "\n" not in str(error)
        assert any(name in str(error) for name in expected), (str(error), expected)
    else:
        assert not expected, f"{expected} accepted"
        assert list(values) == list(keys)
        assert repr(values) == repr(
            {key: read[key.split(".")[0]][key.split(".")[1]] for key in keys}
        )


@EXAMPLES
@given(width=st.integers(1, 12), depth=st.integers(0, 6))
def test_aliases_are_read_expanded_or_refused_by_how_much_they_repeat(width, depth):
    # a0 holds `width` values; each next anchor repeats the one before `width` times.
    lines = [f"a0: &a0 [{', '.join(['x'] * width)}]"]
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * width)}]" for n in range(1, depth + 1)]
    size = [1 + width]  # values under a_n once expanded, itself included
    for _ in range(depth):
        size.append(1 + width * size[-1])
    repeated = sum(width * (size[n] - 1) for n in range(depth))
    started = time.perf_counter()
    try:
        read = parse_yaml("\n".join(lines) + "\n", "params.yaml")
    except UserError as error:
        assert repeated > MAX_REPEATED
        assert str(error).startswith("params.yaml repeats more than ")
    else:
        assert repeated <= MAX_REPEATED
        assert read[f"a{depth}"] == (
            ["x"] * width if depth == 0 else [read[f"a{depth - 1}"]] * width
        )
    assert time.perf_counter() - started < 2


# --- gates -------------------------------------------------------------------------------------

NAMED = sorted({name for metrics in METRICS.values() for name in metrics})
METRIC_NAMES = st.one_of(st.sampled_from(NAMED), st.sampled_from(["acuracy", "roc_aus", "R2"]))
LIMITS = st.one_of(
    st.floats(),
    st.integers(),
    st.just(10**400),
    st.booleans(),
    st.none(),
    NAMES,
    st.lists(SCALARS, max_size=2),
)
SECTION_VALUES = st.one_of(st.dictionaries(METRIC_NAMES, LIMITS, max_size=3), LIMITS)
BEAT = st.one_of(st.booleans(), st.lists(st.one_of(METRIC_NAMES, SCALARS), max_size=3), SCALARS)
GATE_SECTIONS = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            **{section: SECTION_VALUES for section in THRESHOLDS},
            "beat_baseline": BEAT,
            "minimun": SECTION_VALUES,  # misspelt, and a metric where a section should be
            "roc_auc": LIMITS,
        },
    ),
    st.none(),
    SCALARS,
    st.lists(SCALARS, max_size=2),
)
MEASURES = st.one_of(
    st.none(), st.floats(-10, 10), st.integers(-3, 3), st.sampled_from([math.nan, math.inf, "0.9"])
)


@st.composite
def metric_lists(draw):
    names = draw(st.lists(st.sampled_from(NAMED), min_size=1, max_size=4, unique=True))
    return [Metric(name, draw(MEASURES), draw(MEASURES), draw(MEASURES)) for name in names]


def finite(value) -> bool:
    return type(value) in (int, float) and abs(value) <= sys.float_info.max


def threshold(section: str, limit) -> bool:
    """Whether ``limit`` is a threshold that can hold a metric in ``section``."""
    return finite(limit) and (section != "max_drop" or limit >= 0)


def breaks(metric: Metric, section: str, limit: float) -> bool:
    """Whether a metric with finite values breaks a valid threshold of ``section``."""
    if section == "minimum":
        return metric.new < limit
    if section == "maximum":
        return metric.new > limit
    if metric.old is None:
        return False  # nothing to compare with on the base: the drop gate waits
    change = metric.new - metric.old
    return (change if lower_is_better(metric.name) else -change) > limit + 1e-12


def must_fail(metric: Metric, gates) -> bool:
    """Whether ``metric`` breaks a gate that is set and valid, or has no number to hold to one."""
    values = (metric.new, metric.old, metric.baseline)
    if metric.new is None or any(value is not None and not finite(value) for value in values):
        return True
    sections = gates if isinstance(gates, dict) else {}
    for section in THRESHOLDS:
        limits = sections.get(section)
        limit = limits.get(metric.name) if isinstance(limits, dict) else None
        if threshold(section, limit) and breaks(metric, section, limit):
            return True
    beat = sections.get("beat_baseline")
    if beat is True or isinstance(beat, list) and metric.name in beat:
        if metric.baseline is None:
            return True
        lower = lower_is_better(metric.name)
        return metric.new >= metric.baseline if lower else metric.new <= metric.baseline
    return False


@EXAMPLES
@given(gates=GATE_SECTIONS, metrics=metric_lists())
def test_a_gate_that_is_set_is_never_off(gates, metrics):
    names = [metric.name for metric in metrics]
    found, failures = problems(gates, names, "params.yaml"), check(metrics, gates)
    assert all("\n" not in line for line in failures)
    assert set(found) <= set(failures)  # a wrong gate fails, whatever the metrics
    for metric in metrics:
        failed = any(line.startswith(f"{metric.name} ") for line in failures)
        assert failed == must_fail(metric, gates), failures
    # A set threshold that is no valid number is named; so is a gates section of another shape.
    for section in THRESHOLDS:
        limits = gates.get(section) if isinstance(gates, dict) else None
        for name, limit in limits.items() if isinstance(limits, dict) else []:
            if name in names and not threshold(section, limit):
                assert any(line.startswith(f"gates.{section}.{name} in ") for line in found)
    if not isinstance(gates, dict) or set(gates) - set(GATES):
        assert found
    if not found and not any(must_fail(metric, gates) for metric in metrics):
        assert failures == []


@EXAMPLES
@given(branch=GATE_SECTIONS, base=GATE_SECTIONS, metrics=metric_lists())
def test_a_pull_request_is_held_to_the_base_gates(branch, base, metrics):
    gates = gates_for({"gates": branch}, {"gates": base}, "origin/main")
    assert gates.applied is (branch if base is None else base)
    names = [metric.name for metric in metrics]
    lines = check(metrics, gates.applied, gates.where) + gates.branch_problems(names)
    assert all("\n" not in line for line in lines)
    if gates.proposed:
        assert gates.branch_problems(names) == problems(branch, names, "params.yaml of this branch")
