"""Quality gates: minimum, maximum, allowed drop against the base, and the baseline."""

import json
import math

import pytest

from dvc_ml_kit.ci.gate import (
    Metric,
    check,
    drift_failures,
    from_diff,
    gates_for,
    unchanged,
    with_noise,
    within_noise,
)

GATES = {
    "minimum": {"balanced_accuracy": 0.9},
    "maximum": {"log_loss": 0.3},
    "max_drop": {"balanced_accuracy": 0.02, "log_loss": 0.05},
    "beat_baseline": True,
}


def metrics(accuracy=0.95, old_accuracy=0.95, loss=0.1, old_loss=0.1) -> list[Metric]:
    return [
        Metric("balanced_accuracy", new=accuracy, old=old_accuracy, baseline=0.5),
        Metric("log_loss", new=loss, old=old_loss, baseline=0.66),
    ]


def test_good_model_passes():
    assert check(metrics(), GATES) == []


def test_below_minimum_names_the_metric():
    (failure,) = check(metrics(accuracy=0.85, old_accuracy=0.86), GATES)
    assert failure == "balanced_accuracy is 0.85, below the minimum of 0.9"


def test_above_maximum_for_a_loss():
    failures = check(metrics(loss=0.4, old_loss=0.39), GATES)
    assert failures == ["log_loss is 0.4, above the maximum of 0.3"]


@pytest.mark.parametrize(
    ("values", "name"),
    [({"accuracy": 0.92, "old_accuracy": 0.95}, "balanced_accuracy"), ({"loss": 0.2}, "log_loss")],
)
def test_drop_against_the_base_respects_the_metric_direction(values, name):
    (failure,) = check(metrics(**values), GATES)
    assert failure.startswith(f"{name} got worse by ")


def test_improvement_never_counts_as_a_drop():
    assert check(metrics(accuracy=0.99, loss=0.01), GATES) == []


def test_no_base_value_skips_the_drop_gate():
    gates = {"max_drop": {"balanced_accuracy": 0.02}}
    assert check([Metric("balanced_accuracy", new=0.91, old=None, baseline=0.5)], gates) == []


def test_model_no_better_than_baseline_fails():
    failures = check([Metric("log_loss", new=0.2, old=0.2, baseline=0.2)], {"beat_baseline": True})
    assert failures == ["log_loss is 0.2, no better than the baseline's 0.2"]


def test_gate_on_an_unknown_metric_fails_and_says_which_names_exist():
    assert check(metrics(), {"minimum": {"acuracy": 0.9}}) == [
        "gates.minimum in params.yaml names 'acuracy', which is not a metric: "
        "use one of balanced_accuracy, log_loss"
    ]


def test_unchanged_metrics_are_read_from_the_file_as_equal_on_the_base():
    values = {"model": {"roc_auc": 0.99, "log_loss": 0.12}, "baseline": {"roc_auc": 0.5}}
    assert unchanged(values) == [
        Metric("log_loss", new=0.12, old=0.12, baseline=None),
        Metric("roc_auc", new=0.99, old=0.99, baseline=0.5),
    ]


def test_metrics_from_dvc_metrics_diff_pair_model_base_and_baseline():
    diff = {
        "model.r2": {"old": 0.4, "new": 0.5, "diff": 0.1},
        "baseline.r2": {"old": 0.0, "new": 0.0, "diff": 0.0},
        "model.rmse": {"old": None, "new": 50.0},
    }
    assert from_diff(diff) == [
        Metric("r2", new=0.5, old=0.4, baseline=0.0),
        Metric("rmse", new=50.0, old=None, baseline=None),
    ]


def test_a_lower_is_better_metric_is_gated_downwards():
    # rmse comes from the output contract as lower-is-better: rising by 3 is worse by 3.
    rising = [Metric("rmse", new=53.0, old=50.0, baseline=70.0)]
    assert check(rising, {"max_drop": {"rmse": 2.0}}) == [
        "rmse got worse by 3 against the base (50 to 53), more than the 2 allowed"
    ]
    assert check(rising, {"max_drop": {"rmse": 3.5}, "beat_baseline": True}) == []


@pytest.mark.parametrize(
    "gates, problem",
    [
        ({"minimun": {"log_loss": 0.3}}, "gates.minimun in params.yaml is not a gate: use"),
        ({"beat_baseline": "no"}, "gates.beat_baseline in params.yaml is 'no', but must be"),
        ({"minimum": {"log_loss": "0.3"}}, "gates.minimum.log_loss in params.yaml is '0.3', but"),
        ({"minimum": [0.9]}, "gates.minimum in params.yaml is [0.9], but must map metrics to"),
        ({"max_drop": {"log_loss": -1}}, "gates.max_drop.log_loss in params.yaml is -1, but must"),
        ({"minimum": {"balanced_accuracy": math.nan}}, "gates.minimum.balanced_accuracy in "),
        (None, "params.yaml has no 'gates' section: add one"),
    ],
)
def test_a_wrong_gate_is_one_sentence_and_fails(gates, problem):
    failures = check(metrics(), gates)
    assert len(failures) == 1 and failures[0].startswith(problem), failures


