"""An entry point's errors: one line on stderr, never a traceback."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

# A stage-like entry point that says it has started, then works until it is stopped: while it
# imports what it needs (IMPORTING), or in its main().
SLOW_STAGE = textwrap.dedent(
    """
    import os
    import time
    from dvc_ml_kit import run

    print("started", flush=True)
    if os.environ.get("IMPORTING"):
        time.sleep(60)

    def main():
        time.sleep(60)

    raise SystemExit(run(main))
    """
)


@pytest.mark.parametrize("importing", ["", "1"], ids=["running", "importing"])
def test_ctrl_c_during_a_stage_is_one_sentence_and_ends_it_as_sigint(tmp_path, importing):
    (tmp_path / "slow_stage.py").write_text(SLOW_STAGE)
    process = subprocess.Popen(
        [sys.executable, "-m", "slow_stage"],
        cwd=tmp_path,
        env={**os.environ, "IMPORTING": importing},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline() == "started\n"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == -signal.SIGINT  # as without the hook: DVC says "exited with -2"
    assert stderr == (
        "error: slow_stage was stopped by Ctrl-C before it finished: run it again "
        "(dvc.lock records a stage only once it has finished)\n"
    )


def test_ctrl_c_during_dvc_repro_is_one_line_and_records_nothing(tmp_path):
    """As a user presses Ctrl-C in a terminal: DVC and the stage, one process group, get it."""
    (tmp_path / "slow_stage.py").write_text(SLOW_STAGE)
    (tmp_path / "dvc.yaml").write_text(
        f"stages:\n  slow:\n    cmd: {sys.executable} -m slow_stage\n    outs: [out.txt]\n"
    )
    for command in (["git", "init", "--quiet"], ["dvc", "init", "--quiet"]):
        subprocess.run(command, cwd=tmp_path, check=True)
    process = subprocess.Popen(
        ["dvc", "repro"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env={**os.environ, "IMPORTING": "1", "PYTHONPATH": str(tmp_path)},
    )
    printed = ""
    while "started" not in printed:
        line = process.stdout.readline()
        assert line, printed
        printed += line
    os.killpg(process.pid, signal.SIGINT)
    printed += process.communicate(timeout=60)[0]
    assert process.returncode != 0
    assert "error: slow_stage was stopped by Ctrl-C before it finished: run it again" in printed
    assert "Traceback" not in printed, printed
    assert not (tmp_path / "dvc.lock").exists()


@pytest.mark.parametrize("name", ["a\nb", "0\x85", "x\u2028y", "carriage\rreturn"])
def test_a_sentence_naming_a_line_break_stays_one_line(capsys, name):
    # A column name from the data may hold any character that ends a line.
    from dvc_ml_kit.errors import UserError, run

    def main():
        raise UserError(f"the header names column '{name}' twice: rename one")

    assert run(main) == 1
    printed = capsys.readouterr().err
    assert len(printed.splitlines()) == 1 and printed.endswith("twice: rename one\n")
    assert printed.startswith("error: the header names column '") and repr(name)[1:-1] in printed
