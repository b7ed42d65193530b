"""The pull request check in a DVC repository dvc-ml-kit did not generate (tests/any_repo: its own
stage names, nested JSON and TOML metrics, top-level TSV, JSON and image plots, a model artifact):
`dvc-ml-kit init` adopts it, then `pr`, `report` and `gate` run as its workflow runs them."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dvc_ml_kit.ci import gate, init, repo
from dvc_ml_kit.model import bundle

PROJECT = Path(__file__).parent / "any_repo"
TOOLS = Path(sys.executable).parent
GIT = {
    "GIT_AUTHOR_NAME": "a",
    "GIT_AUTHOR_EMAIL": "a@example.com",
    "GIT_COMMITTER_NAME": "a",
    "GIT_COMMITTER_EMAIL": "a@example.com",
}


def sh(*command: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True)
    if check and done.returncode != 0:
        pytest.fail(f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


def kit(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return sh(str(TOOLS / "dvc-ml-kit"), *args, check=check)


def dvc(*args: str) -> str:
    return sh(str(TOOLS / "dvc"), *args).stdout


def commit(message: str) -> None:
    sh("git", "add", "--all")
    sh("git", "commit", "-qm", message)


def edit(path: str, old: str, new: str) -> None:
    file = Path(path)
    text = file.read_text()
    assert old in text, old
    file.write_text(text.replace(old, new, 1))


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """tests/any_repo as a Git + DVC repository on main, reproduced and committed, once."""
    folder = tmp_path_factory.mktemp("built") / "wine"
    shutil.copytree(PROJECT, folder)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        for name, value in {**GIT, "DVC_NO_ANALYTICS": "1"}.items():
            patch.setenv(name, value)
        sh("git", "init", "-q", "--initial-branch=main")
        dvc("init", "-q")
        dvc("repro", "-q")
        commit("A wine classifier")
    return folder


@pytest.fixture
def project(built, tmp_path, monkeypatch) -> Path:
    """A copy of ``built`` of the test's own, as the working directory."""
    folder = tmp_path / "wine"
    shutil.copytree(built, folder, symlinks=True)
    monkeypatch.chdir(folder)
    for name, value in {**GIT, "DVC_NO_ANALYTICS": "1"}.items():
        monkeypatch.setenv(name, value)
    return folder


