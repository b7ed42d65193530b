"""An entry point's errors: one line on stderr, never a traceback."""

import signal
import subprocess
import sys
import textwrap

from dvc_ml_kit.errors import INTERRUPTED

# A stage-like entry point that says it has started, then works until it is stopped.
SLOW_STAGE = textwrap.dedent(
    """
    import time
    from dvc_ml_kit import run

    def main():
        print("started", flush=True)
        time.sleep(60)

    raise SystemExit(run(main))
    """
)


def test_ctrl_c_during_a_stage_is_one_sentence_and_exit_130(tmp_path):
    (tmp_path / "slow_stage.py").write_text(SLOW_STAGE)
    process = subprocess.Popen(
        [sys.executable, "-m", "slow_stage"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline() == "started\n"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == INTERRUPTED
    assert stderr == (
        "error: slow_stage was stopped by Ctrl-C before it finished: run it again "
        "(dvc.lock records a stage only once it has finished)\n"
    )
