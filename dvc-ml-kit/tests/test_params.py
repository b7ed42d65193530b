"""params.yaml is read as DVC reads it, and every setting's type, range and name is checked."""

import time

import pytest

from dvc_ml_kit.errors import (
    UserError,
    run,
)
from dvc_ml_kit.params import (
    MAX_REPEATED,
    SETTINGS,
    load_params,
    parse_yaml,
)


def _params(tmp_path, text: str):
    path = tmp_path / "params.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_numbers_follow_yaml_1_2(tmp_path):
    path = _params(tmp_path, "prepare:\n  test_size: 2e-1\n")
    assert load_params(path, ["prepare.test_size"]) == {"prepare.test_size": 0.2}


def test_missing_key_is_named(tmp_path):
    with pytest.raises(UserError, match=r"has no 'train\.estimator': add it"):
        load_params(_params(tmp_path, "train:\n  seed: 1\n"), ["train.estimator"])


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        ("data:\n  drop_columns: notes\n", "data.drop_columns", "must be a list or null"),
        ("train:\n  seed: -1\n", "train.seed", "must be from 0 to 4294967295"),
        ("train:\n  seed: 4294967296\n", "train.seed", "must be from 0 to 4294967295"),
        ("train:\n  seed: true\n", "train.seed", "must be a whole number from 0"),
        ("train:\n  seed: 4.5\n", "train.seed", "must be a whole number from 0"),
        ("evaluate:\n  importance_features: 0\n", "evaluate.importance_features", "from 1 up"),
        ("evaluate:\n  importance_repeats: 0\n", "evaluate.importance_repeats", "from 1 up"),
        ("evaluate:\n  max_plot_rows: 0\n", "evaluate.max_plot_rows", "must be from 1 up"),
        ("prepare:\n  test_size: '0.2'\n", "prepare.test_size", "must be a number from 0 to 1"),
        ("train:\n  estimator: 3\n", "train.estimator", "must be a str"),
    ],
)
def test_wrong_type_or_range_is_one_sentence(tmp_path, text, key, message):
    with pytest.raises(UserError, match=rf"^{key} in .* is .*, but .*{message}"):
        load_params(_params(tmp_path, text), [key])


@pytest.mark.parametrize("text", ["- a list\n", "prepare: 0.2\n"])
def test_a_params_file_of_another_shape_is_one_sentence(tmp_path, text):
    with pytest.raises(UserError, match=r"^prepare in .* must be a mapping of settings"):
        load_params(_params(tmp_path, text), ["prepare.test_size"])


def test_a_setting_nothing_reads_is_a_typo(tmp_path):
    path = _params(tmp_path, "prepare:\n  test_size: 0.2\n  seeed: 1\n")
    with pytest.raises(
        UserError, match=r"^prepare\.seeed in .* is not a setting .*: test_size, seed, min_test"
    ):
        load_params(path, ["prepare.test_size"])


def test_the_gates_section_is_left_to_the_gate_check(tmp_path):
    path = _params(tmp_path, "train:\n  seed: 1\ngates:\n  anything: 1\n")
    assert load_params(path, ["train.seed"]) == {"train.seed": 1}


@pytest.mark.parametrize("keys", [SETTINGS, ["train.seed"], ["prepare.seed"]])
def test_a_section_nothing_reads_is_a_typo_for_every_reader(tmp_path, keys):
    # train reading its seed while the file also has `trian.seed: 7` trains with the wrong seed.
    path = _params(tmp_path, "train:\n  seed: 1\nprepare:\n  seed: 1\ntrian:\n  seed: 7\n")
    with pytest.raises(UserError) as raised:
        load_params(path, keys)
    assert str(raised.value) == (
        f"trian in {path} is not a section the pipeline or its gates read: fix its name "
        "(the sections are: data, compute, prepare, train, evaluate, gates)"
    )


