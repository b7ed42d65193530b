"""What an adversarial user tried against the CI commands, on a tiny Git + DVC repository with a
bare origin and a local DVC remote: each attempt ends in one sentence naming the problem and the
fix, before anything is pushed, committed, copied or rewritten (a snapshot of the repository,
origin and the remote is the same after as before)."""

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dvc_ml_kit import cli
from dvc_ml_kit.ci.pr import push_target
from dvc_ml_kit.ci.repo import succeeds
from dvc_ml_kit.errors import UserError

# The only tools on PATH: the CI commands must find everything else missing, as a bare runner.
TOOLS = {
    "git": shutil.which("git"),
    **{name: Path(sys.executable).with_name(name) for name in ("dvc", "gto")},
}
FILES = {
    "dvc.yaml": "stages:\n  evaluate:\n    cmd: python evaluate.py\n"
    "    metrics:\n    - metrics/metrics.json:\n        cache: false\n",
    "dvc.lock": "schema: '2.0'\nstages:\n  evaluate:\n    cmd: python evaluate.py\n"
    "    outs:\n    - path: metrics/metrics.json\n      md5: 0123\n",
    "metrics/metrics.json": '{"accuracy": 0.9}\n',
    "src/model.py": "MODEL = 'trees'\n",
    ".dvc/.gitignore": "/tmp\n/cache\n",
    # Relative to .dvc/, as `dvc remote add` writes it: the folder "storage" beside the project.
    ".dvc/config": "[core]\n    remote = storage\n"
    "['remote \"storage\"']\n    url = ../../storage\n",
    ".dvc/tmp/rwlock": "{}",
}


def git(*args: str) -> str:
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True).stdout


def snapshot(project: Path) -> dict:
    """What none of the refused commands may change: HEAD, every local ref and origin's, and
    every file of the project (the DVC cache and dist/ among them) and of the DVC remote."""

    def files(folder: Path) -> dict[str, str]:
        return {
            path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*"))
            if path.is_file() and ".git" not in path.relative_to(folder).parts
        }

    storage = project.parent / "storage"
    return {
        "head": git("rev-parse", "HEAD") + git("status", "--porcelain", "--branch"),
        "refs": git("for-each-ref"),
        "origin": subprocess.run(["git", "ls-remote", "origin"], capture_output=True).stdout,
        "files": files(project),
        "remote": files(storage) if storage.is_dir() else None,
    }


def refused(capsys, project: Path, *argv: str) -> str:
    """Run ``dvc-ml-kit argv``; check that it stopped with one sentence and changed nothing;
    return the sentence."""
    before = snapshot(project)
    assert cli.main(list(argv)) == 1
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith("error: "), errors
    assert snapshot(project) == before
    return errors[0].removeprefix("error: ")


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """The repository on branch feature (one commit ahead of main), both pushed to origin; the
    DVC remote holds one file; PATH holds git, dvc and gto alone; no token is set."""
    tools = tmp_path / "bin"
    tools.mkdir()
    for name, path in TOOLS.items():
        (tools / name).symlink_to(path)
    monkeypatch.setenv("PATH", str(tools))
    for name in ("BRANCH", "GH_TOKEN", "GITHUB_TOKEN", "GITLAB_TOKEN", "CI_API_V4_URL"):
        monkeypatch.delenv(name, raising=False)
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Tests")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "tests@example.com")
    (tmp_path / "storage/files/md5/01").mkdir(parents=True)
    (tmp_path / "storage/files/md5/01/23").write_text("{}")
    project = tmp_path / "project"
    for name, text in FILES.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    monkeypatch.chdir(project)
    git("init", "--quiet", "--bare", "--initial-branch=main", str(tmp_path / "origin.git"))
    git("init", "--quiet", "--initial-branch=main")
    git("remote", "add", "origin", str(tmp_path / "origin.git"))
    git("add", "--all")
    git("commit", "--quiet", "-m", "Start")
    git("checkout", "--quiet", "-b", "feature")
    (project / "src/model.py").write_text("MODEL = 'forest'\n")
    git("commit", "--quiet", "-am", "Change the model")
    git("push", "--quiet", "origin", "main", "feature")
    return project


