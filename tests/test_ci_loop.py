"""Slow tier: the whole CI/CD loop of a generated project, run locally.

A bare Git repository is ``origin`` and a local folder the DVC remote. Main is reproduced, pushed
and published (``DRY_RUN=1 make ci-publish``); then branches go through ``make ci-pr`` against
``origin/main`` as the pull request workflow runs it; then merges publish, or not.
The tests run in file order on one worker (``--dist loadfile``) and share the project.
"""

import json
import os
import re
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import TOOLS, Loop, reproduced_on_origin, run
from object_store import free_ports, stop

pytestmark = pytest.mark.slow
SLUG = "diagnosis-model"
MODULE = "diagnosis_model"
LEARNING_RATE = "learning_rate: 0.1"
FEW_TESTS = "tests/test_pipeline.py"


@dataclass
class CiLoop(Loop):
    """The project of the CI loop: origin beside it, and a local folder as its DVC remote."""

    def ci_pr(self, whole_suite: bool = False, **variables: str) -> subprocess.CompletedProcess:
        """``make ci-pr`` with ``variables``. The project's whole test suite runs once in the
        loop (``whole_suite``); elsewhere the loop needs only that the tests run and pass, so
        pytest gets one small file (the argument replaces the project's testpaths)."""
        settings = " ".join(f"{key}={value}" for key, value in variables.items())
        tests = "" if whole_suite else f"PYTEST_ADDOPTS={FEW_TESTS} "
        return self.sh(f"{tests}make ci-pr {settings}", check=False)

    def report(self) -> str:
        return (self.path / "report.md").read_text()

    def tags(self) -> list[str]:
        return self.sh("git tag --list 'model@*'").stdout.split()


def stages_run(result: subprocess.CompletedProcess) -> list[str]:
    return re.findall(r"Running stage '(\w+)'", result.stdout)


def stages_restored(result: subprocess.CompletedProcess) -> list[str]:
    return re.findall(r"Stage '(\w+)' is cached - skipping run", result.stdout)


def assert_passed_running_nothing(result: subprocess.CompletedProcess) -> None:
    """The check passed, and no stage ran or was restored: the lock matched everything."""
    assert result.returncode == 0, result.stdout + result.stderr
    assert stages_run(result) == [] and stages_restored(result) == [], result.stdout


@pytest.fixture(scope="module")
def loop(tmp_path_factory) -> CiLoop:
    """A project whose main is reproduced, pushed to origin and the DVC remote, and published."""
    loop = reproduced_on_origin(tmp_path_factory.mktemp("loop"), CiLoop)
    result = loop.sh("DRY_RUN=1 make ci-publish")
    assert "created model@v1.0.0 locally" in result.stdout
    return loop


def test_first_publish_makes_version_one(loop):
    assert loop.tags() == ["model@v1.0.0"]
    assert "v1.0.0" in loop.sh("gto show model").stdout
    bundle = loop.path / "dist/model-v1.0.0"
    assert {p.name for p in bundle.iterdir()} == {
        "SHA256SUMS",
        "bundle.json",
        "metrics.json",
        "model.skops",
        "model_card.md",
    }
    # A dry run pushes no tag, but the DVC remote got every output.
    assert "model@" not in run("git", "ls-remote", "--tags", str(loop.origin), cwd=loop.path).stdout
    assert loop.sh("dvc status --cloud --json").stdout.strip() == "{}"


def test_a_readme_only_change_runs_nothing(loop):
    loop.branch("docs")
    (loop.path / "README.md").write_text((loop.path / "README.md").read_text() + "\nMore.\n")
    loop.commit("Document more")
    loop.sh("git push -q origin docs")
    result = loop.ci_pr()
    assert_passed_running_nothing(result)
    # Documentation alone: main's results and tests stand, so nothing is reproduced or tested.
    assert "$ dvc repro" not in result.stdout and "$ pytest" not in result.stdout
    report = loop.report()
    assert "Changed: `README.md`, documentation only." in report
    assert "Nothing in the pipeline changed: no stage ran." in report
    assert "✅ **All quality gates pass.**" in report
    assert "No parameter changed." in report
    # The same model: its interval, and no change to give one.
    assert re.search(r"\| roc_auc ↑ \| 0.9931 \| 0.9931 \([\d.]+ to 1\) \| 0 \|  \|", report)
    # A branch name reaches commands through the environment, never as shell code.
    assert "touch owned" not in loop.sh("make -n ci-pr BRANCH='x;touch owned'").stdout
    # Local parity: `make report` from the same state writes the same file.
    loop.sh("cp report.md ../ci-report.md && make report BASE=origin/main")
    assert loop.report() == (loop.path.parent / "ci-report.md").read_text()


