"""stage helpers: params are read as DVC reads them, with their types checked."""

import pytest

from {{ cookiecutter.module_name }}.errors import (
    UserError,
    run,
)
from {{ cookiecutter.module_name }}.params import (
    load_params,
)


@pytest.fixture
def params_file(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("train:\n  rate: 1e-3\n  columns: notes\n  seed: 1\n", encoding="utf-8")
    return path


def test_numbers_follow_yaml_1_2(params_file):
    assert load_params(params_file, {"train.rate": float}) == {"train.rate": 0.001}


def test_missing_key_is_named(params_file):
    with pytest.raises(UserError, match=r"has no 'train\.estimator'"):
        load_params(params_file, {"train.estimator": str})


def test_wrong_type_is_named(params_file):
    with pytest.raises(
        UserError, match=r"train\.columns .* is 'notes', but must be a list or null"
    ):
        load_params(params_file, {"train.columns": (list, type(None))})


def test_run_turns_user_errors_into_one_line(capsys):
    def main():
        raise UserError("something the user can fix")

    assert run(main) == 1
    assert capsys.readouterr().err == "error: something the user can fix\n"