def test_init_refuses_a_folder_without_git_dvc_or_pipeline_and_touches_nothing(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    refused = kit("init", check=False)
    assert refused.returncode == 1
    assert refused.stderr == (
        "error: this is not a Git repository: run `dvc-ml-kit init` at the root of a Git "
        "repository with DVC initialised (`git init && dvc init`) and a dvc.yaml\n"
    )
    sh("git", "init", "-q")
    assert kit("init", check=False).stderr == (
        "error: DVC is not initialised here: run `dvc init`, commit, and run again\n"
    )
    dvc("init", "-q")
    assert "there is no dvc.yaml" in kit("init", check=False).stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == [".dvc", ".dvcignore", ".git"]


def test_init_refuses_uncommitted_changes_and_an_existing_file(project):
    Path("README.md").write_text("changed\n")
    refused = kit("init", check=False)
    assert refused.returncode == 1
    assert refused.stderr == (
        "error: the working tree has uncommitted changes (README.md): commit or stash them "
        "first, so that what init writes is a change of its own\n"
    )
    commit("Readme")
    Path(".gitlab-ci.yml").write_text("# the team's own pipeline\n")
    commit("Own pipeline")
    refused = kit("init", "--platform", "gitlab", check=False)
    assert refused.stderr == (
        "error: .gitlab-ci.yml exists already, and init overwrites nothing: move it aside and "
        "run again (then merge your own jobs back into the new file)\n"
    )
    assert sh("git", "status", "--porcelain").stdout == ""


@pytest.mark.parametrize("remote", ["s3://bucket/wine", "gs://bucket/wine", "azure://c/wine", None])
def test_the_workflow_init_writes_passes_the_workflow_checkers(project, remote):
    if remote:
        dvc("remote", "add", "--default", "storage", remote)
        commit("Remote")
    done = kit("init")
    said = done.stdout.splitlines()
    workflows = [".github/workflows/dvc-pull-request.yml", ".github/workflows/dvc-publish.yml"]
    assert said[:2] == [f"init: wrote {workflow}" for workflow in workflows]
    text = Path(workflows[0]).read_text()
    assert '"dvc-ml-kit==' in text and "dvc-ml-kit pr --base" in text
    published = Path(workflows[1]).read_text()
    assert "dvc-ml-kit publish --platform github" in published
    # Publishing pushes to the DVC remote: with one CI cannot reach, it waits for a variable.
    assert ("if: vars.PUBLISH == 'true'" in published) is (remote is None)
    secrets = {
        "s3": ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"],
        "gs": ["GCP_CREDENTIALS"],
        "azure": ["AZURE_STORAGE_CONNECTION_STRING"],
    }.get(remote.split(":")[0] if remote else None, [])
    for name in secrets:
        assert f"secrets.{name} }}}}" in text and f"secrets.{name} }}}}" in published
    if secrets:
        assert "environment: dvc-remote" in text
        assert any(line.endswith(", ".join(secrets)) for line in said), said
        assert f'"dvc[{remote.split(":")[0]}]"' in text
    else:
        assert 'TRUSTED: "0"' in text and "secrets." not in text
    checks = [
        (TOOLS / "zizmor", "--offline", "--quiet", *workflows),
        (TOOLS / "actionlint", *workflows),
        (TOOLS / "check-jsonschema", "--builtin-schema", "vendor.github-workflows", *workflows),
    ]
    for command in checks:
        sh(*map(str, command))
    # The gates section init adds names the metrics whose direction is not known.
    gates = yaml.safe_load(Path("params.yaml").read_text())["gates"]
    assert gates == {"minimum": {}, "maximum": {}, "max_drop": {}, "directions": {}}
    assert "# Not known: model.weights_over_0_1." in Path("params.yaml").read_text()


def test_the_gitlab_pipeline_init_writes_runs_the_check_and_posts_the_note(project):
    dvc("remote", "add", "--default", "storage", "s3://bucket/wine")
    commit("Remote")
    said = kit("init", "--platform", "gitlab").stdout
    assert "GITLAB_TOKEN" in said and "CI_PUSH_TOKEN" in said
    assert "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY" in said
    pipeline = yaml.safe_load(Path(".gitlab-ci.yml").read_text())
    job = pipeline["dvc-check"]
    script = "\n".join(job["script"])
    assert 'env -u GITLAB_TOKEN dvc-ml-kit pr --base "$BASE"' in script
    assert "dvc-ml-kit comment" in script and '"dvc[s3]"' in script
    assert job["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
    publish = pipeline["dvc-publish"]
    assert publish["script"][-1] == "dvc-ml-kit publish --platform gitlab"
    assert publish["rules"] == [
        {"if": '$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH && $CI_PIPELINE_SOURCE == "push"'}
    ]


def test_a_pull_request_is_reproduced_reported_and_gated_by_what_dvc_yaml_declares(project):
    assert init.init("github", "3.11")[0] == "wrote .github/workflows/dvc-pull-request.yml"
    edit("params.yaml", "  max_drop: {}", "  max_drop:\n    test.acc: 0.02")
    edit("params.yaml", "  minimum: {}", "  minimum:\n    model.weights_over_0_1: 1")
    edit("params.yaml", "  directions: {}", "  directions:\n    model.weights_over_0_1: higher")
    commit("Pull request check")

    # A parameter change that costs accuracy: reproduced, reported and failed on its drop.
    sh("git", "checkout", "-qb", "weaker")
    edit("params.yaml", "C: 1.0", "C: 0.001")
    commit("A stronger regularisation")
    done = kit("pr", "--base", "main", "--trusted", "0", check=False)
    assert done.returncode == 1
    report = Path("report.md").read_text()
    assert "- Stages ran: `fit`, `score`" in report
    assert "- Stages unchanged: `featurize`" in report
    assert "- Model: changed" in report
    assert "| `fit.C` | 1.0 | 0.001 |" in report
    assert "| test.acc ↑ | 0.963 | 0.6852 | -0.2778 🔻 | -28.85 % |" in report
    assert "| test.loss ↓ |" in report and "| model.weights_over_0_1 ↑ | 35 | 0 |" in report
    assert (
        "- test.acc got worse by 0.277778 against the base (0.962963 to 0.685185), more than "
        "the 0.02 allowed"
    ) in report
    assert "- model.weights_over_0_1 is 0, below the minimum of 1" in report
    # The plots dvc.yaml declares at the top level: TSV and JSON data drawn, the image listed.
    assert 'title "Accuracy by confidence: accuracy"' in report
    assert 'title "Calibration: observed"' in report
    assert "`results/eval/coverage.tsv`, changed. Grey: base, blue: this branch." in report
    assert "- `results/eval/classes.png`: an image, unchanged against the base" in report
    # The branch did not commit its results: the fix names dvc.lock and the outputs Git keeps.
    assert "git add dvc.lock results/eval/scores.json results/size.toml" in report
    assert "error: dvc.lock is out of date" in done.stderr
    assert "<sub>Made by `dvc-ml-kit report --base main`" in report

    # Committed, the same gates fail locally, as the workflow's do.
    commit("Reproduce")
    gated = kit("gate", "--base", "main", check=False)
    assert gated.returncode == 1
    assert "gate failed: test.acc got worse by 0.277778" in gated.stdout
    kit("report", "--base", "main")
    assert "dvc.lock is out of date" not in Path("report.md").read_text()


def test_a_documentation_change_reproduces_nothing(project):
    said = init.init("github", "3.11")
    assert not any("depends on every key" in line for line in said)  # each lists its keys
    commit("Pull request check")
    sh("git", "checkout", "-qb", "docs")
    edit("README.md", "scores it.", "scores it on the test rows.")
    commit("Docs")
    done = kit("pr", "--base", "main", "--trusted", "0")
    assert "ci-pr: only documentation changed (README.md)" in done.stdout
    report = Path("report.md").read_text()
    assert "- Nothing in the pipeline changed: no stage ran." in report
    assert "✅ **All quality gates pass.**" in report
    assert not Path("repro.log").exists()


def test_a_gate_on_a_metric_of_unknown_direction_is_refused(project):
    init.init("github", "3.11")
    edit("params.yaml", "  max_drop: {}", "  max_drop:\n    model.weights_over_0_1: 2")
    commit("Pull request check")
    gated = kit("gate", "--base", "main", check=False)
    assert gated.stdout.splitlines() == [
        "gate failed: gates.max_drop in params.yaml on main gates 'model.weights_over_0_1', whose "
        "better "
        "direction is not known: state it in gates.directions (`model.weights_over_0_1: "
        "higher`, or `lower`)"
    ]


def test_publishing_tags_the_declared_artifact_and_releases_its_file_metrics_and_card(
    project, tmp_path
):
    init.init("github", "3.11")
    edit("params.yaml", "  minimum: {}", "  minimum:\n    test.acc: 0.9")
    (tmp_path / "storage").mkdir()
    dvc("remote", "add", "--default", "storage", str(tmp_path / "storage"))
    commit("CI/CD")
    done = kit("publish", "--dry-run", "1")
    assert (
        "ci-publish: dry run: created wine-classifier@v1.0.0 locally (not pushed) and "
        "dist/wine-classifier-v1.0.0"
    ) in done.stdout
    assert "ci-publish: wine-classifier@v1.0.0 is in staging locally (dry run: not pushed)\n" in (
        done.stdout
    )
    folder = Path("dist/wine-classifier-v1.0.0")
    names = sorted(path.name for path in folder.iterdir())
    assert names == ["SHA256SUMS", "bundle.json", "classifier.pkl", "metrics.json", "model_card.md"]
    assert (folder / "classifier.pkl").read_bytes() == Path("work/classifier.pkl").read_bytes()
    assert '"test.acc": 0.962963' in (folder / "metrics.json").read_text()
    card = (folder / "model_card.md").read_text()
    assert card.startswith("# wine-classifier v1.0.0\n\nWine cultivar from its chemical analysis")
    assert "| test.acc | 0.962963 |" in card
    message = sh("git", "tag", "--list", "--format=%(contents)", "wine-classifier@v1.0.0").stdout
    assert f"bundle sha256 {bundle.digest(folder)}" in message
    bundle.verify(folder)
    assert sh("git", "tag", "--list", "wine-classifier#staging#*").stdout.strip()


def fresh_clone_of_a_param_change(project, tmp_path, monkeypatch, *, pushed: bool) -> None:
    """The adopted project with a local DVC remote (holding main's data if ``pushed``), a
    branch that changes a parameter, and a fresh clone of it as the working directory, as a CI
    runner has it: no DVC cache, no outputs."""
    init.init("github", "3.11")
    storage = tmp_path / "storage"
    storage.mkdir()
    dvc("remote", "add", "--default", "storage", str(storage))
    commit("CI/CD")
    if pushed:
        dvc("push", "-q")
    sh("git", "checkout", "-qb", "weaker")
    edit("params.yaml", "C: 1.0", "C: 0.001")
    commit("A stronger regularisation")
    clone = tmp_path / "clone"
    sh("git", "clone", "-q", "--branch", "weaker", str(project), str(clone))
    monkeypatch.chdir(clone)
    sh("git", "branch", "-q", "main", "origin/main")


def test_a_check_without_the_inputs_says_it_verified_nothing(project, tmp_path, monkeypatch):
    """A fresh clone without the DVC remote's data (a fork's run): the stages that must run lack
    their inputs, so the report says what it could not verify and the check fails."""
    fresh_clone_of_a_param_change(project, tmp_path, monkeypatch, pushed=True)
    done = kit("pr", "--base", "main", "--trusted", "0", check=False)
    assert done.returncode == 1
    report = Path("report.md").read_text()
    assert report.splitlines()[2] == (
        "❌ **Not verified: the pipeline changed, but this run could not reproduce it.** Stages "
        "`fit`, `score` need inputs that only the DVC remote holds (`work/features.csv`), and "
        "the DVC remote is a folder that CI runners cannot reach."
    )


def test_a_remote_that_fails_to_provide_the_inputs_is_named_with_the_fix(
    project, tmp_path, monkeypatch
):
    """A run that may read the DVC remote, which lacks the inputs (in CI: credentials not set
    yet, or data never pushed): DVC stops before any stage runs, and the report says so."""
    fresh_clone_of_a_param_change(project, tmp_path, monkeypatch, pushed=False)
    done = kit("pr", "--base", "main", "--trusted", "1", check=False)
    assert done.returncode == 1
    lines = Path("report.md").read_text().splitlines()
    assert lines[2].startswith("❌ **Not verified: the pipeline changed, but this run could not")
    assert "(`work/features.csv`), and the DVC remote did not provide them" in lines[2]
    assert lines[6] == (
        "- To verify it: check the remote's credentials in CI's secrets (the ones `dvc-ml-kit "
        "init` printed, in the environment dvc-remote on GitHub) and run the check again."
    )


def test_metrics_in_json_yaml_and_toml_are_named_alike(tmp_path):
    """DVC reads all three formats; so do the report and the gates where DVC is not asked
    (a change to documentation alone): nested keys joined with dots, a key two files share
    named with its file."""
    texts = {
        "a.json": '{"test": {"acc": 0.9, "loss": 0.2}, "step": 3}',
        "b.yaml": "test:\n  f1: 0.8\nstep: 4\n",
        "c.toml": "[test]\nrecall = 0.7\n",
    }
    values = {name: repo.parse_metrics(text, Path(name)) for name, text in texts.items()}
    metrics = {metric.name: metric.new for metric in gate.unchanged_files(values)}
    assert metrics == {
        "a.json:step": 3,
        "b.yaml:step": 4,
        "test.acc": 0.9,
        "test.f1": 0.8,
        "test.loss": 0.2,
        "test.recall": 0.7,
    }
    assert repo.parse_metrics("[test\nrecall =", Path("c.toml")) is None


def test_init_says_which_stages_the_gates_section_re_runs(project):
    """A stage whose params name the whole of params.yaml depends on the gates too."""
    edit("dvc.yaml", "    params:\n      - fit\n", "    params:\n      - params.yaml:\n")
    commit("fit reads every parameter")
    said = init.init("github", "3.11")
    assert (
        "stage fit of dvc.yaml depends on every key of params.yaml, the gates too: it re-runs "
        "once for the new section, and for each change of a gate; list the keys it reads under "
        "its params to avoid that"
    ) in said


def test_dvc_yaml_is_read_as_it_is_now_and_a_caller_cannot_change_it_for_the_next(
    tmp_path, monkeypatch
):
    """dvc.yaml's parse is shared by the calls that read the same text: an edit is read at
    once, and what one caller does to its copy is not what the next one reads."""
    monkeypatch.chdir(tmp_path)
    Path("dvc.yaml").write_text("stages:\n  fit:\n    cmd: python fit.py\n", encoding="utf-8")
    first = repo.pipeline()
    first["stages"]["fit"]["cmd"] = "changed by a caller"
    assert repo.pipeline()["stages"]["fit"]["cmd"] == "python fit.py"
    assert repo.stage_names() == ["fit"]
    Path("dvc.yaml").write_text("stages:\n  score:\n    cmd: python score.py\n", encoding="utf-8")
    assert repo.stage_names() == ["score"]
    lock = "schema: '2.0'\nstages:\n  fit:\n    cmd: python fit.py\n    outs:\n"
    entry = "    - path: model.pkl\n      md5: {}\n"
    assert repo.lock_entries(lock + entry.format("aa")) == {"model.pkl": "aa"}
    assert repo.lock_entries(lock + entry.format("bb")) == {"model.pkl": "bb"}