def test_b_evaluation_code_change_without_lock_runs_evaluate_and_fails_with_the_fix(loop):
    loop.branch("evaluation")
    loop.edit(
        f"src/{MODULE}/stages/evaluate.py",
        'if __name__ == "__main__":',
        '# A change to the evaluation code.\nif __name__ == "__main__":',
    )
    loop.commit("Touch evaluate")
    # The logs of `make ci-pr` on another commit are not this commit's: the report leaves them out.
    loop.sh("make report")
    assert "Stages ran" not in loop.report() and "Tests:" not in loop.report()
    head = loop.sh("git rev-parse HEAD").stdout
    result = loop.ci_pr(whole_suite=True)
    assert result.returncode != 0
    assert stages_run(result) == ["evaluate"]
    tests = re.search(r"Checked: ✅ tests \((\d+) passed", loop.report())
    collected = loop.sh("pytest --collect-only -q | tail -1").stdout
    assert tests and f"{tests[1]} tests collected" in collected, "the project's whole suite ran"
    assert "error: dvc.lock is out of date" in result.stderr
    report = loop.report()
    assert "dvc.lock is out of date" in report
    assert "dvc repro\ngit add dvc.lock metrics\ngit commit" in report
    assert "Stages ran: `evaluate`" in report
    assert loop.sh("git rev-parse HEAD").stdout == head  # nothing committed without AUTO_COMMIT


def test_c_train_param_change_is_committed_with_auto_commit(loop):
    loop.branch("learning-rate")
    loop.edit("params.yaml", LEARNING_RATE, "learning_rate: 0.05")
    loop.commit("Lower the learning rate")
    loop.sh("git push -q origin learning-rate")
    result = loop.ci_pr(AUTO_COMMIT=1, BRANCH="learning-rate")
    assert result.returncode == 0, result.stdout + result.stderr
    assert stages_run(result) == ["train", "evaluate", "copy_evaluation"]
    report = loop.report()
    assert "| `train.hyperparameters.hist_gradient_boosting.learning_rate` | 0.1 | 0.05 |" in report
    # Each value with its 95% interval; the change with its interval, paired on the same rows.
    number = r"[-+]?[\d.]+(?:e[-+]\d+)?"
    log_loss = re.search(
        rf"\| log_loss ↓ \| ({number}) \| ({number}) \(({number}) to ({number})\) "
        rf"\| {number} \S* ?\({number} to {number}\) \|",
        report,
    )
    assert log_loss and log_loss[1] != log_loss[2], report
    assert float(log_loss[3]) <= float(log_loss[2]) <= float(log_loss[4])
    assert "a change's interval pairs both revisions on the same resamples" in report
    assert "this run committed the reproduced results" in report
    # The branch on origin got the commit with the new lock...
    remote_head = run(
        "git", "ls-remote", str(loop.origin), "refs/heads/learning-rate", cwd=loop.path
    )
    assert remote_head.stdout.split()[0] == loop.sh("git rev-parse HEAD").stdout.strip()
    assert loop.sh("git status --porcelain").stdout == ""
    # ...so the next run on that head is a no-op that passes, and says why nothing ran.
    again = loop.ci_pr()
    assert_passed_running_nothing(again)
    assert "- No stage had to run: dvc.lock already holds this commit's results." in loop.report()


def test_d_a_param_that_breaks_a_gate_fails_and_names_the_metric(loop):
    loop.branch("one-tree")
    loop.edit("params.yaml", "max_iter: 200", "max_iter: 1")
    loop.commit("One boosting round")
    result = loop.ci_pr()
    assert result.returncode != 0
    assert "gate failed: balanced_accuracy" in result.stdout
    report = loop.report()
    assert "quality gate(s) failed" in report
    # No minimum comes with the project: the drop against main is what fails.
    assert re.search(r"- balanced_accuracy got worse by [\d.]+ against the base", report)
    # `make gate` alone says the same, one line per failing metric, and fails.
    gate = loop.sh("make gate BASE=origin/main", check=False)
    assert gate.returncode != 0
    assert re.search(r"^gate failed: balanced_accuracy got worse by", gate.stdout, re.M)


def clone(loop: Loop, folder: Path) -> Path:
    """A fresh clone of origin with its own environment: no DVC cache, no data, no outputs."""
    run("git", "clone", "--quiet", str(loop.origin), str(folder), cwd=folder.parent)
    run("make", "setup", cwd=folder, env={"PATH": f"{TOOLS}{os.pathsep}{os.environ['PATH']}"})
    return folder


