"""Slow tier: what an adversarial user tried against a generated project's CI targets.

One baked project shares the module: main reproduced and pushed to a bare origin and to its
local DVC remote, and a branch ``feature`` whose committed lock is stale. Every attempt must end
in one sentence naming the problem and the fix, with nothing lost: HEAD, the refs here and on
origin, the project's files (dvc.lock, the DVC cache, dist/, the user's own) and the DVC remote
are the same after as before.
"""

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from conftest import TOOLS, Loop, activated, reproduced_on_origin

pytestmark = pytest.mark.slow
SLUG = "diagnosis-model"
# What the CI targets report with (git ignores them): not the user's files.
REPORTS = {"report.md", "ci-pr.json", "repro.log", "pytest.log"}
# A `gh` that is logged in but whose release fails (GitHub down) after the tag was pushed.
FAILING_GH = """#!/bin/bash
case "$1 $2" in
  "release view") echo "release not found" >&2; exit 1 ;;
  "release create") echo "HTTP 502: Bad Gateway" >&2; exit 1 ;;
esac
"""


def digests(folder: Path, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """``{path: sha256}`` of every file under ``folder`` but the reports and the top-level
    folders ``skip`` (not walked: .venv is large)."""
    found = {}
    for where, folders, files in os.walk(folder):
        if Path(where) == folder:
            folders[:] = [name for name in folders if name not in skip]
        for name in files:
            path = Path(where, name)
            relative = path.relative_to(folder).as_posix()
            if relative not in REPORTS:
                found[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def snapshot(loop: Loop) -> dict:
    """HEAD, the refs here and on origin, the project's files and the DVC remote's."""
    git = [
        "git rev-parse HEAD",
        "git status --porcelain --branch --untracked-files=all",
        "git for-each-ref",
        "git ls-remote origin",
    ]
    return {
        "git": [loop.sh(command).stdout for command in git],
        "files": digests(loop.path, skip=(".git", ".venv")),
        "remote": digests(remote(loop)) if remote(loop).is_dir() else None,
    }


def remote(loop: Loop) -> Path:
    return loop.path.parent / f"{SLUG}-dvc-storage"


def refused(loop: Loop, script: str, env: dict[str, str] | None = None) -> str:
    """Run ``script`` in the project; check that it failed with one sentence, no traceback,
    and changed nothing; return the sentence."""
    before = snapshot(loop)
    result = activated(loop.path, script, check=False, env=env)
    assert result.returncode != 0, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    assert snapshot(loop) == before
    return errors[0].removeprefix("error: ")


def on(loop: Loop, branch: str) -> None:
    loop.sh(f"git checkout -q {branch} && dvc checkout --quiet --force")


@pytest.fixture(scope="module")
def loop(tmp_path_factory) -> Loop:
    loop = reproduced_on_origin(tmp_path_factory.mktemp("adversarial"))
    assert remote(loop).is_dir()  # a local remote's folder is made with the project
    loop.sh("dvc push --quiet --run-cache")
    loop.sh("git checkout -q -b feature")
    loop.edit("params.yaml", "learning_rate: 0.1", "learning_rate: 0.2")
    loop.commit("Learn faster, without reproducing")
    loop.sh("git push -q origin feature")
    return loop


def test_auto_commit_never_pushes_to_another_branch_than_the_one_checked(loop):
    on(loop, "feature")
    said = refused(loop, "make ci-pr AUTO_COMMIT=1 BRANCH=main")
    assert said == (
        "BRANCH=main is not the branch checked out (feature): AUTO_COMMIT=1 pushes to the branch "
        "being checked only, so leave BRANCH unset"
    )
    # A detached checkout, as CI's: main is the base, whatever it holds.
    loop.sh("git checkout -q --detach")
    said = refused(loop, "make ci-pr AUTO_COMMIT=1 BRANCH=main")
    assert said.startswith("AUTO_COMMIT=1 never pushes to main, the base branch: ")
    on(loop, "main")
    said = refused(loop, "make ci-pr AUTO_COMMIT=1")
    assert said.startswith("AUTO_COMMIT=1 never pushes to main, the base branch: ")


@pytest.mark.parametrize("folder", [".", "PROJECT", "..", "src", "metrics"])
def test_hand_off_to_the_working_tree_or_the_user_s_folders_copies_nothing(loop, folder):
    on(loop, "feature")
    folder = str(loop.path) if folder == "PROJECT" else folder
    said = refused(loop, f"make ci-pr HAND_OFF={folder}")
    assert said.startswith(f"HAND_OFF={folder} ")
    assert said.endswith(("as HAND_OFF=results", "name a new folder for the results"))


def test_a_local_dvc_remote_whose_folder_has_gone_is_not_created_empty(loop):
    storage = remote(loop)
    storage.rename(storage.with_name("unmounted"))
    try:
        sentence = (
            f"the DVC remote {storage} does not exist (a share not mounted?): mount it, or create "
            f"it if it is new (`mkdir -p {storage}`), and run again"
        )
        on(loop, "feature")
        assert refused(loop, "make ci-pr") == sentence
        assert f"The check stopped: {sentence}." in (loop.path / "report.md").read_text()
        on(loop, "main")
        assert refused(loop, "DRY_RUN=1 make ci-publish") == sentence
        assert not storage.exists()
    finally:
        storage.with_name("unmounted").rename(storage)


@pytest.mark.parametrize("lock", ["dvc.lock", ".dvc/tmp/rwlock"])
def test_a_lock_file_a_stopped_run_left_empty_says_how_to_recover(loop, lock):
    fix = {
        "dvc.lock": "restore the committed one (`git checkout dvc.lock`) and run again",
        ".dvc/tmp/rwlock": "if no DVC command is running here, remove it",
    }[lock]
    for branch, target in (("feature", "make ci-pr"), ("main", "DRY_RUN=1 make ci-publish")):
        on(loop, branch)
        saved = (loop.path / lock).read_bytes()
        (loop.path / lock).write_text("")
        try:
            said = refused(loop, target)
        finally:
            (loop.path / lock).write_bytes(saved)
        assert "is empty or cut short (a DVC command was stopped while writing it)" in said
        assert fix in said


def test_publish_checks_gh_before_pushing_and_a_rerun_finishes_the_release(loop, tmp_path):
    on(loop, "main")
    # No gh: nothing is pushed, no tag is made.
    folders = [f for f in os.environ["PATH"].split(os.pathsep) if not Path(f, "gh").exists()]
    no_gh = os.pathsep.join([str(TOOLS), *folders])
    if shutil.which("make", path=no_gh) is None:
        pytest.skip("gh is installed beside make here")
    said = refused(loop, "make ci-publish", env={"PATH": no_gh})
    assert said == "`gh` is not installed here: install it and run again"

    # The release fails after the tag reached origin (GitHub down)...
    failing, recording = tmp_path / "failing", tmp_path / "recording"
    failing.mkdir()
    (failing / "gh").write_text(FAILING_GH)
    (failing / "gh").chmod(0o755)
    recording.mkdir()
    (recording / "gh").symlink_to(Path(__file__).parent / "standins/bin/gh")
    calls = tmp_path / "calls.jsonl"
    for gh in (failing, recording):
        if gh == recording:  # a rerun on a fresh runner: the first run's dist/ is not there
            shutil.rmtree(loop.path / "dist")
        env = {
            "PATH": os.pathsep.join([str(gh), str(TOOLS), os.environ["PATH"]]),
            "GH_TOKEN": "a-token",
            "STANDIN_CALLS": str(calls),
        }
        result = activated(loop.path, "make ci-publish", check=False, env=env)
        assert (result.returncode == 0) == (gh == recording), result.stdout + result.stderr
        tags = loop.sh("git ls-remote --tags origin 'model@*'").stdout
        assert "refs/tags/model@v1.0.0\n" in tags and "v1.1.0" not in tags
    # ...and the rerun releases that version, with the bundle its tag records (built again, the
    # same bytes), bumping nothing.
    assert "ci-publish: model@v1.0.0 has no release yet: creating it" in result.stdout
    assert "$ git push origin model@" not in result.stdout  # the tag is there already
    # The first run stopped before staging the version; the rerun stages it.
    assert "$ git push origin model#staging#1" in result.stdout
    created = [json.loads(line) for line in calls.read_text().splitlines() if '"create"' in line]
    assert len(created) == 1 and created[0]["args"][2] == "model@v1.0.0"
    message = loop.sh("git tag --list --format='%(contents)' model@v1.0.0").stdout
    sums = created[0]["digests"]["dist/model-v1.0.0/SHA256SUMS"]
    assert f"bundle sha256 {sums}" in message
    assert loop.sh("git tag --list 'model@*'").stdout.split() == ["model@v1.0.0"]
    again = activated(loop.path, "make ci-publish", env=env)
    assert "the model is the same as model@v1.0.0: nothing to publish" in again.stdout


def test_data_that_replaces_the_base_s_is_named_as_such_in_the_report(loop):
    """A branch that brings its own CSV: the report names it, not the base's file it replaces."""
    on(loop, "main")
    loop.sh(
        "git checkout -q -b own-data && head -300 data/raw/breast_cancer.csv > data/raw/mine.csv"
    )
    loop.sh("dvc add --quiet data/raw/mine.csv")
    loop.edit("params.yaml", "file: data/raw/breast_cancer.csv", "file: data/raw/mine.csv")
    loop.sh("dvc repro --quiet && git add --all && git commit -q -m 'Own data'")
    loop.sh("make report BASE=main")
    report = (loop.path / "report.md").read_text()
    assert (
        "- Data: `data/raw/mine.csv`, instead of the base's `data/raw/breast_cancer.csv`" in report
    )
    # What changed in the data comes before the metrics, which were measured on other data: the
    # drop against main's is not judged, in the report and by `make gate`.
    assert "### Data\n\n**The data changed:** 569 → 299 rows (0 added, 270 removed)" in report
    assert report.index("### Data") < report.index(
        "### Metrics (test split; the base's on different data)"
    )
    assert "`max_drop`\nis not judged against them" in report
    gate = loop.sh("make gate BASE=main")
    assert "gates: the data changed, so max_drop is not judged" in gate.stdout
