"""params.yaml is read as DVC reads it, and every setting's type, range and name is checked."""

import pytest

from dvc_ml_kit.errors import (
    UserError,
    run,
)
from dvc_ml_kit.params import (
    load_params,
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


def test_sections_no_stage_reads_are_left_alone(tmp_path):
    path = _params(tmp_path, "train:\n  seed: 1\ngates:\n  anything: 1\nmine:\n  x: 1\n")
    assert load_params(path, ["train.seed"]) == {"train.seed": 1}


def test_run_turns_user_errors_into_one_line(capsys):
    def main():
        raise UserError("something the user can fix")

    assert run(main) == 1
    assert capsys.readouterr().err == "error: something the user can fix\n"