def test_fork_run_from_a_fresh_clone_without_the_dvc_remote_checks_and_reports(loop, tmp_path):
    fork = clone(loop, tmp_path / "fork")
    (fork / "tests/test_fork.py").write_text("def test_sum():\n    assert sum([1, 2]) == 3\n")
    loop.sh("git checkout -q -b fork-test && git add tests && git commit -q -m 'Test'", cwd=fork)
    # A fork's run has no credentials for the DVC remote.
    loop.sh("dvc remote modify --local storage url /nonexistent/dvc-storage", cwd=fork)
    result = loop.sh("make ci-pr TRUSTED=0", cwd=fork, check=False)
    assert_passed_running_nothing(result)
    assert not (fork / "data/raw/breast_cancer.csv").exists()  # it really ran without the data
    assert "$ dvc push" not in result.stdout and "--pull" not in result.stdout
    assert "$ pytest" in result.stdout  # a change to the tests is not documentation
    report = (fork / "report.md").read_text()
    assert "Nothing in the pipeline changed: no stage ran." in report
    assert "✅ **All quality gates pass.**" in report


def test_a_pipeline_change_without_the_remote_is_not_verified_and_says_why(loop, tmp_path):
    """The default project's first pull request on GitHub: a local remote CI cannot reach."""
    clone_ = clone(loop, tmp_path / "pr")
    loop.sh("git checkout -q -b slower", cwd=clone_)
    text = (clone_ / "params.yaml").read_text().replace(LEARNING_RATE, "learning_rate: 0.05")
    (clone_ / "params.yaml").write_text(text)
    loop.sh("git commit -q -am 'Slower learning'", cwd=clone_)
    result = loop.sh(f"PYTEST_ADDOPTS={FEW_TESTS} make ci-pr TRUSTED=0", cwd=clone_, check=False)
    assert result.returncode != 0
    # One sentence on stderr, no DVC traceback reaching the user.
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "could not reproduce it" in errors[0], result.stderr
    report = (clone_ / "report.md").read_text()
    first = [line for line in report.splitlines() if line][1:5]
    assert first[0].startswith("❌ **Not verified: the pipeline changed")
    assert "`train`, `evaluate`, `copy_evaluation`" in first[0]
    assert "`data/prepared/train.parquet`" in first[0]
    assert "a folder that CI runners cannot reach" in first[0]
    assert first[1].startswith("- Verified: ✅ tests (") and first[1].endswith("✅ lint")
    assert first[3].startswith("- To verify it: store DVC's data in a cloud remote")
    assert "gates pass" not in report
    assert "### Metrics (as committed, not reproduced for this commit)" in report


def test_a_broken_params_file_still_gets_a_report_naming_it(loop):
    loop.branch("typo")
    (loop.path / "params.yaml").write_text(
        (loop.path / "params.yaml").read_text().replace("seed: 42", "seed: [42", 1)
    )
    loop.commit("Typo")
    result = loop.ci_pr()
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    first = [line for line in loop.report().splitlines() if line][1]
    assert first.startswith("❌ **The check stopped: params.yaml is not valid YAML at line ")


def test_a_misspelt_setting_or_gate_fails_the_check_with_one_sentence(loop):
    # A key no stage lists changes no stage: nothing re-runs, and still the check refuses it.
    loop.branch("misspelt")
    loop.edit("params.yaml", "  estimator: ", "  estimatr: linear\n  estimator: ")
    loop.commit("Misspelt setting")
    result = loop.ci_pr()
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
    assert "error: train.estimatr in params.yaml is not a setting the pipeline reads" in (
        result.stderr
    )
    first = [line for line in loop.report().splitlines() if line][1]
    assert first.startswith("❌ **The check stopped: train.estimatr in params.yaml is not a")

    # Gates the branch sets wrong fail it too, though the base's gates (in force) all pass.
    loop.edit("params.yaml", "  estimatr: linear\n", "")
    loop.edit("params.yaml", "  minimum: {}", "  minimum:\n    roc_aus: 0.8")
    loop.commit("Misspelt gate")
    result = loop.ci_pr()
    problem = "gates.minimum in params.yaml of this branch names 'roc_aus', which is not a metric"
    assert result.returncode != 0 and f"error: {problem}" in result.stderr, result.stderr
    first = [line for line in loop.report().splitlines() if line][1]
    assert first.startswith("❌ **The quality gates this pull request sets are not valid**")
    gate = loop.sh("make gate BASE=origin/main", check=False)
    assert gate.returncode != 0 and f"gate failed: {problem}" in gate.stdout
    assert "gates: this branch changes gates.minimum.roc_aus; until it is merged" in gate.stdout


