"""`make bench`: its measurements, and one whole run at the smallest settings (slow)."""

import copy
import json
import sys

import pytest

from conftest import TEMPLATE, run

sys.path.insert(0, str(TEMPLATE / "bench"))
import bench  # noqa: E402

# Measures from a fresh process: a command started from this test process (hundreds of MiB once
# other tests' libraries are loaded) would be counted with the memory it inherits until it execs.
MEASURE = (
    "import json, sys; sys.path.insert(0, sys.argv[1]); import bench; "
    "print(json.dumps([vars(bench.measure(command, '.')) for command in sys.argv[2:]]))"
)


def test_measure_reports_wall_time_exit_code_and_peak_memory(tmp_path):
    commands = [
        "python3 -c 'x = bytearray(300 * 2**20); print(len(x))'",
        "python3 -c 'print(1)'; exit 3",
    ]
    done = run(sys.executable, "-c", MEASURE, str(TEMPLATE / "bench"), *commands, cwd=tmp_path)
    big, small = (bench.Run(**measured) for measured in json.loads(done.stdout))
    assert big.returncode == 0 and big.output == f"{300 * 2**20}\n"
    assert big.peak_mib >= 300 > small.peak_mib
    assert small.returncode == 3 and small.seconds > 0


def test_stage_lists_name_what_ran_and_what_was_restored():
    output = "Running stage 'train':\nStage 'evaluate' is cached - skipping run\n"
    done = bench.Run(1.0, 10.0, 0, output)
    assert done.stages() == ["train"] and done.stages("restored") == ["evaluate"]
    text = bench.stage_list({"stages_run": done.stages(), "stages_restored": ["evaluate"]})
    assert text == "1: train (restored: evaluate)"


@pytest.mark.slow
def test_a_whole_run_at_the_smallest_settings(tmp_path):
    out = tmp_path / "results.json"
    command = [sys.executable, str(TEMPLATE / "bench/bench.py"), "--runs", "1", "--pip-runs"]
    # One kind of pull request, the one with a row against its stages alone: the others cost as
    # much to measure and add no check here (test_ci_loop.py runs each through `make ci-pr`).
    kinds = ["--kinds", "one train param"]
    # One size: the part of each that grows with the rows is the same code at every size.
    settings = ["0", "--rows", "2000", "--ci-data", "2000", *kinds, "--out", str(out)]
    done = run(*command, *settings, cwd=tmp_path)
    results = json.loads(out.read_text())

    (synthetic,) = results["ci"]
    assert synthetic["data"] == "2,000 synthetic rows"
    ci = synthetic["kinds"]
    assert list(ci) == ["one train param"]
    assert ci["one train param"]["ours"]["stages_run"] == ["train", "evaluate", "copy_evaluation"]
    # What a train-param change cannot avoid, run by its commands alone, in the same run.
    assert ci["one train param"]["direct"]["stages_run"] == ["train", "evaluate"]
    for kind in ci.values():
        # The common pattern runs the whole pipeline on every push, from the raw data.
        assert kind["common"]["stages_run"][:3] == ["prepare", "train", "evaluate"]
        assert all(seconds > 0 for pattern in kind.values() for seconds in pattern["seconds"])

    # Both sides measured; which is faster is the benchmark's to say, not a test's (on a busy
    # machine the direct run of a tiny pipeline can take longer than DVC's).
    overhead = results["overhead"]
    assert overhead["dvc_repro_force"][0] > 0 and overhead["direct"][0] > 0
    assert overhead["ratio"] == overhead["dvc_repro_force"][0] / overhead["direct"][0]
    assert len(results["setup"]["uv"]) == 1 and results["setup"]["pip"] == []
    scale = results["scale"]["2000"]
    assert list(scale["stages"]) == ["prepare", "train", "evaluate", "copy_evaluation"]
    assert all(stage["peak_mib"] > 20 for stage in scale["stages"].values())
    assert scale["floor"]["seconds"] > 0 and scale["dvc_repro"]["seconds"] > 0
    engines = results["dask"]["2000"]["engines"]
    for engine in ("local", "dask"):
        assert list(engines[engine]) == ["prepare", "train", "evaluate"]
        assert all(stage["seconds"] > 0 for stage in engines[engine].values())
    # The local engine's runs beside the Dask engine's are the scale part's, not run twice.
    assert all(
        run["seconds"] == scale["stages"][name]["seconds"] for name, run in engines["local"].items()
    )
    # The Dask engine's largest process is a worker or the stage itself, and is measured.
    assert all(stage["peak_mib"] > 20 for stage in engines["dask"].values())
    assert "| 2,000 |" in done.stdout

    # With a second size, the tables say how time and memory grow between the two: this run's
    # measurements again as those of ten times the rows, each ten times as much.
    grown = copy.deepcopy(results)
    for part in ("scale", "dask"):
        grown[part]["20000"] = ten_times(results[part]["2000"])
    text = bench.tables(grown)
    assert "| 20,000 |" in text and "| 2,000 → 20,000 |" in text
    assert "| Pipeline overhead at most 1.25x |" in done.stdout
    assert "its stages' commands alone (train, evaluate) |" in done.stdout
    assert "| 2,000 | `train` |" in done.stdout
    for row in ("| 20,000 | `train` |", "| 1,000,000,000 | `train` |"):
        assert row in text
    assert "| Stage | Local | Dask, largest worker or stage | Local outgrows" in text
    assert results["machine"]["memory_mib"] > 1024


def ten_times(measured: object) -> object:
    """``measured`` with every number ten times as large."""
    if isinstance(measured, dict):
        return {key: ten_times(value) for key, value in measured.items()}
    if isinstance(measured, list):
        return [ten_times(value) for value in measured]
    return measured * 10 if isinstance(measured, int | float) else measured


def test_synthetic_data_grows_with_its_rows(tmp_path):
    python = [sys.executable, str(TEMPLATE / "bench/synthetic.py")]
    for rows in (200, 2000):
        run(*python, str(rows), str(tmp_path / f"{rows}.csv"), cwd=tmp_path)
    small, large = ((tmp_path / f"{rows}.csv").read_text().splitlines() for rows in (200, 2000))
    assert (len(small), len(large)) == (201, 2001) and small[0] == large[0]
    assert (tmp_path / "2000.csv").stat().st_size > 5 * (tmp_path / "200.csv").stat().st_size