def fake_gh(project: Path, script: str) -> None:
    """A ``gh`` on PATH that runs ``script`` (bash) with its arguments."""
    gh = project.parent / "bin/gh"
    gh.write_text(f"#!/bin/bash\n{script}\n")
    gh.chmod(0o755)


# 1. AUTO_COMMIT=1 pushes to the branch being checked, never to another one or the base.


@pytest.mark.parametrize("branch", ["main", "other"])
def test_auto_commit_refuses_a_branch_that_is_not_the_one_checked_out(capsys, project, branch):
    said = refused(capsys, project, "pr", "--auto-commit", "1", "--branch", branch)
    assert said == (
        f"BRANCH={branch} is not the branch checked out (feature): AUTO_COMMIT=1 pushes to the "
        "branch being checked only, so leave BRANCH unset"
    )


def test_auto_commit_never_pushes_to_the_base(capsys, project):
    git("checkout", "--quiet", "main")
    said = refused(capsys, project, "pr", "--auto-commit", "1")
    assert said.startswith("AUTO_COMMIT=1 never pushes to main, the base branch: ")
    # A detached CI checkout of a branch made from main: main's commits are all in it.
    git("checkout", "--quiet", "--detach", "feature")
    said = refused(capsys, project, "pr", "--auto-commit", "1", "--branch", "main")
    assert said.startswith("AUTO_COMMIT=1 never pushes to main, the base branch: ")
    git("remote", "add", "upstream", str(project.parent / "origin.git"))
    for base in ("dev", "upstream/dev"):  # a local branch, or another remote's
        said = refused(
            capsys, project, "pr", "--auto-commit", "1", "--branch", "dev", "--base", base
        )
        assert said.startswith("AUTO_COMMIT=1 never pushes to dev, the base branch: ")


def test_a_detached_checkout_pushes_only_to_a_branch_whose_commits_it_holds(capsys, project):
    git("checkout", "--quiet", "--detach", "feature")
    assert push_target("feature", "origin/main") == "feature"  # origin's feature is HEAD
    said = refused(capsys, project, "pr", "--auto-commit", "1", "--branch", "elsewhere")
    assert said == "origin has no branch elsewhere: BRANCH must name the branch this commit is on"
    git("push", "--quiet", "origin", "feature:other")
    git("checkout", "--quiet", "--detach", "main")  # older than origin's "other"
    said = refused(capsys, project, "pr", "--auto-commit", "1", "--branch", "other")
    assert said.startswith("origin's other has commits this one lacks: ")
    with pytest.raises(UserError, match="HEAD is detached: give the branch"):
        push_target(None, "origin/main")


# 2. Publishing checks what it needs before it pushes anything.


def test_publish_without_gh_stops_before_pushing_anything(capsys, project):
    git("checkout", "--quiet", "main")
    said = refused(capsys, project, "publish")
    assert said == "`gh` is not installed here: install it and run again"


def test_publish_without_a_token_for_gh_stops_before_pushing_anything(capsys, project):
    git("checkout", "--quiet", "main")
    fake_gh(project, 'test "$1 $2" = "auth token" && exit 1; exit 0')
    said = refused(capsys, project, "publish")
    assert said.startswith("`gh` has no token to create the release with: set GH_TOKEN")


def test_publish_with_origin_out_of_reach_stops_before_pushing_anything(
    capsys, project, monkeypatch
):
    git("checkout", "--quiet", "main")
    fake_gh(project, "exit 0")
    monkeypatch.setenv("GH_TOKEN", "a-token")
    git("remote", "set-url", "origin", str(project.parent / "gone.git"))
    said = refused(capsys, project, "publish")
    assert said.startswith("origin is not reachable (`git ls-remote origin` failed)")


def test_publishing_to_gitlab_without_its_variables_stops_before_pushing_anything(capsys, project):
    git("checkout", "--quiet", "main")
    said = refused(capsys, project, "publish", "--platform", "gitlab")
    assert said.startswith("CI_API_V4_URL, CI_PROJECT_ID, GITLAB_TOKEN not set")