def test_a_pull_request_is_held_to_the_base_gates_and_its_changes_are_proposed():
    base = {"gates": GATES}
    lowered = {"gates": {**GATES, "minimum": {"balanced_accuracy": 0.5}, "beat_baseline": False}}
    gates = gates_for(lowered, base, "origin/main")
    assert gates.applied == GATES and gates.where == "params.yaml on origin/main"
    assert gates.proposed == {
        "beat_baseline": (True, False),
        "minimum.balanced_accuracy": (0.9, 0.5),
    }
    # A coin-flip model fails the base's gates, whatever the branch wrote.
    coin_flip = [Metric("balanced_accuracy", new=0.5, old=0.95, baseline=0.5)]
    assert any("below the minimum of 0.9" in line for line in check(coin_flip, gates.applied))
    assert gates.branch_problems(["balanced_accuracy", "log_loss"]) == []


def test_what_a_branch_sets_wrong_in_the_gates_is_named():
    typo = {"gates": {**GATES, "minimum": {"roc_aus": 0.8}}}
    named = ["balanced_accuracy", "log_loss", "roc_auc"]
    problems = gates_for(typo, {"gates": GATES}, "origin/main").branch_problems(named)
    assert problems == [
        "gates.minimum in params.yaml of this branch names 'roc_aus', which is not a metric: "
        "use one of balanced_accuracy, log_loss, roc_auc"
    ]
    # Gates the branch leaves as they are were checked when they were set.
    same = {"gates": GATES}
    assert gates_for(same, same, "origin/main").branch_problems([]) == []


def test_without_gates_on_the_base_the_branch_gates_apply():
    gates = gates_for({"gates": GATES}, {"data": {}}, "origin/main")
    assert gates.applied == GATES and gates.proposed == {}
    assert gates_for({"gates": GATES}, None, "origin/main").where == "params.yaml"


def test_beat_baseline_may_name_the_metrics_that_must_beat_it():
    # A rare class weighed up (class_weight: balanced) gives up accuracy for balanced accuracy.
    metrics = [
        Metric("accuracy", new=0.9, old=0.9, baseline=0.97),
        Metric("balanced_accuracy", new=0.85, old=0.85, baseline=0.5),
    ]
    assert check(metrics, {"beat_baseline": ["balanced_accuracy"]}) == []
    assert check(metrics, {"beat_baseline": True}) == [
        "accuracy is 0.9, no better than the baseline's 0.97"
    ]
    assert check(metrics, {"beat_baseline": ["recall"]}) == [
        "gates.beat_baseline in params.yaml names 'recall', which is not a metric: "
        "use one of accuracy, balanced_accuracy"
    ]


@pytest.mark.parametrize(
    ("section", "limit"),
    [
        ("minimum", math.nan),
        ("minimum", -math.inf),
        ("maximum", math.nan),
        ("maximum", math.inf),
        ("max_drop", math.inf),
        ("max_drop", math.nan),
        pytest.param("minimum", 10**400, id="minimum-too-large-for-a-float"),
    ],
)
def test_a_threshold_that_switches_its_gate_off_is_refused(section, limit):
    # .nan compares false with every value and .inf lets every value pass: the gate was off.
    name = "log_loss" if section == "maximum" else "balanced_accuracy"
    bad = metrics(accuracy=0.1, old_accuracy=0.99, loss=50.0)
    kind = "a finite number of 0 or more" if section == "max_drop" else "a finite number"
    assert check(bad, {section: {name: limit}}) == [
        f"gates.{section}.{name} in params.yaml is {limit!r}, but must be {kind}"
    ]


@pytest.mark.parametrize("value", [math.nan, math.inf, "0.9"])
def test_a_metric_that_is_not_a_number_fails_its_gates(value):
    # NaN is below no minimum and above no maximum: it used to pass them all.
    gates = {"minimum": {"balanced_accuracy": 0.9}, "max_drop": {"balanced_accuracy": 0.01}}
    failures = check([Metric("balanced_accuracy", new=value, old=0.95, baseline=0.5)], gates)
    assert failures == [
        f"balanced_accuracy is {value!r}, not a number a gate can compare: run `dvc repro` to "
        "write the metrics again"
    ]
    on_base = check([Metric("balanced_accuracy", new=0.95, old=value, baseline=0.5)], gates)
    assert on_base[0].startswith(f"balanced_accuracy on the base is {value!r}, not a number")


def test_a_metric_with_no_baseline_to_beat_fails():
    failures = check([Metric("r2", new=0.5, old=0.5)], {"beat_baseline": ["r2"]})
    assert failures == [
        "r2 has no baseline value to beat in the metrics: run `dvc repro`, or leave it out of "
        "gates.beat_baseline"
    ]
    assert check([Metric("r2", new=0.5, old=0.5)], {"beat_baseline": False}) == []


