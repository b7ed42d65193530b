"""Invalid answers stop cookiecutter with one clear line and leave no folder behind."""

import sys
from pathlib import Path

import pytest

from conftest import TEMPLATE, run

INVALID = {
    "module named src": ({"module_name": "src"}, "module_name 'src'"),
    "module not an identifier": ({"project_name": "2 Fast"}, "not a Python identifier"),
    "module a keyword": ({"module_name": "class"}, "not a Python identifier"),
    "slug with a space": ({"project_slug": "my project"}, "not a usable folder name"),
    "s3 with a gs url": ({"dvc_remote": "s3", "dvc_remote_url": "gs://b/p"}, "start with s3://"),
    "gs with a path": ({"dvc_remote": "gs", "dvc_remote_url": "/data/store"}, "start with gs://"),
    "azure without url": ({"dvc_remote": "azure", "dvc_remote_url": ""}, "dvc_remote_url is empty"),
    "local with a url": ({"dvc_remote": "local", "dvc_remote_url": "s3://b"}, "a folder path"),
    "none with a url": ({"dvc_remote": "none", "dvc_remote_url": "../x"}, "leave the URL empty"),
    "e-mail": ({"author_email": "nobody"}, "not an e-mail address"),
}


def cookiecutter_cli(output: Path, answers: dict[str, str]):
    pairs = [f"{key}={value}" for key, value in answers.items()]
    return run(
        sys.executable, "-m", "cookiecutter", "--no-input", "--output-dir", str(output),
        str(TEMPLATE), *pairs, cwd=output, check=False,
    )


@pytest.mark.parametrize(("answers", "message"), INVALID.values(), ids=INVALID.keys())
def test_invalid_answer_is_refused_cleanly(tmp_path, answers, message):
    result = cookiecutter_cli(tmp_path, answers)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and message in errors[0], result.stderr
    assert list(tmp_path.iterdir()) == []