def test_a_question_to_a_tool_that_is_not_installed_is_one_sentence(project):
    with pytest.raises(UserError, match=r"^`gh` is not installed here: install it and run again$"):
        succeeds("gh", "release", "view", "model@v1.0.0")


# 3. A local DVC remote whose folder has gone is refused, not created empty.


def test_a_dvc_remote_folder_that_has_gone_is_not_pushed_to(capsys, project, monkeypatch):
    git("checkout", "--quiet", "main")
    fake_gh(project, "exit 0")
    monkeypatch.setenv("GH_TOKEN", "a-token")
    storage = project.parent / "storage"
    os.rename(storage, project.parent / "unmounted")
    for argv in (["publish"], ["publish", "--dry-run", "1"]):
        said = refused(capsys, project, *argv)
        assert said == (
            f"the DVC remote {storage} does not exist (a share not mounted?): mount it, or "
            f"create it if it is new (`mkdir -p {storage}`), and run again"
        )
    assert not storage.exists()


# 4. The hand-off folder receives the results alone.


@pytest.mark.parametrize("where", [".", "ABSOLUTE", "..", "./"])
def test_hand_off_to_the_working_tree_or_a_folder_holding_it_is_refused(capsys, project, where):
    folder = str(project) if where == "ABSOLUTE" else where
    said = refused(capsys, project, "pr", "--hand-off", folder)
    assert said == (
        f"HAND_OFF={Path(folder)} is the working tree or a folder holding it: name a new folder "
        "for the results, as HAND_OFF=results"
    )


@pytest.mark.parametrize("where", ["metrics", "metrics/new"])
def test_hand_off_into_the_results_is_refused(capsys, project, where):
    said = refused(capsys, project, "pr", "--hand-off", where)
    assert said.startswith(f"HAND_OFF={where} overlaps metrics, which the results are copied")


@pytest.mark.parametrize("where", ["src", "src/model.py", "results"])
def test_hand_off_to_a_folder_that_holds_files_is_refused(capsys, project, where):
    (project / "results/metrics").mkdir(parents=True)  # an earlier hand-off's
    (project / "results/dvc.lock").write_text("schema: '2.0'\n")
    said = refused(capsys, project, "pr", "--hand-off", where)
    assert said == (
        f"HAND_OFF={where} is not an empty folder: remove it, or name a new folder for the results"
    )


# 5. A lock file that a stopped DVC command left empty: what happened and how to recover.


@pytest.mark.parametrize("argv", [["pr"], ["publish", "--dry-run", "1"]])
def test_an_empty_dvc_lock_says_how_to_restore_it(capsys, project, argv):
    git("checkout", "--quiet", "main")
    (project / "dvc.lock").write_text("")
    said = refused(capsys, project, *argv)
    assert said == (
        "dvc.lock is empty or cut short (a DVC command was stopped while writing it): restore "
        "the committed one (`git checkout dvc.lock`) and run again"
    )


@pytest.mark.parametrize("text", ["", '{"write": {"data": {"pid": 1'])
@pytest.mark.parametrize("argv", [["pr"], ["publish", "--dry-run", "1"]])
def test_dvc_s_damaged_lock_says_how_to_remove_it(capsys, project, argv, text):
    git("checkout", "--quiet", "main")
    (project / ".dvc/tmp/rwlock").write_text(text)
    said = refused(capsys, project, *argv)
    assert said == (
        "DVC's lock file .dvc/tmp/rwlock is empty or cut short (a DVC command was stopped "
        "while writing it): if no DVC command is running here, remove it "
        "(`rm .dvc/tmp/rwlock`) and run again"
    )


def test_an_empty_dvc_lock_with_no_good_one_committed_says_to_remove_it(capsys, project):
    (project / "dvc.lock").write_text("")
    git("commit", "--quiet", "-am", "A lock emptied by a stopped run, committed")
    said = refused(capsys, project, "pr")
    assert said.endswith("was stopped while writing it): remove it (`rm dvc.lock`) and run again")