def test_keys_yaml_reads_as_numbers_are_named_not_a_crash():
    branch = {"gates": {**GATES, 1: 0.5, None: 2}}
    gates = gates_for(branch, {"gates": GATES}, "origin/main")
    assert gates.proposed == {"1": (None, 0.5), "None": (None, 2)}
    assert gates.branch_problems(["balanced_accuracy", "log_loss"]) == [
        "gates.1 in params.yaml of this branch is not a gate: use minimum, maximum, max_drop, "
        "beat_baseline, max_drift, directions",
        "gates.None in params.yaml of this branch is not a gate: use minimum, maximum, max_drop, "
        "beat_baseline, max_drift, directions",
    ]


def boot(values: dict[str, list[float]], **changes) -> str:
    """A bootstrap file's text, as evaluate writes it, of 4 resamples of 50 test rows."""
    content = {"resamples": 4, "seed": 1, "confidence": 0.95, "rows": 50, "targets": "t"}
    content["interval"] = {name: [min(v), max(v)] for name, v in values.items()}
    content["values"] = values
    return json.dumps(content | changes)


def test_a_paired_drop_fails_max_drop_only_beyond_chance():
    gates = {"max_drop": {"balanced_accuracy": 0.02}}
    drop = [Metric("balanced_accuracy", new=0.9, old=0.95)]
    base = boot({"balanced_accuracy": [0.95, 0.96, 0.94, 0.95]})
    # Some resamples drop by under 0.02: chance explains the drop, the gate passes, saying why.
    near = with_noise(drop, boot({"balanced_accuracy": [0.94, 0.95, 0.88, 0.9]}), base)
    assert near[0].change_interval == pytest.approx((-0.05925, -0.01))  # percentiles
    assert near[0].interval == (0.88, 0.95) and near[0].rows == 50
    assert check(near, gates) == []
    (note,) = within_noise(near, gates)
    assert note.startswith("balanced_accuracy got worse by 0.05 (0.95 to 0.9), more than the")
    assert "within chance: resampling the same 50 test rows puts the drop between" in note
    # Every resample drops by more than 0.02: it fails, and says so.
    far = with_noise(drop, boot({"balanced_accuracy": [0.9, 0.91, 0.9, 0.92]}), base)
    (failure,) = check(far, gates)
    assert "more than the 0.02 allowed, beyond chance: resampling the same 50" in failure
    assert within_noise(far, gates) == []


@pytest.mark.parametrize(
    "old",
    [
        boot({"balanced_accuracy": [0.95] * 4}, rows=60),  # other test rows
        boot({"balanced_accuracy": [0.95] * 4}, targets="other"),
        boot({"balanced_accuracy": [0.95] * 4}, seed=2),
        boot({"balanced_accuracy": [0.95] * 4}, resamples=0),
        "{not json",
        None,  # a base evaluated before the bootstrap
    ],
)
def test_without_a_paired_base_the_values_alone_are_judged(old):
    gates = {"max_drop": {"balanced_accuracy": 0.02}}
    noisy = with_noise(
        [Metric("balanced_accuracy", new=0.9, old=0.95)],
        boot({"balanced_accuracy": [0.94, 0.95, 0.88, 0.9]}),
        old,
    )
    assert noisy[0].change_interval is None and noisy[0].interval == (0.88, 0.95)
    assert check(noisy, gates) == [
        "balanced_accuracy got worse by 0.05 against the base (0.95 to 0.9), more than the "
        "0.02 allowed"
    ]
    assert within_noise(noisy, gates) == []


def test_on_other_data_max_drop_is_not_judged_and_the_absolute_gates_are():
    worse = metrics(accuracy=0.85, old_accuracy=0.99)
    assert any("got worse" in failure for failure in check(worse, GATES))
    failures = check(worse, GATES, other_data=True)
    assert failures == ["balanced_accuracy is 0.85, below the minimum of 0.9"]


@pytest.mark.parametrize(
    ("limit", "share", "compared", "expected"),
    [
        (None, 0.9, True, []),  # off by default
        (0.5, 0.4, True, []),
        (
            0.5,
            0.5,
            True,
            [
                "the data drifted: 50% of its compared columns, at or above the 0.5 that "
                "gates.max_drift allows"
            ],
        ),
        (
            0.5,
            None,
            False,
            ["gates.max_drift could not be checked: the data could not be compared (see Data)"],
        ),
    ],
)
def test_the_drift_gate(limit, share, compared, expected):
    gates = {"max_drift": limit}
    assert drift_failures(gates, share, compared=compared) == expected
    assert check(metrics(), gates) == []


@pytest.mark.parametrize("limit", [0, 1.5, "half", True, float("nan")])
def test_a_drift_gate_that_is_not_a_share_is_refused(limit):
    (problem,) = check(metrics(), {"max_drift": limit})
    assert problem.startswith(f"gates.max_drift in params.yaml is {limit!r}, but must be a share")