def test_a_project_without_a_dvc_remote_checks_without_pushing(loop, tmp_path):
    no_remote = clone(loop, tmp_path / "no-remote")
    (no_remote / "data/raw").mkdir(exist_ok=True)
    data = "data/raw/breast_cancer.csv"
    (no_remote / data).write_bytes((loop.path / data).read_bytes())
    loop.sh("git checkout -q -b no-remote && dvc remote remove storage", cwd=no_remote)
    loop.sh("git commit -q -am 'No DVC remote'", cwd=no_remote)
    result = loop.sh(f"PYTEST_ADDOPTS={FEW_TESTS} make ci-pr", cwd=no_remote, check=False)
    assert_passed_running_nothing(result)
    assert "--pull" not in result.stdout and "$ dvc push" not in result.stdout


def test_merging_a_new_model_publishes_the_next_version_and_a_docs_change_does_not(loop):
    loop.branch("main-merge")
    loop.sh("git checkout -q main && git merge -q --ff-only origin/main")
    loop.sh("git fetch -q origin learning-rate")
    loop.sh("git merge -q --no-ff -m 'Merge learning-rate' FETCH_HEAD")
    loop.sh("git push -q origin main")
    result = loop.sh("DRY_RUN=1 make ci-publish")
    assert stages_run(result) == []  # the pull request already reproduced and pushed it
    assert loop.tags() == ["model@v1.0.0", "model@v1.1.0"]
    shown = loop.sh("gto show model").stdout
    assert "v1.0.0" in shown and "v1.1.0" in shown
    bundle = loop.path / "dist/model-v1.1.0"
    run("sha256sum", "-c", "SHA256SUMS", cwd=bundle)
    # The annotated tag records the bundle's digest (of SHA256SUMS), where a release cannot
    # rewrite it.
    message = loop.sh("git tag --list --format='%(contents)' model@v1.1.0").stdout
    digest = run("sha256sum", "SHA256SUMS", cwd=bundle).stdout.split()[0]
    assert f"bundle sha256 {digest}" in message
    scored = loop.sh(
        "dvc-ml-kit predict dist/model-v1.1.0 data/raw/breast_cancer.csv predictions.csv"
    )
    assert "scored 569 rows with model v1.1.0" in scored.stdout
    header = (loop.path / "predictions.csv").read_text().splitlines()[0]
    assert header == "prediction,probability_benign,probability_malignant"

    loop.sh("git fetch -q origin docs && git merge -q --no-ff -m 'Merge docs' FETCH_HEAD")
    loop.sh("git push -q origin main")
    result = loop.sh("DRY_RUN=1 make ci-publish")
    assert "the model is the same as model@v1.1.0: nothing to publish" in result.stdout
    assert loop.tags() == ["model@v1.0.0", "model@v1.1.0"]


def test_a_tampered_bundle_is_refused(loop, tmp_path):
    copy = tmp_path / "bundle"
    run("cp", "-r", str(loop.path / "dist/model-v1.0.0"), str(copy), cwd=tmp_path)
    with open(copy / "model.skops", "ab") as file:
        file.write(b"\0")
    result = loop.sh(f"dvc-ml-kit predict {copy} data/raw/breast_cancer.csv out.csv", check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: {copy}/model.skops does not match its checksum in SHA256SUMS: the bundle was "
        "altered or damaged, so it is not loaded; download it again"
    ]


def test_a_bundle_is_checked_against_the_version_its_tag_records(loop, tmp_path):
    predict = "dvc-ml-kit predict"
    data = "data/raw/breast_cancer.csv"
    scored = loop.sh(f"{predict} dist/model-v1.1.0 {data} out.csv --version model@v1.1.0")
    assert "scored 569 rows" in scored.stdout
    # Another valid bundle, with checksums of its own, is not the one v1.1.0 published.
    other = loop.sh(
        f"{predict} dist/model-v1.0.0 {data} out.csv --version model@v1.1.0", check=False
    )
    assert other.returncode == 1
    assert other.stderr.strip() == (
        "error: dist/model-v1.0.0 is not the bundle published as model@v1.1.0: it is not loaded"
    )
    # The output may not replace the input, nor go to a folder that does not exist.
    same = loop.sh(f"{predict} dist/model-v1.1.0 {data} {data}", check=False)
    assert same.stderr.strip() == (
        f"error: {data} is the input file: give another file for the predictions"
    )
    nowhere = loop.sh(f"{predict} dist/model-v1.1.0 {data} {tmp_path}/no/out.csv", check=False)
    assert nowhere.stderr.strip().startswith("error: ") and "does not exist" in nowhere.stderr