def test_a_setting_written_at_the_top_level_is_named(tmp_path):
    path = _params(tmp_path, "train:\n  estimator: linear\nseed: 1\n")
    with pytest.raises(UserError, match=r"^seed in .* is not a section the pipeline"):
        load_params(path, ["train.estimator"])


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf", ".NaN"])
@pytest.mark.parametrize("key", ["prepare.test_size", "evaluate.max_plot_rows", "train.seed"])
def test_nan_and_infinity_are_no_setting(tmp_path, key, value):
    # .nan compares false with both bounds of a range: it used to pass as a test size.
    section, name = key.split(".")
    path = _params(tmp_path, f"{section}:\n  {name}: {value}\n")
    with pytest.raises(UserError, match=rf"^{key} in .* is -?(nan|inf), but must be a "):
        load_params(path, [key])


def _laughs(width: int, depth: int) -> str:
    """train.hyperparameters whose aliases expand ``x`` to ``width ** depth`` values."""
    lines = ["  hyperparameters:", "    a0: &a0 [x]"]
    for level in range(1, depth + 1):
        lines.append(f"    a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


def test_aliases_that_expand_to_a_million_values_are_refused_at_once(tmp_path):
    # DVC spends tens of seconds and over 500 MB expanding such a file before it runs anything.
    path = _params(tmp_path, "prepare:\n  test_size: 0.2\ntrain:\n" + _laughs(10, 6))
    started = time.perf_counter()
    with pytest.raises(UserError) as raised:
        load_params(path, ["prepare.test_size"])
    assert time.perf_counter() - started < 1
    assert str(raised.value) == (
        f"{path} repeats more than {MAX_REPEATED} values through YAML aliases (*name), which DVC "
        "expands too: write the values out without aliases"
    )


def test_merge_keys_count_what_they_repeat():
    # Each merge copies the 200 keys and values of `a`: 100 of them repeat 20,000 values.
    keys = ", ".join(f"k{number}: 0" for number in range(100))
    merges = "".join(f"b{number}: {{<<: *a}}\n" for number in range(100))
    with pytest.raises(UserError, match=r"^params\.yaml repeats more than 10000 values"):
        parse_yaml(f"a: &a {{{keys}}}\n{merges}", "params.yaml")
    assert parse_yaml(f"a: &a {{{keys}}}\nb: {{<<: *a, c: 1}}\n", "params.yaml")["b"]["k99"] == 0


@pytest.mark.parametrize("text", ["a: &a [*a]\n", "a: &a {b: *a}\n"])
def test_an_alias_inside_itself_is_refused(text):
    with pytest.raises(UserError, match=r"^params\.yaml repeats more than .* aliases"):
        parse_yaml(text, "params.yaml")


def test_a_few_aliases_are_read_as_dvc_reads_them(tmp_path):
    text = "prepare:\n  seed: &seed 7\ntrain:\n  seed: *seed\n" + _laughs(10, 3)
    path = _params(tmp_path, text)
    assert load_params(path, ["prepare.seed", "train.seed"]) == {"prepare.seed": 7, "train.seed": 7}
    hyperparameters = load_params(path, ["train.hyperparameters"])["train.hyperparameters"]
    assert hyperparameters["a3"][9][9] == [["x"]] * 10


def test_nesting_too_deep_for_the_parser_is_one_sentence():
    with pytest.raises(UserError, match=r"^params\.yaml nests lists or mappings too deeply"):
        parse_yaml("a: " + "[" * 1000 + "]" * 1000 + "\n", "params.yaml")


def test_run_turns_user_errors_into_one_line(capsys):
    def main():
        raise UserError("something the user can fix")

    assert run(main) == 1
    assert capsys.readouterr().err == "error: something the user can fix\n"


def test_a_stage_asking_for_a_setting_the_package_does_not_know_is_one_sentence(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("train:\n  seed: 1\n")
    with pytest.raises(UserError) as refusal:
        load_params(path, ["train.seed", "train.threshold"])
    assert str(refusal.value) == (
        "'train.threshold' is not a setting dvc-ml-kit reads (dvc_ml_kit.params.SETTINGS): a "
        "stage asks load_params for those only"
    )