def test_make_serve_and_promote_as_the_readme_shows_them(loop, tmp_path):
    (port,) = free_ports(1)
    log = tmp_path / "serve.log"
    with open(log, "w") as output:
        server = subprocess.Popen(
            ["make", "serve", "MODEL=v1.1.0", f"PORT={port}"],
            cwd=loop.path,
            stdout=output,
            stderr=subprocess.STDOUT,
            env={
                **os.environ,
                "PATH": f"{TOOLS}{os.pathsep}{os.environ['PATH']}",
                **loop.environment(),
            },
            start_new_session=True,
        )
    try:
        version = wait_for_json(f"http://127.0.0.1:{port}/version", server, log)
        digest = run("sha256sum", "SHA256SUMS", cwd=loop.path / "dist/model-v1.1.0").stdout
        assert version["version"] == "v1.1.0" and version["digest"] == digest.split()[0]
    finally:
        stop(server)
    assert "fetch: dist/model-v1.1.0 is the bundle model@v1.1.0 records" in log.read_text()
    # Nothing is in prod yet: one sentence, nothing served.
    refused = loop.sh(f"make serve PORT={port}", check=False)
    assert refused.returncode != 0
    assert "error: 'prod' is not a bundle folder, a version (v1.2.0) or a stage" in refused.stderr
    # The dry runs staged their versions locally: v1.0.0 is no longer the one in staging...
    old = loop.sh("make promote VERSION=v1.0.0 DRY_RUN=1", check=False)
    assert "error: model@v1.0.0 is not in staging (the version there: v1.1.0)" in old.stderr
    # ...v1.1.0 is, and its promotion is tried locally, as the README says, pushing nothing.
    promoted = loop.sh("make promote VERSION=v1.1.0 DRY_RUN=1")
    assert "promote: model@v1.1.0 assigned locally (dry run: not pushed): prod" in promoted.stdout
    assert loop.sh("gto show model#prod --version").stdout.strip() == "v1.1.0"
    pushed = run("git", "ls-remote", "--tags", str(loop.origin), cwd=loop.path).stdout
    assert "model#" not in pushed and "model@" not in pushed


def wait_for_json(url: str, process: subprocess.Popen, log: Path, timeout: float = 120) -> dict:
    """The JSON ``url`` answers once the server ``process`` is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                return json.loads(answer.read())
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"{url} did not answer in {timeout} s:\n{log.read_text()}")


def test_a_bundle_with_an_unexpected_type_is_refused(loop, tmp_path):
    evil = tmp_path / "evil"
    loop.sh(
        "python -c 'import os, sys, pathlib; "
        "from sklearn.pipeline import make_pipeline; "
        "from sklearn.preprocessing import FunctionTransformer; "
        "from dvc_ml_kit.model.bundle import write_bundle; "
        "write_bundle(pathlib.Path(sys.argv[1]), make_pipeline(FunctionTransformer(os.system)), "
        '{}, "card", {})\' ' + str(evil)
    )
    run(
        "sha256sum", "-c", "SHA256SUMS", cwd=evil
    )  # the checksums are right: only the type is wrong
    result = loop.sh(f"dvc-ml-kit predict {evil} data/raw/breast_cancer.csv out.csv", check=False)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "posix.system" in result.stderr and "is not loaded" in result.stderr


def test_publish_refuses_a_main_whose_lock_is_stale(loop):
    loop.branch("stale-main")
    loop.sh("git checkout -q main && git reset -q --hard origin/main")
    loop.edit("params.yaml", "min_samples_leaf: 1", "min_samples_leaf: 2")
    loop.edit("params.yaml", "max_iter: 200", "max_iter: 150")
    loop.commit("Change a parameter without reproducing")
    result = loop.sh("DRY_RUN=1 make ci-publish", check=False)
    assert result.returncode != 0
    assert "error: reproducing main changed dvc.lock" in result.stderr
    assert "does not match its code and parameters" in result.stderr
    assert loop.tags() == ["model@v1.0.0", "model@v1.1.0"]
    loop.sh("git reset -q --hard origin/main && dvc checkout --quiet --force")
